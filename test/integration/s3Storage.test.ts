/**
 * S3 storage with real software: an S3 API on 127.0.0.1 (s3rver, see test/support/s3Server.ts for
 * what it checks and the two listing calls the support answers for it) and the real Distribution
 * (`docker-registry`), started with what the synth renders for each placement:
 *   - external host: the placed /etc/dso-registry/config.yml, and the credentials as the placed
 *     storage.env carries them (`renderStorageEnvFile`, read the way `docker run --env-file` does);
 *   - in-cluster: config.yml from the ConfigMap, the environment from the Deployment's registry
 *     container, each secretKeyRef resolved to the value its Secret holds.
 * Only the listen address and the TLS files come from the test (environment overrides); the
 * environment is otherwise empty, as in a container. Each case has its own bucket.
 *
 * Proven per placement and per `registry.storage.s3.redirect`: a skopeo push lands in the bucket
 * (listed through the S3 API) and pulls back with the same digest; a blob GET answers 200 from the
 * registry when redirect is off, and 307 to a presigned s3rver URL that serves the blob when on.
 * Also: a registry with an access key the store does not know cannot push, and garbage collection
 * with the placed config removes a deleted image's blobs from the bucket.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { renderStorageEnvFile } from "../../components/externalHost/scripts";
import { makeOciImage, makeTestCa, skopeoCopy, type TestCa } from "../support/realRegistry";
import { type S3Server, startS3Server } from "../support/s3Server";
import { freePort, privateDir, removeDir, run, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";
import { PROJECT_DIR, synthCli } from "../support/synthCli";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheS3StorageVariants";
const SSH_HOST = "registry-host.example.test";
const ROOT = "registry/docker/registry/v2";

interface Case {
    readonly placement: "external-host" | "in-cluster";
    readonly redirect: boolean;
    readonly bucket: string;
}
const CASES: readonly Case[] = [
    { placement: "external-host", redirect: false, bucket: "eh-proxied" },
    { placement: "external-host", redirect: true, bucket: "eh-redirected" },
    { placement: "in-cluster", redirect: false, bucket: "ic-proxied" },
    { placement: "in-cluster", redirect: true, bucket: "ic-redirected" },
];
const label = (c: Case) => `${c.placement}, redirect ${c.redirect ? "on" : "off"}`;

/** The stack config of a case: the placement with s3 storage in the case's bucket on s3rver. */
function stackConfig(c: Case, endpoint: string): Record<string, unknown> {
    const storage = { kind: "s3", s3: { bucket: c.bucket, endpoint, redirect: c.redirect } };
    const common = {
        "dso-registry:containerRegistry": { host: "registry.example.test", pathPrefix: "team" },
        "dso-registry:jenkins": { enabled: false },
        "dso-registry:nodes": { delivery: "none" },
    };
    if (c.placement === "in-cluster") return { ...common, "dso-registry:registry": { mode: "in-cluster", storage } };
    return {
        ...common,
        "dso-registry:registry": {
            mode: "external-host",
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
    readonly authority: string;
    readonly server: ServerProcess;
    readonly configFile: string;
    readonly env: Record<string, string>;
}

async function startRegistry(dir: string, rendered: Rendered, ca: TestCa): Promise<Registry> {
    mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, "config.yml");
    writeFileSync(configFile, rendered.configYml);
    const port = await freePort();
    const env = {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        ...rendered.env,
        // The host's Distribution listens on a unix socket and its debug listener on a fixed port:
        // here TCP on a free loopback port, and the debug listener on another.
        REGISTRY_HTTP_NET: "tcp",
        REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
        REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${await freePort()}`,
        REGISTRY_HTTP_TLS_CERTIFICATE: ca.serverCertFile,
        REGISTRY_HTTP_TLS_KEY: ca.serverKeyFile,
    };
    const server = startServer("/usr/bin/docker-registry", ["serve", configFile], env);
    await waitForPort(port, 30_000, "docker-registry").catch(async (e: Error) => {
        const output = server.output();
        await server.stop();
        throw new Error(`${e.message}\n${output}`);
    });
    return { authority: `127.0.0.1:${port}`, server, configFile, env };
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
    s3 = await startS3Server([...CASES.map((c) => c.bucket), "refused-key", "collected"]);

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
        registries.set(c, await startRegistry(path.join(scratch, `registry-${i}`), renderedByCase.get(c)!, ca));
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
        test(`${label(c)}: a blob GET answers 307 to a presigned s3rver URL, which serves the blob`, () => {
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
        });
    }
});

describe("s3 storage: credentials and garbage collection on the external host", () => {
    const externalHost = CASES.find((c) => c.placement === "external-host" && !c.redirect)!;

    test("with an access key the object store does not know, a push is refused", async () => {
        const rendered = renderedByCase.get(externalHost)!;
        const unknown = { accessKeyId: "AKIAUNKNOWNTOTHESTORE", secretAccessKey: s3.credentials.secretAccessKey };
        const registry = await startRegistry(
            path.join(scratch, "registry-refused"),
            {
                configYml: rendered.configYml.replace(`bucket: "${externalHost.bucket}"`, `bucket: "refused-key"`),
                env: parseEnvFile(renderStorageEnvFile(unknown)),
            },
            ca,
        );
        extraServers.push(registry.server);
        const image = makeOciImage(path.join(scratch, "refused-image"));
        const pushed = skopeoCopy(image.ref, `docker://${registry.authority}/team/app:1`, { certDir: certDir() });
        expect(pushed.code).not.toBe(0);
        expect(registry.server.output()).toContain("InvalidAccessKeyId");
        expect(await s3.listKeys("refused-key")).toEqual([]);
    });

    test("garbage collection with the placed config removes a deleted image's blobs from the bucket", async () => {
        const rendered = renderedByCase.get(externalHost)!;
        const registry = await startRegistry(
            path.join(scratch, "registry-collected"),
            { configYml: rendered.configYml.replace(`bucket: "${externalHost.bucket}"`, `bucket: "collected"`), env: rendered.env },
            ca,
        );
        extraServers.push(registry.server);
        const kept = pushAndPull(registry, "team/kept", path.join(scratch, "gc-kept"));
        const gone = pushAndPull(registry, "team/gone", path.join(scratch, "gc-gone"));
        expect(await s3.listKeys("collected", `${ROOT}/blobs/`)).toContain(blobKey(gone.layerDigest));
        // The seed workflow: delete the manifest through the API, then collect.
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
        const collected = run("/usr/bin/docker-registry", ["garbage-collect", registry.configFile], { env: registry.env });
        expect(collected.code, collected.stderr).toBe(0);
        const blobs = await s3.listKeys("collected", `${ROOT}/blobs/`);
        expect(blobs).not.toContain(blobKey(gone.layerDigest));
        expect(blobs).toContain(blobKey(kept.layerDigest));
    });
});
