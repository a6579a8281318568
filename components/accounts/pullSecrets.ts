/**
 * Pull secrets for the pull account: a `kubernetes.io/dockerconfigjson` Secret in every namespace the
 * stack names, with that namespace's `default` ServiceAccount patched to list it in `imagePullSecrets`
 * (so pods that name no service account pull with it), and Flux's `registry-credentials` in
 * `flux-system` (so the image reflector can list tags).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FLUX_NAMESPACE, MANAGED_LABELS } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { typeToken } from "../shared/typeToken";

export const FLUX_SECRET_NAME = "registry-credentials";
/** The service account pods run as when they name none. */
export const DEFAULT_SERVICE_ACCOUNT = "default";

/** The `.dockerconfigjson` document for one registry, keys sorted so the text is stable. */
export function renderDockerConfigJson(authority: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`, "utf8").toString("base64");
    return JSON.stringify({ auths: { [authority]: { auth, password, username } } });
}

/** One pull secret: where it goes, and whether the namespace's default ServiceAccount uses it. */
export interface PullSecretTarget {
    readonly namespace: string;
    readonly name: string;
    /** The namespace's `default` ServiceAccount lists the Secret in `imagePullSecrets`. */
    readonly defaultServiceAccount: boolean;
}

/** Where the Secrets go: one per namespace, plus Flux's. Throws on a namespace listed twice. */
export function pullSecretTargets(
    namespaces: readonly string[],
    secretName: string,
    flux: boolean,
    defaultServiceAccount = true,
): PullSecretTarget[] {
    const targets = namespaces.map((namespace) => ({ namespace, name: secretName, defaultServiceAccount }));
    if (flux) targets.push({ namespace: FLUX_NAMESPACE, name: FLUX_SECRET_NAME, defaultServiceAccount: false });
    const keys = targets.map((t) => `${t.namespace}/${t.name}`);
    const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
    if (duplicate) {
        throw new Error(`two pull secrets would be written to ${duplicate}: list each namespace once in pullSecrets.namespaces`);
    }
    return targets;
}

export interface PullSecretsArgs {
    /** `host` or `host:port` of the registry, as in image references. */
    readonly authority: pulumi.Input<string>;
    /** The pull account's user name (a secret for an existing registry's account). */
    readonly username: pulumi.Input<string>;
    /** Its password (secret). */
    readonly password: pulumi.Input<string>;
    /** Namespaces that get a Secret named `secretName` and whose default ServiceAccount uses it; they must exist. */
    readonly namespaces: readonly string[];
    readonly secretName: string;
    /** Also create `registry-credentials` in flux-system. */
    readonly flux: boolean;
    /**
     * Patch each namespace's `default` ServiceAccount to use the Secret (default true). False for a
     * Secret that pods or ServiceAccounts name themselves (a read account's).
     */
    readonly defaultServiceAccount?: boolean;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const PULL_SECRETS_TYPE = typeToken("accounts", "PullSecrets");

/**
 * The pull Secrets of `args.namespaces` (and Flux's), each namespace's default ServiceAccount patched to use
 * it. Objects go to the Kubernetes provider of `opts.providers` (or `opts.provider`), else the ambient one.
 */
export class PullSecrets extends pulumi.ComponentResource {
    /** Each Secret, by `namespace/name` (Flux's is `flux-system/registry-credentials`). */
    readonly secrets: Readonly<Record<string, k8s.core.v1.Secret>>;

    constructor(name: string, args: PullSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(PULL_SECRETS_TYPE, name, {}, withFormerType(opts, "dso:registry:PullSecrets"));
        const dockerConfig = pulumi.secret(
            pulumi
                .all([args.authority, args.username, args.password])
                .apply(([authority, username, password]) => renderDockerConfigJson(authority, username, password)),
        );
        const secrets: Record<string, k8s.core.v1.Secret> = {};
        for (const target of pullSecretTargets(args.namespaces, args.secretName, args.flux, args.defaultServiceAccount ?? true)) {
            const secret = new k8s.core.v1.Secret(
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
            secrets[`${target.namespace}/${target.name}`] = secret;
            if (!target.defaultServiceAccount) continue;
            // Server-side apply of this one field: the ServiceAccount stays Kubernetes's, and `pulumi
            // destroy` gives the field back. The kubelet pulls with the Secret for every pod that names
            // no service account of its own.
            new k8s.core.v1.ServiceAccountPatch(
                `${name}-${target.namespace}-default-sa`,
                {
                    metadata: { name: DEFAULT_SERVICE_ACCOUNT, namespace: target.namespace },
                    imagePullSecrets: [{ name: target.name }],
                },
                { parent: this, dependsOn: [secret] },
            );
        }
        this.secrets = secrets;
        this.registerOutputs({});
    }
}
