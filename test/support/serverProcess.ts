/**
 * Small process and network helpers shared by the test harnesses: free loopback ports, waiting for a
 * port, starting a server and stopping it for sure (also when a test fails or the process exits).
 */
import { type ChildProcess, execFile, type SpawnSyncOptions, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

/**
 * The ports freePort has handed out in this process. The kernel may give a port just closed to the next
 * bind to port 0, so a caller that asks for two ports in a row (a server's listener and its debug listener)
 * could be handed the same one twice, and its second listener then fails with "address already in use".
 */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, and that this process has not been handed before. */
export async function freePort(): Promise<number> {
    for (;;) {
        const port = await anyFreePort();
        if (!handedOut.has(port)) {
            handedOut.add(port);
            return port;
        }
    }
}

/** Whatever port the kernel gives a bind to port 0 on 127.0.0.1, released again. */
function anyFreePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            const port = typeof address === "object" && address ? address.port : 0;
            server.close(() => resolve(port));
        });
    });
}

/**
 * Resolves once `check` returns true, trying it every `interval` ms; rejects after `timeout` ms, and at once
 * when `check` throws (as a process that exited does). vitest's `vi.waitUntil`, for the support modules that
 * the bench scripts also load outside vitest (test/support/kubeControlPlane.ts, testHost.ts, localNode.ts,
 * traefik.ts).
 */
export async function waitUntil(
    check: () => boolean | Promise<boolean>,
    { timeout, interval }: { readonly timeout: number; readonly interval: number },
): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`not within ${timeout} ms`);
        await new Promise((r) => setTimeout(r, interval));
    }
}

/**
 * Resolves once host:port (127.0.0.1 unless given) accepts connections; rejects after `timeoutMs`.
 * A loop of its own, not vitest's `vi.waitUntil`: the bench scripts use it outside vitest.
 */
export async function waitForPort(port: number, timeoutMs = 30_000, what = `port ${port}`, host = "127.0.0.1"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const open = await new Promise<boolean>((resolve) => {
            const socket = createConnection({ host, port });
            socket.once("connect", () => {
                socket.destroy();
                resolve(true);
            });
            socket.once("error", () => resolve(false));
        });
        if (open) return;
        if (Date.now() > deadline) throw new Error(`${what} did not open on ${host}:${port} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** A private temporary directory (mode 0700), removed by `removeDir`. */
export function privateDir(prefix: string): string {
    return mkdtempSync(path.join(tmpdir(), `dso-${prefix}-`));
}

export function removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
});

/** A server process started by a test; its output is kept for error messages. */
export interface ServerProcess {
    readonly child: ChildProcess;
    /** stdout and stderr so far. */
    output(): string;
    /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. Safe to call twice. */
    stop(): Promise<void>;
}

export function startServer(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ServerProcess {
    // Output goes to a file, not a pipe: while a test blocks in spawnSync nobody drains a pipe, and a
    // server whose pipe is full stops answering.
    const logDir = privateDir("log");
    const logFile = path.join(logDir, "output.log");
    const fd = openSync(logFile, "a");
    const child = spawn(command, [...args], { env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    running.add(child);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.once("exit", () => running.delete(child));
    const output = () => {
        try {
            const text = readFileSync(logFile, "utf8");
            return text.length > 100_000 ? text.slice(-100_000) : text;
        } catch {
            return "";
        }
    };
    return {
        child,
        output,
        async stop() {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
                const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
                await exited;
                clearTimeout(timer);
            }
            removeDir(logDir);
        },
    };
}

/** Result of a finished command. */
export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a command to completion (no shell); `input` goes to stdin. Never throws on a non-zero exit. */
export function run(command: string, args: readonly string[], options: SpawnSyncOptions & { input?: string } = {}): RunResult {
    const result = spawnSync(command, [...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024, ...options });
    if (result.error) throw result.error;
    return { code: result.status ?? -1, stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? "") };
}

/**
 * Like `run`, without blocking the event loop (so several run at once, and servers of the same process
 * answer them); `input` goes to stdin. Never rejects on a non-zero exit.
 */
export function runAsync(
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
    return new Promise((resolve) => {
        const child = execFile(
            command,
            [...args],
            { env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
            (error, stdout, stderr) => {
                const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
                resolve({ code, stdout: String(stdout), stderr: String(stderr) });
            },
        );
        child.stdin?.end(options.input ?? "");
    });
}

/** Like `run`, but throws with the command's output when it fails. */
export function runOk(command: string, args: readonly string[], options: SpawnSyncOptions & { input?: string } = {}): RunResult {
    const result = run(command, args, options);
    if (result.code !== 0) {
        throw new Error(`${command} ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    }
    return result;
}
