/**
 * A private Docker engine for tests: Debian's `dockerd`, started by the test as its child inside a
 * test network namespace, with its own data root, exec root, pid file and unix socket under a scratch
 * directory, and clients that reach it through `DOCKER_HOST` with a private `DOCKER_CONFIG` each.
 *
 * Inside the namespace the daemon's docker0 bridge, its published ports (`-p 127.0.0.1:5000:…` is the
 * namespace's loopback) and its /etc are its own: it runs in a mount namespace of its own where every
 * entry of /etc/netns/<namespace>/ is bind-mounted over /etc (as `ip netns exec` does, so
 * `ns.writeEtcFile("docker/certs.d/<authority>/ca.crt", …)` and a `hosts` file apply to it) and /run
 * is a private tmpfs (dockerd keeps /run/docker/plugins there). /etc/docker is always private (its
 * key.json). So several daemons run side by side, one per namespace, with no lock: verified with two
 * at once, each publishing 127.0.0.1:5000. It is not started with `ip netns exec` because that
 * remounts /sys without the cgroup hierarchies dockerd needs ("Devices cgroup isn't mounted").
 *
 * Flags (see the design notes): no iptables, masquerading or forwarding changes. Docker prints
 * "IPv4 forwarding is disabled" on `docker run`; published ports work through docker-proxy anyway.
 *
 * Usage:
 *   const ns = await createNetns({ prefix: "dk", subnet: "198.18.16.0/20" });
 *   const engine = await startDockerEngine(ns);
 *   const client = engine.client();                   // its own DOCKER_CONFIG
 *   client.login("registry.test", account);            // password on stdin
 *   client.docker(["push", "registry.test/app:1"]);
 *   await engine.stop(); await ns.destroy();           // always, e.g. in afterAll
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { TestNetns } from "./netns";
import { privateDir, type RunResult, removeDir, run, type ServerProcess, startServer } from "./serverProcess";
import type { TestHost } from "./testHost";

/** The docker CLI the tests drive (Debian's, from docker.io, the same version as the engine). */
export const DOCKER_CLI = "/usr/bin/docker";

/** A docker CLI user: its own DOCKER_CONFIG (logins), pointed at one engine. */
export interface DockerClient {
    /** The private DOCKER_CONFIG directory. */
    readonly configDir: string;
    /** Environment for this client (DOCKER_HOST, DOCKER_CONFIG), for scripts that call `docker` themselves. */
    readonly env: NodeJS.ProcessEnv;
    /** `docker args`; never throws on a non-zero exit. */
    docker(args: readonly string[], input?: string): RunResult;
    /** `docker args`; throws with the output when it fails. Returns trimmed stdout. */
    dockerOk(args: readonly string[], input?: string): string;
    /** `docker login --password-stdin` (the password never on a command line). */
    login(authority: string, account: { readonly username: string; readonly password: string }): RunResult;
}

export interface DockerEngine extends DockerClient {
    /** unix://…/docker.sock */
    readonly host: string;
    /** Path of the socket (for DOCKER_HOST in a remote session). */
    readonly socket: string;
    /** The namespace it runs in. */
    readonly netns: TestNetns;
    /** The data root: images and containers; helpers cache images per data root. */
    readonly dataRoot: string;
    /** A new client with an empty DOCKER_CONFIG. */
    client(): DockerClient;
    /** dockerd's output so far. */
    log(): string;
    /**
     * Removes every container of this daemon, stops it (SIGTERM by PID, then its containerd if it
     * outlived it) and removes every file it made. Safe to call twice.
     */
    stop(): Promise<void>;
}

/** Mount-namespace setup before dockerd runs: the namespace's /etc files, a private /run. */
const START_SCRIPT = [
    "set -eu",
    "ns=$1; shift",
    'for entry in /etc/netns/"$ns"/*; do',
    '  target="/etc/${entry##*/}"',
    '  if [ -e "$target" ]; then mount --bind "$entry" "$target"; fi',
    "done",
    "mount -t tmpfs -o mode=0755 dso-docker-run /run",
    'exec /usr/sbin/dockerd "$@"',
].join("\n");

/** A client of `host` whose DOCKER_CONFIG is a new private directory, recorded in `dirs` for removal. */
function makeClient(host: string, dirs: string[]): DockerClient {
    const configDir = privateDir("docker-config");
    dirs.push(configDir);
    const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: configDir };
    const docker = (args: readonly string[], input?: string) => run(DOCKER_CLI, args, { env, input, timeout: 600_000 });
    return {
        configDir,
        env,
        docker,
        dockerOk(args, input) {
            const result = docker(args, input);
            if (result.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
            return result.stdout.trim();
        },
        login: (authority, account) => docker(["login", "--username", account.username, "--password-stdin", authority], account.password),
    };
}

/**
 * Starts dockerd inside `netns`; resolves once it answers. Needs root. `extraArgs` go to dockerd after the
 * test's own flags (`--bridge=none` for a daemon that only pulls and pushes).
 */
export async function startDockerEngine(netns: TestNetns, extraArgs: readonly string[] = []): Promise<DockerEngine> {
    const dir = privateDir("dockerd");
    const dataRoot = path.join(dir, "root");
    const execRoot = path.join(dir, "exec");
    const socket = path.join(dir, "docker.sock");
    const host = `unix://${socket}`;
    // Private /etc/docker: key.json and certs.d of this daemon only.
    if (!("holderPid" in netns)) mkdirSync(path.join(netns.etcDir, "docker"), { recursive: true });
    const daemonArgs = [
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--data-root",
        dataRoot,
        "--exec-root",
        execRoot,
        "--pidfile",
        path.join(dir, "docker.pid"),
        "-H",
        host,
        ...extraArgs,
    ];
    // A test host (test/support/testHost.ts) has its own /etc and /run already: dockerd runs there as the
    // host's service, on the host's /run/docker.sock too, so the bind mounts of its containers name the
    // host's paths and its users' `docker` finds it where a package's service listens.
    const daemon: ServerProcess =
        "holderPid" in netns
            ? netns.startServer("/usr/sbin/dockerd", [...daemonArgs, "-H", "unix:///run/docker.sock"])
            : startServer("nsenter", [
                  `--net=/run/netns/${netns.name}`,
                  "unshare",
                  "--mount",
                  "--propagation",
                  "slave",
                  "sh",
                  "-c",
                  START_SCRIPT,
                  "dso-dockerd",
                  netns.name,
                  ...daemonArgs,
              ]);
    const clientDirs: string[] = [];
    const first = makeClient(host, clientDirs);
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        if (daemon.child.exitCode === null) {
            const ids = first.docker(["ps", "-aq"]).stdout.split("\n").filter(Boolean);
            if (ids.length > 0) first.docker(["rm", "-f", "--volumes", ...ids]);
        }
        const containerdPidFile = path.join(execRoot, "containerd", "containerd.pid");
        const containerdPid = existsSync(containerdPidFile) ? Number(readFileSync(containerdPidFile, "utf8")) : 0;
        await daemon.stop();
        // dockerd stops the containerd it started; if it was killed first, that containerd is ours to stop.
        if (containerdPid > 0) {
            try {
                process.kill(containerdPid, "SIGTERM");
            } catch {
                // Already gone.
            }
        }
        // docker0, the exec root's netns mount and /run/docker lived in the namespaces and went with them.
        removeDir(dir);
        for (const d of clientDirs.splice(0)) removeDir(d);
    };
    try {
        // A loop of its own, not vitest's `vi.waitUntil`: a bench script starts the engine outside vitest.
        const deadline = Date.now() + 60_000;
        while (first.docker(["version", "--format", "{{.Server.Version}}"]).code !== 0) {
            if (daemon.child.exitCode !== null || Date.now() > deadline) {
                throw new Error(`dockerd did not start in ${netns.name}\n${daemon.output().slice(-4000)}`);
            }
            await new Promise((r) => setTimeout(r, 200));
        }
    } catch (error) {
        await stop();
        throw error;
    }
    return {
        ...first,
        host,
        socket,
        netns,
        dataRoot,
        client: () => makeClient(host, clientDirs),
        log: () => daemon.output(),
        stop,
    };
}

/**
 * A Docker engine on a test host's network but not on the host: dockerd in the host's network namespace with
 * this machine's filesystem, /etc/hosts and /etc/docker from the namespace's own files (`etc` writes them:
 * `etc("hosts", …)`, `etc("docker/certs.d/<authority>/ca.crt", …)`), and no bridge (it pulls and pushes, runs
 * nothing). A client machine that reaches the host's services at the host's own address, as another machine of
 * the host's network would, without touching the host's /etc, /run or containerd. `engine.stop()` as usual.
 */
export async function startDockerEngineBeside(host: TestHost, files: Readonly<Record<string, string>>): Promise<DockerEngine> {
    const { holderPid: _holder, run: _run, wrap: _wrap, startServer: _start, writeEtcFile: _write, ...network } = host;
    const written: string[] = [];
    for (const [relativePath, content] of Object.entries(files)) {
        const file = path.join(network.etcDir, relativePath);
        if (!file.startsWith(`${network.etcDir}/`)) throw new Error(`startDockerEngineBeside: ${relativePath} leaves ${network.etcDir}`);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
        written.push(path.join(network.etcDir, relativePath.split("/")[0] as string));
    }
    const unused = (): never => {
        throw new Error("startDockerEngineBeside: only dockerd runs on this view of the host's network");
    };
    const engine = await startDockerEngine({ ...network, run: unused, wrap: unused, startServer: unused, writeEtcFile: unused }, [
        "--bridge=none",
    ]);
    return {
        ...engine,
        stop: async () => {
            await engine.stop();
            for (const entry of written) rmSync(entry, { recursive: true, force: true });
        },
    };
}
