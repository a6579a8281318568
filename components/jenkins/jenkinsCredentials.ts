/**
 * Jenkins credentials as Pulumi resources: the push credential for `docker push`, the deploy
 * credential for `mvn deploy`, and an optional secret-text credential with the registry host. They
 * live only in Jenkins's credential store; Pulumi creates them, updates them in place when a password
 * rotates, puts back what was changed or deleted by hand once a refresh has seen it, and deletes them
 * on destroy.
 *
 * A dynamic provider does the work through the Credentials plugin's REST API (jenkinsApi.ts, over jenkinsHttp.ts and credentialXml.ts). The
 * Jenkins token and the credential values reach it as secret inputs, so Pulumi keeps them encrypted
 * in state; the provider's code captures no secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicResourceType } from "../shared/dynamicType";
import { withFormerType } from "../shared/formerType";
import { typeToken } from "../shared/typeToken";
import type { CredentialSpec } from "./credentialXml";
import * as credentialXml from "./credentialXml";
import * as jenkinsApi from "./jenkinsApi";
import type { JenkinsConnection } from "./jenkinsHttp";
import * as jenkinsHttp from "./jenkinsHttp";

/** What the dynamic resource stores: the connection and the credential, secrets marked secret. */
export interface JenkinsCredentialState {
    readonly jenkinsUrl: string;
    readonly jenkinsUser: string;
    readonly jenkinsAuth: "token" | "password";
    /** API token or password of jenkinsUser (secret). */
    readonly jenkinsSecret: string;
    readonly caCertificate?: string;
    readonly timeoutSeconds: number;
    readonly credentialId: string;
    readonly kind: "usernamePassword" | "secretText";
    readonly description: string;
    readonly username?: string;
    /** Whether Jenkins masks the user name in build logs (username/password credentials). */
    readonly usernameSecret?: boolean;
    /** Password of a username/password credential (secret). */
    readonly password?: string;
    /** Value of a secret-text credential (secret). */
    readonly secret?: string;
}

/** Inputs whose values are secret; the engine keeps them (and the same-named outputs) encrypted. */
export const SECRET_FIELDS = ["jenkinsSecret", "password", "secret"] as const;

export function connectionOf(state: JenkinsCredentialState): JenkinsConnection {
    return {
        url: state.jenkinsUrl,
        user: state.jenkinsUser,
        auth: state.jenkinsAuth,
        secret: state.jenkinsSecret,
        caCertificate: state.caCertificate,
        timeoutSeconds: state.timeoutSeconds,
    };
}

export function specOf(state: JenkinsCredentialState): CredentialSpec {
    return state.kind === "usernamePassword"
        ? {
              kind: "usernamePassword",
              id: state.credentialId,
              description: state.description,
              username: state.username ?? "",
              password: state.password ?? "",
              usernameSecret: state.usernameSecret ?? false,
          }
        : { kind: "secretText", id: state.credentialId, description: state.description, secret: state.secret ?? "" };
}

/** Fields whose change replaces the credential (another ID, another Jenkins, another class). */
const REPLACING_FIELDS = ["credentialId", "jenkinsUrl", "kind"] as const;
/** Fields whose change updates the credential in place. */
const UPDATING_FIELDS = [
    "description",
    "username",
    "usernameSecret",
    "password",
    "secret",
    "jenkinsUser",
    "jenkinsAuth",
    "jenkinsSecret",
    "caCertificate",
    "timeoutSeconds",
] as const;

/**
 * The diff between two states before looking at Jenkins: which fields replace and which update.
 * Pure, so the rules are tested alone.
 */
export function diffStates(olds: JenkinsCredentialState, news: JenkinsCredentialState): { replaces: string[]; updates: string[] } {
    const differs = (key: keyof JenkinsCredentialState) => (olds[key] ?? null) !== (news[key] ?? null);
    return { replaces: REPLACING_FIELDS.filter(differs), updates: UPDATING_FIELDS.filter(differs) };
}

/** The property in which the engine keeps a dynamic provider's serialized code (@pulumi/pulumi dynamic). */
export const PROVIDER_CODE_KEY = "__provider";
/**
 * The value a property has in a preview while the program has not computed it yet. Written out, not
 * taken from the SDK (`pulumi.runtime.unknownValue`): the provider's diff is serialized into the state
 * and must capture no module.
 */
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * Whether the provider's code in state differs from the program's. The engine keeps the code in state
 * and runs `delete` (and `read`) with the stored code; it stores new code only when `update` runs, and
 * it runs `update` only when `diff` reports a change. A diff that ignored the code would leave the code
 * of the first `up` in state for good: a fix to `delete` would never reach a destroy.
 */
function codeChanged(olds: object, news: object): boolean {
    const before = (olds as Record<string, unknown>)[PROVIDER_CODE_KEY];
    const after = (news as Record<string, unknown>)[PROVIDER_CODE_KEY];
    return typeof before === "string" && typeof after === "string" && after !== UNKNOWN_VALUE && before !== after;
}

/**
 * The provider's diff, pure (the engine calls it on every preview, where Jenkins may be unreachable):
 * replace on another ID, Jenkins or class; update on any other field, or when the provider's code
 * changed, so that the state gets the new code.
 */
export function diffCredential(olds: JenkinsCredentialState, news: JenkinsCredentialState): pulumi.dynamic.DiffResult {
    const { replaces, updates } = diffStates(olds, news);
    if (replaces.length > 0) {
        // The same ID in the same Jenkins cannot exist twice: delete first when only the class changes.
        const sameSlot = olds.credentialId === news.credentialId && olds.jenkinsUrl === news.jenkinsUrl;
        return { changes: true, replaces, deleteBeforeReplace: sameSlot };
    }
    return { changes: updates.length > 0 || codeChanged(olds, news), replaces: [], stables: [...REPLACING_FIELDS] };
}

/** The credential kind of a Jenkins class; any other class is kept by name, so that it differs from both. */
function kindOfClass(className: string): string {
    if (className === credentialXml.USERNAME_PASSWORD_CLASS) return "usernamePassword";
    if (className === credentialXml.STRING_CLASS) return "secretText";
    return className;
}

/**
 * The state after a look at Jenkins: what Jenkins shows (class, description, user name and whether it
 * is masked) replaces what the state says, so that the next diff shows what changed by hand. Jenkins
 * never shows a stored password or secret text, so those stay as the state has them.
 */
export function withLiveValues(props: JenkinsCredentialState, live: credentialXml.LiveCredential): JenkinsCredentialState {
    const kind = live.className === undefined ? props.kind : kindOfClass(live.className);
    const usernamePassword = live.className === credentialXml.USERNAME_PASSWORD_CLASS;
    return {
        ...props,
        // Another class under this ID: the diff then replaces it (delete, then create).
        kind: kind as JenkinsCredentialState["kind"],
        ...(live.description !== undefined ? { description: live.description } : {}),
        ...(usernamePassword && live.username !== undefined ? { username: live.username } : {}),
        // Absent from config.xml means true to Jenkins.
        ...(usernamePassword ? { usernameSecret: live.usernameSecret ?? true } : {}),
    };
}

/**
 * The provider. `diff` compares the state with the inputs and nothing else: the engine calls it on
 * every preview, and a preview must work where Jenkins cannot be reached. What changed in Jenkins by
 * hand is seen by `read` (`pulumi refresh`, `pulumi preview --refresh`, `pulumi up --refresh`), which
 * writes it into the state, and the next diff puts it back.
 */
export const jenkinsCredentialProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: JenkinsCredentialState, news: JenkinsCredentialState): Promise<pulumi.dynamic.DiffResult> {
        return diffCredential(olds, news);
    },

    async create(inputs: JenkinsCredentialState): Promise<pulumi.dynamic.CreateResult> {
        await jenkinsApi.createCredential(connectionOf(inputs), specOf(inputs));
        return { id: inputs.credentialId, outs: inputs };
    },

    async read(id: string, props: JenkinsCredentialState): Promise<pulumi.dynamic.ReadResult> {
        const live = await jenkinsApi.readCredential(connectionOf(props), id);
        // Gone from Jenkins: the refresh drops it from the state and the next up creates it again.
        if (live === undefined) return {};
        return { id, props: withLiveValues(props, live) };
    },

    async update(_id: string, _olds: JenkinsCredentialState, news: JenkinsCredentialState): Promise<pulumi.dynamic.UpdateResult> {
        await jenkinsApi.updateCredential(connectionOf(news), specOf(news));
        return { outs: news };
    },

    async delete(id: string, props: JenkinsCredentialState): Promise<void> {
        await jenkinsApi.deleteCredential(connectionOf(props), id);
    },
};

type Inputs<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

/** Its module and type as a dynamic resource. */
const MODULE = "jenkins";
const TYPE = "Credential";
/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const JENKINS_CREDENTIAL_TYPE = dynamicResourceType(MODULE, TYPE);

/** One credential in Jenkins's system store. */
export class JenkinsCredential extends pulumi.dynamic.Resource {
    declare readonly credentialId: pulumi.Output<string>;
    declare readonly username: pulumi.Output<string | undefined>;

    constructor(name: string, args: Inputs<JenkinsCredentialState>, opts?: pulumi.CustomResourceOptions) {
        const secretArgs: Record<string, unknown> = { ...args };
        for (const field of SECRET_FIELDS) {
            const value = args[field];
            if (value !== undefined) secretArgs[field] = pulumi.secret(value);
        }
        // One ID can exist only once in a Jenkins store: a replacement must delete before it creates.
        const options = { deleteBeforeReplace: true, ...opts, additionalSecretOutputs: [...SECRET_FIELDS] };
        super(jenkinsCredentialProvider, name, secretArgs, options, MODULE, TYPE);
    }
}

// ---------------------------------------------------------------------------------------------
// Which credentials a stack needs
// ---------------------------------------------------------------------------------------------

/** A credential to create, before it is bound to a Jenkins connection. */
export type PlannedCredential =
    | {
          readonly kind: "usernamePassword";
          readonly id: string;
          readonly description: string;
          readonly username: string;
          readonly password: pulumi.Input<string>;
      }
    | { readonly kind: "secretText"; readonly id: string; readonly description: string; readonly secret: pulumi.Input<string> };

export interface CredentialPlanInput {
    /** The push account for the container registry. */
    readonly container: {
        readonly credentialId: string;
        /** host[:port] of the registry, for the description. */
        readonly authority: string;
        readonly username: string;
        readonly password: pulumi.Input<string>;
    };
    /** The Maven registry, when the stack has one. */
    readonly maven?: {
        readonly credentialId: string;
        /** host[:port]/path of the Maven repository, for the description. */
        readonly location: string;
        readonly reuseContainerCredentials: boolean;
        /** Deploy account; ignored when the container credentials are reused. */
        readonly username: string;
        /** Deploy password; required unless the container credentials are reused. */
        readonly password?: pulumi.Input<string>;
    };
    /**
     * The push accounts scoped to repository prefixes (`containerRegistry.pushAccounts`), each under its
     * own ID, so that each pipeline holds only its own account and one can be revoked alone.
     */
    readonly scopedPush?: readonly {
        readonly credentialId: string;
        readonly username: string;
        readonly password: pulumi.Input<string>;
        readonly prefixes: readonly string[];
    }[];
    /** A secret-text credential holding the registry host. */
    readonly registryHost?: { readonly credentialId: string; readonly value: string };
}

/**
 * The credentials Jenkins gets. The Maven credentials reuse the push account when the config says so
 * (same host): under their own ID with the same values, or, when both IDs are equal, as one credential.
 */
export function planJenkinsCredentials(input: CredentialPlanInput): PlannedCredential[] {
    const c = input.container;
    const m = input.maven;
    const sharedWithMaven = m?.reuseContainerCredentials && m.credentialId === c.credentialId;
    const planned: PlannedCredential[] = [
        {
            kind: "usernamePassword",
            id: c.credentialId,
            description: sharedWithMaven
                ? `Push to ${c.authority} and deploy to ${m.location} (managed by Pulumi, dso-registry)`
                : `Push to ${c.authority} (managed by Pulumi, dso-registry)`,
            username: c.username,
            password: c.password,
        },
    ];
    if (m && !sharedWithMaven) {
        if (!m.reuseContainerCredentials && m.password === undefined) {
            throw new Error(
                `the Maven credential "${m.credentialId}" needs a password: set dso-registry:mavenRegistryPassword, or mavenRegistry.reuseContainerCredentials: true`,
            );
        }
        planned.push({
            kind: "usernamePassword",
            id: m.credentialId,
            description: `Deploy to ${m.location} (managed by Pulumi, dso-registry)`,
            username: m.reuseContainerCredentials ? c.username : m.username,
            password: m.reuseContainerCredentials ? c.password : m.password!,
        });
    }
    for (const account of input.scopedPush ?? []) {
        planned.push({
            kind: "usernamePassword",
            id: account.credentialId,
            description: `Push to ${account.prefixes.map((p) => `${c.authority}/${p}`).join(", ")} only (managed by Pulumi, dso-registry)`,
            username: account.username,
            password: account.password,
        });
    }
    if (input.registryHost) {
        planned.push({
            kind: "secretText",
            id: input.registryHost.credentialId,
            description: `Host of the container registry (managed by Pulumi, dso-registry)`,
            secret: input.registryHost.value,
        });
    }
    const ids = planned.map((p) => p.id);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
        throw new Error(
            `two Jenkins credentials would have the ID "${duplicate}": give containerRegistry.credentialId, mavenRegistry.credentialId, jenkins.registryHostCredentialId and each containerRegistry.pushAccounts entry's credentialId distinct values`,
        );
    }
    return planned;
}

// ---------------------------------------------------------------------------------------------
// The component
// ---------------------------------------------------------------------------------------------

export interface JenkinsCredentialsArgs {
    /** Jenkins base URL. */
    readonly url: string;
    /** Jenkins user the program acts as. */
    readonly user: string;
    /** "token" (API token, no crumb) or "password" (crumb and session cookie). */
    readonly auth: "token" | "password";
    /** The API token or password (secret). */
    readonly secret: pulumi.Input<string>;
    /** PEM CA for Jenkins's TLS when it is not publicly trusted. */
    readonly caCertificate?: pulumi.Input<string>;
    /** Per-request timeout in seconds. */
    readonly timeoutSeconds: number;
    /**
     * Whether Jenkins masks the user names of the username/password credentials in build logs
     * (`jenkins.usernameSecret`). Always written, since Jenkins reads a missing value as true.
     */
    readonly usernameSecret: boolean;
    /** The credentials to manage (planJenkinsCredentials). */
    readonly credentials: readonly PlannedCredential[];
}

const JENKINS_CREDENTIALS_TYPE = typeToken("jenkins", "JenkinsCredentials");

/** The Jenkins credentials of a stack, one dynamic resource each (no provider: Jenkins is reached over HTTP). */
export class JenkinsCredentials extends pulumi.ComponentResource {
    /** Each credential, by its ID in Jenkins. */
    readonly credentials: Readonly<Record<string, JenkinsCredential>>;

    constructor(name: string, args: JenkinsCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(JENKINS_CREDENTIALS_TYPE, name, {}, withFormerType(opts, "dso:jenkins:JenkinsCredentials"));
        const jenkinsUrl = jenkinsHttp.normalizeBaseUrl(args.url);
        const credentials: Record<string, JenkinsCredential> = {};
        for (const credential of args.credentials) {
            credentials[credential.id] = new JenkinsCredential(
                `${name}-${credential.id}`,
                {
                    jenkinsUrl,
                    jenkinsUser: args.user,
                    jenkinsAuth: args.auth,
                    jenkinsSecret: args.secret,
                    caCertificate: args.caCertificate,
                    timeoutSeconds: args.timeoutSeconds,
                    credentialId: credential.id,
                    kind: credential.kind,
                    description: credential.description,
                    username: credential.kind === "usernamePassword" ? credential.username : undefined,
                    usernameSecret: credential.kind === "usernamePassword" ? args.usernameSecret : undefined,
                    password: credential.kind === "usernamePassword" ? credential.password : undefined,
                    secret: credential.kind === "secretText" ? credential.secret : undefined,
                },
                { parent: this },
            );
        }
        this.credentials = credentials;
        this.registerOutputs({});
    }
}
