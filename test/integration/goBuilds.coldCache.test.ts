/**
 * Every Go build script of tools/ on a machine that has never built anything: an empty module cache and an
 * empty engine cache. A build that reads a module's directory (sources to copy, CRDs, stages, a launcher)
 * must download that module itself; on a warm machine an earlier build has always done it, so a script that
 * forgets passes everywhere but on a newcomer's machine.
 *
 * Nothing is compiled: `go` on the scripts' PATH is a stand-in that answers `go build` with an empty
 * executable at its `-o` path and `go generate` with nothing, and hands every other command (`go list`,
 * `go mod download`, `go env`) to the real go. So no build downloads a module as a side effect of compiling,
 * and each directory a script reads must come from its own download. The modules come from the machine's
 * own module cache, read as a file proxy (the real proxy behind it for what that cache lacks), so the check
 * costs extraction, not a download of the internet.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateDir, removeDir } from "../support/serverProcess";

const ROOT = path.resolve(__dirname, "../..");

/** tools/<name>/build.sh, each Go build a test or CI runs (the control plane's, tools/engine/kube, is the engine build's). */
const SCRIPTS = readdirSync(path.join(ROOT, "tools"))
    .filter((name) => existsSync(path.join(ROOT, "tools", name, "build.sh")))
    .map((name) => `tools/${name}/build.sh`);

/** The arguments each script is run with: the engine set with the control plane, as .ci/run builds it. */
const ARGS: Record<string, string[]> = { "tools/engine/build.sh": ["--kube"] };

let scratch: string;
let env: NodeJS.ProcessEnv;
let log: string;

function realGo(): string {
    for (const candidate of [...(process.env.PATH ?? "").split(":").map((d) => path.join(d, "go")), "/usr/local/go/bin/go"]) {
        if (candidate && existsSync(candidate)) return candidate;
    }
    throw new Error("go is not installed: the Go builds need Go 1.26 or newer");
}

function go(args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) {
    return spawnSync(realGo(), args, { cwd, encoding: "utf8", env: { ...process.env, ...extra } });
}

beforeAll(() => {
    scratch = privateDir("go-cold");
    const goBin = realGo();
    const machineModCache = go(["env", "GOMODCACHE"], ROOT).stdout.trim();
    const machineProxy = go(["env", "GOPROXY"], ROOT).stdout.trim();
    const shim = path.join(scratch, "bin");
    log = path.join(scratch, "go-commands.log");
    mkdirSync(shim);
    writeFileSync(
        path.join(shim, "go"),
        [
            "#!/bin/sh",
            "# go, but `go build` only writes an empty executable at its -o path and `go generate` does nothing.",
            'case "$1" in',
            "build)",
            "    out= prev=",
            '    for arg; do [ "$prev" = -o ] && out=$arg; prev=$arg; done',
            '    [ -n "$out" ] || { echo "go stand-in: go build without -o" >&2; exit 2; }',
            `    printf '#!/bin/sh\\nexit 0\\n' >"$out" && chmod +x "$out"`,
            '    echo "build $*" >>"$GO_COLD_LOG"',
            "    ;;",
            'generate) echo "generate $PWD" >>"$GO_COLD_LOG" ;;',
            `*) exec ${goBin} "$@" ;;`,
            "esac",
            "",
        ].join("\n"),
    );
    chmodSync(path.join(shim, "go"), 0o755);
    env = {
        ...process.env,
        PATH: `${shim}:${process.env.PATH}`,
        GOMODCACHE: path.join(scratch, "modcache"),
        DSO_ENGINE_CACHE: path.join(scratch, "engine-cache"),
        GOPROXY: `file://${machineModCache}/cache/download,${machineProxy}`,
        GOFLAGS: "",
        GO_COLD_LOG: log,
    };
});

afterAll(() => {
    if (!scratch) return;
    // The module cache's files are read-only; go removes its own cache.
    spawnSync(realGo(), ["clean", "-modcache"], { env });
    removeDir(scratch);
});

describe("the Go builds on a new machine (empty module and engine caches, nothing compiled)", () => {
    it("the check starts cold: a module the wrappers require is not in its module cache, and `go list -m` alone says no directory", () => {
        const listed = go(["list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"], path.join(ROOT, "tools/engine/kube/kwok"), env);
        expect(listed.status, listed.stderr).toBe(0);
        expect(listed.stdout.trim()).toBe("");
    });

    it("finds every build script of tools/", () => {
        expect(SCRIPTS).toEqual(expect.arrayContaining(["tools/engine/build.sh", "tools/traefik/build.sh", "tools/distribution/build.sh"]));
    });

    /** Runs a build script as on a new machine; its `go` commands go to the log. */
    function build(script: string): string {
        writeFileSync(log, "");
        const run = spawnSync("sh", [path.join(ROOT, script), ...(ARGS[script] ?? [])], { cwd: ROOT, env, encoding: "utf8" });
        expect(run.status, `${script} on empty caches:\n${run.stderr.slice(-3000)}`).toBe(0);
        // It went as far as building: at least one `go build`, and the directory it prints last holds what it made.
        expect(readFileSync(log, "utf8")).toMatch(/^build /m);
        const out = run.stdout.trim().split("\n").pop()!;
        expect(out.startsWith(`${env.DSO_ENGINE_CACHE!}/`), out).toBe(true);
        expect(readdirSync(out).length).toBeGreaterThan(0);
        return out;
    }

    it.each(SCRIPTS.filter((s) => s !== "tools/engine/build.sh"))(
        "%s resolves every module it reads and completes",
        (script) => {
            build(script);
        },
        10 * 60_000,
    );

    it(
        "tools/engine/build.sh --kube completes, with what it copies out of modules: pulumi-kubernetes's command, the dynamic providers' launcher, cert-manager's CRDs, kwok's stages",
        () => {
            const set = build("tools/engine/build.sh");
            const cache = env.DSO_ENGINE_CACHE!;
            // pulumi-kubernetes's command package was copied out of its module, generated and built.
            expect(readFileSync(log, "utf8")).toMatch(/^generate .*pulumi-resource-kubernetes-upstream-.*\/src$/m);
            expect(readdirSync(path.join(cache, "build")).some((d) => d.startsWith("pulumi-resource-kubernetes-upstream-"))).toBe(true);
            expect(statSync(path.join(set, "bin/pulumi-resource-pulumi-nodejs")).size).toBeGreaterThan(0);
            const crds = readdirSync(path.join(set, "cert-manager-crds"));
            expect(crds.length).toBeGreaterThan(0);
            expect(readFileSync(path.join(set, "cert-manager-crds", crds[0]!), "utf8")).toContain("kind: CustomResourceDefinition");
            expect(readFileSync(path.join(cache, "kube/kwok-stages.yaml"), "utf8")).toContain("kind: Stage");
        },
        15 * 60_000,
    );
});
