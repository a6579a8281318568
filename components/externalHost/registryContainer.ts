/**
 * Docker Distribution on the external host: its config (and the read-only variant the upkeep
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
import {
    containerRunStepName,
    type HostConnection,
    HostFile,
    type HostFileSpec,
    hostCommand,
    type PlannedHostCommand,
    type PlannedHostFile,
    privileged,
} from "../shared/hostAccess";
import { HostFilesCheck, type HostFilesCheckArgs, recreatingScript } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
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
    /**
     * Distribution's in-memory blob-descriptor cache; on unless false. Off for online garbage collection, whose
     * safety needs Distribution to check every blob a manifest names (docs/decisions/online-collection.md).
     */
    readonly blobDescriptorCache?: boolean;
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
export const REGISTRY_CONTAINER_TYPE = typeToken("externalHost", "RegistryContainer");

/** What `RegistryContainer` registers, in this order: `planRegistryContainer`. */
export interface RegistryContainerPlan {
    /** config.yml, its read-only variant, the metrics relay's Caddyfile (with metrics), the S3 credentials (with s3). */
    readonly files: readonly PlannedHostFile[];
    /** Starts (and replaces) the container, after every file. */
    readonly run: PlannedHostCommand;
    /** The read-back of every file and of the container, after the run. */
    readonly filesCheck: { readonly name: string; readonly args: HostFilesCheckArgs };
    /** Fingerprint of everything the container is created from (`RegistryContainer.specFingerprint`). */
    readonly specFingerprint: string;
}

/**
 * Everything `RegistryContainer` registers, from its args: the files (which ones, their modes, which
 * are secret), the container's run and delete scripts with the spec's fingerprint, and the read-back
 * of the files that recreates the container after a repair.
 */
export function planRegistryContainer(name: string, args: RegistryContainerArgs): RegistryContainerPlan {
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
            ...(args.blobDescriptorCache === false ? { blobDescriptorCache: false } : {}),
        });
    const writable = configText(false);
    const readOnlyText = configText(true);
    const checked: (HostFileSpec & { content: pulumi.Input<string> })[] = [
        { path: paths.registryConfig, mode: "0644", content: writable },
        { path: paths.registryConfigReadOnly, mode: "0644", content: readOnlyText },
    ];
    const files: PlannedHostFile[] = [
        { name: `${name}-config`, args: { connection, path: paths.registryConfig, mode: "0644", content: writable } },
        { name: `${name}-config-readonly`, args: { connection, path: paths.registryConfigReadOnly, mode: "0644", content: readOnlyText } },
    ];
    const relayFile = metricsRelayFile(spec);
    if (relayFile) {
        files.push({ name: `${name}-metrics-relay-config`, args: { connection, ...relayFile, mode: "0644" } });
        checked.push({ path: relayFile.path, mode: "0644", content: relayFile.content });
    }
    const storageEnv =
        storage.kind === "s3"
            ? pulumi.secret(
                  pulumi
                      .all([storage.credentials.accessKeyId, storage.credentials.secretAccessKey])
                      .apply(([accessKeyId, secretAccessKey]) => renderStorageEnvFile({ accessKeyId, secretAccessKey })),
              )
            : undefined;
    if (storageEnv) {
        files.push({
            name: `${name}-storage-env`,
            args: { connection, path: paths.storageEnv, mode: "0600", content: storageEnv, secret: true },
        });
        checked.push({ path: paths.storageEnv, mode: "0600", content: storageEnv });
    }
    const mounts = storage.kind === "s3" ? "s3" : spec.layout.dataDir;
    const specFingerprint = fingerprint(
        spec.image,
        DISTRIBUTION_ENV_WORDS,
        spec.layout.socketDir,
        mounts,
        spec.layout.registryConfigDir,
        writable,
    );
    return {
        files,
        run: {
            name: containerRunStepName(name),
            args: {
                connection,
                create: privileged(containerScript(spec, specFingerprint), connection.sudo),
                delete: privileged(registryDeleteScript(spec), connection.sudo),
                // The script reads the credentials from the placed file, not from here: they are on
                // stdin (secret in state) only so that new credentials re-run this step, which then
                // recreates the container because the file's digest no longer matches its label.
                ...(storageEnv ? { stdin: storageEnv } : {}),
            },
        },
        // The files and the container read back at each refresh; a repair makes the container (and the relay) anew, so they read the files again.
        filesCheck: {
            name: `${name}-files-check`,
            args: {
                connection,
                files: checked,
                afterRepair: privileged(recreatingScript(containerScript(spec, specFingerprint)), connection.sudo),
                containers: [spec.name],
            },
        },
        specFingerprint,
    };
}

/** The registry's config files and container; the container is removed on destroy, its data stays. */
export class RegistryContainer extends pulumi.ComponentResource {
    /**
     * Fingerprint of everything the container is created from (image, port, mounts, config). The
     * upkeep scripts recreate the container with it, and the post-deploy check re-runs when it changes.
     */
    readonly specFingerprint: string;

    constructor(name: string, args: RegistryContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(REGISTRY_CONTAINER_TYPE, name, {}, withFormerType(opts, "dso:externalHost:RegistryContainer"));
        const plan = planRegistryContainer(name, args);
        const files = plan.files.map((f) => new HostFile(f.name, f.args, { parent: this }));
        const run = hostCommand(plan.run.name, plan.run.args, { parent: this, dependsOn: files });
        new HostFilesCheck(plan.filesCheck.name, plan.filesCheck.args, { parent: this, dependsOn: [run] });
        this.specFingerprint = plan.specFingerprint;
        this.registerOutputs({});
    }
}
