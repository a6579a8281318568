/**
 * Pod discovery for Debian's Prometheus, which is built without its Kubernetes discovery: the pods of a
 * namespace, listed from the real API server every second, written as file_sd targets carrying the meta
 * labels Prometheus's `kubernetes_sd_configs` with `role: pod` gives (one target per container port, the
 * address the pod's IP and that port; the namespace, the pod's name, its labels and annotations, the
 * container's name and the port's name and number). A scrape job's `relabel_configs` written for Kubernetes
 * discovery (an annotation-driven pod job, the docs' jobs) then run unchanged with `file_sd_configs` in place
 * of `kubernetes_sd_configs` (`withFileDiscovery`). Prometheus reads the file again whenever it changes.
 */
import { renameSync, writeFileSync } from "node:fs";
import type { ControlPlane } from "./kubeControlPlane";

interface Pod {
    metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: { containers: { name: string; ports?: { name?: string; containerPort: number; protocol?: string }[] }[] };
    status: { podIP?: string; phase?: string };
}

/** A label or annotation name as Prometheus's Kubernetes discovery writes it into a meta label's name. */
const sanitized = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_");

/** The file_sd target groups of `pods`. */
export function podTargets(pods: readonly Pod[]): { targets: string[]; labels: Record<string, string> }[] {
    return pods
        .filter((pod) => pod.status.podIP && pod.status.phase === "Running")
        .flatMap((pod) => {
            const common: Record<string, string> = {
                __meta_kubernetes_namespace: pod.metadata.namespace,
                __meta_kubernetes_pod_name: pod.metadata.name,
                __meta_kubernetes_pod_ip: pod.status.podIP!,
            };
            for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) common[`__meta_kubernetes_pod_label_${sanitized(k)}`] = v;
            for (const [k, v] of Object.entries(pod.metadata.annotations ?? {}))
                common[`__meta_kubernetes_pod_annotation_${sanitized(k)}`] = v;
            return pod.spec.containers.flatMap((c) =>
                (c.ports ?? []).map((port) => ({
                    targets: [`${pod.status.podIP}:${port.containerPort}`],
                    labels: {
                        ...common,
                        __meta_kubernetes_pod_container_name: c.name,
                        __meta_kubernetes_pod_container_port_name: port.name ?? "",
                        __meta_kubernetes_pod_container_port_number: String(port.containerPort),
                        __meta_kubernetes_pod_container_port_protocol: port.protocol ?? "TCP",
                    },
                })),
            );
        });
}

/** `job` with its Kubernetes discovery replaced by the file `file` (its other settings, relabelings included, as they are). */
export function withFileDiscovery(job: Record<string, unknown>, file: string): Record<string, unknown> {
    const { kubernetes_sd_configs: _replaced, ...rest } = job;
    return { ...rest, file_sd_configs: [{ files: [file] }] };
}

/** Lists `namespace`'s pods every second into `file` until stopped; resolves once the first list is written. */
export async function startPodDiscovery(kube: ControlPlane, namespace: string, file: string): Promise<{ stop(): void }> {
    const write = async () => {
        const list = await kube.get<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods`);
        if (!list) return;
        writeFileSync(`${file}.new`, JSON.stringify(podTargets(list.items)));
        renameSync(`${file}.new`, file);
    };
    await write();
    let stopped = false;
    const timer = setInterval(() => {
        if (!stopped) write().catch(() => undefined);
    }, 1000);
    return {
        stop() {
            stopped = true;
            clearInterval(timer);
        },
    };
}
