/**
 * Tags attached to another manifest (`ATTACHED_TAG`: cosign's `sha256-<hex>.sig`, `.att`, `.sbom`, the
 * referrers tag schema's `sha256-<hex>` index) in tag retention: which tags count as attached and to
 * what, in JavaScript and as the script's grep reads the pattern; then the script itself, rendered as
 * the external host runs it (curl), against a registry of our own on loopback that keeps manifests and
 * tags in memory, with the tags' ages as link files under a storage root. Attached tags are never ranked,
 * follow their subjects (chains through a referrers index's artifacts included), and go when their
 * subject goes, is untagged or is missing; a referrers index takes its artifacts along. The same on real
 * Distribution with real cosign and oras: test/integration/supplyChain.retention.test.ts.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    ATTACHED_TAG,
    ATTACHMENT_LAYERS,
    attachedSubject,
    IMAGE_LAYER_TYPES,
    type Retention,
    renderRetentionScript,
} from "../../components/upkeep/retention";

const HEX = "0123456789abcdef".repeat(4);

describe("attachedSubject", () => {
    it.each([
        [`sha256-${HEX}.sig`, `sha256:${HEX}`],
        [`sha256-${HEX}.att`, `sha256:${HEX}`],
        [`sha256-${HEX}.sbom`, `sha256:${HEX}`],
        [`sha256-${HEX}`, `sha256:${HEX}`],
    ])("%s names %s as its subject", (tag, subject) => {
        expect(attachedSubject(tag)).toBe(subject);
    });

    it.each([
        ["a release tag", "1.4.2"],
        ["a short digest", `sha256-${HEX.slice(1)}.sig`],
        ["a long digest", `sha256-${HEX}0.sig`],
        ["upper-case hex", `sha256-${HEX.toUpperCase()}.sig`],
        ["a suffix without a dot", `sha256-${HEX}-sig`],
        ["another algorithm", `sha512-${HEX}.sig`],
        ["a prefix before it", `x-sha256-${HEX}.sig`],
        ["a suffix no tool pushes", `sha256-${HEX}.keep-forever-1`],
        ["a suffix after cosign's", `sha256-${HEX}.sig.1`],
        ["a dot alone", `sha256-${HEX}.`],
    ])("%s (%s) is a tag of its own", (_case, tag) => {
        expect(attachedSubject(tag)).toBeUndefined();
    });

    it("the script's grep -Ex reads the pattern as JavaScript does", () => {
        const tags = [
            `sha256-${HEX}.sig`,
            `sha256-${HEX}`,
            `sha256-${HEX}.sbom`,
            `sha256-${HEX}.vex.1`,
            "1.4.2",
            `sha256-${HEX}-sig`,
            `sha256-${HEX}0`,
            `x-sha256-${HEX}`,
        ];
        const grep = spawnSync("grep", ["-Ex", ATTACHED_TAG], { input: `${tags.join("\n")}\n`, encoding: "utf8" });
        expect(grep.stdout.split("\n").filter(Boolean)).toEqual(tags.filter((t) => attachedSubject(t) !== undefined));
        expect(grep.stdout.split("\n").filter(Boolean)).toHaveLength(3);
        expect(grep.stdout).not.toContain(".vex.1");
    });
});

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** A manifest as the registry of our own keeps it: its type and its body, its digest the body's. */
interface Stored {
    readonly type: string;
    readonly body: string;
}

const digestOf = (body: string) => `sha256:${createHash("sha256").update(body).digest("hex")}`;
const attachedTag = (digest: string, suffix = "") => `sha256-${digest.slice("sha256:".length)}${suffix}`;

/** One repository in memory: manifests by digest, tags, the requests that changed something, DELETEs that fail. */
class Repository {
    readonly manifests = new Map<string, Stored>();
    readonly tags = new Map<string, string>();
    readonly deletes: string[] = [];
    readonly failing = new Set<string>();

    /** Stores an image manifest (distinct by `name`); returns its digest. */
    image(name: string, subject?: string): string {
        const body = JSON.stringify({
            schemaVersion: 2,
            mediaType: MANIFEST,
            config: { mediaType: "application/vnd.oci.empty.v1+json", digest: digestOf("{}"), size: 2 },
            layers: [],
            ...(subject ? { subject: { mediaType: MANIFEST, digest: subject, size: 1 } } : {}),
            annotations: { name },
        });
        this.manifests.set(digestOf(body), { type: MANIFEST, body });
        return digestOf(body);
    }

    /**
     * Stores what cosign pushes under `suffix` (layers of the media type it writes there, `docker` with
     * COSIGN_DOCKER_MEDIA_TYPES' manifest type), distinct by `name`; returns its digest.
     */
    attachment(name: string, suffix: ".sig" | ".att" | ".sbom", docker = false): string {
        const type = docker ? "application/vnd.docker.distribution.manifest.v2+json" : MANIFEST;
        const body = JSON.stringify({
            schemaVersion: 2,
            mediaType: type,
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(name), size: 233 },
            layers: [
                {
                    mediaType: ATTACHMENT_LAYERS[suffix.slice(1) as keyof typeof ATTACHMENT_LAYERS][0],
                    digest: digestOf(`${name} layer`),
                    size: 250,
                    annotations: { "dev.cosignproject.cosign/signature": "MEUCIQ==" },
                },
            ],
        });
        this.manifests.set(digestOf(body), { type, body });
        return digestOf(body);
    }

    /** Stores a runnable image (a tar layer), distinct by `name`; returns its digest. */
    runnable(name: string): string {
        const body = JSON.stringify({
            schemaVersion: 2,
            mediaType: MANIFEST,
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(name), size: 233 },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digestOf(`${name} layer`), size: 2048 }],
        });
        this.manifests.set(digestOf(body), { type: MANIFEST, body });
        return digestOf(body);
    }

    /** Stores `manifest` as it is, of media type `type` (an index when it lists manifests); returns its digest. */
    raw(manifest: Record<string, unknown>, type = MANIFEST): string {
        const body = JSON.stringify({ schemaVersion: 2, mediaType: type, ...manifest });
        this.manifests.set(digestOf(body), { type, body });
        return digestOf(body);
    }

    /** Stores a referrers index listing `artifacts`; returns its digest. */
    index(artifacts: readonly string[]): string {
        const body = JSON.stringify({
            schemaVersion: 2,
            mediaType: INDEX,
            manifests: artifacts.map((digest) => ({ mediaType: MANIFEST, digest, size: 1, artifactType: "application/example" })),
        });
        this.manifests.set(digestOf(body), { type: INDEX, body });
        return digestOf(body);
    }

    tag(tag: string, digest: string): void {
        this.tags.set(tag, digest);
    }
}

/**
 * A registry API of our own on 127.0.0.1: the requests retention.sh sends, answered as Distribution 3 does,
 * or with `tagDelete: false` as Distribution 2.8 does, which deletes manifests by digest only.
 */
function serve(repositories: ReadonlyMap<string, Repository>, tagDelete: boolean): Promise<Server> {
    const server = createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://registry");
        const answer = (status: number, body = "", headers: Record<string, string> = {}) => {
            response.writeHead(status, headers);
            response.end(body);
        };
        if (url.pathname === "/v2/") return answer(200, "{}");
        if (url.pathname === "/v2/_catalog") {
            const names = url.searchParams.get("last") ? [] : [...repositories.keys()].sort();
            return answer(200, JSON.stringify({ repositories: names }));
        }
        const match = /^\/v2\/(.+)\/(tags\/list|manifests\/([^/]+))$/.exec(url.pathname);
        const repository = match ? repositories.get(match[1]!) : undefined;
        if (!match || !repository) return answer(404);
        if (match[2] === "tags/list") return answer(200, JSON.stringify({ name: match[1], tags: [...repository.tags.keys()].sort() }));
        const reference = match[3]!;
        const digest = reference.startsWith("sha256:") ? reference : repository.tags.get(reference);
        const stored = digest ? repository.manifests.get(digest) : undefined;
        if (request.method === "DELETE") {
            if (repository.failing.has(reference)) return answer(500);
            if (!stored) return answer(404);
            if (!tagDelete && !reference.startsWith("sha256:")) return answer(400);
            repository.deletes.push(reference);
            if (reference.startsWith("sha256:")) {
                repository.manifests.delete(reference);
                for (const [tag, d] of repository.tags) if (d === reference) repository.tags.delete(tag);
            } else {
                repository.tags.delete(reference);
            }
            return answer(202);
        }
        if (!stored || !digest) return answer(404);
        return answer(200, stored.body, { "Content-Type": stored.type, "Docker-Content-Digest": digest });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("retention.sh with attached tags", () => {
    const DAY = 86_400;
    let work: string;
    let server: Server | undefined;

    beforeAll(() => {
        work = mkdtempSync(path.join(tmpdir(), "dso-retention-attached-"));
    });
    afterAll(async () => {
        await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
        rmSync(work, { recursive: true, force: true });
    });

    /** Runs retention over `repositories` (ages in days for the tags that are not attached); its output and exit code. */
    async function retention(
        repositories: ReadonlyMap<string, Repository>,
        ages: Readonly<Record<string, number>>,
        retention: Retention,
        workloads: readonly string[] = [],
        tagDelete = true,
    ): Promise<{ code: number; stdout: string; stderr: string }> {
        await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
        server = await serve(repositories, tagDelete);
        const root = mkdtempSync(path.join(work, "storage-"));
        for (const [repo, repository] of repositories) {
            for (const tag of repository.tags.keys()) {
                const age = ages[`${repo}:${tag}`];
                if (age === undefined) continue;
                const dir = path.join(root, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current");
                mkdirSync(dir, { recursive: true });
                writeFileSync(path.join(dir, "link"), repository.tags.get(tag)!);
                const when = Date.now() / 1000 - age * DAY - 60;
                utimesSync(path.join(dir, "link"), when, when);
            }
        }
        const script = path.join(root, "retention.sh");
        writeFileSync(
            script,
            renderRetentionScript({
                retention,
                base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
                client: "curl",
                registryLogs: "the test's registry",
                storageRoot: root,
            }),
        );
        writeFileSync(path.join(root, "workloads"), workloads.map((w) => `${w}\n`).join(""));
        return new Promise((resolve) => {
            execFile("sh", [script, path.join(root, "workloads")], (error, stdout, stderr) => {
                resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
            });
        });
    }

    const lines = (stdout: string, verb: string) =>
        [...stdout.matchAll(new RegExp(`^retention: ${verb} (\\S+) \\((.*)\\)$`, "gm"))].map((m) => `${m[1]} (${m[2]})`).sort();

    /**
     * team/app under `keepNewest: 1`: `new` (kept) and `old` (removed), each signed, attested and with a
     * referrers index; the artifact in new's index is signed in turn; a signature of a manifest no tag
     * names, of one that is gone, of one a workload runs by digest, and an SBOM that `protect` names.
     */
    function registry() {
        const app = new Repository();
        const fresh = app.image("new");
        const old = app.image("old");
        app.tag("new", fresh);
        app.tag("old", old);
        const artifactOfNew = app.image("sbom of new", fresh);
        const artifactOfOld = app.image("sbom of old", old);
        const untagged = app.image("untagged");
        const running = app.image("running by digest");
        const gone = digestOf("never pushed");
        const attached = {
            newSig: attachedTag(fresh, ".sig"),
            newAtt: attachedTag(fresh, ".att"),
            newIndex: attachedTag(fresh),
            artifactSig: attachedTag(artifactOfNew, ".sig"),
            oldSig: attachedTag(old, ".sig"),
            oldAtt: attachedTag(old, ".att"),
            oldIndex: attachedTag(old),
            oldSbom: attachedTag(old, ".sbom"),
            untaggedSig: attachedTag(untagged, ".sig"),
            goneSig: attachedTag(gone, ".sig"),
            runningSig: attachedTag(running, ".sig"),
        };
        for (const [name, tag] of Object.entries(attached)) {
            if (name === "newIndex") app.tag(tag, app.index([artifactOfNew]));
            else if (name === "oldIndex") app.tag(tag, app.index([artifactOfOld]));
            else app.tag(tag, app.attachment(`${name} payload`, tag.slice(71) as ".sig" | ".att" | ".sbom"));
        }
        // A signature of old's attestation, and one of the artifact old's referrers index lists: they go with old.
        const oldAtt = app.tags.get(attached.oldAtt)!;
        const chained = { oldAttSig: attachedTag(oldAtt, ".sig"), oldArtifactSig: attachedTag(artifactOfOld, ".sig") };
        app.tag(chained.oldAttSig, app.attachment("signature of old's attestation", ".sig"));
        app.tag(chained.oldArtifactSig, app.attachment("signature of old's artifact", ".sig"));
        return {
            repositories: new Map([["team/app", app]]),
            app,
            fresh,
            old,
            oldAtt,
            artifactOfNew,
            artifactOfOld,
            untagged,
            running,
            gone,
            attached: { ...attached, ...chained },
        };
    }

    const RULES: Retention = {
        mode: "dry-run",
        rules: [{ prefix: "team/", keepNewest: 1 }],
        protect: ["latest", "sha256-[0-9a-f]{64}[.]sbom"],
    };
    const AGES = { "team/app:new": 1, "team/app:old": 10 };

    it("dry-run: attached tags are not ranked, follow their subjects, and each removal says why", async () => {
        const r = registry();
        const run = await retention(r.repositories, AGES, RULES, [`registry.example.test/team/app@${r.running}`]);
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(lines(run.stdout, "would remove")).toEqual(
            [
                "team/app:old (not among the 1 newest)",
                `team/app:${r.attached.oldSig} (attached to ${r.old}, which retention removes)`,
                `team/app:${r.attached.oldIndex} (attached to ${r.old}, which retention removes)`,
                `team/app:${r.attached.oldAtt} (attached to ${r.old}, which retention removes)`,
                `team/app:${r.attached.oldAttSig} (attached to ${r.oldAtt}, which retention removes)`,
                `team/app:${r.attached.oldArtifactSig} (attached to ${r.artifactOfOld}, which retention removes)`,
                `team/app:${r.attached.untaggedSig} (attached to ${r.untagged}, which no kept tag names)`,
                `team/app:${r.attached.goneSig} (attached to ${r.gone}, which is not in the repository)`,
            ].sort(),
        );
        expect(run.stdout).toContain("retention: dry-run: 8 tags would be removed, 7 kept, in 1 repositories under the rules");
        expect(r.app.deletes).toEqual([]);
    });

    it("apply: removes them with their manifests, and a referrers index's artifacts with it; keeps the rest", async () => {
        const r = registry();
        const run = await retention(r.repositories, AGES, { ...RULES, mode: "apply" }, [`registry.example.test/team/app@${r.running}`]);
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect([...r.app.tags.keys()].sort()).toEqual(
            [
                "new",
                r.attached.newSig,
                r.attached.newAtt,
                r.attached.newIndex,
                r.attached.artifactSig,
                r.attached.oldSbom,
                r.attached.runningSig,
            ].sort(),
        );
        expect(r.app.manifests.has(r.artifactOfNew)).toBe(true);
        expect(r.app.manifests.has(r.artifactOfOld)).toBe(false);
        expect(r.app.manifests.has(r.old)).toBe(false);
        // Every removed tag's manifest is deleted by digest once its tag is gone, so that the collector frees it.
        for (const tag of [
            r.attached.oldSig,
            r.attached.oldAtt,
            r.attached.oldIndex,
            r.attached.oldAttSig,
            r.attached.oldArtifactSig,
            r.attached.untaggedSig,
            r.attached.goneSig,
        ]) {
            expect(r.app.deletes).toContain(tag);
        }
        expect(r.app.deletes).toContain(r.artifactOfOld);
        expect(run.stdout).toContain("retention: apply: 8 tags removed, 7 kept, of 8 candidates");
    });

    it("apply where tags cannot be deleted alone (Distribution 2.8): the same tags and artifacts go, by their manifests' digests", async () => {
        const r = registry();
        const run = await retention(
            r.repositories,
            AGES,
            { ...RULES, mode: "apply" },
            [`registry.example.test/team/app@${r.running}`],
            false,
        );
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect([...r.app.tags.keys()].sort()).toEqual(
            [
                "new",
                r.attached.newSig,
                r.attached.newAtt,
                r.attached.newIndex,
                r.attached.artifactSig,
                r.attached.oldSbom,
                r.attached.runningSig,
            ].sort(),
        );
        expect(r.app.manifests.has(r.artifactOfOld)).toBe(false);
        expect(r.app.manifests.has(r.artifactOfNew)).toBe(true);
        expect(r.app.deletes.every((reference) => reference.startsWith("sha256:"))).toBe(true);
    });

    it("the tag count of keepNewest leaves attached tags out: a signature pushed after the newest image does not push it out", async () => {
        const app = new Repository();
        const a = app.image("a");
        const b = app.image("b");
        app.tag("a", a);
        app.tag("b", b);
        app.tag(attachedTag(b, ".sig"), app.attachment("signature of b", ".sig"));
        const run = await retention(
            new Map([["team/app", app]]),
            { "team/app:a": 5, "team/app:b": 2, [`team/app:${attachedTag(b, ".sig")}`]: 0 },
            {
                ...RULES,
                rules: [{ prefix: "team/", keepNewest: 1 }],
            },
        );
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(lines(run.stdout, "would remove")).toEqual(["team/app:a (not among the 1 newest)"]);
    });

    /**
     * team/app under `keepDays: 30`: `latest` (a day old) and `old` (100 days), each signed. Besides, 100 days old,
     * three unrelated images tagged as if attached to latest under a suffix no tool pushes, and three under
     * the tools' own tags whose manifests are not what the tools push: a runnable image as `.sig`, an attestation
     * whose `subject` names another image as `.att`, an index of a runnable image as the referrers index.
     * `1.0.0` (protected, 100 days) has a signature in Docker's media types and a real referrers index.
     */
    function impostors() {
        const app = new Repository();
        const latest = app.image("latest");
        const old = app.image("old");
        const release = app.image("1.0.0");
        const elsewhere = app.image("another image");
        const artifact = app.image("scan of 1.0.0", release);
        app.tag("latest", latest);
        app.tag("old", old);
        app.tag("1.0.0", release);
        const real = {
            latestSig: attachedTag(latest, ".sig"),
            oldSig: attachedTag(old, ".sig"),
            releaseSig: attachedTag(release, ".sig"),
            releaseIndex: attachedTag(release),
        };
        app.tag(real.oldSig, app.attachment("signature of old", ".sig"));
        app.tag(real.releaseSig, app.attachment("signature of 1.0.0", ".sig", true));
        app.tag(real.releaseIndex, app.index([artifact]));
        const keepForever = [1, 2, 3].map((n) => attachedTag(latest, `.keep-forever-${n}`));
        for (const [n, tag] of keepForever.entries()) app.tag(tag, app.runnable(`unrelated ${n}`));
        const fake = { sig: attachedTag(release, ".sbom"), att: attachedTag(latest, ".att"), index: attachedTag(latest) };
        app.tag(fake.sig, app.runnable("a runnable image as an SBOM"));
        const att = JSON.parse(app.manifests.get(app.attachment("an attestation of another image", ".att"))!.body);
        att.subject = { mediaType: MANIFEST, digest: elsewhere, size: 1 };
        const attBody = JSON.stringify(att);
        app.manifests.set(digestOf(attBody), { type: MANIFEST, body: attBody });
        app.tag(fake.att, digestOf(attBody));
        const platform = app.runnable("a platform image");
        app.tag(fake.index, app.index([platform]));
        app.tag(real.latestSig, app.attachment("signature of latest", ".sig"));
        const ages: Record<string, number> = { "team/app:latest": 1, "team/app:old": 100, "team/app:1.0.0": 100 };
        for (const tag of [...keepForever, ...Object.values(fake)]) ages[`team/app:${tag}`] = 100;
        return { repositories: new Map([["team/app", app]]), app, latest, old, elsewhere, platform, real, keepForever, fake, ages };
    }

    const DAYS: Retention = { mode: "dry-run", rules: [{ prefix: "team/", keepDays: 30 }], protect: ["latest", "1[.]0[.]0"] };

    it("tags that look attached but are not what the tools push count as tags of their own, and old ones go", async () => {
        const r = impostors();
        const run = await retention(r.repositories, r.ages, DAYS);
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(lines(run.stdout, "would remove")).toEqual(
            [
                "team/app:old (100 days old)",
                `team/app:${r.real.oldSig} (attached to ${r.old}, which retention removes)`,
                ...[...r.keepForever, ...Object.values(r.fake)].map((tag) => `team/app:${tag} (100 days old)`),
            ].sort(),
        );
        expect(lines(run.stdout, "not attached")).toEqual(
            [
                `team/app:${r.fake.sig} (a layer of its manifest is application/vnd.oci.image.layer.v1.tar+gzip, which cosign does not push under .sbom; it counts as a tag of its own)`,
                `team/app:${r.fake.att} (its manifest's subject is ${r.elsewhere}; it counts as a tag of its own)`,
                `team/app:${r.fake.index} (it lists ${r.platform}, which does not name ${r.latest} as its subject; it counts as a tag of its own)`,
            ].sort(),
        );
    });

    it("apply: the impostors go with their manifests; the kept images keep their real signatures and referrers index", async () => {
        const r = impostors();
        const run = await retention(r.repositories, r.ages, { ...DAYS, mode: "apply" });
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect([...r.app.tags.keys()].sort()).toEqual(["1.0.0", "latest", r.real.latestSig, r.real.releaseSig, r.real.releaseIndex].sort());
        for (const tag of [...r.keepForever, ...Object.values(r.fake)]) expect(r.app.deletes, tag).toContain(tag);
    });

    const descriptor = (mediaType: string, name: string) => ({ mediaType, digest: digestOf(name), size: 100 });
    const EMPTY_CONFIG = { mediaType: "application/vnd.oci.empty.v1+json", digest: digestOf("{}"), size: 2 };

    /**
     * What a referrers index tagged `sha256-<digest of latest>` may list, each naming latest as its subject:
     * artifacts as oras, notation and cosign push them, which keep the index attached, and images a container
     * runtime runs, which make it a tag of its own (an old runnable image would otherwise stay as long as latest).
     */
    const REFERRERS: readonly {
        readonly listed: string;
        readonly kind: "artifact" | "image";
        readonly manifest: (subject: Record<string, unknown>) => Record<string, unknown>;
        readonly why?: string;
    }[] = [
        {
            listed: "oras attach (empty config, artifactType, a file as an OCI tar layer)",
            kind: "artifact",
            manifest: (subject) => ({
                artifactType: "application/vnd.example.scan+json",
                config: EMPTY_CONFIG,
                layers: [descriptor("application/vnd.oci.image.layer.v1.tar", "scan")],
                subject,
            }),
        },
        {
            listed: "a notation signature (empty config, a JWS envelope)",
            kind: "artifact",
            manifest: (subject) => ({
                artifactType: "application/vnd.cncf.notary.signature",
                config: EMPTY_CONFIG,
                layers: [descriptor("application/jose+json", "envelope")],
                subject,
            }),
        },
        {
            listed: "a manifest in cosign's signature form (image config, simple-signing layer)",
            kind: "artifact",
            manifest: (subject) => ({
                config: descriptor("application/vnd.oci.image.config.v1+json", "cosign config"),
                layers: [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", "payload")],
                subject,
            }),
        },
        {
            listed: "an artifact with a config type of its own (a Helm chart)",
            kind: "artifact",
            manifest: (subject) => ({
                config: descriptor("application/vnd.cncf.helm.config.v1+json", "chart config"),
                layers: [descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip", "chart")],
                subject,
            }),
        },
        {
            listed: "an OCI image (image config, a gzip tar layer)",
            kind: "image",
            manifest: (subject) => ({
                config: descriptor("application/vnd.oci.image.config.v1+json", "old config"),
                layers: [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", "old layer")],
                subject,
            }),
            why: "its config is application/vnd.oci.image.config.v1+json",
        },
        {
            listed: "the same image with an artifactType, which runtimes do not read",
            kind: "image",
            manifest: (subject) => ({
                artifactType: "application/vnd.example.scan+json",
                config: descriptor("application/vnd.oci.image.config.v1+json", "old config"),
                layers: [descriptor("application/vnd.oci.image.layer.v1.tar+zstd", "old layer")],
                subject,
            }),
            why: "its config is application/vnd.oci.image.config.v1+json",
        },
        {
            listed: "a Docker image",
            kind: "image",
            manifest: (subject) => ({
                config: descriptor("application/vnd.docker.container.image.v1+json", "old config"),
                layers: [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", "old layer")],
                subject,
            }),
            why: "its config is application/vnd.docker.container.image.v1+json",
        },
        {
            listed: "an image whose layer is application/octet-stream, which Docker Engine unpacks",
            kind: "image",
            manifest: (subject) => ({
                config: descriptor("application/vnd.oci.image.config.v1+json", "old config"),
                layers: [descriptor("application/octet-stream", "old layer")],
                subject,
            }),
            why: "its config is application/vnd.oci.image.config.v1+json",
        },
        {
            listed: "an index of images",
            kind: "image",
            manifest: (subject) => ({ manifests: [descriptor(MANIFEST, "a platform image")], subject }),
            why: "an index of manifests",
        },
    ];

    it.each(REFERRERS)("a referrers index listing $listed: $kind", async ({ kind, manifest: referrer, why }) => {
        const app = new Repository();
        const latest = app.image("latest");
        app.tag("latest", latest);
        const listed = app.raw(referrer({ mediaType: MANIFEST, digest: latest, size: 1 }), "manifests" in referrer({}) ? INDEX : MANIFEST);
        const index = attachedTag(latest);
        app.tag(index, app.index([listed]));
        const run = await retention(new Map([["team/app", app]]), { "team/app:latest": 1, [`team/app:${index}`]: 100 }, DAYS);
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        if (kind === "artifact") {
            expect(lines(run.stdout, "not attached")).toEqual([]);
            expect(lines(run.stdout, "would remove")).toEqual([]);
        } else {
            const [line] = lines(run.stdout, "not attached");
            expect(line).toContain(`team/app:${index} (it lists ${listed}, `);
            expect(line).toContain(`${why}`);
            expect(line).toContain("not an artifact; it counts as a tag of its own");
            expect(lines(run.stdout, "would remove")).toEqual([`team/app:${index} (100 days old)`]);
        }
    });

    it("no layer type cosign pushes under its suffixes is one a container runtime unpacks", () => {
        const types = Object.values(ATTACHMENT_LAYERS).flat();
        const grep = spawnSync("grep", ["-Ex", IMAGE_LAYER_TYPES], { input: `${types.join("\n")}\n`, encoding: "utf8" });
        expect(grep.stdout).toBe("");
        const images = ["application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip", ""];
        const matched = spawnSync("grep", ["-Ex", IMAGE_LAYER_TYPES], { input: `${images.join("\n")}\n`, encoding: "utf8" });
        expect(matched.stdout).toBe(`${images.join("\n")}\n`);
    });

    it("apply: when removing a subject fails, what is attached to it stays, and the run fails", async () => {
        const r = registry();
        r.app.failing.add("old");
        const run = await retention(r.repositories, AGES, { ...RULES, mode: "apply" }, [`registry.example.test/team/app@${r.running}`]);
        expect(run.code).not.toBe(0);
        expect(run.stderr).toContain("retention: removing team/app:old answered HTTP 500");
        expect(lines(run.stdout, "kept")).toEqual(
            [
                `team/app:${r.attached.oldSig} (attached to ${r.old}, which stays: a removal failed)`,
                `team/app:${r.attached.oldIndex} (attached to ${r.old}, which stays: a removal failed)`,
                `team/app:${r.attached.oldAtt} (attached to ${r.old}, which stays: a removal failed)`,
                `team/app:${r.attached.oldAttSig} (attached to ${r.oldAtt}, which stays: a removal failed)`,
                `team/app:${r.attached.oldArtifactSig} (attached to ${r.artifactOfOld}, which stays: a removal failed)`,
            ].sort(),
        );
        expect(r.app.tags.has(r.attached.oldSig)).toBe(true);
        expect(r.app.manifests.has(r.artifactOfOld)).toBe(true);
        expect(r.app.tags.has(r.attached.goneSig)).toBe(false);
    });
});
