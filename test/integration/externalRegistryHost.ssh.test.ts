/**
 * Remote scripts run for real over SSH: an OpenSSH server on 127.0.0.1 started by the test, a client
 * key and host key made at test time, and a private root (DSO_ROOT) for every file the scripts write.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { placeFileScript, removeFileScript } from "../../components/shared/hostAccess";
import { type SshServer, startSshServer } from "../support/sshServer";

let ssh: SshServer;

beforeAll(async () => {
    ssh = await startSshServer();
});

afterAll(async () => {
    await ssh?.stop();
});

describe("the SSH harness", () => {
    test("runs a script with stdin, as root, with DSO_ROOT pointing at the private root", () => {
        const result = ssh.runScript(`sh -c 'printf "%s|%s|" "$(id -u)" "$DSO_ROOT"; cat'`, "from stdin");
        expect(result.stdout).toBe(`0|${ssh.root}|from stdin`);
    });

    test("a placed file lands under the private root with its mode, and is removed again", () => {
        const spec = { path: "/etc/dso-test/example.conf", mode: "0640" };
        const first = ssh.runScript(placeFileScript(spec, false), "a=1\n");
        const second = ssh.runScript(placeFileScript(spec, false), "a=1\n");
        expect([first.stdout.split(" ")[0], second.stdout.split(" ")[0]]).toEqual(["changed", "unchanged"]);
        expect(ssh.readFile(spec.path)).toBe("a=1\n");
        ssh.runScript(removeFileScript(spec, false));
        expect(ssh.readFile(spec.path)).toBeUndefined();
    });

    test("an unprivileged login runs as its own user", async () => {
        const other = await startSshServer({ login: "unprivileged" });
        try {
            expect(other.runScript("id -u").stdout.trim()).not.toBe("0");
        } finally {
            await other.stop();
        }
    });
});
