/**
 * The mock runtime records each registration as the engine receives it: the URN the engine gives it and
 * the options that change what the engine does, which Pulumi's mocks do not pass to `newResource`.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, settle, startMockRuntime } from "../../tools/mockRuntime";
import { runProgram } from "../../tools/synth";

let rt: MockRuntime;

class Outer extends pulumi.ComponentResource {
    constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
        super("test:outer:Outer", name, {}, opts);
        this.registerOutputs({});
    }
}

class Thing extends pulumi.CustomResource {
    constructor(name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super("test:index:Thing", name, props, opts);
    }
}

const urn = (qualifiedType: string, name: string) => `urn:pulumi:s::dso-registry::${qualifiedType}::${name}`;

beforeAll(async () => {
    rt = await startMockRuntime({ stack: "s" });
    await pulumi.runtime.runInPulumiStack(async () => {
        const outer = new Outer("outer", { aliases: [{ type: "old:outer:Outer" }] });
        new Thing("lone", {}, { parent: outer });
        const inner = new Outer("outer-inner", { parent: outer, protect: true });
        const first = new Thing("first", {}, { parent: inner });
        new Thing(
            "second",
            { fromFirst: first.urn },
            {
                parent: inner,
                dependsOn: [outer],
                retainOnDelete: true,
                deleteBeforeReplace: true,
                ignoreChanges: ["a"],
                replaceOnChanges: ["b"],
                additionalSecretOutputs: ["c"],
                aliases: [{ name: "old-second", parent: outer }],
            },
        );
        return {};
    });
    await settle();
});

describe("the mock runtime's record", () => {
    it("gives each resource the engine's URN: every parent's type, the stack's left out", () => {
        expect(rt.resources.map((r) => r.urn).sort()).toEqual([
            urn("pulumi:pulumi:Stack", "dso-registry-s"),
            urn("test:outer:Outer$test:index:Thing", "lone"),
            urn("test:outer:Outer$test:outer:Outer$test:index:Thing", "first"),
            urn("test:outer:Outer$test:outer:Outer$test:index:Thing", "second"),
            urn("test:outer:Outer$test:outer:Outer", "outer-inner"),
            urn("test:outer:Outer", "outer"),
        ]);
        expect(rt.byName("second").parentUrn).toBe(rt.byName("outer-inner").urn);
    });

    it("records the options that change what the engine does", () => {
        expect(rt.byName("second").options).toEqual({
            protect: true,
            retainOnDelete: true,
            deleteBeforeReplace: true,
            replaceOnChanges: ["b"],
            ignoreChanges: ["a"],
            // dependsOn a component: the custom resources in it, less those an input already waits for.
            dependsOn: [rt.byName("lone").urn],
            aliases: [urn("test:outer:Outer$test:index:Thing", "old-second")],
        });
        expect(rt.byName("second").additionalSecretOutputs).toEqual(["c"]);
    });

    it("records a component's aliases as the URNs they name", () => {
        expect(rt.byName("outer").options.aliases).toEqual([urn("old:outer:Outer", "outer")]);
    });

    it("records a resource without options as such", () => {
        expect(rt.byName("lone").options).toEqual({
            protect: false,
            retainOnDelete: false,
            deleteBeforeReplace: false,
            replaceOnChanges: [],
            ignoreChanges: [],
            dependsOn: [],
            aliases: [],
        });
    });
});

describe("a URN registered twice", () => {
    it("is refused with the engine's message, as `pulumi preview` refuses it", async () => {
        const twice = await startMockRuntime({ stack: "s" });
        await pulumi.runtime.runInPulumiStack(async () => {
            const outer = new Outer("outer");
            new Thing("same", {}, { parent: outer });
            new Thing("same", {}, { parent: outer });
            // The same name under another parent type is another URN: no error.
            new Thing("same", {}, { parent: new Outer("outer-2", { parent: outer }) });
            return {};
        });
        await settle();
        expect(twice.errors).toEqual([
            `Duplicate resource URN '${urn("test:outer:Outer$test:index:Thing", "same")}'; try giving it a unique name`,
        ]);
        expect(twice.resources.filter((r) => r.name === "same")).toHaveLength(3);
    });

    // flux-system listed and `flux: true` must not register its pull secret twice:
    // the program may take it once or refuse the config, but never reach the engine's refusal.
    it("never registers the flux-system pull secret twice", async () => {
        const config = (pullSecrets: unknown) => ({
            config: Object.fromEntries(
                Object.entries({
                    containerRegistry: { host: "registry.corp.example.test", pathPrefix: "platform", requiresAuthForPull: true },
                    registry: { mode: "existing", tls: { mode: "public" } },
                    nodes: { delivery: "daemonset", runtime: "k3s" },
                    pullSecrets,
                }).map(([k, v]) => [`dso-registry:${k}`, JSON.stringify(v)]),
            ),
            secretKeys: [],
        });
        const outcome = await runProgram("s", config({ namespaces: ["apps", "flux-system"], flux: true })).then(
            () => "ran",
            (error: Error) => error.message,
        );
        expect(outcome).not.toMatch(/Duplicate resource URN/);
    });
});
