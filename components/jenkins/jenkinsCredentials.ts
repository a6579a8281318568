/**
 * Jenkins credentials as Pulumi resources: the push credential for `docker push`, the deploy
 * credential for `mvn deploy`, and an optional secret-text credential with the registry host. They
 * live only in Jenkins's credential store; Pulumi creates them, updates them in place when a password
 * rotates, recreates one deleted by hand, and deletes them on destroy.
 *
 * A dynamic provider does the work through the Credentials plugin's REST API (jenkinsApi.ts). The
 * Jenkins token and the credential values reach it as secret inputs, so Pulumi keeps them encrypted
 * in state; the provider's code captures no secret.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CredentialSpec, JenkinsConnection } from "./jenkinsApi";
import * as jenkinsApi from "./jenkinsApi";

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
          }
        : { kind: "secretText", id: state.credentialId, description: state.description, secret: state.secret ?? "" };
}

/** Fields whose change replaces the credential (another ID, another Jenkins, another class). */
const REPLACING_FIELDS = ["credentialId", "jenkinsUrl", "kind"] as const;
/** Fields whose change updates the credential in place. */
const UPDATING_FIELDS = [
    "description",
    "username",
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

/**
 * The provider. It compares with what Jenkins holds on every preview and update, so a credential that
 * was deleted or whose user name was changed by hand is put back by the next `pulumi up`. Jenkins
 * never shows a stored password, so a password changed by hand in Jenkins cannot be detected.
 */
export const jenkinsCredentialProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: JenkinsCredentialState, news: JenkinsCredentialState): Promise<pulumi.dynamic.DiffResult> {
        const { replaces, updates } = diffStates(olds, news);
        if (replaces.length > 0) {
            // The same ID in the same Jenkins cannot exist twice: delete first when only the class changes.
            const sameSlot = olds.credentialId === news.credentialId && olds.jenkinsUrl === news.jenkinsUrl;
            return { changes: true, replaces, deleteBeforeReplace: sameSlot };
        }
        const live = await jenkinsApi.readCredential(connectionOf(news), news.credentialId);
        const expectedClass = news.kind === "usernamePassword" ? jenkinsApi.USERNAME_PASSWORD_CLASS : jenkinsApi.STRING_CLASS;
        const drifted =
            live === undefined ||
            (live.className !== undefined && live.className !== expectedClass) ||
            (news.kind === "usernamePassword" && live.username !== undefined && live.username !== news.username);
        return { changes: updates.length > 0 || drifted, replaces: [], stables: [...REPLACING_FIELDS] };
    },

    async create(inputs: JenkinsCredentialState): Promise<pulumi.dynamic.CreateResult> {
        await jenkinsApi.createCredential(connectionOf(inputs), specOf(inputs));
        return { id: inputs.credentialId, outs: inputs };
    },

    async read(id: string, props: JenkinsCredentialState): Promise<pulumi.dynamic.ReadResult> {
        const live = await jenkinsApi.readCredential(connectionOf(props), id);
        if (live === undefined) return {};
        return {
            id,
            props: { ...props, ...(props.kind === "usernamePassword" && live.username !== undefined ? { username: live.username } : {}) },
        };
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
        super(jenkinsCredentialProvider, name, secretArgs, options, "jenkins", "Credential");
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
            `two Jenkins credentials would have the ID "${duplicate}": give containerRegistry.credentialId, mavenRegistry.credentialId and jenkins.registryHostCredentialId distinct values`,
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
    readonly caCertificate?: string;
    /** Per-request timeout in seconds. */
    readonly timeoutSeconds: number;
    /** The credentials to manage (planJenkinsCredentials). */
    readonly credentials: readonly PlannedCredential[];
}

/** The Jenkins credentials of a stack, one dynamic resource each. */
export class JenkinsCredentials extends pulumi.ComponentResource {
    constructor(name: string, args: JenkinsCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:jenkins:JenkinsCredentials", name, {}, opts);
        const jenkinsUrl = jenkinsApi.normalizeBaseUrl(args.url);
        for (const credential of args.credentials) {
            new JenkinsCredential(
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
                    password: credential.kind === "usernamePassword" ? credential.password : undefined,
                    secret: credential.kind === "secretText" ? credential.secret : undefined,
                },
                { parent: this },
            );
        }
        this.registerOutputs({});
    }
}
