/**
 * The Caddyfile's text helpers (components/accessPolicy/caddyfile/syntax.ts): the registry's error bodies,
 * JSON inside Caddy's placeholder syntax, regular-expression literals, and the repository-name grammar.
 */
import { describe, expect, it } from "vitest";
import { escapeBraces, REPOSITORY_NAME, regexpLiteral, registryError } from "../../components/accessPolicy/caddyfile/syntax";

describe("registryError", () => {
    it("is Distribution's error body with one error, which docker and skopeo print", () => {
        expect(JSON.parse(registryError("DENIED", "no"))).toEqual({ errors: [{ code: "DENIED", message: "no", detail: null }] });
    });
});

describe("escapeBraces", () => {
    it("escapes JSON's braces for Caddy, and keeps request and regexp placeholders", () => {
        expect(escapeBraces('{"token":"{re.basic.1}","host":"{http.request.host}"}')).toBe(
            '\\{"token":"{re.basic.1}","host":"{http.request.host}"\\}',
        );
    });
});

describe("regexpLiteral", () => {
    it("matches the text itself, each special character taken literally", () => {
        const literal = new RegExp(`^${regexpLiteral("ci.push+(1)")}$`);
        expect(literal.test("ci.push+(1)")).toBe(true);
        expect(literal.test("ciXpushh1")).toBe(false);
    });
});

describe("REPOSITORY_NAME", () => {
    const name = new RegExp(`^${REPOSITORY_NAME}$`);
    it.each(["app", "team/app", "a__b", "a-b.c_d", "team--x/app"])("takes %s", (repository) => {
        expect(name.test(repository)).toBe(true);
    });
    it.each(["..", "team/../app", "App", "team//app", "-app", "app/"])("refuses %s", (repository) => {
        expect(name.test(repository)).toBe(false);
    });
});
