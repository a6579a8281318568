/**
 * What the front tells its operators (components/accessPolicy/caddyfile/observability.ts): the access log with
 * credentials removed, and the metrics listeners (Caddy's own, Distribution's relayed, the jobs' textfile).
 */
import { describe, expect, it } from "vitest";
import {
    accessLog,
    metricsSites,
    PROMETHEUS_TEXT_CONTENT_TYPE,
    REDACTED_LOG_FIELDS,
} from "../../components/accessPolicy/caddyfile/observability";
import { AUTHORIZATION_LOG_MARKER } from "../../components/accessPolicy/loginLimit";

const trimmed = (lines: string[]) => lines.map((l) => l.trim());

describe("accessLog", () => {
    it("writes to stdout, or to a file rolled by size and age", () => {
        expect(trimmed(accessLog({ kind: "stdout" }))).toContain("output stdout");
        expect(trimmed(accessLog({ kind: "file", path: "/var/log/caddy/access.log" })).slice(1, 6)).toEqual([
            "output file /var/log/caddy/access.log {",
            "roll_size 100MiB",
            "roll_keep 10",
            "roll_keep_for 720h",
            "}",
        ]);
    });

    it("replaces Authorization's value with a marker (the login limit reads its presence) and drops every other credential field", () => {
        const lines = trimmed(accessLog({ kind: "stdout" }));
        expect(lines).toContain(`request>headers>Authorization replace ${AUTHORIZATION_LOG_MARKER}`);
        for (const field of REDACTED_LOG_FIELDS.filter((f) => f !== "request>headers>Authorization"))
            expect(lines).toContain(`${field} delete`);
    });
});

describe("metricsSites", () => {
    it("serves /metrics on its own port, bound where asked, and 404 for anything else", () => {
        expect(trimmed(metricsSites({ port: 9180, bindAddress: "127.0.0.1" }))).toEqual([
            "",
            "http://:9180 {",
            "bind 127.0.0.1",
            "route {",
            "metrics /metrics",
            "respond 404",
            "}",
            "}",
        ]);
    });

    it("relays Distribution's metrics on a second listener only when asked", () => {
        const text = metricsSites({ port: 9180, registry: { port: 9181, upstream: "unix//run/registry-metrics.sock" } }).join("\n");
        expect(text).toContain("http://:9181 {");
        expect(text).toContain("reverse_proxy /metrics unix//run/registry-metrics.sock");
        expect(metricsSites({ port: 9180 }).join("\n")).not.toContain("reverse_proxy");
    });

    it("serves the jobs' textfile in Prometheus's text format, empty before it exists", () => {
        const lines = trimmed(metricsSites({ port: 9180, textfiles: [{ path: "/jobs", file: "/var/lib/dso/textfile/jobs.prom" }] }));
        expect(lines).toEqual(
            expect.arrayContaining([
                `header @textfile Content-Type "${PROMETHEUS_TEXT_CONTENT_TYPE}"`,
                "root * /var/lib/dso/textfile",
                "rewrite * /jobs.prom",
                "respond @textfile 200",
            ]),
        );
        expect(lines.indexOf("metrics /metrics")).toBeLessThan(lines.indexOf("respond @textfile 200"));
    });
});
