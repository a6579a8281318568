/**
 * A cache's files (components/mirrors/mirrors.ts `renderMirrorFiles`): the proxy's config, the read-only
 * config on the same storage, and the start script that picks one; and the start script's choices, run
 * with sh and stand-ins for `registry` and `wget` that record what they were asked. Distribution
 * itself serving what the cache holds in both modes: test/integration/mirrors.test.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderClusterMirrors } from "../../components/mirrors/mirrorManifests";
import { MIRROR_COMMAND, MIRROR_FILES, MIRROR_PROBE_SECONDS, type MirrorSpec, renderMirrorFiles } from "../../components/mirrors/mirrors";

const options = { addr: ":5000", rootDirectory: "/var/lib/registry", remoteUrl: "https://registry-1.docker.io", ttl: "72h" } as const;
const files = renderMirrorFiles(options);

describe("a cache's files", () => {
    it("are the proxy's config, the read-only config and the start script, by the names the start script reads", () => {
        expect(Object.keys(files).sort()).toEqual(Object.values(MIRROR_FILES).sort());
        expect(files[MIRROR_FILES.startScript]).toContain(`\nPROXY_CONFIG='${MIRROR_FILES.proxyConfig}'\n`);
        expect(files[MIRROR_FILES.startScript]).toContain(`\nREAD_ONLY_CONFIG='${MIRROR_FILES.readOnlyConfig}'\n`);
    });

    it("the start script asks the cache's own upstream, every MIRROR_PROBE_SECONDS", () => {
        expect(files[MIRROR_FILES.startScript]).toContain("\nREMOTE_URL='https://registry-1.docker.io'\n");
        expect(files[MIRROR_FILES.startScript]).toContain(`\nPROBE_SECONDS='${MIRROR_PROBE_SECONDS}'\n`);
    });

    it("the read-only config has no proxy, refuses writes and deletes, on the proxy's listener and storage", () => {
        const readOnly = files[MIRROR_FILES.readOnlyConfig];
        expect(readOnly).not.toMatch(/proxy:|remoteurl/);
        expect(readOnly).toMatch(/\n {4}readonly:\n {6}enabled: true\n/);
        expect(readOnly).toMatch(/\n {2}delete:\n {4}enabled: false\n/);
        for (const line of ['  addr: ":5000"', '    rootdirectory: "/var/lib/registry"']) {
            expect(readOnly).toContain(`\n${line}\n`);
            expect(files[MIRROR_FILES.proxyConfig]).toContain(`\n${line}\n`);
        }
        expect(readOnly.split("\n")[0]).toBe(
            "# Managed by dso-registry: a pull-through cache while its upstream does not answer. See docs/mirrors.md.",
        );
    });
});

describe("the cache in the cluster", () => {
    const spec: MirrorSpec = {
        upstream: "docker.io",
        pathName: "docker.io",
        remoteUrl: options.remoteUrl,
        ttl: "168h",
        maxSize: "10Gi",
        hasCredentials: false,
    };
    type Container = { command: string[]; volumeMounts: unknown[]; readinessProbe: unknown };
    const objects = renderClusterMirrors({ namespace: "dso", image: "registry:3.1.2", mirrors: [{ spec }] });
    const configMap = objects.find((o) => o.kind === "ConfigMap") as unknown as { data: Record<string, string> };
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as {
        spec: { template: { spec: { containers: Container[] } } };
    };
    const container = () => deployment.spec.template.spec.containers[0]!;

    it("holds every file of the cache in its ConfigMap, mounted where the start script is run from", () => {
        expect(Object.keys(configMap.data).sort()).toEqual(Object.values(MIRROR_FILES).sort());
        expect(container().command).toEqual([...MIRROR_COMMAND]);
        expect(container().volumeMounts).toContainEqual({ name: "config", mountPath: path.dirname(MIRROR_COMMAND[1]), readOnly: true });
    });

    it("is ready when Distribution answers /v2/, in either mode: never waiting for the upstream", () => {
        expect(container().readinessProbe).toEqual({ httpGet: { path: "/v2/", port: "registry" }, periodSeconds: 10 });
    });
});

describe("the start script's choices (sh, with stand-ins for registry and wget)", () => {
    let dir = "";
    let child: ChildProcess | undefined;

    // TERM, which the script passes on to the stand-in: nothing of the test is left running.
    afterEach(async () => {
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child!.once("exit", r));
            child.kill("SIGTERM");
            await exited;
        }
        child = undefined;
        if (dir) rmSync(dir, { recursive: true, force: true });
        dir = "";
    });

    /**
     * Starts the rendered script with `registry` recording each start (`serve <file>`) and each TERM in
     * `calls`, ending at once with `proxyExit` in proxy mode when set; `wget` answers like an upstream
     * when `answers` exists, and like an unknown host otherwise.
     */
    function start(upstreamAnswers: boolean, proxyExit?: number, withWget = true) {
        dir = mkdtempSync(path.join(tmpdir(), "dso-mirror-start-"));
        const bin = path.join(dir, "bin");
        mkdirSync(bin);
        // Only the tools the script and the stand-ins use: what is missing is missing.
        for (const tool of ["basename", "dirname", "grep", "sleep", "timeout"]) {
            const found = ["/usr/bin", "/bin"].map((d) => path.join(d, tool)).find((f) => existsSync(f));
            symlinkSync(found!, path.join(bin, tool));
        }
        const calls = path.join(dir, "calls");
        const answers = path.join(dir, "answers");
        if (upstreamAnswers) writeFileSync(answers, "");
        const stub = (name: string, body: string) => {
            writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`);
            chmodSync(path.join(bin, name), 0o755);
        };
        stub(
            "registry",
            [
                `echo "$1 $(basename "$2")" >> ${calls}`,
                `trap 'echo term >> ${calls}; exit 0' TERM`,
                proxyExit === undefined ? "" : `case "$2" in */${MIRROR_FILES.proxyConfig}) exit ${proxyExit} ;; esac`,
                "while :; do sleep 0.05; done",
            ].join("\n"),
        );
        if (withWget) {
            stub(
                "wget",
                `if [ -e ${answers} ]; then echo '  HTTP/1.1 401 Unauthorized' >&2; else echo "wget: bad address" >&2; fi; exit 1`,
            );
        }
        for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
        child = spawn("/bin/sh", [path.join(dir, MIRROR_FILES.startScript)], {
            env: { PATH: bin },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        const recorded = () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : []);
        const until = async (count: number) => {
            for (let i = 0; i < 200 && recorded().length < count; i++) await new Promise((r) => setTimeout(r, 50));
            return recorded();
        };
        return { until, output: () => output };
    }

    it("serves in proxy mode when the upstream answers, even with a refusal (any HTTP answer)", async () => {
        const run = start(true);
        expect(await run.until(1)).toEqual([`serve ${MIRROR_FILES.proxyConfig}`]);
        // The script says it before it starts Distribution, but its pipe may be read after the start is recorded.
        await expect.poll(run.output).toContain("https://registry-1.docker.io answers: serving as its pull-through cache");
    });

    it("serves read-only when the upstream does not answer", async () => {
        const run = start(false);
        expect(await run.until(1)).toEqual([`serve ${MIRROR_FILES.readOnlyConfig}`]);
        // The script says it before it starts Distribution, but its pipe may be read after the start is recorded.
        await expect
            .poll(run.output)
            .toContain(
                `https://registry-1.docker.io does not answer: serving what this cache holds, read-only, and asking again every ${MIRROR_PROBE_SECONDS} s`,
            );
    });

    it("serves read-only at once when proxy mode ends (Distribution's own check at its start failed)", async () => {
        const run = start(true, 2);
        expect(await run.until(2)).toEqual([`serve ${MIRROR_FILES.proxyConfig}`, `serve ${MIRROR_FILES.readOnlyConfig}`]);
        // The script says it before it starts Distribution, but its pipe may be read after the start is recorded.
        await expect.poll(run.output).toContain("the pull-through cache ended (exit 2)");
    });

    it("ends at once, naming the tool, in an image without wget (it could never ask the upstream)", async () => {
        const run = start(true, undefined, false);
        const code = await new Promise<number | null>((r) => child!.once("exit", (c) => r(c)));
        expect(code).toBe(1);
        // The script says it before it starts Distribution, but its pipe may be read after the start is recorded.
        await expect.poll(run.output).toContain("dso-registry cache: wget is not in this image");
        expect(await run.until(0)).toEqual([]);
    });

    it("on TERM stops Distribution first, then ends with 0", async () => {
        const run = start(false);
        await run.until(1);
        const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
        child!.kill("SIGTERM");
        expect(await exited).toBe(0);
        expect(await run.until(2)).toEqual([`serve ${MIRROR_FILES.readOnlyConfig}`, "term"]);
    });
});
