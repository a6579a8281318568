/**
 * The garbage of the Maven repository this program serves, in either placement: `sh/maven-cleanup.sh`
 * beside this file (`clean_maven_repository`) is run by both garbage-collection jobs inside their
 * window, the external host's over its data directory, the in-cluster one inside the nginx sidecar
 * over the `maven-data` volume. This module gives its parameters.
 */

/**
 * Folder of the upload spool inside the data directory where nginx spools there (the external host:
 * same filesystem, so a finished upload is renamed into place). In the pod the spool is an emptyDir
 * and the folder does not exist.
 */
export const MAVEN_UPLOADS = ".uploads";
/** Minutes after which a spooled upload nobody writes to any more is a leftover (nginx was killed mid-upload). */
export const MAVEN_UPLOAD_LEFTOVER_MINUTES = 60;

/** What a garbage-collection job removes from the Maven repository. */
export interface MavenCleanup {
    /**
     * The data directory as the machine that runs the clean-up sees it: `externalHost.mavenDataDir` on
     * the host, the sidecar's mount of `maven-data` in the cluster. `$DSO_ROOT` (unset there) is put in front.
     */
    readonly dataDir: string;
    /** The repository's path (`mavenRegistry.pathPrefix`). */
    readonly pathPrefix: string;
    /** Timestamped builds kept per SNAPSHOT version (`mavenRegistry.snapshotBuildsToKeep`), at least 1. */
    readonly snapshotBuildsToKeep: number;
}

/**
 * The parameters of a script that sources maven-cleanup.sh. Without a clean-up (a host that serves no
 * Maven) every value is empty, and the script leaves `clean_maven_repository` uncalled.
 */
export function mavenCleanupParams(c: MavenCleanup | undefined) {
    if (c && (!Number.isInteger(c.snapshotBuildsToKeep) || c.snapshotBuildsToKeep < 1)) {
        throw new Error(`the Maven clean-up: snapshotBuildsToKeep must be a whole number of at least 1, not ${c.snapshotBuildsToKeep}`);
    }
    return {
        MAVEN_DATA_DIR: c?.dataDir ?? "",
        MAVEN_PATH_PREFIX: c?.pathPrefix ?? "",
        MAVEN_SNAPSHOT_BUILDS_TO_KEEP: c ? String(c.snapshotBuildsToKeep) : "",
        MAVEN_UPLOADS: c ? MAVEN_UPLOADS : "",
        MAVEN_UPLOAD_LEFTOVER_MINUTES: c ? String(MAVEN_UPLOAD_LEFTOVER_MINUTES) : "",
    };
}
