/**
 * Authentication's answers: the token endpoint (the Bearer challenge's realm), the scoped push accounts'
 * refusals, and the 401 answers with their challenges (the registry's Bearer, Maven's Basic).
 */

import {
    type AccessPolicy,
    ANONYMOUS_TOKEN,
    type MavenRoute,
    REALM,
    type ScopedPushAccount,
    TOKEN_LIFETIME_SECONDS,
    TOKEN_PATH,
} from "../policy";
import { scopedTokenQuery, scopedWritePath } from "../scopedAccounts";
import type { PasswordChecks } from "./passwordChecks";
import { sweepHoldGateShutAnswer } from "./signals";
import { closingRefusal, escapeBraces, REPOSITORY_NAME, regexpLiteral, registryError } from "./syntax";

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
export function tokenEndpoint(policy: AccessPolicy, checks: PasswordChecks, everyone: readonly string[]): string[] {
    const json = (token: string) =>
        `\`${escapeBraces(JSON.stringify({ token, access_token: token, expires_in: TOKEN_LIFETIME_SECONDS }))}\``;
    return [
        ...closingRefusal('\t\trespond @tokenWrite "Tokens are issued on GET" 405'),
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
export function scopedAccountMatchers(accounts: readonly ScopedPushAccount[]): string[] {
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
export function scopedRefusal(matcher: string, account: ScopedPushAccount, indent: string): string[] {
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
export function unauthorizedAnswer(policy: AccessPolicy): string[] {
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
        ...(policy.sweepHold ? sweepHoldGateShutAnswer() : []),
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
 * A 401 from the Maven route keeps a Basic challenge: Maven (and curl) answer Basic, not the
 * registry's Bearer realm. Listed before the registry's own 401 answer, which would replace it.
 */
export function mavenUnauthorized(maven: MavenRoute): string[] {
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
 * The site's matchers of credentials and the token endpoint: the ping, token requests (and writes to the
 * endpoint), any credentials, a token request beyond pulls (anonymous pulls only), Basic credentials, the
 * anonymous token, and Bearer credentials (a token is the Basic credentials it carries).
 */
export function credentialMatchers(policy: AccessPolicy): string[] {
    return [
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
    ];
}
