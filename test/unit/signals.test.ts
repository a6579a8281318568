/**
 * The front's answers while a signal holds (components/accessPolicy/caddyfile/signals.ts): the read-only
 * read-only window's 503 (to writes, and to a pusher's blob check) and the disk guard's 507 to new uploads,
 * with the matchers that watch their markers.
 */
import { describe, expect, it } from "vitest";
import {
    blobCheckAnswer,
    DISK_FULL_MESSAGE,
    diskFullAnswer,
    diskFullMatcher,
    readOnlyAnswer,
    readOnlyMatchers,
    signalKinds,
} from "../../components/accessPolicy/caddyfile/signals";
import type { ReadOnlySignal } from "../../components/accessPolicy/policy";

const trimmed = (lines: string[]) => lines.map((l) => l.trim());
const files: ReadOnlySignal[] = [
    { kind: "file", path: "/run/dso/read-only" },
    { kind: "file", path: "/run/dso/backup" },
];
const both: ReadOnlySignal[] = [...files, { kind: "env", name: "DSO_READ_ONLY" }];

describe("signalKinds", () => {
    it("names each kind once, in the order first given", () => {
        expect(signalKinds([{ kind: "env", name: "A" }, ...files])).toEqual(["env", "file"]);
    });
});

describe("readOnlyMatchers", () => {
    it("holds while any marker file exists, for writes and for a blob check (HEAD on a blob)", () => {
        const lines = trimmed(readOnlyMatchers(files));
        expect(lines.filter((l) => l.startsWith("try_files"))).toEqual([
            "try_files /run/dso/read-only /run/dso/backup",
            "try_files /run/dso/read-only /run/dso/backup",
        ]);
        expect(lines).toEqual(
            expect.arrayContaining(["@maintenance-file {", "not method GET HEAD", "@maintenance-file-blob-check {", "method HEAD"]),
        );
    });

    it("has a matcher pair of its own for the environment signal: a matcher's conditions all have to hold", () => {
        const lines = trimmed(readOnlyMatchers(both));
        expect(lines.filter((l) => l.startsWith("@maintenance"))).toEqual([
            "@maintenance-file {",
            "@maintenance-file-blob-check {",
            "@maintenance-env {",
            "@maintenance-env-blob-check {",
        ]);
        expect(lines).toContain('expression `{env.DSO_READ_ONLY} != ""`');
    });

    it("is nothing without a signal", () => {
        expect([readOnlyMatchers([]), readOnlyAnswer([]), blobCheckAnswer([])]).toEqual([[], [], []]);
    });
});

describe("the window's answers", () => {
    it("reads a refused write's body before the 503 with Retry-After", () => {
        const lines = trimmed(readOnlyAnswer(files));
        const read = lines.indexOf("vars refused_body {http.request.body}");
        expect(read).toBeGreaterThan(-1);
        expect(read).toBeLessThan(lines.findIndex((l) => l.endsWith(" 503")));
        expect(lines).toEqual(expect.arrayContaining(["max_size 1MiB", "Retry-After 300"]));
    });

    it("answers a blob check at once: a HEAD has no body to read", () => {
        const lines = trimmed(blobCheckAnswer(both));
        expect(lines.filter((l) => l.startsWith("route "))).toEqual([
            "route @maintenance-file-blob-check {",
            "route @maintenance-env-blob-check {",
        ]);
        expect(lines.some((l) => l.startsWith("request_body"))).toBe(false);
        expect(lines.filter((l) => l.endsWith(" 503"))).toHaveLength(2);
    });
});

describe("the disk guard", () => {
    it("matches the start of a new upload and a body sent to an open one while its marker exists", () => {
        const marker = ["file {", "root /", "try_files /run/dso/disk-full", "}"];
        expect(trimmed(diskFullMatcher("/run/dso/disk-full"))).toEqual([
            "@diskFull {",
            "method POST",
            "path_regexp ^/v2/.+/blobs/uploads/?$",
            ...marker,
            "}",
            "@diskFullData {",
            "method PATCH PUT",
            "path_regexp ^/v2/.+/blobs/uploads/[^/]+$",
            "expression `header_regexp('Content-Length', '^0*[1-9]') || header({'Transfer-Encoding': '*'}) || (protocol('http/2+') && !header({'Content-Length': '*'}))`",
            ...marker,
            "}",
        ]);
    });

    it("answers 507 with a registry error that says what frees space, after reading the body, to both", () => {
        const lines = trimmed(diskFullAnswer());
        expect(lines.filter((l) => l.startsWith("route "))).toEqual(["route @diskFull {", "route @diskFullData {"]);
        const answer = lines.find((l) => l.endsWith(" 507"))!;
        expect(answer).toContain('"code":"DENIED"');
        expect(answer).toContain(DISK_FULL_MESSAGE);
        expect(lines.indexOf("vars refused_body {http.request.body}")).toBeLessThan(lines.indexOf(answer));
    });
});
