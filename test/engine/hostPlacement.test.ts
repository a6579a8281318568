/**
 * The external host's placement record (components/externalHost/hostPlacement.ts) under the real engine
 * and the real dynamic-provider host: a workspace whose program registers the record alone, from the
 * `externalHost` values of its stack config, as the prod stack does before anything of the host (the
 * host's component waits for it: test/unit/hostPlacement.test.ts). A new `externalHost.ssh.host` or
 * `dataDir` is refused by `preview` and by `up` with the key and the procedure, and the state keeps the
 * old record; forgetting the record (`pulumi state delete`) is the operator's way through.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";

const STACK = "placement";
const URN = `urn:pulumi:${STACK}::dso-registry::pulumi-nodejs:dynamic/externalHost:Placement::registry-host-placement`;

let ws: Workspace;

beforeAll(async () => {
    ws = openWorkspace();
    // The program of this workspace: the record alone, as components/stack/externalHost.ts registers it.
    writeFileSync(
        path.join(ws.projectDir, "index.ts"),
        [
            'import * as pulumi from "@pulumi/pulumi";',
            `import { HostPlacement } from ${JSON.stringify(path.join(PROJECT_DIR, "components/externalHost/hostPlacement"))};`,
            'const eh = new pulumi.Config().requireObject<{ ssh: { host: string; port: number }; dataDir: string }>("externalHost");',
            'new HostPlacement("registry-host-placement", { host: eh.ssh.host, port: eh.ssh.port, dataDir: eh.dataDir, mavenDataDir: "" });',
            "",
        ].join("\n"),
    );
    await ws.pulumiOk(["stack", "init", STACK]);
}, 20 * 60_000);

afterAll(() => ws?.close());

async function place(host: string, dataDir: string): Promise<void> {
    await ws.pulumiOk(["config", "set", "--path", "dso-registry:externalHost.ssh.host", host, "-s", STACK]);
    await ws.pulumiOk(["config", "set", "--path", "dso-registry:externalHost.ssh.port", "22", "-s", STACK]);
    await ws.pulumiOk(["config", "set", "--path", "dso-registry:externalHost.dataDir", dataDir, "-s", STACK]);
}

const recorded = async () =>
    ((await ws.exportState(STACK)).deployment.resources ?? []).find((r) => r.urn === URN)?.outputs as
        | { host?: string; dataDir?: string }
        | undefined;

describe("the external host's placement record, real engine", () => {
    it("`up` records the host and its data directory; a second `up` plans nothing", async () => {
        await place("registry-01.dso.example.com", "/srv/data/registry");
        const up = await ws.pulumi(["up", "--yes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect(await recorded()).toMatchObject({ host: "registry-01.dso.example.com", dataDir: "/srv/data/registry" });
        const again = await ws.pulumi(["up", "--yes", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("a new externalHost.ssh.host is refused by preview and by up, naming the key and the procedure; the record stays", async () => {
        await place("registry-02.dso.example.com", "/srv/data/registry");
        for (const command of [["preview"], ["up", "--yes"]]) {
            const r = await ws.pulumi([...command, "-s", STACK]);
            expect(r.code, command[0]).not.toBe(0);
            expect(r.stdout + r.stderr).toContain(
                "externalHost.ssh.host changed from registry-01.dso.example.com:22 to registry-02.dso.example.com:22",
            );
            expect(r.stdout + r.stderr).toContain('"Moving the registry" in docs/external-host.md');
        }
        expect(await recorded()).toMatchObject({ host: "registry-01.dso.example.com" });
    });

    it("a new externalHost.dataDir is refused the same way", async () => {
        await place("registry-01.dso.example.com", "/data/registry");
        const r = await ws.pulumi(["up", "--yes", "-s", STACK]);
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain("externalHost.dataDir changed from /srv/data/registry to /data/registry");
        expect(await recorded()).toMatchObject({ dataDir: "/srv/data/registry" });
    });

    it("once the operator forgets the record (`pulumi state delete`), `up` records the new place", async () => {
        const forget = await ws.pulumi(["state", "delete", URN, "--yes", "-s", STACK]);
        expect(forget.code, forget.stdout + forget.stderr).toBe(0);
        const up = await ws.pulumi(["up", "--yes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect(await recorded()).toMatchObject({ host: "registry-01.dso.example.com", dataDir: "/data/registry" });
    });
});
