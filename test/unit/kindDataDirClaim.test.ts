/**
 * The claim of `kind.dataDir`, the kind placement's first step, run with /bin/sh as the component renders it
 * against directories of the test: absent, empty, marked for this stack, made by an earlier version without
 * the marker (the images alone too, as a file system mounted there leaves them), holding someone else's
 * files or marked for another stack (refused, nothing written), a file in its place. And the names it takes
 * for the placement's own: every top-level entry a plan with every feature writes.
 * Covers: components/kind/scripts.ts, components/kind/sh/data-dir-claim.sh.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KindRegistryArgs, planKindRegistry, resolveKindRegistry } from "../../components/kind/kindRegistry";
import {
    dataDirClaimScript,
    KIND_DATA_DIR_MARKER,
    KIND_DISK_FULL_MARKER,
    KIND_GC_MARKER,
    KIND_WINDOW_DIR,
    type KindLayout,
    kindDataDirLayout,
    kindDataDirMarker,
    kindMirrorPaths,
    kindPaths,
} from "../../components/kind/scripts";
import { GHCR_MIRROR, PLAN_HASH } from "../support/placementFixtures";
import { KIND_REGISTRY_MINIMAL } from "../support/planArgs";
import { privateDir, removeDir, run } from "../support/serverProcess";

const STACK = "dso-registry/kind";

let dir: string;
beforeAll(() => {
    dir = privateDir("kind-data-dir-claim");
});
afterAll(() => removeDir(dir));

const layoutAt = (dataDir: string): KindLayout => ({ ...KIND_REGISTRY_MINIMAL.layout, dataDir });

/** A fresh place for one case's kind.dataDir (not made). */
let cases = 0;
const newDataDir = () => path.join(dir, `case-${++cases}`, "dso-registry-kind");

/** Runs the claim of `dataDir` for `stack`, as the component's step runs it. */
function claim(dataDir: string, stack = STACK) {
    return run("/bin/sh", ["-c", dataDirClaimScript(layoutAt(dataDir), stack)]);
}

/** Every path under `root` with its content (files) or "dir" / "-> target": what a run may not change. */
function tree(root: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (at: string) => {
        for (const name of readdirSync(at).sort()) {
            const full = path.join(at, name);
            const rel = path.relative(root, full);
            const stat = lstatSync(full);
            if (stat.isDirectory()) {
                out[rel] = "dir";
                walk(full);
            } else {
                out[rel] = stat.isSymbolicLink() ? "link" : readFileSync(full, "utf8");
            }
        }
    };
    walk(root);
    return out;
}

/** Makes `files` (relative path → content; a path ending in "/" is a directory) under `root`. */
function populate(root: string, files: Record<string, string>): void {
    mkdirSync(root, { recursive: true });
    for (const [rel, content] of Object.entries(files)) {
        const full = path.join(root, rel);
        if (rel.endsWith("/")) {
            mkdirSync(full, { recursive: true });
            continue;
        }
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
    }
}

const markerOf = (dataDir: string) => path.join(dataDir, KIND_DATA_DIR_MARKER);
const expectedMarker = (dataDir: string) => `${kindDataDirMarker(layoutAt(dataDir), STACK).lines.join("\n")}\n`;

/** What a registry of an earlier version left in kind.dataDir, without the marker. */
const EARLIER: Record<string, string> = {
    "front/Caddyfile": ":5002 {}\n",
    "front/config.yml": "version: 0.1\n",
    "bin/node-inside.sh": "#!/bin/sh\n",
    "window/": "",
    "images/docker/registry/v2/blobs/sha256/ab/abcd/data": "layer",
    "mirrors/docker.io/data/": "",
};

describe("the claim of kind.dataDir: the registry's own directory is made or accepted", () => {
    it("makes an absent directory (and its parents) and marks it for this stack", () => {
        const dataDir = newDataDir();
        const r = claim(dataDir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`kind.dataDir ${dataDir} created`);
        expect(tree(dataDir)).toEqual({ [KIND_DATA_DIR_MARKER]: expectedMarker(dataDir) });
        expect(readFileSync(markerOf(dataDir), "utf8")).toContain("stack=dso-registry/kind\nregistry=kind-registry\n");
    });

    it("marks an empty directory", () => {
        const dataDir = newDataDir();
        mkdirSync(dataDir, { recursive: true });
        const r = claim(dataDir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("(empty) marked");
        expect(tree(dataDir)).toEqual({ [KIND_DATA_DIR_MARKER]: expectedMarker(dataDir) });
    });

    it("accepts a directory marked for this stack, and brings the marker's other lines up to date (a new kind.containerName)", () => {
        const dataDir = newDataDir();
        populate(dataDir, { ...EARLIER, [KIND_DATA_DIR_MARKER]: "# an earlier text\nstack=dso-registry/kind\nregistry=old-name\n" });
        const before = tree(dataDir);
        const r = claim(dataDir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("is this stack's registry's");
        expect(tree(dataDir)).toEqual({ ...before, [KIND_DATA_DIR_MARKER]: expectedMarker(dataDir) });
        // Again: nothing to do, the same answer.
        const again = claim(dataDir);
        expect(again.code, again.stderr).toBe(0);
        expect(tree(dataDir)).toEqual({ ...before, [KIND_DATA_DIR_MARKER]: expectedMarker(dataDir) });
    });

    it.each([
        ["the layout of an earlier version", EARLIER],
        // kind.dataDir/images on a file system of its own, as the disk guard's integration test mounts one there.
        ["the images alone", { "images/": "" }],
        // A file system mounted at kind.dataDir itself: its lost+found is no one's files.
        ["a file system's lost+found beside the layout", { ...EARLIER, "lost+found/": "" }],
        // What an earlier version's destroy leaves: the images, and the overlap's previous users file of a rotation.
        [
            "an earlier destroy's images and a rotation's previous users file",
            {
                "images/docker/registry/v2/repositories/dev/app/_manifests/tags/1/current/link": "sha256:ab",
                "front/users-push-previous": "push:$2y$",
                "mirrors/ghcr.io/env": "UPSTREAM=x",
                "mirrors/ghcr.io/data/docker/registry/v2/x": "y",
            },
        ],
    ])("marks a directory without the marker that holds the placement's entries alone: %s", (_, files) => {
        const dataDir = newDataDir();
        populate(dataDir, files);
        const before = tree(dataDir);
        const r = claim(dataDir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("marked as this stack's registry's: it holds the registry's files alone");
        expect(tree(dataDir)).toEqual({ ...before, [KIND_DATA_DIR_MARKER]: expectedMarker(dataDir) });
    });
});

describe("the claim of kind.dataDir: anything else is refused before any change", () => {
    /** Runs the claim on a directory holding `files`; expects a refusal that changed nothing, returns its message. */
    function refused(files: Record<string, string>, stack = STACK): { dataDir: string; message: string } {
        const dataDir = newDataDir();
        populate(dataDir, files);
        const before = tree(dataDir);
        const r = claim(dataDir, stack);
        expect(r.code).not.toBe(0);
        expect(tree(dataDir)).toEqual(before);
        expect(r.stderr).toContain(`kind.dataDir is ${dataDir}`);
        expect(r.stderr).toContain("Nothing was changed.");
        expect(r.stderr).toContain("pulumi config set --path 'dso-registry:kind.dataDir' /path/of/its/own");
        return { dataDir, message: r.stderr };
    }

    it("names what is not the placement's (hidden entries too), not what is, and says how to go on", () => {
        const { dataDir, message } = refused({ ...EARLIER, "notes.txt": "mine", ".bashrc": "alias x=y", "projects/a/b": "c" });
        expect(message).toContain("it holds what this stack did not put there: notes.txt, projects, .bashrc.\n");
        expect(message).not.toMatch(/there: [^\n]*(front|images|bin)/);
        expect(message).toContain(`move those out of ${dataDir}`);
        expect(existsSync(markerOf(dataDir))).toBe(false);
    });

    it.each([
        [
            "someone's files in a directory of the placement's name",
            { "images/holiday.jpg": "jpeg", "images/2025/": "" },
            "images/2025, images/holiday.jpg",
        ],
        ["a file where the placement keeps a directory", { images: "mine", "front/Caddyfile": ":5002 {}\n" }, "images"],
        ["a directory where the placement keeps a file", { "front/Caddyfile/": "" }, "front/Caddyfile"],
        [
            "a name the placement does not write, in its own directory",
            { ...EARLIER, "bin/backup.sh": "#!/bin/sh\n", "window/notes": "x" },
            "bin/backup.sh, window/notes",
        ],
        [
            "a cache directory holding someone's files",
            { "mirrors/docker.io/config.yml": "version: 0.1\n", "mirrors/docker.io/todo.txt": "x" },
            "mirrors/docker.io/todo.txt",
        ],
    ])("looks inside the placement's directories: refuses %s", (_, files, named) => {
        const { message } = refused(files);
        expect(message).toContain(`it holds what this stack did not put there: ${named}.\n`);
    });

    it("refuses a symbolic link in place of one of the placement's directories, and leaves what it points at alone", () => {
        const elsewhere = path.join(dir, `elsewhere-${++cases}`);
        populate(elsewhere, { "photo.jpg": "jpeg" });
        const dataDir = newDataDir();
        populate(dataDir, { "front/Caddyfile": ":5002 {}\n" });
        symlinkSync(elsewhere, path.join(dataDir, "images"));
        const before = tree(elsewhere);
        const r = claim(dataDir);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("it holds what this stack did not put there: images.\n");
        expect(existsSync(markerOf(dataDir))).toBe(false);
        expect(tree(elsewhere)).toEqual(before);
    });

    it("names a few of many entries, and how many more there are", () => {
        const files = Object.fromEntries(["a", "b", "c", "d", "e", "f", "g", "h"].map((n) => [n, n]));
        const { message } = refused(files);
        expect(message).toContain("there: a, b, c, d, e and 3 more.\n");
    });

    it("refuses a directory marked for another stack, and says whose it is and what taking it over means", () => {
        const dataDir = newDataDir();
        const other = "# marker\nstack=dso-registry/dev\nregistry=kind-registry\n";
        populate(dataDir, { ...EARLIER, [KIND_DATA_DIR_MARKER]: other });
        const before = tree(dataDir);
        const r = claim(dataDir);
        expect(r.code).not.toBe(0);
        expect(tree(dataDir)).toEqual(before);
        expect(r.stderr).toContain(`it belongs to another registry: its ${KIND_DATA_DIR_MARKER} says stack=dso-registry/dev`);
        expect(r.stderr).toContain(`remove ${markerOf(dataDir)}`);
    });

    it("refuses a file where the directory should be", () => {
        const parent = path.dirname(newDataDir());
        mkdirSync(parent, { recursive: true });
        const dataDir = path.join(parent, "a-file");
        writeFileSync(dataDir, "mine");
        const r = claim(dataDir);
        expect(r.code).not.toBe(0);
        expect(readFileSync(dataDir, "utf8")).toBe("mine");
        expect(r.stderr).toContain(`kind.dataDir is ${dataDir}, and it is not a directory`);
    });
});

describe("the placement's own paths", () => {
    it("take every path a plan with every feature writes in kind.dataDir, with the containers' directories and the window's markers", () => {
        const { layout } = KIND_REGISTRY_MINIMAL;
        const args: KindRegistryArgs = {
            ...KIND_REGISTRY_MINIMAL,
            ui: {},
            garbageCollection: { schedule: "30 3 * * 0", deleteUntagged: false, retention: { mode: "apply", rules: [], protect: [] } },
            diskGuard: { refusePercent: 90 },
            mirrors: [{ spec: GHCR_MIRROR, account: { username: "u", password: "p" } }],
            // A rotation's overlap: the previous users files and the overlap file are written too.
            accounts: { push: { ...KIND_REGISTRY_MINIMAL.accounts.push, previous: pulumi.output(undefined) } },
        };
        const plan = planKindRegistry("kind-registry", resolveKindRegistry(args), pulumi.output(PLAN_HASH), STACK);
        const p = kindPaths(layout);
        const cache = kindMirrorPaths(layout, GHCR_MIRROR);
        const written = [...plan.files.map((f) => f.args.path), KIND_GC_MARKER, KIND_DISK_FULL_MARKER].map((file) =>
            file.startsWith(KIND_WINDOW_DIR) ? `${p.window}${file.slice(KIND_WINDOW_DIR.length)}` : file,
        );
        expect(written.filter((file) => file.startsWith(`${cache.dir}/`)).length).toBeGreaterThan(0);
        expect(written.some((file) => file.endsWith("-previous"))).toBe(true);
        const files: Record<string, string> = { [`${cache.env.slice(layout.dataDir.length + 1)}`]: "UPSTREAM=x" };
        for (const file of written) files[path.posix.relative(layout.dataDir, file)] = "x";
        for (const d of [p.images, `${cache.dir}/data`]) files[`${path.posix.relative(layout.dataDir, d)}/docker/registry/v2/x`] = "blob";
        const dataDir = newDataDir();
        // The plan's paths under the test's kind.dataDir.
        populate(dataDir, files);
        const r = claim(dataDir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("it holds the registry's files alone");
        expect(kindDataDirLayout(layout).paths.join("\n")).not.toContain(KIND_DATA_DIR_MARKER);
    });
});
