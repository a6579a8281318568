/**
 * Resource identity: the URNs the program gives each committed stack are the recorded ones
 * (test/identity/<stack>.txt), so a rename that would make `pulumi up` delete and recreate a resource
 * fails here with one line per resource; and the engine's rules that decide it (tools/identity.ts),
 * on made-up stacks.
 * Covers: components/nodeTrust/nodeTrustFleet.ts (the fleet's takeover of former states).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
    aliasUrn,
    identitiesOf,
    identityDrift,
    parseRecord,
    type ResourceIdentity,
    recordPath,
    recordText,
    takeOvers,
    unmovedRemovals,
    urnOf,
} from "../../tools/identity";
import { committedSynthDir } from "../support/committedSynth";
import { COMMITTED_STACKS, PROJECT_DIR } from "../support/synthCli";

describe.each(COMMITTED_STACKS)("resource identities of the committed %s stack", (stack) => {
    it("are the recorded ones", () => {
        const rows = JSON.parse(readFileSync(path.join(committedSynthDir(stack), "resources.json"), "utf8"));
        const file = recordPath(PROJECT_DIR, stack);
        const recorded = parseRecord(readFileSync(file, "utf8"));
        expect(recorded.length).toBeGreaterThan(0);
        const drift = identityDrift(path.relative(PROJECT_DIR, file), recorded, identitiesOf(rows));
        if (drift !== "") expect.fail(drift);
    });
});

describe("the committed prod stack from an older state", () => {
    it("keeps each node's registries.yaml command of a state from before NodeFile and NodeTrustFleet (its delete removes the file)", () => {
        const rows = JSON.parse(readFileSync(path.join(committedSynthDir("prod"), "resources.json"), "utf8"));
        const prod = (qualifiedType: string, name: string) => `urn:pulumi:prod::dso-registry::${qualifiedType}::${name}`;
        const former = new Set([
            prod("dso:nodes:NodeTrust", "node-trust-k3s-agent-1"),
            prod("dso:nodes:NodeTrust$command:remote:Command", "node-trust-k3s-agent-1-registries-yaml"),
        ]);
        expect(Object.fromEntries(takeOvers(identitiesOf(rows), former))).toEqual({
            [prod("dso:nodes:NodeTrust", "node-trust-k3s-agent-1")]: prod(
                "dso-registry:nodeTrust:NodeTrustFleet$dso-registry:nodeTrust:NodeTrust",
                "node-trust-k3s-agent-1",
            ),
            [prod("dso:nodes:NodeTrust$command:remote:Command", "node-trust-k3s-agent-1-registries-yaml")]: prod(
                "dso-registry:nodeTrust:NodeTrustFleet$dso-registry:nodeTrust:NodeTrust$dso-registry:nodeTrust:NodeFile$command:remote:Command",
                "node-trust-k3s-agent-1-registries-yaml-write",
            ),
        });
    });
});

const urn = (qualifiedType: string, name: string) => `urn:pulumi:t::p::${qualifiedType}::${name}`;
const STACK = urn("pulumi:pulumi:Stack", "p-t");

function resource(qualifiedType: string, name: string, parentUrn: string | undefined = STACK, aliases: string[] = []): ResourceIdentity {
    return { urn: urn(qualifiedType, name), parentUrn, aliases };
}

/** A registry host component with a file component in it, and the file's command. */
function hostStack(hostType: string, fileType: string, aliases: { host?: string[]; file?: string[] } = {}): ResourceIdentity[] {
    const host = resource(hostType, "host", STACK, aliases.host);
    const file = resource(`${hostType}$${fileType}`, "host-config", host.urn, aliases.file);
    const write = resource(`${hostType}$${fileType}$command:remote:Command`, "host-config-write", file.urn);
    return [{ urn: STACK, aliases: [] }, host, file, write];
}

const before = hostStack("dso:registry:Host", "dso:host:File");
const recordedBefore = parseRecord(recordText("t", before));

describe("urnOf", () => {
    it.each([
        ["a resource of the stack: the stack's type left out", STACK, urn("dso:registry:Host", "host")],
        ["a child: every parent's type before its own", urn("a:b:C$d:e:F", "f"), urn("a:b:C$d:e:F$dso:registry:Host", "host")],
        ["a resource without parent", undefined, urn("dso:registry:Host", "host")],
    ])("%s", (_, parentUrn, expected) => {
        expect(urnOf("t", "p", parentUrn, "dso:registry:Host", "host")).toBe(expected);
    });
});

describe("aliasUrn", () => {
    const owner = { urn: urn("a:b:C$new:type:T", "res"), parentUrn: urn("a:b:C", "c") };
    it.each([
        ["a former type, under the same parent", { type: "old:type:T" }, urn("a:b:C$old:type:T", "res")],
        ["a former name", { name: "old-res" }, urn("a:b:C$new:type:T", "old-res")],
        ["a former parent", { parentUrn: urn("x:y:Z", "z") }, urn("x:y:Z$new:type:T", "res")],
        ["no parent before", { noParent: true }, urn("new:type:T", "res")],
        ["a whole URN", { urn: urn("q:r:S", "s") }, urn("q:r:S", "s")],
    ])("%s", (_, alias, expected) => {
        expect(aliasUrn(owner, alias)).toBe(expected);
    });
});

describe("takeOvers (which former identity each resource inherits on pulumi up)", () => {
    const former = new Set(before.map((r) => r.urn));

    it("moves a retyped component and its children when the component has an alias from its former type", () => {
        const after = hostStack("dso-registry:externalHost:Host", "dso:host:File", { host: [urn("dso:registry:Host", "host")] });
        expect(Object.fromEntries(takeOvers(after, former))).toEqual({
            [before[1]!.urn]: after[1]!.urn,
            [before[2]!.urn]: after[2]!.urn,
            [before[3]!.urn]: after[3]!.urn,
        });
    });

    it("moves a retyped component inside a retyped component when each has an alias from its former type", () => {
        const newHost = "dso-registry:externalHost:Host";
        const after = hostStack(newHost, "dso-registry:shared:File", {
            host: [urn("dso:registry:Host", "host")],
            // As the SDK sends an alias of type only: under the component's current URN.
            file: [urn(`${newHost}$dso:host:File`, "host-config")],
        });
        expect(takeOvers(after, former).size).toBe(3);
        expect(takeOvers(after, former).get(before[3]!.urn)).toBe(after[3]!.urn);
    });

    it("moves nothing when a retyped component has no alias", () => {
        expect(takeOvers(hostStack("dso-registry:externalHost:Host", "dso:host:File"), former).size).toBe(0);
    });

    it("renames children named after a renamed parent, as the engine does", () => {
        const oldTree = [resource("a:b:C", "old"), resource("a:b:C$k:l:M", "old-key", urn("a:b:C", "old"))];
        const renamed = [resource("a:b:C", "new", STACK, [urn("a:b:C", "old")]), resource("a:b:C$k:l:M", "new-key", urn("a:b:C", "new"))];
        expect(takeOvers(renamed, new Set(oldTree.map((r) => r.urn))).get(urn("a:b:C$k:l:M", "old-key"))).toBe(
            urn("a:b:C$k:l:M", "new-key"),
        );
    });
});

describe("identityDrift (the message of a failed identity test)", () => {
    it("is empty when program and record agree", () => {
        expect(identityDrift("test/identity/t.txt", recordedBefore, before)).toBe("");
    });

    it("names each resource a rename without alias deletes and creates, and how to keep its state", () => {
        const after = hostStack("dso-registry:externalHost:Host", "dso:host:File");
        expect(identityDrift("test/identity/t.txt", recordedBefore, after).split("\n")).toEqual([
            "Resource identities differ from test/identity/t.txt:",
            `- ${urn("dso:registry:Host$dso:host:File$command:remote:Command", "host-config-write")} (pulumi up deletes it: no resource has an alias naming it)`,
            `- ${urn("dso:registry:Host$dso:host:File", "host-config")} (pulumi up deletes it: no resource has an alias naming it)`,
            `- ${urn("dso:registry:Host", "host")} (pulumi up deletes it: no resource has an alias naming it)`,
            `+ ${urn("dso-registry:externalHost:Host", "host")} (new)`,
            `+ ${urn("dso-registry:externalHost:Host$dso:host:File", "host-config")} (new)`,
            `+ ${urn("dso-registry:externalHost:Host$dso:host:File$command:remote:Command", "host-config-write")} (new)`,
            'A resource that is renamed, retyped or moved to another parent keeps its state only when it carries `aliases: [{ type: "<former type>" }]` (or `name`, `parent`) naming its former identity; add that, then record the identities with: npm run identity:record. If the resource really goes away: npm run identity:record -- --allow-removals',
        ]);
    });

    it("shows where each resource moves when the renamed component has an alias, and how to record it", () => {
        const after = hostStack("dso-registry:externalHost:Host", "dso:host:File", { host: [urn("dso:registry:Host", "host")] });
        const lines = identityDrift("test/identity/t.txt", recordedBefore, after).split("\n");
        expect(lines[1]).toBe(
            `- ${urn("dso:registry:Host$dso:host:File$command:remote:Command", "host-config-write")} (its state moves by an alias)`,
        );
        expect(lines).toContain(
            `+ ${after[3]!.urn} (takes over ${urn("dso:registry:Host$dso:host:File$command:remote:Command", "host-config-write")})`,
        );
        expect(lines).toContain(`+ ${urn("dso-registry:externalHost:Host", "host")} (takes over ${urn("dso:registry:Host", "host")})`);
        expect(lines.at(-1)).toBe("If the change is intended, record it with: npm run identity:record");
    });

    it("reports an alias taken away, though every URN stays", () => {
        const aliased = hostStack("dso:registry:Host", "dso:host:File", { host: [urn("old:type:Host", "host")] });
        expect(identityDrift("test/identity/t.txt", parseRecord(recordText("t", aliased)), before).split("\n")[1]).toBe(
            `+ ${urn("dso:registry:Host", "host")} (aliases were [${urn("old:type:Host", "host")}], now [])`,
        );
    });
});

describe("unmovedRemovals (what identity:record refuses to drop)", () => {
    it("lists the recorded identities no resource takes over", () => {
        expect(unmovedRemovals(recordedBefore, before.slice(0, 3))).toEqual([before[3]!.urn]);
    });

    it("is empty when aliases take every former identity over", () => {
        const after = hostStack("dso-registry:externalHost:Host", "dso:host:File", { host: [urn("dso:registry:Host", "host")] });
        expect(unmovedRemovals(recordedBefore, after)).toEqual([]);
    });
});

describe("records and resources.json", () => {
    it("reads back what recordText writes", () => {
        const aliased = hostStack("dso:registry:Host", "dso:host:File", { host: [urn("old:type:Host", "host")] });
        expect(parseRecord(recordText("t", aliased))).toEqual(
            [...aliased].sort((a, b) => (a.urn < b.urn ? -1 : 1)).map((r) => ({ urn: r.urn, aliases: r.aliases })),
        );
    });

    it("finds each parent's URN from its child's URN and the parent's name", () => {
        const rows = [
            { urn: STACK },
            { urn: urn("dso:registry:Host", "host"), parent: "p-t" },
            { urn: urn("dso:registry:Host$dso:host:File", "host-config"), parent: "host", options: { aliases: ["b", "a"] } },
        ];
        expect(identitiesOf(rows)).toEqual([
            {
                urn: urn("dso:registry:Host$dso:host:File", "host-config"),
                parentUrn: urn("dso:registry:Host", "host"),
                aliases: ["a", "b"],
            },
            { urn: urn("dso:registry:Host", "host"), parentUrn: STACK, aliases: [] },
            { urn: STACK, parentUrn: undefined, aliases: [] },
        ]);
    });

    it("refuses resources.json rows whose parent is not in it", () => {
        expect(() => identitiesOf([{ urn: urn("dso:registry:Host$dso:host:File", "f"), parent: "gone" }])).toThrow(
            /parent of .* is not in it/,
        );
    });
});
