/**
 * Signatures, attestations and attached artifacts on Distribution 3.1.2 behind the pinned Caddy's front
 * (the in-cluster sidecar's and kind's), with real cosign and oras built from their modules
 * (tools/supplychain/build.sh): a push account scoped to `team-a/` signs two images with a cosign key made
 * at test time (no transparency log), attests an SPDX SBOM to each and attaches an artifact with oras,
 * which falls back to the referrers tag schema (Distribution serves no referrers API; the older image gets
 * a second artifact, so its index is written twice); `cosign verify` passes anonymously through the front;
 * the same account cannot sign outside its prefix. Then tag retention, the script the GC paths run (as
 * the registry container runs it: busybox against Distribution's own port, ages from the link files),
 * removes the older image with its signature, attestation and referrers index and keeps the newer one's,
 * and removes four old unrelated images tagged as if attached to the newer one (three under a suffix no
 * tool pushes, one under cosign's `.sbom`, which cosign did not push); in a second repository it removes an old
 * runnable image that names the signed `latest` as its subject and the index tagged `sha256-<digest of latest>`
 * that lists it (an image, not an artifact), and keeps latest's signature. The collector frees what went, the
 * GC paths' check (verify.sh) passes, and the kept image still verifies through the front. Which tags count as attached, and the decisions case by case:
 * test/unit/retention.attached.test.ts.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DISTRIBUTION } from "../../components/shared/facts";
import { renderRetentionScript } from "../../components/upkeep/retention";
import { renderVerifyScript } from "../../components/upkeep/verify";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry } from "../support/realRegistry";
import { privateDir, removeDir, run, runOk } from "../support/serverProcess";
import { type SupplyChainClient, supplyChainClient } from "../support/supplyChainTools";

const DAY = 86_400;
const MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json";
const REPO = "team-a/app";
/** A second repository under the rule, where an old runnable image names `latest` as its subject. */
const TOOL = "team-a/tool";

describe("cosign and oras through the front, then retention and GC on Distribution 3.1.2", () => {
    let work: string;
    let reg: RealRegistry;
    let signer: SupplyChainClient;
    let anonymous: SupplyChainClient;
    let publicKey: string;
    /** Tag → manifest digest, as pushed. */
    const digests = new Map<string, string>();

    const distribution = () => `http://127.0.0.1:${reg.registryPort}`;
    const byDigest = (repo: string, tag: string) => `${reg.authority}/${repo}@${digests.get(`${repo}:${tag}`)}`;
    const attached = (repo: string, tag: string, suffix: string) => `sha256-${digests.get(`${repo}:${tag}`)!.slice(7)}${suffix}`;

    function tagsOf(repo: string): string[] {
        const body = runOk("curl", ["-sS", `${distribution()}/v2/${repo}/tags/list`]).stdout;
        return ((JSON.parse(body) as { tags?: string[] | null }).tags ?? []).sort();
    }

    /** The manifest `reference` names in `repo`, from Distribution itself: its digest, media type, bytes' length and body. */
    function manifest(repo: string, reference: string): { digest: string; type: string; size: number; body: Record<string, any> } {
        const r = runOk("curl", [
            "-sS",
            "-D",
            "-",
            "-H",
            `Accept: ${MANIFEST_TYPES}`,
            `${distribution()}/v2/${repo}/manifests/${reference}`,
        ]);
        const [head = "", body = ""] = r.stdout.split(/\r\n\r\n/, 2);
        return {
            digest: /^docker-content-digest:\s*(\S+)/im.exec(head)?.[1] ?? "",
            type: /^content-type:\s*(\S+)/im.exec(head)?.[1] ?? "",
            size: Buffer.byteLength(body),
            body: JSON.parse(body),
        };
    }

    /** Pushes `body`, a manifest of media type `type`, as `reference` of `repo` through the front, as the scoped account; its digest. */
    function pushManifest(repo: string, reference: string, type: string, body: Record<string, unknown>): string {
        const file = path.join(work, "manifest.json");
        writeFileSync(file, JSON.stringify(body));
        const { username, password } = reg.scoped[0]!;
        const put = runOk(
            "curl",
            [
                "-sS",
                "--cacert",
                reg.ca.caCertFile,
                "-K",
                "-",
                "-D",
                "-",
                "-X",
                "PUT",
                "-H",
                `Content-Type: ${type}`,
                "--data-binary",
                `@${file}`,
                `https://${reg.authority}/v2/${repo}/manifests/${reference}`,
            ],
            { input: `user = "${username}:${password}"\n` },
        );
        expect(put.stdout, put.stdout).toMatch(/^HTTP\/\S+ 201/);
        return /^docker-content-digest:\s*(\S+)/im.exec(put.stdout)?.[1] ?? "";
    }

    /** The layer digests of what `reference` names, through an index's manifests. */
    function layersOf(repo: string, reference: string): string[] {
        const { body } = manifest(repo, reference);
        if (Array.isArray(body.manifests)) return body.manifests.flatMap((m: { digest: string }) => layersOf(repo, m.digest));
        return (body.layers as { digest: string }[]).map((l) => l.digest);
    }

    const blobFile = (digest: string) =>
        path.join(reg.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");

    /** Signs, attests an SPDX SBOM and attaches an artifact to `repo:tag` as the scoped account. */
    function signAttestAttach(repo: string, tag: string) {
        const ref = byDigest(repo, tag);
        const sign = signer.cosign(["sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", ref]);
        expect(sign.code, sign.stderr).toBe(0);
        const sbom = path.join(work, "signer", `sbom-${tag}.spdx.json`);
        writeFileSync(
            sbom,
            JSON.stringify({
                spdxVersion: "SPDX-2.3",
                dataLicense: "CC0-1.0",
                SPDXID: "SPDXRef-DOCUMENT",
                name: `${repo}:${tag}`,
                documentNamespace: `https://example.test/spdx/${digests.get(`${repo}:${tag}`)}`,
                creationInfo: { created: new Date().toISOString(), creators: ["Tool: dso-registry-test"] },
                packages: [],
            }),
        );
        const attest = signer.cosign([
            "attest",
            "--yes",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--type",
            "spdxjson",
            "--predicate",
            sbom,
            ref,
        ]);
        expect(attest.code, attest.stderr).toBe(0);
        const note = `scan-${tag}.json`;
        writeFileSync(path.join(work, "signer", note), JSON.stringify({ subject: digests.get(`${repo}:${tag}`), verdict: "clean" }));
        const attach = signer.oras([
            "attach",
            "--artifact-type",
            "application/vnd.dso-registry.test.scan+json",
            ref,
            `${note}:application/json`,
        ]);
        expect(attach.code, attach.stderr).toBe(0);
    }

    beforeAll(async () => {
        work = privateDir("supply-chain");
        reg = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            policy: { deletesEnabled: true },
            scopedPushAccounts: [{ username: "team-a-ci", prefixes: ["team-a/"] }],
        });
        for (const [repo, tag] of [
            [REPO, "old"],
            [REPO, "new"],
            ["team-b/app", "1"],
            [TOOL, "latest"],
            [TOOL, "0.9"],
        ] as const) {
            const image = makeOciImage(path.join(work, "images", `${repo}-${tag}`.replace(/\W/g, "_")), 2048);
            const pushed = skopeoCopy(image.ref, `docker://${reg.authority}/${repo}:${tag}`, {
                certDir: reg.certDir,
                creds: reg.push,
                scratch: work,
            });
            expect(pushed.code, pushed.stderr).toBe(0);
            digests.set(`${repo}:${tag}`, manifest(repo, tag).digest);
        }
        const keyPassword = randomBytes(18).toString("base64url");
        signer = supplyChainClient(
            path.join(work, "signer"),
            reg.ca.caCertFile,
            { authority: reg.authority, account: reg.scoped[0] },
            keyPassword,
        );
        const keys = signer.cosign(["generate-key-pair"]);
        expect(keys.code, keys.stderr).toBe(0);
        publicKey = path.join(work, "signer", "cosign.pub");
        anonymous = supplyChainClient(path.join(work, "anonymous"), reg.ca.caCertFile, { authority: reg.authority });
    }, 120_000);

    afterAll(async () => {
        await reg?.stop();
        if (work) removeDir(work);
    });

    test("the scoped account signs, attests and attaches inside its prefix: tags by the tag schema", () => {
        for (const tag of ["old", "new"]) signAttestAttach(REPO, tag);
        // A second artifact: oras writes a new referrers index in place of the first, under the same tag.
        writeFileSync(
            path.join(work, "signer", "scan-again.json"),
            JSON.stringify({ subject: digests.get(`${REPO}:old`), verdict: "again" }),
        );
        const again = signer.oras([
            "attach",
            "--artifact-type",
            "application/vnd.dso-registry.test.scan+json",
            byDigest(REPO, "old"),
            "scan-again.json:application/json",
        ]);
        expect(again.code, again.stderr).toBe(0);
        const expected = ["old", "new"].flatMap((tag) => [tag, ...[".sig", ".att", ""].map((suffix) => attached(REPO, tag, suffix))]);
        expect(tagsOf(REPO)).toEqual(expected.sort());
        // oras's referrers index lists the artifact, whose subject is the image.
        const index = manifest(REPO, attached(REPO, "new", "")).body;
        expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
        expect(manifest(REPO, index.manifests[0].digest).body.subject.digest).toBe(digests.get(`${REPO}:new`));
        expect(manifest(REPO, attached(REPO, "old", "")).body.manifests).toHaveLength(2);
    });

    test("cosign verify and verify-attestation pass anonymously through the front, with the public key", () => {
        const verify = anonymous.cosign(["verify", "--key", publicKey, "--insecure-ignore-tlog=true", byDigest(REPO, "new")]);
        expect(verify.code, verify.stderr).toBe(0);
        expect(verify.stderr).toContain("The signatures were verified against the specified public key");
        const attestation = anonymous.cosign([
            "verify-attestation",
            "--key",
            publicKey,
            "--insecure-ignore-tlog=true",
            "--type",
            "spdxjson",
            byDigest(REPO, "new"),
        ]);
        expect(attestation.code, attestation.stderr).toBe(0);
    });

    test("cosign verify fails for an image nobody signed", () => {
        const verify = anonymous.cosign(["verify", "--key", publicKey, "--insecure-ignore-tlog=true", byDigest("team-b/app", "1")]);
        expect(verify.code).not.toBe(0);
        expect(verify.stderr).toMatch(/no signatures found/i);
    });

    test("the scoped account cannot sign outside its prefix: refused, and no signature lands", () => {
        const sign = signer.cosign(["sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", byDigest("team-b/app", "1")]);
        expect(sign.code).not.toBe(0);
        expect(sign.stderr).toMatch(/DENIED|403|UNAUTHORIZED/);
        expect(tagsOf("team-b/app")).toEqual(["1"]);
    });

    /**
     * In TOOL, someone with push rights keeps an old runnable image (0.9, 100 days) alive: its manifest names
     * `latest` as its subject, and a referrers index tagged `sha256-<digest of latest>` lists it. `latest` also
     * has a real cosign signature. Returns the runnable image's digest and its layers.
     */
    function plantRunnableReferrer(): { image: string; layers: string[] } {
        const latest = manifest(TOOL, "latest");
        const plain = manifest(TOOL, "0.9");
        const image = pushManifest(TOOL, "0.9", plain.type, {
            ...plain.body,
            subject: { mediaType: latest.type, digest: latest.digest, size: latest.size },
        });
        // Only the image with the subject stays: the one skopeo pushed is removed.
        expect(
            runOk("curl", [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "DELETE",
                `${distribution()}/v2/${TOOL}/manifests/${plain.digest}`,
            ]).stdout,
        ).toBe("202");
        const index = "application/vnd.oci.image.index.v1+json";
        pushManifest(TOOL, attached(TOOL, "latest", ""), index, {
            schemaVersion: 2,
            mediaType: index,
            manifests: [{ mediaType: plain.type, digest: image, size: manifest(TOOL, image).size }],
        });
        const sign = signer.cosign(["sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", byDigest(TOOL, "latest")]);
        expect(sign.code, sign.stderr).toBe(0);
        expect(tagsOf(TOOL)).toEqual(["0.9", "latest", ...["", ".sig"].map((suffix) => attached(TOOL, "latest", suffix))].sort());
        return { image, layers: layersOf(TOOL, image) };
    }

    test("retention removes the older image with everything attached to it and keeps the newer one's; GC frees what went", () => {
        const runnable = plantRunnableReferrer();
        const layers = (tag: string) => [".sig", ".att", ""].flatMap((suffix) => layersOf(REPO, attached(REPO, tag, suffix)));
        const oldLayers = layers("old");
        const newLayers = layers("new");
        expect(oldLayers).toHaveLength(4);
        expect(newLayers).toHaveLength(3);
        // Three unrelated images, 100 days old, tagged as if attached to the newer image under a suffix no tool
        // pushes, and a fourth under cosign's .sbom, which cosign did not push: each is a tag of its own.
        const impostors = [1, 2, 3].map((n) => attached(REPO, "new", `.keep-forever-${n}`)).concat(attached(REPO, "new", ".sbom"));
        const impostorLayers = impostors.map((tag) => {
            const image = makeOciImage(path.join(work, "images", tag), 2048);
            const pushed = skopeoCopy(image.ref, `docker://${reg.authority}/${REPO}:${tag}`, {
                certDir: reg.certDir,
                creds: reg.push,
                scratch: work,
            });
            expect(pushed.code, pushed.stderr).toBe(0);
            return layersOf(REPO, tag)[0]!;
        });
        for (const [repo, tag, days] of [
            [REPO, "old", 10],
            [REPO, "new", 1],
            ...impostors.map((tag) => [REPO, tag, 100] as const),
            [TOOL, "latest", 1],
            [TOOL, "0.9", 100],
            [TOOL, attached(TOOL, "latest", ""), 100],
        ] as const) {
            const link = path.join(reg.dataDir, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link");
            runOk("touch", ["-d", `@${Math.floor(Date.now() / 1000) - days * DAY}`, link]);
        }
        const busybox = path.join(work, "busybox");
        mkdirSync(busybox);
        runOk("busybox", ["--install", "-s", busybox]);
        const script = path.join(work, "retention.sh");
        writeFileSync(
            script,
            renderRetentionScript({
                retention: { mode: "apply", rules: [{ prefix: "team-a/", keepNewest: 1 }], protect: ["latest"] },
                base: distribution(),
                client: "busybox-wget",
                registryLogs: "the test's registry log",
                storageRoot: reg.dataDir,
            }),
        );
        const retention = run(path.join(busybox, "sh"), [script], { env: { PATH: busybox } });
        expect(retention.code, `${retention.stdout}\n${retention.stderr}`).toBe(0);
        const removed = [...retention.stdout.matchAll(/^retention: removed (\S+) \(/gm)].map((m) => m[1]).sort();
        expect(removed).toEqual(
            [
                `${REPO}:old`,
                ...[".sig", ".att", ""].map((suffix) => `${REPO}:${attached(REPO, "old", suffix)}`),
                ...impostors.map((tag) => `${REPO}:${tag}`),
                `${TOOL}:0.9`,
                `${TOOL}:${attached(TOOL, "latest", "")}`,
            ].sort(),
        );
        // What cosign and oras pushed passed as attached; the image under .sbom did not, nor did the index that
        // lists a runnable image, and each says why.
        expect([...retention.stdout.matchAll(/^retention: not attached (\S+) \((.*)\)$/gm)].map((m) => `${m[1]} (${m[2]})`)).toEqual([
            `${REPO}:${attached(REPO, "new", ".sbom")} (a layer of its manifest is application/vnd.oci.image.layer.v1.tar+gzip, which cosign does not push under .sbom; it counts as a tag of its own)`,
            `${TOOL}:${attached(TOOL, "latest", "")} (it lists ${runnable.image}, an image a container runtime runs (its config is application/vnd.oci.image.config.v1+json and every layer one a runtime unpacks), not an artifact; it counts as a tag of its own)`,
        ]);
        expect(tagsOf(REPO)).toEqual(["new", ...[".sig", ".att", ""].map((suffix) => attached(REPO, "new", suffix))].sort());
        expect(tagsOf(TOOL)).toEqual(["latest", attached(TOOL, "latest", ".sig")]);

        const gc = run(deployedRegistry().path, ["garbage-collect", path.join(reg.dir, "config.yml")], {
            env: { ...process.env, ...DISTRIBUTION.environment },
        });
        expect(gc.code, gc.stderr).toBe(0);
        for (const layer of [...oldLayers, ...impostorLayers, ...runnable.layers]) expect(existsSync(blobFile(layer)), layer).toBe(false);
        // The old runnable image is gone: no pull by its digest.
        const pull = runOk("curl", [
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            `https://${reg.authority}/v2/${TOOL}/manifests/${runnable.image}`,
            "--cacert",
            reg.ca.caCertFile,
        ]);
        expect(pull.stdout).toBe("404");
        for (const layer of newLayers) expect(existsSync(blobFile(layer)), layer).toBe(true);
        // The GC paths' own check after the collection: every tagged manifest, signatures and indexes included, is served whole.
        writeFileSync(
            script,
            renderVerifyScript({
                base: distribution(),
                client: "busybox-wget",
                registryLogs: "the test's registry log",
                remedy: "REMEDY",
                blobStore: reg.dataDir,
            }),
        );
        const verified = run(path.join(busybox, "sh"), [script], { env: { PATH: busybox } });
        expect(verified.code, `${verified.stdout}\n${verified.stderr}`).toBe(0);
        expect(verified.stdout).toContain("verified: 7 tagged images");

        const verify = anonymous.cosign(["verify", "--key", publicKey, "--insecure-ignore-tlog=true", byDigest(REPO, "new")]);
        expect(verify.code, verify.stderr).toBe(0);
        const discover = anonymous.oras(["discover", "--format", "json", byDigest(REPO, "new")]);
        expect(discover.code, discover.stderr).toBe(0);
        expect(discover.stdout).toContain("application/vnd.dso-registry.test.scan+json");
    });
});
