/**
 * What monitoring adds to the rendered Caddyfile (components/accessPolicy/caddyfile/observability.ts): the metrics
 * listener, loopback-only and serving /metrics alone, a textfile served on it, and the access log, which
 * drops credentials.
 */
import { describe, expect, it } from "vitest";
import { PROMETHEUS_TEXT_CONTENT_TYPE, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { BASE_POLICY } from "../support/accessPolicy";

describe("the Caddyfile with monitoring", () => {
    const caddyfile = renderCaddyfile({
        ...BASE_POLICY,
        metrics: { port: 5092, bindAddress: "127.0.0.1" },
        accessLog: { kind: "file", path: "/var/log/caddy/access.log" },
    });

    it("serves Caddy's metrics on a loopback listener of their own, and only /metrics", () => {
        expect(caddyfile).toContain("http://:5092 {\n\tbind 127.0.0.1\n\troute {\n\t\tmetrics /metrics\n\t\trespond 404\n\t}\n}");
        expect(caddyfile).toMatch(/\n\t\tmetrics\n\t\}\n\}\n/);
    });

    it("logs JSON without Authorization's value, cookies or Set-Cookie, rotated", () => {
        for (const field of ["request>headers>Cookie", "resp_headers>Set-Cookie"]) {
            expect(caddyfile).toContain(`${field} delete`);
        }
        // Only its presence, for the login limit (test/unit/loginLimit.test.ts).
        expect(caddyfile).toContain("request>headers>Authorization replace REDACTED");
        expect(caddyfile).toContain("wrap json");
        expect(caddyfile).toContain("roll_size 100MiB");
    });

    it("serves a textfile at its own path on Caddy's metrics listener, after /metrics and before the 404, as Prometheus's text format", () => {
        const text = renderCaddyfile({
            ...BASE_POLICY,
            metrics: { port: 5092, textfiles: [{ path: "/retention/metrics", file: "/run/counts/dso_registry_retention.prom" }] },
        });
        const site = text.slice(text.indexOf("http://:5092 {"));
        expect(site).toContain(
            "\t@textfileWritten {\n\t\tmethod GET HEAD\n\t\tpath /retention/metrics\n\t\tfile {\n\t\t\troot /run/counts\n\t\t\ttry_files /dso_registry_retention.prom\n\t\t}\n\t}",
        );
        const at = (needle: string) => site.indexOf(needle);
        for (const needle of [
            "\t\theader @textfile Content-Type",
            "\t\thandle @textfileWritten {",
            "\t\t\trewrite * /dso_registry_retention.prom",
            "\t\trespond @textfile 200",
        ]) {
            expect(at(needle)).toBeGreaterThan(at("\t\tmetrics /metrics"));
            expect(at(needle)).toBeLessThan(at("\t\trespond 404"));
        }
        expect(site).toContain(`Content-Type "${PROMETHEUS_TEXT_CONTENT_TYPE}"`);
    });

    it("has no textfile route without a textfile", () => {
        expect(caddyfile).not.toMatch(/textfile|file_server/);
    });

    it("has no metrics listener or access log unless asked", () => {
        const plain = renderCaddyfile(BASE_POLICY);
        expect(plain).not.toContain("metrics");
        expect(plain).not.toContain("log {");
    });
});
