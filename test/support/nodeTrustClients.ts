/**
 * Helpers for tests that run the real image clients against the files node trust places, all on
 * loopback:
 *
 * - `startConnectRecorder`: an HTTP proxy on 127.0.0.1 that answers every request with 502 and records
 *   its first line. Clients given it as HTTPS_PROXY (Go's net/http: containerd, skopeo, podman) still
 *   reach loopback registries directly, and reveal each upstream they fall back to (`CONNECT
 *   registry-1.docker.io:443`) without a byte leaving the machine.
 * - `runAsync`: a client run without blocking the event loop, which the recorder answers on.
 * - `inContainersRoot`: a command line that runs a containers/image client (skopeo, podman) in a mount
 *   namespace of its own where a test root's `etc/containers` is /etc/containers (certs.d,
 *   registries.conf and its drop-ins, policy.json), with `etcHosts` its `etc/hosts` /etc/hosts, and
 *   /var/lib/containers is an empty tmpfs, so the client reads exactly the files under test and writes
 *   nothing of the machine's.
 */
import * as net from "node:net";
import { type RunResult, runAsync as runProcess } from "./serverProcess";

export interface ConnectRecorder {
    /** "http://127.0.0.1:<port>", for HTTPS_PROXY. */
    readonly url: string;
    /** The first line of every request, in order ("CONNECT registry-1.docker.io:443 HTTP/1.1"). */
    readonly requests: string[];
    stop(): Promise<void>;
}

/** Starts the recording proxy on a free loopback port. */
export async function startConnectRecorder(): Promise<ConnectRecorder> {
    const requests: string[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
        socket.once("data", (data) => {
            requests.push(data.toString("latin1").split("\r\n")[0]!);
            socket.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        stop: () =>
            new Promise<void>((resolve) => {
                for (const socket of sockets) socket.destroy();
                server.close(() => resolve());
            }),
    };
}

/** Runs a command to completion without blocking the event loop; never rejects on a non-zero exit. */
export function runAsync(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
    return runProcess(command, args, { env, timeoutMs: 60_000 });
}

/**
 * `command args` as a command line that runs with `<root>/etc/containers` as /etc/containers (with
 * `etcHosts`, `<root>/etc/hosts` as /etc/hosts: the names the node resolves) and an empty
 * /var/lib/containers, in a private mount namespace (needs root).
 */
export function inContainersRoot(
    root: string,
    command: string,
    args: readonly string[],
    options: { readonly etcHosts?: boolean } = {},
): [string, string[]] {
    const setup =
        'mount --bind "$1/etc/containers" /etc/containers && ' +
        (options.etcHosts ? 'mount --bind "$1/etc/hosts" /etc/hosts && ' : "") +
        "if [ -d /var/lib/containers ]; then mount -t tmpfs tmpfs /var/lib/containers; fi && " +
        'shift && exec "$@"';
    return ["unshare", ["--mount", "--propagation", "private", "sh", "-c", setup, "sh", root, command, ...args]];
}
