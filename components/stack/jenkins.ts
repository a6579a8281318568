/** What Jenkins and its agents are given (`jenkins.enabled`): credentials, the pipeline-config ConfigMap, agent pod templates. */
import type { RegistryAccount, ScopedRegistryAccount } from "../accounts/registryAccounts";
import type { StackConfig } from "../config";
import type { Decisions } from "../config/decisions";
import { pushAccountCredentialId } from "../config/derived";
import { CA_CONFIG_MAP } from "../inCluster/caConfigMaps";
import { AgentPodTemplates } from "../jenkins/agentPods";
import { JenkinsCredentials, planJenkinsCredentials } from "../jenkins/jenkinsCredentials";
import { PipelineConfig } from "../jenkins/pipelineConfig";
import { registryAuthority } from "../shared/facts";
import { secret } from "./secret";

/**
 * The stack's Jenkins credentials, when `jenkins.enabled`. The push account is the registry's own;
 * for an existing registry it is the operator's (`containerRegistryPassword`).
 */
export function defineJenkinsCredentials(
    cfg: StackConfig,
    d: Decisions,
    push: RegistryAccount | undefined,
    scopedPush: readonly ScopedRegistryAccount[] = [],
): void {
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
        scopedPush: scopedPush.map((account) => {
            const entry = cr.pushAccounts.find((a) => a.name === account.username);
            if (!entry)
                throw new Error(`push account "${account.username}" is not in containerRegistry.pushAccounts; the program is at fault`);
            return { ...account, credentialId: pushAccountCredentialId(cr.credentialId, entry) };
        }),
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
export function definePipelineConfig(cfg: StackConfig): void {
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
 * The agent pod templates (docs/ci-agents.md) in Jenkins's namespace, with the stack's registry name,
 * push credential and, when the stack knows a CA, its `dso-registry-ca` ConfigMap (created there by
 * `defineCaConfigMaps`).
 */
export function defineAgentPodTemplates(cfg: StackConfig, d: Decisions, caKnown: boolean): void {
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
