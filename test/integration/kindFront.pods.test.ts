/**
 * A pod of the kind cluster against the kind front: real Caddy with the rendered Caddyfile in front of
 * real Distribution, and skopeo in a network namespace that stands in for a pod. Like a pod, it resolves
 * the front's name on the kind network (kind's CoreDNS forwards to Docker's DNS, here a hosts file that
 * names only `kind-registry`) and cannot reach the Docker host's loopback (its own localhost is empty).
 * Through `kind-registry:<port>` it lists tags anonymously and pushes with the push account: both need
 * the realm the front names for that authority, and a realm on localhost:<port> would be unreachable.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderKindCaddyfile } from "../../components/kind/front";
import { createNetns, type TestNetns } from "../support/netns";
import {
    caddyEnv,
    makeAccount,
    makeDecoyHash,
    makeOciImage,
    type OciImage,
    type TestAccount,
    writeAuthFile,
} from "../support/realRegistry";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

const REGISTRY_NAME = "kind-registry";

let dir = "";
let pod: TestNetns | undefined;
let servers: ServerProcess[] = [];
let port = 0;
let push: TestAccount;
let image: OciImage;

/** skopeo inside the pod's namespace, with no auth file but the one it is given. */
function skopeoInPod(args: readonly string[]) {
    return pod!.run("skopeo", args, { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(dir, "no-auth.json") } });
}

const logs = () => servers.map((s) => s.output()).join("\n");

beforeAll(async () => {
    dir = privateDir("kind-front-pods");
    pod = await createNetns({ prefix: "kp", subnet: "198.19.80.0/20" });
    // The pod resolves the front's container name, and nothing else.
    pod.writeEtcFile("hosts", `${pod.hostAddress} ${REGISTRY_NAME}\n`);
    port = await freePort();
    const registryPort = await freePort();
    push = makeAccount("ci-push");
    const pull = makeAccount("cluster-pull");
    writeFileSync(
        path.join(dir, "config.yml"),
        renderRegistryConfig({
            addr: `127.0.0.1:${registryPort}`,
            storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
            deletesEnabled: false,
            logLevel: "warn",
        }),
    );
    writeFileSync(path.join(dir, "users-push"), renderUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(path.join(dir, "users-pull"), renderUsersFile("pull", [pull]), { mode: 0o600 });
    const rendered = renderKindCaddyfile({
        registryName: REGISTRY_NAME,
        port,
        distributionName: "distribution.invalid",
        requiresAuthForPull: false,
        deletesEnabled: false,
        ui: { host: "localhost", port: 8080 },
        decoy: { accounts: { push: [push.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
    });
    // The container's paths become the test's directory, Distribution's container the test's Distribution;
    // Caddy listens on loopback and on the address the pod reaches, as the front on the kind network.
    const caddyfile = rendered
        .replaceAll("/etc/dso-registry/", `${dir}/`)
        .replaceAll("distribution.invalid:5000", `127.0.0.1:${registryPort}`)
        .replace("\n{\n", `\n{\n\tdefault_bind 127.0.0.1 ${pod.hostAddress}\n`);
    expect(caddyfile).toContain(`127.0.0.1:${registryPort}`);
    writeFileSync(path.join(dir, "Caddyfile"), caddyfile);
    servers = [
        startServer("/usr/bin/docker-registry", ["serve", path.join(dir, "config.yml")]),
        startServer("/usr/bin/caddy", ["run", "--adapter", "caddyfile", "--config", path.join(dir, "Caddyfile")], caddyEnv(dir)),
    ];
    for (const p of [registryPort, port]) {
        await waitForPort(p, 30_000, `port ${p}`).catch((e: Error) => {
            throw new Error(`${e.message}\n${logs()}`);
        });
    }
    image = makeOciImage(path.join(dir, "image"));
}, 120_000);

afterAll(async () => {
    for (const s of servers.reverse()) await s.stop();
    await pod?.destroy();
    if (dir) removeDir(dir);
});

describe("a pod of the kind cluster, through the front's name on the kind network", () => {
    it("cannot reach the Docker host's localhost:<port>, where the host's clients get their realm", () => {
        const r = pod!.run("curl", ["-sS", "-o", "/dev/null", "--max-time", "5", `http://localhost:${port}/v2/`]);
        expect(r.code).not.toBe(0);
    });

    it("pushes with the push account (skopeo, plain HTTP), the token from the realm under that name", () => {
        const copied = skopeoInPod([
            "--insecure-policy",
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-authfile",
            writeAuthFile(dir, `${REGISTRY_NAME}:${port}`, push),
            image.ref,
            `docker://${REGISTRY_NAME}:${port}/dev/app:1`,
        ]);
        expect(copied.code, `${copied.stderr}\n${logs()}`).toBe(0);
    });

    it("lists the tags anonymously, with the anonymous token from the same realm", () => {
        const listed = skopeoInPod(["list-tags", "--tls-verify=false", "--no-creds", `docker://${REGISTRY_NAME}:${port}/dev/app`]);
        expect(listed.code, `${listed.stderr}\n${logs()}`).toBe(0);
        expect(JSON.parse(listed.stdout).Tags).toEqual(["1"]);
    });

    it("is refused an anonymous push", () => {
        const copied = skopeoInPod([
            "--insecure-policy",
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-no-creds",
            image.ref,
            `docker://${REGISTRY_NAME}:${port}/dev/app:anonymous`,
        ]);
        expect(copied.code).not.toBe(0);
        expect(copied.stderr).toMatch(/unauthorized|authentication required/i);
    });
});
