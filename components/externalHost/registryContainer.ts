/**
 * Docker Distribution on the external host: its config (and the read-only variant maintenance
 * switches to), then the container, bound to loopback behind Caddy.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderRegistryConfig } from "../accessPolicy/accessPolicy";
import { DISTRIBUTION } from "../shared/facts";
import { type HostConnection, HostFile, hostCommand, privileged } from "../shared/hostAccess";
import { type ContainerSpec, containerDeleteScript, containerScript, fingerprint, hostPaths } from "./scripts";

export interface RegistryContainerArgs {
    /** The host to run it on. */
    readonly connection: HostConnection;
    /** The container: image, loopback port and the host paths it mounts. */
    readonly spec: ContainerSpec;
    /** Let the registry accept DELETE (needed for garbage collection to free anything). */
    readonly deletesEnabled: boolean;
}

/** The registry's config files and container; the container is removed on destroy, its data stays. */
export class RegistryContainer extends pulumi.ComponentResource {
    /**
     * Fingerprint of everything the container is created from (image, port, mounts, config). The
     * maintenance scripts recreate the container with it, and the post-deploy check re-runs when it changes.
     */
    readonly specFingerprint: string;

    constructor(name: string, args: RegistryContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:externalHost:RegistryContainer", name, {}, opts);
        const { connection, spec } = args;
        const paths = hostPaths(spec.layout);
        const configText = (readOnly: boolean) =>
            renderRegistryConfig({
                addr: `:${DISTRIBUTION.containerPort}`,
                storage: { kind: "filesystem", rootDirectory: DISTRIBUTION.dataDir },
                deletesEnabled: args.deletesEnabled,
                readOnly,
            });
        const writable = configText(false);
        const configFiles = [
            new HostFile(`${name}-config`, { connection, path: paths.registryConfig, mode: "0644", content: writable }, { parent: this }),
            new HostFile(
                `${name}-config-readonly`,
                { connection, path: paths.registryConfigReadOnly, mode: "0644", content: configText(true) },
                { parent: this },
            ),
        ];
        this.specFingerprint = fingerprint(spec.image, String(spec.hostPort), spec.layout.dataDir, spec.layout.registryConfigDir, writable);
        hostCommand(
            `${name}-run`,
            {
                connection,
                create: privileged(containerScript(spec, this.specFingerprint), connection.sudo),
                delete: privileged(containerDeleteScript(spec), connection.sudo),
            },
            { parent: this, dependsOn: configFiles },
        );
        this.registerOutputs({});
    }
}
