/**
 * How long the front keeps connections that never finish a request, what each costs it, and what a
 * well-behaved client waits meanwhile. Real Caddy (the pinned one) with the external host's rendered
 * Caddyfile (`HOST_FRONT_CONNECTIONS`; `--http2`: with HTTP/2 offered, as the host had it before), run with
 * the environment the host's front container gives it (`FRONT_ENVIRONMENT`) and its open-files limit
 * (`--nofile`, `FRONT_MEMORY.openFiles` unless given; 0: the shell's), real Distribution behind it, on
 * loopback. The host's connection cap is not here (test/integration/front.http2Flood.test.ts proves it).
 *
 * `--count` connections of `--kind` (test/support/stalledConnections.ts: `h2-headers`, a HEADERS frame
 * without END_HEADERS; `h2-frame`, a 1 MiB HEADERS frame one octet short; `h1-head`, a head never finished;
 * `h1-idle`, silence after one request), all from one address, `--parallel` handshakes at a time, not
 * renewed when the front closes them, then watched for `--seconds`. Meanwhile a well-behaved client asks
 * for the ping on a new connection every half second.
 *
 * Prints what ALPN gave the flood, Caddy's resident memory (VmRSS) before and at its peak (and per
 * connection, over the most that were open at once), when the front closed them (first, median, last), how
 * many were still open at the end, and the well-behaved client's median and worst time and its failures.
 * Nothing is asserted: the figures go to docs/access-policy.md#connection-limits.
 *
 *   npx tsx bench/stalled-connections.ts [--kind h2-headers] [--count 4000] [--seconds 40] [--nofile 2048] [--http2]
 */
import { readFileSync } from "node:fs";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import { HOST_FRONT_CONNECTIONS } from "../components/externalHost/caddySite";
import { FRONT_ENVIRONMENT, FRONT_MEMORY } from "../components/shared/front";
import { pinnedCaddy } from "../test/support/caddyBinaries";
import { startRealRegistry } from "../test/support/realRegistry";
import { run } from "../test/support/serverProcess";
import { type Flood, type StalledKind, startFlood, wellBehavedRequest } from "../test/support/stalledConnections";
import { arg, median, runBench } from "./support";

const KIND = (process.argv.includes("--kind") ? process.argv[process.argv.indexOf("--kind") + 1] : "h2-headers") as StalledKind;
const COUNT = arg("count", 4000);
const SECONDS = arg("seconds", 40);
const PARALLEL = arg("parallel", 100);
const NOFILE = arg("nofile", FRONT_MEMORY.openFiles);
const HTTP2 = process.argv.includes("--http2");

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);

async function main(): Promise<void> {
    for (const [name, value] of Object.entries(FRONT_ENVIRONMENT)) process.env[name] = value;
    const connections = { ...HOST_FRONT_CONNECTIONS, ...(HTTP2 ? { http2: true } : {}) };
    const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), caddyfileFor: (p) => renderCaddyfile({ ...p, ...connections }) });
    const target = { host: "127.0.0.1", port: reg.caddyPort!, ca: readFileSync(reg.ca.caCertFile) };
    let flood: Flood | undefined;
    try {
        const pid = reg.caddyPid!;
        if (NOFILE > 0) run("prlimit", ["--pid", String(pid), `--nofile=${NOFILE}:${NOFILE}`]);
        // Warm: a few requests first, so that the baseline has what a serving front holds.
        for (let i = 0; i < 5; i++) await wellBehavedRequest(target, "/v2/");
        await sleep(1000);
        const before = rssMiB(pid);
        let peak = before;
        let mostOpen = 0;
        // The flood opens while the well-behaved client asks: once the front's open files are all taken, the
        // rest of the flood waits in the kernel's queue, as the well-behaved client does.
        const opening = performance.now();
        const started = startFlood(target, KIND, COUNT, PARALLEL);
        flood = started;
        const sampler = setInterval(() => {
            peak = Math.max(peak, rssMiB(pid));
            mostOpen = Math.max(mostOpen, started.connections.filter((c) => !c.closedByFront()).length);
        }, 250);
        let openedIn: number | undefined;
        void started.settled(Number.POSITIVE_INFINITY).then(() => {
            openedIn = (performance.now() - opening) / 1000;
        });
        const times: number[] = [];
        const failures: string[] = [];
        const ends = performance.now() + SECONDS * 1000;
        while (performance.now() < ends) {
            const r = await wellBehavedRequest(target, "/v2/", 15_000);
            if (r.status === 401) times.push(r.ms);
            else failures.push(`${r.error ?? `status ${r.status}`} (at ${((performance.now() - opening) / 1000).toFixed(0)} s)`);
            await sleep(500);
        }
        clearInterval(sampler);
        const lifetimes: number[] = [];
        for (const c of started.connections) if (c.closedByFront()) lifetimes.push(await c.closed);
        lifetimes.sort((a, b) => a - b);
        const stalled = started.connections.length;
        const protocols = [...new Set(started.connections.map((c) => c.protocol))].join(", ") || "-";
        console.log(
            `external host's front (TLS, protocols ${connections.http2 === true ? "h1 h2" : "h1"}, idle ${connections.idleSeconds} s), pinned Caddy, environment ${JSON.stringify(FRONT_ENVIRONMENT)}`,
        );
        console.log(
            `${KIND} (ALPN gave ${protocols}): ${stalled} of ${COUNT} stalled ${openedIn === undefined ? `by the end (${SECONDS} s)` : `in ${openedIn.toFixed(1)} s`} (${started.failed.length} failed${started.failed.length ? `: ${[...new Set(started.failed)].slice(0, 3).join("; ")}` : ""}); at most ${mostOpen} open at once`,
        );
        console.log(
            `RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB (+${(peak - before).toFixed(0)}, ${(((peak - before) * 1024) / Math.max(1, mostOpen)).toFixed(1)} KiB per connection open at once)`,
        );
        console.log(
            `closed by the front within ${SECONDS} s: ${lifetimes.length} (first ${seconds(lifetimes[0])}, median ${seconds(lifetimes.length ? median(lifetimes) : undefined)}, last ${seconds(lifetimes.at(-1))}); still open: ${stalled - lifetimes.length}`,
        );
        console.log(
            `well-behaved client: ${times.length} answered, median ${times.length ? median(times).toFixed(1) : "-"} ms, worst ${times.length ? Math.max(...times).toFixed(1) : "-"} ms, failures ${failures.length}${failures.length ? ` (${failures.slice(0, 4).join("; ")}${failures.length > 4 ? "; …" : ""})` : ""}`,
        );
        console.log(`Caddy's open-files limit: ${/Max open files\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1]}`);
        console.log(`load average ${readFileSync("/proc/loadavg", "utf8").trim()}`);
    } finally {
        flood?.stop();
        await reg.stop();
    }
}

runBench(main);
