/**
 * The in-cluster registry's arguments (`InClusterRegistryArgs`): what a stack or a library user gives. Their
 * defaults and what the component derives from them: `resolveInClusterRegistry` (./resolve.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { RegistryStorage } from "../distribution/registryConfig";
import type { RegistryMaven } from "../maven/registryMaven";
import type { RegistryMirror } from "../mirrors/mirrors";
import type { RegistryMonitoring } from "../monitoring/alertRules";
import type { DistributionSettings } from "../shared/distributionSettings";
import type { IngressController } from "../shared/facts";
import type { RegistryFront } from "../shared/front";
import type { Retention } from "../upkeep/retention";
import type {
    InClusterBackup,
    InClusterGateway,
    InClusterLoginLimit,
    InClusterNetworkPolicy,
    InClusterPod,
    IssuerChainLifetimes,
} from "./spec";

/** Where Distribution keeps images: a PVC, or an S3 bucket with the credentials to reach it. */
export type InClusterRegistryStorage =
    | {
          readonly kind: "filesystem";
          /**
           * PVC size, e.g. "50Gi".
           * @default "20Gi"
           */
          readonly size?: string;
          /** Storage class; the cluster default when unset. */
          readonly storageClass?: string;
      }
    | (Omit<Extract<RegistryStorage, { kind: "s3" }>, "kind"> & {
          readonly kind: "s3";
          /** Secret; passed to Distribution as environment from Secret `registry-s3`, never in config.yml. */
          readonly credentials: { readonly accessKeyId: pulumi.Input<string>; readonly secretAccessKey: pulumi.Input<string> };
      });

/** The registry in the cluster: the front contract every placement takes (accounts, pull auth, deletes, allowlist), and what runs in the cluster. */
export interface InClusterRegistryArgs extends RegistryFront {
    /** Host name clients use (no port: the Ingress or Gateway matches the name alone). */
    readonly host: string;
    /**
     * The port clients reach the ingress on, as they write it in image names: 443 unless the ingress is
     * published elsewhere (a load balancer's or a node port's mapping). The token realm and the KEP-1755
     * ConfigMap name it.
     * @default 443
     */
    readonly port?: number;
    /**
     * Namespace of the registry's objects; created by the component.
     * @default "dso"
     */
    readonly namespace?: string;
    /**
     * IngressClass of the Ingresses. Unset, they name none: the API server gives each the cluster's default
     * class when it creates it, and an Ingress that exists keeps the class it has
     * (docs/decisions/default-ingress-class.md).
     */
    readonly ingressClass?: string;
    /** The controller behind it (annotations, allowlist); undefined for one this program does not know. */
    readonly ingressController?: IngressController;
    /**
     * Images of Distribution, the Caddy sidecar, the web UI and the GC and backup jobs (kubectl with a
     * shell); each one left out is the pinned default.
     * @default { registry: "registry:3.1.2", caddy: "caddy:2.11.9", ui: "joxit/docker-registry-ui:2.6.0", kubectl: "alpine/kubectl:1.36.3" }
     */
    readonly images?: { readonly registry?: string; readonly caddy?: string; readonly ui?: string; readonly kubectl?: string };
    /**
     * Where Distribution keeps images.
     * @default { kind: "filesystem", size: "20Gi" } (a PVC of the cluster's default storage class)
     */
    readonly storage?: InClusterRegistryStorage;
    /** The token endpoint's limit at the ingress (`registry.loginLimit`; ingress-nginx or Traefik); none when unset. */
    readonly loginLimit?: InClusterLoginLimit;
    /** Exposed through a Gateway API HTTPRoute instead of Ingresses (`inCluster.exposure` "gateway"). */
    readonly gateway?: InClusterGateway;
    /** The NetworkPolicy of the registry's pods (`inCluster.networkPolicy`, resolved by `resolveNetworkPolicy`); none when unset. */
    readonly networkPolicy?: InClusterNetworkPolicy;
    /**
     * Whether the web UI runs in the registry pod, behind the same Caddy.
     * @default { enabled: false }
     */
    readonly ui?: { readonly enabled: boolean };
    /**
     * The garbage-collection CronJob: whether it runs, when (cron; default "30 3 * * 0"), and whether it
     * also removes untagged manifests (default false).
     * @default { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false }
     */
    readonly garbageCollection?: { readonly enabled: boolean; readonly schedule?: string; readonly deleteUntagged?: boolean };
    /** Tag retention, run by the GC job in its window before the collection; none when unset. */
    readonly retention?: Retention;
    /**
     * Registry pods; more than one needs s3 storage.
     * @default 1
     */
    readonly replicas?: number;
    /** Where and how the registry's pods run (resources, nodeSelector, tolerations, affinity, priority, annotations). */
    readonly pod?: InClusterPod;
    /**
     * Publish the KEP-1755 `local-registry-hosting` ConfigMap in kube-public.
     * @default true
     */
    readonly publishLocalRegistryHosting?: boolean;
    /** The ingress certificate: our own (generated CA or provided), or a cert-manager issuer. */
    readonly tls:
        | { readonly kind: "secret"; readonly certPem: pulumi.Input<string>; readonly keyPem: pulumi.Input<string> }
        | {
              readonly kind: "cert-manager";
              /** The operator's issuer, or the chain the component creates (then it reads the chain's CA: `caCertPem`). */
              readonly issuer:
                  | { readonly kind: "Issuer" | "ClusterIssuer"; readonly name: string }
                  | ({ readonly kind: "chain" } & IssuerChainLifetimes);
          };
    /** The Maven repository this front serves too (the converged case); none when unset. */
    readonly maven?: InClusterMavenArgs;
    /** Pull-through caches (`registry.mirrors`), each a Deployment of its own behind the sidecar; none when unset. */
    readonly mirrors?: readonly RegistryMirror[];
    /** Scheduled backups of the registry's volume (and Maven's) to S3 with restic; none when unset. */
    readonly backup?: InClusterBackup;
    /** Additions to Distribution's config.yml (`registry.distributionConfig`, docs/distribution-config.md); none when unset. */
    readonly distributionConfig?: DistributionSettings;
    /** Metrics and alert rules (docs/monitoring.md); none when unset. */
    readonly monitoring?: InClusterRegistryMonitoring;
    /**
     * The disk guard (`registry.diskGuard`): new uploads refused past this percentage of the data volume used,
     * and Maven deploys past it of the Maven volume used (./diskGuard.ts); none when unset, or with s3 and no Maven.
     */
    readonly diskGuard?: { readonly refusePercent: number };
}

/** The cluster's monitoring: what every placement takes (`RegistryMonitoring`), and how the cluster's Prometheus finds it. */
export interface InClusterRegistryMonitoring extends RegistryMonitoring {
    /**
     * prometheus-operator's CRDs exist: a PodMonitor and a PrometheusRule instead of scrape annotations.
     * @default false
     */
    readonly prometheusOperator?: boolean;
    /** With a rotation by age, when the generated passwords' next period begins (Unix seconds): an alert past it. */
    readonly passwordsRotationDue?: number;
    /**
     * blackbox_exporter's image in the certificate probe's pod.
     * @default "prom/blackbox-exporter:v0.28.0"
     */
    readonly probeImage?: string;
}

/** The Maven repository on the registry's front (`RegistryMaven`): an nginx sidecar with its own PVC, cleaned by the GC job. */
export interface InClusterMavenArgs extends RegistryMaven {
    /** PVC size and storage class of the repository's files. */
    readonly size: string;
    readonly storageClass?: string;
}
