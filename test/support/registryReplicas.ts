/**
 * The in-cluster registry's Deployment with several replicas on s3 storage, played on this machine by
 * running the Deployment the program synthesizes once per replica (test/support/podStandIn.ts: every
 * container as specified, each replica in a network namespace of its own), with Distribution at the
 * version under test (test/support/distributionBinaries.ts) and the pinned Caddy. Every replica runs the
 * same Secrets (the bucket's keys, the HTTP secret), as the pods do, and reaches the bucket (a server on
 * this machine's loopback) at its own 127.0.0.1, as the synthesized config names it. In front, the
 * Ingress: nginx at 127.0.0.1 on the port the stack publishes the registry on, with the synthesized Ingresses'
 * annotations as directives (test/support/ingress.ts) and the replicas' `http` ports as one upstream,
 * balanced per request, as ingress-nginx balances over the Service's endpoints; a replica that does not
 * answer is skipped, as an endpoint that is not ready.
 *
 * A `kubectl` shell script first on PATH (`env`) stands in for the API server in the calls the GC job
 * makes when the pods may overlap (components/inCluster/sh/gc-job-rollout.sh): `set env
 * deployment/registry VAR=…|VAR-` changes the template (every replica's, every container's), `rollout
 * status` rolls the replicas one after the other to the template (each stopped, then started and waited
 * for) and returns once all run it, `exec deployment/registry [--container=NAME] -- ARGS` runs ARGS in
 * the first replica (what `kubectl exec deployment/…` picks), and `get pods` prints the deletion
 * timestamp of an old pod while a file `terminating` exists in the deployment's directory (nothing
 * otherwise). Anything else is refused. Test hook: while a file `hold-gc` exists in the deployment's
 * directory, an exec of `registry garbage-collect` waits before it starts (after writing `holding-gc`),
 * so a test can act inside the window.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { SecretName } from "../../components/config";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import type { DistributionBinary } from "./distributionBinaries";
import { ingressLocations, ingressNginxConf } from "./ingress";
import { type PodStandIn, startForwarders, startPodStandIn } from "./podStandIn";
import type { TestAccount, TestCa } from "./realRegistry";
import { kubectlStandIn, publishedAuthority, publishedPort, registryImages } from "./registryPodStandIn";
import { synthStackObjects } from "./registryStack";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "./serverProcess";

/** Where a stack of replicas keeps its images: one bucket (blobs proxied unless `redirect`), or the single pod's claim. */
type ReplicaStorage =
    | {
          readonly bucket: string;
          readonly endpoint: string;
          readonly s3: { readonly accessKeyId: string; readonly secretAccessKey: string };
          /** `registry.storage.s3.redirect`: blob GETs answered with a redirect to a presigned URL of the store. */
          readonly redirect?: boolean;
      }
    | { readonly filesystem: true };

/**
 * The Kubernetes objects of an in-cluster stack with `replicas` on one bucket, as the program
 * synthesizes them with the test's secrets: Distribution at `version`, the bucket at `endpoint` with
 * its keys (or, with `filesystem`, the filesystem on the pod's claim, one replica), the push account `push` (its password the operator's), a certificate of `ca`, garbage
 * collection when asked, and the login limit off for loopback when asked (a benchmark is one client
 * address). The host is `localhost` on a free port (the Ingress's, which the token realm names). Jenkins and node delivery off: only the
 * registry's objects matter here.
 */
export async function synthReplicaObjects(
    options: {
        version: string;
        replicas: number;
        push: TestAccount;
        ca: TestCa;
        garbageCollection?: boolean;
        noLoginLimitOnLoopback?: boolean;
    } & ReplicaStorage,
): Promise<K8sObject[]> {
    const secrets: Partial<Record<SecretName, string>> = {
        containerRegistryPassword: options.push.password,
        ...("s3" in options ? { s3AccessKeyId: options.s3.accessKeyId, s3SecretAccessKey: options.s3.secretAccessKey } : {}),
        tlsCertificate: readFileSync(options.ca.serverCertFile, "utf8"),
        tlsPrivateKey: readFileSync(options.ca.serverKeyFile, "utf8"),
    };
    const storage =
        "s3" in options
            ? {
                  kind: "s3",
                  s3: {
                      bucket: options.bucket,
                      endpoint: options.endpoint,
                      ...(options.redirect === undefined ? {} : { redirect: options.redirect }),
                  },
              }
            : { kind: "filesystem" };
    return synthStackObjects(
        {
            containerRegistry: {
                host: REPLICAS_HOST,
                port: await freePort(),
                pathPrefix: "team",
                pushUsername: options.push.username,
                pushCredentials: "operator",
            },
            jenkins: { enabled: false },
            nodes: { delivery: "none" },
            registry: {
                mode: "in-cluster",
                image: `registry:${options.version}`,
                replicas: options.replicas,
                tls: { mode: "provided" },
                storage,
                monitoring: { enabled: false },
                ...(options.garbageCollection ? { maintenance: { garbageCollection: { enabled: true } } } : {}),
                ...(options.noLoginLimitOnLoopback ? { loginLimit: { ignoreNetworks: ["127.0.0.0/8", "198.18.0.0/15"] } } : {}),
            },
        },
        secrets,
    );
}

/** The host the replicas' stack names: the Ingress listens on this machine's loopback, on the stack's port. */
export const REPLICAS_HOST = "localhost";

/** One replica's ports on 127.0.0.1 (forwarded into its pod). */
export interface ReplicaPorts {
    /** Distribution (the pod's 127.0.0.1:5001). */
    readonly registry: number;
    /** The sidecar's plain HTTP site (container port `http`, what the Service and the Ingress reach). */
    readonly front: number;
}

export interface RegistryReplicas {
    /** The Ingress's authority, `localhost:<port>` (TLS with the test CA). */
    readonly authority: string;
    /** Directory with the test CA as ca.crt, for skopeo. */
    readonly certDir: string;
    /** Each replica's ports. */
    readonly replicas: readonly ReplicaPorts[];
    /** The deployment's directory: the stand-in's state, kubectl.log and the `hold-gc` hook. */
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

/**
 * Starts `count` replicas of the objects' registry Deployment with `binary` as Distribution, the bucket
 * (when the stack has one) at this machine's loopback port `bucketPort`, and the Ingress in front.
 */
export async function startRegistryReplicas(options: {
    readonly objects: readonly K8sObject[];
    readonly count: number;
    readonly binary: DistributionBinary;
    /** The bucket's port on this machine's loopback; none for a stack on the filesystem. */
    readonly bucketPort?: number;
    /** The registry image's CA bundle (/etc/ssl/certs/ca-certificates.crt), for a bucket that speaks TLS; none by default. */
    readonly storeCaFile?: string;
    readonly ca: TestCa;
}): Promise<RegistryReplicas> {
    const { objects, count, ca } = options;
    const dir = privateDir("replicas");
    const pods: PodStandIn[] = [];
    const servers: Pick<ServerProcess, "stop">[] = [];
    const readLog = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        for (const s of servers.splice(0).reverse()) await s.stop();
        for (const p of pods.splice(0)) await p.destroy();
        removeDir(dir);
    };
    try {
        const images = registryImages(path.join(dir, "images"), options.binary.path);
        if (options.storeCaFile)
            images.registry = {
                ...images.registry!,
                files: { ...images.registry!.files, "/etc/ssl/certs/ca-certificates.crt": options.storeCaFile },
            };
        const registryPort = Number(IN_CLUSTER.registryAddr.split(":")[1]);
        const replicas: ReplicaPorts[] = [];
        for (let i = 0; i < count; i++) {
            const pod = await startPodStandIn({
                objects,
                name: IN_CLUSTER.name,
                images,
                netns: { prefix: "rrs", subnet: "198.19.144.0/20" },
                loopbackServices: options.bucketPort === undefined ? [] : [options.bucketPort],
                portForwards: [registryPort],
            });
            pods.push(pod);
            // Every replica runs the one template.
            symlinkSync(path.join(dir, "template.env"), path.join(pod.dir, "template.env"));
            replicas.push({ registry: pod.localPort(registryPort), front: 0 });
        }
        // The fronts for the test's own requests, and the Ingress's upstreams: each replica's `http` port.
        const fronts: number[] = [];
        for (const _ of pods) fronts.push(await freePort());
        servers.push(await startForwarders(pods.map((p, i) => [`127.0.0.1:${fronts[i]}`, `${p.ns.address}:${p.port("http")}`] as const)));
        for (let i = 0; i < count; i++) replicas[i] = { ...replicas[i]!, front: fronts[i]! };

        // The deployment's control, for the kubectl stand-in: the rollout rolls each replica in turn,
        // exec runs in the first (with the hook before a collection).
        writeFileSync(
            path.join(dir, "pod.sh"),
            `#!/bin/sh
# The stand-in Deployment's replicas (tests only): restart (one after the other) | exec CONTAINER ARGS...
set -eu
dir=${JSON.stringify(dir)}
case "$1" in
  restart)
    # One replica after the other, as RollingUpdate with maxUnavailable 0 keeps the others serving.
${pods.map((p) => `    sh ${JSON.stringify(path.join(p.dir, "pod.sh"))} restart`).join("\n")} ;;
  exec)
    case " $* " in
      *" registry garbage-collect "*)
        if [ -e "$dir/hold-gc" ]; then
          : > "$dir/holding-gc"
          while [ -e "$dir/hold-gc" ]; do sleep 0.1; done
        fi ;;
    esac
    shift
    exec sh ${JSON.stringify(path.join(pods[0]!.dir, "pod.sh"))} exec "$@" ;;
  *) echo "usage: pod.sh restart | exec CONTAINER ARGS..." >&2; exit 2 ;;
esac
`,
            { mode: 0o755 },
        );
        const containers = (
            objects.find((o) => o.kind === "Deployment" && o.metadata.name === IN_CLUSTER.name) as unknown as {
                spec: { template: { spec: { containers: { name: string }[] } } };
            }
        ).spec.template.spec.containers;
        writeFileSync(
            path.join(dir, "kubectl"),
            kubectlStandIn(
                IN_CLUSTER.name,
                containers[0]!.name,
                'sh "$pod/pod.sh" restart',
                // The registry pods' deletion timestamps, one per line: one old pod still terminating while the
                // test holds the file "terminating", none otherwise (the roll stops each replica before its successor).
                'if [ -e "$pod/terminating" ]; then echo "2026-01-01T00:00:00Z"; fi',
            ),
            { mode: 0o755 },
        );
        const certDir = path.join(dir, "client-certs");
        mkdirSync(certDir);
        writeFileSync(path.join(certDir, "ca.crt"), ca.caCertPem);

        // The Ingress: nginx over the replicas' http ports, per request, skipping a replica that refuses the
        // connection. Every Ingress of the registry's host (the API and the token endpoint's limits), as
        // ingress-nginx merges them.
        const authority = publishedAuthority(objects);
        const { http, locations } = ingressLocations(objects.filter((o) => o.kind === "Ingress"));
        const nginxConf = path.join(dir, "nginx.conf");
        writeFileSync(
            nginxConf,
            ingressNginxConf({
                dir,
                listen: `127.0.0.1:${publishedPort(authority)}`,
                serverNames: [REPLICAS_HOST, "127.0.0.1"],
                certFile: ca.serverCertFile,
                keyFile: ca.serverKeyFile,
                upstream: "registry_replicas",
                http: [
                    ...http,
                    `upstream registry_replicas { ${pods.map((p) => `server ${p.ns.address}:${p.port("http")} max_fails=0;`).join(" ")} }`,
                ],
                locations,
            }),
        );
        const nginx = startServer("/usr/sbin/nginx", ["-c", nginxConf, "-p", dir]);
        servers.push(nginx);
        await waitForPort(publishedPort(authority), 30_000, "nginx", "127.0.0.1").catch((e: Error) => {
            throw new Error(`${e.message}\n${nginx.output()}`);
        });

        return {
            authority,
            certDir,
            replicas,
            dir,
            env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, POD_DIR: dir },
            kubectlCalls: () => readLog(path.join(dir, "kubectl.log")).split("\n").filter(Boolean),
            starts: () => pods.map((p) => p.starts()),
            frontRequests: (replica) =>
                readLog(path.join(pods[replica]!.dir, "caddy.log"))
                    .split("\n")
                    .filter((l) => l.startsWith("{") && l.includes('"request"'))
                    .map((l) => JSON.parse(l) as { request: { method: string; uri: string }; status: number })
                    .map((e) => ({ method: e.request.method, uri: e.request.uri, status: e.status })),
            logs: () =>
                [
                    ...pods.map((p, i) => `--- replica ${i}\n${p.logs()}`),
                    `--- ingress\n${nginx.output().slice(-4000)}${readLog(path.join(dir, "nginx-error.log")).slice(-4000)}`,
                ].join("\n"),
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
