/**
 * The escape hatch into Distribution's config.yml (`registry.distributionConfig`): what an operator may
 * add to the registry's config, and what the program writes itself with the stack setting that decides
 * it instead. One home for both, read by the config's check (components/config/) and by the renderer
 * (components/distribution/registryConfig.ts), which refuses the same for programs that import the
 * package and call the components without the stack config.
 *
 * Distribution ignores a key it does not know without a word (a typo such as `notification:` does
 * nothing), so anything outside the offered keys is refused rather than passed on.
 */

/** A Go duration as Distribution reads it: "500ms", "5s", "1m30s". */
export type Duration = string;

/** One webhook Distribution sends registry events to (Distribution's `notifications.endpoints[]`). */
export interface NotificationEndpoint {
    /** A name for the endpoint, in Distribution's logs and metrics. */
    readonly name: string;
    /** Where the events are POSTed (http or https). */
    readonly url: string;
    /** Headers sent with each request (no credentials: stack config is plain text). */
    readonly headers?: Readonly<Record<string, readonly string[]>>;
    readonly timeout?: Duration;
    /** Failures in a row before the endpoint is backed off. */
    readonly threshold?: number;
    readonly backoff?: Duration;
    /** Events left out, by the media type of their target or by action. */
    readonly ignore?: { readonly mediatypes?: readonly string[]; readonly actions?: readonly ("pull" | "push" | "delete" | "mount")[] };
    readonly disabled?: boolean;
}

/** What `registry.distributionConfig` may set: keys Distribution 2.8 and 3.x both read the same way. */
export interface DistributionSettings {
    readonly log?: {
        /** Replaces the program's "info". */
        readonly level?: "error" | "warn" | "info" | "debug";
        /** Replaces the program's "text". */
        readonly formatter?: "text" | "json";
        /** Fields added to every log line (e.g. the environment's name). */
        readonly fields?: Readonly<Record<string, string>>;
        /** Distribution's own access log; the front keeps one whatever this says. */
        readonly accesslog?: { readonly disabled: boolean };
    };
    /** Response headers added to every answer of the registry, beside the program's `X-Content-Type-Options`. */
    readonly http?: { readonly headers?: Readonly<Record<string, readonly string[]>> };
    /** Webhooks for pushes, pulls and deletes. */
    readonly notifications?: {
        readonly events?: { readonly includereferences?: boolean };
        readonly endpoints: readonly NotificationEndpoint[];
    };
    /** Which foreign-layer URLs manifests may name; `disabled` turns manifest validation off. */
    readonly validation?: {
        readonly disabled?: boolean;
        readonly manifests?: { readonly urls?: { readonly allow?: readonly string[]; readonly deny?: readonly string[] } };
    };
}

/** The top-level keys and `http` keys an operator may set; everything else is refused. */
export const OFFERED_DISTRIBUTION_KEYS = ["log", "http.headers", "notifications", "validation"] as const;

/**
 * Keys the program writes, each with why or with the stack setting to change instead: an operator who
 * sets one is told where the setting lives. The debug listener is the program's: it serves /metrics with
 * monitoring on, and nothing else may open a port in the registry's container or pod.
 */
export const PROGRAM_DISTRIBUTION_KEYS: Readonly<Record<string, string>> = {
    version: "the config format the program writes (0.1)",
    storage:
        "set registry.storage instead (registry.ui.deleteEnabled and registry.maintenance.garbageCollection for deletes, the maintenance window for read-only)",
    auth: "the front checks every request (containerRegistry's accounts and requiresAuthForPull, docs/access-policy.md), and Distribution trusts it",
    proxy: "set registry.mirrors instead (each cache is a Distribution of its own)",
    redis: "its one use is the blob-descriptor cache (storage.cache), which the program sets for safe garbage collection",
    health: "the program's storage-driver check",
    middleware: "the front serves blobs from the registry's own storage",
    "http.addr": "Distribution listens only where the front reaches it",
    "http.net": "Distribution listens only where the front reaches it",
    "http.host": "upload locations are relative (http.relativeurls), right behind any front",
    "http.prefix": "the front routes /v2/ to Distribution",
    "http.relativeurls": "upload locations are relative so that they work behind the front",
    "http.secret": "generated, the same for every replica",
    "http.tls": "set registry.tls instead: the front terminates TLS",
    "http.debug": "set registry.monitoring.enabled instead: with monitoring on, the program opens the debug listener for /metrics",
    "http.draintimeout": "requests under way finish before the registry stops",
};

/** Headers the registry protocol or the program sets: an added value would break clients or repeat the program's. */
const RESERVED_HEADER = /^(docker-.*|content-.*|location|www-authenticate|x-content-type-options|range|etag)$/i;
/** Headers that carry credentials, which plain stack config must not hold. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$/i;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One reason a `registry.distributionConfig` cannot be used: where, relative to it, and why. */
export interface DistributionSettingProblem {
    /** Keys, and a list item's index. */
    readonly path: readonly (string | number)[];
    readonly message: string;
}

/**
 * What of a `registry.distributionConfig` value is refused by key: the program's keys (naming the
 * setting to use), keys not offered, and headers that are the protocol's or carry credentials. Types
 * of the offered keys are the schema's (config) or the TypeScript type's (the components') to check.
 */
export function distributionSettingProblems(settings: Readonly<Record<string, unknown>>): DistributionSettingProblem[] {
    const problems: DistributionSettingProblem[] = [];
    const offered = OFFERED_DISTRIBUTION_KEYS.join(", ");
    const refuse = (path: string[]) => {
        const key = path.join(".");
        const owner = PROGRAM_DISTRIBUTION_KEYS[key];
        problems.push({
            path,
            message: owner
                ? `${key} is the program's: ${owner}`
                : `${key} is not offered: Distribution ignores a key it does not know without a word, so only ${offered} are passed on`,
        });
    };
    for (const [key, value] of Object.entries(settings).sort(([a], [b]) => a.localeCompare(b))) {
        if (key === "http") {
            const http = (value ?? {}) as Record<string, unknown>;
            for (const sub of Object.keys(http).sort()) if (sub !== "headers") refuse(["http", sub]);
            problems.push(...headerProblems(["http", "headers"], http.headers));
        } else if (key === "notifications") {
            const endpoints = ((value ?? {}) as { endpoints?: unknown }).endpoints;
            const list: unknown[] = Array.isArray(endpoints) ? endpoints : [];
            list.forEach((endpoint, i) => {
                problems.push(
                    ...headerProblems(["notifications", "endpoints", i, "headers"], (endpoint as { headers?: unknown })?.headers),
                );
            });
        } else if (!(OFFERED_DISTRIBUTION_KEYS as readonly string[]).includes(key)) {
            refuse([key]);
        }
    }
    return problems;
}

function headerProblems(path: (string | number)[], headers: unknown): DistributionSettingProblem[] {
    if (!headers || typeof headers !== "object") return [];
    return Object.keys(headers)
        .sort()
        .flatMap((name) => {
            const at = [...path, name];
            if (!HEADER_NAME.test(name)) return [{ path: at, message: `"${name}" is not an HTTP header name` }];
            if (CREDENTIAL_HEADER.test(name))
                return [{ path: at, message: `${name} carries credentials, which plain stack config must not hold` }];
            if (RESERVED_HEADER.test(name)) return [{ path: at, message: `${name} is the registry protocol's or the program's to set` }];
            return [];
        });
}
