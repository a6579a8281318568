/**
 * The Maven repository's backend on the external host: its data directory (kept across updates and,
 * unless purged, a destroy), the rendered nginx.conf, and nginx in a container on loopback behind
 * the same Caddy site as the registry.
 */
import * as pulumi from "@pulumi/pulumi";
import { fingerprint } from "../shared/fingerprint";
import { withFormerType } from "../shared/formerType";
import { containerRunStepName, dataDirStepName, type HostConnection, HostFile, hostCommand, privileged } from "../shared/hostAccess";
import { HostFilesCheck, recreatingScript } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
import {
    hostMavenNginxConfig,
    type MavenHostSpec,
    mavenContainerDeleteScript,
    mavenContainerScript,
    mavenDataDirDeleteScript,
    mavenDataDirScript,
} from "./mavenScripts";
import { hostPaths } from "./scripts";

export interface MavenContainerArgs {
    /** The host to run it on. */
    readonly connection: HostConnection;
    /** The image, the repository's path and the host paths. */
    readonly spec: MavenHostSpec;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const MAVEN_CONTAINER_TYPE = typeToken("externalHost", "MavenContainer");

/** The Maven backend; the container is removed on destroy, its files stay unless purged. */
export class MavenContainer extends pulumi.ComponentResource {
    /** Fingerprint of everything the container is created from; the restore recreates it with this label. */
    readonly specFingerprint: string;

    constructor(name: string, args: MavenContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(MAVEN_CONTAINER_TYPE, name, {}, withFormerType(opts, "dso:externalHost:MavenContainer"));
        const { connection, spec } = args;
        const sudo = connection.sudo;
        const config = hostMavenNginxConfig(spec);
        const dataDir = hostCommand(
            dataDirStepName(name),
            {
                connection,
                create: privileged(mavenDataDirScript(spec.layout), sudo),
                delete: privileged(mavenDataDirDeleteScript(spec.layout), sudo),
            },
            { parent: this },
        );
        const configSpec = { path: `${hostPaths(spec.layout).mavenConfigDir}/nginx.conf`, mode: "0644" };
        const configFile = new HostFile(`${name}-config`, { connection, ...configSpec, content: config }, { parent: this });
        this.specFingerprint = fingerprint(spec.image, spec.layout.mavenDataDir, hostPaths(spec.layout).mavenConfigDir, config);
        const runScript = mavenContainerScript(spec, this.specFingerprint);
        const run = hostCommand(
            containerRunStepName(name),
            {
                connection,
                create: privileged(runScript, sudo),
                delete: privileged(mavenContainerDeleteScript(spec.layout), sudo),
            },
            { parent: this, dependsOn: [dataDir, configFile] },
        );
        // nginx.conf read back at each refresh; a repair makes the container anew, so nginx reads it again.
        new HostFilesCheck(
            `${name}-files-check`,
            { connection, files: [{ ...configSpec, content: config }], afterRepair: privileged(recreatingScript(runScript), sudo) },
            { parent: this, dependsOn: [run] },
        );
        this.registerOutputs({});
    }
}
