/**
 * cosign and oras for tests, built from their Go modules by tools/supplychain/build.sh into the engine
 * tier's cache on first use (a warm cache builds nothing), and run with everything they read or write
 * kept in the test's scratch directory: their home, cosign's TUF cache, the registry credentials (a
 * Docker config file of mode 0600, never on a command line), the key's password (COSIGN_PASSWORD, in
 * the environment), and the test CA as the only roots they trust. Whatever they would fetch from
 * elsewhere (cosign asks Sigstore's TUF repository for its trusted root, and goes on without it) goes to
 * a proxy address on loopback where nothing listens: their traffic stays on 127.0.0.1, whose addresses
 * Go never sends through a proxy.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { basicCredentials } from "./realRegistry";
import { type RunResult, run } from "./serverProcess";

let toolsDir: string | undefined;

/** Port 9 (discard) on loopback, where nothing listens: a request sent through it fails at once. */
const NOWHERE = "http://127.0.0.1:9";

/** The directory holding `cosign` and `oras` (tools/supplychain/build.sh: built on first use, nothing when warm). */
export function supplyChainToolsDir(): string {
    if (!toolsDir) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/supplychain/build.sh"), "--quiet"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/supplychain/build.sh failed (exit ${build.status ?? build.signal})`);
        toolsDir = build.stdout.trim().split("\n").at(-1) as string;
    }
    return toolsDir;
}

/** Who a tool runs as: an account of the registry at `authority`, or nobody (anonymous). */
export interface ToolIdentity {
    readonly authority: string;
    readonly account?: { readonly username: string; readonly password: string };
}

/** cosign and oras as one client of the registry: its own home, credentials and trust. */
export interface SupplyChainClient {
    cosign(args: readonly string[]): RunResult;
    oras(args: readonly string[]): RunResult;
}

/**
 * A client in `dir` (created) trusting only `caCertFile`, logged in as `identity.account` when given; the
 * cosign key's password, when given, reaches cosign as COSIGN_PASSWORD.
 */
export function supplyChainClient(dir: string, caCertFile: string, identity: ToolIdentity, keyPassword?: string): SupplyChainClient {
    const home = path.join(dir, "home");
    const dockerConfig = path.join(dir, "docker");
    mkdirSync(home, { recursive: true, mode: 0o700 });
    mkdirSync(dockerConfig, { recursive: true, mode: 0o700 });
    const auths = identity.account ? { [identity.authority]: { auth: basicCredentials(identity.account) } } : {};
    const configFile = path.join(dockerConfig, "config.json");
    writeFileSync(configFile, JSON.stringify({ auths }), { mode: 0o600 });
    const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: home,
        DOCKER_CONFIG: dockerConfig,
        TUF_ROOT: path.join(home, "sigstore"),
        SSL_CERT_FILE: caCertFile,
        SSL_CERT_DIR: path.join(dir, "no-system-roots"),
        HTTPS_PROXY: NOWHERE,
        HTTP_PROXY: NOWHERE,
        NO_PROXY: "",
        ...(keyPassword === undefined ? {} : { COSIGN_PASSWORD: keyPassword }),
    };
    const tool = (name: string, args: readonly string[]) =>
        run(path.join(supplyChainToolsDir(), name), args, { cwd: dir, env, timeout: 60_000 });
    return {
        cosign: (args) => tool("cosign", args),
        // oras takes its registry config after the subcommand: `oras attach --registry-config FILE …`.
        oras: ([command = "", ...rest]) => tool("oras", [command, "--registry-config", configFile, ...rest]),
    };
}
