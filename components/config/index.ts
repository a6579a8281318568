/**
 * Stack configuration: every key of the `dso-registry` namespace, checked and typed.
 *
 *   schema.ts           the zod schema: one entry per key, its description and its value rules
 *   schema/             its entries: shared value rules, the registry, each mode, node trust, integrations
 *   modeShapes.ts       the shape of a stack file per registry.mode: the keys and variants each mode takes
 *   rules.ts            rules that span several keys
 *   derived.ts          facts derived from several keys, read by the rules, the notices and the decisions
 *   secrets.ts          the secret keys, the commands that set them, which ones a configuration needs
 *   problems.ts         ConfigError, how a problem names its key, the nearest allowed word
 *   schemaIssues.ts     the schema's issues reworded as problems
 *   mootSettings.ts     settings with no effect given the values of others (one table): told, not refused
 *   toolSettings.ts     settings the program never reads, and the tools that read them
 *   advice.ts           combinations that work with a known limit: told, not refused
 *   placeholders.ts     `REPLACE-WITH-…` values a deployment refuses and the synth warns about
 *   stackFileLeaves.ts  the values a stack file sets, with their paths, for the notices
 *   settings.ts         the typed shape the program reads: one variant per mode
 *   parse.ts            parseConfig: schema, rules and secrets together, without Pulumi
 *   load.ts             loadStackConfig: the one place Pulumi config is read
 */
export { PROJECT } from "../shared/facts";
export { mavenServedByRegistry, mirrorPullPolicy, mirrorsNeedAccount, nodeRuntime, pullCredentialsWanted } from "./derived";
export { loadDeployableConfig, loadStackConfig, type StackConfig } from "./load";
export { MOOT_SETTINGS } from "./mootSettings";
export { parseConfig } from "./parse";
export { PLACEHOLDER_MARK } from "./placeholders";
export { ConfigError, type ConfigProblem } from "./problems";
export { configShape } from "./schema";
export { hostNameProblem, mavenPathProblem, repositoryPrefixProblem } from "./schema/values";
export { type SecretName, type SecretState, secretNames, secretSpecs } from "./secrets";
export type {
    ExternalHostRegistrySettings,
    InClusterRegistrySettings,
    KindRegistrySettings,
    NodeSettings,
    OwnRegistrySettings,
    OwnTls,
    ParsedConfig,
    RegistrySettings,
} from "./settings";
export { TOOL_SETTINGS } from "./toolSettings";
