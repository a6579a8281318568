/**
 * A program of its own that imports dso-registry as a library (docs/library.md): a registry in the
 * cluster behind its ingress, with a CA and a push account generated here, and every node of the cluster
 * trusting that CA through a privileged DaemonSet. Its settings are plain stack config of its own
 * (Pulumi.dev.yaml), none of dso-registry's.
 *
 * The import is relative because the example lives in the package's repository; a program elsewhere
 * installs the package and imports it by name (`from "dso-registry"`), the same surface compiled
 * (test/engine/libraryPackage.test.ts).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { InClusterRegistry, NodeTrustDaemonSet, RegistryAccounts, RegistryTls } from "../../components";

const config = new pulumi.Config();
const host = config.require("host");
/** Where the nodes resolve `host` to (a node's ingress address); unset when DNS answers the name. */
const nodeAddress = config.get("nodeAddress");

// Everything left out is the components' default (docs/library.md, Defaults): a generated password for
// the push account, a CA of ten years, the pinned images, a 20Gi claim, anonymous pulls, no deletes.
const accounts = new RegistryAccounts("registry-accounts", { push: { username: "ci-push" } });
const tls = new RegistryTls("registry-tls", { dnsNames: [host] });

const registry = new InClusterRegistry("registry", {
    host,
    namespace: "registry",
    // The htpasswd and the users files come from the accounts.
    accounts,
    tls: { kind: "secret", certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
});

// The DaemonSet's pods are privileged: a namespace of their own, so the registry's can stay restricted.
const trustNamespace = new k8s.core.v1.Namespace("node-trust-namespace", {
    metadata: { name: "registry-node-trust", labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
});
const trust = new NodeTrustDaemonSet(
    "node-trust",
    {
        namespace: trustNamespace.metadata.name,
        host,
        flavour: "containerd",
        caCertPem: tls.caCertPem,
        ...(nodeAddress ? { registryAddress: nodeAddress } : {}),
    },
    // Nodes trust the registry once it serves: the DaemonSet rolls out after the registry's Deployment.
    { dependsOn: [registry.deployment] },
);

export const registryUrl = `https://${host}`;
export const caCertPem = tls.caCertPem;
export const registryDeployment = registry.deployment.metadata.name;
export const nodeTrustDaemonSet = trust.daemonSet.metadata.name;
export const pushCredentials = pulumi.secret(accounts.push.password.apply((password) => ({ username: accounts.push.username, password })));
