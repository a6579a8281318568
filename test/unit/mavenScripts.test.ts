/**
 * The external host's Maven pieces (components/externalHost/mavenScripts.ts): the nginx config its Maven
 * container runs, listening on a unix socket only Caddy reaches and spooling uploads beside the data.
 * Whether the host serves Maven at all: externalHost.maven.test.ts.
 */
import { describe, expect, it } from "vitest";
import { hostMavenNginxConfig } from "../../components/externalHost/mavenScripts";

describe("host Maven pieces", () => {
    it("nginx spools uploads beside the data, outside the served path", () => {
        const conf = hostMavenNginxConfig({ pathPrefix: "maven-releases" });
        expect(conf).toContain("client_body_temp_path /var/lib/maven/.uploads;");
        // A unix socket only Caddy reaches; no TCP listener (docs/decisions/access-policy.md#no-path-around-the-front).
        expect(conf).toContain("listen unix:/run/dso-maven-socket/maven.sock;");
        expect(conf).not.toMatch(/listen [^u]/);
        expect(conf).toContain("location /maven-releases/ {");
    });
});
