/**
 * Pull-through caches (`registry.mirrors`), pure part: for each upstream registry the program runs
 * one Docker Distribution in proxy mode (Distribution takes one `proxy.remoteurl` per instance), with
 * storage of its own, behind the registry's own front at `/v2/mirrors/<upstream>/…`, read-only to
 * every client. This file renders what every placement and every node needs for that: the cache's
 * files (the proxy's config.yml, its read-only config and the start script that picks one) and
 * environment, and the nodes' containerd hosts.toml and k3s / RKE2 registries.yaml
 * entries (the external host's containers and prune job: ./hostCaches.ts). The front's routes are
 * part of the access policy (`AccessPolicy.mirrors`, rendered by accessPolicy/caddyfile/routes.ts).
 *
 * Routing by path, not by host name: one certificate, one DNS name, one ingress rule and one
 * `/etc/hosts` line serve every mirror. Clients never see the path: containerd reaches it through a
 * hosts.toml `[host]` with `override_path`, k3s / RKE2 through a `rewrite` of the repository name.
 *
 * Everything here is pure: no Pulumi, no I/O but reading the start script's source (../shared/shellScript.ts).
 */
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { MIRRORS_NAMESPACE } from "../accessPolicy/policy";
import { renderRegistryConfig } from "../distribution/registryConfig";
import { DISTRIBUTION, DISTRIBUTION_2_PROXY_TTL_HOURS, durationSeconds, isDistribution3Image, registryAuthority } from "../shared/facts";
import { renderShellScript } from "../shared/shellScript";

/** A mirror as the front routes to it: the access policy's own type, which `MirrorCachesOnHost` exposes. */
export type { MirrorRoute } from "../accessPolicy/policy";

/** Docker Hub's registry name in image references, and where its registry API really is. */
export const DOCKER_HUB = { name: "docker.io", remoteUrl: "https://registry-1.docker.io" } as const;

/** One pull-through cache, as every placement and node needs it. Plain values. */
export interface MirrorSpec {
    /** The registry name images use, e.g. "docker.io", "ghcr.io", "registry.example.com:5000". */
    readonly upstream: string;
    /**
     * The upstream name as one repository-path component (":" becomes "-"): the path
     * `/v2/mirrors/<pathName>/` on the front, and part of container, object and directory names.
     */
    readonly pathName: string;
    /** The upstream's registry API, e.g. "https://registry-1.docker.io". */
    readonly remoteUrl: string;
    /**
     * How long cached content is kept (`mirrorAge`): the prune job's age on the external host, and
     * Distribution's `proxy.ttl` when the image reads it.
     */
    readonly ttl: string;
    /**
     * The image reads `proxy.ttl` (Distribution 3). Distribution 2 keeps content 168h whatever its
     * config says, so its config gets no `ttl` line.
     */
    readonly proxyTtl?: boolean;
    /** Storage limit, as a Kubernetes quantity ("20Gi"): the PVC size, or the prune limit on the external host. */
    readonly maxSize: string;
    /** The proxy logs in to the upstream with an account from the secret `mirrorCredentials`. */
    readonly hasCredentials: boolean;
    /** What `up` and a schedule fetch through the cache ahead of need (components/mirrors/warm.ts); none when unset. */
    readonly warm?: MirrorWarm;
}

/** A cache's warm list as the placements take it: images normalised (`repository reference`), platforms, schedule. */
export interface MirrorWarm {
    /** One line per image, "REPOSITORY REFERENCE" (a tag or a sha256 digest), e.g. "library/nginx 1.30". */
    readonly images: readonly string[];
    /** "os/architecture[/variant]" entries, or ["all"]. */
    readonly platforms: readonly string[];
    /** Five-field cron schedule of the scheduled run. */
    readonly schedule: string;
}

/**
 * How long a cache keeps content: `maxAge` for a Distribution 3 image; for Distribution 2 no longer
 * than the 168h after which it drops content itself.
 */
export function mirrorAge(maxAge: string, image: string): string {
    const seconds = durationSeconds(maxAge);
    if (isDistribution3Image(image) || seconds === undefined || seconds <= DISTRIBUTION_2_PROXY_TTL_HOURS * 3600) return maxAge;
    return `${DISTRIBUTION_2_PROXY_TTL_HOURS}h`;
}

/** `host[:port]` of an upstream, as a path component: ":" is not allowed in repository names. */
export function mirrorPathName(upstream: string): string {
    return upstream.replace(":", "-");
}

/** The upstream's registry API when the config does not name one. */
export function defaultRemoteUrl(upstream: string): string {
    return upstream === DOCKER_HUB.name ? DOCKER_HUB.remoteUrl : `https://${upstream}`;
}

/**
 * Where containerd (and every other client) falls back to when the mirror fails: the registry's own
 * endpoint as containerd derives it for the name (Docker Hub's is registry-1.docker.io).
 */
export function upstreamServerUrl(upstream: string): string {
    return defaultRemoteUrl(upstream);
}

/** The path prefix the front routes to this mirror (no trailing slash). */
export function mirrorApiPath(spec: Pick<MirrorSpec, "pathName">): string {
    return `/v2/${MIRRORS_NAMESPACE}/${spec.pathName}`;
}

const UNITS: Record<string, number> = {
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
};

/** Bytes of a Kubernetes quantity ("20Gi", "500M", "1073741824"), or undefined when it is not one. */
export function quantityBytes(quantity: string): number | undefined {
    const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(quantity);
    if (!match) return undefined;
    return Math.floor(Number(match[1]) * UNITS[match[2] ?? ""]!);
}

// ---------------------------------------------------------------------------------------------
// Distribution in proxy mode
// ---------------------------------------------------------------------------------------------

export interface MirrorConfigSpec {
    /** Listen address, e.g. ":5000". */
    readonly addr: string;
    /** Filesystem storage root as the process sees it. */
    readonly rootDirectory: string;
    readonly remoteUrl: string;
    /** Distribution 3's `proxy.ttl`; left out for Distribution 2, which has no such key. */
    readonly ttl?: string;
    /** Log level; "info" unless set. */
    readonly logLevel?: "error" | "warn" | "info" | "debug";
}

/**
 * Distribution's config.yml for a pull-through cache: the one Distribution config, in proxy mode, on
 * filesystem storage. The upstream account never goes in here: Distribution reads it from
 * REGISTRY_PROXY_USERNAME / REGISTRY_PROXY_PASSWORD (`renderMirrorEnvFile`).
 */
export function renderMirrorConfig(options: MirrorConfigSpec): string {
    return renderRegistryConfig({
        addr: options.addr,
        storage: { kind: "filesystem", rootDirectory: options.rootDirectory },
        proxy: { remoteUrl: options.remoteUrl, ttl: options.ttl },
        logLevel: options.logLevel,
    });
}

/**
 * The files a cache runs from, by their names in its config directory (`DISTRIBUTION.configDir` in its
 * container, where every placement puts them side by side): Distribution in proxy mode, Distribution
 * read-only on the same storage, and the start script that chooses between them (sh/mirror-start.sh).
 */
export const MIRROR_FILES = {
    /** Distribution in proxy mode, while the upstream answers. */
    proxyConfig: "config.yml",
    /** Distribution without the proxy and read-only, while the upstream does not answer: it serves what the cache holds. */
    readOnlyConfig: "read-only.yml",
    /** The container's command. */
    startScript: "start.sh",
} as const;

export type MirrorFileName = (typeof MIRROR_FILES)[keyof typeof MIRROR_FILES];

/**
 * How a placement names the resource that places each file (after the cache's own name): the proxy's
 * config keeps "config", the name it had before the other two files existed.
 */
export const MIRROR_FILE_ROLES: Readonly<Record<MirrorFileName, string>> = {
    [MIRROR_FILES.proxyConfig]: "config",
    [MIRROR_FILES.readOnlyConfig]: "read-only-config",
    [MIRROR_FILES.startScript]: "start-script",
} as Record<MirrorFileName, string>;

/** The command of every cache's container: its start script, from its config directory. */
export const MIRROR_COMMAND = ["sh", `${DISTRIBUTION.configDir}/${MIRROR_FILES.startScript}`] as const;

/** Seconds between two questions to an upstream that does not answer, and the longest one question waits. */
export const MIRROR_PROBE_SECONDS = 15;

/**
 * The cache's read-only config: the same listener and storage as `renderMirrorConfig`, without the proxy,
 * writes refused (`storage.maintenance.readonly`, which Distribution reads only from the file), deletes off.
 * Distribution serves the repositories, tags, manifests and blobs the proxy stored from it as it serves
 * pushed ones; it reads the upstream account's environment and ignores it.
 */
export function renderMirrorReadOnlyConfig(options: MirrorConfigSpec): string {
    const text = renderRegistryConfig({
        addr: options.addr,
        storage: { kind: "filesystem", rootDirectory: options.rootDirectory },
        deletesEnabled: false,
        readOnly: true,
        logLevel: options.logLevel,
    });
    return text.replace(
        /^#[^\n]*/,
        "# Managed by dso-registry: a pull-through cache while its upstream does not answer. See docs/mirrors.md.",
    );
}

/** The cache's start script (sh/mirror-start.sh): proxy mode while `remoteUrl` answers, read-only otherwise. */
export function renderMirrorStartScript(remoteUrl: string): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-start.sh"), {
        PROXY_CONFIG: MIRROR_FILES.proxyConfig,
        READ_ONLY_CONFIG: MIRROR_FILES.readOnlyConfig,
        REMOTE_URL: remoteUrl,
        PROBE_SECONDS: MIRROR_PROBE_SECONDS,
    });
}

/** Every file of a cache (`MIRROR_FILES`), by name, as its placement puts them in its config directory. */
export function renderMirrorFiles(options: MirrorConfigSpec): Readonly<Record<MirrorFileName, string>> {
    return {
        [MIRROR_FILES.proxyConfig]: renderMirrorConfig(options),
        [MIRROR_FILES.readOnlyConfig]: renderMirrorReadOnlyConfig(options),
        [MIRROR_FILES.startScript]: renderMirrorStartScript(options.remoteUrl),
    } as Record<MirrorFileName, string>;
}

/** An upstream account for a cache. */
export interface UpstreamAccount {
    readonly username: string;
    readonly password: string;
}

/**
 * A pull-through cache as every placement takes it: what it caches, and the account it logs in to its
 * upstream with. Each placement renders its own form of the account: the host an env file, the cluster a
 * Secret, kind a file beside the cache's container.
 */
export interface RegistryMirror {
    readonly spec: MirrorSpec;
    /** The upstream account (`mirrorCredentials`, a secret); required when `spec.hasCredentials`, unused otherwise. */
    readonly account?: pulumi.Input<UpstreamAccount>;
}

/**
 * The cache's environment file (`docker run --env-file`, or a Secret's keys) with the upstream
 * account: `NAME=value` lines, each value taken literally to the end of its line.
 */
export function renderMirrorEnvFile(account: UpstreamAccount): string {
    for (const [what, value] of [
        ["user name", account.username],
        ["password", account.password],
    ] as const) {
        if (value === "" || /[\r\n]/.test(value)) {
            throw new Error(`the upstream ${what} in the secret dso-registry:mirrorCredentials is empty or holds a line break`);
        }
    }
    return `REGISTRY_PROXY_USERNAME=${account.username}\nREGISTRY_PROXY_PASSWORD=${account.password}\n`;
}

/**
 * The accounts in the secret `mirrorCredentials`: a JSON object keyed by upstream name, e.g.
 * `{"docker.io": {"username": "me", "password": "dckr_pat_…"}}`. Throws, naming the secret and what to
 * fix, when it is not that or lacks an upstream that needs one.
 */
export function parseMirrorCredentials(json: string, needed: readonly string[]): Record<string, UpstreamAccount> {
    const fix =
        'Set it as a JSON object keyed by upstream, e.g. {"docker.io": {"username": "…", "password": "…"}}: pulumi config set --secret dso-registry:mirrorCredentials < mirror-credentials.json';
    let parsed: unknown;
    try {
        parsed = JSON.parse(json);
    } catch {
        throw new Error(`dso-registry:mirrorCredentials is not JSON. ${fix}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new Error(`dso-registry:mirrorCredentials is not a JSON object. ${fix}`);
    }
    const result: Record<string, UpstreamAccount> = {};
    for (const upstream of needed) {
        const entry = (parsed as Record<string, unknown>)[upstream] as Partial<UpstreamAccount> | undefined;
        if (!entry || typeof entry.username !== "string" || typeof entry.password !== "string") {
            throw new Error(
                `dso-registry:mirrorCredentials has no "username" and "password" for "${upstream}" (registry.mirrors lists it with credentials: true). ${fix}`,
            );
        }
        result[upstream] = { username: entry.username, password: entry.password };
    }
    return result;
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/** What a node needs to pull an upstream's images through its cache. */
export interface NodeMirror {
    readonly upstream: string;
    readonly pathName: string;
}

/**
 * The registry's CA as a mirror's hosts.toml names it: relative to that file's directory
 * (`<certs.d>/<upstream>/`), the CA node trust places in the registry's own directory next to it.
 */
export function mirrorCaFile(registryAuthorityText: string): string {
    return `../${registryAuthorityText}/ca.crt`;
}

/**
 * containerd's hosts.toml for an upstream (`<certs.d>/<upstream>/hosts.toml`): the cache first, at
 * the front's mirror path (`override_path`: the path is the whole API root, containerd adds no
 * `/v2`), for pull and resolve only; `server` is the upstream itself, which containerd tries when the
 * cache fails. `caFile` is relative to this file's directory (the registry's own directory next to it).
 * Written by hand to stay byte-identical to the files on the nodes, as renderHostsToml (nodeTrust/files.ts).
 */
export function renderMirrorHostsToml(input: {
    readonly mirror: NodeMirror;
    readonly registryHost: string;
    readonly registryPort: number;
    readonly caFile?: string;
    /** An `Authorization` header value for the cache (pulls that need credentials). */
    readonly authorization?: string;
    readonly header: string;
    /** How nodes reach the registry: HTTPS everywhere but the kind placement's plain-HTTP front. */
    readonly scheme?: "https" | "http";
}): string {
    const endpoint = `${input.scheme ?? "https"}://${registryAuthority(input.registryHost, input.registryPort)}${mirrorApiPath(input.mirror)}`;
    const q = JSON.stringify;
    return [
        input.header,
        `server = ${q(upstreamServerUrl(input.mirror.upstream))}`,
        "",
        `[host.${q(endpoint)}]`,
        `  capabilities = ["pull", "resolve"]`,
        "  override_path = true",
        ...(input.caFile ? [`  ca = ${q(input.caFile)}`] : []),
        ...(input.authorization ? ["", `[host.${q(endpoint)}.header]`, `  Authorization = ${q(input.authorization)}`] : []),
        "",
    ].join("\n");
}

/**
 * k3s / RKE2 `mirrors` entries (as the lines under `mirrors:`, two-space indented): the registry's
 * own endpoint for each upstream, with a `rewrite` that puts the repository under the cache's path
 * (`mirrors/<upstream>/<repository>`). k3s applies rewrites only to the listed endpoints and always
 * tries the upstream itself last, without the rewrite: that is the fallback. The registry's `configs`
 * entry (CA, pull account) covers these requests, which go to the same host.
 */
export function renderMirrorRegistriesEntries(input: {
    readonly mirrors: readonly NodeMirror[];
    readonly registryHost: string;
    readonly registryPort: number;
}): string[] {
    const q = JSON.stringify;
    const endpoint = `https://${registryAuthority(input.registryHost, input.registryPort)}`;
    return input.mirrors.flatMap((m) => [
        `  ${q(m.upstream)}:`,
        "    endpoint:",
        `      - ${q(endpoint)}`,
        "    rewrite:",
        `      ${q("^(.*)$")}: ${q(`${MIRRORS_NAMESPACE}/${m.pathName}/$1`)}`,
    ]);
}
