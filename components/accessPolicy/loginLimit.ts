/**
 * Repeated failed logins from one client are refused before they reach a password check: on the
 * external host, fail2ban reads the front's JSON access log and bans the address at the firewall
 * (nftables) for the front's ports; in the cluster, the ingress controller limits requests per client
 * address: ingress-nginx with annotations on the token endpoint and the ping, Traefik with rateLimit
 * Middlewares on the token endpoint and on every other request that carries credentials. Why these and
 * not a limiter inside Caddy: docs/decisions/access-policy.md#login-cost.
 *
 * A failed login is a request whose credentials were refused; a 401 to an anonymous request never
 * counts, since any web page can make its visitors' browsers send those (`renderFail2banFilter`).
 *
 * Everything here is pure: no Pulumi, no I/O.
 */

/** How many failed logins a client address may make, in what time, and how long it is then refused. */
export interface LoginLimit {
    /** Failed logins within `findTimeSeconds` that ban the address. */
    readonly maxRetry: number;
    /** The window failed logins are counted in. */
    readonly findTimeSeconds: number;
    /** How long a banned address is refused. */
    readonly banTimeSeconds: number;
}

/**
 * What the access log writes in place of an Authorization header's value: its presence tells a
 * failed login (credentials refused) from an anonymous request's 401 (the challenge every client gets
 * first, the token endpoint refusing an anonymous client more than pulls), and the credentials
 * themselves never reach the log.
 */
export const AUTHORIZATION_LOG_MARKER = "REDACTED";

/**
 * The response header the front adds to every answer to a request that carried the anonymous token:
 * the access log records a request's headers as it arrived (Authorization's value replaced by the
 * marker), so this is how the filter tells that token, which is no credential, from a refused one.
 */
export const ANONYMOUS_TOKEN_HEADER = "X-Registry-Credentials";
export const ANONYMOUS_TOKEN_HEADER_VALUE = "anonymous-token";

/** The fail2ban filter's and jail's name. */
export const LOGIN_JAIL = "dso-registry-login";

/**
 * The fail2ban filter: a 401 to a request that carried credentials (Authorization present, its value
 * replaced by the marker: Caddy's `replace` writes a string where the header's values were a list),
 * on any path, the token endpoint's included. An anonymous request's 401 never counts, whatever its
 * path: the challenge a push starts with, and the token endpoint's answer to an anonymous client that
 * asks for more than pulls (an anonymous push, the web UI opened without logging in, a web page's
 * `<img>` that would otherwise get its visitors' address banned). The pattern anchors on Caddy's own
 * field names; a value a client sends is JSON-escaped (`\"`), so it cannot forge `"Authorization"`,
 * `"status":401` or `"remote_ip"`. Why:
 * docs/decisions/access-policy.md#repeated-failed-logins-are-refused-before-a-password-check
 */
export function renderFail2banFilter(): string {
    const ip = '^.*"request":\\{"remote_ip":"<ADDR>"';
    const status = '.*"status":401[,}]';
    return [
        "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
        "# Failed logins in the JSON access log of the registry front (Caddy).",
        "[Definition]",
        // Caddy's `ts` is seconds since the epoch with a fraction.
        'datepattern = "ts":{EPOCH}',
        `failregex = ${ip}.*"Authorization":"${AUTHORIZATION_LOG_MARKER}"${status}`,
        // The anonymous token is no credential: a 401 to a request that carried it (a pull token offered
        // for a push, the UI asking for the catalog) is not a failed login. The front marks its answer.
        `ignoreregex = "resp_headers":\\{.*"${ANONYMOUS_TOKEN_HEADER}":\\["${ANONYMOUS_TOKEN_HEADER_VALUE}"\\]`,
        "",
    ].join("\n");
}

/** What the jail watches and protects. */
export interface LoginJail {
    readonly limit: LoginLimit;
    /** The front's JSON access log. */
    readonly logPath: string;
    /** The front's TCP ports: a banned address reaches none of them. */
    readonly ports: readonly number[];
    /** Addresses and networks never banned (e.g. CI's); fail2ban always ignores loopback. */
    readonly ignoreNetworks: readonly string[];
}

/** The jail (a jail.d file): the filter above on the access log, banning with nftables (reject). */
export function renderFail2banJail(jail: LoginJail): string {
    const { limit } = jail;
    return [
        "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
        `[${LOGIN_JAIL}]`,
        "enabled = true",
        `filter = ${LOGIN_JAIL}`,
        `logpath = ${jail.logPath}`,
        "backend = auto",
        `maxretry = ${limit.maxRetry}`,
        `findtime = ${limit.findTimeSeconds}`,
        `bantime = ${limit.banTimeSeconds}`,
        `ignoreip = ${["127.0.0.1/8", "::1", ...jail.ignoreNetworks].join(" ")}`,
        `action = nftables-multiport[name=${LOGIN_JAIL}, port="${jail.ports.join(",")}", protocol=tcp]`,
        "",
    ].join("\n");
}

/**
 * The annotations of the login Ingress (ingress-nginx: the token endpoint and the ping): requests per
 * minute and concurrent connections per client address; past them ingress-nginx answers 503 without
 * passing the request on. ingress-nginx counts every request there, good logins and anonymous tokens
 * too (it cannot see the answer), so the rate is its own setting, sized for the busiest legitimate
 * client, not fail2ban's failure budget: `requestsPerMinute`, with a burst of as many at once
 * (`limit-burst-multiplier` 1). Names and value forms: ingress-nginx's annotations page, "Rate Limiting".
 */
export function loginIngressAnnotations(requestsPerMinute: number, ignoreNetworks: readonly string[]): Record<string, string> {
    return {
        "nginx.ingress.kubernetes.io/limit-rpm": String(Math.max(1, Math.floor(requestsPerMinute))),
        "nginx.ingress.kubernetes.io/limit-burst-multiplier": "1",
        "nginx.ingress.kubernetes.io/limit-connections": String(LOGIN_CONNECTIONS_PER_CLIENT),
        ...(ignoreNetworks.length > 0 ? { "nginx.ingress.kubernetes.io/limit-whitelist": ignoreNetworks.join(",") } : {}),
    };
}

/**
 * Concurrent token requests one client address may have open (a login is one short request). Sized
 * for a CI agent that pushes in parallel: each push asks for its token at once, and one agent (or a
 * NAT in front of many) runs a dozen; 4 refused the fifth of six parallel pushes with 503. The rate
 * (`limit-rpm`) stays the bound on how many logins an address gets.
 */
export const LOGIN_CONNECTIONS_PER_CLIENT = 16;

/**
 * Traefik's rateLimit Middleware spec (traefik.io/v1alpha1): on average `requestsPerMinute` per client
 * address, with a burst of as many at once; past it Traefik answers 429 without passing the request on.
 * Without a `sourceCriterion` Traefik groups requests by the connection's remote address, which a client
 * cannot forge with a header. Traefik's rateLimit has no list of exempt networks: `ignoreNetworks` does
 * not apply here (the config says so). Each router that names the Middleware counts in buckets of its own.
 */
export function traefikLoginRateLimit(requestsPerMinute: number): { rateLimit: { average: number; period: string; burst: number } } {
    const rate = Math.max(1, Math.floor(requestsPerMinute));
    return { rateLimit: { average: rate, period: "1m", burst: rate } };
}

/**
 * The Traefik rule (v3 syntax) of every request to `host` that carries credentials: an Authorization
 * header whose value is not exactly `anonymousToken` (which the front drops: no credential), outside the
 * paths `excluded` (routes of their own: the token endpoint's, limited on its own, and the web UI's, which
 * never reaches the front). That is every request that can make the front run a password check: the front
 * checks only an Authorization value (Basic, or a token, which is Basic inside; docs/decisions/access-policy.md,
 * Login cost), so a request without one is never a guess. It is wider than the password checks (a pull with
 * a token gets none unless reads need an account): counted all the same, so no later route of the front's
 * that checks a password can be missed. Traefik's `Header` and `HeaderRegexp` hold when any of the header's
 * values matches; the front refuses a second Authorization value (400) before any check.
 */
export function traefikCredentialsRule(
    host: string,
    anonymousToken: string,
    excluded: readonly { readonly path: string; readonly exact: boolean }[],
): string {
    const quoted = (text: string) => `\`${text}\``;
    return [
        `Host(${quoted(host)})`,
        `HeaderRegexp(\`Authorization\`, \`.\`)`,
        `!Header(\`Authorization\`, ${quoted(`Bearer ${anonymousToken}`)})`,
        ...excluded.map(({ path, exact }) => `!${exact ? "Path" : "PathPrefix"}(${quoted(path)})`),
    ].join(" && ");
}
