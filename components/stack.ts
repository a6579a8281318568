/**
 * The program: turns a validated StackConfig into components and the stack's outputs. `index.ts` and
 * the offline synth both run this, so what synth shows is what `pulumi up` creates.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { InClusterRegistry } from "./inCluster/inClusterRegistry";
import { IN_CLUSTER } from "./inCluster/manifests";
import { defineJenkinsCredentials } from "./jenkins/jenkinsCredentials";
import { ExternalRegistryHost } from "./externalHost/externalRegistryHost";
import { defineNodeTrust } from "./nodeTrust/nodeTrust";
import { definePipelineConfig } from "./jenkins/pipelineConfig";
import { definePullSecrets } from "./accounts/pullSecrets";
import { RegistryAccounts } from "./accounts/registryAccounts";
import { RegistryTls } from "./accounts/registryTls";

/** `host` or `host:port` as clients write it in image references. */
export function registryAuthority(host: string, port: number): string {
    return port === 443 ? host : `${host}:${port}`;
}

/** `host[:port]/pathPrefix`, the prefix every image name starts with. */
export function imagePrefix(host: string, port: number, pathPrefix: string): string {
    const authority = registryAuthority(host, port);
    return pathPrefix ? `${authority}/${pathPrefix}` : authority;
}

/** What the stack exports; index.ts re-exports each field. */
export interface StackOutputs {
    /** https://host[:port] */
    readonly registryUrl: string;
    /** host[:port]/pathPrefix */
    readonly imagePrefix: string;
    /** CA certificate nodes and clients must trust, where the program made one (or was given one). */
    readonly caCertPem?: pulumi.Output<string>;
    /** Jenkins credential IDs pipelines use. */
    readonly jenkinsCredentialIds: { readonly containerRegistry: string; readonly mavenRegistry?: string };
    /** A ready example of logging in and pushing, without any secret. */
    readonly pushExample: string;
    /**
     * The seed-image strategy: the repository prefix apps' manifests use, and the placeholder tag a
     * first deploy names before CI has pushed anything (the pod waits in ImagePullBackOff until then).
     */
    readonly seedImage: { readonly prefix: string; readonly placeholderTag: string; readonly example: string };
    /** Commands to inspect and maintain the external registry host (registry.mode "external-host"). */
    readonly registryHostOps?: Record<string, string>;
}

export function defineStack(cfg: StackConfig): StackOutputs {
    const cr = cfg.containerRegistry;
    const authority = registryAuthority(cr.host, cr.port);
    const prefix = imagePrefix(cr.host, cr.port, cr.pathPrefix);
    const ownRegistry = cfg.registry.mode !== "existing";

    const accounts = ownRegistry
        ? new RegistryAccounts("registry-accounts", {
              push: {
                  username: cr.pushUsername,
                  password: cr.pushCredentials === "operator" ? cfg.secrets.containerRegistryPassword : undefined,
              },
              pull: cfg.pullAccountEnabled ? { username: cr.pullUsername } : undefined,
              rotation: cr.rotation,
          })
        : undefined;

    const tlsMode = cfg.registry.tls.mode;
    const tlsMaterial =
        ownRegistry && (tlsMode === "generated-ca" || tlsMode === "provided")
            ? new RegistryTls("registry-tls", {
                  source: tlsMode === "generated-ca" ? "generated" : "provided",
                  dnsNames: [cr.host],
                  caValidityDays: cfg.registry.tls.caValidityDays,
                  serverCertValidityDays: cfg.registry.tls.serverCertValidityDays,
                  provided:
                      tlsMode === "provided"
                          ? { certificatePem: cfg.secrets.tlsCertificate!, privateKeyPem: cfg.secrets.tlsPrivateKey! }
                          : undefined,
              })
            : undefined;

    let inClusterRegistry: InClusterRegistry | undefined;
    if (cfg.registry.mode === "in-cluster" && accounts) {
        const issuer = cfg.registry.tls.certManagerIssuer;
        inClusterRegistry = new InClusterRegistry("registry", {
            inCluster: cfg.inCluster,
            registry: cfg.registry,
            containerRegistry: cr,
            accounts,
            tls:
                tlsMode === "cert-manager" && issuer
                    ? { kind: "cert-manager", issuerKind: issuer.kind, issuerName: issuer.name }
                    : { kind: "secret", certPem: tlsMaterial!.serverCertPem, keyPem: tlsMaterial!.serverKeyPem },
            s3Credentials:
                cfg.registry.storage.kind === "s3"
                    ? { accessKeyId: cfg.secrets.s3AccessKeyId!, secretAccessKey: cfg.secrets.s3SecretAccessKey! }
                    : undefined,
            // The node-trust DaemonSet runs privileged in the same namespace.
            privilegedPodsInNamespace: cfg.nodes.delivery === "daemonset",
        });
    }

    let registryHostOps: Record<string, string> | undefined;
    if (cfg.registry.mode === "external-host" && accounts && cfg.externalHost) {
        const eh = cfg.externalHost;
        const host = new ExternalRegistryHost("registry-host", {
            connection: {
                kind: "ssh",
                name: eh.ssh.host,
                host: eh.ssh.host,
                port: eh.ssh.port,
                user: eh.ssh.user,
                privateKey: cfg.secrets.sshPrivateKey!,
                hostKey: eh.ssh.hostKey,
                sudo: eh.ssh.sudo ?? eh.ssh.user !== "root",
            },
            registryHost: cr.host,
            port: cr.port,
            pathPrefix: cr.pathPrefix,
            image: cfg.registry.image,
            dataDir: eh.dataDir,
            purgeDataOnDestroy: eh.purgeDataOnDestroy,
            installPackages: eh.installPackages,
            tls:
                tlsMode === "acme"
                    ? { kind: "acme", email: cfg.registry.tls.acmeEmail!, directory: cfg.registry.tls.acmeDirectory }
                    : {
                          kind: "files",
                          certificatePem: tlsMaterial!.serverCertPem,
                          privateKeyPem: tlsMaterial!.serverKeyPem,
                          caCertPem: tlsMaterial!.caCertPem,
                      },
            pushAccounts: [accounts.push],
            pullAccounts: accounts.pull ? [accounts.pull] : [],
            requiresAuthForPull: cr.requiresAuthForPull,
            allowedNetworks: cfg.registry.allowedNetworks,
            deletesEnabled: cfg.registry.ui.deleteEnabled || cfg.registry.maintenance.garbageCollection.enabled,
            ui: cfg.registry.ui.enabled ? { image: cfg.registry.ui.image } : undefined,
            maintenance: cfg.registry.maintenance,
        });
        registryHostOps = host.opsCommands;
    }

    const caCertPem =
        tlsMaterial?.caCertPem ?? (cfg.existing.caCertificate ? pulumi.output(cfg.existing.caCertificate) : undefined);

    // The node-trust DaemonSet lives in the registry's namespace: the in-cluster registry creates it;
    // otherwise it is created here, open to the DaemonSet's privileged pods.
    const trustNamespace =
        cfg.nodes.delivery === "daemonset" && !inClusterRegistry
            ? new k8s.core.v1.Namespace("node-trust-namespace", {
                  metadata: {
                      name: cfg.inCluster.namespace,
                      labels: { "pod-security.kubernetes.io/enforce": "privileged", "app.kubernetes.io/part-of": "dso-registry" },
                  },
              })
            : undefined;
    defineNodeTrust(
        cfg,
        { caCertPem, registryAddress: cfg.nodes.registryAddress, pullAccount: accounts?.pull },
        { dependsOn: [inClusterRegistry ?? trustNamespace].filter((r) => r !== undefined) },
    );

    defineJenkinsCredentials(cfg, { authority, push: accounts?.push });
    definePipelineConfig(cfg);
    definePullSecrets(cfg, { authority, pull: accounts?.pull });

    const mavenId = cfg.mavenRegistry?.credentialId;
    return {
        registryUrl: `https://${authority}`,
        imagePrefix: prefix,
        // Absent values are left out: Pulumi warns about undefined stack outputs.
        ...(caCertPem ? { caCertPem } : {}),
        jenkinsCredentialIds: { containerRegistry: cr.credentialId, ...(mavenId ? { mavenRegistry: mavenId } : {}) },
        pushExample: [
            `# In Jenkins: withCredentials([usernamePassword(credentialsId: '${cr.credentialId}', usernameVariable: 'REG_USER', passwordVariable: 'REG_PASS')])`,
            `echo "$REG_PASS" | docker login ${authority} -u "$REG_USER" --password-stdin`,
            `docker tag app:build ${prefix}/app:1.0.0`,
            `docker push ${prefix}/app:1.0.0`,
        ].join("\n"),
        ...(registryHostOps ? { registryHostOps } : {}),
        seedImage: {
            prefix,
            placeholderTag: IN_CLUSTER.placeholderTag,
            example: `${prefix}/app:${IN_CLUSTER.placeholderTag}`,
        },
    };
}
