/**
 * The external host's metrics relay (components/externalHost/metricsRelay.ts): its Caddyfile, as Caddy
 * itself adapts it (Debian's Caddy, `caddy adapt`), and the parameters the registry's scripts get with
 * and without monitoring. The relay runs for real in test/integration/externalRegistryHost.scripts.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { DEBUG_LISTENER_PORT, METRICS_RELAY_CONTAINER, renderMetricsRelayCaddyfile } from "../../components/externalHost/metricsRelay";
import {
    type ContainerSpec,
    defaultHostLayout,
    metricsRelayFile,
    registryDeleteScript,
    registryParams,
} from "../../components/externalHost/scripts";
import { METRICS_PORTS } from "../../components/shared/facts";

const relay = { port: METRICS_PORTS.distribution, upstream: `127.0.0.1:${DEBUG_LISTENER_PORT}` };

/** The JSON config Caddy makes of a Caddyfile. */
function adapt(caddyfile: string): any {
    const dir = mkdtempSync(path.join(tmpdir(), "metrics-relay-"));
    try {
        const file = path.join(dir, "Caddyfile");
        writeFileSync(file, caddyfile);
        const result = spawnSync("/usr/bin/caddy", ["adapt", "--adapter", "caddyfile", "--config", file], { encoding: "utf8" });
        if (result.status !== 0) throw new Error(`caddy adapt failed:\n${result.stderr}`);
        return JSON.parse(result.stdout);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

describe("renderMetricsRelayCaddyfile", () => {
    const config = adapt(renderMetricsRelayCaddyfile(relay));
    const server = Object.values<any>(config.apps.http.servers)[0];

    test("has no admin API and no automatic HTTPS", () => {
        expect(config.admin).toEqual({ disabled: true });
        expect(server.automatic_https).toEqual({ disable: true });
    });

    test("listens on the published port only", () => {
        expect(Object.values<any>(config.apps.http.servers).map((s) => s.listen)).toEqual([[`:${relay.port}`]]);
    });

    test("relays GET and HEAD /metrics to the debug listener, then answers 404 to everything else", () => {
        const routes = server.routes[0].handle[0].routes;
        expect(routes).toEqual([
            {
                match: [{ method: ["GET", "HEAD"], path: ["/metrics"] }],
                handle: [{ handler: "reverse_proxy", upstreams: [{ dial: relay.upstream }] }],
            },
            { handle: [{ handler: "static_response", status_code: 404 }] },
        ]);
    });
});

describe("the registry's scripts and the relay", () => {
    const layout = defaultHostLayout("/srv/data/registry");
    const base: ContainerSpec = { name: "dso-registry", image: "registry:2.8.3", layout };
    const monitored: ContainerSpec = { ...base, metrics: { port: relay.port, relayImage: "caddy:2.8.4" } };

    test.each([
        ["without monitoring", base, { REGISTRY_METRICS_PORT: "", RELAY_IMAGE: "", RELAY_CONFIG_DIR: "", RELAY_FINGERPRINT: "" }],
        [
            "with monitoring",
            monitored,
            {
                REGISTRY_METRICS_PORT: relay.port,
                RELAY_IMAGE: "caddy:2.8.4",
                RELAY_CONFIG_DIR: "/etc/dso-registry/metrics-relay",
                RELAY_FINGERPRINT: expect.stringMatching(/^[0-9a-f]+$/),
            },
        ],
    ])("%s", (_, spec, expected) => {
        expect(registryParams(spec, "spec")).toMatchObject({ RELAY_NAME: METRICS_RELAY_CONTAINER, ...expected });
    });

    test("the relay's label follows its image", () => {
        const other: ContainerSpec = { ...base, metrics: { port: relay.port, relayImage: "caddy:2.8.5" } };
        expect(registryParams(other, "spec").RELAY_FINGERPRINT).not.toBe(registryParams(monitored, "spec").RELAY_FINGERPRINT);
    });

    test("the relay's Caddyfile is placed in its directory with monitoring only", () => {
        expect(metricsRelayFile(base)).toBeUndefined();
        expect(metricsRelayFile(monitored)).toEqual({
            path: "/etc/dso-registry/metrics-relay/Caddyfile",
            content: renderMetricsRelayCaddyfile(relay),
        });
    });

    test("deleting the registry removes its relay first", () => {
        expect(registryDeleteScript(base)).toContain(`CONTAINERS='${METRICS_RELAY_CONTAINER}\ndso-registry'`);
    });
});
