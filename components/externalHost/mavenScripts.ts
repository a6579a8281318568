/**
 * The Maven repository on the external host, as pure functions: its data directory, the nginx
 * container that serves it (the same rendered nginx.conf as the in-cluster sidecar), and the garbage
 * the maintenance job removes from it (../maven/cleanup.ts, shared with the in-cluster GC job). Every script honours $DSO_ROOT, like scripts.ts.
 *
 * Why a container: the registry already runs as one (pinned image, `--restart unless-stopped`, a
 * label with the spec's fingerprint that recreates it on change), so nginx is run, updated, inspected
 * and removed the same way, and `mavenRegistry.nginxImage` means the same image in both placements.
 * Debian's nginx package would bring a second service manager story (its default site on port 80, its
 * own config tree and logrotate) for no gain.
 */
import { MAVEN_UPLOADS } from "../maven/cleanup";
import { MAVEN_BACKEND, renderMavenNginxConfig } from "../maven/nginxConfig";
import { shQuote } from "../shared/shQuote";
import { type HostLayout, hostPaths, LOCK } from "./scripts";

/** Name of the Maven backend's container. */
export const MAVEN_CONTAINER = "dso-registry-maven";
/** The non-root uid (and gid) nginx runs as and the data directory belongs to: the same as in the registry pod. */
export const MAVEN_UID = 65532;
/** Re-exported: where the host spools uploads (see ../maven/cleanup.ts). */
export { MAVEN_UPLOADS };

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
        // Inside the container; docker publishes the port on the host's loopback only.
        listen: `0.0.0.0:${MAVEN_BACKEND.port}`,
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
    return [
        "set -eu",
        `d="\${DSO_ROOT:-}"${shQuote(layout.mavenDataDir)}`,
        "state=unchanged",
        'if [ ! -d "$d" ]; then mkdir -p "$d"; chmod 0750 "$d"; state=changed; fi',
        `if [ "$(stat -c %u:%g "$d")" != "${MAVEN_UID}:${MAVEN_UID}" ]; then chown ${MAVEN_UID}:${MAVEN_UID} "$d"; state=changed; fi`,
        'echo "$state $d"',
    ].join("\n");
}

/** On destroy: keeps the Maven files unless `purge`, and says so. */
export function mavenDataDirDeleteScript(layout: HostLayout, purge: boolean): string {
    return purge
        ? ["set -eu", `rm -rf "\${DSO_ROOT:-}"${shQuote(layout.mavenDataDir)}`, `echo "removed ${layout.mavenDataDir}"`].join("\n")
        : `echo "kept Maven data in ${layout.mavenDataDir} (externalHost.purgeDataOnDestroy is false)"`;
}

/**
 * Lines that (re)create the Maven container with the label `fingerprint`: nginx as the non-root uid,
 * published on loopback only, the data directory read-write, its config read-only, a tmpfs for its
 * pid file.
 */
export function mavenRunLines(spec: MavenHostSpec, fingerprint: string): string[] {
    const paths = hostPaths(spec.layout);
    return [
        `docker rm -f ${MAVEN_CONTAINER} >/dev/null 2>&1 || true`,
        [
            `docker run -d --name ${MAVEN_CONTAINER} --restart unless-stopped --label dso-registry.spec=${fingerprint}`,
            `--user ${MAVEN_UID}:${MAVEN_UID}`,
            `-p 127.0.0.1:${MAVEN_BACKEND.port}:${MAVEN_BACKEND.port}`,
            `-v "\${DSO_ROOT:-}"${shQuote(spec.layout.mavenDataDir)}:${MAVEN_BACKEND.dataDir}`,
            `-v "\${DSO_ROOT:-}"${shQuote(paths.mavenConfigDir)}:${MAVEN_BACKEND.configDir}:ro`,
            `--tmpfs ${MAVEN_BACKEND.runDir}`,
            shQuote(spec.image),
            `nginx -e stderr -c ${MAVEN_BACKEND.configDir}/nginx.conf >/dev/null`,
        ].join(" "),
    ];
}

/** Runs the Maven container when it is missing, stopped, or was created from another spec. */
export function mavenContainerScript(spec: MavenHostSpec, fingerprint: string): string {
    return [
        "set -eu",
        ...LOCK(spec.layout),
        `have=$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' ${MAVEN_CONTAINER} 2>/dev/null || true)`,
        `if [ "$have" = "${fingerprint} true" ]; then echo "unchanged maven container"; exit 0; fi`,
        ...mavenRunLines(spec, fingerprint),
        'echo "changed maven container"',
    ].join("\n");
}

/** Removes the Maven container (its files stay in the data directory). */
export function mavenContainerDeleteScript(): string {
    return ["set -eu", `docker rm -f ${MAVEN_CONTAINER} >/dev/null 2>&1 || true`, `echo "removed container ${MAVEN_CONTAINER}"`].join("\n");
}
