/**
 * The Caddyfile's global options (admin endpoint, TLS automation, the server's timeouts, protocols and
 * header limits) and the requests refused for their shape before any rule reads them.
 */

import { UI_PATH } from "../../registryUi/environment";
import { type AccessPolicy, TOKEN_PATH } from "../policy";
import { closingRefusal, escapeBraces, regexpLiteral, registryError } from "./syntax";

/** The global options block: the admin endpoint, TLS automation, and the server's deadlines, protocols and header limit. */
export function globalOptions(policy: AccessPolicy): string[] {
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
    // A stopping front keeps serving for a while (`AccessPolicy.shutdownDelaySeconds`).
    if (policy.shutdownDelaySeconds !== undefined) lines.push(`\tshutdown_delay ${policy.shutdownDelaySeconds}s`);
    lines.push(
        "\tservers {",
        // Layers can take a long time to upload and download: no read or write deadline on bodies,
        // only on the request header and on connections with no request in flight (`AccessPolicy.idleSeconds`:
        // for HTTP/2, also one whose first header block never ends). A body that no backend reads (a refused
        // write) gets UNREAD_BODY_SECONDS without progress; the proxies give theirs more.
        "\t\ttimeouts {",
        `\t\t\tread_body_idle ${UNREAD_BODY_SECONDS}s`,
        `\t\t\tread_header ${READ_HEADER_SECONDS}s`,
        `\t\t\tidle ${policy.idleSeconds === undefined ? "5m" : `${policy.idleSeconds}s`}`,
        // Where clients get HTTP/2 (offered, over TLS), the write deadline is reset once a MiB instead of every 64 KiB.
        ...(policy.http2 === true && policy.tls.kind !== "plain-http" ? [`\t\t\twrite_max_chunk ${WRITE_MAX_CHUNK}`] : []),
        "\t\t}",
        // HTTP/3 is not used by registry clients; without it there is no UDP listener to firewall. HTTP/2
        // only where the policy asks for it (`AccessPolicy.http2`; no placement does: uploads through Caddy
        // run slower over it).
        `\t\tprotocols h1${policy.http2 === true ? " h2" : ""}`,
        `\t\tmax_header_size ${MAX_HEADER_SIZE}`,
        // Behind a Gateway's controller: the client it names in X-Forwarded-For, read right to left past
        // the trusted proxies, so an address a client writes in front of it is never taken.
        ...(policy.trustedProxies && policy.trustedProxies.length > 0
            ? [`\t\ttrusted_proxies static ${policy.trustedProxies.join(" ")}`, "\t\ttrusted_proxies_strict"]
            : []),
        // Request counts, codes and durations per handler, served on the metrics listener only.
        ...(policy.metrics ? ["\t\tmetrics"] : []),
        "\t}",
    );
    return ["{", ...lines, "}"];
}

/**
 * The longest Authorization value the front reads (characters): far above any account's Basic
 * credentials or token, and far below what would let Caddy's cache of password checks (keyed by the
 * plaintext, up to 1,000 entries a check) grow the front's memory. Longer values get 431 before any check.
 */
export const MAX_AUTHORIZATION_LENGTH = 4096;

/**
 * A request header block larger than this gets 431 from Caddy's HTTP server before any handler, and the
 * connection is closed: registry clients send a few hundred bytes, a browser on the UI's origin a few KiB of
 * cookies, an Authorization value at most MAX_AUTHORIZATION_LENGTH. Each connection still reading its head
 * holds up to this much (and Go's 4 KiB of slack): with READ_HEADER_SECONDS, it bounds what a client that
 * never finishes its head costs the front. Why: docs/decisions/access-policy.md#slow-clients
 */
export const MAX_HEADER_SIZE = "16KiB";

/**
 * Seconds a connection has for its TLS handshake and a request's head (from the first byte of a request
 * on a kept-alive one): a real client sends its head in one write; a connection that has not sent it by
 * then is closed, and its memory freed. Bodies have no such deadline (uploads and downloads of large
 * layers over slow links). Why: docs/decisions/access-policy.md#slow-clients
 */
export const READ_HEADER_SECONDS = 10;

/**
 * Seconds a connection with no request in flight stays open where clients connect to the front themselves
 * (`AccessPolicy.idleSeconds`): an HTTP/1.1 connection between two requests, an HTTP/2 connection with no open
 * stream, whose first HEADERS frame may never end (Go's HTTP/2 server then closes it one second after its
 * GOAWAY). As long as `READ_HEADER_SECONDS`: no connection that asks for nothing keeps its place on the front
 * longer than one whose head is slow. A registry client's next request comes within milliseconds; one that
 * comes later opens a new connection. Why: docs/access-policy.md#connection-limits
 */
export const CLIENT_IDLE_SECONDS = 10;

/**
 * Seconds without a byte of a request's body before its connection is closed, unless a backend reads it
 * (`passedBodyTimeout`). After a refused write's answer (401, 403, 405, 413, 503, 507 ...), Go's server reads
 * what is left of the body, up to 256 KiB, before it closes the connection, whatever `Connection: close` says:
 * a client that stalls its body would hold the connection for as long as that read may wait (Caddy's default,
 * a minute). Why: docs/decisions/access-policy.md#slow-clients
 */
export const UNREAD_BODY_SECONDS = 1;

/**
 * The most of an answer's body Caddy 2.11 writes between two resets of its write deadline (`timeouts {
 * write_max_chunk }`, 64 KiB by default; the deadline is `write_idle`, a minute). Over HTTP/2 each reset is a
 * round trip through the connection's serving goroutine: with 64 KiB, downloads from the file ran at 0.92x to
 * 0.97x of Distribution's own TLS, with 1 MiB at 1.02x to 1.09x (three quiet runs); over HTTP/1.1 it changes
 * nothing measurable, so only fronts whose clients get HTTP/2 (offered, over TLS) render it. Its price: each MiB of a download must reach
 * the client within the minute, so one slower than about 17 KiB/s is cut where 64 KiB allowed about 1 KiB/s.
 * Why: docs/performance.md#downloads-and-the-write-deadline
 */
export const WRITE_MAX_CHUNK = "1MiB";

/**
 * Seconds without a byte of a body that a backend reads (an upload, a Maven deploy) before its connection is
 * closed: Caddy's own default, which a slow link's pauses stay far below.
 */
const PASSED_BODY_SECONDS = 60;

/** The handler that gives a body passed on to a backend PASSED_BODY_SECONDS, in place of UNREAD_BODY_SECONDS. */
export function passedBodyTimeout(indent: string): string[] {
    return [`${indent}timeouts {`, `${indent}\tread_timeout ${PASSED_BODY_SECONDS}s`, `${indent}}`];
}

/**
 * A regular expression for a value longer than `length` characters (RE2 repeats at most 1000 times).
 */
function longerThan(length: number): string {
    const whole = Math.floor(length / 1000);
    return `^${".{1000}".repeat(whole)}.{${length - whole * 1000 + 1}}`;
}

/**
 * The paths whose routes Caddy chooses by a `path` matcher, which ignores case: the token endpoint (exact),
 * the registry's API, the Maven repository and the UI (prefixes). A proxy in front may match them with
 * case (ingress-nginx's `Exact` location for the token endpoint carries the login limit).
 */
function routePrefixes(policy: AccessPolicy): { readonly path: string; readonly exact: boolean }[] {
    return [
        { path: TOKEN_PATH, exact: true },
        { path: "/v2", exact: false },
        ...(policy.maven ? [{ path: `/${policy.maven.pathPrefix}`, exact: false }] : []),
        ...(policy.uiUpstream ? [{ path: UI_PATH.replace(/\/$/, ""), exact: false }] : []),
    ];
}

/**
 * One matcher per route prefix: the path names it in another case (`/V2/TOKEN`). Such a request is
 * refused, so it meets no route that a proxy in front matched under other rules.
 */
function caseVariantMatchers(policy: AccessPolicy): string[] {
    return routePrefixes(policy).flatMap(({ path, exact }, i) => {
        const pattern = `^${regexpLiteral(path)}${exact ? "$" : "(?:/|$)"}`;
        return [`\t@caseVariant${i} {`, `\t\tpath_regexp (?i)${pattern}`, `\t\tnot path_regexp ${pattern}`, "\t}"];
    });
}

/** What a Host header spelled otherwise than the registry's own names is refused with (`requestShapeAnswers`). */
export const HOST_SPELLING_MESSAGE = "Write the registry's host name in lower case, and its port without leading zeros";

/**
 * A Host header with an upper-case letter, or a port with a leading zero (`Registry.example.com`,
 * `registry.example.com:0443`). Caddy's site matching takes either for the registry's name, and
 * containers/image sends the authority of an image reference as it is written, while signature policies
 * (a node's policy.json, an admission policy) match that written form as text: such a spelling would
 * name images no requirement covers. Neither can be listed (every case of every letter, any number of
 * zeros); host names in the config are lower case. Why: docs/decisions/access-policy.md#request-shape
 */
const HOST_SPELLING = "(?:[A-Z]|:0[0-9]*$)";

/**
 * Requests refused for their shape before any rule reads them: a Host header spelled in another case or
 * with a port's leading zero (400), a route prefix in another case (404), more than one Authorization value
 * (basicauth reads the first, the decoy's matchers any: 400), an Authorization value longer than
 * MAX_AUTHORIZATION_LENGTH (431). Why: docs/decisions/access-policy.md#request-shape
 */
export function requestShapeAnswers(policy: AccessPolicy): string[] {
    return [
        `\t\trespond @hostSpelling "${HOST_SPELLING_MESSAGE}" 400`,
        ...routePrefixes(policy).map((_, i) => `\t\trespond @caseVariant${i} 404`),
        '\t\trespond @authorizationTwice "Send one Authorization header with one credential" 400',
        `\t\trespond @authorizationTooLong "Authorization longer than ${MAX_AUTHORIZATION_LENGTH} characters" 431`,
    ];
}

/**
 * The site's matchers of a request's shape: a Host header in another case or with a port's leading zero,
 * more than one Authorization value, one longer than MAX_AUTHORIZATION_LENGTH, a route prefix in another
 * case (`requestShapeAnswers` refuses them).
 */
export function requestShapeMatchers(policy: AccessPolicy): string[] {
    return [
        `\t@hostSpelling vars_regexp {http.request.hostport} ${HOST_SPELLING}`,
        `\t@authorizationTwice vars_regexp {http.request.header.Authorization} ,`,
        `\t@authorizationTooLong vars_regexp {http.request.header.Authorization} ${longerThan(MAX_AUTHORIZATION_LENGTH)}`,
        ...caseVariantMatchers(policy),
    ];
}

/**
 * What a write from another site's page is refused with (`crossSiteAnswers`): the browser's own marks that the
 * request comes from a page of another origin, which no registry client sends (docker, containerd, skopeo,
 * crane, Maven, curl send neither header), so only browsers meet the rule.
 */
export const CROSS_SITE_MESSAGE =
    "a write from another site's page is refused: a browser signed in to this registry sends its credentials with any site's requests (docs/access-policy.md, Writes from other sites)";

/**
 * The site's matchers of a write (any method but GET and HEAD: uploads, manifest puts, mounts, deletes, Maven
 * deploys) that a browser sent for a page of another origin: `Sec-Fetch-Site` says "cross-site" or "same-site"
 * (another host name of the same site), or `Origin` names none of `authorities`, the registry's own (the
 * authorities its clients and its web UI use, each with and without its port: a browser leaves the scheme's
 * default port out, and a scheme the TLS in front ended is not compared). The Host header is not read: what
 * the registry's own origins are is configured, never taken from the request. A page of the registry's own
 * origin (the web UI) sends "same-origin" and its own Origin; registry clients send neither header.
 */
export function crossSiteMatchers(authorities: readonly string[]): string[] {
    const names = [...new Set(authorities.flatMap((a) => [a, a.replace(/:\d+$/, "")]))].sort();
    return [
        "\t@crossSiteWrite {",
        "\t\tnot method GET HEAD",
        "\t\theader_regexp Sec-Fetch-Site ^(?:cross-site|same-site)$",
        "\t}",
        "\t@foreignOriginWrite {",
        "\t\tnot method GET HEAD",
        "\t\theader Origin *",
        `\t\tnot header_regexp Origin ^https?://(?:${names.map(regexpLiteral).join("|")})$`,
        "\t}",
    ];
}

/** The refusals of `crossSiteMatchers`, before any credential is looked at: 403, nothing reaches the registry. */
export function crossSiteAnswers(): string[] {
    const body = escapeBraces(registryError("DENIED", CROSS_SITE_MESSAGE));
    return [
        ...closingRefusal(`\t\trespond @crossSiteWrite \`${body}\` 403`),
        ...closingRefusal(`\t\trespond @foreignOriginWrite \`${body}\` 403`),
    ];
}
