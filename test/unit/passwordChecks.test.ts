/**
 * The password checks of one Caddyfile (components/accessPolicy/caddyfile/passwordChecks.ts): the users files
 * each check imports, the decoy account that makes every name cost the same, its matchers, and a rotation's
 * overlap, which sends a previous password to the previous-passwords files.
 */
import { describe, expect, it } from "vitest";
import { PasswordChecks } from "../../components/accessPolicy/caddyfile/passwordChecks";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { base64PrefixPattern, DECOY_ACCOUNT, previousUsersFile } from "../../components/accessPolicy/usersFile";
import { BASE_POLICY } from "../support/accessPolicy";

const HASH = `$2b$10$${"D".repeat(53)}`;
const PUSH = BASE_POLICY.pushUsersFile;
const PULL = BASE_POLICY.pullUsersFile;
const DEPLOY = "/etc/caddy/maven-deploy-users";
const withDecoy: AccessPolicy = { ...BASE_POLICY, decoy: { accounts: { push: ["ci-push"], pull: ["cluster-pull"] }, bcryptHash: HASH } };
const imports = (lines: string[]) => lines.filter((l) => l.trim().startsWith("import ")).map((l) => l.trim());

describe("PasswordChecks without a decoy", () => {
    it("is one basicauth block that imports the check's files, and defines no matcher", () => {
        const checks = new PasswordChecks(BASE_POLICY);
        expect(checks.check("@ping", [PUSH, PULL]).map((l) => l.trim())).toEqual([
            "basicauth @ping bcrypt dso-registry {",
            `import ${PUSH}`,
            `import ${PULL}`,
            "}",
        ]);
        expect(checks.matchers()).toEqual([]);
    });
});

describe("PasswordChecks with a decoy", () => {
    it("hands credentials of a name the files do not hold to the decoy account, which the check holds and then refuses", () => {
        const lines = new PasswordChecks(withDecoy).check("@write", [PUSH]).map((l) => l.trim());
        const prefix = Buffer.from(`${DECOY_ACCOUNT}:`).toString("base64");
        expect(lines).toEqual([
            "route @write {",
            `request_header @notHeld0 Authorization "Basic ${prefix}{re.notHeld0.1}"`,
            "basicauth bcrypt dso-registry {",
            `import ${PUSH}`,
            `${DECOY_ACCOUNT} ${HASH}`,
            "}",
            "error @decoyAuthenticated 401",
            "}",
        ]);
    });

    it("defines one decoy matcher per set of names held, each leaving out that set's names", () => {
        const checks = new PasswordChecks(withDecoy);
        checks.check("@write", [PUSH]);
        checks.check("@ping", [PUSH, PULL]);
        checks.check("@read", [PULL, PUSH]);
        const matchers = checks.matchers();
        expect(matchers.filter((l) => /^\t@notHeld\d+ \{$/.test(l))).toEqual(["\t@notHeld0 {", "\t@notHeld1 {"]);
        expect(matchers).toContain(
            `\t\tnot header_regexp notHeld1Held Authorization ^(?i:basic)\\s+(?:${base64PrefixPattern("ci-push:")}|${base64PrefixPattern("cluster-pull:")})[A-Za-z0-9+/]*=*$`,
        );
        expect(matchers[0]).toBe(`\t@decoyAuthenticated vars_regexp {http.auth.user.id} ^${DECOY_ACCOUNT}$`);
    });

    it("imports a file whose every account another file of the check holds only once (the deploy account that is the push account)", () => {
        const policy: AccessPolicy = {
            ...withDecoy,
            maven: { pathPrefix: "maven", requiresAuthForPull: true, upstream: "unix//run/m.sock", deployUsersFile: DEPLOY },
            decoy: { accounts: { push: ["ci-push"], pull: ["cluster-pull"], mavenDeploy: ["ci-push"] }, bcryptHash: HASH },
        };
        expect(imports(new PasswordChecks(policy).check("@mavenRead", [DEPLOY, PUSH, PULL]))).toEqual([`import ${PUSH}`, `import ${PULL}`]);
    });

    it("refuses a name left in two files of one check: Caddy would not start", () => {
        const policy: AccessPolicy = {
            ...withDecoy,
            decoy: { accounts: { push: ["ci", "shared"], pull: ["shared", "pull"] }, bcryptHash: HASH },
        };
        expect(() => new PasswordChecks(policy).check("@ping", [PUSH, PULL])).toThrow(/account "shared" is in two users files/);
    });
});

describe("PasswordChecks during a rotation's overlap", () => {
    it("checks credentials the overlap file routes to a previous password against the previous-passwords files, every other against the current ones", () => {
        const lines = new PasswordChecks({ ...BASE_POLICY, overlap: { matchersFile: "/etc/caddy/overlap" } })
            .check("@write", [PUSH])
            .map((l) => l.trim());
        expect(lines[0]).toBe("route @write {");
        expect(lines.slice(1, 5)).toEqual([
            "basicauth @overlapPrevious bcrypt dso-registry {",
            `import ${previousUsersFile(PUSH)}`,
            "}",
            "route @overlapCurrent {",
        ]);
        expect(lines.slice(5, 8)).toEqual(["basicauth * bcrypt dso-registry {", `import ${PUSH}`, "}"]);
    });
});
