/**
 * The registry's site in Caddy on the external host: the users files, the TLS files, the Caddyfile
 * carrying the access policy, then `caddy validate` and a reload of the front, Caddy from the pinned
 * image in a container on the host's network (sh/caddy-apply.sh). `planCaddySite` decides the files, their
 * modes and the scripts; the component only registers them.
 */
import * as pulumi from "@pulumi/pulumi";
import { CLIENT_IDLE_SECONDS, renderCaddyfile } from "../accessPolicy/caddyfile";
import { frontPolicy } from "../accessPolicy/frontPolicy";
import type { AccessPolicy, MirrorRoute, ScopedPushAccount } from "../accessPolicy/policy";
import { previousUsersFile } from "../accessPolicy/usersFile";
import { overlapFilesOutput, usersFileOutput } from "../accessPolicy/usersFileOutput";
import { decoyHash } from "../accounts/decoy";
import { METRICS_PORTS } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { withFormerType } from "../shared/formerType";
import type { FrontAccount } from "../shared/front";
import { type HostCommandArgs, type HostConnection, HostFile, type HostFileArgs, hostCommand, privileged } from "../shared/hostAccess";
import { HostFilesCheck, type HostFilesCheckArgs } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
import { caddyApplyScript, caddyRemoveScript, FRONT_CONTAINER, type HostLayout, hostPaths } from "./scripts";

/** TLS for the Caddy site. */
export type HostTls =
    | { readonly kind: "acme"; readonly email: string; readonly directory?: string }
    | {
          readonly kind: "files";
          readonly certificatePem: pulumi.Input<string>;
          readonly privateKeyPem: pulumi.Input<string>;
          /** CA that signs the certificate when the program generated it; exported and used by the check. */
          readonly caCertPem?: pulumi.Input<string>;
      };

export interface CaddySiteArgs {
    /** The host Caddy runs on. */
    readonly connection: HostConnection;
    /** The front's Caddy image (`registry.caddyImage`), run by the host's container engine on its network. */
    readonly image: string;
    /** Where the Caddyfile, users and TLS files go, and the data directory blobs are served from. */
    readonly layout: HostLayout;
    /** Host name clients use, and the HTTPS port Caddy listens on. */
    readonly registryHost: string;
    readonly port: number;
    readonly tls: HostTls;
    /** Accounts that may push (and pull). */
    readonly pushAccounts: readonly FrontAccount[];
    /** Pull-only accounts. */
    readonly pullAccounts: readonly FrontAccount[];
    /**
     * Push accounts (in `pushAccounts`) that may write only under repository prefixes; every other push
     * account writes everywhere. Why: docs/decisions/access-policy.md#push-accounts-scoped-to-repository-prefixes
     */
    readonly scopedPushAccounts?: readonly ScopedPushAccount[];
    readonly requiresAuthForPull: boolean;
    /** Client networks allowed to reach the registry; everyone when empty. */
    readonly allowedNetworks: readonly string[];
    /** Let push accounts delete. */
    readonly deletesEnabled: boolean;
    /** Serve blob downloads from the data directory (filesystem storage); with s3 every download is proxied. */
    readonly blobFiles: boolean;
    /** New uploads answered 507 while the disk guard's marker exists (`registry.diskGuard`). */
    readonly diskGuard?: boolean;
    /** Distribution as Caddy reaches it: its unix socket ("unix//run/dso-registry/registry.sock"). */
    readonly upstream: string;
    /** The web UI on loopback, served same-origin; no UI when unset. */
    readonly uiUpstream?: string;
    /** Pull-through caches on their unix sockets, served read-only under /v2/mirrors/. */
    readonly mirrors?: readonly MirrorRoute[];
    /** Pulls through the caches need an account even when reads are anonymous (`registry.mirrorPull` "accounts"). */
    readonly mirrorsRequireAuth?: boolean;
    /** The Maven repository served by the same site (the converged case); none when unset. */
    readonly maven?: CaddyMaven;
    /** Caddy's metrics on their loopback listener (monitoring on). */
    readonly metrics?: boolean;
    /** The online collection's holds (`hostPaths(layout).sweepHold`), read per request: garbage collection in "online" mode. */
    readonly sweepHold?: boolean;
}

export { CADDY_ACCESS_LOG } from "./scripts";

/** The Maven route of the host's site: the repository's path, who may read, and the only account that may deploy. */
export interface CaddyMaven {
    /** `mavenRegistry.pathPrefix`, e.g. "maven-releases". */
    readonly pathPrefix: string;
    /** Downloads need an account (`mavenRegistry.requiresAuthForPull`). */
    readonly requiresAuthForPull: boolean;
    /** The account Jenkins holds under `mavenRegistry.credentialId`. */
    readonly deployAccount: FrontAccount;
    /** Deploys answered 507 while the disk guard's marker for the Maven data directory exists (`registry.diskGuard`). */
    readonly diskGuard?: boolean;
}

/**
 * How the host's front treats connections: HTTP/1.1 only, since what an HTTP/2 connection holds cannot be
 * bounded one connection at a time (up to 250 requests, a 1 MiB frame), while the host caps connections per
 * client address (connectionCap.ts); and a connection with no request in flight closed after
 * `CLIENT_IDLE_SECONDS`: clients connect to it themselves, with no proxy in between.
 * Why: docs/access-policy.md#connection-limits
 */
export const HOST_FRONT_CONNECTIONS = { http2: false, idleSeconds: CLIENT_IDLE_SECONDS } as const satisfies Partial<AccessPolicy>;

/**
 * The TCP ports the front listens on for clients: the site's, and with ACME port 80 too (Caddy's HTTP listener
 * for HTTP-01 challenges and its redirects to HTTPS). Their connections are capped per client address.
 */
function frontPorts(args: Pick<CaddySiteArgs, "port" | "tls">): number[] {
    return [...new Set(args.tls.kind === "acme" ? [80, args.port] : [args.port])];
}

/** The access policy of the host's Caddy site: its files under the layout, blob downloads from the data directory (filesystem storage). */
export function caddySitePolicy(
    args: Omit<CaddySiteArgs, "connection" | "image" | "pushAccounts" | "pullAccounts" | "maven"> & {
        readonly maven?: Omit<CaddyMaven, "deployAccount">;
        /** Whether an account may have a previous password (a rotation's overlap): the overlap file is imported. */
        readonly overlap?: boolean;
    },
): AccessPolicy {
    const paths = hostPaths(args.layout);
    return frontPolicy(args, {
        siteAddress: args.registryHost,
        port: args.port,
        tls:
            args.tls.kind === "acme"
                ? { kind: "acme", email: args.tls.email, directory: args.tls.directory }
                : { kind: "files", certFile: paths.tlsCert, keyFile: paths.tlsKey },
        upstream: args.upstream,
        usersFiles: { push: paths.pushUsers, pull: paths.pullUsers, overlapMatchers: paths.overlapMatchers },
        // Clients reach the host's front directly: it enforces the allowlist itself.
        enforcesAllowlist: true,
        uiUpstream: args.uiUpstream,
        ...HOST_FRONT_CONNECTIONS,
        // Off TCP: on 127.0.0.1:2019 any local process could replace the policy.
        admin: `unix/${args.layout.caddyAdminSocket}`,
        // Caddy reads the data directory (mounted read-only into its container) and serves blob
        // downloads from it when it is the container's registry storage; with s3 every download is proxied.
        ...(args.blobFiles ? { blobFiles: args.layout.dataDir } : {}),
        accessLog: { kind: "file", path: paths.accessLog },
        ...(args.metrics ? { metrics: { port: METRICS_PORTS.caddy, bindAddress: "127.0.0.1" } } : {}),
        // The upkeep scripts create the marker for their read-only window.
        readOnlySignals: [{ kind: "file", path: paths.readOnlyMarker }],
        // The online collection writes a hold per blob it sweeps, and one for manifests, in this directory.
        ...(args.sweepHold ? { sweepHold: paths.sweepHold } : {}),
        // The disk guard's script creates its marker while the data disk is almost full.
        ...(args.diskGuard ? { diskFullSignal: paths.diskFullMarker } : {}),
        mirrors: args.mirrors,
        // nginx in its container, on its unix socket (see mavenScripts.ts).
        maven: {
            upstream: `unix/${paths.mavenSocket}`,
            deployUsersFile: paths.mavenDeployUsers,
            // The disk guard's script creates its marker while the Maven data directory's disk is almost full.
            ...(args.maven?.diskGuard ? { diskFullSignal: paths.mavenDiskFullMarker } : {}),
        },
    });
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const CADDY_SITE_TYPE = typeToken("externalHost", "CaddySite");

/** The name of the command that applies the front: a reload, or the front made anew when its container's spec changes. */
export const caddyApplyStepName = (name: string) => `${name}-reload`;

/** One resource `CaddySite` registers: its name and its args. */
export interface CaddySiteStep<A> {
    readonly name: string;
    readonly args: A;
}

/** What `CaddySite` registers, in this order (after the decoy's seed, `decoyHash`): `planCaddySite`. */
export interface CaddySitePlan {
    /** Every file Caddy reads: the users files, a rotation's overlap files, the TLS files, the Caddyfile last. */
    readonly files: readonly CaddySiteStep<HostFileArgs>[];
    /** The reload (or the front made anew), after every file. */
    readonly reload: CaddySiteStep<HostCommandArgs>;
    /** The read-back of every file and of the front's container, after the reload. */
    readonly filesCheck: CaddySiteStep<HostFilesCheckArgs>;
    /** Fingerprint of every file body; the reload's script carries it, so a changed file reloads. */
    readonly filesFingerprint: pulumi.Output<string>;
}

/**
 * Everything `CaddySite` registers, from its args and the decoy account's hash (`decoyHash`, a resource of
 * the component's): the users files (the Maven deploy account's with Maven, a rotation's previous
 * passwords while any account has one), the TLS files (only for files TLS), the Caddyfile, then the
 * reload and the read-back.
 */
export function planCaddySite(name: string, args: CaddySiteArgs, decoyBcryptHash: pulumi.Output<string>): CaddySitePlan {
    const { connection, layout } = args;
    const secretFiles = caddySecretFiles(name, args);
    // Every users file's accounts by name: at each check, credentials of any other user are checked against the decoy account.
    const names = (accounts: readonly FrontAccount[]) => accounts.map((a) => a.username);
    const accounts = {
        push: names(args.pushAccounts),
        pull: names(args.pullAccounts),
        ...(args.maven ? { mavenDeploy: names([args.maven.deployAccount]) } : {}),
    };
    const caddyfileText = decoyBcryptHash.apply((bcryptHash) =>
        renderCaddyfile({ ...caddySitePolicy({ ...args, overlap: secretFiles.overlap }), decoy: { accounts, bcryptHash } }),
    );
    const files: CaddySiteStep<HostFileArgs>[] = [
        ...secretFiles.files,
        // Kept on destroy: the reload's delete replaces it with a Caddyfile without the site.
        {
            name: `${name}-caddyfile`,
            args: { connection, path: layout.caddyfile, mode: "0644", content: caddyfileText, retainOnDelete: true },
        },
    ];
    // Reload whenever a file Caddy reads changes: the fingerprint of every body is part of the script.
    const filesFingerprint = pulumi.unsecret(
        pulumi.all([caddyfileText, ...secretFiles.fingerprinted]).apply((bodies) => fingerprint(...bodies)),
    );
    const apply = filesFingerprint.apply((fp) =>
        privileged(caddyApplyScript(layout, fp, args.image, frontPorts(args), args.sweepHold), connection.sudo),
    );
    return {
        files,
        reload: {
            name: caddyApplyStepName(name),
            args: { connection, create: apply, delete: privileged(caddyRemoveScript(layout), connection.sudo) },
        },
        // A file of Caddy's changed by hand shows at the next refresh; the next `up` puts it back and reloads.
        filesCheck: {
            name: `${name}-files-check`,
            args: {
                connection,
                files: files.map(({ args: f }) => ({
                    path: f.path,
                    mode: f.mode,
                    content: f.content,
                    ...(f.owner ? { owner: f.owner } : {}),
                })),
                afterRepair: apply,
                containers: [FRONT_CONTAINER],
            },
        },
        filesFingerprint,
    };
}

/**
 * The files of the site other than the Caddyfile: the users files, a rotation's overlap files, the TLS
 * files; whether an overlap exists; and the bodies the fingerprint covers besides the Caddyfile's, in
 * its order (the users files, the TLS files, the overlap files).
 */
function caddySecretFiles(
    name: string,
    args: CaddySiteArgs,
): { files: CaddySiteStep<HostFileArgs>[]; overlap: boolean; fingerprinted: pulumi.Input<string>[] } {
    const { connection } = args;
    const paths = hostPaths(args.layout);
    const file = (role: string, path: string, mode: string, content: pulumi.Input<string>, more: Partial<HostFileArgs> = {}) => ({
        name: `${name}-${role}`,
        args: { connection, path, mode, content, ...more },
    });
    // Secret files are root's, 0600: Caddy reads them as root in its container, with no capability to
    // read anyone else's files; no other user of the host reads them.
    const caddyOnly = { secret: true, owner: "root:root" };
    const pushUsers = usersFileOutput("push", args.pushAccounts);
    const pullUsers = usersFileOutput("pull", args.pullAccounts);
    const files = [
        file("users-push", paths.pushUsers, "0600", pushUsers, caddyOnly),
        file("users-pull", paths.pullUsers, "0600", pullUsers, caddyOnly),
    ];
    const mavenUsers = args.maven ? usersFileOutput("push", [args.maven.deployAccount]) : pulumi.output("");
    if (args.maven) files.push(file("users-maven-deploy", paths.mavenDeployUsers, "0600", mavenUsers, caddyOnly));
    // A rotation's overlap: each users file's previous passwords, and the overlap file that routes to them.
    const overlap = overlapFilesOutput({
        push: args.pushAccounts,
        pull: args.pullAccounts,
        ...(args.maven ? { mavenDeploy: [args.maven.deployAccount] } : {}),
    });
    const overlapBodies: pulumi.Input<string>[] = [];
    if (overlap) {
        files.push(
            file("overlap", paths.overlapMatchers, "0600", overlap.matchers, caddyOnly),
            file("users-push-previous", previousUsersFile(paths.pushUsers), "0600", overlap.push, caddyOnly),
            file("users-pull-previous", previousUsersFile(paths.pullUsers), "0600", overlap.pull, caddyOnly),
        );
        overlapBodies.push(overlap.matchers, overlap.push, overlap.pull);
        if (overlap.mavenDeploy) {
            files.push(
                file("users-maven-deploy-previous", previousUsersFile(paths.mavenDeployUsers), "0600", overlap.mavenDeploy, caddyOnly),
            );
            overlapBodies.push(overlap.mavenDeploy);
        }
    }
    const tlsInputs: pulumi.Input<string>[] = [];
    if (args.tls.kind === "files") {
        files.push(
            file("tls-cert", paths.tlsCert, "0644", args.tls.certificatePem),
            file("tls-key", paths.tlsKey, "0600", args.tls.privateKeyPem, caddyOnly),
        );
        tlsInputs.push(args.tls.certificatePem, args.tls.privateKeyPem);
    }
    return { files, overlap: overlap !== undefined, fingerprinted: [pushUsers, pullUsers, mavenUsers, ...tlsInputs, ...overlapBodies] };
}

/** Caddy's files and the reload; on destroy the Caddyfile is replaced by one without the site. */
export class CaddySite extends pulumi.ComponentResource {
    /**
     * Fingerprint of every file Caddy reads (a truncated SHA-256: computed from secret values, it
     * reveals nothing); the post-deploy check re-runs when it changes.
     */
    readonly filesFingerprint: pulumi.Output<string>;

    constructor(name: string, args: CaddySiteArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CADDY_SITE_TYPE, name, {}, withFormerType(opts, "dso:externalHost:CaddySite"));
        const plan = planCaddySite(name, args, decoyHash(`${name}-decoy`, this));
        const files = plan.files.map((f) => new HostFile(f.name, f.args, { parent: this }));
        const reload = hostCommand(plan.reload.name, plan.reload.args, { parent: this, dependsOn: files });
        new HostFilesCheck(plan.filesCheck.name, plan.filesCheck.args, { parent: this, dependsOn: [reload] });
        this.filesFingerprint = plan.filesFingerprint;
        this.registerOutputs({});
    }
}
