/**
 * Debian's Prometheus for the monitoring tests: started on loopback with a data directory of the test's,
 * scraping and evaluating every second, with the rules file the program renders; asked through its HTTP API
 * (instant queries, and the alerts with their state), never by reading its storage.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { stringify } from "yaml";
import type { TestNetns } from "./netns";
import { freePort, type ServerProcess, startServer, waitForPort } from "./serverProcess";

/** Seconds in a Prometheus duration of one unit, such as "1m" (the rules' windows and `for`s). */
export function durationSeconds(duration: string): number {
    const unit = { s: 1, m: 60, h: 3600 }[duration.slice(-1)];
    if (unit === undefined || !/^\d+[smh]$/.test(duration)) throw new Error(`not a duration of one unit: ${duration}`);
    return Number(duration.slice(0, -1)) * unit;
}

export interface PrometheusSeries {
    readonly metric: Record<string, string>;
    readonly value: number;
}

export interface PrometheusAlert {
    readonly labels: Record<string, string>;
    readonly annotations: Record<string, string>;
    /** "pending" while the condition holds for less than the rule's `for`, then "firing". */
    readonly state: "pending" | "firing";
}

export interface RealPrometheus {
    readonly url: string;
    /** An instant query's series; none while Prometheus still opens its storage. */
    query(expr: string): Promise<PrometheusSeries[]>;
    /** Polls `expr` every second until it returns a series; fails with the expression after `timeoutMs`. */
    eventually(expr: string, timeoutMs?: number): Promise<PrometheusSeries[]>;
    /** Every alert Prometheus holds now, pending or firing. */
    alerts(): Promise<PrometheusAlert[]>;
    /**
     * Polls the alerts every second until one named `alertname`, whose labels include `labels`, is in `state`;
     * fails after `timeoutMs` with what was held last.
     */
    waitForAlert(
        alertname: string,
        labels: Record<string, string>,
        state: PrometheusAlert["state"],
        timeoutMs: number,
    ): Promise<PrometheusAlert>;
    /** The alerts named `alertname` whose labels include `labels`, now. */
    alertsNamed(alertname: string, labels?: Record<string, string>): Promise<PrometheusAlert[]>;
    /** Stops Prometheus (by its PID). */
    stop(): Promise<void>;
}

/**
 * Starts Prometheus with `scrapeConfigs` and the rules file `rulesFile`, its files under `dir`; resolves once it
 * listens: on loopback, or `inside` a test namespace (a node, whose pods it then reaches), on its address.
 */
export async function startPrometheus(o: {
    readonly dir: string;
    readonly scrapeConfigs: readonly unknown[];
    readonly rulesFile: string;
    readonly inside?: Pick<TestNetns, "startServer" | "waitForPort" | "address">;
}): Promise<RealPrometheus> {
    const configFile = path.join(o.dir, "prometheus.yml");
    writeFileSync(
        configFile,
        stringify({
            global: { scrape_interval: "1s", evaluation_interval: "1s" },
            rule_files: [o.rulesFile],
            scrape_configs: o.scrapeConfigs,
        }),
    );
    const port = await freePort();
    const address = o.inside ? o.inside.address : "127.0.0.1";
    const url = `http://${address}:${port}`;
    const args = [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(o.dir, "prometheus-data")}`,
        `--web.listen-address=${address}:${port}`,
    ];
    const server: ServerProcess = o.inside ? o.inside.startServer("/usr/bin/prometheus", args) : startServer("/usr/bin/prometheus", args);
    try {
        if (o.inside) await o.inside.waitForPort(port, 60_000, "prometheus");
        else await waitForPort(port, 60_000, "prometheus");
    } catch (error) {
        await server.stop();
        throw new Error(`${(error as Error).message}\n${server.output().slice(-4000)}`);
    }

    const query = async (expr: string): Promise<PrometheusSeries[]> => {
        const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
        if (!response.ok) return [];
        const body = (await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    };
    const alerts = async (): Promise<PrometheusAlert[]> => {
        const response = await fetch(`${url}/api/v1/alerts`);
        if (!response.ok) return [];
        return ((await response.json()) as { data: { alerts: PrometheusAlert[] } }).data.alerts;
    };
    const matching = (list: readonly PrometheusAlert[], alertname: string, labels: Record<string, string>) =>
        list.filter((a) => a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
    return {
        url,
        query,
        async eventually(expr, timeoutMs = 60_000) {
            const found = async () => {
                const result = await query(expr);
                return result.length > 0 ? result : undefined;
            };
            return vi.waitUntil(found, { timeout: timeoutMs, interval: 1000 }).catch((error: unknown) => {
                throw new Error(`no series for ${expr} after ${timeoutMs} ms`, { cause: error });
            });
        },
        alerts,
        async alertsNamed(alertname, labels = {}) {
            return matching(await alerts(), alertname, labels);
        },
        async waitForAlert(alertname, labels, state, timeoutMs) {
            let held: PrometheusAlert[] = [];
            const found = async () => {
                held = await alerts();
                return matching(held, alertname, labels).find((a) => a.state === state);
            };
            return vi.waitUntil(found, { timeout: timeoutMs, interval: 1000 }).catch((error: unknown) => {
                throw new Error(
                    `no ${state} ${alertname} ${JSON.stringify(labels)} after ${timeoutMs} ms; held: ${JSON.stringify(held.map((a) => ({ ...a.labels, state: a.state })))}`,
                    { cause: error },
                );
            });
        },
        stop: () => server.stop(),
    };
}
