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
