/**
 * The prod stack's synthesized registry host (hosts/<host>/ of `committedSynthDir("prod")`), as the tests
 * that run its commands for real read it: the commands the synth wrote, the files it places, the first
 * run's files in the order `up` places them, and the site's Caddyfile with a test CA's certificate files
 * (the prod stack's own wants ACME, which cannot run in these tests).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { metricsRelayDir } from "../../components/externalHost/metricsRelay";
import { defaultHostLayout, hostPaths } from "../../components/externalHost/scripts";
import { committedSynthDir } from "./committedSynth";

/** The prod stack's registry host name and data directory (Pulumi.prod.yaml). */
export const PROD_HOST = "registry.dso.example.com";
export const prodLayout = defaultHostLayout("/srv/data/registry");
export const prodPaths = hostPaths(prodLayout);

export interface ProdHostSynth {
    /** The synth's folder for the registry host. */
    readonly dir: string;
    /** A command script the synth wrote, e.g. "registry-host-container-run.create", as the stack's sudo login runs it. */
    command(name: string): string;
    /** A file the synth places on the host, by its absolute path there. */
    file(hostPath: string): string;
}

export function prodHostSynth(): ProdHostSynth {
    const synthHosts = path.join(committedSynthDir("prod"), "hosts");
    const target = readdirSync(synthHosts).find((d) =>
        existsSync(path.join(synthHosts, d, "commands", "registry-host-container-run.create.sh")),
    );
    if (!target) throw new Error("the prod synth has no registry host");
    const dir = path.join(synthHosts, target);
    return {
        dir,
        command: (name) => readFileSync(path.join(dir, "commands", `${name}.sh`), "utf8"),
        file: (hostPath) => readFileSync(path.join(dir, hostPath), "utf8"),
    };
}

/** The registry container's files `up` places before running it: each write resource and its path. */
export const REGISTRY_CONFIG_FILES = [
    ["container-config", prodPaths.registryConfig],
    ["container-config-readonly", prodPaths.registryConfigReadOnly],
    ["container-metrics-relay-config", `${metricsRelayDir(prodLayout.registryConfigDir)}/Caddyfile`],
] as const;

/** The site as the front's container reads it: the host's paths, which its mounts keep, TLS from files. */
export function prodFrontCaddyfile(extra: Pick<AccessPolicy, "diskFullSignal"> = {}): string {
    return renderCaddyfile({
        ...extra,
        siteAddress: PROD_HOST,
        port: 443,
        tls: { kind: "files", certFile: prodPaths.tlsCert, keyFile: prodPaths.tlsKey },
        upstream: `unix/${prodPaths.registrySocket}`,
        admin: `unix/${prodLayout.caddyAdminSocket}`,
        requiresAuthForPull: false,
        pushUsersFile: prodPaths.pushUsers,
        pullUsersFile: prodPaths.pullUsers,
        allowedNetworks: [],
        deletesEnabled: true,
        blobFiles: prodLayout.dataDir,
    });
}
