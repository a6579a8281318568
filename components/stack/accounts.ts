/** The registry's accounts and the pull secrets that carry the pull account. */
import * as pulumi from "@pulumi/pulumi";
import { PullSecrets } from "../accounts/pullSecrets";
import { type NamedAccountArgs, RegistryAccounts } from "../accounts/registryAccounts";
import { periodKeeper, type RotationPeriod, rotationPeriod } from "../accounts/rotationSchedule";
import type { StackConfig } from "../config";
import type { Decisions } from "../config/decisions";
import { readAccountSecretName } from "../config/derived";
import { secret } from "./secret";

/**
 * Rotation by age of the generated passwords (`containerRegistry.rotateAfterDays`), as of `now`; none
 * when unset, and for an existing registry, whose accounts are the organisation's.
 */
export function ageRotationOf(cfg: StackConfig, now: Date): AgeRotation | undefined {
    const days = cfg.containerRegistry.rotateAfterDays;
    if (cfg.registry.mode === "existing" || !days) return undefined;
    return { days, ...rotationPeriod(days, now) };
}

/** A rotation by age: its length in days and the period `now` falls in. */
export interface AgeRotation extends RotationPeriod {
    readonly days: number;
}

/**
 * The push account and, when something pulls with credentials, the pull-only account, of a registry the
 * program runs; none for an existing registry, whose accounts are the organisation's.
 */
export function defineAccounts(cfg: StackConfig, d: Decisions, ageRotation?: AgeRotation): RegistryAccounts | undefined {
    if (cfg.registry.mode === "existing") return undefined;
    const cr = cfg.containerRegistry;
    return new RegistryAccounts("registry-accounts", {
        push: {
            username: cr.pushUsername,
            password: cr.pushCredentials === "operator" ? secret(cfg, "containerRegistryPassword") : undefined,
        },
        ...(cr.pushAccounts.length > 0
            ? { scopedPush: cr.pushAccounts.map((a) => ({ ...namedAccount(cfg, a), prefixes: a.prefixes })) }
            : {}),
        pull: d.pullCredentials?.account === "generated" ? { username: cr.pullUsername } : undefined,
        ...(cr.readAccounts.length > 0 ? { read: cr.readAccounts.map((a) => namedAccount(cfg, a)) } : {}),
        rotation: cr.rotation,
        ...(ageRotation ? { agePeriod: periodKeeper(ageRotation.days, ageRotation) } : {}),
        overlapHours: cr.rotationOverlapHours,
    });
}

/** A named account's arguments: its operator-given password (secret `accountPasswords`) or none, and its own rotation. */
function namedAccount(
    cfg: StackConfig,
    a: { readonly name: string; readonly password: "generated" | "operator"; readonly rotation?: string },
): NamedAccountArgs {
    return {
        username: a.name,
        ...(a.password === "operator"
            ? { password: pulumi.secret(secret(cfg, "accountPasswords").apply((json) => operatorPassword(json, a.name))) }
            : {}),
        ...(a.rotation !== undefined ? { rotation: a.rotation } : {}),
    };
}

/**
 * The password of account `name` in the secret `accountPasswords` (a JSON object keyed by account name),
 * checked when it resolves: the messages name the key and never a value.
 */
export function operatorPassword(json: string, name: string): string {
    const fix = `Set it as a JSON object keyed by account name, e.g. {"${name}": "…"}: pulumi config set --secret dso-registry:accountPasswords < account-passwords.json`;
    let parsed: unknown;
    try {
        parsed = JSON.parse(json);
    } catch {
        throw new Error(`dso-registry:accountPasswords is not JSON. ${fix}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error(`dso-registry:accountPasswords is not a JSON object. ${fix}`);
    const password = (parsed as Record<string, unknown>)[name];
    if (typeof password !== "string" || password === "" || /[\r\n]/.test(password)) {
        throw new Error(`dso-registry:accountPasswords has no password for account "${name}" (a non-empty string on one line). ${fix}`);
    }
    return password;
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

/**
 * The pull secrets of the read accounts that ask for them (`containerRegistry.readAccounts[].pullSecret`):
 * one Secret per listed namespace, no ServiceAccount patched. Each account's are a component of their
 * own, so removing the account removes its Secrets alone.
 */
export function defineReadAccountPullSecrets(cfg: StackConfig, d: Decisions, accounts: RegistryAccounts | undefined): void {
    for (const entry of cfg.containerRegistry.readAccounts) {
        if (!entry.pullSecret) continue;
        const account = accounts?.read.find((a) => a.username === entry.name);
        if (!account) throw new Error(`read account "${entry.name}" was not created; the program is at fault`);
        new PullSecrets(`read-pull-secrets-${entry.name}`, {
            authority: d.authority,
            username: account.username,
            password: account.password,
            namespaces: entry.pullSecret.namespaces,
            secretName: readAccountSecretName(entry),
            flux: false,
            defaultServiceAccount: false,
        });
    }
}
