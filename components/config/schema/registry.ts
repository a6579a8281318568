/**
 * The registry itself: the container and Maven registries as clients address them, and how the
 * registry runs (image, certificate, storage, upkeep, web UI, pull-through mirrors).
 */
import { z } from "zod";
import {
    DEFAULT_GC_SCHEDULE,
    DEFAULT_IMAGES,
    DEFAULT_MAVEN_NGINX_IMAGE,
    DEFAULT_PROBE_IMAGE,
    DEFAULT_PUSH_USERNAME,
    DEFAULT_ROTATION,
    DEFAULT_STORAGE_SIZE,
    DEFAULT_VALIDITY_DAYS,
} from "../../shared/defaults";
import { DEFAULT_RESTIC_IMAGE } from "../../shared/facts";
import { REPOSITORY_PREFIX } from "../../shared/imageReference";
import { DEFAULT_WARM_PLATFORMS, DEFAULT_WARM_SCHEDULE } from "../../shared/warmList";
import { distributionConfig } from "./distribution";
import {
    cidr,
    credentialId,
    cronSchedule,
    hostName,
    imageRef,
    k8sName,
    mavenPathProblem,
    mirrorUpstreamProblem,
    port,
    quantity,
    repositoryPrefixProblem,
    rotationCounter,
    signingPublicKey,
    tagPatternProblem,
    username,
    warmImage,
    warmPlatform,
} from "./values";

/** The password settings of a named account (`containerRegistry.pushAccounts`, `containerRegistry.readAccounts`). */
const namedAccountPassword = {
    password: z
        .enum(["generated", "operator"])
        .default("generated")
        .describe(
            'Who owns its password: "generated" (@pulumi/random, owned by this program) or "operator" (its entry, by account name, in the secret `dso-registry:accountPasswords`).',
        ),
    rotation: rotationCounter
        .optional()
        .describe(
            "Set or bump to rotate this account's generated password alone; containerRegistry.rotation and rotateAfterDays rotate it with the others.",
        ),
};

/**
 * The tags retention never removes unless the operator says otherwise: `latest`, and release tags
 * written as three numbers with an optional "v" (1.4.2, v1.4.2). Pre-release and build tags
 * (1.4.2-rc.1, 1.4.2-SNAPSHOT, a commit hash) are not protected.
 */
export const DEFAULT_PROTECTED_TAGS = ["latest", "v?[0-9]+\\.[0-9]+\\.[0-9]+"] as const;

/** Key `containerRegistry`: the container registry as clients address it. */
export const containerRegistry = z.strictObject({
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
    pushUsername: username.default(DEFAULT_PUSH_USERNAME).describe("Push account user name (the account Jenkins pushes with)."),
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
    pushAccounts: z
        .array(
            z.strictObject({
                name: username.describe("The account's user name."),
                prefixes: z
                    .array(
                        z.string().regex(REPOSITORY_PREFIX, {
                            error: 'must be repository name components, each followed by "/", e.g. "docker-internal/p2c/team-a/"',
                        }),
                    )
                    .min(1, { error: "needs at least one prefix: the account could write nowhere" })
                    .describe(
                        'Repository prefixes it may push to, mount into and delete in, each under containerRegistry.pathPrefix and ending in "/" (e.g. "docker-internal/p2c/team-a/"); whole path components, case-sensitive.',
                    ),
                credentialId: credentialId
                    .optional()
                    .describe(
                        "ID of its Jenkins credential (jenkins.enabled); default: containerRegistry.credentialId, a dash and the account's name (container-registry-team-a).",
                    ),
                ...namedAccountPassword,
            }),
        )
        .default([])
        .describe(
            "Push accounts scoped to repository prefixes (one per pipeline or team), beside the push account, which keeps every right. Each has its own password and, with jenkins.enabled, its own Jenkins credential; read them with `pulumi stack output --show-secrets pushAccountCredentials`. The front refuses every write outside the prefixes (docs/access-policy.md). Removing an entry revokes that account alone (docs/runbooks.md, Credential leaked).",
        ),
    readAccounts: z
        .array(
            z.strictObject({
                name: username.describe("The account's user name."),
                ...namedAccountPassword,
                pullSecret: z
                    .strictObject({
                        namespaces: z
                            .array(k8sName)
                            .min(1, { error: "needs at least one namespace; remove pullSecret for none" })
                            .describe("Namespaces (they must exist) that get a `kubernetes.io/dockerconfigjson` Secret with this account."),
                        secretName: k8sName
                            .optional()
                            .describe(
                                "Name of those Secrets; default: registry-read- and the account's name. No ServiceAccount is patched: pods or ServiceAccounts name it in imagePullSecrets.",
                            ),
                    })
                    .optional()
                    .describe("Pull secrets holding this account (a team's namespace, Flux's image reflector, a cache)."),
            }),
        )
        .default([])
        .describe(
            "Read-only accounts (developers, Flux, caches), one per person or client: each pulls and lists but never writes, has its own password, and is revoked alone by removing its entry. They matter when pulls need credentials (containerRegistry.requiresAuthForPull); read them with `pulumi stack output --show-secrets readAccountCredentials`.",
        ),
    signingKeys: z
        .array(signingPublicKey)
        .default([])
        .superRefine((keys, ctx) => {
            keys.forEach((key, i) => {
                const first = keys.findIndex((other) => other.trim() === key.trim());
                if (first < i)
                    ctx.addIssue({ code: "custom", path: [i], message: `is the same key as signingKeys[${first}]: give each key once` });
            });
        })
        .describe(
            'Public keys (PEM, as cosign writes cosign.pub) that the pipelines sign the registry\'s images with. Nodes of runtime "crio" (CRI-O, podman) then pull images under containerRegistry.host and pathPrefix only with a sigstore signature by one of them (docs/node-trust.md, Signatures required at pull). Public keys, not secrets.',
        ),
    rotation: rotationCounter.default(DEFAULT_ROTATION).describe("Bump to rotate every generated registry password in one `pulumi up`."),
    rotateAfterDays: z
        .number()
        .int()
        .min(1)
        .max(3650)
        .optional()
        .describe(
            "Rotate every generated registry password by age: the first `pulumi up` in each new period of this many days (counted from 1970-01-01 UTC) generates new ones, and Jenkins's credentials and the pull secrets follow in the same `up`; the stack output `accountRotation` and an alert tell when the next is due. Turning it on rotates once. Unset: only `rotation` rotates them.",
        ),
    rotationOverlapHours: z
        .number()
        .int()
        .min(0)
        .max(720)
        .default(24)
        .describe(
            "Hours a generated password's previous value keeps working on every front after the `pulumi up` that rotated it (by `rotateAfterDays`, `rotation` or an account's own `rotation`): a pipeline that read the credential before the `up` still pushes, and its retries never count toward a ban. The fronts end the overlap by their own clock, whether or not anyone runs `up`; after it the previous password is a wrong password like any other. 0: it stops at the rotation.",
        ),
});

/** Key `mavenRegistry`: the Maven repository CI deploys to. */
export const mavenRegistry = z.strictObject({
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
    nginxImage: imageRef
        .default(DEFAULT_MAVEN_NGINX_IMAGE)
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

export const tls = z.strictObject({
    mode: z
        .enum(["generated-ca", "acme", "provided", "cert-manager", "public"])
        .default("generated-ca")
        .describe(
            '"generated-ca": a CA and server certificate made by @pulumi/tls (nodes are given the CA); "acme": Caddy obtains a public certificate (external host only); "provided": the operator\'s certificate (`tlsCertificate`) and key (`tlsPrivateKey`, secret); "cert-manager": cert-manager issues it in the cluster (in-cluster only), from an issuer chain the program creates (a self-signed issuer, a CA, a CA issuer) or from the issuer named in `certManagerIssuer`; "public": the registry already has a publicly trusted certificate (existing registries only).',
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
        .describe(
            "An issuer of your own for mode \"cert-manager\" (for example a ClusterIssuer for Let's Encrypt). Unset: the program creates its own chain in the registry's namespace (Issuer `dso-registry-selfsigned`, Certificate and Secret `dso-registry-ca`, Issuer `dso-registry-ca`, Certificate `registry-tls`) and gives the nodes and the `dso-registry-ca` ConfigMaps the CA it reads from cert-manager's Secret.",
        ),
    certManagerCaCertificate: z
        .string()
        .includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" })
        .optional()
        .describe(
            "CA certificate (PEM) of the issuer named in `certManagerIssuer`, when it is a private CA: the nodes and the `dso-registry-ca` ConfigMaps get it. Leave unset for a publicly trusted issuer, and with the program's own chain (its CA is read from cert-manager).",
        ),
    caValidityDays: z
        .number()
        .int()
        .min(30)
        .max(36500)
        .default(DEFAULT_VALIDITY_DAYS.ca)
        .describe(
            "Lifetime of the generated CA, in days (with mode \"cert-manager\" and the program's own chain: the chain's CA, which cert-manager renews with the same key). Renewed by the first `pulumi up` in its last third, at most its last 90 days (the same key: certificates it signed keep verifying while nodes switch).",
        ),
    serverCertValidityDays: z
        .number()
        .int()
        .min(7)
        .max(3650)
        .default(DEFAULT_VALIDITY_DAYS.serverCert)
        .describe(
            "Lifetime of the generated server certificate, in days (with mode \"cert-manager\" and the program's own chain: the registry's certificate, which cert-manager renews in its last third). Renewed by the first `pulumi up` in its last third, at most its last 30 days.",
        ),
});

export const storage = z.strictObject({
    kind: z
        .enum(["filesystem", "s3"])
        .default("filesystem")
        .describe('"filesystem" (a PersistentVolumeClaim or the host\'s data dir) or "s3" (S3-compatible object storage).'),
    size: quantity.default(DEFAULT_STORAGE_SIZE).describe("PVC size (in-cluster, filesystem)."),
    storageClass: k8sName
        .optional()
        .describe(
            "PVC storage class; the cluster default when unset. It applies to claims when they are created: an existing claim keeps its class (Kubernetes cannot change it), so setting or changing it later changes nothing until the claim is made anew (docs/in-cluster.md, Changing the storage class).",
        ),
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
            schedule: cronSchedule.default(DEFAULT_GC_SCHEDULE).describe("Cron schedule."),
            deleteUntagged: z.boolean().default(false).describe("Also delete manifests no tag points to."),
            mode: z
                .enum(["window", "online"])
                .default("window")
                .describe(
                    '"window": each collection runs in a read-only window (pushes get 503 with Retry-After until it ends) and restarts Distribution with an empty cache. "online" (the external host only): the collection runs while pushes go on; a check of a blob being swept answers 404, and a manifest PUT, or that blob\'s commit or mount, that comes while the sweep runs waits at the front for those seconds and then lands (after 25 s it gets 503, which docker, containerd 1.x and skopeo do not retry). Distribution runs without its blob-descriptor cache (changing the mode restarts it), and tag retention\'s removals and Maven\'s clean-up get a read-only window of a few seconds of their own. Not with deleteUntagged, which needs the window (docs/deletes-and-gc.md, Collection while pushes go on).',
                ),
        })
        .prefault({})
        .describe(
            "Scheduled garbage collection: in a read-only window (the default, cache cleared after), or online on the external host.",
        ),
    retention: z
        .strictObject({
            mode: z
                .enum(["dry-run", "apply"])
                .default("dry-run")
                .describe(
                    '"dry-run": each garbage collection lists the tags the rules would remove (its log, and the metrics on the external host) and removes none; "apply": it removes them, inside the read-only window before the collection, which then frees their blobs. Start with "dry-run", read what it would remove, then switch (docs/deletes-and-gc.md, Retention).',
                ),
            rules: z
                .array(
                    z
                        .strictObject({
                            prefix: z
                                .string()
                                .regex(REPOSITORY_PREFIX, {
                                    error: 'must be repository name components, each followed by "/", e.g. "docker-internal/p2c/team-a/"',
                                })
                                .describe(
                                    'The repositories the rule covers: every repository whose name starts with it, under containerRegistry.pathPrefix and ending in "/" (e.g. "docker-internal/p2c/team-a/"); whole path components, case-sensitive. A repository under several rules follows the longest prefix.',
                                ),
                            keepNewest: z
                                .int()
                                .min(1)
                                .optional()
                                .describe(
                                    "Keep this many of each repository's newest tags (by push time, see docs/deletes-and-gc.md, Retention).",
                                ),
                            keepDays: z.int().min(1).optional().describe("Keep every tag younger than this many days."),
                            keepPulledWithinDays: z
                                .int()
                                .min(1)
                                .optional()
                                .describe(
                                    "Keep every tag pulled within this many days, however old: pulled by tag, by the digest it points to, or by the digest of an image of its index, as the front's access log recorded it (the external host; in-cluster through a harvest of the fronts' logs every 15 minutes into ConfigMap registry-pull-history; on kind through an hourly harvest of the front container's log into <kind.dataDir>/pulls; docs/deletes-and-gc.md, Retention by last pull). A tag nobody pulled goes by the rule's other terms; alone, it is removed. Until the pull history reaches this many days back, a tag it does not show pulled is kept.",
                                ),
                        })
                        .refine(
                            (rule) =>
                                rule.keepNewest !== undefined || rule.keepDays !== undefined || rule.keepPulledWithinDays !== undefined,
                            {
                                error: "needs keepNewest, keepDays or keepPulledWithinDays (any of them): a rule without one would remove every unprotected tag",
                            },
                        ),
                )
                .default([])
                .describe(
                    "Tag retention by repository prefix, run by each garbage collection: it reads the tags before the read-only window and removes the ones it chose inside it (needs registry.maintenance.garbageCollection.enabled). In a repository under a rule, a tag is kept when it is among the keepNewest newest, or younger than keepDays, or pulled within keepPulledWithinDays, or matches `protect`, or (in-cluster) a running pod names it or its digest; every other tag is removed. Repositories under no rule are untouched. Empty: no retention.",
                ),
            protect: z
                .array(
                    z.string().superRefine((value, ctx) => {
                        const problem = tagPatternProblem(value);
                        if (problem) ctx.addIssue({ code: "custom", message: problem });
                    }),
                )
                .default([...DEFAULT_PROTECTED_TAGS])
                .describe(
                    'Tags retention never removes: POSIX extended regular expressions matched against the whole tag (grep -Ex), e.g. "release-.*". The default protects `latest` and release tags of three numbers (1.4.2, v1.4.2). The external host and kind cannot see the cluster\'s pods: protect there what runs.',
                ),
        })
        .prefault({})
        .describe("Tag retention: which tags garbage collection removes first (docs/deletes-and-gc.md, Retention)."),
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
    enabled: z
        .boolean()
        .default(false)
        .describe(
            "Serve the web UI (joxit/docker-registry-ui) at https://<host>/registry/ on the registry's own origin: in the cluster its own Deployment, Service and Ingress; on the external host a container behind Caddy.",
        ),
    image: imageRef.default(DEFAULT_IMAGES.ui).describe("Web UI image; pin by digest for production."),
    deleteEnabled: z
        .boolean()
        .default(false)
        .describe("Allow deleting images from the UI (and the API); needs push credentials in the browser."),
});

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
    warm: z
        .strictObject({
            images: z
                .array(warmImage)
                .min(1, { error: "list at least one image, or leave warm out" })
                .describe(
                    'Images fetched through the cache ahead of need, as the upstream writes them, with a tag or a sha256 digest: "library/nginx:1.30", "nginx:1.30" (docker.io reads one-part names under library/), "org/app@sha256:…".',
                ),
            platforms: z
                .array(warmPlatform)
                .min(1, { error: 'list at least one platform, or "all"' })
                .default([...DEFAULT_WARM_PLATFORMS])
                .describe(
                    'For an image whose manifest is an index (multi-platform): the platforms whose manifests and layers are fetched, "os/architecture[/variant]" ("linux/arm64" also takes "linux/arm64/v8"), or "all" (every entry, attestations included). The default covers the two architectures Kubernetes nodes run; an image with neither fails its warm.',
                ),
            schedule: cronSchedule
                .default(DEFAULT_WARM_SCHEDULE)
                .describe(
                    "Cron schedule of the scheduled warm run (a CronJob in the cluster, a cron entry on the external host); `up` also runs it whenever images or platforms change. Run it at least once within maxAge, or warmed content expires.",
                ),
        })
        .optional()
        .describe(
            "Warm the cache ahead of need: `up` (when the list changes) and a schedule fetch every listed image through the cache, so nodes pull them even when the upstream cannot be reached later (docs/mirrors.md, Warming a cache ahead of need). In the cluster and on the external host; not with registry.mode kind.",
        ),
});

const monitoring = z.strictObject({
    enabled: z
        .boolean()
        .default(true)
        .describe(
            "Metrics, job outcomes and alert rules (docs/monitoring.md): Distribution's and Caddy's Prometheus metrics on listeners only the host (loopback) or the pod reaches; on the external host, prometheus-node-exporter installed (listening on loopback) with the upkeep jobs' outcomes, the certificate's expiry and the free disk in its textfile collector, plus a rules file and a scrape file for the host's Prometheus; in the cluster, scrape annotations (or PodMonitor and PrometheusRule, see prometheusOperator).",
        ),
    prometheusOperator: z
        .boolean()
        .default(false)
        .describe(
            "In-cluster: the cluster runs prometheus-operator (its CRDs exist): a PodMonitor and a PrometheusRule are created instead of scrape annotations.",
        ),
    probeImage: imageRef
        .default(DEFAULT_PROBE_IMAGE)
        .describe(
            "In-cluster: blackbox_exporter's image in the certificate probe's pod (docs/monitoring.md), which reports the certificate the registry serves. Pin it by digest in production.",
        ),
    runbookBaseUrl: z
        .string()
        .min(1)
        .default("docs/runbooks.md")
        .describe(
            "Where the alerts' runbook links point: the address of this program's docs/runbooks.md as your people read it (e.g. its page in your Git forge); each alert adds its section's anchor.",
        ),
});

const loginLimit = z.strictObject({
    enabled: z
        .boolean()
        .default(true)
        .describe(
            "Refuse clients that keep failing to log in (docs/access-policy.md, Failed logins are limited): on the external host fail2ban bans the address at the firewall; in the cluster the token endpoint (ingress-nginx: and the ping; Traefik: and every request with credentials) is rate-limited per client address. On the host CI's challenge and good logins never count. In the cluster it needs a controller that can limit: behind a Gateway whose controller is not Traefik nothing can, and `preview` refuses it on until it is set to false, which runs the registry with no limit on password guesses.",
        ),
    maxRetry: z
        .number()
        .int()
        .min(3)
        .max(1000)
        .default(10)
        .describe("External host: failed logins (wrong or unknown credentials) from one address within findTimeSeconds that ban it."),
    findTimeSeconds: z.number().int().min(10).max(86400).default(600).describe("External host: the window failed logins are counted in."),
    banTimeSeconds: z
        .number()
        .int()
        .min(10)
        .max(604800)
        .default(3600)
        .describe("External host: how long a banned address is refused (every connection to the registry's port)."),
    tokenRequestsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(6000)
        .default(60)
        .describe(
            "In-cluster (ingress-nginx or Traefik): token requests per minute one client address may make, good or bad (the controller cannot tell them apart), with a burst of as many at once; past it, 503 (ingress-nginx) or 429 (Traefik). With ingress-nginx the pings (/v2/) count in the same budget. Every login and every docker pull asks for a token: size it for the busiest CI agent or node.",
        ),
    credentialRequestsPerMinute: z
        .number()
        .int()
        .min(1)
        .max(60000)
        .default(300)
        .describe(
            "In-cluster with Traefik (Ingress or Gateway API): every other request that carries credentials (an Authorization header other than the anonymous token: pings with an account, a push's uploads and manifests, pulls with an account), per minute per client address, with a burst of as many at once; past it, 429. Each one can cost a password check, so this is also the guesses per minute an address gets there. A push makes about four such requests per new layer: size it for the busiest CI agent's pushes.",
        ),
    ignoreNetworks: z
        .array(cidr)
        .default([])
        .describe("Client networks never banned or limited (e.g. CI's); loopback never is. Traefik's rate limit exempts none."),
    allowUnlimitedCredentialRequests: z
        .boolean()
        .default(false)
        .describe(
            'In-cluster with ingress-nginx: accept that only the token endpoint and the ping are limited. Every other request with credentials (a push\'s uploads and manifests, deletes, Maven deploys, reads with an account) can carry a password guess, and ingress-nginx cannot limit them without limiting anonymous pulls: unlimited guesses, each costing the front a password check. `preview` refuses ingress-nginx with the login limit on until this is true; Traefik (inCluster.ingressController "traefik") or the external host limit every guess instead.',
        ),
});

const percent = z.number().int().min(50).max(99);

const diskGuard = z
    .strictObject({
        enabled: z
            .boolean()
            .default(true)
            .describe(
                "Refuse new uploads (507, with a message saying the disk is full and what frees it) while the file system of the registry's data is used past refusePercent: the external host's data directory (a cron job), the in-cluster registry's volume (a disk-guard container in its pod), kind.dataDir (kind's upkeep container). Pulls and deletes go on, and pushes resume by themselves once a clean-up brings it below (checked every five minutes). Uploads already open are refused their data too; one whose data all came before may commit. Where the front serves the Maven repository, Maven deploys are refused (507) the same way while its files' file system is used past refusePercent (the in-cluster volume of mavenRegistry.storageSize, externalHost.mavenDataDir); downloads go on. With registry.storage.kind \"s3\" only that one is guarded, and without Maven the setting is moot: a bucket is no disk of the registry's to fill (docs/runbooks.md, Disk full).",
            ),
        warnPercent: percent
            .default(80)
            .describe(
                "External host: the alert DsoRegistryDiskAlmostFull fires while the data directory's file system is used past this percentage (in the cluster it fires at 10% of the volume free; kind has no alert rules).",
            ),
        refusePercent: percent.default(90).describe("Past this percentage used, new uploads are refused (with enabled)."),
    })
    .refine((g) => g.warnPercent < g.refusePercent, {
        error: "warnPercent must be below refusePercent, so that the alert comes before pushes are refused",
        path: ["warnPercent"],
    });

/** Key `registry`: how and where the registry runs. */
export const registry = z.strictObject({
    mode: z
        .enum(["in-cluster", "external-host", "kind", "existing"])
        .describe(
            'Where the registry runs: "in-cluster", "external-host" (over SSH), "kind" (containers on the Docker host of a kind cluster, docs/kind.md) or "existing" (not ours).',
        ),
    image: imageRef.default(DEFAULT_IMAGES.registry).describe('Distribution image; pin by digest with "registry@sha256:\u2026".'),
    caddyImage: imageRef
        .default(DEFAULT_IMAGES.caddy)
        .describe(
            "Caddy image of the front in every placement: the in-cluster sidecar, the front container of registry.mode \"kind\", and the external host's front (a container on the host's network; with monitoring on, also the metrics relay that lets only Distribution's /metrics out of its container).",
        ),
    tls: tls.prefault({}).describe("How the registry gets its certificate."),
    allowedNetworks: z.array(cidr).default([]).describe("Client networks allowed to reach the registry at all; everyone when empty."),
    storage: storage.prefault({}).describe("Where image data lives."),
    maintenance: maintenance.prefault({}).describe("Garbage collection and backups."),
    ui: ui.prefault({}).describe("Optional web UI."),
    monitoring: monitoring.prefault({}).describe("Metrics, alert rules and the upkeep jobs' outcomes as metrics (docs/monitoring.md)."),
    loginLimit: loginLimit
        .prefault({})
        .describe("Repeated failed logins refused before they cost a password check (docs/access-policy.md)."),
    diskGuard: diskGuard
        .prefault({})
        .describe(
            "A data disk that cannot fill: an alert past warnPercent used, new uploads refused past refusePercent (docs/runbooks.md, Disk full).",
        ),
    replicas: z.number().int().min(1).max(20).default(1).describe("Registry replicas (in-cluster). More than one needs s3 storage."),
    mirrors: z
        .array(mirror)
        .max(20)
        .default([])
        .describe(
            "Pull-through caches, one per upstream registry, behind the registry's own front at /v2/mirrors/<upstream>/; nodes pull those upstreams' images through them and fall back to the upstream (docs/mirrors.md).",
        ),
    distributionConfig: distributionConfig
        .optional()
        .describe(
            "Additions to the registry's config.yml, merged into what the program writes in every placement that runs one (not the caches): log, http.headers, notifications, validation (docs/distribution-config.md). The program's own keys are refused with the setting that decides them, and any other key too, since Distribution ignores unknown keys without a word.",
        ),
    mirrorPull: z
        .enum(["accounts", "allowlist", "anonymous"])
        .optional()
        .describe(
            'Who may pull through the caches of registry.mirrors: "accounts" (the push or pull account; nodes are given the pull account), "allowlist" (anyone from registry.allowedNetworks, which must not be empty) or "anonymous" (anyone who reaches the front: the registry then fetches from the upstreams for anyone). Unset: "allowlist" when registry.allowedNetworks is set, "accounts" otherwise (docs/mirrors.md, Who may pull through the caches).',
        ),
});
