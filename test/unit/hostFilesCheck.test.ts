/**
 * HostFilesCheck's pure parts (components/shared/hostFilesCheck.ts): what a file must be, with the
 * generic placement or a command of its own, and the script that recreates the containers. How the
 * read-back's lines are judged and when the diff asks for an update: hostFilesProvider.test.ts. The SSH
 * side is test/integration/hostFilesCheck.test.ts; the program's wiring under the real engine is
 * test/engine/prodUp.test.ts.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkedFile, readPlacedFilesScript, recreatingScript } from "../../components/shared/hostFilesCheck";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const caddyOwned = checkedFile({ path: "/etc/caddy/dso-registry/users-push", mode: "0600", owner: "caddy:caddy" }, "a $2a$x\n", true);
const rootOwned = checkedFile({ path: "/etc/caddy/Caddyfile", mode: "0644" }, "site {}\n", true);

describe("checkedFile", () => {
    it("holds the content's digest, the mode, the owner where the program sets one, and the HostFile's own placing command", () => {
        expect(caddyOwned).toMatchObject({ sha256: sha("a $2a$x\n"), mode: "0600", owner: "caddy:caddy" });
        expect(caddyOwned.place).toMatch(/^sudo -n sh -c /);
        expect(caddyOwned.place).toContain("/etc/caddy/dso-registry/users-push");
        expect(caddyOwned.place).toContain("TARGET=");
        expect(rootOwned.owner).toBeUndefined();
    });
    it("the read-back script names every path, with sudo when the connection needs it", () => {
        const script = readPlacedFilesScript([caddyOwned.path, rootOwned.path], true);
        expect(script).toMatch(/^sudo -n sh -c /);
        expect(script).toContain("/etc/caddy/dso-registry/users-push");
        expect(script).toContain("/etc/caddy/Caddyfile");
    });
    it("the read-back runs where the placing commands run when they are wrapped (a kind node's files, through docker exec)", () => {
        const script = readPlacedFilesScript(
            ["/etc/containerd/certs.d/registry:5000/hosts.toml"],
            false,
            (body) => `docker exec -i kind-worker sh -c '${body.length}'`,
        );
        expect(script).toMatch(/^docker exec -i kind-worker sh -c /);
        expect(script).not.toMatch(/^sudo/);
    });
});

describe("checkedFile with a command of its own", () => {
    it("keeps the file's own placing command and check instead of the generic placement", () => {
        const file = checkedFile({ path: "/etc/x", mode: "0600", place: "place-it", check: "check-it" }, "entries", true);
        expect(file.place).toBe("place-it");
        expect(file.check).toBe("check-it");
        expect(checkedFile({ path: "/etc/x", mode: "0600" }, "entries", true).check).toBeUndefined();
    });
});

describe("recreatingScript", () => {
    it("sets DSO_RECREATE for the converging script it runs, whose containers are then made anew (upkeep/sh/container-converge.sh)", () => {
        const script = recreatingScript("#!/bin/sh\necho run\n");
        expect(script.split("\n")[0]).toBe("DSO_RECREATE=1");
        expect(script.endsWith("#!/bin/sh\necho run\n")).toBe(true);
    });
});
