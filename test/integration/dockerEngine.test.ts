/**
 * The Docker engine support works: a private dockerd inside a test network namespace, the locally
 * built `registry:<tag>` image running Distribution, and the docker CLI pushing and pulling through
 * Caddy (the rendered access policy) at the namespace's address, trusting the test CA only through
 * the namespace's /etc/docker/certs.d.
 */
import { renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { pinnedCaddy } from "../support/caddyBinaries";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, registryImage } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import { caddyEnv, makeAccount, makeTestCa, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";

const HOST = "registry.test";
let ns: TestNetns;
let engine: DockerEngine;
let caddy: ServerProcess;
let scratch: string;
let push: TestAccount;
let caFile: string;

beforeAll(async () => {
    scratch = privateDir("docker-support");
    ns = await createNetns({ prefix: "dk", subnet: "198.18.16.0/20" });
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
    const ca = makeTestCa(path.join(scratch, "tls"), [HOST]);
    caFile = ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, ca.caCertPem);
    engine = await startDockerEngine(ns);
    engine.dockerOk(["run", "-d", "--name", "registry", "-p", "127.0.0.1:5000:5000", registryImage(engine)]);

    push = makeAccount("ci-push");
    const pushUsers = path.join(scratch, "users-push");
    const pullUsers = path.join(scratch, "users-pull");
    writeFileSync(pushUsers, renderUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(pullUsers, renderUsersFile("pull", [makeAccount("cluster-pull")]), { mode: 0o600 });
    const caddyfile = path.join(scratch, "Caddyfile");
    writeFileSync(
        caddyfile,
        renderCaddyfile({
            siteAddress: HOST,
            port: 443,
            bindAddress: ns.address,
            admin: "off",
            tls: { kind: "files", certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
            upstream: "127.0.0.1:5000",
            requiresAuthForPull: false,
            pushUsersFile: pushUsers,
            pullUsersFile: pullUsers,
            allowedNetworks: [],
            deletesEnabled: false,
        }),
    );
    // A TLS site on 443 reached by name, as docker reaches the external host's front.
    caddy = ns.startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(scratch));
    await ns.waitForPort(443, 30_000, "caddy");
});

afterAll(async () => {
    await caddy?.stop();
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("a private Docker engine in a test network namespace", () => {
    test("the registry image runs Distribution as the official image does, published on the namespace's loopback", () => {
        const inside = ns.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:5000/v2/"]);
        expect(inside.stdout).toBe("200");
        expect(engine.dockerOk(["inspect", "-f", "{{.Config.Image}} {{.Path}} {{json .Args}}", "registry"])).toBe(
            `${DEPLOYED_REGISTRY_IMAGE} /entrypoint.sh ["/etc/docker/registry/config.yml"]`,
        );
    });

    test("docker logs in with the push account, pushes through Caddy at the namespace address, and pulls it back", () => {
        const client = engine.client();
        expect(client.login(HOST, push).code).toBe(0);
        const ref = payloadImage(client, `${HOST}/team/app:1`, { payloadBytes: 64 * 1024 });
        const pushed = client.docker(["push", ref]);
        expect(pushed.stderr).toBe("");
        expect(pushed.code).toBe(0);
        client.dockerOk(["rmi", ref]);
        const pulled = client.docker(["pull", ref]);
        expect(pulled.code).toBe(0);
        expect(pulled.stdout).toContain(`Downloaded newer image for ${ref}`);
    });

    test("without the CA in the namespace's certs.d, the engine refuses the registry's certificate", () => {
        const client = engine.client();
        renameSync(caFile, `${caFile}.off`);
        try {
            const login = client.login(HOST, push);
            expect(login.code).not.toBe(0);
            expect(login.stderr).toContain("x509: certificate signed by unknown authority");
        } finally {
            renameSync(`${caFile}.off`, caFile);
        }
    });
});
