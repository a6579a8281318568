/**
 * The front's part for a backend that listens on a unix socket only (the external host's caches and
 * Maven backend): the pinned Caddy (Debian's stand-in under `npm test`) inside a test network namespace, plain HTTP on `port` (every address of
 * the namespace, so that the engine inside pulls from `127.0.0.1:<port>`), with nothing but the rendered
 * front's proxy to the socket (`registryProxy`: among the rest, a request that finds nothing listening is
 * held and tried again, as while a cache turns between read-only and proxy mode). Tests that prove the
 * rendered front's rules use the rendered Caddyfile instead; this one only carries a client's requests to
 * the socket, as the front does.
 *
 * Usage:
 *   const front = await startSocketFront(ns, 5400, "/tmp/x/run/dso-registry-mirrors/docker.io/registry.sock");
 *   engine.docker(["pull", "127.0.0.1:5400/library/app:1"]);
 *   await front.stop();
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { registryProxy } from "../../components/accessPolicy/caddyfile/routes";
import { pinnedCaddy } from "./caddyBinaries";
import type { TestNetns } from "./netns";
import { caddyEnv } from "./realRegistry";
import { privateDir, removeDir, type ServerProcess } from "./serverProcess";

export interface SocketFront {
    /** Stops Caddy and removes its files. Safe to call twice. */
    stop(): Promise<void>;
}

/** Starts Caddy in `ns` on `port`, proxying to the unix socket `socket` (a path on this machine). */
export async function startSocketFront(ns: TestNetns, port: number, socket: string): Promise<SocketFront> {
    const dir = privateDir("socket-front");
    const config = path.join(dir, "Caddyfile");
    const site = [`http://:${port} {`, "\troute {", ...registryProxy(`unix/${socket}`), "\t}", "}"];
    writeFileSync(config, `{\n\tadmin off\n}\n${site.join("\n")}\n`);
    const caddy: ServerProcess = ns.startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", config], caddyEnv(dir));
    const stop = async () => {
        await caddy.stop();
        removeDir(dir);
    };
    try {
        await ns.waitForPort(port, 30_000, "caddy");
    } catch (e) {
        const output = caddy.output();
        await stop();
        throw new Error(`${(e as Error).message}\n${output}`);
    }
    return { stop };
}
