/**
 * The buildah agent template, run for real against the in-cluster registry's TLS front (real Caddy
 * with the sidecar's rendered TLS site, real Distribution) inside a network namespace the test owns:
 *
 *   buildah (as the steps of buildah.groovy run it) --TLS--> Caddy :443 --HTTP--> Distribution
 *
 * buildah trusts the registry only through the CA of the rendered `dso-registry-ca` ConfigMap, laid out
 * as the kubelet lays out the template's ConfigMap volume, at the template's mount path under a temp
 * root (`--cert-dir` names that directory, as /etc/containers/certs.d/<host> is read in the pod).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CA_CONFIG_MAP, renderCaConfigMaps } from "../../components/inCluster/caConfigMaps";
import {
    AGENT_BUILD_CONTAINER,
    AGENT_CA_VOLUME,
    type AgentPodsSpec,
    renderAgentPod,
    renderAgentSteps,
} from "../../components/jenkins/agentPods";
import { writeConfigMapVolume } from "../support/configMapVolume";
import { type InClusterTlsSite, startInClusterTlsSite } from "../support/inClusterTlsFront";
import type { TestNetns } from "../support/netns";
import { makeTestCa, type TestAccount } from "../support/realRegistry";
import type { RunResult } from "../support/serverProcess";

const HOST = "registry-dso.jmann.local";
const said = (r: RunResult) => `${r.stdout}\n${r.stderr}`;
const spec: AgentPodsSpec = {
    authority: HOST,
    imagePrefix: `${HOST}/team`,
    credentialId: "container-registry",
    ca: { configMap: CA_CONFIG_MAP.name, key: CA_CONFIG_MAP.key },
    images: { dockerCli: "docker:cli", dockerDaemon: "docker:dind", kaniko: "kaniko:debug", buildah: "buildah:stable" },
};

let site: InClusterTlsSite;
let dir: string;
let ns: TestNetns;
let push: TestAccount;
let pull: TestAccount;
let caData: Record<string, string>;
let otherCaData: Record<string, string>;
/** The template's CA mount under the temp root, and the volume's items. */
let certDir: string;
let items: { key: string; path: string }[];
let storage: string[];
let authFile: string;

/** buildah inside the namespace (its /etc/hosts names the registry), with private storage. */
function buildah(args: readonly string[], input?: string): RunResult {
    return ns.run("buildah", [...storage, ...args], input === undefined ? {} : { input });
}

const login = (account: TestAccount) =>
    buildah(["login", "--cert-dir", certDir, "--authfile", authFile, "-u", account.username, "--password-stdin", HOST], account.password);

/** A one-layer image from scratch with random content, committed as `ref`. */
function buildImage(ref: string): void {
    const from = buildah(["from", "scratch"]);
    expect(from.code, said(from)).toBe(0);
    const container = from.stdout.trim();
    const payload = path.join(dir, `payload-${randomBytes(4).toString("hex")}`);
    writeFileSync(payload, randomBytes(4096));
    try {
        for (const step of [
            ["copy", container, payload, "/payload"],
            ["commit", container, ref],
        ]) {
            const r = buildah(step);
            expect(r.code, said(r)).toBe(0);
        }
    } finally {
        buildah(["rm", container]);
    }
}

beforeAll(async () => {
    site = await startInClusterTlsSite({ dirName: "ag-agent-buildah", prefix: "ag", subnet: "198.18.208.0/20", host: HOST });
    ({ dir, ns, push, pull } = site);
    const otherCa = makeTestCa(path.join(dir, "other-ca"), [HOST]);
    const dataOf = (pem: string) => renderCaConfigMaps({ namespaces: ["jenkins"], caCertPem: pem })[0]!.data as Record<string, string>;
    caData = dataOf(site.ca.caCertPem);
    otherCaData = dataOf(otherCa.caCertPem);

    // Where the template mounts the CA, and which of the ConfigMap's keys as which file.
    const pod = renderAgentPod("buildah", spec);
    const container = pod.spec.containers.find((c) => c.name === AGENT_BUILD_CONTAINER.buildah)!;
    const mount = (container.volumeMounts as { name: string; mountPath: string }[]).find((m) => m.name === AGENT_CA_VOLUME)!;
    const volume = pod.spec.volumes!.find((v) => v.name === AGENT_CA_VOLUME)! as {
        configMap: { items: { key: string; path: string }[] };
    };
    items = volume.configMap.items;
    certDir = path.join(dir, "agent-root", mount.mountPath);
    writeConfigMapVolume(certDir, caData, items);

    storage = ["--root", path.join(dir, "storage"), "--runroot", path.join(dir, "runroot"), "--storage-driver", "vfs"];
    mkdirSync(path.join(dir, "auth"), { mode: 0o700 });
    authFile = path.join(dir, "auth", "auth.json");
}, 180_000);

afterAll(async () => {
    if (site && storage) buildah(["rmi", "--all", "--force"]);
    await site?.stop();
});

describe("the buildah agent template against the in-cluster TLS front", () => {
    test("the template's steps run buildah login, build and push in the container that mounts the CA", () => {
        const steps = renderAgentSteps("buildah", spec);
        expect(steps).toContain(`buildah login -u "$REG_USER" --password-stdin ${HOST}`);
        expect(steps).toContain(`buildah push ${spec.imagePrefix}/app:$BUILD_NUMBER`);
        expect(certDir.endsWith(`/etc/containers/certs.d/${HOST}`)).toBe(true);
    });

    test("buildah logs in with the push account and pushes; the image is there for anonymous pulls", () => {
        expect(said(login(push))).toContain("Login Succeeded!");
        const ref = `${spec.imagePrefix}/app:1`;
        buildImage(ref);
        const digestFile = path.join(dir, "digest");
        const pushed = buildah(["push", "--cert-dir", certDir, "--authfile", authFile, "--digestfile", digestFile, ref]);
        expect(pushed.code, said(pushed)).toBe(0);
        const inspected = ns.run("skopeo", ["inspect", "--cert-dir", certDir, "--no-creds", `docker://${ref}`]);
        expect(inspected.code, said(inspected)).toBe(0);
        expect(JSON.parse(inspected.stdout).Digest).toBe(readFileSync(digestFile, "utf8").trim());
    });

    test("after logout the push is refused with the policy's message", () => {
        expect(buildah(["logout", "--authfile", authFile, HOST]).code).toBe(0);
        const ref = `${spec.imagePrefix}/app:anonymous`;
        buildImage(ref);
        const pushed = buildah(["push", "--cert-dir", certDir, "--authfile", authFile, ref]);
        expect(pushed.code).not.toBe(0);
        expect(said(pushed)).toContain("authentication required");
    });

    test("the pull account logs in and cannot push", () => {
        expect(said(login(pull))).toContain("Login Succeeded!");
        const ref = `${spec.imagePrefix}/app:by-pull`;
        buildImage(ref);
        const pushed = buildah(["push", "--cert-dir", certDir, "--authfile", authFile, ref]);
        expect(pushed.code).not.toBe(0);
        expect(said(pushed)).toContain("authentication required");
        buildah(["logout", "--authfile", authFile, HOST]);
    });

    test("a CA the kubelet swaps in is the one the next buildah run trusts (rotation reaches a running agent)", () => {
        writeConfigMapVolume(certDir, otherCaData, items);
        try {
            const refused = login(push);
            expect(refused.code).not.toBe(0);
            expect(said(refused)).toContain("x509: certificate signed by unknown authority");
        } finally {
            writeConfigMapVolume(certDir, caData, items);
        }
        expect(said(login(push))).toContain("Login Succeeded!");
    });
});
