/**
 * Docker Distribution's `config.yml`, for every instance the program runs: the registry itself (on
 * the external host, its read-only variant for the read-only window, in the cluster) and each
 * pull-through cache (proxy mode). The config is built as one object and written by the YAML
 * library, keys in a fixed order, so the same options always give the same text: the external host
 * recreates a container whenever that text changes.
 *
 * Distribution runs without auth of its own: it listens on loopback or inside the pod, and the front
 * (the access policy) decides who may do what. Why each setting: docs/decisions/access-policy.md#distributions-own-config.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { Document, Scalar, YAMLSeq } from "yaml";
import { type DistributionSettings, distributionSettingProblems } from "../shared/distributionSettings";

/** Distribution's storage backend. Credentials never go into config.yml: pass them as environment. */
export type RegistryStorage =
    | { readonly kind: "filesystem"; readonly rootDirectory: string }
    | {
          readonly kind: "s3";
          readonly bucket: string;
          readonly region: string;
          readonly endpoint?: string;
          readonly forcePathStyle: boolean;
          readonly rootDirectory: string;
          /**
           * Let Distribution answer blob GETs with a 307 to a presigned object-store URL (its default
           * with s3). Every client must then reach the endpoint itself; when false, blobs are proxied.
           */
          readonly redirect: boolean;
      };

/** What every instance is given. */
interface CommonRegistryConfigSpec {
    /**
     * Listen address inside the instance's network namespace, e.g. "127.0.0.1:5000" or ":5000", or
     * the absolute path of a unix socket (`http.net: unix`), which only processes allowed to open the
     * file can reach. Why the host's registry listens on a socket: docs/decisions/access-policy.md#no-path-around-the-front
     */
    readonly addr: string;
    readonly storage: RegistryStorage;
    /**
     * Distribution's in-memory blob-descriptor cache (`storage.cache.blobdescriptor: inmemory`); on
     * unless false. With no `storage.cache` section Distribution 2.8 runs without any cache.
     * Why a registry collected without a restart turns it off: docs/decisions/access-policy.md#distributions-own-config
     */
    readonly blobDescriptorCache?: boolean;
    /**
     * Serve TLS directly (only for measurements and tests: in production Caddy terminates TLS).
     * Paths as seen by the registry process.
     */
    readonly tls?: { readonly certificate: string; readonly key: string };
    /**
     * Address of Distribution's debug listener with its Prometheus metrics at /metrics (e.g. ":5091"),
     * reachable only from the host's loopback or inside the pod; no debug listener when unset.
     */
    readonly metricsAddr?: string;
    /** Log level; "info" unless set. */
    readonly logLevel?: "error" | "warn" | "info" | "debug";
}

/** The registry that takes pushes. */
interface HostedRegistryConfigSpec extends CommonRegistryConfigSpec {
    /** Allow DELETE of manifests and blobs (needed for garbage collection to free space). */
    readonly deletesEnabled: boolean;
    /** Maintenance mode: refuse every write (used while garbage collection runs). */
    readonly readOnly?: boolean;
    /**
     * The operator's additions (`registry.distributionConfig`): the offered keys only, merged into what the
     * program writes (../shared/distributionSettings.ts); a log level here wins over `logLevel`.
     */
    readonly settings?: DistributionSettings;
    readonly proxy?: never;
}

/**
 * A pull-through cache of one upstream. Nothing is pushed to it and expiry deletes by itself, so it
 * has no `delete`, no maintenance section and no drain timeout.
 */
interface CacheRegistryConfigSpec extends CommonRegistryConfigSpec {
    readonly proxy: {
        /** The upstream's registry API, e.g. "https://registry-1.docker.io". */
        readonly remoteUrl: string;
        /** Distribution 3's `proxy.ttl`; left out for Distribution 2, which has no such key. */
        readonly ttl?: string;
    };
    readonly deletesEnabled?: never;
    readonly readOnly?: never;
    readonly settings?: never;
}

/**
 * Options of `renderRegistryConfig`: the registry that takes pushes, or (with `proxy`) a pull-through
 * cache. The upstream account of a cache never goes in here: Distribution reads it from
 * REGISTRY_PROXY_USERNAME / REGISTRY_PROXY_PASSWORD.
 */
export type RegistryConfigSpec = HostedRegistryConfigSpec | CacheRegistryConfigSpec;

/** Seconds Distribution lets requests under way finish after SIGTERM (`http.draintimeout`). */
export const REGISTRY_DRAIN_SECONDS = 20;

/**
 * Free text (addresses, paths, URLs, bucket and region names) is written double-quoted and tokens
 * (levels, durations) plain, as the instances already run it: a new text would recreate every
 * registry and cache container on the external host once, for nothing.
 */
function quoted(value: string): Scalar<string> {
    const scalar = new Scalar(value);
    scalar.type = Scalar.QUOTE_DOUBLE;
    return scalar;
}

/** A list on one line (`[nosniff]`), as the instances already run it. */
function flowList(values: readonly string[]): YAMLSeq<string> {
    const seq = new YAMLSeq<string>();
    seq.items.push(...values);
    seq.flow = true;
    return seq;
}

function storageSection(options: RegistryConfigSpec): Record<string, unknown> {
    const storage = options.storage;
    const hosted = options.proxy === undefined ? options : undefined;
    return {
        ...(storage.kind === "filesystem"
            ? { filesystem: { rootdirectory: quoted(storage.rootDirectory) } }
            : {
                  s3: {
                      bucket: quoted(storage.bucket),
                      region: quoted(storage.region),
                      ...(storage.endpoint ? { regionendpoint: quoted(storage.endpoint) } : {}),
                      forcepathstyle: storage.forcePathStyle,
                      rootdirectory: quoted(storage.rootDirectory),
                  },
                  redirect: { disable: !storage.redirect },
              }),
        ...(hosted ? { delete: { enabled: hosted.deletesEnabled } } : {}),
        ...(options.blobDescriptorCache === false ? {} : { cache: { blobdescriptor: "inmemory" } }),
        ...(hosted
            ? {
                  maintenance: {
                      uploadpurging: { enabled: true, age: "168h", interval: "24h", dryrun: false },
                      readonly: { enabled: hosted.readOnly ?? false },
                  },
              }
            : {}),
    };
}

/** A value with the keys of every object sorted, lists in their order: the operator's sections render the same however written. */
function sortedKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortedKeys);
    if (value && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
        );
    }
    return value;
}

/** The log section: the program's level and format unless the operator's settings replace them, then their additions. */
function logSection(options: RegistryConfigSpec): Record<string, unknown> {
    const log = options.settings?.log;
    return {
        level: log?.level ?? options.logLevel ?? "info",
        formatter: log?.formatter ?? "text",
        ...(log?.accesslog ? { accesslog: { disabled: log.accesslog.disabled } } : {}),
        ...(log?.fields ? { fields: sortedKeys(log.fields) } : {}),
    };
}

/** Response headers: the program's, then the operator's by name. */
function headersSection(options: RegistryConfigSpec): Record<string, unknown> {
    const added = options.settings?.http?.headers ?? {};
    return {
        "X-Content-Type-Options": flowList(["nosniff"]),
        ...Object.fromEntries(
            Object.keys(added)
                .sort()
                .map((name) => [name, flowList(added[name]!)]),
        ),
    };
}

/**
 * Distribution's config.yml for the registry (`deletesEnabled`, `readOnly`, the operator's `settings`)
 * or for a pull-through cache (`proxy`). Keys come in a fixed order, so the text is stable between
 * runs; the operator's sections follow the program's, their keys sorted. Throws on a setting that is
 * the program's or not offered, as the stack config refuses it.
 */
export function renderRegistryConfig(options: RegistryConfigSpec): string {
    const proxy = options.proxy;
    const settings = options.settings;
    const problems = settings ? distributionSettingProblems(settings as Record<string, unknown>) : [];
    if (problems.length > 0) {
        throw new Error(`renderRegistryConfig: ${problems.map((p) => `distributionConfig.${p.path.join(".")}: ${p.message}`).join("; ")}`);
    }
    const config = {
        version: 0.1,
        log: logSection(options),
        storage: storageSection(options),
        ...(proxy ? { proxy: { remoteurl: quoted(proxy.remoteUrl), ...(proxy.ttl === undefined ? {} : { ttl: proxy.ttl }) } } : {}),
        http: {
            ...(options.addr.startsWith("/") ? { net: "unix" } : {}),
            addr: quoted(options.addr),
            // Upload locations relative to the request: correct behind any proxy, whatever scheme and host it forwards.
            relativeurls: true,
            // On SIGTERM (docker stop, a pod's end) requests under way finish before the registry exits.
            ...(proxy ? {} : { draintimeout: `${REGISTRY_DRAIN_SECONDS}s` }),
            ...(options.tls ? { tls: { certificate: quoted(options.tls.certificate), key: quoted(options.tls.key) } } : {}),
            headers: headersSection(options),
            ...(options.metricsAddr
                ? { debug: { addr: quoted(options.metricsAddr), prometheus: { enabled: true, path: "/metrics" } } }
                : {}),
        },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
        ...(settings?.notifications ? { notifications: sortedKeys(settings.notifications) } : {}),
        ...(settings?.validation ? { validation: sortedKeys(settings.validation) } : {}),
    };
    const doc = new Document();
    const contents = doc.createNode(config);
    contents.commentBefore = proxy
        ? " Managed by dso-registry: a pull-through cache. See docs/mirrors.md."
        : " Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.";
    doc.contents = contents;
    // No folding: a long path or URL stays on its line.
    return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
