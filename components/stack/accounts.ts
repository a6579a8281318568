/** The registry's accounts and the pull secrets that carry the pull account. */
import type * as pulumi from "@pulumi/pulumi";
import type { ScopedPushAccount } from "../accessPolicy/policy";
import { PullSecrets } from "../accounts/pullSecrets";
import { RegistryAccounts } from "../accounts/registryAccounts";
import { periodKeeper, type RotationPeriod, rotationPeriod } from "../accounts/rotationSchedule";
import type { StackConfig } from "../config";
import type { Decisions } from "../decisions";
import { secret } from "./secret";

/** Rotation by age of the generated passwords (`containerRegistry.rotateAfterDays`), as of `now`; none when unset. */
export function ageRotationOf(cfg: StackConfig, d: Decisions, now: Date): AgeRotation | undefined {
    const days = cfg.containerRegistry.rotateAfterDays;
    if (!d.ownRegistry || !days) return undefined;
    return { days, ...rotationPeriod(days, now) };
}

/** A rotation by age: its length in days and the period `now` falls in. */
export interface AgeRotation extends RotationPeriod {
    readonly days: number;
}

/** The push account and, when something pulls with credentials, the pull-only account (own registries only). */
export function defineAccounts(cfg: StackConfig, d: Decisions, ageRotation?: AgeRotation): RegistryAccounts | undefined {
    if (!d.ownRegistry) return undefined;
    const cr = cfg.containerRegistry;
    return new RegistryAccounts("registry-accounts", {
        push: {
            username: cr.pushUsername,
            password: cr.pushCredentials === "operator" ? secret(cfg, "containerRegistryPassword") : undefined,
        },
        ...(cr.pushAccounts.length > 0 ? { scopedPush: cr.pushAccounts.map((a) => ({ username: a.name, prefixes: a.prefixes })) } : {}),
        pull: d.pullCredentials?.account === "generated" ? { username: cr.pullUsername } : undefined,
        rotation: cr.rotation,
        ...(ageRotation ? { agePeriod: periodKeeper(ageRotation.days, ageRotation) } : {}),
    });
}

/** The scoped push accounts as the access policy names them (`AccessPolicy.scopedPushAccounts`). */
export function scopedPushAccounts(accounts: RegistryAccounts): ScopedPushAccount[] {
    return accounts.scopedPush.map((a) => ({ username: a.username, prefixes: a.prefixes }));
}

/** The account whatever pulls with credentials is given; the user name is a secret for an existing registry's account. */
export interface PullAccount {
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Output<string>;
}

/**
 * The pull account of `d.pullCredentials`: the generated pull-only account of a registry of our own,
 * or the organisation's account of an existing registry (its secrets).
 */
export function pullAccountOf(cfg: StackConfig, d: Decisions, accounts: RegistryAccounts | undefined): PullAccount | undefined {
    const pc = d.pullCredentials;
    if (!pc) return undefined;
    if (pc.account === "organisation") {
        return { username: secret(cfg, "existingPullUsername"), password: secret(cfg, "existingPullPassword") };
    }
    if (!accounts?.pull) throw new Error(`the pull-only account was decided on but not created; the program is at fault`);
    return accounts.pull;
}

/**
 * The stack's pull secrets (`d.pullCredentials`): one per listed namespace, which that namespace's
 * default ServiceAccount uses, and Flux's. They hold the pull account: the generated pull-only account,
 * or an existing registry's.
 */
export function definePullSecrets(d: Decisions, pull: PullAccount | undefined): void {
    const pc = d.pullCredentials;
    if (!pc || (pc.namespaces.length === 0 && !pc.flux)) return;
    if (!pull) throw new Error(`pull secrets were decided on without a pull account; the program is at fault`);
    new PullSecrets("pull-secrets", {
        authority: d.authority,
        username: pull.username,
        password: pull.password,
        namespaces: pc.namespaces,
        secretName: pc.secretName,
        flux: pc.flux,
    });
}
