/**
 * The pipeline-config ConfigMap: the non-secret registry settings pipelines read (`CONTAINER_REGISTRY_*`,
 * `MAVEN_REGISTRY_*`), in the namespace Jenkins's agents run in. The secrets stay in Jenkins; this map
 * only names the credential IDs that hold them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imagePrefix, MANAGED_LABELS, registryAuthority } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { typeToken } from "../shared/typeToken";

/** One registry as pipelines address it. */
export interface PipelineRegistry {
    readonly host: string;
    readonly port: number;
    readonly pathPrefix: string;
    readonly credentialId: string;
    readonly requiresAuthForPush: boolean;
    readonly requiresAuthForPull: boolean;
}

export interface PipelineConfigSpec {
    readonly container: PipelineRegistry;
    readonly maven?: PipelineRegistry;
    /** ID of the secret-text credential holding the registry host, when the stack creates one. */
    readonly registryHostCredentialId?: string;
}

/** The ConfigMap's data, keys sorted so previews show no false diffs. */
export function renderPipelineConfig(s: PipelineConfigSpec): Record<string, string> {
    const c = s.container;
    const containerAuthority = registryAuthority(c.host, c.port);
    const data: Record<string, string> = {
        CONTAINER_REGISTRY_HOST: containerAuthority,
        CONTAINER_REGISTRY_PATH_PREFIX: c.pathPrefix,
        CONTAINER_REGISTRY_IMAGE_PREFIX: imagePrefix(containerAuthority, c.pathPrefix),
        CONTAINER_REGISTRY_CREDENTIAL_ID: c.credentialId,
        CONTAINER_REGISTRY_REQUIRES_AUTH_FOR_PUSH: String(c.requiresAuthForPush),
        CONTAINER_REGISTRY_REQUIRES_AUTH_FOR_PULL: String(c.requiresAuthForPull),
    };
    if (s.registryHostCredentialId) data.CONTAINER_REGISTRY_HOST_CREDENTIAL_ID = s.registryHostCredentialId;
    const m = s.maven;
    if (m) {
        const mavenAuthority = registryAuthority(m.host, m.port);
        data.MAVEN_REGISTRY_HOST = mavenAuthority;
        data.MAVEN_REGISTRY_PATH_PREFIX = m.pathPrefix;
        data.MAVEN_REGISTRY_URL = `https://${mavenAuthority}/${m.pathPrefix}`;
        data.MAVEN_REGISTRY_CREDENTIAL_ID = m.credentialId;
        data.MAVEN_REGISTRY_REQUIRES_AUTH_FOR_PUSH = String(m.requiresAuthForPush);
        data.MAVEN_REGISTRY_REQUIRES_AUTH_FOR_PULL = String(m.requiresAuthForPull);
    }
    return Object.fromEntries(
        Object.keys(data)
            .sort()
            .map((k) => [k, data[k]!]),
    );
}

export interface PipelineConfigArgs {
    /** Namespace the ConfigMap goes to (Jenkins's); it must exist. */
    readonly namespace: string;
    /** ConfigMap name. */
    readonly name: string;
    readonly settings: PipelineConfigSpec;
}

const PIPELINE_CONFIG_TYPE = typeToken("jenkins", "PipelineConfig");

/** The ConfigMap pipelines read their registry settings from. */
export class PipelineConfig extends pulumi.ComponentResource {
    constructor(name: string, args: PipelineConfigArgs, opts?: pulumi.ComponentResourceOptions) {
        super(PIPELINE_CONFIG_TYPE, name, {}, withFormerType(opts, "dso:jenkins:PipelineConfig"));
        new k8s.core.v1.ConfigMap(
            `${name}-configmap`,
            {
                metadata: {
                    name: args.name,
                    namespace: args.namespace,
                    labels: MANAGED_LABELS,
                },
                data: renderPipelineConfig(args.settings),
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
