/**
 * Stack configuration: one zod schema for every key of the `dso-registry` namespace, the secret keys
 * the operator supplies, and the loader that reads them once from Pulumi config.
 *
 * Everything here except `loadStackConfig` is pure, so every rule can be tested without Pulumi.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { z } from "zod";
import { ACCOUNT_NAME, IPV4, PROJECT, RUNTIME_FLAVOURS } from "../shared/facts";

export { PROJECT };

// ---------------------------------------------------------------------------------------------
// Value rules shared by several keys
// ---------------------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Distribution's rule for one component of a repository name (distribution/reference). */
const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;

/** Why a host name is not acceptable, or undefined when it is. Exported for table-driven tests. */
export function hostNameProblem(value: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        return `"${value}" has a scheme: give the bare host name (for example "registry.example.com"), without "https://"`;
    }
    if (value.includes("/")) {
        return `"${value}" has a path: give only the host name; put repository paths in "pathPrefix"`;
    }
    if (value.includes(":")) {
        return `"${value}" has a port: set the port in the separate "port" key`;
    }
    if (value !== value.toLowerCase()) {
        return `"${value}" has upper-case letters: host names are written in lower case`;
    }
    if (IPV4.test(value)) {
        return undefined;
    }
    if (value.length > 253 || !value.split(".").every((label) => DNS_LABEL.test(label))) {
        return `"${value}" is not a valid DNS name (labels of a-z, 0-9 and "-", not starting or ending with "-")`;
    }
    return undefined;
}

/** Why a container repository path prefix would be rejected by Distribution, or undefined. */
export function repositoryPrefixProblem(value: string): string | undefined {
    if (value === "") {
        return undefined;
    }
    if (value.startsWith("/") || value.endsWith("/")) {
        return `"${value}" starts or ends with "/": write it as "team/project", without surrounding slashes`;
    }
    const segments = value.split("/");
    if (segments.some((segment) => segment === "")) {
        return `"${value}" has an empty segment ("//"): every segment between slashes needs a name`;
    }
    const bad = segments.find((segment) => !REPO_COMPONENT.test(segment));
    if (bad !== undefined) {
        return (
            `segment "${bad}" of "${value}" is not a valid repository name component: use lower-case ` +
            `letters and digits, separated by single ".", "_", "__" or runs of "-"`
        );
    }
    if (value.length > 200) {
        return `"${value}" is longer than 200 characters, which leaves no room for image names`;
    }
    return undefined;
}

/** Why a Maven repository path is not acceptable, or undefined. */
export function mavenPathProblem(value: string): string | undefined {
    if (value.startsWith("/") || value.endsWith("/")) {
        return `"${value}" starts or ends with "/": write it as "maven-releases", without surrounding slashes`;
    }
    if (value.split("/").some((segment) => segment === "")) {
        return `"${value}" has an empty segment ("//")`;
    }
    if (!/^[A-Za-z0-9._~/-]+$/.test(value)) {
        return `"${value}" has characters that need escaping in a URL: use letters, digits, ".", "_", "~" and "-"`;
    }
    return undefined;
}

const hostName = z.string().superRefine((value, ctx) => {
    const problem = hostNameProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const port = z
    .number({ error: "must be a whole number from 1 to 65535" })
    .int({ error: "must be a whole number from 1 to 65535" })
    .min(1, { error: "must be a whole number from 1 to 65535" })
    .max(65535, { error: "must be a whole number from 1 to 65535" });

const cidr = z.string().superRefine((value, ctx) => {
    const [address, bits, ...rest] = value.split("/");
    const ipv6 = address?.includes(":") ?? false;
    const maxBits = ipv6 ? 128 : 32;
    const validAddress = ipv6 ? /^[0-9a-f:]+$/i.test(address ?? "") : IPV4.test(address ?? "");
    const validBits = bits !== undefined && /^\d+$/.test(bits) && Number(bits) <= maxBits;
    if (!validAddress || !validBits || rest.length > 0) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not a network in CIDR form, such as "10.0.0.0/8"` });
    }
});

/** An OCI image reference: name[:tag][@sha256:digest]. */
const imageRef = z
    .string()
    .regex(/^[a-z0-9][a-z0-9._\/:-]*(@sha256:[a-f0-9]{64})?$/, {
        error: 'must be an image reference such as "registry:2.8.3" or "registry@sha256:<64 hex digits>"',
    })
    .refine((value) => !/^[a-z]+:\/\//.test(value), { error: "an image reference has no scheme" });

/** A five-field cron schedule. */
const cronSchedule = z
    .string()
    .regex(/^(\S+\s+){4}\S+$/, { error: 'must be a five-field cron schedule such as "0 3 * * 0"' });

const quantity = z
    .string()
    .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/, { error: 'must be a Kubernetes quantity such as "20Gi"' });

const k8sName = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
        error: "must be a Kubernetes name: lower-case letters, digits and '-', at most 63 characters",
    });

const credentialId = z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
        error: "must be a Jenkins credential ID: letters, digits, '.', '_' and '-'",
    });

const username = z
    .string()
    .regex(ACCOUNT_NAME, {
        error: "must be 1-64 letters, digits, '.', '_' or '-' (no ':' or spaces: htpasswd cannot hold them)",
    });

// ---------------------------------------------------------------------------------------------
// The schema, one entry per top-level key of the `dso-registry` namespace
// ---------------------------------------------------------------------------------------------

const containerRegistry = z.strictObject({
    host: hostName.describe("Host name clients use for images (no scheme, no port)."),
    port: port.default(443).describe("HTTPS port clients use; 443 unless the registry is published elsewhere."),
    pathPrefix: z.string().superRefine((value, ctx) => {
        const problem = repositoryPrefixProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }).describe("Repository path under the host that images go to, e.g. \"docker-internal/p2c\". May be \"\"."),
    credentialId: credentialId.default("container-registry").describe("Jenkins credential ID that holds the push account."),
    requiresAuthForPush: z.boolean().default(true).describe("Pushes need the push account; always true for a registry of our own."),
    requiresAuthForPull: z.boolean().default(false).describe("Pulls need credentials too (the pull-only account); false keeps pulls anonymous for the kubelet."),
    pushUsername: username.default("ci-push").describe("Push account user name (the account Jenkins pushes with)."),
    pushCredentials: z.enum(["generated", "operator"]).default("generated").describe("Who owns the push password: \"generated\" (@pulumi/random, owned by this program) or \"operator\" (the secret `dso-registry:containerRegistryPassword`)."),
    pullUsername: username.default("cluster-pull").describe("Pull-only account user name. The account exists when pulls need credentials or a pull secret is configured; its password is always generated."),
    rotation: z.string().default("1").describe("Bump to rotate every generated registry password in one `pulumi up`."),
});

const mavenRegistry = z.strictObject({
    host: hostName.describe("Host of the Maven repository (may equal containerRegistry.host)."),
    port: port.default(443).describe("HTTPS port of the Maven repository."),
    pathPrefix: z.string().superRefine((value, ctx) => {
        const problem = mavenPathProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }).describe("Repository path, e.g. \"maven-releases\"."),
    credentialId: credentialId.default("maven-registry").describe("Jenkins credential ID for `mvn deploy`."),
    requiresAuthForPush: z.boolean().default(true).describe("Deploys need credentials."),
    requiresAuthForPull: z.boolean().default(false).describe("Downloads need credentials."),
    username: username.default("ci-deploy").describe("Deploy account user name; ignored when the container registry's credentials are reused."),
    reuseContainerCredentials: z.boolean().default(false).describe("Reuse the container registry's push credentials (the old bootstrap's skip logic). Allowed only when both registries have the same host. With the same credentialId, Jenkins holds one credential."),
});

const tls = z.strictObject({
    mode: z.enum(["generated-ca", "acme", "provided", "cert-manager", "public"]).default("generated-ca").describe("\"generated-ca\": a CA and server certificate made by @pulumi/tls (nodes are given the CA); \"acme\": Caddy obtains a public certificate (external host only); \"provided\": the operator's certificate (`tlsCertificate`) and key (`tlsPrivateKey`, secret); \"cert-manager\": an issuer in the cluster (in-cluster only); \"public\": the registry already has a publicly trusted certificate (existing registries only)."),
    acmeEmail: z.email({ error: "must be an e-mail address" }).optional().describe("Contact address for ACME (Let's Encrypt); required with mode \"acme\"."),
    acmeDirectory: z.url({ error: "must be an https URL" }).optional().describe("ACME directory; Let's Encrypt production unless set (use the staging URL while testing)."),
    certManagerIssuer: z
        .strictObject({
            kind: z.enum(["Issuer", "ClusterIssuer"]).default("ClusterIssuer").describe("Issuer kind."),
            name: k8sName.describe("Issuer name."),
        })
        .optional().describe("cert-manager issuer for mode \"cert-manager\"."),
    caValidityDays: z.number().int().min(30).max(36500).default(3650).describe("Lifetime of the generated CA, in days."),
    serverCertValidityDays: z.number().int().min(7).max(3650).default(825).describe("Lifetime of the generated server certificate, in days."),
});

const storage = z.strictObject({
    kind: z.enum(["filesystem", "s3"]).default("filesystem").describe("\"filesystem\" (a PersistentVolumeClaim or the host's data dir) or \"s3\" (S3-compatible object storage)."),
    size: quantity.default("20Gi").describe("PVC size (in-cluster, filesystem)."),
    storageClass: k8sName.optional().describe("PVC storage class; the cluster default when unset."),
    s3: z
        .strictObject({
            bucket: z.string().min(3).max(63).describe("Bucket name."),
            region: z.string().default("us-east-1").describe("Bucket region (any value for MinIO)."),
            endpoint: z.url({ error: "must be a URL such as https://minio.example.com" }).optional().describe("Endpoint of MinIO, Ceph RGW or another S3-compatible store; AWS when unset."),
            forcePathStyle: z.boolean().default(true).describe("Path-style bucket URLs (MinIO, Ceph RGW)."),
            rootDirectory: z.string().default("/registry").describe("Key prefix inside the bucket."),
        })
        .optional().describe("S3 settings; credentials come from the secrets `s3AccessKeyId` and `s3SecretAccessKey`."),
});

const maintenance = z.strictObject({
    garbageCollection: z
        .strictObject({
            enabled: z.boolean().default(false).describe("Run garbage collection on a schedule."),
            schedule: cronSchedule.default("30 3 * * 0").describe("Cron schedule."),
            deleteUntagged: z.boolean().default(false).describe("Also delete manifests no tag points to."),
        })
        .prefault({})
        .describe("Scheduled garbage collection in a read-only window, cache cleared after."),
    backup: z
        .strictObject({
            enabled: z.boolean().default(false).describe("Archive the data dir on a schedule."),
            schedule: cronSchedule.default("0 2 * * *").describe("Cron schedule."),
            destination: z.string().startsWith("/", { error: "must be an absolute path" }).default("/srv/backup/registry").describe("Directory on the registry host that dated archives are written to."),
            keep: z.number().int().min(1).max(365).default(7).describe("How many archives to keep."),
        })
        .prefault({})
        .describe("Scheduled archive of the data dir (external host)."),
});

const ui = z.strictObject({
    enabled: z.boolean().default(false).describe("Serve the web UI (joxit/docker-registry-ui) from the registry's own origin."),
    image: imageRef.default("joxit/docker-registry-ui:2.5.7").describe("Web UI image; pin by digest for production."),
    deleteEnabled: z.boolean().default(false).describe("Allow deleting images from the UI (and the API); needs push credentials in the browser."),
});

const sshConnection = {
    host: z.string().min(1).describe("Address or name Pulumi connects to."),
    port: port.default(22).describe("SSH port."),
    user: z.string().min(1).default("root").describe("SSH user; other than root, privileged steps run with `sudo -n` unless sudo is false."),
    hostKey: z.string().regex(/^(ssh-|ecdsa-)\S+ \S+/, { error: 'must be a public key line such as "ssh-ed25519 AAAA..."' }).optional().describe("The host's public key as in known_hosts, e.g. \"ssh-ed25519 AAAA\u2026\". Required unless `allowUnpinnedHostKey` is true."),
    allowUnpinnedHostKey: z.boolean().default(false).describe("Accept any host key. Only for throwaway labs: a man in the middle gets the private key's session."),
    sudo: z.boolean().optional().describe("Run privileged steps with `sudo -n` (needed when user is not root)."),
};

const registry = z.strictObject({
    mode: z.enum(["in-cluster", "external-host", "existing"]).describe("Where the registry runs: \"in-cluster\", \"external-host\" (over SSH) or \"existing\" (not ours)."),
    image: imageRef.default("registry:2.8.3").describe("Distribution image; pin by digest with \"registry@sha256:\u2026\"."),
    caddyImage: imageRef.default("caddy:2.8.4").describe("Caddy image for the in-cluster sidecar."),
    tls: tls.prefault({}).describe("How the registry gets its certificate."),
    allowedNetworks: z.array(cidr).default([]).describe("Client networks allowed to reach the registry at all; everyone when empty."),
    storage: storage.prefault({}).describe("Where image data lives."),
    maintenance: maintenance.prefault({}).describe("Garbage collection and backups."),
    ui: ui.prefault({}).describe("Optional web UI."),
    replicas: z.number().int().min(1).max(20).default(1).describe("Registry replicas (in-cluster). More than one needs s3 storage."),
});

const inCluster = z.strictObject({
    namespace: k8sName.default("dso").describe("Namespace of the in-cluster registry (and of the node-trust DaemonSet)."),
    ingressClass: z.string().min(1).default("nginx").describe("IngressClass of the ingress controller; microk8s's ingress addon registers \"public\" and \"nginx\"."),
    publishLocalRegistryHosting: z.boolean().default(true).describe("Publish the KEP-1755 `local-registry-hosting` ConfigMap in kube-public."),
});

const externalHost = z.strictObject({
    ssh: z.strictObject(sshConnection).describe("SSH connection to the registry host; the key is the secret `sshPrivateKey`."),
    dataDir: z.string().startsWith("/", { error: "must be an absolute path" }).default("/srv/data/registry").describe("Registry data directory on the host."),
    purgeDataOnDestroy: z.boolean().default(false).describe("Delete the registry data on `pulumi destroy`. Off: images survive a destroy."),
    installPackages: z.boolean().default(true).describe("Install Docker and Caddy from the distribution's packages when missing; otherwise only check."),
});

const existing = z.strictObject({
    caCertificate: z.string().includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" }).optional().describe("CA certificate (PEM) that signs the existing registry's certificate, when it is not public."),
});

const node = z.strictObject({
    name: k8sName.describe("Name used in resource names and synth output."),
    ...sshConnection,
    runtime: z.enum(RUNTIME_FLAVOURS).optional().describe("Override the group's runtime for this node."),
    local: z.boolean().default(false).describe("Pulumi runs on this node itself: use local commands instead of SSH."),
});

const nodes = z.strictObject({
    delivery: z.enum(["ssh", "daemonset", "none"]).default("none").describe("\"ssh\": one set of remote commands per node; \"daemonset\": a privileged DaemonSet; \"none\"."),
    runtime: z.enum(RUNTIME_FLAVOURS).default("containerd").describe("Container runtime flavour of the nodes."),
    registryAddress: z.string().regex(IPV4, { error: "must be an IPv4 address" }).optional().describe("Address that the registry host name resolves to on nodes (managed /etc/hosts block); DNS when unset."),
    allowContainerdRestart: z.boolean().default(false).describe("Allow restarting containerd to set the CRI plugin's config_path (containerd flavour)."),
    allowServiceRestart: z.boolean().default(true).describe("Allow restarting k3s / rke2 when registries.yaml changes."),
    insecurePlainHttp: z.boolean().default(false).describe("Plain-HTTP registry (no TLS). Dangerous: images can be swapped in transit."),
    list: z.array(node).default([]).describe("Nodes reached over SSH (delivery \"ssh\")."),
});

const jenkins = z.strictObject({
    enabled: z.boolean().default(false).describe("Manage the Jenkins credentials and the pipeline-config ConfigMap."),
    url: z.url({ error: "must be a URL such as https://jenkins.example.com" }).optional().describe("Jenkins base URL, e.g. \"https://jenkins.example.com\"."),
    user: z.string().min(1).default("admin").describe("Jenkins user the API calls are made as."),
    auth: z.enum(["token", "password"]).default("token").describe("\"token\": API token (`jenkinsApiToken`, no crumb needed); \"password\" (`jenkinsPassword`, crumb + session)."),
    caCertificate: z.string().includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" }).optional().describe("CA certificate (PEM) for Jenkins's TLS when it is not publicly trusted."),
    registryHostCredentialId: credentialId.optional().describe("Credential ID of a secret-text credential holding the registry host, for pipelines that want it."),
    pipelineConfigNamespace: k8sName.default("jenkins").describe("Namespace of the pipeline-config ConfigMap."),
    pipelineConfigName: k8sName.default("pipeline-config").describe("Name of the pipeline-config ConfigMap."),
    timeoutSeconds: z.number().int().min(1).max(300).default(30).describe("Request timeout in seconds."),
});

const pullSecrets = z.strictObject({
    namespaces: z.array(k8sName).default([]).describe("Namespaces that get a `kubernetes.io/dockerconfigjson` Secret for the pull-only account."),
    secretName: k8sName.default("registry-pull").describe("Name of those Secrets."),
    flux: z.boolean().default(false).describe("Create the Flux `registry-credentials` Secret in flux-system."),
});

/** Every key of the `dso-registry` namespace that holds plain (non-secret) configuration. */
export const configShape = {
    containerRegistry: containerRegistry.describe("The container registry as clients see it (was CONTAINER_REGISTRY_*)."),
    mavenRegistry: mavenRegistry.optional().describe("The Maven repository CI deploys to (was MAVEN_REGISTRY_*)."),
    registry: registry.describe("How and where the registry runs."),
    inCluster: inCluster.prefault({}).describe('Settings of registry.mode "in-cluster".'),
    externalHost: externalHost.optional().describe('Settings of registry.mode "external-host".'),
    existing: existing.prefault({}).describe('Settings of registry.mode "existing".'),
    nodes: nodes.prefault({}).describe("Node trust: how the nodes' container runtimes trust and resolve the registry."),
    jenkins: jenkins.prefault({}).describe("Jenkins credentials and the pipeline-config ConfigMap."),
    pullSecrets: pullSecrets.prefault({}).describe("Pull secrets built from the pull-only account."),
} as const;

// ---------------------------------------------------------------------------------------------
// Secrets the operator supplies
// ---------------------------------------------------------------------------------------------

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
} as const satisfies Record<string, SecretSpec>;

export type SecretName = keyof typeof secretSpecs;
export const secretNames = Object.keys(secretSpecs) as SecretName[];

/** What the loader found for a secret key. */
export type SecretState = "secret" | "plaintext" | "missing";

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const schema = z.strictObject(configShape);
type Parsed = z.output<typeof schema>;
/** The validated configuration, without secrets. */
export type ParsedConfig = Parsed;

export type ContainerRegistryConfig = Parsed["containerRegistry"];
export type MavenRegistryConfig = NonNullable<Parsed["mavenRegistry"]>;
export type RegistryConfig = Parsed["registry"];
export type TlsConfig = RegistryConfig["tls"];
export type InClusterConfig = Parsed["inCluster"];
export type ExternalHostConfig = NonNullable<Parsed["externalHost"]>;
export type SshConnectionConfig = ExternalHostConfig["ssh"];
export type NodesConfig = Parsed["nodes"];
export type NodeConfig = NodesConfig["list"][number];
export type RuntimeFlavour = NodesConfig["runtime"];
export type JenkinsConfig = Parsed["jenkins"];
export type PullSecretsConfig = Parsed["pullSecrets"];

/** The validated stack configuration, with the secrets it needs resolved to Outputs by the loader. */
export interface StackConfig extends Parsed {
    /** Secrets required by this configuration and present (or, in synth, placeholders). */
    readonly secrets: Partial<Record<SecretName, pulumi.Output<string>>>;
}

/** A configuration problem a person can act on. */
export interface ConfigProblem {
    /** Full key path, e.g. "dso-registry:containerRegistry.pathPrefix". */
    readonly key: string;
    readonly message: string;
}

export class ConfigError extends Error {
    constructor(readonly problems: readonly ConfigProblem[]) {
        super(
            `The stack configuration is invalid; nothing was created.\n` +
                problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

export interface ParseResult {
    readonly config: Parsed;
    /** Secrets this configuration needs. */
    readonly requiredSecrets: readonly SecretName[];
    /** Secrets it needs that are not set (allowed only when missing secrets are tolerated). */
    readonly missingSecrets: readonly SecretName[];
}

function keyPath(path: readonly PropertyKey[]): string {
    const [top, ...rest] = path;
    let key = `${PROJECT}:${String(top ?? "")}`;
    for (const part of rest) {
        key += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
    }
    return key;
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let previous = row[0]!;
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const current = row[j]!;
            row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
            previous = current;
        }
    }
    return row[b.length]!;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
        if (distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

const CREDENTIAL_WORDS = /pass(word)?|secret|token|private.?key|apikey|credential(?!id)/i;

/** The schema node at a path, to list the keys allowed there. */
function allowedKeysAt(path: readonly PropertyKey[]): string[] {
    let node: z.ZodType = schema;
    for (const part of path) {
        node = unwrap(node);
        if (node instanceof z.ZodObject) {
            node = (node.shape as Record<string, z.ZodType>)[String(part)] ?? node;
        } else if (node instanceof z.ZodArray) {
            node = node.element as z.ZodType;
        }
    }
    node = unwrap(node);
    return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(node: z.ZodType): z.ZodType {
    let current: z.ZodType = node;
    for (;;) {
        if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
            current = current.def.innerType as z.ZodType;
        } else if (current instanceof z.ZodPipe) {
            current = current.def.in as z.ZodType;
        } else {
            return current;
        }
    }
}

function describeIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
    if (issue.code === "unrecognized_keys") {
        const allowed = allowedKeysAt(issue.path);
        return issue.keys.map((unknownKey) => {
            const key = keyPath([...issue.path, unknownKey]);
            if (CREDENTIAL_WORDS.test(unknownKey)) {
                const secret = secretNames.find((name) => name.toLowerCase().includes(unknownKey.toLowerCase()));
                return {
                    key,
                    message:
                        `credentials are never part of plain stack config; remove "${unknownKey}" from the stack file` +
                        (secret ? ` and run: ${secretSpecs[secret].setCommand}` : ` and set the matching secret key (see the README)`),
                };
            }
            const suggestion = closest(unknownKey, allowed);
            return {
                key,
                message:
                    `unknown key "${unknownKey}"` +
                    (suggestion ? `; did you mean "${suggestion}"?` : "") +
                    (allowed.length ? ` Allowed here: ${allowed.join(", ")}.` : ""),
            };
        });
    }
    if (issue.code === "invalid_type" && issue.input === undefined) {
        return [{ key: keyPath(issue.path), message: `is required (${issue.expected})` }];
    }
    if (issue.code === "invalid_value") {
        return [
            {
                key: keyPath(issue.path),
                message: `is ${JSON.stringify(issue.input)}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
            },
        ];
    }
    if (issue.code === "invalid_type") {
        const got = Array.isArray(issue.input) ? "a list" : issue.input === null ? "null" : `a ${typeof issue.input}`;
        const message = issue.message.startsWith("Invalid input") ? `must be ${article(issue.expected)}, got ${got}` : issue.message;
        return [{ key: keyPath(issue.path), message }];
    }
    return [{ key: keyPath(issue.path), message: issue.message }];
}

function article(type: string): string {
    return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Rules that span several keys. Returns every contradiction found. */
function crossChecks(c: Parsed, secretStates: Readonly<Record<SecretName, SecretState>>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const add = (path: PropertyKey[], message: string) => problems.push({ key: keyPath(path), message });
    const mode = c.registry.mode;
    const tlsMode = c.registry.tls.mode;

    if (tlsMode === "acme" && mode !== "external-host") {
        add(["registry", "tls", "mode"], `"acme" needs registry.mode "external-host" (Caddy on the host answers the ACME challenge); in-cluster, use "cert-manager"`);
    }
    if (tlsMode === "acme" && !c.registry.tls.acmeEmail) {
        add(["registry", "tls", "acmeEmail"], `is required with registry.tls.mode "acme" (Let's Encrypt sends expiry notices there)`);
    }
    if (tlsMode === "cert-manager" && mode !== "in-cluster") {
        add(["registry", "tls", "mode"], `"cert-manager" needs registry.mode "in-cluster"`);
    }
    if (tlsMode === "cert-manager" && !c.registry.tls.certManagerIssuer) {
        add(["registry", "tls", "certManagerIssuer"], `is required with registry.tls.mode "cert-manager" (for example {kind: ClusterIssuer, name: letsencrypt})`);
    }
    if (tlsMode !== "cert-manager" && c.registry.tls.certManagerIssuer) {
        add(["registry", "tls", "certManagerIssuer"], `is only used with registry.tls.mode "cert-manager"; remove it or change the mode`);
    }
    if (tlsMode === "public" && mode !== "existing") {
        add(["registry", "tls", "mode"], `"public" describes an existing registry; a registry of our own uses "generated-ca", "acme", "provided" or "cert-manager"`);
    }
    if (mode === "existing" && tlsMode !== "public") {
        add(["registry", "tls", "mode"], `an existing registry is described with "public"; when a private CA signs its certificate, give existing.caCertificate`);
    }
    if (mode === "external-host" && !c.externalHost) {
        add(["externalHost"], `is required with registry.mode "external-host" (at least externalHost.ssh.host and ssh.hostKey)`);
    }
    if (mode !== "external-host" && c.externalHost) {
        add(["externalHost"], `is only used with registry.mode "external-host"; remove it or change the mode`);
    }
    if (c.externalHost && !c.externalHost.ssh.hostKey && !c.externalHost.ssh.allowUnpinnedHostKey) {
        add(["externalHost", "ssh", "hostKey"], `is required: pin the host key (ssh-keyscan -t ed25519 ${c.externalHost.ssh.host}), or set externalHost.ssh.allowUnpinnedHostKey: true for a throwaway lab`);
    }
    if (c.registry.replicas > 1 && c.registry.storage.kind !== "s3") {
        add(["registry", "replicas"], `is ${c.registry.replicas}, but several replicas need shared storage: set registry.storage.kind "s3"`);
    }
    if (c.registry.replicas > 1 && mode !== "in-cluster") {
        add(["registry", "replicas"], `replicas apply to the in-cluster registry only`);
    }
    if (c.registry.storage.kind === "s3" && !c.registry.storage.s3) {
        add(["registry", "storage", "s3"], `is required with registry.storage.kind "s3" (at least bucket)`);
    }
    if (c.registry.storage.kind !== "s3" && c.registry.storage.s3) {
        add(["registry", "storage", "s3"], `is only used with registry.storage.kind "s3"`);
    }
    if (mode === "existing" && (c.registry.ui.enabled || c.registry.maintenance.garbageCollection.enabled || c.registry.maintenance.backup.enabled)) {
        add(["registry", "mode"], `"existing" registries are not ours to run: turn off registry.ui and registry.maintenance`);
    }
    if (c.registry.maintenance.backup.enabled && mode !== "external-host") {
        add(["registry", "maintenance", "backup", "enabled"], `backups of the data dir apply to registry.mode "external-host"; back up the in-cluster PVC or bucket with the cluster's own tooling`);
    }
    if (!c.containerRegistry.requiresAuthForPush && mode !== "existing") {
        add(["containerRegistry", "requiresAuthForPush"], `is false: anyone who reaches the registry could overwrite images. This program always requires credentials for push; set it to true`);
    }
    if (c.mavenRegistry?.reuseContainerCredentials && c.mavenRegistry.host !== c.containerRegistry.host) {
        add(["mavenRegistry", "reuseContainerCredentials"], `is true but mavenRegistry.host (${c.mavenRegistry.host}) differs from containerRegistry.host (${c.containerRegistry.host}); credentials are only reused on the same host`);
    }
    if (c.mavenRegistry && !c.mavenRegistry.reuseContainerCredentials && c.mavenRegistry.credentialId === c.containerRegistry.credentialId) {
        add(["mavenRegistry", "credentialId"], `equals containerRegistry.credentialId; one Jenkins credential can only hold both when mavenRegistry.reuseContainerCredentials is true`);
    }
    if (c.nodes.delivery === "ssh" && c.nodes.list.length === 0) {
        add(["nodes", "list"], `is empty but nodes.delivery is "ssh": list the nodes, or use delivery "daemonset"`);
    }
    if (c.nodes.delivery !== "ssh" && c.nodes.list.length > 0) {
        add(["nodes", "delivery"], `is "${c.nodes.delivery}" but nodes.list is set; nodes are only reached over SSH with delivery "ssh"`);
    }
    c.nodes.list.forEach((n, i) => {
        if (!n.local && !n.hostKey && !n.allowUnpinnedHostKey) {
            add(["nodes", "list", i, "hostKey"], `is required for node "${n.name}": pin it (ssh-keyscan -t ed25519 ${n.host}), or set allowUnpinnedHostKey: true for a throwaway lab`);
        }
    });
    const names = c.nodes.list.map((n) => n.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) {
        add(["nodes", "list"], `has two nodes named "${duplicate}"; names must be unique`);
    }
    if (c.nodes.insecurePlainHttp && mode !== "existing") {
        add(["nodes", "insecurePlainHttp"], `plain HTTP is only allowed for an existing registry; registries of our own always use TLS`);
    }
    if (mode === "existing" && (c.pullSecrets.namespaces.length > 0 || c.pullSecrets.flux)) {
        add(["pullSecrets"], `pull secrets hold the pull-only account this program generates for a registry of its own; for an existing registry, create them with the organisation's pull credentials instead`);
    }
    if (c.jenkins.enabled && !c.jenkins.url) {
        add(["jenkins", "url"], `is required when jenkins.enabled is true`);
    }
    if (c.registry.allowedNetworks.length > 0 && mode === "existing") {
        add(["registry", "allowedNetworks"], `cannot be enforced on an existing registry`);
    }

    for (const name of secretNames) {
        if (secretStates[name] === "plaintext") {
            problems.push({
                key: `${PROJECT}:${name}`,
                message: `is stored in plaintext in the stack file. Remove it (pulumi config rm ${PROJECT}:${name}) and set it encrypted: ${secretSpecs[name].setCommand}`,
            });
        }
    }
    return problems;
}

/** The secrets a valid configuration needs. */
export function requiredSecretsFor(c: Parsed): SecretName[] {
    const required: SecretName[] = [];
    // An existing registry's push account is the organisation's: Jenkins gets the password the operator supplies.
    const pushPasswordSupplied =
        c.containerRegistry.pushCredentials === "operator" || (c.registry.mode === "existing" && c.jenkins.enabled);
    if (pushPasswordSupplied) required.push("containerRegistryPassword");
    if (c.mavenRegistry && !c.mavenRegistry.reuseContainerCredentials) required.push("mavenRegistryPassword");
    if (c.jenkins.enabled) required.push(c.jenkins.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword");
    const sshNeeded =
        c.registry.mode === "external-host" || (c.nodes.delivery === "ssh" && c.nodes.list.some((n) => !n.local));
    if (sshNeeded) required.push("sshPrivateKey");
    if (c.registry.tls.mode === "provided") required.push("tlsCertificate", "tlsPrivateKey");
    if (c.registry.storage.kind === "s3") required.push("s3AccessKeyId", "s3SecretAccessKey");
    return required;
}

export interface ParseOptions {
    /** Tolerate required secrets that are not set (synth); `pulumi up` never does. */
    readonly allowMissingSecrets?: boolean;
}

/**
 * Validates raw config values (already JSON-decoded) and the state of each secret key.
 * Throws ConfigError listing every problem found.
 */
export function parseConfig(
    raw: Readonly<Record<string, unknown>>,
    secretStates: Readonly<Partial<Record<SecretName, SecretState>>> = {},
    options: ParseOptions = {},
): ParseResult {
    const states = Object.fromEntries(secretNames.map((n) => [n, secretStates[n] ?? "missing"])) as Record<SecretName, SecretState>;
    const result = schema.safeParse(raw, { reportInput: true });
    if (!result.success) {
        const plaintextSecrets = crossChecksForSecretsOnly(states);
        throw new ConfigError([...result.error.issues.flatMap(describeIssue), ...plaintextSecrets]);
    }
    const problems = crossChecks(result.data, states);
    const requiredSecrets = requiredSecretsFor(result.data);
    const missingSecrets = requiredSecrets.filter((n) => states[n] === "missing");
    if (!options.allowMissingSecrets) {
        for (const name of missingSecrets) {
            problems.push({
                key: `${PROJECT}:${name}`,
                message: `is not set; it is the ${secretSpecs[name].description}. Set it with: ${secretSpecs[name].setCommand}`,
            });
        }
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return { config: result.data, requiredSecrets, missingSecrets };
}

function crossChecksForSecretsOnly(states: Readonly<Record<SecretName, SecretState>>): ConfigProblem[] {
    return secretNames
        .filter((name) => states[name] === "plaintext")
        .map((name) => ({
            key: `${PROJECT}:${name}`,
            message: `is stored in plaintext in the stack file. Remove it (pulumi config rm ${PROJECT}:${name}) and set it encrypted: ${secretSpecs[name].setCommand}`,
        }));
}

// ---------------------------------------------------------------------------------------------
// Loading from Pulumi config: the one place config is read
// ---------------------------------------------------------------------------------------------

export interface LoadOptions extends ParseOptions {
    /** Called with a warning for each required secret that is missing (synth only). */
    readonly warn?: (message: string) => void;
    /** Placeholder used for secrets in synth (never a real value). */
    readonly secretPlaceholder?: string;
}

function isSecretKey(fullKey: string): boolean {
    const check = (runtimeConfig as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    return typeof check === "function" ? check(fullKey) : false;
}

/**
 * Reads every `dso-registry:*` key once, validates it, and resolves the secrets it needs.
 * Throws ConfigError (nothing is created) when anything is wrong.
 */
export function loadStackConfig(options: LoadOptions = {}): StackConfig {
    const config = new pulumi.Config(PROJECT);
    const all = pulumi.runtime.allConfig();
    const raw: Record<string, unknown> = {};
    const problems: ConfigProblem[] = [];
    const secretStates: Partial<Record<SecretName, SecretState>> = {};
    const plainKeys = Object.keys(configShape);

    for (const [fullKey, value] of Object.entries(all)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        if ((secretNames as string[]).includes(key)) {
            secretStates[key as SecretName] = isSecretKey(fullKey) ? "secret" : "plaintext";
            continue;
        }
        if (!plainKeys.includes(key)) {
            const suggestion = closest(key, [...plainKeys, ...secretNames]);
            problems.push({
                key: fullKey,
                message: `unknown key${suggestion ? `; did you mean "${PROJECT}:${suggestion}"?` : ""} Known keys: ${[...plainKeys, ...secretNames].join(", ")}.`,
            });
            continue;
        }
        if (isSecretKey(fullKey)) {
            problems.push({ key: fullKey, message: `holds plain settings but is stored as a secret; set it without --secret` });
            continue;
        }
        try {
            raw[key] = JSON.parse(value);
        } catch {
            raw[key] = value;
        }
    }
    let parsed: ParseResult;
    try {
        parsed = parseConfig(raw, secretStates, options);
    } catch (error) {
        if (error instanceof ConfigError) throw new ConfigError([...problems, ...error.problems]);
        throw error;
    }
    if (problems.length > 0) throw new ConfigError(problems);

    const secrets: Partial<Record<SecretName, pulumi.Output<string>>> = {};
    for (const name of parsed.requiredSecrets) {
        if (parsed.missingSecrets.includes(name)) {
            options.warn?.(
                `${PROJECT}:${name} (${secretSpecs[name].description}) is not set; \`pulumi up\` will require it. Set it with: ${secretSpecs[name].setCommand}`,
            );
            secrets[name] = pulumi.secret(options.secretPlaceholder ?? "[secret]");
        } else {
            secrets[name] = config.requireSecret(name);
        }
    }
    return { ...parsed.config, secrets };
}
