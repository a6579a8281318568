/**
 * The registry's access policy, rendered as text: the Caddyfile that fronts Docker Distribution, the
 * users files that Caddyfile imports, and Distribution's own config.yml. Every variant (the external
 * host, the in-cluster sidecar) renders through here, so the policy that was proven against real
 * clients is the one that ships.
 *
 * The policy (see docs/access-policy.md for why each rule exists and why the tokens are safe):
 *   - `GET/HEAD /v2/` (the "ping") answers 401 with a Bearer challenge unless valid credentials come
 *     with it. Ping-first clients (docker, skopeo, buildah) only send credentials after a challenge;
 *     with an open ping they push anonymously and fail.
 *   - The challenge's realm is served here (`TOKEN_PATH`): a client with valid Basic credentials gets
 *     them back as its token; a client without credentials gets the anonymous token, which grants
 *     what no credentials grant (reads, unless pulls require authentication). A Bearer token is
 *     turned back into the Basic credentials it carries and checked like them, so no secret or
 *     signing key exists beyond the accounts.
 *   - Every other GET/HEAD passes without credentials, unless pulls require authentication.
 *   - Every other method (push, delete) needs a push account. Pull-only accounts never write.
 *   - During the read-only maintenance window, writes (and pushers' blob checks, HEAD on a blob) get 503
 *     with Retry-After and a registry error.
 *
 * With `blobFiles` set, a blob GET/HEAD that has passed every rule above is answered by Caddy from
 * Distribution's filesystem storage instead of through the proxy hop (see `blobShortcut`).
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { type MirrorRoute, renderMirrorRoutes } from "../mirrors/mirrors";
import { ACCOUNT_NAME } from "../shared/facts";

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

export interface AccessPolicy {
    /** Host name clients use (the Caddy site address), e.g. "registry.example.com" or "127.0.0.1". */
    readonly siteAddress: string;
    /** Port Caddy listens on: 443 on the host, the container port for the sidecar. */
    readonly port: number;
    readonly tls: CaddyTls;
    /** Distribution's address as Caddy reaches it, e.g. "127.0.0.1:5000". */
    readonly upstream: string;
    /** When true, every request needs a valid account; otherwise reads (except the ping) are anonymous. */
    readonly requiresAuthForPull: boolean;
    /** File with the push accounts' basicauth lines (see `renderUsersFile`). */
    readonly pushUsersFile: string;
    /** File with the pull-only accounts' basicauth lines; it must exist (it may hold only a comment). */
    readonly pullUsersFile: string;
    /**
     * Client networks (CIDR) that may reach the registry at all; everyone when empty. Matched against
     * the direct peer: behind an ingress or load balancer, enforce the allowlist there instead.
     */
    readonly allowedNetworks: readonly string[];
    /** Same-origin web UI: everything outside /v2/ goes to this upstream (e.g. "127.0.0.1:8081"). */
    readonly uiUpstream?: string;
    /** Let push accounts delete manifests and blobs; otherwise DELETE is refused here (405). */
    readonly deletesEnabled: boolean;
    /** Address to bind to (e.g. "127.0.0.1"); all interfaces when unset. */
    readonly bindAddress?: string;
    /**
     * Caddy's admin endpoint: "off", or an address such as "localhost:2019". Caddy's default (which
     * `caddy reload` and the Debian service use) when unset.
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
     * How the front learns that the registry is in a read-only maintenance window, so that writes get
     * 503 with Retry-After instead of Distribution's bare 405 (or, during a backup that keeps
     * Distribution writable, instead of reaching it at all). The window is open while ANY signal is:
     * a file that exists only during the window (the external host's maintenance scripts, the
     * in-cluster backup and GC jobs, each with a file of its own so that neither ends the other's
     * window), or an environment variable of Caddy's process that is set (non-empty) only during the
     * window (the in-cluster GC job sets it on every container of the pods when they may overlap).
     * Any number of files (one matcher: the window is open while any of them exists), at most one
     * variable. Writes simply reach Distribution when there is none.
     */
    readonly readOnlySignals?: readonly ReadOnlySignal[];
    /**
     * A Maven repository on the same origin (the "converged case": `mavenRegistry.host` is this
     * registry): requests under `/<pathPrefix>/` go to its backend instead of Distribution.
     */
    readonly maven?: MavenRoute;
    /**
     * Pull-through caches served under `/v2/mirrors/<pathName>/` (see components/mirrors/mirrors.ts):
     * read-only, after every credential check, each proxied to its own Distribution.
     */
    readonly mirrors?: readonly MirrorRoute[];
}

/** See `AccessPolicy.maven`. */
export interface MavenRoute {
    /** The repository's path, as in `mavenRegistry.pathPrefix` (e.g. "maven-releases"). */
    readonly pathPrefix: string;
    /** The backend's address as Caddy reaches it (nginx with WebDAV PUT), e.g. "127.0.0.1:5002". */
    readonly upstream: string;
    /** File with the Maven deploy account's basicauth line: the only account that may PUT. */
    readonly deployUsersFile: string;
    /**
     * Downloads need an account too (`mavenRegistry.requiresAuthForPull`): the deploy account or any
     * account of the registry (push or pull-only). Otherwise downloads are anonymous.
     */
    readonly requiresAuthForPull: boolean;
}

/** See `AccessPolicy.readOnlySignals`. */
export type ReadOnlySignal =
    | { readonly kind: "file" /** Absolute path of the marker file. */; readonly path: string }
    | { readonly kind: "env" /** Name of the environment variable. */; readonly name: string };

/** Realm of the Basic check and the Bearer challenge's `service`; clients show it in their prompts and errors. */
export const REALM = "dso-registry";

/** Where the front serves the Bearer challenge's realm (the token endpoint), on the registry's own origin. */
export const TOKEN_PATH = "/v2/token";

/**
 * The token every client without credentials gets from the realm. It is not a secret and grants
 * nothing: the front removes it from the request, which then counts as anonymous. Its "-" is outside
 * the base64 alphabet, so it can never be taken for credentials.
 */
export const ANONYMOUS_TOKEN = "anonymous-read-only";

/**
 * Seconds a client may keep a token before asking the realm again. A token is the client's own
 * credentials (or the anonymous token), so this is only how often clients ask, not how long a
 * credential stays valid: that is exactly as long as the account's password.
 */
export const TOKEN_LIFETIME_SECONDS = 300;

/** Seconds the maintenance window's 503 asks clients to wait before they try a write again. */
export const READ_ONLY_RETRY_AFTER_SECONDS = 300;

const CIDR = /^[0-9a-fA-F:.]+\/\d{1,3}$/;
const UPSTREAM = /^[A-Za-z0-9.-]+:\d{1,5}$|^unix\/\S+$/;

/** Why a policy cannot be rendered, or undefined when it can. Exported for table-driven tests. */
export function accessPolicyProblem(policy: AccessPolicy): string | undefined {
    if (!/^[A-Za-z0-9.-]+$/.test(policy.siteAddress)) {
        return `siteAddress "${policy.siteAddress}" must be a bare host name or IPv4 address (no scheme, port or path)`;
    }
    if (!Number.isInteger(policy.port) || policy.port < 1 || policy.port > 65535) {
        return `port ${policy.port} must be a whole number from 1 to 65535`;
    }
    if (!UPSTREAM.test(policy.upstream)) {
        return `upstream "${policy.upstream}" must be "host:port" (e.g. "127.0.0.1:5000")`;
    }
    if (policy.uiUpstream !== undefined && !UPSTREAM.test(policy.uiUpstream)) {
        return `uiUpstream "${policy.uiUpstream}" must be "host:port" (e.g. "127.0.0.1:8081")`;
    }
    const badMirror = policy.mirrors?.find((m) => !UPSTREAM.test(m.upstream) || !/^[a-z0-9]+(?:[.-][a-z0-9]+)*$/.test(m.pathName));
    if (badMirror !== undefined) {
        return `mirror "${badMirror.pathName}" needs a path name of lower-case letters, digits, "." and "-", and an upstream "host:port" (got "${badMirror.upstream}")`;
    }
    const badNetwork = policy.allowedNetworks.find((n) => !CIDR.test(n));
    if (badNetwork !== undefined) {
        return `allowedNetworks entry "${badNetwork}" is not a network in CIDR form such as "10.0.0.0/8"`;
    }
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
    if (policy.admin !== undefined && policy.admin !== "off" && !/^[A-Za-z0-9.-]*:\d{1,5}$/.test(policy.admin)) {
        return `admin "${policy.admin}" must be "off" or an address such as "localhost:2019"`;
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
    if (policy.maven) {
        const m = policy.maven;
        if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(m.pathPrefix) || m.pathPrefix.split("/").some((s) => s === "." || s === "..")) {
            return `maven.pathPrefix "${m.pathPrefix}" must be path segments of letters, digits, ".", "_" and "-" (e.g. "maven-releases")`;
        }
        if (m.pathPrefix === "v2" || m.pathPrefix.startsWith("v2/"))
            return `maven.pathPrefix "${m.pathPrefix}" would hide the registry API (/v2/)`;
        if (!UPSTREAM.test(m.upstream)) return `maven.upstream "${m.upstream}" must be "host:port" (e.g. "127.0.0.1:5002")`;
        if (!m.deployUsersFile.startsWith("/") || /\s/.test(m.deployUsersFile)) {
            return `maven.deployUsersFile "${m.deployUsersFile}" must be an absolute path without spaces`;
        }
    }
    if (policy.blobFiles !== undefined && !/^\/[A-Za-z0-9._/-]*$/.test(policy.blobFiles)) {
        return `blobFiles "${policy.blobFiles}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
    }
    return undefined;
}

function globalOptions(policy: AccessPolicy): string[] {
    const lines: string[] = [];
    if (policy.admin !== undefined) lines.push(`\tadmin ${policy.admin}`);
    switch (policy.tls.kind) {
        case "acme":
            lines.push(`\temail ${policy.tls.email}`);
            if (policy.tls.directory) lines.push(`\tacme_ca ${policy.tls.directory}`);
            break;
        case "files":
            // The certificate is ours: no ACME, and no second listener on port 80 for redirects.
            lines.push("\tauto_https disable_redirects");
            break;
        case "plain-http":
            lines.push("\tauto_https off");
            break;
    }
    lines.push(
        "\tservers {",
        // Layers can take a long time to upload and download: no read or write deadline on bodies,
        // only on the request header and on idle keep-alive connections.
        "\t\ttimeouts {",
        "\t\t\tread_header 30s",
        "\t\t\tidle 5m",
        "\t\t}",
        // HTTP/3 is not used by registry clients; without it there is no UDP listener to firewall.
        "\t\tprotocols h1 h2",
        "\t}",
    );
    return ["{", ...lines, "}"];
}

function siteLabel(policy: AccessPolicy): string {
    return policy.tls.kind === "plain-http" ? `http://${policy.siteAddress}:${policy.port}` : `${policy.siteAddress}:${policy.port}`;
}

function basicauth(matcher: string, files: readonly string[]): string[] {
    return [`\t\tbasicauth ${matcher} bcrypt ${REALM} {`, ...files.map((f) => `\t\t\timport ${f}`), "\t\t}"];
}

/** How long the front keeps trying to reach a registry that does not accept connections (a restart). */
export const UPSTREAM_TRY_SECONDS = 20;

/**
 * Distribution behind the proxy: responses stream to the client as they arrive, with large socket
 * buffers so a 256 MiB layer is copied in few, large reads (see docs/access-policy.md, Performance).
 * A request that finds no registry listening (the maintenance window swaps the container, a pod
 * restarts) is held and retried for UPSTREAM_TRY_SECONDS instead of failing at once with 502; reads
 * are retried also when the connection was dropped before an answer.
 */
function registryProxy(upstream: string): string[] {
    return [
        `\t\treverse_proxy ${upstream} {`,
        // Distribution runs without auth of its own: it never needs the client's credentials.
        "\t\t\theader_up -Authorization",
        "\t\t\tflush_interval -1",
        `\t\t\tlb_try_duration ${UPSTREAM_TRY_SECONDS}s`,
        "\t\t\tlb_try_interval 250ms",
        // Reads are retried also when the connection was accepted and then dropped (docker's port
        // proxy accepts before the container's registry listens); writes only when none was made.
        "\t\t\tlb_retry_match {",
        "\t\t\t\tmethod GET HEAD",
        "\t\t\t}",
        "\t\t\ttransport http {",
        "\t\t\t\tcompression off",
        "\t\t\t\tread_buffer 256KiB",
        "\t\t\t\twrite_buffer 256KiB",
        "\t\t\t\tkeepalive 5m",
        "\t\t\t}",
        "\t\t}",
    ];
}

/**
 * A repository name as Distribution's reference grammar spells it: lower-case components joined by
 * "/", separators ".", "_", "__" or dashes between alphanumerics. No component can be "." or "..",
 * so a name never leaves the repositories directory.
 */
const REPOSITORY_NAME = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*";

/**
 * A blob GET/HEAD: capture 1 is the repository, 2 the 64 hex digits of the digest, 3 their first two
 * (Distribution's directory fan-out). Anything else (other algorithms, upper case, names outside the
 * grammar) does not match and goes through the proxy.
 */
export const BLOB_PATH = `^/v2/(${REPOSITORY_NAME})/blobs/sha256:(([0-9a-f]{2})[0-9a-f]{62})$`;

/**
 * Blob downloads served by Caddy from Distribution's filesystem storage: the same CPU path as
 * Distribution serving TLS itself, without the proxy hop (see docs/access-policy.md, Performance).
 * Placed after every policy rule, so it only sees requests the policy let through.
 *
 * It answers like Distribution only where Distribution would serve the file: the repository's layer
 * link must exist (`repositories/<name>/_layers/sha256/<hex>/link`, removed when the blob is
 * deleted from that repository) and so must the data (`blobs/sha256/<2 hex>/<hex>/data`, removed by
 * garbage collection; Distribution moves it into place only once an upload is complete). When
 * either is missing the request falls through to the proxy and Distribution gives its own answer.
 * The placeholders come from the path matcher of the enclosing route: the file matchers sit in
 * nested routes because the matchers of one set are evaluated in no defined order.
 */
function blobShortcut(storageRoot: string): string[] {
    const v2 = `${storageRoot.replace(/\/+$/, "")}/docker/registry/v2`;
    const fileMatcher = (name: string, file: string) => [`@${name} file {`, `\troot ${v2}`, `\ttry_files ${file}`, "}"];
    return [
        "route @blob {",
        ...fileMatcher("linked", "/repositories/{re.blob.1}/_layers/sha256/{re.blob.2}/link").map((l) => `\t${l}`),
        "\troute @linked {",
        ...fileMatcher("stored", "/blobs/sha256/{re.blob.3}/{re.blob.2}/data").map((l) => `\t\t${l}`),
        "\t\troute @stored {",
        // The headers Distribution sends with a blob; file_server keeps a Content-Type already set
        // and adds Content-Length, Accept-Ranges, ETag and Last-Modified, and answers Range requests.
        "\t\t\theader {",
        "\t\t\t\tDocker-Content-Digest sha256:{re.blob.2}",
        "\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t\tContent-Type application/octet-stream",
        "\t\t\t\tCache-Control max-age=31536000",
        "\t\t\t\tX-Content-Type-Options nosniff",
        "\t\t\t}",
        "\t\t\trewrite * {file_match.relative}",
        "\t\t\tfile_server {",
        `\t\t\t\troot ${v2}`,
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "}",
    ].map((l) => `\t\t${l}`);
}

/** A registry error body (the Distribution API's `errors` array) with one error. */
function registryError(code: string, message: string): string {
    return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

/**
 * The token endpoint (the Bearer challenge's realm). A client that sends Basic credentials gets them
 * checked like every other request and, when valid, gets them back as its token: the base64 text it
 * sent, which it then sends as `Bearer <token>` and the front turns back into `Basic <token>`. A
 * client without credentials gets the anonymous token, or a 401 when pulls require authentication.
 * Tokens are never cached (`no-store`) and carry no CORS header, so no other origin can read one.
 */
function tokenEndpoint(policy: AccessPolicy, everyone: readonly string[]): string[] {
    const json = (token: string) =>
        `\`${escapeBraces(JSON.stringify({ token, access_token: token, expires_in: TOKEN_LIFETIME_SECONDS }))}\``;
    return [
        '\t\trespond @tokenWrite "Tokens are issued on GET" 405',
        "\t\troute @token {",
        ...basicauth("@withCredentials", everyone).map((l) => `\t${l}`),
        "\t\t\theader {",
        "\t\t\t\tCache-Control no-store",
        "\t\t\t\tContent-Type application/json",
        "\t\t\t\tX-Content-Type-Options nosniff",
        "\t\t\t}",
        `\t\t\trespond @basicCredentials ${json("{re.basic.1}")} 200`,
        policy.requiresAuthForPull ? "\t\t\terror 401" : `\t\t\trespond ${json(ANONYMOUS_TOKEN)} 200`,
        "\t\t}",
    ];
}

/**
 * Every 401 (a failed or missing credential anywhere in the route) carries the Bearer challenge
 * whose realm is this origin's token endpoint, and a registry error that docker and skopeo print.
 * The realm's origin is the one the client used: behind a proxy that terminates TLS (the sidecar)
 * the scheme comes from X-Forwarded-Proto, and the Host header names the host the client asked for.
 */
function unauthorizedAnswer(policy: AccessPolicy): string[] {
    const scheme = policy.tls.kind === "plain-http" ? "{dso_client_scheme}" : "https";
    const realm = `Bearer realm="${scheme}://{http.request.hostport}${TOKEN_PATH}",service="${REALM}"`;
    const message =
        "authentication required: no valid credentials came with this request; log in with an account of this registry (docker login {http.request.hostport}), and push with a push account";
    return [
        "\thandle_errors {",
        ...(policy.maven ? mavenUnauthorized(policy.maven) : []),
        "\t\t@unauthorized expression {err.status_code} == 401",
        "\t\thandle @unauthorized {",
        "\t\t\theader {",
        `\t\t\t\tWWW-Authenticate \`${realm}\``,
        "\t\t\t\tContent-Type application/json",
        "\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t}",
        `\t\t\trespond \`${escapeBraces(registryError("UNAUTHORIZED", message))}\` 401`,
        "\t\t}",
        "\t}",
    ];
}

/** JSON braces escaped for Caddy's placeholder syntax; placeholders (`{http.…}`, `{re.…}`) are kept. */
function escapeBraces(text: string): string {
    return text.replace(/[{}]/g, (c) => `\\${c}`).replace(/\\\{((?:http|re)\.[a-z0-9.]+)\\\}/g, "{$1}");
}

/** The name of a signal's matcher: one matcher per kind, since a named matcher's conditions all have to hold. */
function maintenanceMatcherName(kind: ReadOnlySignal["kind"]): string {
    return `@maintenance-${kind}`;
}

/**
 * A pusher's check whether a blob exists (HEAD on a blob) during the window. The garbage collection
 * may be removing that very blob (one a refused push left behind): a client told "it exists" skips
 * the upload, and its manifest, sent after the window, is refused with "blob unknown" (seen with
 * skopeo in the push loop, distribution#3045's race by another road). So the check gets the window's
 * 503 too, and the push fails with the clear, retryable refusal. Pulls fetch blobs with GET.
 */
function blobCheckMatcherName(kind: ReadOnlySignal["kind"]): string {
    return `@maintenance-${kind}-blob-check`;
}

/** Any blob of any repository, by digest (the blob check's path). */
const BLOB_CHECK_PATH = "^/v2/.+/blobs/sha256:[0-9a-f]{64}$";

/** The kinds of signal present, in order: each gets its matchers and their 503 routes. */
function signalKinds(signals: readonly ReadOnlySignal[]): ReadOnlySignal["kind"][] {
    return [...new Set(signals.map((s) => s.kind))];
}

/**
 * Writes during the read-only maintenance window: 503, Retry-After and a registry error that says
 * what is going on, instead of Distribution's 405 (which docker prints as "error parsing HTTP 405
 * response body"). Checked before authentication, so nobody sends a layer that cannot be stored.
 * One route per kind of signal, with the same answer: the window is open while any signal is.
 */
function readOnlyAnswer(signals: readonly ReadOnlySignal[]): string[] {
    const message =
        "the registry is in its read-only maintenance window (garbage collection or backup): pulls work, pushes do not; retry the push in a few minutes";
    const matchers = signalKinds(signals).flatMap((kind) => [maintenanceMatcherName(kind), blobCheckMatcherName(kind)]);
    return matchers.flatMap((matcher) => [
        `\t\troute ${matcher} {`,
        "\t\t\theader {",
        `\t\t\t\tRetry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`,
        "\t\t\t\tContent-Type application/json",
        "\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t}",
        `\t\t\trespond \`${escapeBraces(registryError("UNAVAILABLE", message))}\` 503`,
        "\t\t}",
    ]);
}

/** One matcher per kind: the files' matcher holds when any of its files exists (try_files, first_exist). */
function readOnlyMatchers(signals: readonly ReadOnlySignal[]): string[] {
    return signalKinds(signals).flatMap((kind) => {
        const files = signals.flatMap((s) => (s.kind === "file" ? [s.path] : []));
        const names = signals.flatMap((s) => (s.kind === "env" ? [s.name] : []));
        const test =
            kind === "file"
                ? ["\t\tfile {", "\t\t\troot /", `\t\t\ttry_files ${files.join(" ")}`, "\t\t}"]
                : [`\t\texpression \`{env.${names[0]}} != ""\``];
        return [
            `\t${maintenanceMatcherName(kind)} {`,
            "\t\tnot method GET HEAD",
            ...test,
            "\t}",
            `\t${blobCheckMatcherName(kind)} {`,
            "\t\tmethod HEAD",
            `\t\tpath_regexp ${BLOB_CHECK_PATH}`,
            ...test,
            "\t}",
        ];
    });
}

function mavenMatchers(maven: MavenRoute): string[] {
    return [
        `\t@maven path /${maven.pathPrefix} /${maven.pathPrefix}/*`,
        "\t@mavenOther not method GET HEAD PUT",
        "\t@mavenRead method GET HEAD",
    ];
}

/**
 * The Maven repository's route, ahead of every registry rule: Maven clients know nothing of the
 * registry's tokens. Only GET, HEAD and PUT exist there; during the maintenance window a PUT gets 503
 * with Retry-After (plain text, before authentication, as for the registry); PUT needs the Maven
 * deploy account; reads are anonymous unless `requiresAuthForPull`, and then any account may read.
 * Credentials stop here: the backend never sees them.
 */
function mavenRoute(policy: AccessPolicy, maven: MavenRoute): string[] {
    const readers = [maven.deployUsersFile, policy.pushUsersFile, policy.pullUsersFile];
    return [
        "\t\troute @maven {",
        '\t\t\trespond @mavenOther "Only GET, HEAD and PUT are allowed on the Maven repository" 405',
        // Deploys wait out the maintenance window like pushes: a backup or a clean-up must not see half a deploy.
        ...signalKinds(policy.readOnlySignals ?? []).flatMap((kind) => [
            `\t\t\troute ${maintenanceMatcherName(kind)} {`,
            `\t\t\t\theader Retry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`,
            '\t\t\t\trespond "the Maven repository is in its read-only maintenance window (garbage collection or backup): downloads work, deploys do not; retry the deploy in a few minutes" 503',
            "\t\t\t}",
        ]),
        ...basicauth("@write", [maven.deployUsersFile]).map((l) => `\t${l}`),
        ...(maven.requiresAuthForPull ? basicauth("@mavenRead", readers).map((l) => `\t${l}`) : []),
        "\t\t\trequest_header -Authorization",
        `\t\t\treverse_proxy ${maven.upstream} {`,
        "\t\t\t\tflush_interval -1",
        "\t\t\t\ttransport http {",
        "\t\t\t\t\tcompression off",
        "\t\t\t\t}",
        "\t\t\t}",
        "\t\t}",
    ];
}

/**
 * A 401 from the Maven route keeps a Basic challenge: Maven (and curl) answer Basic, not the
 * registry's Bearer realm. Listed before the registry's own 401 answer, which would replace it.
 */
function mavenUnauthorized(maven: MavenRoute): string[] {
    return [
        "\t\t@mavenUnauthorized {",
        "\t\t\texpression {err.status_code} == 401",
        `\t\t\tpath /${maven.pathPrefix} /${maven.pathPrefix}/*`,
        "\t\t}",
        "\t\thandle @mavenUnauthorized {",
        `\t\t\theader WWW-Authenticate \`Basic realm="${REALM}"\``,
        '\t\t\trespond "authentication required: deploy with the Maven account whose credential Jenkins holds (mavenRegistry.credentialId)" 401',
        "\t\t}",
    ];
}

/** The Caddyfile for a policy. It holds no secret: accounts come from the imported users files. */
export function renderCaddyfile(policy: AccessPolicy): string {
    const problem = accessPolicyProblem(policy);
    if (problem) throw new Error(`renderCaddyfile: ${problem}`);
    const everyone = [policy.pushUsersFile, policy.pullUsersFile];
    const site: string[] = [`${siteLabel(policy)} {`];
    if (policy.bindAddress) site.push(`\tbind ${policy.bindAddress}`);
    if (policy.tls.kind === "files") site.push(`\ttls ${policy.tls.certFile} ${policy.tls.keyFile}`);
    site.push(
        "\t@ping path /v2 /v2/",
        `\t@token path ${TOKEN_PATH}`,
        `\t@tokenWrite {`,
        `\t\tpath ${TOKEN_PATH}`,
        "\t\tnot method GET HEAD",
        "\t}",
        "\t@withCredentials header Authorization *",
        "\t@basicCredentials header_regexp basic Authorization ^(?i:basic)\\s+([A-Za-z0-9+/]+=*)$",
        `\t@anonymousToken header Authorization "Bearer ${ANONYMOUS_TOKEN}"`,
        "\t@bearerCredentials header_regexp bearer Authorization ^(?i:bearer)\\s+([A-Za-z0-9+/]+=*)$",
        "\t@write not method GET HEAD",
        ...(policy.requiresAuthForPull ? ["\t@read method GET HEAD"] : []),
        ...(policy.deletesEnabled ? [] : ["\t@delete method DELETE"]),
        ...readOnlyMatchers(policy.readOnlySignals ?? []),
        ...(policy.allowedNetworks.length > 0 ? [`\t@outside not remote_ip ${policy.allowedNetworks.join(" ")}`] : []),
        ...(policy.maven ? mavenMatchers(policy.maven) : []),
        ...(policy.uiUpstream ? ["\t@api path /v2 /v2/*"] : []),
        ...(policy.blobFiles ? ["\t@blob {", "\t\tmethod GET HEAD", `\t\tpath_regexp blob ${BLOB_PATH}`, "\t}"] : []),
        ...(policy.tls.kind === "plain-http"
            ? ["\tmap {http.request.header.X-Forwarded-Proto} {dso_client_scheme} {", "\t\thttps https", "\t\tdefault http", "\t}"]
            : []),
        "",
        // `route` keeps the order below exactly as written.
        "\troute {",
        ...(policy.allowedNetworks.length > 0 ? ['\t\trespond @outside "Forbidden: your network may not use this registry" 403'] : []),
        ...(policy.maven ? mavenRoute(policy, policy.maven) : []),
        ...(policy.deletesEnabled ? [] : ['\t\trespond @delete "Deleting is disabled on this registry" 405']),
        // Tokens: the anonymous one counts as no credentials; any other is the Basic credentials it carries.
        "\t\trequest_header @anonymousToken -Authorization",
        '\t\trequest_header @bearerCredentials Authorization "Basic {re.bearer.1}"',
        ...tokenEndpoint(policy, everyone),
        ...readOnlyAnswer(policy.readOnlySignals ?? []),
        ...basicauth("@write", [policy.pushUsersFile]),
        ...basicauth("@ping", everyone),
        ...(policy.requiresAuthForPull ? basicauth("@read", everyone) : []),
        ...renderMirrorRoutes(policy.mirrors ?? [], (upstream) => registryProxy(upstream).map((l) => l.slice(2))),
        ...(policy.blobFiles ? blobShortcut(policy.blobFiles) : []),
    );
    if (policy.uiUpstream) {
        site.push(
            "\t\thandle @api {",
            ...registryProxy(policy.upstream).map((l) => `\t${l}`),
            "\t\t}",
            "\t\thandle {",
            `\t\t\treverse_proxy ${policy.uiUpstream}`,
            "\t\t}",
        );
    } else {
        site.push(...registryProxy(policy.upstream));
    }
    site.push("\t}", ...unauthorizedAnswer(policy), "}");
    return [
        "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
        ...globalOptions(policy),
        "",
        ...site,
        "",
    ].join("\n");
}

/** A bcrypt hash as Caddy and Distribution accept it: "$2a$", "$2b$" or "$2y$", a two-digit cost, salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** An account as the users files need it. */
export interface PolicyAccount {
    readonly username: string;
    /** bcrypt hash ("$2a$…", "$2b$…" or "$2y$…"); Caddy and Distribution accept nothing else. */
    readonly bcryptHash: string;
}

/**
 * A users file for Caddy's basicauth (imported inside the block): one "user hash" line per
 * account, sorted so the file is stable between runs. A file without accounts holds only the
 * comment, which Caddy accepts.
 */
export function renderUsersFile(role: "push" | "pull", accounts: readonly PolicyAccount[]): string {
    for (const a of accounts) {
        if (!ACCOUNT_NAME.test(a.username)) {
            throw new Error(`renderUsersFile: user name "${a.username}" is not allowed (letters, digits, ".", "_", "-")`);
        }
        // Caddy's basicauth checks bcrypt only: a hash of another scheme (MD5-crypt, SHA, …), or any
        // other text, would never match a password and lock the account out.
        if (!BCRYPT_HASH.test(a.bcryptHash)) {
            throw new Error(
                `renderUsersFile: the hash of "${a.username}" is not a bcrypt hash ("$2a$", "$2b$" or "$2y$", cost, 53 characters)`,
            );
        }
    }
    const lines = [...accounts].sort((a, b) => a.username.localeCompare(b.username)).map((a) => `${a.username} ${a.bcryptHash}`);
    return [`# ${role} accounts, managed by dso-registry`, ...lines, ""].join("\n");
}

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

export interface RegistryConfigOptions {
    /** Listen address inside the registry's network namespace, e.g. "127.0.0.1:5000" or ":5000". */
    readonly addr: string;
    readonly storage: RegistryStorage;
    /** Allow DELETE of manifests and blobs (needed for garbage collection to free space). */
    readonly deletesEnabled: boolean;
    /** Maintenance mode: refuse every write (used while garbage collection runs). */
    readonly readOnly?: boolean;
    /**
     * Distribution's in-memory blob-descriptor cache (`storage.cache.blobdescriptor: inmemory`); on
     * unless false. It keeps answering for blobs a garbage collection removed until the process
     * restarts (distribution#3743), so a registry that is collected without a restart runs without it:
     * with no `storage.cache` section Distribution 2.8 builds its storage without any cache, and each
     * blob lookup reads the repository's link file and stats the blob in storage.
     */
    readonly blobDescriptorCache?: boolean;
    /**
     * Serve TLS directly (only for measurements and tests: in production Caddy terminates TLS).
     * Paths as seen by the registry process.
     */
    readonly tls?: { readonly certificate: string; readonly key: string };
    /** Log level; "info" unless set. */
    readonly logLevel?: "error" | "warn" | "info" | "debug";
}

/** Seconds Distribution lets requests under way finish after SIGTERM (`http.draintimeout`). */
export const REGISTRY_DRAIN_SECONDS = 20;

/**
 * Distribution's config.yml. Without auth of its own: it listens on loopback (or inside the pod) and
 * Caddy enforces the policy in front of it. Keys are written in a fixed order so the text is stable.
 */
export function renderRegistryConfig(options: RegistryConfigOptions): string {
    const lines: string[] = [
        "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
        "version: 0.1",
        "log:",
        `  level: ${options.logLevel ?? "info"}`,
        "  formatter: text",
        "storage:",
    ];
    if (options.storage.kind === "filesystem") {
        lines.push("  filesystem:", `    rootdirectory: ${JSON.stringify(options.storage.rootDirectory)}`);
    } else {
        const s3 = options.storage;
        lines.push(
            "  s3:",
            `    bucket: ${JSON.stringify(s3.bucket)}`,
            `    region: ${JSON.stringify(s3.region)}`,
            ...(s3.endpoint ? [`    regionendpoint: ${JSON.stringify(s3.endpoint)}`] : []),
            `    forcepathstyle: ${s3.forcePathStyle}`,
            `    rootdirectory: ${JSON.stringify(s3.rootDirectory)}`,
            "  redirect:",
            `    disable: ${!s3.redirect}`,
        );
    }
    lines.push(
        "  delete:",
        `    enabled: ${options.deletesEnabled}`,
        ...(options.blobDescriptorCache === false ? [] : ["  cache:", "    blobdescriptor: inmemory"]),
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: true",
        "      age: 168h",
        "      interval: 24h",
        "      dryrun: false",
        "    readonly:",
        `      enabled: ${options.readOnly ?? false}`,
        "http:",
        `  addr: ${JSON.stringify(options.addr)}`,
        // Upload locations relative to the request: correct behind any proxy, whatever scheme and
        // host it forwards.
        "  relativeurls: true",
        // On SIGTERM (docker stop, a pod's end) requests under way finish before the registry exits.
        `  draintimeout: ${REGISTRY_DRAIN_SECONDS}s`,
        ...(options.tls
            ? ["  tls:", `    certificate: ${JSON.stringify(options.tls.certificate)}`, `    key: ${JSON.stringify(options.tls.key)}`]
            : []),
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
        "health:",
        "  storagedriver:",
        "    enabled: true",
        "    interval: 10s",
        "    threshold: 3",
        "",
    );
    return lines.join("\n");
}
