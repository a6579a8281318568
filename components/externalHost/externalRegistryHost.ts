/**
 * The registry on its own host, set up over SSH: Docker Distribution in a container bound to
 * 127.0.0.1, Caddy in front on the public port enforcing the access policy and terminating TLS,
 * maintenance jobs (read-only garbage collection, backups) and a post-deploy check that fails the
 * update when the policy does not hold. Every file goes through HostFile (stdin, tight modes), every
 * other step through hostCommand with a delete.
 */
import * as pulumi from "@pulumi/pulumi";
import { imagePrefix, registryAuthority } from "../shared/facts";
import { renderCaddyfile, renderRegistryConfig, renderUsersFile } from "../accessPolicy/accessPolicy";
import { type HostConnection, HostFile, hostCommand, privileged } from "../shared/hostAccess";
import {
    backupScript,
    caddyApplyScript,
    caddyRemoveScript,
    type ContainerSpec,
    containerDeleteScript,
    containerScript,
    cronFile,
    dataDirDeleteScript,
    dataDirScript,
    defaultHostLayout,
    fingerprint,
    gcScript,
    type HostLayout,
    hostPaths,
    type MaintenanceOptions,
    packagesScript,
    postDeployCheckScript,
    statusScript,
} from "./scripts";

/** An account the policy knows: its name and bcrypt hash (secret). */
export interface HostAccount {
    readonly username: string;
    readonly bcryptHash: pulumi.Input<string>;
}

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

export interface ExternalRegistryHostArgs {
    /** The SSH connection to the host (kind "ssh"; "local" when Pulumi runs on the host itself). */
    readonly connection: HostConnection;
    /** Host name clients use, and the HTTPS port Caddy listens on. */
    readonly registryHost: string;
    readonly port: number;
    /** Repository path prefix, for the image prefix output. */
    readonly pathPrefix: string;
    /** Distribution image, e.g. "registry:2.8.3" or "registry@sha256:…". */
    readonly image: string;
    /** Registry data directory on the host. */
    readonly dataDir: string;
    /** Delete the data directory on destroy. */
    readonly purgeDataOnDestroy: boolean;
    /** Install missing packages (Docker, Caddy, cron, curl) instead of only reporting them. */
    readonly installPackages: boolean;
    readonly tls: HostTls;
    /** Accounts that may push (and pull). */
    readonly pushAccounts: readonly HostAccount[];
    /** Pull-only accounts. */
    readonly pullAccounts: readonly HostAccount[];
    readonly requiresAuthForPull: boolean;
    /** Client networks allowed to reach the registry; everyone when empty. */
    readonly allowedNetworks: readonly string[];
    /** Let push accounts delete (needed for garbage collection to free anything). */
    readonly deletesEnabled: boolean;
    /** Same-origin web UI container, and whether it offers a delete button; none when unset. */
    readonly ui?: { readonly image: string; readonly deleteEnabled: boolean };
    readonly maintenance: MaintenanceOptions;
    /** Loopback port Distribution is published on (Caddy's upstream). */
    readonly registryHostPort?: number;
    /** Caddy admin endpoint; Caddy's default (localhost:2019) when unset. */
    readonly caddyAdmin?: string;
    /** Paths on the host; production defaults when unset. */
    readonly layout?: HostLayout;
    /** Seconds the post-deploy check waits for Caddy (and an ACME certificate). */
    readonly checkWaitSeconds?: number;
}

export const CONTAINER_NAME = "dso-registry";
export const UI_CONTAINER_NAME = "dso-registry-ui";
const UI_PORT = 5080;

/** Whether 127.0.0.1 falls inside one of the IPv4 networks (IPv6 entries never contain it). */
export function loopbackAllowed(networks: readonly string[]): boolean {
    if (networks.length === 0) return true;
    return networks.some((cidr) => {
        const [address, bitsText] = cidr.split("/");
        if (!address || address.includes(":")) return false;
        const bits = Number(bitsText);
        const toInt = (a: string) => a.split(".").reduce((acc, octet) => (acc << 8) + Number(octet), 0) >>> 0;
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        return (toInt(address) & mask) >>> 0 === (toInt("127.0.0.1") & mask) >>> 0;
    });
}

/** Why the args cannot work, or undefined. Exported for table-driven tests. */
export function externalRegistryHostProblem(args: ExternalRegistryHostArgs): string | undefined {
    if (args.pushAccounts.length === 0) return "at least one push account is needed";
    if (!args.dataDir.startsWith("/") || args.dataDir === "/") return `dataDir "${args.dataDir}" must be an absolute path below /`;
    return undefined;
}

export class ExternalRegistryHost extends pulumi.ComponentResource {
    /** https://host[:port] */
    readonly registryUrl: string;
    /** host[:port]/pathPrefix */
    readonly imagePrefix: string;
    /** The CA clients must trust, when the program generated one. */
    readonly caCertPem?: pulumi.Output<string>;
    /** Commands an operator runs on the host (no secrets). */
    readonly opsCommands: Record<string, string>;
    /** Output of the post-deploy check. */
    readonly checkResult: pulumi.Output<string>;

    constructor(name: string, args: ExternalRegistryHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:registry:ExternalRegistryHost", name, {}, opts);
        const problem = externalRegistryHostProblem(args);
        if (problem) throw new Error(`ExternalRegistryHost ${name}: ${problem}`);

        const connection = args.connection;
        const sudo = connection.sudo;
        const layout = args.layout ?? defaultHostLayout(args.dataDir);
        const paths = hostPaths(layout);
        const registryHostPort = args.registryHostPort ?? 5000;
        const authority = registryAuthority(args.registryHost, args.port);
        const spec: ContainerSpec = { name: CONTAINER_NAME, image: args.image, hostPort: registryHostPort, layout };
        const run = (role: string, create: string, del: string | undefined, dependsOn: pulumi.Resource[], extra: { stdin?: pulumi.Input<string> } = {}) =>
            hostCommand(
                `${name}-${role}`,
                { connection, create: privileged(create, sudo), delete: del === undefined ? undefined : privileged(del, sudo), ...extra },
                { parent: this, dependsOn },
            );
        const file = (role: string, path: string, mode: string, content: pulumi.Input<string>, options: { secret?: boolean; owner?: string; retainOnDelete?: boolean; dependsOn?: pulumi.Resource[] } = {}) =>
            new HostFile(
                `${name}-${role}`,
                { connection, path, mode, content, secret: options.secret, owner: options.owner, retainOnDelete: options.retainOnDelete },
                { parent: this, dependsOn: options.dependsOn },
            );

        // 1. Packages and the data directory.
        const packages = run("packages", packagesScript(args.installPackages), 'echo "packages are left installed"', []);
        const dataDir = run("data-dir", dataDirScript(layout), dataDirDeleteScript(layout, args.purgeDataOnDestroy), [packages]);

        // 2. Distribution: its config (and the read-only variant used during maintenance), then the container.
        const registryConfigText = (readOnly: boolean) =>
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                deletesEnabled: args.deletesEnabled,
                readOnly,
            });
        const registryConfig = file("registry-config", paths.registryConfig, "0644", registryConfigText(false), { dependsOn: [packages] });
        const registryConfigReadOnly = file("registry-config-readonly", paths.registryConfigReadOnly, "0644", registryConfigText(true), { dependsOn: [packages] });
        const specFingerprint = fingerprint(args.image, String(registryHostPort), layout.dataDir, layout.registryConfigDir, registryConfigText(false));
        const container = run("container", containerScript(spec, specFingerprint), containerDeleteScript(spec), [dataDir, registryConfig, registryConfigReadOnly]);

        const uiDeps: pulumi.Resource[] = [];
        if (args.ui) {
            const ui: ContainerSpec = { name: UI_CONTAINER_NAME, image: args.ui.image, hostPort: UI_PORT, layout };
            uiDeps.push(
                run(
                    "ui-container",
                    uiContainerScript(ui, args.ui.deleteEnabled),
                    containerDeleteScript(ui),
                    [packages],
                ),
            );
        }

        // 3. Caddy: users files (secret), TLS files, the Caddyfile, then validate and reload.
        const usersFile = (accounts: readonly HostAccount[], role: "push" | "pull") =>
            pulumi.secret(
                pulumi
                    .all(accounts.map((a) => a.bcryptHash))
                    .apply((hashes) => renderUsersFile(role, accounts.map((a, i) => ({ username: a.username, bcryptHash: hashes[i]! })))),
            );
        const pushUsers = usersFile(args.pushAccounts, "push");
        const pullUsers = usersFile(args.pullAccounts, "pull");
        const caddyFiles: HostFile[] = [
            file("users-push", paths.pushUsers, "0600", pushUsers, { secret: true, owner: "caddy:caddy", dependsOn: [packages] }),
            file("users-pull", paths.pullUsers, "0600", pullUsers, { secret: true, owner: "caddy:caddy", dependsOn: [packages] }),
        ];
        const tlsInputs: pulumi.Input<string>[] = [];
        if (args.tls.kind === "files") {
            caddyFiles.push(
                file("tls-cert", paths.tlsCert, "0644", args.tls.certificatePem, { dependsOn: [packages] }),
                file("tls-key", paths.tlsKey, "0600", args.tls.privateKeyPem, { secret: true, owner: "caddy:caddy", dependsOn: [packages] }),
            );
            tlsInputs.push(args.tls.certificatePem, args.tls.privateKeyPem);
            if (args.tls.caCertPem) {
                caddyFiles.push(file("ca-cert", paths.caCert, "0644", args.tls.caCertPem, { dependsOn: [packages] }));
                this.caCertPem = pulumi.output(args.tls.caCertPem);
            }
        }
        const caddyfileText = renderCaddyfile({
            siteAddress: args.registryHost,
            port: args.port,
            tls:
                args.tls.kind === "acme"
                    ? { kind: "acme", email: args.tls.email, directory: args.tls.directory }
                    : { kind: "files", certFile: paths.tlsCert, keyFile: paths.tlsKey },
            upstream: `127.0.0.1:${registryHostPort}`,
            requiresAuthForPull: args.requiresAuthForPull,
            pushUsersFile: paths.pushUsers,
            pullUsersFile: paths.pullUsers,
            allowedNetworks: args.allowedNetworks,
            uiUpstream: args.ui ? `127.0.0.1:${UI_PORT}` : undefined,
            deletesEnabled: args.deletesEnabled,
            admin: args.caddyAdmin,
            // Caddy reads the data directory (group caddy, see dataDirScript) and serves blob
            // downloads from it; the container's /var/lib/registry is this directory.
            blobFiles: layout.dataDir,
        });
        caddyFiles.push(file("caddyfile", layout.caddyfile, "0644", caddyfileText, { retainOnDelete: true, dependsOn: [packages] }));
        // Reload whenever a file Caddy reads changes: the fingerprint of every body is part of the
        // script, computed from secret values but revealing nothing (a truncated SHA-256).
        const reloadFingerprint = pulumi
            .all([caddyfileText, pushUsers, pullUsers, ...tlsInputs])
            .apply((bodies) => fingerprint(...bodies));
        const caddy = hostCommand(
            `${name}-caddy`,
            {
                connection,
                create: pulumi.unsecret(reloadFingerprint).apply((fp) => privileged(caddyApplyScript(layout, fp), sudo)),
                delete: privileged(caddyRemoveScript(layout, args.caddyAdmin), sudo),
            },
            { parent: this, dependsOn: [...caddyFiles, container, ...uiDeps] },
        );

        // 4. Maintenance: scripts and their schedules.
        const gcBody = gcScript(spec, specFingerprint, args.maintenance.garbageCollection.deleteUntagged);
        const maintenanceFiles: HostFile[] = [
            file("gc-script", paths.gcScript, "0755", gcBody, { dependsOn: [packages] }),
            file("status-script", paths.statusScript, "0755", statusScript(spec), { dependsOn: [packages] }),
        ];
        if (args.maintenance.backup.enabled) {
            maintenanceFiles.push(
                file("backup-script", paths.backupScript, "0755", backupScript(spec, specFingerprint, args.maintenance.backup.destination, args.maintenance.backup.keep), { dependsOn: [packages] }),
            );
        }
        if (args.maintenance.garbageCollection.enabled || args.maintenance.backup.enabled) {
            maintenanceFiles.push(file("cron", layout.cronFile, "0644", cronFile(layout, args.maintenance), { dependsOn: [...maintenanceFiles] }));
        }

        // 5. The post-deploy check: re-runs on every change of what it checks.
        const check = hostCommand(
            `${name}-check`,
            {
                connection,
                create: privileged(postDeployCheckScript({
                    host: args.registryHost,
                    port: args.port,
                    caFile: args.tls.kind === "acme" ? undefined : args.tls.caCertPem ? paths.caCert : "insecure",
                    requiresAuthForPull: args.requiresAuthForPull,
                    loopbackRefused: !loopbackAllowed(args.allowedNetworks),
                    waitSeconds: args.checkWaitSeconds ?? (args.tls.kind === "acme" ? 180 : 60),
                }), false),
                delete: 'echo "nothing to undo for the check"',
                triggers: [pulumi.unsecret(reloadFingerprint), specFingerprint],
            },
            { parent: this, dependsOn: [caddy, container] },
        );

        this.registryUrl = `https://${authority}`;
        this.imagePrefix = imagePrefix(authority, args.pathPrefix);
        this.checkResult = check.stdout;
        const sshTarget = connection.kind === "ssh" ? `ssh -p ${connection.port} ${connection.user}@${connection.host}` : "";
        const root = sudo ? "sudo " : "";
        this.opsCommands = {
            status: `${sshTarget} ${root}${paths.statusScript}`.trim(),
            logs: `${sshTarget} ${root}docker logs --tail 100 -f ${CONTAINER_NAME}`.trim(),
            caddyLogs: `${sshTarget} ${root}journalctl -u caddy -n 100 -f`.trim(),
            garbageCollect: `${sshTarget} ${root}${paths.gcScript}`.trim(),
            ...(args.maintenance.backup.enabled ? { backup: `${sshTarget} ${root}${paths.backupScript}`.trim() } : {}),
        };
        void maintenanceFiles;
        this.registerOutputs({ registryUrl: this.registryUrl, imagePrefix: this.imagePrefix, caCertPem: this.caCertPem, opsCommands: this.opsCommands });
    }
}

/**
 * The same-origin UI (joxit/docker-registry-ui) on loopback: it talks to the registry through the
 * page's own origin, so no CORS is involved; deletes only when the registry allows them.
 */
function uiContainerScript(spec: ContainerSpec, deletesEnabled: boolean): string {
    const fp = fingerprint(spec.image, String(spec.hostPort), String(deletesEnabled));
    return [
        "set -eu",
        `have=$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' ${spec.name} 2>/dev/null || true)`,
        `if [ "$have" = "${fp} true" ]; then echo "unchanged ui container"; exit 0; fi`,
        `docker rm -f ${spec.name} >/dev/null 2>&1 || true`,
        [
            `docker run -d --name ${spec.name} --restart unless-stopped --label dso-registry.spec=${fp}`,
            `-p 127.0.0.1:${spec.hostPort}:80`,
            "-e SINGLE_REGISTRY=true -e REGISTRY_TITLE=dso-registry",
            `-e DELETE_IMAGES=${deletesEnabled} -e SHOW_CONTENT_DIGEST=true`,
            `'${spec.image}' >/dev/null`,
        ].join(" "),
        'echo "changed ui container"',
    ].join("\n");
}
