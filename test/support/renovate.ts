/**
 * Renovate itself, for the test that holds renovate.json to the code (test/integration/renovateConfig.test.ts):
 * the npm package `renovate` at the version pinned here, installed once into a cache outside the checkout
 * (`$XDG_CACHE_HOME`, or ~/.cache, then dso-registry/renovate/<version>), never into the project's
 * node_modules (it is over 500 MB). Parallel callers take turns on a lock (flock), and the install appears
 * whole or not at all. Renovate needs Node 24 (its engines); tools/node/run.sh puts the tests' Node 24 first
 * on the PATH of every command run here, installing it first where the machine has an older one.
 *
 * Two of Renovate's commands run: its config validator, and Renovate on the local platform with
 * `--dry-run=extract`, which reads a copy of the checkout and reports every dependency each manager
 * extracts, without asking any registry.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { installOnce, projectCacheDir } from "./cachedInstall";
import { privateDir, type RunResult, removeDir, run, runOk } from "./serverProcess";
import { PROJECT_DIR } from "./synthCli";

/** The renovate release the tests run (renovate.json's last custom manager keeps it current). */
export const RENOVATE_VERSION = "44.121.2";

/** Runs a command with the tests' Node 24 first on the PATH (the npm package renovate needs Node ^24.11). */
const NODE_RUNNER = path.join(PROJECT_DIR, "tools/node/run.sh");

/** Where a renovate release is installed: one directory per version, beside the other caches of the project. */
export function renovateDir(version: string = RENOVATE_VERSION): string {
    return projectCacheDir("renovate", version);
}

/** An installed renovate. */
export interface RenovateInstall {
    readonly dir: string;
    /** Seconds the install took in this call; undefined when it was there already, or another caller installed it. */
    readonly installSeconds: number | undefined;
}

/**
 * Installs the pinned renovate unless it is there. The shell part runs under the lock: it installs into
 * `<dir>.partial` and moves that to `<dir>` when npm has finished, so a cut-short install leaves no `<dir>`,
 * and a caller that waited finds the finished one. `--ignore-scripts`: the only install script of
 * renovate's tree builds re2 from source or downloads a prebuilt binary, neither of which this needs
 * (without re2 Renovate compiles its patterns with JavaScript's RegExp, and says so).
 */
const INSTALL = `
set -eu
dir=$1 version=$2 runner=$3
[ ! -d "$dir" ] || exit 0
partial=$dir.partial
rm -rf "$partial"
mkdir -p "$partial"
printf '{ "private": true, "dependencies": { "renovate": "%s" } }\\n' "$version" > "$partial/package.json"
sh "$runner" npm install --prefix "$partial" --ignore-scripts --omit=dev --no-audit --no-fund --fetch-retries=5 --loglevel=error >&2
mv "$partial" "$dir"
echo installed
`;

export function installRenovate(version: string = RENOVATE_VERSION): RenovateInstall {
    const dir = renovateDir(version);
    const started = Date.now();
    const output = installOnce(dir, INSTALL, [version, NODE_RUNNER]);
    // A caller that waited for another's install finds it finished and installs nothing.
    const installed = output?.trim() === "installed";
    return { dir, installSeconds: installed ? Math.round((Date.now() - started) / 100) / 10 : undefined };
}

/**
 * The environment Renovate runs in: this process's, without Renovate's own variables (a RENOVATE_CONFIG_FILE
 * or a token of the machine would change what it reads) and with no colour in its log.
 */
function renovateEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
        if (!/^(RENOVATE_|LOG_|GITHUB_COM_TOKEN$)/.test(name)) env[name] = value;
    }
    return { ...env, FORCE_COLOR: "0", NO_COLOR: "1" };
}

/**
 * `renovate-config-validator --strict --no-global <file>`: the file as a repository's config (`--no-global`;
 * a file named on the command line is otherwise read as the bot's own global config), failing on any error,
 * warning or needed migration (`--strict`). Runs in an empty directory, where no config.js of the bot is found.
 */
export function validateConfig(install: RenovateInstall, file: string): RunResult {
    const cwd = privateDir("renovate-validate");
    try {
        const validator = path.join(install.dir, "node_modules/.bin/renovate-config-validator");
        return run("sh", [NODE_RUNNER, validator, "--strict", "--no-global", path.resolve(file)], { cwd, env: renovateEnv() });
    } finally {
        removeDir(cwd);
    }
}

/** One dependency as Renovate's extract reports it (the fields the test reads). */
export interface ExtractedDep {
    readonly depName?: string;
    readonly packageName?: string;
    readonly depType?: string;
    readonly currentValue?: string;
    readonly currentDigest?: string;
    readonly datasource?: string;
    readonly replaceString?: string;
    readonly skipReason?: string;
    /** false for a dependency the manager leaves alone by default (e.g. a go.mod's indirect requirement). */
    readonly enabled?: boolean;
}

/** The package files of one manager, as Renovate's extract reports them. */
export interface ExtractedFile {
    readonly packageFile: string;
    readonly deps: readonly ExtractedDep[];
}

/** Manager → its package files ("regex" holds every custom regex manager's). */
export type Extraction = Readonly<Record<string, readonly ExtractedFile[]>>;

/** The files of the checkout git knows of or would add (tracked, and untracked but not ignored), relative. */
export function checkoutFiles(): string[] {
    const listed = runOk("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: PROJECT_DIR }).stdout;
    return [...new Set(listed.split("\0"))].filter((file) => file !== "" && existsSync(path.join(PROJECT_DIR, file))).sort();
}

/**
 * What Renovate extracts from the checkout as it stands: Renovate on the local platform, `--dry-run=extract`,
 * run in a copy of the files git knows of (the local platform lists them with `git ls-files`, so files not yet
 * committed are copied into a fresh repository's index), with its report written to a file.
 */
export function extractWithRenovate(install: RenovateInstall): Extraction {
    const work = privateDir("renovate-extract");
    try {
        const repo = path.join(work, "repo");
        for (const file of checkoutFiles()) {
            mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
            copyFileSync(path.join(PROJECT_DIR, file), path.join(repo, file));
        }
        runOk("git", ["init", "--quiet"], { cwd: repo });
        runOk("git", ["add", "--all"], { cwd: repo });
        const report = path.join(work, "report.json");
        const renovate = path.join(install.dir, "node_modules/.bin/renovate");
        const args = [
            NODE_RUNNER,
            renovate,
            "--platform=local",
            "--dry-run=extract",
            "--onboarding=false",
            `--base-dir=${path.join(work, "base")}`,
            "--report-type=file",
            `--report-path=${report}`,
        ];
        const result = run("sh", args, { cwd: repo, env: { ...renovateEnv(), LOG_LEVEL: "warn" }, timeout: 10 * 60_000 });
        if (result.code !== 0 || !existsSync(report)) {
            throw new Error(
                `renovate --platform=local --dry-run=extract failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
            );
        }
        const parsed = JSON.parse(readFileSync(report, "utf8")) as {
            repositories: Record<string, { packageFiles: Record<string, ExtractedFile[]> }>;
        };
        const repositories = Object.values(parsed.repositories);
        if (repositories.length !== 1) throw new Error(`renovate reported ${repositories.length} repositories, not the one it ran in`);
        return repositories[0]!.packageFiles;
    } finally {
        removeDir(work);
    }
}

/** Writes `config` as JSON into a new private directory and returns the file; the caller removes its directory. */
export function writeConfigCopy(config: unknown): string {
    const file = path.join(privateDir("renovate-config"), "renovate.json");
    writeFileSync(file, `${JSON.stringify(config, null, 4)}\n`);
    return file;
}
