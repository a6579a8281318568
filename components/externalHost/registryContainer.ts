/**
 * Docker Distribution on the external host: its config (and the read-only variant maintenance
 * switches to), the S3 credentials when images live in a bucket, the metrics relay's Caddyfile with
 * monitoring, then the container, listening on a unix socket only Caddy (and root) can open, and its
 * metrics relay (metricsRelay.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { type RegistryStorage, renderRegistryConfig } from "../distribution/registryConfig";
import type { DistributionSettings } from "../shared/distributionSettings";
import { DISTRIBUTION, DISTRIBUTION_ENV_WORDS } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { withFormerType } from "../shared/formerType";
import { containerRunStepName, type HostConnection, HostFile, type HostFileSpec, hostCommand, privileged } from "../shared/hostAccess";
import { HostFilesCheck, recreatingScript } from "../shared/hostFilesCheck";
import { DEBUG_LISTENER_PORT } from "./metricsRelay";
import {
    type ContainerSpec,
    type ContainerStorage,
    containerScript,
    hostPaths,
    metricsRelayFile,
    registryDeleteScript,
    renderStorageEnvFile,
} from "./scripts";

/**
 * Where the registry on the host keeps images: the host's data directory, or an S3 bucket (settings
 * in config.yml, credentials in a 0600 environment file, never in config.yml or a command line).
 */
export type HostRegistryStorage =
    | { readonly kind: "filesystem" }
    | (Extract<RegistryStorage, { kind: "s3" }> & {
          /** Secret; written to `hostPaths(layout).storageEnv` through stdin. */
          readonly credentials: { readonly accessKeyId: pulumi.Input<string>; readonly secretAccessKey: pulumi.Input<string> };
      });

export interface RegistryContainerArgs {
    /** The host to run it on. */
    readonly connection: HostConnection;
    /** The container: image, the host paths it mounts (its socket's directory among them); its storage is `containerStorage(storage)`. */
    readonly spec: ContainerSpec;
    /** Where the images live, with the credentials of a bucket. */
    readonly storage: HostRegistryStorage;
    /** Let the registry accept DELETE (needed for garbage collection to free anything). */
    readonly deletesEnabled: boolean;
    /** Additions to config.yml (`registry.distributionConfig`), in the read-only variant too; none when unset. */
    readonly distributionConfig?: DistributionSettings;
}

/** The storage as the container's scripts see it (what to mount, which bucket), without credentials. */
export function containerStorage(storage: HostRegistryStorage): ContainerStorage {
    return storage.kind === "s3" ? { kind: "s3", bucket: storage.bucket, endpoint: storage.endpoint } : { kind: "filesystem" };
}

/** Distribution's storage as config.yml names it, without credentials. */
function configStorage(storage: HostRegistryStorage): RegistryStorage {
    if (storage.kind === "filesystem") return { kind: "filesystem", rootDirectory: DISTRIBUTION.dataDir };
    const { credentials: _credentials, ...settings } = storage;
    return settings;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const REGISTRY_CONTAINER_TYPE = "dso-registry:externalHost:RegistryContainer";

/** The registry's config files and container; the container is removed on destroy, its data stays. */
export class RegistryContainer extends pulumi.ComponentResource {
    /**
     * Fingerprint of everything the container is created from (image, port, mounts, config). The
     * maintenance scripts recreate the container with it, and the post-deploy check re-runs when it changes.
     */
    readonly specFingerprint: string;

    constructor(name: string, args: RegistryContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(REGISTRY_CONTAINER_TYPE, name, {}, withFormerType(opts, "dso:externalHost:RegistryContainer"));
        const { connection, spec, storage } = args;
        const paths = hostPaths(spec.layout);
        const configText = (readOnly: boolean) =>
            renderRegistryConfig({
                addr: `${DISTRIBUTION.socketDir}/${DISTRIBUTION.socketName}`,
                storage: configStorage(storage),
                deletesEnabled: args.deletesEnabled,
                readOnly,
                // On the container's loopback: only the metrics relay, in the same network namespace, reaches it.
                ...(spec.metrics ? { metricsAddr: `127.0.0.1:${DEBUG_LISTENER_PORT}` } : {}),
                ...(args.distributionConfig ? { settings: args.distributionConfig } : {}),
            });
        const writable = configText(false);
        const readOnlyText = configText(true);
        const checked: (HostFileSpec & { content: pulumi.Input<string> })[] = [
            { path: paths.registryConfig, mode: "0644", content: writable },
            { path: paths.registryConfigReadOnly, mode: "0644", content: readOnlyText },
        ];
        const configFiles = [
            new HostFile(`${name}-config`, { connection, path: paths.registryConfig, mode: "0644", content: writable }, { parent: this }),
            new HostFile(
                `${name}-config-readonly`,
                { connection, path: paths.registryConfigReadOnly, mode: "0644", content: readOnlyText },
                { parent: this },
            ),
        ];
        const relayFile = metricsRelayFile(spec);
        if (relayFile) {
            configFiles.push(new HostFile(`${name}-metrics-relay-config`, { connection, ...relayFile, mode: "0644" }, { parent: this }));
            checked.push({ path: relayFile.path, mode: "0644", content: relayFile.content });
        }
        let storageEnv: pulumi.Output<string> | undefined;
        if (storage.kind === "s3") {
            storageEnv = pulumi.secret(
                pulumi
                    .all([storage.credentials.accessKeyId, storage.credentials.secretAccessKey])
                    .apply(([accessKeyId, secretAccessKey]) => renderStorageEnvFile({ accessKeyId, secretAccessKey })),
            );
            configFiles.push(
                new HostFile(
                    `${name}-storage-env`,
                    { connection, path: paths.storageEnv, mode: "0600", content: storageEnv, secret: true },
                    { parent: this },
                ),
            );
            checked.push({ path: paths.storageEnv, mode: "0600", content: storageEnv });
        }
        const mounts = storage.kind === "s3" ? "s3" : spec.layout.dataDir;
        this.specFingerprint = fingerprint(
            spec.image,
            DISTRIBUTION_ENV_WORDS,
            spec.layout.socketDir,
            mounts,
            spec.layout.registryConfigDir,
            writable,
        );
        const run = hostCommand(
            containerRunStepName(name),
            {
                connection,
                create: privileged(containerScript(spec, this.specFingerprint), connection.sudo),
                delete: privileged(registryDeleteScript(spec), connection.sudo),
                // The script reads the credentials from the placed file, not from here: they are on
                // stdin (secret in state) only so that new credentials re-run this step, which then
                // recreates the container because the file's digest no longer matches its label.
                ...(storageEnv ? { stdin: storageEnv } : {}),
            },
            { parent: this, dependsOn: configFiles },
        );
        // The files and the container read back at each refresh; a repair makes the container (and the relay) anew, so they read the files again.
        new HostFilesCheck(
            `${name}-files-check`,
            {
                connection,
                files: checked,
                afterRepair: privileged(recreatingScript(containerScript(spec, this.specFingerprint)), connection.sudo),
                containers: [spec.name],
            },
            { parent: this, dependsOn: [run] },
        );
        this.registerOutputs({});
    }
}
