/**
 * Stack configuration: every key of the `dso-registry` namespace, checked and typed.
 *
 *   schema.ts    the zod schema: one entry per key, its description and its value rules
 *   rules.ts     rules that span several keys
 *   secrets.ts   the secret keys, the commands that set them, which ones a configuration needs
 *   problems.ts  ConfigError and the wording of every problem
 *   notices.ts   what is told without refusing: settings with no effect (one table), advice, placeholders
 *   settings.ts  the typed shape the program reads: one variant per mode
 *   parse.ts     parseConfig: schema, rules and secrets together, without Pulumi
 *   load.ts      loadStackConfig: the one place Pulumi config is read
 */
export { PROJECT } from "../shared/facts";
export { loadDeployableConfig, loadStackConfig, type StackConfig } from "./load";
export { MOOT_SETTINGS, PLACEHOLDER_MARK } from "./notices";
export { type ParseOptions, type ParseResult, parseConfig } from "./parse";
export { ConfigError, type ConfigProblem } from "./problems";
export { mavenServedByRegistry } from "./rules";
export { configShape, hostNameProblem, mavenPathProblem, repositoryPrefixProblem } from "./schema";
export { type SecretName, type SecretSpec, type SecretState, secretNames, secretSpecs } from "./secrets";
export type {
    AcmeTls,
    CertManagerTls,
    ContainerRegistryConfig,
    ExistingRegistrySettings,
    ExternalHostConfig,
    ExternalHostRegistrySettings,
    FilesystemStorage,
    GeneratedCaTls,
    InClusterConfig,
    InClusterRegistrySettings,
    JenkinsEnabled,
    JenkinsSettings,
    MavenRegistryConfig,
    NodeConfig,
    NodesByDaemonSet,
    NodesOverSsh,
    NodesSettings,
    NodesUntouched,
    OwnTls,
    ParsedConfig,
    ProvidedTls,
    PublicTls,
    RegistryConfig,
    RegistrySettings,
    S3Storage,
    StorageSettings,
    TlsSettings,
} from "./settings";
