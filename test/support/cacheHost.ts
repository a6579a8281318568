/**
 * The registry host that the tests of the external host's pull-through caches play: a test network
 * namespace with a private Docker engine that holds the locally built registry image (the caches'
 * image), OpenSSH whose sessions reach that engine (the program's scripts run over it, with $DSO_ROOT
 * as their root), and the caches' plain-HTTP upstream on the namespace's address
 * (test/support/upstreamRegistry.ts).
 *
 * Usage:
 *   host = await startCacheHost({ name: "mirror-transitions", prefix: "mtr", subnet: "198.18.240.0/20", upstreamPort: 5300 });
 *   host.ssh.runScript(script);               // as `pulumi up` runs a cache's command
 *   await host.stop();                        // always, e.g. in afterAll
 */
import { type DockerEngine, startDockerEngine } from "./dockerEngine";
import { registryImage } from "./dockerImages";
import { createNetns, type TestNetns } from "./netns";
import { privateDir, removeDir, type ServerProcess } from "./serverProcess";
import { type SshServer, startSshServer } from "./sshServer";
import { startUpstreamRegistry } from "./upstreamRegistry";

export interface CacheHostOptions {
    /** Name of the private scratch directory. */
    readonly name: string;
    /** createNetns's prefix and subnet. */
    readonly prefix: string;
    readonly subnet: string;
    /** Where the upstream listens on the namespace's address. */
    readonly upstreamPort: number;
}

export interface CacheHost {
    readonly ns: TestNetns;
    readonly engine: DockerEngine;
    readonly ssh: SshServer;
    /** A private directory for the test's files; the upstream's config and data are in it. */
    readonly scratch: string;
    /** The upstream as it runs now (a test may stop it, and start it again with `startUpstream`). */
    readonly upstream: ServerProcess;
    /** Starts the upstream again, serving the data it held. */
    startUpstream(): Promise<void>;
    /** Stops SSH, the engine and the upstream, removes the namespace and the scratch directory. */
    stop(): Promise<void>;
}

/** Starts the host; what started before a failure is stopped again. */
export async function startCacheHost(options: CacheHostOptions): Promise<CacheHost> {
    const scratch = privateDir(options.name);
    const started: { ns?: TestNetns; engine?: DockerEngine; ssh?: SshServer; upstream?: ServerProcess } = {};
    const stop = async () => {
        await started.ssh?.stop();
        await started.engine?.stop();
        await started.upstream?.stop();
        await started.ns?.destroy();
        removeDir(scratch);
    };
    try {
        const ns = await createNetns({ prefix: options.prefix, subnet: options.subnet });
        started.ns = ns;
        const engine = await startDockerEngine(ns);
        started.engine = engine;
        registryImage(engine);
        let upstream = await startUpstreamRegistry(ns, scratch, options.upstreamPort);
        started.upstream = upstream;
        const ssh = await startSshServer({
            netns: ns,
            env: { DOCKER_HOST: engine.host, PATH: "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" },
        });
        started.ssh = ssh;
        return {
            ns,
            engine,
            ssh,
            scratch,
            get upstream() {
                return upstream;
            },
            async startUpstream() {
                upstream = await startUpstreamRegistry(ns, scratch, options.upstreamPort);
                started.upstream = upstream;
            },
            stop,
        };
    } catch (e) {
        await stop();
        throw e;
    }
}
