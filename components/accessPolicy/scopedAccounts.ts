/**
 * What the front lets a push account scoped to repository prefixes write (`AccessPolicy.scopedPushAccounts`):
 * the regular expressions its rules match, as data, so that they can be tested alone. The rules are
 * allowlists: a scoped account's write passes only when its path is a clean registry write into one of
 * its prefixes, and it gets a token only when every scope it asks for is a pull, the catalog, or in
 * one of its prefixes. Anything else (another repository, a path Distribution would clean or redirect,
 * an encoding nobody sends) is refused. Why: docs/decisions/access-policy.md#push-accounts-scoped-to-repository-prefixes
 *
 * The patterns are Go RE2 (Caddy's `vars_regexp`) and mean the same in JavaScript.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */

import { PATH_COMPONENT } from "../shared/imageReference";

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A tag (Distribution's reference grammar): never starts with "." or "-", so never a dot segment. */
const TAG = "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}";

/** A digest (the OCI grammar): algorithm, ":", encoded part. */
const DIGEST = "[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]+";

/** An upload session's ID as Distribution's routes take it, without a leading "." (no dot segment). */
const UPLOAD_ID = "[A-Za-z0-9_=-][A-Za-z0-9._=-]*";

/**
 * The paths a scoped account may write to (any method but GET and HEAD), as Caddy's
 * `{http.request.uri.path}` holds them (percent-decoded, not cleaned): a repository under one of
 * `prefixes` (whole components, so "team-a/" never matches "team-ab/"), then a manifest, a blob, an
 * upload start (cross-repository mounts included: the mount's target is the path's repository) or an
 * upload session. A doubled slash, a "." or ".." segment or an encoded slash that decodes into one of
 * them matches nothing, and a name Distribution would read differently cannot be written: every part
 * after the repository is a fixed word or a value without "/".
 */
export function scopedWritePath(prefixes: readonly string[]): string {
    const under = prefixes.map(literal).join("|");
    const repository = `(?:${under})${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
    return `^/v2/${repository}/(?:manifests/(?:${TAG}|${DIGEST})|blobs/uploads/(?:${UPLOAD_ID})?|blobs/${DIGEST})$`;
}

/** A character of a scope as a token request's query may carry it: itself or percent-encoded. */
const ENCODED = {
    colon: "(?::|%3[Aa])",
    slash: "(?:/|%2[Ff])",
    comma: "(?:,|%2[Cc])",
    space: "(?:\\+|%20)",
    star: "(?:\\*|%2[Aa])",
} as const;

/**
 * The token requests (their raw query) a scoped account gets a token for: every parameter is
 * `service`, `account`, `client_id`, `offline_token` or `scope`, and every scope (several `scope`
 * parameters, or scopes separated by spaces) is a pull of any repository, the catalog, or any actions
 * on a repository under one of `prefixes`. A scope of
 * another kind, another repository with push, delete or "*", or a spelling clients do not send
 * matches nothing, and the account is refused the token.
 */
export function scopedTokenQuery(prefixes: readonly string[]): string {
    const { colon, slash, comma, space, star } = ENCODED;
    const name = `${PATH_COMPONENT}(?:${slash}${PATH_COMPONENT})*`;
    const under = prefixes.map((p) => p.split("/").filter(Boolean).map(literal).join(slash) + slash).join("|");
    const action = `(?:pull|push|delete|${star})`;
    const scope = [
        `repository${colon}(?:${under})${name}${colon}${action}(?:${comma}${action})*`,
        `repository${colon}${name}${colon}pull`,
        `registry${colon}catalog${colon}${star}`,
    ].join("|");
    // Each part ends at "&", a space between scopes, or the end; a scope after "&" without "scope=" is a
    // parameter nobody reads, and the values of the other parameters are never read either.
    const part = `(?:(?:scope=)?(?:${scope})|(?:service|account|client_id|offline_token)=[^&]*)`;
    return `^(?:${part}(?:&|${space}|$))*$`;
}
