/**
 * The zod schema: one entry per key of the `dso-registry` namespace, with its description (which
 * flows into the README's reference) and its value rules. Rules that span several keys live in
 * `rules.ts`; the shape the rest of the program reads is made in `settings.ts`.
 */
import { z } from "zod";
import { ACCOUNT_NAME, DEFAULT_RESTIC_IMAGE, INGRESS_CONTROLLERS, IPV4, RUNTIME_FLAVOURS } from "../shared/facts";

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
    .regex(/^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64})?$/, {
        error: 'must be an image reference such as "registry:2.8.3" or "registry@sha256:<64 hex digits>"',
    })
    .refine((value) => !/^[a-z]+:\/\//.test(value), { error: "an image reference has no scheme" });

/** A five-field cron schedule. */
const cronSchedule = z.string().regex(/^(\S+\s+){4}\S+$/, { error: 'must be a five-field cron schedule such as "0 3 * * 0"' });

const quantity = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/, { error: 'must be a Kubernetes quantity such as "20Gi"' });

const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: "must be a Kubernetes name: lower-case letters, digits and '-', at most 63 characters",
});

/** A Node's name: a DNS subdomain (lower-case labels joined by dots), as kubelet registers it. */
const k8sNodeName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: "must be a Kubernetes node name: lower-case letters, digits, '-' and '.', as `kubectl get nodes` shows it",
});

const credentialId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    error: "must be a Jenkins credential ID: letters, digits, '.', '_' and '-'",
});

const username = z.string().regex(ACCOUNT_NAME, {
    error: "must be 1-64 letters, digits, '.', '_' or '-' (no ':' or spaces: htpasswd cannot hold them)",
});

// ---------------------------------------------------------------------------------------------
// The schema, one entry per top-level key of the `dso-registry` namespace
// ---------------------------------------------------------------------------------------------

const containerRegistry = z.strictObject({
    host: hostName.describe("Host name clients use for images (no scheme, no port)."),
    port: port.default(443).describe("HTTPS port clients use; 443 unless the registry is published elsewhere."),
    pathPrefix: z
        .string()
        .superRefine((value, ctx) => {
            const problem = repositoryPrefixProblem(value);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .describe('Repository path under the host that images go to, e.g. "docker-internal/p2c". May be "".'),
    credentialId: credentialId.default("container-registry").describe("Jenkins credential ID that holds the push account."),
    requiresAuthForPush: z.boolean().default(true).describe("Pushes need the push account; always true for a registry of our own."),
    requiresAuthForPull: z
        .boolean()
        .default(false)
        .describe("Pulls need credentials too (the pull-only account); false keeps pulls anonymous for the kubelet."),
    pushUsername: username.default("ci-push").describe("Push account user name (the account Jenkins pushes with)."),
    pushCredentials: z
        .enum(["generated", "operator"])
        .default("generated")
        .describe(
            'Who owns the push password: "generated" (@pulumi/random, owned by this program) or "operator" (the secret `dso-registry:containerRegistryPassword`).',
        ),
    pullUsername: username
        .default("cluster-pull")
        .describe(
            "Pull-only account user name. The account exists when pulls need credentials or a pull secret is configured; its password is always generated.",
        ),
    rotation: z.string().default("1").describe("Bump to rotate every generated registry password in one `pulumi up`."),
});

const mavenRegistry = z.strictObject({
    host: hostName.describe("Host of the Maven repository (may equal containerRegistry.host)."),
    port: port.default(443).describe("HTTPS port of the Maven repository."),
    pathPrefix: z
        .string()
        .superRefine((value, ctx) => {
            const problem = mavenPathProblem(value);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .describe('Repository path, e.g. "maven-releases".'),
    credentialId: credentialId.default("maven-registry").describe("Jenkins credential ID for `mvn deploy`."),
    requiresAuthForPush: z.boolean().default(true).describe("Deploys need credentials."),
    requiresAuthForPull: z.boolean().default(false).describe("Downloads need credentials."),
    username: username
        .default("ci-deploy")
        .describe("Deploy account user name; ignored when the container registry's credentials are reused."),
    storageSize: quantity
        .default("10Gi")
        .describe(
            "PVC size of the repository's files, when this program serves it (mavenRegistry.host is the in-cluster registry's host).",
        ),
    nginxImage: z
        .string()
        .min(1)
        .default("nginx:1.27-alpine")
        .describe(
            "Image of the Maven backend (nginx with its WebDAV module; the official image has it), when this program serves the repository (the registry pod's sidecar, or a container on the external host). Pin it by digest in production.",
        ),
    snapshotBuildsToKeep: z
        .int()
        .min(1)
        .default(3)
        .describe(
            "Timestamped builds kept per SNAPSHOT version when this program serves the repository (on the external host or in the cluster): the garbage-collection job (registry.maintenance.garbageCollection) deletes older builds; the latest one, which maven-metadata.xml names, always stays. Releases are never deleted.",
        ),
    reuseContainerCredentials: z
        .boolean()
        .default(false)
        .describe(
            "Reuse the container registry's push credentials (the old bootstrap's skip logic). Allowed only when both registries have the same host. With the same credentialId, Jenkins holds one credential.",
        ),
});

const tls = z.strictObject({
    mode: z
        .enum(["generated-ca", "acme", "provided", "cert-manager", "public"])
        .default("generated-ca")
        .describe(
            '"generated-ca": a CA and server certificate made by @pulumi/tls (nodes are given the CA); "acme": Caddy obtains a public certificate (external host only); "provided": the operator\'s certificate (`tlsCertificate`) and key (`tlsPrivateKey`, secret); "cert-manager": an issuer in the cluster (in-cluster only); "public": the registry already has a publicly trusted certificate (existing registries only).',
        ),
    acmeEmail: z
        .email({ error: "must be an e-mail address" })
        .optional()
        .describe('Contact address for ACME (Let\'s Encrypt); required with mode "acme".'),
    acmeDirectory: z
        .url({ error: "must be an https URL" })
        .optional()
        .describe("ACME directory; Let's Encrypt production unless set (use the staging URL while testing)."),
    certManagerIssuer: z
        .strictObject({
            kind: z.enum(["Issuer", "ClusterIssuer"]).default("ClusterIssuer").describe("Issuer kind."),
            name: k8sName.describe("Issuer name."),
        })
        .optional()
        .describe('cert-manager issuer for mode "cert-manager".'),
    certManagerCaCertificate: z
        .string()
        .includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" })
        .optional()
        .describe(
            'CA certificate (PEM) of the cert-manager issuer (mode "cert-manager"), when it is a private CA: the nodes and the `dso-registry-ca` ConfigMaps get it. Leave unset for a publicly trusted issuer.',
        ),
    caValidityDays: z.number().int().min(30).max(36500).default(3650).describe("Lifetime of the generated CA, in days."),
    serverCertValidityDays: z
        .number()
        .int()
        .min(7)
        .max(3650)
        .default(825)
        .describe("Lifetime of the generated server certificate, in days."),
});

const storage = z.strictObject({
    kind: z
        .enum(["filesystem", "s3"])
        .default("filesystem")
        .describe('"filesystem" (a PersistentVolumeClaim or the host\'s data dir) or "s3" (S3-compatible object storage).'),
    size: quantity.default("20Gi").describe("PVC size (in-cluster, filesystem)."),
    storageClass: k8sName.optional().describe("PVC storage class; the cluster default when unset."),
    s3: z
        .strictObject({
            bucket: z.string().min(3).max(63).describe("Bucket name."),
            region: z.string().default("us-east-1").describe("Bucket region (any value for MinIO)."),
            endpoint: z
                .url({ error: "must be a URL such as https://minio.example.com" })
                .optional()
                .describe("Endpoint of MinIO, Ceph RGW or another S3-compatible store; AWS when unset."),
            forcePathStyle: z.boolean().default(true).describe("Path-style bucket URLs (MinIO, Ceph RGW)."),
            rootDirectory: z.string().default("/registry").describe("Key prefix inside the bucket."),
            redirect: z
                .boolean()
                .default(false)
                .describe(
                    "Answer blob downloads with a redirect to a presigned URL of the object store. false: the registry fetches each blob from the store and sends it itself, so every client that reaches the registry gets it. true only when every client (the nodes' container runtimes, CI) reaches `endpoint` itself: a MinIO Service inside the cluster is out of the nodes' reach.",
                ),
        })
        .optional()
        .describe("S3 settings; credentials come from the secrets `s3AccessKeyId` and `s3SecretAccessKey`."),
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
            enabled: z
                .boolean()
                .default(false)
                .describe(
                    "Back up on a schedule with restic, with a short read-only window: the external host (its data, configs and Caddy's certificates) to another machine over SFTP or to S3; the in-cluster registry (its volume, and Maven's) to S3 or to a volume of its own. Images kept in a bucket (registry.storage.kind: s3) are in neither: refused in-cluster, warned on the external host.",
                ),
            image: imageRef
                .default(DEFAULT_RESTIC_IMAGE)
                .describe("In-cluster: the image with restic and a shell that backs up and restores; pin it by digest in production."),
            schedule: cronSchedule.default("0 2 * * *").describe("Cron schedule."),
            keep: z
                .number()
                .int()
                .min(1)
                .max(365)
                .default(7)
                .describe("How many snapshots the destination keeps (restic forget --keep-last); older ones are pruned there."),
            destination: z
                .strictObject({
                    kind: z
                        .enum(["sftp", "s3", "volume"])
                        .describe(
                            '"sftp": a restic repository on another machine over SSH; "s3": a restic repository in an S3-compatible bucket; "volume" (in-cluster only): a restic repository on a PersistentVolumeClaim of its own.',
                        ),
                    host: z.string().min(1).optional().describe("sftp: the backup machine's address."),
                    port: port.default(22).describe("sftp: its SSH port."),
                    user: z.string().min(1).default("dso-backup").describe("sftp: the user the backup logs in as."),
                    path: z
                        .string()
                        .startsWith("/", { error: "must be an absolute path" })
                        .optional()
                        .describe("sftp: the repository's directory on the backup machine."),
                    hostKey: z
                        .string()
                        .regex(/^(ssh-|ecdsa-)\S+ \S+/, { error: 'must be a public key line such as "ssh-ed25519 AAAA..."' })
                        .optional()
                        .describe("sftp: the backup machine's host key (ssh-keyscan -t ed25519 <host>), pinned."),
                    endpoint: z
                        .url({ error: "must be a URL such as https://minio.example.com" })
                        .optional()
                        .describe("s3: endpoint of MinIO, Ceph RGW or another S3-compatible store; AWS when unset."),
                    bucket: z.string().min(3).max(63).optional().describe("s3: bucket name."),
                    prefix: z.string().min(1).default("dso-registry-backup").describe("s3: key prefix of the repository."),
                    region: z.string().default("us-east-1").describe("s3: bucket region."),
                    size: z
                        .string()
                        .regex(/^[1-9][0-9]*(Mi|Gi|Ti)$/, { error: 'must be a Kubernetes quantity such as "100Gi"' })
                        .default("50Gi")
                        .describe(
                            "volume: size of PVC registry-backup (restic deduplicates: plan the data's size plus what the kept snapshots add).",
                        ),
                    storageClass: z
                        .string()
                        .min(1)
                        .optional()
                        .describe(
                            "volume: storage class of PVC registry-backup (the cluster default when unset); best one on other disks than the registry's.",
                        ),
                })
                .optional()
                .describe("Where the backups go; the repository password is the secret backupRepositoryPassword."),
        })
        .prefault({})
        .describe("Scheduled backups with a read-only window of seconds, and the restore command."),
});

const ui = z.strictObject({
    enabled: z.boolean().default(false).describe("Serve the web UI (joxit/docker-registry-ui) from the registry's own origin."),
    image: imageRef.default("joxit/docker-registry-ui:2.5.7").describe("Web UI image; pin by digest for production."),
    deleteEnabled: z
        .boolean()
        .default(false)
        .describe("Allow deleting images from the UI (and the API); needs push credentials in the browser."),
});

const sshConnection = {
    host: z.string().min(1).describe("Address or name Pulumi connects to."),
    port: port.default(22).describe("SSH port."),
    user: z
        .string()
        .min(1)
        .default("root")
        .describe("SSH user; other than root, privileged steps run with `sudo -n` unless sudo is false."),
    hostKey: z
        .string()
        .regex(/^(ssh-|ecdsa-)\S+ \S+/, { error: 'must be a public key line such as "ssh-ed25519 AAAA..."' })
        .optional()
        .describe(
            'The host\'s public key as in known_hosts, e.g. "ssh-ed25519 AAAA\u2026". Required unless `allowUnpinnedHostKey` is true.',
        ),
    allowUnpinnedHostKey: z
        .boolean()
        .default(false)
        .describe("Accept any host key. Only for throwaway labs: a man in the middle gets the private key's session."),
    sudo: z.boolean().optional().describe("Run privileged steps with `sudo -n` (needed when user is not root)."),
};

/** Why a mirrored registry's name is not acceptable, or undefined. Exported for table-driven tests. */
export function mirrorUpstreamProblem(value: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        return `"${value}" has a scheme: give the registry name as images use it (for example "docker.io"), and its API in remoteUrl`;
    }
    const [host = "", port, ...rest] = value.split(":");
    if (rest.length > 0 || (port !== undefined && !/^\d{1,5}$/.test(port)))
        return `"${value}" must be a host name with an optional ":port"`;
    return hostNameProblem(host);
}

const mirror = z.strictObject({
    upstream: z
        .string()
        .superRefine((value, ctx) => {
            const problem = mirrorUpstreamProblem(value);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .describe('The registry as image names write it: "docker.io", "ghcr.io", "quay.io", "registry.k8s.io", or any host[:port].'),
    remoteUrl: z
        .url({ protocol: /^https$/, error: "must be an https URL such as https://registry-1.docker.io" })
        .optional()
        .describe(
            'The upstream\'s registry API; "https://registry-1.docker.io" for docker.io and "https://<upstream>" for the others when unset.',
        ),
    credentials: z
        .boolean()
        .default(false)
        .describe(
            "The cache logs in to the upstream with this upstream's account from the secret `mirrorCredentials` (Docker Hub's pull limits are per account).",
        ),
    maxAge: z
        .string()
        .regex(/^\d+[smh]$/, { error: 'must be a duration such as "168h"' })
        .default("168h")
        .describe(
            "Cached content is dropped this long after it was fetched. External host: the hourly prune job removes older blobs; in-cluster: only with a Distribution 3 registry.image (`proxy.ttl`). Distribution 2 drops content after 168h whatever this says, so a longer age or an in-cluster one warns.",
        ),
    maxSize: quantity
        .default("20Gi")
        .describe(
            "Storage limit of this cache: in the cluster the size of its own PVC, a hard limit only where the storage class enforces claim sizes; on the external host an hourly job empties the cache when it has grown past it (docs/mirrors.md, Age and size limits).",
        ),
});

const registry = z.strictObject({
    mode: z
        .enum(["in-cluster", "external-host", "existing"])
        .describe('Where the registry runs: "in-cluster", "external-host" (over SSH) or "existing" (not ours).'),
    image: imageRef.default("registry:2.8.3").describe('Distribution image; pin by digest with "registry@sha256:\u2026".'),
    caddyImage: imageRef.default("caddy:2.8.4").describe("Caddy image for the in-cluster sidecar."),
    tls: tls.prefault({}).describe("How the registry gets its certificate."),
    allowedNetworks: z.array(cidr).default([]).describe("Client networks allowed to reach the registry at all; everyone when empty."),
    storage: storage.prefault({}).describe("Where image data lives."),
    maintenance: maintenance.prefault({}).describe("Garbage collection and backups."),
    ui: ui.prefault({}).describe("Optional web UI."),
    replicas: z.number().int().min(1).max(20).default(1).describe("Registry replicas (in-cluster). More than one needs s3 storage."),
    mirrors: z
        .array(mirror)
        .max(20)
        .default([])
        .describe(
            "Pull-through caches, one per upstream registry, behind the registry's own front at /v2/mirrors/<upstream>/; nodes pull those upstreams' images through them and fall back to the upstream (docs/mirrors.md).",
        ),
});

const inCluster = z.strictObject({
    namespace: k8sName.default("dso").describe("Namespace of the in-cluster registry; it enforces the restricted Pod Security level."),
    ingressClass: z
        .string()
        .min(1)
        .default("nginx")
        .describe(
            'IngressClass of the ingress controller; microk8s\'s ingress addon registers "public" and "nginx", k3s\'s Traefik "traefik".',
        ),
    ingressController: z
        .enum(INGRESS_CONTROLLERS)
        .optional()
        .describe(
            'The controller behind ingressClass, when its name does not say: "nginx" (ingress-nginx; known classes "nginx", "public") or "traefik" (Traefik v3; known class "traefik"). It decides the Ingress annotations and how registry.allowedNetworks is enforced.',
        ),
    publishLocalRegistryHosting: z
        .boolean()
        .default(true)
        .describe("Publish the KEP-1755 `local-registry-hosting` ConfigMap in kube-public."),
    clusterDns: z
        .strictObject({
            flavour: z
                .enum(["none", "microk8s", "k3s"])
                .default("none")
                .describe(
                    'How pods resolve the registry\'s host name to its TLS Service: "microk8s" (a marked server block in the Corefile of ConfigMap kube-system/coredns, put in and taken out with kubectl), "k3s" (key dso-registry.server of ConfigMap kube-system/coredns-custom), or "none" (pods do not resolve it).',
                ),
            kubectlContext: z
                .string()
                .min(1)
                .optional()
                .describe(
                    'kubectl context the "microk8s" commands use (set it to the same context as kubernetes:context); the current context when unset.',
                ),
        })
        .prefault({})
        .describe("The registry's host name inside pods, through the cluster's CoreDNS (docs/in-cluster.md, Cluster DNS)."),
});

const externalHost = z.strictObject({
    ssh: z.strictObject(sshConnection).describe("SSH connection to the registry host; the key is the secret `sshPrivateKey`."),
    dataDir: z
        .string()
        .startsWith("/", { error: "must be an absolute path" })
        .default("/srv/data/registry")
        .describe("Registry data directory on the host."),
    mavenDataDir: z
        .string()
        .startsWith("/", { error: "must be an absolute path" })
        .default("/srv/data/maven")
        .describe("The Maven repository's files on the host, when the host serves it (mavenRegistry.host is containerRegistry.host)."),
    purgeDataOnDestroy: z
        .boolean()
        .default(false)
        .describe("Delete the registry data (and the Maven files) on `pulumi destroy`. Off: they survive a destroy."),
    installPackages: z
        .boolean()
        .default(true)
        .describe("Install Docker and Caddy from the distribution's packages when missing; otherwise only check."),
});

const existing = z.strictObject({
    caCertificate: z
        .string()
        .includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" })
        .optional()
        .describe("CA certificate (PEM) that signs the existing registry's certificate, when it is not public."),
});

const node = z.strictObject({
    name: k8sName.describe("Name used in resource names and synth output."),
    ...sshConnection,
    runtime: z.enum(RUNTIME_FLAVOURS).optional().describe("Override the group's runtime for this node."),
    local: z.boolean().default(false).describe("Pulumi runs on this node itself: use local commands instead of SSH."),
    role: z
        .enum(["server", "agent"])
        .default("server")
        .describe(
            'k3s / RKE2: "server" nodes (control plane, etcd) restart one at a time after registries.yaml changes; "agent" nodes restart after them, `nodes.restartBatchSize` at a time.',
        ),
    kubernetesNodeName: k8sNodeName
        .optional()
        .describe("The node's name in Kubernetes, for the Ready check after a restart; the machine's host name (lower case) when unset."),
});

const nodes = z.strictObject({
    delivery: z
        .enum(["ssh", "daemonset", "none"])
        .default("none")
        .describe('"ssh": one set of remote commands per node; "daemonset": a privileged DaemonSet; "none".'),
    runtime: z.enum(RUNTIME_FLAVOURS).default("containerd").describe("Container runtime flavour of the nodes."),
    registryAddress: z
        .string()
        .regex(IPV4, { error: "must be an IPv4 address" })
        .optional()
        .describe("Address that the registry host name resolves to on nodes (managed /etc/hosts block); DNS when unset."),
    allowContainerdRestart: z
        .boolean()
        .default(false)
        .describe("Allow restarting containerd to set the CRI plugin's config_path (containerd flavour)."),
    allowServiceRestart: z.boolean().default(true).describe("Allow restarting k3s / rke2 when registries.yaml changes."),
    restartBatchSize: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(1)
        .describe("k3s / RKE2 agents restarted at the same time after registries.yaml changes (servers always restart one at a time)."),
    restartTimeoutSeconds: z
        .number()
        .int()
        .min(10)
        .max(3600)
        .default(300)
        .describe("Seconds a restarted k3s / RKE2 node has to be active and Ready again; otherwise the run stops before the next node."),
    namespace: k8sName
        .default("dso-node-trust")
        .describe('Namespace of the node-trust DaemonSet (delivery "daemonset"), created with the privileged Pod Security level.'),
    insecurePlainHttp: z.boolean().default(false).describe("Plain-HTTP registry (no TLS). Dangerous: images can be swapped in transit."),
    list: z.array(node).default([]).describe('Nodes reached over SSH (delivery "ssh").'),
});

const jenkins = z.strictObject({
    enabled: z.boolean().default(false).describe("Manage the Jenkins credentials and the pipeline-config ConfigMap."),
    url: z
        .url({ error: "must be a URL such as https://jenkins.example.com" })
        .optional()
        .describe('Jenkins base URL, e.g. "https://jenkins.example.com".'),
    user: z.string().min(1).default("admin").describe("Jenkins user the API calls are made as."),
    auth: z
        .enum(["token", "password"])
        .default("token")
        .describe('"token": API token (`jenkinsApiToken`, no crumb needed); "password" (`jenkinsPassword`, crumb + session).'),
    caCertificate: z
        .string()
        .includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" })
        .optional()
        .describe("CA certificate (PEM) for Jenkins's TLS when it is not publicly trusted."),
    registryHostCredentialId: credentialId
        .optional()
        .describe("Credential ID of a secret-text credential holding the registry host, for pipelines that want it."),
    pipelineConfigNamespace: k8sName.default("jenkins").describe("Namespace of the pipeline-config ConfigMap."),
    pipelineConfigName: k8sName.default("pipeline-config").describe("Name of the pipeline-config ConfigMap."),
    timeoutSeconds: z.number().int().min(1).max(300).default(30).describe("Request timeout in seconds."),
    agentImages: z
        .strictObject({
            dockerCli: imageRef.default("docker:27.3.1-cli").describe("Docker CLI of the docker-in-docker agent template."),
            dockerDaemon: imageRef.default("docker:27.3.1-dind").describe("Docker engine sidecar of the docker-in-docker agent template."),
            kaniko: imageRef
                .default("gcr.io/kaniko-project/executor:v1.23.2-debug")
                .describe("kaniko executor of the kaniko agent template; a `-debug` tag, which has the shell `sh` steps need."),
            buildah: imageRef.default("quay.io/buildah/stable:v1.37.0").describe("buildah of the buildah agent template."),
        })
        .prefault({})
        .describe(
            "Images of the agent pod templates in ConfigMap `dso-registry-agent-pods` (docs/ci-agents.md); mirror them for clusters without internet access.",
        ),
    usernameSecret: z
        .boolean()
        .default(false)
        .describe(
            'Mask the user names of the username/password credentials in build logs (Jenkins\'s "Treat username as secret"). Written on every update; a change made in Jenkins shows up as drift after a refresh.',
        ),
});

const pullSecrets = z.strictObject({
    namespaces: z
        .array(k8sName)
        .default([])
        .describe("Namespaces that get a `kubernetes.io/dockerconfigjson` Secret for the pull-only account."),
    secretName: k8sName.default("registry-pull").describe("Name of those Secrets."),
    flux: z.boolean().default(false).describe("Create the Flux `registry-credentials` Secret in flux-system."),
});

const caConfigMap = z.strictObject({
    delivery: z
        .enum(["program", "trust-manager"])
        .default("program")
        .describe(
            'Who writes ConfigMap `dso-registry-ca` (key `ca.crt`) into Jenkins\'s namespace and every pullSecrets.namespaces entry: "program" writes one ConfigMap per namespace; "trust-manager" creates a cert-manager trust-manager Bundle `dso-registry-ca`, and trust-manager (installed in the cluster) writes and keeps the copies. Needs a CA the program publishes; with several namespaces, a trust-manager that reads `namespaceSelector.matchExpressions` (docs/in-cluster.md, CA copies through trust-manager).',
        ),
    trustNamespace: k8sName
        .default("cert-manager")
        .describe(
            "trust-manager's trust namespace (its Helm value `app.trust.namespace`), where the Bundle's source ConfigMap `dso-registry-ca-source` is written; trust-manager reads sources only there.",
        ),
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
    caConfigMap: caConfigMap
        .prefault({})
        .describe("How the registry's CA reaches the namespaces whose pods talk to the registry themselves (ConfigMap `dso-registry-ca`)."),
} as const;

/** The whole plain configuration: every key above, and nothing else. */
export const schema = z.strictObject(configShape);

/** What the schema yields: every key checked and defaults filled in, before the rules across keys. */
export type FlatConfig = z.output<typeof schema>;
