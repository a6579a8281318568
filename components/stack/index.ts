/**
 * The program: turns a validated StackConfig into components and the stack's outputs. `index.ts` and
 * the offline synth both run this, so what synth shows is what `pulumi up` creates.
 *
 * Only the wiring reads the config schema's shape: each `defineX` (one file per feature under
 * ./stack/) picks what one component needs and hands it over as typed args, and decisions that
 * several components share come from `decide` (components/config/decisions.ts), made once.
 */
import * as pulumi from "@pulumi/pulumi";
import type { RegistryAccounts } from "../accounts/registryAccounts";
import type { StackConfig } from "../config";
import { type Decisions, decide } from "../config/decisions";
import { pushAccountCredentialId } from "../config/derived";
import type { ExternalRegistryHost } from "../externalHost/externalRegistryHost";
import { PLACEHOLDER_TAG } from "../shared/facts";
import {
    type AgeRotation,
    ageRotationOf,
    defineAccounts,
    definePullSecrets,
    defineReadAccountPullSecrets,
    pullAccountOf,
} from "./accounts";
import { defineCaConfigMaps } from "./caConfigMaps";
import { defineExternalHost } from "./externalHost";
import { defineClusterDns, defineInClusterRegistry } from "./inCluster";
import { defineAgentPodTemplates, defineJenkinsCredentials, definePipelineConfig } from "./jenkins";
import { defineKindRegistry } from "./kind";
import { defineNodeTrust } from "./nodeTrust";

/** What the stack exports; index.ts re-exports each field. */
export interface StackOutputs {
    /** https://host[:port]; http://localhost:<port> with registry.mode "kind". */
    readonly registryUrl: string;
    /** host[:port]/pathPrefix */
    readonly imagePrefix: string;
    /** CA certificate nodes and clients must trust, where the program made one (or was given one). */
    readonly caCertPem?: pulumi.Output<string>;
    /** Jenkins credential IDs pipelines use, where the stack manages Jenkins's credentials (`jenkins.enabled`). */
    readonly jenkinsCredentialIds?: {
        readonly containerRegistry: string;
        readonly mavenRegistry?: string;
        /** The credential of each push account of `containerRegistry.pushAccounts`, by account name. */
        readonly pushAccounts?: Record<string, string>;
    };
    /** A ready example of logging in and pushing, without any secret. */
    readonly pushExample: string;
    /**
     * The seed-image strategy: the repository prefix apps' manifests use, and the placeholder tag a
     * first deploy names before CI has pushed anything (the pod waits in ImagePullBackOff until then).
     */
    readonly seedImage: { readonly prefix: string; readonly placeholderTag: string; readonly example: string };
    /** Commands to inspect and maintain the external registry host (registry.mode "external-host"). */
    readonly registryHostOps?: Record<string, string>;
    /**
     * The push account of a registry of our own, for logging in by hand (`pulumi stack output
     * --show-secrets pushCredentials`); a secret output, encrypted in state and masked everywhere else.
     */
    readonly pushCredentials?: pulumi.Output<AccountCredentials>;
    /** The generated pull-only account, where one exists (same handling as pushCredentials). */
    readonly pullCredentials?: pulumi.Output<AccountCredentials>;
    /**
     * The push accounts scoped to repository prefixes (`containerRegistry.pushAccounts`), by name, where
     * there are any (same handling as pushCredentials).
     */
    readonly pushAccountCredentials?: pulumi.Output<Record<string, AccountCredentials>>;
    /** The read accounts (`containerRegistry.readAccounts`), by name, where there are any (same handling as pushCredentials). */
    readonly readAccountCredentials?: pulumi.Output<Record<string, AccountCredentials>>;
    /**
     * Rotation by age (`containerRegistry.rotateAfterDays`): the period's length, when the current period
     * began (the generated passwords are no older), and when the next begins (the first `up` after it
     * rotates them).
     */
    readonly accountRotation?: {
        readonly everyDays?: number;
        readonly since?: string;
        readonly nextDue?: string;
        /** `containerRegistry.rotationOverlapHours`: how long a rotated password's previous value keeps working. */
        readonly overlapHours: number;
        /** Each account whose previous password has an overlap: when it stops working (ISO time; maybe past). */
        readonly previousValidUntil: pulumi.Output<Record<string, string>>;
    };
}

/** Named accounts as one secret stack output, by user name. */
function credentialsByName(accounts: readonly { readonly username: string; readonly password: pulumi.Output<string> }[]) {
    return pulumi.secret(
        pulumi.all(accounts.map((a) => credentialsOutput(a))).apply((list) => Object.fromEntries(list.map((c) => [c.username, c]))),
    );
}

/** A registry account as a stack output. */
export interface AccountCredentials {
    readonly username: string;
    readonly password: string;
}

/** An account as a secret stack output: the password never shows unless asked for with --show-secrets. */
function credentialsOutput(account: { readonly username: string; readonly password: pulumi.Output<string> }) {
    return pulumi.secret(account.password.apply((password): AccountCredentials => ({ username: account.username, password })));
}

/**
 * The push example's first line: where REG_USER and REG_PASS come from. Jenkins's credential where the
 * stack writes it; else the push account of the stack's own registry, or the organisation's.
 */
function pushAccountSource(cfg: StackConfig): string {
    if (cfg.jenkins.enabled) {
        return `# In Jenkins: withCredentials([usernamePassword(credentialsId: '${cfg.containerRegistry.credentialId}', usernameVariable: 'REG_USER', passwordVariable: 'REG_PASS')])`;
    }
    return cfg.registry.mode === "existing"
        ? "# REG_USER and REG_PASS: the organisation's push account"
        : "# REG_USER and REG_PASS: the push account, from `npx pulumi stack output --show-secrets pushCredentials`";
}

/** What the placement of the stack's registry gives the rest of the stack. */
interface PlacedRegistry {
    /** The CA the program placed or cert-manager's chain holds; none with ACME or an issuer of the operator's. */
    readonly caCertPem?: pulumi.Output<string>;
    /** The external host, whose operations the stack outputs name. */
    readonly registryHost?: ExternalRegistryHost;
}

/**
 * The registry where registry.mode puts it: one switch, each branch one placement with its mode's
 * settings (an existing registry is not ours to place).
 */
function definePlacement(cfg: StackConfig, d: Decisions, accounts: RegistryAccounts, ageRotation?: AgeRotation): PlacedRegistry {
    const registry = cfg.registry;
    switch (registry.mode) {
        case "in-cluster": {
            const placed = defineInClusterRegistry({ ...cfg, registry }, d, accounts, ageRotation);
            defineClusterDns({ ...cfg, registry }, placed.component);
            const caCertPem = placed.tlsMaterial?.caCertPem ?? placed.component.caCertPem;
            return caCertPem ? { caCertPem } : {};
        }
        case "external-host": {
            const placed = defineExternalHost({ ...cfg, registry }, d, accounts, ageRotation);
            const caCertPem = placed.tlsMaterial?.caCertPem;
            return { registryHost: placed.component, ...(caCertPem ? { caCertPem } : {}) };
        }
        case "kind":
            defineKindRegistry({ ...cfg, registry }, d, accounts);
            return {};
        case "existing":
            return {};
    }
}

/** Every component of the stack, from its validated configuration; returns what the stack exports. */
export function defineStack(cfg: StackConfig): StackOutputs {
    const d = decide(cfg);
    const cr = cfg.containerRegistry;
    const ageRotation = ageRotationOf(cfg, new Date());
    const accounts = defineAccounts(cfg, d, ageRotation);

    const placed = accounts ? definePlacement(cfg, d, accounts, ageRotation) : {};
    const registryHost = placed.registryHost;
    const caCertPem = placed.caCertPem ?? (d.configuredCa ? pulumi.output(d.configuredCa) : undefined);
    const pullAccount = pullAccountOf(cfg, d, accounts);
    defineNodeTrust(cfg, d, { caCertPem, pullAccount });
    defineJenkinsCredentials(cfg, d, accounts?.push, accounts?.scopedPush);
    definePipelineConfig(cfg);
    definePullSecrets(d, pullAccount);
    defineReadAccountPullSecrets(cfg, d, accounts);
    defineCaConfigMaps(cfg, caCertPem);
    defineAgentPodTemplates(cfg, d, caCertPem !== undefined);

    const mavenId = cfg.mavenRegistry?.credentialId;
    const registryHostOps = registryHost?.opsCommands;
    return {
        // The kind placement serves plain HTTP on loopback and the kind network (docs/kind.md).
        registryUrl: `${cfg.registry.mode === "kind" ? "http" : "https"}://${d.authority}`,
        imagePrefix: d.imagePrefix,
        // Absent values are left out: Pulumi warns about undefined stack outputs.
        ...(caCertPem ? { caCertPem } : {}),
        ...(cfg.jenkins.enabled
            ? {
                  jenkinsCredentialIds: {
                      containerRegistry: cr.credentialId,
                      ...(mavenId ? { mavenRegistry: mavenId } : {}),
                      ...(accounts && cr.pushAccounts.length > 0
                          ? {
                                pushAccounts: Object.fromEntries(
                                    cr.pushAccounts.map((a) => [a.name, pushAccountCredentialId(cr.credentialId, a)]),
                                ),
                            }
                          : {}),
                  },
              }
            : {}),
        pushExample: [
            pushAccountSource(cfg),
            `echo "$REG_PASS" | docker login ${d.authority} -u "$REG_USER" --password-stdin`,
            `docker tag app:build ${d.imagePrefix}/app:1.0.0`,
            `docker push ${d.imagePrefix}/app:1.0.0`,
        ].join("\n"),
        ...(registryHostOps ? { registryHostOps } : {}),
        ...(accounts ? { pushCredentials: credentialsOutput(accounts.push) } : {}),
        ...(accounts?.pull ? { pullCredentials: credentialsOutput(accounts.pull) } : {}),
        ...(accounts && accounts.scopedPush.length > 0 ? { pushAccountCredentials: credentialsByName(accounts.scopedPush) } : {}),
        ...(accounts && accounts.read.length > 0 ? { readAccountCredentials: credentialsByName(accounts.read) } : {}),
        ...accountRotationOutput(cfg, accounts, ageRotation),
        seedImage: { prefix: d.imagePrefix, placeholderTag: PLACEHOLDER_TAG, example: `${d.imagePrefix}/app:${PLACEHOLDER_TAG}` },
    };
}

/**
 * The stack output `accountRotation`: the rotation by age (when on) and the overlap, with each account
 * whose previous password has one and when it ends; none when passwords rotate by hand without an overlap.
 */
function accountRotationOutput(
    cfg: StackConfig,
    accounts: RegistryAccounts | undefined,
    ageRotation: AgeRotation | undefined,
): Pick<StackOutputs, "accountRotation"> {
    const all = accounts ? [accounts.push, ...accounts.scopedPush, ...(accounts.pull ? [accounts.pull] : []), ...accounts.read] : [];
    const overlapping = all.flatMap((a) => (a.previousUntil ? [{ username: a.username, until: a.previousUntil }] : []));
    if (!ageRotation && overlapping.length === 0) return {};
    return {
        accountRotation: {
            ...(ageRotation
                ? { everyDays: ageRotation.days, since: ageRotation.since.toISOString(), nextDue: ageRotation.due.toISOString() }
                : {}),
            overlapHours: overlapping.length > 0 ? cfg.containerRegistry.rotationOverlapHours : 0,
            previousValidUntil: pulumi
                .all(overlapping.map((a) => a.until))
                .apply((ends) =>
                    Object.fromEntries(
                        ends.flatMap((end, i) =>
                            end === undefined ? [] : [[overlapping[i]!.username, new Date(end * 1000).toISOString()]],
                        ),
                    ),
                ),
        },
    };
}
