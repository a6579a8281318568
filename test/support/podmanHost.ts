/**
 * Podman as a test host's container engine, with no Docker on it: the host an operator gets on a
 * distribution that ships Podman (Fedora, RHEL), for the external host's scripts, which call `docker`
 * and run Podman where there is no Docker (components/upkeep/sh/container-engine.sh).
 *
 * On the test host (testHost.ts) the docker client and daemon binaries are removed (from its overlay of
 * /usr: this machine keeps its own), and Podman is configured as root's Podman on such a host, with what
 * this machine needs (why, below). Its storage is in the host's /var and its run state in the host's
 * /run, so every image and container goes with the host. Images come from OCI archives
 * (dockerImages.ts's OciArchives target) through `podman load`, under the names the archives carry.
 *
 * What differs from a real Podman host, and why:
 * - storage driver vfs: the graph root is on the host's overlay of /var, where an overlay cannot be mounted;
 * - cgroupfs and file events: no systemd or journald runs on a test host;
 * - the containers' open files and processes are limited as this machine allows (Podman raises both
 *   above its hard limits by default, and runc then fails to start a container): containers.conf's
 *   default_ulimits, and, since Podman drops those for a container whose command names a `--ulimit` of its
 *   own (the front's open files), /usr/bin/podman is a wrapper that adds the process limit to such a
 *   `run` or `create` before it runs Podman (PODMAN_WRAPPER).
 * Podman places its containers' cgroups under libpod_parent in this machine's cgroup tree (cgroups are not
 * namespaced here); `stop` removes them when they are empty. Its container monitors (conmon) run
 * detached on the host and outlive the host's holder: `stop` removes every container, then kills what is
 * left there. Call it before the host's `destroy`.
 *
 * With `{ docker: "podman-docker" }`, `docker` is then what the podman-docker package installs as
 * /usr/bin/docker (RHEL's `dnf install docker` installs that package): a script that runs podman
 * (podmanDockerScript.ts). The script is written into the host's overlay of /usr, not installed from the package:
 * the package conflicts with docker.io, which this machine keeps for the other tests, and a test has no
 * package download to install it from inside the host.
 *
 * `startPodmanProdHost` makes such a host the prod stack's registry host, as the tests that run the synth's
 * scripts on it over SSH need it: the `deploy` login, the front's certificate from a test CA that the host's
 * system trust store holds (the prod stack's ACME cannot run here), the push account, and the helpers
 * those tests share.
 *
 * Usage:
 *   const podman = usePodman(host, archives, ["registry:3.1.2", "caddy:2.8.4"]);
 *   const shimmed = usePodman(host, archives, images, { docker: "podman-docker" });
 *   podman.podmanOk(["ps", "--format", "{{.Names}}"]);
 *   await podman.stop();                      // before host.destroy()
 *
 *   const prod = await startPodmanProdHost({ name: "podman-host", prefix: "pm", subnet: "198.19.224.0/20", images });
 *   prod.runOk(prod.synth.command("registry-host-packages-install.create"));
 *   await prod.stop();                        // the SSH server, Podman, the host and the scratch directory
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import * as path from "node:path";
import { placeFileScript } from "../../components/shared/hostAccess";
import { type OciArchives, ociArchivePath } from "./dockerImages";
import { PODMAN_DOCKER_SCRIPT } from "./podmanDockerScript";
import { PROD_HOST, type ProdHostSynth, prodHostSynth, prodPaths } from "./prodHostSynth";
import { makeAccount, makeOciImage, makeTestCa, type OciImage, type TestAccount, writeAuthFile } from "./realRegistry";
import { privateDir, type RunResult, removeDir } from "./serverProcess";
import { type SshServer, startSshServer } from "./sshServer";
import { startTestHost, type TestHost } from "./testHost";

export interface PodmanEngine {
    /** `podman args` as root on the host; never throws. */
    podman(args: readonly string[]): RunResult;
    /** `podman args`; throws with its output on a non-zero exit, else returns stdout trimmed. */
    podmanOk(args: readonly string[]): string;
    /** Removes every container and kills what is left on the host but its holder; removes the cgroups Podman made. Safe to call twice. */
    stop(): Promise<void>;
}

const STORAGE_CONF = `[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
`;

const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
`;

/** Where the wrapper moves the real podman on the host. */
const REAL_PODMAN = "/usr/local/libexec/dso-test/podman";

/** /usr/bin/podman on the host: Podman, with the process limit containers.conf gives when a `run` or `create` names only other limits. */
const PODMAN_WRAPPER = `#!/bin/sh
case "$1" in
    run | create)
        verb=$1
        shift
        case " $* " in
            *" --ulimit nproc="*) ;;
            *" --ulimit "*) set -- --ulimit nproc=4096:4096 "$@" ;;
        esac
        set -- "$verb" "$@"
        ;;
esac
exec ${REAL_PODMAN} "$@"
`;

export interface PodmanHostOptions {
    /** What `docker` is on the host: no such program (default), or podman-docker's script. */
    readonly docker?: "absent" | "podman-docker";
}

/** Makes `host` a Podman host without Docker and loads `images` (each one's archive in `archives`) into its Podman. */
export function usePodman(host: TestHost, archives: OciArchives, images: readonly string[], options: PodmanHostOptions = {}): PodmanEngine {
    const sh = (script: string) => {
        const r = host.run("sh", ["-c", script]);
        if (r.code !== 0) throw new Error(`on the test host: ${script}\n${r.stdout}\n${r.stderr}`);
        return r.stdout.trim();
    };
    // Every docker binary on the host's PATH (the Debian package's and the CLI in /usr/local/bin).
    sh('for d in $(echo "$PATH" | tr : " "); do rm -f "$d/docker" "$d/dockerd"; done; ! command -v docker');
    if (options.docker === "podman-docker") {
        const r = host.run("sh", ["-c", "cat > /usr/bin/docker && chmod 0755 /usr/bin/docker"], { input: PODMAN_DOCKER_SCRIPT });
        if (r.code !== 0) throw new Error(`placing podman-docker's script on the test host: ${r.stderr}`);
    }
    host.writeEtcFile("containers/storage.conf", STORAGE_CONF);
    host.writeEtcFile("containers/containers.conf", CONTAINERS_CONF);
    const wrapped = host.run(
        "sh",
        [
            "-c",
            `mkdir -p ${path.posix.dirname(REAL_PODMAN)} && mv /usr/bin/podman ${REAL_PODMAN} && cat > /usr/bin/podman && chmod 0755 /usr/bin/podman`,
        ],
        { input: PODMAN_WRAPPER },
    );
    if (wrapped.code !== 0) throw new Error(`wrapping podman on the test host: ${wrapped.stderr}`);
    const podman = (args: readonly string[]) => host.run("podman", args);
    const podmanOk = (args: readonly string[]) => {
        const r = podman(args);
        if (r.code !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        return r.stdout.trim();
    };
    for (const ref of images) {
        podmanOk(["load", "--quiet", "--input", ociArchivePath(archives, ref)]);
        podmanOk(["image", "exists", ref]);
    }
    let stopped = false;
    return {
        podman,
        podmanOk,
        async stop() {
            if (stopped) return;
            stopped = true;
            // --depend: Podman removes a container that another joined only with that one (the metrics relay).
            podman(["rm", "--all", "--force", "--time", "0", "--depend"]);
            killLeftovers(host.holderPid);
            // Only empty cgroups can be removed: one in use (another Podman's) stays.
            host.run("sh", [
                "-c",
                'for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do rmdir "$d"/*/ "$d"; done 2>/dev/null; true',
            ]);
        },
    };
}

/**
 * Kills what is left on the host after its containers were removed, which the holder's end would not
 * end: a script whose SSH session timed out, and a container monitor (conmon, started detached from
 * the host's shell) with the container it runs, should a removal have failed.
 */
function killLeftovers(holderPid: number): void {
    const mountNs = (pid: string) => {
        try {
            return readlinkSync(`/proc/${pid}/ns/mnt`);
        } catch {
            return undefined;
        }
    };
    const hostNs = mountNs(String(holderPid));
    if (!hostNs) return;
    const pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
    const onHost = pids.filter((p) => p !== String(holderPid) && mountNs(p) === hostNs);
    const parentOf = (pid: string) => /^\d+ \(.*\) \S (\d+)/.exec(readFileOr(`/proc/${pid}/stat`))?.[1];
    const containers = pids.filter((p) => {
        const parent = parentOf(p);
        return parent !== undefined && onHost.includes(parent) && readFileOr(`/proc/${parent}/comm`).trim() === "conmon";
    });
    for (const pid of [...containers, ...onHost]) {
        try {
            process.kill(Number(pid), "SIGKILL");
        } catch {
            // Gone already.
        }
    }
}

function readFileOr(file: string): string {
    try {
        return readFileSync(file, "utf8");
    } catch {
        return "";
    }
}

export interface PodmanProdHostOptions extends PodmanHostOptions {
    /** The scratch directory's prefix (privateDir). */
    readonly name: string;
    /** The test host's createNetns prefix and subnet. */
    readonly prefix: string;
    readonly subnet: string;
    /** The images loaded into Podman, each built as an archive in `archives`. */
    readonly images: (archives: OciArchives) => string[];
}

/** A Podman host that is the prod stack's registry host, reached over SSH as its `deploy` login. */
export interface PodmanProdHost {
    readonly host: TestHost;
    readonly engine: PodmanEngine;
    /** The test's own directory on this machine (the CA, the images, what is pushed). */
    readonly scratch: string;
    readonly synth: ProdHostSynth;
    /** The images loaded into Podman, as `options.images` gave them. */
    readonly images: readonly string[];
    /** The account the front lets push (its users file is the test's to place). */
    readonly push: TestAccount;
    /** `script` as the `deploy` login runs it over SSH, `stdin` on its stdin. */
    run(script: string, stdin?: string): RunResult;
    /** `run`, throwing with the output on a non-zero exit; its stdout trimmed. */
    runOk(script: string, stdin?: string): string;
    /** Places a file the way the synth's own write command does (stdin carries the body). */
    placeAsSynth(resource: string, body: string): string;
    /** `podman inspect` of a container (the registry's by default) as JSON, or undefined when there is none. */
    inspect(name?: string): Record<string, any> | undefined;
    /** The HTTP status of a GET from the host itself; "000" when nothing answers. */
    status(url: string): string;
    /** skopeo on the host (its /etc/hosts names the front, its trust store holds the test CA); no auth file unless given. */
    skopeo(args: readonly string[]): RunResult;
    /** Pushes `image` (by default a new one) through the front with the push account; returns its digest. */
    pushImage(repository: string, tag: string, image?: OciImage): string;
    /** Stops the SSH server and Podman, destroys the host, removes the scratch directory. Safe to call twice. */
    stop(): Promise<void>;
}

/** The registry container's name on the host. */
export const PROD_CONTAINER = "dso-registry";

/**
 * Starts a test host with Podman (usePodman, with `options.docker`) as the prod stack's registry host: the
 * `deploy` login with sudo, the front's certificate and key placed from a test CA the host trusts, and
 * the push account. On a failure, stops what it started.
 */
export async function startPodmanProdHost(options: PodmanProdHostOptions): Promise<PodmanProdHost> {
    const synth = prodHostSynth();
    const scratch = privateDir(options.name);
    let host: TestHost | undefined;
    let engine: PodmanEngine | undefined;
    let ssh: SshServer | undefined;
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        await ssh?.stop();
        await engine?.stop();
        await host?.destroy();
        removeDir(scratch);
    };
    try {
        const ca = makeTestCa(path.join(scratch, "tls"), [PROD_HOST]);
        const archives: OciArchives = { archiveDir: path.join(scratch, "images") };
        const images = options.images(archives);
        const started = await startTestHost({
            prefix: options.prefix,
            subnet: options.subnet,
            hosts: ["registry-01.dso.example.com", PROD_HOST],
        });
        host = started;
        started.addUser("deploy");
        // The host's system trust store holds the test CA, as it would hold the ACME CA's root.
        started.trust(ca.caCertPem);
        const podman = usePodman(started, archives, images, { docker: options.docker });
        engine = podman;
        const login = await startSshServer({ netns: started, user: "deploy", privateRoot: false });
        ssh = login;
        const run = (script: string, stdin = "") => login.runScript(script, stdin);
        const runOk = (script: string, stdin = "") => {
            const result = run(script, stdin);
            if (result.code !== 0) throw new Error(`script failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
            return result.stdout.trim();
        };
        runOk(placeFileScript({ path: prodPaths.tlsCert, mode: "0644" }, true), readFileSync(ca.serverCertFile, "utf8"));
        runOk(placeFileScript({ path: prodPaths.tlsKey, mode: "0600" }, true), readFileSync(ca.serverKeyFile, "utf8"));
        const push = makeAccount("jenkins-push");
        const skopeo = (args: readonly string[]) =>
            started.run("skopeo", ["--insecure-policy", ...args], {
                env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "no-auth.json") },
            });
        return {
            host: started,
            engine: podman,
            scratch,
            synth,
            images,
            push,
            run,
            runOk,
            placeAsSynth: (resource, body) => runOk(synth.command(`registry-host-${resource}-write.create`), body),
            inspect(name = PROD_CONTAINER) {
                const result = podman.podman(["container", "inspect", name]);
                return result.code === 0 ? JSON.parse(result.stdout)[0] : undefined;
            },
            status: (url) => started.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url]).stdout,
            skopeo,
            pushImage(
                repository,
                tag,
                image = makeOciImage(path.join(scratch, "images-pushed", `${repository}-${tag}`.replaceAll("/", "_")), 32 * 1024, tag),
            ) {
                const digestFile = path.join(scratch, "pushed.digest");
                const pushed = skopeo([
                    "copy",
                    "--retry-times",
                    "0",
                    "--dest-authfile",
                    writeAuthFile(scratch, PROD_HOST, push),
                    "--digestfile",
                    digestFile,
                    image.ref,
                    `docker://${PROD_HOST}/${repository}:${tag}`,
                ]);
                if (pushed.code !== 0) throw new Error(`push of ${repository}:${tag} failed\n${pushed.stderr}`);
                return readFileSync(digestFile, "utf8").trim();
            },
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
