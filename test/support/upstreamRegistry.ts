/**
 * A plain-HTTP Distribution (Debian's, the stand-in for Docker Hub and the like) that a pull-through
 * cache on the test host fetches from: it listens on the namespace's address, so that cache containers
 * reach it over docker0, and keeps its data under the test's scratch directory.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { UPSTREAM_REGISTRY } from "./distributionBinaries";
import type { TestNetns } from "./netns";
import type { ServerProcess } from "./serverProcess";

/**
 * Starts the upstream on `ns.address:port` with its config and data in `scratch` (upstream.yml,
 * upstream-data); resolves once it accepts connections. Started again with the same arguments, it
 * serves the same data.
 */
export async function startUpstreamRegistry(ns: TestNetns, scratch: string, port: number): Promise<ServerProcess> {
    const config = path.join(scratch, "upstream.yml");
    writeFileSync(
        config,
        renderRegistryConfig({
            addr: `${ns.address}:${port}`,
            storage: { kind: "filesystem", rootDirectory: path.join(scratch, "upstream-data") },
            deletesEnabled: false,
        }),
    );
    const upstream = ns.startServer(UPSTREAM_REGISTRY, ["serve", config]);
    try {
        await ns.waitForPort(port, 30_000, "upstream");
    } catch (e) {
        await upstream.stop();
        throw e;
    }
    return upstream;
}
