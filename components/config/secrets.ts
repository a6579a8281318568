/**
 * The secrets the operator supplies: what each one is, the command that sets it without leaving it in
 * the shell history, which ones a configuration needs, and the problems a person is told about them.
 */
import { PROJECT } from "../shared/facts";
import { mavenServedByRegistry, pullCredentialsWanted } from "./derived";
import { isMode, type ModeConfig } from "./modeShapes";
import { type ConfigProblem, fixable, removal } from "./problems";

/** How to give a secret without leaving it in the shell history. */
const fromFileOrPrompt = (key: string, file?: string) =>
    file
        ? `pulumi config set --secret ${PROJECT}:${key} < ${file}`
        : `pulumi config set --secret ${PROJECT}:${key}   (prompts for the value; or pipe it in on stdin)`;

export interface SecretSpec {
    /** What the secret is, for error messages and the README. */
    readonly description: string;
    /** The command that sets it. */
    readonly setCommand: string;
}

/** Every secret key of the `dso-registry` namespace, in the order the README lists them. */
export const secretSpecs = {
    containerRegistryPassword: {
        description: "push password of the container registry (containerRegistry.pushCredentials: operator)",
        setCommand: fromFileOrPrompt("containerRegistryPassword"),
    },
    mavenRegistryPassword: {
        description: "deploy password of the Maven registry (unless mavenRegistry.reuseContainerCredentials)",
        setCommand: fromFileOrPrompt("mavenRegistryPassword"),
    },
    jenkinsApiToken: {
        description: "API token of jenkins.user (jenkins.auth: token)",
        setCommand: fromFileOrPrompt("jenkinsApiToken"),
    },
    jenkinsPassword: {
        description: "password of jenkins.user (jenkins.auth: password)",
        setCommand: fromFileOrPrompt("jenkinsPassword"),
    },
    sshPrivateKey: {
        description: "SSH private key for the registry host and the nodes",
        setCommand: fromFileOrPrompt("sshPrivateKey", "~/.ssh/id_ed25519"),
    },
    tlsCertificate: {
        description: "server certificate chain, PEM (registry.tls.mode: provided)",
        setCommand: fromFileOrPrompt("tlsCertificate", "registry.crt"),
    },
    tlsPrivateKey: {
        description: "server private key, PEM (registry.tls.mode: provided)",
        setCommand: fromFileOrPrompt("tlsPrivateKey", "registry.key"),
    },
    s3AccessKeyId: {
        description: "S3 access key ID (registry.storage.kind: s3)",
        setCommand: fromFileOrPrompt("s3AccessKeyId"),
    },
    s3SecretAccessKey: {
        description: "S3 secret access key (registry.storage.kind: s3)",
        setCommand: fromFileOrPrompt("s3SecretAccessKey"),
    },
    backupRepositoryPassword: {
        description:
            "password of the backup repository (registry.maintenance.backup); without it the backups cannot be read: keep a copy outside the stack",
        setCommand: fromFileOrPrompt("backupRepositoryPassword"),
    },
    backupSshPrivateKey: {
        description:
            "SSH private key the registry host logs in to the backup machine with (registry.maintenance.backup.destination.kind: sftp)",
        setCommand: fromFileOrPrompt("backupSshPrivateKey", "backup_ed25519"),
    },
    backupS3AccessKeyId: {
        description: "S3 access key ID for the backup bucket (registry.maintenance.backup.destination.kind: s3)",
        setCommand: fromFileOrPrompt("backupS3AccessKeyId"),
    },
    backupS3SecretAccessKey: {
        description: "S3 secret access key for the backup bucket (registry.maintenance.backup.destination.kind: s3)",
        setCommand: fromFileOrPrompt("backupS3SecretAccessKey"),
    },
    existingPullUsername: {
        description:
            "user name of the organisation's pull account for an existing registry (registry.mode: existing, when reads need credentials or pullSecrets is set)",
        setCommand: fromFileOrPrompt("existingPullUsername"),
    },
    existingPullPassword: {
        description: "password of the organisation's pull account for an existing registry (with existingPullUsername)",
        setCommand: fromFileOrPrompt("existingPullPassword"),
    },
    accountPasswords: {
        description:
            'passwords of the named accounts whose password is the operator\'s (containerRegistry.pushAccounts or readAccounts with password: operator), a JSON object keyed by account name such as {"team-a-ci": "…"}',
        setCommand: fromFileOrPrompt("accountPasswords", "account-passwords.json"),
    },
    mirrorCredentials: {
        description:
            'upstream accounts of the pull-through caches, a JSON object keyed by upstream such as {"docker.io": {"username": "…", "password": "…"}} (registry.mirrors with credentials: true)',
        setCommand: fromFileOrPrompt("mirrorCredentials", "mirror-credentials.json"),
    },
} as const satisfies Record<string, SecretSpec>;

export type SecretName = keyof typeof secretSpecs;
/** The secret keys' names. */
export const secretNames = Object.keys(secretSpecs) as SecretName[];

/** What the loader found for a secret key. */
export type SecretState = "secret" | "plaintext" | "missing";

/** The secrets a valid configuration needs. */
export function requiredSecretsFor(c: ModeConfig): SecretName[] {
    const required: SecretName[] = [];
    // An existing registry's push account is the organisation's: Jenkins gets the password the operator supplies.
    const pushPasswordSupplied =
        c.containerRegistry.pushCredentials === "operator" || (c.registry.mode === "existing" && c.jenkins.enabled);
    if (pushPasswordSupplied) required.push("containerRegistryPassword");
    // Jenkins's Maven credential holds the deploy password, and the repository this program serves checks it.
    if ((c.jenkins.enabled || mavenServedByRegistry(c)) && c.mavenRegistry && !c.mavenRegistry.reuseContainerCredentials) {
        required.push("mavenRegistryPassword");
    }
    if (c.jenkins.enabled) required.push(c.jenkins.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword");
    const sshNeeded =
        c.registry.mode === "external-host" ||
        (isMode(c, "kind") && c.kind.ssh !== undefined) ||
        (c.nodes.delivery === "ssh" && c.nodes.list.some((n) => !n.local));
    if (sshNeeded) required.push("sshPrivateKey");
    const r = c.registry;
    if ("tls" in r && r.tls.mode === "provided") required.push("tlsCertificate", "tlsPrivateKey");
    if ("storage" in r && r.storage.kind === "s3") required.push("s3AccessKeyId", "s3SecretAccessKey");
    const backup = r.maintenance.backup;
    if (backup.enabled && backup.destination) {
        required.push("backupRepositoryPassword");
        if (backup.destination.kind === "sftp") required.push("backupSshPrivateKey");
        if (backup.destination.kind === "s3") required.push("backupS3AccessKeyId", "backupS3SecretAccessKey");
    }
    // An existing registry's pull account is the organisation's: whatever pulls with credentials gets it from these.
    if (c.registry.mode === "existing" && pullCredentialsWanted(c)) required.push("existingPullUsername", "existingPullPassword");
    if (c.registry.mirrors.some((m) => m.credentials)) required.push("mirrorCredentials");
    const cr = c.containerRegistry;
    if (c.registry.mode !== "existing" && [...cr.pushAccounts, ...cr.readAccounts].some((a) => a.password === "operator")) {
        required.push("accountPasswords");
    }
    return required;
}

/** Secret keys found stored in plaintext, each with the commands that put it right. */
export function plaintextSecretProblems(states: Readonly<Record<SecretName, SecretState>>): ConfigProblem[] {
    return secretNames
        .filter((name) => states[name] === "plaintext")
        .map((name) =>
            fixable(
                [name],
                removal([name]),
                (command) =>
                    `is stored in plaintext in the stack file. Remove it (${command}) and set it encrypted: ${secretSpecs[name].setCommand}`,
            ),
        );
}

/** A required secret that is not set. */
export function missingSecretProblem(name: SecretName): ConfigProblem {
    return {
        key: `${PROJECT}:${name}`,
        message: `is not set; it is the ${secretSpecs[name].description}. Set it with: ${secretSpecs[name].setCommand}`,
    };
}
