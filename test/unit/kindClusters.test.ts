/**
 * One kind registry for several clusters (`kind.clusterNames`, docs/kind.md#several-clusters): the config
 * rules, what the placement registers per cluster, the scripts with a docker stand-in (the watcher serves
 * every listed cluster, a cluster taken off is cleaned alone, `destroy` stops the watcher first), and the
 * ownership check asking each cluster's context about that cluster's objects.
 * Covers: components/config/kindRules.ts, components/kind/kindRegistry.ts, components/kind/scripts.ts,
 * components/kind/sh/{node-watch,nodes-unconfigure,watcher-stop}.sh, components/stack/kind.ts,
 * components/cluster/gate.ts.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gateOnClusterPrerequisites } from "../../components/cluster/gate";
import type { DeclaredObject } from "../../components/cluster/ownership";
import { parseConfig } from "../../components/config";
import { type KindRegistryArgs, planKindRegistry, resolveKindRegistry } from "../../components/kind/kindRegistry";
import {
    type KindLayout,
    nodeInsideScript,
    nodesUnconfigureScript,
    nodeWatchScript,
    watcherStopScript,
} from "../../components/kind/scripts";
import { kindClusterAccess } from "../../components/stack/kind";
import { settle, startMockRuntime } from "../../tools/mockRuntime";
import { configProblems } from "../support/configProblems";
import { privateDir, removeDir, run } from "../support/serverProcess";

const kindStack = (kind: Record<string, unknown>): Record<string, unknown> => ({
    containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
    registry: { mode: "kind" },
    kind,
});

const single: KindLayout = { cluster: "a", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };
const both: KindLayout = { ...single, clusters: ["a", "b"] };

describe("kind.clusterNames: the config", () => {
    it("accepts a list of clusters, and kind.clusterName alone", () => {
        const listed = parseConfig(kindStack({ clusterNames: ["dev", "ci"] })).config.registry;
        expect(listed.mode === "kind" && listed.kind.clusterNames).toEqual(["dev", "ci"]);
        const one = parseConfig(kindStack({ clusterName: "dev" })).config.registry;
        expect(one.mode === "kind" && one.kind.clusterName).toBe("dev");
    });

    it.each([
        [
            "both keys",
            { clusterName: "dev", clusterNames: ["dev", "ci"] },
            /kind.clusterName \("dev"\) are both set: list every cluster in kind.clusterNames/,
        ],
        ["a cluster twice", { clusterNames: ["dev", "ci", "dev"] }, /lists dev more than once/],
    ])("refuses %s", (_case, kind, says) => {
        const problems = configProblems(kindStack(kind), { sshPrivateKey: "secret" });
        expect(problems.find((p) => p.startsWith("dso-registry:kind.clusterNames:"))).toMatch(says);
    });
});

describe("kind.clusterNames: what the placement registers for each cluster", () => {
    const HASH = `$2b$10$${"N".repeat(53)}`;
    const args = (layout: KindLayout, providers: Record<string, pulumi.ProviderResource> = {}): KindRegistryArgs => ({
        connection: { kind: "local", name: "docker", sudo: false },
        layout,
        clusterProviders: providers,
        accounts: { push: { username: "ci-push", bcryptHash: HASH } },
    });
    const plan = (a: KindRegistryArgs) =>
        planKindRegistry("kind-registry", resolveKindRegistry(a), pulumi.output(HASH), "dso-registry/kind");
    const provider = {} as pulumi.ProviderResource;

    it("keeps the single cluster's names for the cluster on the stack's provider, and names each other after its cluster", () => {
        const p = plan(args(both, { b: provider }));
        expect(p.clusters.map((c) => [c.cluster, c.ownProvider, c.nodes.name, c.objects.map((o) => o.name)])).toEqual([
            ["a", true, "kind-registry-nodes", ["kind-registry-local-registry-hosting"]],
            ["b", false, "kind-registry-nodes-b", ["kind-registry-local-registry-hosting-b"]],
        ]);
        expect(p.clusters.map((c) => c.nodes.args.triggers)).toEqual([
            ["a", "kind-registry", 5002],
            ["b", "kind-registry", 5002],
        ]);
        // Each cluster's command acts on its own cluster alone (the scripts as they run: `sh -c '…'` quotes each quote).
        const unquoted = (script: unknown) => String(script).replaceAll("'\\''", "'");
        const perCluster = [expect.stringContaining("\nCLUSTER='a'\n"), expect.stringContaining("\nCLUSTER='b'\n")];
        expect(p.clusters.map((c) => unquoted(c.nodes.args.create))).toEqual(perCluster);
        expect(p.clusters.map((c) => unquoted(c.nodes.args.delete))).toEqual(perCluster);
        expect(p.watcherStop?.name).toBe("kind-registry-watcher-stop");
        expect(unquoted(p.watcherStop?.args.delete)).toContain("\nCLUSTERS='a b'\n");
    });

    it("gives every cluster its own names when each has its own provider", () => {
        const p = plan(args(both, { a: provider, b: provider }));
        expect(p.clusters.map((c) => c.nodes.name)).toEqual(["kind-registry-nodes-a", "kind-registry-nodes-b"]);
    });

    it("refuses two clusters on the component's own provider (their ConfigMaps would be one resource)", () => {
        expect(() => plan(args(both))).toThrow(/kind clusters a, b have no Kubernetes provider of their own/);
    });

    it("refuses a layout whose cluster is not among its clusters", () => {
        expect(() => plan(args({ ...both, cluster: "c" }, { a: provider, b: provider }))).toThrow(
            /layout.cluster "c" is not among layout.clusters \(a, b\)/,
        );
    });

    it("registers for kind.clusterName what it always did: one nodes command, no watcher stop", () => {
        const p = plan(args(single));
        expect(p.clusters.map((c) => c.nodes.name)).toEqual(["kind-registry-nodes"]);
        expect(p.watcherStop).toBeUndefined();
    });
});

describe("kind.clusterNames: the scripts, with a docker stand-in", () => {
    let dir: string;
    const watcherDir = () => path.join(dir, "watcher");
    beforeAll(() => {
        dir = privateDir("kind-clusters");
        mkdirSync(path.join(dir, "bin"));
        // docker stand-in: every call recorded. `ps` lists two nodes of each cluster in UP; `exec` in the
        // watcher greps its scripts in WATCHER_DIR (no directory: no watcher); `events` prints EVENTS;
        // `inspect` says the front is on the kind network, and gives every container the stack's label but
        // those FOREIGN names (someone else's: no label).
        writeFileSync(
            path.join(dir, "bin", "docker"),
            [
                "#!/bin/sh",
                'echo "$*" >> "${CALLS:?}"',
                'case "$1" in',
                '  ps) c=${3#label=io.x-k8s.kind.cluster=}; case " $UP " in *" $c "*) echo "$c-control-plane"; echo "$c-worker" ;; esac ;;',
                "  exec)",
                "    shift",
                '    if [ "$1" = -i ]; then cat >/dev/null; shift; fi',
                '    if [ "$1" = kind-registry-node-watcher ]; then',
                '      [ -d "${WATCHER_DIR:-}" ] || exit 1',
                '      exec grep -qx "$4" "$WATCHER_DIR/$(basename "$5")"',
                "    fi ;;",
                '  events) cat "$EVENTS" ;;',
                '  inspect) for a; do last=$a; done; case " ${FOREIGN:-} $*" in *" $last "*Labels*) ;; *) echo \'{"kind":{}}\' ;; esac ;;',
                "esac",
                "exit 0",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        // The watcher's recheck loop ends at once.
        writeFileSync(path.join(dir, "bin", "sleep"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
        writeFileSync(path.join(dir, "node-inside.sh"), "true\n");
    });
    afterAll(() => removeDir(dir));

    /** A running watcher made for `layout` (its two scripts), or none. */
    function watcher(layout: KindLayout | undefined, watchScript?: string): void {
        rmSync(watcherDir(), { recursive: true, force: true });
        if (!layout) return;
        mkdirSync(watcherDir());
        writeFileSync(path.join(watcherDir(), "node-watch.sh"), watchScript ?? nodeWatchScript(layout));
        writeFileSync(path.join(watcherDir(), "node-inside.sh"), nodeInsideScript(layout));
    }

    function sh(name: string, script: string, env: Record<string, string> = {}) {
        const calls = path.join(dir, `calls-${name}`);
        const { DOCKER_HOST: _host, ...inherited } = process.env;
        const r = run("/bin/sh", ["-c", script], {
            env: { ...inherited, UP: "a b x", WATCHER_DIR: watcherDir(), CALLS: calls, PATH: `${dir}/bin:${process.env.PATH}`, ...env },
        });
        return { ...r, calls: existsSync(calls) ? readFileSync(calls, "utf8").split("\n").filter(Boolean) : [] };
    }
    const touched = (calls: readonly string[]) => [
        ...new Set(
            calls
                .filter((c) => /^exec (-i )?[a-z]+-(control-plane|worker) /.test(c))
                .map((c) => c.split(" ").find((w) => /-(control-plane|worker)$/.test(w))),
        ),
    ];

    it("the watcher configures the nodes of every listed cluster, and a node that starts in one of them, and no other", () => {
        writeFileSync(path.join(dir, "events"), "b-worker b\nx-control-plane x\na-worker a\n");
        const script = nodeWatchScript(both).replace("NODE_SCRIPT_FILE='/dso/node-inside.sh'", `NODE_SCRIPT_FILE='${dir}/node-inside.sh'`);
        const r = sh("watch", script, { EVENTS: path.join(dir, "events") });
        expect(r.code, r.stderr).toBe(0);
        const configured = r.stdout.split("\n").filter((l) => l.endsWith(": configured"));
        expect(configured).toEqual([
            "node a-control-plane: configured",
            "node a-worker: configured",
            "node b-control-plane: configured",
            "node b-worker: configured",
            "node b-worker: configured",
            "node a-worker: configured",
        ]);
        expect(r.calls.some((c) => c.startsWith("events ") && c.includes("--filter label=io.x-k8s.kind.cluster "))).toBe(true);
    });

    it("a cluster taken off the list is cleaned alone, and the watcher that serves the others keeps running", () => {
        watcher({ ...single, clusters: ["a"] });
        const r = sh("remove-b", nodesUnconfigureScript(both, "b"));
        expect(r.code, r.stderr).toBe(0);
        expect(touched(r.calls)).toEqual(["b-control-plane", "b-worker"]);
        expect(r.calls.filter((c) => c.startsWith("stop "))).toEqual([]);
    });

    it("a cluster's files removed while the watcher still serves it with others leave the watcher running", () => {
        watcher(both);
        const r = sh("remove-a-listed", nodesUnconfigureScript(both, "a"));
        expect(r.code, r.stderr).toBe(0);
        expect(touched(r.calls)).toEqual(["a-control-plane", "a-worker"]);
        expect(r.calls.filter((c) => c.startsWith("stop "))).toEqual([]);
    });

    it.each([
        ["a watcher that serves it alone", (): string => nodeWatchScript(single)],
        [
            "a watcher an earlier release made (one CLUSTER line)",
            (): string => nodeWatchScript(single).replace("CLUSTERS='a'", "CLUSTER='a'"),
        ],
    ])("with kind.clusterName, destroy stops %s before removing the files", (_case, watchScript) => {
        watcher(single, watchScript());
        const r = sh(`destroy-single-${watchScript().includes("CLUSTERS=") ? "now" : "earlier"}`, nodesUnconfigureScript(single));
        expect(r.code, r.stderr).toBe(0);
        expect(r.calls.indexOf("stop kind-registry-node-watcher")).toBeGreaterThan(-1);
        expect(r.calls.indexOf("stop kind-registry-node-watcher")).toBeLessThan(
            r.calls.findIndex((c) => c.startsWith("exec a-control-plane rm ")),
        );
    });

    it.each([
        ["kind.clusterName: the cluster's files", "unconfigure", single, nodesUnconfigureScript],
        ["several clusters: the watcher's stop before their files", "stop", both, watcherStopScript],
    ])("destroy (%s) leaves a container of the watcher's name that the stack did not make as it is", (_case, name, layout, script) => {
        // The watcher's scripts are those of a watcher that the script would stop, were it the stack's.
        watcher(layout);
        const r = sh(`foreign-watcher-${name}`, script(layout), { FOREIGN: "kind-registry-node-watcher" });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(
            "left container kind-registry-node-watcher as it is: this stack did not make it (it has no label dso-registry.spec)",
        );
        expect(r.calls.filter((c) => / kind-registry-node-watcher( |$)/.test(c) && !c.startsWith("inspect "))).toEqual([]);
    });

    it("with several clusters, destroy stops the watcher that serves exactly them; one serving another list keeps running", () => {
        watcher(both);
        expect(sh("stop-both", watcherStopScript(both)).calls).toContain("stop kind-registry-node-watcher");
        watcher({ ...single, clusters: ["a"] });
        expect(sh("stop-other", watcherStopScript(both)).calls.filter((c) => c.startsWith("stop "))).toEqual([]);
        watcher(undefined);
        const none = sh("stop-none", watcherStopScript(both));
        expect(none.code, none.stderr).toBe(0);
        expect(none.calls.filter((c) => c.startsWith("stop "))).toEqual([]);
    });
});

describe("kind.clusterNames: each cluster's provider, and the ownership check in each cluster's context", () => {
    const asked: { context?: string; objects: readonly DeclaredObject[] }[] = [];
    let made: Awaited<ReturnType<typeof startMockRuntime>>;

    beforeAll(async () => {
        made = await startMockRuntime({ stack: "dev" });
        await pulumi.runtime.runInPulumiStack(async () => {
            const gate = gateOnClusterPrerequisites({
                run: async () => ({ missing: [], unchecked: [], notes: [] }),
                ownership: async (objects, access) => {
                    asked.push({ ...(access.context ? { context: access.context } : {}), objects });
                    return { foreign: [], unchecked: [] };
                },
            });
            const cfg = parseConfig(kindStack({ clusterNames: ["a", "b", "c"] })).config;
            if (cfg.registry.mode !== "kind") throw new Error("kind stack expected");
            const access = kindClusterAccess({ registry: cfg.registry, kubernetesContext: "kind-b" });
            expect(access.cluster).toBe("b");
            expect(Object.keys(access.providers)).toEqual(["a", "c"]);
            const configMap = (name: string, provider?: pulumi.ProviderResource) =>
                new k8s.core.v1.ConfigMap(
                    name,
                    { metadata: { name: "local-registry-hosting", namespace: "kube-public" } },
                    provider ? { provider } : {},
                );
            configMap("own");
            configMap("of-a", access.providers.a);
            configMap("of-c", access.providers.c);
            await gate.check({ context: "kind-b" });
            await settle();
            return {};
        });
    });

    it("makes a provider with context kind-<name> for each listed cluster but the stack's own", () => {
        expect(made.ofType("pulumi:providers:kubernetes").map((r) => [r.name, r.inputs.context])).toEqual([
            ["kind-registry-k8s-a", "kind-a"],
            ["kind-registry-k8s-c", "kind-c"],
        ]);
    });

    it("asks each context about its own cluster's objects, the stack's first", () => {
        const cm = { apiVersion: "v1", kind: "ConfigMap", namespace: "kube-public", name: "local-registry-hosting" };
        expect(asked).toEqual([
            { context: "kind-b", objects: [cm] },
            { context: "kind-a", objects: [cm] },
            { context: "kind-c", objects: [cm] },
        ]);
    });

    it('keeps kind.clusterName on the stack\'s provider, "kind" when unset', () => {
        const cfg = parseConfig(kindStack({})).config;
        if (cfg.registry.mode !== "kind") throw new Error("kind stack expected");
        expect(kindClusterAccess({ registry: cfg.registry })).toEqual({ cluster: "kind", providers: {} });
    });
});
