/**
 * The provider behind PasswordOverlap (passwordOverlap.ts): it remembers a generated password's
 * previous value across a rotation, so the fronts can accept it for an overlap.
 *
 * - `diff` looks at the inputs only: a change when the password or the overlap's length changed.
 * - `update` after a new password records the old one's bcrypt hash, its shortest prefix the new
 *   password does not start with, when the rotation happened and when the overlap ends (now plus its
 *   length, by the clock of the machine running `pulumi up`). After a change of length alone the end
 *   of an overlap still running moves with it, and an overlap that has ended is dropped, never revived;
 *   with a length of 0 nothing is kept.
 * - `create` keeps nothing: a new account has no previous password. `delete` has nothing to remove.
 *
 * No imports on purpose: the SDK serializes the provider with everything it captures.
 */

/** What the front needs of the previous password; the password itself is never kept. */
export interface KeptPrevious {
    readonly bcryptHash: string;
    readonly prefix: string;
    /** When the rotation happened and when its overlap ends (Unix seconds). */
    readonly rotatedAt: number;
    readonly until: number;
}

export interface PasswordOverlapState {
    readonly password: string;
    readonly bcryptHash: string;
    /** The overlap's length in seconds; 0: the previous password stops at the rotation. */
    readonly overlapSeconds: number;
    readonly previous?: KeptPrevious | null;
}

/**
 * The shortest prefix of `previous` that `current` does not start with (its first character, unless
 * both start alike); none when they are equal or `current` starts with the whole of `previous`.
 */
export function distinguishingPrefix(previous: string, current: string): string | undefined {
    for (let i = 0; i < previous.length; i++) {
        if (previous[i] !== current[i]) return previous.slice(0, i + 1);
    }
    return undefined;
}

/** Whether an `up` must update the resource: the password or the overlap's length changed. */
export function diffPasswordOverlap(olds: PasswordOverlapState, news: PasswordOverlapState): { changes: boolean } {
    return { changes: olds.password !== news.password || olds.overlapSeconds !== news.overlapSeconds };
}

/** What the resource keeps after an `up` at `now` (Unix seconds) that moves it from `olds` to `news`. */
export function nextPrevious(olds: PasswordOverlapState, news: PasswordOverlapState, now: number): KeptPrevious | null {
    if (news.overlapSeconds <= 0) return null;
    if (olds.password === news.password) {
        const kept = olds.previous;
        // An overlap that has ended stays ended: a longer one set later never brings back a password
        // that had stopped working (it may have leaked since). One still running takes the new length.
        if (!kept || kept.until <= now) return null;
        return { ...kept, until: kept.rotatedAt + news.overlapSeconds };
    }
    const prefix = distinguishingPrefix(olds.password, news.password);
    if (prefix === undefined) return null;
    return { bcryptHash: olds.bcryptHash, prefix, rotatedAt: now, until: now + news.overlapSeconds };
}

export const passwordOverlapProvider = {
    async diff(_id: string, olds: PasswordOverlapState, news: PasswordOverlapState) {
        return diffPasswordOverlap(olds, news);
    },

    async create(inputs: PasswordOverlapState) {
        return { id: "overlap", outs: { ...inputs, previous: null } };
    },

    async update(_id: string, olds: PasswordOverlapState, news: PasswordOverlapState) {
        return { outs: { ...news, previous: nextPrevious(olds, news, Math.floor(Date.now() / 1000)) } };
    },

    async delete() {
        // Nothing outside the state.
    },
};
