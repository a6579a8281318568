/**
 * Rotation with an overlap, the pure parts: the overlaps the PasswordOverlap resource refuses
 * (components/accounts/passwordOverlap.ts), the overlap file and previous-passwords files the fronts
 * import (usersFile.ts), and the password checks the Caddyfile gets (caddyfile/passwordChecks.ts). What the resource
 * keeps across a rotation: passwordOverlapProvider.test.ts. The same files on real Caddy and fail2ban:
 * test/integration/rotationOverlap.test.ts.
 */
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderOverlapMatchers, renderPreviousUsersFile } from "../../components/accessPolicy/usersFile";
import { PasswordOverlap } from "../../components/accounts/passwordOverlap";
import { BASE_POLICY } from "../support/accessPolicy";

const HASH_A = `$2b$10$${"a".repeat(53)}`;

describe("what the resource keeps", () => {
    test("the resource refuses an overlap that is not a whole number of hours", () => {
        expect(() => new PasswordOverlap("o", { password: "p", bcryptHash: HASH_A, overlapHours: 1.5 })).toThrow(/whole number of hours/);
        expect(() => new PasswordOverlap("o", { password: "p", bcryptHash: HASH_A, overlapHours: -1 })).toThrow(/whole number of hours/);
    });
});

describe("the overlap file", () => {
    const until = 1_800_000_000;

    test("without a previous password @overlapPrevious matches nothing and @overlapCurrent everything", () => {
        const text = renderOverlapMatchers([{ username: "ci" }]);
        expect(text).toContain("@overlapPrevious expression false\n");
        expect(text).toContain("@overlapCurrent expression !(false)\n");
    });

    test("each account in its overlap: its user and prefix in base64, and the end by Caddy's clock", () => {
        const text = renderOverlapMatchers([
            { username: "ci", previous: { bcryptHash: HASH_A, prefix: "old", until } },
            { username: "flux", previous: undefined },
        ]);
        const previous = /^@overlapPrevious expression (.*)$/m.exec(text)![1]!;
        // "ci:old" is two whole base64 groups; the doubled backslash is RE2's \s inside a CEL string.
        expect(previous).toBe(
            `({http.request.header.Authorization}.matches('^(?i:basic)\\\\s+Y2k6b2xk[A-Za-z0-9+/]*=*$') && int({time.now.unix}) < ${until})`,
        );
        expect(text).toContain(`@overlapCurrent expression !(${previous})`);
        expect(text).not.toContain("flux");
    });

    test("the pattern, read as a regular expression, takes the previous password and not the current one", () => {
        const text = renderOverlapMatchers([{ username: "team-b-ci", previous: { bcryptHash: HASH_A, prefix: "Qx", until } }]);
        const quoted = /matches\('(.*?)'\)/.exec(text)![1]!.replace(/\\\\/g, "\\").replace("(?i:basic)", "[Bb][Aa][Ss][Ii][Cc]");
        const pattern = new RegExp(quoted);
        const header = (password: string) => `Basic ${Buffer.from(`team-b-ci:${password}`).toString("base64")}`;
        expect(pattern.test(header("Qx7h2kPREVIOUS"))).toBe(true);
        expect(pattern.test(header("QyCURRENT"))).toBe(false);
        expect(pattern.test(`Basic ${Buffer.from("other:Qx7h2k").toString("base64")}`)).toBe(false);
    });

    test("the previous-passwords file holds the previous hashes only", () => {
        const text = renderPreviousUsersFile("push", [
            { username: "ci", previous: { bcryptHash: HASH_A, prefix: "o", until } },
            { username: "team-a-ci" },
        ]);
        expect(text).toBe(`# push accounts' previous passwords, managed by dso-registry\nci ${HASH_A}\n`);
        expect(renderPreviousUsersFile("pull", [{ username: "flux" }])).toBe(
            "# pull accounts' previous passwords, managed by dso-registry\n",
        );
    });
});

describe("the Caddyfile with an overlap", () => {
    const policy = { ...BASE_POLICY, overlap: { matchersFile: "/etc/caddy/overlap" } };

    test("imports the overlap file at the site, and every check has its previous-passwords route first", () => {
        const text = renderCaddyfile(policy);
        expect(text).toContain("\timport /etc/caddy/overlap\n");
        const previousChecks = text.match(/basicauth @overlapPrevious bcrypt /g) ?? [];
        const currentRoutes = text.match(/route @overlapCurrent \{/g) ?? [];
        expect(previousChecks.length).toBeGreaterThan(0);
        expect(currentRoutes.length).toBe(previousChecks.length);
        expect(text).toContain(`import ${BASE_POLICY.pushUsersFile}-previous\n`);
        // The write check holds the push accounts' previous passwords only.
        const write = text.slice(text.indexOf("route @write {"));
        const writeCheck = write.slice(0, write.indexOf("route @overlapCurrent"));
        expect(writeCheck).toContain(`import ${BASE_POLICY.pushUsersFile}-previous`);
        expect(writeCheck).not.toContain(BASE_POLICY.pullUsersFile);
    });

    test("with the decoy, every previous-passwords check has it too: names the check does not hold go to the decoy account", () => {
        const decoy = { accounts: { push: ["ci"], pull: ["flux"] }, bcryptHash: `$2b$10$${"a".repeat(53)}` };
        const text = renderCaddyfile({ ...policy, decoy });
        const previousRoutes = text.split(/\n\t+route @overlapPrevious \{\n/).slice(1);
        expect(previousRoutes.length).toBeGreaterThan(0);
        expect(text).not.toContain("basicauth @overlapPrevious");
        for (const route of previousRoutes) {
            const body = route.slice(0, route.indexOf("route @overlapCurrent"));
            expect(body).toMatch(/^\t+request_header @notHeld\d+ Authorization "Basic fnVua25vd246\{re\.notHeld\d+\.1\}"\n/);
            expect(body).toContain(`~unknown ${decoy.bcryptHash}`);
            expect(body).toMatch(/\n\t+error @decoyAuthenticated 401\n\t+\}\n\t+$/);
            expect(route).toMatch(/^\t+route @overlapCurrent \{\n\t+route \{\n/m);
        }
    });

    test("without an overlap the Caddyfile is what it was", () => {
        const text = renderCaddyfile(BASE_POLICY);
        expect(text).not.toContain("overlap");
        expect(text).not.toContain("-previous");
    });
});
