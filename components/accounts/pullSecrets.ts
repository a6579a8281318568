/**
 * Pull secrets for the pull-only account: `kubernetes.io/dockerconfigjson` Secrets in the namespaces the
 * stack names (for `imagePullSecrets` when pulls need credentials), and Flux's `registry-credentials`
 * in `flux-system` (so the image reflector can list tags).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MANAGED_LABELS } from "../shared/facts";

export const FLUX_NAMESPACE = "flux-system";
export const FLUX_SECRET_NAME = "registry-credentials";

/** The `.dockerconfigjson` document for one registry, keys sorted so the text is stable. */
export function renderDockerConfigJson(authority: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`, "utf8").toString("base64");
    return JSON.stringify({ auths: { [authority]: { auth, password, username } } });
}

/** Where the Secrets go: one per namespace, plus Flux's. Throws on a namespace listed twice. */
export function pullSecretTargets(namespaces: readonly string[], secretName: string, flux: boolean): { namespace: string; name: string }[] {
    const targets = namespaces.map((namespace) => ({ namespace, name: secretName }));
    if (flux) targets.push({ namespace: FLUX_NAMESPACE, name: FLUX_SECRET_NAME });
    const keys = targets.map((t) => `${t.namespace}/${t.name}`);
    const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
    if (duplicate) {
        throw new Error(`two pull secrets would be written to ${duplicate}: list each namespace once in pullSecrets.namespaces`);
    }
    return targets;
}

export interface PullSecretsArgs {
    /** `host` or `host:port` of the registry, as in image references. */
    readonly authority: string;
    /** The pull-only account. */
    readonly username: string;
    /** Its password (secret). */
    readonly password: pulumi.Input<string>;
    /** Namespaces that get a Secret named `secretName`; they must exist. */
    readonly namespaces: readonly string[];
    readonly secretName: string;
    /** Also create `registry-credentials` in flux-system. */
    readonly flux: boolean;
}

export class PullSecrets extends pulumi.ComponentResource {
    constructor(name: string, args: PullSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:registry:PullSecrets", name, {}, opts);
        const dockerConfig = pulumi.secret(
            pulumi.output(args.password).apply((password) => renderDockerConfigJson(args.authority, args.username, password)),
        );
        for (const target of pullSecretTargets(args.namespaces, args.secretName, args.flux)) {
            new k8s.core.v1.Secret(
                `${name}-${target.namespace}`,
                {
                    metadata: {
                        name: target.name,
                        namespace: target.namespace,
                        labels: MANAGED_LABELS,
                    },
                    type: "kubernetes.io/dockerconfigjson",
                    stringData: { ".dockerconfigjson": dockerConfig },
                },
                { parent: this },
            );
        }
        this.registerOutputs({});
    }
}
