/**
 * What the pull-through caches on the external host register (`planMirrorCachesOnHost`,
 * components/mirrors/mirrorCachesOnHost.ts), tested without a Pulumi runtime: the refusal of an upstream
 * with credentials but no env file, each cache's files, container and read-back under a name of its
 * upstream's, the prune job only with a cache, and the front's routes. The constructor only registers
 * this description.
 */
import { describe, expect, it } from "vitest";
import {
    type MirrorCachesOnHostArgs,
    type MirrorCachesOnHostPlan,
    planMirrorCachesOnHost,
} from "../../components/mirrors/mirrorCachesOnHost";
import { mirrorWarm } from "../../components/mirrors/warm";
import { DOCKER_HUB_MIRROR, GHCR_MIRROR } from "../support/placementFixtures";

const none: MirrorCachesOnHostArgs = {
    connection: { kind: "local", name: "here", sudo: true },
    image: "registry:3.1.2",
    mirrors: [],
    mirrorsDir: "/srv/data/registry-mirrors",
    configRoot: "/etc/dso-registry",
    socketsDir: "/run/dso-registry-mirrors",
    pruneScriptPath: "/usr/local/sbin/dso-registry-mirror-prune",
    cronFilePath: "/etc/cron.d/dso-registry-mirrors",
};
const two: MirrorCachesOnHostArgs = {
    ...none,
    mirrors: [{ spec: DOCKER_HUB_MIRROR }, { spec: GHCR_MIRROR, envFile: "REGISTRY_PROXY_USERNAME=bot\n" }],
};

/** The plan, or a failure when the args are refused. */
function plan(args: MirrorCachesOnHostArgs): MirrorCachesOnHostPlan {
    const p = planMirrorCachesOnHost("mirrors", args);
    if ("problem" in p) return expect.fail(`refused: ${p.problem}`);
    return p;
}

describe("planMirrorCachesOnHost", () => {
    it("refuses an upstream with credentials but no env file", () => {
        expect(planMirrorCachesOnHost("mirrors", { ...none, mirrors: [{ spec: GHCR_MIRROR }] })).toEqual({
            problem: "ghcr.io needs its upstream account's env file",
        });
    });

    it("places each cache's files under a name of its upstream's, the env file (secret, 0600) only with credentials", () => {
        const [hub, ghcr] = plan(two).caches;
        expect(hub?.files.map((f) => f.name)).toEqual([
            "mirrors-docker-io-config",
            "mirrors-docker-io-read-only-config",
            "mirrors-docker-io-start-script",
        ]);
        expect(ghcr?.files.map((f) => f.name)).toEqual([
            "mirrors-ghcr-io-config",
            "mirrors-ghcr-io-read-only-config",
            "mirrors-ghcr-io-start-script",
            "mirrors-ghcr-io-env",
        ]);
        expect(ghcr?.files[3]?.args).toMatchObject({
            path: "/etc/dso-registry/mirrors/ghcr.io/env",
            mode: "0600",
            secret: true,
            content: "REGISTRY_PROXY_USERNAME=bot\n",
        });
        for (const file of hub?.files ?? [])
            expect(file.args).toMatchObject({ mode: "0644", path: expect.stringMatching(/^\/etc\/dso-registry\/mirrors\/docker\.io\//) });
    });

    it("runs each cache's container, and reads back its files, recreating the container after a repair", () => {
        for (const cache of plan(two).caches) {
            const role = cache.files[0]?.name.replace(/-config$/, "");
            expect(cache.run.name).toBe(`${role}-run`);
            expect(cache.run.args.create).toMatch(/^sudo -n sh -c /);
            expect(cache.run.args.delete).toMatch(/^sudo -n sh -c /);
            expect(cache.filesCheck.name).toBe(`${role}-files-check`);
            expect(cache.filesCheck.args.files).toEqual(cache.files.map(({ args: { path, mode, content } }) => ({ path, mode, content })));
            expect(cache.filesCheck.args.afterRepair).toMatch(/^sudo -n sh -c /);
        }
    });

    it("gives a cache a new container when its image changes", () => {
        const create = (args: MirrorCachesOnHostArgs) => plan(args).caches[0]?.run.args.create;
        expect(create({ ...two, image: "registry:3.1.3" })).not.toBe(create(two));
    });

    it("prunes the caches from one script and cron file, only when there is a cache, reporting with monitoring", () => {
        expect(plan(none).prune).toBeUndefined();
        expect(plan(none).caches).toEqual([]);
        const prune = plan(two).prune;
        expect(prune?.script).toMatchObject({ name: "mirrors-prune-script", args: { path: none.pruneScriptPath, mode: "0755" } });
        expect(prune?.cron).toMatchObject({ name: "mirrors-cron", args: { path: none.cronFilePath, mode: "0644" } });
        expect(prune?.filesCheck.name).toBe("mirrors-prune-files-check");
        expect(prune?.filesCheck.args.files.map((f) => f.path)).toEqual([none.pruneScriptPath, none.cronFilePath]);
        expect(String(prune?.script.args.content)).not.toContain("dso_registry_caches.prom");
        const reported = plan({
            ...two,
            reporting: { reporter: "/usr/local/sbin/dso-registry-report", textfileDir: "/var/lib/node_exporter" },
        });
        expect(String(reported.prune?.script.args.content)).toContain("/var/lib/node_exporter/dso_registry_caches.prom");
    });

    it("routes each mirror's requests to its cache's socket", () => {
        expect(plan(two).routes).toEqual([
            { pathName: "docker.io", upstream: "unix//run/dso-registry-mirrors/docker.io/registry.sock" },
            { pathName: "ghcr.io", upstream: "unix//run/dso-registry-mirrors/ghcr.io/registry.sock" },
        ]);
    });
});

describe("planMirrorCachesOnHost with a warm list", () => {
    const warmed = (images: string[]): MirrorCachesOnHostArgs => ({
        ...none,
        mirrors: [
            { spec: { ...DOCKER_HUB_MIRROR, warm: mirrorWarm("docker.io", { images, schedule: "0 5 * * *" }) } },
            { spec: GHCR_MIRROR, envFile: "x\n" },
        ],
    });

    it("places the warm script in the cache's config directory, runs it from up, and adds its schedule to the cron file; a cache without warm has none", () => {
        const p = plan(warmed(["nginx:1.30"]));
        const [hub, ghcr] = p.caches;
        expect(ghcr?.warm).toBeUndefined();
        expect(hub?.warm?.script.name).toBe("mirrors-docker-io-warm-script");
        expect(hub?.warm?.script.args).toMatchObject({ path: "/etc/dso-registry/mirrors/docker.io/warm.sh", mode: "0755" });
        const script = String(hub?.warm?.script.args.content);
        expect(script).toContain("HTTP_CLIENT='curl'");
        expect(script).toContain("UNIX_SOCKET='/run/dso-registry-mirrors/docker.io/registry.sock'");
        expect(script).toContain("IMAGES='library/nginx 1.30'");
        expect(hub?.warm?.run.name).toBe("mirrors-docker-io-warm");
        expect(String(hub?.warm?.run.args.create)).toMatch(
            /nohup sh -c .*\/etc\/dso-registry\/mirrors\/docker\.io\/warm\.sh 2>&1 \| logger -t dso-registry-mirror-warm/,
        );
        expect(String(p.prune?.cron.args.content)).toContain(
            "0 5 * * * root /etc/dso-registry/mirrors/docker.io/warm.sh 2>&1 | logger -t dso-registry-mirror-warm",
        );
    });

    it("a changed list changes what up runs (so it runs again); the cache's container command does not change", () => {
        const a = plan(warmed(["nginx:1.30"])).caches[0]!;
        const b = plan(warmed(["nginx:1.28"])).caches[0]!;
        expect(a.warm?.run.args.create).not.toEqual(b.warm?.run.args.create);
        expect(a.run).toEqual(b.run);
        expect(a.files).toEqual(b.files);
    });

    it("without a warm list the cron file is as before", () => {
        expect(String(plan(two).prune?.cron.args.content)).not.toContain("warm");
    });
});
