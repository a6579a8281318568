/**
 * The rolling restart of k3s / RKE2 nodes: the order (servers one at a time, agents in batches after
 * them) and the restart step each node's script carries. The steps run for real in nodeTrustSsh.test.ts.
 */
import { describe, expect, it } from "vitest";
import { planRollingRestarts, type RestartingNode, restartAfterChange } from "../../components/nodeTrust/restarts";

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

describe("restartAfterChange", () => {
    const settings = { allow: true, timeoutSeconds: 120 };

    it.each([
        ["k3s", "k3s kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node"],
        ["rke2", "kubectl --kubeconfig /var/lib/rancher/rke2/agent/kubelet.kubeconfig get node"],
    ] as const)("%s checks the node with its own kubectl and the kubelet's credentials", (flavour, kubectl) => {
        expect(restartAfterChange(flavour, "/etc/rancher/x/registries.yaml", ["u"], settings, "apply")).toContain(kubectl);
    });

    it("waits as long as configured", () => {
        expect(restartAfterChange("k3s", "/f", ["k3s"], settings, "apply")).toContain("deadline=$(( $(date +%s) + 120 ))");
    });

    it("with a configured node name, checks that node", () => {
        expect(restartAfterChange("k3s", "/f", ["k3s"], { ...settings, nodeName: "worker-7.lab" }, "apply")).toContain(
            "node='worker-7.lab'",
        );
    });

    it("without permission restarts nothing and says what to run", () => {
        const script = restartAfterChange(
            "rke2",
            "/etc/rancher/rke2/registries.yaml",
            ["rke2-server", "rke2-agent"],
            { ...settings, allow: false },
            "apply",
        );
        expect(script).not.toContain("systemctl restart");
        expect(script).toContain("restart rke2-server or rke2-agent to apply it (dso-registry:nodes.allowServiceRestart is false)");
    });
});
