/**
 * Network namespaces for tests: a namespace joined to this machine by a veth pair inside a /30 of the
 * caller's test subnet (host side .1, namespace side .2, `lo` up in the namespace), per-namespace
 * files under /etc/netns/<namespace>/ that `ip netns exec` bind-mounts over /etc for every process it
 * starts (a `hosts` file, a `docker/certs.d/<authority>/ca.crt` tree, …), and servers started inside.
 *
 * Clients of dockerd, podman and containerd treat every registry on 127.0.0.0/8 as insecure, so a
 * registry under test that must prove TLS and trust listens on the namespace's address instead.
 *
 * Names carry the caller's prefix, this process's pid and a counter (links stay within Linux's
 * 15 characters); the /30 is claimed under /run/lock so that parallel test files (and parallel runs)
 * never share one. `destroy()` deletes the namespace (and with it the veth pair and anything created
 * inside it), the /etc/netns files and the claim; an exit hook does the same if a test never gets to.
 *
 * Usage:
 *   const ns = await createNetns({ prefix: "dk", subnet: "198.18.16.0/20" });
 *   ns.writeEtcFile("hosts", `${ns.address} registry.test\n`);
 *   const caddy = ns.startServer("/usr/bin/caddy", ["run", "--config", file]);
 *   await ns.waitForPort(443);                       // on ns.address, from this machine
 *   ns.run("curl", ["https://registry.test/v2/"]);   // a client inside, seeing the namespace's /etc
 *   await ns.destroy();                              // always, e.g. in afterAll
 */
import { existsSync, linkSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { type RunResult, run, runOk, type ServerProcess, startServer, waitForPort } from "./serverProcess";

export interface NetnsOptions {
    /** Short name prefix of the caller (letters only, at most 4), e.g. "dk". */
    readonly prefix: string;
    /** The caller's test subnet inside 198.18.0.0/15, e.g. "198.18.16.0/20"; a free /30 of it is used. */
    readonly subnet: string;
}

export interface TestNetns {
    /** Namespace name (`ip netns exec <name>`). */
    readonly name: string;
    /** This machine's end of the veth pair (.1 of the /30). */
    readonly hostAddress: string;
    /** The namespace's end (.2 of the /30): where servers inside listen for clients outside. */
    readonly address: string;
    /** /etc/netns/<name>: files here replace /etc/<same path> for processes started inside. */
    readonly etcDir: string;
    /**
     * Writes /etc/netns/<name>/<relativePath> (directories made as needed). Only the first path
     * element is bind-mounted: "docker/certs.d/x/ca.crt" replaces the whole of /etc/docker inside.
     */
    writeEtcFile(relativePath: string, content: string, mode?: number): string;
    /** `command args` wrapped to run inside the namespace (for spawn-style APIs). */
    wrap(command: string, args: readonly string[]): [string, string[]];
    /** Runs a command inside to completion; never throws on a non-zero exit. */
    run(command: string, args: readonly string[], options?: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string }): RunResult;
    /** Starts a server inside (see serverProcess.startServer). */
    startServer(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ServerProcess;
    /** Resolves once `address:port` accepts connections from this machine. */
    waitForPort(port: number, timeoutMs?: number, what?: string): Promise<void>;
    /** Deletes the namespace, its links, its /etc/netns files and the /30 claim. Safe to call twice. */
    destroy(): Promise<void>;
}

const CLAIMS = "/run/lock/dso-test-netns";
let counter = 0;
const live = new Set<() => void>();
process.once("exit", () => {
    for (const cleanup of live) cleanup();
});

function ipv4ToNumber(address: string): number {
    return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function numberToIpv4(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * True when no link on this machine holds `hostAddress`. A run that was killed (SIGKILL skips the exit
 * hook) leaves its namespace and host link behind while its claim is taken over; such a leftover, named
 * by this module with the pid of a process that is gone and with nothing running inside, is deleted
 * here. Anything else holding the address makes the caller skip the block.
 */
function freeOfLeftovers(hostAddress: string): boolean {
    const holder = run("ip", ["-o", "-4", "addr", "show"])
        .stdout.split("\n")
        .map((line) => line.split(/\s+/))
        .find((fields) => fields[3]?.startsWith(`${hostAddress}/`))?.[1]
        ?.replace(/@.*$/, "");
    if (holder === undefined) return true;
    const name = /^([a-z]{1,4}\d+)h(\d+)$/.exec(holder);
    const pid = Number(/\d+/.exec(holder)?.[0]);
    if (!name || pidAlive(pid)) return false;
    const namespace = `${name[1]}n${name[2]}`;
    if (run("ip", ["netns", "pids", namespace]).stdout.trim() !== "") return false;
    run("ip", ["netns", "delete", namespace]);
    if (run("ip", ["link", "show", holder]).code === 0) run("ip", ["link", "delete", holder]);
    rmSync(`/etc/netns/${namespace}`, { recursive: true, force: true });
    return run("ip", ["link", "show", holder]).code !== 0;
}

/**
 * Claims the first free /30 of `subnet` with a file named after it that holds this pid (made
 * atomically); a claim whose owner process is gone is taken over. Returns the block's first address and a release.
 */
function claimBlock(subnet: string): { base: number; release: () => void } {
    const match = /^(198\.(18|19)\.\d{1,3}\.\d{1,3})\/(\d{1,2})$/.exec(subnet);
    const bits = Number(match?.[3]);
    if (!match || bits < 15 || bits > 30) throw new Error(`createNetns: subnet "${subnet}" must be a network inside 198.18.0.0/15`);
    const size = 2 ** (32 - bits);
    const start = ipv4ToNumber(match[1]!) - (ipv4ToNumber(match[1]!) % size);
    mkdirSync(CLAIMS, { recursive: true });
    const mine = path.join(CLAIMS, `.${process.pid}-${counter}`);
    writeFileSync(mine, String(process.pid));
    try {
        for (let base = start; base < start + size; base += 4) {
            const claim = path.join(CLAIMS, numberToIpv4(base));
            // A hard link appears with its content in one step, so a claim is never seen empty.
            try {
                linkSync(mine, claim);
            } catch {
                const owner = Number(readFileSync(claim, "utf8"));
                if (pidAlive(owner)) continue;
                // Left by a process that died before releasing it.
                rmSync(claim, { force: true });
                try {
                    linkSync(mine, claim);
                } catch {
                    continue;
                }
            }
            if (!freeOfLeftovers(numberToIpv4(base + 1))) {
                rmSync(claim, { force: true });
                continue;
            }
            return { base, release: () => rmSync(claim, { force: true }) };
        }
    } finally {
        rmSync(mine, { force: true });
    }
    throw new Error(`createNetns: every /30 of ${subnet} is in use (claims under ${CLAIMS})`);
}

/** Creates the namespace and its veth pair; needs root. */
export async function createNetns(options: NetnsOptions): Promise<TestNetns> {
    if (!/^[a-z]{1,4}$/.test(options.prefix)) throw new Error(`createNetns: prefix "${options.prefix}" must be 1-4 lowercase letters`);
    counter += 1;
    const id = `${options.prefix}${process.pid}`;
    const name = `${id}n${counter}`;
    const hostLink = `${id}h${counter}`;
    const nsLink = `${id}p${counter}`;
    if (hostLink.length > 15) throw new Error(`createNetns: link name ${hostLink} is longer than Linux's 15 characters`);
    const block = claimBlock(options.subnet);
    const hostAddress = numberToIpv4(block.base + 1);
    const address = numberToIpv4(block.base + 2);
    const etcDir = `/etc/netns/${name}`;

    let destroyed = false;
    const cleanup = () => {
        if (destroyed) return;
        destroyed = true;
        live.delete(cleanup);
        // Deleting the namespace destroys the veth pair (both ends) and every device made inside.
        run("ip", ["netns", "delete", name]);
        if (run("ip", ["link", "show", hostLink]).code === 0) run("ip", ["link", "delete", hostLink]);
        rmSync(etcDir, { recursive: true, force: true });
        try {
            rmdirSync("/etc/netns");
        } catch {
            // Another namespace still has files there.
        }
        block.release();
    };
    live.add(cleanup);
    try {
        runOk("ip", ["netns", "add", name]);
        runOk("ip", ["link", "add", hostLink, "type", "veth", "peer", "name", nsLink]);
        runOk("ip", ["link", "set", nsLink, "netns", name]);
        runOk("ip", ["addr", "add", `${hostAddress}/30`, "dev", hostLink]);
        runOk("ip", ["link", "set", hostLink, "up"]);
        const inside = (args: string[]) => runOk("ip", ["netns", "exec", name, "ip", ...args]);
        inside(["addr", "add", `${address}/30`, "dev", nsLink]);
        inside(["link", "set", nsLink, "up"]);
        inside(["link", "set", "lo", "up"]);
        mkdirSync(etcDir, { recursive: true });
    } catch (error) {
        cleanup();
        throw error;
    }

    const wrap = (command: string, args: readonly string[]): [string, string[]] => ["ip", ["netns", "exec", name, command, ...args]];
    return {
        name,
        hostAddress,
        address,
        etcDir,
        writeEtcFile(relativePath, content, mode = 0o644) {
            const file = path.join(etcDir, relativePath);
            if (!file.startsWith(`${etcDir}/`)) throw new Error(`writeEtcFile: ${relativePath} leaves ${etcDir}`);
            const top = relativePath.split("/")[0]!;
            if (!existsSync(path.join("/etc", top))) {
                // ip netns exec can only bind over something that exists.
                throw new Error(`writeEtcFile: /etc/${top} does not exist on this machine, so ip netns exec cannot replace it`);
            }
            mkdirSync(path.dirname(file), { recursive: true });
            writeFileSync(file, content, { mode });
            return file;
        },
        wrap,
        run: (command, args, opts = {}) => run(...wrap(command, args), opts),
        startServer: (command, args, env) => startServer(...wrap(command, args), env),
        waitForPort: (port, timeoutMs = 30_000, what = `port ${port} in ${name}`) => waitForPort(port, timeoutMs, what, address),
        async destroy() {
            cleanup();
        },
    };
}
