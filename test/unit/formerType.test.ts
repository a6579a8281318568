/**
 * components/shared/formerType.ts: the alias from a component's former type token, and the URN a
 * resource had under it (its parents' kept, or none when it used to be top-level). That `pulumi up`
 * takes the former states over is checked on the committed stacks' identities (identity.test.ts) and on
 * the real engine (test/engine/upgrade.test.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { urnWithFormerType, withFormerType } from "../../components/shared/formerType";

/** A stand-in for a registered resource: only its URN is read. */
const resourceAt = (urn: string) => ({ urn: { apply: <U>(f: (u: string) => U) => f(urn) } }) as unknown as pulumi.Resource;

describe("withFormerType", () => {
    it("adds an alias from the former type token and keeps the other options", () => {
        expect(withFormerType({ protect: true }, "dso:old:Thing")).toEqual({ protect: true, aliases: [{ type: "dso:old:Thing" }] });
    });

    it("keeps the aliases the caller gave", () => {
        expect(withFormerType({ aliases: [{ name: "before" }] }, "dso:old:Thing").aliases).toEqual([
            { name: "before" },
            { type: "dso:old:Thing" },
        ]);
    });

    it("works without options", () => {
        expect(withFormerType(undefined, "dso:old:Thing")).toEqual({ aliases: [{ type: "dso:old:Thing" }] });
    });
});

describe("urnWithFormerType", () => {
    const urn = "urn:pulumi:prod::dso-registry::dso-registry:a:Parent$dso-registry:b:Child::child-name";

    it("replaces the resource's own type and keeps its parents'", () => {
        expect(urnWithFormerType(resourceAt(urn), "dso:b:Child")).toBe(
            "urn:pulumi:prod::dso-registry::dso-registry:a:Parent$dso:b:Child::child-name",
        );
    });

    it("drops the parents when the resource used to be top-level", () => {
        expect(urnWithFormerType(resourceAt(urn), "dso:b:Child", { formerlyTopLevel: true })).toBe(
            "urn:pulumi:prod::dso-registry::dso:b:Child::child-name",
        );
    });
});
