/**
 * The users files the Caddyfile imports inside its `basicauth` blocks: one "user bcrypt-hash" line per
 * account. They hold the accounts' hashes, so they are placed as secrets (mode 0600); the Caddyfile
 * itself holds none (only the decoy's, of a random password nobody keeps).
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { ACCOUNT_NAME } from "../shared/facts";

/** A bcrypt hash as Caddy and Distribution accept it: "$2a$", "$2b$" or "$2y$", a two-digit cost, salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/**
 * The decoy account every password check of the Caddyfile holds (beside the users files it imports): the front hands a password check for a user it does not
 * know to this account, so that it costs one bcrypt check at the accounts' cost (10) and
 * not Caddy's own decoy (cost 14, some 15 times as much): no user enumeration by timing, and no cheap
 * way to burn the front's CPU. The name is outside ACCOUNT_NAME, so no account can take it. Its hash
 * (`DecoyCheck.bcryptHash`) is of a random password each stack generates and nobody keeps: a client
 * chooses the whole password the decoy is checked with, so a password anyone could know would let it in.
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
