/**
 * The external host's front serves blob downloads from the registry's data directory. The front now
 * runs as root in its container (docs/decisions/host-front.md), which reads the directory whatever its
 * group; on a host an earlier version deployed, the data directory also belongs to the group `caddy`
 * (`dataDirScript` keeps giving it where the group exists). This plays the strictest reader the script
 * serves: Caddy as the unprivileged `caddy` user of Debian's package (Debian's Caddy, which that user can
 * run; the pinned build lives in the build cache, out of its reach), with the rendered Caddyfile, blobs
 * written by a real Distribution running as root with umask 022 (as in the container). Distribution is
 * stopped before each download, so a 200 can only come from the file.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { dataDirScript, defaultHostLayout } from "../../components/externalHost/scripts";
import { DISTRIBUTION } from "../../components/shared/facts";
import { withoutPinnedOnlyLines } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { makeAccount } from "../support/realRegistry";
import { freePort, privateDir, removeDir, run, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

const layout = defaultHostLayout("/srv/data/registry");
let scratch: string;
let hostRoot: string;
let dataDir: string;
let caddy: ServerProcess | undefined;
let caddyPort: number;
let digest: string;
let blob: Buffer;

const caddyUid = () => Number(runOk("id", ["-u", "caddy"]).stdout.trim());
const caddyGid = () => Number(runOk("id", ["-g", "caddy"]).stdout.trim());
const placeDataDir = () => runOk("sh", ["-c", dataDirScript(layout)], { env: { ...process.env, DSO_ROOT: hostRoot } }).stdout.trim();

function download(): { status: number; body: Buffer } {
    const bodyFile = path.join(scratch, `body-${randomBytes(4).toString("hex")}`);
    const out = runOk("curl", [
        "-sS",
        "-o",
        bodyFile,
        "-w",
        "%{http_code}",
        "--max-time",
        "60",
        `http://127.0.0.1:${caddyPort}/v2/team/app/blobs/${digest}`,
    ]);
    const status = Number(out.stdout.trim());
    return { status, body: status === 200 ? readFileSync(bodyFile) : Buffer.alloc(0) };
}

beforeAll(async () => {
    scratch = privateDir("host-blob-files");
    // Only so that the caddy user can walk down to the host root; nothing in it is listed or read.
    chmodSync(scratch, 0o711);
    hostRoot = path.join(scratch, "root");
    dataDir = path.join(hostRoot, layout.dataDir);
    expect(placeDataDir()).toBe(`changed ${dataDir}`);

    // Distribution as the container runs it: root, umask 022, filesystem storage in the data directory.
    const registryPort = await freePort();
    const configFile = path.join(scratch, "config.yml");
    writeFileSync(
        configFile,
        renderRegistryConfig({
            addr: `127.0.0.1:${registryPort}`,
            storage: { kind: "filesystem", rootDirectory: dataDir },
            deletesEnabled: false,
            logLevel: "warn",
        }),
    );
    const registry = startServer("/bin/sh", ["-c", `umask 022; exec '${deployedRegistry().path}' serve '${configFile}'`], {
        ...process.env,
        ...DISTRIBUTION.environment,
    });
    try {
        await waitForPort(registryPort, 30_000, "docker-registry");
        blob = randomBytes(256 * 1024);
        digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
        const blobFile = path.join(scratch, "blob");
        writeFileSync(blobFile, blob);
        const base = `http://127.0.0.1:${registryPort}`;
        const started = runOk("curl", [
            "-sS",
            "--fail",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            `${base}/v2/team/app/blobs/uploads/`,
        ]).stdout;
        const location = /^location:\s*(\S+)/im.exec(started)?.[1];
        if (!location) throw new Error(`no upload location in:\n${started}`);
        const target = `${location.startsWith("/") ? base + location : location}${location.includes("?") ? "&" : "?"}digest=${digest}`;
        runOk("curl", [
            "-sS",
            "--fail",
            "-o",
            "/dev/null",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            `@${blobFile}`,
            target,
        ]);
    } finally {
        await registry.stop();
    }

    // Caddy as the caddy user, with its own files and the upstream (Distribution) down.
    const caddyHome = path.join(scratch, "caddy");
    mkdirSync(caddyHome);
    const pushUsersFile = path.join(caddyHome, "users-push");
    const pullUsersFile = path.join(caddyHome, "users-pull");
    writeFileSync(pushUsersFile, renderUsersFile("push", [makeAccount("ci-push")]), { mode: 0o600 });
    writeFileSync(pullUsersFile, renderUsersFile("pull", []), { mode: 0o600 });
    caddyPort = await freePort();
    const caddyfile = path.join(caddyHome, "Caddyfile");
    writeFileSync(
        caddyfile,
        withoutPinnedOnlyLines(
            renderCaddyfile({
                siteAddress: "127.0.0.1",
                port: caddyPort,
                bindAddress: "127.0.0.1",
                admin: "off",
                tls: { kind: "plain-http" },
                upstream: `127.0.0.1:${registryPort}`,
                requiresAuthForPull: false,
                pushUsersFile,
                pullUsersFile,
                allowedNetworks: [],
                deletesEnabled: false,
                blobFiles: dataDir,
            }),
        ),
    );
    for (const file of [caddyHome, pushUsersFile, pullUsersFile, caddyfile]) chownSync(file, caddyUid(), caddyGid());
    caddy = startServer(
        "/usr/bin/setpriv",
        ["--reuid=caddy", "--regid=caddy", "--init-groups", "/usr/bin/caddy", "run", "--adapter", "caddyfile", "--config", caddyfile],
        { ...process.env, HOME: caddyHome, XDG_DATA_HOME: path.join(caddyHome, "data"), XDG_CONFIG_HOME: path.join(caddyHome, "config") },
    );
    await waitForPort(caddyPort, 30_000, "caddy").catch((e: Error) => {
        throw new Error(`${e.message}\n${caddy!.output()}`);
    });
}, 120_000);

afterAll(async () => {
    await caddy?.stop();
    if (scratch) removeDir(scratch);
});

describe("Caddy as user caddy reads the data directory the host scripts make", () => {
    test("the data directory belongs to Caddy's group and is closed to others", () => {
        const stat = statSync(dataDir);
        expect(stat.gid).toBe(caddyGid());
        expect(stat.mode & 0o777).toBe(0o750);
        expect(placeDataDir()).toBe(`unchanged ${dataDir}`);
    });

    test("Caddy really runs as the caddy user", () => {
        const pid = caddy!.child.pid!;
        const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        // setpriv execs Caddy in place, so the pid is Caddy's.
        expect(Number(uid?.[1])).toBe(caddyUid());
    });

    test("a blob written by Distribution is served from the file with Distribution stopped", () => {
        const answer = download();
        expect(answer.status).toBe(200);
        expect(answer.body.equals(blob)).toBe(true);
    });

    test("when Caddy cannot read the directory the download falls through to the proxy, and the script repairs it", () => {
        run("chgrp", ["root", dataDir]);
        try {
            expect(download().status).toBe(502);
        } finally {
            expect(placeDataDir()).toBe(`changed ${dataDir}`);
        }
        expect(download().status).toBe(200);
    });
});
