/**
 * The real Pulumi CLI for the engine tier (test/engine): the binaries that `sh tools/engine/build.sh`
 * builds from Go modules, run on a copy of the project with a file backend and the passphrase secrets
 * provider, as a newcomer runs them.
 *
 * A workspace is a private directory holding:
 * - `project/`: the program's files (Pulumi.yaml, index.ts, components/, package.json, tsconfig.json,
 *   tsconfig.pulumi.json and the stack files the test asks for), with node_modules linked to the checkout's, so that
 *   `pulumi config set` and `pulumi stack init` write stack files there, never into the checkout;
 * - `home/`: HOME and PULUMI_HOME. `home/.pulumi/versions/<CLI version>/` is the engine set, laid out as the
 *   npm `pulumi` package's launcher looks for an installed CLI, so the README's `npx pulumi …` commands
 *   run verbatim and download nothing; `home/.pulumi/plugins` holds the providers at their versions;
 * - `state/`: the file backend (PULUMI_BACKEND_URL, which wins over any login).
 *
 * Nothing can be downloaded: PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION makes a missing plugin an error
 * and PULUMI_SKIP_UPDATE_CHECK keeps the CLI from asking for a newer version.
 */
import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { PROJECT } from "../../components/shared/facts";
import { privateDir, removeDir } from "./serverProcess";

export const PROJECT_DIR = path.resolve(__dirname, "../..");

const setDirs = new Map<string, string>();

/** Runs tools/engine/build.sh with `flag` once per process; returns the set's directory. */
function buildSet(flag: "--kube" | "--caddy"): string {
    const known = setDirs.get(flag);
    if (known) return known;
    const build = spawnSync("sh", [path.join(PROJECT_DIR, "tools/engine/build.sh"), flag, "--quiet"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    if (build.status !== 0) throw new Error(`tools/engine/build.sh ${flag} failed (exit ${build.status})`);
    const dir = build.stdout.trim().split("\n").at(-1) as string;
    setDirs.set(flag, dir);
    return dir;
}

/** The engine set's directory; builds what is missing (nothing when the cache is warm). */
export function engineSet(): string {
    return buildSet("--kube");
}

/**
 * The directory of the set holding the pinned Caddy (`bin/caddy`), built alone when missing: a test that
 * needs only Caddy does not wait for the CLI, the providers and the control plane.
 */
export function caddySet(): string {
    return setDirs.get("--kube") ?? buildSet("--caddy");
}

/**
 * The version of the CLI in the engine set: the `github.com/pulumi/pulumi/pkg/v3` that its wrapper module
 * (tools/engine/cli/go.mod) requires, as tools/engine/build.sh stamps it. Not @pulumi/pulumi's: npm has SDK
 * releases the module proxy does not serve, so the two move on their own.
 */
export const CLI_VERSION: string = (() => {
    const goMod = readFileSync(path.join(PROJECT_DIR, "tools/engine/cli/go.mod"), "utf8");
    const version = /^require github\.com\/pulumi\/pulumi\/pkg\/v3 v(\S+)$/m.exec(goMod)?.[1];
    if (!version) throw new Error("tools/engine/cli/go.mod requires no github.com/pulumi/pulumi/pkg/v3");
    return version;
})();

export interface CliResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface WorkspaceOptions {
    /** Committed stack files to copy into the project, e.g. ["local"] for Pulumi.local.yaml. */
    readonly stackFiles?: readonly string[];
    /** Extra environment for every command (KUBECONFIG, …). */
    readonly env?: Readonly<Record<string, string>>;
    /**
     * Type-check the program on every run (PULUMI_NODEJS_TRANSPILE_ONLY=false, which wins over the noCheck
     * of tsconfig.pulumi.json, the file Pulumi.yaml names). Off unless asked for: the workspace then sets
     * PULUMI_NODEJS_TRANSPILE_ONLY=true, as the program's own settings load it (`npm run build` type-checks
     * the program once per run). Either way the SDK's ts-node (7.0.1) keeps what it compiled in a cache of
     * the workspace's own, so a workspace compiles each file once: from the second run on, loading the
     * program takes about 1 s of CPU. The files that run the README's commands verbatim, and the library
     * example a consumer compiles, keep it on: a type error there fails them.
     */
    readonly typeCheck?: boolean;
}

export interface Workspace {
    readonly dir: string;
    readonly projectDir: string;
    /** The environment every command gets. */
    readonly env: NodeJS.ProcessEnv;
    /** Runs the CLI; resolves with its exit code and output, whatever the code. */
    pulumi(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CliResult>;
    /** Runs the CLI and throws with its output unless it exits 0. */
    pulumiOk(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CliResult>;
    /** Runs a shell command line in the project directory, as a person types it (e.g. `npx pulumi …`). */
    shell(line: string, options?: { input?: string; timeoutMs?: number }): Promise<CliResult>;
    /** Reads a stack output (secrets shown) as JSON. */
    output(stack: string, name: string): Promise<unknown>;
    /** The stack's exported state (deployment), secrets encrypted as they are stored. */
    exportState(stack: string): Promise<{ deployment: { resources?: Array<Record<string, unknown>> } }>;
    close(): void;
}

const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "components"];

export function openWorkspace(options: WorkspaceOptions = {}): Workspace {
    const set = engineSet();
    const dir = privateDir("engine");
    const projectDir = path.join(dir, "project");
    const home = path.join(dir, "home");
    const state = path.join(dir, "state");
    mkdirSync(projectDir);
    mkdirSync(path.join(home, ".pulumi", "versions"), { recursive: true });
    mkdirSync(state);
    for (const file of PROJECT_FILES) cpSync(path.join(PROJECT_DIR, file), path.join(projectDir, file), { recursive: true });
    for (const stack of options.stackFiles ?? []) {
        cpSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), path.join(projectDir, `Pulumi.${stack}.yaml`));
    }
    symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(projectDir, "node_modules"));
    symlinkSync(set, path.join(home, ".pulumi", "versions", CLI_VERSION));
    // The providers as `pulumi plugin install` lays them out: the engine loads the exact versions.
    symlinkSync(path.join(set, "plugins"), path.join(home, ".pulumi", "plugins"));
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        HOME: home,
        PULUMI_HOME: path.join(home, ".pulumi"),
        PULUMI_VERSION: CLI_VERSION,
        PULUMI_BACKEND_URL: `file://${state}`,
        // Generated per workspace; it reaches the CLI only through its environment.
        PULUMI_CONFIG_PASSPHRASE: randomBytes(18).toString("base64url"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        PULUMI_COPILOT: "false",
        NO_COLOR: "1",
        PATH: `${path.join(set, "bin")}:${process.env.PATH}`,
        PULUMI_NODEJS_TRANSPILE_ONLY: options.typeCheck ? "false" : "true",
        // ts-node's compile cache, in the workspace (removed with it) instead of a directory per HOME in /tmp.
        TS_NODE_CACHE_DIRECTORY: path.join(dir, "ts-node-cache"),
        // Node's compile cache, in the workspace too, for the whole program process (the SDK's runner, ts-node and
        // TypeScript included, not only the modules the program itself loads after turning it on): from a
        // workspace's second run on, each load of the program takes about 0.3 s less CPU.
        NODE_COMPILE_CACHE: path.join(dir, "node-compile-cache"),
        ...options.env,
    };
    const exec = (command: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}) =>
        execute(command, args, { cwd: projectDir, env }, opts);
    const pulumi = (args: readonly string[], opts?: { input?: string; timeoutMs?: number }) =>
        exec(path.join(set, "bin", "pulumi"), [...args, "--non-interactive"], opts);
    const describe = (args: readonly string[], r: CliResult) =>
        `pulumi ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout.slice(-20_000)}\n--- stderr\n${r.stderr.slice(-10_000)}`;
    return {
        dir,
        projectDir,
        env,
        pulumi,
        async pulumiOk(args, opts) {
            const r = await pulumi(args, opts);
            if (r.code !== 0) throw new Error(describe(args, r));
            return r;
        },
        shell: (line, opts) => exec("sh", ["-c", line], opts),
        async output(stack, name) {
            const r = await pulumi(["stack", "output", name, "--json", "--show-secrets", "-s", stack]);
            if (r.code !== 0) throw new Error(describe(["stack", "output", name], r));
            return JSON.parse(r.stdout);
        },
        async exportState(stack) {
            const r = await pulumi(["stack", "export", "-s", stack]);
            if (r.code !== 0) throw new Error(describe(["stack", "export"], r));
            return JSON.parse(r.stdout);
        },
        close() {
            removeDir(dir);
        },
    };
}

function execute(
    command: string,
    args: readonly string[],
    spawnOptions: SpawnOptions,
    { input, timeoutMs = 15 * 60_000 }: { input?: string; timeoutMs?: number },
): Promise<CliResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, [...args], { ...spawnOptions, stdio: ["pipe", "pipe", "pipe"], detached: true });
        let stdout = "";
        let stderr = "";
        child.stdout?.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
        child.stderr?.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
        // The CLI starts plugins of its own; on a time-out the whole process group goes.
        const timer = setTimeout(() => {
            if (child.pid) process.kill(-child.pid, "SIGKILL");
        }, timeoutMs);
        child.once("error", reject);
        child.once("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr });
        });
        child.stdin?.end(input ?? "");
    });
}

/**
 * The environment under which the engine writes the stack's state once, at the end of each `up` or `destroy`,
 * instead of after every step (Pulumi's PULUMI_SKIP_CHECKPOINTS). The state a command leaves is the same; only a
 * command killed midway would leave less of it. For files that run many `up`s whose every step must succeed and
 * that never read the state of one that failed (test/engine/plans.test.ts, test/engine/prodPlans.test.ts): the
 * checkpoint after each step is a large part of the CLI's CPU there.
 */
export const FINAL_STATE_ONLY: Readonly<Record<string, string>> = { PULUMI_SKIP_CHECKPOINTS: "true" };

/** True when the engine tier can run here (Go installed); the tier says why not instead of failing obscurely. */
export function goAvailable(): boolean {
    return existsSync("/usr/local/go/bin/go") || spawnSync("sh", ["-c", "command -v go"]).status === 0;
}

/**
 * Rewrites the workspace's stack file with these `dso-registry:` values (one per top-level key, as
 * `Pulumi.<stack>.yaml` holds them), keeping every secret `pulumi config set --secret` encrypted there.
 */
export function writeStackValues(ws: Workspace, stack: string, values: Readonly<Record<string, unknown>>): void {
    const file = path.join(ws.projectDir, `Pulumi.${stack}.yaml`);
    const current = YAML.parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown>; encryptionsalt?: string };
    const secure = Object.entries(current.config ?? {}).filter(([, v]) => typeof v === "object" && v !== null && "secure" in v);
    const config = { ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, v])), ...Object.fromEntries(secure) };
    writeFileSync(file, YAML.stringify({ encryptionsalt: current.encryptionsalt, config }));
}
