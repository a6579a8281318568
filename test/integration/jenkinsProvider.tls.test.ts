/**
 * The Jenkins credential provider over TLS with a private CA (made with openssl), against the fake
 * Jenkins: the CA given in jenkins.caCertificate is trusted, and without it the call is refused with
 * the key that fixes it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { jenkinsCredentialProvider as provider } from "../../components/jenkins/jenkinsCredentials";
import { failure, jenkins, state } from "../support/jenkinsProvider";
import { makeTestCa } from "../support/realRegistry";

describe("TLS with a private CA", () => {
    let dir: string;
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    function makeCa(): { ca: string; key: string; cert: string } {
        dir = mkdtempSync(path.join(tmpdir(), "jenkins-tls-"));
        const made = makeTestCa(dir);
        return { ca: made.caCertPem, key: readFileSync(made.serverKeyFile, "utf8"), cert: readFileSync(made.serverCertFile, "utf8") };
    }

    it("connects when the CA is given", async () => {
        const { ca, key, cert } = makeCa();
        const j = await jenkins({ tls: { key, cert } });
        await provider.create(state(j, { caCertificate: ca }));
        expect(j.credentials.has("container-registry")).toBe(true);
    });

    it("refuses an untrusted certificate and points at jenkins.caCertificate", async () => {
        const { key, cert } = makeCa();
        const j = await jenkins({ tls: { key, cert } });
        const message = await failure(provider.create(state(j)));
        expect(message).toContain("jenkins.caCertificate");
        expect(j.credentials.size).toBe(0);
    });
});
