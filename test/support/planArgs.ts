/**
 * The smallest args each placement component takes, for the tests that plan it without a Pulumi runtime
 * (planExternalRegistryHost, planKindRegistry) and spread their case's settings over it, and the S3 storage
 * the external host's tests give its registry. Every value is made up; the hash is PLAN_HASH.
 */
import type { ExternalRegistryHostArgs } from "../../components/externalHost/externalRegistryHost";
import type { HostRegistryStorage } from "../../components/externalHost/registryContainer";
import type { KindRegistryArgs } from "../../components/kind/kindRegistry";
import type { HostConnection } from "../../components/shared/hostAccess";
import { PLAN_HASH } from "./placementFixtures";

/** The registry host's SSH connection, with sudo. */
export const SSH_CONNECTION = {
    kind: "ssh",
    name: "registry-01",
    host: "10.0.0.5",
    port: 22,
    user: "deploy",
    privateKey: "KEY",
    hostKey: "ssh-ed25519 AAAA",
    sudo: true,
} as const satisfies HostConnection;

/** The external host with nothing optional: one host over SSH with sudo, a certificate from ACME, the push account. */
export const EXTERNAL_HOST_MINIMAL: ExternalRegistryHostArgs = {
    connection: SSH_CONNECTION,
    registryHost: "registry.example.com",
    accounts: { push: { username: "ci-push", bcryptHash: PLAN_HASH } },
    tls: { kind: "acme", email: "ops@example.com" },
};

/** The host's images in the bucket `images` (eu-west-1, virtual-hosted style, no redirects), its keys `AK` and `SK`. */
export const S3_HOST_STORAGE: Extract<HostRegistryStorage, { kind: "s3" }> = {
    kind: "s3",
    bucket: "images",
    region: "eu-west-1",
    forcePathStyle: false,
    rootDirectory: "/",
    redirect: false,
    credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
};

/** The kind placement with nothing optional: the local Docker, cluster and network `kind`, port 5002, the push account. */
export const KIND_REGISTRY_MINIMAL: KindRegistryArgs = {
    connection: { kind: "local", name: "docker", sudo: false },
    layout: { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/var/lib/dso-registry-kind" },
    accounts: { push: { username: "ci-push", bcryptHash: PLAN_HASH } },
};
