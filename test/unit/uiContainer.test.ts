/**
 * The web UI's container on the external host (components/externalHost/uiContainer.ts), on the hosts of
 * test/support/externalHostMocks.ts under Pulumi's mock runtime, its script run under sh with a docker
 * stand-in: on loopback, with the delete button as configured, and removed on delete.
 */
import { describe, expect, test } from "vitest";
import { hostsUnderMocks } from "../support/externalHostMocks";

const { rt, script, runStubbed } = hostsUnderMocks();

describe("ExternalRegistryHost with ACME and the web UI", () => {
    test("the UI container runs on loopback with the delete button as configured", () => {
        expect(rt().byName("ui-host-ui").type).toBe("dso-registry:externalHost:UiContainer");
        const created = runStubbed(script("ui-host-ui-run"), ["docker"]);
        expect(created.stdout).toBe("changed ui container\n");
        const run = created.calls.find((c) => c.startsWith("docker run "));
        expect(run).toContain(" -p 127.0.0.1:5080:80 ");
        expect(run).toContain(" -e DELETE_IMAGES=false ");
        expect(run).toContain(" -e REGISTRY_TITLE=registry.example.com ");
        const removed = runStubbed(script("ui-host-ui-run", "delete"), ["docker"]);
        // The check that it is the stack's (none is: the stand-in finds no container), then the removal.
        expect(removed.calls).toEqual(["docker inspect --type container dso-registry-ui", "docker rm -f dso-registry-ui"]);
        expect(removed.stdout).toBe("removed container dso-registry-ui\n");
    });
});
