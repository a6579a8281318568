/**
 * A pod of the kind cluster against the kind front: real Caddy with the rendered Caddyfile in front of
 * real Distribution, and skopeo in a network namespace that stands in for a pod. Like a pod, it resolves
 * the front's name on the kind network (kind's CoreDNS forwards to Docker's DNS, here a hosts file that
 * names only `kind-registry`) and cannot reach the Docker host's loopback (its own localhost is empty).
 * Through `kind-registry:<port>` it lists tags anonymously and pushes with the push account: both need
 * the realm the front names for that authority, and a realm on localhost:<port> would be unreachable.
 * A push account scoped to team-a/ pushes there and is denied anywhere else, and so does its previous
 * password inside a rotation's overlap (the front on the pinned Caddy, with the overlap's files).
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { createNetns, type TestNetns } from "../support/netns";
import { caddyEnv, makeOciImage, type OciImage, type TestAccount, writeAuthFile } from "../support/realRegistry";
import { writeKindFront } from "../support/registryUiOrigin";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

const REGISTRY_NAME = "kind-registry";

let dir = "";
let pod: TestNetns | undefined;
let servers: ServerProcess[] = [];
let port = 0;
let push: TestAccount;
let scoped: TestAccount;
let previousScoped: TestAccount;
let image: OciImage;

/** skopeo inside the pod's namespace, with no auth file but the one it is given. */
function skopeoInPod(args: readonly string[]) {
    return pod!.run("skopeo", args, { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(dir, "no-auth.json") } });
}

/** Copies the test's image to `ref` on the front, by its name on the kind network, with `credentials` (skopeo's --dest-… options). */
function copyFromPod(ref: string, credentials: readonly string[]) {
    return skopeoInPod([
        "--insecure-policy",
        "copy",
        "--retry-times",
        "0",
        "--dest-tls-verify=false",
        ...credentials,
        image.ref,
        `docker://${REGISTRY_NAME}:${port}/${ref}`,
    ]);
}

const logs = () => servers.map((s) => s.output()).join("\n");

beforeAll(async () => {
    dir = privateDir("kind-front-pods");
    pod = await createNetns({ prefix: "kp", subnet: "198.19.80.0/20" });
    // The pod resolves the front's container name, and nothing else.
    pod.writeEtcFile("hosts", `${pod.hostAddress} ${REGISTRY_NAME}\n`);
    port = await freePort();
    const registryPort = await freePort();
    // The front on loopback and on the address the pod reaches, as on the kind network.
    const front = writeKindFront(dir, {
        frontPort: port,
        registryPort,
        deletesEnabled: false,
        // The committed stack's UI route (nothing serves it here: no request of this file goes there).
        uiPort: await freePort(),
        bind: ["127.0.0.1", pod.hostAddress],
        overlap: true,
    });
    push = front.push;
    scoped = front.scoped;
    previousScoped = front.previousScoped!;
    servers = [
        startServer(deployedRegistry().path, ["serve", front.registryConfig], { ...process.env, ...DISTRIBUTION.environment }),
        startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", front.caddyfile], caddyEnv(dir)),
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
        const copied = copyFromPod("dev/app:1", ["--dest-authfile", writeAuthFile(dir, `${REGISTRY_NAME}:${port}`, push)]);
        expect(copied.code, `${copied.stderr}\n${logs()}`).toBe(0);
    });

    it("lists the tags anonymously, with the anonymous token from the same realm", () => {
        const listed = skopeoInPod(["list-tags", "--tls-verify=false", "--no-creds", `docker://${REGISTRY_NAME}:${port}/dev/app`]);
        expect(listed.code, `${listed.stderr}\n${logs()}`).toBe(0);
        expect(JSON.parse(listed.stdout).Tags).toEqual(["1"]);
    });

    it("pushes inside its prefix with the account scoped to team-a/, and is denied everywhere else", () => {
        const auth = ["--dest-authfile", writeAuthFile(dir, `${REGISTRY_NAME}:${port}`, scoped)];
        const inside = copyFromPod("team-a/app:1", auth);
        expect(inside.code, `${inside.stderr}\n${logs()}`).toBe(0);
        const outside = copyFromPod("dev/app:scoped", auth);
        expect(outside.code).not.toBe(0);
        expect(outside.stderr).toMatch(/denied|403/i);
        const listed = skopeoInPod(["list-tags", "--tls-verify=false", "--no-creds", `docker://${REGISTRY_NAME}:${port}/dev/app`]);
        expect(JSON.parse(listed.stdout).Tags).not.toContain("scoped");
    });

    it("inside a rotation's overlap, the scoped account's previous password pushes too, and only inside its prefix", () => {
        expect(previousScoped.username).toBe(scoped.username);
        expect(previousScoped.password).not.toBe(scoped.password);
        const auth = ["--dest-authfile", writeAuthFile(dir, `${REGISTRY_NAME}:${port}`, previousScoped)];
        const inside = copyFromPod("team-a/app:previous", auth);
        expect(inside.code, `${inside.stderr}\n${logs()}`).toBe(0);
        const outside = copyFromPod("dev/app:previous", auth);
        expect(outside.code).not.toBe(0);
        expect(outside.stderr).toMatch(/denied|403/i);
        // A password that starts like the previous one and is not it: refused.
        const wrong = { ...previousScoped, password: `${previousScoped.password.slice(0, 2)}-wrong` };
        const refused = copyFromPod("team-a/app:wrong", ["--dest-authfile", writeAuthFile(dir, `${REGISTRY_NAME}:${port}`, wrong)]);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toMatch(/unauthorized|authentication required/i);
    });

    it("is refused an anonymous push", () => {
        const copied = copyFromPod("dev/app:anonymous", ["--dest-no-creds"]);
        expect(copied.code).not.toBe(0);
        expect(copied.stderr).toMatch(/unauthorized|authentication required/i);
    });
});
