/**
 * Rotation by age (`containerRegistry.rotateAfterDays`): time is cut into periods of that many days,
 * counted from 1970-01-01 UTC, and the generated passwords belong to the period a `pulumi up` runs in.
 * The first `up` in a new period finds a new period number in the passwords' keepers and generates new
 * ones; Jenkins's credentials, the pull secrets and the users files follow in the same `up`, as with a
 * bumped `rotation`. No state is read and no clock resource is kept: the same day gives the same plan
 * in `preview` and `up`. A password is at most one period old plus the time until the next `up`; the
 * alert and the stack output say when the next period starts. Why: docs/decisions/rotation-by-age.md
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where `now` falls in the rotation's periods. */
export interface RotationPeriod {
    /** The period's number since 1970-01-01 UTC: part of the passwords' keepers. */
    readonly period: number;
    /** When the current period began: the passwords are no older, once an `up` ran in it. */
    readonly since: Date;
    /** When the next period begins: the first `up` after it rotates the passwords. */
    readonly due: Date;
}

/** The period of `days` days that `now` falls in. */
export function rotationPeriod(days: number, now: Date): RotationPeriod {
    if (!Number.isInteger(days) || days < 1) throw new Error(`rotateAfterDays must be a whole number of days, at least 1: ${days}`);
    const length = days * DAY_MS;
    const period = Math.floor(now.getTime() / length);
    return { period, since: new Date(period * length), due: new Date((period + 1) * length) };
}

/** The keeper value of a rotation by age: the period length and number, so that a new length rotates too. */
export function periodKeeper(days: number, p: RotationPeriod): string {
    return `${days}d/${p.period}`;
}
