/** The registry on a host of its own (`registry.mode` "external-host"), reached over SSH, with its storage and backups. */
import type { RegistryAccounts } from "../accounts/registryAccounts";
import type { ExternalHostRegistrySettings } from "../config";
import type { Decisions } from "../config/decisions";
import { ExternalRegistryHost, type ExternalRegistryHostArgs } from "../externalHost/externalRegistryHost";
import { HostPlacement } from "../externalHost/hostPlacement";
import type { HostBackupArgs } from "../externalHost/upkeep";
import type { AgeRotation } from "./accounts";
import { backupCommon } from "./backup";
import { externalHostMaven } from "./maven";
import { registryMirrors } from "./mirrors";
import { secret, sshConnection } from "./secret";
import { externalHostTls, type Placement, type StackIn } from "./tls";

/** The registry on its external host; none in another mode. */
export function defineExternalHost(
    cfg: StackIn<ExternalHostRegistrySettings>,
    d: Decisions,
    accounts: RegistryAccounts,
    ageRotation?: AgeRotation,
): Placement<ExternalRegistryHost> {
    const eh = cfg.registry.externalHost;
    const cr = cfg.containerRegistry;
    const tls = externalHostTls(cfg, cfg.registry.tls);
    // The host waits for the record of where it lives, which refuses a move before any command runs.
    const placement = new HostPlacement("registry-host-placement", {
        host: eh.ssh.host,
        port: eh.ssh.port,
        dataDir: cfg.registry.storage.kind === "s3" ? "" : eh.dataDir,
        mavenDataDir: d.mavenServed ? eh.mavenDataDir : "",
    });
    const component = new ExternalRegistryHost(
        "registry-host",
        {
            connection: sshConnection(cfg, eh.ssh),
            registryHost: cr.host,
            port: cr.port,
            pathPrefix: cr.pathPrefix,
            image: cfg.registry.image,
            caddyImage: cfg.registry.caddyImage,
            dataDir: eh.dataDir,
            mavenDataDir: eh.mavenDataDir,
            storage: externalHostStorage(cfg),
            purgeDataOnDestroy: eh.purgeDataOnDestroy,
            installPackages: eh.installPackages,
            tls: tls.args,
            accounts,
            requiresAuthForPull: cr.requiresAuthForPull,
            mirrorsRequireAuth: d.pullCredentials?.cachesNeedCredentials ?? false,
            allowedNetworks: cfg.registry.allowedNetworks,
            deletes: d.deletes,
            ui: cfg.registry.ui.enabled ? { image: cfg.registry.ui.image } : undefined,
            garbageCollection: cfg.registry.maintenance.garbageCollection,
            ...(d.retention ? { retention: d.retention } : {}),
            backup: hostBackup(cfg),
            mirrors: registryMirrors(cfg),
            maven: d.mavenServed ? externalHostMaven(cfg, accounts) : undefined,
            // The metrics relay runs the front's Caddy image (`registry.caddyImage`), the component's default.
            monitoring: cfg.registry.monitoring.enabled
                ? { runbookBaseUrl: cfg.registry.monitoring.runbookBaseUrl, diskWarnPercent: cfg.registry.diskGuard.warnPercent }
                : undefined,
            // The component guards the disks the host has: the data directory's (filesystem storage), Maven's.
            ...(cfg.registry.diskGuard.enabled ? { diskGuard: { refusePercent: cfg.registry.diskGuard.refusePercent } } : {}),
            loginLimit: hostLoginLimit(cfg),
            distributionConfig: cfg.registry.distributionConfig,
            ...(ageRotation ? { passwordRotation: { everyDays: ageRotation.days, due: ageRotation.due.getTime() / 1000 } } : {}),
        },
        { dependsOn: [placement] },
    );
    return { component, tlsMaterial: tls.material };
}

/** The external host's storage: its data directory, or the S3 bucket with the stack's S3 secrets. */
function externalHostStorage(cfg: StackIn<ExternalHostRegistrySettings>): ExternalRegistryHostArgs["storage"] {
    const storage = cfg.registry.storage;
    if (storage.kind === "filesystem") return { kind: "filesystem" };
    return {
        kind: "s3",
        ...storage.s3,
        credentials: { accessKeyId: secret(cfg, "s3AccessKeyId"), secretAccessKey: secret(cfg, "s3SecretAccessKey") },
    };
}

/** The external host's backups from `registry.maintenance.backup` (to another machine over SFTP, or to S3), or none. */
function hostBackup(cfg: StackIn<ExternalHostRegistrySettings>): HostBackupArgs | undefined {
    const backup = cfg.registry.maintenance.backup;
    if (!backup.enabled) return undefined;
    const { destination: d } = backup;
    const common = backupCommon(cfg, backup);
    if (d.kind === "sftp") {
        return {
            ...common,
            destination: d,
            credentials: { kind: "sftp", privateKey: secret(cfg, "backupSshPrivateKey") },
        };
    }
    return {
        ...common,
        destination: d,
        credentials: {
            kind: "s3",
            accessKeyId: secret(cfg, "backupS3AccessKeyId"),
            secretAccessKey: secret(cfg, "backupS3SecretAccessKey"),
        },
    };
}

/** fail2ban's limit from `registry.loginLimit`, or none when it is off. */
function hostLoginLimit(cfg: StackIn<ExternalHostRegistrySettings>): ExternalRegistryHostArgs["loginLimit"] {
    const l = cfg.registry.loginLimit;
    if (!l.enabled) return undefined;
    return {
        limit: { maxRetry: l.maxRetry, findTimeSeconds: l.findTimeSeconds, banTimeSeconds: l.banTimeSeconds },
        ignoreNetworks: l.ignoreNetworks,
    };
}
