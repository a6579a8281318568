/**
 * The Maven repository on the external host, as pure functions: its data directory, the nginx
 * container that serves it (the same rendered nginx.conf as the in-cluster sidecar). Its garbage is
 * removed by the host's garbage-collection job (components/upkeep/mavenCleanup.ts, shared with the
 * in-cluster GC job). The scripts are in `sh/` beside this file; every one honours $DSO_ROOT.
 *
 * Why a container: the registry already runs as one (pinned image, `--restart unless-stopped`, a
 * label with the spec's fingerprint that recreates it on change), so nginx is run, updated, inspected
 * and removed the same way, and `mavenRegistry.nginxImage` means the same image in both placements.
 * Debian's nginx package would bring a second service manager story (its default site on port 80, its
 * own config tree and logrotate) for no gain.
 */
import { MAVEN_BACKEND, renderMavenNginxConfig } from "../maven/nginxConfig";
import { MAVEN_UPLOADS } from "../upkeep/mavenCleanup";
import { type HostLayout, hostPaths, hostScript, lockParams } from "./scripts";

/** Name of the Maven backend's container. */
export const MAVEN_CONTAINER = "dso-registry-maven";
/**
 * systemd-tmpfiles entry that recreates the socket's directory (under /run, emptied at boot) with its
 * owner before Docker restarts the container: nginx runs as MAVEN_UID and cannot create it itself.
 */
export const MAVEN_TMPFILES_ENTRY = "/etc/tmpfiles.d/dso-registry-maven.conf";
/** The non-root uid (and gid) nginx runs as and the data directory belongs to: the same as in the registry pod. */
export const MAVEN_UID = 65532;

/** The Maven backend on the host. */
export interface MavenHostSpec {
    /** nginx image with its WebDAV module (`mavenRegistry.nginxImage`). */
    readonly image: string;
    /** The repository's path (`mavenRegistry.pathPrefix`). */
    readonly pathPrefix: string;
    /** Host paths: `mavenDataDir` and the config directory under `registryConfigDir`. */
    readonly layout: HostLayout;
}

/** nginx.conf of the host's Maven backend: the in-cluster renderer, with the uploads spooled beside the data. */
export function hostMavenNginxConfig(spec: Pick<MavenHostSpec, "pathPrefix">): string {
    return renderMavenNginxConfig({
        // A unix socket in a directory bind-mounted from the host, which only root and Caddy's group
        // can open; no port is published (docs/decisions/access-policy.md#no-path-around-the-front).
        listen: `unix:${MAVEN_BACKEND.socketDir}/${MAVEN_BACKEND.socketName}`,
        pathPrefix: spec.pathPrefix,
        dataDir: MAVEN_BACKEND.dataDir,
        runDir: MAVEN_BACKEND.runDir,
        uploadTempDir: `${MAVEN_BACKEND.dataDir}/${MAVEN_UPLOADS}`,
    });
}

/**
 * Creates the Maven data directory (mode 0750) owned by the uid nginx runs as, or fixes its owner.
 * Prints "changed DIR" or "unchanged DIR".
 */
export function mavenDataDirScript(layout: HostLayout): string {
    return hostScript("maven-data-dir.sh", { DATA_DIR: layout.mavenDataDir, OWNER: `${MAVEN_UID}:${MAVEN_UID}` });
}

/** On destroy: keeps the Maven files unless `purge`, and says so. */
export function mavenDataDirDeleteScript(layout: HostLayout): string {
    return hostScript("data-dir-delete.sh", { DATA_DIR: layout.mavenDataDir, CONTENT: "Maven data" });
}

/**
 * The parameters of a script that runs the Maven container (maven-run.sh) with the label `fingerprint`;
 * without a Maven backend (`spec` undefined) every value is empty.
 */
export function mavenRunParams(spec: MavenHostSpec | undefined, fingerprint: string | undefined) {
    const on = spec !== undefined;
    return {
        MAVEN_CONTAINER: on ? MAVEN_CONTAINER : "",
        MAVEN_IMAGE: spec?.image ?? "",
        MAVEN_FINGERPRINT: fingerprint ?? "",
        MAVEN_UID: on ? String(MAVEN_UID) : "",
        MAVEN_SOCKET_DIR: spec?.layout.mavenSocketDir ?? "",
        MAVEN_TMPFILES_ENTRY: on ? MAVEN_TMPFILES_ENTRY : "",
        MAVEN_DATA_DIR: spec?.layout.mavenDataDir ?? "",
        MAVEN_CONFIG_DIR: spec ? hostPaths(spec.layout).mavenConfigDir : "",
        MAVEN_BACKEND_DATA_DIR: on ? MAVEN_BACKEND.dataDir : "",
        MAVEN_BACKEND_CONFIG_DIR: on ? MAVEN_BACKEND.configDir : "",
        MAVEN_BACKEND_RUN_DIR: on ? MAVEN_BACKEND.runDir : "",
        MAVEN_BACKEND_SOCKET_DIR: on ? MAVEN_BACKEND.socketDir : "",
        MAVEN_BACKEND_SOCKET: on ? `${MAVEN_BACKEND.socketDir}/${MAVEN_BACKEND.socketName}` : "",
    };
}

/** Runs the Maven container when it is missing, stopped, or was created from another spec. */
export function mavenContainerScript(spec: MavenHostSpec, fingerprint: string): string {
    return hostScript("maven-container.sh", { ...lockParams(spec.layout), ...mavenRunParams(spec, fingerprint) });
}

/**
 * Removes the Maven container, its socket's directory and the boot-time entry that recreates it (its
 * files stay in the data directory).
 */
export function mavenContainerDeleteScript(layout: HostLayout): string {
    return hostScript("maven-container-delete.sh", {
        CONTAINER: MAVEN_CONTAINER,
        SOCKET_DIR: layout.mavenSocketDir,
        TMPFILES_ENTRY: MAVEN_TMPFILES_ENTRY,
    });
}
