/**
 * The dynamic resources' type token (components/shared/dynamicType.ts) is the one the SDK gives them: a
 * dynamic resource registered under the mock runtime is recorded with that type.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { dynamicResourceType } from "../../components/shared/dynamicType";

describe("dynamicResourceType", () => {
    it("is the token the SDK registers a dynamic resource under", async () => {
        const types: string[] = [];
        pulumi.runtime.setMocks(
            {
                newResource: (args) => {
                    types.push(args.type);
                    return { id: `${args.name}-id`, state: args.inputs };
                },
                call: () => ({}),
            },
            "project",
            "stack",
            false,
        );
        const provider: pulumi.dynamic.ResourceProvider = { create: async () => ({ id: "x", outs: {} }) };
        class Probe extends pulumi.dynamic.Resource {
            constructor(name: string) {
                super(provider, name, {}, undefined, "probe-module", "ProbeType");
            }
        }
        const probe = new Probe("p");
        await new Promise<void>((resolve) => probe.urn.apply(() => resolve()));
        expect(types).toContain(dynamicResourceType("probe-module", "ProbeType"));
        expect(dynamicResourceType("probe-module", "ProbeType")).toBe("pulumi-nodejs:dynamic/probe-module:ProbeType");
    });
});
