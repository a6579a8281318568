/**
 * What node trust registers on one node (`planNodeTrust`, components/nodeTrust/nodeTrustPerNode.ts), tested
 * without a Pulumi runtime: the owner claim, which file goes through a HostFile and which through a command of
 * its own (NodeFile), their names, what each waits for, which files a refresh reads back and how, and which
 * resource a later node's restart waits for. The constructor only registers this description.
 */
import { describe, expect, it } from "vitest";
import type { NodeMirror } from "../../components/mirrors/mirrors";
import { resolveNodeTrust } from "../../components/nodeTrust/common";
import { ownerScript } from "../../components/nodeTrust/files";
import { type NodeTrustArgs, planNodeTrust } from "../../components/nodeTrust/nodeTrustPerNode";
import type { RuntimeFlavour } from "../../components/shared/facts";

const ssh = {
    kind: "ssh",
    name: "node-1",
    host: "10.0.0.1",
    port: 22,
    user: "deploy",
    privateKey: "KEY",
    hostKey: "ssh-ed25519 AAAA",
    sudo: true,
} as const;
const dockerHub = { upstream: "docker.io", pathName: "docker.io", remoteUrl: "https://registry-1.docker.io" } as NodeMirror;
const STACK = "dso-registry.test";
const unquoted = (script: string) => script.replaceAll("'\\''", "'");

function node(flavour: RuntimeFlavour, more: Partial<NodeTrustArgs> = {}): NodeTrustArgs {
    return { host: "registry.example.test", port: 5000, flavour, caCertPem: "CA", registryAddress: "10.0.0.5", connection: ssh, ...more };
}
const plan = (args: NodeTrustArgs) => planNodeTrust("trust", resolveNodeTrust(args), STACK);

/** Each resource after the claim: its kind, name and what it waits for. */
const order = (args: NodeTrustArgs) => plan(args).resources.map((r) => [r.kind, r.name, r.dependsOn]);

describe("planNodeTrust", () => {
    it("claims the node first, and releases it on delete, under the stack's and the entry's names", () => {
        const { owner } = plan(node("containerd"));
        expect(owner.name).toBe("trust-owner");
        expect(owner.dependsOn).toBeUndefined();
        expect(owner.args.create).toContain(STACK);
        expect(owner.args.delete).toContain(STACK);
        expect(owner.args.create).not.toEqual(owner.args.delete);
    });

    it("containerd: the directory after the claim, the files whole after it, config_path after every file, /etc/hosts after the claim", () => {
        expect(order(node("containerd"))).toEqual([
            ["command", "trust-dir", ["trust-owner"]],
            ["host-file", "trust-ca", ["trust-dir"]],
            ["host-file", "trust-hosts-toml", ["trust-dir"]],
            ["command", "trust-config-path", ["trust-owner", "trust-ca", "trust-hosts-toml"]],
            ["command", "trust-etc-hosts", ["trust-owner"]],
        ]);
    });

    it("a mirror's hosts.toml goes through its own command, after its own directory, keeping the identity of the HostFile it once was", () => {
        const p = plan(node("containerd", { mirrors: [dockerHub] }));
        const mirror = p.resources.find((r) => r.name === "trust-mirror-docker-io");
        expect(mirror).toMatchObject({ kind: "node-file", dependsOn: ["trust-dir-mirror-docker-io"] });
        expect(mirror?.kind === "node-file" && mirror.aliases).toEqual([{ type: "dso-registry:shared:HostFile" }]);
    });

    it("kind: every file through `docker exec` into the node container, with no alias (it never was a HostFile)", () => {
        const p = plan(node("kind", { mirrors: [dockerHub] }));
        const files = p.resources.filter((r) => r.name !== "trust-dir" && r.kind !== "command");
        expect(files.map((f) => [f.kind, f.name])).toEqual([
            ["node-file", "trust-ca"],
            ["node-file", "trust-hosts-toml"],
            ["node-file", "trust-mirror-docker-io"],
        ]);
        for (const file of files) expect(file.kind === "node-file" && file.aliases).toEqual([]);
        expect(p.owner.args.create).toMatch(/^sudo -n docker exec -i 'node-1' sh -c /);
    });

    it("k3s: registries.yaml restarts after the claim and every earlier file, in this node's turn, and the read-back is what later nodes wait for", () => {
        const earlier = [{} as never];
        const p = plan(node("k3s", { pullAccount: { username: "u", password: "p" }, restartTurn: { after: earlier, turn: "2 of 3" } }));
        expect(order(node("k3s"))).toEqual([
            ["host-file", "trust-ca", ["trust-owner"]],
            ["node-file", "trust-registries-yaml", ["trust-owner", "trust-ca"]],
            ["command", "trust-etc-hosts", ["trust-owner"]],
        ]);
        const yaml = p.resources.find((r) => r.name === "trust-registries-yaml");
        expect(yaml?.kind === "node-file" && yaml.args.after).toBe(earlier);
        expect(yaml?.kind === "node-file" && yaml.args.restart).toMatchObject({ allow: true, turn: "2 of 3" });
        // A repair of registries.yaml restarts k3s too.
        expect(p.restartStep).toBe("trust-files-check");
    });

    it("a file placed by its own command that restarts nothing waits neither for earlier files nor for an earlier node's turn", () => {
        const p = plan(node("crio", { restartTurn: { after: [{} as never], turn: "2 of 3" } }));
        const conf = p.resources.find((r) => r.name === "trust-registries-conf");
        expect(conf?.kind).toBe("node-file");
        expect(conf?.dependsOn).toEqual(["trust-dir"]);
        expect(conf?.kind === "node-file" && conf.args.after).toBeUndefined();
    });

    it("reads back every file after all are placed: whole files by digest, the merged ones with their own command and check", () => {
        const check = plan(node("containerd", { mirrors: [dockerHub] })).filesCheck;
        expect(check?.name).toBe("trust-files-check");
        expect(check?.dependsOn).toEqual(["trust-ca", "trust-hosts-toml", "trust-mirror-docker-io"]);
        expect(check?.args.files.map((f) => [f.path, f.place !== undefined, f.check !== undefined])).toEqual([
            ["/etc/containerd/certs.d/registry.example.test:5000/ca.crt", false, false],
            ["/etc/containerd/certs.d/registry.example.test:5000/hosts.toml", false, false],
            ["/etc/containerd/certs.d/docker.io/hosts.toml", true, true],
        ]);
    });

    it("names no restart step where nothing restarts", () => {
        expect(plan(node("containerd")).restartStep).toBeUndefined();
        expect(plan(node("crio")).restartStep).toBeUndefined();
    });

    it("without a CA or an address: only the registry's hosts.toml, and no /etc/hosts block", () => {
        expect(order(node("containerd", { caCertPem: undefined, registryAddress: undefined }))).toEqual([
            ["command", "trust-dir", ["trust-owner"]],
            ["host-file", "trust-hosts-toml", ["trust-dir"]],
            ["command", "trust-config-path", ["trust-owner", "trust-hosts-toml"]],
        ]);
    });

    it("every delete runs only while the node is still this entry's", () => {
        const check = ownerScript("check", STACK, "trust");
        const p = plan(node("containerd"));
        expect(p.resources.length).toBeGreaterThan(0);
        for (const r of p.resources) {
            const removal = r.kind === "host-file" ? r.args.deletePrelude : r.kind === "command" ? r.args.delete : undefined;
            expect(unquoted(String(removal)), r.name).toContain(check);
        }
    });
});
