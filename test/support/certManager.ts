/**
 * cert-manager in the engine tier's cluster: the CRDs its module ships (copied into the engine set by
 * tools/engine/build.sh), served by the real API server, and its own controllers
 * (tools/engine/cert-manager) issuing for real from self-signed and CA issuers.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { parse } from "yaml";
import type { ControlPlane, KubeObject } from "./kubeControlPlane";
import { engineSet } from "./pulumiEngine";
import { type ServerProcess, startServer } from "./serverProcess";

export interface CertManager {
    /** The controller's output so far, for failure messages. */
    output(): string;
    stop(): Promise<void>;
}

/**
 * cert-manager's CRDs as the API server takes them, without their labels and annotations (which
 * releases before v1.21 shipped as Helm template text); the schemas are as the module ships them.
 */
export function certManagerCrds(): KubeObject[] {
    const dir = path.join(engineSet(), "cert-manager-crds");
    return readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .map((f) => {
            const crd = parse(readFileSync(path.join(dir, f), "utf8")) as KubeObject & { metadata: Record<string, unknown> };
            const { labels: _labels, annotations: _annotations, ...metadata } = crd.metadata;
            return { ...crd, metadata: metadata as KubeObject["metadata"] };
        });
}

/**
 * Installs the CRDs, waits until cert-manager.io/v1 is served, and starts the controllers; with
 * `metricsAddress` (host:port) they serve cert-manager's metrics there (`certmanager_*`), as its controller does.
 */
export async function installCertManager(kube: ControlPlane, metricsAddress?: string): Promise<CertManager> {
    for (const crd of certManagerCrds()) {
        await kube.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
    }
    await vi
        .waitUntil(() => kube.get("/apis/cert-manager.io/v1"), { timeout: 60_000, interval: 500 })
        .catch((error: unknown) => {
            throw new Error("cert-manager.io/v1 is not served a minute after its CRDs were created", { cause: error });
        });
    const controller: ServerProcess = startServer(path.join(engineSet(), "bin", "cert-manager-controller"), [
        "--kubeconfig",
        kube.kubeconfig,
        ...(metricsAddress ? [`--metrics-listen-address=${metricsAddress}`] : []),
    ]);
    return { output: controller.output, stop: () => controller.stop() };
}
