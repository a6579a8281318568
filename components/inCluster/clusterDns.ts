/**
 * The registry's host name inside pods: the cluster's CoreDNS answers it with the ClusterIP of the
 * registry's TLS Service, so `https://<host>` is the same front, with the same certificate, from a pod
 * as from a node. Additive and reversible: the cluster's own DNS settings stay as they are, and a
 * destroy takes out only what the program put in.
 *
 * - k3s: one key, `dso-registry.server`, of the `coredns-custom` ConfigMap in kube-system (k3s's
 *   Corefile imports `/etc/coredns/custom/*.server`). A ConfigMapPatch owns that key through
 *   server-side apply with a field manager of its own: it creates the ConfigMap when it is missing
 *   (k3s mounts it as optional), never touches keys other managers wrote, fails on a conflict instead
 *   of taking a key over, and on delete gives up its key, which the API server then removes.
 * - microk8s: its Corefile imports nothing, so a local command appends a marked server block to the
 *   `Corefile` key of ConfigMap `coredns` and takes it out on delete (see corefile.ts).
 */
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMMAND_DEFAULTS, type HostTarget } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import { corefileScriptBody, registryServerBlockFor } from "./corefile";

/** Where the cluster's CoreDNS takes extra configuration from. */
export type ClusterDnsFlavour = "k3s" | "microk8s";

/** Where the synth shows the microk8s scripts: they run on the machine that runs Pulumi. */
export const OPERATOR_MACHINE = "localhost";

/** The key of k3s's `coredns-custom` ConfigMap that the program owns. */
export const K3S_SERVER_KEY = "dso-registry.server";

export interface ClusterDnsArgs {
    /** The cluster's kind of CoreDNS configuration. */
    readonly flavour: ClusterDnsFlavour;
    /** The registry's host name, as nodes and clients use it. */
    readonly host: string;
    /** The address the name resolves to inside pods: the ClusterIP of the registry's TLS Service. */
    readonly clusterIp: pulumi.Input<string>;
    /** kubectl context of the microk8s command; kubectl's current context when unset. */
    readonly kubectlContext?: string;
}

const CLUSTER_DNS_TYPE = typeToken("inCluster", "ClusterDns");

export class ClusterDns extends pulumi.ComponentResource {
    constructor(name: string, args: ClusterDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget | Record<string, never> = args.flavour === "microk8s" ? { target: OPERATOR_MACHINE } : {};
        super(CLUSTER_DNS_TYPE, name, target, opts);
        const block = pulumi
            .output(args.clusterIp as pulumi.Input<string | undefined>)
            .apply((ip) => registryServerBlockFor(args.host, ip, pulumi.runtime.isDryRun()));
        if (args.flavour === "k3s") {
            new k8s.core.v1.ConfigMapPatch(
                `${name}-coredns-custom`,
                { metadata: { name: "coredns-custom", namespace: "kube-system" }, data: { [K3S_SERVER_KEY]: block } },
                { parent: this },
            );
        } else {
            const script = { host: args.host, kubectlContext: args.kubectlContext };
            new command.local.Command(
                `${name}-corefile`,
                {
                    create: corefileScriptBody(script, "apply"),
                    delete: corefileScriptBody(script, "remove"),
                    stdin: block,
                    // The block's markers carry the host name, and the context names the cluster: a change
                    // of either takes the old block out of the old place (the old delete) before the new goes in.
                    triggers: [args.host, args.kubectlContext ?? ""],
                    interpreter: ["/bin/sh", "-c"],
                    logging: "stdoutAndStderr",
                    ...COMMAND_DEFAULTS,
                },
                // A replacement must take the old block out before the new one goes in: both carry
                // the same markers, and removing after creating would leave no block at all.
                { parent: this, deleteBeforeReplace: true },
            );
        }
        this.registerOutputs({});
    }
}
