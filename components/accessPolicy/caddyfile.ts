/**
 * The Caddyfile that fronts Docker Distribution, rendered from an `AccessPolicy` (policy.ts). Every
 * placement (the external host, the in-cluster sidecar) renders through here, so the policy that was
 * proven against real clients is the one that ships.
 *
 * The rules, in the order the site's `route` block holds them: the allowlist, the Maven route, the
 * delete refusal, tokens unwrapped, the token endpoint, the read-only window's 503 to a blob check,
 * the write rule, the window's 503 to writes, the ping, the read rule, the mirrors, the blob shortcut,
 * then Distribution (or the UI). Every 401 carries the Bearer challenge. Why each is as it is: docs/decisions/access-policy.md.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */

import { posix } from "node:path";
import { UI_PATH } from "../registryUi/environment";
import { ANONYMOUS_TOKEN_HEADER, ANONYMOUS_TOKEN_HEADER_VALUE, AUTHORIZATION_LOG_MARKER } from "./loginLimit";
import {
    type AccessLog,
    type AccessPolicy,
    ANONYMOUS_TOKEN,
    accessPolicyProblem,
    type MavenRoute,
    type MetricsListener,
    MIRRORS_NAMESPACE,
    type MirrorRoute,
    READ_ONLY_BODY_READ_LIMIT,
    READ_ONLY_RETRY_AFTER_SECONDS,
    REALM,
    type ReadOnlySignal,
    type ScopedPushAccount,
    TOKEN_LIFETIME_SECONDS,
    TOKEN_PATH,
    UPSTREAM_TRY_SECONDS,
} from "./policy";
import { scopedTokenQuery, scopedWritePath } from "./scopedAccounts";
import { base64PrefixPattern, DECOY_ACCOUNT, OVERLAP_MATCHERS, previousUsersFile } from "./usersFile";

export { base64PrefixPattern };

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
        `\t\t\tread_header ${READ_HEADER_SECONDS}s`,
        "\t\t\tidle 5m",
        "\t\t}",
        // HTTP/3 is not used by registry clients; without it there is no UDP listener to firewall. HTTP/2
        // only where the Caddy that runs has the rapid-reset fix (`AccessPolicy.http2`).
        `\t\tprotocols h1${policy.http2 === false ? "" : " h2"}`,
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

function siteLabel(policy: AccessPolicy): string {
    const scheme = policy.tls.kind === "plain-http" ? "http://" : "";
    return [policy.siteAddress, ...(policy.siteAliases ?? [])].map((name) => `${scheme}${name}:${policy.port}`).join(", ");
}

/**
 * The password checks of one Caddyfile (`check`), and the site matchers they need (`matchers`): the
 * decoy matcher of each set of names a check holds.
 */
class PasswordChecks {
    private readonly decoyMatchers = new Map<string, string>();
    private readonly accounts: ReadonlyMap<string, readonly string[]> | undefined;

    constructor(private readonly policy: AccessPolicy) {
        this.accounts = fileAccounts(policy);
    }

    /**
     * A password check against the accounts of `files`, for requests `matcher` matches ("*": all).
     * With a decoy it is a route: Basic credentials of a user the files do not hold are handed to the
     * decoy account first, so the check costs the same for every name; the check holds the decoy
     * account (one line in the block: the users files are imported together, and a name may appear
     * once); and the decoy account is refused even if its check passed. Lines indented for the site's route.
     */
    check(matcher: string, files: readonly string[]): string[] {
        const overlap = this.policy.overlap;
        if (!overlap) return this.fileCheck(matcher, files, (f) => f);
        // During a rotation's overlap: credentials the overlap file routes to a previous password are
        // checked against the previous-passwords files alone, every other against the current ones. Both
        // have the decoy: a previous password's prefix sent where the check does not hold its account
        // costs what any refused login costs, and tells nothing of which accounts are in their overlap.
        const nested = (lines: string[]) => lines.map((l) => `\t${l.replace(/^\t\t/, "")}`);
        const current = this.fileCheck("*", files, (f) => f);
        return [
            matcher === "*" ? "route {" : `route ${matcher} {`,
            ...nested(this.fileCheck(`@${OVERLAP_MATCHERS.previous}`, files, previousUsersFile)),
            `\troute @${OVERLAP_MATCHERS.current} {`,
            ...nested(current).map((l) => `\t${l}`),
            "\t}",
            "}",
        ].map((l) => `\t\t${l}`);
    }

    /**
     * The check against the files `importOf` names for each users file (the file itself, or its
     * previous-passwords file, which holds a subset of its accounts), with the decoy when the policy has one
     * (see `check`).
     */
    private fileCheck(matcher: string, files: readonly string[], importOf: (file: string) => string): string[] {
        const imported = checkFiles(files, this.accounts);
        const decoy = this.policy.decoy;
        if (!decoy) {
            return [`basicauth ${matcher} bcrypt ${REALM} {`, ...imported.map((f) => `\timport ${importOf(f)}`), "}"].map(
                (l) => `\t\t${l}`,
            );
        }
        // A previous-passwords file holds only the accounts in their overlap, and the overlap's matcher sends
        // only those accounts' credentials there: the names it may hold are its users file's.
        const held = imported.flatMap((f) => this.accounts?.get(f) ?? []);
        const notHeld = this.decoyMatcher(held);
        return [
            matcher === "*" ? "route {" : `route ${matcher} {`,
            `\trequest_header @${notHeld} Authorization "Basic ${DECOY_BASE64_PREFIX}{re.${notHeld}.1}"`,
            `\tbasicauth bcrypt ${REALM} {`,
            ...imported.map((f) => `\t\timport ${importOf(f)}`),
            `\t\t${DECOY_ACCOUNT} ${decoy.bcryptHash}`,
            "\t}",
            `\terror @${DECOY_AUTHENTICATED} 401`,
            "}",
        ].map((l) => `\t\t${l}`);
    }

    /** The site's matchers for the checks made so far: the decoy account's, one per set of names held. */
    matchers(): string[] {
        if (!this.policy.decoy) return [];
        const lines = [`\t@${DECOY_AUTHENTICATED} vars_regexp {http.auth.user.id} ^${DECOY_ACCOUNT}$`];
        for (const [key, name] of this.decoyMatchers) lines.push(...decoyMatcher(name, key === "" ? [] : key.split(" ")));
        return lines;
    }

    private decoyMatcher(held: readonly string[]): string {
        const key = [...new Set(held)].sort().join(" ");
        let name = this.decoyMatchers.get(key);
        if (name === undefined) {
            name = `notHeld${this.decoyMatchers.size}`;
            this.decoyMatchers.set(key, name);
        }
        return name;
    }
}

/** The names of the accounts in each users file the policy names, from its decoy check; none without one. */
function fileAccounts(policy: AccessPolicy): ReadonlyMap<string, readonly string[]> | undefined {
    if (!policy.decoy) return undefined;
    const { accounts } = policy.decoy;
    const map = new Map<string, string[]>();
    const add = (file: string, names: readonly string[]) => map.set(file, [...(map.get(file) ?? []), ...names]);
    add(policy.pushUsersFile, accounts.push);
    add(policy.pullUsersFile, accounts.pull);
    if (policy.maven) add(policy.maven.deployUsersFile, accounts.mavenDeploy ?? []);
    return map;
}

/**
 * The files a check imports: each once, and none whose every account another file of the check holds
 * (the Maven deploy account that is the push account, with `reuseContainerCredentials`): Caddy refuses
 * a name twice in one block, and does not start. A name left in two files is a policy Caddy cannot
 * express: an error.
 */
function checkFiles(files: readonly string[], accounts: ReadonlyMap<string, readonly string[]> | undefined): string[] {
    const kept = [...new Set(files)];
    if (!accounts) return kept;
    for (const file of [...kept]) {
        const own = accounts.get(file) ?? [];
        const others = kept.filter((f) => f !== file).flatMap((f) => accounts.get(f) ?? []);
        if (own.length > 0 && own.every((n) => others.includes(n))) kept.splice(kept.indexOf(file), 1);
    }
    const names = kept.flatMap((f) => accounts.get(f) ?? []);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined)
        throw new Error(`renderCaddyfile: account "${twice}" is in two users files of one password check (${kept.join(", ")})`);
    return kept;
}

/**
 * Distribution (or a cache) behind the proxy: responses stream with large socket buffers, without the
 * client's credentials, and a request that finds no registry listening is held and retried for
 * UPSTREAM_TRY_SECONDS. Why: docs/decisions/access-policy.md#the-proxy-to-distribution
 */
function registryProxy(upstream: string): string[] {
    return [
        `\t\treverse_proxy ${upstream} {`,
        "\t\t\theader_up -Authorization",
        "\t\t\tflush_interval -1",
        `\t\t\tlb_try_duration ${UPSTREAM_TRY_SECONDS}s`,
        "\t\t\tlb_try_interval 250ms",
        // Reads are retried also when the connection was accepted and then dropped; writes only when none was made.
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
 * (Distribution's directory fan-out). Matched against the request's path as sent (decoded, not
 * cleaned): `//v2//…`, `/v2/./…`, `/v2/x/../…` and encoded slashes do not match and go through the
 * proxy, where Distribution gives its own answer (a 301 to the clean path). Anything else (other
 * algorithms, upper case, names outside the grammar) does not match either.
 */
export const BLOB_PATH = `^/v2/(${REPOSITORY_NAME})/blobs/sha256:(([0-9a-f]{2})[0-9a-f]{62})$`;

/**
 * Blob downloads served by Caddy from Distribution's filesystem storage, placed after every policy
 * rule. Served only when the repository's layer link (`repositories/<name>/_layers/sha256/<hex>/link`)
 * and the data (`blobs/sha256/<2 hex>/<hex>/data`) both exist; otherwise the request falls through to
 * the proxy and Distribution answers. The link is looked up under `repositories/` and the file served
 * from under `blobs/` only: nothing else of the storage (uploads in progress) can be named. The
 * placeholders come from the path matcher of the enclosing route: the file matchers sit in nested
 * routes because the matchers of one set are evaluated in no defined order.
 * Why: docs/decisions/access-policy.md#the-blob-shortcut
 */
function blobShortcut(storageRoot: string): string[] {
    const v2 = `${storageRoot.replace(/\/+$/, "")}/docker/registry/v2`;
    const fileMatcher = (name: string, root: string, file: string) => [`@${name} file {`, `\troot ${root}`, `\ttry_files ${file}`, "}"];
    return [
        "route @blob {",
        ...fileMatcher("linked", `${v2}/repositories`, "/{re.blob.1}/_layers/sha256/{re.blob.2}/link").map((l) => `\t${l}`),
        "\troute @linked {",
        ...fileMatcher("stored", `${v2}/blobs`, "/sha256/{re.blob.3}/{re.blob.2}/data").map((l) => `\t\t${l}`),
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
        `\t\t\t\troot ${v2}/blobs`,
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "}",
    ].map((l) => `\t\t${l}`);
}

/**
 * A decoy matcher: Basic credentials whose user is none of `held` (the names a password check holds).
 * Its capture is the client's base64 text, which becomes the decoy's password (`DECOY_BASE64_PREFIX`).
 */
function decoyMatcher(name: string, held: readonly string[]): string[] {
    const known = held.map((u) => base64PrefixPattern(`${u}:`)).join("|");
    return [
        `\t@${name} {`,
        `\t\theader_regexp ${name} Authorization ^(?i:basic)\\s+([A-Za-z0-9+/]+=*)$`,
        ...(held.length > 0 ? [`\t\tnot header_regexp ${name}Held Authorization ^(?i:basic)\\s+(?:${known})[A-Za-z0-9+/]*=*$`] : []),
        "\t}",
    ];
}

/**
 * The decoy's credentials: its name, and as password the whole text the client sent ("user:password").
 * `~unknown:` is nine bytes, so its base64 has no padding and the client's base64 can follow it: the
 * password differs with every guess, so Caddy's cache of recent checks (which remembers failures too)
 * answers a repeated guess as fast for an unknown user as for a known one, and a new guess as slowly.
 */
const DECOY_BASE64_PREFIX = Buffer.from(`${DECOY_ACCOUNT}:`).toString("base64");

/** The matcher of a request the decoy account passed: refused (401). */
const DECOY_AUTHENTICATED = "decoyAuthenticated";

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
 * A regular expression for a value longer than `length` characters (RE2 repeats at most 1000 times).
 */
function longerThan(length: number): string {
    const whole = Math.floor(length / 1000);
    return `^${".{1000}".repeat(whole)}.{${length - whole * 1000 + 1}}`;
}

/** A registry error body (the Distribution API's `errors` array) with one error. */
function registryError(code: string, message: string): string {
    return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

/**
 * A token request's query asks for more than pulling: a `registry:` resource (the catalog), or a
 * repository scope whose actions (after its last `:`) hold `push`, `delete` or `*`. Several `scope`
 * parameters, space-separated scopes and percent-encoded `:`, `,`, `*` and spaces are all read. A
 * repository whose name merely contains "push" is not matched: its name is followed by `:`.
 */
const BEYOND_PULL_SCOPE =
    "(?i)(?:^|&)scope=(?:registry(?::|%3A)|[^&]*?(?::|%3A)(?:[^&:%+ ]|%[0-24-9A-F]|%3[0-9B-F])*?(?:push|delete|\\*|%2A)(?:[^&:%+ ]|%[0-24-9A-F]|%3[0-9B-F])*?(?:&|$|\\+|%20))";

/**
 * The token endpoint (the Bearer challenge's realm): valid Basic credentials come back as the token
 * (the base64 text the client sent); a client without credentials gets the anonymous token when it
 * asks for pulls only, and a 401 when it asks for more (push, delete, the catalog) or when pulls
 * require authentication. That 401 carries a Basic challenge (`unauthorizedAnswer`): a browser then
 * asks its user for an account. Never cached (`no-store`), no CORS header.
 * Why: docs/decisions/access-policy.md#tokens and #a-browser-logs-in-at-the-token-endpoint
 */
function tokenEndpoint(policy: AccessPolicy, checks: PasswordChecks, everyone: readonly string[]): string[] {
    const json = (token: string) =>
        `\`${escapeBraces(JSON.stringify({ token, access_token: token, expires_in: TOKEN_LIFETIME_SECONDS }))}\``;
    return [
        '\t\trespond @tokenWrite "Tokens are issued on GET" 405',
        "\t\troute @token {",
        ...checks.check("@withCredentials", everyone).map((l) => `\t${l}`),
        "\t\t\theader {",
        "\t\t\t\tCache-Control no-store",
        "\t\t\t\tContent-Type application/json",
        "\t\t\t\tX-Content-Type-Options nosniff",
        "\t\t\t}",
        ...(policy.scopedPushAccounts ?? []).flatMap((account, i) => scopedRefusal(`@scopedToken${i}`, account, "\t\t\t")),
        `\t\t\trespond @basicCredentials ${json("{re.basic.1}")} 200`,
        ...(policy.requiresAuthForPull
            ? ["\t\t\terror 401"]
            : ["\t\t\terror @beyondPull 401", `\t\t\trespond ${json(ANONYMOUS_TOKEN)} 200`]),
        "\t\t}",
    ];
}

/**
 * The matchers of the scoped push accounts (`AccessPolicy.scopedPushAccounts`): per account, a write by it
 * outside its prefixes (`@scopedWrite<i>`), and a token request by it for more than its prefixes allow
 * (`@scopedToken<i>`). Both hold only once a password check has named the account.
 */
function scopedAccountMatchers(accounts: readonly ScopedPushAccount[]): string[] {
    return accounts.flatMap((account, i) => {
        const user = `\t\tvars_regexp {http.auth.user.id} ^${regexpLiteral(account.username)}$`;
        return [
            `\t@scopedWrite${i} {`,
            "\t\tnot method GET HEAD",
            user,
            `\t\tnot vars_regexp {http.request.uri.path} ${scopedWritePath(account.prefixes)}`,
            "\t}",
            `\t@scopedToken${i} {`,
            user,
            `\t\tnot vars_regexp {http.request.uri.query} ${scopedTokenQuery(account.prefixes)}`,
            "\t}",
        ];
    });
}

/**
 * A scoped account's refusal: 403 with a registry error that names its prefixes. Not a 401: its
 * password was right, and the login limit counts 401s to requests with credentials as failed logins.
 * Why: docs/decisions/access-policy.md#push-accounts-scoped-to-repository-prefixes
 */
function scopedRefusal(matcher: string, account: ScopedPushAccount, indent: string): string[] {
    const message = `the account ${account.username} may write only to repositories under ${account.prefixes.join(", ")}`;
    return [
        `route ${matcher} {`,
        "\theader {",
        "\t\tContent-Type application/json",
        "\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t}",
        `\trespond \`${escapeBraces(registryError("DENIED", message))}\` 403`,
        "}",
    ].map((l) => `${indent}${l}`);
}

/** The registry's authority as clients write it: `publicAuthority`, or the site address (with its port unless 443). */
export function publicAuthority(policy: AccessPolicy): string {
    return policy.publicAuthority ?? (policy.port === 443 ? policy.siteAddress : `${policy.siteAddress}:${policy.port}`);
}

/**
 * Every 401 of the registry's API carries the Bearer challenge whose realm is the registry's token
 * endpoint, and a registry error that docker and skopeo print. The challenge names the scope the
 * request needed, as Distribution's token auth does (`repository:<name>:pull`, `…:pull,push`,
 * `…:delete`, `registry:catalog:*`; none for the ping): a browser UI asks the realm for exactly that
 * scope. A 401 of the token endpoint itself carries a Basic challenge instead: a browser answers it by
 * asking its user for an account (CLI clients read only the error). The realm's host is the configured
 * one, never the request's Host header (a client would send its password to whatever host a forged
 * header named); behind a proxy that terminates TLS (the sidecar) the scheme comes from
 * X-Forwarded-Proto. Why: docs/decisions/access-policy.md#a-bearer-challenge-not-basic and
 * #a-browser-logs-in-at-the-token-endpoint
 */
function unauthorizedAnswer(policy: AccessPolicy): string[] {
    const scheme = policy.tls.kind === "plain-http" ? "{dso_client_scheme}" : "https";
    const authority = publicAuthority(policy);
    const realmAuthority = policy.realmAuthorities ? "{dso_realm_authority}" : authority;
    const realm = `Bearer realm="${scheme}://${realmAuthority}${TOKEN_PATH}",service="${REALM}"`;
    const message = `authentication required: no valid credentials came with this request; log in with an account of this registry (docker login ${authority}), and push with a push account`;
    const repository = (name: string, methods: string) => [
        `\t\t@${name} {`,
        `\t\t\tmethod ${methods}`,
        `\t\t\tpath_regexp ${name} ^/v2/(${REPOSITORY_NAME})/(?:manifests|blobs|tags)/`,
        "\t\t}",
    ];
    const scoped = (matcher: string, scope: string) => `\t\t\t\theader ${matcher} WWW-Authenticate \`${realm},scope="${scope}"\``;
    return [
        "\thandle_errors {",
        ...(policy.maven ? mavenUnauthorized(policy.maven) : []),
        "\t\t@unauthorized expression {err.status_code} == 401",
        ...repository("scopePull", "GET HEAD"),
        ...repository("scopeDelete", "DELETE"),
        ...repository("scopePush", "POST PUT PATCH"),
        "\t\t@scopeCatalog path /v2/_catalog",
        `\t\t@tokenRefused path ${TOKEN_PATH}`,
        // A refused write's body is never read: the answer goes at once, then the connection is closed. Without
        // `Connection: close`, Go's server reads up to 256 KiB of the unread body before it answers whenever the
        // handler has wrapped the body (Caddy 2.11 does), so a client that stalls holds the answer back.
        "\t\t@refusedBody method POST PUT PATCH",
        "\t\thandle @unauthorized {",
        "\t\t\troute {",
        "\t\t\t\theader @refusedBody Connection close",
        "\t\t\t\theader {",
        `\t\t\t\t\tWWW-Authenticate \`${realm}\``,
        "\t\t\t\t\tContent-Type application/json",
        "\t\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t\t}",
        scoped("@scopePull", "repository:{re.scopePull.1}:pull"),
        scoped("@scopeDelete", "repository:{re.scopeDelete.1}:delete"),
        scoped("@scopePush", "repository:{re.scopePush.1}:pull,push"),
        scoped("@scopeCatalog", "registry:catalog:*"),
        `\t\t\t\theader @tokenRefused WWW-Authenticate \`Basic realm="${REALM}"\``,
        `\t\t\t\trespond \`${escapeBraces(registryError("UNAUTHORIZED", message))}\` 401`,
        "\t\t\t}",
        "\t\t}",
        "\t}",
    ];
}

/**
 * The web UI under UI_PATH, right after the allowlist and before every credential rule: its files
 * are the same static page for everyone (nothing of the registry is in them); what it shows comes
 * from its own requests to /v2/, which meet every rule. The prefix is cut off (the UI serves its files
 * at "/"), and "/registry" without its slash is sent to the page. Why: docs/external-host.md#web-ui
 */
function uiRoute(upstream: string): string[] {
    const prefix = UI_PATH.replace(/\/$/, "");
    return [
        `\t\tredir ${prefix} ${UI_PATH} 308`,
        `\t\thandle_path ${UI_PATH}* {`,
        "\t\t\trequest_header -Authorization",
        `\t\t\treverse_proxy ${upstream}`,
        "\t\t}",
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
 * A pusher's check whether a blob exists (HEAD on a blob) during the window: it gets the window's 503
 * too. Pulls fetch blobs with GET. Why: docs/decisions/access-policy.md#the-blob-check-during-the-window
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
 * A pusher's blob check (HEAD on a blob) during the read-only maintenance window: the window's 503,
 * before any credential check. A HEAD carries no body: nothing is read. One route per kind of signal.
 * Why: docs/decisions/access-policy.md#the-blob-check-during-the-window
 */
function blobCheckAnswer(signals: readonly ReadOnlySignal[]): string[] {
    return signalKinds(signals).flatMap((kind) => [`\t\troute ${blobCheckMatcherName(kind)} {`, ...unavailableAnswer("\t\t\t"), "\t\t}"]);
}

/**
 * Writes during the read-only maintenance window: 503, Retry-After and a registry error that says
 * what is going on. Placed after the push accounts' password check: a write without valid push
 * credentials gets the 401 it gets outside the window, at once and without its body being read; only
 * an authenticated write has its body read first (`readBodyFirst`). One route per kind of signal, with
 * the same answer: the window is open while any signal is.
 * Why: docs/decisions/access-policy.md#the-read-only-window and #the-window-reads-the-body-first
 */
function readOnlyAnswer(signals: readonly ReadOnlySignal[]): string[] {
    return signalKinds(signals).flatMap((kind) => [
        `\t\troute ${maintenanceMatcherName(kind)} {`,
        ...readBodyFirst("\t\t\t"),
        ...unavailableAnswer("\t\t\t"),
        "\t\t}",
    ]);
}

/** The window's answer: 503, Retry-After and a registry error that says what is going on. */
function unavailableAnswer(indent: string): string[] {
    const message =
        "the registry is in its read-only maintenance window (garbage collection or backup): pulls work, pushes do not; retry the push in a few minutes";
    return [
        "header {",
        `\tRetry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`,
        "\tContent-Type application/json",
        "\tDocker-Distribution-Api-Version registry/2.0",
        "}",
        `respond \`${escapeBraces(registryError("UNAVAILABLE", message))}\` 503`,
    ].map((l) => `${indent}${l}`);
}

/**
 * The disk guard's matcher, while its marker exists: a new blob upload (POST to a repository's
 * `blobs/uploads/`, a cross-repository mount included). Upload sessions already open go on (their
 * PATCH and PUT), and so do manifests, pulls and deletes (which free space).
 */
function diskFullMatcher(marker: string): string[] {
    return [
        "\t@diskFull {",
        "\t\tmethod POST",
        `\t\tpath_regexp ${UPLOAD_START_PATH}`,
        "\t\tfile {",
        "\t\t\troot /",
        `\t\t\ttry_files ${marker}`,
        "\t\t}",
        "\t}",
    ];
}

/** Where a blob upload starts: POST /v2/<name>/blobs/uploads/. */
const UPLOAD_START_PATH = "^/v2/.+/blobs/uploads/?$";

/** The message of the disk guard's refusal: what is wrong, that pulls go on, and what frees space. */
export const DISK_FULL_MESSAGE =
    "the registry's disk is almost full, so it takes no new uploads: pulls work, pushes do not. An operator frees space (docs/runbooks.md, Disk full: delete unused tags, then run the garbage collection); pushes resume by themselves within five minutes of it";

/**
 * New blob uploads while the disk guard's marker exists: 507 Insufficient Storage and a registry error that
 * says so, on the window's path (after the push accounts' check, the body read first: `readBodyFirst`).
 */
function diskFullAnswer(): string[] {
    return [
        "\t\troute @diskFull {",
        ...readBodyFirst("\t\t\t"),
        "\t\t\theader {",
        "\t\t\t\tContent-Type application/json",
        "\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t}",
        `\t\t\trespond \`${escapeBraces(registryError("DENIED", DISK_FULL_MESSAGE))}\` 507`,
        "\t\t}",
    ];
}

/**
 * Reads a refused write's body (up to READ_ONLY_BODY_READ_LIMIT) before the answer: a Go client
 * (docker, skopeo) still writing a blob when the 503 comes reports a reset connection instead of it.
 * The placeholder `{http.request.body}` is what reads it; the variable is used nowhere else. Only
 * after a password check: the front never holds a body for a client it has not authenticated.
 * Why: docs/decisions/access-policy.md#the-window-reads-the-body-first
 */
function readBodyFirst(indent: string): string[] {
    return [
        `${indent}request_body {`,
        `${indent}\tmax_size ${READ_ONLY_BODY_READ_LIMIT}`,
        `${indent}}`,
        `${indent}vars refused_body {http.request.body}`,
    ];
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

/**
 * The pull-through caches under /v2/mirrors/: any method but GET and HEAD gets 405, pulls need an
 * account when `mirrorsRequireAuth` (unless every read needs one already), each mirror's prefix is cut
 * back to /v2/ and proxied to its cache, and an unknown mirror is a registry 404. After the credential
 * checks, before the registry itself. Why: docs/decisions/access-policy.md#mirrors-are-read-only and
 * #who-may-pull-through-the-caches
 */
function mirrorRoutes(policy: AccessPolicy, checks: PasswordChecks, routes: readonly MirrorRoute[]): string[] {
    if (routes.length === 0) return [];
    const notFound = escapeBraces(registryError("NAME_UNKNOWN", "no mirror of that registry here; see docs/mirrors.md"));
    const accountCheck =
        policy.mirrorsRequireAuth && !policy.requiresAuthForPull
            ? checks.check("*", [policy.pushUsersFile, policy.pullUsersFile]).map((l) => l.replace(/^\t\t/, "\t"))
            : [];
    const lines = [
        `route /v2/${MIRRORS_NAMESPACE}/* {`,
        "\t@mirrorWrite not method GET HEAD",
        '\trespond @mirrorWrite "Mirrors are read-only: push to the registry itself, not under /mirrors/" 405',
        ...accountCheck,
        ...routes.flatMap((r) => {
            const prefix = `/v2/${MIRRORS_NAMESPACE}/${r.pathName}/`;
            return [`\troute ${prefix}* {`, `\t\turi replace ${prefix} /v2/ 1`, ...registryProxy(r.upstream), "\t}"];
        }),
        "\theader Content-Type application/json",
        `\trespond \`${notFound}\` 404`,
        "}",
    ];
    return lines.map((l) => `\t\t${l}`);
}

function mavenMatchers(maven: MavenRoute): string[] {
    return [
        `\t@maven path /${maven.pathPrefix} /${maven.pathPrefix}/*`,
        "\t@mavenOther not method GET HEAD PUT",
        "\t@mavenRead method GET HEAD",
    ];
}

/**
 * The Maven repository's route, ahead of every registry rule. Only GET, HEAD and PUT exist there;
 * during the maintenance window a PUT gets 503 with Retry-After; PUT needs the Maven deploy account;
 * reads are anonymous unless `requiresAuthForPull`, and then any account may read. Credentials stop
 * here: the backend never sees them. Why: docs/decisions/access-policy.md#maven-on-the-same-origin
 */
function mavenRoute(policy: AccessPolicy, checks: PasswordChecks, maven: MavenRoute): string[] {
    const readers = [maven.deployUsersFile, policy.pushUsersFile, policy.pullUsersFile];
    return [
        "\t\troute @maven {",
        '\t\t\trespond @mavenOther "Only GET, HEAD and PUT are allowed on the Maven repository" 405',
        ...checks.check("@write", [maven.deployUsersFile]).map((l) => `\t${l}`),
        // Deploys wait out the maintenance window like pushes: a backup or a clean-up must not see half a
        // deploy. After the password check, so that only the deploy account's body is ever read here.
        ...signalKinds(policy.readOnlySignals ?? []).flatMap((kind) => [
            `\t\t\troute ${maintenanceMatcherName(kind)} {`,
            ...readBodyFirst("\t\t\t\t"),
            `\t\t\t\theader Retry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`,
            '\t\t\t\trespond "the Maven repository is in its read-only maintenance window (garbage collection or backup): downloads work, deploys do not; retry the deploy in a few minutes" 503',
            "\t\t\t}",
        ]),
        ...(maven.requiresAuthForPull ? checks.check("@mavenRead", readers).map((l) => `\t${l}`) : []),
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

/**
 * The access log: JSON with Caddy's own field names, with the credentials a request or an answer may
 * carry removed (Cookie, Set-Cookie; Authorization's value replaced by a marker; the user name stays in
 * `user_id`), rotated.
 * Why: docs/monitoring.md#access-log
 */
function accessLog(log: AccessLog): string[] {
    const output =
        log.kind === "stdout"
            ? ["\t\toutput stdout"]
            : [`\t\toutput file ${log.path} {`, "\t\t\troll_size 100MiB", "\t\t\troll_keep 10", "\t\t\troll_keep_for 720h", "\t\t}"];
    return [
        "\tlog {",
        ...output,
        "\t\tformat filter {",
        "\t\t\twrap json",
        "\t\t\tfields {",
        // Authorization's value is replaced, not the field removed: its presence tells a refused login
        // from the anonymous challenge (the login limit's filter, loginLimit.ts).
        ...REDACTED_LOG_FIELDS.map((field) =>
            field === "request>headers>Authorization" ? `\t\t\t\t${field} replace ${AUTHORIZATION_LOG_MARKER}` : `\t\t\t\t${field} delete`,
        ),
        "\t\t\t}",
        "\t\t}",
        "\t}",
    ];
}

/** The access log's fields that could hold a credential: removed before the entry is written. */
export const REDACTED_LOG_FIELDS = [
    "request>headers>Authorization",
    "request>headers>Proxy-Authorization",
    "request>headers>Cookie",
    "resp_headers>Set-Cookie",
] as const;

/**
 * The metrics listeners: plain HTTP, bound as the policy says, answering /metrics (and the textfile's
 * path, with one) and nothing else (404). Why not on the site or Caddy's admin API: docs/monitoring.md#metrics
 */
function metricsSites(m: MetricsListener): string[] {
    const bind = m.bindAddress ? [`\tbind ${m.bindAddress}`] : [];
    // `route` keeps the order as written: Caddy's own order puts `respond` before `metrics`.
    const sites = [
        "",
        `http://:${m.port} {`,
        ...bind,
        ...(m.textfile ? textfileMatchers(m.textfile) : []),
        "\troute {",
        "\t\tmetrics /metrics",
    ];
    if (m.textfile) sites.push(...textfileRoute(m.textfile));
    sites.push("\t\trespond 404", "\t}", "}");
    if (m.registry) {
        sites.push(
            "",
            `http://:${m.registry.port} {`,
            ...bind,
            "\troute {",
            `\t\treverse_proxy /metrics ${m.registry.upstream}`,
            "\t\trespond 404",
            "\t}",
            "}",
        );
    }
    return sites;
}

/** The version of Prometheus's text format, which the textfile's writers follow (`MetricsListener.textfile`). */
export const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The metrics listener's matchers for its textfile: its path, and its path once the file exists. */
function textfileMatchers(t: NonNullable<MetricsListener["textfile"]>): string[] {
    const dir = posix.dirname(t.file);
    const name = posix.basename(t.file);
    const request = ["\t\tmethod GET HEAD", `\t\tpath ${t.path}`];
    return [
        "\t@textfile {",
        ...request,
        "\t}",
        "\t@textfileWritten {",
        ...request,
        "\t\tfile {",
        `\t\t\troot ${dir}`,
        `\t\t\ttry_files /${name}`,
        "\t\t}",
        "\t}",
    ];
}

/**
 * The textfile's route, after /metrics: the file as it is, or an empty answer before it exists (no
 * series, where a 404 would make the scrape target fail), with Prometheus's text format as its type
 * (file_server keeps a Content-Type set before it).
 */
function textfileRoute(t: NonNullable<MetricsListener["textfile"]>): string[] {
    return [
        `\t\theader @textfile Content-Type "${PROMETHEUS_TEXT_CONTENT_TYPE}"`,
        "\t\thandle @textfileWritten {",
        `\t\t\troot * ${posix.dirname(t.file)}`,
        `\t\t\trewrite * /${posix.basename(t.file)}`,
        "\t\t\tfile_server",
        "\t\t}",
        "\t\trespond @textfile 200",
    ];
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

const regexpLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

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

/**
 * Requests refused for their shape before any rule reads them: a route prefix in another case (404), more
 * than one Authorization value (basicauth reads the first, the decoy's matchers any: 400), an
 * Authorization value longer than MAX_AUTHORIZATION_LENGTH (431). Why: docs/decisions/access-policy.md#request-shape
 */
function requestShapeAnswers(policy: AccessPolicy): string[] {
    return [
        ...routePrefixes(policy).map((_, i) => `\t\trespond @caseVariant${i} 404`),
        '\t\trespond @authorizationTwice "Send one Authorization header with one credential" 400',
        `\t\trespond @authorizationTooLong "Authorization longer than ${MAX_AUTHORIZATION_LENGTH} characters" 431`,
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
    if (policy.accessLog) site.push(...accessLog(policy.accessLog));
    const checks = new PasswordChecks(policy);
    // The routes first: their password checks name the decoy matchers the site then defines.
    const routes = [
        // `route` keeps the order below exactly as written.
        "\troute {",
        ...(policy.allowedNetworks.length > 0 ? ['\t\trespond @outside "Forbidden: your network may not use this registry" 403'] : []),
        // Marks the answers to the anonymous token for the login limit's filter (loginLimit.ts).
        `\t\theader @anonymousToken ${ANONYMOUS_TOKEN_HEADER} ${ANONYMOUS_TOKEN_HEADER_VALUE}`,
        ...requestShapeAnswers(policy),
        ...(policy.uiUpstream ? uiRoute(policy.uiUpstream) : []),
        ...(policy.maven ? mavenRoute(policy, checks, policy.maven) : []),
        ...(policy.deletesEnabled ? [] : ['\t\trespond @delete "Deleting is disabled on this registry" 405']),
        // Tokens: the anonymous one counts as no credentials; any other is the Basic credentials it carries.
        "\t\trequest_header @anonymousToken -Authorization",
        '\t\trequest_header @bearerCredentials Authorization "Basic {re.bearer.1}"',
        ...tokenEndpoint(policy, checks, everyone),
        ...blobCheckAnswer(policy.readOnlySignals ?? []),
        ...checks.check("@write", [policy.pushUsersFile]),
        ...readOnlyAnswer(policy.readOnlySignals ?? []),
        ...(policy.diskFullSignal ? diskFullAnswer() : []),
        ...(policy.scopedPushAccounts ?? []).flatMap((account, i) => scopedRefusal(`@scopedWrite${i}`, account, "\t\t")),
        ...checks.check("@ping", everyone),
        ...(policy.requiresAuthForPull ? checks.check("@read", everyone) : []),
        ...mirrorRoutes(policy, checks, policy.mirrors ?? []),
        ...(policy.blobFiles ? blobShortcut(policy.blobFiles) : []),
        ...registryProxy(policy.upstream),
        "\t}",
    ];
    const matchers = [
        "\t@ping path /v2 /v2/",
        `\t@token path ${TOKEN_PATH}`,
        `\t@tokenWrite {`,
        `\t\tpath ${TOKEN_PATH}`,
        "\t\tnot method GET HEAD",
        "\t}",
        "\t@withCredentials header Authorization *",
        ...(policy.requiresAuthForPull ? [] : [`\t@beyondPull vars_regexp {http.request.uri.query} \`${BEYOND_PULL_SCOPE}\``]),
        "\t@basicCredentials header_regexp basic Authorization ^(?i:basic)\\s+([A-Za-z0-9+/]+=*)$",
        `\t@anonymousToken header Authorization "Bearer ${ANONYMOUS_TOKEN}"`,
        "\t@bearerCredentials header_regexp bearer Authorization ^(?i:bearer)\\s+([A-Za-z0-9+/]+=*)$",
        "\t@write not method GET HEAD",
        ...(policy.requiresAuthForPull ? ["\t@read method GET HEAD"] : []),
        ...(policy.deletesEnabled ? [] : ["\t@delete method DELETE"]),
        ...readOnlyMatchers(policy.readOnlySignals ?? []),
        ...(policy.diskFullSignal ? diskFullMatcher(policy.diskFullSignal) : []),
        ...(policy.allowedNetworks.length > 0
            ? [`\t@outside not ${policy.trustedProxies?.length ? "client_ip" : "remote_ip"} ${policy.allowedNetworks.join(" ")}`]
            : []),
        ...checks.matchers(),
        ...(policy.overlap ? [`\timport ${policy.overlap.matchersFile}`] : []),
        ...scopedAccountMatchers(policy.scopedPushAccounts ?? []),
        `\t@authorizationTwice vars_regexp {http.request.header.Authorization} ,`,
        `\t@authorizationTooLong vars_regexp {http.request.header.Authorization} ${longerThan(MAX_AUTHORIZATION_LENGTH)}`,
        ...caseVariantMatchers(policy),
        ...(policy.maven ? mavenMatchers(policy.maven) : []),
        ...(policy.blobFiles
            ? ["\t@blob {", "\t\tmethod GET HEAD", `\t\tvars_regexp blob {http.request.uri.path} ${BLOB_PATH}`, "\t}"]
            : []),
        ...(policy.tls.kind === "plain-http"
            ? ["\tmap {http.request.header.X-Forwarded-Proto} {dso_client_scheme} {", "\t\thttps https", "\t\tdefault http", "\t}"]
            : []),
        // Every output is a configured authority; the Host header only chooses among them.
        ...(policy.realmAuthorities
            ? [
                  "\tmap {http.request.hostport} {dso_realm_authority} {",
                  ...Object.entries(policy.realmAuthorities).map(([host, authority]) => `\t\t${host} ${authority}`),
                  `\t\tdefault ${publicAuthority(policy)}`,
                  "\t}",
              ]
            : []),
    ];
    site.push(...matchers, "", ...routes);
    site.push(...unauthorizedAnswer(policy), "}");
    return [
        "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
        ...globalOptions(policy),
        "",
        ...site,
        ...(policy.metrics ? metricsSites(policy.metrics) : []),
        "",
    ].join("\n");
}
