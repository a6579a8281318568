/**
 * `registry.distributionConfig` read by the real Distribution: the registry's config.yml as the program
 * renders it with an operator's additions (a response header, debug level in JSON with a field of their
 * own, a webhook for registry events, manifest validation's URL rules), served by Distribution 2.8.3 and
 * 3.x (test/support/distributionBinaries.ts) on 127.0.0.1; a push with skopeo.
 * Covers: components/distribution/registryConfig.ts (the operator's settings), components/shared/distributionSettings.ts.
 */

import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import type { DistributionSettings } from "../../components/shared/distributionSettings";
import { DISTRIBUTION } from "../../components/shared/facts";
import { distributionBinaries } from "../support/distributionBinaries";
import { makeOciImage } from "../support/realRegistry";
import { freePort, privateDir, removeDir, run, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

/** Events the webhook received, each request's body. */
type Hook = { readonly server: Server; readonly bodies: string[]; readonly url: string };

async function startHook(): Promise<Hook> {
    const bodies: string[] = [];
    const server = createServer((request, response) => {
        let body = "";
        request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        request.on("end", () => {
            bodies.push(body);
            response.writeHead(200).end();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, bodies, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events` };
}

describe.each(["v2", "v3"] as const)("Distribution %s reads the operator's additions to config.yml", (major) => {
    let scratch: string;
    let port: number;
    let hook: Hook;
    let registry: ServerProcess;

    beforeAll(async () => {
        const binary = distributionBinaries()[major];
        scratch = privateDir("distribution-config");
        port = await freePort();
        hook = await startHook();
        const settings: DistributionSettings = {
            log: { level: "debug", formatter: "json", fields: { environment: "dso-test" } },
            http: { headers: { "X-Frame-Options": ["DENY"] } },
            notifications: { endpoints: [{ name: "ci-events", url: hook.url, timeout: "2s", threshold: 3, backoff: "1s" }] },
            validation: { manifests: { urls: { allow: ["^https://layers\\.example\\.test/"] } } },
        };
        const config = path.join(scratch, "config.yml");
        writeFileSync(
            config,
            renderRegistryConfig({
                addr: `127.0.0.1:${port}`,
                storage: { kind: "filesystem", rootDirectory: path.join(scratch, "storage") },
                deletesEnabled: false,
                settings,
            }),
        );
        registry = startServer(binary.path, ["serve", config], { ...process.env, ...DISTRIBUTION.environment });
        await waitForPort(port, 30_000, `registry ${binary.version}`);
    }, 600_000);

    afterAll(async () => {
        await registry?.stop();
        await new Promise((resolve) => hook?.server.close(resolve));
        if (scratch) removeDir(scratch);
    });

    it("answers with the operator's header beside the program's", async () => {
        const answer = await fetch(`http://127.0.0.1:${port}/v2/`);
        expect(answer.status, registry.output()).toBe(200);
        expect(answer.headers.get("x-frame-options")).toBe("DENY");
        expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    });

    it("sends the webhook the push of an image, and logs at debug level as JSON with the operator's field", async () => {
        const image = makeOciImage(path.join(scratch, "image"), 4096);
        const push = run(
            "skopeo",
            [
                "--insecure-policy",
                "copy",
                "--retry-times",
                "0",
                "--dest-tls-verify=false",
                "--dest-no-creds",
                image.ref,
                `docker://127.0.0.1:${port}/team/app:1`,
            ],
            { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "none.json") } },
        );
        expect(push.code, push.stderr).toBe(0);
        const deadline = Date.now() + 20_000;
        type Event = { action: string; target: { repository: string; mediaType: string } };
        const events = () => hook.bodies.flatMap((body) => (JSON.parse(body) as { events: Event[] }).events);
        // The manifest's push: the image as a whole, after its blobs.
        const pushed = () =>
            events().some((e) => e.action === "push" && e.target.repository === "team/app" && /manifest/.test(e.target.mediaType));
        while (!pushed() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
        expect(pushed(), `${hook.bodies.join("\n")}\n${registry.output()}`).toBe(true);

        const output = registry
            .output()
            .split("\n")
            .filter((line) => line.trim() !== "");
        // The log lines JSON (the formatter; the access log keeps its combined format), debug lines among them (the level).
        const lines = output.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(output.filter((line) => !line.startsWith("{") && !/"(GET|HEAD|POST|PUT|PATCH) \//.test(line))).toEqual([]);
        expect(lines.some((line) => line.level === "debug" && line.msg === "authorizing request")).toBe(true);
        // The field is on the registry's own lines (3.x: every line after the one that reads the config;
        // 2.8.3: not on a request's lines, which start from a context without it: docs/distribution-config.md).
        const listening = lines.find((line) => typeof line.msg === "string" && line.msg.startsWith("listening on"));
        expect(listening?.environment, JSON.stringify(listening)).toBe("dso-test");
        const requestLines = lines.filter((line) => line["http.request.uri"] !== undefined);
        expect(requestLines.length).toBeGreaterThan(0);
        expect(requestLines.every((line) => line.environment === "dso-test")).toBe(major === "v3");
    });
});
