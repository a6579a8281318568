/**
 * The in-cluster registry's Deployment with several replicas on s3 storage, played on this machine by
 * its real programs: per replica, Distribution (a build of the version under test,
 * test/support/distributionBinaries.ts) with the rendered config.yml and the registry container's
 * rendered environment, and the pinned Caddy with the sidecar's rendered Caddyfile and the caddy
 * container's environment. Every replica shares the bucket and `http.secret`, as the pods do. In
 * front, the Ingress: nginx with the rendered Ingress's annotations as directives (test/support/ingress.ts)
 * and the three fronts as one upstream, balanced per request, as ingress-nginx balances over the
 * Service's endpoints; a replica that does not answer is skipped, as an endpoint that is not ready.
 *
 * What the rendered text names inside the pod is mapped per replica: the pod's absolute paths get the
 * replica's root in front, listen ports become free loopback ports (bound to 127.0.0.1), and the
 * token realm names the ingress's address instead of the registry's host on 443.
 *
 * A `kubectl` shell script first on PATH (`env`) stands in for the API server in the calls the GC job
 * makes when the pods may overlap (components/inCluster/sh/gc-job-rollout.sh): `set env
 * deployment/registry VAR=…|VAR-` changes the template (remembered, for every container, as `kubectl
 * set env` without `--containers` does), `rollout status` rolls the replicas one after the other to the
 * template (each stopped, then started with the template's environment, and waited for) and returns
 * once all run it, `exec deployment/registry --container=registry -- registry …` runs the binary with
 * the first replica's environment and config (what `kubectl exec deployment/…` picks), and `exec … --
 * /bin/sh SCRIPT` runs a ConfigMap script of the first replica with busybox's applets (the registry
 * image's shell), and `get pods` prints the deletion timestamp of an old pod while a file
 * `terminating` exists in the deployment's directory (nothing otherwise). Anything else is refused. Test hook: while a file `hold-gc` exists in the
 * deployment's directory, `registry garbage-collect` waits before it starts (after writing `holding-gc`),
 * so a test can act inside the window.
 *
 * Credentials (the S3 keys, the HTTP secret, the users files) are written to 0600 files and read by the
 * programs from their environment or config, never from a command line.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { renderOverlapMatchers, renderPreviousUsersFile, renderUsersFile } from "../../components/accessPolicy/usersFile";
import { IN_CLUSTER, OVERLAP_FILES } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { pinnedCaddy } from "./caddyBinaries";
import type { DistributionBinary } from "./distributionBinaries";
import { ingressLocations, ingressNginxConf } from "./ingress";
import type { TestAccount, TestCa } from "./realRegistry";
import { freePort, privateDir, removeDir, run, type ServerProcess, startServer, waitForPort } from "./serverProcess";
import { PROJECT_DIR, synthCli } from "./synthCli";

/**
 * The Kubernetes objects of an in-cluster stack with `replicas` on one bucket, synthesized in `work`
 * (a directory of its own): Distribution at `version`, the bucket at `endpoint`, garbage collection
 * when asked, and the login limit off for loopback when asked (a benchmark is one client address).
 * Jenkins and node delivery off: only the registry's objects matter here.
 */
export async function synthReplicaObjects(
    work: string,
    options: {
        version: string;
        replicas: number;
        bucket: string;
        endpoint: string;
        host: string;
        garbageCollection?: boolean;
        noLoginLimitOnLoopback?: boolean;
    },
): Promise<K8sObject[]> {
    mkdirSync(work, { recursive: true });
    cpSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(work, "Pulumi.yaml"));
    const config = {
        "dso-registry:containerRegistry": { host: options.host, pathPrefix: "team" },
        "dso-registry:jenkins": { enabled: false },
        "dso-registry:nodes": { delivery: "none" },
        "dso-registry:registry": {
            mode: "in-cluster",
            image: `registry:${options.version}`,
            replicas: options.replicas,
            storage: { kind: "s3", s3: { bucket: options.bucket, endpoint: options.endpoint } },
            ...(options.garbageCollection ? { maintenance: { garbageCollection: { enabled: true } } } : {}),
            ...(options.noLoginLimitOnLoopback ? { loginLimit: { ignoreNetworks: ["127.0.0.0/8"] } } : {}),
        },
    };
    writeFileSync(path.join(work, "Pulumi.replicas.yaml"), YAML.stringify({ config }));
    const out = path.join(work, "out");
    const result = await synthCli(["--stack", "replicas", "--out", out], work);
    if (result.status !== 0) throw new Error(`synth failed:\n${result.stderr}`);
    return readSynthObjects(out);
}

/** Every object a synth wrote for the registry's namespace (`<out>/k8s/<namespace>/*.yaml`). */
export function readSynthObjects(outDir: string, namespace = "dso"): K8sObject[] {
    const dir = path.join(outDir, "k8s", namespace);
    return readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => YAML.parse(readFileSync(path.join(dir, f), "utf8")) as K8sObject);
}

function find(objects: readonly K8sObject[], kind: string, name: string): Record<string, unknown> {
    const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!object) throw new Error(`no ${kind}/${name} among the rendered objects`);
    return object as unknown as Record<string, unknown>;
}

interface EnvVar {
    readonly name: string;
    readonly value?: string;
    readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string } };
}

/** A container's rendered `env`, each secretKeyRef resolved from `secrets` (Secret name → key → value). */
export function containerEnv(
    objects: readonly K8sObject[],
    container: string,
    secrets: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Record<string, string> {
    const deployment = find(objects, "Deployment", IN_CLUSTER.name) as {
        spec: { template: { spec: { containers: { name: string; env?: EnvVar[] }[] } } };
    };
    const c = deployment.spec.template.spec.containers.find((x) => x.name === container);
    if (!c) throw new Error(`the Deployment has no container ${container}`);
    const env: Record<string, string> = {};
    for (const v of c.env ?? []) {
        const ref = v.valueFrom?.secretKeyRef;
        const value = ref ? secrets[ref.name]?.[ref.key] : v.value;
        if (value === undefined) throw new Error(`${container}'s env ${v.name} refers to nothing this test knows: ${JSON.stringify(v)}`);
        env[v.name] = value;
    }
    return env;
}

/** One replica's ports on 127.0.0.1. */
export interface ReplicaPorts {
    /** Distribution (the pod's 127.0.0.1:5001). */
    readonly registry: number;
    /** Distribution's debug listener (metrics). */
    readonly debug: number;
    /** The sidecar's plain HTTP site (container port `http`, what the Service and the Ingress reach). */
    readonly front: number;
}

export interface RegistryReplicas {
    /** The ingress's authority, `127.0.0.1:<port>` (TLS with the test CA). */
    readonly authority: string;
    /** Directory with the test CA as ca.crt, for skopeo. */
    readonly certDir: string;
    /** Each replica's ports. */
    readonly replicas: readonly ReplicaPorts[];
    /** The deployment's directory: the stand-in's state, logs and the `hold-gc` hook. */
    readonly dir: string;
    /** Environment for the GC job's script: the stand-in kubectl first on PATH. */
    readonly env: NodeJS.ProcessEnv;
    /** Every kubectl call so far, one a line. */
    kubectlCalls(): string[];
    /** Starts of each replica so far (a rollout restarts each once). */
    starts(): number[];
    /** The access log lines of a replica's sidecar (JSON, one request a line). */
    frontRequests(replica: number): { readonly method: string; readonly uri: string; readonly status: number }[];
    /** Logs of every program, for failure messages. */
    logs(): string;
    /** Stops every replica and the ingress and removes the directories. Safe to call twice. */
    stop(): Promise<void>;
}

/** Maps the rendered Caddyfile to replica `i`'s root and ports. */
function replicaCaddyfile(
    rendered: string,
    root: string,
    host: string,
    ports: ReplicaPorts,
    realmAuthority: string,
    free: () => Promise<number>,
) {
    return (async () => {
        let text = rendered.split(IN_CLUSTER.registryAddr).join(`127.0.0.1:${ports.registry}`);
        for (const dir of [IN_CLUSTER.usersDir, IN_CLUSTER.tlsDir]) text = text.split(dir).join(`${root}${dir}`);
        text = text.replace(`http://:${IN_CLUSTER.servicePort} {`, `http://:${ports.front} {\n\tbind 127.0.0.1`);
        text = text.replace(`${host}:${IN_CLUSTER.tlsPort} {`, `${host}:${await free()} {\n\tbind 127.0.0.1`);
        // The metrics sites: each on a port of its own here.
        for (const m of [...text.matchAll(/^http:\/\/:(\d+) \{$/gm)]) {
            if (Number(m[1]) === ports.front) continue;
            text = text.replace(m[0], `http://:${await free()} {\n\tbind 127.0.0.1`);
        }
        // The metrics relay to Distribution's debug listener.
        for (const m of [...text.matchAll(/reverse_proxy (\/\S+ )127\.0\.0\.1:(\d+)$/gm)]) {
            text = text.replace(m[0], `reverse_proxy ${m[1]}127.0.0.1:${ports.debug}`);
        }
        // The realm names the registry's host on 443, the ingress's port; here the ingress's address.
        return text.split(`://${host}/v2/token`).join(`://${realmAuthority}/v2/token`);
    })();
}

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
const envFile = (env: Record<string, string>) =>
    Object.entries(env)
        .map(([k, v]) => `${k}=${quote(v)}\n`)
        .join("");

/** The replicas' control: start, stop and the rolling restart, shared by the test and the kubectl stand-in. */
const CONTROL = `#!/bin/sh
# replicas.sh start I | stop I | roll: replica I of the stand-in Deployment (tests only).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
count=$(cat "$dir/count")
stop_one() {
  r="$dir/replica-$1"
  for name in caddy registry; do
    if [ -f "$r/$name.pid" ]; then
      pid=$(cat "$r/$name.pid")
      kill -TERM "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
      rm -f "$r/$name.pid"
    fi
  done
}
start_one() {
  r="$dir/replica-$1"
  # A new pod: new emptyDirs.
  rm -rf "$r/caddy-data" "$r/caddy-config" "$r/tmp"
  mkdir -p "$r/caddy-data" "$r/caddy-config" "$r/tmp"
  template="$dir/template.env"
  [ -f "$template" ] || template=/dev/null
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TMPDIR="$r/tmp" sh -c 'set -a; . "$1"; . "$2"; exec "$3" serve "$4"' sh \\
    "$dir/registry.env" "$template" "$(cat "$dir/registry-binary")" "$r/config.yml" </dev/null >>"$r/registry.log" 2>&1 &
  echo $! > "$r/registry.pid"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$r" sh -c 'set -a; . "$1"; . "$2"; exec "$3" run --config "$4" --adapter caddyfile' sh \\
    "$r/caddy.env" "$template" "$(cat "$dir/caddy-binary")" "$r/Caddyfile" </dev/null >>"$r/caddy.log" 2>&1 &
  echo $! > "$r/caddy.pid"
  tries=0
  until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$(cat "$r/registry-port")/v2/" &&
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$(cat "$r/front-port")/v2/"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then echo "replica $1 did not start; see $r/*.log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "$1" >> "$dir/starts"
}
case "$1" in
  start) start_one "$2" ;;
  stop) stop_one "$2" ;;
  roll)
    # One replica after the other, as RollingUpdate with maxUnavailable 0 keeps the others serving
    # (here the replica's own port is taken until it stops, so it stops first: one at a time is down).
    i=0
    while [ "$i" -lt "$count" ]; do stop_one "$i"; start_one "$i"; i=$((i + 1)); done ;;
  *) echo "usage: replicas.sh start I | stop I | roll" >&2; exit 2 ;;
esac
`;

const KUBECTL = `#!/bin/sh
# Stand-in for kubectl (tests only): the calls the GC job makes when the registry's pods may overlap,
# against the replicas played by local processes. Anything else is refused.
set -eu
dir="$DEPLOY_DIR"
echo "$*" >> "$dir/kubectl.log"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --namespace) shift 2 ;;
    --namespace=*) shift ;;
    *) break ;;
  esac
done
case "$1 \${2:-}" in
  "set env")
    [ "$3" = "deployment/${IN_CLUSTER.name}" ] || { echo "kubectl stand-in: no $3" >&2; exit 1; }
    case "$4" in
      *=*) printf '%s=%s\\n' "\${4%%=*}" "'\${4#*=}'" > "$dir/template.env" ;;
      *-) rm -f "$dir/template.env" ;;
    esac ;;
  "rollout status") sh "$dir/replicas.sh" roll ;;
  # The registry pods' deletion timestamps, one per line: one old pod still terminating while the
  # test holds the file "terminating", none otherwise (the roll stops each replica before its successor).
  "get pods")
    if [ -e "$dir/terminating" ]; then echo "2026-01-01T00:00:00Z"; fi ;;
  "exec "*)
    while [ "$1" != -- ]; do shift; done
    shift
    r="$dir/replica-0"
    template="$dir/template.env"
    [ -f "$template" ] || template=/dev/null
    if [ "$1" = registry ]; then
      shift
      if [ -e "$dir/hold-gc" ]; then
        : > "$dir/holding-gc"
        while [ -e "$dir/hold-gc" ]; do sleep 0.1; done
      fi
      args=""
      for a in "$@"; do case "$a" in ${IN_CLUSTER.configDir}/*) args="$args $r\${a#${IN_CLUSTER.configDir}}" ;; *) args="$args $a" ;; esac; done
      # shellcheck disable=SC2086
      env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'set -a; . "$1"; . "$2"; shift 2; exec "$@"' sh \\
        "$dir/registry.env" "$template" "$(cat "$dir/registry-binary")" $args
    else
      script="$2"; shift 2
      PATH="$dir/busybox" "$dir/busybox/sh" "$r\${script#${IN_CLUSTER.configDir}}" "$@"
    fi ;;
  *) echo "kubectl stand-in: not a call the GC job makes: $*" >&2; exit 1 ;;
esac
`;

/**
 * Starts `count` replicas from the rendered objects, with `binary` as Distribution, the registry's env
 * resolved from `secrets`, the accounts' users files, and the ingress in front. `host` is the rendered
 * containerRegistry.host.
 */
export async function startRegistryReplicas(options: {
    readonly objects: readonly K8sObject[];
    readonly host: string;
    readonly count: number;
    readonly binary: DistributionBinary;
    readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
    readonly push: TestAccount;
    readonly pull: TestAccount;
    readonly ca: TestCa;
}): Promise<RegistryReplicas> {
    const { objects, host, count, ca } = options;
    const dir = privateDir("replicas");
    const servers: ServerProcess[] = [];
    const place = (file: string, body: string, mode = 0o644) => {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, body, { mode });
    };
    const sh = (...args: string[]) => run("sh", args, { env: { ...process.env, DEPLOY_DIR: dir }, timeout: 300_000 });
    const readLog = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        for (let i = 0; i < count; i++)
            if (existsSync(path.join(dir, `replica-${i}`))) sh(path.join(dir, "replicas.sh"), "stop", String(i));
        for (const s of servers.splice(0).reverse()) await s.stop();
        removeDir(dir);
    };
    try {
        const config = find(objects, "ConfigMap", IN_CLUSTER.configMap).data as Record<string, string>;
        const ingressPort = await freePort();
        const realmAuthority = `127.0.0.1:${ingressPort}`;
        const certDir = path.join(dir, "client-certs");
        place(path.join(certDir, "ca.crt"), ca.caCertPem);
        place(path.join(dir, "count"), `${count}\n`);
        place(path.join(dir, "registry-binary"), `${options.binary.path}\n`);
        place(path.join(dir, "caddy-binary"), `${pinnedCaddy()}\n`);
        const registryEnv = containerEnv(objects, "registry", options.secrets);
        // Distribution 3 exports traces unless told not to; added only where the rendered environment does not say.
        if (options.binary.version.startsWith("3.") && registryEnv.OTEL_TRACES_EXPORTER === undefined)
            registryEnv.OTEL_TRACES_EXPORTER = "none";
        place(path.join(dir, "registry.env"), envFile(registryEnv), 0o600);
        place(path.join(dir, "replicas.sh"), CONTROL, 0o755);
        mkdirSync(path.join(dir, "bin"));
        place(path.join(dir, "bin", "kubectl"), KUBECTL, 0o755);
        mkdirSync(path.join(dir, "busybox"));
        run("busybox", ["--install", "-s", path.join(dir, "busybox")]);
        const caddyEnv = containerEnv(objects, "caddy", {});
        const replicas: ReplicaPorts[] = [];
        for (let i = 0; i < count; i++) {
            const root = path.join(dir, `replica-${i}`);
            const ports = { registry: await freePort(), debug: await freePort(), front: await freePort() };
            replicas.push(ports);
            place(path.join(root, "registry-port"), `${ports.registry}\n`);
            place(path.join(root, "front-port"), `${ports.front}\n`);
            place(`${root}${IN_CLUSTER.usersDir}/push`, renderUsersFile("push", [options.push]), 0o600);
            place(`${root}${IN_CLUSTER.usersDir}/pull`, renderUsersFile("pull", [options.pull]), 0o600);
            // The rotation overlap's files the stack's Caddyfile imports, as the users Secret holds them before any rotation.
            const accounts = [{ username: options.push.username }, { username: options.pull.username }];
            place(`${root}${IN_CLUSTER.usersDir}/${OVERLAP_FILES.matchers}`, renderOverlapMatchers(accounts), 0o600);
            place(`${root}${IN_CLUSTER.usersDir}/${OVERLAP_FILES.push}`, renderPreviousUsersFile("push", []), 0o600);
            place(`${root}${IN_CLUSTER.usersDir}/${OVERLAP_FILES.pull}`, renderPreviousUsersFile("pull", []), 0o600);
            place(`${root}${IN_CLUSTER.tlsDir}/tls.crt`, readFileSync(ca.serverCertFile, "utf8"));
            place(`${root}${IN_CLUSTER.tlsDir}/tls.key`, readFileSync(ca.serverKeyFile, "utf8"), 0o600);
            const registryConfig = (config["config.yml"] ?? "")
                .split(IN_CLUSTER.registryAddr)
                .join(`127.0.0.1:${ports.registry}`)
                .replace(/(debug:\n\s+addr: )"127\.0\.0\.1:\d+"/, `$1"127.0.0.1:${ports.debug}"`);
            place(path.join(root, "config.yml"), registryConfig);
            place(
                path.join(root, "Caddyfile"),
                await replicaCaddyfile(config.Caddyfile ?? "", root, host, ports, realmAuthority, freePort),
            );
            for (const [key, text] of Object.entries(config)) {
                if (key.endsWith(".sh"))
                    place(path.join(root, key), text.split(IN_CLUSTER.registryAddr).join(`127.0.0.1:${ports.registry}`));
            }
            const mapped = Object.fromEntries(
                Object.entries(caddyEnv).map(([k, v]) => [
                    k,
                    v.startsWith("/") ? path.join(root, v === "/data" ? "caddy-data" : v === "/config" ? "caddy-config" : v) : v,
                ]),
            );
            place(path.join(root, "caddy.env"), envFile(mapped), 0o600);
            const started = sh(path.join(dir, "replicas.sh"), "start", String(i));
            if (started.code !== 0)
                throw new Error(
                    `replica ${i} did not start:\n${started.stderr}\n${readLog(path.join(root, "registry.log"))}\n${readLog(path.join(root, "caddy.log"))}`,
                );
        }

        // The Ingress: nginx over the fronts, per request, skipping a replica that refuses the connection.
        // Every Ingress of the registry's host (the API and the token endpoint's limits), as ingress-nginx merges them.
        const ingresses = objects.filter((o) => o.kind === "Ingress");
        const { http, locations } = ingressLocations(ingresses);
        const nginxConf = path.join(dir, "nginx.conf");
        writeFileSync(
            nginxConf,
            ingressNginxConf({
                dir,
                listen: `127.0.0.1:${ingressPort}`,
                serverNames: [host, "127.0.0.1"],
                certFile: ca.serverCertFile,
                keyFile: ca.serverKeyFile,
                upstream: "registry_replicas",
                http: [
                    ...http,
                    `upstream registry_replicas { ${replicas.map((r) => `server 127.0.0.1:${r.front} max_fails=0;`).join(" ")} }`,
                ],
                locations,
            }),
        );
        const nginx = startServer("/usr/sbin/nginx", ["-c", nginxConf, "-p", dir]);
        servers.push(nginx);
        await waitForPort(ingressPort, 30_000, "nginx").catch((e: Error) => {
            throw new Error(`${e.message}\n${nginx.output()}`);
        });

        return {
            authority: realmAuthority,
            certDir,
            replicas,
            dir,
            env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, DEPLOY_DIR: dir },
            kubectlCalls: () => readLog(path.join(dir, "kubectl.log")).split("\n").filter(Boolean),
            starts: () => {
                const counts = replicas.map(() => 0);
                for (const line of readLog(path.join(dir, "starts")).split("\n").filter(Boolean)) counts[Number(line)]! += 1;
                return counts;
            },
            frontRequests: (replica) =>
                readLog(path.join(dir, `replica-${replica}`, "caddy.log"))
                    .split("\n")
                    .filter((l) => l.startsWith("{") && l.includes('"request"'))
                    .map((l) => JSON.parse(l) as { request: { method: string; uri: string }; status: number })
                    .map((e) => ({ method: e.request.method, uri: e.request.uri, status: e.status })),
            logs: () =>
                [
                    ...replicas.flatMap((_, i) => [
                        `--- replica ${i} registry\n${readLog(path.join(dir, `replica-${i}`, "registry.log")).slice(-8000)}`,
                        `--- replica ${i} caddy\n${readLog(path.join(dir, `replica-${i}`, "caddy.log")).slice(-4000)}`,
                    ]),
                    `--- ingress\n${nginx.output().slice(-4000)}${readLog(path.join(dir, "nginx-error.log")).slice(-4000)}`,
                ].join("\n"),
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
