/**
 * kube-proxy's part, played for one Service port: connections to the Service's address and port are
 * forwarded to the pod's address and the targetPort (a container port, by number or by name), as the
 * rendered Service says. The Service's address is one the test owns (a namespace link's host end), not
 * a ClusterIP: no address outside this machine's test ranges is ever used. The forwarder is a process
 * of its own (serviceProxyMain.ts): the test process blocks while it runs a client.
 */
import * as path from "node:path";
import type { AppliedObject } from "./deployedStack";
import { startServer, waitForPort } from "./serverProcess";

const PROJECT_DIR = path.join(__dirname, "..", "..");

export interface ServiceProxy {
    /** The Service's port, where clients connect. */
    readonly port: number;
    /** The pod port connections go to. */
    readonly targetPort: number;
    stop(): Promise<void>;
}

/** Forwards `listenAddress`:<the Service's port> to `podAddress`:<its targetPort>; `podPort` resolves a named targetPort. */
export async function startServiceProxy(options: {
    readonly service: AppliedObject;
    readonly listenAddress: string;
    readonly podAddress: string;
    readonly podPort: (name: string) => number;
}): Promise<ServiceProxy> {
    const ports = (options.service.spec as { ports: { port: number; targetPort?: number | string }[] }).ports;
    if (ports.length !== 1) throw new Error(`Service ${options.service.metadata.name} has ${ports.length} ports; name the one to forward`);
    const { port, targetPort: rendered = port } = ports[0]!;
    const targetPort = typeof rendered === "number" ? rendered : options.podPort(rendered);
    const forwarder = await startForwarder(
        options.listenAddress,
        port,
        options.podAddress,
        targetPort,
        `Service ${options.service.metadata.name}`,
    );
    return { port, targetPort, stop: forwarder.stop };
}

/** Forwards connections to `listenAddress`:`port` to `targetAddress`:`targetPort`; resolves once it listens. */
export async function startForwarder(
    listenAddress: string,
    port: number,
    targetAddress: string,
    targetPort: number,
    what: string,
): Promise<{ stop(): Promise<void> }> {
    const forwarder = startServer(process.execPath, [
        path.join(PROJECT_DIR, "node_modules/tsx/dist/cli.mjs"),
        path.join(__dirname, "serviceProxyMain.ts"),
        listenAddress,
        String(port),
        targetAddress,
        String(targetPort),
    ]);
    try {
        await waitForPort(port, 60_000, what, listenAddress);
    } catch (error) {
        const output = forwarder.output();
        await forwarder.stop();
        throw new Error(`${(error as Error).message}\n${output}`);
    }
    return { stop: () => forwarder.stop() };
}
