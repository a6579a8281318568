/**
 * A control plane that has what a microk8s cluster and the README's prerequisites give the local stack:
 * the `jenkins` namespace, CoreDNS's ConfigMap with microk8s's Corefile, a default StorageClass with
 * static volumes (as microk8s's hostpath-storage binds claims). For the engine tier's in-cluster stacks.
 */
import { type ControlPlane, namespace, provideVolumes, startControlPlane } from "./kubeControlPlane";
import { MICROK8S_COREFILE } from "./microk8sCorefile";

/** Starts the control plane and adds the prerequisites; `volumes` static volumes for the claims. */
export async function startLocalCluster(volumes = 6): Promise<ControlPlane> {
    const kube = startControlPlane();
    try {
        await addLocalPrerequisites(kube, volumes);
        return kube;
    } catch (error) {
        kube.stop();
        throw error;
    }
}

/**
 * The local stack's prerequisites on a running control plane; on a real node, `hostPathRoot` is the node's
 * directory the static volumes live in (test/support/kubeNode.ts).
 */
export async function addLocalPrerequisites(kube: ControlPlane, volumes = 6, hostPathRoot?: string): Promise<void> {
    await kube.create("/api/v1/namespaces", namespace("jenkins"));
    await kube.create("/api/v1/namespaces/kube-system/configmaps", {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "coredns", namespace: "kube-system" },
        data: { Corefile: MICROK8S_COREFILE },
    });
    await provideVolumes(kube, volumes, "500Gi", hostPathRoot);
}
