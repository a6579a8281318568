/**
 * The in-cluster registry pod, played on this machine by its real programs: Distribution
 * (`docker-registry`) with the rendered config.yml and Caddy (the pinned build the sidecar's image
 * runs, test/support/caddyBinaries.ts) with the rendered sidecar Caddyfile, the
 * pod's paths under a private root (`DSO_ROOT`, which the backup scripts honour), and the backup
 * container's scripts and credentials from the rendered ConfigMap and Secret `registry-backup`, run
 * by Debian's restic.
 *
 * Only what needs an API server is a stand-in: a `kubectl` shell script first on PATH. It understands
 * the calls the maintenance jobs make — `set env deployment/registry VAR=…|VAR-` (remembered),
 * `rollout status` (the Recreate rollout: both programs stop, then start again with the remembered
 * environment, and it returns once both answer), `exec … -- /bin/sh SCRIPT ARGS` (runs the script
 * under the root; in the `registry` container with busybox's sh and only busybox's applets on PATH,
 * as the registry:2 image, Alpine without curl, has them, plus the image's `registry`, which is
 * Debian's docker-registry), `exec … -- registry garbage-collect … CONFIG` (runs Debian's
 * docker-registry on the rooted config) — and refuses everything else. It logs every call. The
 * scripts of ConfigMap `registry-config` (the GC job's `gc.sh` and `verify.sh`, …) are placed in the
 * config directory with Distribution's address mapped; they honour DSO_ROOT, as the backup's scripts
 * do. Test hooks, in a `restic`
 * wrapper first on PATH that runs Debian's restic: while a file `hold-pass-2` exists in the pod
 * directory, restic's pass-2 backup (the one with `--parent`) waits before it starts (after writing
 * `holding-pass-2`), so a test can act inside the read-only window; with `fail-pass-2`, that backup
 * fails instead.
 *
 * Each start is a new pod (recorded, see `starts`): its emptyDirs (/tmp under the root, where restic
 * keeps its cache, and the read-only markers' directory) start empty, as on a cluster. What the
 * rendered text names inside the pod is mapped to this machine: the pod's absolute paths
 * get the root in front, and the listen ports become free loopback ports (bound to 127.0.0.1).
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { TOKEN_PATH } from "../../components/accessPolicy/policy";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { distributionCachesBlobs, gcWindow } from "../../components/inCluster/gcWindow";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "../../components/inCluster/inClusterRegistry";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { REGISTRY_METRICS_RELAY_PORT } from "../../components/inCluster/monitoring";
import { RETENTION_COUNTS, retentionCountsServed } from "../../components/inCluster/retentionCounts";
import { IN_CLUSTER, type InClusterBackup, type InClusterSpec } from "../../components/inCluster/spec";
import { MAVEN_BACKEND } from "../../components/maven/nginxConfig";
import { DEFAULT_IMAGES, DEFAULT_KUBECTL_IMAGE, DEFAULT_PROBE_IMAGE } from "../../components/shared/defaults";
import { DISTRIBUTION, METRICS_PORTS } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import type { Retention } from "../../components/upkeep/retention";
import { pinnedCaddy } from "./caddyBinaries";
import { DEPLOYED_REGISTRY_IMAGE, deployedRegistry } from "./distributionBinaries";
import { makeTestCa, type TestAccount, type TestCa } from "./realRegistry";
import { freePort, privateDir, removeDir, run, runOk } from "./serverProcess";

/** A rendered CronJob's inline script: its container runs `/bin/sh -c SCRIPT`. */
export function cronJobScript(objects: readonly K8sObject[], name: string): string {
    const job = objects.find((o) => o.kind === "CronJob" && o.metadata.name === name) as
        | { spec: { jobTemplate: { spec: { template: { spec: { containers: { command: string[] }[] } } } } } }
        | undefined;
    if (!job) throw new Error(`no CronJob ${name} among the rendered objects`);
    const command = job.spec.jobTemplate.spec.template.spec.containers[0]!.command;
    if (command.length !== 3 || command[0] !== "/bin/sh" || command[1] !== "-c")
        throw new Error(`CronJob ${name} does not run /bin/sh -c SCRIPT: ${JSON.stringify(command)}`);
    return command[2]!;
}

/** What a job printed and how it ended; `output` is stdout and stderr in the order they came. */
export interface JobRun {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly output: string;
}

/** Runs the CronJob's script as rendered, as its pod would, with the stand-in kubectl against `pod`. */
export function runCronJob(pod: Pick<RegistryPodStandIn, "env">, objects: readonly K8sObject[], name: string): Promise<JobRun> {
    const child = spawn("/bin/sh", ["-c", cronJobScript(objects, name)], { env: pod.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        output += d.toString();
    });
    return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr, output })));
}

export interface RegistryPodStandIn {
    /** The pod's filesystem root (DSO_ROOT). */
    readonly root: string;
    /** The pod directory: the stand-in's state, pid files and the programs' logs. */
    readonly podDir: string;
    /** `localhost:<port>`: the sidecar's TLS site, as clients name it. */
    readonly authority: string;
    /** The loopback port of the sidecar's metrics listener (`METRICS_PORTS.caddy` in the pod), with monitoring. */
    readonly metricsPort: number;
    /** Directory with ca.crt for clients. */
    readonly certDir: string;
    readonly ca: TestCa;
    /** Environment for the jobs' scripts: the stand-in kubectl first on PATH, DSO_ROOT. */
    readonly env: NodeJS.ProcessEnv;
    /** Every kubectl call so far, one a line. */
    kubectlCalls(): string[];
    /** When each kubectl call started and ended (seconds since the epoch), in order. */
    kubectlTimes(): { readonly at: number; readonly edge: "start" | "end"; readonly call: string }[];
    /** How many times the pod's programs were started (each start restarts Distribution and Caddy). */
    starts(): number;
    /** The running programs' process ids, to show that nothing restarted in between. */
    pids(): { readonly registry: string; readonly caddy: string };
    /** Starts (or restarts) the pod, as a rollout does. */
    rollout(): void;
    /** Stops the pod's programs (the Deployment scaled to 0). */
    scaleToZero(): void;
    /** Logs of Distribution and Caddy, for failure messages. */
    logs(): string;
    /** Stops everything started and removes the directories. */
    stop(): void;
}

/**
 * The objects as InClusterRegistry renders them, with plain values where it passes secrets: filesystem
 * storage with garbage collection on, hence deletes through the API allowed (the stack's `deletes.api`)
 * and the GC job's window and Distribution's cache as `gcWindow` decides for one pod.
 */
export function renderPodObjects(
    host: string,
    push: TestAccount,
    pull: TestAccount,
    backup?: InClusterBackup,
    retention?: Retention,
    options: { readonly monitoring?: boolean } = {},
): K8sObject[] {
    const storage = { kind: "filesystem", size: "20Gi" } as const;
    const garbageCollection = { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false };
    const monitoring = options.monitoring
        ? { prometheusOperator: true, runbookBaseUrl: "docs/runbooks.md", cacheClaims: [], probeImage: DEFAULT_PROBE_IMAGE }
        : undefined;
    const policy = sidecarPolicy({
        host,
        requiresAuthForPull: false,
        deletesEnabled: true,
        storage: "filesystem",
        backup: true,
        gcWindow: gcWindow({ storage, garbageCollection }),
        metrics: monitoring !== undefined,
        retentionCounts: retentionCountsServed({ monitoring, retention, storage, garbageCollection }),
    });
    const pushUsers = renderUsersFile("push", [push]);
    const spec: InClusterSpec = {
        namespace: "dso",
        host,
        ingressClass: "public",
        ingressController: "nginx",
        tls: { kind: "secret", certPem: "unused", keyPem: "unused" },
        images: { registry: DEPLOYED_REGISTRY_IMAGE, caddy: DEFAULT_IMAGES.caddy, ui: "ui", kubectl: DEFAULT_KUBECTL_IMAGE },
        replicas: 1,
        storage,
        allowedNetworks: [],
        ui: { enabled: false, deleteEnabled: false },
        garbageCollection,
        publishLocalRegistryHosting: false,
        caddyfile: renderSidecarCaddyfile(policy, SIDECAR_TLS),
        registryConfig: renderRegistryConfig({
            addr: IN_CLUSTER.registryAddr,
            storage: { kind: "filesystem", rootDirectory: IN_CLUSTER.dataDir },
            deletesEnabled: true,
            blobDescriptorCache: distributionCachesBlobs({ storage, garbageCollection }),
        }),
        users: { push: pushUsers, pull: renderUsersFile("pull", [pull]), htpasswd: "" },
        httpSecret: randomBytes(24).toString("hex"),
        configChecksum: "test",
        ...(backup ? { backup } : {}),
        ...(retention ? { retention } : {}),
        ...(monitoring ? { monitoring } : {}),
    };
    return renderInClusterObjects(spec);
}

/** Whether the registry Deployment has the volume `name`. */
function podHasVolume(objects: readonly K8sObject[], name: string): boolean {
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === IN_CLUSTER.name) as
        | { spec: { template: { spec: { volumes: { name: string }[] } } } }
        | undefined;
    if (!deployment) throw new Error(`no Deployment ${IN_CLUSTER.name} among the rendered objects`);
    return deployment.spec.template.spec.volumes.some((v) => v.name === name);
}

/** The `stringData` of a rendered object, or its `data`. */
function dataOf(objects: readonly K8sObject[], kind: string, name: string): Record<string, string> {
    const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!object) throw new Error(`no ${kind}/${name} among the rendered objects`);
    return ((object as Record<string, unknown>).stringData ?? (object as Record<string, unknown>).data) as Record<string, string>;
}

const POD_PATHS = [
    IN_CLUSTER.configDir,
    IN_CLUSTER.dataDir,
    IN_CLUSTER.tlsDir,
    MAVEN_BACKEND.dataDir,
    "/etc/dso-registry-backup",
    IN_CLUSTER_BACKUP.signalDir,
    RETENTION_COUNTS.dir,
];

/** Puts the root in front of every pod path the text names, in one pass (one path may begin another). */
function rooted(text: string, root: string): string {
    const longestFirst = [...POD_PATHS].sort((a, b) => b.length - a.length).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return text.replace(new RegExp(longestFirst.join("|"), "g"), (p) => `${root}${p}`);
}

const KUBECTL = `#!/bin/sh
# Stand-in for kubectl (tests only): the calls the registry's maintenance jobs make, against the pod
# played by local processes. Anything else is refused.
set -eu
pod="$POD_DIR"
echo "$*" >> "$pod/kubectl.log"
printf '%s start %s\n' "$(date +%s.%N)" "$*" >> "$pod/kubectl.times"
call="$*"
status=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --namespace) shift 2 ;;
    --namespace=*) shift ;;
    *) break ;;
  esac
done
case "$1 \${2:-}" in
  "set env")
    case "$4" in
      *=*) printf '%s' "\${4#*=}" > "$pod/read-only" ;;
      *-) rm -f "$pod/read-only" ;;
    esac ;;
  "rollout status") sh "$pod/restart" || status=$? ;;
  "get pods")
    case "$call" in
      *--all-namespaces*) cat "$pod/workloads" 2>/dev/null || true ;;
      *) echo "kubectl stand-in: not a call the jobs make: $call" >&2; exit 1 ;;
    esac ;;
  "exec "*)
    container=""
    while [ "$1" != -- ]; do
      case "$1" in --container=*) container="\${1#--container=}" ;; esac
      shift
    done
    shift
    if [ "$1" = registry ]; then
      # Distribution's own command (the GC job's collection) is the deployed version's build here
      # ($pod/busybox/registry); the pod's absolute paths get the root in front (they hold no spaces).
      shift
      args=""
      for a in "$@"; do case "$a" in /*) args="$args $DSO_ROOT$a" ;; *) args="$args $a" ;; esac; done
      # shellcheck disable=SC2086
      "$pod/busybox/registry" $args || status=$?
    elif [ "$container" = registry ]; then
      # The registry:2 image is Alpine: busybox's sh and applets, no curl.
      script="$2"; shift 2
      PATH="$pod/busybox" "$pod/busybox/sh" "$DSO_ROOT$script" "$@" || status=$?
    else
      shell="$1"; script="$2"; shift 2
      "$shell" "$DSO_ROOT$script" "$@" || status=$?
    fi ;;
  *) echo "kubectl stand-in: not a call the jobs make: $*" >&2; exit 1 ;;
esac
printf '%s end %s\n' "$(date +%s.%N)" "$call" >> "$pod/kubectl.times"
exit "$status"
`;

/** restic with the tests' hooks on pass 2 (see the header); every other call goes straight through. */
const RESTIC = `#!/bin/sh
set -eu
pod="$POD_DIR"
case " $* " in
  *" backup "*" --parent "*)
    if [ -e "$pod/fail-pass-2" ]; then echo "restic stand-in: pass 2 fails (test hook)" >&2; exit 1; fi
    if [ -e "$pod/hold-pass-2" ]; then
      : > "$pod/holding-pass-2"
      while [ -e "$pod/hold-pass-2" ]; do sleep 0.1; done
    fi ;;
esac
exec /usr/bin/restic "$@"
`;

/** Stops the pod's programs by their pid files, then (unless "stop") starts them with the remembered environment. */
function restartScript(pod: string, root: string, registryPort: number, frontPort: number, emptyDirs: readonly string[]): string {
    return `#!/bin/sh
set -eu
pod=${JSON.stringify(pod)}
for name in caddy registry; do
  if [ -f "$pod/$name.pid" ]; then
    pid=$(cat "$pod/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$pod/$name.pid"
  fi
done
[ "\${1:-}" = stop ] && exit 0
# A new pod gets new emptyDirs: /tmp (restic's cache and temporary files among them), the
# read-only markers' directory and retention's counts' directory (when the pod has it) start empty.
rm -rf ${JSON.stringify(`${root}/tmp`)} ${JSON.stringify(`${root}${IN_CLUSTER_BACKUP.signalDir}`)}
mkdir -m 1777 ${JSON.stringify(`${root}/tmp`)}
mkdir -p ${JSON.stringify(`${root}${IN_CLUSTER_BACKUP.signalDir}`)}
${emptyDirs
    .map(
        (d) => `rm -rf ${JSON.stringify(`${root}${d}`)}
mkdir -m 1777 ${JSON.stringify(`${root}${d}`)}
`,
    )
    .join("")}
date +%s.%N >> "$pod/starts"
if [ -f "$pod/read-only" ]; then
  ${IN_CLUSTER.readOnlyEnv}=$(cat "$pod/read-only")
  export ${IN_CLUSTER.readOnlyEnv}
fi
"$pod/busybox/registry" serve ${JSON.stringify(`${root}${IN_CLUSTER.configDir}/config.yml`)} </dev/null >>"$pod/registry.log" 2>&1 &
echo $! > "$pod/registry.pid"
XDG_DATA_HOME="$pod/caddy-data" XDG_CONFIG_HOME="$pod/caddy-config" ${JSON.stringify(pinnedCaddy())} run --config "$pod/Caddyfile" --adapter caddyfile </dev/null >>"$pod/caddy.log" 2>&1 &
echo $! > "$pod/caddy.pid"
tries=0
until curl -s -o /dev/null --max-time 2 http://127.0.0.1:${registryPort}/v2/ && curl -s -o /dev/null --max-time 2 http://127.0.0.1:${frontPort}/v2/; do
  tries=$((tries + 1))
  if [ "$tries" -ge 300 ]; then echo "the pod did not start; see $pod/*.log" >&2; exit 1; fi
  sleep 0.1
done
`;
}

/**
 * Lays out the pod from the rendered objects (ConfigMaps and Secrets with plain values) and starts it.
 * `host` must be the spec's host name; it is served as localhost by the TLS site, so it must be "localhost".
 */
export async function startRegistryPodStandIn(objects: readonly K8sObject[], host: string): Promise<RegistryPodStandIn> {
    if (host !== "localhost") throw new Error('render the spec with host "localhost": the TLS site is reached by that name');
    const root = privateDir("cb-pod-root");
    const podDir = privateDir("cb-pod");
    const bin = path.join(podDir, "bin");
    const [registryPort, frontPort, tlsPort, metricsPort, relayPort] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
    ];
    const place = (file: string, body: string, mode = 0o644) => {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, body, { mode });
    };
    const config = dataOf(objects, "ConfigMap", IN_CLUSTER.configMap);
    const users = dataOf(objects, "Secret", IN_CLUSTER.htpasswdSecret);
    const ca = makeTestCa(path.join(podDir, "tls"), [host]);
    const certDir = path.join(podDir, "client-certs");
    place(path.join(certDir, "ca.crt"), ca.caCertPem);
    place(`${root}${IN_CLUSTER.tlsDir}/tls.crt`, readFileSync(ca.serverCertFile, "utf8"));
    place(`${root}${IN_CLUSTER.tlsDir}/tls.key`, readFileSync(ca.serverKeyFile, "utf8"), 0o600);
    for (const key of ["push", "pull"]) place(`${root}${IN_CLUSTER.usersDir}/${key}`, users[key] ?? "");

    const registryConfig = rooted(config["config.yml"] ?? "", root).replace(IN_CLUSTER.registryAddr, `127.0.0.1:${registryPort}`);
    place(`${root}${IN_CLUSTER.configDir}/config.yml`, registryConfig);
    const caddyfile = rooted(config.Caddyfile ?? "", root)
        .split(IN_CLUSTER.registryAddr)
        .join(`127.0.0.1:${registryPort}`)
        .replace(`http://:${IN_CLUSTER.servicePort} {`, `http://:${frontPort} {\n\tbind 127.0.0.1`)
        .replace(`${host}:${IN_CLUSTER.tlsPort} {`, `${host}:${tlsPort} {\n\tbind 127.0.0.1`)
        .replace(`http://:${METRICS_PORTS.caddy} {`, `http://:${metricsPort} {\n\tbind 127.0.0.1`)
        .replace(`http://:${REGISTRY_METRICS_RELAY_PORT} {`, `http://:${relayPort} {\n\tbind 127.0.0.1`)
        // The realm names the registry's public host on 443, the ingress's port; here the TLS site's port.
        .split(`://${host}${TOKEN_PATH}`)
        .join(`://${host}:${tlsPort}${TOKEN_PATH}`);
    place(path.join(podDir, "Caddyfile"), caddyfile);
    for (const [key, text] of Object.entries(config)) {
        if (key === "config.yml" || key === "Caddyfile") continue;
        // Scripts put the root in front of the pod's paths themselves (DSO_ROOT), as the backup's do.
        const mapped = key.endsWith(".sh") ? text : rooted(text, root);
        place(`${root}${IN_CLUSTER.configDir}/${key}`, mapped.split(IN_CLUSTER.registryAddr).join(`127.0.0.1:${registryPort}`));
    }
    mkdirSync(`${root}${IN_CLUSTER.dataDir}`, { recursive: true });

    if (objects.some((o) => o.kind === "ConfigMap" && o.metadata.name === IN_CLUSTER_BACKUP.name)) {
        for (const [key, text] of Object.entries(dataOf(objects, "ConfigMap", IN_CLUSTER_BACKUP.name))) {
            place(`${root}${IN_CLUSTER_BACKUP.scriptsDir}/${key}`, text);
        }
        for (const [key, text] of Object.entries(dataOf(objects, "Secret", IN_CLUSTER_BACKUP.name))) {
            place(`${root}${IN_CLUSTER_BACKUP.secretDir}/${key}`, text, 0o600);
        }
        // The mount point of PVC registry-backup (volume destination), as the image's directories are.
        if (objects.some((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === IN_CLUSTER_BACKUP.name)) {
            mkdirSync(`${root}${IN_CLUSTER_BACKUP.volumeDir}`, { recursive: true, mode: 0o755 });
        }
    }
    place(path.join(bin, "kubectl"), KUBECTL, 0o755);
    place(path.join(bin, "restic"), RESTIC, 0o755);
    mkdirSync(path.join(podDir, "busybox"));
    runOk("busybox", ["--install", "-s", path.join(podDir, "busybox")]);
    // The image's own command beside busybox's applets: the build of the deployed Distribution, with
    // the environment every placement gives it.
    place(
        path.join(podDir, "busybox", "registry"),
        `#!/bin/sh\n${Object.entries(DISTRIBUTION.environment)
            .map(([k, v]) => `export ${k}=${v}\n`)
            .join("")}exec ${JSON.stringify(deployedRegistry().path)} "$@"\n`,
        0o755,
    );
    // Tag retention's counts: an emptyDir when the Deployment has it (nothing there otherwise).
    const emptyDirs = podHasVolume(objects, RETENTION_COUNTS.volume) ? [RETENTION_COUNTS.dir] : [];
    place(path.join(podDir, "restart"), restartScript(podDir, root, registryPort, frontPort, emptyDirs), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DSO_ROOT: root, POD_DIR: podDir };
    const sh = (...args: string[]) => {
        const r = run("sh", args, { env, timeout: 120_000 });
        if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    };
    const readLog = (name: string) => (existsSync(path.join(podDir, name)) ? readFileSync(path.join(podDir, name), "utf8") : "");
    const pod: RegistryPodStandIn = {
        root,
        podDir,
        authority: `${host}:${tlsPort}`,
        metricsPort,
        certDir,
        ca,
        env,
        kubectlCalls: () => readLog("kubectl.log").split("\n").filter(Boolean),
        kubectlTimes: () =>
            readLog("kubectl.times")
                .split("\n")
                .filter(Boolean)
                .map((line) => {
                    const [at, edge, ...call] = line.split(" ");
                    return { at: Number(at), edge: edge as "start" | "end", call: call.join(" ") };
                }),
        starts: () => readLog("starts").split("\n").filter(Boolean).length,
        pids: () => ({ registry: readLog("registry.pid").trim(), caddy: readLog("caddy.pid").trim() }),
        rollout: () => sh(path.join(podDir, "restart")),
        scaleToZero: () => sh(path.join(podDir, "restart"), "stop"),
        logs: () => `--- registry\n${readLog("registry.log").slice(-20_000)}\n--- caddy\n${readLog("caddy.log").slice(-20_000)}`,
        stop: () => {
            try {
                pod.scaleToZero();
            } finally {
                removeDir(root);
                removeDir(podDir);
            }
        },
    };
    try {
        pod.rollout();
    } catch (error) {
        const logs = pod.logs();
        pod.stop();
        throw new Error(`${(error as Error).message}\n${logs}`);
    }
    chmodSync(root, 0o755);
    return pod;
}
