/**
 * S3 storage with real software: an S3 API on 127.0.0.1 that verifies AWS signature V4 (versitygw,
 * test/support/s3Server.ts) and Distribution at both versions the program ships, 2.8.3 and 3.x (built
 * from their Go modules, test/support/distributionBinaries.ts), started with what the synth renders
 * for each placement with `registry.image` naming that version:
 *   - external host: the placed /etc/dso-registry/config.yml, and the credentials as the placed
 *     storage.env carries them (`renderStorageEnvFile`, read the way `docker run --env-file` does);
 *   - in-cluster: config.yml from the ConfigMap, the environment from the Deployment's registry
 *     container, each secretKeyRef resolved to the value its Secret holds.
 * Only the listen address and the TLS files come from the test (environment overrides), and for 3.x
 * OTEL_TRACES_EXPORTER=none where the rendered environment does not carry it already; the environment
 * is otherwise empty, as in a container. Each case has its own bucket.
 *
 * Proven per version, placement and `registry.storage.s3.redirect`: a skopeo push lands in the
 * bucket (listed through the S3 API) and pulls back with the same digest; a blob GET answers 200 from
 * the registry when redirect is off, and 307 to a presigned URL of the store when on, which serves the
 * blob and is refused once its signature is altered. Per version also: a registry with an access key
 * the store does not know cannot push, nor one with the right access key and a wrong secret key, and
 * garbage collection with the placed config removes a deleted image's blobs from the bucket.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { renderStorageEnvFile } from "../../components/externalHost/scripts";
import { type DistributionBinary, distributionBinaries } from "../support/distributionBinaries";
import { makeOciImage, makeTestCa, skopeoCopy, type TestCa } from "../support/realRegistry";
import { type S3Server, startS3Server } from "../support/s3Server";
import { freePort, privateDir, removeDir, run, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";
import { PROJECT_DIR, synthCli } from "../support/synthCli";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheS3StorageVariants";
const SSH_HOST = "registry-host.example.test";
const ROOT = "registry/docker/registry/v2";

/** The two builds of Distribution the program ships, built on first use (cached). */
const BINARIES = distributionBinaries();
const VERSIONS: readonly DistributionBinary[] = [BINARIES.v2, BINARIES.v3];
const isVersion3 = (binary: DistributionBinary) => binary.version.startsWith("3.");
/** A bucket name's suffix for a version: "2.8.3" → "2-8-3". */
const bucketSuffix = (binary: DistributionBinary) => binary.version.replace(/\./g, "-");

interface Case {
    readonly binary: DistributionBinary;
    readonly placement: "external-host" | "in-cluster";
    readonly redirect: boolean;
    readonly bucket: string;
}
const CASES: readonly Case[] = VERSIONS.flatMap((binary) =>
    [
        { placement: "external-host", redirect: false, bucket: "eh-proxied" },
        { placement: "external-host", redirect: true, bucket: "eh-redirected" },
        { placement: "in-cluster", redirect: false, bucket: "ic-proxied" },
        { placement: "in-cluster", redirect: true, bucket: "ic-redirected" },
    ].map((c) => ({ ...c, binary, bucket: `${c.bucket}-${bucketSuffix(binary)}` }) as Case),
);
const label = (c: Case) => `Distribution ${c.binary.version}, ${c.placement}, redirect ${c.redirect ? "on" : "off"}`;
/** The buckets of the credential and collection cases, per version. */
const REFUSED_KEY = (binary: DistributionBinary) => `refused-key-${bucketSuffix(binary)}`;
const WRONG_SECRET = (binary: DistributionBinary) => `wrong-secret-${bucketSuffix(binary)}`;
const COLLECTED = (binary: DistributionBinary) => `collected-${bucketSuffix(binary)}`;

/** The stack config of a case: the placement with s3 storage in the case's bucket, the image of its version. */
function stackConfig(c: Case, endpoint: string): Record<string, unknown> {
    const storage = { kind: "s3", s3: { bucket: c.bucket, endpoint, redirect: c.redirect } };
    const common = {
        "dso-registry:containerRegistry": { host: "registry.example.test", pathPrefix: "team" },
        "dso-registry:jenkins": { enabled: false },
        "dso-registry:nodes": { delivery: "none" },
    };
    const image = `registry:${c.binary.version}`;
    if (c.placement === "in-cluster") return { ...common, "dso-registry:registry": { mode: "in-cluster", image, storage } };
    return {
        ...common,
        "dso-registry:registry": {
            mode: "external-host",
            image,
            tls: { mode: "acme", acmeEmail: "ops@example.test" },
            storage,
            // Deletes (for the collection test) follow garbage collection.
            maintenance: { garbageCollection: { enabled: true } },
        },
        "dso-registry:externalHost": { ssh: { host: SSH_HOST, user: "root", hostKey: HOST_KEY } },
    };
}

/** What Distribution starts from: the rendered config.yml and environment. */
interface Rendered {
    readonly configYml: string;
    readonly env: Record<string, string>;
}

/** Lines of a `docker run --env-file` file: NAME=value, the value literal to the end of the line. */
function parseEnvFile(text: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of text.split("\n")) {
        if (line.trim() === "" || line.startsWith("#")) continue;
        const eq = line.indexOf("=");
        env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return env;
}

type Credentials = S3Server["credentials"];

function renderedExternalHost(out: string, credentials: Credentials): Rendered {
    const etc = path.join(out, "hosts", SSH_HOST, "etc/dso-registry");
    // The synth shows the placed env file as the component renders it, the keys masked; the test's body
    // is the same renderer's with the store's keys.
    expect(readFileSync(path.join(etc, "storage.env"), "utf8")).toBe(
        renderStorageEnvFile({ accessKeyId: "[secret]", secretAccessKey: "[secret]" }),
    );
    return { configYml: readFileSync(path.join(etc, "config.yml"), "utf8"), env: parseEnvFile(renderStorageEnvFile(credentials)) };
}

interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

function renderedInCluster(out: string, credentials: Credentials): Rendered {
    const k8s = (file: string) => YAML.parse(readFileSync(path.join(out, "k8s/dso", file), "utf8"));
    const configMap = k8s("ConfigMap-registry-config.yaml");
    const deployment = k8s("Deployment-registry.yaml");
    // The values the Secrets hold in a real cluster (the synth withholds them).
    const secrets: Record<string, Record<string, string>> = {
        "registry-s3": { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
        "registry-http-secret": { secret: "http-secret-of-this-test-run" },
    };
    const container = (deployment.spec.template.spec.containers as { name: string; env: EnvVar[] }[]).find((x) => x.name === "registry")!;
    const env: Record<string, string> = {};
    for (const v of container.env) {
        const ref = v.valueFrom?.secretKeyRef;
        const value = ref ? secrets[ref.name]?.[ref.key] : v.value;
        if (value === undefined) throw new Error(`the registry's env ${v.name} refers to nothing this test knows: ${JSON.stringify(v)}`);
        env[v.name] = value;
    }
    return { configYml: configMap.data["config.yml"], env };
}

/** Distribution from rendered files, with only the address and TLS overridden. */
interface Registry {
    readonly binary: DistributionBinary;
    readonly authority: string;
    readonly server: ServerProcess;
    readonly configFile: string;
    readonly env: Record<string, string>;
}

/**
 * Distribution 3 exports traces to localhost:4318 unless OTEL_TRACES_EXPORTER says otherwise (and logs
 * an error per batch); the test adds `none` only where the rendered environment does not set it.
 */
const tracingEnv = (binary: DistributionBinary, env: Record<string, string>): Record<string, string> =>
    isVersion3(binary) && env.OTEL_TRACES_EXPORTER === undefined ? { OTEL_TRACES_EXPORTER: "none" } : {};

async function startRegistry(binary: DistributionBinary, dir: string, rendered: Rendered, ca: TestCa): Promise<Registry> {
    mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, "config.yml");
    writeFileSync(configFile, rendered.configYml);
    const port = await freePort();
    const env = {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        ...rendered.env,
        ...tracingEnv(binary, rendered.env),
        // The host's Distribution listens on a unix socket and its debug listener on a fixed port:
        // here TCP on a free loopback port, and the debug listener on another.
        REGISTRY_HTTP_NET: "tcp",
        REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
        REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${await freePort()}`,
        REGISTRY_HTTP_TLS_CERTIFICATE: ca.serverCertFile,
        REGISTRY_HTTP_TLS_KEY: ca.serverKeyFile,
    };
    const server = startServer(binary.path, ["serve", configFile], env);
    await waitForPort(port, 30_000, `registry ${binary.version}`).catch(async (e: Error) => {
        const output = server.output();
        await server.stop();
        throw new Error(`${e.message}\n${output}`);
    });
    return { binary, authority: `127.0.0.1:${port}`, server, configFile, env };
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
/** The manifest digest an OCI layout's index names for its only image. */
const layoutDigest = (layoutDir: string) =>
    JSON.parse(readFileSync(path.join(layoutDir, "index.json"), "utf8")).manifests[0].digest as string;
const blobKey = (digest: string) => `${ROOT}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

interface Response {
    readonly status: number;
    readonly headers: string;
    readonly body: Buffer;
}

/** A GET with curl (no redirect followed), the registry's test CA trusted. */
function get(url: string, scratch: string, accept?: string): Response {
    const headers = path.join(scratch, "headers");
    const body = path.join(scratch, "body");
    rmSync(body, { force: true });
    const out = runOk("curl", [
        "-sS",
        "--max-time",
        "60",
        "--cacert",
        ca.caCertFile,
        "-D",
        headers,
        "-o",
        body,
        "-w",
        "%{http_code}",
        ...(accept ? ["-H", `Accept: ${accept}`] : []),
        url,
    ]);
    return {
        status: Number(out.stdout.trim()),
        headers: readFileSync(headers, "utf8"),
        body: existsSync(body) ? readFileSync(body) : Buffer.alloc(0),
    };
}

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

let s3: S3Server;
let ca: TestCa;
let scratch: string;
const work = mkdtempSync(path.join(tmpdir(), "dso-s3-synth-"));
const registries = new Map<Case, Registry>();
const renderedByCase = new Map<Case, Rendered>();
const extraServers: ServerProcess[] = [];

beforeAll(async () => {
    scratch = privateDir("s3-storage");
    ca = makeTestCa(path.join(scratch, "tls"));
    mkdirSync(path.join(scratch, "certs"));
    copyFileSync(ca.caCertFile, path.join(scratch, "certs", "ca.crt"));
    s3 = await startS3Server([...CASES.map((c) => c.bucket), ...VERSIONS.flatMap((v) => [REFUSED_KEY(v), WRONG_SECRET(v), COLLECTED(v)])]);

    copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(work, "Pulumi.yaml"));
    await Promise.all(
        CASES.map(async (c, i) => {
            const stack = `s3-${i}`;
            writeFileSync(path.join(work, `Pulumi.${stack}.yaml`), YAML.stringify({ config: stackConfig(c, s3.endpoint) }));
            const out = path.join(work, "out", stack);
            const result = await synthCli(["--stack", stack, "--out", out], work);
            if (result.status !== 0) throw new Error(`synth of ${label(c)} failed:\n${result.stderr}`);
            const rendered =
                c.placement === "external-host" ? renderedExternalHost(out, s3.credentials) : renderedInCluster(out, s3.credentials);
            renderedByCase.set(c, rendered);
        }),
    );
    for (const [i, c] of CASES.entries())
        registries.set(c, await startRegistry(c.binary, path.join(scratch, `registry-${i}`), renderedByCase.get(c)!, ca));
});

afterAll(async () => {
    for (const server of [...[...registries.values()].map((r) => r.server), ...extraServers]) await server.stop();
    await s3?.stop();
    if (scratch) removeDir(scratch);
    rmSync(work, { recursive: true, force: true });
});

/** Directory with the test CA as ca.crt, for skopeo. */
const certDir = () => path.join(scratch, "certs");

/** Pushes a fresh image to `repo:1` and pulls it back; returns the digests seen on the way. */
function pushAndPull(registry: Registry, repo: string, dir: string) {
    const image = makeOciImage(path.join(dir, "image"), 64 * 1024);
    const pushed = skopeoCopy(image.ref, `docker://${registry.authority}/${repo}:1`, { certDir: certDir() });
    if (pushed.code !== 0) throw new Error(`push failed:\n${pushed.stderr}\n${registry.server.output().slice(-3000)}`);
    const pulledLayout = path.join(dir, "pulled");
    runOk("mkdir", ["-p", pulledLayout]);
    const pulled = skopeoCopy(`docker://${registry.authority}/${repo}:1`, `oci:${pulledLayout}:1`, { certDir: certDir() });
    if (pulled.code !== 0) throw new Error(`pull failed:\n${pulled.stderr}`);
    const manifestDigest = layoutDigest(image.dir);
    const manifest = JSON.parse(readFileSync(path.join(image.dir, "blobs/sha256", manifestDigest.slice(7)), "utf8"));
    return { manifestDigest, pulledDigest: layoutDigest(pulledLayout), layerDigest: manifest.layers[0].digest as string };
}

describe.each(CASES)("s3 storage: %s", (c) => {
    let image: ReturnType<typeof pushAndPull>;
    let redirectedTo: URL;
    const dir = () => path.join(scratch, `case-${c.bucket}`);

    test(`${label(c)}: a push lands in the bucket and pulls back with the same digest`, async () => {
        const registry = registries.get(c)!;
        image = pushAndPull(registry, "team/app", dir());
        expect(image.pulledDigest).toBe(image.manifestDigest);
        const keys = await s3.listKeys(c.bucket, `${ROOT}/`);
        expect(keys).toContain(blobKey(image.layerDigest));
        expect(keys).toContain(`${ROOT}/repositories/team/app/_manifests/tags/1/current/link`);
        expect(keys).toContain(`${ROOT}/repositories/team/app/_manifests/revisions/sha256/${image.manifestDigest.slice(7)}/link`);
    });

    test(`${label(c)}: the registry's manifest digest is the pushed one`, () => {
        const registry = registries.get(c)!;
        const answer = get(`https://${registry.authority}/v2/team/app/manifests/1`, dir(), OCI_MANIFEST);
        expect(answer.status).toBe(200);
        expect(sha256(answer.body)).toBe(image.manifestDigest);
    });

    if (!c.redirect) {
        test(`${label(c)}: a blob GET answers 200 with the blob from the registry itself`, () => {
            const registry = registries.get(c)!;
            const answer = get(`https://${registry.authority}/v2/team/app/blobs/${image.layerDigest}`, dir());
            expect(answer.status).toBe(200);
            expect(answer.headers).not.toMatch(/^location:/im);
            expect(sha256(answer.body)).toBe(image.layerDigest);
        });
    } else {
        test(`${label(c)}: a blob GET answers 307 to a presigned URL of the store, which serves the blob`, () => {
            const registry = registries.get(c)!;
            const answer = get(`https://${registry.authority}/v2/team/app/blobs/${image.layerDigest}`, dir());
            expect(answer.status).toBe(307);
            const location = /^location:\s*(\S+)/im.exec(answer.headers)?.[1];
            expect(location).toBeDefined();
            const url = new URL(location!);
            expect(url.origin).toBe(s3.endpoint);
            expect(url.pathname).toBe(`/${c.bucket}/${blobKey(image.layerDigest)}`);
            expect(url.searchParams.get("X-Amz-Credential")).toMatch(new RegExp(`^${s3.credentials.accessKeyId}/`));
            const followed = get(location!, dir());
            expect(followed.status).toBe(200);
            expect(sha256(followed.body)).toBe(image.layerDigest);
            redirectedTo = url;
        });

        test(`${label(c)}: the store refuses the presigned URL once its signature is altered`, () => {
            const altered = new URL(redirectedTo.href);
            const signature = altered.searchParams.get("X-Amz-Signature")!;
            altered.searchParams.set("X-Amz-Signature", `${signature[0] === "0" ? "1" : "0"}${signature.slice(1)}`);
            const answer = get(altered.href, dir());
            expect(answer.status).toBe(403);
            expect(answer.body.toString()).toContain("SignatureDoesNotMatch");
        });
    }
});

describe.each(VERSIONS.map((binary) => [binary.version, binary] as const))(
    "s3 storage: credentials and garbage collection on the external host, Distribution %s",
    (_version, binary) => {
        const externalHost = CASES.find((c) => c.binary === binary && c.placement === "external-host" && !c.redirect)!;
        /** The case's rendered files with another bucket and, when given, other credentials in storage.env. */
        const renderedFor = (bucket: string, credentials?: Credentials): Rendered => {
            const rendered = renderedByCase.get(externalHost)!;
            return {
                configYml: rendered.configYml.replace(`bucket: "${externalHost.bucket}"`, `bucket: "${bucket}"`),
                env: credentials ? parseEnvFile(renderStorageEnvFile(credentials)) : rendered.env,
            };
        };

        /** Starts a registry with `credentials` on `bucket` and pushes; returns the push and the registry's log. */
        const pushWith = async (bucket: string, credentials: Credentials) => {
            const registry = await startRegistry(binary, path.join(scratch, `registry-${bucket}`), renderedFor(bucket, credentials), ca);
            extraServers.push(registry.server);
            const image = makeOciImage(path.join(scratch, `image-${bucket}`));
            const pushed = skopeoCopy(image.ref, `docker://${registry.authority}/team/app:1`, { certDir: certDir() });
            return { pushed, log: registry.server.output() };
        };

        test("with an access key the object store does not know, a push is refused", async () => {
            const unknown = { accessKeyId: "AKIAUNKNOWNTOTHESTORE", secretAccessKey: s3.credentials.secretAccessKey };
            const { pushed, log } = await pushWith(REFUSED_KEY(binary), unknown);
            expect(pushed.code).not.toBe(0);
            // versitygw's name for it; AWS answers InvalidAccessKeyId.
            expect(log).toContain("XAdminUserNotFound: No user exists with the provided access key ID");
            expect(await s3.listKeys(REFUSED_KEY(binary))).toEqual([]);
        });

        test("with the right access key and a wrong secret key, a push is refused: the store checks the signature", async () => {
            const wrongSecret = {
                accessKeyId: s3.credentials.accessKeyId,
                secretAccessKey: `${s3.credentials.secretAccessKey.slice(0, -4)}AAAA`,
            };
            expect(wrongSecret.secretAccessKey).not.toBe(s3.credentials.secretAccessKey);
            const { pushed, log } = await pushWith(WRONG_SECRET(binary), wrongSecret);
            expect(pushed.code).not.toBe(0);
            expect(log).toContain("SignatureDoesNotMatch");
            expect(await s3.listKeys(WRONG_SECRET(binary))).toEqual([]);
        });

        test("garbage collection with the placed config removes a deleted image's blobs from the bucket", async () => {
            const bucket = COLLECTED(binary);
            const registry = await startRegistry(binary, path.join(scratch, `registry-${bucket}`), renderedFor(bucket), ca);
            extraServers.push(registry.server);
            const kept = pushAndPull(registry, "team/kept", path.join(scratch, `gc-kept-${bucket}`));
            const gone = pushAndPull(registry, "team/gone", path.join(scratch, `gc-gone-${bucket}`));
            expect(await s3.listKeys(bucket, `${ROOT}/blobs/`)).toContain(blobKey(gone.layerDigest));
            // The documented workflow: delete the manifest through the API, then collect.
            const deleted = runOk("curl", [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                ca.caCertFile,
                "-X",
                "DELETE",
                `https://${registry.authority}/v2/team/gone/manifests/${gone.manifestDigest}`,
            ]);
            expect(deleted.stdout).toBe("202");
            // As the gc script's `docker exec`: the container's environment, the placed config.yml.
            const collected = run(binary.path, ["garbage-collect", registry.configFile], { env: registry.env });
            expect(collected.code, collected.stderr).toBe(0);
            const blobs = await s3.listKeys(bucket, `${ROOT}/blobs/`);
            expect(blobs).not.toContain(blobKey(gone.layerDigest));
            expect(blobs).toContain(blobKey(kept.layerDigest));
        });
    },
);
