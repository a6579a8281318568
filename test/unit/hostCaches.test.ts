/**
 * The pull-through caches on the external host (components/mirrors/hostCaches.ts): the prune job's size
 * and age limits, each cache's unix socket, named after the cache alone, where its Distribution
 * listens in either mode, and the container that runs its start script. The caches' files and the
 * nodes' entries: mirrors.test.ts.
 */
import { describe, expect, it } from "vitest";
import { hostMirrorFiles, hostMirrorPaths, mirrorContainerScript, mirrorPruneScript } from "../../components/mirrors/hostCaches";
import { MIRROR_FILES } from "../../components/mirrors/mirrors";

describe("the external host's size and age limits", () => {
    const paths = hostMirrorPaths({ pathName: "docker.io" }, "/srv/m", "/etc/x", "/run/s");
    const remoteUrl = "https://registry-1.docker.io";

    it.each([
        ["1Gi", "168h", "1048576 10080"],
        ["500M", "90m", "488282 90"],
        ["1Ki", "30s", "1 1"],
    ])("checks a cache of maxSize %s and maxAge %s in KiB and minutes", (maxSize, maxAge, limits) => {
        expect(mirrorPruneScript([{ paths, maxSize, maxAge, remoteUrl }])).toContain(
            `\nCACHES='dso-registry-mirror-docker.io ${limits} https://registry-1.docker.io /srv/m/docker.io'\n`,
        );
    });

    it.each([
        ["20 Gi", "168h"],
        ["1Gi", "7d"],
    ])("refuses maxSize %s / maxAge %s", (maxSize, maxAge) => {
        expect(() => mirrorPruneScript([{ paths, maxSize, maxAge, remoteUrl }])).toThrow(/is not a (quantity|duration)/);
    });
});

describe("hostMirrorPaths: each cache's unix socket on the external host", () => {
    const socketOf = (name: string) =>
        hostMirrorPaths({ pathName: name }, "/srv/m", "/etc/dso-registry", "/run/dso-registry-mirrors").socket;

    it("is named after the cache alone: adding, removing or reordering others cannot move or take it", () => {
        expect(socketOf("docker.io")).toBe("/run/dso-registry-mirrors/docker.io/registry.sock");
        const names = Array.from({ length: 200 }, (_, i) => `r${i}.example.test`);
        expect(new Set(names.map(socketOf)).size).toBe(names.length);
    });

    it.each([MIRROR_FILES.proxyConfig, MIRROR_FILES.readOnlyConfig])(
        "is where the cache's Distribution listens (%s), with no TCP listener",
        (file) => {
            const config = hostMirrorFiles({ remoteUrl: "https://registry-1.docker.io", ttl: "168h" })[file];
            expect(config).toMatch(/\n {2}net: unix\n/);
            expect(config).toContain('\n  addr: "/run/dso-registry/registry.sock"\n');
            expect(config).not.toMatch(/debug:/);
        },
    );
});

describe("the external host's cache container", () => {
    const paths = hostMirrorPaths({ pathName: "docker.io" }, "/srv/m", "/etc/dso-registry", "/run/s");
    const script = mirrorContainerScript(paths, "registry:3.1.2", "fp", false);

    it("mounts each of the cache's files, read-only, where its start script finds them beside it", () => {
        expect(script).toContain("\nMIRROR_FILES='config.yml\nread-only.yml\nstart.sh'\n");
        expect(script).toContain('-v "${DSO_ROOT:-}$CONFIG_DIR/$file:$DISTRIBUTION_CONFIG_DIR/$file:ro"');
        expect(script).toContain("\nCONFIG_DIR='/etc/dso-registry/mirrors/docker.io'\n");
    });

    it("runs the start script, with the socket's umask", () => {
        expect(script).toContain("\nSTART_SCRIPT='/etc/dso-registry/start.sh'\n");
        expect(script).toContain(`sh -c 'umask 0007 && exec sh "$1"' start "$START_SCRIPT"`);
    });
});
