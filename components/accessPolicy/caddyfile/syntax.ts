/**
 * The pieces of Caddyfile text every rule group of the access policy writes with: registry error bodies,
 * JSON inside Caddy's placeholder syntax, regular-expression literals, and the repository-name grammar.
 */

/**
 * A repository name as Distribution's reference grammar spells it: lower-case components joined by
 * "/", separators ".", "_", "__" or dashes between alphanumerics. No component can be "." or "..",
 * so a name never leaves the repositories directory.
 */
export const REPOSITORY_NAME = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*";

/**
 * A refusal (`respond` and its arguments, indented) that closes the connection after its answer. Without it Go's
 * server reads up to 256 KiB of the body the refused request still has to send before it answers, so that a
 * client that stalls holds the answer back; with it, the answer goes at once and what is left of the body gets
 * UNREAD_BODY_SECONDS (limits.ts) before the connection is closed.
 */
export function closingRefusal(line: string): string[] {
    const indent = /^\t*/.exec(line)?.[0] ?? "";
    return [`${line} {`, `${indent}\tclose`, `${indent}}`];
}

/** A registry error body (the Distribution API's `errors` array) with one error. */
export function registryError(code: string, message: string): string {
    return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

/** JSON braces escaped for Caddy's placeholder syntax; placeholders (`{http.…}`, `{re.…}`) are kept. */
export function escapeBraces(text: string): string {
    return text.replace(/[{}]/g, (c) => `\\${c}`).replace(/\\\{((?:http|re)\.[a-z0-9.]+)\\\}/g, "{$1}");
}

/** `text` as a literal in a regular expression. */
export const regexpLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
