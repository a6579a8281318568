/**
 * The registry inside the cluster (microk8s, lab clusters): Distribution with Caddy as a sidecar that
 * enforces the same access policy as the external host, behind the cluster's ingress. The objects are
 * rendered by `inClusterManifests.ts`; the policy text by `accessPolicy.ts`. This component only feeds
 * them and registers what they return.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type AccessPolicy, renderCaddyfile, renderRegistryConfig, renderUsersFile, type RegistryStorage } from "../accessPolicy/accessPolicy";
import type { ContainerRegistryConfig, InClusterConfig, RegistryConfig } from "../config";
import {
    DEFAULT_KUBECTL_IMAGE,
    IN_CLUSTER,
    type InClusterSpec,
    type InClusterStorage,
    type InClusterTls,
    type K8sObject,
    renderInClusterObjects,
} from "./manifests";
import type { RegistryAccount } from "../accounts/registryAccounts";

export interface InClusterRegistryArgs {
    /** `dso-registry:inCluster`: namespace, ingress class, KEP-1755 publication. */
    readonly inCluster: InClusterConfig;
    /** `dso-registry:registry`: images, storage, UI, maintenance, replicas. */
    readonly registry: RegistryConfig;
    /** `dso-registry:containerRegistry`: host name and whether pulls need credentials. */
    readonly containerRegistry: ContainerRegistryConfig;
    /** The push account and, when it exists, the pull-only account (bcrypt hashes, secret). */
    readonly accounts: { readonly push: RegistryAccount; readonly pull?: RegistryAccount; readonly htpasswd: pulumi.Output<string> };
    /** Whether push accounts may DELETE through the API, and whether the UI offers a delete button (decided once by the stack). */
    readonly deletes: { readonly api: boolean; readonly ui: boolean };
    /** The ingress certificate: our own (generated CA or provided), or a cert-manager issuer. */
    readonly tls:
        | { readonly kind: "secret"; readonly certPem: pulumi.Input<string>; readonly keyPem: pulumi.Input<string> }
        | { readonly kind: "cert-manager"; readonly issuerKind: "Issuer" | "ClusterIssuer"; readonly issuerName: string };
    /** S3 credentials, required with `registry.storage.kind: s3` (secrets `s3AccessKeyId`, `s3SecretAccessKey`). */
    readonly s3Credentials?: { readonly accessKeyId: pulumi.Input<string>; readonly secretAccessKey: pulumi.Input<string> };
    /** Image with `sh` and `kubectl` for the garbage-collection job. */
    readonly kubectlImage?: string;
    /**
     * Other pods in the namespace must run privileged (the node-trust DaemonSet): the namespace then
     * does not enforce the restricted Pod Security Standard (it still audits it).
     */
    readonly privilegedPodsInNamespace?: boolean;
    /** Kubernetes provider (a kubeconfig context); the ambient one when unset. */
    readonly provider?: k8s.Provider;
}

/** The sidecar's policy: the shared policy, placed behind the ingress on plain HTTP inside the pod. */
export function sidecarPolicy(args: {
    readonly host: string;
    readonly requiresAuthForPull: boolean;
    readonly uiEnabled: boolean;
    readonly deletesEnabled: boolean;
    /** With filesystem storage the PVC is mounted read-only into Caddy, which serves blob downloads from it. */
    readonly storage: "filesystem" | "s3";
}): AccessPolicy {
    return {
        siteAddress: args.host,
        port: IN_CLUSTER.servicePort,
        tls: { kind: "plain-http" },
        upstream: IN_CLUSTER.registryAddr,
        requiresAuthForPull: args.requiresAuthForPull,
        pushUsersFile: `${IN_CLUSTER.usersDir}/push`,
        pullUsersFile: `${IN_CLUSTER.usersDir}/pull`,
        // The sidecar only sees the ingress controller's address: the allowlist is the ingress's job.
        allowedNetworks: [],
        uiUpstream: args.uiEnabled ? `127.0.0.1:${IN_CLUSTER.uiPort}` : undefined,
        deletesEnabled: args.deletesEnabled,
        // Pods are replaced on every change; nothing needs Caddy's admin API.
        admin: "off",
        ...(args.storage === "filesystem" ? { blobFiles: IN_CLUSTER.dataDir } : {}),
    };
}

/**
 * The sidecar's Caddyfile. The site answers whatever host name the request carries: the ingress
 * forwards the public name, and pods in the cluster use the Service name (KEP-1755
 * `hostFromClusterNetwork`), so the site label must not become a host matcher.
 */
export function renderSidecarCaddyfile(policy: AccessPolicy): string {
    const text = renderCaddyfile(policy);
    const label = `http://${policy.siteAddress}:${policy.port} {`;
    const lines = text.split("\n");
    const index = lines.indexOf(label);
    if (index < 0) throw new Error(`renderSidecarCaddyfile: the rendered Caddyfile has no site line "${label}"`);
    lines[index] = `http://:${policy.port} {`;
    return lines.join("\n");
}

/** Distribution's storage as the shared config renderer takes it. */
export function registryStorage(registry: RegistryConfig): RegistryStorage {
    const s3 = registry.storage.s3;
    if (registry.storage.kind === "s3") {
        if (!s3) throw new Error(`registry.storage.kind is "s3" but registry.storage.s3 is not set (at least bucket)`);
        return {
            kind: "s3",
            bucket: s3.bucket,
            region: s3.region,
            endpoint: s3.endpoint,
            forcePathStyle: s3.forcePathStyle,
            rootDirectory: s3.rootDirectory,
        };
    }
    return { kind: "filesystem", rootDirectory: IN_CLUSTER.dataDir };
}

/** Under Pulumi's mocks (synth, tests) generated hashes are placeholders, not bcrypt. */
const MOCK_PLACEHOLDER = /^\[(secret|unknown)\]$/;

function usersFile(role: "push" | "pull", accounts: readonly RegistryAccount[]): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all(accounts.map((a) => a.bcryptHash)).apply((hashes) =>
            hashes.some((h) => MOCK_PLACEHOLDER.test(h))
                ? "[secret]"
                : renderUsersFile(role, accounts.map((a, i) => ({ username: a.username, bcryptHash: hashes[i]! }))),
        ),
    );
}

type Constructor = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

const KINDS: Record<string, Constructor> = {
    "v1/Namespace": k8s.core.v1.Namespace,
    "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
    "v1/Secret": k8s.core.v1.Secret,
    "v1/ConfigMap": k8s.core.v1.ConfigMap,
    "v1/PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
    "v1/Service": k8s.core.v1.Service,
    "apps/v1/Deployment": k8s.apps.v1.Deployment,
    "networking.k8s.io/v1/Ingress": k8s.networking.v1.Ingress,
    "policy/v1/PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
    "batch/v1/CronJob": k8s.batch.v1.CronJob,
};

export class InClusterRegistry extends pulumi.ComponentResource {
    /** Namespace the registry runs in. */
    readonly namespace: string;
    /** `registry.<namespace>.svc:5000`: the plain-HTTP address for pods inside the cluster. */
    readonly clusterAddress: string;

    constructor(name: string, args: InClusterRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:registry:InClusterRegistry", name, {}, opts);
        const { inCluster, registry, containerRegistry: cr } = args;
        if (registry.storage.kind === "s3" && !args.s3Credentials) {
            throw new Error(
                `InClusterRegistry ${name}: s3 storage needs credentials; set dso-registry:s3AccessKeyId and dso-registry:s3SecretAccessKey with pulumi config set --secret`,
            );
        }
        this.namespace = inCluster.namespace;
        this.clusterAddress = `${IN_CLUSTER.name}.${inCluster.namespace}.svc:${IN_CLUSTER.servicePort}`;

        const policy = sidecarPolicy({
            host: cr.host,
            requiresAuthForPull: cr.requiresAuthForPull,
            uiEnabled: registry.ui.enabled,
            deletesEnabled: args.deletes.api,
            storage: registry.storage.kind,
        });
        const caddyfile = renderSidecarCaddyfile(policy);
        const registryConfig = renderRegistryConfig({
            addr: IN_CLUSTER.registryAddr,
            storage: registryStorage(registry),
            deletesEnabled: args.deletes.api,
        });
        const push = usersFile("push", [args.accounts.push]);
        const pull = usersFile("pull", args.accounts.pull ? [args.accounts.pull] : []);
        // A digest of bcrypt hashes of long random passwords reveals nothing; keeping it plain keeps the
        // pod template readable in previews.
        const configChecksum = pulumi.unsecret(
            pulumi.all([push, pull]).apply(([p, q]) =>
                createHash("sha256").update(caddyfile).update("\0").update(registryConfig).update("\0").update(p).update("\0").update(q).digest("hex"),
            ),
        );
        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 48, special: false }, { parent: this });

        const storage: InClusterStorage =
            registry.storage.kind === "s3"
                ? {
                      kind: "s3",
                      accessKeyId: pulumi.secret(args.s3Credentials!.accessKeyId),
                      secretAccessKey: pulumi.secret(args.s3Credentials!.secretAccessKey),
                  }
                : { kind: "filesystem", size: registry.storage.size, storageClass: registry.storage.storageClass };
        const tls: InClusterTls = args.tls.kind === "secret" ? { ...args.tls, keyPem: pulumi.secret(args.tls.keyPem) } : args.tls;

        const spec: InClusterSpec = {
            namespace: inCluster.namespace,
            enforceRestricted: !args.privilegedPodsInNamespace,
            host: cr.host,
            ingressClass: inCluster.ingressClass,
            tls,
            images: {
                registry: registry.image,
                caddy: registry.caddyImage,
                ui: registry.ui.image,
                kubectl: args.kubectlImage ?? DEFAULT_KUBECTL_IMAGE,
            },
            replicas: registry.replicas,
            storage,
            allowedNetworks: registry.allowedNetworks,
            ui: { enabled: registry.ui.enabled, deleteEnabled: args.deletes.ui },
            garbageCollection: registry.maintenance.garbageCollection,
            publishLocalRegistryHosting: inCluster.publishLocalRegistryHosting,
            caddyfile,
            registryConfig,
            users: { push, pull, htpasswd: pulumi.secret(args.accounts.htpasswd) },
            httpSecret: pulumi.secret(httpSecret.result),
            configChecksum,
        };
        registerObjects(name, renderInClusterObjects(spec), { parent: this, provider: args.provider });
        this.registerOutputs({ namespace: this.namespace, clusterAddress: this.clusterAddress });
    }
}

/**
 * Registers each object with an explicit `metadata.name` (no suffixes). The namespace comes first;
 * the workloads wait for the Secrets and ConfigMaps they mount.
 */
function registerObjects(name: string, objects: readonly K8sObject[], opts: pulumi.CustomResourceOptions): void {
    let namespace: pulumi.CustomResource | undefined;
    const inputs: pulumi.CustomResource[] = [];
    for (const object of objects) {
        const key = `${object.apiVersion}/${object.kind}`;
        const ctor = KINDS[key];
        if (!ctor) throw new Error(`InClusterRegistry ${name}: no resource type for ${key}`);
        const { apiVersion: _apiVersion, kind: _kind, ...body } = object;
        const workload = object.kind === "Deployment" || object.kind === "CronJob";
        const dependsOn = workload ? [...(namespace ? [namespace] : []), ...inputs] : namespace && object.kind !== "Namespace" ? [namespace] : [];
        const resource = new ctor(`${name}-${object.kind.toLowerCase()}-${object.metadata.name}`, body, { ...opts, dependsOn });
        if (object.kind === "Namespace") namespace = resource;
        if (object.kind === "Secret" || object.kind === "ConfigMap" || object.kind === "ServiceAccount") inputs.push(resource);
    }
}
