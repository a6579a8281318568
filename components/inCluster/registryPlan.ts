/**
 * What `InClusterRegistry` registers, planned without a Pulumi runtime (`planInClusterRegistry`): the spec
 * `manifests.ts` renders the registry's objects from, the caches' objects, how each object is registered
 * (./objectPlan.ts), and the objects the component exposes.
 */
import * as pulumi from "@pulumi/pulumi";
import { htpasswdOutput } from "../accounts/registryAccounts";
import { renderClusterMirrors } from "../mirrors/mirrorManifests";
import type { PlannedObject } from "../shared/k8sResources";
import { ISSUER_CHAIN } from "./issuerChain";
import { renderInClusterObjects } from "./manifests";
import { inClusterObjectPlan } from "./objectPlan";
import { type InClusterPodFiles, podConfigChecksum, renderPodFiles } from "./podFiles";
import type { ResolvedInClusterRegistry } from "./resolve";
import { IN_CLUSTER, type InClusterSpec, type InClusterStorage } from "./spec";

/** What `InClusterRegistry` registers (after the decoy's seed and the HTTP secret): `planInClusterRegistry`. */
export interface InClusterRegistryPlan {
    /** The objects in the order they are registered, each with its resource name, its options and what it waits for. */
    readonly objects: readonly PlannedObject[];
    /** Resource names of the objects the component exposes; `ingress` none behind a Gateway, `chainCa` only with the program's own cert-manager chain. */
    readonly exposed: {
        readonly namespace: string;
        readonly deployment: string;
        readonly service: string;
        readonly tlsService: string;
        readonly ingress?: string;
        readonly chainCa?: string;
    };
}

/** What `manifests.ts` renders the registry's objects from: the resolved args, the pod's files, the generated HTTP secret. */
function inClusterSpec(args: ResolvedInClusterRegistry, files: InClusterPodFiles, httpSecret: pulumi.Output<string>): InClusterSpec {
    const { overlap } = files;
    const storage: InClusterStorage =
        args.storage.kind === "s3"
            ? { kind: "s3", accessKeyId: args.storage.credentials.accessKeyId, secretAccessKey: args.storage.credentials.secretAccessKey }
            : { kind: "filesystem", size: args.storage.size, storageClass: args.storage.storageClass };
    return {
        namespace: args.namespace,
        host: args.host,
        port: args.port,
        ingressClass: args.ingressClass,
        ingressController: args.ingressController,
        ...(args.gateway ? { gateway: args.gateway } : {}),
        tls: args.tls,
        images: args.images,
        replicas: args.replicas,
        ...(args.pod ? { pod: args.pod } : {}),
        storage,
        allowedNetworks: args.allowedNetworks,
        ...(args.networkPolicy ? { networkPolicy: args.networkPolicy } : {}),
        ...(args.loginLimit ? { loginLimit: args.loginLimit } : {}),
        ui: args.ui,
        garbageCollection: args.garbageCollection,
        ...(args.retention ? { retention: args.retention } : {}),
        publishLocalRegistryHosting: args.publishLocalRegistryHosting,
        caddyfile: files.caddyfile,
        registryConfig: files.registryConfig,
        // The htpasswd view of the front's accounts (Secret `registry-htpasswd`): the same text as `RegistryAccounts.htpasswd`.
        users: {
            push: files.push,
            pull: files.pull,
            htpasswd: pulumi.secret(htpasswdOutput([...args.users.push, ...args.users.pull])),
            ...(overlap ? { overlap } : {}),
        },
        httpSecret: pulumi.secret(httpSecret),
        configChecksum: podConfigChecksum(args, files),
        ...(args.maven
            ? {
                  maven: {
                      image: args.maven.image,
                      nginxConfig: files.mavenNginxConfig,
                      deployUsers: files.mavenDeploy,
                      size: args.maven.size,
                      storageClass: args.maven.storageClass,
                      pathPrefix: args.maven.pathPrefix,
                      snapshotBuildsToKeep: args.maven.snapshotBuildsToKeep,
                  },
              }
            : {}),
        ...(args.backup ? { backup: args.backup } : {}),
        ...(args.diskGuard ? { diskGuard: args.diskGuard } : {}),
        ...(args.monitoring ? { monitoring: args.monitoring } : {}),
    };
}

/** The resource names of the objects the component exposes, among those planned; refuses one not rendered. */
function exposedObjects(
    name: string,
    args: ResolvedInClusterRegistry,
    objects: readonly PlannedObject[],
): InClusterRegistryPlan["exposed"] {
    const resourceName = (kind: string, objectName: string): string => {
        const found = objects.find((o) => o.object.kind === kind && o.object.metadata.name === objectName);
        if (!found) throw new Error(`InClusterRegistry ${name}: ${kind} ${objectName} was not rendered`);
        return found.name;
    };
    const chainCa = objects.find((o) => o.object.kind === "Certificate" && o.object.metadata.name === ISSUER_CHAIN.ca);
    return {
        namespace: resourceName("Namespace", args.namespace),
        deployment: resourceName("Deployment", IN_CLUSTER.name),
        service: resourceName("Service", IN_CLUSTER.name),
        tlsService: resourceName("Service", IN_CLUSTER.tlsService),
        ...(args.gateway ? {} : { ingress: resourceName("Ingress", IN_CLUSTER.name) }),
        ...(chainCa ? { chainCa: chainCa.name } : {}),
    };
}

/**
 * Everything `InClusterRegistry` registers, from its resolved args (`resolveInClusterRegistry`) and the two values
 * the component generates (the decoy's hash, `decoyHash`; Distribution's HTTP secret): the sidecar's
 * policy and Caddyfile, Distribution's config, the users files, the pods' checksum, every object
 * `manifests.ts` and the caches' renderer return, and how each is registered (`inClusterObjectPlan`).
 */
export function planInClusterRegistry(
    name: string,
    args: ResolvedInClusterRegistry,
    generated: { readonly decoyBcryptHash: pulumi.Output<string>; readonly httpSecret: pulumi.Output<string> },
): InClusterRegistryPlan {
    const files = renderPodFiles(args, generated.decoyBcryptHash);
    const spec = inClusterSpec(args, files, generated.httpSecret);
    const caches = renderClusterMirrors({
        namespace: args.namespace,
        image: args.images.registry,
        storageClass: args.storage.kind === "filesystem" ? args.storage.storageClass : undefined,
        mirrors: args.mirrors,
        scheduling: args.pod,
        resources: args.pod?.resources?.cache,
        upkeepImage: args.images.kubectl,
    });
    const objects = inClusterObjectPlan(name, [...renderInClusterObjects(spec), ...caches]);
    return { objects, exposed: exposedObjects(name, args, objects) };
}
