/**
 * Stack files written for the flat shape of earlier releases, accepted for this one release: a key of
 * another variant (another registry.mode's block, a TLS mode's settings under another TLS mode, a
 * front's settings its placement does not take) was told to have no effect; the shape of ./modeShapes.ts
 * refuses it. Those keys are taken out before the shape is checked, each with a warning that prints the
 * command that rewrites the stack file. Keys earlier releases already refused stay refused.
 *
 * The release after this one deletes this file and its call in ./parse.ts.
 */
import type { z } from "zod";
import { MODE_SHAPES, patternOf, type RegistryMode, variantReason } from "./modeShapes";
import { type ConfigProblem, keyPath } from "./problems";

/** The keys earlier releases told (a row of the moot table), where the shape now refuses them. */
const FORMERLY_TOLD = new Set([
    "inCluster",
    "kind",
    "existing",
    "registry.image",
    "registry.caddyImage",
    "registry.storage",
    "registry.storage.size",
    "registry.storage.storageClass",
    "registry.distributionConfig",
    "registry.monitoring",
    "registry.monitoring.prometheusOperator",
    "registry.loginLimit",
    "registry.loginLimit.maxRetry",
    "registry.loginLimit.findTimeSeconds",
    "registry.loginLimit.banTimeSeconds",
    "registry.loginLimit.tokenRequestsPerMinute",
    "registry.loginLimit.credentialRequestsPerMinute",
    "registry.tls.caValidityDays",
    "registry.tls.serverCertValidityDays",
    "registry.tls.acmeEmail",
    "registry.tls.acmeDirectory",
    // Backups: their settings while they are off, the image outside the cluster, a destination's keys of another kind.
    "registry.maintenance.backup.image",
    "registry.maintenance.backup.schedule",
    "registry.maintenance.backup.keep",
    "registry.maintenance.backup.destination",
    ...["host", "port", "user", "path", "hostKey", "endpoint", "bucket", "prefix", "region", "size", "storageClass"].map(
        (key) => `registry.maintenance.backup.destination.${key}`,
    ),
    // Settings of a feature that is off (or that a placement never runs).
    "registry.ui.image",
    "registry.ui.deleteEnabled",
    "registry.maintenance.garbageCollection.schedule",
    "registry.maintenance.garbageCollection.deleteUntagged",
    "registry.loginLimit.ignoreNetworks",
    "registry.monitoring.runbookBaseUrl",
    // Node trust's settings of another delivery.
    "nodes.runtime",
    "nodes.registryAddress",
    "nodes.allowContainerdRestart",
    "nodes.allowServiceRestart",
    "nodes.restartTimeoutSeconds",
    "nodes.restartBatchSize",
    "nodes.namespace",
    // Jenkins's settings while it is off.
    ...[
        "url",
        "allowPlainHttp",
        "user",
        "auth",
        "caCertificate",
        "registryHostCredentialId",
        "pipelineConfigNamespace",
        "pipelineConfigName",
        "timeoutSeconds",
        "usernameSecret",
        "agentImages",
    ].map((key) => `jenkins.${key}`),
]);

type Raw = Record<string, unknown>;

/** Whether an earlier release told, rather than refused, the key at `path` of this stack file. */
function formerlyTold(path: readonly PropertyKey[], raw: Raw): boolean {
    const key = patternOf(path);
    if (key === "registry.tls") {
        // kind took registry.tls at its default only (plain HTTP); any other TLS mode was refused.
        const tlsMode = ((raw.registry as Raw | undefined)?.tls as Raw | undefined)?.mode;
        return tlsMode === undefined || tlsMode === "generated-ca";
    }
    if (key === "nodes.list") {
        // An empty list went unnoticed with another delivery; a listed node was refused.
        const nodeList = (raw.nodes as Raw | undefined)?.list;
        return Array.isArray(nodeList) && nodeList.length === 0;
    }
    return FORMERLY_TOLD.has(key);
}

/** The command that takes a key out of the stack file. */
function removal(path: readonly PropertyKey[]): string {
    const key = keyPath(path);
    return path.length === 1 ? `pulumi config rm ${key}` : `pulumi config rm --path '${key}'`;
}

function without(raw: Raw, path: readonly PropertyKey[]): Raw {
    const copy = structuredClone(raw);
    const parent = path.slice(0, -1).reduce<unknown>((node, part) => (node as Raw)[part as string], copy) as Raw;
    delete parent[path[path.length - 1] as string];
    return copy;
}

export interface Rewritten {
    /** The stack file without the keys earlier releases told and this shape refuses. */
    readonly raw: Raw;
    /** One per key taken out, with the command that takes it out of the stack file. */
    readonly warnings: readonly ConfigProblem[];
}

/** Takes out of a stack file the keys of another variant that earlier releases only told about. */
export function rewriteLegacyShape(raw: Readonly<Raw>, mode: RegistryMode): Rewritten {
    let current: Raw = { ...raw };
    const warnings: ConfigProblem[] = [];
    // Each pass can reveal keys inside an object the shape accepts only once its variant is known.
    for (let pass = 0; pass < 4; pass++) {
        const result = MODE_SHAPES[mode].safeParse(current);
        const told = (result.error?.issues ?? [])
            .filter((issue): issue is z.core.$ZodIssueUnrecognizedKeys => issue.code === "unrecognized_keys")
            .flatMap((issue) => issue.keys.map((k) => [...issue.path, k]))
            .filter((path) => formerlyTold(path, current));
        if (told.length === 0) break;
        for (const path of told) {
            warnings.push({
                key: keyPath(path),
                message: `has no effect with ${variantReason(path, current, mode)}; this release still takes the stack file, the next one refuses it: remove it (${removal(path)})`,
            });
            current = without(current, path);
        }
    }
    return { raw: current, warnings };
}
