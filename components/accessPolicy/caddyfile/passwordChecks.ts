/**
 * The password checks of one Caddyfile: which users files each check imports, and the decoy account that
 * makes a check cost the same for every user name (docs/decisions/access-policy.md).
 */

import { type AccessPolicy, REALM } from "../policy";
import { base64PrefixPattern, DECOY_ACCOUNT, OVERLAP_MATCHERS, previousUsersFile } from "../usersFile";

/**
 * The password checks of one Caddyfile (`check`), and the site matchers they need (`matchers`): the
 * decoy matcher of each set of names a check holds.
 */
export class PasswordChecks {
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
