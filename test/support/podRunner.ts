/**
 * A pod of a rendered Deployment, run for real on this machine: every container's program (Debian's
 * build of what its image runs, see PROGRAMS) in a root filesystem of its own, inside one network
 * namespace for the whole pod (the pod's address is the namespace's), with:
 *   - the pod's volumes mounted at each container's mountPaths as the kubelet mounts them: configMap
 *     and secret volumes as files (items, defaultMode), persistentVolumeClaims and emptyDirs as
 *     directories (a claim the test sizes, `claimSizesMiB`, a file system of its own of that size, which
 *     fills as a volume does); fsGroup gives the group and group access to them, as the kubelet does;
 *   - the container's env (values, and secretKeyRef and configMapKeyRef read from the applied objects;
 *     another source is refused);
 *   - the securityContext: user, group, fsGroup as a supplementary group, no_new_privs when privilege
 *     escalation is off, the capability bounding set (ALL dropped, the added ones kept), and a
 *     read-only root filesystem.
 * A root filesystem is this machine's /usr (read-only), /dev, /proc and an /etc with the pod's hosts
 * file (with the names the cluster's DNS would answer, given by the test), passwd/group and, where the
 * test gives one, the image's CA bundle; each runs in a private mount namespace, so nothing is mounted on this
 * machine. So a volume mounted where the config does not look, a file the user cannot read, or a
 * write to the read-only root fails here as it would in the cluster.
 *
 * Not modelled: hostPath volumes, subPath, init containers, resource limits; the container image's
 * own files (only its program, from Debian). The container mechanics (volumes' files, fsGroup, env, the
 * securityContext, the mounts) are the pod stand-in's (test/support/podStandIn.ts), which runs each
 * image's own entrypoint on busybox's applets instead of this machine's /usr.
 */
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { pinnedCaddy } from "./caddyBinaries";
import type { AppliedObject, DeployedStack } from "./deployedStack";
import { deployedRegistry } from "./distributionBinaries";
import type { TestNetns } from "./netns";
import {
    applyFsGroup,
    containerEnv,
    imageRepository,
    type Mount,
    mountLines,
    type PodSpec,
    RUNTIME_PATH,
    setprivArgs,
    shq,
    writeDataVolume,
} from "./podStandIn";
import { privateDir, removeDir, run, type ServerProcess } from "./serverProcess";

/**
 * Where a registry container's root holds Distribution, the build of the deployed version
 * (distributionBinaries.ts), copied in when the pod starts: the image has it as /bin/registry, and /bin
 * here is this machine's.
 */
const REGISTRY_IN_ROOT = "/opt/distribution/registry";
/**
 * Image (repository, without registry or tag) → how its entrypoint runs the container's args, with
 * this machine's program for the image's. The registry image's entrypoint runs `registry serve` on a
 * config file argument.
 */
const PROGRAMS: Record<string, (args: readonly string[]) => string[]> = {
    caddy: (args) => [...args],
    nginx: (args) => [...args],
    registry: (args) => (/\.ya?ml$/.test(args[0] ?? "") ? [REGISTRY_IN_ROOT, "serve", ...args] : [...args]),
};
const PROGRAM_NAMES: Record<string, string> = { registry: REGISTRY_IN_ROOT };
/**
 * The programs an image brings that this machine's /usr does not have in the version the image pins: copied into
 * the container's root, whose directory goes first in its PATH. The caddy image's is the pinned Caddy (Debian's
 * stands in under `npm test`), as every placement's front runs it.
 */
const IMAGE_PROGRAMS: Record<string, { readonly inRoot: string; readonly file: () => string }> = {
    registry: { inRoot: REGISTRY_IN_ROOT, file: () => deployedRegistry().path },
    caddy: { inRoot: "/opt/caddy/caddy", file: pinnedCaddy },
};

export interface RunningPod {
    /** The pod's address (its network namespace's). */
    readonly address: string;
    /** The directory that holds a persistentVolumeClaim's data (shared by the pod's mounts of it). */
    claimDir(claimName: string): string;
    /** A container's port by its name. */
    port(name: string): number;
    /** The containers' output, for failure messages. */
    logs(): string;
    /** Stops every container (SIGTERM by PID) and removes the pod's directories. Safe to call twice. */
    stop(): Promise<void>;
}

/** The image's name without registry, path, tag or digest: what PROGRAMS is keyed by. */
const imageName = (image: string) => imageRepository(image).split("/").pop()!;

/** Starts the pod of `deployment` inside `ns`, with its objects taken from `stack`; resolves once every container is ready. */
export async function startPod(options: {
    readonly ns: TestNetns;
    readonly deployment: AppliedObject;
    readonly stack: DeployedStack;
    /** Names the cluster's DNS answers for the pod ("<address> <name>" lines of its /etc/hosts). */
    readonly dnsAnswers?: readonly string[];
    /** The image's CA bundle (/etc/ssl/certs/ca-certificates.crt), for a container that calls out over TLS. */
    readonly caBundle?: string;
    /**
     * Claims whose data is a file system of its own of this many MiB (a tmpfs), as a volume of that size
     * fills: by claim name. Others are directories of this machine's file system.
     */
    readonly claimSizesMiB?: Readonly<Record<string, number>>;
}): Promise<RunningPod> {
    const { ns, deployment, stack } = options;
    const namespace = deployment.metadata.namespace!;
    const spec = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
    if (spec.initContainers?.length) throw new Error("podRunner: init containers are not modelled");
    const dir = privateDir(`pod-${deployment.metadata.name}`);
    chmodSync(dir, 0o755);
    const podSecurity = spec.securityContext ?? {};
    const fsGroup = podSecurity.fsGroup;

    // Volumes: one directory each, shared by every container that mounts it.
    const volumeDirs = new Map<string, string>();
    const claimDirs = new Map<string, string>();
    const mounted: string[] = [];
    const unmount = () => {
        for (const target of mounted.splice(0)) run("umount", [target]);
    };
    for (const v of spec.volumes ?? []) {
        const vdir = path.join(dir, "volumes", v.name);
        const data = v.configMap
            ? { object: stack.dataOf("ConfigMap", v.configMap.name, namespace), source: v.configMap }
            : v.secret
              ? { object: stack.dataOf("Secret", v.secret.secretName, namespace), source: v.secret }
              : undefined;
        if (data) {
            writeDataVolume(`podRunner: volume ${v.name}`, vdir, data.object, data.source, fsGroup);
        } else if (v.persistentVolumeClaim) {
            stack.object("PersistentVolumeClaim", v.persistentVolumeClaim.claimName, namespace);
            mkdirSync(vdir, { recursive: true });
            const sizeMiB = options.claimSizesMiB?.[v.persistentVolumeClaim.claimName];
            if (sizeMiB !== undefined) {
                const mount = run("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, `pod-${v.persistentVolumeClaim.claimName}`, vdir]);
                if (mount.code !== 0) {
                    unmount();
                    throw new Error(`podRunner: a file system for claim ${v.persistentVolumeClaim.claimName}: ${mount.stderr}`);
                }
                mounted.push(vdir);
            }
            applyFsGroup(vdir, fsGroup, false, true, 0o755);
            claimDirs.set(v.persistentVolumeClaim.claimName, vdir);
        } else if (v.emptyDir) {
            mkdirSync(vdir, { recursive: true });
            applyFsGroup(vdir, fsGroup, false, true, 0o777);
        } else {
            throw new Error(`podRunner: volume ${v.name} is of a kind not modelled`);
        }
        volumeDirs.set(v.name, vdir);
    }

    const ports = new Map<string, number>();
    for (const c of spec.containers) for (const p of c.ports ?? []) if (p.name) ports.set(p.name, p.containerPort);

    const servers: { name: string; server: ServerProcess }[] = [];
    const logs = () => servers.map(({ name, server }) => `--- ${name}\n${server.output().slice(-6000)}`).join("\n");
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        for (const { server } of servers.splice(0).reverse()) await server.stop();
        unmount();
        removeDir(dir);
    };

    try {
        for (const c of spec.containers) {
            const entry = PROGRAMS[imageName(c.image)];
            if (!entry) throw new Error(`podRunner: no program for image ${c.image}`);
            const argv = entry([...(c.command ?? []), ...(c.args ?? [])]);
            argv[0] = PROGRAM_NAMES[argv[0]!] ?? argv[0]!;
            const security = { ...podSecurity, ...(c.securityContext ?? {}) };

            // The container's root filesystem: this machine's programs, the pod's /etc files.
            const root = path.join(dir, "rootfs", c.name);
            for (const d of ["usr", "dev", "proc", "etc", "tmp", "run"]) mkdirSync(path.join(root, d), { recursive: true });
            for (const link of ["bin", "lib", "lib64", "sbin"]) run("ln", ["-s", `usr/${link}`, path.join(root, link)]);
            for (const file of ["passwd", "group", "nsswitch.conf"]) copyFileSync(`/etc/${file}`, path.join(root, "etc", file));
            const program = IMAGE_PROGRAMS[imageName(c.image)];
            if (program) {
                mkdirSync(path.join(root, path.dirname(program.inRoot)), { recursive: true });
                copyFileSync(program.file(), path.join(root, program.inRoot));
                chmodSync(path.join(root, program.inRoot), 0o755);
            }
            writeFileSync(
                path.join(root, "etc", "hosts"),
                [`127.0.0.1 localhost`, `${ns.address} ${deployment.metadata.name}`, ...(options.dnsAnswers ?? []), ""].join("\n"),
            );
            if (options.caBundle) {
                mkdirSync(path.join(root, "etc", "ssl", "certs"), { recursive: true });
                writeFileSync(path.join(root, "etc", "ssl", "certs", "ca-certificates.crt"), options.caBundle);
            }
            for (const d of ["", "etc", "tmp", "run"]) chmodSync(path.join(root, d), 0o755);

            const mounts = [...(c.volumeMounts ?? [])]
                .sort((a, b) => a.mountPath.split("/").length - b.mountPath.split("/").length)
                .map((m) => {
                    if (m.subPath) throw new Error(`podRunner: subPath (${c.name} ${m.mountPath}) is not modelled`);
                    const source = volumeDirs.get(m.name);
                    if (!source) throw new Error(`container ${c.name} mounts volume ${m.name}, which the pod does not have`);
                    return { source, target: m.mountPath, readOnly: m.readOnly === true };
                });
            // Mount points exist in the root, or inside the volume mounted above them (as the runtime makes them).
            for (const m of mounts) {
                const parent = mounts.filter((p) => p !== m && m.target.startsWith(`${p.target}/`)).pop();
                const where = parent ? path.join(parent.source, path.relative(parent.target, m.target)) : path.join(root, m.target);
                mkdirSync(where, { recursive: true });
            }

            const env = containerEnv(c, (kind, name) => stack.dataOf(kind, name, namespace));
            // The runtime's environment: its default PATH (the image's programs first, where this root
            // holds them), HOME=/ for a user without a passwd entry.
            const imagePath = program ? `${path.dirname(program.inRoot)}:` : "";
            const exec = [
                "setpriv",
                ...setprivArgs(security, fsGroup),
                "env",
                "-i",
                `PATH=${imagePath}${RUNTIME_PATH}`,
                "HOME=/",
                ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
                ...argv,
            ];
            const usr: Mount = { source: "/usr", target: "/usr", readOnly: true, recursive: true };
            const script = [
                ...mountLines(root, [usr], mounts, security.readOnlyRootFilesystem === true),
                `exec chroot "$root" ${exec.map(shq).join(" ")}`,
            ].join("\n");
            servers.push({
                name: c.name,
                server: ns.startServer("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], process.env),
            });
        }
        // Ready when every readiness probe passes (tcpSocket and httpGet: the port answers at the pod's address,
        // where the kubelet connects, so a program that listens on the pod's loopback only fails it as on a node;
        // exec: the command, busybox's tools).
        const deadline = Date.now() + 60_000;
        for (const c of spec.containers) {
            const probe = c.readinessProbe;
            if (!probe) continue;
            const check = () => {
                if (probe.tcpSocket) {
                    const port = typeof probe.tcpSocket.port === "number" ? probe.tcpSocket.port : ports.get(probe.tcpSocket.port);
                    const host = probe.tcpSocket.host ?? ns.address;
                    return ns.run("bash", ["-c", `exec 3<>/dev/tcp/${host}/${port}`]).code === 0;
                }
                if (probe.httpGet) {
                    // The kubelet's rule: a status from 200 to 399 at the pod's address.
                    const port = typeof probe.httpGet.port === "number" ? probe.httpGet.port : ports.get(probe.httpGet.port);
                    const status = ns.run("curl", [
                        "-s",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        "--max-time",
                        "2",
                        `http://${ns.address}:${port}${probe.httpGet.path}`,
                    ]).stdout;
                    return Number(status) >= 200 && Number(status) < 400;
                }
                const [program, ...args] = probe.exec!.command;
                return ns.run("busybox", [program!, ...args]).code === 0;
            };
            // One deadline for every container of the pod, as before: each waits for what is left of it.
            await vi.waitUntil(check, { timeout: Math.max(0, deadline - Date.now()), interval: 200 }).catch((error: unknown) => {
                throw new Error(`container ${c.name} of ${deployment.metadata.name} did not become ready\n${logs()}`, { cause: error });
            });
        }
    } catch (error) {
        await stop();
        throw error;
    }
    return {
        address: ns.address,
        claimDir(claimName) {
            const found = claimDirs.get(claimName);
            if (!found) throw new Error(`the pod mounts no claim ${claimName}`);
            return found;
        },
        port(name) {
            const found = ports.get(name);
            if (found === undefined) throw new Error(`the pod has no port named ${name}`);
            return found;
        },
        logs,
        stop,
    };
}
