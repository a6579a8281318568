/**
 * What the engine and the providers do with the committed stacks' resources, read from the synth's
 * resources.json: inputs and options whose provider default would misbehave on the second `up` or on
 * a destroy (shared/DESIGN.md §6, "What the engine does that the mock runtime hides").
 * Covers: components/mirrors/mirrorManifests.ts (the caches' claims).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readStackConfig, runProgram } from "../../tools/synth";
import { committedSynthDir } from "../support/committedSynth";
import { COMMITTED_STACKS, PROJECT_DIR } from "../support/synthCli";

interface Resource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
    readonly options?: Record<string, any>;
}

function resourcesOf(stack: (typeof COMMITTED_STACKS)[number]): Resource[] {
    return JSON.parse(readFileSync(path.join(committedSynthDir(stack), "resources.json"), "utf8")) as Resource[];
}

describe.each(COMMITTED_STACKS)("the committed %s stack", (stack) => {
    it("sends no previous output to commands (sshd's default AcceptEnv refuses PULUMI_COMMAND_STDOUT)", () => {
        const commands = resourcesOf(stack).filter((r) => r.type.startsWith("command:"));
        const sending = commands.filter((c) => c.inputs.addPreviousOutputInEnv !== false).map((c) => c.name);
        expect(sending).toEqual([]);
    });
});

describe("the local stack", () => {
    it("does not wait for its Ingress to get a load balancer address, which some controllers never publish", () => {
        const ingresses = resourcesOf("local").filter((r) => r.type === "kubernetes:networking.k8s.io/v1:Ingress");
        expect(ingresses.length).toBeGreaterThan(0);
        for (const ingress of ingresses) {
            expect(ingress.inputs.metadata.annotations?.["pulumi.com/skipAwait"], ingress.name).toBe("true");
        }
    });
});

describe("the prod stack", () => {
    it("has remote commands to check", () => {
        expect(resourcesOf("prod").filter((r) => r.type === "command:remote:Command").length).toBeGreaterThan(20);
    });
});

describe("the microk8s Corefile command of the local stack", () => {
    async function corefileCreate(extra: Record<string, string>): Promise<string> {
        const stackConfig = readStackConfig(PROJECT_DIR, "local");
        const run = await runProgram("local", { ...stackConfig, config: { ...stackConfig.config, ...extra } });
        const corefile = run.resources.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-corefile"));
        expect(corefile).toHaveLength(1);
        return String(corefile[0]!.inputs.create);
    }

    it("uses the context Pulumi deploys with (kubernetes:context), not kubectl's current one", async () => {
        expect(await corefileCreate({ "kubernetes:context": "lab-cluster" })).toContain("\nKUBECTL_CONTEXT='lab-cluster'\n");
    });

    it("uses inCluster.clusterDns.kubectlContext when the stack sets it", async () => {
        const inCluster = JSON.parse(readStackConfig(PROJECT_DIR, "local").config["dso-registry:inCluster"]!);
        inCluster.clusterDns.kubectlContext = "named";
        const create = await corefileCreate({ "kubernetes:context": "lab-cluster", "dso-registry:inCluster": JSON.stringify(inCluster) });
        expect(create).toContain("\nKUBECTL_CONTEXT='named'\n");
    });
});

describe("data in the cluster is never deleted as a side effect (the local stack)", () => {
    const options = (type: string, objectName: string) => {
        const found = resourcesOf("local").filter((r) => r.type === type && r.inputs.metadata?.name === objectName);
        expect(found, `${type} ${objectName}`).toHaveLength(1);
        return found[0]!.options ?? {};
    };

    it.each([
        ["kubernetes:core/v1:Namespace", "dso"],
        ["kubernetes:core/v1:PersistentVolumeClaim", "registry-data"],
        ["kubernetes:core/v1:PersistentVolumeClaim", "maven-data"],
    ])("%s %s is kept in the cluster when Pulumi deletes it (destroy, or a namespace rename)", (type, objectName) => {
        expect(options(type, objectName).retainOnDelete).toBe(true);
    });

    it("a pull-through cache's claim is not kept: its content comes back from the upstream", () => {
        const caches = resourcesOf("local").filter(
            (r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim" && String(r.inputs.metadata?.name).startsWith("registry-mirror-"),
        );
        expect(caches.length).toBeGreaterThan(0);
        for (const cache of caches) expect(cache.options?.retainOnDelete, cache.name).toBeUndefined();
    });
});

describe("a config change that moves what a command acts on replaces it, so the old delete runs", () => {
    /** The commands the program registers for `stack` with `change` applied to its config: URN → inputs. */
    async function commandsOf(stack: "local" | "prod", change: (config: Record<string, string>) => void): Promise<Map<string, Resource>> {
        const stackConfig = readStackConfig(PROJECT_DIR, stack);
        const config = { ...stackConfig.config };
        change(config);
        const run = await runProgram(stack, { ...stackConfig, config });
        return new Map(run.resources.filter((r) => r.type.startsWith("command:")).map((r) => [r.urn, r as unknown as Resource]));
    }
    /** The registry's host name changed (and the Maven registry's, where it shares the host). */
    const renamed = (config: Record<string, string>) => {
        const registry = JSON.parse(config["dso-registry:containerRegistry"]!);
        const maven = JSON.parse(config["dso-registry:mavenRegistry"] ?? "{}");
        if (maven.host === registry.host) config["dso-registry:mavenRegistry"] = JSON.stringify({ ...maven, host: "renamed.example.test" });
        config["dso-registry:containerRegistry"] = JSON.stringify({ ...registry, host: "renamed.example.test" });
    };

    /** Commands kept under the same URN whose delete script changed while their triggers did not. */
    function updatedInPlaceWithNewDelete(before: Map<string, Resource>, after: Map<string, Resource>): string[] {
        return [...after]
            .filter(([urn, r]) => {
                const old = before.get(urn);
                return (
                    old &&
                    old.inputs.delete !== r.inputs.delete &&
                    JSON.stringify(old.inputs.triggers) === JSON.stringify(r.inputs.triggers)
                );
            })
            .map(([, r]) => r.name);
    }

    it.each([
        ["prod", "containerRegistry.host renamed", renamed],
        [
            "prod",
            "containerRegistry.host renamed, with a generated CA on every node",
            (config: Record<string, string>) => {
                const registry = JSON.parse(config["dso-registry:registry"]!);
                config["dso-registry:registry"] = JSON.stringify({ ...registry, tls: { mode: "generated-ca" } });
                renamed(config);
            },
        ],
        ["local", "containerRegistry.host renamed", renamed],
        [
            "local",
            "kubernetes:context set",
            (config: Record<string, string>) => {
                config["kubernetes:context"] = "lab-cluster";
            },
        ],
    ] as const)("%s stack, %s", async (stack, _, change) => {
        // The same config but for the name, so that only the rename differs.
        const before = await commandsOf(stack, (config) => {
            change(config);
            for (const key of ["dso-registry:containerRegistry", "dso-registry:mavenRegistry"]) {
                if (config[key])
                    config[key] = config[key]!.replaceAll(
                        "renamed.example.test",
                        JSON.parse(readStackConfig(PROJECT_DIR, stack).config[key]!).host,
                    );
            }
            delete config["kubernetes:context"];
        });
        const after = await commandsOf(stack, change);
        expect(updatedInPlaceWithNewDelete(before, after)).toEqual([]);
    });

    it("replacements run the old delete first: the new command may act on the same file or block", async () => {
        const commands = [...(await commandsOf("prod", () => {})).values()];
        const triggered = commands.filter((c) => c.inputs.triggers !== undefined);
        expect(triggered.length).toBeGreaterThan(0);
        for (const c of triggered) expect(c.options?.deleteBeforeReplace, c.name).toBe(true);
    });
});
