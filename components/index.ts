/**
 * The package's public surface: what a Pulumi program imports to place the registry and what goes around
 * it, one component each, without the stack config of this project (docs/library.md). It exports the
 * components and the types their args and outputs name, nothing else: this project's own program
 * (`index.ts`) reaches its stack wiring, config loader and cluster gate from their own modules.
 *
 * Each component takes `(name, args, opts?: pulumi.ComponentResourceOptions)`. Kubernetes objects go to
 * the provider of `opts.providers` (or `opts.provider`), commands over SSH to the connection in the
 * args. Args are `pulumi.Input<…>` where a value comes from another resource (a password, a CA, a
 * ClusterIP); plain where the value decides which resources exist or how they are named.
 *
 * `npm run build:package` compiles this file and what it imports to `dist/` (tsconfig.build.json), the
 * package's `main`. Nothing in components/ imports this file (.dependency-cruiser.cjs): it is for programs only.
 */

export type { LoginLimit } from "./accessPolicy/loginLimit";
export { PullSecrets, type PullSecretsArgs } from "./accounts/pullSecrets";
// What the placements take: accounts, certificates, caches.
export { type RegistryAccount, RegistryAccounts, type RegistryAccountsArgs } from "./accounts/registryAccounts";
export type { HostTls } from "./externalHost/caddySite";
export {
    ExternalRegistryHost,
    type ExternalRegistryHostArgs,
    type HostMavenArgs,
    type HostRegistryMonitoring,
} from "./externalHost/externalRegistryHost";
export type { HostRegistryStorage } from "./externalHost/registryContainer";
export type { PasswordRotation } from "./externalHost/scripts";
export type { HostBackupArgs } from "./externalHost/upkeep";
export { InClusterRegistry } from "./inCluster/inClusterRegistry";
export type {
    InClusterMavenArgs,
    InClusterRegistryArgs,
    InClusterRegistryMonitoring,
    InClusterRegistryStorage,
} from "./inCluster/registryArgs";
export type { InClusterBackup, InClusterLoginLimit, InClusterPod, IssuerChainLifetimes } from "./inCluster/spec";
export {
    type CredentialPlanInput,
    JenkinsCredentials,
    type JenkinsCredentialsArgs,
    type PlannedCredential,
    planJenkinsCredentials,
} from "./jenkins/jenkinsCredentials";
export { KindRegistry, type KindRegistryArgs } from "./kind/kindRegistry";
export type { KindGarbageCollection, KindImages, KindLayout } from "./kind/scripts";
export type { KindUiIngress } from "./kind/ui";
export type { RegistryMaven } from "./maven/registryMaven";
export type { MirrorSpec, NodeMirror, RegistryMirror, UpstreamAccount } from "./mirrors/mirrors";
export type { RegistryMonitoring } from "./monitoring/alertRules";
// What the cluster needs to use it.
export type { NodeTrustCommonArgs } from "./nodeTrust/common";
export { NodeTrustDaemonSet, type NodeTrustDaemonSetArgs } from "./nodeTrust/nodeTrustDaemonSet";
export { NodeTrust, type NodeTrustArgs } from "./nodeTrust/nodeTrustPerNode";
export type { DistributionSettings, NotificationEndpoint } from "./shared/distributionSettings";
// The placements: where the registry runs. Each takes the front contract (accounts, pull auth, deletes, allowlist).
export type { IngressController, RegistryDeletes, RuntimeFlavour } from "./shared/facts";
export type { FrontAccount, FrontAccounts, RegistryFront, ScopedFrontAccount } from "./shared/front";
export type { HostConnection } from "./shared/hostAccess";
export { RegistryTls, type RegistryTlsArgs } from "./tls/registryTls";
