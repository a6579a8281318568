/**
 * What the node-trust DaemonSet registers (`planNodeTrustDaemonSet`, components/nodeTrust/nodeTrustDaemonSet.ts),
 * tested without a Pulumi runtime: which objects exist for which args, their names, which wait for the
 * namespace, the scripts and files the ConfigMap and Secret carry, and the pod's privileges, mounts and rolling
 * hashes. The constructor only registers this description; the scripts run for real in the integration tests.
 */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { resolveNodeTrust } from "../../components/nodeTrust/common";
import { type NodeTrustDaemonSetArgs, planNodeTrustDaemonSet } from "../../components/nodeTrust/nodeTrustDaemonSet";
import type { RuntimeFlavour } from "../../components/shared/facts";
import { isSecret, promiseOf } from "../../tools/mockRuntime";

const PULL = { username: "cluster-pull", password: "pull-password-under-test" };

function trust(flavour: RuntimeFlavour, more: Partial<NodeTrustDaemonSetArgs> = {}): NodeTrustDaemonSetArgs {
    return { host: "registry.example.test", port: 5000, flavour, caCertPem: "CA", namespace: "dso", ...more };
}
const plan = (args: NodeTrustDaemonSetArgs) => planNodeTrustDaemonSet("trust", resolveNodeTrust(args));
/** The DaemonSet's spec, with the names of the objects it mounts as they would be registered. */
const spec = (args: NodeTrustDaemonSetArgs) => {
    const p = plan(args);
    return p.daemonSet.args({ configMapName: "cm", ...(p.secret ? { secretName: "sec" } : {}) }).spec as pulumi.Unwrap<
        NonNullable<ReturnType<typeof p.daemonSet.args>["spec"]>
    >;
};
const container = (args: NodeTrustDaemonSetArgs) => spec(args).template.spec!.containers[0]!;
const configKeys = (args: NodeTrustDaemonSetArgs) => Object.keys(plan(args).configMap.args.data as object);

describe("planNodeTrustDaemonSet", () => {
    it("names the ConfigMap and the DaemonSet after the component, and the objects after objectName (default dso-node-trust)", () => {
        const p = plan(trust("containerd"));
        expect([p.namespace, p.configMap.name, p.secret, p.daemonSet.name]).toEqual([
            undefined,
            "trust-config",
            undefined,
            "trust-daemonset",
        ]);
        expect(p.configMap.args.metadata).toMatchObject({ name: "dso-node-trust", namespace: "dso" });
        expect(plan(trust("containerd", { objectName: "trust-objects" })).configMap.args.metadata).toMatchObject({ name: "trust-objects" });
    });

    it("creates the namespace only when asked, labelled for privileged pods, and every object waits for it", () => {
        expect(plan(trust("containerd")).configMap.afterNamespace).toBe(false);
        const p = plan(trust("containerd", { createNamespace: true }));
        expect(p.namespace?.name).toBe("trust-namespace");
        expect(p.namespace?.args.metadata).toMatchObject({
            name: "dso",
            labels: { "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "privileged" },
        });
        expect([p.namespace?.afterNamespace, p.configMap.afterNamespace, p.daemonSet.afterNamespace]).toEqual([false, true, true]);
    });

    it("puts a file that carries the pull password in a Secret, mounted read-only for its owner, and its hash in the pod's annotations, secret", async () => {
        const p = plan(trust("k3s", { pullAccount: PULL }));
        expect(p.secret?.name).toBe("trust-secret");
        expect(p.secret?.afterNamespace).toBe(false);
        expect(Object.keys(p.secret?.args.stringData as object)).toEqual(["registries.yaml"]);
        expect(configKeys(trust("k3s", { pullAccount: PULL }))).not.toContain("registries.yaml");
        const s = spec(trust("k3s", { pullAccount: PULL }));
        expect(s.template.spec!.volumes).toContainEqual({ name: "secret", secret: { secretName: "sec", defaultMode: 0o400 } });
        const annotations = s.template.metadata!.annotations as unknown as Record<string, pulumi.Output<string>>;
        expect(await isSecret(annotations["dso-registry/secret-hash"]!)).toBe(true);
    });

    it("has no Secret, secret volume or secret hash without a pull account", () => {
        const p = plan(trust("k3s"));
        expect(p.secret).toBeUndefined();
        expect(configKeys(trust("k3s"))).toContain("registries.yaml");
        expect(spec(trust("k3s")).template.spec!.volumes!.map((v) => v.name)).not.toContain("secret");
        expect(Object.keys(spec(trust("k3s")).template.metadata!.annotations!)).toEqual(["dso-registry/config-hash"]);
    });

    it("carries each step's scripts, the files they place (no ':' in a key) and apply.sh, remove.sh and run.sh", () => {
        expect(configKeys(trust("containerd")).sort()).toEqual(
            [
                "apply.sh",
                "ca.crt",
                "config-path-remove.sh",
                "config-path.sh",
                "dir-create.sh",
                "dir-remove.sh",
                "hosts.toml",
                "mirror-prune.sh",
                "place-ca.sh",
                "place-hosts-toml.sh",
                "remove-ca.sh",
                "remove-hosts-toml.sh",
                "remove.sh",
                "run.sh",
            ].sort(),
        );
        expect(configKeys(trust("k3s"))).toContain("dso-registry-ca-registry.example.test-5000.crt");
    });

    it("applies the steps in order (after pruning the caches no longer mirrored), each file from its key, and removes them in reverse", async () => {
        const data = plan(trust("containerd")).configMap.args.data as Record<string, pulumi.Output<string>>;
        const apply = await promiseOf(data["apply.sh"]!);
        const remove = await promiseOf(data["remove.sh"]!);
        const steps = (text: string, first: string, last: string) => text.slice(text.indexOf(first), text.lastIndexOf(last) + last.length);
        expect(steps(apply, "/dso/config/mirror-prune.sh", "/dso/config/config-path.sh").split("\n")).toEqual([
            // Upstreams no longer mirrored first: no pod's preStop took their blocks out.
            "/dso/config/mirror-prune.sh",
            "/dso/config/dir-create.sh",
            "/dso/config/place-ca.sh /dso/config/ca.crt",
            "/dso/config/place-hosts-toml.sh /dso/config/hosts.toml",
            "/dso/config/config-path.sh",
        ]);
        expect(steps(remove, "/dso/config/config-path-remove.sh", "/dso/config/dir-remove.sh").split("\n")).toEqual([
            "/dso/config/config-path-remove.sh",
            "/dso/config/remove-hosts-toml.sh",
            "/dso/config/remove-ca.sh",
            "/dso/config/dir-remove.sh",
        ]);
    });

    it.each([
        ["k3s (restarts k3s)", trust("k3s"), true],
        ["k3s without restarts", trust("k3s", { allowServiceRestart: false }), false],
        ["containerd (config_path only checked)", trust("containerd"), false],
        ["containerd with its restart allowed", trust("containerd", { allowContainerdRestart: true }), true],
    ] as const)("runs in the node's PID namespace only where it restarts a service: %s", (_, args, restarts) => {
        expect(spec(args).template.spec!.hostPID).toBe(restarts || undefined);
        expect(
            container(args)
                .env!.map((e) => e.name)
                .includes("DSO_HOST_EXEC"),
        ).toBe(restarts);
    });

    it("mounts each of the node's directories the steps touch under /host, and the ConfigMap read-only", () => {
        const c = container(trust("containerd"));
        expect(c.volumeMounts).toContainEqual({ name: "config", mountPath: "/dso/config", readOnly: true });
        const mounts = c.volumeMounts!.filter((m) => m.mountPath.startsWith("/host/"));
        expect(mounts.length).toBeGreaterThan(0);
        const volumes = spec(trust("containerd")).template.spec!.volumes!;
        for (const m of mounts) expect(volumes.find((v) => v.name === m.name)?.hostPath?.path).toBe(m.mountPath.slice("/host".length));
        expect(volumes).toContainEqual({ name: "config", configMap: { name: "cm" } });
    });

    it("replaces the old pod only once the new one applied, on every node whatever its taints", () => {
        const s = spec(trust("containerd"));
        expect(s.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
        expect(s.template.spec!.tolerations).toEqual([{ operator: "Exists" }]);
        expect(container(trust("containerd")).image).toBe(container(trust("containerd", { image: undefined })).image);
        expect(container(trust("containerd", { image: "mirror.example/busybox:1.37.0" })).image).toBe("mirror.example/busybox:1.37.0");
    });
});
