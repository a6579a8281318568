/**
 * The registry inside the cluster (microk8s, lab clusters): Distribution with Caddy as a sidecar that
 * enforces the same access policy as the external host, behind the cluster's ingress. The objects are
 * rendered by `manifests.ts`; the policy text by `../accessPolicy/`. This component only feeds
 * them and registers what they return: its args are in `registryArgs.ts`, their one resolve step (defaults
 * and what the component derives from them) in `resolve.ts`, the
 * sidecar's policy and Caddyfile in `sidecarFront.ts`, the pod's files in `podFiles.ts`, and what it
 * registers in `registryPlan.ts` and `objectPlan.ts`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { decoyHash } from "../accounts/decoy";
import { withFormerType } from "../shared/formerType";
import { registerPlannedObjects } from "../shared/k8sResources";
import { typeToken } from "../shared/typeToken";
import { ISSUER_CHAIN } from "./issuerChain";
import type { InClusterRegistryArgs } from "./registryArgs";
import { planInClusterRegistry } from "./registryPlan";
import { resolveInClusterRegistry } from "./resolve";

/**
 * The chain's CA, read from the Secret cert-manager issued it into, once its Certificate is Ready (the
 * Certificate waits for that: issuerChain.ts). The read's ID derives from the Certificate's, which is
 * unknown while a preview plans to create it: the engine then skips the read and the CA shows as
 * unknown, where a read of a Secret that does not exist yet would fail the preview. A CA certificate is
 * public: the Secret's data is secret in state, this value need not be.
 */
function readChainCa(
    name: string,
    namespace: string,
    certificate: pulumi.CustomResource,
    opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
    const secret = k8s.core.v1.Secret.get(
        `${name}-secret-${ISSUER_CHAIN.ca}`,
        certificate.id.apply(() => `${namespace}/${ISSUER_CHAIN.ca}`),
        {
            ...opts,
            dependsOn: [certificate],
        },
    );
    return pulumi.unsecret(
        secret.data.apply((data) => {
            const encoded = data?.[ISSUER_CHAIN.caSecretKey];
            if (!encoded)
                throw new Error(
                    `Secret ${namespace}/${ISSUER_CHAIN.ca} has no ${ISSUER_CHAIN.caSecretKey}: cert-manager has not issued the CA`,
                );
            return Buffer.from(encoded, "base64").toString("utf8");
        }),
    );
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const IN_CLUSTER_REGISTRY_TYPE = typeToken("inCluster", "InClusterRegistry");

/**
 * The registry in a cluster: Distribution and its Caddy sidecar in one Deployment, behind the cluster's
 * ingress. Kubernetes objects go to the provider of `opts.providers` (or `opts.provider`), else the
 * ambient one.
 */
export class InClusterRegistry extends pulumi.ComponentResource {
    /** The registry's namespace (`args.namespace`), kept in the cluster when Pulumi deletes it. */
    readonly namespace: k8s.core.v1.Namespace;
    /** Deployment `registry`: Distribution with its Caddy sidecar (and the Maven and UI containers when asked for). */
    readonly deployment: k8s.apps.v1.Deployment;
    /** Service `registry` (port 5000, plain HTTP to the sidecar): what the ingress sends to. */
    readonly service: k8s.core.v1.Service;
    /** Service `registry-tls` (port 443, the sidecar's TLS listener): how pods reach the registry by its public name. */
    readonly tlsService: k8s.core.v1.Service;
    /** Ingress `registry`: the registry's public name on the ingress controller; none behind a Gateway. */
    readonly ingress?: k8s.networking.v1.Ingress;
    /**
     * ClusterIP of Service `registry-tls` (port 443, the sidecar's TLS listener): the address the
     * registry's public name resolves to inside the cluster.
     */
    readonly tlsServiceClusterIp: pulumi.Output<string>;
    /** The CA of the program's own cert-manager chain, read from cert-manager's Secret; undefined with any other TLS. */
    readonly caCertPem?: pulumi.Output<string>;

    constructor(name: string, given: InClusterRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(IN_CLUSTER_REGISTRY_TYPE, name, {}, withFormerType(opts, "dso:registry:InClusterRegistry"));
        const args = resolveInClusterRegistry(given);
        const decoyBcryptHash = decoyHash(`${name}-decoy`, this);
        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 48, special: false }, { parent: this });
        const plan = planInClusterRegistry(name, args, { decoyBcryptHash, httpSecret: httpSecret.result });
        const resources = registerPlannedObjects(plan.objects, `InClusterRegistry ${name}`, { parent: this });
        const registered = <T extends pulumi.CustomResource>(resourceName: string, type: new (...a: never[]) => T): T => {
            const resource = resources.get(resourceName);
            if (!(resource instanceof type))
                throw new pulumi.ResourceError(`InClusterRegistry ${name}: ${resourceName} was not registered`, this);
            return resource;
        };
        this.namespace = registered(plan.exposed.namespace, k8s.core.v1.Namespace);
        this.deployment = registered(plan.exposed.deployment, k8s.apps.v1.Deployment);
        this.service = registered(plan.exposed.service, k8s.core.v1.Service);
        this.tlsService = registered(plan.exposed.tlsService, k8s.core.v1.Service);
        if (plan.exposed.ingress) this.ingress = registered(plan.exposed.ingress, k8s.networking.v1.Ingress);
        this.tlsServiceClusterIp = this.tlsService.spec.clusterIP;
        const caCertificate = plan.exposed.chainCa && resources.get(plan.exposed.chainCa);
        this.caCertPem = caCertificate ? readChainCa(name, args.namespace, caCertificate, { parent: this }) : undefined;
        this.registerOutputs({ tlsServiceClusterIp: this.tlsServiceClusterIp, caCertPem: this.caCertPem });
    }
}
