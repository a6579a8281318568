/**
 * The external host's scripts that remove or stop a container by its fixed name, as the mock hosts
 * render them (test/support/externalHostMocks.ts), run under sh with a docker stand-in in which a
 * container of that name exists that the stack did not make (no label dso-registry.spec): the restore
 * stops before any change and says how to go on, the Maven backend's delete keeps it and what goes with
 * it, a pull-through cache's delete keeps it with the cache's socket directory and content, and the caches'
 * prune leaves it running. The scripts the prod stack runs against a real Docker engine are covered there
 * (test/integration/externalRegistryHost.scripts.test.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { MAVEN_CONTAINER, MAVEN_TMPFILES_ENTRY, mavenContainerDeleteScript } from "../../components/externalHost/mavenScripts";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import {
    hostMirrorPaths,
    mirrorContainerDeleteScript,
    mirrorContainerScript,
    mirrorPruneScript,
} from "../../components/mirrors/hostCaches";
import { containersAnswer, foreignContainers, hostsUnderMocks, imagesNamed } from "../support/externalHostMocks";

const { command, runStubbed } = hostsUnderMocks();

describe("a container of the stack's name that the stack did not make", () => {
    test("stops the restore before any change: nothing removed, run or restored", () => {
        const restore = String(command("registry-host-maintenance-restore-script-write").inputs.stdin);
        const { status, calls, stderr } = runStubbed(restore, ["docker", "restic"], {
            dockerAnswer: foreignContainers("dso-registry"),
            prepare: (root) => mkdirSync(path.join(root, "etc/dso-registry/backup"), { recursive: true }),
        });
        expect(status).not.toBe(0);
        expect(stderr).toContain("A container named dso-registry exists on this Docker host and this stack did not make it");
        expect(stderr).toContain("docker rename dso-registry <another name>");
        expect(calls.filter((c) => /^docker (rm|run|stop|start|exec) /.test(c))).toEqual([]);
        expect(calls.filter((c) => c.includes(" restore "))).toEqual([]);
    });

    test("is kept by the Maven backend's delete, with its socket directory and boot-time entry; the stack's own goes with them", () => {
        const layout = defaultHostLayout("/srv/data/registry");
        const deleteWith = (dockerAnswer: string) =>
            runStubbed(mavenContainerDeleteScript(layout), ["docker"], {
                dockerAnswer,
                prepare: (r) => {
                    mkdirSync(path.join(r, layout.mavenSocketDir), { recursive: true });
                    mkdirSync(path.dirname(path.join(r, MAVEN_TMPFILES_ENTRY)), { recursive: true });
                    writeFileSync(path.join(r, MAVEN_TMPFILES_ENTRY), "d /run/dso-registry-maven\n");
                },
            });
        const left = (root: string) => [layout.mavenSocketDir, MAVEN_TMPFILES_ENTRY].map((f) => existsSync(path.join(root, f)));

        const kept = deleteWith(foreignContainers(MAVEN_CONTAINER));
        expect(kept.status).toBe(0);
        expect(kept.stdout).toBe(
            `kept container ${MAVEN_CONTAINER}: this stack did not make it (it has no label dso-registry.spec); it is yours to remove\n`,
        );
        expect(kept.calls.filter((c) => c.startsWith("docker rm "))).toEqual([]);
        expect(left(kept.root)).toEqual([true, true]);

        // The stack's own, labelled, goes as before.
        const removed = deleteWith(containersAnswer({ [MAVEN_CONTAINER]: "maven-spec" }));
        expect(removed.status).toBe(0);
        expect(removed.calls).toContain(`docker rm -f ${MAVEN_CONTAINER}`);
        expect(removed.stdout).toBe(`removed container ${MAVEN_CONTAINER} and its socket\n`);
        expect(left(removed.root)).toEqual([false, false]);
    });

    const cache = hostMirrorPaths(
        { pathName: "docker.io" },
        "/srv/data/registry-mirrors",
        "/etc/dso-registry",
        "/run/dso-registry-mirrors",
    );
    /** A cache's socket directory and its content (8 KiB), in `root`. */
    const cacheFiles = (root: string) => {
        mkdirSync(path.join(root, cache.socketDir), { recursive: true });
        mkdirSync(path.join(root, cache.dataDir), { recursive: true });
        writeFileSync(path.join(root, cache.dataDir, "blob"), Buffer.alloc(8192, 1));
    };
    const cacheLeft = (root: string) => [cache.socketDir, cache.dataDir].map((f) => existsSync(path.join(root, f)));

    test("is kept by a pull-through cache's delete, with the cache's socket directory and content; the stack's own goes with them", () => {
        const deleteWith = (dockerAnswer: string) =>
            runStubbed(mirrorContainerDeleteScript(cache), ["docker"], { dockerAnswer, prepare: cacheFiles });

        const kept = deleteWith(foreignContainers(cache.container));
        expect(kept.status).toBe(0);
        expect(kept.stdout).toBe(
            `kept container ${cache.container}: this stack did not make it (it has no label dso-registry.spec); it is yours to remove\n`,
        );
        expect(kept.calls.filter((c) => c.startsWith("docker rm "))).toEqual([]);
        expect(cacheLeft(kept.root)).toEqual([true, true]);

        const removed = deleteWith(containersAnswer({ [cache.container]: "cache-spec" }));
        expect(removed.status).toBe(0);
        expect(removed.calls).toContain(`docker rm -f ${cache.container}`);
        expect(removed.stdout).toBe(`removed mirror container ${cache.container} and its cache\n`);
        expect(cacheLeft(removed.root)).toEqual([false, false]);
    });

    test("is never stopped by the caches' prune, its cache past the size limit left as it is; the stack's own cache is emptied", () => {
        const prune = mirrorPruneScript([{ paths: cache, maxSize: "1Ki", maxAge: "168h", remoteUrl: "https://registry-1.docker.io" }]);
        const pruneWith = (dockerAnswer: string) =>
            runStubbed(prune, ["docker", "curl"], { curlAnswer: "200", dockerAnswer, prepare: cacheFiles });
        const blobLeft = (root: string) => existsSync(path.join(root, cache.dataDir, "blob"));

        const left = pruneWith(foreignContainers(cache.container));
        expect(left.status, left.stderr).toBe(0);
        expect(left.stdout.startsWith(`${cache.container}: `)).toBe(true);
        expect(left.stdout).toContain(" KiB of 1 KiB; left as it is: a container of this name exists that this stack did not make");
        expect(left.calls.filter((c) => /^docker (stop|start|rm|kill) /.test(c))).toEqual([]);
        expect(blobLeft(left.root)).toBe(true);

        const emptied = pruneWith(containersAnswer({ [cache.container]: "cache-spec" }));
        expect(emptied.status, emptied.stderr).toBe(0);
        expect(emptied.calls.filter((c) => /^docker (stop|start) /.test(c))).toEqual([
            `docker stop ${cache.container}`,
            `docker start ${cache.container}`,
        ]);
        expect(blobLeft(emptied.root)).toBe(false);
    });
});

describe("an image, not a container, of the stack's name", () => {
    const cache = hostMirrorPaths(
        { pathName: "docker.io" },
        "/srv/data/registry-mirrors",
        "/etc/dso-registry",
        "/run/dso-registry-mirrors",
    );

    test("is no container of someone else's: a cache's container is run under that name", () => {
        const { status, stdout, stderr, calls } = runStubbed(mirrorContainerScript(cache, "registry:2.8.3", "spec-1", false), ["docker"], {
            dockerAnswer: imagesNamed(cache.container),
        });
        expect(status, stderr).toBe(0);
        expect(stdout).toBe(`changed mirror container ${cache.container}\n`);
        expect(calls.filter((c) => c.startsWith(`docker run -d --name ${cache.container} `))).toHaveLength(1);
    });

    test("is no container of someone else's: the Maven backend's delete goes on with its socket directory", () => {
        const layout = defaultHostLayout("/srv/data/registry");
        const { status, stdout, calls } = runStubbed(mavenContainerDeleteScript(layout), ["docker"], {
            dockerAnswer: imagesNamed(MAVEN_CONTAINER),
        });
        expect(status).toBe(0);
        expect(stdout).toBe(`removed container ${MAVEN_CONTAINER} and its socket\n`);
        expect(calls).toContain(`docker rm -f ${MAVEN_CONTAINER}`);
    });
});
