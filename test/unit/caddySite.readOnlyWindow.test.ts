/**
 * The external host's Caddy site watches the read-only window's marker the upkeep scripts write
 * (`caddySitePolicy`), and the garbage collection's script with the marker parses. The scripts holding
 * the window: scripts.readOnlyWindow.test.ts, backupScripts.readOnlyWindow.test.ts.
 */
import { execFileSync } from "node:child_process";
import { expect, test } from "vitest";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { gcScript } from "../../components/externalHost/scripts";
import { layout, marker, spec } from "../support/hostWindow";

test("the host's Caddyfile watches the marker the scripts write", () => {
    const policy = caddySitePolicy({
        layout,
        registryHost: "registry.example.com",
        port: 443,
        tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
        requiresAuthForPull: false,
        allowedNetworks: [],
        deletesEnabled: false,
        blobFiles: true,
        upstream: "127.0.0.1:5000",
    });
    expect(policy.readOnlySignals).toEqual([{ kind: "file", path: marker }]);
    expect(execFileSync("/bin/sh", ["-n", "-c", gcScript(spec, "spec-1", true)]).toString()).toBe("");
});
