/**
 * Connections that take a place on the front and never finish a request, over TLS, as a flood opens them,
 * and a well-behaved client's request meanwhile. Each stalled connection reports when the front closed it.
 *
 * The kinds:
 * - `h2-headers`: ALPN `h2`, the client preface, an empty SETTINGS, then a HEADERS frame for stream 1 without
 *   END_HEADERS, and silence. Go's HTTP/2 server waits for the CONTINUATION that would end the block: no
 *   stream is open yet, so no request's deadline runs, only the connection's idle timeout.
 * - `h2-frame`: the same with a HEADERS frame as long as Go's server reads (1 MiB), one octet short of it:
 *   the server holds a buffer of the frame's length.
 * - `h1-head`: ALPN `http/1.1`, a request line and a Host header, never the blank line that ends the head.
 * - `h1-idle`: ALPN `http/1.1`, one whole request (`GET /v2/`), its answer read, then silence on the kept-alive
 *   connection.
 *
 * HTTP/2's kinds offer HTTP/1.1 too, as clients do: where the front does not speak HTTP/2, ALPN gives
 * HTTP/1.1 and the same octets go anyway (`protocol` says which).
 *
 * Usage:
 *   const target = { host: "127.0.0.1", port, ca: readFileSync(caFile) };
 *   const flood = startFlood(target, "h2-headers", 200);
 *   await flood.settled(5000);                             // every attempt stalled or failed, or 5 s passed
 *   const r = await wellBehavedRequest(target, "/v2/");     // its time while they stall
 *   const lifetimes = await Promise.all(flood.connections.map((c) => c.closed));
 *   flood.stop();                                          // always: closes them, and the attempts still waiting
 */
import * as tls from "node:tls";

export type StalledKind = "h2-headers" | "h2-frame" | "h1-head" | "h1-idle";

/** Where the front listens, and the CA its certificate is issued by. */
export interface TlsTarget {
    readonly host: string;
    readonly port: number;
    readonly ca: Buffer | string;
    /** The name the client asks for (SNI) and writes in Host / :authority; `host` unless set. */
    readonly servername?: string;
    /** The address this machine's end of each connection has (a client address of the test's); the route's unless set. */
    readonly localAddress?: string;
}

export interface StalledConnection {
    readonly kind: StalledKind;
    /** The protocol ALPN chose: `h2`, or `http/1.1` where the front does not offer HTTP/2 (the same octets went). */
    readonly protocol: string;
    /** When the stall began (`performance.now()`, ms): the handshake done and the partial request sent. */
    readonly stalledAt: number;
    /** Resolves when the connection is closed, by the front or by `destroy`: ms since `stalledAt`. */
    readonly closed: Promise<number>;
    /** Whether the front closed it (false until then, and when `destroy` came first). */
    closedByFront(): boolean;
    /** Closes it from this side. Safe to call twice. */
    destroy(): void;
}

/** One HTTP/2 frame (RFC 9113 §4.1): its 9-octet header, then the payload. */
function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head.writeUInt8(type, 3);
    head.writeUInt8(flags, 4);
    head.writeUInt32BE(streamId, 5);
    return Buffer.concat([head, payload]);
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const H2_SETTINGS = 0x4;
const H2_HEADERS = 0x1;
const H2_END_STREAM = 0x1;
/** The largest frame Go's HTTP/2 server reads (its default SETTINGS_MAX_FRAME_SIZE; Caddy does not change it). */
const H2_MAX_READ_FRAME_SIZE = 1 << 20;

/**
 * The start of a GET's header block in HPACK: `:method GET`, `:scheme https`, `:path /v2/` as static-table
 * entries or literals; never more (END_HEADERS is never set, no CONTINUATION follows).
 */
function partialHeaderBlock(): Buffer {
    const path = Buffer.from("/v2/", "latin1");
    // 0x82 :method GET, 0x87 :scheme https, 0x44 literal with indexing for :path (static index 4), then its value.
    return Buffer.concat([Buffer.from([0x82, 0x87, 0x44, path.length]), path]);
}

/**
 * Opens one stalled connection of `kind`; rejects when the front refuses or closes it before its stall, when
 * ALPN does not give HTTP/1.1 to an HTTP/1.1 kind, or when `signal` aborts first. An attempt the front leaves
 * unanswered (its open files all taken) waits, as an attacker's would.
 */
function openStalledConnection(target: TlsTarget, kind: StalledKind, signal?: AbortSignal): Promise<StalledConnection> {
    const servername = target.servername ?? target.host;
    const alpn = kind.startsWith("h2-") ? "h2" : "http/1.1";
    return new Promise((resolve, reject) => {
        const socket = tls.connect({
            host: target.host,
            port: target.port,
            ca: target.ca,
            ...(/^[\d.]+$/.test(servername) ? {} : { servername }),
            ...(target.localAddress ? { localAddress: target.localAddress } : {}),
            // HTTP/2's kinds offer HTTP/1.1 too, as clients do: where the front does not speak HTTP/2, ALPN gives
            // HTTP/1.1 and the same octets go anyway (what the front then does with them is what is measured).
            ALPNProtocols: alpn === "h2" ? ["h2", "http/1.1"] : [alpn],
        });
        let stalledAt = 0;
        let protocol = "";
        let byFront = false;
        let destroyed = false;
        let answer = "";
        let settled = false;
        const closed = new Promise<number>((done) => {
            socket.once("close", () => {
                if (!destroyed) byFront = true;
                done(performance.now() - stalledAt);
            });
        });
        const fail = (error: Error) => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener("abort", aborted);
            socket.destroy();
            reject(error);
        };
        const aborted = () => fail(new Error(`${kind}: stopped before its stall`));
        signal?.addEventListener("abort", aborted, { once: true });
        const ready = () => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener("abort", aborted);
            stalledAt = performance.now();
            resolve({
                kind,
                protocol,
                stalledAt,
                closed,
                closedByFront: () => byFront,
                destroy: () => {
                    if (!socket.destroyed) {
                        destroyed = true;
                        socket.destroy();
                    }
                },
            });
        };
        socket.on("error", (error) => fail(error));
        socket.on("data", (chunk) => {
            // Whatever the front sends is read (its SETTINGS, an answer): a stall, not a full receive window.
            if (kind !== "h1-idle" || settled) return;
            answer += chunk.toString("latin1");
            if (/^HTTP\/1\.1 \d{3} [^\r]*\r\n(?:[^\r]+\r\n)*\r\n/.test(answer)) {
                const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(answer)?.[1] ?? 0);
                if (answer.length - answer.indexOf("\r\n\r\n") - 4 >= length) ready();
            }
        });
        socket.once("close", () => fail(new Error(`${kind}: the front closed the connection before the stall began`)));
        socket.once("secureConnect", () => {
            protocol = socket.alpnProtocol || "";
            if (alpn === "http/1.1" && protocol !== alpn)
                return fail(new Error(`${kind}: ALPN gave ${protocol || "nothing"}, not ${alpn}`));
            const authority = `${servername}:${target.port}`;
            switch (kind) {
                case "h2-headers":
                    socket.write(
                        Buffer.concat([
                            H2_PREFACE,
                            h2Frame(H2_SETTINGS, 0, 0),
                            // END_STREAM (a GET has no body), never END_HEADERS.
                            h2Frame(H2_HEADERS, H2_END_STREAM, 1, partialHeaderBlock()),
                        ]),
                    );
                    return ready();
                case "h2-frame": {
                    // A HEADERS frame as long as the server reads (its SETTINGS_MAX_FRAME_SIZE, 1 MiB in Go's
                    // server), its payload one octet short: the server holds a buffer of the frame's size.
                    const length = H2_MAX_READ_FRAME_SIZE;
                    const frame = h2Frame(H2_HEADERS, H2_END_STREAM, 1, Buffer.alloc(length, 0x41));
                    socket.write(Buffer.concat([H2_PREFACE, h2Frame(H2_SETTINGS, 0, 0), frame.subarray(0, frame.length - 1)]));
                    return ready();
                }
                case "h1-head":
                    socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${authority}\r\n`);
                    return ready();
                case "h1-idle":
                    socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
                    return undefined;
            }
        });
    });
}

/** A flood of stalled connections of one kind (`startFlood`). */
export interface Flood {
    /** The connections that stalled so far, in the order they did. */
    readonly connections: StalledConnection[];
    /** Why each attempt that never stalled failed (refused, reset, closed by the front). */
    readonly failed: string[];
    /** Attempts not settled yet (started or waiting for their turn). */
    pending(): number;
    /** Resolves once every attempt has stalled or failed, or after `ms` (when finite), whichever is first. */
    settled(ms: number): Promise<void>;
    /** Closes every connection and gives up every attempt still waiting. Safe to call twice. */
    stop(): void;
}

/**
 * Starts `count` attempts at a stalled connection of `kind`, `parallel` at a time; a new one starts as soon as
 * one before it stalled or failed, so that attempts the front leaves waiting hold their places in its queue.
 */
export function startFlood(target: TlsTarget, kind: StalledKind, count: number, parallel = 50): Flood {
    const connections: StalledConnection[] = [];
    const failed: string[] = [];
    const abort = new AbortController();
    let started = 0;
    let done = 0;
    const worker = async () => {
        while (started < count && !abort.signal.aborted) {
            started++;
            try {
                const connection = await openStalledConnection(target, kind, abort.signal);
                if (abort.signal.aborted) connection.destroy();
                else connections.push(connection);
            } catch (error) {
                failed.push((error as Error).message);
            }
            done++;
        }
    };
    const all = Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
    return {
        connections,
        failed,
        pending: () => count - done,
        settled: (ms) =>
            Number.isFinite(ms)
                ? Promise.race([all.then(() => undefined), new Promise<void>((r) => setTimeout(r, ms))])
                : all.then(() => undefined),
        stop: () => {
            abort.abort();
            for (const c of connections) c.destroy();
        },
    };
}

/**
 * A well-behaved client's request on a new connection (TLS handshake included, ALPN `http/1.1`): the status and
 * the time from the connection's start to the end of the answer's head, or the error (none within `timeoutMs`).
 */
export function wellBehavedRequest(
    target: TlsTarget,
    urlPath: string,
    timeoutMs = 10_000,
): Promise<{ ms: number; status?: number; error?: string }> {
    const servername = target.servername ?? target.host;
    const started = performance.now();
    return new Promise((resolve) => {
        const socket = tls.connect({
            host: target.host,
            port: target.port,
            ca: target.ca,
            ...(/^[\d.]+$/.test(servername) ? {} : { servername }),
            ...(target.localAddress ? { localAddress: target.localAddress } : {}),
            ALPNProtocols: ["http/1.1"],
        });
        let answer = "";
        let finished = false;
        const done = (error?: string) => {
            if (finished) return;
            finished = true;
            clearTimeout(timer);
            socket.destroy();
            const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]) || undefined;
            resolve({ ms: performance.now() - started, ...(status ? { status } : {}), ...(error ? { error } : {}) });
        };
        const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
        socket.on("error", (e) => done(e.message));
        socket.on("close", () => done(answer.includes("\r\n\r\n") ? undefined : "closed before an answer"));
        socket.on("data", (d) => {
            answer += d.toString("latin1");
            if (answer.includes("\r\n\r\n")) done();
        });
        socket.once("secureConnect", () =>
            socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: ${servername}:${target.port}\r\nConnection: close\r\n\r\n`),
        );
    });
}
