/**
 * The shape of a stack file, one per registry.mode: each mode takes its own placement block and only
 * the registry settings it acts on; within it, a setting with variants takes one variant at a time, each
 * with only its own keys: `registry.tls` by TLS mode (only the modes the placement offers),
 * `registry.storage` by kind, backups by `enabled` and their destination by kind, the UI, garbage
 * collection, monitoring and the login limit by `enabled`, node trust by delivery, Jenkins by `enabled`.
 * What a variant does not take is refused by the shape, with the setting that rules it out and the
 * command that takes the key out of the stack file.
 *
 * Every entry is the catalogue's own (./schema.ts and schema/): its description, default and value
 * rules are written once; this file only says which entries each variant holds, and which a variant
 * needs (what the catalogue leaves optional because another variant goes without it).
 */
import { z } from "zod";
import { PROJECT } from "../shared/facts";
import { keyPath } from "./problems";
import { configShape } from "./schema";
import { jenkins } from "./schema/integrations";
import { nodes } from "./schema/nodes";
import { registry, storage, tls } from "./schema/registry";

export const REGISTRY_MODES = ["in-cluster", "external-host", "kind", "existing"] as const;
export type RegistryMode = (typeof REGISTRY_MODES)[number];

type Raw = Readonly<Record<string, unknown>>;
type Options = readonly [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]];

/** The value at `key` of an object, for messages and defaults. */
const field = (input: unknown, key: string) => (input !== null && typeof input === "object" ? (input as Raw)[key] : undefined);

/** The default discriminator value of each union `variants` makes, for telling which variant a stack file is in. */
const DEFAULT_VARIANT = new WeakMap<z.ZodType, unknown>();

/**
 * A setting with variants: a union on `discriminator` whose default (when the stack file leaves the
 * discriminator out) is `fallback`; `refusal` words a discriminator value no variant takes.
 */
function variants<const T extends Options>(
    discriminator: string,
    options: T,
    fallback: string | boolean,
    refusal: (value: unknown) => string,
) {
    const union = z.discriminatedUnion(discriminator, options, {
        error: (issue) => (issue.code === "invalid_union" ? refusal(field(issue.input, discriminator)) : undefined),
    });
    DEFAULT_VARIANT.set(union, fallback);
    const fill = (input: unknown) =>
        input !== null && typeof input === "object" && !Array.isArray(input) && !(discriminator in input)
            ? { ...input, [discriminator]: fallback }
            : input;
    return z.preprocess(fill, union);
}

/** An entry the catalogue leaves optional, required in a variant: missing, it is told with the setting that needs it. */
function requiredWith<T extends z.ZodType>(entry: T, why: string): T {
    const own = entry.def.error;
    return entry.clone({
        ...entry.def,
        error: (issue: z.core.$ZodRawIssue) =>
            issue.code === "invalid_type" && issue.input === undefined ? `is required with ${why}` : own?.(issue as never),
    } as T["def"]) as T;
}

/**
 * A feature switched by `enabled` (default `fallback`): off, it takes only the keys listed in `whenOff`
 * (those that still act); on, every key of `on`. A placement that never runs the feature takes `neverOn`.
 */
function switched<Shape extends z.core.$ZodLooseShape, Off extends keyof Shape = never>(
    on: Shape,
    fallback: boolean,
    whenOff: readonly Off[] = [],
) {
    const off = Object.fromEntries(whenOff.map((key) => [key, on[key]])) as Pick<Shape, Off>;
    return variants(
        "enabled",
        [z.strictObject({ ...off, enabled: z.literal(false) }), z.strictObject({ ...on, enabled: z.literal(true) })],
        fallback,
        (value) => `must be true or false, got ${JSON.stringify(value)}`,
    ).prefault({});
}

/** A feature a placement never runs: only `enabled: false` is taken, and `true` is refused with `why`. */
const neverOn = (why: string) =>
    variants("enabled", [z.strictObject({ enabled: z.literal(false) })], false, (value) =>
        value === true ? `is true, but ${why}` : `must be false, got ${JSON.stringify(value)}`,
    ).prefault({});

// ---------------------------------------------------------------------------------------------
// registry.tls, by TLS mode
// ---------------------------------------------------------------------------------------------

const t = tls.shape;
const lifetimes = { caValidityDays: t.caValidityDays, serverCertValidityDays: t.serverCertValidityDays };

/** `registry.tls`, one variant per TLS mode; each holds only its own settings. */
const TLS_VARIANTS = {
    "generated-ca": z.strictObject({ mode: z.literal("generated-ca"), ...lifetimes }),
    provided: z.strictObject({ mode: z.literal("provided"), ...lifetimes }),
    acme: z.strictObject({
        mode: z.literal("acme"),
        acmeEmail: requiredWith(t.acmeEmail.unwrap(), `registry.tls.mode "acme" (Let's Encrypt sends expiry notices there)`),
        acmeDirectory: t.acmeDirectory,
    }),
    "cert-manager": z.strictObject({
        mode: z.literal("cert-manager"),
        certManagerIssuer: t.certManagerIssuer,
        certManagerCaCertificate: t.certManagerCaCertificate,
        ...lifetimes,
    }),
    public: z.strictObject({ mode: z.literal("public") }),
} as const;
type TlsMode = keyof typeof TLS_VARIANTS;

/** The TLS modes each placement offers; its first is the default. kind serves plain HTTP and takes no `registry.tls`. */
export const TLS_MODES_OF = {
    "in-cluster": ["generated-ca", "provided", "cert-manager"],
    "external-host": ["generated-ca", "provided", "acme"],
    kind: [],
    existing: ["public"],
} as const satisfies Record<RegistryMode, readonly TlsMode[]>;

/** Why a TLS mode is not offered by a placement, in the words of the fix. */
function tlsModeRefusal(mode: RegistryMode, tlsMode: unknown): string {
    const offered = TLS_MODES_OF[mode].map((m) => `"${m}"`).join(", ");
    if (mode === "existing") {
        return `is ${JSON.stringify(tlsMode)}, but an existing registry (registry.mode "existing") is described with "public"; when a private CA signs its certificate, give existing.caCertificate`;
    }
    switch (tlsMode) {
        case "acme":
            return `"acme" needs registry.mode "external-host" (Caddy on the host answers the ACME challenge); in-cluster, use "cert-manager"`;
        case "cert-manager":
            return `"cert-manager" needs registry.mode "in-cluster"`;
        case "public":
            return `"public" describes an existing registry (registry.mode "existing"); a registry of our own (registry.mode "${mode}") uses ${offered}`;
        default:
            return `is ${JSON.stringify(tlsMode)}; allowed with registry.mode "${mode}": ${offered}`;
    }
}

/** `registry.tls` of a placement: the variants of the TLS modes it offers, its first mode the default. */
const tlsOf = <const T extends Options>(mode: Exclude<RegistryMode, "kind">, options: T) =>
    variants("mode", options, TLS_MODES_OF[mode][0], (value) => tlsModeRefusal(mode, value)).prefault({});

const TLS_OF = {
    "in-cluster": tlsOf("in-cluster", [TLS_VARIANTS["generated-ca"], TLS_VARIANTS.provided, TLS_VARIANTS["cert-manager"]]),
    "external-host": tlsOf("external-host", [TLS_VARIANTS["generated-ca"], TLS_VARIANTS.provided, TLS_VARIANTS.acme]),
    existing: tlsOf("existing", [TLS_VARIANTS.public]),
};

// ---------------------------------------------------------------------------------------------
// registry.storage, by kind
// ---------------------------------------------------------------------------------------------

const s = storage.shape;
const s3Storage = z.strictObject({
    kind: z.literal("s3"),
    s3: requiredWith(s.s3.unwrap(), 'registry.storage.kind "s3" (at least bucket)'),
});

/** Filesystem storage: the claim's size and class in the cluster, the data directory (nothing to set) elsewhere. */
const FILESYSTEM = {
    claim: z.strictObject({ kind: z.literal("filesystem"), size: s.size, storageClass: s.storageClass }),
    directory: z.strictObject({ kind: z.literal("filesystem") }),
};

/** `registry.storage` of a placement that offers a bucket: its filesystem storage, or s3. */
const storageWith = <const F extends z.ZodObject>(filesystem: F) =>
    variants("kind", [filesystem, s3Storage], "filesystem", (kind) => `is ${JSON.stringify(kind)}; allowed: "filesystem", "s3"`).prefault(
        {},
    );

/** `registry.storage` of each placement that takes it. */
const STORAGE_OF = {
    "in-cluster": storageWith(FILESYSTEM.claim),
    "external-host": storageWith(FILESYSTEM.directory),
    kind: variants(
        "kind",
        [FILESYSTEM.directory],
        "filesystem",
        (kind) => `is ${JSON.stringify(kind)}, but registry.mode "kind" keeps the images in kind.dataDir on the Docker host`,
    ).prefault({}),
};

// ---------------------------------------------------------------------------------------------
// registry.maintenance.backup, by enabled, and its destination by kind
// ---------------------------------------------------------------------------------------------

const maintenance = registry.shape.maintenance.unwrap();
const backup = maintenance.shape.backup.unwrap();
const b = backup.shape;
const d = b.destination.unwrap().shape;
const backupOff = z.strictObject({ enabled: z.literal(false) });

/** Where backups go, one variant per kind, each with what it needs. */
const DESTINATIONS = {
    sftp: z.strictObject({
        kind: z.literal("sftp"),
        host: requiredWith(d.host.unwrap(), `registry.maintenance.backup.destination.kind "sftp" (the backup machine's address)`),
        port: d.port,
        user: d.user,
        path: requiredWith(d.path.unwrap(), `registry.maintenance.backup.destination.kind "sftp" (the repository's directory there)`),
        hostKey: requiredWith(
            d.hostKey.unwrap(),
            `registry.maintenance.backup.destination.kind "sftp" (pin it: ssh-keyscan -t ed25519 <host>)`,
        ),
    }),
    s3: z.strictObject({
        kind: z.literal("s3"),
        endpoint: d.endpoint,
        bucket: requiredWith(d.bucket.unwrap(), `registry.maintenance.backup.destination.kind "s3"`),
        prefix: d.prefix,
        region: d.region,
    }),
    volume: z.strictObject({ kind: z.literal("volume"), size: d.size, storageClass: d.storageClass }),
};

/**
 * Backups of a placement that offers them: off, or on with a destination of a kind it offers (and the
 * placement's own settings, `extra`); `refusal` words a destination kind it does not offer.
 */
function backupWith<const D extends Options, const E extends z.core.$ZodLooseShape>(
    destinations: D,
    extra: E,
    refusal: (kind: unknown) => string,
    missing: string,
) {
    // Worded when it is needed: the walking helpers below are defined after the shapes that use this.
    const kinds = () => destinations.map((o) => `"${String(discriminatorValue(o as unknown as z.ZodObject, "kind"))}"`).join(" or ");
    const destination = z.discriminatedUnion("kind", destinations, {
        error: (issue) =>
            issue.code === "invalid_union"
                ? field(issue.input, "kind") === undefined
                    ? `needs its kind: ${kinds()}`
                    : refusal(field(issue.input, "kind"))
                : undefined,
    });
    const on = z.strictObject({
        enabled: z.literal(true),
        ...extra,
        schedule: b.schedule,
        keep: b.keep,
        destination: requiredWith(destination, `registry.maintenance.backup.enabled true: where the backups go (${missing}, Backups)`),
    });
    return variants("enabled", [backupOff, on], false, (value) => `must be true or false, got ${JSON.stringify(value)}`).prefault({});
}

const BACKUP_OF = {
    // restic runs in a job of its own image in the cluster; on the host it is installed.
    "in-cluster": backupWith(
        [DESTINATIONS.s3, DESTINATIONS.volume],
        { image: b.image },
        (kind) =>
            `is ${JSON.stringify(kind)}, but the in-cluster registry backs up to S3-compatible storage or a volume of its own: set kind "s3" with bucket (and endpoint for MinIO, Ceph RGW…), or kind "volume"; see docs/in-cluster.md, Backups`,
        'kind "s3" with bucket, or kind "volume"; docs/in-cluster.md',
    ),
    "external-host": backupWith(
        [DESTINATIONS.sftp, DESTINATIONS.s3],
        {},
        (kind) =>
            `is ${JSON.stringify(kind)}, but the external host backs up to another machine (kind "sftp") or to S3-compatible storage (kind "s3"); "volume" backs up the in-cluster registry only; see docs/external-host.md, Backups`,
        'kind "sftp" with host, path and hostKey, or kind "s3" with bucket; docs/external-host.md',
    ),
};

const gc = maintenance.shape.garbageCollection.unwrap().shape;
const { enabled: _gcEnabled, ...gcOn } = gc;
/**
 * The collection's mode where only the window runs: "online" needs the front's access log as a file the
 * collection reads, which only the external host's front writes (in the cluster and on kind it logs to stdout).
 */
const windowOnly = z
    .enum(["window"], {
        error: (issue) =>
            issue.input === "online"
                ? 'is "online", but collection while pushes go on runs on the external host only (registry.mode "external-host"): there the front writes the access log the collection reads as its record; in the cluster and on kind it logs to stdout. Use "window"'
                : `must be "window", got ${JSON.stringify(issue.input)}`,
    })
    .default("window")
    .describe(gc.mode.description ?? "");
/** Garbage collection: its schedule only when on; the external host keeps the script for a run by hand, which deleteUntagged and mode shape. */
const GARBAGE_COLLECTION = {
    "external-host": switched(gcOn, false, ["deleteUntagged", "mode"]),
    other: switched({ ...gcOn, mode: windowOnly }, false),
};

// The default is filled in level by level: an absent `maintenance` is `{}`, and each entry below takes its own default.
const maintenanceWith = <G extends z.ZodType, B extends z.ZodType>(garbageCollection: G, backupShape: B) =>
    maintenance.extend({ garbageCollection, backup: backupShape }).prefault({} as never);

// ---------------------------------------------------------------------------------------------
// jenkins, by enabled
// ---------------------------------------------------------------------------------------------

const { enabled: _enabled, url, ...jenkinsSettings } = jenkins.shape;
const JENKINS = variants(
    "enabled",
    [
        z.strictObject({ enabled: z.literal(false) }),
        z.strictObject({
            enabled: z.literal(true),
            url: requiredWith(url.unwrap(), "jenkins.enabled true (the Jenkins the credentials go to)"),
            ...jenkinsSettings,
        }),
    ],
    false,
    (value) => `must be true or false, got ${JSON.stringify(value)}`,
).prefault({});

// ---------------------------------------------------------------------------------------------
// nodes, by delivery
// ---------------------------------------------------------------------------------------------

const { delivery: _delivery, namespace, daemonsetImage, list, restartBatchSize, ...nodeRuntime } = nodes.shape;
const { insecurePlainHttp } = nodeRuntime;
const {
    local: _local,
    host: _host,
    port: _port,
    hostKey: _hostKey,
    allowUnpinnedHostKey: _unpinned,
    ...nodeOwn
} = list.unwrap().element.shape;
const { host, port, hostKey, allowUnpinnedHostKey } = list.unwrap().element.shape;
/** A listed node: reached over SSH (its connection), or the machine Pulumi runs on (`local: true`, no connection). */
const NODE_ENTRY = variants(
    "local",
    [
        z.strictObject({ ...nodeOwn, local: z.literal(false), host, port, hostKey, allowUnpinnedHostKey }),
        z.strictObject({ ...nodeOwn, local: z.literal(true) }),
    ],
    false,
    (value) => `must be true or false, got ${JSON.stringify(value)}`,
);
const NODES_BY = {
    none: z.strictObject({ delivery: z.literal("none"), insecurePlainHttp }),
    daemonset: z.strictObject({ delivery: z.literal("daemonset"), ...nodeRuntime, namespace, daemonsetImage }),
    ssh: z.strictObject({
        delivery: z.literal("ssh"),
        ...nodeRuntime,
        restartBatchSize,
        list: z
            .array(NODE_ENTRY)
            .min(1, { error: 'is empty, but nodes.delivery is "ssh": list the nodes, or use delivery "daemonset"' })
            .prefault([]),
    }),
};
/** Node trust: by delivery, each with what it uses; kind configures its nodes itself (through the Docker host). */
const NODES_OF = {
    cluster: variants(
        "delivery",
        [NODES_BY.none, NODES_BY.daemonset, NODES_BY.ssh],
        "none",
        (value) => `is ${JSON.stringify(value)}; allowed: "ssh", "daemonset", "none"`,
    ).prefault({}),
    kind: variants(
        "delivery",
        [NODES_BY.none],
        "none",
        (value) =>
            `is ${JSON.stringify(value)}, but registry.mode "kind" configures the kind nodes itself (through the Docker host): set it to "none"`,
    ).prefault({}),
};

// ---------------------------------------------------------------------------------------------
// registry and the whole stack file, per mode
// ---------------------------------------------------------------------------------------------

/** The registry's settings every placement takes, before each one's own cut; replicas only the in-cluster registry runs. */
const { tls: _tls, storage: _storage, mode: _mode, maintenance: _maintenance, replicas, ...ownRegistry } = registry.shape;
const { enabled: _monitoringOn, ...monitoringOn } = ownRegistry.monitoring.unwrap().shape;
const {
    enabled: _limitOn,
    maxRetry,
    findTimeSeconds,
    banTimeSeconds,
    tokenRequestsPerMinute,
    credentialRequestsPerMinute,
    ignoreNetworks,
    allowUnlimitedCredentialRequests,
} = ownRegistry.loginLimit.unwrap().shape;
/** The limit each front applies: fail2ban's counts on the host, the ingress controller's rates in the cluster. */
const LOGIN_LIMIT_OF = {
    "in-cluster": switched({ tokenRequestsPerMinute, credentialRequestsPerMinute, ignoreNetworks, allowUnlimitedCredentialRequests }, true),
    "external-host": switched({ maxRetry, findTimeSeconds, banTimeSeconds, ignoreNetworks }, true),
};
const { enabled: _uiOn, ...uiOn } = ownRegistry.ui.unwrap().shape;
/** The web UI: its image only when it runs; deletes through the API are decided with or without it (config/decisions.ts). */
const UI = switched(uiOn, false, ["deleteEnabled"]);
const NOT_OURS = 'registry.mode "existing" is not ours to run: set it to false (or remove it)';

/** `registry`, per placement: only the settings it acts on. */
const REGISTRY_OF = {
    "in-cluster": z.strictObject({
        ...ownRegistry,
        replicas,
        mode: z.literal("in-cluster"),
        tls: TLS_OF["in-cluster"],
        storage: STORAGE_OF["in-cluster"],
        maintenance: maintenanceWith(GARBAGE_COLLECTION.other, BACKUP_OF["in-cluster"]),
        loginLimit: LOGIN_LIMIT_OF["in-cluster"],
        monitoring: switched(monitoringOn, true),
        ui: UI,
    }),
    // prometheus-operator is a cluster's: the host gets a rules file and a scrape file instead.
    "external-host": z.strictObject({
        ...ownRegistry,
        mode: z.literal("external-host"),
        tls: TLS_OF["external-host"],
        storage: STORAGE_OF["external-host"],
        maintenance: maintenanceWith(GARBAGE_COLLECTION["external-host"], BACKUP_OF["external-host"]),
        loginLimit: LOGIN_LIMIT_OF["external-host"],
        monitoring: switched({ runbookBaseUrl: monitoringOn.runbookBaseUrl }, true),
        ui: UI,
    }),
    // Plain HTTP on the Docker host's loopback and the kind network, the images in kind.dataDir: no allowlist, backups,
    // metrics or login limit of its own (docs/kind.md).
    kind: (() => {
        const { monitoring: _m, loginLimit: _l, allowedNetworks: _a, ...kindRegistry } = ownRegistry;
        return z.strictObject({
            ...kindRegistry,
            mode: z.literal("kind"),
            storage: STORAGE_OF.kind,
            ui: UI,
            maintenance: maintenanceWith(
                GARBAGE_COLLECTION.other,
                neverOn('backups are not offered with registry.mode "kind" (the images live in kind.dataDir on the Docker host)'),
            ),
        });
    })(),
    // Not ours to run: its image, storage, front, metrics, login limit and backups are the organisation's.
    existing: (() => {
        const {
            image: _i,
            caddyImage: _c,
            distributionConfig: _d,
            monitoring: _m,
            loginLimit: _l,
            diskGuard: _g,
            ...existingRegistry
        } = ownRegistry;
        return z.strictObject({
            ...existingRegistry,
            mode: z.literal("existing"),
            tls: TLS_OF.existing,
            maintenance: maintenanceWith(neverOn(NOT_OURS), neverOn(NOT_OURS)),
            ui: neverOn(NOT_OURS),
        });
    })(),
};

const { inCluster, externalHost, kind, existing, registry: _registry, jenkins: _jenkins, nodes: _nodes, ...common } = configShape;
const shared = { ...common, jenkins: JENKINS, nodes: NODES_OF.cluster };

/** The whole stack file, per registry.mode. */
export const MODE_SHAPES = {
    "in-cluster": z.strictObject({ ...shared, registry: REGISTRY_OF["in-cluster"], inCluster }),
    "external-host": z.strictObject({
        ...shared,
        registry: REGISTRY_OF["external-host"],
        externalHost: requiredWith(externalHost.unwrap(), 'registry.mode "external-host" (at least externalHost.ssh.host and ssh.hostKey)'),
    }),
    kind: z.strictObject({ ...shared, nodes: NODES_OF.kind, registry: REGISTRY_OF.kind, kind }),
    existing: z.strictObject({ ...shared, registry: REGISTRY_OF.existing, existing }),
};

/** What a stack file of each mode yields once its shape is checked, defaults filled in: the one parse of a stack file. */
export type ModeConfig = { [M in RegistryMode]: z.output<(typeof MODE_SHAPES)[M]> }[RegistryMode];

/** The stack file of mode `M`, as its shape yields it. */
export type ModeConfigOf<M extends RegistryMode> = Extract<ModeConfig, { readonly registry: { readonly mode: M } }>;

/** Narrows a stack file to its mode's shape. */
export const isMode = <M extends RegistryMode>(c: ModeConfig, mode: M): c is ModeConfigOf<M> => c.registry.mode === mode;

/** The registry.mode a stack file names, when it names one of the modes. */
export function modeOf(raw: Raw): RegistryMode | undefined {
    const mode = field(raw.registry, "mode");
    return (REGISTRY_MODES as readonly unknown[]).includes(mode) ? (mode as RegistryMode) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Walking a shape: which variants take a key, and what rules a key out
// ---------------------------------------------------------------------------------------------

/** A key path written as the stack file's key pattern: "registry.tls.acmeEmail", list items as "[]". */
export const patternOf = (path: readonly PropertyKey[]) =>
    path.map((part, i) => (typeof part === "number" ? "[]" : `${i > 0 ? "." : ""}${String(part)}`)).join("");

/** Peels every wrapper down to what holds keys: an object, a list, or a union of variants. */
export function keyHolder(schema: z.ZodType): z.ZodType {
    let node = schema;
    for (;;) {
        if (node instanceof z.ZodOptional || node instanceof z.ZodDefault || node instanceof z.ZodPrefault) {
            node = node.def.innerType as z.ZodType;
        } else if (node instanceof z.ZodPipe) {
            // A variant's default discriminator is filled in before the union: the union is the pipe's output.
            node = (node.def.in instanceof z.ZodTransform ? node.def.out : node.def.in) as z.ZodType;
        } else {
            return node;
        }
    }
}

const discriminatorValue = (option: z.ZodObject, discriminator: string) =>
    (keyHolder((option.shape as Record<string, z.ZodType>)[discriminator]!) as z.ZodLiteral).value;

/**
 * Whether a shape takes the key at `path` (list items as any index), and if only some variants of a
 * union on the way take it, which: "registry.tls.mode `acme`".
 */
export function takenBy(
    node: z.ZodType,
    path: readonly PropertyKey[],
    at: readonly string[] = [],
): false | { readonly variants: readonly string[] } {
    const inner = keyHolder(node);
    if (path.length === 0) return { variants: [] };
    const [part, ...rest] = path;
    if (inner instanceof z.ZodArray) return takenBy(inner.element as z.ZodType, typeof part === "number" ? rest : path, at);
    if (inner instanceof z.ZodObject) {
        const child = (inner.shape as Record<string, z.ZodType>)[String(part)];
        return child ? takenBy(child, rest, [...at, String(part)]) : false;
    }
    if (inner instanceof z.ZodDiscriminatedUnion) {
        const discriminator = inner.def.discriminator;
        const taking = (inner.options as z.ZodObject[]).flatMap((option) => {
            const found = takenBy(option, path, at);
            return found ? [{ value: discriminatorValue(option, discriminator), found }] : [];
        });
        if (taking.length === 0) return false;
        const below = taking.flatMap((x) => x.found.variants);
        if (taking.length === inner.options.length) return { variants: below };
        const name = [...at, discriminator].join(".");
        return { variants: [`${name} ${taking.map((x) => `\`${String(x.value)}\``).join(", ")}`, ...below] };
    }
    return false;
}

/**
 * The setting that rules out a key of this stack file (one its mode's shape does not take), as a
 * warning or a refusal names it: the discriminator of the nearest variant on the way whose siblings
 * take the key (`registry.tls.mode "generated-ca"`, `jenkins.enabled false`), else the registry's mode.
 */
export function variantReason(path: readonly PropertyKey[], raw: Raw, mode: RegistryMode): string {
    let reason = `registry.mode "${mode}"`;
    let node: z.ZodType = MODE_SHAPES[mode];
    let value: unknown = raw;
    for (let i = 0; i < path.length; i++) {
        let inner = keyHolder(node);
        if (inner instanceof z.ZodDiscriminatedUnion) {
            const discriminator = inner.def.discriminator;
            const chosen = field(value, discriminator) ?? DEFAULT_VARIANT.get(inner);
            const options = inner.options as z.ZodObject[];
            const option = options.find((o) => discriminatorValue(o, discriminator) === chosen) ?? options[0]!;
            if (options.some((o) => o !== option && takenBy(o, path.slice(i)))) {
                reason = `${keyPath([...path.slice(0, i), discriminator]).slice(PROJECT.length + 1)} ${JSON.stringify(chosen)}`;
            }
            inner = option;
        }
        const part = path[i]!;
        if (inner instanceof z.ZodArray) node = inner.element as z.ZodType;
        else if (inner instanceof z.ZodObject) node = (inner.shape as Record<string, z.ZodType>)[String(part)] ?? z.never();
        else break;
        value = field(value, String(part));
    }
    return reason;
}
