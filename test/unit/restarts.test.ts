/**
 * The rolling restart of k3s / RKE2 nodes: the order, servers one at a time and agents in batches after
 * them. The restart part of each node's registries.yaml script: registriesYaml.restarts.test.ts; the
 * restarts run for real in nodeTrustSsh.test.ts.
 */
import { describe, expect, it } from "vitest";
import { planRollingRestarts, type RestartingNode } from "../../components/nodeTrust/restarts";

const server = (name: string): RestartingNode => ({ name, role: "server" });
const agent = (name: string): RestartingNode => ({ name, role: "agent" });

describe("planRollingRestarts", () => {
    it.each([
        {
            what: "three servers: each after the one before",
            nodes: [server("s1"), server("s2"), server("s3")],
            batch: 2,
            turns: [
                ["s1", [], "server 1 of 3"],
                ["s2", ["s1"], "server 2 of 3, after s1"],
                ["s3", ["s2"], "server 3 of 3, after s2"],
            ],
        },
        {
            what: "agents in batches of two after the last server",
            nodes: [server("s1"), agent("a1"), agent("a2"), agent("a3"), server("s2")],
            batch: 2,
            turns: [
                ["s1", [], "server 1 of 2"],
                ["s2", ["s1"], "server 2 of 2, after s1"],
                ["a1", ["s2"], "agent batch 1 of 2, after s2"],
                ["a2", ["s2"], "agent batch 1 of 2, after s2"],
                ["a3", ["a1", "a2"], "agent batch 2 of 2, after a1, a2"],
            ],
        },
        {
            what: "agents alone: the first batch waits for nothing",
            nodes: [agent("a1"), agent("a2"), agent("a3")],
            batch: 1,
            turns: [
                ["a1", [], "agent batch 1 of 3"],
                ["a2", ["a1"], "agent batch 2 of 3, after a1"],
                ["a3", ["a2"], "agent batch 3 of 3, after a2"],
            ],
        },
        { what: "no nodes", nodes: [], batch: 1, turns: [] },
    ])("$what", ({ nodes, batch, turns }) => {
        expect(planRollingRestarts(nodes, batch).map((t) => [t.name, t.after, t.turn])).toEqual(turns);
    });

    it.each([0, 1.5, -1])("refuses batch size %s", (batch) => {
        expect(() => planRollingRestarts([agent("a1")], batch)).toThrow(/at least 1/);
    });
});
