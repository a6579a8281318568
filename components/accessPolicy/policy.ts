/**
 * The registry's access policy as data: what the front (Caddy before Docker Distribution) is told, the
 * names and numbers its rules share, and the check that a policy can be rendered. Both placements
 * build an `AccessPolicy` and render it with `renderCaddyfile` (caddyfile/); the accounts it
 * imports come from `renderUsersFile` (usersFile.ts).
 *
 * The rules, in short: the ping and every write need credentials, reads are anonymous unless pulls
 * require authentication, pull-only accounts never write, and writes wait out the read-only
 * read-only window. Why each rule is as it is: docs/decisions/access-policy.md.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */

import { ACCOUNT_NAME } from "../shared/facts";
import { REPOSITORY_PREFIX } from "../shared/imageReference";
import { cidrProblem, ipv4OfMappedNetwork } from "../shared/networks";

/** How the Caddy site gets its certificate. */
export type CaddyTls =
    | {
          /** Caddy obtains a publicly trusted certificate over ACME (HTTP-01 needs port 80 reachable). */
          readonly kind: "acme";
          /** Contact address for the ACME account. */
          readonly email: string;
          /** ACME directory URL; Let's Encrypt production when unset. */
          readonly directory?: string;
      }
    | {
          /** A certificate chain and key already on disk (generated CA or the operator's). */
          readonly kind: "files";
          readonly certFile: string;
          readonly keyFile: string;
      }
    | {
          /** Plain HTTP: only behind something that terminates TLS (the ingress, for the sidecar). */
          readonly kind: "plain-http";
      };

/** The decoy password check of a front: who each users file holds, and the hash everyone else is checked against. */
export interface DecoyCheck {
    /**
     * The names of the accounts in each users file: `push` (`pushUsersFile`), `pull` (`pullUsersFile`)
     * and, with a Maven route, `mavenDeploy` (its `deployUsersFile`). A name in two files is the same
     * account in both (the Maven deploy account that is the push account).
     */
    readonly accounts: {
        readonly push: readonly string[];
        readonly pull: readonly string[];
        readonly mavenDeploy?: readonly string[];
    };
    /**
     * A bcrypt hash, at the accounts' cost, that no password matches: salt and digest are random
     * (`unmatchableBcryptHash` in usersFile.ts), so nobody knows a password for it, not even whoever
     * reads the stack's state.
     */
    readonly bcryptHash: string;
}

export interface AccessPolicy {
    /** Host name clients use (the Caddy site address), e.g. "registry.example.com" or "127.0.0.1". */
    readonly siteAddress: string;
    /**
     * Other host names the same site answers to, on the same port: the kind placement's front is
     * addressed as localhost on the Docker host and by its container name on the kind network.
     */
    readonly siteAliases?: readonly string[];
    /** Port Caddy listens on: 443 on the host, the container port for the sidecar. */
    readonly port: number;
    /**
     * The registry's authority as clients write it ("registry.example.com", "registry.example.com:8443"):
     * the Bearer challenge's realm is built from it, never from the request's Host header. Unset: the
     * site address, with the port unless it is 443.
     */
    readonly publicAuthority?: string;
    /**
     * Authorities whose requests get the realm on another configured authority, by the Host header as
     * the client sent it (host, and port unless the scheme's default): the kind placement's UI origin,
     * whose browser can only ask its own origin for a token, and the front's name on the kind network,
     * which pods resolve where they cannot reach localhost. The realm still comes from configuration: a
     * Host header names which configured authority, never the authority itself.
     */
    readonly realmAuthorities?: Readonly<Record<string, string>>;
    readonly tls: CaddyTls;
    /** Distribution's address as Caddy reaches it, e.g. "unix//run/dso-registry/registry.sock" or "127.0.0.1:5001". */
    readonly upstream: string;
    /** When true, every request needs a valid account; otherwise reads (except the ping) are anonymous. */
    readonly requiresAuthForPull: boolean;
    /** File with the push accounts' basicauth lines (see `renderUsersFile`). */
    readonly pushUsersFile: string;
    /** File with the pull-only accounts' basicauth lines; it must exist (it may hold only a comment). */
    readonly pullUsersFile: string;
    /**
     * The decoy password check (see `DECOY_ACCOUNT`): at every password check, Basic credentials of any
     * user the check's users files do not hold are checked against `bcryptHash` instead, at the
     * accounts' cost. Unset: Caddy's own decoy (cost 14) answers for names a check does not hold.
     */
    readonly decoy?: DecoyCheck;
    /**
     * Rotation with an overlap (components/accounts/passwordOverlap.ts): the overlap file
     * (`renderOverlapMatchers`), imported at the site, and beside every users file its previous-passwords
     * file (`previousUsersFile`). Each password check then sends the credentials `@overlapPrevious`
     * matches to a check against the previous passwords and every other to the usual one. Unset: no overlap.
     */
    readonly overlap?: { readonly matchersFile: string };
    /**
     * Client networks (CIDR) that may reach the registry at all; everyone when empty. Matched against
     * the direct peer, or, with `trustedProxies`, against the client a trusted proxy names; behind an
     * ingress controller that enforces it, leave it empty here.
     */
    readonly allowedNetworks: readonly string[];
    /**
     * Proxies (CIDR) whose X-Forwarded-For header names the client (a Gateway's controller in front of the
     * sidecar): the allowlist and the access log then see that client, read right to left, so a client
     * cannot put an address of its choosing in front of the controller's. Requests from anywhere else are
     * judged by their own address, whatever header they send.
     */
    readonly trustedProxies?: readonly string[];
    /** Same-origin web UI (the external host): requests under /registry/ go to this upstream without the prefix (e.g. "127.0.0.1:8081"). */
    readonly uiUpstream?: string;
    /**
     * HTTP/2 offered beside HTTP/1.1 (ALPN) when true; unset or false: HTTP/1.1 only, which is what every
     * placement renders. Through Caddy, an upload over HTTP/2 gets Go's 1 MiB receive window, which Caddy
     * leaves at its default, and runs at about 0.7x of the same upload over HTTP/1.1; registry clients
     * gain nothing from HTTP/2 (docker, containerd, podman and skopeo use HTTP/1.1 over TLS even where it is
     * offered). HTTP/1.1 also keeps what a connection holds bounded one connection at a time (one HTTP/2
     * connection carries up to 250 requests, and a frame may cost the front 1 MiB;
     * docs/access-policy.md#connection-limits). Never for a Caddy built with a Go older than the HTTP/2
     * rapid-reset fix (CVE-2023-44487, Go 1.20.10 and 1.21.3), such as Debian 12's Caddy 2.6.2.
     * Why: docs/decisions/access-policy.md#http2-on-the-host
     */
    readonly http2?: boolean;
    /**
     * Seconds a connection with no request in flight stays open (Caddy's `idle`): an HTTP/1.1 connection
     * between requests, and an HTTP/2 connection with no open stream, which is also one whose first HEADERS
     * never ends (Go's HTTP/2 server has no header deadline). Set it where clients connect to the front
     * themselves (the external host: `CLIENT_IDLE_SECONDS`), so that a connection that asks for nothing
     * frees its place within seconds. Unset: 5 minutes, for a front behind a proxy that keeps its
     * connections to the front open for reuse and must be the one to close them (ingress-nginx keeps them
     * 60 s). Why: docs/access-policy.md#connection-limits
     */
    readonly idleSeconds?: number;
    /**
     * Seconds the front keeps serving after it is told to stop (Caddy's `shutdown_delay`), answering every
     * request with `Connection: close`, before it stops taking requests and lets those under way finish. Set
     * where several fronts share the traffic and a stopping one must hand its clients over (the in-cluster
     * registry's pods when they may overlap): the cluster's routing drops the stopping pod meanwhile, and
     * clients, the ingress's connection pool among them, open their next connection to another pod instead
     * of sending a request on one that is about to close. Unset: the front stops taking requests at once.
     */
    readonly shutdownDelaySeconds?: number;
    /** Let push accounts delete manifests and blobs; otherwise DELETE is refused here (405). */
    readonly deletesEnabled: boolean;
    /** Address to bind to (e.g. "127.0.0.1"); all interfaces when unset. */
    readonly bindAddress?: string;
    /**
     * Caddy's admin endpoint: "off", a unix socket ("unix//var/lib/caddy/admin.sock", which only
     * Caddy's user and root can open), or an address such as "localhost:2019" (any local process can
     * replace the policy there). Caddy's default, localhost:2019, when unset.
     */
    readonly admin?: string;
    /**
     * Distribution's filesystem storage root (its `rootdirectory`) as Caddy sees it, readable by
     * Caddy. When set, GET/HEAD of `/v2/<name>/blobs/sha256:<hex>` that passed the policy is served
     * by Caddy from the blob's file when the repository links that blob, and proxied otherwise.
     * Unset for storage Caddy cannot read (s3).
     */
    readonly blobFiles?: string;
    /**
     * How the front learns that the registry is in its read-only window, so that writes
     * get 503 with Retry-After. The window is open while ANY signal is: a file that exists only
     * during the window, or an environment variable of Caddy's process that is non-empty only during
     * the window. Any number of files, at most one variable; writes simply reach Distribution when
     * there is none. Which job uses which signal, and why: docs/decisions/access-policy.md#the-read-only-window.
     */
    readonly readOnlySignals?: readonly ReadOnlySignal[];
    /**
     * The disk guard's marker file (docs/runbooks.md#disk-full): while it exists, a new blob upload
     * (POST to `blobs/uploads/`) and the data of one already open (a PATCH or PUT with a body) get 507 with
     * a message that the disk is full and what frees it; the commit of an upload whose data all came before
     * (a PUT without a body), manifests, pulls and deletes go on. Refused where the window refuses writes, by
     * the same means (after the push accounts' check, the body read first). The host's disk probe creates it past `registry.diskGuard.refusePercent`
     * and removes it below.
     */
    readonly diskFullSignal?: string;
    /**
     * The online collection's hold directory (docs/decisions/online-collection.md): while a file named
     * `sha256:<hex>` exists in it, that blob is being swept, and the front answers a blob check (HEAD on
     * the blob) 404 `BLOB_UNKNOWN` (the client uploads it). The commit of an upload of it (`?digest=`), a
     * mount of it (`?mount=`) and every manifest PUT reach Distribution through the gate, the unix socket
     * `gate` in it (a link to Distribution's socket, which whoever runs the front keeps there): while the
     * collection has taken the gate away, they wait at the front (SWEEP_HOLD_WAIT_SECONDS; then 503 with a
     * short Retry-After), and go on once it is back. Files only: no reload. Unset: no hold.
     */
    readonly sweepHold?: string;
    /**
     * A Maven repository on the same origin (the "converged case": `mavenRegistry.host` is this
     * registry): requests under `/<pathPrefix>/` go to its backend instead of Distribution.
     */
    readonly maven?: MavenRoute;
    /**
     * Pull-through caches served under `/v2/mirrors/<pathName>/` (docs/mirrors.md): read-only, after
     * every credential check, each proxied to its own Distribution.
     */
    readonly mirrors?: readonly MirrorRoute[];
    /**
     * Caddy's Prometheus metrics on a listener of their own that serves only /metrics (never on the
     * site); no metrics when unset. Why a listener of its own: docs/monitoring.md#metrics.
     */
    readonly metrics?: MetricsListener;
    /**
     * The access log: JSON, Authorization, cookies and Set-Cookie removed, to a rotated file or to
     * stdout (the kubelet rotates container logs); Caddy's default (none) when unset.
     */
    readonly accessLog?: AccessLog;
    /**
     * Pulls through the caches need an account (push or pull-only) even when the registry's own reads
     * are anonymous (`registry.mirrorPull` "accounts"). The allowlist applies to the caches either way.
     */
    readonly mirrorsRequireAuth?: boolean;
    /**
     * Push accounts that may write only under repository prefixes (a pipeline of one team): each is an
     * account of the push users file, named here with its prefixes. Every other push account keeps
     * every right. Unset or empty: every push account writes everywhere.
     * Why and how: docs/decisions/access-policy.md#push-accounts-scoped-to-repository-prefixes
     */
    readonly scopedPushAccounts?: readonly ScopedPushAccount[];
}

/** See `AccessPolicy.scopedPushAccounts`. */
export interface ScopedPushAccount {
    /** The account's name, as in the push users file. */
    readonly username: string;
    /**
     * Repository prefixes it may write under, each whole path components ending in "/"
     * ("docker-internal/p2c/team-a/"): it may push, mount into and delete repositories whose names start
     * with one of them, and nothing else. Reads are not limited.
     */
    readonly prefixes: readonly string[];
}

/** See `AccessPolicy.metrics`. */
export interface MetricsListener {
    /** Port of Caddy's own metrics. */
    readonly port: number;
    /** Address to bind to ("127.0.0.1" on the host); every address of the pod when unset. */
    readonly bindAddress?: string;
    /**
     * Distribution's metrics relayed on a port of their own (in the pod, where Distribution's debug
     * listener stays on loopback, so its /debug pages are never reachable): only /metrics is passed on.
     */
    readonly registry?: { readonly port: number; readonly upstream: string };
    /**
     * Files in Prometheus's text format that the pod's jobs write (tag retention's counts, the disk
     * figures), each served on Caddy's own metrics port at its `path` (GET and HEAD), as
     * `text/plain; version=0.0.4`; an empty answer while the file does not exist, so that a scrape before
     * the job's first run finds no series rather than a failing target.
     */
    readonly textfiles?: readonly { readonly path: string; readonly file: string }[];
}

/** See `AccessPolicy.accessLog`. */
export type AccessLog = { readonly kind: "file"; readonly path: string } | { readonly kind: "stdout" };

/** See `AccessPolicy.maven`. */
export interface MavenRoute {
    /** The repository's path, as in `mavenRegistry.pathPrefix` (e.g. "maven-releases"). */
    readonly pathPrefix: string;
    /** The backend's address as Caddy reaches it (nginx with WebDAV PUT): "127.0.0.1:5002" in the pod, "unix//run/dso-registry-maven/maven.sock" on the host. */
    readonly upstream: string;
    /** File with the Maven deploy account's basicauth line: the only account that may PUT. */
    readonly deployUsersFile: string;
    /**
     * Downloads need an account too (`mavenRegistry.requiresAuthForPull`): the deploy account or any
     * account of the registry (push or pull-only). Otherwise downloads are anonymous.
     */
    readonly requiresAuthForPull: boolean;
    /**
     * The disk guard's marker for the repository's own disk (docs/runbooks.md#disk-full): while it exists,
     * a deploy (PUT) gets 507 with a message that the disk is full and what frees it; downloads go on. A
     * marker of its own, beside the registry's (`AccessPolicy.diskFullSignal`): the guard checks the
     * repository's files apart from the registry's data, which may be on another disk. No refusal when unset.
     */
    readonly diskFullSignal?: string;
}

/** A pull-through cache as the front routes to it (see `AccessPolicy.mirrors`). */
export interface MirrorRoute {
    /** The path component under /v2/mirrors/. */
    readonly pathName: string;
    /** The cache's Distribution as the front reaches it ("unix//run/dso-registry-mirrors/docker.io/registry.sock", "svc.ns.svc:5000"). */
    readonly upstream: string;
}

/** See `AccessPolicy.readOnlySignals`. */
export type ReadOnlySignal =
    | { readonly kind: "file" /** Absolute path of the marker file. */; readonly path: string }
    | { readonly kind: "env" /** Name of the environment variable. */; readonly name: string };

/** Realm of the Basic check and the Bearer challenge's `service`; clients show it in their prompts and errors. */
export const REALM = "dso-registry";

/** Where the front serves the Bearer challenge's realm (the token endpoint), on the registry's own origin. */
export const TOKEN_PATH = "/v2/token";

/** Repository namespace the front reserves for mirrors: `/v2/mirrors/<upstream>/<repository>/…`. */
export const MIRRORS_NAMESPACE = "mirrors";

/**
 * The token every client without credentials gets from the realm. It is not a secret and grants
 * nothing: the front removes it from the request, which then counts as anonymous. Its "-" is outside
 * the base64 alphabet, so it can never be taken for credentials.
 */
export const ANONYMOUS_TOKEN = "anonymous-read-only";

/**
 * Seconds a client may keep a token before asking the realm again: only how often clients ask, not
 * how long a credential stays valid (docs/decisions/access-policy.md#tokens).
 */
export const TOKEN_LIFETIME_SECONDS = 300;

/** Seconds the read-only window's 503 asks clients to wait before they try a write again. */
export const READ_ONLY_RETRY_AFTER_SECONDS = 300;

/**
 * Retry-After (seconds) of the online collection's refusal (`AccessPolicy.sweepHold`), for a write that waited
 * SWEEP_HOLD_WAIT_SECONDS at the gate: a hold lasts the collection's settle times and its sweep, seconds, not a
 * window's minutes.
 */
export const SWEEP_HOLD_RETRY_AFTER_SECONDS = 5;

/**
 * How long a write held by the online collection's gate (a manifest PUT, a held blob's commit or mount) waits
 * at the front for the gate to come back (`AccessPolicy.sweepHold`), before it gets that 503 instead: under
 * containerd 2's 30 s for a response's headers (its resolver's default transport; a client that gives up gets
 * no answer at all), well over the seconds a collection holds writes for a sweep of hundreds of blobs.
 */
export const SWEEP_HOLD_WAIT_SECONDS = 25;

/** The name of the gate in the hold directory: a link to Distribution's unix socket while held writes may pass. */
export const SWEEP_HOLD_GATE = "gate";

/**
 * How much of a refused write's body the front reads before it answers the window's 503: a client
 * still sending its body when the answer comes may see its connection reset instead of the 503.
 * Why: docs/decisions/access-policy.md#the-window-reads-the-body-first
 */
export const READ_ONLY_BODY_READ_LIMIT = "1MiB";

/** How long the front keeps trying to reach a registry that does not accept connections (a restart). */
export const UPSTREAM_TRY_SECONDS = 20;

const UPSTREAM = /^[A-Za-z0-9.-]+:\d{1,5}$|^unix\/\S+$/;

/** Why a scoped push account cannot be rendered, or undefined when every one can. */
function scopedPushAccountsProblem(policy: AccessPolicy): string | undefined {
    const scoped = policy.scopedPushAccounts ?? [];
    const names = scoped.map((a) => a.username);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) return `scopedPushAccounts names "${twice}" twice; one entry per account`;
    for (const account of scoped) {
        if (!ACCOUNT_NAME.test(account.username)) {
            return `scopedPushAccounts entry "${account.username}" is not an account name (letters, digits, ".", "_", "-")`;
        }
        if (account.prefixes.length === 0) return `scopedPushAccounts "${account.username}" has no prefix; it could write nowhere`;
        const bad = account.prefixes.find((p) => !REPOSITORY_PREFIX.test(p));
        if (bad !== undefined) {
            return `scopedPushAccounts "${account.username}": prefix "${bad}" must be lower-case repository name components, each followed by "/" (e.g. "docker-internal/p2c/team-a/")`;
        }
        if (policy.decoy && !policy.decoy.accounts.push.includes(account.username)) {
            return `scopedPushAccounts "${account.username}" is not in the push users file (decoy.accounts.push)`;
        }
    }
    return undefined;
}

/**
 * Why a list of client networks cannot be matched as written, or undefined. An IPv4-mapped IPv6 network
 * parses in Caddy and never matches: Caddy matches an IPv4 client by its IPv4 address (shared/networks.ts).
 */
function networksProblem(key: string, networks: readonly string[], example: string): string | undefined {
    for (const network of networks) {
        const problem = cidrProblem(network, example);
        if (problem) return `${key} entry ${problem}`;
        const ipv4 = ipv4OfMappedNetwork(network);
        if (ipv4) return `${key} entry "${network}" is IPv4-mapped: write it as "${ipv4}", the address IPv4 clients are matched by`;
    }
    return undefined;
}

/** Why a policy cannot be rendered, or undefined when it can. Exported for table-driven tests. */
export function accessPolicyProblem(policy: AccessPolicy): string | undefined {
    if (!/^[A-Za-z0-9.-]+$/.test(policy.siteAddress)) {
        return `siteAddress "${policy.siteAddress}" must be a bare host name or IPv4 address (no scheme, port or path)`;
    }
    const badAlias = (policy.siteAliases ?? []).find((alias) => !/^[A-Za-z0-9.-]+$/.test(alias));
    if (badAlias !== undefined) return `siteAliases: "${badAlias}" must be a bare host name or IPv4 address`;
    if (!Number.isInteger(policy.port) || policy.port < 1 || policy.port > 65535) {
        return `port ${policy.port} must be a whole number from 1 to 65535`;
    }
    if (policy.publicAuthority !== undefined && !/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(policy.publicAuthority)) {
        return `publicAuthority "${policy.publicAuthority}" must be a host name with an optional port`;
    }
    const badRealm = Object.entries(policy.realmAuthorities ?? {})
        .flat()
        .find((authority) => !/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(authority));
    if (badRealm !== undefined) return `realmAuthorities: "${badRealm}" must be a host name with an optional port`;
    if (!UPSTREAM.test(policy.upstream)) {
        return `upstream "${policy.upstream}" must be "host:port" (e.g. "127.0.0.1:5000") or a unix socket ("unix//run/dso-registry/registry.sock")`;
    }
    if (policy.uiUpstream !== undefined && !UPSTREAM.test(policy.uiUpstream)) {
        return `uiUpstream "${policy.uiUpstream}" must be "host:port" (e.g. "127.0.0.1:8081")`;
    }
    const badMirror = policy.mirrors?.find((m) => !UPSTREAM.test(m.upstream) || !/^[a-z0-9]+(?:[.-][a-z0-9]+)*$/.test(m.pathName));
    if (badMirror !== undefined) {
        return `mirror "${badMirror.pathName}" needs a path name of lower-case letters, digits, "." and "-", and an upstream "host:port" (got "${badMirror.upstream}")`;
    }
    const decoyAccounts = policy.decoy ? Object.values(policy.decoy.accounts).flat() : [];
    const badUser = decoyAccounts.find((u) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(u));
    if (badUser !== undefined) return `decoy.accounts entry "${badUser}" is not an account name`;
    if (policy.decoy && !/^\$2[aby]\$10\$[./A-Za-z0-9]{53}$/.test(policy.decoy.bcryptHash)) {
        return "decoy.bcryptHash must be a bcrypt hash of cost 10, the accounts' cost (unmatchableBcryptHash)";
    }
    if (policy.idleSeconds !== undefined && (!Number.isInteger(policy.idleSeconds) || policy.idleSeconds < 1)) {
        return `idleSeconds ${policy.idleSeconds} must be a whole number of seconds, at least 1`;
    }
    if (policy.shutdownDelaySeconds !== undefined && (!Number.isInteger(policy.shutdownDelaySeconds) || policy.shutdownDelaySeconds < 1)) {
        return `shutdownDelaySeconds ${policy.shutdownDelaySeconds} must be a whole number of seconds, at least 1`;
    }
    const networkProblem =
        networksProblem("trustedProxies", policy.trustedProxies ?? [], "10.42.0.0/16") ??
        networksProblem("allowedNetworks", policy.allowedNetworks, "10.0.0.0/8");
    if (networkProblem !== undefined) return networkProblem;
    for (const [key, file] of [
        ["pushUsersFile", policy.pushUsersFile],
        ["pullUsersFile", policy.pullUsersFile],
    ] as const) {
        if (!file.startsWith("/") || /\s/.test(file)) return `${key} "${file}" must be an absolute path without spaces`;
    }
    if (policy.tls.kind === "files") {
        for (const file of [policy.tls.certFile, policy.tls.keyFile]) {
            if (!file.startsWith("/") || /\s/.test(file)) return `TLS file "${file}" must be an absolute path without spaces`;
        }
    }
    if (policy.tls.kind === "acme") {
        if (!/^[^\s@]+@[^\s@]+$/.test(policy.tls.email)) return `ACME email "${policy.tls.email}" is not an e-mail address`;
        if (policy.tls.directory !== undefined && !/^https:\/\/\S+$/.test(policy.tls.directory)) {
            return `ACME directory "${policy.tls.directory}" must be an https URL`;
        }
        if (/^\d+\.\d+\.\d+\.\d+$/.test(policy.siteAddress)) {
            return `ACME cannot issue a certificate for the IP address ${policy.siteAddress}; use a DNS name`;
        }
    }
    if (policy.admin !== undefined && policy.admin !== "off" && !/^[A-Za-z0-9.-]*:\d{1,5}$|^unix\/\/[A-Za-z0-9._/-]+$/.test(policy.admin)) {
        return `admin "${policy.admin}" must be "off", a unix socket such as "unix//var/lib/caddy/admin.sock" or an address such as "localhost:2019"`;
    }
    const signals = policy.readOnlySignals ?? [];
    if (signals.filter((s) => s.kind === "env").length > 1) return `readOnlySignals holds more than one "env" signal; one at most`;
    const files = signals.flatMap((s) => (s.kind === "file" ? [s.path] : []));
    if (new Set(files).size !== files.length) return "readOnlySignals names the same file twice";
    for (const signal of signals) {
        if (signal.kind === "file" && !/^\/[A-Za-z0-9._/-]+$/.test(signal.path)) {
            return `readOnlySignal file "${signal.path}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
        }
        if (signal.kind === "env" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(signal.name)) {
            return `readOnlySignal environment variable "${signal.name}" must be letters, digits and "_", not starting with a digit`;
        }
    }
    if (policy.diskFullSignal !== undefined) {
        if (!/^\/[A-Za-z0-9._/-]+$/.test(policy.diskFullSignal)) {
            return `diskFullSignal "${policy.diskFullSignal}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
        }
        if (files.includes(policy.diskFullSignal))
            return "diskFullSignal is also a readOnlySignal: give the disk guard a marker of its own";
    }
    if (policy.sweepHold !== undefined) {
        if (!/^\/[A-Za-z0-9._/-]+$/.test(policy.sweepHold) || policy.sweepHold.split("/").includes("..")) {
            return `sweepHold "${policy.sweepHold}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
        }
    }
    if (policy.maven) {
        const m = policy.maven;
        if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(m.pathPrefix) || m.pathPrefix.split("/").some((s) => s === "." || s === "..")) {
            return `maven.pathPrefix "${m.pathPrefix}" must be path segments of letters, digits, ".", "_" and "-" (e.g. "maven-releases")`;
        }
        if (m.pathPrefix === "v2" || m.pathPrefix.startsWith("v2/"))
            return `maven.pathPrefix "${m.pathPrefix}" would hide the registry API (/v2/)`;
        if (!UPSTREAM.test(m.upstream))
            return `maven.upstream "${m.upstream}" must be "host:port" (e.g. "127.0.0.1:5002") or "unix/" and a socket's path`;
        if (!m.deployUsersFile.startsWith("/") || /\s/.test(m.deployUsersFile)) {
            return `maven.deployUsersFile "${m.deployUsersFile}" must be an absolute path without spaces`;
        }
        if (m.diskFullSignal !== undefined) {
            if (!/^\/[A-Za-z0-9._/-]+$/.test(m.diskFullSignal)) {
                return `maven.diskFullSignal "${m.diskFullSignal}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
            }
            if (files.includes(m.diskFullSignal) || m.diskFullSignal === policy.diskFullSignal) {
                return "maven.diskFullSignal is also another signal's file: give the Maven repository's disk guard a marker of its own";
            }
        }
    }
    if (policy.blobFiles !== undefined && !/^\/[A-Za-z0-9._/-]*$/.test(policy.blobFiles)) {
        return `blobFiles "${policy.blobFiles}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
    }
    const textfiles = policy.metrics?.textfiles ?? [];
    for (const textfile of textfiles) {
        if (!/^\/[A-Za-z0-9._/-]+$/.test(textfile.path) || textfile.path === "/metrics") {
            return `metrics.textfiles path "${textfile.path}" must be an absolute path of letters, digits, ".", "_", "-" and "/", other than /metrics`;
        }
        if (!/^\/[A-Za-z0-9._/-]*\/[A-Za-z0-9._-]+$/.test(textfile.file)) {
            return `metrics.textfiles file "${textfile.file}" must be an absolute file path of letters, digits, ".", "_", "-" and "/"`;
        }
        if (textfiles.filter((t) => t.path === textfile.path).length > 1) {
            return `metrics.textfiles serves two files at "${textfile.path}": give each a path of its own`;
        }
    }
    return scopedPushAccountsProblem(policy);
}
