/**
 * The external host's front with its login limit, for real: Distribution and Caddy from the rendered
 * files and fail2ban-server with the rendered filter and jail, all inside a network namespace with
 * its own nftables, and three client addresses on this machine (the namespace's peer address and the
 * peer addresses of two more namespaces, used only for their addresses) that reach the front through
 * the namespace's default route. fail2ban runs in the foreground with its socket, pid file and
 * database in the scratch directory; Debian's /etc/fail2ban is copied for its actions (nftables).
 * On request, a fourth namespace is joined straight to the front's (`neighbour`): a client that must
 * run inside a namespace to have an address of its own (a browser cannot choose its source address)
 * and that reaches the front and nothing else, without this machine forwarding between namespaces.
 */

import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import { hostname } from "node:os";
import * as path from "node:path";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { LOGIN_JAIL, type LoginLimit, renderFail2banFilter, renderFail2banJail } from "../../components/accessPolicy/loginLimit";
import { renderOverlapMatchers, renderPreviousUsersFile, renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "./caddyBinaries";
import { deployedRegistry } from "./distributionBinaries";
import { createNetns, type TestNetns } from "./netns";
import { caddyEnv, makeAccount, makeDecoyHash, makePreviousAccount, makeTestCa, type TestAccount, type TestCa } from "./realRegistry";
import { privateDir, type RunResult, removeDir, runOk, type ServerProcess } from "./serverProcess";

export const FRONT_NAME = "registry.test";
const PORT = 443;

export interface LoginLimitFront {
    readonly ns: TestNetns;
    readonly ca: TestCa;
    readonly push: TestAccount;
    /**
     * With `pushOverlapSeconds`: the push account's previous password (same user name), which the front
     * accepts until `overlapUntil` (Unix seconds) by its own clock, as after a rotation with an overlap.
     */
    readonly previousPush?: TestAccount;
    readonly overlapUntil?: number;
    /** Source addresses on this machine: an attacker, CI, and anonymous pullers. */
    readonly addresses: { readonly attacker: string; readonly ci: string; readonly puller: string };
    readonly accessLogFile: string;
    /** The client namespace joined straight to the front's (with `neighbour: true`). */
    readonly neighbour?: NeighbourClient;
    /** fail2ban-client's view of the jail (banned addresses). */
    jailStatus(): string;
    /** fail2ban-client with the front's configuration and socket. */
    fail2banClient(...args: string[]): RunResult;
    logs(): string;
    stop(): Promise<void>;
}

/**
 * A network namespace whose only link leads to the front's namespace: what runs inside (`ns.run`,
 * `ns.wrap`, `ns.startServer`) comes from `address` and reaches the front at `frontAddress`, and
 * nothing else (no route beyond the link). Its /etc/hosts names the front.
 */
export interface NeighbourClient {
    readonly ns: TestNetns;
    /** The client's address: what the access log and the jail see. */
    readonly address: string;
    /** The front's address on the link between them (`FRONT_NAME` in the namespace's hosts file). */
    readonly frontAddress: string;
}

export interface Answer {
    readonly status: number;
    readonly ms: number;
    /** The connection failed (refused, reset, timed out): what a banned address sees. */
    readonly error?: string;
    readonly location?: string;
}

/** One request from `localAddress` to the front; a new agent per caller keeps its connection alive. */
export function frontRequest(
    front: Pick<LoginLimitFront, "ns" | "ca">,
    localAddress: string,
    urlPath: string,
    options: { agent?: https.Agent; authorization?: string; method?: string; body?: Buffer; timeoutMs?: number } = {},
): Promise<Answer> {
    return new Promise((resolve) => {
        const start = process.hrtime.bigint();
        const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
        const req = https.request(
            {
                host: front.ns.address,
                port: PORT,
                servername: FRONT_NAME,
                localAddress,
                path: urlPath,
                method: options.method ?? "GET",
                agent: options.agent ?? false,
                ca: front.ca.caCertPem,
                headers: { Host: FRONT_NAME, ...(options.authorization ? { Authorization: options.authorization } : {}) },
                timeout: options.timeoutMs ?? 5000,
            },
            (res) => {
                res.on("data", () => {});
                res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: ms(), location: res.headers.location }));
            },
        );
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", (e) => resolve({ status: 0, ms: ms(), error: e.message }));
        req.end(options.body);
    });
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** Uploads one blob with the push account (or `account`: POST, then one PUT); returns its path for anonymous GETs. */
export async function pushBlob(
    front: LoginLimitFront,
    from: string,
    bytes = 64 * 1024,
    account: TestAccount = front.push,
): Promise<string> {
    const body = randomBytes(bytes);
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const auth = basic(account.username, account.password);
    const started = await frontRequest(front, from, "/v2/team/app/blobs/uploads/", { method: "POST", authorization: auth });
    if (started.status !== 202 || !started.location) throw new Error(`upload start answered ${started.status} ${started.error ?? ""}`);
    const location = new URL(started.location, `https://${FRONT_NAME}`);
    location.searchParams.set("digest", digest);
    const put = await frontRequest(front, from, `${location.pathname}${location.search}`, { method: "PUT", authorization: auth, body });
    if (put.status !== 201) throw new Error(`blob upload answered ${put.status} ${put.error ?? ""}\n${front.logs()}`);
    return `/v2/team/app/blobs/${digest}`;
}

/** What a test that installs the jail itself (the host's script) is given, before Caddy starts. */
export interface JailInstall {
    /** fail2ban's configuration directory (Debian's, without its jails; the server already runs on it). */
    readonly conf: string;
    /** The access log Caddy will write; it does not exist yet. */
    readonly accessLogFile: string;
    readonly port: number;
    /** Runs a shell script inside the namespace. */
    run(script: string): RunResult;
}

export interface LoginLimitFrontOptions {
    /** Put the CI address in the jail's ignore list (the built-in jail only). */
    readonly ignoreCi?: boolean;
    /**
     * Installs the filter and jail instead of the support code, with fail2ban-server already running and
     * before Caddy starts (so before the access log exists); the front then waits for the jail.
     */
    readonly installJail?: (install: JailInstall) => void;
    /** Adds the client namespace joined straight to the front's (`LoginLimitFront.neighbour`). */
    readonly neighbour?: boolean;
    /**
     * The push account was just rotated with an overlap of this many seconds: the previous-passwords
     * files and the overlap file are written as a placement writes them, and the policy imports them.
     */
    readonly pushOverlapSeconds?: number;
}

/** Starts the front with `limit` (used by the built-in jail; an `installJail` brings its own). */
export async function startLoginLimitFront(
    limit: LoginLimit,
    subnet: string,
    options: LoginLimitFrontOptions = {},
): Promise<LoginLimitFront> {
    const ignoreCi = options.ignoreCi ?? false;
    const dir = privateDir("login-limit");
    const servers: ServerProcess[] = [];
    const namespaces: TestNetns[] = [];
    const stop = async () => {
        for (const s of servers.reverse()) await s.stop();
        for (const n of namespaces) await n.destroy();
        removeDir(dir);
    };
    try {
        const ns = await createNetns({ prefix: "fb", subnet });
        namespaces.push(ns);
        const second = await createNetns({ prefix: "fb", subnet });
        namespaces.push(second);
        const third = await createNetns({ prefix: "fb", subnet });
        namespaces.push(third);
        const addresses = { puller: ns.hostAddress, attacker: second.hostAddress, ci: third.hostAddress };
        // Answers to the other addresses go back through this machine.
        ns.run("ip", ["route", "add", "default", "via", ns.hostAddress]);
        // fail2ban looks up this machine's own addresses (ignoreself) by its name: answered from the
        // namespace's hosts file, and a lookup past it is refused at once (no name server inside)
        // instead of waiting for this machine's name server, which the namespace cannot reach.
        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${hostname()}\n`);
        ns.writeEtcFile("resolv.conf", "nameserver 127.0.0.1\n");
        const neighbour = options.neighbour ? await joinNeighbour(ns, subnet, namespaces) : undefined;

        const ca = makeTestCa(path.join(dir, "tls"), [FRONT_NAME]);
        const push = makeAccount("ci-push");
        const pull = makeAccount("cluster-pull");
        const dataDir = path.join(dir, "data");
        const registryConfigFile = path.join(dir, "config.yml");
        writeFileSync(
            registryConfigFile,
            renderRegistryConfig({
                addr: "127.0.0.1:5000",
                storage: { kind: "filesystem", rootDirectory: dataDir },
                deletesEnabled: false,
                logLevel: "warn",
            }),
        );
        servers.push(
            ns.startServer(deployedRegistry().path, ["serve", registryConfigFile], { ...process.env, ...DISTRIBUTION.environment }),
        );

        const pushUsersFile = path.join(dir, "users-push");
        const pullUsersFile = path.join(dir, "users-pull");
        writeFileSync(pushUsersFile, renderUsersFile("push", [push]), { mode: 0o600 });
        writeFileSync(pullUsersFile, renderUsersFile("pull", [pull]), { mode: 0o600 });
        const overlap =
            options.pushOverlapSeconds !== undefined ? writeOverlapFiles(dir, push, pull, options.pushOverlapSeconds) : undefined;
        const accessLogFile = path.join(dir, "access.log");
        const caddyfile = renderCaddyfile({
            siteAddress: FRONT_NAME,
            port: PORT,
            admin: "off",
            tls: { kind: "files", certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
            upstream: "127.0.0.1:5000",
            requiresAuthForPull: false,
            pushUsersFile,
            pullUsersFile,
            allowedNetworks: [],
            deletesEnabled: false,
            blobFiles: dataDir,
            accessLog: { kind: "file", path: accessLogFile },
            decoy: { accounts: { push: [push.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
            ...(overlap ? { overlap: { matchersFile: overlap.matchersFile } } : {}),
        });
        const caddyfilePath = path.join(dir, "Caddyfile");
        writeFileSync(caddyfilePath, caddyfile);

        // fail2ban's configuration: Debian's, without its jails, plus the rendered filter and jail.
        const conf = path.join(dir, "fail2ban");
        cpSync("/etc/fail2ban", conf, { recursive: true });
        for (const f of readdirSync(path.join(conf, "jail.d"))) rmSync(path.join(conf, "jail.d", f), { force: true });
        rmSync(path.join(conf, "jail.local"), { force: true });
        if (!options.installJail) {
            writeFileSync(path.join(conf, "filter.d", `${LOGIN_JAIL}.conf`), renderFail2banFilter());
            writeFileSync(
                path.join(conf, "jail.d", `${LOGIN_JAIL}.conf`),
                renderFail2banJail({
                    limit,
                    logPath: accessLogFile,
                    ports: [PORT],
                    ignoreNetworks: ignoreCi ? [`${addresses.ci}/32`] : [],
                }),
            );
            // fail2ban refuses a jail whose log does not exist yet; Caddy creates it at the first request.
            if (!existsSync(accessLogFile)) writeFileSync(accessLogFile, "");
        }
        const run = path.join(dir, "f2b-run");
        mkdirSync(run);
        writeFileSync(
            path.join(conf, "fail2ban.local"),
            [
                "[Definition]",
                "logtarget = STDERR",
                `socket = ${run}/fail2ban.sock`,
                `pidfile = ${run}/fail2ban.pid`,
                `dbfile = ${run}/fail2ban.sqlite3`,
                "",
            ].join("\n"),
        );
        const f2b = ns.startServer("/usr/bin/fail2ban-server", [
            "-f",
            "-x",
            "-c",
            conf,
            "-s",
            `${run}/fail2ban.sock`,
            "-p",
            `${run}/fail2ban.pid`,
        ]);
        servers.push(f2b);
        const client = (...args: string[]) => ns.run("/usr/bin/fail2ban-client", ["-c", conf, "-s", `${run}/fail2ban.sock`, ...args]);
        const waitFor = async (what: string, ...args: string[]) => {
            for (let i = 0; ; i++) {
                if (client(...args).code === 0) return;
                if (i > 100 || f2b.child.exitCode !== null) throw new Error(`fail2ban: ${what}\n${f2b.output()}`);
                await new Promise((r) => setTimeout(r, 200));
            }
        };
        if (options.installJail) {
            await waitFor("the server did not answer", "ping");
            options.installJail({
                conf,
                accessLogFile,
                port: PORT,
                run: (script) => ns.run("/bin/sh", ["-c", script]),
            });
        }
        await waitFor(`the jail ${LOGIN_JAIL} did not start`, "status", LOGIN_JAIL);

        const caddy = ns.startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfilePath], caddyEnv(dir));
        servers.push(caddy);
        await ns.waitForPort(PORT).catch((e: Error) => {
            throw new Error(`${e.message}\n${caddy.output()}`);
        });
        let stopped = false;
        return {
            ns,
            ca,
            push,
            ...(overlap ? { previousPush: overlap.previous, overlapUntil: overlap.until } : {}),
            addresses,
            accessLogFile,
            neighbour,
            jailStatus: () => {
                const r = client("status", LOGIN_JAIL);
                return r.stdout + r.stderr;
            },
            fail2banClient: client,
            logs: () => `caddy:\n${caddy.output()}\nfail2ban:\n${f2b.output()}`,
            async stop() {
                if (stopped) return;
                stopped = true;
                await stop();
            },
        };
    } catch (error) {
        await stop();
        throw error;
    }
}

/**
 * A new namespace whose link's other end moves from this machine into the front's namespace, keeping
 * its address: the two namespaces then talk over that link alone. Deleting either namespace deletes
 * the link. The new namespace is pushed onto `namespaces` (destroyed with the front's).
 */
async function joinNeighbour(front: TestNetns, subnet: string, namespaces: TestNetns[]): Promise<NeighbourClient> {
    const ns = await createNetns({ prefix: "fb", subnet });
    namespaces.push(ns);
    const link = runOk("ip", ["-o", "-4", "addr", "show", "to", `${ns.hostAddress}/32`])
        .stdout.split(/\s+/)[1]
        ?.replace(/@.*$/, "");
    if (!link) throw new Error(`no link on this machine holds ${ns.hostAddress}, the end of namespace ${ns.name}'s link`);
    runOk("ip", ["link", "set", link, "netns", front.name]);
    // Moving a link into another namespace removes its addresses and takes it down.
    for (const args of [
        ["addr", "add", `${ns.hostAddress}/30`, "dev", link],
        ["link", "set", link, "up"],
    ]) {
        const r = front.run("ip", args);
        if (r.code !== 0) throw new Error(`ip ${args.join(" ")} in ${front.name}: ${r.stderr}`);
    }
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.hostAddress} ${FRONT_NAME}\n`);
    // No name server inside: a lookup past the hosts file fails at once.
    ns.writeEtcFile("resolv.conf", "nameserver 127.0.0.1\n");
    return { ns, address: ns.address, frontAddress: ns.hostAddress };
}

/**
 * Waits until fail2ban has read the log (it polls the file) and acted: `check` true within `timeoutMs`.
 * A loop of its own, not vitest's `vi.waitUntil`: bench/login-limit.ts uses it outside vitest.
 */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
        if (await check()) return true;
        await new Promise((r) => setTimeout(r, 250));
    }
    return false;
}

/**
 * The files a placement writes after rotating the push account with an overlap of `seconds`: a
 * previous password for the push account (another than the current one from its first character on),
 * each users file's previous-passwords file and the overlap file (usersFileOutput.ts does the same).
 */
function writeOverlapFiles(dir: string, push: TestAccount, pull: TestAccount, seconds: number) {
    const { account: previous, previous: kept } = makePreviousAccount(push, seconds);
    const matchersFile = path.join(dir, "overlap");
    writeFileSync(path.join(dir, "users-push-previous"), renderPreviousUsersFile("push", [{ username: push.username, previous: kept }]), {
        mode: 0o600,
    });
    writeFileSync(path.join(dir, "users-pull-previous"), renderPreviousUsersFile("pull", [{ username: pull.username }]), { mode: 0o600 });
    writeFileSync(matchersFile, renderOverlapMatchers([{ username: push.username, previous: kept }, { username: pull.username }]), {
        mode: 0o600,
    });
    return { previous, until: kept.until, matchersFile };
}
