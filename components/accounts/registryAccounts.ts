/**
 * The registry's accounts: one push account (Jenkins), an optional pull-only account (nodes, Flux,
 * pull secrets), the named push accounts scoped to repository prefixes and the named read accounts,
 * with the bcrypt htpasswd that the access policy checks them against.
 */
import { createHmac } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as bcrypt from "bcryptjs";
import type { PreviousPassword } from "../accessPolicy/usersFile";
import { DEFAULT_PUSH_USERNAME, DEFAULT_ROTATION, type Defaulted } from "../shared/defaults";
import { PROJECT } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { typeToken } from "../shared/typeToken";
import { PasswordOverlap, type PasswordOverlapArgs } from "./passwordOverlap";

/** A registry account. `password` and `bcryptHash` are secret Outputs. */
export interface RegistryAccount {
    readonly username: string;
    readonly password: pulumi.Output<string>;
    readonly bcryptHash: pulumi.Output<string>;
    /**
     * A generated password's previous value while its rotation's overlap lasts (secret; undefined
     * outside one). Absent for a supplied password, and without an overlap.
     */
    readonly previous?: pulumi.Output<PreviousPassword | undefined>;
    /** When the previous password stops working (Unix seconds; not secret), as `previous` has it. */
    readonly previousUntil?: pulumi.Output<number | undefined>;
}

export interface RegistryAccountsArgs {
    /**
     * Push account. Without `password` the program generates one (and owns it).
     * @default { username: "ci-push" } (a generated password)
     */
    readonly push?: { readonly username: string; readonly password?: pulumi.Input<string> };
    /**
     * Push accounts scoped to repository prefixes (`containerRegistry.pushAccounts`); the access policy
     * limits their writes to the prefixes.
     */
    readonly scopedPush?: readonly (NamedAccountArgs & { readonly prefixes: readonly string[] })[];
    /** Pull-only account, always generated; omit when nothing needs pull credentials. */
    readonly pull?: { readonly username: string };
    /** Read-only accounts (`containerRegistry.readAccounts`), each in the pull users file beside `pull`. */
    readonly read?: readonly NamedAccountArgs[];
    /**
     * Changing this value generates new passwords for every generated account.
     * @default "1"
     */
    readonly rotation?: string;
    /**
     * Rotation by age (rotationSchedule.ts): the period the passwords belong to; a new one generates new
     * passwords. Unset: only `rotation` rotates them.
     */
    readonly agePeriod?: string;
    /**
     * Hours the previous value of a rotated generated password stays valid on the fronts
     * (passwordOverlap.ts); 0 or unset: it stops at the rotation.
     */
    readonly overlapHours?: number;
}

/** What `resolveRegistryAccounts` returns: the args with every default applied, what the component builds from. */
export type ResolvedRegistryAccounts = Defaulted<RegistryAccountsArgs, "push" | "rotation">;

/** The component's resolve step: the defaults each arg's `@default` documents (the stack config's too, components/shared/defaults.ts). */
export function resolveRegistryAccounts(args: RegistryAccountsArgs): ResolvedRegistryAccounts {
    return { ...args, push: args.push ?? { username: DEFAULT_PUSH_USERNAME }, rotation: args.rotation ?? DEFAULT_ROTATION };
}

/** A named account: generated unless a password is supplied, with a rotation of its own. */
export interface NamedAccountArgs {
    readonly username: string;
    /** The operator's password; without it the program generates one (and owns it). */
    readonly password?: pulumi.Input<string>;
    /** Changing this value generates a new password for this account alone (a generated one). */
    readonly rotation?: string;
}

/**
 * A bcrypt hash of a supplied password whose salt is derived from the user name and password, so the
 * same password gives the same hash on every run (no false diff in `pulumi preview`), and a new
 * password a new hash. Uniqueness of the salt per (user, password) is what bcrypt's salt is for.
 */
export function deterministicBcrypt(username: string, password: string, cost = 10): string {
    const digest = createHmac("sha256", `${PROJECT} htpasswd salt`).update(`${username}\0${password}`).digest();
    const salt = `$2b$${String(cost).padStart(2, "0")}$${bcrypt.encodeBase64(Array.from(digest.subarray(0, 16)), 16)}`;
    // The same inputs always give the same hash: one process (a preview, a synth of many configs)
    // computes each once. Keyed by the salt, which is derived from the password, never by the password.
    let hash = bcryptBySalt.get(salt);
    if (hash === undefined) {
        hash = bcrypt.hashSync(password, salt);
        bcryptBySalt.set(salt, hash);
    }
    return hash;
}

const bcryptBySalt = new Map<string, string>();

/** htpasswd lines ("user:hash"), sorted by user name so the file is stable. */
export function renderHtpasswd(entries: readonly { username: string; bcryptHash: string }[]): string {
    return [...entries]
        .sort((a, b) => a.username.localeCompare(b.username))
        .map((e) => `${e.username}:${e.bcryptHash}\n`)
        .join("");
}

/**
 * The htpasswd lines of accounts whose hashes are Pulumi values (secret): `renderHtpasswd` once every
 * hash is known. `RegistryAccounts.htpasswd` is this of its accounts; a placement that needs an htpasswd
 * derives it from the accounts it is given with the same function, so both are the same text.
 */
export function htpasswdOutput(
    accounts: readonly { readonly username: string; readonly bcryptHash: pulumi.Input<string> }[],
): pulumi.Output<string> {
    return pulumi.secret(
        pulumi
            .all(accounts.map((a) => a.bcryptHash))
            .apply((hashes) => renderHtpasswd(accounts.map((a, i) => ({ username: a.username, bcryptHash: hashes[i]! })))),
    );
}

/** A push account scoped to repository prefixes (see `RegistryAccountsArgs.scopedPush`). */
export interface ScopedRegistryAccount extends RegistryAccount {
    readonly prefixes: readonly string[];
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const REGISTRY_ACCOUNTS_TYPE = typeToken("accounts", "RegistryAccounts");

/** The name of the PasswordOverlap that keeps a generated password's previous value, from the password's name. */
export const passwordOverlapName = (passwordName: string) => `${passwordName}-overlap`;

/** A generated password `RegistryAccounts` registers: its RandomPassword, and the PasswordOverlap that keeps its previous value. */
export interface PlannedGeneratedPassword {
    readonly name: string;
    readonly args: random.RandomPasswordArgs;
    /** With the rotation's overlap (`overlapHours`); none without one. */
    readonly overlap?: {
        readonly name: string;
        /** With the password's value and hash (secret). */
        readonly args: (account: {
            readonly password: pulumi.Output<string>;
            readonly bcryptHash: pulumi.Output<string>;
        }) => PasswordOverlapArgs;
    };
}

/** One account: its generated password to register, or the supplied one with its hash. */
export type PlannedAccount =
    | { readonly username: string; readonly generated: PlannedGeneratedPassword }
    | { readonly username: string; readonly supplied: Pick<RegistryAccount, "password" | "bcryptHash"> };

/** What `RegistryAccounts` registers (the generated passwords in this order: push, pull, scoped push, read): `planRegistryAccounts`. */
export interface RegistryAccountsPlan {
    readonly push: PlannedAccount;
    readonly pull?: PlannedAccount;
    readonly scopedPush: readonly (PlannedAccount & { readonly prefixes: readonly string[] })[];
    readonly read: readonly PlannedAccount[];
}

/**
 * Everything `RegistryAccounts` registers, from its args with the defaults applied, or why they cannot
 * work (a user name twice): which accounts get a generated password, its resource name and keepers,
 * the overlap that keeps its previous value, and the hash of each supplied password.
 */
export function planRegistryAccounts(name: string, args: ResolvedRegistryAccounts): RegistryAccountsPlan | { readonly problem: string } {
    if (args.pull && args.pull.username === args.push.username) {
        return { problem: `the pull-only account needs its own user name, not "${args.push.username}"` };
    }
    const names = [
        args.push.username,
        ...(args.scopedPush ?? []).map((a) => a.username),
        ...(args.pull ? [args.pull.username] : []),
        ...(args.read ?? []).map((a) => a.username),
    ];
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) return { problem: `two accounts are named "${twice}"; each needs its own user name` };
    const { overlapHours } = args;
    // The keepers of a generated password: any change replaces it. An account's own rotation is a
    // keeper only once set, so that stacks from before it keep their passwords.
    const generated = (role: string, username: string, own?: string): PlannedAccount => ({
        username,
        generated: {
            name: `${name}-${role}`,
            args: {
                length: 40,
                special: false,
                keepers: {
                    username,
                    rotation: args.rotation,
                    ...(args.agePeriod ? { agePeriod: args.agePeriod } : {}),
                    ...(own !== undefined ? { accountRotation: own } : {}),
                },
            },
            ...(overlapHours
                ? {
                      overlap: {
                          name: passwordOverlapName(`${name}-${role}`),
                          args: ({ password, bcryptHash }) => ({ password, bcryptHash, overlapHours }),
                      },
                  }
                : {}),
        },
    });
    const supplied = (username: string, password: pulumi.Input<string>): PlannedAccount => {
        const secretPassword = pulumi.secret(pulumi.output(password));
        return {
            username,
            supplied: {
                password: secretPassword,
                bcryptHash: pulumi.secret(secretPassword.apply((p) => deterministicBcrypt(username, p))),
            },
        };
    };
    const named = (role: string, a: NamedAccountArgs) =>
        a.password === undefined ? generated(`${role}-${a.username}`, a.username, a.rotation) : supplied(a.username, a.password);
    return {
        push: args.push.password === undefined ? generated("push", args.push.username) : supplied(args.push.username, args.push.password),
        ...(args.pull ? { pull: generated("pull", args.pull.username) } : {}),
        scopedPush: (args.scopedPush ?? []).map((a) => ({ ...named("push", a), prefixes: a.prefixes })),
        read: (args.read ?? []).map((a) => named("read", a)),
    };
}

export class RegistryAccounts extends pulumi.ComponentResource {
    readonly push: RegistryAccount;
    /** The scoped push accounts, in the order given (none unless asked for). */
    readonly scopedPush: readonly ScopedRegistryAccount[];
    readonly pull?: RegistryAccount;
    /** The read-only accounts, in the order given (none unless asked for). */
    readonly read: readonly RegistryAccount[];
    /** Every account as htpasswd lines (bcrypt), secret. */
    readonly htpasswd: pulumi.Output<string>;

    constructor(name: string, given: RegistryAccountsArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super(REGISTRY_ACCOUNTS_TYPE, name, {}, withFormerType(opts, "dso:registry:RegistryAccounts"));
        const plan = planRegistryAccounts(name, resolveRegistryAccounts(given));
        if ("problem" in plan) throw new pulumi.ResourceError(`RegistryAccounts ${name}: ${plan.problem}`, this);
        const account = (planned: PlannedAccount): RegistryAccount => {
            if ("supplied" in planned) return { username: planned.username, ...planned.supplied };
            const { generated } = planned;
            const password = new random.RandomPassword(generated.name, generated.args, { parent: this });
            const registered = {
                username: planned.username,
                password: pulumi.secret(password.result),
                bcryptHash: pulumi.secret(password.bcryptHash),
            };
            if (!generated.overlap) return registered;
            const overlap = new PasswordOverlap(generated.overlap.name, generated.overlap.args(registered), { parent: this });
            return {
                ...registered,
                previous: overlap.forFronts,
                previousUntil: pulumi.unsecret(overlap.forFronts.apply((p) => p?.until)),
            };
        };
        this.push = account(plan.push);
        this.pull = plan.pull && account(plan.pull);
        this.scopedPush = plan.scopedPush.map((a) => ({ ...account(a), prefixes: a.prefixes }));
        this.read = plan.read.map(account);
        const accounts = [this.push, ...this.scopedPush, ...(this.pull ? [this.pull] : []), ...this.read];
        this.htpasswd = htpasswdOutput(accounts);
        this.registerOutputs({});
    }
}
