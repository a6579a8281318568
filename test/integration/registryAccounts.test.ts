/**
 * The registry's htpasswd as Apache's own htpasswd (Debian's apache2-utils) reads it: the deterministic
 * bcrypt hash verifies the password and refuses a wrong one.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect, it } from "vitest";
import { deterministicBcrypt, renderHtpasswd } from "../../components/accounts/registryAccounts";
import { privateDir, removeDir } from "../support/serverProcess";

it("deterministicBcrypt verifies with Apache's htpasswd", () => {
    const password = `pw-${Date.now()}`;
    const dir = privateDir("htpasswd");
    try {
        const file = path.join(dir, "htpasswd");
        writeFileSync(file, renderHtpasswd([{ username: "jenkins", bcryptHash: deterministicBcrypt("jenkins", password) }]));
        // -i reads the password from stdin, so it never appears on a command line.
        execFileSync("/usr/bin/htpasswd", ["-v", "-i", file, "jenkins"], { input: password, stdio: ["pipe", "ignore", "ignore"] });
        expect(() =>
            execFileSync("/usr/bin/htpasswd", ["-v", "-i", file, "jenkins"], { input: "wrong", stdio: ["pipe", "ignore", "ignore"] }),
        ).toThrow();
    } finally {
        removeDir(dir);
    }
});
