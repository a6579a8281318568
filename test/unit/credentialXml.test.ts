/**
 * The Jenkins credentials' XML (components/jenkins/credentialXml.ts): what the provider sends, values
 * escaped, and what it reads back from Jenkins's redacted config.xml.
 */
import { describe, expect, it } from "vitest";
import { parseCredentialXml, renderCredentialXml, STRING_CLASS, USERNAME_PASSWORD_CLASS } from "../../components/jenkins/credentialXml";

describe("renderCredentialXml", () => {
    it("renders a username/password credential with escaped values", () => {
        const spec = {
            kind: "usernamePassword",
            id: "c",
            description: "a & b",
            username: "u",
            password: "<p>",
            usernameSecret: false,
        } as const;
        expect(renderCredentialXml(spec)).toBe(
            `<${USERNAME_PASSWORD_CLASS}>\n  <scope>GLOBAL</scope>\n  <id>c</id>\n  <description>a &amp; b</description>\n` +
                `  <username>u</username>\n  <password>&lt;p&gt;</password>\n  <usernameSecret>false</usernameSecret>\n</${USERNAME_PASSWORD_CLASS}>\n`,
        );
    });

    it("writes usernameSecret true when asked (Jenkins reads a missing one as true too, so it is always written)", () => {
        const spec = { kind: "usernamePassword", id: "c", description: "", username: "u", password: "p", usernameSecret: true } as const;
        expect(renderCredentialXml(spec)).toContain("  <usernameSecret>true</usernameSecret>\n");
    });

    it("renders a secret-text credential", () => {
        expect(renderCredentialXml({ kind: "secretText", id: "h", description: "d", secret: "r.example.com" })).toBe(
            `<${STRING_CLASS}>\n  <scope>GLOBAL</scope>\n  <id>h</id>\n  <description>d</description>\n  <secret>r.example.com</secret>\n</${STRING_CLASS}>\n`,
        );
    });
});

describe("parseCredentialXml", () => {
    it("reads class, user name and description from Jenkins's redacted config.xml", () => {
        const xml = `<?xml version="1.1" encoding="UTF-8"?>\n<${USERNAME_PASSWORD_CLASS} plugin="credentials@1">\n  <id>c</id>\n  <description>x &amp; y</description>\n  <username>ci&#45;push</username>\n  <password>\n    <secret-redacted/>\n  </password>\n</${USERNAME_PASSWORD_CLASS}>`;
        expect(parseCredentialXml(xml)).toEqual({ className: USERNAME_PASSWORD_CLASS, username: "ci-push", description: "x & y" });
    });

    it.each([
        ["true", true],
        ["false", false],
    ])("reads usernameSecret %s", (text, expected) => {
        const xml = `<${USERNAME_PASSWORD_CLASS}>\n  <id>c</id>\n  <usernameSecret>${text}</usernameSecret>\n</${USERNAME_PASSWORD_CLASS}>`;
        expect(parseCredentialXml(xml).usernameSecret).toBe(expected);
    });
});
