/**
 * Node trust: every node's container runtime trusts the registry's CA, resolves its host name, and
 * (k3s / RKE2 with pull credentials) knows the pull-only account. Delivered either over SSH per node
 * (`NodeTrust`) or by a privileged DaemonSet that covers every node, also nodes that join later
 * (`NodeTrustDaemonSet`). Both run the scripts rendered in nodeTrustFiles.ts.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF_LABELS } from "../shared/facts";
import { type HostConnection, HostFile, hostCommand, privileged, shQuote } from "../shared/hostAccess";
import {
    configPathCheckScript,
    configPathRemoveScript,
    dirCreateScript,
    dirRemoveScript,
    etcHostsScript,
    type FileStep,
    normalizePem,
    placeWithRestartBody,
    removeFileBody,
    removeWithRestartBody,
    renderHostsToml,
    renderRegistriesYaml,
    type RuntimeFlavour,
    splitPlaceFileScript,
    type TrustPlan,
    trustPlan,
    type TrustTarget,
} from "./files";

/** What every delivery needs to know about the registry. */
export interface NodeTrustCommonArgs {
    /** Registry host name as in image references (no scheme, no port). */
    readonly host: string;
    /** Registry port; 443 means none in image references. */
    readonly port: number;
    /** Container runtime flavour of the node(s). */
    readonly flavour: RuntimeFlavour;
    /** CA certificate (PEM) nodes must trust; omit for publicly trusted certificates (ACME). */
    readonly caCertPem?: pulumi.Input<string>;
    /**
     * Address the registry host resolves to on nodes, written as a managed /etc/hosts block; omit
     * when DNS resolves the name. May come from the deployed registry (an Output).
     */
    readonly registryAddress?: pulumi.Input<string>;
    /** Pull-only account for k3s / RKE2 registries.yaml, when pulls need credentials. */
    readonly pullAccount?: { readonly username: string; readonly password: pulumi.Input<string> };
    /** Plain HTTP instead of TLS. Images can be swapped in transit: existing lab registries only. */
    readonly plainHttp?: boolean;
    /** Let the program set containerd's config_path and restart containerd (containerd flavour). */
    readonly allowContainerdRestart?: boolean;
    /** Let the program restart k3s / RKE2 after registries.yaml changed. */
    readonly allowServiceRestart?: boolean;
}

export interface NodeTrustArgs extends NodeTrustCommonArgs {
    /** How to reach the node (SSH, or local when Pulumi runs on it). */
    readonly connection: HostConnection;
    /** kind: the node container to write into with `docker exec`; defaults to the connection's name. */
    readonly kindContainer?: string;
}

/** The plain facts that decide which steps exist. */
export function trustTargetOf(args: NodeTrustCommonArgs): TrustTarget {
    return {
        host: args.host,
        port: args.port,
        hasCa: args.caCertPem !== undefined,
        hasPullAuth: args.pullAccount !== undefined,
        hasAddress: args.registryAddress !== undefined,
        plainHttp: args.plainHttp ?? false,
    };
}

/** The content of a file step, secret where it carries the pull password. */
export function fileContent(step: FileStep, plan: TrustPlan, args: NodeTrustCommonArgs): pulumi.Output<string> {
    const target = trustTargetOf(args);
    switch (step.role) {
        case "ca":
            return pulumi.output(args.caCertPem!).apply(normalizePem);
        case "hosts-toml":
            return pulumi.output(renderHostsToml(target));
        case "registries-yaml": {
            const caFile = plan.steps.find((s): s is FileStep => s.kind === "file" && s.role === "ca")?.path;
            const base = { host: args.host, port: args.port, plainHttp: target.plainHttp, caFile };
            if (!args.pullAccount) return pulumi.output(renderRegistriesYaml(base));
            const { username } = args.pullAccount;
            return pulumi.secret(
                pulumi.output(args.pullAccount.password).apply((password) => renderRegistriesYaml({ ...base, auth: { username, password } })),
            );
        }
    }
}

/** Runs a root script on the node: with sudo where needed, inside the kind node container for kind. */
export function nodeRunner(flavour: RuntimeFlavour, connection: HostConnection, kindContainer?: string): (body: string) => string {
    if (flavour !== "kind") return (body) => privileged(body, connection.sudo);
    const container = kindContainer ?? connection.name;
    const sudo = connection.sudo ? "sudo -n " : "";
    return (body) => `${sudo}docker exec -i ${shQuote(container)} sh -c ${shQuote(body)}`;
}

/** Node trust on one node, over SSH or with local commands. */
export class NodeTrust extends pulumi.ComponentResource {
    constructor(name: string, args: NodeTrustArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:nodes:NodeTrust", name, {}, opts);
        const plan = trustPlan(args.flavour, trustTargetOf(args));
        const connection = args.connection;
        const run = nodeRunner(args.flavour, connection, args.kindContainer);
        const allowServiceRestart = args.allowServiceRestart ?? true;

        let dir: pulumi.Resource | undefined;
        const placed: pulumi.Resource[] = [];
        for (const step of plan.steps) {
            const after = { parent: this, dependsOn: dir ? [dir] : [] };
            switch (step.kind) {
                case "dir":
                    dir = hostCommand(
                        `${name}-dir`,
                        { connection, create: run(dirCreateScript(step.path)), delete: run(dirRemoveScript(step.path)) },
                        { parent: this },
                    );
                    break;
                case "file": {
                    const content = fileContent(step, plan, args);
                    if (step.restartUnits.length > 0) {
                        const { marker, place } = splitPlaceFileScript(connection.name, step);
                        placed.push(
                            hostCommand(
                                `${name}-${step.role}`,
                                {
                                    connection,
                                    create: `${marker}\n${run(placeWithRestartBody(place, step, allowServiceRestart))}`,
                                    delete: run(removeWithRestartBody(step, allowServiceRestart)),
                                    stdin: content,
                                    sensitiveOutput: step.secret,
                                },
                                { ...after, dependsOn: [...after.dependsOn, ...placed] },
                            ),
                        );
                    } else if (args.flavour === "kind") {
                        const { marker, place } = splitPlaceFileScript(connection.name, step);
                        placed.push(
                            hostCommand(
                                `${name}-${step.role}`,
                                {
                                    connection,
                                    create: `${marker}\n${run(`set -eu\n${place}`)}`,
                                    delete: run(removeFileBody(step)),
                                    stdin: content,
                                    sensitiveOutput: step.secret,
                                },
                                after,
                            ),
                        );
                    } else {
                        placed.push(
                            new HostFile(
                                `${name}-${step.role}`,
                                { connection, path: step.path, mode: step.mode, content, secret: step.secret },
                                after,
                            ),
                        );
                    }
                    break;
                }
                case "config-path": {
                    const allow = args.allowContainerdRestart ?? false;
                    hostCommand(
                        `${name}-config-path`,
                        {
                            connection,
                            create: run(configPathCheckScript(step, allow)),
                            delete: run(configPathRemoveScript(step, allow)),
                        },
                        { parent: this, dependsOn: placed },
                    );
                    break;
                }
                case "etc-hosts":
                    hostCommand(
                        `${name}-etc-hosts`,
                        {
                            connection,
                            create: pulumi.output(args.registryAddress!).apply((address) => run(etcHostsScript(args.host, address))),
                            delete: run(etcHostsScript(args.host, undefined)),
                        },
                        { parent: this },
                    );
                    break;
            }
        }
        this.registerOutputs({});
    }
}

/** Default image for the DaemonSet: busybox has sh, awk, cmp, mktemp, sha256sum and nsenter. */
export const NODE_TRUST_IMAGE = "busybox:1.36.1";

export interface NodeTrustDaemonSetArgs extends NodeTrustCommonArgs {
    /** Namespace of the DaemonSet, its ConfigMap and Secret (must exist). */
    readonly namespace: string;
    /** Name of the Kubernetes objects. */
    readonly objectName?: string;
    /** Image with a POSIX shell and busybox tools (nsenter for restarts). */
    readonly image?: string;
    /** Seconds between two runs of the apply script on each node (it converges drift). */
    readonly intervalSeconds?: number;
}

/** Where the DaemonSet finds its files. */
const CONFIG_DIR = "/dso/config";
const SECRET_DIR = "/dso/secret";
/** Prefix under which the node's directories are mounted in the pod. */
const HOST_ROOT = "/host";
/** Runs a command in the node's namespaces (needs hostPID): restarts and containerd's own checks. */
const HOST_EXEC = "nsenter -t 1 -m -u -i -n -p --";
const OWNER_FILE = ".dso-registry-node-trust-owner";

/** The scripts and files the DaemonSet runs, as ConfigMap (and Secret) keys. Pure apart from Outputs. */
export interface DaemonSetScripts {
    /** Non-secret keys (scripts, CA, hosts.toml, registries.yaml without credentials). */
    readonly config: Record<string, pulumi.Output<string>>;
    /** Secret keys (registries.yaml with the pull password), if any. */
    readonly secret: Record<string, pulumi.Output<string>>;
}

/**
 * Renders apply.sh (every step, in order), remove.sh (every step reversed; run by the pod's preStop
 * hook only while the pod still owns the node's trust, so a rolling update's new pod is not undone by
 * the old one) and run.sh (applies, then re-applies every interval to repair drift).
 */
export function daemonSetScripts(plan: TrustPlan, args: NodeTrustCommonArgs, intervalSeconds: number): DaemonSetScripts {
    const config: Record<string, pulumi.Output<string>> = {};
    const secret: Record<string, pulumi.Output<string>> = {};
    const apply: string[] = ["set -eu"];
    const remove: string[] = [];
    const marker = `"\${DSO_ROOT:-}"${shQuote(`${plan.markerDir}/${OWNER_FILE}`)}`;
    const allowServiceRestart = args.allowServiceRestart ?? true;
    const allowContainerdRestart = args.allowContainerdRestart ?? false;
    const script = (key: string, body: string) => {
        config[key] = pulumi.output(body);
        return `${CONFIG_DIR}/${key}`;
    };

    for (const step of plan.steps) {
        switch (step.kind) {
            case "dir":
                apply.push(`sh ${script("dir-create.sh", dirCreateScript(step.path))}`);
                remove.unshift(`sh ${script("dir-remove.sh", dirRemoveScript(step.path))}`);
                break;
            case "file": {
                const dataKey = step.path.split("/").pop()!;
                const content = fileContent(step, plan, args);
                const source = step.secret ? `${SECRET_DIR}/${dataKey}` : `${CONFIG_DIR}/${dataKey}`;
                (step.secret ? secret : config)[dataKey] = content;
                const { place } = splitPlaceFileScript("daemonset", step);
                const body = step.restartUnits.length > 0 ? placeWithRestartBody(place, step, allowServiceRestart) : `set -eu\n${place}`;
                apply.push(`sh ${script(`place-${step.role}.sh`, body)} < ${source}`);
                const removeBody = step.restartUnits.length > 0 ? removeWithRestartBody(step, allowServiceRestart) : removeFileBody(step);
                remove.unshift(`sh ${script(`remove-${step.role}.sh`, removeBody)}`);
                break;
            }
            case "config-path":
                apply.push(`sh ${script("config-path.sh", configPathCheckScript(step, allowContainerdRestart))}`);
                remove.unshift(`sh ${script("config-path-remove.sh", configPathRemoveScript(step, allowContainerdRestart))}`);
                break;
            case "etc-hosts":
                config["etc-hosts.sh"] = pulumi.output(args.registryAddress!).apply((address) => etcHostsScript(args.host, address));
                apply.push(`sh ${CONFIG_DIR}/etc-hosts.sh`);
                remove.unshift(`sh ${script("etc-hosts-remove.sh", etcHostsScript(args.host, undefined))}`);
                break;
        }
    }
    apply.push(`printf '%s\\n' "$POD_UID" > ${marker}`);
    config["apply.sh"] = pulumi.output(`${apply.join("\n")}\n`);
    config["remove.sh"] = pulumi.output(
        [
            "set -eu",
            `if [ "$(cat ${marker} 2>/dev/null || true)" != "$POD_UID" ]; then`,
            `  echo "node trust now belongs to another pod of the DaemonSet; nothing removed"`,
            `  exit 0`,
            `fi`,
            `rm -f ${marker}`,
            ...remove,
            "",
        ].join("\n"),
    );
    config["run.sh"] = pulumi.output(
        [
            "set -u",
            `trap 'exit 0' TERM INT`,
            `while :; do`,
            `  if sh ${CONFIG_DIR}/apply.sh; then touch /tmp/applied; else echo "node trust: applying failed; trying again in ${intervalSeconds}s" >&2; fi`,
            `  sleep ${intervalSeconds} &`,
            `  wait $!`,
            `done`,
            "",
        ].join("\n"),
    );
    return { config, secret };
}

/** Volume name for a host path: lower-case letters, digits and "-". */
function volumeName(path: string): string {
    return `host${path.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.replace(/-+$/, "");
}

/** A privileged DaemonSet that applies node trust on every node, also on nodes that join later. */
export class NodeTrustDaemonSet extends pulumi.ComponentResource {
    /** Name of the DaemonSet. */
    readonly daemonSetName: pulumi.Output<string>;

    constructor(name: string, args: NodeTrustDaemonSetArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:nodes:NodeTrustDaemonSet", name, {}, opts);
        const plan = trustPlan(args.flavour, trustTargetOf(args));
        const objectName = args.objectName ?? "dso-node-trust";
        const interval = args.intervalSeconds ?? 300;
        const restarts =
            plan.steps.some((s) => s.kind === "file" && s.restartUnits.length > 0 && (args.allowServiceRestart ?? true)) ||
            plan.steps.some((s) => s.kind === "config-path" && (args.allowContainerdRestart ?? false));
        const labels = { "app.kubernetes.io/name": objectName, ...PART_OF_LABELS };
        const scripts = daemonSetScripts(plan, args, interval);

        const configMap = new k8s.core.v1.ConfigMap(
            `${name}-config`,
            { metadata: { name: objectName, namespace: args.namespace, labels }, data: scripts.config },
            { parent: this },
        );
        const hasSecret = Object.keys(scripts.secret).length > 0;
        const secret = hasSecret
            ? new k8s.core.v1.Secret(
                  `${name}-secret`,
                  { metadata: { name: objectName, namespace: args.namespace, labels }, stringData: scripts.secret },
                  { parent: this },
              )
            : undefined;

        // A new hash rolls the pods at once; Secret changes reach the mounted files and the next run.
        const configHash = pulumi
            .all(scripts.config)
            .apply((data) => createHash("sha256").update(JSON.stringify(Object.entries(data).sort())).digest("hex"));

        const hostVolumes = plan.hostMounts.map((m) => ({
            name: volumeName(m.path),
            hostPath: { path: m.path, type: m.type },
        }));
        const daemonSet = new k8s.apps.v1.DaemonSet(
            `${name}-daemonset`,
            {
                metadata: { name: objectName, namespace: args.namespace, labels },
                spec: {
                    selector: { matchLabels: labels },
                    // The new pod applies before the old one goes, so nodes never lose trust on an update.
                    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
                    template: {
                        metadata: { labels, annotations: { "dso-registry/config-hash": configHash } },
                        spec: {
                            automountServiceAccountToken: false,
                            hostPID: restarts || undefined,
                            tolerations: [{ operator: "Exists" }],
                            terminationGracePeriodSeconds: 60,
                            containers: [
                                {
                                    name: "node-trust",
                                    image: args.image ?? NODE_TRUST_IMAGE,
                                    command: ["sh", `${CONFIG_DIR}/run.sh`],
                                    env: [
                                        { name: "DSO_ROOT", value: HOST_ROOT },
                                        ...(restarts ? [{ name: "DSO_HOST_EXEC", value: HOST_EXEC }] : []),
                                        { name: "POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
                                    ],
                                    lifecycle: { preStop: { exec: { command: ["sh", `${CONFIG_DIR}/remove.sh`] } } },
                                    readinessProbe: { exec: { command: ["test", "-f", "/tmp/applied"] }, periodSeconds: 5 },
                                    securityContext: { privileged: true },
                                    resources: { requests: { cpu: "5m", memory: "16Mi" }, limits: { memory: "64Mi" } },
                                    volumeMounts: [
                                        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                                        ...(hasSecret ? [{ name: "secret", mountPath: SECRET_DIR, readOnly: true }] : []),
                                        ...plan.hostMounts.map((m) => ({ name: volumeName(m.path), mountPath: `${HOST_ROOT}${m.path}` })),
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "config", configMap: { name: configMap.metadata.name } },
                                ...(secret ? [{ name: "secret", secret: { secretName: secret.metadata.name, defaultMode: 0o400 } }] : []),
                                ...hostVolumes,
                            ],
                        },
                    },
                },
            },
            { parent: this },
        );
        this.daemonSetName = daemonSet.metadata.name;
        this.registerOutputs({ daemonSetName: this.daemonSetName });
    }
}
