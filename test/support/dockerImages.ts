/**
 * Images for a test Docker engine, built here because no registry can be pulled from: each is a root
 * filesystem assembled from Debian files and binaries built here, and `docker import`ed.
 *
 * - `registryImage`: Docker Distribution as the official `registry` image lays it out, from the build
 *   of the deployed version (test/support/distributionBinaries.ts, static) and busybox-static for a shell.
 * - `uiStandInImage`: a stand-in for joxit/docker-registry-ui (busybox httpd serving one page on :80).
 * - `nginxImage`: the official `nginx` image's layout for the Maven backend, from Debian's nginx.
 * - `pinnedCaddyImage`: the official `caddy` image's layout (the external host's front and metrics relay,
 *   kind's front), from the pinned static Caddy (test/support/caddyBinaries.ts).
 * - `payloadImage`: a busybox image with a random payload (a new image each call; large on request).
 *
 * Usage:
 *   const ref = registryImage(engine);                    // registry.image's default tag, imported once per data root
 *   payloadImage(engine, "registry.test/team/app:1", { payloadBytes: 200 * 2 ** 20 });
 */
import { randomBytes } from "node:crypto";
import {
    chmodSync,
    closeSync,
    copyFileSync,
    cpSync,
    existsSync,
    mkdirSync,
    openSync,
    symlinkSync,
    writeFileSync,
    writeSync,
} from "node:fs";
import * as path from "node:path";
import {
    DEFAULT_IMAGES,
    DEFAULT_KUBECTL_IMAGE,
    DEFAULT_MAVEN_NGINX_IMAGE,
    DEFAULT_NODE_TRUST_IMAGE,
    DEFAULT_PROBE_IMAGE,
} from "../../components/shared/defaults";
import { DEFAULT_RESTIC_IMAGE } from "../../components/shared/facts";
import { pinnedCaddy } from "./caddyBinaries";
import { DEPLOYED_REGISTRY_IMAGE, deployedRegistry, distributionBinaries } from "./distributionBinaries";
import type { DockerClient } from "./dockerEngine";
import { LAYER_TAR_FLAGS, writeOciArchive } from "./ociArchive";
import { UI_FILES } from "./registryUiOrigin";
import { privateDir, removeDir, runOk } from "./serverProcess";

const BUSYBOX = "/bin/busybox";

/**
 * The official image's entrypoint behaviour that the host scripts rely on: a config file as the only
 * argument means `registry serve <file>`; `registry …` (as in `docker exec <c> registry
 * garbage-collect …`) finds the binary on PATH.
 */
const REGISTRY_ENTRYPOINT = `#!/bin/sh
set -e
case "$1" in
  *.yaml|*.yml) set -- registry serve "$@" ;;
  serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
`;

/** The official image's default config: filesystem storage in its volume, port 5000. */
const REGISTRY_DEFAULT_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

/** A root filesystem with busybox-static as /bin/busybox and a link for each of its applets. */
export function busyboxRootfs(root: string): void {
    mkdirSync(path.join(root, "bin"), { recursive: true });
    for (const d of ["etc", "tmp", "root", "proc", "sys", "dev"]) mkdirSync(path.join(root, d), { recursive: true });
    chmodSync(path.join(root, "tmp"), 0o1777);
    copyFileSync(BUSYBOX, path.join(root, "bin", "busybox"));
    chmodSync(path.join(root, "bin", "busybox"), 0o755);
    const applets = runOk(BUSYBOX, ["--list"])
        .stdout.split("\n")
        .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== "busybox");
    for (const applet of applets) symlinkSync("busybox", path.join(root, "bin", applet));
}

/** Copies a dynamically linked program and the libraries `ldd` lists into `root`. */
export function copyWithLibraries(program: string, root: string, target: string): void {
    copyFileSync(program, path.join(root, target));
    chmodSync(path.join(root, target), 0o755);
    const libs = runOk("ldd", [program])
        .stdout.split("\n")
        .map((line) => /(\/\S+) \(0x/.exec(line)?.[1])
        .filter((lib): lib is string => lib !== undefined);
    for (const lib of libs) {
        mkdirSync(path.join(root, path.dirname(lib)), { recursive: true });
        copyFileSync(lib, path.join(root, lib));
    }
}

/** A directory of image archives for a containerd that no registry can reach (a real node's): one OCI archive per image. */
export interface OciArchives {
    readonly archiveDir: string;
}

/** Where an image is built into: a Docker engine (`docker import`), or a directory of OCI archives. */
export type ImageTarget = DockerClient | OciArchives;

/** The archive of `ref` in `target`. */
export function ociArchivePath(target: OciArchives, ref: string): string {
    return path.join(target.archiveDir, `${ref.replace(/[^A-Za-z0-9._-]/g, "_")}.tar`);
}

/** `root` as image `ref` with Dockerfile-style `changes`: `docker import`ed, or written as an OCI archive. */
export function importRootfs(target: ImageTarget, root: string, ref: string, changes: readonly string[]): void {
    if ("archiveDir" in target) {
        writeOciArchive(root, ref, changes, ociArchivePath(target, ref));
        return;
    }
    const tarball = `${root}.tar`;
    runOk("tar", [...LAYER_TAR_FLAGS, "-C", root, "-cf", tarball, "."]);
    target.dockerOk(["import", ...changes.flatMap((c) => ["--change", c]), tarball, ref]);
}

export function imageExists(target: ImageTarget, ref: string): boolean {
    if ("archiveDir" in target) return existsSync(ociArchivePath(target, ref));
    return target.docker(["image", "inspect", ref]).code === 0;
}

/**
 * `registry:<tag>` in the engine, laid out as the official image: /bin/registry (the build of that
 * version, test/support/distributionBinaries.ts, static), /entrypoint.sh,
 * /etc/docker/registry/config.yml, the /var/lib/registry volume, port 5000. The tag defaults to the
 * deployed one (`DEPLOYED_REGISTRY_IMAGE`); a tag no build has (an image bump) gets the deployed
 * build. Imported once per data root; returns the reference.
 */
export function registryImage(client: ImageTarget, tag = DEPLOYED_REGISTRY_IMAGE.replace(/^registry:/, "")): string {
    const ref = `registry:${tag}`;
    if (imageExists(client, ref)) return ref;
    const scratch = privateDir("registry-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        const build = Object.values(distributionBinaries()).find((b) => b.version === tag) ?? deployedRegistry();
        copyFileSync(build.path, path.join(root, "bin/registry"));
        chmodSync(path.join(root, "bin/registry"), 0o755);
        mkdirSync(path.join(root, "etc/docker/registry"), { recursive: true });
        writeFileSync(path.join(root, "etc/docker/registry/config.yml"), REGISTRY_DEFAULT_CONFIG);
        mkdirSync(path.join(root, "var/lib/registry"), { recursive: true });
        writeFileSync(path.join(root, "entrypoint.sh"), REGISTRY_ENTRYPOINT, { mode: 0o755 });
        importRootfs(client, root, ref, [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'VOLUME ["/var/lib/registry"]',
            "EXPOSE 5000",
            'ENTRYPOINT ["/entrypoint.sh"]',
            'CMD ["/etc/docker/registry/config.yml"]',
        ]);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/**
 * A stand-in for the web UI image (joxit/docker-registry-ui cannot be pulled here): busybox httpd
 * serving a page that names the image on port 80, as the real UI's nginx does. Imported once per
 * data root; returns `ref`.
 */
export function uiStandInImage(client: ImageTarget, ref = "dso-test/registry-ui:stand-in"): string {
    if (imageExists(client, ref)) return ref;
    const scratch = privateDir("ui-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        mkdirSync(path.join(root, "www"));
        writeFileSync(path.join(root, "www", "index.html"), `<!doctype html><title>registry UI stand-in</title><p>${ref}</p>\n`);
        importRootfs(client, root, ref, ["EXPOSE 80", 'ENTRYPOINT ["/bin/httpd", "-f", "-p", "80", "-h", "/www"]']);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/**
 * A stand-in for the web UI's image as the stack's Deployment runs it (joxit/docker-registry-ui cannot be
 * pulled here): busybox httpd serving the stand-in page (./registryUiStandIn), which makes the real UI's
 * requests, on the port the Deployment names (NGINX_LISTEN_PORT). Its entrypoint writes the settings of the
 * Deployment's environment into the page's config.js, as the real image's entrypoint writes them into its
 * own files; the directory is writable by the UI's non-root user and is the image's working directory, and
 * `/docker-entrypoint.sh` starts it as the real image's entrypoint does. Imported once per target; returns `ref`.
 */
export function registryUiStandInImage(target: ImageTarget, ref: string = DEFAULT_IMAGES.ui): string {
    if (imageExists(target, ref)) return ref;
    const scratch = privateDir("ui-stand-in");
    try {
        const dir = path.join(scratch, "rootfs");
        busyboxRootfs(dir);
        const www = path.join(dir, "www");
        cpSync(UI_FILES, www, { recursive: true });
        chmodSync(www, 0o777);
        writeFileSync(
            path.join(dir, "entrypoint.sh"),
            [
                "#!/bin/sh",
                "set -eu",
                `printf 'window.UI_CONFIG = {"registryUrl": "%s", "deleteImages": %s, "catalogElementsLimit": %s};\\n' \\`,
                '    "$REGISTRY_URL" "$DELETE_IMAGES" "$CATALOG_ELEMENTS_LIMIT" >/www/config.js',
                'exec httpd -f -p "$NGINX_LISTEN_PORT" -h /www',
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        // The real image's entrypoint (nginx's official one, which runs the UI's settings script and then the
        // command it is given): a Deployment that names it with a command of its own reaches the same start here.
        writeFileSync(path.join(dir, "docker-entrypoint.sh"), "#!/bin/sh\nexec /entrypoint.sh\n", { mode: 0o755 });
        // The real image's working directory is the one its nginx serves.
        importRootfs(target, dir, ref, ["WORKDIR /www", 'ENTRYPOINT ["/entrypoint.sh"]']);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/**
 * A stand-in for the official `nginx` image (which cannot be pulled here): Debian's nginx (built with
 * its WebDAV module, like the official one) with its libraries, busybox for a shell, and the binary at
 * /usr/sbin/nginx on PATH, so that `docker run <image> nginx -e stderr -c <conf>` runs as it would with
 * the official image. Imported once per data root; returns `ref`.
 */
export function nginxImage(client: ImageTarget, ref = DEFAULT_MAVEN_NGINX_IMAGE): string {
    if (imageExists(client, ref)) return ref;
    const scratch = privateDir("nginx-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        mkdirSync(path.join(root, "usr/sbin"), { recursive: true });
        copyWithLibraries("/usr/sbin/nginx", root, "usr/sbin/nginx");
        importRootfs(client, root, ref, [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "EXPOSE 80",
            'CMD ["nginx", "-g", "daemon off;"]',
        ]);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/**
 * `registry.caddyImage`'s default (`caddy:<the pinned release>`) as the official image lays it out: /usr/bin/caddy
 * (the pinned static build, `pinnedCaddy()`), its config and data directories under /config and /data,
 * busybox for a shell (the official image is Alpine's), and the command `caddy run --config
 * /etc/caddy/Caddyfile --adapter caddyfile`. Imported once per data root; returns `ref`. `binary` gives another
 * build for another tag (the previous release's Caddy, `caddy:<its version>`, for the upgrade test).
 */
export function pinnedCaddyImage(client: ImageTarget, ref: string = DEFAULT_IMAGES.caddy, binary: () => string = pinnedCaddy): string {
    if (imageExists(client, ref)) return ref;
    const scratch = privateDir("caddy-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        for (const d of ["usr/bin", "etc/caddy", "config/caddy", "data/caddy"]) mkdirSync(path.join(root, d), { recursive: true });
        copyFileSync(binary(), path.join(root, "usr/bin/caddy"));
        chmodSync(path.join(root, "usr/bin/caddy"), 0o755);
        // As the official image: the binary may bind low ports as any user that keeps NET_BIND_SERVICE.
        runOk("setcap", ["cap_net_bind_service=+ep", path.join(root, "usr/bin/caddy")]);
        importRootfs(client, root, ref, [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV XDG_CONFIG_HOME=/config",
            "ENV XDG_DATA_HOME=/data",
            "EXPOSE 80 443 2019",
            "WORKDIR /srv",
            'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]',
        ]);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/**
 * The sandbox ("pause") image a real node's containerd starts first in every pod: a process that only waits,
 * busybox's `sleep` here (Kubernetes's own pause is a small C program; nothing of it is needed but that it
 * holds the pod's namespaces). Returns `ref`.
 */
export function pauseImage(target: ImageTarget, ref = "registry.k8s.io/pause:3.10"): string {
    return busyboxBased(target, ref, ['ENTRYPOINT ["/bin/sleep", "2147483647"]']);
}

/**
 * `busybox:<tag>` as the official image: busybox-static and its applets, `sh` as the command; by default the
 * node-trust DaemonSet's (`nodes.daemonsetImage`). Returns `ref`.
 */
export function busyboxImage(target: ImageTarget, ref = DEFAULT_NODE_TRUST_IMAGE): string {
    return busyboxBased(target, ref, ['CMD ["sh"]']);
}

/**
 * A stand-in for `prom/blackbox-exporter` (the certificate probe's image): Debian's blackbox_exporter (an
 * older release than the pinned tag) at the official image's path, busybox for `wget`. Returns `ref`.
 */
export function blackboxExporterImage(target: ImageTarget, ref = DEFAULT_PROBE_IMAGE): string {
    return busyboxBased(
        target,
        ref,
        ['ENTRYPOINT ["/bin/blackbox_exporter"]', 'CMD ["--config.file=/etc/blackbox_exporter/config.yml"]'],
        (root) => copyWithLibraries("/usr/bin/prometheus-blackbox-exporter", root, "bin/blackbox_exporter"),
    );
}

/**
 * A stand-in for `alpine/kubectl` (the in-cluster upkeep jobs' image, `inCluster.kubectlImage`: `kubectl`
 * and a shell): busybox and the given static `kubectl` (the engine set's) on busybox's default PATH. Returns `ref`.
 */
export function kubectlImage(target: ImageTarget, kubectl: string, ref = DEFAULT_KUBECTL_IMAGE): string {
    return busyboxBased(target, ref, ['CMD ["sh"]'], (root) => {
        mkdirSync(path.join(root, "usr/bin"), { recursive: true });
        copyFileSync(kubectl, path.join(root, "usr/bin/kubectl"));
        chmodSync(path.join(root, "usr/bin/kubectl"), 0o755);
    });
}

/**
 * A stand-in for `restic/restic` (the in-cluster backup container's and restore job's image, restic and a
 * shell): Debian's restic (an older release than the pinned tag; the integration tier runs the backup scripts
 * with the same one) at the official image's path, busybox for the shell. Returns `ref`.
 */
export function resticImage(target: ImageTarget, ref = DEFAULT_RESTIC_IMAGE): string {
    return busyboxBased(target, ref, ['ENTRYPOINT ["/usr/bin/restic"]'], (root) => {
        mkdirSync(path.join(root, "usr/bin"), { recursive: true });
        copyWithLibraries("/usr/bin/restic", root, "usr/bin/restic");
    });
}

/** CoreDNS (the given static build, the engine set's) as the cluster's DNS, with busybox for a shell. Returns `ref`. */
export function coreDnsImage(target: ImageTarget, coredns: string, ref = "dso-test/coredns:1.15.0"): string {
    return busyboxBased(target, ref, ['ENTRYPOINT ["/coredns"]', "EXPOSE 53 53/udp"], (root) => {
        copyFileSync(coredns, path.join(root, "coredns"));
        chmodSync(path.join(root, "coredns"), 0o755);
    });
}

/** An image of busybox's root filesystem, with what `add` puts in it, once per target. */
function busyboxBased(target: ImageTarget, ref: string, changes: readonly string[], add: (root: string) => void = () => {}): string {
    if (imageExists(target, ref)) return ref;
    const scratch = privateDir("busybox-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        add(root);
        importRootfs(target, root, ref, changes);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/**
 * A busybox image `ref` with `payloadBytes` random bytes in /payload: one layer, new to every
 * registry (so a push really uploads). Returns `ref`.
 */
export function payloadImage(client: ImageTarget, ref: string, options: { readonly payloadBytes?: number } = {}): string {
    const scratch = privateDir("payload-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        const fd = openSync(path.join(root, "payload"), "w");
        try {
            for (let left = options.payloadBytes ?? 4096; left > 0; left -= 2 ** 20) writeSync(fd, randomBytes(Math.min(left, 2 ** 20)));
        } finally {
            closeSync(fd);
        }
        importRootfs(client, root, ref, ['CMD ["/bin/sh"]']);
        return ref;
    } finally {
        removeDir(scratch);
    }
}
