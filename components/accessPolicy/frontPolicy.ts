/**
 * The front's `AccessPolicy`, assembled in one place for every placement (the cluster's sidecar, the
 * external host's Caddy site, kind's front container): what the front enforces (`FrontSpec`, the
 * same words whatever the placement) and where things are in the placement (`FrontPlacement`). A front
 * feature is added here once, and every placement has it.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import type { AccessLog, AccessPolicy, CaddyTls, DecoyCheck, MetricsListener, ScopedPushAccount } from "./policy";

/** What the front enforces, whatever its placement. */
export interface FrontSpec {
    /** Every read needs an account; otherwise reads (except the ping) are anonymous. */
    readonly requiresAuthForPull: boolean;
    /** Push accounts may delete manifests and blobs. */
    readonly deletesEnabled: boolean;
    /** The registry's allowlist (CIDR); the front enforces it only where the placement says so (`FrontPlacement.enforcesAllowlist`). */
    readonly allowedNetworks?: readonly string[];
    /** Pulls through the caches need an account even when reads are anonymous (`registry.mirrorPull` "accounts"). */
    readonly mirrorsRequireAuth?: boolean;
    /** Push accounts that may write only under repository prefixes. */
    readonly scopedPushAccounts?: readonly ScopedPushAccount[];
    /** Whether an account may have a previous password (a rotation's overlap): the overlap file is imported. */
    readonly overlap?: boolean;
    /** The decoy password check (`AccessPolicy.decoy`); Caddy's own decoy when unset. */
    readonly decoy?: DecoyCheck;
    /** The Maven repository this front serves too (the converged case); the placement says where its backend is. */
    readonly maven?: { readonly pathPrefix: string; readonly requiresAuthForPull: boolean };
}

/** Where things are in one placement, and the few facts of the placement the policy depends on. */
export interface FrontPlacement
    extends Pick<
        AccessPolicy,
        | "siteAddress"
        | "siteAliases"
        | "port"
        | "publicAuthority"
        | "realmAuthorities"
        | "upstream"
        | "uiUpstream"
        | "trustedProxies"
        | "http2"
        | "idleSeconds"
        | "shutdownDelaySeconds"
        | "blobFiles"
        | "readOnlySignals"
        | "diskFullSignal"
        | "sweepHold"
        | "mirrors"
    > {
    readonly tls: CaddyTls;
    /**
     * Whether the front itself enforces the allowlist (`FrontSpec.allowedNetworks`); when false it lets
     * everyone through, as something before it enforces the allowlist or only trusted networks reach it.
     */
    readonly enforcesAllowlist: boolean;
    /** The users files: push and pull accounts, and the overlap file imported with a rotation's overlap. */
    readonly usersFiles: { readonly push: string; readonly pull: string; readonly overlapMatchers: string };
    /** Where the Maven repository's backend and its files are, when the placement has one. */
    readonly maven?: { readonly upstream: string; readonly deployUsersFile: string; readonly diskFullSignal?: string };
    /** Caddy's admin endpoint (`AccessPolicy.admin`). */
    readonly admin: string;
    readonly accessLog: AccessLog;
    readonly metrics?: MetricsListener;
}

/** The front's policy: the settings it enforces, placed. */
export function frontPolicy(front: FrontSpec, placement: FrontPlacement): AccessPolicy {
    const { usersFiles: files } = placement;
    const mirrors = placement.mirrors ?? [];
    if (front.maven && !placement.maven) {
        throw new Error(
            `frontPolicy: the front serves the Maven repository "${front.maven.pathPrefix}", but its placement has no Maven backend`,
        );
    }
    return {
        siteAddress: placement.siteAddress,
        ...(placement.siteAliases ? { siteAliases: placement.siteAliases } : {}),
        port: placement.port,
        ...(placement.publicAuthority !== undefined ? { publicAuthority: placement.publicAuthority } : {}),
        ...(placement.realmAuthorities ? { realmAuthorities: placement.realmAuthorities } : {}),
        tls: placement.tls,
        upstream: placement.upstream,
        ...(placement.uiUpstream !== undefined ? { uiUpstream: placement.uiUpstream } : {}),
        requiresAuthForPull: front.requiresAuthForPull,
        pushUsersFile: files.push,
        pullUsersFile: files.pull,
        ...(front.overlap ? { overlap: { matchersFile: files.overlapMatchers } } : {}),
        ...(front.decoy ? { decoy: front.decoy } : {}),
        allowedNetworks: placement.enforcesAllowlist ? (front.allowedNetworks ?? []) : [],
        ...(placement.trustedProxies && placement.trustedProxies.length > 0 ? { trustedProxies: placement.trustedProxies } : {}),
        deletesEnabled: front.deletesEnabled,
        ...(placement.http2 !== undefined ? { http2: placement.http2 } : {}),
        ...(placement.idleSeconds !== undefined ? { idleSeconds: placement.idleSeconds } : {}),
        ...(placement.shutdownDelaySeconds !== undefined ? { shutdownDelaySeconds: placement.shutdownDelaySeconds } : {}),
        admin: placement.admin,
        ...(placement.blobFiles !== undefined ? { blobFiles: placement.blobFiles } : {}),
        accessLog: placement.accessLog,
        ...(placement.metrics ? { metrics: placement.metrics } : {}),
        ...(placement.readOnlySignals ? { readOnlySignals: placement.readOnlySignals } : {}),
        ...(placement.diskFullSignal !== undefined ? { diskFullSignal: placement.diskFullSignal } : {}),
        ...(placement.sweepHold !== undefined ? { sweepHold: placement.sweepHold } : {}),
        ...(mirrors.length > 0 ? { mirrors, mirrorsRequireAuth: front.mirrorsRequireAuth ?? false } : {}),
        ...(front.scopedPushAccounts?.length ? { scopedPushAccounts: front.scopedPushAccounts } : {}),
        ...(front.maven && placement.maven
            ? {
                  maven: {
                      pathPrefix: front.maven.pathPrefix,
                      requiresAuthForPull: front.maven.requiresAuthForPull,
                      upstream: placement.maven.upstream,
                      deployUsersFile: placement.maven.deployUsersFile,
                      ...(placement.maven.diskFullSignal !== undefined ? { diskFullSignal: placement.maven.diskFullSignal } : {}),
                  },
              }
            : {}),
    };
}
