/**
 * The Jenkins provider's HTTP helpers (components/jenkins/jenkinsHttp.ts): a response body decoded by its
 * charset, the base URL normalised and refused with user info (never repeating a password), and secrets
 * scrubbed from a text.
 */
import { describe, expect, it } from "vitest";
import { decodeBody, normalizeBaseUrl, scrubSecrets } from "../../components/jenkins/jenkinsHttp";

describe("decodeBody", () => {
    const utf8 = Buffer.from("<username>Zoë 🚀</username>", "utf8");
    const latin1 = Buffer.from("<username>Zoë</username>", "latin1");
    it.each<[string, Buffer, string | undefined, string]>([
        ["UTF-8 named", utf8, "application/xml;charset=UTF-8", "<username>Zoë 🚀</username>"],
        ["ISO-8859-1 named", latin1, "application/xml; charset=ISO-8859-1", "<username>Zoë</username>"],
        ["no charset, valid UTF-8", utf8, "application/xml", "<username>Zoë 🚀</username>"],
        ["no charset, not UTF-8: ISO-8859-1", latin1, "application/xml", "<username>Zoë</username>"],
        ["no Content-Type", utf8, undefined, "<username>Zoë 🚀</username>"],
    ])("%s", (_, bytes, contentType, expected) => {
        expect(decodeBody(bytes, contentType)).toBe(expected);
    });
});

describe("normalizeBaseUrl", () => {
    it.each([
        ["https://jenkins.example.com", "https://jenkins.example.com"],
        ["https://jenkins.example.com/", "https://jenkins.example.com"],
        ["https://example.com/jenkins//", "https://example.com/jenkins"],
        ["http://127.0.0.1:8080/ci", "http://127.0.0.1:8080/ci"],
    ])("%s -> %s", (input, expected) => {
        expect(normalizeBaseUrl(input)).toBe(expected);
    });

    it.each([
        ["https://admin:hunter2@jenkins.example.com", "must not contain a user name or password"],
        ["ftp://jenkins.example.com", "must start with https://"],
    ])("rejects %s", (input, message) => {
        expect(() => normalizeBaseUrl(input)).toThrow(message);
    });

    it("never repeats the password of a URL with user info", () => {
        expect(() => normalizeBaseUrl("https://admin:hunter2@jenkins.example.com")).toThrow(
            expect.objectContaining({ message: expect.not.stringContaining("hunter2") }),
        );
    });
});

it("scrubs every secret from a text", () => {
    expect(scrubSecrets("token abcd1234 and pw s3cr3t-pw, abcd1234 again", ["abcd1234", "s3cr3t-pw", undefined])).toBe(
        "token [secret] and pw [secret], [secret] again",
    );
});
