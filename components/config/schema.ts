/**
 * The zod schema: one entry per key of the `dso-registry` namespace, with its description (which
 * flows into the README's reference) and its value rules. The entries live in `schema/`: the value
 * rules shared by several keys (`values.ts`), the registry (`registry.ts`), the settings of each
 * registry mode (`placements.ts`), node trust (`nodes.ts`), what the cluster's users are given
 * (`integrations.ts`), and what a change may disrupt without approval (`review.ts`, read by tools
 * only: ./toolSettings.ts). Rules that span several keys live in `rules.ts`; the shape the rest of
 * the program reads is made in `settings.ts`.
 */
import { z } from "zod";
import { caConfigMap, jenkins, pullSecrets } from "./schema/integrations";
import { nodes } from "./schema/nodes";
import { existing, externalHost, inCluster, kind } from "./schema/placements";
import { containerRegistry, mavenRegistry, registry } from "./schema/registry";
import { disruptionBudget } from "./schema/review";

/** Every key of the `dso-registry` namespace that holds plain (non-secret) configuration. */
export const configShape = {
    containerRegistry: containerRegistry.describe("The container registry as clients see it (was CONTAINER_REGISTRY_*)."),
    mavenRegistry: mavenRegistry.optional().describe("The Maven repository CI deploys to (was MAVEN_REGISTRY_*)."),
    registry: registry.describe("How and where the registry runs."),
    inCluster: inCluster.prefault({}).describe('Settings of registry.mode "in-cluster".'),
    externalHost: externalHost.optional().describe('Settings of registry.mode "external-host".'),
    kind: kind.prefault({}).describe('Settings of registry.mode "kind": the registry on the Docker host of a kind cluster (docs/kind.md).'),
    existing: existing.prefault({}).describe('Settings of registry.mode "existing".'),
    nodes: nodes.prefault({}).describe("Node trust: how the nodes' container runtimes trust and resolve the registry."),
    jenkins: jenkins.prefault({}).describe("Jenkins credentials and the pipeline-config ConfigMap."),
    pullSecrets: pullSecrets.prefault({}).describe("Pull secrets built from the pull-only account."),
    caConfigMap: caConfigMap
        .prefault({})
        .describe("How the registry's CA reaches the namespaces whose pods talk to the registry themselves (ConfigMap `dso-registry-ca`)."),
    disruptionBudget: disruptionBudget
        .optional()
        .describe(
            "What a pull request's change may disrupt without approval, checked by the preview workflow with the base branch's value: a pull request's own change to it is named for approval and judges only the pull requests after it (docs/preview-consequences.md); unset, nothing is checked. Read by tools only, never by the program.",
        ),
} as const;

/** The whole plain configuration: every key above, and nothing else. */
export const schema = z.strictObject(configShape);
