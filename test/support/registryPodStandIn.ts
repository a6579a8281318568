/**
 * The in-cluster registry pod, played on this machine by running the Deployment the program
 * synthesizes (test/support/podStandIn.ts: every container as specified, in a network namespace of
 * the pod's own), with the images' programs built here: Distribution (the deployed version's build,
 * test/support/distributionBinaries.ts), the pinned Caddy (test/support/caddyBinaries.ts) and Debian's
 * restic. The stack is an in-cluster one of the test's own (`synthRegistryPod`): its config is the
 * test's, its certificate the test CA's, the push account's password the test's.
 *
 * Only what needs an API server is a stand-in: a `kubectl` shell script first on PATH. It understands
 * the calls the upkeep jobs make — `set env deployment/registry VAR=…|VAR-` (the template's
 * environment, remembered in the pod's template.env), `rollout status` (the Recreate rollout: the pod
 * stops, then starts again with the template, and it returns once the readiness probes pass), `exec
 * [-i] deployment/registry [--container=NAME] -- ARGS` (ARGS run in that container, the first one when
 * none is named, as `kubectl exec` runs them) and `get pods --all-namespaces …` (the images the test
 * lists in the pod directory's file `workloads`) — and refuses everything else. It logs every call
 * (kubectl.log, and kubectl.times with when each started and ended).
 *
 * Test hooks, in the restic the backup container's image holds (a wrapper that runs Debian's restic):
 * while a file `hold-pass-2` exists in the pod directory, restic's pass-2 backup (the one with
 * `--parent`) waits before it starts (after writing `holding-pass-2`), so a test can act inside the
 * read-only window; with `fail-pass-2`, that backup fails instead.
 *
 * Clients reach the sidecar's TLS site at `authority`, `localhost:<port>`: the stack publishes the
 * registry on a free loopback port (containerRegistry.port, which the token realm names), forwarded to
 * the pod's `https` port, so stand-ins of several test files run side by side. The metrics listener is at
 * `metricsPort` (forwarded to the pod's `metrics` port).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { SecretName } from "../../components/config";
import type { K8sObject } from "../../components/shared/k8sObject";
import { pinnedCaddy } from "./caddyBinaries";
import { DEPLOYED_REGISTRY_IMAGE, deployedRegistry } from "./distributionBinaries";
import { type ImageStandIn, type PodStandIn, startForwarders, startPodStandIn } from "./podStandIn";
import { makeTestCa, type TestAccount, type TestCa } from "./realRegistry";
import { type StackSettings, synthStackObjects } from "./registryStack";
import { freePort, privateDir, removeDir, run, type ServerProcess } from "./serverProcess";

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

/**
 * The images of the registry's pods, with this machine's programs: `distribution` as the registry
 * image's /bin/registry behind the image's entrypoint, the pinned Caddy, Debian's nginx, and restic
 * with the tests' hooks (see the header). Files the images need are written to `dir`.
 */
export function registryImages(dir: string, distribution: string): Record<string, ImageStandIn> {
    mkdirSync(dir, { recursive: true });
    const file = (name: string, text: string) => {
        writeFileSync(path.join(dir, name), text, { mode: 0o755 });
        return path.join(dir, name);
    };
    return {
        // docker-library/registry's entrypoint.sh (the same for 2.x and 3.x).
        registry: {
            files: {
                "/bin/registry": distribution,
                "/entrypoint.sh": file(
                    "registry-entrypoint.sh",
                    `#!/bin/sh
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
`,
                ),
            },
            entrypoint: ["/entrypoint.sh"],
            cmd: ["/etc/docker/registry/config.yml"],
        },
        caddy: {
            files: { "/usr/bin/caddy": pinnedCaddy() },
            cmd: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
            env: { XDG_CONFIG_HOME: "/config", XDG_DATA_HOME: "/data" },
        },
        // The official nginx image's entrypoint runs its /docker-entrypoint.d scripts (it has none that apply) and execs the command.
        nginx: {
            files: {
                "/usr/sbin/nginx": "/usr/sbin/nginx",
                "/docker-entrypoint.sh": file("nginx-entrypoint.sh", '#!/bin/sh\nset -e\nexec "$@"\n'),
            },
            entrypoint: ["/docker-entrypoint.sh"],
            cmd: ["nginx", "-g", "daemon off;"],
        },
        "restic/restic": {
            files: {
                "/usr/bin/restic": file(
                    "restic",
                    `#!/bin/sh
# restic with the tests' hooks on pass 2 (test/support/registryPodStandIn.ts); every other call goes straight through.
set -eu
pod=/.stand-in/pod
case " $* " in
  *" backup "*" --parent "*)
    if [ -e "$pod/fail-pass-2" ]; then echo "restic stand-in: pass 2 fails (test hook)" >&2; exit 1; fi
    if [ -e "$pod/hold-pass-2" ]; then
      : > "$pod/holding-pass-2"
      while [ -e "$pod/hold-pass-2" ]; do sleep 0.1; done
    fi ;;
esac
exec /.stand-in/restic "$@"
`,
                ),
                "/.stand-in/restic": "/usr/bin/restic",
            },
            entrypoint: ["/usr/bin/restic"],
        },
    };
}

/** An in-cluster stack of the test's own, as the program synthesizes it, and what clients need to reach it. */
export interface RegistryPodStack {
    readonly objects: K8sObject[];
    /** `localhost:<port>`: the registry as its clients address it (containerRegistry.host and port). */
    readonly authority: string;
    /** The CA of the registry's certificate (the stack's `provided` certificate). */
    readonly ca: TestCa;
    /** Where the CA lives; the pod stand-in removes it when it stops. */
    readonly dir: string;
}

/**
 * The objects of an in-cluster stack on filesystem storage with garbage collection on (and
 * `maintenance` over that: backup, retention), monitoring as asked (off by default), Jenkins and node
 * delivery off, the host `localhost` on a free port, the push account `push` with its password as
 * the operator's, `pull` as the pull account's name, and a certificate of a test CA.
 */
export async function synthRegistryPod(options: {
    readonly push: TestAccount;
    readonly pull: TestAccount;
    /** registry.maintenance settings over garbage collection on. */
    readonly maintenance?: Readonly<Record<string, unknown>>;
    readonly monitoring?: boolean;
    /**
     * Other top-level settings (mavenRegistry, say), or a function of the registry's port that gives them
     * (a Maven repository the front serves is on the registry's own host and port).
     */
    readonly settings?: StackSettings | ((port: number) => StackSettings);
    readonly secrets?: Partial<Record<SecretName, string>>;
}): Promise<RegistryPodStack> {
    const dir = privateDir("registry-pod-stack");
    const ca = makeTestCa(path.join(dir, "ca"), ["localhost"]);
    const { garbageCollection, ...maintenance } = options.maintenance ?? {};
    const port = await freePort();
    const objects = await synthStackObjects(
        {
            containerRegistry: {
                host: "localhost",
                port,
                pathPrefix: "",
                pushUsername: options.push.username,
                pushCredentials: "operator",
                pullUsername: options.pull.username,
            },
            jenkins: { enabled: false },
            nodes: { delivery: "none" },
            registry: {
                mode: "in-cluster",
                image: DEPLOYED_REGISTRY_IMAGE,
                tls: { mode: "provided" },
                storage: { kind: "filesystem" },
                maintenance: { garbageCollection: { enabled: true, ...(garbageCollection as object) }, ...maintenance },
                monitoring: { enabled: options.monitoring ?? false },
            },
            ...(typeof options.settings === "function" ? options.settings(port) : options.settings),
        },
        {
            containerRegistryPassword: options.push.password,
            tlsCertificate: readFileSync(ca.serverCertFile, "utf8"),
            tlsPrivateKey: readFileSync(ca.serverKeyFile, "utf8"),
            ...options.secrets,
        },
    );
    return { objects, authority: `localhost:${port}`, ca, dir };
}

export interface RegistryPodStandIn {
    /** The pod's volumes, each at its mount path under this directory (DSO_ROOT for scripts run on this machine). */
    readonly root: string;
    /** The pod directory: the stand-in's state, the containers' logs, the test hooks. */
    readonly podDir: string;
    /** `localhost:<port>`: the sidecar's TLS site, as clients name it. */
    readonly authority: string;
    /** The loopback port of the sidecar's metrics listener (its `metrics` port); 0 when the pod has none (monitoring off). */
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
    /** What `kubectl set env` put in the Deployment's template (name → value), as it stands. */
    templateEnv(): Record<string, string>;
    /** How many times the pod was started (each start is a new pod). */
    starts(): number;
    /** The running containers' process ids by name, to show that nothing restarted in between. */
    pids(): Record<string, string>;
    /** Runs ARGS in a container, as `kubectl exec` does. */
    exec(container: string, args: readonly string[]): { code: number; stdout: string; stderr: string };
    /** Runs the pod of CronJob `name` (the restore job, say) to its end, with this pod's volumes. */
    runJobPod(name: string): Promise<{ code: number; stdout: string; stderr: string }>;
    /** Starts (or restarts) the pod, as a rollout does. */
    rollout(): void;
    /** Stops the pod's containers (the Deployment scaled to 0). */
    scaleToZero(): void;
    /** The containers' logs, for failure messages. */
    logs(): string;
    /** Stops everything started and removes the directories. */
    stop(): Promise<void>;
}

/** The stand-in for kubectl of a pod stand-in (`pod.sh` in `$POD_DIR`): the calls the upkeep jobs make. */
export function kubectlStandIn(deployment: string, defaultContainer: string, rollout: string, getPods: string): string {
    return `#!/bin/sh
# Stand-in for kubectl (tests only): the calls the registry's upkeep jobs make, against the pod
# stand-in. Anything else is refused.
set -eu
pod="$POD_DIR"
echo "$*" >> "$pod/kubectl.log"
printf '%s start %s\\n' "$(date +%s.%N)" "$*" >> "$pod/kubectl.times"
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
    [ "$3" = "deployment/${deployment}" ] || { echo "kubectl stand-in: no $3" >&2; exit 1; }
    name="\${4%%=*}"; name="\${name%-}"
    touch "$pod/template.env"
    grep -v "^export $name=" "$pod/template.env" > "$pod/template.env.new" || true
    case "$4" in
      *=*)
        value="\${4#*=}"
        case "$value" in *"'"*) echo "kubectl stand-in: a value with a single quote is not modelled: $4" >&2; exit 1 ;; esac
        printf "export %s='%s'\\n" "$name" "$value" >> "$pod/template.env.new" ;;
    esac
    mv "$pod/template.env.new" "$pod/template.env" ;;
  "rollout status") ${rollout} || status=$? ;;
  "get configmap" | "patch configmap") node "$pod/bin/configmap.js" "$@" || status=$? ;;
  "logs "*)
    # The container's log as its file holds it (CONTAINER.log in the pod directory), its JSON lines
    # from --since on (by their "ts"); no container before a restart is kept.
    shift
    target="$1"; shift
    container=""; since=""
    for arg in "$@"; do
      case "$arg" in
        --container=*) container="\${arg#--container=}" ;;
        --since=*s) since="\${arg#--since=}"; since="\${since%s}" ;;
        --previous) echo "kubectl stand-in: previous terminated container not found in pod $target" >&2; exit 1 ;;
        *) echo "kubectl stand-in: not a logs option the jobs use: $arg" >&2; exit 1 ;;
      esac
    done
    [ -f "$pod/$container.log" ] || { echo "kubectl stand-in: no container $container in pod $target" >&2; exit 1; }
    if [ -n "$since" ]; then
      awk -v from="$(($(date +%s) - since))" 'match($0, /"ts":[0-9]+/) { if (substr($0, RSTART + 5, RLENGTH - 5) + 0 < from + 0) next } { print }' "$pod/$container.log"
    else
      cat "$pod/$container.log"
    fi ;;
  "get pods") ${getPods} ;;
  "exec "*)
    container=${defaultContainer}
    while [ "$1" != -- ]; do
      case "$1" in
        --container=*) container="\${1#--container=}" ;;
        deployment/*) [ "$1" = "deployment/${deployment}" ] || { echo "kubectl stand-in: no $1" >&2; exit 1; } ;;
      esac
      shift
    done
    shift
    sh "$pod/pod.sh" exec "$container" "$@" || status=$? ;;
  *) echo "kubectl stand-in: not a call the jobs make: $call" >&2; exit 1 ;;
esac
printf '%s end %s\\n' "$(date +%s.%N)" "$call" >> "$pod/kubectl.times"
exit "$status"
`;
}

/**
 * The ConfigMaps of the stand-in kubectl (`configmaps/NAME.json` in the pod directory; a test creates one as
 * the program's up would): \`get configmap NAME -o jsonpath=…\` with templates of plain field paths (\`{.a.b\\.c}\`,
 * missing fields empty) and text between, and \`patch configmap NAME --type=merge --patch-file=FILE\` (a JSON merge
 * patch, refused with a conflict when it names another metadata.resourceVersion; each write counts one up).
 */
const CONFIGMAP_STAND_IN = `const fs = require("node:fs");
const args = process.argv.slice(2).filter((a) => !a.startsWith("--namespace"));
const [verb, , name, ...rest] = args;
const file = process.env.POD_DIR + "/configmaps/" + name + ".json";
if (!fs.existsSync(file)) { console.error('Error from server (NotFound): configmaps "' + name + '" not found'); process.exit(1); }
const object = JSON.parse(fs.readFileSync(file, "utf8"));
const option = (n) => { const a = rest.find((x) => x.startsWith(n + "=")); if (a) return a.slice(n.length + 1); const i = rest.indexOf(n); return i >= 0 ? rest[i + 1] : undefined; };
if (verb === "get") {
  const template = option("-o");
  if (!template || !template.startsWith("jsonpath=")) { console.error("kubectl stand-in: get configmap without -o jsonpath="); process.exit(1); }
  const out = template.slice("jsonpath=".length).replace(/\\{([^}]*)\\}/g, (_, p) => {
    let v = object;
    for (const key of p.replace(/^\\./, "").split(/(?<!\\\\)\\./)) v = v == null ? undefined : v[key.replace(/\\\\\\./g, ".")];
    return v == null ? "" : String(v);
  });
  process.stdout.write(out);
} else {
  if (option("--type") !== "merge") { console.error("kubectl stand-in: patch configmap without --type=merge"); process.exit(1); }
  const patch = JSON.parse(fs.readFileSync(option("--patch-file"), "utf8"));
  const version = patch.metadata && patch.metadata.resourceVersion;
  if (version !== undefined && version !== object.metadata.resourceVersion) {
    console.error('Error from server (Conflict): Operation cannot be fulfilled on configmaps "' + name + '": the object has been modified');
    process.exit(1);
  }
  const merge = (target, p) => { for (const [k, v] of Object.entries(p)) { if (v === null) delete target[k]; else if (typeof v === "object" && !Array.isArray(v)) { target[k] = merge(typeof target[k] === "object" && target[k] ? target[k] : {}, v); } else target[k] = v; } return target; };
  const { metadata: _m, ...body } = patch;
  merge(object, body);
  object.metadata.resourceVersion = String(Number(object.metadata.resourceVersion) + 1);
  const total = Object.values(object.data || {}).reduce((n, v) => n + Buffer.byteLength(v), 0) + Object.values(object.binaryData || {}).reduce((n, v) => n + Buffer.from(v, "base64").length, 0);
  if (total > 1048576) { console.error('The ConfigMap "' + name + '" is invalid: []: Too long: must have at most 1048576 bytes'); process.exit(1); }
  fs.writeFileSync(file, JSON.stringify(object));
  console.log("configmap/" + name + " patched");
}
`;

/** The template's environment as kubectl set env left it (template.env in `dir`). */
function readTemplateEnv(dir: string): Record<string, string> {
    const file = path.join(dir, "template.env");
    if (!existsSync(file)) return {};
    const out = run("sh", ["-c", `set -a; . "$1"; set +a; env -0`, "sh", file], { env: {} }).stdout;
    const base = run("sh", ["-c", "env -0"], { env: {} }).stdout.split("\0");
    return Object.fromEntries(
        out
            .split("\0")
            .filter((kv) => kv && !base.includes(kv))
            .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
}

/** How long a hook that starts a registry stand-in may take: the pod's start, its images' first build aside. */
export const POD_START_TIMEOUT_MS = 3 * 60_000;

/** The loopback port of an authority `localhost:<port>` a stand-in's stack publishes the registry on. */
export function publishedPort(authority: string): number {
    const port = Number(/^localhost:(\d+)$/.exec(authority)?.[1]);
    if (!port) throw new Error(`the stand-in's registry is published as ${authority}, not localhost:<port>`);
    return port;
}

/**
 * The authority an in-cluster stack publishes its registry under, as its front sends clients to it: the
 * token realm of the sidecar's Caddyfile (`localhost:<port>` for the stand-ins' stacks).
 */
export function publishedAuthority(objects: readonly K8sObject[]): string {
    for (const o of objects) {
        for (const text of Object.values(((o as { data?: Record<string, string> }).data ?? {}) as Record<string, string>)) {
            const realm = /realm="\{dso_client_scheme\}:\/\/([^/"]+)\/v2\/token"/.exec(String(text))?.[1];
            if (realm) return realm;
        }
    }
    throw new Error("no Caddyfile among the stack's objects names the token realm");
}

/**
 * Runs the stack's registry Deployment and the forwarders clients use. `loopbackServices`: ports of this
 * machine's loopback that the pod reaches at its own 127.0.0.1 (a bucket the stack names there).
 */
export async function startRegistryPodStandIn(
    stack: RegistryPodStack,
    options: { readonly loopbackServices?: readonly number[] } = {},
): Promise<RegistryPodStandIn> {
    const servers: Pick<ServerProcess, "stop">[] = [];
    let pod: PodStandIn | undefined;
    const stop = async () => {
        for (const s of servers.splice(0).reverse()) await s.stop();
        await pod?.destroy();
        removeDir(stack.dir);
    };
    try {
        const deployment = stack.objects.find((o) => o.kind === "Deployment" && o.metadata.name === "registry");
        const containers = (deployment as { spec?: { template?: { spec?: { containers?: { name: string }[] } } } } | undefined)?.spec
            ?.template?.spec?.containers;
        if (!containers?.length) throw new Error("the stack has no Deployment registry with containers");
        const images = registryImages(path.join(stack.dir, "images"), deployedRegistry().path);
        pod = await startPodStandIn({
            objects: stack.objects,
            name: "registry",
            images,
            netns: { prefix: "rps", subnet: "198.19.144.0/20" },
            loopbackServices: options.loopbackServices,
        });
        const podDir = pod.dir;
        const bin = path.join(podDir, "bin");
        mkdirSync(bin);
        writeFileSync(
            path.join(bin, "kubectl"),
            kubectlStandIn(
                "registry",
                containers[0]!.name,
                'sh "$pod/pod.sh" restart',
                `case "$call" in
      *--all-namespaces*) cat "$pod/workloads" 2>/dev/null || true ;;
      *--selector*restartCount*) echo "registry-stand-in 0" ;;
      *) echo "kubectl stand-in: not a call the jobs make: $call" >&2; exit 1 ;;
    esac`,
            ),
            { mode: 0o755 },
        );
        writeFileSync(path.join(bin, "configmap.js"), CONFIGMAP_STAND_IN);
        const certDir = path.join(podDir, "client-certs");
        mkdirSync(certDir);
        writeFileSync(path.join(certDir, "ca.crt"), stack.ca.caCertPem);
        const ns = pod.ns;
        const metrics = pod.declaresPort("metrics");
        const metricsPort = metrics ? await freePort() : 0;
        servers.push(
            await startForwarders([
                [`127.0.0.1:${publishedPort(stack.authority)}`, `${ns.address}:${pod.port("https")}`],
                ...(metrics ? [[`127.0.0.1:${metricsPort}`, `${ns.address}:${pod.port("metrics")}`] as const] : []),
            ]),
        );
        const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DSO_ROOT: pod.root, POD_DIR: podDir };
        const readLog = (name: string) => (existsSync(path.join(podDir, name)) ? readFileSync(path.join(podDir, name), "utf8") : "");
        const running = pod;
        return {
            root: running.root,
            podDir,
            authority: stack.authority,
            metricsPort,
            certDir,
            ca: stack.ca,
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
            templateEnv: () => readTemplateEnv(podDir),
            starts: () => running.starts(),
            pids: () => running.pids(),
            exec: (container, args) => running.exec(container, args),
            runJobPod: async (name) => {
                const job = await startPodStandIn({
                    objects: stack.objects,
                    name,
                    kind: "CronJob",
                    root: running.root,
                    images,
                    netns: { prefix: "rps", subnet: "198.19.144.0/20" },
                    loopbackServices: options.loopbackServices,
                });
                try {
                    return job.run();
                } finally {
                    await job.destroy();
                }
            },
            rollout: () => {
                running.stopContainers();
                running.start();
            },
            scaleToZero: () => running.stopContainers(),
            logs: () => running.logs(),
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
