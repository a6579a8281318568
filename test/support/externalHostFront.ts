/**
 * The external host's front for tests that play the host in a network namespace, its files under a
 * root directory (the scripts' $DSO_ROOT): Distribution's configs, the front's account and TLS files and
 * its Caddyfile as the program renders them, Caddy started on that Caddyfile, and an SFTP target as the
 * backup destination the host's scripts are rendered for.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { type HostLayout, hostPaths } from "../../components/externalHost/scripts";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { BackupDestination } from "../../components/upkeep/backup";
import type { TestNetns } from "./netns";
import { caddyEnv, makeAccount, type TestAccount, type TestCa } from "./realRegistry";
import type { ServerProcess } from "./serverProcess";
import type { SftpTarget } from "./sftpTarget";

/** A file for the host: its path there, its content, its mode. */
export interface HostFile {
    readonly path: string;
    readonly body: string;
    readonly mode: number;
}

/** A layout whose paths are under `root`: what Caddy, which does not know $DSO_ROOT, reads. */
export function rootedLayout(layout: HostLayout, root: string): HostLayout {
    return Object.fromEntries(Object.entries(layout).map(([k, v]) => [k, path.join(root, v)])) as unknown as HostLayout;
}

/** Distribution's config and the read-only window's, on the filesystem storage with deletes on, listening on its unix socket. */
export function registryConfigFiles(layout: HostLayout): HostFile[] {
    const paths = hostPaths(layout);
    const config = (readOnly: boolean) =>
        renderRegistryConfig({
            addr: `${DISTRIBUTION.socketDir}/${DISTRIBUTION.socketName}`,
            storage: { kind: "filesystem", rootDirectory: DISTRIBUTION.dataDir },
            deletesEnabled: true,
            readOnly,
        });
    return [
        { path: paths.registryConfig, body: config(false), mode: 0o644 },
        { path: paths.registryConfigReadOnly, body: config(true), mode: 0o644 },
    ];
}

/** The front's accounts (`pusher`, a pull account) and its TLS certificate and key from the test CA. */
export function frontAccountAndTlsFiles(layout: HostLayout, pusher: TestAccount, ca: TestCa): HostFile[] {
    const paths = hostPaths(layout);
    return [
        { path: paths.pushUsers, body: renderUsersFile("push", [pusher]), mode: 0o600 },
        { path: paths.pullUsers, body: renderUsersFile("pull", [makeAccount("cluster-pull")]), mode: 0o600 },
        { path: paths.tlsCert, body: readFileSync(ca.serverCertFile, "utf8"), mode: 0o644 },
        { path: paths.tlsKey, body: readFileSync(ca.serverKeyFile, "utf8"), mode: 0o600 },
    ];
}

/**
 * The host's Caddyfile as the program renders it, its paths under `root`: `host` on 443 with TLS from the
 * host's files, anonymous pulls from any network, deletes on, blobs served from the data directory, the
 * registry on its unix socket; with `maven`, the Maven repository's route.
 */
export function hostCaddyfile(
    layout: HostLayout,
    root: string,
    host: string,
    maven?: Parameters<typeof caddySitePolicy>[0]["maven"],
): string {
    return renderCaddyfile(
        caddySitePolicy({
            layout: rootedLayout(layout, root),
            registryHost: host,
            port: 443,
            tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
            requiresAuthForPull: false,
            allowedNetworks: [],
            deletesEnabled: true,
            blobFiles: true,
            upstream: `unix/${path.join(root, hostPaths(layout).registrySocket)}`,
            ...(maven ? { maven } : {}),
        }),
    );
}

/**
 * `caddy` (the binary) running `caddyfile` inside `ns`, its home in `home`; resolves once it listens on
 * 443, and fails with its output when it does not.
 */
export async function startHostCaddy(ns: TestNetns, caddy: string, caddyfile: string, home: string): Promise<ServerProcess> {
    const server = ns.startServer(caddy, ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(home));
    try {
        await ns.waitForPort(443, 30_000, "caddy");
    } catch (e) {
        await server.stop();
        throw new Error(`${(e as Error).message}\n${server.output()}`);
    }
    return server;
}

/** The SFTP target as the host's backup destination: a repository in its directory, its host key pinned. */
export function sftpDestination(target: SftpTarget): Extract<BackupDestination, { kind: "sftp" }> {
    return {
        kind: "sftp",
        host: target.host,
        port: target.port,
        user: target.user,
        path: `${target.dir}/dso-registry`,
        hostKey: target.hostKey,
    };
}
