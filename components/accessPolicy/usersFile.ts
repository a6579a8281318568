/**
 * The users files the Caddyfile imports inside its `basicauth` blocks: one "user bcrypt-hash" line per
 * account. They hold the accounts' hashes, so they are placed as secrets (mode 0600); the Caddyfile
 * itself holds none (only the decoy's, which no password matches).
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { createHash } from "node:crypto";
import * as bcrypt from "bcryptjs";
import { ACCOUNT_NAME } from "../shared/facts";
import type { PreviousPassword } from "../shared/front";

export type { PreviousPassword };

/** A bcrypt hash as Caddy and Distribution accept it: "$2a$", "$2b$" or "$2y$", a two-digit cost, salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/**
 * The decoy account: before each password check of the Caddyfile, Basic credentials of a user that the
 * check's users files do not hold are handed to this account, so that a failed login costs one bcrypt
 * check at the accounts' cost (10) for every name, known elsewhere or unknown, and never Caddy's own
 * decoy (cost 14, some 15 times as much): no user enumeration by timing, and no cheap way to burn the
 * front's CPU. The name is outside ACCOUNT_NAME, so no account can take it. Its hash is one no password
 * matches (`unmatchableBcryptHash`), and the front refuses the account even where a check would pass it.
 * Why: docs/decisions/access-policy.md#login-cost
 */
export const DECOY_ACCOUNT = "~unknown";

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

/**
 * A bcrypt hash that no known password matches: "$2b$10$", then a salt and a digest that are random
 * bytes (from `seed`, through SHA-512), not the output of bcrypt. Checking a password against it costs
 * what checking a real account's costs (cost 10); finding a password it accepts is finding a bcrypt
 * preimage. The seed is a random value the stack keeps (components/accounts/decoy.ts): the hash stays
 * the same between runs, and the seed is a password for nothing.
 */
export function unmatchableBcryptHash(seed: string): string {
    const bytes = createHash("sha512").update(`dso-registry decoy\n${seed}`).digest();
    return `$2b$10$${bcrypt.encodeBase64(bytes.subarray(0, 16), 16)}${bcrypt.encodeBase64(bytes.subarray(16, 39), 23)}`;
}

/** An account as the overlap files need it: its name and, during an overlap, its previous password. */
export interface OverlapAccount {
    readonly username: string;
    readonly previous?: PreviousPassword | undefined;
}

/** The users file of the accounts' previous passwords, beside `renderUsersFile`'s (same format; only the comment when none). */
export function renderPreviousUsersFile(role: "push" | "pull", accounts: readonly OverlapAccount[]): string {
    const held = accounts.flatMap((a) => (a.previous ? [{ username: a.username, bcryptHash: a.previous.bcryptHash }] : []));
    return renderUsersFile(role, held).replace(/^# (\w+) accounts/, "# $1 accounts' previous passwords");
}

/** The path of a users file's previous-passwords file. */
export function previousUsersFile(usersFile: string): string {
    return `${usersFile}-previous`;
}

/** The site matchers the overlap file defines (`renderOverlapMatchers`). */
export const OVERLAP_MATCHERS = { previous: "overlapPrevious", current: "overlapCurrent" } as const;

/**
 * The overlap file: two site matchers, `@overlapPrevious` (Basic credentials of an account in its
 * overlap whose password starts with its previous password's prefix, before the overlap's end by
 * Caddy's own clock) and `@overlapCurrent` (every other request). The overlap ends whether or not
 * anyone runs `pulumi up`. It holds the prefixes, so it is a secret file like the users files.
 * Without an account in its overlap, `@overlapPrevious` matches nothing.
 */
export function renderOverlapMatchers(accounts: readonly OverlapAccount[]): string {
    const terms: string[] = [];
    const ends: string[] = [];
    for (const a of [...accounts].sort((x, y) => x.username.localeCompare(y.username))) {
        const p = a.previous;
        if (!p) continue;
        if (!ACCOUNT_NAME.test(a.username)) throw new Error(`renderOverlapMatchers: user name "${a.username}" is not allowed`);
        if (!/^[\x21-\x7e]+$/.test(p.prefix) || !Number.isSafeInteger(p.until)) {
            throw new Error(`renderOverlapMatchers: the previous password of "${a.username}" has no usable prefix or end`);
        }
        // RE2 inside a CEL string literal: every backslash of the pattern is written twice.
        const pattern = `^(?i:basic)\\s+${base64PrefixPattern(`${a.username}:${p.prefix}`)}[A-Za-z0-9+/]*=*$`.replace(/\\/g, "\\\\");
        ends.push(`# previous password of ${a.username} until ${p.until}`);
        terms.push(`({http.request.header.Authorization}.matches('${pattern.replace(/'/g, "\\'")}') && int({time.now.unix}) < ${p.until})`);
    }
    const previous = terms.length > 0 ? terms.join(" || ") : "false";
    return [
        "# the accounts' previous passwords in their overlap, managed by dso-registry",
        // Read by the status command: each account's end of overlap (Unix seconds), nothing secret.
        ...ends,
        `@${OVERLAP_MATCHERS.previous} expression ${previous}`,
        `@${OVERLAP_MATCHERS.current} expression !(${previous})`,
        "",
    ].join("\n");
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** A regular expression character for one base64 character (`+` and `/` escaped). */
const base64Char = (index: number) => (BASE64[index] === "+" ? "\\+" : BASE64[index]!);

/**
 * A regular expression for the base64 text of every string that starts with `prefix`: whole groups of
 * three bytes are fixed characters; the last one or two bytes fix some bits of the next characters,
 * which become character classes.
 */
export function base64PrefixPattern(prefix: string): string {
    const bytes = Buffer.from(prefix, "utf8");
    const whole = bytes.length - (bytes.length % 3);
    const fixed = [...Buffer.from(bytes.subarray(0, whole)).toString("base64")].map((c) => (c === "+" ? "\\+" : c)).join("");
    const rest = bytes.subarray(whole);
    const range = (from: number, count: number) => `[${Array.from({ length: count }, (_, i) => base64Char(from + i)).join("")}]`;
    if (rest.length === 0) return fixed;
    const b0 = rest[0]!;
    if (rest.length === 1) return `${fixed}${base64Char(b0 >> 2)}${range((b0 & 3) << 4, 16)}`;
    const b1 = rest[1]!;
    return `${fixed}${base64Char(b0 >> 2)}${base64Char(((b0 & 3) << 4) | (b1 >> 4))}${range((b1 & 15) << 2, 4)}`;
}
