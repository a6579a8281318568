/**
 * A pod of a Deployment the program synthesizes, run on this machine as the Deployment specifies it:
 * every container's command and args (or its image's entrypoint and default command), env, volume
 * mounts, user, group, fsGroup and capabilities, in a network namespace of the pod's own (so every
 * address and port the spec and its configs name is the pod's, unchanged), each container in a private
 * mount namespace chrooted into a root filesystem of its own. Nothing in a ConfigMap, a command line
 * or an environment value is rewritten.
 *
 * - Images: an image is its Alpine base (busybox-static's applets in /bin, /bin/sh among them) plus the
 *   files its `ImageStandIn` names (this machine's build of what the image runs, bound in read-only),
 *   its ENTRYPOINT, CMD and ENV. An image no stand-in is given for is refused.
 * - Volumes: configMap and secret volumes are written from the objects (items, defaultMode), emptyDirs
 *   and persistentVolumeClaims are directories; each lives at its mount path under `root`, the pod's
 *   view that tests read and write (a volume mounted at two paths, or two volumes at one path, is
 *   refused; a container sees a volume mounted inside one of its own as a directory there even where
 *   it does not mount it). fsGroup gives group ownership and access as the kubelet does. Each start is
 *   a new pod: its emptyDirs start empty (the objects do not change while a test runs, so the
 *   configMap and secret volumes stay as written).
 * - Anything the spec says that the stand-in does not model (a field of a pod, container, volume or
 *   env source it does not know, subPath, init containers) fails the start, naming it: a change to the
 *   Deployment is run or refused, never skipped.
 * - Readiness: each container's readinessProbe as the kubelet runs it (exec inside the container,
 *   tcpSocket and httpGet at the pod's address). Liveness probes and resources are not run.
 *
 * A CronJob's pod (`kind: "CronJob"`) is laid out the same way and run to its end (`run`), sharing the
 * pod view (and so the persistentVolumeClaims) of another stand-in when given its `root`.
 *
 * Control is one shell script, `<dir>/pod.sh start|stop|restart|run|exec CONTAINER ARGS…`, so that
 * stand-ins of an API server written in shell (a kubectl script) drive the pod as the test does.
 * `<dir>/template.env` (lines `export NAME='value'`), when present, is applied over every container's
 * env at its start and in exec, as `kubectl set env deployment/…` changes the template. What the real
 * images do not have: the pod's directory bound at /.stand-in/pod (test hooks read it), setpriv at
 * /.stand-in/setpriv (it drops to the container's user after the chroot), and the libraries it and the
 * bound programs link, at their paths on this machine.
 *
 * The container mechanics (configMap and secret volumes' files, fsGroup, env, setpriv's arguments for the
 * securityContext, the mount script) are exported for test/support/podRunner.ts, which runs a Deployment's
 * pod on this machine's /usr (Debian's programs for the images').
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { K8sObject } from "../../components/shared/k8sObject";
import { createNetns, type TestNetns } from "./netns";
import { dataOf } from "./registryStack";
import { freePort, privateDir, removeDir, run, type ServerProcess, startServer, waitForPort } from "./serverProcess";

/** What an image holds and runs, on this machine. */
export interface ImageStandIn {
    /** Path in the image → this machine's file (bound read-only); dynamically linked programs get their libraries too. */
    readonly files: Readonly<Record<string, string>>;
    /** The image's ENTRYPOINT and CMD, as its Dockerfile sets them. */
    readonly entrypoint?: readonly string[];
    readonly cmd?: readonly string[];
    /** The image's ENV. */
    readonly env?: Readonly<Record<string, string>>;
}

export interface PodStandInOptions {
    readonly objects: readonly K8sObject[];
    /** The workload whose pod this is: a Deployment (the default), or a CronJob (its job's pod, run to its end with `run`). */
    readonly name: string;
    readonly kind?: "Deployment" | "CronJob";
    /** The pod view of another pod stand-in (its `root`) to share: its persistentVolumeClaims are this pod's too. */
    readonly root?: string;
    /** Image repository (no registry, no tag: "registry", "caddy", "restic/restic") → its stand-in. */
    readonly images: Readonly<Record<string, ImageStandIn>>;
    /** Network namespace name prefix (1-4 letters) and subnet (see netns.ts). */
    readonly netns: { readonly prefix: string; readonly subnet: string };
    /** Ports of this machine's loopback that the pod reaches on its own 127.0.0.1 (a Service outside the pod, such as a bucket). */
    readonly loopbackServices?: readonly number[];
    /**
     * Ports of the pod (on its loopback too) that this machine reaches at 127.0.0.1:`localPort(port)`, as
     * `kubectl port-forward` does; inside the pod the forward listens on the pod's address at port + 30000.
     */
    readonly portForwards?: readonly number[];
}

export interface PodStandIn {
    /** The pod's volumes, each at its mount path under this directory. */
    readonly root: string;
    /** The stand-in's state: pod.sh, template.env, the containers' logs (`<name>.log`) and pid files. */
    readonly dir: string;
    readonly ns: TestNetns;
    /** The container port of that name. */
    port(name: string): number;
    /** Whether a container declares a port of that name. */
    declaresPort(name: string): boolean;
    /** Where this machine reaches a pod port of `portForwards`. */
    localPort(podPort: number): number;
    /** Starts the pod's containers (a new pod); returns once every readiness probe passes, throws with the logs when one does not. */
    start(): void;
    /** Stops every container (SIGTERM, as on deletion). */
    stopContainers(): void;
    /** Runs the pod's one container to its end (a Job's pod): its exit status and output. */
    run(): { code: number; stdout: string; stderr: string };
    /** Runs `args` in `container` as `kubectl exec` does (the container's env, mounts, user). */
    exec(container: string, args: readonly string[]): { code: number; stdout: string; stderr: string };
    /** How many times the pod was started. */
    starts(): number;
    /** The running containers' process ids by name. */
    pids(): Record<string, string>;
    /** Each container's log tail, for failure messages. */
    logs(): string;
    /** Stops everything started and removes the directories and the namespace. Safe to call twice. */
    destroy(): Promise<void>;
}

interface EnvVar {
    readonly name: string;
    readonly value?: string;
    readonly valueFrom?: {
        readonly secretKeyRef?: { name: string; key: string };
        readonly configMapKeyRef?: { name: string; key: string };
    };
}
interface Probe {
    readonly exec?: { command: string[] };
    readonly tcpSocket?: { port: number | string; host?: string };
    readonly httpGet?: { path: string; port: number | string };
}
interface SecurityContext {
    readonly runAsUser?: number;
    readonly runAsGroup?: number;
    readonly fsGroup?: number;
    readonly allowPrivilegeEscalation?: boolean;
    readonly readOnlyRootFilesystem?: boolean;
    readonly capabilities?: { drop?: string[]; add?: string[] };
}
interface Container {
    readonly name: string;
    readonly image: string;
    readonly command?: string[];
    readonly args?: string[];
    readonly env?: EnvVar[];
    readonly ports?: { name?: string; containerPort: number }[];
    readonly volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
    readonly securityContext?: SecurityContext;
    readonly readinessProbe?: Probe;
}
interface Volume {
    readonly name: string;
    readonly configMap?: { name: string; items?: { key: string; path: string }[]; defaultMode?: number };
    readonly secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number };
    readonly persistentVolumeClaim?: { claimName: string };
    readonly emptyDir?: { medium?: string; sizeLimit?: string };
}
/** A pod template's spec, as far as the pod runners read it (this stand-in and test/support/podRunner.ts). */
export interface PodSpec {
    readonly containers: Container[];
    readonly volumes?: Volume[];
    readonly securityContext?: SecurityContext;
    readonly initContainers?: unknown[];
}

/**
 * The fields the stand-in runs, and those it may leave because they only place, limit or watch the pod
 * on a cluster; any other field is refused.
 */
const MODELLED = {
    pod: ["containers", "volumes", "securityContext"],
    podIgnored: [
        "serviceAccountName",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "terminationGracePeriodSeconds",
        "affinity",
        "nodeSelector",
        "tolerations",
        "topologySpreadConstraints",
        "priorityClassName",
        "imagePullSecrets",
        "restartPolicy",
    ],
    container: ["name", "image", "command", "args", "env", "ports", "volumeMounts", "securityContext", "readinessProbe"],
    // A container's preStop hook only delays its stop, as the pod's grace period only bounds it: the stand-in stops
    // containers at once. The hand-over it gives a stopping pod runs on a real kubelet (test/engine/replicaPods.test.ts).
    // A startup probe only lets the kubelet run the readiness probe sooner: the stand-in runs it from the start.
    containerIgnored: ["livenessProbe", "startupProbe", "resources", "imagePullPolicy", "lifecycle"],
    securityContext: ["runAsUser", "runAsGroup", "fsGroup", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities"],
    securityContextIgnored: ["runAsNonRoot", "seccompProfile", "privileged", "fsGroupChangePolicy"],
    volume: ["name", "configMap", "secret", "persistentVolumeClaim", "emptyDir"],
    mount: ["name", "mountPath", "readOnly"],
    env: ["name", "value", "valueFrom"],
    probe: ["exec", "tcpSocket", "httpGet"],
    probeIgnored: ["initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"],
};

function refuseUnknown(what: string, value: object | undefined, known: readonly string[]): void {
    const unknown = Object.keys(value ?? {}).filter((k) => !known.includes(k));
    if (unknown.length > 0)
        throw new Error(
            `pod stand-in: ${what} sets ${unknown.join(", ")}, which the stand-in does not run; model it in test/support/podStandIn.ts`,
        );
}

/** The repository of an image reference, without registry host, tag or digest. */
export function imageRepository(image: string): string {
    const withoutDigest = image.replace(/@.*$/, "");
    const parts = withoutDigest.replace(/:[^/:]*$/, "").split("/");
    if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
    return parts.join("/");
}

/** `s` quoted for sh. */
export const shq = (s: string) => `'${s.replaceAll("'", `'"'"'`)}'`;

/** The libraries `program` links (ldd), by absolute path; none for a static one. */
function librariesOf(program: string): string[] {
    const out = run("ldd", [program]).stdout;
    return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

/** Ownership and mode for fsGroup as the kubelet sets them: group fsGroup, group read (read-only volumes) or read-write, setgid directories. */
export function applyFsGroup(target: string, fsGroup: number | undefined, readOnly: boolean, isDir: boolean, mode: number): void {
    if (fsGroup === undefined) {
        chmodSync(target, mode);
        return;
    }
    chownSync(target, 0, fsGroup);
    let mask = readOnly ? 0o440 : 0o660;
    if (isDir) mask |= 0o2110;
    chmodSync(target, mode | mask);
}

/**
 * A configMap or secret volume at `dir`, written anew as the kubelet writes it from the object's `data`:
 * its keys, or the items the volume names, with defaultMode and fsGroup's access. `what` names the volume
 * in the error for an item the object lacks.
 */
export function writeDataVolume(
    what: string,
    dir: string,
    data: Readonly<Record<string, string>>,
    source: { readonly items?: readonly { key: string; path: string }[]; readonly defaultMode?: number },
    fsGroup: number | undefined,
): void {
    removeDir(dir);
    mkdirSync(dir, { recursive: true });
    applyFsGroup(dir, fsGroup, true, true, 0o755);
    for (const item of source.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
        if (!(item.key in data))
            throw new Error(`${what} names key ${item.key}, which its object lacks (its keys: ${Object.keys(data).join(", ")})`);
        const file = path.join(dir, item.path);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, data[item.key]!);
        applyFsGroup(file, fsGroup, true, false, source.defaultMode ?? 0o644);
    }
}

/**
 * A container's env as the kubelet gives it: `base` (the image's ENV), then each var's value, or the key of
 * the Secret or ConfigMap it refers to (`dataOf` reads the object). A var of another source, or a key that
 * does not exist, is refused.
 */
export function containerEnv(
    c: Container,
    dataOf: (kind: "Secret" | "ConfigMap", name: string) => Readonly<Record<string, string>>,
    base: Readonly<Record<string, string>> = {},
): Record<string, string> {
    const env: Record<string, string> = { ...base };
    for (const e of c.env ?? []) {
        refuseUnknown(`container ${c.name}'s env ${e.name}`, e, MODELLED.env);
        refuseUnknown(`container ${c.name}'s env ${e.name} valueFrom`, e.valueFrom, ["secretKeyRef", "configMapKeyRef"]);
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        const kind = e.valueFrom?.secretKeyRef ? "Secret" : "ConfigMap";
        const value = ref ? dataOf(kind, ref.name)[ref.key] : (e.value ?? "");
        if (value === undefined)
            throw new Error(
                `pod stand-in: container ${c.name}'s env ${e.name} names ${kind} key ${ref!.name}/${ref!.key}, which does not exist`,
            );
        env[e.name] = value;
    }
    return env;
}

/**
 * setpriv's arguments for the container's securityContext (over the pod's): its user and group, fsGroup as
 * the one supplementary group, the capability bounding set (ALL dropped, the added ones kept, and kept
 * across exec by a non-root user, as the runtime grants them), no_new_privs when privilege escalation is off.
 */
export function setprivArgs(security: SecurityContext, fsGroup: number | undefined): string[] {
    const user = security.runAsUser ?? 0;
    const group = security.runAsGroup ?? user;
    const added = (security.capabilities?.add ?? []).map((cap) => `+${cap.toLowerCase()}`);
    const dropsAll = security.capabilities?.drop?.includes("ALL") ?? false;
    return [
        `--reuid=${user}`,
        `--regid=${group}`,
        fsGroup === undefined ? "--clear-groups" : `--groups=${fsGroup}`,
        ...(dropsAll ? [`--bounding-set=-all${added.map((a) => `,${a}`).join("")}`] : []),
        ...(added.length && user !== 0 ? [`--inh-caps=-all,${added.join(",")}`, `--ambient-caps=-all,${added.join(",")}`] : []),
        ...(security.allowPrivilegeEscalation === false ? ["--no-new-privs"] : []),
    ];
}

/** A path of this machine mounted in a container's root at `target`. */
export interface Mount {
    readonly source: string;
    readonly target: string;
    readonly readOnly: boolean;
    /** With what is mounted below `source` (a bind of this machine's /usr). */
    readonly recursive?: boolean;
}

/**
 * The start of a container's script, run in a private mount namespace: its root `rootfs` (with /dev and
 * /proc), then `binds` (this machine's files that stand in for the image's), then the volumes (`mounts`,
 * parents first), then the root read-only if the container asks for it.
 */
export function mountLines(rootfs: string, binds: readonly Mount[], mounts: readonly Mount[], readOnlyRoot: boolean): string[] {
    return [
        "set -eu",
        `root=${shq(rootfs)}`,
        'mount --bind "$root" "$root"',
        'mount --bind /dev "$root/dev"',
        'mount -t proc proc "$root/proc"',
        ...binds.flatMap((b) => [
            `mount ${b.recursive ? "--rbind" : "--bind"} ${shq(b.source)} "$root"${shq(b.target)}`,
            ...(b.readOnly ? [`mount -o remount,bind,ro "$root"${shq(b.target)}`] : []),
        ]),
        ...mounts.flatMap((m) => [
            `mount --bind ${shq(m.source)} "$root"${shq(m.target)}`,
            ...(m.readOnly ? [`mount -o remount,bind,ro "$root"${shq(m.target)}`] : []),
        ]),
        ...(readOnlyRoot ? ['mount -o remount,bind,ro "$root"'] : []),
    ];
}

/** The PATH container runtimes give a container whose image sets none. */
export const RUNTIME_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SETPRIV = "/.stand-in/setpriv";

/** Lays out the pod of the workload from the objects and, for a Deployment, starts it. */
export async function startPodStandIn(options: PodStandInOptions): Promise<PodStandIn> {
    const kind = options.kind ?? "Deployment";
    const workload = options.objects.find((o) => o.kind === kind && o.metadata.name === options.name) as
        | (K8sObject & { spec: { template?: { spec: unknown }; jobTemplate?: { spec: { template: { spec: unknown } } } } })
        | undefined;
    if (!workload) throw new Error(`pod stand-in: no ${kind} ${options.name} among the objects`);
    const spec = (kind === "CronJob" ? workload.spec.jobTemplate!.spec.template.spec : workload.spec.template!.spec) as PodSpec;
    refuseUnknown(`${kind} ${options.name}'s pod`, spec, [...MODELLED.pod, ...MODELLED.podIgnored]);
    refuseUnknown("the pod's securityContext", spec.securityContext, [...MODELLED.securityContext, ...MODELLED.securityContextIgnored]);
    const fsGroup = spec.securityContext?.fsGroup;

    const dir = privateDir(`pod-${options.name}`);
    const root = options.root ?? path.join(dir, "root");
    mkdirSync(root, { recursive: true });
    chmodSync(dir, 0o777);
    const ns = await createNetns(options.netns);
    const servers: ServerProcess[] = [];
    let destroyed = false;
    const destroy = async () => {
        if (destroyed) return;
        destroyed = true;
        try {
            if (existsSync(path.join(dir, "pod.sh"))) run("sh", [path.join(dir, "pod.sh"), "stop"], { timeout: 120_000 });
        } finally {
            for (const s of servers.splice(0).reverse()) await s.stop();
            await ns.destroy();
            removeDir(dir);
        }
    };

    try {
        // Volumes: where each is mounted (one path per volume), written as the objects hold them.
        const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
        const volumePath = new Map<string, string>();
        for (const c of spec.containers) {
            for (const m of c.volumeMounts ?? []) {
                refuseUnknown(`container ${c.name}'s mount ${m.mountPath}`, m, MODELLED.mount);
                if (!volumes.has(m.name))
                    throw new Error(`pod stand-in: container ${c.name} mounts volume ${m.name}, which the pod does not have`);
                const known = volumePath.get(m.name);
                if (known !== undefined && known !== m.mountPath)
                    throw new Error(
                        `pod stand-in: volume ${m.name} is mounted at ${known} and ${m.mountPath}; one path per volume is modelled`,
                    );
                const other = [...volumePath].find(([name, p]) => p === m.mountPath && name !== m.name);
                if (other) throw new Error(`pod stand-in: volumes ${other[0]} and ${m.name} are both mounted at ${m.mountPath}`);
                volumePath.set(m.name, m.mountPath);
            }
        }
        // Parents before children: a volume mounted inside another is a directory in it.
        const byDepth = [...volumePath].sort(([, a], [, b]) => a.split("/").length - b.split("/").length);
        for (const [name, mountPath] of byDepth) {
            const v = volumes.get(name)!;
            refuseUnknown(`volume ${name}`, v, MODELLED.volume);
            const target = path.join(root, mountPath);
            const data = v.configMap
                ? { object: dataOf(options.objects, "ConfigMap", v.configMap.name), source: v.configMap }
                : v.secret
                  ? { object: dataOf(options.objects, "Secret", v.secret.secretName), source: v.secret }
                  : undefined;
            if (data) {
                writeDataVolume(`pod stand-in: volume ${name}`, target, data.object, data.source, fsGroup);
            } else if (v.emptyDir) {
                removeDir(target);
                mkdirSync(target, { recursive: true });
                applyFsGroup(target, fsGroup, false, true, 0o777);
            } else if (v.persistentVolumeClaim && !existsSync(target)) {
                const claim = v.persistentVolumeClaim.claimName;
                if (!options.objects.some((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === claim))
                    throw new Error(`pod stand-in: volume ${name} claims ${claim}, which the objects do not create`);
                mkdirSync(target, { recursive: true });
                applyFsGroup(target, fsGroup, false, true, 0o755);
            } else if (!v.configMap && !v.secret && !v.emptyDir && !v.persistentVolumeClaim) {
                throw new Error(`pod stand-in: volume ${name} is of a kind the stand-in does not model`);
            }
        }

        const ports = new Map<string, number>();
        const setpriv = "/usr/bin/setpriv";
        const containerScripts: string[] = [];
        for (const c of spec.containers) {
            refuseUnknown(`container ${c.name}`, c, [...MODELLED.container, ...MODELLED.containerIgnored]);
            refuseUnknown(`container ${c.name}'s securityContext`, c.securityContext, [
                ...MODELLED.securityContext,
                ...MODELLED.securityContextIgnored,
            ]);
            refuseUnknown(`container ${c.name}'s readinessProbe`, c.readinessProbe, [...MODELLED.probe, ...MODELLED.probeIgnored]);
            for (const p of c.ports ?? []) {
                refuseUnknown(`container ${c.name}'s port ${p.containerPort}`, p, ["name", "containerPort", "protocol"]);
                if (p.name) ports.set(p.name, p.containerPort);
            }
            const image = options.images[imageRepository(c.image)];
            if (!image) throw new Error(`pod stand-in: container ${c.name} runs image ${c.image}, for which no stand-in is given`);

            // The container's root: the image's files, busybox's applets, /etc, mount points.
            const rootfs = path.join(dir, "rootfs", c.name);
            for (const d of ["bin", "dev", "proc", "etc", "tmp", "run", ".stand-in/pod"])
                mkdirSync(path.join(rootfs, d), { recursive: true });
            const binds: Mount[] = [{ source: dir, target: "/.stand-in/pod", readOnly: false }];
            const bindFile = (source: string, target: string) => {
                mkdirSync(path.join(rootfs, path.dirname(target)), { recursive: true });
                // A mount point of its own (a busybox applet's link there would carry the mount elsewhere).
                rmSync(path.join(rootfs, target), { force: true });
                writeFileSync(path.join(rootfs, target), "");
                binds.push({ source, target, readOnly: true });
            };
            bindFile("/usr/bin/busybox", "/bin/busybox");
            for (const applet of run("busybox", ["--list"]).stdout.split("\n").filter(Boolean))
                if (!existsSync(path.join(rootfs, "bin", applet))) symlinkSync("busybox", path.join(rootfs, "bin", applet));
            const programs: [string, string][] = [...Object.entries(image.files), [SETPRIV, setpriv]];
            for (const [target, source] of programs) bindFile(source, target);
            for (const lib of new Set(programs.flatMap(([, source]) => librariesOf(source)))) bindFile(lib, lib);
            for (const file of ["passwd", "group"]) writeFileSync(path.join(rootfs, "etc", file), readFileSync(`/etc/${file}`));
            writeFileSync(path.join(rootfs, "etc", "hosts"), `127.0.0.1 localhost\n${ns.address} ${options.name}\n`);
            for (const d of ["", "bin", "etc", "tmp", "run", ".stand-in"]) chmodSync(path.join(rootfs, d), 0o755);
            chmodSync(path.join(rootfs, "tmp"), 0o1777);
            const mounts = [...(c.volumeMounts ?? [])]
                .sort((a, b) => a.mountPath.split("/").length - b.mountPath.split("/").length)
                .map((m) => ({ source: path.join(root, m.mountPath), target: m.mountPath, readOnly: m.readOnly === true }));
            for (const m of mounts) mkdirSync(path.join(rootfs, m.target), { recursive: true });

            // What runs: command (or the image's entrypoint) and args (or, without a command, the image's CMD).
            const argv = c.command ? [...c.command, ...(c.args ?? [])] : [...(image.entrypoint ?? []), ...(c.args ?? image.cmd ?? [])];
            if (argv.length === 0) throw new Error(`pod stand-in: container ${c.name} runs nothing (no command, no entrypoint)`);
            const env = containerEnv(c, (kind, name) => dataOf(options.objects, kind, name), image.env);
            const security = { ...(spec.securityContext ?? {}), ...(c.securityContext ?? {}) };
            const lines = [
                "#!/bin/sh",
                `# Container ${c.name} of the pod stand-in: its mounts in a private mount namespace, then its program`,
                "# (or, given arguments, those: kubectl exec) chrooted, as its user, with its env.",
                ...mountLines(rootfs, binds, mounts, security.readOnlyRootFilesystem === true),
                `[ "$#" -gt 0 ] || set -- ${argv.map(shq).join(" ")}`,
                `exec /usr/bin/env -i PATH=${RUNTIME_PATH} HOME=/ ${Object.entries(env)
                    .map(([k, v]) => shq(`${k}=${v}`))
                    .join(
                        " ",
                    )} /bin/sh -c 'if [ -f "$1" ]; then set -a; . "$1"; set +a; fi; shift; exec /usr/sbin/chroot "$@"' sh ${shq(path.join(dir, "template.env"))} "$root" ${SETPRIV} ${setprivArgs(security, fsGroup).join(" ")} "$@"`,
                "",
            ];
            const script = path.join(dir, "containers", `${c.name}.sh`);
            mkdirSync(path.dirname(script), { recursive: true });
            writeFileSync(script, lines.join("\n"), { mode: 0o755 });
            containerScripts.push(c.name);
        }

        // Readiness, as the kubelet checks it.
        const portOf = (p: number | string) => {
            if (typeof p === "number") return p;
            const found = ports.get(p);
            if (found === undefined) throw new Error(`pod stand-in: a probe names port ${p}, which no container declares`);
            return found;
        };
        const probes = spec.containers
            .filter((c) => c.readinessProbe)
            .map((c) => {
                const p = c.readinessProbe!;
                if (p.exec) return `sh "$pod/pod.sh" exec ${shq(c.name)} ${p.exec.command.map(shq).join(" ")} >/dev/null 2>&1`;
                if (p.tcpSocket)
                    return `ip netns exec ${ns.name} bash -c 'exec 3<>/dev/tcp/${ns.address}/${portOf(p.tcpSocket.port)}' 2>/dev/null`;
                if (p.httpGet)
                    return `ip netns exec ${ns.name} curl -sf -o /dev/null --max-time 2 ${shq(`http://${ns.address}:${portOf(p.httpGet.port)}${p.httpGet.path}`)}`;
                throw new Error(`pod stand-in: container ${c.name}'s readinessProbe has no handler the stand-in runs`);
            });
        const emptyDirs = byDepth.filter(([name]) => volumes.get(name)!.emptyDir).map(([, p]) => path.join(root, p));
        const control = `#!/bin/sh
# Pod stand-in of ${kind} ${options.name} (tests only): start | stop | restart | run | exec CONTAINER ARGS...
set -eu
pod=${shq(dir)}
renew_empty_dirs() {
  # A new pod's emptyDirs start empty.
  :
  ${emptyDirs.map((d) => `rm -rf ${shq(d)} && mkdir -m 0777 ${shq(d)}${fsGroup === undefined ? "" : ` && chown 0:${fsGroup} ${shq(d)} && chmod 2777 ${shq(d)}`}`).join("\n  ")}
}
stop() {
  for name in ${[...containerScripts].reverse().join(" ")}; do
    if [ -f "$pod/$name.pid" ]; then
      pid=$(cat "$pod/$name.pid")
      kill -TERM "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
      rm -f "$pod/$name.pid"
    fi
  done
}
start() {
  renew_empty_dirs
  date +%s.%N >> "$pod/starts"
  for name in ${containerScripts.join(" ")}; do
    ip netns exec ${ns.name} unshare --mount --propagation private sh "$pod/containers/$name.sh" </dev/null >>"$pod/$name.log" 2>&1 &
    echo $! > "$pod/$name.pid"
  done
  tries=0
  until ${probes.length ? probes.join(" && ") : "true"}; do
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then echo "pod ${options.name}: not ready; see $pod/*.log" >&2; exit 1; fi
    for name in ${containerScripts.join(" ")}; do
      kill -0 "$(cat "$pod/$name.pid")" 2>/dev/null || { echo "pod ${options.name}: container $name exited; see $pod/$name.log" >&2; exit 1; }
    done
    sleep 0.1
  done
}
case "\${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  run)
    # A Job's pod: its emptyDirs new, its one container run to its end.
    renew_empty_dirs
    ${containerScripts.length === 1 ? `exec ip netns exec ${ns.name} unshare --mount --propagation private sh "$pod/containers/${containerScripts[0]}.sh" </dev/null` : `echo "pod ${options.name}: run takes a pod of one container" >&2; exit 1`} ;;
  exec)
    name="$2"; shift 2
    [ -f "$pod/containers/$name.sh" ] || { echo "pod ${options.name} has no container $name" >&2; exit 1; }
    exec ip netns exec ${ns.name} unshare --mount --propagation private sh "$pod/containers/$name.sh" "$@" ;;
  *) echo "usage: pod.sh start | stop | restart | run | exec CONTAINER ARGS..." >&2; exit 2 ;;
esac
`;
        writeFileSync(path.join(dir, "pod.sh"), control, { mode: 0o755 });

        // The pod's 127.0.0.1:port → this machine's end of the link → this machine's 127.0.0.1:port; and
        // this machine's 127.0.0.1:local → the pod's address at port + 30000 → the pod's 127.0.0.1:port.
        const localPorts = new Map<number, number>();
        for (const port of options.portForwards ?? []) localPorts.set(port, await freePort());
        const outside: [string, string][] = [
            ...(options.loopbackServices ?? []).map((p): [string, string] => [`${ns.hostAddress}:${p}`, `127.0.0.1:${p}`]),
            ...[...localPorts].map(([p, local]): [string, string] => [`127.0.0.1:${local}`, `${ns.address}:${p + 30_000}`]),
        ];
        const inside: [string, string][] = [
            ...(options.loopbackServices ?? []).map((p): [string, string] => [`127.0.0.1:${p}`, `${ns.hostAddress}:${p}`]),
            ...[...localPorts.keys()].map((p): [string, string] => [`${ns.address}:${p + 30_000}`, `127.0.0.1:${p}`]),
        ];
        if (inside.length > 0) {
            servers.push(startForwarderProcess(inside, (c, a) => ns.startServer(c, a)));
            for (const [listen] of inside.filter(([l]) => l.startsWith(ns.address)))
                await ns.waitForPort(Number(listen.split(":")[1]), 30_000);
        }
        if (outside.length > 0) servers.push(await startForwarders(outside));

        const readLog = (file: string) => (existsSync(path.join(dir, file)) ? readFileSync(path.join(dir, file), "utf8") : "");
        const logs = () => spec.containers.map((c) => `--- ${c.name}\n${readLog(`${c.name}.log`).slice(-8000)}`).join("\n");
        const podSh = (...args: string[]) => {
            const r = run("sh", [path.join(dir, "pod.sh"), ...args], { timeout: 300_000 });
            if (r.code !== 0) throw new Error(`pod.sh ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}\n${logs()}`);
        };
        const pod: PodStandIn = {
            root,
            dir,
            ns,
            port(name) {
                const found = ports.get(name);
                if (found === undefined) throw new Error(`pod ${options.name} declares no port ${name}`);
                return found;
            },
            declaresPort: (name) => ports.has(name),
            localPort(podPort) {
                const found = localPorts.get(podPort);
                if (found === undefined) throw new Error(`pod ${options.name}: port ${podPort} is not among portForwards`);
                return found;
            },
            start: () => podSh("start"),
            stopContainers: () => podSh("stop"),
            run: () => run("sh", [path.join(dir, "pod.sh"), "run"], { timeout: 600_000 }),
            exec: (container, args) => run("sh", [path.join(dir, "pod.sh"), "exec", container, ...args], { timeout: 300_000 }),
            starts: () => readLog("starts").split("\n").filter(Boolean).length,
            pids: () => Object.fromEntries(spec.containers.map((c) => [c.name, readLog(`${c.name}.pid`).trim()])),
            logs,
            destroy,
        };
        if (kind === "Deployment") pod.start();
        return pod;
    } catch (error) {
        await destroy();
        throw error;
    }
}

/** A forwarder process for `[listen, target]` pairs of `address:port`; `start` runs it (inside a namespace, say). */
function startForwarderProcess(
    pairs: readonly (readonly [string, string])[],
    start: (command: string, args: readonly string[]) => ServerProcess = startServer,
): ServerProcess {
    const code = `const net = require("node:net");
for (const pair of process.argv.slice(1)) {
  const [listen, target] = pair.split("=");
  const [lh, lp] = listen.split(":"); const [th, tp] = target.split(":");
  net.createServer((client) => {
    const upstream = net.connect(Number(tp), th);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on("error", close); upstream.on("error", close);
    client.pipe(upstream).pipe(client);
  }).listen(Number(lp), lh, () => console.log("forwarding " + pair));
}
process.on("SIGTERM", () => process.exit(0));`;
    return start(process.execPath, ["-e", code, ...pairs.map(([l, t]) => `${l}=${t}`)]);
}

/** Forwards each `[listen, target]` pair (on this machine); resolves once every listener accepts connections. */
export async function startForwarders(pairs: readonly (readonly [string, string])[]): Promise<ServerProcess> {
    const server = startForwarderProcess(pairs);
    try {
        for (const [listen] of pairs) {
            const [host, port] = listen.split(":");
            await waitForPort(Number(port), 30_000, `forwarder ${listen}`, host);
        }
    } catch (error) {
        const output = server.output();
        await server.stop();
        throw new Error(`${(error as Error).message}\n${output}`);
    }
    return server;
}
