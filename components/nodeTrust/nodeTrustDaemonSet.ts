/**
 * Node trust as a privileged DaemonSet: every node, also nodes that join later, applies the same
 * steps and scripts as the SSH delivery (files.ts) from a ConfigMap (and a Secret for the pull
 * password), and repairs drift every interval. `planNodeTrustDaemonSet` decides the objects and their
 * content; the component only registers them.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_NODE_TRUST_IMAGE } from "../shared/defaults";
import { PART_OF_LABELS } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { renderShellScript } from "../shared/shellScript";
import { typeToken } from "../shared/typeToken";
import { fileContent, type NodeTrustCommonArgs, type ResolvedNodeTrust, resolveNodeTrust } from "./common";
import {
    configPathCheckScript,
    configPathRemoveScript,
    dirCreateScript,
    dirRemoveScript,
    etcHostsScript,
    mirrorHostsTomlPruneScript,
    placeFileStepBody,
    removeFileStepBody,
    type TrustPlan,
    trustPlan,
} from "./files";

/** Seconds between two runs of the apply script on each node (it converges drift). */
const INTERVAL_SECONDS = 300;

export interface NodeTrustDaemonSetArgs extends NodeTrustCommonArgs {
    /** Namespace of the DaemonSet, its ConfigMap and Secret (must exist unless `createNamespace`; a Namespace's `metadata.name` orders them after it). */
    readonly namespace: pulumi.Input<string>;
    /**
     * Create the namespace too, labelled for privileged pods (Pod Security Admission), so that no other
     * namespace (the registry's) has to allow them.
     */
    readonly createNamespace?: boolean;
    /** Name of the Kubernetes objects. */
    readonly objectName?: string;
    /**
     * Image of the pods: busybox, or any image with sh, awk, cmp, mktemp, sha256sum and nsenter (the
     * scripts' tools); a mirror's copy, or one pinned by digest, for a cluster without internet access.
     * @default "busybox:1.37.0"
     */
    readonly image?: string;
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
interface DaemonSetScripts {
    /** Non-secret keys (scripts, CA, hosts.toml, registries.yaml without credentials). */
    readonly config: Record<string, pulumi.Output<string>>;
    /** Secret keys (registries.yaml with the pull password), if any. */
    readonly secret: Record<string, pulumi.Output<string>>;
}

/** A script of node trust, in `sh/` beside this file. */
function scriptFile(name: string): string {
    return path.join(__dirname, "sh", name);
}

/**
 * Renders apply.sh (every step, in order), remove.sh (every step reversed; run by the pod's preStop
 * hook only while the pod still owns the node's trust, so a rolling update's new pod is not undone by
 * the old one) and run.sh (applies, then re-applies every interval to repair drift), and every step's
 * script, as ConfigMap keys.
 */
function daemonSetScripts(plan: TrustPlan, args: ResolvedNodeTrust): DaemonSetScripts {
    const config: Record<string, pulumi.Output<string>> = {};
    const secret: Record<string, pulumi.Output<string>> = {};
    /** apply.sh's steps: a script's path, and the file it reads on stdin where it places one. */
    const apply: string[] = [];
    /** remove.sh's steps, in the order they run. */
    const remove: string[] = [];
    const ownerFile = `${plan.markerDir}/${OWNER_FILE}`;
    const { restart, allowContainerdRestart } = args;
    const script = (key: string, body: pulumi.Input<string>) => {
        config[key] = pulumi.output(body);
        return `${CONFIG_DIR}/${key}`;
    };

    if (plan.mirrorCertsDir) {
        // Upstreams mirrored before and no longer: their removal ran in no pod (the previous pod's preStop
        // leaves the node to its successor), so this run takes the program's blocks out of their files.
        const mirrored = plan.steps.flatMap((s) => (s.kind === "file" && s.mirror ? [s.mirror.upstream] : []));
        apply.push(script("mirror-prune.sh", mirrorHostsTomlPruneScript(plan.mirrorCertsDir, plan.authority, mirrored)));
    }
    for (const step of plan.steps) {
        switch (step.kind) {
            case "dir":
                apply.push(script(`dir-create${step.id ? `-${step.id}` : ""}.sh`, dirCreateScript(step.path)));
                remove.unshift(script(`dir-remove${step.id ? `-${step.id}` : ""}.sh`, dirRemoveScript(step.path)));
                break;
            case "file": {
                // ConfigMap and Secret keys allow letters, digits, "-", "_" and "." only: not the ":" of host:port.
                const dataKey = `${step.id ? `${step.id}-` : ""}${step.path.split("/").pop()!}`.replace(/:/g, "-");
                const content = fileContent(step, plan, args);
                const source = step.secret ? `${SECRET_DIR}/${dataKey}` : `${CONFIG_DIR}/${dataKey}`;
                (step.secret ? secret : config)[dataKey] = content;
                apply.push(`${script(`place-${step.id ?? step.role}.sh`, placeFileStepBody(step, restart))} ${source}`);
                remove.unshift(script(`remove-${step.id ?? step.role}.sh`, removeFileStepBody(step, restart)));
                break;
            }
            case "config-path":
                apply.push(script("config-path.sh", configPathCheckScript(step, allowContainerdRestart)));
                remove.unshift(script("config-path-remove.sh", configPathRemoveScript(step, allowContainerdRestart)));
                break;
            case "etc-hosts":
                apply.push(
                    script(
                        "etc-hosts.sh",
                        pulumi.output(args.registryAddress!).apply((address) => etcHostsScript(args.host, address)),
                    ),
                );
                remove.unshift(script("etc-hosts-remove.sh", etcHostsScript(args.host, undefined)));
                break;
        }
    }
    config["apply.sh"] = pulumi.output(renderShellScript(scriptFile("daemonset-apply.sh"), { STEPS: apply, OWNER_FILE: ownerFile }));
    config["remove.sh"] = pulumi.output(renderShellScript(scriptFile("daemonset-remove.sh"), { STEPS: remove, OWNER_FILE: ownerFile }));
    config["run.sh"] = pulumi.output(
        renderShellScript(scriptFile("daemonset-run.sh"), {
            APPLY_SCRIPT: `${CONFIG_DIR}/apply.sh`,
            OWNER_FILE: ownerFile,
            INTERVAL_SECONDS,
        }),
    );
    return { config, secret };
}

/** Volume name for a host path: lower-case letters, digits and "-". */
function volumeName(hostPath: string): string {
    return `host${hostPath.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.replace(/-+$/, "");
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const NODE_TRUST_DAEMON_SET_TYPE = typeToken("nodeTrust", "NodeTrustDaemonSet");

/**
 * One Kubernetes object `NodeTrustDaemonSet` registers: its resource name, its args, and whether it waits
 * for the namespace the component creates (`createNamespace`).
 */
export interface DaemonSetObject<A> {
    readonly name: string;
    readonly args: A;
    readonly afterNamespace: boolean;
}

/** What `NodeTrustDaemonSet` registers, in this order: `planNodeTrustDaemonSet`. */
export interface NodeTrustDaemonSetPlan {
    /** The privileged namespace, only with `createNamespace`; once a resource of the stack itself (hence its alias). */
    readonly namespace?: DaemonSetObject<k8s.core.v1.NamespaceArgs>;
    /** The scripts, the CA and the non-secret files. */
    readonly configMap: DaemonSetObject<k8s.core.v1.ConfigMapArgs>;
    /** The files that carry the pull password; none when nothing does. */
    readonly secret?: DaemonSetObject<k8s.core.v1.SecretArgs>;
    /** The DaemonSet, with the names of the ConfigMap and Secret it mounts (their objects' `metadata.name`). */
    readonly daemonSet: DaemonSetObject<
        (links: { readonly configMapName: pulumi.Input<string>; readonly secretName?: pulumi.Input<string> }) => k8s.apps.v1.DaemonSetArgs
    >;
}

/**
 * Everything `NodeTrustDaemonSet` registers, from its args with the defaults applied: the namespace (only
 * when it creates it), the ConfigMap of scripts and files, the Secret (only when a file carries the pull
 * password), and the DaemonSet whose pods apply them, rolled whenever either changes.
 */
export function planNodeTrustDaemonSet(name: string, args: NodeTrustDaemonSetArgs & ResolvedNodeTrust): NodeTrustDaemonSetPlan {
    const plan = trustPlan(args.flavour, args.target);
    const objectName = args.objectName ?? "dso-node-trust";
    const labels = { "app.kubernetes.io/name": objectName, ...PART_OF_LABELS };
    const scripts = daemonSetScripts(plan, args);
    const metadata = { name: objectName, namespace: args.namespace, labels };
    const afterNamespace = args.createNamespace ?? false;
    const hasSecret = Object.keys(scripts.secret).length > 0;
    // A new hash rolls the pods, one node at a time; so does a new Secret (a rotated pull password), whose
    // hash is kept secret like the Secret itself.
    const hashOf = (data: Record<string, string>) =>
        createHash("sha256")
            .update(JSON.stringify(Object.entries(data).sort()))
            .digest("hex");
    const hashes = {
        config: pulumi.all(scripts.config).apply(hashOf),
        ...(hasSecret ? { secret: pulumi.secret(pulumi.all(scripts.secret).apply(hashOf)) } : {}),
    };
    return {
        ...(args.createNamespace
            ? {
                  namespace: {
                      name: `${name}-namespace`,
                      args: {
                          metadata: {
                              name: args.namespace,
                              labels: {
                                  "pod-security.kubernetes.io/enforce": "privileged",
                                  "pod-security.kubernetes.io/audit": "privileged",
                                  "pod-security.kubernetes.io/warn": "privileged",
                                  ...PART_OF_LABELS,
                              },
                          },
                      },
                      afterNamespace: false,
                  },
              }
            : {}),
        configMap: { name: `${name}-config`, args: { metadata, data: scripts.config }, afterNamespace },
        ...(hasSecret ? { secret: { name: `${name}-secret`, args: { metadata, stringData: scripts.secret }, afterNamespace } } : {}),
        daemonSet: {
            name: `${name}-daemonset`,
            args: (links) => ({
                metadata,
                spec: daemonSetSpec({ args, plan, labels, restarts: podRestarts(plan, args), hashes, ...links }),
            }),
            afterNamespace,
        },
    };
}

/** Whether a pod restarts or reloads a service on the node: then it runs in the node's PID namespace (HOST_EXEC). */
function podRestarts(plan: TrustPlan, args: ResolvedNodeTrust): boolean {
    return (
        plan.steps.some((s) => s.kind === "file" && s.restartUnits.length > 0 && args.allowServiceRestart) ||
        plan.steps.some((s) => s.kind === "file" && (s.reloadUnits?.length ?? 0) > 0) ||
        plan.steps.some((s) => s.kind === "config-path" && args.allowContainerdRestart)
    );
}

/**
 * The DaemonSet's spec: one privileged pod per node (every taint tolerated), updated new pod first, that
 * runs run.sh from the ConfigMap with the node's directories mounted under HOST_ROOT, is Ready once it
 * applied, and runs remove.sh when it stops.
 */
function daemonSetSpec(p: {
    readonly args: NodeTrustDaemonSetArgs;
    readonly plan: TrustPlan;
    readonly labels: Record<string, string>;
    readonly restarts: boolean;
    readonly hashes: { readonly config: pulumi.Output<string>; readonly secret?: pulumi.Output<string> };
    readonly configMapName: pulumi.Input<string>;
    readonly secretName?: pulumi.Input<string>;
}): k8s.types.input.apps.v1.DaemonSetSpec {
    const { args, plan, labels, restarts, hashes } = p;
    const hasSecret = hashes.secret !== undefined;
    const hostVolumes = plan.hostMounts.map((m) => ({
        name: volumeName(m.path),
        hostPath: { path: m.path, type: m.type },
    }));
    return {
        selector: { matchLabels: labels },
        // The new pod applies before the old one goes, so nodes never lose trust on an update.
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
            metadata: {
                labels,
                annotations: {
                    "dso-registry/config-hash": hashes.config,
                    ...(hashes.secret ? { "dso-registry/secret-hash": hashes.secret } : {}),
                },
            },
            spec: {
                automountServiceAccountToken: false,
                hostPID: restarts || undefined,
                tolerations: [{ operator: "Exists" }],
                terminationGracePeriodSeconds: 60,
                containers: [
                    {
                        name: "node-trust",
                        image: args.image ?? DEFAULT_NODE_TRUST_IMAGE,
                        command: ["sh", `${CONFIG_DIR}/run.sh`],
                        env: [
                            { name: "DSO_ROOT", value: HOST_ROOT },
                            ...(restarts
                                ? [
                                      { name: "DSO_HOST_EXEC", value: HOST_EXEC },
                                      { name: "DSO_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
                                  ]
                                : []),
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
                    { name: "config", configMap: { name: p.configMapName } },
                    ...(p.secretName !== undefined ? [{ name: "secret", secret: { secretName: p.secretName, defaultMode: 0o400 } }] : []),
                    ...hostVolumes,
                ],
            },
        },
    };
}

/**
 * A privileged DaemonSet that applies node trust on every node, also on nodes that join later. Objects go
 * to the Kubernetes provider of `opts.providers` (or `opts.provider`), else the ambient one.
 */
export class NodeTrustDaemonSet extends pulumi.ComponentResource {
    /** The DaemonSet: its pods are Ready on a node once that node trusts the registry. */
    readonly daemonSet: k8s.apps.v1.DaemonSet;
    /** The scripts, the CA and the non-secret files every pod applies. */
    readonly configMap: k8s.core.v1.ConfigMap;
    /** The files that carry the pull password; undefined when nothing does. */
    readonly secret?: k8s.core.v1.Secret;

    constructor(name: string, given: NodeTrustDaemonSetArgs, opts?: pulumi.ComponentResourceOptions) {
        super(NODE_TRUST_DAEMON_SET_TYPE, name, {}, withFormerType(opts, "dso:nodes:NodeTrustDaemonSet"));
        const plan = planNodeTrustDaemonSet(name, resolveNodeTrust(given));
        // Once created by the stack itself (no parent): the alias keeps its identity.
        const namespace =
            plan.namespace &&
            new k8s.core.v1.Namespace(plan.namespace.name, plan.namespace.args, {
                parent: this,
                aliases: [{ parent: pulumi.rootStackResource }],
            });
        const options = ({ afterNamespace }: DaemonSetObject<unknown>): pulumi.CustomResourceOptions => ({
            parent: this,
            ...(afterNamespace && namespace ? { dependsOn: [namespace] } : {}),
        });
        this.configMap = new k8s.core.v1.ConfigMap(plan.configMap.name, plan.configMap.args, options(plan.configMap));
        this.secret = plan.secret && new k8s.core.v1.Secret(plan.secret.name, plan.secret.args, options(plan.secret));
        const daemonSetArgs = plan.daemonSet.args({
            configMapName: this.configMap.metadata.name,
            ...(this.secret ? { secretName: this.secret.metadata.name } : {}),
        });
        this.daemonSet = new k8s.apps.v1.DaemonSet(plan.daemonSet.name, daemonSetArgs, options(plan.daemonSet));
        this.registerOutputs({});
    }
}
