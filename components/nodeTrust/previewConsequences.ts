/**
 * What a preview of node trust's changes disrupts, for the consequences summary
 * (tools/previewConsequences.ts, docs/preview-consequences.md): a node's registries.yaml or CRI-O
 * configuration over SSH (`NodeFile`), containerd's config_path step (`NodeTrust`), and the node-trust
 * DaemonSet, each picked out by the type tokens and child names this folder's components export.
 */
import {
    at,
    COMMANDS,
    changeAt,
    child,
    inputsOf,
    is,
    may,
    RESTART,
    type Rule,
    scriptParameters,
    type Target,
    withoutPrefix,
} from "../consequences/previewConsequences";
import { NODE_FILE_TYPE } from "./nodeFile";
import { NODE_TRUST_DAEMON_SET_TYPE } from "./nodeTrustDaemonSet";
import { nodeTrustName } from "./nodeTrustFleet";
import { configPathStepName, NODE_TRUST_TYPE } from "./nodeTrustPerNode";

/** The resources node trust's rules read. */
export const NODE_TRUST_TARGETS = {
    nodeFile: { types: COMMANDS, parentType: NODE_FILE_TYPE },
    configPath: { types: COMMANDS, parentType: NODE_TRUST_TYPE, named: child(configPathStepName) },
    nodeTrustDaemonSet: { types: ["kubernetes:apps/v1:DaemonSet"], parentType: NODE_TRUST_DAEMON_SET_TYPE },
} as const satisfies Record<string, Target>;

/** k3s / RKE2 registries.yaml (or CRI-O's registries.conf) on a node over SSH. */
const nodeFile: Rule = (c) => {
    if (!is(c, NODE_TRUST_TARGETS.nodeFile)) return [];
    const params = scriptParameters(c.op === "delete" ? c.olds.delete : (c.news.create ?? c.olds.create));
    const node = withoutPrefix(c.parentName, nodeTrustName("")).replace(/-(registries-yaml|registries-conf)$/, "");
    const how = c.op === "update" ? changeAt(c, "stdin") : "yes";
    if (how === "no") return [];
    if (params.FLAVOUR) {
        const units = (params.UNITS ?? params.FLAVOUR).split("\n").join(" or ");
        if (params.ALLOW_RESTART === "false") {
            return [
                {
                    kind: "runtime",
                    text: `${node}: registries.yaml changes; ${units} must be restarted by hand to read it (allowServiceRestart is off)`,
                },
            ];
        }
        const turn = params.TURN ? ` (${params.TURN})` : "";
        return [
            {
                kind: "runtime",
                disrupts: RESTART,
                text: `${node}: ${units} ${may(how, "restarts", "restart")}${turn}: registries.yaml ${c.op === "delete" ? "loses the registry's entries" : "changes"}; the apply waits until the node is Ready again (up to ${params.RESTART_TIMEOUT_SECONDS ?? "?"} s) before the next node's turn`,
            },
        ];
    }
    if (params.UNITS)
        return [{ kind: "runtime", text: `${node}: CRI-O ${may(how, "reloads", "reload")} its registries configuration (no restart)` }];
    return [];
};

/** containerd's config_path on a node over SSH: set once, with a restart when allowed. */
const configPath: Rule = (c) => {
    if (!is(c, NODE_TRUST_TARGETS.configPath)) return [];
    if (c.op === "update") return [];
    const params = scriptParameters(c.op === "delete" ? c.olds.delete : c.news.create);
    if (params.ALLOW_RESTART !== "true") return [];
    const node = withoutPrefix(c.parentName, nodeTrustName(""));
    const what = c.op === "delete" ? "its original config is put back" : "its config_path is not set yet";
    return [{ kind: "runtime", text: `${node}: containerd restarts if ${what}`, disrupts: RESTART }];
};

/** The node-trust DaemonSet: a rolling update, one node at a time; on k3s / RKE2 each node's service restarts. */
const nodeTrustDaemonSet: Rule = (c) => {
    if (!is(c, NODE_TRUST_TARGETS.nodeTrustDaemonSet)) return [];
    if (c.op === "delete") {
        return [
            {
                kind: "runtime",
                text: "node trust removed from every node (each pod takes its files away as it stops): nodes no longer trust the registry",
                disrupts: { outage: { pulls: true, pushes: false } },
            },
        ];
    }
    const how = c.op === "update" ? changeAt(c, "spec.template") : c.op === "replace" ? "yes" : "no";
    if (how === "no" || c.op === "create") return [];
    const spec = inputsOf(c);
    const text = JSON.stringify(at(spec, "spec.template.spec") ?? {});
    const restarts = text.includes('"DSO_HOST_EXEC"');
    const flavour = /"\/etc\/rancher\/(k3s|rke2)"/.exec(text)?.[1];
    if (restarts && flavour) {
        return [
            {
                kind: "runtime",
                text: `every node: ${flavour} ${may(how, "restarts", "restart")} where its registries.yaml changes, one node at a time (the DaemonSet's rolling update)`,
                disrupts: RESTART,
            },
        ];
    }
    if (restarts && text.includes('"/etc/containerd"')) {
        return [
            {
                kind: "runtime",
                text: "every node: containerd restarts where its config_path is not set yet, one node at a time",
                disrupts: RESTART,
            },
        ];
    }
    if (restarts && text.includes('"/etc/containers"')) {
        return [{ kind: "runtime", text: "every node: CRI-O reloads its registries configuration, one node at a time (no restart)" }];
    }
    return [];
};

/** Node trust's rules, in the order the summary applies them. */
export const NODE_TRUST_RULES: readonly Rule[] = [nodeFile, configPath, nodeTrustDaemonSet];
