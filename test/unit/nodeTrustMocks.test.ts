/**
 * NodeTrust and NodeTrustDaemonSet under Pulumi's mocks: what each flavour creates over SSH, what the
 * DaemonSet carries, and that secrets stay secret (how the stack's `nodes` config is turned into
 * components: nodeTrust.defineStack.test.ts). The scripts themselves run for real in
 * nodeTrustScripts/Ssh/Containerd tests.
 * Covers: components/nodeTrust/nodeTrustPerNode.ts, components/nodeTrust/nodeTrustDaemonSet.ts.
 * Covers: components/nodeTrust/common.ts, components/nodeTrust/nodeFile.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type RuntimeFlavour, RUNTIME_FLAVOURS as runtimeFlavours } from "../../components/shared/facts";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { schemaProblems } from "../support/k8sValidate";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----";
const PASSWORD = "pull-password-under-test";
let rt: MockRuntime;
let nodeTrustSsh: typeof import("../../components/nodeTrust/nodeTrustPerNode");
let nodeTrustDaemonSet: typeof import("../../components/nodeTrust/nodeTrustDaemonSet");

const ssh = (name: string) =>
    ({
        kind: "ssh",
        name,
        host: "10.0.0.1",
        port: 22,
        user: "deploy",
        privateKey: "[key]",
        hostKey: "ssh-ed25519 AAAA",
        sudo: true,
    }) as const;

function children(component: string): RecordedResource[] {
    const parent = rt.resources.find((r) => r.name === component && !r.custom)!;
    const direct = rt.resources.filter((r) => r.parentUrn === parent.urn);
    return direct.flatMap((r) => (r.custom ? [r] : [r, ...children(r.name)]));
}

/** Files placed under a component, from the target, path and mode each file component registers. */
function placedPaths(component: string): string[] {
    return children(component)
        .filter((r) => !r.custom && typeof r.inputs.path === "string")
        .map((r) => `${String(r.inputs.target)}:${String(r.inputs.path)} ${String(r.inputs.mode)}`)
        .sort();
}

const commandNames = (component: string) =>
    children(component)
        .filter((r) => r.type.startsWith("command:"))
        .map((r) => r.name);

beforeAll(async () => {
    rt = await startMockRuntime({ stack: "test" });
    nodeTrustSsh = await import("../../components/nodeTrust/nodeTrustPerNode");
    nodeTrustDaemonSet = await import("../../components/nodeTrust/nodeTrustDaemonSet");
    for (const flavour of runtimeFlavours) {
        const registry = {
            host: "registry.example.test",
            port: 5000,
            flavour,
            caCertPem: CA,
            registryAddress: "10.0.0.5",
            pullAccount: flavour === "k3s" || flavour === "rke2" ? { username: "cluster-pull", password: PASSWORD } : undefined,
        };
        new nodeTrustSsh.NodeTrust(`ssh-${flavour}`, {
            ...registry,
            connection: ssh(`node-${flavour}`),
        });
        new nodeTrustDaemonSet.NodeTrustDaemonSet(`ds-${flavour}`, {
            ...registry,
            namespace: "dso",
            objectName: `trust-${flavour}`,
        });
    }
    new nodeTrustSsh.NodeTrust("public-ca", {
        host: "registry.example.test",
        port: 443,
        flavour: "containerd",
        connection: ssh("node-public"),
    });
    new nodeTrustSsh.NodeTrust("local-node", {
        host: "registry.example.test",
        port: 443,
        flavour: "microk8s",
        caCertPem: CA,
        connection: { kind: "local", name: "laptop", sudo: true },
    });
    await settle();
});

describe("NodeTrust over SSH: the files of each flavour", () => {
    const expected: Record<RuntimeFlavour, string[]> = {
        microk8s: [
            "node-microk8s:/var/snap/microk8s/current/args/certs.d/registry.example.test:5000/ca.crt 0644",
            "node-microk8s:/var/snap/microk8s/current/args/certs.d/registry.example.test:5000/hosts.toml 0644",
        ],
        containerd: [
            "node-containerd:/etc/containerd/certs.d/registry.example.test:5000/ca.crt 0644",
            "node-containerd:/etc/containerd/certs.d/registry.example.test:5000/hosts.toml 0644",
        ],
        kind: [
            "node-kind:/etc/containerd/certs.d/registry.example.test:5000/ca.crt 0644",
            "node-kind:/etc/containerd/certs.d/registry.example.test:5000/hosts.toml 0644",
        ],
        docker: ["node-docker:/etc/docker/certs.d/registry.example.test:5000/ca.crt 0644"],
        k3s: [
            "node-k3s:/etc/rancher/k3s/dso-registry-ca-registry.example.test:5000.crt 0644",
            "node-k3s:/etc/rancher/k3s/registries.yaml 0600",
        ],
        rke2: [
            "node-rke2:/etc/rancher/rke2/dso-registry-ca-registry.example.test:5000.crt 0644",
            "node-rke2:/etc/rancher/rke2/registries.yaml 0600",
        ],
        crio: [
            "node-crio:/etc/containers/certs.d/registry.example.test:5000/ca.crt 0644",
            "node-crio:/etc/containers/registries.conf.d/dso-registry-registry.example.test:5000.conf 0644",
        ],
    };
    it.each(runtimeFlavours.map((f) => [f, expected[f]] as const))("%s", (flavour, files) => {
        expect(placedPaths(`ssh-${flavour}`)).toEqual(files);
    });

    it.each(runtimeFlavours.map((f) => [f] as const))("%s gets the /etc/hosts block", (flavour) => {
        expect(commandNames(`ssh-${flavour}`)).toContain(`ssh-${flavour}-etc-hosts`);
    });

    it("containerd checks config_path; no other flavour does", () => {
        const withCheck = runtimeFlavours.filter((f) => commandNames(`ssh-${f}`).includes(`ssh-${f}-config-path`));
        expect(withCheck).toEqual(["containerd"]);
    });

    it("every command goes over SSH with the pinned host key", () => {
        const connections = rt
            .ofType("command:remote:Command")
            .filter((r) => r.name.startsWith("ssh-"))
            // The provider marks the whole connection secret; the mock sees it wrapped.
            .map((r) => (r.rawInputs.connection as { value: { hostKey?: string } }).value.hostKey);
        expect(new Set(connections)).toEqual(new Set(["ssh-ed25519 AAAA"]));
    });

    it("containerd's config_path step, a privileged one, runs with sudo -n", () => {
        const create = String(rt.byName("ssh-containerd-config-path").inputs.create);
        expect(create.startsWith("sudo -n sh -c ")).toBe(true);
    });

    it("kind writes inside the node container with docker exec", () => {
        const create = String(rt.byName("ssh-kind-hosts-toml-write").inputs.create);
        expect(create).toMatch(/^sudo -n docker exec -i 'node-kind' sh -c /);
    });

    it("every command has a delete that undoes it", () => {
        const missing = rt
            .ofType("command:remote:Command")
            .filter((r) => typeof r.inputs.delete !== "string")
            .map((r) => r.name);
        expect(missing).toEqual([]);
    });

    it("the pull password is secret on stdin and nowhere else", () => {
        const registries = rt.byName("ssh-k3s-registries-yaml-write");
        expect(registries.inputs.stdin).toBe("[secret]");
        const leaks = rt.resources.filter((r) => JSON.stringify(r.inputs).includes(PASSWORD)).map((r) => r.name);
        expect(leaks).toEqual([]);
    });

    it("a public CA gets no CA file, only hosts.toml", () => {
        expect(placedPaths("public-ca")).toEqual(["node-public:/etc/containerd/certs.d/registry.example.test/hosts.toml 0644"]);
    });

    it("a local node uses local commands, and its files are read back on this machine (no SSH)", () => {
        const custom = children("local-node").filter((r) => r.custom);
        expect(new Set(custom.map((r) => r.type))).toEqual(new Set(["command:local:Command", "pulumi-nodejs:dynamic/hostFiles:Check"]));
        const check = custom.find((r) => r.type === "pulumi-nodejs:dynamic/hostFiles:Check")!;
        expect(check.inputs).toMatchObject({ local: true, host: "laptop", port: 0 });
    });
});

describe("NodeTrustDaemonSet", () => {
    const daemonSet = (flavour: RuntimeFlavour) => rt.byName(`ds-${flavour}-daemonset`).inputs as Record<string, any>;
    const configMap = (flavour: RuntimeFlavour) => rt.byName(`ds-${flavour}-config`).inputs as Record<string, any>;
    const podSpec = (flavour: RuntimeFlavour) => daemonSet(flavour).spec.template.spec;

    it.each(runtimeFlavours.map((f) => [f] as const))("%s: DaemonSet and ConfigMap pass the Kubernetes API schema", async (flavour) => {
        expect(await schemaProblems(daemonSet(flavour))).toEqual([]);
        expect(await schemaProblems(configMap(flavour))).toEqual([]);
    });

    it.each([
        ["microk8s", ["/var/snap/microk8s/current/args/certs.d", "/etc/hosts"]],
        ["containerd", ["/etc/containerd", "/etc/hosts"]],
        ["kind", ["/etc/containerd/certs.d", "/etc/hosts"]],
        ["docker", ["/etc/docker/certs.d", "/etc/hosts"]],
        ["k3s", ["/etc/rancher/k3s", "/etc/hosts"]],
        ["rke2", ["/etc/rancher/rke2", "/etc/hosts"]],
        ["crio", ["/etc/containers", "/etc/hosts"]],
    ] as const)("%s mounts only %j from the node", (flavour, paths) => {
        const hostPaths = podSpec(flavour)
            .volumes.filter((v: any) => v.hostPath)
            .map((v: any) => v.hostPath.path);
        expect(hostPaths).toEqual(paths);
    });

    it("runs on every node, tainted ones included", () => {
        expect(podSpec("microk8s").tolerations).toEqual([{ operator: "Exists" }]);
    });

    it("rolls by starting the new pod before stopping the old one", () => {
        expect(daemonSet("microk8s").spec.updateStrategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    });

    it.each([
        ["k3s", true],
        ["rke2", true],
        ["microk8s", undefined],
        ["containerd", undefined],
        // CRI-O reloads (systemctl reload crio, in the node's namespaces) after its registries.conf drop-in changed.
        ["crio", true],
    ] as const)("%s: host PID namespace only where a restart or reload may be needed (%s)", (flavour, hostPID) => {
        expect(podSpec(flavour).hostPID).toBe(hostPID);
    });

    it("the apply script places the same files as the SSH delivery", () => {
        const apply = String(configMap("microk8s").data["apply.sh"]);
        // One step a line of its STEPS: the script, and the file it places from stdin.
        expect(apply).toMatch(/^\/dso\/config\/place-ca\.sh \/dso\/config\/ca\.crt$/m);
        expect(apply).toMatch(/^\/dso\/config\/place-hosts-toml\.sh \/dso\/config\/hosts\.toml$/m);
        expect(String(configMap("microk8s").data["place-hosts-toml.sh"])).toContain(
            "/var/snap/microk8s/current/args/certs.d/registry.example.test:5000/hosts.toml",
        );
    });

    it("removal runs from preStop, only while the pod still owns the node's trust", () => {
        const container = podSpec("microk8s").containers[0];
        expect(container.lifecycle.preStop.exec.command).toEqual(["sh", "/dso/config/remove.sh"]);
        expect(String(configMap("microk8s").data["remove.sh"])).toContain(`!= "$POD_UID"`);
    });

    it("registries.yaml with credentials goes into a Secret, not the ConfigMap", () => {
        expect(Object.keys(configMap("k3s").data)).not.toContain("registries.yaml");
        expect(rt.byName("ds-k3s-secret").inputs.stringData).toBe("[secret]");
        expect(podSpec("k3s").volumes.find((v: any) => v.name === "secret").secret.defaultMode).toBe(0o400);
    });

    it.each(runtimeFlavours.map((f) => [f] as const))(
        "%s: every ConfigMap key is one Kubernetes accepts (no ':' of host:port)",
        (flavour) => {
            const keys = Object.keys(configMap(flavour).data);
            expect(keys.filter((k) => !/^[-._a-zA-Z0-9]+$/.test(k))).toEqual([]);
        },
    );

    it("rolls the pods when the ConfigMap changes (hash annotation)", () => {
        expect(daemonSet("microk8s").spec.template.metadata.annotations["dso-registry/config-hash"]).toMatch(/^[0-9a-f]{64}$/);
    });
});
