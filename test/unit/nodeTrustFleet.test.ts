/**
 * Node trust on a fleet of nodes over SSH (components/nodeTrust/nodeTrustFleet.ts), made by the stack
 * from its `nodes` config under Pulumi's mocks: k3s nodes take turns, servers one at a time and then
 * agents in batches, each node's restart script saying its turn. The order itself: restarts.test.ts;
 * what each delivery creates: nodeTrust.defineStack.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, settle, startMockRuntime } from "../../tools/mockRuntime";
import { nodesConfig as cfg, nodeEntry as node } from "../support/nodesConfig";

let rt: MockRuntime;
let stack: typeof import("../../components/stack");

beforeAll(async () => {
    rt = await startMockRuntime({ stack: "test" });
    stack = await import("../../components/stack");
});

describe("node trust from stack config (defineStack)", () => {
    it("k3s nodes take turns: each node's restart script says its turn (servers, then agents in batches)", async () => {
        stack.defineStack(
            cfg({
                delivery: "ssh",
                runtime: "k3s",
                restartBatchSize: 2,
                list: [
                    node("ra1", { role: "agent" }),
                    node("rs1"),
                    node("ra2", { role: "agent" }),
                    node("rs2"),
                    node("ra3", { role: "agent" }),
                ],
            }),
        );
        await settle();
        const turnOf = (name: string) =>
            // The script's TURN parameter, in the single quotes of `sudo -n sh -c '…'`.
            String(rt.byName(`node-trust-${name}-registries-yaml-write`).inputs.create).match(/\nTURN='\\''([^']*)'\\''\n/)?.[1];
        expect(["rs1", "rs2", "ra1", "ra2", "ra3"].map(turnOf)).toEqual([
            "server 1 of 2",
            "server 2 of 2, after rs1",
            "agent batch 1 of 2, after rs2",
            "agent batch 1 of 2, after rs2",
            "agent batch 2 of 2, after ra1, ra2",
        ]);
    });
});
