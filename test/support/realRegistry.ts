/**
 * Real registry software for tests, on loopback only: Docker Distribution (`docker-registry`) with the
 * config.yml the program renders, Caddy in front of it with the rendered Caddyfile and users files,
 * TLS from a test CA made with openssl at test time, a private containerd, and helpers to drive
 * skopeo, ctr and curl against them. Nothing here is committed material: keys, certificates and
 * passwords are generated per run and removed on stop.
 *
 * Usage:
 *   const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { requiresAuthForPull: false } });
 *   const image = makeOciImage(dir);                              // a small valid image
 *   skopeoCopy(image.ref, `docker://${reg.authority}/team/app:1`, { certDir: reg.certDir, creds: reg.push });
 *   const ctrd = await startContainerd();
 *   ctrd.pull(`${reg.authority}/team/app:1`, writeHostsDir(dir, reg));
 *   await ctrd.stop(); await reg.stop();                          // always, e.g. in afterAll
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as bcrypt from "bcryptjs";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { type AccessPolicy, SWEEP_HOLD_GATE } from "../../components/accessPolicy/policy";
import {
    type PreviousPassword,
    renderOverlapMatchers,
    renderPreviousUsersFile,
    renderUsersFile,
    unmatchableBcryptHash,
} from "../../components/accessPolicy/usersFile";
import { distinguishingPrefix } from "../../components/accounts/passwordOverlapProvider";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { DISTRIBUTION } from "../../components/shared/facts";
import { deployedRegistry } from "./distributionBinaries";
import type { TestNetns } from "./netns";
import { S3_REGION, type S3Server } from "./s3Server";
import { freePort, privateDir, type RunResult, removeDir, run, runOk, type ServerProcess, startServer, waitForPort } from "./serverProcess";

// ---------------------------------------------------------------------------------------------
// Test CA
// ---------------------------------------------------------------------------------------------

/** A CA and a server certificate for 127.0.0.1 (and any extra names), made with openssl. */
export interface TestCa {
    /** CA certificate (PEM file); what clients trust. */
    readonly caCertFile: string;
    readonly caCertPem: string;
    /** The CA's key (PEM file), for a test that hands the CA to an issuer. */
    readonly caKeyFile: string;
    /** Server certificate chain and key (PEM files). */
    readonly serverCertFile: string;
    readonly serverKeyFile: string;
}

/** Makes a P-256 CA and a server certificate valid for 127.0.0.1, localhost and `dnsNames` (an IPv4 address among them as an IP name), in `dir`. */
export function makeTestCa(dir: string, dnsNames: readonly string[] = []): TestCa {
    mkdirSync(dir, { recursive: true });
    const f = (name: string) => path.join(dir, name);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    runOk("openssl", [
        "req",
        "-x509",
        ...ec,
        "-keyout",
        f("ca.key"),
        "-out",
        f("ca.crt"),
        "-days",
        "2",
        "-subj",
        "/CN=dso-registry test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    runOk("openssl", ["req", ...ec, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=127.0.0.1"]);
    const san = ["IP:127.0.0.1", "DNS:localhost", ...dnsNames.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`))].join(
        ",",
    );
    writeFileSync(f("server.ext"), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
    runOk("openssl", [
        "x509",
        "-req",
        "-in",
        f("server.csr"),
        "-CA",
        f("ca.crt"),
        "-CAkey",
        f("ca.key"),
        "-CAcreateserial",
        "-out",
        f("server.crt"),
        "-days",
        "2",
        "-extfile",
        f("server.ext"),
    ]);
    return {
        caCertFile: f("ca.crt"),
        caCertPem: runOk("cat", [f("ca.crt")]).stdout,
        caKeyFile: f("ca.key"),
        serverCertFile: f("server.crt"),
        serverKeyFile: f("server.key"),
    };
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

/** A registry account with its password in the clear (tests only) and its bcrypt hash. */
export interface TestAccount {
    readonly username: string;
    readonly password: string;
    readonly bcryptHash: string;
}

/** The base64 `user:password` an Authorization header carries after "Basic " (and the front's tokens are). */
export function basicCredentials(account: Pick<TestAccount, "username" | "password">): string {
    return Buffer.from(`${account.username}:${account.password}`).toString("base64");
}

/** A fresh account with a random password (bcrypt cost 10, like @pulumi/random's bcryptHash). */
export function makeAccount(username: string): TestAccount {
    const password = randomBytes(18).toString("base64url");
    return { username, password, bcryptHash: bcrypt.hashSync(password, 10) };
}

/**
 * A rotated account's previous password, as a PasswordOverlap keeps it: another password of the same
 * user whose first characters the current one does not start with, and what the fronts get of it, with
 * the overlap's end `seconds` from now.
 */
export function makePreviousAccount(current: TestAccount, seconds: number): { account: TestAccount; previous: PreviousPassword } {
    for (;;) {
        const account = makeAccount(current.username);
        const prefix = distinguishingPrefix(account.password, current.password);
        if (prefix === undefined) continue;
        return { account, previous: { bcryptHash: account.bcryptHash, prefix, until: Math.floor(Date.now() / 1000) + seconds } };
    }
}

/** A decoy check's hash as a stack makes it (components/accounts/decoy.ts), from a seed made now. */
export function makeDecoyHash(): string {
    return unmatchableBcryptHash(randomBytes(30).toString("base64url"));
}

// ---------------------------------------------------------------------------------------------
// Distribution + Caddy
// ---------------------------------------------------------------------------------------------

export interface RealRegistryOptions {
    /** Policy fields to use instead of the defaults (anonymous pull, deletes enabled, no allowlist). */
    readonly policy?: Partial<
        Pick<
            AccessPolicy,
            | "requiresAuthForPull"
            | "allowedNetworks"
            | "deletesEnabled"
            | "uiUpstream"
            | "readOnlySignals"
            | "diskFullSignal"
            | "mirrorsRequireAuth"
        >
    >;
    /**
     * Distribution's storage in this bucket of an S3 server (test/support/s3Server.ts), with its root key,
     * instead of the data directory; blobs are proxied (no redirect), and the front serves no blob file.
     */
    readonly s3?: { readonly server: Pick<S3Server, "endpoint" | "credentials">; readonly bucket: string };
    /** The data directory on a tmpfs of this many MiB of its own (a small disk to fill), unmounted on stop. */
    readonly dataFsMiB?: number;
    /**
     * Mirror path names (`/v2/mirrors/<name>/`) whose cache is this registry's own Distribution: a
     * stand-in for a cache in proxy mode, for tests of the front's mirror route and its checks.
     */
    readonly mirrorsToSelf?: readonly string[];
    /** Start Caddy in front (default true). Without it, only Distribution runs. */
    readonly caddy?: boolean;
    /** Let Distribution serve TLS itself with the test certificate (the benchmark's baseline). */
    readonly registryTls?: boolean;
    /** Start Distribution in read-only maintenance mode. */
    readonly readOnly?: boolean;
    /** Extra DNS names (or IPv4 addresses) for the server certificate. */
    readonly dnsNames?: readonly string[];
    /** Other names the front's site answers to besides 127.0.0.1 (`AccessPolicy.siteAliases`), on the same port. */
    readonly siteAliases?: readonly string[];
    /**
     * Turns the policy into the Caddyfile that runs; `renderCaddyfile` unless set. For tests that
     * prove why a rule exists by running a Caddyfile without it.
     */
    readonly caddyfileFor?: (policy: AccessPolicy) => string;
    /**
     * Let Caddy serve blob downloads from Distribution's data directory (`blobFiles`), as the
     * external host and the in-cluster sidecar with filesystem storage do. Default true.
     */
    readonly blobShortcut?: boolean;
    /** Distribution's and Caddy's metrics listeners on free loopback ports, as monitoring renders them. */
    readonly metrics?: boolean;
    /** Caddy's access log to a file in the scratch directory, as the external host renders it. */
    readonly accessLog?: boolean;
    /** The online collection's hold directory (`AccessPolicy.sweepHold`), made in the scratch directory. */
    readonly sweepHold?: boolean;
    /** Distribution's in-memory blob-descriptor cache (default on, as Distribution's own default config has it). */
    readonly blobDescriptorCache?: boolean;
    /**
     * The Caddy binary (test/support/caddyBinaries.ts): `pinnedCaddy()`, every placement's front, unless
     * the test plays a server the program does not run. Required with Caddy in front.
     */
    readonly caddyBinary?: string;
    /** Distribution's `registry` binary (test/support/distributionBinaries.ts); `deployedRegistry()` unless set. */
    readonly registryBinary?: string;
    /** The decoy check's hash; a fresh `makeDecoyHash()` unless set (a test that plays a known decoy password). */
    readonly decoyHash?: string;
    /**
     * Push accounts scoped to repository prefixes (`AccessPolicy.scopedPushAccounts`), each made with a
     * fresh password and put in the push users file beside the unscoped push account.
     */
    readonly scopedPushAccounts?: readonly { readonly username: string; readonly prefixes: readonly string[] }[];
    /** Read accounts (`containerRegistry.readAccounts`), each made with a fresh password and put in the pull users file beside the pull account. */
    readonly readAccounts?: readonly string[];
    /**
     * The push or pull account was just rotated with an overlap of `seconds`: its previous password is the
     * one given (a test's own, so that it can compute what the front does with it), and the
     * previous-passwords files and the overlap file are written and imported as a placement does.
     */
    readonly previousPasswords?: { readonly push?: string; readonly pull?: string; readonly seconds: number };
}

export interface RealRegistry {
    /** "127.0.0.1:<caddy port>": what image references start with (Caddy, the policy in force). */
    readonly authority: string;
    /** https://127.0.0.1:<caddy port> */
    readonly url: string;
    /** Distribution's own port on 127.0.0.1 (plain HTTP unless `registryTls`). */
    readonly registryPort: number;
    readonly caddyPort?: number;
    readonly ca: TestCa;
    /** Directory with ca.crt only, for skopeo's --cert-dir options. */
    readonly certDir: string;
    /** Push account (in the push users file). */
    readonly push: TestAccount;
    /** Pull-only account (in the pull users file). */
    readonly pull: TestAccount;
    /** The scoped push accounts, in the order of `scopedPushAccounts` (none unless asked for). */
    readonly scoped: readonly TestAccount[];
    /** The read accounts, in the order of `readAccounts` (none unless asked for). */
    readonly read: readonly TestAccount[];
    /** The rendered Caddyfile and registry config that are running. */
    readonly caddyfile?: string;
    readonly registryConfig: string;
    /** Registry data directory (filesystem storage root). */
    readonly dataDir: string;
    /** The metrics listeners' ports on 127.0.0.1 (with `metrics`). */
    readonly metricsPorts?: { readonly distribution: number; readonly caddy: number };
    /** Caddy's process ID, when it runs (its memory, for the tests that exhaust it). */
    readonly caddyPid?: number;
    /** Distribution's process ID (its CPU time, for the benchmarks). */
    readonly registryPid?: number;
    /** Caddy's access log (with `accessLog`). */
    readonly accessLogFile?: string;
    /** The front's hold directory (with `sweepHold`). */
    readonly sweepHoldDir?: string;
    /** What the hold's gate links to (with `sweepHold`): a unix socket that reaches Distribution. */
    readonly gateTarget?: string;
    /** Scratch directory of this instance (removed on stop). */
    readonly dir: string;
    /** Logs so far. */
    logs(): { registry: string; caddy: string };
    /**
     * Stops Distribution only; Caddy keeps running. For tests that prove what Caddy answers on its
     * own (a proxied request then fails with 502). Distribution's port stays taken, by a process that
     * closes every connection at once: freed, another test's server could be given it, and a request the
     * front proxies would get that server's answer instead of a 502. The holder is a process of its own
     * because the tests' clients run synchronously and would block an in-process one.
     */
    stopDistribution(): Promise<void>;
    /**
     * Revokes accounts as a deploy without them does: the users files and the Caddyfile are written again
     * for every other account (same passwords), and Caddy starts again on the same port.
     */
    revoke(usernames: readonly string[]): Promise<void>;
    /** Stops Caddy and Distribution and removes every file. Safe to call twice. */
    stop(): Promise<void>;
}

/** Environment that keeps Caddy's state (autosave, locks) inside the scratch directory. */
export function caddyEnv(dir: string): NodeJS.ProcessEnv {
    return { ...process.env, HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") };
}

/**
 * Starts Distribution (and Caddy in front) with rendered files on free loopback ports. With Caddy, the
 * caller names its binary: which Caddy runs is what the test stands for, so there is no default.
 */
export async function startRealRegistry(
    options: RealRegistryOptions & ({ readonly caddy: false } | { readonly caddyBinary: string }),
): Promise<RealRegistry> {
    const dir = privateDir("registry");
    const servers: ServerProcess[] = [];
    let mounted = false;
    const stopAll = async () => {
        for (const s of servers.reverse()) await s.stop();
        if (mounted) run("umount", [path.join(dir, "data-registry")]);
        removeDir(dir);
    };
    try {
        const ca = makeTestCa(path.join(dir, "tls"), options.dnsNames);
        const certDir = path.join(dir, "certs");
        mkdirSync(certDir);
        writeFileSync(path.join(certDir, "ca.crt"), ca.caCertPem);
        const push = makeAccount("ci-push");
        const pull = makeAccount("cluster-pull");
        const scoped = (options.scopedPushAccounts ?? []).map((a) => makeAccount(a.username));
        const read = (options.readAccounts ?? []).map((name) => makeAccount(name));
        const dataDir = path.join(dir, "data-registry");
        if (options.dataFsMiB !== undefined) {
            mkdirSync(dataDir);
            const mount = run("mount", ["-t", "tmpfs", "-o", `size=${options.dataFsMiB}m`, "dso-test-data", dataDir]);
            if (mount.code !== 0) throw new Error(`tmpfs for the data directory: ${mount.stderr}`);
            mounted = true;
        }
        const registryPort = await freePort();
        const metricsPorts = options.metrics ? { distribution: await freePort(), caddy: await freePort() } : undefined;
        const accessLogFile = options.accessLog ? path.join(dir, "access.log") : undefined;
        const sweepHoldDir = options.sweepHold ? path.join(dir, "sweep-hold") : undefined;
        if (sweepHoldDir) mkdirSync(sweepHoldDir);
        // The gate's target: Distribution's unix socket on the host; here a relay from a socket to its port.
        const gateTarget = sweepHoldDir ? path.join(dir, "registry.sock") : undefined;
        const registryConfig = renderRegistryConfig({
            ...(metricsPorts ? { metricsAddr: `127.0.0.1:${metricsPorts.distribution}` } : {}),
            addr: `127.0.0.1:${registryPort}`,
            storage: options.s3
                ? {
                      kind: "s3",
                      bucket: options.s3.bucket,
                      region: S3_REGION,
                      endpoint: options.s3.server.endpoint,
                      forcePathStyle: true,
                      rootDirectory: "/registry",
                      redirect: false,
                  }
                : { kind: "filesystem", rootDirectory: dataDir },
            deletesEnabled: options.policy?.deletesEnabled ?? true,
            readOnly: options.readOnly,
            tls: options.registryTls ? { certificate: ca.serverCertFile, key: ca.serverKeyFile } : undefined,
            logLevel: "warn",
            ...(options.blobDescriptorCache === false ? { blobDescriptorCache: false } : {}),
        });
        const registryConfigFile = path.join(dir, "config.yml");
        writeFileSync(registryConfigFile, registryConfig);
        // Not this machine's AWS_CA_BUNDLE: Distribution 2.8's s3 driver cannot use one (it panics), and no placement sets it.
        const { AWS_CA_BUNDLE: _notInAContainer, ...machineEnv } = process.env;
        const registry = startServer(options.registryBinary ?? deployedRegistry().path, ["serve", registryConfigFile], {
            ...machineEnv,
            ...DISTRIBUTION.environment,
            // The bucket's key as a placement hands it over: in Distribution's environment, never in config.yml.
            ...(options.s3
                ? {
                      REGISTRY_STORAGE_S3_ACCESSKEY: options.s3.server.credentials.accessKeyId,
                      REGISTRY_STORAGE_S3_SECRETKEY: options.s3.server.credentials.secretAccessKey,
                  }
                : {}),
        });
        servers.push(registry);
        await waitForPort(registryPort, 30_000, "docker-registry").catch((e: Error) => {
            throw new Error(`${e.message}\n${registry.output()}`);
        });
        if (sweepHoldDir && gateTarget) {
            const relay = startServer(process.execPath, [
                "-e",
                'const net = require("node:net"); net.createServer((c) => { const u = net.connect(Number(process.argv[2]), "127.0.0.1"); c.pipe(u).pipe(c); c.on("error", () => u.destroy()); u.on("error", () => c.destroy()); }).listen(process.argv[1])',
                gateTarget,
                String(registryPort),
            ]);
            servers.push(relay);
            for (const deadline = Date.now() + 10_000; !existsSync(gateTarget); await new Promise((r) => setTimeout(r, 20))) {
                if (Date.now() > deadline) throw new Error(`the relay's socket ${gateTarget} did not appear\n${relay.output()}`);
            }
            symlinkSync(gateTarget, path.join(sweepHoldDir, SWEEP_HOLD_GATE));
        }

        let caddyfile: string | undefined;
        let caddyPort: number | undefined;
        let caddy: ServerProcess | undefined;
        let writeFront: ((revoked: ReadonlySet<string>) => string) | undefined;
        if (options.caddy !== false) {
            const frontPort = await freePort();
            caddyPort = frontPort;
            const pushUsersFile = path.join(dir, "users-push");
            const pullUsersFile = path.join(dir, "users-pull");
            const decoyHash = options.decoyHash ?? makeDecoyHash();
            const overlapFile = options.previousPasswords ? writeOverlapFiles(dir, { push, pull }, options.previousPasswords) : undefined;
            // The front's files for the accounts not revoked: the users files and the Caddyfile naming them.
            writeFront = (revoked: ReadonlySet<string>) => {
                const kept = (a: TestAccount) => !revoked.has(a.username);
                const scopedKept = scoped.filter(kept);
                const readKept = read.filter(kept);
                writeFileSync(pushUsersFile, renderUsersFile("push", [push, ...scopedKept]), { mode: 0o600 });
                writeFileSync(pullUsersFile, renderUsersFile("pull", [pull, ...readKept]), { mode: 0o600 });
                const scopedPolicy = options.scopedPushAccounts?.filter((a) => !revoked.has(a.username));
                return (options.caddyfileFor ?? renderCaddyfile)({
                    siteAddress: "127.0.0.1",
                    ...(options.siteAliases?.length ? { siteAliases: options.siteAliases } : {}),
                    port: frontPort,
                    bindAddress: "127.0.0.1",
                    admin: "off",
                    tls: { kind: "files", certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
                    upstream: `127.0.0.1:${registryPort}`,
                    requiresAuthForPull: options.policy?.requiresAuthForPull ?? false,
                    pushUsersFile,
                    pullUsersFile,
                    // As both placements render it: unknown users are checked against the decoy account.
                    decoy: {
                        accounts: {
                            push: [push.username, ...scopedKept.map((a) => a.username)],
                            pull: [pull.username, ...readKept.map((a) => a.username)],
                        },
                        bcryptHash: decoyHash,
                    },
                    ...(scopedPolicy ? { scopedPushAccounts: scopedPolicy } : {}),
                    ...(overlapFile ? { overlap: { matchersFile: overlapFile } } : {}),
                    allowedNetworks: options.policy?.allowedNetworks ?? [],
                    deletesEnabled: options.policy?.deletesEnabled ?? true,
                    uiUpstream: options.policy?.uiUpstream,
                    readOnlySignals: options.policy?.readOnlySignals,
                    ...(options.policy?.diskFullSignal ? { diskFullSignal: options.policy.diskFullSignal } : {}),
                    blobFiles: options.blobShortcut === false || options.s3 ? undefined : dataDir,
                    ...(metricsPorts ? { metrics: { port: metricsPorts.caddy, bindAddress: "127.0.0.1" } } : {}),
                    ...(accessLogFile ? { accessLog: { kind: "file", path: accessLogFile } } : {}),
                    ...(sweepHoldDir ? { sweepHold: sweepHoldDir } : {}),
                    ...(options.mirrorsToSelf?.length
                        ? {
                              mirrors: options.mirrorsToSelf.map((pathName) => ({ pathName, upstream: `127.0.0.1:${registryPort}` })),
                              mirrorsRequireAuth: options.policy?.mirrorsRequireAuth ?? false,
                          }
                        : {}),
                });
            };
            caddyfile = writeFront(new Set());
            const caddyfilePath = path.join(dir, "Caddyfile");
            writeFileSync(caddyfilePath, caddyfile);
            if (!options.caddyBinary) throw new Error("startRealRegistry: caddyBinary is required with Caddy in front");
            caddy = startServer(options.caddyBinary, ["run", "--adapter", "caddyfile", "--config", caddyfilePath], caddyEnv(dir));
            servers.push(caddy);
            await waitForPort(caddyPort, 30_000, "caddy").catch((e: Error) => {
                throw new Error(`${e.message}\n${caddy!.output()}`);
            });
        }
        const authority = `127.0.0.1:${caddyPort ?? registryPort}`;
        let stopped = false;
        return {
            authority,
            url: `https://${authority}`,
            registryPort,
            caddyPort,
            ca,
            certDir,
            push,
            pull,
            scoped,
            read,
            caddyfile,
            registryConfig,
            dataDir,
            dir,
            ...(metricsPorts ? { metricsPorts } : {}),
            ...(accessLogFile ? { accessLogFile } : {}),
            ...(sweepHoldDir && gateTarget ? { sweepHoldDir, gateTarget } : {}),
            logs: () => ({ registry: registry.output(), caddy: caddy?.output() ?? "" }),
            ...(caddy?.child.pid ? { caddyPid: caddy.child.pid } : {}),
            ...(registry.child.pid ? { registryPid: registry.child.pid } : {}),
            async stopDistribution() {
                await registry.stop();
                servers.splice(servers.indexOf(registry), 1);
                const holder = startServer(process.execPath, [
                    "-e",
                    'require("node:net").createServer((socket) => socket.destroy()).listen(Number(process.argv[1]), "127.0.0.1")',
                    String(registryPort),
                ]);
                servers.push(holder);
                await waitForPort(registryPort, 30_000, "the holder of Distribution's port").catch((e: Error) => {
                    throw new Error(`${e.message}\n${holder.output()}`);
                });
            },
            async revoke(usernames) {
                if (!writeFront || !caddy || !caddyPort) throw new Error("revoke: no Caddy in front");
                await caddy.stop();
                servers.splice(servers.indexOf(caddy), 1);
                writeFileSync(path.join(dir, "Caddyfile"), writeFront(new Set(usernames)));
                caddy = startServer(
                    options.caddyBinary!,
                    ["run", "--adapter", "caddyfile", "--config", path.join(dir, "Caddyfile")],
                    caddyEnv(dir),
                );
                servers.push(caddy);
                await waitForPort(caddyPort, 30_000, "caddy");
            },
            async stop() {
                if (stopped) return;
                stopped = true;
                await stopAll();
            },
        };
    } catch (error) {
        await stopAll();
        throw error;
    }
}

/**
 * The files a placement writes after rotating accounts with an overlap (usersFileOutput.ts): each users
 * file's previous-passwords file and the overlap file, for the previous passwords `given`. Returns the
 * overlap file's path.
 */
function writeOverlapFiles(
    dir: string,
    accounts: { readonly push: TestAccount; readonly pull: TestAccount },
    given: NonNullable<RealRegistryOptions["previousPasswords"]>,
): string {
    const until = Math.floor(Date.now() / 1000) + given.seconds;
    const kept = (role: "push" | "pull") => {
        const password = given[role];
        if (password === undefined) return { username: accounts[role].username };
        const prefix = distinguishingPrefix(password, accounts[role].password);
        if (prefix === undefined) throw new Error(`previousPasswords.${role}: the current password starts with it`);
        return { username: accounts[role].username, previous: { bcryptHash: bcrypt.hashSync(password, 10), prefix, until } };
    };
    const push = kept("push");
    const pull = kept("pull");
    writeFileSync(path.join(dir, "users-push-previous"), renderPreviousUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(path.join(dir, "users-pull-previous"), renderPreviousUsersFile("pull", [pull]), { mode: 0o600 });
    const matchersFile = path.join(dir, "overlap");
    writeFileSync(matchersFile, renderOverlapMatchers([push, pull]), { mode: 0o600 });
    return matchersFile;
}

/** Checks a Caddyfile with the real `caddy validate` of `binary`; returns its result (code 0 when valid). */
export function caddyValidate(caddyfile: string, binary: string): RunResult {
    const dir = privateDir("caddy-validate");
    try {
        const file = path.join(dir, "Caddyfile");
        writeFileSync(file, caddyfile);
        return run(binary, ["validate", "--adapter", "caddyfile", "--config", file], { env: caddyEnv(dir) });
    } finally {
        removeDir(dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Images and clients
// ---------------------------------------------------------------------------------------------

/** A small, valid OCI image in an OCI layout directory. */
export interface OciImage {
    /** skopeo source reference, "oci:<dir>:<tag>". */
    readonly ref: string;
    readonly dir: string;
}

/**
 * Writes an OCI image layout with one gzip'd tar layer holding `payloadBytes` random bytes in
 * /payload (random so that each image is new to the registry). Uses umoci, tar and gzip.
 */
export function makeOciImage(dir: string, payloadBytes = 4096, tag = "latest"): OciImage {
    mkdirSync(dir, { recursive: true });
    const layout = path.join(dir, "layout");
    const rootfs = path.join(dir, "bundle");
    runOk("umoci", ["init", "--layout", layout]);
    runOk("umoci", ["new", "--image", `${layout}:${tag}`]);
    runOk("umoci", ["unpack", "--rootless", "--image", `${layout}:${tag}`, rootfs]);
    writeFileSync(path.join(rootfs, "rootfs", "payload"), randomBytes(payloadBytes));
    runOk("umoci", ["repack", "--image", `${layout}:${tag}`, rootfs]);
    removeDir(rootfs);
    return { ref: `oci:${layout}:${tag}`, dir: layout };
}

/** Writes a containers auth file for one registry and account; returns its path. */
export function writeAuthFile(dir: string, authority: string, account: { username: string; password: string }): string {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `auth-${account.username}-${randomBytes(4).toString("hex")}.json`);
    const auth = Buffer.from(`${account.username}:${account.password}`).toString("base64");
    writeFileSync(file, JSON.stringify({ auths: { [authority]: { auth } } }), { mode: 0o600 });
    return file;
}

export interface SkopeoOptions {
    /** Directory holding ca.crt for the registry side. */
    readonly certDir: string;
    /** Account for the registry side; anonymous when unset. */
    readonly creds?: { username: string; password: string };
    /** Scratch directory for the auth file. */
    readonly scratch?: string;
}

/**
 * `skopeo copy src dest` where one side is the registry (docker://…). Credentials travel in an auth
 * file, never on the command line. Returns the result; never throws on a refusal.
 */
export function skopeoCopy(src: string, dest: string, options: SkopeoOptions): RunResult {
    const scratch = options.scratch ?? privateDir("skopeo");
    try {
        const registrySide = dest.startsWith("docker://") ? "dest" : "src";
        const authority = (registrySide === "dest" ? dest : src).slice("docker://".length).split("/")[0]!;
        const args = ["--insecure-policy", "copy", "--retry-times", "0", `--${registrySide}-cert-dir`, options.certDir];
        if (options.creds) args.push(`--${registrySide}-authfile`, writeAuthFile(scratch, authority, options.creds));
        else args.push(`--${registrySide}-no-creds`);
        return run("skopeo", [...args, src, dest], { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "none.json") } });
    } finally {
        if (!options.scratch) removeDir(scratch);
    }
}

/**
 * Pushes `src` (e.g. an `oci:` layout) to `dest` on a plain-HTTP registry, from inside a test
 * namespace (a stand-in upstream without TLS, the test its only pusher). Throws with skopeo's output.
 */
export function skopeoPushPlainHttp(ns: Pick<TestNetns, "run">, src: string, dest: string): void {
    const r = ns.run("skopeo", ["--insecure-policy", "copy", "--retry-times", "0", "--dest-tls-verify=false", src, dest]);
    if (r.code !== 0) throw new Error(`skopeo copy to ${dest} failed\n${r.stderr}`);
}

/** `skopeo delete docker://…` with an optional account. */
export function skopeoDelete(ref: string, options: SkopeoOptions): RunResult {
    const scratch = options.scratch ?? privateDir("skopeo");
    try {
        const authority = ref.slice("docker://".length).split("/")[0]!;
        const args = ["--insecure-policy", "delete", "--cert-dir", options.certDir];
        if (options.creds) args.push("--authfile", writeAuthFile(scratch, authority, options.creds));
        else args.push("--no-creds");
        return run("skopeo", [...args, ref], { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "none.json") } });
    } finally {
        if (!options.scratch) removeDir(scratch);
    }
}

/** Manifest types a client accepts; Distribution answers 404 for an OCI manifest nobody accepts. */
const MANIFEST_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/**
 * An HTTP status from curl against the registry (TLS verified with the test CA). The account, when
 * given, travels in a curl config on stdin.
 */
export function curlStatus(
    url: string,
    options: { caCertFile: string; method?: string; account?: { username: string; password: string }; http2?: boolean },
): number {
    const config = options.account ? `user = "${options.account.username}:${options.account.password}"\n` : "";
    const result = runOk(
        "curl",
        [
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            options.caCertFile,
            options.http2 ? "--http2" : "--http1.1",
            "--max-time",
            "60",
            "-H",
            `Accept: ${MANIFEST_TYPES.join(", ")}`,
            // curl waits for a body after "-X HEAD"; --head is the real HEAD request.
            ...(options.method === "HEAD" ? ["--head"] : ["-X", options.method ?? "GET"]),
            "-K",
            "-",
            url,
        ],
        { input: config },
    );
    return Number(result.stdout.trim());
}

/**
 * Writes `<dir>/<authority>/hosts.toml` trusting the registry's test CA; returns the hosts dir. With `account`,
 * every request carries its Basic credentials (the file's `header` table, mode 0600: never an argument).
 */
export function writeHostsDir(
    dir: string,
    registry: Pick<RealRegistry, "authority" | "ca">,
    capabilities = ["pull", "resolve"],
    account?: { username: string; password: string },
): string {
    const hostDir = path.join(dir, registry.authority);
    mkdirSync(hostDir, { recursive: true });
    const host = `host."https://${registry.authority}"`;
    writeFileSync(
        path.join(hostDir, "hosts.toml"),
        [
            `server = "https://${registry.authority}"`,
            "",
            `[${host}]`,
            `  capabilities = [${capabilities.map((c) => `"${c}"`).join(", ")}]`,
            `  ca = "${registry.ca.caCertFile}"`,
            ...(account ? [`  [${host}.header]`, `    Authorization = ["Basic ${basicCredentials(account)}"]`] : []),
            "",
        ].join("\n"),
        { mode: account ? 0o600 : 0o644 },
    );
    return dir;
}

/** A private containerd (root, state and socket in a scratch directory). */
export interface PrivateContainerd {
    readonly address: string;
    /** `ctr images pull --hosts-dir <hostsDir> <ref>`: containerd's own resolver, as the kubelet uses it. */
    pull(ref: string, hostsDir: string): RunResult;
    /** `ctr` with any arguments against this containerd. */
    ctr(args: readonly string[]): RunResult;
    log(): string;
    /** Stops containerd and removes its directories. Safe to call twice. */
    stop(): Promise<void>;
}

/** Starts containerd as root with everything private; the CRI plugin is disabled (not needed). */
export async function startContainerd(): Promise<PrivateContainerd> {
    const dir = privateDir("containerd");
    const address = path.join(dir, "containerd.sock");
    const config = path.join(dir, "config.toml");
    writeFileSync(
        config,
        [
            "version = 2",
            `root = "${path.join(dir, "root")}"`,
            `state = "${path.join(dir, "state")}"`,
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
            "[grpc]",
            `  address = "${address}"`,
            "[ttrpc]",
            `  address = "${address}.ttrpc"`,
            "[debug]",
            `  address = "${address}.debug"`,
            "[metrics]",
            '  address = ""',
            "",
        ].join("\n"),
    );
    const server = startServer("/usr/bin/containerd", ["--config", config]);
    // A loop of its own, not vitest's `vi.waitUntil`: the bench scripts use this module outside vitest.
    const deadline = Date.now() + 30_000;
    while (run("ctr", ["--address", address, "version"]).code !== 0) {
        if (Date.now() > deadline || server.child.exitCode !== null) {
            await server.stop();
            removeDir(dir);
            throw new Error(`containerd did not start\n${server.output()}`);
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    let stopped = false;
    const ctr = (args: readonly string[]) => run("ctr", ["--address", address, ...args]);
    return {
        address,
        ctr,
        pull: (ref, hostsDir) => ctr(["images", "pull", "--hosts-dir", hostsDir, ref]),
        log: () => server.output(),
        async stop() {
            if (stopped) return;
            stopped = true;
            await server.stop();
            run("umount", ["-R", path.join(dir, "root")]);
            removeDir(dir);
        },
    };
}
