/**
 * The shape of a stack file, one per registry.mode: each mode takes its own placement block and only
 * the registry settings it acts on, `registry.tls` one variant per TLS mode that mode offers, and
 * `registry.storage` one variant per storage kind. What a mode does not take is refused by the shape,
 * with the setting that rules it out; a key of another variant that older releases only warned about is
 * rewritten away by ./legacyShape.ts, for one release.
 *
 * Every entry is the catalogue's own (./schema.ts and schema/): its description, default and value
 * rules are written once; this file only says which entries each variant holds.
 */
import { z } from "zod";
import { configShape } from "./schema";
import { registry, storage, tls } from "./schema/registry";

export const REGISTRY_MODES = ["in-cluster", "external-host", "kind", "existing"] as const;
export type RegistryMode = (typeof REGISTRY_MODES)[number];

const t = tls.shape;
const lifetimes = { caValidityDays: t.caValidityDays, serverCertValidityDays: t.serverCertValidityDays };

/** `registry.tls`, one variant per TLS mode; each holds only its own settings. */
const TLS_VARIANTS = {
    "generated-ca": z.strictObject({ mode: z.literal("generated-ca"), ...lifetimes }),
    provided: z.strictObject({ mode: z.literal("provided"), ...lifetimes }),
    acme: z.strictObject({
        mode: z.literal("acme"),
        // Required here, optional in the catalogue (where other modes leave it out).
        acmeEmail: z.email({
            error: (issue) =>
                issue.input === undefined
                    ? `is required with registry.tls.mode "acme" (Let's Encrypt sends expiry notices there)`
                    : "must be an e-mail address",
        }),
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

/** Fills a variant's discriminator when the stack file leaves it out (its default). */
function withDefault(key: string, value: string) {
    return (input: unknown) =>
        input !== null && typeof input === "object" && !Array.isArray(input) && !(key in input) ? { ...input, [key]: value } : input;
}

/** The value at `key` of an object the union was given, for its message. */
const field = (input: unknown, key: string) =>
    input !== null && typeof input === "object" ? (input as Record<string, unknown>)[key] : undefined;

/** `registry.tls` of a placement: the variants of the TLS modes it offers, its first mode the default. */
function tlsOf<const T extends readonly [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]]>(
    mode: Exclude<RegistryMode, "kind">,
    variants: T,
) {
    const union = z.discriminatedUnion("mode", variants, {
        error: (issue) => (issue.code === "invalid_union" ? tlsModeRefusal(mode, field(issue.input, "mode")) : undefined),
    });
    return z.preprocess(withDefault("mode", TLS_MODES_OF[mode][0]), union).prefault({});
}

const TLS_OF = {
    "in-cluster": tlsOf("in-cluster", [TLS_VARIANTS["generated-ca"], TLS_VARIANTS.provided, TLS_VARIANTS["cert-manager"]]),
    "external-host": tlsOf("external-host", [TLS_VARIANTS["generated-ca"], TLS_VARIANTS.provided, TLS_VARIANTS.acme]),
    existing: tlsOf("existing", [TLS_VARIANTS.public]),
};

const s = storage.shape;
/** A key a variant needs, with the setting that needs it when it is missing. */
function requiredWith<T extends z.ZodObject>(object: T, why: string): T {
    return object.clone({
        ...object.def,
        error: (issue: z.core.$ZodRawIssue) =>
            issue.code === "invalid_type" && issue.input === undefined ? `is required with ${why}` : undefined,
    }) as T;
}

const s3Storage = z.strictObject({
    kind: z.literal("s3"),
    s3: requiredWith(s.s3.unwrap(), 'registry.storage.kind "s3" (at least bucket)'),
});

/** `registry.storage` of a placement: filesystem (with the claim's settings in the cluster) or s3, where offered. */
function storageOf(mode: "in-cluster" | "external-host" | "kind") {
    const filesystem =
        mode === "in-cluster"
            ? z.strictObject({ kind: z.literal("filesystem"), size: s.size, storageClass: s.storageClass })
            : z.strictObject({ kind: z.literal("filesystem") });
    const union =
        mode === "kind"
            ? z.discriminatedUnion("kind", [filesystem], {
                  error: (issue) =>
                      issue.code === "invalid_union"
                          ? `is ${JSON.stringify(field(issue.input, "kind"))}, but registry.mode "kind" keeps the images in kind.dataDir on the Docker host`
                          : undefined,
              })
            : z.discriminatedUnion("kind", [filesystem, s3Storage], {
                  error: (issue) =>
                      issue.code === "invalid_union"
                          ? `is ${JSON.stringify(field(issue.input, "kind"))}; allowed: "filesystem", "s3"`
                          : undefined,
              });
    return z.preprocess(withDefault("kind", "filesystem"), union).prefault({});
}

/** The registry's settings every placement takes, before each one's own cut. */
const { tls: _tls, storage: _storage, mode: _mode, ...ownRegistry } = registry.shape;
const monitoring = ownRegistry.monitoring.unwrap();
const loginLimit = ownRegistry.loginLimit.unwrap();
/** The limit each front applies: fail2ban's counts on the host, ingress-nginx's rate in the cluster. */
const LOGIN_LIMIT_OF = {
    "in-cluster": loginLimit.omit({ maxRetry: true, findTimeSeconds: true, banTimeSeconds: true }).prefault({}),
    "external-host": loginLimit.omit({ tokenRequestsPerMinute: true }).prefault({}),
};

/** `registry`, per placement: only the settings it acts on. */
const REGISTRY_OF = {
    "in-cluster": z.strictObject({
        ...ownRegistry,
        mode: z.literal("in-cluster"),
        tls: TLS_OF["in-cluster"],
        storage: storageOf("in-cluster"),
        loginLimit: LOGIN_LIMIT_OF["in-cluster"],
    }),
    // prometheus-operator is a cluster's: the host gets a rules file and a scrape file instead.
    "external-host": z.strictObject({
        ...ownRegistry,
        mode: z.literal("external-host"),
        tls: TLS_OF["external-host"],
        storage: storageOf("external-host"),
        loginLimit: LOGIN_LIMIT_OF["external-host"],
        monitoring: monitoring.omit({ prometheusOperator: true }).prefault({}),
    }),
    // Plain HTTP on the Docker host's loopback and the kind network, no metrics or login limit of its own (docs/kind.md).
    kind: (() => {
        const { monitoring: _m, loginLimit: _l, ...kindRegistry } = ownRegistry;
        return z.strictObject({ ...kindRegistry, mode: z.literal("kind"), storage: storageOf("kind") });
    })(),
    // Not ours to run: its image, storage, front, metrics and login limit are the organisation's.
    existing: (() => {
        const { image: _i, caddyImage: _c, distributionConfig: _d, monitoring: _m, loginLimit: _l, ...existingRegistry } = ownRegistry;
        return z.strictObject({ ...existingRegistry, mode: z.literal("existing"), tls: TLS_OF.existing });
    })(),
};

/** The top-level key that holds each placement's own settings. */
export const PLACEMENT_KEY = {
    "in-cluster": "inCluster",
    "external-host": "externalHost",
    kind: "kind",
    existing: "existing",
} as const satisfies Record<RegistryMode, keyof typeof configShape>;

const { inCluster, externalHost, kind, existing, registry: _registry, ...common } = configShape;

/** The whole stack file, per registry.mode. */
export const MODE_SHAPES = {
    "in-cluster": z.strictObject({ ...common, registry: REGISTRY_OF["in-cluster"], inCluster }),
    "external-host": z.strictObject({
        ...common,
        registry: REGISTRY_OF["external-host"],
        externalHost: requiredWith(externalHost.unwrap(), 'registry.mode "external-host" (at least externalHost.ssh.host and ssh.hostKey)'),
    }),
    kind: z.strictObject({ ...common, registry: REGISTRY_OF.kind, kind }),
    existing: z.strictObject({ ...common, registry: REGISTRY_OF.existing, existing }),
};

/** What a stack file of each mode yields once its shape is checked, defaults filled in. */
export type ModeConfig = { [M in RegistryMode]: z.output<(typeof MODE_SHAPES)[M]> }[RegistryMode];

/** The registry.mode a stack file names, when it names one of the modes. */
export function modeOf(raw: Readonly<Record<string, unknown>>): RegistryMode | undefined {
    const mode = field(raw.registry, "mode");
    return (REGISTRY_MODES as readonly unknown[]).includes(mode) ? (mode as RegistryMode) : undefined;
}

/** A key path written as the stack file's key pattern: "registry.tls.acmeEmail", list items as "[]". */
export const patternOf = (path: readonly PropertyKey[]) =>
    path.map((part, i) => (typeof part === "number" ? "[]" : `${i > 0 ? "." : ""}${String(part)}`)).join("");

/**
 * The setting that rules out a key of another variant, as a warning or a refusal names it: the TLS mode
 * for a key inside `registry.tls`, the storage kind for one inside s3 storage, the registry's mode otherwise.
 */
export function variantReason(path: readonly PropertyKey[], raw: Readonly<Record<string, unknown>>, mode: RegistryMode): string {
    const registryRaw = raw.registry;
    if (path[0] === "registry" && path[1] === "tls" && path.length > 2 && mode !== "kind") {
        const tlsMode = field(field(registryRaw, "tls"), "mode") ?? TLS_MODES_OF[mode][0];
        return `registry.tls.mode ${JSON.stringify(tlsMode)}`;
    }
    if (path[0] === "registry" && path[1] === "storage" && path.length > 2 && field(field(registryRaw, "storage"), "kind") === "s3") {
        return `registry.storage.kind "s3"`;
    }
    return `registry.mode "${mode}"`;
}
