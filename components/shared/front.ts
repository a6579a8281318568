/**
 * The front contract: what the registry's front enforces, given to every placement (the cluster's
 * sidecar, the external host's Caddy site, kind's front container) in the same words, so a stack, a
 * library user or a test says it once whatever the placement. What differs by placement (how caches,
 * the Maven repository or metrics run there) stays in each placement's own arguments.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { RegistryDeletes } from "./facts";

/**
 * An account's previous password during a rotation's overlap (components/accounts/passwordOverlap.ts):
 * its bcrypt hash, the shortest prefix of it that the current password does not start with, and the
 * end of the overlap. The front sends Basic credentials of that user whose password starts with the
 * prefix to a check against the previous hash, until `until`; every other credential to the current one.
 */
export interface PreviousPassword {
    readonly bcryptHash: string;
    /** The previous password's first characters, up to and including the first that differs from the current one. */
    readonly prefix: string;
    /** End of the overlap (Unix seconds): from then on the front no longer routes to the previous hash. */
    readonly until: number;
}

/** An account the front checks: its user name and the bcrypt hash of its password (secret). */
export interface FrontAccount {
    readonly username: string;
    readonly bcryptHash: pulumi.Input<string>;
    /** The previous password during a rotation's overlap (secret), which the front also accepts until its end. */
    readonly previous?: pulumi.Input<PreviousPassword | undefined>;
}

/** A push account that may write only under its repository prefixes (whole path components ending in "/"). */
export interface ScopedFrontAccount extends FrontAccount {
    readonly prefixes: readonly string[];
}

/** The accounts a front knows; `RegistryAccounts` (components/accounts) gives exactly these. */
export interface FrontAccounts {
    /** The push account: every right (Jenkins's). */
    readonly push: FrontAccount;
    /** Push accounts scoped to repository prefixes, beside `push`. */
    readonly scopedPush?: readonly ScopedFrontAccount[];
    /** The pull-only account, when something pulls with credentials. */
    readonly pull?: FrontAccount;
    /** Read-only accounts (developers, Flux, caches), in the pull users file beside `pull`. */
    readonly read?: readonly FrontAccount[];
}

/** What every placement's front enforces. */
export interface RegistryFront {
    /** The accounts the front checks (`RegistryAccounts` gives them); the placement derives its users files and htpasswd from them. */
    readonly accounts: FrontAccounts;
    /**
     * Every read needs an account (push, pull-only or read); otherwise reads are anonymous.
     * @default false
     */
    readonly requiresAuthForPull?: boolean;
    /**
     * Pulls through the caches need an account even when reads are anonymous (`registry.mirrorPull` "accounts").
     * @default false
     */
    readonly mirrorsRequireAuth?: boolean;
    /**
     * Whether push accounts may DELETE (`api`), and whether the UI offers a delete button (`ui`).
     * @default { api: false, ui: false }
     */
    readonly deletes?: RegistryDeletes;
    /**
     * Client networks (CIDR) allowed to reach the registry at all; everyone when empty.
     * @default []
     */
    readonly allowedNetworks?: readonly string[];
}

/**
 * The front's two users files and the scopes, from its accounts: the push users file holds the push
 * account and the scoped ones (whose writes the policy limits by `scoped`), the pull users file the
 * pull-only account and the read accounts.
 */
export function frontUsers(accounts: FrontAccounts): {
    readonly push: readonly FrontAccount[];
    readonly pull: readonly FrontAccount[];
    readonly scoped: readonly { readonly username: string; readonly prefixes: readonly string[] }[];
} {
    const scoped = accounts.scopedPush ?? [];
    return {
        push: [accounts.push, ...scoped],
        pull: [...(accounts.pull ? [accounts.pull] : []), ...(accounts.read ?? [])],
        scoped: scoped.map((a) => ({ username: a.username, prefixes: a.prefixes })),
    };
}

/** The front's defaults, as documented on `RegistryFront`. */
export const FRONT_DEFAULTS = {
    requiresAuthForPull: false,
    mirrorsRequireAuth: false,
    deletes: { api: false, ui: false },
    allowedNetworks: [],
} as const satisfies Required<Omit<RegistryFront, "accounts">>;

/** What `resolveFront` returns: a placement's args with the front's defaults applied. */
export type ResolvedFront<T extends RegistryFront> = Omit<T, keyof typeof FRONT_DEFAULTS> & Required<Omit<RegistryFront, "accounts">>;

/**
 * The front's defaults applied to a placement's args: every front setting the args leave out is set,
 * the rest of the args kept as they are. Each placement's own resolve step (`resolve…`) starts from this one.
 */
export function resolveFront<T extends RegistryFront>(args: T): ResolvedFront<T> {
    return {
        ...args,
        requiresAuthForPull: args.requiresAuthForPull ?? FRONT_DEFAULTS.requiresAuthForPull,
        mirrorsRequireAuth: args.mirrorsRequireAuth ?? FRONT_DEFAULTS.mirrorsRequireAuth,
        deletes: args.deletes ?? FRONT_DEFAULTS.deletes,
        allowedNetworks: args.allowedNetworks ?? FRONT_DEFAULTS.allowedNetworks,
    };
}

/**
 * The front's memory, in the placements that run it in a container of its own (the external host's front
 * container, the in-cluster sidecar): the container's limit (the sidecar's default, which the operator may
 * change), the Go runtime's soft limit (`GOMEMLIMIT`) some 80% of it (`goMemoryLimit`), so that Caddy collects its garbage
 * harder as it nears the limit instead of being killed with memory it no longer uses, and, on the host and
 * kind's front, its open files, which bound its connections and what they hold: the most one file costs is
 * a download stalled through the proxy (caches, s3 storage), about 410 KiB for the client's connection and
 * its connection to the upstream, so 1,024 of them, 2,048 files, stay under the container's limit with
 * Caddy's own 55 MiB; a connection still reading its head holds up to about 75 KiB over TLS. Why:
 * docs/access-policy.md#connection-limits
 */
export const FRONT_MEMORY = { limitMiB: 512, openFiles: 2048 } as const;

const QUANTITY_UNITS: Readonly<Record<string, number>> = {
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
};

/**
 * Go's soft memory limit (`GOMEMLIMIT`) for a container whose memory limit is `limit` (a Kubernetes
 * quantity such as "512Mi" or "1G"): about 80% of it, in MiB; none without a limit, or for a quantity
 * written otherwise.
 */
export function goMemoryLimit(limit: string | undefined): string | undefined {
    const match = limit === undefined ? null : /^(\d+(?:\.\d+)?)(|k|M|G|T|Ki|Mi|Gi|Ti)$/.exec(limit);
    if (!match) return undefined;
    const mib = Math.floor((Number(match[1]) * QUANTITY_UNITS[match[2]!]! * 0.78) / 2 ** 20);
    return mib > 0 ? `${mib}MiB` : undefined;
}

/** Caddy's environment for `FRONT_MEMORY`'s limit (the host's front; the sidecar's with the default limit). */
export const FRONT_ENVIRONMENT = { GOMEMLIMIT: goMemoryLimit(`${FRONT_MEMORY.limitMiB}Mi`) as string } as const;
