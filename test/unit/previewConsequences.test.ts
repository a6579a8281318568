/**
 * tools/previewConsequences.ts: what a `pulumi preview --json` of the program will disrupt. Each case is a
 * small preview written by hand in the shape the engine prints (read from a recorded one: steps with `op`,
 * `urn`, old and new inputs, `detailedDiff`; `diffReasons` never filled), and the consequences a reviewer
 * must be told. The last cases take the prod stack's own scripts from its synth, so a renamed script
 * parameter the summary reads fails here, and hold every kind of resource the summary reads (its type, its
 * component's, its name) to the resources the program makes, so a renamed type token or child fails here too.
 * Covers: components/config/schema/review.ts (the disruption budget the summary compares with).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ACCOUNTS_TARGETS } from "../../components/accounts/previewConsequences";
import { passwordOverlapName } from "../../components/accounts/registryAccounts";
import { type DisruptionBudget, disruptionBudget } from "../../components/config/schema/review";
import { EXTERNAL_HOST_TARGETS } from "../../components/externalHost/previewConsequences";
import { type NetworkPolicySettings, renderNetworkPolicy, resolveNetworkPolicy } from "../../components/inCluster/networkPolicy";
import { IN_CLUSTER_TARGETS } from "../../components/inCluster/previewConsequences";
import { JENKINS_TARGETS } from "../../components/jenkins/previewConsequences";
import { KIND_TARGETS } from "../../components/kind/previewConsequences";
import { MIRROR_TARGETS } from "../../components/mirrors/previewConsequences";
import { NODE_TRUST_TARGETS } from "../../components/nodeTrust/previewConsequences";
import { HOST_FILE_TYPE } from "../../components/shared/hostAccess";
import { shQuote } from "../../components/shared/shQuote";
import {
    BUDGET_KEYS,
    budgetChanges,
    budgetOfStackFile,
    budgetVerdict,
    type ConsequenceKind,
    consequencesOfPreviewJson,
    DEFAULT_BUDGET,
    isTarget,
    MEASURED,
    type Named,
    NEW_STACK,
    overBudget,
    type PreviewStep,
    previewConsequences,
    renderBudgetVerdict,
    renderConsequences,
    scriptParameters,
    TARGETS,
    UNKNOWN,
} from "../../tools/previewConsequences";
import { readStackConfig, runProgram, type StackFileConfig } from "../../tools/synth";
import { committedSynthDir } from "../support/committedSynth";
import { PROJECT_DIR } from "../support/synthCli";

const STACK_URN = "urn:pulumi:prod::dso-registry::pulumi:pulumi:Stack::dso-registry-prod";
/** A URN of the prod stack: the type chain (components first) and the name. */
const urn = (chain: readonly string[], name: string) => `urn:pulumi:prod::dso-registry::${chain.join("$")}::${name}`;
/** A script as the program renders it (parameters under the header), run as root over SSH. */
const script = (params: Record<string, string>) =>
    `sudo -n sh -c ${shQuote(["#!/bin/sh", "# a script", ...Object.entries(params).map(([k, v]) => `${k}=${shQuote(v)}`), "set -eu", "echo done"].join("\n"))}`;

interface StepSpec {
    readonly op: string;
    readonly chain: readonly string[];
    readonly name: string;
    readonly olds?: Record<string, unknown>;
    readonly news?: Record<string, unknown>;
    readonly parent?: string;
    /** The name of the component it belongs to (the last type of `chain` but one): its parent. */
    readonly component?: string;
    readonly detailedDiff?: Record<string, { kind: string }>;
    readonly retainOnDelete?: boolean;
}

/** A step as `preview --json` prints it. */
/** A generated password replaced by a rotation (its counter bumped). */
function passwordRotated(name: string, username: string): PreviewStep {
    return step({
        op: "replace",
        chain: ["dso-registry:accounts:RegistryAccounts", "random:index/randomPassword:RandomPassword"],
        name,
        olds: { keepers: { rotation: "1", username }, length: 40 },
        news: { keepers: { rotation: "2", username }, length: 40 },
    });
}

function step(s: StepSpec): PreviewStep {
    const type = s.chain[s.chain.length - 1]!;
    const parent = s.parent ?? (s.component !== undefined ? urn(s.chain.slice(0, -1), s.component) : STACK_URN);
    const state = (inputs: Record<string, unknown> | undefined) =>
        inputs && { type, custom: true, inputs, parent, ...(s.retainOnDelete ? { retainOnDelete: true } : {}) };
    return {
        op: s.op,
        urn: urn(s.chain, s.name),
        ...(s.op !== "create" ? { oldState: state(s.olds ?? {}) } : {}),
        ...(s.op !== "delete" ? { newState: state(s.news ?? {}) } : {}),
        ...(s.detailedDiff ? { detailedDiff: s.detailedDiff } : {}),
    };
}

const REMOTE = "command:remote:Command";

/** The registry's NetworkPolicy as the stack renders it, with `settings` over the defaults (in-cluster, Traefik, monitoring). */
function policy(settings: Partial<NetworkPolicySettings>): Record<string, unknown> {
    const resolved = resolveNetworkPolicy(
        { enabled: true, clientNamespaces: [], nodeNetworks: [], monitoringNamespaces: ["monitoring"], ...settings },
        { controller: "traefik", proxyNetworks: [], objectStore: false },
    );
    return renderNetworkPolicy({ namespace: "dso", networkPolicy: resolved, monitoring: true } as never) as unknown as Record<
        string,
        unknown
    >;
}

function policyStep(op: StepSpec["op"], olds: Record<string, unknown> | undefined, news: Record<string, unknown> | undefined): PreviewStep {
    return step({
        op,
        chain: [IN_CLUSTER, "kubernetes:networking.k8s.io/v1:NetworkPolicy"],
        name: "registry-policy",
        ...(olds ? { olds } : {}),
        ...(news ? { news } : {}),
    });
}
const NODE_FILE = ["dso-registry:nodeTrust:NodeTrustFleet", "dso-registry:nodeTrust:NodeTrust", "dso-registry:nodeTrust:NodeFile", REMOTE];
const HOST = "dso-registry:externalHost:ExternalRegistryHost";
const IN_CLUSTER = "dso-registry:inCluster:InClusterRegistry";
const LOGIN_LIMIT = "dso-registry:externalHost:HostLoginLimit";
const connection = { host: "10.20.0.22", port: 22, privateKey: "[secret]", user: "deploy" };

const registriesYaml = (params: Record<string, string> = {}) =>
    script({
        FLAVOUR: "k3s",
        UNITS: "k3s\nk3s-agent",
        ALLOW_RESTART: "true",
        RESTART_TIMEOUT_SECONDS: "300",
        TURN: "agent batch 1 of 2, after k3s-server-1",
        ...params,
    });
const nodeFileStep = (op: string, olds: Record<string, unknown>, news: Record<string, unknown>) =>
    step({
        op,
        chain: NODE_FILE,
        name: "node-trust-k3s-agent-1-registries-yaml-write",
        parent: urn(NODE_FILE.slice(0, 3), "node-trust-k3s-agent-1-registries-yaml"),
        olds,
        news,
    });
const yamlInputs = (stdin: string, params: Record<string, string> = {}) => ({
    connection,
    create: registriesYaml({ ACTION: "apply", ...params }),
    delete: registriesYaml({ ACTION: "remove", ...params }),
    stdin,
});

const registryRun = (params: Record<string, string>) =>
    script({
        REGISTRY_NAME: "dso-registry",
        REGISTRY_IMAGE: "registry:3.1.2",
        REGISTRY_FINGERPRINT: "a612f4c90abecbd3",
        RELAY_FINGERPRINT: "bf1c",
        ...params,
    });
const caddyReload = (fingerprint: string, image = "caddy:2.8.4") =>
    script({
        CADDYFILE: "/etc/caddy/Caddyfile",
        FILES_FINGERPRINT: fingerprint,
        FRONT_IMAGE: image,
        FRONT_MOUNTS: "/etc/caddy:/etc/caddy:ro",
    });
/** The apply of earlier versions, which reloaded the distribution's caddy service. */
const packageCaddyReload = (fingerprint: string) =>
    script({ CADDYFILE: "/etc/caddy/Caddyfile", FILES_FINGERPRINT: fingerprint, UPLOAD_WAIT_SECONDS: "120" });
const purgeMarker = (directories: string) => script({ MARKER: "/etc/dso-registry/purge-on-destroy", DIRECTORIES: directories });
const kindContainers = (params: Record<string, string>) =>
    `sh -c ${shQuote(
        Object.entries({
            DISTRIBUTION_FILES: "d1",
            DISTRIBUTION_IMAGE: "registry:3.1.2",
            FRONT_FILES: "f1",
            FRONT_IMAGE: "caddy:2.8.4",
            MIRRORS: "",
            ...params,
        })
            .map(([k, v]) => `${k}=${shQuote(v)}`)
            .join("\n"),
    )}`;

const deployment = (name: string, strategy: string, annotation: string) => ({
    kind: "Deployment",
    metadata: { name, namespace: "dso" },
    spec: { strategy: { type: strategy }, template: { metadata: { annotations: { "dso-registry/config-checksum": annotation } } } },
});
const daemonSet = (hash: string, flavourMount: string, restarts: boolean) => ({
    kind: "DaemonSet",
    metadata: { name: "dso-node-trust", namespace: "dso-node-trust" },
    spec: {
        template: {
            metadata: { annotations: { "dso-registry/config-hash": hash } },
            spec: {
                containers: [{ name: "node-trust", env: restarts ? [{ name: "DSO_HOST_EXEC", value: "nsenter" }] : [] }],
                volumes: [{ name: "host", hostPath: { path: flavourMount } }],
            },
        },
    },
});
const claim = (namespace: string) => ({
    kind: "PersistentVolumeClaim",
    metadata: { name: "registry-data", namespace },
    spec: { accessModes: ["ReadWriteOnce"] },
});
const credential = (password: string, jenkinsSecret = "[secret]") => ({
    credentialId: "container-registry",
    kind: "usernamePassword",
    username: "ci-push",
    password,
    jenkinsSecret,
    jenkinsUrl: "https://jenkins.example.com",
});

/** The external host's commands the cases change: the component's type, the component's name (none: the stack's child) and the command's. */
const HOST_COMMANDS = {
    registry: ["dso-registry:externalHost:RegistryContainer", "registry-host-container", "registry-host-container-run"],
    front: ["dso-registry:externalHost:CaddySite", "registry-host-caddy", "registry-host-caddy-reload"],
    purge: ["dso-registry:externalHost:PurgeOnDestroy", "registry-host-purge", "registry-host-purge-marker"],
    dataDir: ["dso-registry:externalHost:HostPackages", "registry-host-packages", "registry-host-packages-data-dir"],
    loginLimit: [LOGIN_LIMIT, undefined, "registry-host-login-limit-fail2ban"],
} as const;
/** A step of a command on the external host, run over SSH: its `create` script before and after. */
const hostCommand = (op: string, command: keyof typeof HOST_COMMANDS, before?: string, after?: string) => {
    const [type, component, name] = HOST_COMMANDS[command];
    return step({
        op,
        chain: [HOST, type, REMOTE],
        name,
        component,
        olds: before === undefined ? undefined : { connection, create: before },
        news: after === undefined ? undefined : { connection, create: after },
    });
};
const jail = (params: Record<string, string>) => script({ JAIL_NAME: "dso-registry", ...params });
/** A step of one of kind's local commands: its `create` script before and after. */
const kindCommand = (op: string, name: string, before?: string, after?: string) =>
    step({
        op,
        chain: ["dso-registry:kind:KindRegistry", "command:local:Command"],
        name,
        component: "kind-registry",
        olds: before === undefined ? undefined : { create: before },
        news: after === undefined ? undefined : { create: after },
    });
/** An update of an in-cluster Deployment, `registry-deployment-<name>`. */
const deploymentUpdate = (
    name: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    detailedDiff?: Record<string, { kind: string }>,
) =>
    step({
        op: "update",
        chain: [IN_CLUSTER, "kubernetes:apps/v1:Deployment"],
        name: `registry-deployment-${name}`,
        olds,
        news,
        detailedDiff,
    });
/** An update of the Jenkins credential whose password showed as [secret] before. */
const credentialUpdate = (password: string, detailedDiff?: Record<string, { kind: string }>) =>
    step({
        op: "update",
        chain: ["dso-registry:jenkins:JenkinsCredentials", "pulumi-nodejs:dynamic/jenkins:Credential"],
        name: "jenkins-credentials-container-registry",
        olds: credential("[secret]"),
        news: credential(password),
        detailedDiff,
    });

/** An update of one of the upkeep's scripts on the external host (by its role), from some parameters to others. */
const upkeepScriptUpdate = (role: string, before: Record<string, string>, after: Record<string, string>) => {
    const chain = [HOST, "dso-registry:externalHost:HostUpkeep", HOST_FILE_TYPE, REMOTE];
    return step({
        op: "update",
        chain,
        name: `registry-host-upkeep-${role}-write`,
        parent: urn(chain.slice(0, 3), `registry-host-upkeep-${role}`),
        olds: { connection, stdin: script(before) },
        news: { connection, stdin: script(after) },
    });
};
/** An update of tag retention's script on the external host, from one MODE and RULES to another. */
const retentionScriptUpdate = (before: Record<string, string>, after: Record<string, string>) =>
    upkeepScriptUpdate("retention-script", before, after);

/** An update of tag retention's script in kind.dataDir on the Docker host, from one MODE and RULES to another. */
const kindRetentionScriptUpdate = (before: Record<string, string>, after: Record<string, string>) => {
    const chain = ["dso-registry:kind:KindRegistry", HOST_FILE_TYPE, "command:local:Command"];
    return step({
        op: "update",
        chain,
        name: "kind-registry-retention-script-write",
        parent: urn(chain.slice(0, 2), "kind-registry-retention-script"),
        olds: { stdin: script(before) },
        news: { stdin: script(after) },
    });
};

/** ConfigMap registry-config replaced in the cluster, its retention.sh from one MODE and RULES to another. */
const clusterRetentionUpdate = (before: Record<string, string>, after: Record<string, string>) => {
    const data = (params: Record<string, string>) => ({
        metadata: { name: "registry-config", namespace: "dso" },
        data: {
            Caddyfile: ":5000 {}",
            "retention.sh": ["#!/bin/sh", "# a script", ...Object.entries(params).map(([k, v]) => `${k}=${shQuote(v)}`), "set -eu"].join(
                "\n",
            ),
        },
    });
    return step({
        op: "update",
        chain: [IN_CLUSTER, "kubernetes:core/v1:ConfigMap"],
        name: "registry-configmap-registry-config",
        olds: data(before),
        news: data(after),
    });
};

/** What a case must yield: each consequence's kind and a phrase of its text, in the summary's order. */
type Expected = readonly (readonly [ConsequenceKind, string])[];

const CASES: readonly (readonly [string, readonly PreviewStep[], Expected])[] = [
    ["a preview with no change", [{ op: "same", urn: STACK_URN }], []],
    [
        "registries.yaml changes on a k3s node: k3s restarts there, in its turn",
        [nodeFileStep("update", yamlInputs("mirrors: {}\n"), yamlInputs("mirrors: {a: 1}\n"))],
        [["runtime", "k3s-agent-1: k3s or k3s-agent restarts (agent batch 1 of 2, after k3s-server-1)"]],
    ],
    [
        "only the node's turn changes (a node added elsewhere): the file is the same, nothing restarts",
        [
            nodeFileStep(
                "update",
                yamlInputs("mirrors: {}\n"),
                yamlInputs("mirrors: {}\n", { TURN: "agent batch 1 of 3, after k3s-server-1" }),
            ),
        ],
        [],
    ],
    [
        "registries.yaml with restarts not allowed: the restart is the operator's",
        [nodeFileStep("update", yamlInputs("a\n", { ALLOW_RESTART: "false" }), yamlInputs("b\n", { ALLOW_RESTART: "false" }))],
        [["runtime", "must be restarted by hand"]],
    ],
    [
        "a node removed: its registries.yaml loses the entries and k3s restarts",
        [nodeFileStep("delete", yamlInputs("a\n"), {})],
        [["runtime", "k3s-agent-1: k3s or k3s-agent restarts (agent batch 1 of 2, after k3s-server-1): registries.yaml loses"]],
    ],
    [
        "a secret registries.yaml (pull credentials) and nothing else visible changes: it may restart",
        [nodeFileStep("update", yamlInputs("[secret]"), yamlInputs("[secret]"))],
        [["runtime", "k3s-agent-1: k3s or k3s-agent may restart (agent batch 1 of 2, after k3s-server-1): registries.yaml changes"]],
    ],
    [
        "the node-trust DaemonSet on k3s rolls: each node's k3s restarts in turn",
        [
            step({
                op: "update",
                chain: ["dso-registry:nodeTrust:NodeTrustDaemonSet", "kubernetes:apps/v1:DaemonSet"],
                name: "node-trust-daemonset",
                olds: daemonSet("a", "/etc/rancher/k3s", true),
                news: daemonSet("b", "/etc/rancher/k3s", true),
            }),
        ],
        [["runtime", "every node: k3s restarts where its registries.yaml changes, one node at a time"]],
    ],
    [
        "the node-trust DaemonSet on microk8s rolls: hosts.toml needs no restart",
        [
            step({
                op: "replace",
                chain: ["dso-registry:nodeTrust:NodeTrustDaemonSet", "kubernetes:apps/v1:DaemonSet"],
                name: "node-trust-daemonset",
                olds: daemonSet("a", "/var/snap/microk8s/current/args/certs.d", false),
                news: daemonSet(UNKNOWN, "/var/snap/microk8s/current/args/certs.d", false),
            }),
        ],
        [],
    ],
    [
        "the registry image on the external host changes: its container is recreated",
        [
            hostCommand(
                "update",
                "registry",
                registryRun({}),
                registryRun({ REGISTRY_IMAGE: "registry:3.1.3", REGISTRY_FINGERPRINT: "c0ffee" }),
            ),
        ],
        [["registry", "the registry container on the external host is recreated"]],
    ],
    [
        "retention by last pull removed from a rule in apply: the next collection removes the tags only pulls kept",
        [retentionScriptUpdate({ MODE: "apply", RULES: "ci/ 10 - 30" }, { MODE: "apply", RULES: "ci/ 10 - -" })],
        [
            [
                "data",
                'tag retention: "ci/" no longer keeps tags for being pulled: the next garbage collection removes the old tags only pulls kept',
            ],
        ],
    ],
    [
        "on kind, retention by last pull shortened in apply: the next collection removes the tags only pulls kept",
        [kindRetentionScriptUpdate({ MODE: "apply", RULES: "ci/ 10 - 30" }, { MODE: "apply", RULES: "ci/ 10 - 7" })],
        [["data", 'tag retention: "ci/" keeps tags pulled within 7 days instead of 30: the next garbage collection removes']],
    ],
    [
        "retention by last pull added: it keeps more, once the pull history reaches back",
        [retentionScriptUpdate({ MODE: "apply", RULES: "ci/ 10 -" }, { MODE: "apply", RULES: "ci/ 10 - 30" })],
        [["other", 'tag retention: "ci/" keeps tags pulled within 30 days']],
    ],
    [
        "in the cluster, retention by last pull shortened in apply: the next collection removes the tags only pulls kept",
        [
            clusterRetentionUpdate(
                { MODE: "apply", RULES: "ci/ 10 - 30\nlib/ 3 - 30" },
                { MODE: "apply", RULES: "ci/ 10 - 14\nlib/ 3 - 30" },
            ),
        ],
        [["data", 'tag retention: "ci/" keeps tags pulled within 14 days instead of 30: the next garbage collection removes']],
    ],
    [
        "in the cluster, the last keepPulledWithinDays removed: the harvest and its history go",
        [clusterRetentionUpdate({ MODE: "dry-run", RULES: "ci/ 10 - 30" }, { MODE: "dry-run", RULES: "ci/ 10 - -" })],
        [
            ["data", 'tag retention: "ci/" no longer keeps tags for being pulled: the next garbage collection lists (dry-run)'],
            ["other", "CronJob registry-pulls and ConfigMap registry-pull-history are deleted, with the pulls recorded"],
        ],
    ],
    [
        "in the cluster, retention by last pull added: the harvest CronJob and its ConfigMap",
        [clusterRetentionUpdate({ MODE: "apply", RULES: "ci/ 10 - -" }, { MODE: "apply", RULES: "ci/ 10 - 30" })],
        [
            [
                "other",
                'tag retention: "ci/" keeps tags pulled within 30 days, from the fronts\' logs that CronJob registry-pulls harvests every 15 minutes into ConfigMap registry-pull-history',
            ],
        ],
    ],
    [
        "garbage collection on the external host turned online: pushes go on during it, and Distribution loses its cache",
        [upkeepScriptUpdate("gc-script", { GC_MODE: "window", DELETE_UNTAGGED: "false" }, { GC_MODE: "online", DELETE_UNTAGGED: "false" })],
        [["other", "garbage collection on the external host runs while pushes go on from its next run (mode online)"]],
    ],
    [
        "garbage collection on the external host back to the window: pushes get 503 again for its length",
        [upkeepScriptUpdate("gc-script", { GC_MODE: "online" }, { GC_MODE: "window" })],
        [["other", "garbage collection on the external host goes back to its read-only window from its next run (mode window)"]],
    ],
    [
        "the garbage-collection script changes, its mode as it was: nothing to tell of the mode",
        [upkeepScriptUpdate("gc-script", { GC_MODE: "window", DELETE_UNTAGGED: "false" }, { GC_MODE: "window", DELETE_UNTAGGED: "true" })],
        [],
    ],
    [
        "retention's rules change, keepPulledWithinDays as it was: nothing to tell",
        [retentionScriptUpdate({ MODE: "apply", RULES: "ci/ 10 - 30" }, { MODE: "apply", RULES: "ci/ 12 - 30" })],
        [],
    ],
    [
        "only the metrics relay's spec changes: the registry container stays",
        [hostCommand("update", "registry", registryRun({}), registryRun({ RELAY_FINGERPRINT: "other" }))],
        [],
    ],
    [
        "a file Caddy reads changes: the front reloads, and uploads in flight finish",
        [hostCommand("update", "front", caddyReload("e547"), caddyReload("9a1b"))],
        [["front", "the front (Caddy) on the external host reloads: uploads in flight finish"]],
    ],
    [
        "a new Caddy image: the front is made anew, and the port is closed while it starts",
        [hostCommand("update", "front", caddyReload("e547"), caddyReload("e547", "caddy:2.10.2"))],
        [["front", "the front on the external host is made anew with caddy:2.10.2: the port is closed while the new container starts"]],
    ],
    [
        "a front made before its memory and open-files limits: the front is made anew with them",
        [
            hostCommand(
                "update",
                "front",
                caddyReload("e547"),
                script({
                    CADDYFILE: "/etc/caddy/Caddyfile",
                    FILES_FINGERPRINT: "e547",
                    FRONT_IMAGE: "caddy:2.8.4",
                    FRONT_MOUNTS: "/etc/caddy:/etc/caddy:ro",
                    FRONT_MEMORY_MIB: "512",
                    FRONT_GO_MEMORY_LIMIT: "399MiB",
                    FRONT_OPEN_FILES: "4096",
                }),
            ),
        ],
        [["front", "the front on the external host is made anew: the port is closed while the new container starts"]],
    ],
    [
        "the upgrade from the caddy service: the front moves to the pinned Caddy's container with the service's certificates",
        [hostCommand("update", "front", packageCaddyReload("e547"), caddyReload("e547"))],
        [
            [
                "front",
                "the front on the external host moves from the caddy service to the pinned Caddy's container (caddy:2.8.4), with the service's certificates",
            ],
        ],
    ],
    [
        "Caddy's files are known only during the up (a password replaced in it): it may reload",
        [hostCommand("update", "front", caddyReload("e547"), UNKNOWN)],
        [["front", "the front (Caddy) on the external host may reload: uploads in flight finish"]],
    ],
    [
        "the login limit's numbers changed on the external host: fail2ban reloads the jail",
        [hostCommand("update", "loginLimit", jail({ JAIL: "maxretry = 10" }), jail({ JAIL: "maxretry = 20" }))],
        [["other", "fail2ban's registry jail is reloaded with the new limits"]],
    ],
    [
        "the login limit turned off on the external host: the jail goes, and its bans with it",
        [hostCommand("update", "loginLimit", jail({ JAIL: "maxretry = 10" }), jail({ CONF_DIR: "/etc/fail2ban" }))],
        [["other", "fail2ban's registry jail is removed: its bans are lifted, and failed logins are no longer limited"]],
    ],
    [
        "the login limit's script unknown at preview: a reload, not a removal",
        [hostCommand("update", "loginLimit", jail({ JAIL: "maxretry = 10" }), UNKNOWN)],
        [["other", "fail2ban's registry jail is reloaded with the new limits"]],
    ],
    [
        "a mirror removed on the external host: its cache goes with its storage",
        [
            step({
                op: "delete",
                chain: [HOST, "dso-registry:mirrors:MirrorCachesOnHost", REMOTE],
                name: "registry-host-mirrors-ghcr-io-run",
                parent: urn([HOST, "dso-registry:mirrors:MirrorCachesOnHost"], "registry-host-mirrors"),
                olds: { connection, create: script({ IMAGE: "registry:3.1.2", FINGERPRINT: "1" }) },
            }),
        ],
        [["cache", "cache ghcr-io is removed with its storage"]],
    ],
    [
        "a cache's warm list changed on the external host: a run in the background, nothing restarted",
        [
            step({
                op: "update",
                chain: [HOST, "dso-registry:mirrors:MirrorCachesOnHost", REMOTE],
                name: "registry-host-mirrors-docker-io-warm",
                parent: urn([HOST, "dso-registry:mirrors:MirrorCachesOnHost"], "registry-host-mirrors"),
                olds: { connection, create: "# warm list 111111111111\n" },
                news: { connection, create: "# warm list 222222222222\n" },
            }),
        ],
        [
            [
                "cache",
                "cache docker-io's warm list runs (in the background on the host, not awaited by up): it fetches the listed images from the upstream into the cache; nothing is restarted",
            ],
        ],
    ],
    [
        "a cache's new warm list in the cluster: a new Job, nothing restarted; the old Job's delete says nothing",
        [
            step({
                op: "create",
                chain: [IN_CLUSTER, "kubernetes:batch/v1:Job"],
                name: "registry-job-registry-mirror-docker-io-warm-0123abcd",
                news: { metadata: { name: "registry-mirror-docker-io-warm-0123abcd" } },
            }),
            step({
                op: "delete",
                chain: [IN_CLUSTER, "kubernetes:batch/v1:Job"],
                name: "registry-job-registry-mirror-docker-io-warm-89abcdef",
                olds: { metadata: { name: "registry-mirror-docker-io-warm-89abcdef" } },
            }),
        ],
        [["cache", "cache registry-mirror-docker-io's warm list runs (Job registry-mirror-docker-io-warm-0123abcd, not awaited by up)"]],
    ],
    [
        "purge turned on: from now on a destroy deletes the data",
        [hostCommand("update", "purge", purgeMarker(""), purgeMarker("/srv/data/registry\n/srv/data/maven"))],
        [["data", "a destroy deletes the data: /srv/data/registry, /srv/data/maven"]],
    ],
    [
        "a destroy removes the data directory's setup step, which deletes nothing itself",
        [hostCommand("delete", "dataDir", script({ DATA_DIR: "/srv/data/registry" }))],
        [["data", "the registry's data directory: its setup step goes, and deletes no file itself (the purge marker decides"]],
    ],
    [
        "a destroy with purge off at the last up: the data is kept",
        [hostCommand("delete", "purge", purgeMarker(""))],
        [["data", "the data directories are kept"]],
    ],
    [
        "the in-cluster registry's pod template changes on a ReadWriteOnce claim: Recreate, the measured outage",
        [
            deploymentUpdate("registry", deployment("registry", "Recreate", "1"), deployment("registry", "Recreate", UNKNOWN), {
                "spec.template.metadata.annotations.dso-registry/config-checksum": { kind: "update" },
            }),
        ],
        [["registry", MEASURED.inClusterRecreate]],
    ],
    [
        "the registry's pods on shared storage roll: no outage expected",
        [deploymentUpdate("registry", deployment("registry", "RollingUpdate", "1"), deployment("registry", "RollingUpdate", "2"))],
        [["registry", MEASURED.inClusterRolling]],
    ],
    [
        "a Deployment update outside its pod template replaces no pod",
        [
            deploymentUpdate(
                "registry",
                { ...deployment("registry", "Recreate", "1"), metadata: { name: "registry", labels: { a: "1" } } },
                { ...deployment("registry", "Recreate", "1"), metadata: { name: "registry", labels: { a: "2" } } },
                { "metadata.labels.a": { kind: "update" } },
            ),
        ],
        [],
    ],
    [
        "the state lists the pod template's keys in another order than the program: not a change",
        [
            deploymentUpdate(
                "registry",
                { ...deployment("registry", "Recreate", "1"), spec: { template: { spec: { a: 1, b: 2 } }, replicas: 1 } },
                { ...deployment("registry", "Recreate", "1"), spec: { template: { spec: { b: 2, a: 1 } }, replicas: 2 } },
                { "spec.replicas": { kind: "update" } },
            ),
        ],
        [],
    ],
    [
        "a cache's pod replaced in the cluster",
        [
            deploymentUpdate(
                "registry-mirror-docker-io",
                deployment("registry-mirror-docker-io", "Recreate", "1"),
                deployment("registry-mirror-docker-io", "Recreate", "2"),
            ),
        ],
        [["cache", "cache registry-mirror-docker-io's pod is replaced"]],
    ],
    [
        "the namespace renamed: the data claim is replaced, the old one and its namespace kept",
        [
            step({
                op: "replace",
                chain: [IN_CLUSTER, "kubernetes:core/v1:PersistentVolumeClaim"],
                name: "registry-persistentvolumeclaim-registry-data",
                olds: claim("dso"),
                news: claim("registry"),
                detailedDiff: { "metadata.namespace": { kind: "update-replace" } },
                retainOnDelete: true,
            }),
            step({
                op: "delete",
                chain: [IN_CLUSTER, "kubernetes:core/v1:Namespace"],
                name: "registry-namespace-dso",
                olds: { metadata: { name: "dso" } },
                retainOnDelete: true,
            }),
        ],
        [
            ["data", "claim registry-data is replaced (namespace dso → registry): the old claim is left in the cluster (retainOnDelete)"],
            ["data", "namespace dso is left in the cluster (retainOnDelete)"],
        ],
    ],
    [
        "a claim and a namespace deleted without retainOnDelete: the data goes",
        [
            step({ op: "delete", chain: [IN_CLUSTER, "kubernetes:core/v1:PersistentVolumeClaim"], name: "c", olds: claim("dso") }),
            step({ op: "delete", chain: [IN_CLUSTER, "kubernetes:core/v1:Namespace"], name: "n", olds: { metadata: { name: "dso" } } }),
        ],
        [
            ["data", "claim registry-data is deleted with its data"],
            ["data", "namespace dso is deleted: Kubernetes deletes every object in it"],
        ],
    ],
    [
        "a rotation: the password is replaced and Jenkins gets the new one",
        [passwordRotated("registry-accounts-push", "ci-push"), credentialUpdate(UNKNOWN)],
        [
            ["credential", "account ci-push: its password rotates; the old one stops working when this runs"],
            ["credential", "Jenkins credential container-registry is rewritten with the new password"],
        ],
    ],
    [
        "a rotation the engine shows with the new password as [secret] on both sides: the password replaced in the same plan for the credential's account is the change",
        [passwordRotated("registry-accounts-push", "ci-push"), credentialUpdate("[secret]")],
        [
            ["credential", "account ci-push: its password rotates; the old one stops working when this runs"],
            ["credential", "Jenkins credential container-registry is rewritten with the new password"],
        ],
    ],
    [
        "another account's rotation does not tell what a credential's hidden change is",
        [passwordRotated("registry-accounts-pull", "cluster-pull"), credentialUpdate("[secret]")],
        [
            ["credential", "account cluster-pull: its password rotates"],
            ["credential", "a secret input changes, its password or only the token the program reaches Jenkins with"],
        ],
    ],
    [
        "a rotation with an overlap: the old password keeps working for the overlap, as the account's PasswordOverlap says",
        [
            passwordRotated("registry-accounts-push", "ci-push"),
            step({
                op: "update",
                chain: ["dso-registry:accounts:RegistryAccounts", "pulumi-nodejs:dynamic/accounts:PasswordOverlap"],
                name: "registry-accounts-push-overlap",
                olds: { password: "[secret]", overlapSeconds: 86400 },
                news: { password: UNKNOWN, overlapSeconds: 86400 },
            }),
            passwordRotated("registry-accounts-read-flux", "flux"),
        ],
        [
            [
                "credential",
                "account ci-push: its password rotates; the old one keeps working for 24 hours after this runs (the rotation's overlap), then stops",
            ],
            ["credential", "account flux: its password rotates; the old one stops working when this runs"],
        ],
    ],
    [
        "the decoy's seed replaced: no account of anyone's changes",
        [
            step({
                op: "replace",
                chain: [HOST, "dso-registry:externalHost:CaddySite", "random:index/randomPassword:RandomPassword"],
                name: "registry-host-caddy-decoy",
                olds: { length: 40 },
                news: { length: 41 },
            }),
        ],
        [],
    ],
    [
        "the Jenkins token rotated: the credentials are reached with it, their content stays",
        [credentialUpdate("[secret]", { jenkinsSecret: { kind: "update" } })],
        [["credential", "Jenkins credential container-registry: only the token the program reaches Jenkins with changes"]],
    ],
    [
        "a Jenkins credential whose secrets both show as [secret] (a dynamic provider gives no detailed diff): said as unknown",
        [credentialUpdate("[secret]")],
        [["credential", "a secret input changes, its password or only the token the program reaches Jenkins with"]],
    ],
    [
        "kind's front files change: only the front container is recreated",
        [kindCommand("update", "kind-registry-containers", kindContainers({}), kindContainers({ FRONT_FILES: "f2" }))],
        [["front", "kind's front (Caddy) container is recreated"]],
    ],
    [
        "kind's registry image bumped: only Distribution is recreated",
        [kindCommand("update", "kind-registry-containers", kindContainers({}), kindContainers({ DISTRIBUTION_IMAGE: "registry:3.1.3" }))],
        [["registry", "kind's Distribution container is recreated"]],
    ],
    [
        "kind's nodes of another cluster (kind.clusterNames) reconfigured: named by their cluster",
        [kindCommand("replace", "kind-registry-nodes-second")],
        [["runtime", "each node of kind cluster second: the registry configuration is rewritten"]],
    ],
    [
        "a kind cluster taken off kind.clusterNames: its nodes lose the registry, nothing restarts",
        [kindCommand("delete", "kind-registry-nodes-second")],
        [["runtime", "each node of kind cluster second: the registry's files are removed (nothing restarts)"]],
    ],
    [
        "the generated CA replaced",
        [
            step({
                op: "replace",
                chain: ["dso-registry:tls:RegistryTls", "tls:index/selfSignedCert:SelfSignedCert"],
                name: "registry-tls-ca",
            }),
        ],
        [["certificate", "the generated CA is replaced"]],
    ],
    [
        "an Ingress replaced is a route gone for a while; one updated or created is not",
        [
            step({
                op: "replace",
                chain: [IN_CLUSTER, "kubernetes:networking.k8s.io/v1:Ingress"],
                name: "i1",
                news: { metadata: { name: "registry" } },
            }),
            step({
                op: "update",
                chain: [IN_CLUSTER, "kubernetes:networking.k8s.io/v1:Ingress"],
                name: "i2",
                news: { metadata: { name: "registry-login" } },
            }),
            step({
                op: "create",
                chain: [IN_CLUSTER, "kubernetes:networking.k8s.io/v1:Ingress"],
                name: "i3",
                news: { metadata: { name: "registry-ui" } },
            }),
        ],
        [["exposure", "Ingress registry is replaced"]],
    ],
    [
        "the registry's NetworkPolicy created: who it admits, and that a pod elsewhere is refused",
        [policyStep("create", undefined, policy({}))],
        [["exposure", "only namespace dso, namespace ingress, namespace kube-system, namespace monitoring, namespace traefik reach"]],
    ],
    [
        "the NetworkPolicy's client namespace taken out: named, and its direct clients refused",
        [policyStep("update", policy({ clientNamespaces: ["ci"] }), policy({}))],
        [["exposure", "NetworkPolicy registry changes: namespace ci no longer reach the registry's pods"]],
    ],
    [
        "the NetworkPolicy's connections out changed: what they are limited to now, and before",
        [policyStep("update", policy({ egressNetworks: [] }), policy({ egressNetworks: ["10.9.0.0/16"] }))],
        [["exposure", "connections out are limited to DNS and namespace dso, network 10.9.0.0/16 (before: namespace dso)"]],
    ],
    [
        "the NetworkPolicy changed in nothing it admits: no consequence",
        [policyStep("update", policy({ monitoringNamespaces: ["monitoring"] }), policy({ monitoringNamespaces: ["monitoring"] }))],
        [],
    ],
    [
        "the NetworkPolicy deleted: every pod reaches the registry again",
        [policyStep("delete", policy({}), undefined)],
        [["exposure", "NetworkPolicy registry is deleted: every pod of the cluster reaches"]],
    ],
];

describe("previewConsequences", () => {
    it.each(CASES)("%s", (_, steps, expected) => {
        const { consequences } = previewConsequences({ steps: [{ op: "same", urn: STACK_URN }, ...steps] });
        expect(consequences.map((c) => c.kind)).toEqual(expected.map(([kind]) => kind));
        for (const [i, c] of consequences.entries()) expect(c.text).toContain(expected[i]![1]);
    });

    it("counts each custom resource once, a replacement listed as its parts too", () => {
        const chain = [IN_CLUSTER, "kubernetes:core/v1:Secret"];
        const result = previewConsequences({
            steps: [
                { op: "same", urn: STACK_URN },
                step({ op: "create-replacement", chain, name: "s" }),
                step({ op: "delete-replaced", chain, name: "s" }),
                step({ op: "create", chain, name: "t" }),
                {
                    op: "create",
                    urn: urn(["dso-registry:inCluster:InClusterRegistry"], "registry"),
                    newState: { custom: false, type: IN_CLUSTER },
                },
            ],
        });
        expect(result).toMatchObject({ stack: "prod", counts: { create: 1, update: 0, replace: 1, delete: 0 } });
    });
});

describe("scriptParameters", () => {
    it("reads the parameters inside sudo's sh -c, quotes and lines as they were", () => {
        expect(scriptParameters(script({ A: "it's", B: "one\ntwo", C: "" }))).toEqual({ A: "it's", B: "one\ntwo", C: "" });
    });

    it("reads none from a value known only during the up", () => {
        expect(scriptParameters(UNKNOWN)).toEqual({});
    });
});

describe("renderConsequences", () => {
    it("lists the kinds under their headings, the runtime first", () => {
        const text = renderConsequences(
            previewConsequences({
                steps: [
                    nodeFileStep("update", yamlInputs("a\n"), yamlInputs("b\n")),
                    step({
                        op: "replace",
                        chain: ["dso-registry:accounts:RegistryAccounts", "random:index/randomPassword:RandomPassword"],
                        name: "registry-accounts-pull",
                        news: { keepers: { username: "cluster-pull" } },
                    }),
                ],
            }),
        );
        expect(text).toMatch(/^### What this change disrupts: stack `prod`\n/);
        expect(text).toContain("0 to create, 1 to update, 1 to replace, 0 to delete.");
        expect(text.indexOf("**Nodes: container runtime restarts and trust**")).toBeLessThan(text.indexOf("**Credentials**"));
        expect(text).toContain("- account cluster-pull: its password rotates");
    });

    it("says when the changes disrupt nothing, and when there are none", () => {
        const quiet = step({
            op: "update",
            chain: ["dso-registry:jenkins:PipelineConfig", "kubernetes:core/v1:ConfigMap"],
            name: "pipeline-config-configmap",
        });
        expect(renderConsequences(previewConsequences({ steps: [quiet] }))).toContain("Nothing that restarts a node's runtime");
        expect(renderConsequences(previewConsequences({ steps: [] }), "local")).toContain(
            "stack `local`\n\n0 to create, 0 to update, 0 to replace, 0 to delete.\n\nNo change.",
        );
    });
});

describe("consequencesOfPreviewJson", () => {
    it("reads the CLI's document and refuses what is not one", () => {
        expect(consequencesOfPreviewJson(JSON.stringify({ steps: [{ op: "same", urn: STACK_URN }] })).stack).toBe("prod");
        expect(() => consequencesOfPreviewJson("error: no stack selected")).toThrow(/no JSON document.*pulumi preview --json/);
    });
});

describe("the prod stack's own scripts (its synth)", () => {
    interface Resource {
        readonly name: string;
        readonly type: string;
        readonly urn: string;
        readonly parent?: string;
        readonly inputs: Record<string, unknown>;
    }
    const resources = (): Resource[] => JSON.parse(readFileSync(path.join(committedSynthDir("prod"), "resources.json"), "utf8"));
    /** An update of the resource named `name` whose create script has `from` replaced by `to`. */
    function updated(name: string, from: RegExp, to: string): PreviewStep {
        const r = resources().find((x) => x.name === name)!;
        const create = String(r.inputs.create);
        expect(create).toMatch(from);
        return {
            op: "update",
            urn: r.urn,
            oldState: { type: r.type, custom: true, inputs: r.inputs, parent: r.parent },
            newState: { type: r.type, custom: true, inputs: { ...r.inputs, create: create.replace(from, to) }, parent: r.parent },
        };
    }
    const kindsOf = (s: PreviewStep) => previewConsequences({ steps: [s] }).consequences.map((c) => [c.kind, c.text]);

    it.each([
        ["node-trust-k3s-agent-1-registries-yaml-write", /TURN='\\''[^']*'\\''/, "TURN='\\''changed'\\''", []],
        ["registry-host-container-run", /REGISTRY_IMAGE='\\''[^']*'\\''/, "REGISTRY_IMAGE='\\''registry:9'\\''", ["registry"]],
        ["registry-host-caddy-reload", /FILES_FINGERPRINT='\\''[^']*'\\''/, "FILES_FINGERPRINT='\\''0'\\''", ["front"]],
        ["registry-host-mirrors-docker-io-run", /FINGERPRINT='\\''[^']*'\\''/, "FINGERPRINT='\\''0'\\''", ["cache"]],
        ["registry-host-purge-marker", /DIRECTORIES='\\'''\\''/, "DIRECTORIES='\\''/srv/data/registry'\\''", ["data"]],
    ] as const)("%s: the parameter the summary reads is in its script", (name, from, to, kinds) => {
        expect(kindsOf(updated(name, from, to)).map(([kind]) => kind)).toEqual(kinds);
    });

    it("a k3s node's registries.yaml changed names the node, its units and its turn", () => {
        const r = resources().find((x) => x.name === "node-trust-k3s-agent-1-registries-yaml-write")!;
        const s: PreviewStep = {
            op: "update",
            urn: r.urn,
            oldState: { type: r.type, custom: true, inputs: r.inputs, parent: r.parent },
            newState: { type: r.type, custom: true, inputs: { ...r.inputs, stdin: `${String(r.inputs.stdin)}# more\n` }, parent: r.parent },
        };
        expect(kindsOf(s)).toEqual([["runtime", expect.stringMatching(/^k3s-agent-1: k3s or k3s-agent restarts \(agent batch \d of \d/)]]);
    });
});

describe("the resources the summary reads are the program's", () => {
    it("each is named by one component: the tool's TARGETS has every component's, none defined twice", () => {
        const lists = [
            NODE_TRUST_TARGETS,
            EXTERNAL_HOST_TARGETS,
            MIRROR_TARGETS,
            KIND_TARGETS,
            IN_CLUSTER_TARGETS,
            ACCOUNTS_TARGETS,
            JENKINS_TARGETS,
        ];
        const keys = lists.flatMap((targets) => Object.keys(targets));
        expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
        expect(Object.keys(TARGETS).sort()).toEqual([...keys].sort());
    });

    /** A committed stack's config with some top-level keys changed, as a stack file gives it. */
    function changed(stack: string, change: (raw: Record<string, Record<string, unknown>>) => void): StackFileConfig {
        const file = readStackConfig(PROJECT_DIR, stack);
        const raw: Record<string, Record<string, unknown>> = {};
        for (const [key, value] of Object.entries(file.config)) {
            if (key.startsWith("dso-registry:") && !file.secretKeys.includes(key))
                raw[key.slice("dso-registry:".length)] = JSON.parse(value);
        }
        change(raw);
        const config = {
            ...file.config,
            ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [`dso-registry:${k}`, JSON.stringify(v)])),
        };
        return { ...file, config };
    }
    /** A resource as the summary matches it, from the synth's record of it. */
    const named = (r: { type: string; name: string; urn: string; parent?: string; inputs?: Record<string, unknown> }): Named => {
        const chain = (r.urn.split("::")[2] ?? "").split("$");
        const metadata = r.inputs?.metadata as { name?: unknown } | undefined;
        return {
            type: r.type,
            name: r.name,
            parentType: chain[chain.length - 2] ?? "",
            parentName: r.parent?.split("::").pop() ?? "",
            objectName: typeof metadata?.name === "string" ? metadata.name : r.name,
        };
    };

    let resources: Named[] | undefined;
    /**
     * The resources of the committed stacks (their synth), and of the parts they leave out: the Maven
     * repository and the web UI on the external host and containerd nodes over SSH (prod changed), the web UI
     * in the cluster (local changed).
     */
    async function programResources(): Promise<Named[]> {
        if (resources) return resources;
        const committed = ["local", "prod", "kind"].flatMap((stack) =>
            (
                JSON.parse(readFileSync(path.join(committedSynthDir(stack as "local"), "resources.json"), "utf8")) as Parameters<
                    typeof named
                >[0][]
            ).map(named),
        );
        const prodWithMore = changed("prod", (raw) => {
            raw.mavenRegistry = { ...raw.mavenRegistry, host: raw.containerRegistry!.host };
            const registry = raw.registry as Record<string, Record<string, unknown>>;
            // Tag retention by last pull: its script on the host.
            const maintenance = {
                ...registry.maintenance,
                retention: { rules: [{ prefix: "docker-internal/p2c/", keepPulledWithinDays: 30 }] },
            };
            raw.registry = { ...registry, ui: { enabled: true }, maintenance };
            raw.nodes = { ...raw.nodes, runtime: "containerd", allowContainerdRestart: true };
        });
        // A cache with a warm list on each placement: its warm command on the host, its Job in the cluster.
        const withWarm = (registry: Record<string, unknown>) => {
            const [first, ...rest] = registry.mirrors as Record<string, unknown>[];
            return { ...registry, mirrors: [{ ...first, warm: { images: ["nginx:1.30"] } }, ...rest] };
        };
        prodWithMore.config["dso-registry:registry"] = JSON.stringify(withWarm(JSON.parse(prodWithMore.config["dso-registry:registry"]!)));
        const localWithUi = changed("local", (raw) => {
            raw.registry = withWarm({ ...raw.registry, ui: { enabled: true } });
        });
        const more: Named[] = [];
        for (const [stack, config] of [
            ["prod", prodWithMore],
            ["local", localWithUi],
        ] as const) {
            const run = await runProgram(stack, config);
            more.push(...run.resources.map((r) => named({ ...r, parent: r.parentUrn })));
        }
        resources = [...committed, ...more];
        return resources;
    }

    it("kind with several clusters: each other cluster's nodes command is read as that cluster's", async () => {
        const twoClusters = changed("kind", (raw) => {
            const { clusterName: _one, ...kind } = raw.kind as Record<string, unknown>;
            raw.kind = { ...kind, clusterNames: ["kind", "second"] };
        });
        const run = await runProgram("kind", twoClusters);
        const nodes = run.resources.map((r) => named({ ...r, parent: r.parentUrn })).filter((r) => isTarget(TARGETS.kindNodes, r));
        expect(nodes.map((r) => r.name).sort()).toEqual(["kind-registry-nodes", "kind-registry-nodes-second"]);
    }, 120_000);

    it.each(Object.entries(TARGETS))(
        "%s: the program makes such a resource",
        async (_, target) => {
            const all = await programResources();
            expect(
                all.some((r) => isTarget(target, r)),
                `no resource of type ${target.types.join(" or ")} in ${"parentType" in target ? target.parentType : "any component"} has the name the summary looks for`,
            ).toBe(true);
        },
        120_000,
    );

    it("a generated password's overlap is named after it, as the rotation's line finds it", async () => {
        const all = await programResources();
        const passwords = all.filter((r) => isTarget(TARGETS.password, r)).map((r) => r.name);
        const overlaps = all.filter((r) => isTarget(TARGETS.passwordOverlap, r));
        expect(overlaps.length).toBeGreaterThan(0);
        for (const overlap of overlaps) expect(passwords.map(passwordOverlapName)).toContain(overlap.name);
    }, 120_000);
});

describe("the disruption budget", () => {
    /** The budget a stack file gives with `given` set, defaults filled in. */
    const budget = (given: Partial<DisruptionBudget> = {}): DisruptionBudget => disruptionBudget.parse(given);
    const inCluster = (strategy: string) =>
        deploymentUpdate(
            "registry",
            { metadata: { name: "registry" }, spec: { strategy: { type: strategy }, template: { a: 1 } } },
            { metadata: { name: "registry" }, spec: { strategy: { type: strategy }, template: { a: 2 } } },
        );
    const withOverlap = (hours: number) => [
        passwordRotated("registry-accounts-push", "ci-push"),
        step({
            op: "update",
            chain: ["dso-registry:accounts:RegistryAccounts", "pulumi-nodejs:dynamic/accounts:PasswordOverlap"],
            name: "registry-accounts-push-overlap",
            olds: { overlapSeconds: hours * 3600 },
            news: { overlapSeconds: hours * 3600 },
        }),
    ];
    const accountRemoved = step({
        op: "delete",
        chain: ["dso-registry:accounts:RegistryAccounts", "random:index/randomPassword:RandomPassword"],
        name: "registry-accounts-team-a",
        olds: { keepers: { username: "team-a-ci" } },
    });
    const claimReplaced = step({
        op: "replace",
        chain: [IN_CLUSTER, "kubernetes:core/v1:PersistentVolumeClaim"],
        name: "registry-persistentvolumeclaim-registry-data",
        olds: { metadata: { name: "registry-data", namespace: "dso" } },
        news: { metadata: { name: "registry-data", namespace: "registry" } },
    });
    const claimCreated = step({
        op: "create",
        chain: [IN_CLUSTER, "kubernetes:core/v1:PersistentVolumeClaim"],
        name: "registry-persistentvolumeclaim-maven-data",
        news: { metadata: { name: "maven-data" } },
    });
    const over = (steps: PreviewStep[], b: DisruptionBudget) => overBudget(previewConsequences({ steps }), b).map((o) => o.exceeds);

    it.each<[string, PreviewStep[], Partial<DisruptionBudget>, readonly RegExp[]]>([
        ["nothing disruptive: within the strictest budget", [claimCreated], {}, []],
        [
            "a Recreate of the in-cluster pod: its measured 10.5 s against 10 s",
            [inCluster("Recreate")],
            { pullOutageSeconds: 10, pushOutageSeconds: 11 },
            [/^disruptionBudget\.pullOutageSeconds 10: pulls go unanswered for about 10\.5 s$/],
        ],
        ["a Recreate of the in-cluster pod within 15 s", [inCluster("Recreate")], { pullOutageSeconds: 15, pushOutageSeconds: 15 }, []],
        ["a RollingUpdate: no outage", [inCluster("RollingUpdate")], {}, []],
        [
            "the host's registry recreated: an outage nobody measured is over any budget",
            [hostCommand("replace", "registry")],
            { pullOutageSeconds: 86_400, pushOutageSeconds: 86_400 },
            [
                /^disruptionBudget\.pullOutageSeconds 86400: pulls go unanswered for a time nobody measured$/,
                /^disruptionBudget\.pushOutageSeconds 86400: pushes/,
            ],
        ],
        [
            "a node's k3s restart",
            [nodeFileStep("update", yamlInputs("a\n"), yamlInputs("b\n"))],
            {},
            [/^disruptionBudget\.runtimeRestarts false/],
        ],
        [
            "a node's k3s restart, restarts allowed",
            [nodeFileStep("update", yamlInputs("a\n"), yamlInputs("b\n"))],
            { runtimeRestarts: true },
            [],
        ],
        [
            "a rotation with an overlap, no cut allowed",
            withOverlap(24),
            {},
            [/^disruptionBudget\.credentialCuts "none": a password stops working once its rotation's overlap ends$/],
        ],
        ["a rotation with an overlap, cuts after the overlap allowed", withOverlap(24), { credentialCuts: "after-overlap" }, []],
        [
            "a rotation without an overlap, cuts after an overlap allowed",
            withOverlap(0),
            { credentialCuts: "after-overlap" },
            [/^disruptionBudget\.credentialCuts "after-overlap": a credential stops working when this runs$/],
        ],
        ["an account removed, every cut allowed", [accountRemoved], { credentialCuts: "any" }, []],
        ["a data claim replaced", [claimReplaced], {}, [/^disruptionBudget\.dataChanges false/]],
        ["a data claim replaced, data changes allowed", [claimReplaced], { dataChanges: true }, []],
    ])("%s", (_, steps, given, expected) => {
        const found = over(steps, budget(given));
        expect(found).toHaveLength(expected.length);
        for (const [i, pattern] of expected.entries()) expect(found[i]).toMatch(pattern);
    });

    it("every part of the budget decides some consequence", () => {
        // Each key of the schema, changed from its default, lets one of these consequences pass that the default refuses.
        const steps = [
            inCluster("Recreate"),
            nodeFileStep("update", yamlInputs("a\n"), yamlInputs("b\n")),
            ...withOverlap(24),
            claimReplaced,
        ];
        const strict = over(steps, budget()).length;
        const loosened: Record<Exclude<keyof DisruptionBudget, "approved">, Partial<DisruptionBudget>> = {
            pullOutageSeconds: { pullOutageSeconds: 11 },
            pushOutageSeconds: { pushOutageSeconds: 11 },
            runtimeRestarts: { runtimeRestarts: true },
            credentialCuts: { credentialCuts: "after-overlap" },
            dataChanges: { dataChanges: true },
        };
        expect(Object.keys(loosened).sort()).toEqual(
            Object.keys(disruptionBudget.shape)
                .filter((k) => k !== "approved")
                .sort(),
        );
        for (const [key, given] of Object.entries(loosened)) expect(over(steps, budget(given)).length, key).toBe(strict - 1);
    });

    describe("the verdict", () => {
        const rotation = () => previewConsequences({ steps: withOverlap(0) });

        it("passes without a budget, and says nothing is checked", () => {
            const verdict = budgetVerdict(rotation(), {});
            expect(verdict.passes).toBe(true);
            expect(renderBudgetVerdict(verdict, "prod")).toContain("none set for stack `prod`");
        });

        it("fails over the budget without an approval, naming each consequence and the budget it exceeds, and how to approve", () => {
            const verdict = budgetVerdict(rotation(), { budget: budget() });
            expect(verdict.passes).toBe(false);
            const text = renderBudgetVerdict(verdict, "prod");
            expect(text).toContain("**over it, not approved**");
            expect(text).toContain(
                '- account ci-push: its password rotates; the old one stops working when this runs: over disruptionBudget.credentialCuts "none": a credential stops working when this runs',
            );
            expect(text).toContain("the label `disruption-approved`");
            expect(text).toContain("`disruptionBudget.approved` in `Pulumi.prod.yaml`");
        });

        it("passes over the budget with the label", () => {
            const verdict = budgetVerdict(rotation(), { budget: budget(), labelApproved: true });
            expect(verdict).toMatchObject({ passes: true, approval: { by: "label", label: "disruption-approved" } });
            expect(renderBudgetVerdict(verdict, "prod")).toContain("over it, approved by the label `disruption-approved`");
        });

        it("passes over the budget with an approval the pull request adds to the stack file", () => {
            const verdict = budgetVerdict(rotation(), {
                budget: budget({ approved: "ops lead, planned rotation" }),
                base: { budget: budget() },
            });
            expect(verdict).toMatchObject({ passes: true, approval: { by: "stack file", reason: "ops lead, planned rotation" } });
        });

        it("does not pass with an approval the base branch already has, and says to remove it", () => {
            const approved = "ops lead, the last rotation";
            const verdict = budgetVerdict(rotation(), { budget: budget({ approved }), base: { budget: budget({ approved }) } });
            expect(verdict.passes).toBe(false);
            expect(renderBudgetVerdict(verdict, "prod")).toContain("is on the base branch already: it approved an earlier change");
        });

        it("says an approval with nothing to approve should go", () => {
            const verdict = budgetVerdict(previewConsequences({ steps: [claimCreated] }), { budget: budget({ approved: "just in case" }) });
            expect(verdict.passes).toBe(true);
            expect(verdict.notes.join("\n")).toContain("approves nothing: the change is within the budget. Remove it.");
        });
    });

    describe("in a pull request: the base branch's budget judges, and a change to the budget is named", () => {
        const rotation = () => previewConsequences({ steps: withOverlap(0) });
        const render = (v: ReturnType<typeof budgetVerdict>) => renderBudgetVerdict(v, "prod");

        it("a budget the pull request loosens judges nothing: the base branch's does, and the loosening is to approve", () => {
            const verdict = budgetVerdict(rotation(), { budget: budget({ credentialCuts: "any" }), base: { budget: budget() } });
            expect(verdict).toMatchObject({ source: "base branch", budget: budget(), passes: false });
            expect(verdict.over.map((o) => o.exceeds)).toEqual([
                'disruptionBudget.credentialCuts "none": a credential stops working when this runs',
            ]);
            expect(verdict.changes).toEqual([{ key: "credentialCuts", before: "none", after: "any", looser: true }]);
            const text = render(verdict);
            expect(text).toContain(
                '**Disruption budget** (the base branch\'s: pulls 0 s, pushes 0 s, runtime restarts not allowed, credential cuts "none", data changes not allowed): **over it, and the pull request loosens the budget, not approved**.',
            );
            expect(text).toContain("**This pull request changes the disruption budget** of stack `prod`");
            expect(text).toContain('- `credentialCuts`: "none" → "any" (looser: to approve)');
            expect(text).toContain("the label `disruption-approved`");
        });

        it("a raised figure is looser, a lowered one stricter; within the base's budget only the looser one needs an approval", () => {
            const nothing = previewConsequences({ steps: [claimCreated] });
            const raised = budgetVerdict(nothing, {
                budget: budget({ pullOutageSeconds: 60 }),
                base: { budget: budget({ pullOutageSeconds: 15 }) },
            });
            expect(raised.over).toEqual([]);
            expect(raised.changes).toEqual([{ key: "pullOutageSeconds", before: 15, after: 60, looser: true }]);
            expect(raised.passes).toBe(false);
            expect(render(raised)).toContain("**within it, but the pull request loosens the budget, not approved**.");
            expect(render(raised)).toContain("- `pullOutageSeconds`: 15 → 60 (looser: to approve)");
            const lowered = budgetVerdict(nothing, {
                budget: budget({ pullOutageSeconds: 5 }),
                base: { budget: budget({ pullOutageSeconds: 15 }) },
            });
            expect(lowered).toMatchObject({ passes: true, changes: [{ key: "pullOutageSeconds", before: 15, after: 5, looser: false }] });
            expect(render(lowered)).toContain("): within it.");
            expect(render(lowered)).toContain("- `pullOutageSeconds`: 15 → 5 (stricter)");
            expect(render(lowered)).not.toContain("To go ahead");
        });

        it("each key loosened counts, each tightened does not", () => {
            const loose = budget({
                pullOutageSeconds: 30,
                pushOutageSeconds: 30,
                runtimeRestarts: true,
                credentialCuts: "any",
                dataChanges: true,
            });
            expect(budgetChanges(budget(), loose).map((c) => [c.key, c.looser])).toEqual(BUDGET_KEYS.map((k) => [k, true]));
            expect(budgetChanges(loose, budget()).map((c) => [c.key, c.looser])).toEqual(BUDGET_KEYS.map((k) => [k, false]));
            expect(budgetChanges(budget({ credentialCuts: "after-overlap" }), budget({ credentialCuts: "any" }))[0]?.looser).toBe(true);
            expect(budgetChanges(budget({ credentialCuts: "after-overlap" }), budget({ credentialCuts: "none" }))[0]?.looser).toBe(false);
            expect(budgetChanges(budget({ approved: "a" }), budget({ approved: "b" }))).toEqual([]);
        });

        it("a budget the pull request removes: the base branch's judges, and the removal is to approve, key by key", () => {
            const verdict = budgetVerdict(rotation(), { budget: undefined, base: { budget: budget({ credentialCuts: "any" }) } });
            expect(verdict).toMatchObject({ source: "base branch", passes: false, headHasBudget: false, over: [] });
            expect(verdict.changes.every((c) => c.looser && c.after === undefined)).toBe(true);
            const text = render(verdict);
            expect(text).toContain("**This pull request removes the disruption budget** of stack `prod`");
            expect(text).toContain('- `credentialCuts`: "any" → no budget (looser: to approve)');
            expect(text).toContain("- `pullOutageSeconds`: 0 → no budget (looser: to approve)");
            expect(budgetVerdict(rotation(), { base: { budget: budget() }, labelApproved: true })).toMatchObject({
                passes: true,
                approval: { by: "label" },
            });
        });

        it("the same budget on both sides: only the consequences are judged, and no change is named", () => {
            const verdict = budgetVerdict(rotation(), {
                budget: budget({ credentialCuts: "any" }),
                base: { budget: budget({ credentialCuts: "any" }) },
            });
            expect(verdict).toMatchObject({ passes: true, changes: [], over: [] });
            expect(render(verdict)).not.toContain("changes the disruption budget");
        });

        it("a budget the pull request adds where the base branch has none: nothing is checked yet, the new budget is named", () => {
            const verdict = budgetVerdict(rotation(), { budget: budget(), base: { budget: undefined } });
            expect(verdict).toMatchObject({ passes: true, over: [] });
            const text = render(verdict);
            expect(text).toContain("none set for stack `prod` on the base branch, nothing is checked.");
            expect(text).toContain('- `credentialCuts`: no budget → "none" (a new budget)');
            expect(budgetVerdict(rotation(), { base: { budget: undefined } })).toMatchObject({ passes: true, changes: [] });
        });

        it("a stack new in the pull request is judged by the default budget, and its own looser budget is to approve", () => {
            const verdict = budgetVerdict(rotation(), { budget: budget({ credentialCuts: "any" }), base: NEW_STACK });
            expect(verdict).toMatchObject({ source: "default", budget: DEFAULT_BUDGET, passes: false });
            expect(verdict.over).toHaveLength(1);
            const text = render(verdict);
            expect(text).toContain("**Disruption budget** (the default, stack `prod` being new in this pull request: pulls 0 s");
            expect(text).toContain("**The stack is new in this pull request**");
            expect(text).toContain('- `credentialCuts`: "none" → "any" (looser: to approve)');
            // Without a budget of its own, nothing would be checked once merged: that too is to approve.
            const none = budgetVerdict(previewConsequences({ steps: [claimCreated] }), { base: NEW_STACK });
            expect(none).toMatchObject({ passes: false, over: [] });
            expect(none.changes.map((c) => c.looser)).toEqual(BUDGET_KEYS.map(() => true));
            // The default budget itself: nothing to approve.
            expect(budgetVerdict(previewConsequences({ steps: [claimCreated] }), { budget: budget(), base: NEW_STACK })).toMatchObject({
                passes: true,
                changes: [],
            });
        });

        it("an approval the pull request adds covers the looser budget; the base's own approves nothing", () => {
            const loosened = {
                budget: budget({ credentialCuts: "any", approved: "ops lead: cuts announced" }),
                base: { budget: budget() },
            };
            expect(budgetVerdict(rotation(), loosened)).toMatchObject({ passes: true, approval: { by: "stack file" } });
            const stale = { budget: budget({ credentialCuts: "any", approved: "old" }), base: { budget: budget({ approved: "old" }) } };
            expect(budgetVerdict(rotation(), stale).passes).toBe(false);
        });
    });

    describe("budgetOfStackFile", () => {
        it("reads the stack file's budget with the config's defaults, or none", () => {
            expect(
                budgetOfStackFile("config:\n    dso-registry:disruptionBudget:\n        runtimeRestarts: true\n", "Pulumi.x.yaml"),
            ).toEqual({
                pullOutageSeconds: 0,
                pushOutageSeconds: 0,
                runtimeRestarts: true,
                credentialCuts: "none",
                dataChanges: false,
            });
            expect(budgetOfStackFile("config:\n    dso-registry:registry:\n        mode: kind\n", "Pulumi.x.yaml")).toBeUndefined();
        });

        it("refuses a budget the config refuses, naming the key", () => {
            expect(() =>
                budgetOfStackFile("config:\n    dso-registry:disruptionBudget:\n        credentialCuts: some\n", "Pulumi.x.yaml"),
            ).toThrow(/^Pulumi\.x\.yaml: dso-registry:disruptionBudget\.credentialCuts /);
        });
    });
});
