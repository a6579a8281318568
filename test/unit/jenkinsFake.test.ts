/**
 * The fake Jenkins (test/support/fakeJenkins.ts) is as strict as the Credentials plugin where a lenient
 * fake would hide a client bug: the charset of XML bodies, malformed XML, an update under another ID,
 * a store the user may not view, and the `typeName` Jenkins exports. Requests go straight to it with
 * fetch, as a client without this program's care would send them.
 * Covers: test/support/fakeJenkins.ts.
 */
import { describe, expect, it } from "vitest";
import { STRING_CLASS, USERNAME_PASSWORD_CLASS } from "../../components/jenkins/credentialXml";
import type { FakeJenkins } from "../support/fakeJenkins";
import { jenkins, token } from "../support/jenkinsProvider";

const STORE = "/credentials/store/system/domain/_";
const auth = `Basic ${Buffer.from(`admin:${token}`).toString("base64")}`;

function send(j: FakeJenkins, method: string, path: string, body?: string, contentType?: string): Promise<Response> {
    return fetch(`${j.url}${path}`, {
        method,
        headers: { Authorization: auth, ...(contentType ? { "Content-Type": contentType } : {}) },
        ...(body === undefined ? {} : { body }),
    });
}

function credentialXml(id: string, username: string, className = USERNAME_PASSWORD_CLASS): string {
    return `<${className}>\n  <scope>GLOBAL</scope>\n  <id>${id}</id>\n  <username>${username}</username>\n  <password>p</password>\n</${className}>\n`;
}

describe("XML bodies are read in the charset the request names", () => {
    it.each([
        ["no charset: ISO-8859-1, so UTF-8 bytes come out garbled", "application/xml", "Zo\u00c3\u00ab"],
        ["charset=utf-8", "application/xml; charset=utf-8", "Zoë"],
        ["text/xml;charset=UTF-8", "text/xml;charset=UTF-8", "Zoë"],
    ])("%s", async (_, contentType, stored) => {
        const j = await jenkins();
        const answer = await send(j, "POST", `${STORE}/createCredentials`, credentialXml("c", "Zoë"), contentType);
        expect(answer.status).toBe(200);
        expect(j.credentials.get("c")?.fields.username).toBe(stored);
    });
});

describe("malformed XML is a 500", () => {
    it.each([
        ["an unclosed element", `<${USERNAME_PASSWORD_CLASS}><id>c</id>`],
        ["a mismatched end tag", `<${USERNAME_PASSWORD_CLASS}><id>c</name></${USERNAME_PASSWORD_CLASS}>`],
        ["a bare ampersand", `<${USERNAME_PASSWORD_CLASS}><id>c</id><password>a&b</password></${USERNAME_PASSWORD_CLASS}>`],
        ["an unknown entity", `<${USERNAME_PASSWORD_CLASS}><id>c</id><password>&nbsp;</password></${USERNAME_PASSWORD_CLASS}>`],
        ["two root elements", `${credentialXml("c", "u")}<x/>`],
        ["an unknown credential class", credentialXml("c", "u", "com.example.NoSuchCredentials")],
    ])("%s", async (_, body) => {
        const j = await jenkins();
        const answer = await send(j, "POST", `${STORE}/createCredentials`, body, "application/xml; charset=utf-8");
        expect([answer.status, j.credentials.size]).toEqual([500, 0]);
    });
});

describe("config.xml", () => {
    it("refuses (500) an update whose body has another ID than the URL, and keeps the credential", async () => {
        const j = await jenkins();
        await send(j, "POST", `${STORE}/createCredentials`, credentialXml("c", "first"), "application/xml; charset=utf-8");
        const answer = await send(
            j,
            "POST",
            `${STORE}/credential/c/config.xml`,
            credentialXml("d", "second"),
            "application/xml; charset=utf-8",
        );
        expect(answer.status).toBe(500);
        expect([...j.credentials.keys()]).toEqual(["c"]);
        expect(j.credentials.get("c")?.fields.username).toBe("first");
    });

    it("deletes with DELETE (200), and a second DELETE finds nothing (404)", async () => {
        const j = await jenkins();
        await send(j, "POST", `${STORE}/createCredentials`, credentialXml("c", "u"), "application/xml; charset=utf-8");
        const first = await send(j, "DELETE", `${STORE}/credential/c/config.xml`);
        const second = await send(j, "DELETE", `${STORE}/credential/c/config.xml`);
        expect([first.status, second.status, j.credentials.size]).toEqual([200, 404, 0]);
    });
});

describe("a user without Credentials/View", () => {
    it.each([
        ["GET", `${STORE}/api/json`],
        ["GET", `${STORE}/credential/c/config.xml`],
        ["GET", `${STORE}/credential/c/api/json`],
        ["POST", `${STORE}/credential/c/config.xml`],
        ["DELETE", `${STORE}/credential/c/config.xml`],
        ["POST", `${STORE}/createCredentials`],
    ])("gets 404 for %s %s, although the credential exists", async (method, path) => {
        const j = await jenkins({ usersWithoutView: ["admin"] });
        j.credentials.set("c", { className: USERNAME_PASSWORD_CLASS, fields: { id: "c", username: "u" } });
        const body = method === "GET" || method === "DELETE" ? undefined : credentialXml("c", "u");
        expect((await send(j, method, path, body, body ? "application/xml; charset=utf-8" : undefined)).status).toBe(404);
        expect(j.credentials.get("c")?.fields.username).toBe("u");
    });

    it.each([
        [[] as string[], ["system"]],
        [["admin"], []],
    ])("sees the stores the credentials root lists (without View: %j)", async (usersWithoutView, stores) => {
        const j = await jenkins({ usersWithoutView });
        const root = (await (await send(j, "GET", "/credentials/api/json")).json()) as { stores: Record<string, unknown> };
        expect(Object.keys(root.stores)).toEqual(stores);
    });
});

it.each([
    [USERNAME_PASSWORD_CLASS, "Username with password"],
    [STRING_CLASS, "Secret text"],
])("api/json of a %s names its type as Jenkins does", async (className, typeName) => {
    const j = await jenkins();
    j.credentials.set("c", { className, fields: { id: "c", description: "d" } });
    const json = (await (await send(j, "GET", `${STORE}/credential/c/api/json`)).json()) as Record<string, unknown>;
    expect(json).toMatchObject({ id: "c", description: "d", typeName, fullName: "system/_/c" });
    expect(json).not.toHaveProperty("username");
});
