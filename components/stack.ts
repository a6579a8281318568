/**
 * The program: turns a validated StackConfig into components and the stack's outputs. `index.ts` and
 * the offline synth both run this, so what synth shows is what `pulumi up` creates.
 *
 * This is the only place that reads the config schema's shape: each `defineX` below picks what one
 * component needs and hands it over as typed args, and decisions that several components share come
 * from `decide` (components/decisions.ts), made once.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PullSecrets } from "./accounts/pullSecrets";
import { deterministicBcrypt, type RegistryAccount, RegistryAccounts } from "./accounts/registryAccounts";
import { RegistryTls } from "./accounts/registryTls";
import type { ExternalHostRegistrySettings, InClusterRegistrySettings, OwnTls, SecretName, StackConfig } from "./config";
import { type Decisions, decide } from "./decisions";
import { ExternalRegistryHost, type ExternalRegistryHostArgs, type HostMavenArgs } from "./externalHost/externalRegistryHost";
import type { HostBackupArgs } from "./externalHost/maintenance";
import { RegistryCaBundle } from "./inCluster/caBundle";
import { CA_CONFIG_MAP, caNamespaces, RegistryCaConfigMaps } from "./inCluster/caConfigMaps";
import { ClusterDns } from "./inCluster/clusterDns";
import { type InClusterMavenArgs, InClusterRegistry, type InClusterRegistryArgs } from "./inCluster/inClusterRegistry";
import type { InClusterBackup } from "./inCluster/spec";
import { AgentPodTemplates } from "./jenkins/agentPods";
import { JenkinsCredentials, planJenkinsCredentials } from "./jenkins/jenkinsCredentials";
import { PipelineConfig } from "./jenkins/pipelineConfig";
import {
    defaultRemoteUrl,
    type MirrorSpec,
    mirrorAge,
    mirrorPathName,
    parseMirrorCredentials,
    renderMirrorEnvFile,
    type UpstreamAccount,
} from "./mirrors/mirrors";
import type { NodeTrustCommonArgs } from "./nodeTrust/common";
import { NodeTrustDaemonSet } from "./nodeTrust/nodeTrustDaemonSet";
import { NodeTrust } from "./nodeTrust/nodeTrustSsh";
import { planRollingRestarts } from "./nodeTrust/restarts";
import {
    isDistribution3Image,
    needsSudo,
    PART_OF_LABELS,
    PLACEHOLDER_TAG,
    PROJECT,
    type RuntimeFlavour,
    registryAuthority,
} from "./shared/facts";
import type { HostConnection } from "./shared/hostAccess";

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
    const d = decide(cfg);
    const cr = cfg.containerRegistry;
    const accounts = defineAccounts(cfg, d);

    const inCluster = accounts && defineInClusterRegistry(cfg, d, accounts);
    if (inCluster) defineClusterDns(cfg, inCluster.component);
    const external = accounts && defineExternalHost(cfg, d, accounts);
    const registryHost = external?.component;

    const tlsMaterial = inCluster?.tlsMaterial ?? external?.tlsMaterial;
    const existingCa = cfg.registry.mode === "existing" ? cfg.registry.existing.caCertificate : undefined;
    const issuerCa = cfg.registry.tls.mode === "cert-manager" ? cfg.registry.tls.caCertificate : undefined;
    const configuredCa = existingCa ?? issuerCa;
    const caCertPem = tlsMaterial?.caCertPem ?? (configuredCa ? pulumi.output(configuredCa) : undefined);
    const pullAccount = pullAccountOf(cfg, d, accounts);
    defineNodeTrust(cfg, d, { caCertPem, pullAccount });
    defineJenkinsCredentials(cfg, d, accounts?.push);
    definePipelineConfig(cfg);
    definePullSecrets(d, pullAccount);
    defineCaConfigMaps(cfg, caCertPem);
    defineAgentPodTemplates(cfg, d, caCertPem !== undefined);

    const mavenId = cfg.mavenRegistry?.credentialId;
    const registryHostOps = registryHost?.opsCommands;
    return {
        registryUrl: `https://${d.authority}`,
        imagePrefix: d.imagePrefix,
        // Absent values are left out: Pulumi warns about undefined stack outputs.
        ...(caCertPem ? { caCertPem } : {}),
        jenkinsCredentialIds: { containerRegistry: cr.credentialId, ...(mavenId ? { mavenRegistry: mavenId } : {}) },
        pushExample: [
            `# In Jenkins: withCredentials([usernamePassword(credentialsId: '${cr.credentialId}', usernameVariable: 'REG_USER', passwordVariable: 'REG_PASS')])`,
            `echo "$REG_PASS" | docker login ${d.authority} -u "$REG_USER" --password-stdin`,
            `docker tag app:build ${d.imagePrefix}/app:1.0.0`,
            `docker push ${d.imagePrefix}/app:1.0.0`,
        ].join("\n"),
        ...(registryHostOps ? { registryHostOps } : {}),
        seedImage: { prefix: d.imagePrefix, placeholderTag: PLACEHOLDER_TAG, example: `${d.imagePrefix}/app:${PLACEHOLDER_TAG}` },
    };
}

/** A secret the validated config requires; the loader has resolved every one of them. */
function secret(cfg: StackConfig, name: SecretName): pulumi.Output<string> {
    const value = cfg.secrets[name];
    if (value === undefined) {
        throw new Error(`${PROJECT}:${name} is needed but was not loaded; set it with: pulumi config set --secret ${PROJECT}:${name}`);
    }
    return value;
}

/** The pull-through caches of `registry.mirrors`, as every placement and node takes them. */
function mirrorSpecs(cfg: StackConfig): MirrorSpec[] {
    return cfg.registry.mirrors.map((m) => ({
        upstream: m.upstream,
        pathName: mirrorPathName(m.upstream),
        remoteUrl: m.remoteUrl ?? defaultRemoteUrl(m.upstream),
        ttl: mirrorAge(m.maxAge, cfg.registry.image),
        proxyTtl: isDistribution3Image(cfg.registry.image),
        maxSize: m.maxSize,
        hasCredentials: m.credentials,
    }));
}

/** A cache's upstream account, from the secret `mirrorCredentials` (secret, checked when it resolves). */
function mirrorAccount(cfg: StackConfig, spec: MirrorSpec): pulumi.Output<UpstreamAccount> {
    return pulumi.secret(secret(cfg, "mirrorCredentials").apply((json) => parseMirrorCredentials(json, [spec.upstream])[spec.upstream]!));
}

/** The push account and, when something pulls with credentials, the pull-only account (own registries only). */
function defineAccounts(cfg: StackConfig, d: Decisions): RegistryAccounts | undefined {
    if (!d.ownRegistry) return undefined;
    const cr = cfg.containerRegistry;
    return new RegistryAccounts("registry-accounts", {
        push: {
            username: cr.pushUsername,
            password: cr.pushCredentials === "operator" ? secret(cfg, "containerRegistryPassword") : undefined,
        },
        pull: d.pullCredentials?.account === "generated" ? { username: cr.pullUsername } : undefined,
        rotation: cr.rotation,
    });
}

/** The account whatever pulls with credentials is given; the user name is a secret for an existing registry's account. */
interface PullAccount {
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Output<string>;
}

/**
 * The pull account of `d.pullCredentials`: the generated pull-only account of a registry of our own,
 * or the organisation's account of an existing registry (its secrets).
 */
function pullAccountOf(cfg: StackConfig, d: Decisions, accounts: RegistryAccounts | undefined): PullAccount | undefined {
    const pc = d.pullCredentials;
    if (!pc) return undefined;
    if (pc.account === "organisation") {
        return { username: secret(cfg, "existingPullUsername"), password: secret(cfg, "existingPullPassword") };
    }
    if (!accounts?.pull) throw new Error(`the pull-only account was decided on but not created; the program is at fault`);
    return accounts.pull;
}

/** A placement of the registry, with the certificate material it serves when the program made it. */
interface Placement<T> {
    readonly component: T;
    /** The CA and server certificate the program placed (generated, or the operator's); absent with ACME or cert-manager. */
    readonly tlsMaterial?: RegistryTls;
}

/** The CA and server certificate the program places itself (generated, or the operator's). */
function defineTlsMaterial(cfg: StackConfig, tls: OwnTls): RegistryTls {
    return new RegistryTls("registry-tls", {
        source: tls.mode === "generated-ca" ? "generated" : "provided",
        dnsNames: [cfg.containerRegistry.host],
        caValidityDays: tls.caValidityDays,
        serverCertValidityDays: tls.serverCertValidityDays,
        provided:
            tls.mode === "provided"
                ? { certificatePem: secret(cfg, "tlsCertificate"), privateKeyPem: secret(cfg, "tlsPrivateKey") }
                : undefined,
    });
}

/** The in-cluster ingress certificate: from a cert-manager issuer, or the program's own material in a Secret. */
function inClusterTls(
    cfg: StackConfig,
    tls: InClusterRegistrySettings["tls"],
): { readonly args: InClusterRegistryArgs["tls"]; readonly material?: RegistryTls } {
    if (tls.mode === "cert-manager") {
        return { args: { kind: "cert-manager", issuerKind: tls.certManagerIssuer.kind, issuerName: tls.certManagerIssuer.name } };
    }
    const material = defineTlsMaterial(cfg, tls);
    return { args: { kind: "secret", certPem: material.serverCertPem, keyPem: material.serverKeyPem }, material };
}

/** The external host's certificate: obtained by Caddy over ACME, or the program's own material placed as files. */
function externalHostTls(
    cfg: StackConfig,
    tls: ExternalHostRegistrySettings["tls"],
): { readonly args: ExternalRegistryHostArgs["tls"]; readonly material?: RegistryTls } {
    if (tls.mode === "acme") return { args: { kind: "acme", email: tls.acmeEmail, directory: tls.acmeDirectory } };
    const material = defineTlsMaterial(cfg, tls);
    return {
        args: {
            kind: "files",
            certificatePem: material.serverCertPem,
            privateKeyPem: material.serverKeyPem,
            caCertPem: material.caCertPem,
        },
        material,
    };
}

function defineInClusterRegistry(cfg: StackConfig, d: Decisions, accounts: RegistryAccounts): Placement<InClusterRegistry> | undefined {
    if (cfg.registry.mode !== "in-cluster") return undefined;
    const tls = inClusterTls(cfg, cfg.registry.tls);
    const { registry: r, containerRegistry: cr, inCluster } = cfg;
    // The config allows S3 settings exactly when registry.storage.kind is "s3".
    const { s3 } = r.storage;
    const component = new InClusterRegistry("registry", {
        host: cr.host,
        requiresAuthForPull: cr.requiresAuthForPull,
        namespace: inCluster.namespace,
        ingressClass: inCluster.ingressClass,
        ingressController: inCluster.ingressController,
        images: { registry: r.image, caddy: r.caddyImage, ui: r.ui.image },
        storage: s3
            ? {
                  kind: "s3",
                  ...s3,
                  credentials: { accessKeyId: secret(cfg, "s3AccessKeyId"), secretAccessKey: secret(cfg, "s3SecretAccessKey") },
              }
            : { kind: "filesystem", size: r.storage.size, storageClass: r.storage.storageClass },
        allowedNetworks: r.allowedNetworks,
        ui: { enabled: r.ui.enabled },
        garbageCollection: r.maintenance.garbageCollection,
        replicas: r.replicas,
        publishLocalRegistryHosting: inCluster.publishLocalRegistryHosting,
        accounts,
        deletes: { api: d.apiDeletes, ui: d.uiDeletes },
        tls: tls.args,
        maven: d.mavenServed ? inClusterMaven(cfg, accounts) : undefined,
        mirrors: mirrorSpecs(cfg).map((spec) => {
            if (!spec.hasCredentials) return { spec };
            const account = mirrorAccount(cfg, spec);
            return { spec, account: { username: account.apply((a) => a.username), password: account.apply((a) => a.password) } };
        }),
        backup: inClusterBackup(cfg),
    });
    return { component, tlsMaterial: tls.material };
}

/** The in-cluster registry's backups from `registry.maintenance.backup` (S3 or a volume, validated by the config rules), or none. */
function inClusterBackup(cfg: StackConfig): InClusterBackup | undefined {
    const b = cfg.registry.maintenance.backup;
    const d = b.destination;
    if (!b.enabled || !d) return undefined;
    const common = { image: b.image, schedule: b.schedule, keep: b.keep, repositoryPassword: secret(cfg, "backupRepositoryPassword") };
    if (d.kind === "volume") return { ...common, destination: { kind: "volume", size: d.size, storageClass: d.storageClass } };
    if (d.kind !== "s3" || !d.bucket) return undefined;
    return {
        ...common,
        destination: { kind: "s3", endpoint: d.endpoint, bucket: d.bucket, prefix: d.prefix, region: d.region },
        s3: { accessKeyId: secret(cfg, "backupS3AccessKeyId"), secretAccessKey: secret(cfg, "backupS3SecretAccessKey") },
    };
}

/**
 * The registry's host name inside pods (`inCluster.clusterDns`): the cluster's CoreDNS answers it with
 * the TLS Service's ClusterIP, so pods reach the same front, with the same certificate, as nodes.
 */
function defineClusterDns(cfg: StackConfig, registry: InClusterRegistry): void {
    const dns = cfg.inCluster.clusterDns;
    if (dns.flavour === "none") return;
    new ClusterDns("cluster-dns", {
        flavour: dns.flavour,
        host: cfg.containerRegistry.host,
        clusterIp: registry.tlsServiceClusterIp,
        kubectlContext: dns.kubectlContext,
    });
}

/** The external host's storage: its data directory, or the S3 bucket with the stack's S3 secrets. */
function externalHostStorage(cfg: StackConfig): ExternalRegistryHostArgs["storage"] {
    const { s3 } = cfg.registry.storage;
    if (!s3) return { kind: "filesystem" };
    return {
        kind: "s3",
        ...s3,
        credentials: { accessKeyId: secret(cfg, "s3AccessKeyId"), secretAccessKey: secret(cfg, "s3SecretAccessKey") },
    };
}

/**
 * The converged case in-cluster: the Maven repository behind the registry's front. The deploy account
 * is the registry's push account when `mavenRegistry.reuseContainerCredentials`, else the Maven
 * account (`mavenRegistry.username`, secret `mavenRegistryPassword`): the one Jenkins holds.
 */
function inClusterMaven(cfg: StackConfig, accounts: RegistryAccounts): InClusterMavenArgs {
    const m = servedMaven(cfg);
    return {
        pathPrefix: m.pathPrefix,
        requiresAuthForPull: m.requiresAuthForPull,
        deployAccount: mavenDeployAccount(cfg, accounts),
        image: m.nginxImage,
        size: m.storageSize,
        storageClass: cfg.registry.storage.storageClass,
        snapshotBuildsToKeep: m.snapshotBuildsToKeep,
    };
}

function servedMaven(cfg: StackConfig): NonNullable<StackConfig["mavenRegistry"]> {
    const m = cfg.mavenRegistry;
    if (!m) throw new Error(`the Maven repository was decided on without mavenRegistry; the program is at fault`);
    return m;
}

/** The only account that may deploy: the one Jenkins holds under `mavenRegistry.credentialId`. */
function mavenDeployAccount(cfg: StackConfig, accounts: RegistryAccounts) {
    const m = servedMaven(cfg);
    return m.reuseContainerCredentials
        ? accounts.push
        : {
              username: m.username,
              bcryptHash: pulumi.secret(secret(cfg, "mavenRegistryPassword").apply((p) => deterministicBcrypt(m.username, p))),
          };
}

/** The converged case on the external host: nginx in a container behind the host's Caddy site. */
function externalHostMaven(cfg: StackConfig, accounts: RegistryAccounts): HostMavenArgs {
    const m = servedMaven(cfg);
    return {
        pathPrefix: m.pathPrefix,
        requiresAuthForPull: m.requiresAuthForPull,
        deployAccount: mavenDeployAccount(cfg, accounts),
        image: m.nginxImage,
        snapshotBuildsToKeep: m.snapshotBuildsToKeep,
    };
}

function defineExternalHost(cfg: StackConfig, d: Decisions, accounts: RegistryAccounts): Placement<ExternalRegistryHost> | undefined {
    if (cfg.registry.mode !== "external-host") return undefined;
    const eh = cfg.registry.externalHost;
    const cr = cfg.containerRegistry;
    const tls = externalHostTls(cfg, cfg.registry.tls);
    const component = new ExternalRegistryHost("registry-host", {
        connection: {
            kind: "ssh",
            name: eh.ssh.host,
            host: eh.ssh.host,
            port: eh.ssh.port,
            user: eh.ssh.user,
            privateKey: secret(cfg, "sshPrivateKey"),
            hostKey: eh.ssh.hostKey,
            sudo: needsSudo(eh.ssh.user, eh.ssh.sudo),
        },
        registryHost: cr.host,
        port: cr.port,
        pathPrefix: cr.pathPrefix,
        image: cfg.registry.image,
        dataDir: eh.dataDir,
        mavenDataDir: eh.mavenDataDir,
        storage: externalHostStorage(cfg),
        purgeDataOnDestroy: eh.purgeDataOnDestroy,
        installPackages: eh.installPackages,
        tls: tls.args,
        pushAccounts: [accounts.push],
        pullAccounts: accounts.pull ? [accounts.pull] : [],
        requiresAuthForPull: cr.requiresAuthForPull,
        allowedNetworks: cfg.registry.allowedNetworks,
        deletesEnabled: d.apiDeletes,
        ui: cfg.registry.ui.enabled ? { image: cfg.registry.ui.image, deleteEnabled: d.uiDeletes } : undefined,
        garbageCollection: cfg.registry.maintenance.garbageCollection,
        backup: hostBackup(cfg),
        mirrors: mirrorSpecs(cfg).map((spec) =>
            spec.hasCredentials ? { spec, envFile: mirrorAccount(cfg, spec).apply(renderMirrorEnvFile) } : { spec },
        ),
        maven: d.mavenServed ? externalHostMaven(cfg, accounts) : undefined,
    });
    return { component, tlsMaterial: tls.material };
}

/** The external host's backups from `registry.maintenance.backup` (validated by the config rules), or none. */
function hostBackup(cfg: StackConfig): HostBackupArgs | undefined {
    const b = cfg.registry.maintenance.backup;
    const d = b.destination;
    if (!b.enabled || !d) return undefined;
    const common = { schedule: b.schedule, keep: b.keep, repositoryPassword: secret(cfg, "backupRepositoryPassword") };
    if (d.kind === "sftp" && d.host && d.path && d.hostKey) {
        return {
            ...common,
            destination: { kind: "sftp", host: d.host, port: d.port, user: d.user, path: d.path, hostKey: d.hostKey },
            credentials: { kind: "sftp", privateKey: secret(cfg, "backupSshPrivateKey") },
        };
    }
    if (d.kind === "s3" && d.bucket) {
        return {
            ...common,
            destination: { kind: "s3", endpoint: d.endpoint, bucket: d.bucket, prefix: d.prefix, region: d.region },
            credentials: {
                kind: "s3",
                accessKeyId: secret(cfg, "backupS3AccessKeyId"),
                secretAccessKey: secret(cfg, "backupS3SecretAccessKey"),
            },
        };
    }
    throw new Error(`registry.maintenance.backup.destination of kind "${d.kind}" does not apply to the external host`);
}

/**
 * Node trust for the stack's `nodes` config: one NodeTrust per listed node (delivery "ssh"), one
 * DaemonSet in a namespace of its own (delivery "daemonset"), or nothing. Over SSH, nodes work in
 * parallel except where k3s / RKE2 restart: those commands take turns (`planRollingRestarts`).
 */
function defineNodeTrust(
    cfg: StackConfig,
    d: Decisions,
    inputs: { readonly caCertPem?: pulumi.Input<string>; readonly pullAccount?: PullAccount },
): void {
    const nodes = cfg.nodes;
    if (nodes.delivery === "none") return;
    const cr = cfg.containerRegistry;
    const common = (flavour: RuntimeFlavour): NodeTrustCommonArgs => ({
        host: cr.host,
        port: cr.port,
        flavour,
        caCertPem: nodes.insecurePlainHttp ? undefined : inputs.caCertPem,
        registryAddress: nodes.registryAddress,
        pullAccount: d.pullCredentials?.onNodes(flavour) ? inputs.pullAccount : undefined,
        plainHttp: nodes.insecurePlainHttp,
        allowContainerdRestart: nodes.allowContainerdRestart,
        allowServiceRestart: nodes.allowServiceRestart,
        restartTimeoutSeconds: nodes.restartTimeoutSeconds,
        mirrors: mirrorSpecs(cfg).map(({ upstream, pathName }) => ({ upstream, pathName })),
    });
    if (nodes.delivery === "daemonset") {
        // Its pods are privileged: they get a namespace of their own, so the registry's namespace can
        // enforce the restricted standard.
        const namespace = new k8s.core.v1.Namespace("node-trust-namespace", {
            metadata: {
                name: nodes.namespace,
                labels: {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/audit": "privileged",
                    "pod-security.kubernetes.io/warn": "privileged",
                    ...PART_OF_LABELS,
                },
            },
        });
        new NodeTrustDaemonSet("node-trust", { ...common(nodes.runtime), namespace: nodes.namespace }, { dependsOn: [namespace] });
        return;
    }
    const runtimeOf = (node: (typeof nodes.list)[number]) => node.runtime ?? nodes.runtime;
    const restarting = nodes.list.filter((node) => ["k3s", "rke2"].includes(runtimeOf(node)));
    const turns = new Map(planRollingRestarts(restarting, nodes.restartBatchSize).map((t) => [t.name, t]));
    const restartSteps = new Map<string, pulumi.Resource>();
    // In turn order (each node after the nodes it waits for, whose steps must exist first), then the rest.
    const turnIndex = (name: string) => [...turns.keys()].indexOf(name);
    const ordered = [...restarting].sort((a, b) => turnIndex(a.name) - turnIndex(b.name));
    for (const node of [...ordered, ...nodes.list.filter((n) => !turns.has(n.name))]) {
        const sudo = needsSudo(node.user, node.sudo);
        const connection: HostConnection = node.local
            ? { kind: "local", name: node.name, sudo }
            : {
                  kind: "ssh",
                  name: node.name,
                  host: node.host,
                  port: node.port,
                  user: node.user,
                  privateKey: secret(cfg, "sshPrivateKey"),
                  hostKey: node.hostKey,
                  sudo,
              };
        const turn = turns.get(node.name);
        const trust = new NodeTrust(`node-trust-${node.name}`, {
            ...common(runtimeOf(node)),
            connection,
            kubernetesNodeName: node.kubernetesNodeName,
            restartTurn: turn && {
                turn: turn.turn,
                after: turn.after.flatMap((name) => {
                    const step = restartSteps.get(name);
                    return step ? [step] : [];
                }),
            },
        });
        if (trust.restartStep) restartSteps.set(node.name, trust.restartStep);
    }
}

/**
 * The stack's Jenkins credentials, when `jenkins.enabled`. The push account is the registry's own;
 * for an existing registry it is the operator's (`containerRegistryPassword`).
 */
function defineJenkinsCredentials(cfg: StackConfig, d: Decisions, push: RegistryAccount | undefined): void {
    const j = cfg.jenkins;
    if (!j.enabled) return;
    const cr = cfg.containerRegistry;
    const pushAccount = push ?? { username: cr.pushUsername, password: secret(cfg, "containerRegistryPassword") };
    const m = cfg.mavenRegistry;
    const credentials = planJenkinsCredentials({
        container: {
            credentialId: cr.credentialId,
            authority: d.authority,
            username: pushAccount.username,
            password: pushAccount.password,
        },
        maven: m && {
            credentialId: m.credentialId,
            location: `${registryAuthority(m.host, m.port)}/${m.pathPrefix}`,
            reuseContainerCredentials: m.reuseContainerCredentials,
            username: m.username,
            password: m.reuseContainerCredentials ? undefined : secret(cfg, "mavenRegistryPassword"),
        },
        registryHost: j.registryHostCredentialId ? { credentialId: j.registryHostCredentialId, value: d.authority } : undefined,
    });
    new JenkinsCredentials("jenkins-credentials", {
        url: j.url,
        user: j.user,
        auth: j.auth,
        secret: secret(cfg, j.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword"),
        caCertificate: j.caCertificate,
        timeoutSeconds: j.timeoutSeconds,
        usernameSecret: j.usernameSecret,
        credentials,
    });
}

/** The pipeline-config ConfigMap, created with the Jenkins credentials (`jenkins.enabled`). */
function definePipelineConfig(cfg: StackConfig): void {
    if (!cfg.jenkins.enabled) return;
    new PipelineConfig("pipeline-config", {
        namespace: cfg.jenkins.pipelineConfigNamespace,
        name: cfg.jenkins.pipelineConfigName,
        settings: {
            container: cfg.containerRegistry,
            maven: cfg.mavenRegistry,
            registryHostCredentialId: cfg.jenkins.registryHostCredentialId,
        },
    });
}

/**
 * The stack's pull secrets (`d.pullCredentials`): one per listed namespace, which that namespace's
 * default ServiceAccount uses, and Flux's. They hold the pull account: the generated pull-only account,
 * or an existing registry's.
 */
function definePullSecrets(d: Decisions, pull: PullAccount | undefined): void {
    const pc = d.pullCredentials;
    if (!pc || (pc.namespaces.length === 0 && !pc.flux)) return;
    if (!pull) throw new Error(`pull secrets were decided on without a pull account; the program is at fault`);
    new PullSecrets("pull-secrets", {
        authority: d.authority,
        username: pull.username,
        password: pull.password,
        namespaces: pc.namespaces,
        secretName: pc.secretName,
        flux: pc.flux,
    });
}

/**
 * ConfigMap `dso-registry-ca` with the CA the nodes trust, in Jenkins's namespace and every pull-secret
 * namespace, so agents and pods can trust the registry too: written by the program, or by trust-manager
 * from a Bundle (`caConfigMap.delivery`), under the same name and key. None when no CA is known (a
 * publicly trusted certificate, cert-manager, or a provided certificate: see docs/in-cluster.md).
 */
function defineCaConfigMaps(cfg: StackConfig, caCertPem: pulumi.Output<string> | undefined): void {
    if (!caCertPem) return;
    const namespaces = caNamespaces({
        jenkinsNamespace: cfg.jenkins.enabled ? cfg.jenkins.pipelineConfigNamespace : undefined,
        pullSecretNamespaces: cfg.pullSecrets.namespaces,
    });
    if (namespaces.length === 0) return;
    if (cfg.caConfigMap.delivery === "trust-manager") {
        new RegistryCaBundle("registry-ca", { namespaces, caCertPem, trustNamespace: cfg.caConfigMap.trustNamespace });
        return;
    }
    new RegistryCaConfigMaps("registry-ca", { namespaces, caCertPem });
}

/**
 * The agent pod templates (docs/ci-agents.md) in Jenkins's namespace, with the stack's registry name,
 * push credential and, when the stack knows a CA, its `dso-registry-ca` ConfigMap (created there by
 * `defineCaConfigMaps`).
 */
function defineAgentPodTemplates(cfg: StackConfig, d: Decisions, caKnown: boolean): void {
    const j = cfg.jenkins;
    if (!j.enabled) return;
    new AgentPodTemplates("agent-pods", {
        namespace: j.pipelineConfigNamespace,
        authority: d.authority,
        imagePrefix: d.imagePrefix,
        credentialId: cfg.containerRegistry.credentialId,
        ca: caKnown ? { configMap: CA_CONFIG_MAP.name, key: CA_CONFIG_MAP.key } : undefined,
        images: j.agentImages,
    });
}
