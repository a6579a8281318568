/**
 * Garbage collection while pushes go on, as the external host is given it (`garbageCollection.mode`
 * "online"): what changes in what the host registers (Distribution's config without the blob-descriptor
 * cache, the front's holds in its Caddyfile, the collection's parameters in the GC script), what stays as
 * it was in "window" mode, and the job's refusal to collect beside a registry container that is not the
 * stack's current one. The collection itself, on a real host: test/integration/externalRegistryHost.onlineGc.test.ts.
 * Covers: components/upkeep/onlineCollection.ts.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { scriptParameters } from "../../components/consequences/previewConsequences";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import {
    type ExternalRegistryHostArgs,
    planExternalRegistryHost,
    resolveExternalRegistryHost,
} from "../../components/externalHost/externalRegistryHost";
import { planRegistryContainer } from "../../components/externalHost/registryContainer";
import { defaultHostLayout, gcScript, hostPaths, onlineHoldsReleased } from "../../components/externalHost/scripts";
import { planHostUpkeep } from "../../components/externalHost/upkeep";
import { ONLINE_COLLECTION, onlineS3Url } from "../../components/upkeep/onlineCollection";
import { hostWithStandIns, marker, spec } from "../support/hostWindow";
import { EXTERNAL_HOST_MINIMAL as minimal, S3_HOST_STORAGE } from "../support/planArgs";

const plan = (args: ExternalRegistryHostArgs) => planExternalRegistryHost("registry", resolveExternalRegistryHost(args));
const withMode = (mode: "window" | "online", more: Partial<ExternalRegistryHostArgs> = {}): ExternalRegistryHostArgs => ({
    ...minimal,
    ...more,
    garbageCollection: { enabled: true, mode },
});

/** Distribution's config.yml as the host's container step places it. */
function registryConfig(args: ExternalRegistryHostArgs): string {
    const container = plan(args).container;
    const file = planRegistryContainer(container.name, container.args).files.find((f) => f.args.path.endsWith("/config.yml"));
    return String(file?.args.content);
}

/** The GC script's parameters as the host's upkeep step places it. */
function gcParameters(args: ExternalRegistryHostArgs): Record<string, string> {
    const upkeep = plan(args).upkeep;
    const files = planHostUpkeep(upkeep.name, upkeep.args({ containerFingerprint: "fp" })).files;
    const gc = files.find((f) => f.name === `${upkeep.name}-gc-script`);
    return scriptParameters(gc?.args.content);
}

describe("online garbage collection on the external host", () => {
    it("runs Distribution without its blob-descriptor cache, which the window keeps", () => {
        expect(registryConfig(withMode("online"))).not.toMatch(/blobdescriptor/);
        expect(registryConfig(withMode("window"))).toMatch(/blobdescriptor: inmemory/);
        expect(registryConfig(minimal)).toMatch(/blobdescriptor: inmemory/);
    });

    it("gives the front its holds in the Caddyfile, in a directory under the one the front mounts; the window's Caddyfile has none", () => {
        const site = (args: ExternalRegistryHostArgs) => plan(args).caddy.args({});
        const online = site(withMode("online"));
        expect(online.sweepHold).toBe(true);
        const policy = caddySitePolicy({ ...online, maven: undefined });
        const hold = hostPaths(online.layout).sweepHold;
        expect(policy.sweepHold).toBe(hold);
        expect(hold.startsWith(`${online.layout.caddyDir}/`)).toBe(true);
        const caddyfile = renderCaddyfile(policy);
        expect(caddyfile).toContain(`root ${hold}\n`);
        expect(caddyfile).toMatch(/@sweepHoldCheck/);
        expect(renderCaddyfile(caddySitePolicy({ ...site(withMode("window")), maven: undefined }))).not.toMatch(/sweepHold|sweep-hold/);
    });

    it("gives the GC script its mode, the holds, the access log, the timings, and with s3 the bucket's root as a path-style URL", () => {
        const filesystem = gcParameters(withMode("online"));
        expect(filesystem).toMatchObject({
            GC_MODE: "online",
            ONLINE_HOLD_DIR: "/etc/caddy/dso-registry/sweep-hold",
            ONLINE_ACCESS_LOG: "/var/lib/dso-registry-front/logs/access.log",
            ONLINE_GRACE_SECONDS: String(ONLINE_COLLECTION.graceSeconds),
            ONLINE_QUARANTINE_SECONDS: String(ONLINE_COLLECTION.quarantineSeconds),
            ONLINE_S3_URL: "",
            UNIX_SOCKET: "/run/dso-registry/registry.sock",
        });
        const s3 = gcParameters(withMode("online", { storage: { ...S3_HOST_STORAGE, endpoint: "https://minio.example.com:9000/" } }));
        expect([s3.ONLINE_S3_URL, s3.ONLINE_S3_REGION]).toEqual(["https://minio.example.com:9000/images", "eu-west-1"]);
        const window = gcParameters(withMode("window", { storage: S3_HOST_STORAGE }));
        expect([window.GC_MODE, window.ONLINE_HOLD_DIR, window.ONLINE_S3_URL]).toEqual(["window", "", ""]);
    });

    it("addresses a bucket path-style: AWS's regional endpoint when none is given, the root directory as its key prefix", () => {
        const bucket = { bucket: "images", region: "eu-west-1" };
        expect(onlineS3Url({ ...bucket, rootDirectory: "/registry" })).toBe("https://s3.eu-west-1.amazonaws.com/images/registry");
        expect(onlineS3Url({ ...bucket, rootDirectory: "/" })).toBe("https://s3.eu-west-1.amazonaws.com/images");
        expect(onlineS3Url({ ...bucket, rootDirectory: "a/b/", endpoint: "http://127.0.0.1:9000" })).toBe(
            "http://127.0.0.1:9000/images/a/b",
        );
    });
});

describe("the online collection's holds at boot", () => {
    /** The cron file as the host's upkeep step places it. */
    const cron = (args: ExternalRegistryHostArgs) => {
        const upkeep = plan(args).upkeep;
        const files = planHostUpkeep(upkeep.name, upkeep.args({ containerFingerprint: "fp" })).files;
        return String(files.find((f) => f.name === `${upkeep.name}-cron`)?.args.content);
    };

    it("are let go of at boot in online mode, and only there", () => {
        const layout = plan(withMode("online")).caddy.args({}).layout;
        expect(cron(withMode("online"))).toContain(`@reboot root ${onlineHoldsReleased(layout)} 2>&1 | logger -t dso-registry-gc\n`);
        expect(cron(withMode("window"))).not.toContain("@reboot");
    });

    it("puts the gate back and removes every blob's hold, once no collection holds the lock", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "dso-boot-holds-"));
        const started: ChildProcess[] = [];
        try {
            const base = defaultHostLayout(path.join(dir, "data"));
            const layout = {
                ...base,
                caddyDir: path.join(dir, "caddy"),
                socketDir: path.join(dir, "run"),
                lockFile: path.join(dir, "lock"),
            };
            const paths = hostPaths(layout);
            mkdirSync(paths.sweepHold, { recursive: true });
            for (const name of [`sha256:${"a".repeat(64)}`, `sha256:${"b".repeat(64)}`])
                writeFileSync(path.join(paths.sweepHold, name), "");
            // A collection under way holds the lock: nothing changes until it lets go.
            const letGo = path.join(dir, "let-go");
            started.push(
                spawn("flock", [layout.lockFile, "sh", "-c", `while [ ! -e ${letGo} ]; do sleep 0.05; done`], {
                    stdio: "ignore",
                    detached: true,
                }),
            );
            for (const deadline = Date.now() + 10_000; spawnSync("flock", ["-n", layout.lockFile, "true"]).status === 0; ) {
                if (Date.now() > deadline) throw new Error("the stand-in collection did not take the lock");
                spawnSync("sleep", ["0.05"]);
            }
            const released = spawn("sh", ["-c", onlineHoldsReleased(layout)], { stdio: "ignore", detached: true });
            started.push(released);
            const exited = new Promise<number | null>((resolve) => released.on("exit", resolve));
            await new Promise((resolve) => setTimeout(resolve, 500));
            expect(readdirSync(paths.sweepHold)).toHaveLength(2);
            writeFileSync(letGo, "");
            expect(await exited).toBe(0);
            expect(readdirSync(paths.sweepHold)).toEqual(["gate"]);
            expect(readlinkSync(path.join(paths.sweepHold, "gate"))).toBe(paths.registrySocket);
            // Run again (a gate already there): the same.
            expect(spawnSync("sh", ["-c", onlineHoldsReleased(layout)]).status).toBe(0);
            expect(readlinkSync(path.join(paths.sweepHold, "gate"))).toBe(paths.registrySocket);
        } finally {
            // Each with what it started (flock's shell): each runs in a process group of its own.
            for (const child of started) if (child.exitCode === null && child.pid) process.kill(-child.pid);
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("the online GC script beside a registry container that is not the stack's current one", () => {
    const { root } = hostWithStandIns();

    it("collects nothing, stops nothing and opens no window: it asks for pulumi up first", () => {
        // The stand-in's registry container carries the label but does not say it runs (`{{.State.Running}}`).
        const env = { ...process.env, DSO_ROOT: root(), PATH: `${path.join(root(), "bin")}:${process.env.PATH}` };
        const online = gcScript(spec, "spec-1", false, undefined, undefined, false, false, {});
        const result = spawnSync("/bin/sh", ["-c", online], { env, encoding: "utf8" });
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain("the registry container is not running as this stack last set it up");
        expect(result.stderr).toContain("run pulumi up first; nothing was collected");
        // No stand-in was called: nothing stopped, run or collected.
        expect(existsSync(path.join(root(), "calls"))).toBe(false);
        expect(existsSync(path.join(root(), marker))).toBe(false);
        expect(existsSync(path.join(root(), hostPaths(spec.layout).sweepHold))).toBe(false);
    });
});
