/**
 * What the kind placement registers (`planKindRegistry`, components/kind/kindRegistry.ts), tested without
 * a Pulumi runtime: which files go on the Docker host for which args, the commands and what they wait
 * for, the read-back of every file, the web UI's container behind the front, and the KEP-1755 ConfigMap.
 * The constructor only registers this description.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { checkKindMirrors, type KindRegistryArgs, planKindRegistry, resolveKindRegistry } from "../../components/kind/kindRegistry";
import { promiseOf } from "../../tools/mockRuntime";
import { PLAN_HASH as HASH, GHCR_MIRROR as privateMirror } from "../support/placementFixtures";
import { KIND_REGISTRY_MINIMAL as minimal } from "../support/planArgs";

const ui = { image: "mirror.example/joxit/docker-registry-ui:2.6.0" };

const unquoted = (script: string) => script.replaceAll("'\\''", "'");
const plan = (args: KindRegistryArgs) =>
    planKindRegistry("kind-registry", resolveKindRegistry(args), pulumi.output(HASH), "dso-registry/kind");
const fileIds = (args: KindRegistryArgs) => plan(args).files.map((f) => f.name.replace(/^kind-registry-/, ""));

describe("planKindRegistry", () => {
    it("places the front's, Distribution's and the nodes' files, each replaced when its path changes", () => {
        const p = plan(minimal);
        expect(fileIds(minimal)).toEqual(["caddyfile", "users-push", "users-pull", "registry-config", "node-script", "watcher-script"]);
        for (const file of p.files) {
            expect(file.args.connection).toBe(minimal.connection);
            expect(file.args.replaceOnPathChange).toBe(true);
        }
        const usersPush = p.files.find((f) => f.name === "kind-registry-users-push");
        expect(usersPush?.args).toMatchObject({ mode: "0600", secret: true });
        expect(p.files.find((f) => f.name === "kind-registry-caddyfile")?.args).toMatchObject({ mode: "0644", secret: false });
    });

    it("adds the GC script and crontab only with garbage collection, and the retention script only with retention", () => {
        const gc = { schedule: "30 3 * * 0", deleteUntagged: false };
        expect(fileIds({ ...minimal, garbageCollection: gc })).toEqual(expect.arrayContaining(["gc-script", "crontab"]));
        expect(fileIds({ ...minimal, garbageCollection: gc })).not.toContain("retention-script");
        expect(fileIds(minimal)).not.toContain("gc-script");
        const retention = { mode: "apply", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] } as const;
        expect(fileIds({ ...minimal, garbageCollection: { ...gc, retention } })).toContain("retention-script");
    });

    it("places each mirror's files (its two configs and start script), and its env file (secret) only when it has an upstream account", () => {
        const open = { ...privateMirror, upstream: "quay.io", pathName: "quay.io", remoteUrl: "https://quay.io", hasCredentials: false };
        const p = plan({ ...minimal, mirrors: [{ spec: privateMirror, account: { username: "u", password: "p" } }, { spec: open }] });
        const ids = p.files.map((f) => f.name.replace(/^kind-registry-/, ""));
        expect(ids.filter((id) => id.startsWith("mirror-"))).toEqual([
            "mirror-ghcr.io-config",
            "mirror-ghcr.io-read-only-config",
            "mirror-ghcr.io-start-script",
            "mirror-ghcr.io-env",
            "mirror-quay.io-config",
            "mirror-quay.io-read-only-config",
            "mirror-quay.io-start-script",
        ]);
        expect(p.files.find((f) => f.name === "kind-registry-mirror-quay.io-start-script")?.args.path).toMatch(
            /\/mirrors\/quay\.io\/start\.sh$/,
        );
        expect(p.files.find((f) => f.name === "kind-registry-mirror-ghcr.io-env")?.args).toMatchObject({ mode: "0600", secret: true });
    });

    it("refuses a mirror with credentials but no upstream account", () => {
        expect(() => plan({ ...minimal, mirrors: [{ spec: privateMirror }] })).toThrow(
            "KindRegistry kind-registry: the cache of ghcr.io has credentials but no upstream account was given",
        );
        expect(() => checkKindMirrors("k", [{ spec: { ...privateMirror, hasCredentials: false } }])).not.toThrow();
    });

    it("starts the containers after every file, configures the nodes after them, and reads every file back", () => {
        const p = plan(minimal);
        expect(p.containers).toMatchObject({ name: "kind-registry-containers", after: ["dataDir", "files"] });
        expect(p.containers.args.triggers).toEqual(["/var/lib/dso-registry-kind", "kind-registry"]);
        expect(p.clusters.map((c) => c.nodes)).toMatchObject([{ name: "kind-registry-nodes", after: ["containers"] }]);
        expect(p.clusters[0]?.nodes.args.triggers).toEqual(["kind", "kind-registry", 5002]);
        expect(p.watcherStop).toBeUndefined();
        expect(p.filesCheck).toMatchObject({ name: "kind-registry-files-check", after: ["containers"] });
        expect(p.filesCheck.args.files.map((f) => f.path)).toEqual(p.files.map((f) => f.args.path));
        expect(p.filesCheck.args.files.map((f) => f.mode)).toEqual(p.files.map((f) => f.args.mode));
    });

    it.each([
        ["the registry alone", minimal],
        [
            "every file it can place",
            {
                ...minimal,
                ui,
                garbageCollection: { schedule: "30 3 * * 0", deleteUntagged: false, retention: { mode: "apply", rules: [], protect: [] } },
                diskGuard: { refusePercent: 90 },
                mirrors: [{ spec: privateMirror, account: { username: "u", password: "p" } }],
            } satisfies KindRegistryArgs,
        ],
    ])("claims kind.dataDir first, as root where the other steps are: every file and the containers wait for it (%s)", (_, args) => {
        const sudo = { ...args, connection: { ...args.connection, sudo: true } };
        const p = plan(sudo);
        expect(p.dataDir).toMatchObject({ name: "kind-registry-data-dir", after: [] });
        expect(p.dataDir.args.connection).toBe(sudo.connection);
        const create = String(p.dataDir.args.create);
        expect(create).toMatch(/^sudo -n sh -c /);
        expect(unquoted(create)).toContain("DATA_DIR='/var/lib/dso-registry-kind'");
        expect(unquoted(create)).toContain("OWNER='stack=dso-registry/kind'");
        // Nothing of the directory is removed by this step: the marker stays with the images.
        expect(p.dataDir.args.delete).toBeUndefined();
        expect(p.files.length).toBeGreaterThan(0);
        for (const file of p.files) expect(file.after, file.name).toEqual(["dataDir"]);
        expect(p.containers.after).toContain("dataDir");
    });

    it("publishes the KEP-1755 ConfigMap unless told not to", () => {
        const [configMap] = plan(minimal).clusters.flatMap((c) => c.objects);
        expect(configMap?.name).toBe("kind-registry-local-registry-hosting");
        expect(configMap?.object).toMatchObject({
            kind: "ConfigMap",
            metadata: { name: "local-registry-hosting", namespace: "kube-public" },
        });
        expect(plan({ ...minimal, publishLocalRegistryHosting: false }).clusters.flatMap((c) => c.objects)).toEqual([]);
    });

    it("runs the UI as a container the front serves under /registry/, and puts nothing of it in the cluster", async () => {
        const withUi = plan({ ...minimal, ui, deletes: { api: true, ui: true } });
        expect(withUi.clusters.flatMap((c) => c.objects).map((o) => o.name)).toEqual(["kind-registry-local-registry-hosting"]);
        const caddyfile = withUi.files.find((f) => f.name === "kind-registry-caddyfile")?.args.content as pulumi.Output<string>;
        expect(await promiseOf(caddyfile)).toContain("reverse_proxy kind-registry-ui:80");
        // The script as it runs: `sh -c '…'` quotes each of its quotes.
        const script = unquoted(await promiseOf(withUi.containers.args.create as pulumi.Output<string>));
        expect(script).toContain("UI_NAME='kind-registry-ui'");
        expect(script).toContain("UI_IMAGE='mirror.example/joxit/docker-registry-ui:2.6.0'");
        expect(script).toMatch(/UI_ENV='[^']*REGISTRY_URL=http:\/\/localhost:5002\s[^']*DELETE_IMAGES=true/);
        // Without the UI: no route, and the script removes a UI container an earlier up made.
        const without = plan(minimal);
        expect(
            await promiseOf(without.files.find((f) => f.name === "kind-registry-caddyfile")?.args.content as pulumi.Output<string>),
        ).not.toContain("/registry/");
        expect(unquoted(await promiseOf(without.containers.args.create as pulumi.Output<string>))).toContain("UI_IMAGE=''");
        expect(unquoted(String(without.containers.args.delete))).toContain("UI_NAME='kind-registry-ui'");
    });

    it("gives the registry's URL on the Docker host and the authority pods use", () => {
        expect(plan(minimal)).toMatchObject({ registryUrl: "http://localhost:5002", authority: "kind-registry:5002" });
    });
});
