/**
 * The pull-through caches on the external host (components/mirrors/hostCaches.ts): the prune job's size
 * and age limits, and each cache's unix socket, named after the cache alone, where its Distribution
 * listens. The caches' config and the nodes' entries: mirrors.test.ts.
 */
import { describe, expect, it } from "vitest";
import { hostMirrorConfig, hostMirrorPaths, mirrorPruneScript } from "../../components/mirrors/hostCaches";

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

    it("is where the cache's Distribution listens, with no TCP listener", () => {
        const config = hostMirrorConfig({ remoteUrl: "https://registry-1.docker.io", ttl: "168h" });
        expect(config).toMatch(/\n {2}net: unix\n/);
        expect(config).toContain('\n  addr: "/run/dso-registry/registry.sock"\n');
        expect(config).not.toMatch(/debug:/);
    });
});
