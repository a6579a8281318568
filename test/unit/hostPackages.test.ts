/**
 * The external host's packages and data directory (components/externalHost/hostPackages.ts), on the hosts
 * of test/support/externalHostMocks.ts under Pulumi's mock runtime, their scripts run under sh with
 * stand-ins: restic checked for only with backups on, nftables always, the data directory given to Caddy's group and kept
 * on delete unless the last `up` asked for the purge.
 * Covers: components/externalHost/purgeOnDestroy.ts (the purge marker).
 */
import { describe, expect, test } from "vitest";
import { hostsUnderMocks } from "../support/externalHostMocks";

const { command, script, runStubbed } = hostsUnderMocks();

describe("ExternalRegistryHost", () => {
    test("data is kept on delete; the purge marker's delete removes it only when the last up asked for it", () => {
        const { status, stdout } = runStubbed(script("registry-host-packages-data-dir", "delete"), []);
        expect(status).toBe(0);
        expect(stdout).toBe(
            "kept registry data in /srv/data/registry (removed on destroy only when externalHost.purgeDataOnDestroy was true at the last pulumi up)\n",
        );
        // Inside `sudo -n sh -c '…'`: an empty list, quoted.
        expect(String(command("registry-host-purge-marker").inputs.create)).toContain("\nDIRECTORIES='\\'''\\''\n");
    });

    test("the data directory is given to Caddy's group", () => {
        expect(String(command("registry-host-packages-data-dir").inputs.create)).toContain("chgrp caddy");
    });

    test("restic is installed with the other packages when backups are on", () => {
        // Everything else is there; restic is not (and neither is a package manager).
        const others = ["docker", "caddy", "crontab", "curl", "flock", "nft"];
        const withBackups = runStubbed(script("registry-host-packages-install"), others, { onlyStubs: true });
        expect(withBackups.status).not.toBe(0);
        expect(withBackups.stderr).toContain("missing: restic, and neither apt-get nor dnf is available");
        const without = runStubbed(script("ui-host-packages-install"), others, { onlyStubs: true });
        expect(without.stdout).toBe("unchanged packages\n");
    });

    test("nftables is installed with the other packages: the front's connection cap needs nft", () => {
        const others = ["docker", "crontab", "curl", "flock", "restic"];
        const result = runStubbed(script("registry-host-packages-install"), others, { onlyStubs: true });
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain("missing: nftables, and neither apt-get nor dnf is available");
    });
});
