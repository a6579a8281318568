/**
 * The local (microk8s) stack's journeys end to end, on what the committed stack itself applies: the
 * program runs under the mock runtime with Pulumi.local.yaml, a Jenkins token made here, and TLS
 * material made for real (test/support/deployedStack.ts); the test then runs the applied objects with
 * the real software, crossing components as a user's day does:
 *
 *   CI pushes:    docker engine (the Docker-in-Docker agent template's daemon, trusting only the CA of
 *                 ConfigMap dso-registry-ca where the template mounts it) runs the rendered pipeline
 *                 steps with Jenkins's container-registry credential, by the registry's name, which
 *                 the cluster DNS block resolves to Service registry-tls
 *                 --TLS--> Service registry-tls --> the registry pod's Caddy TLS listener --> Distribution
 *   Maven deploys: mvn with Jenkins's maven-registry credential to the pipeline-config's
 *                 MAVEN_REGISTRY_URL, the same way in --> Caddy's Maven route --> the nginx sidecar
 *   nodes pull:   containerd with the files the node-trust DaemonSet's apply.sh writes on the node
 *                 (hosts.toml, the CA, the /etc/hosts block) --TLS--> the node's ingress (nginx with the
 *                 Ingress's annotations and TLS Secret) --> Service registry --> Caddy --> Distribution
 *   nodes pull docker.io through the cache: containerd with the DaemonSet's docker.io hosts.toml
 *                 --> the ingress --> Caddy's /v2/mirrors/docker.io/ route --> Service
 *                 registry-mirror-docker-io --> the cache pod (its rendered Deployment) --TLS--> Docker
 *                 Hub, played by Distribution with a test CA (the cache pod's CA bundle) at the name the
 *                 cache's config proxies to; and again with Docker Hub unreachable
 *
 * The registry pod runs from the rendered Deployment (test/support/podRunner.ts: each container's
 * program with the pod's volumes at their mount paths, its user, groups and read-only root). What
 * needs an API server is played: a Service is a forwarder from an address this test owns to the pod's
 * targetPort (kube-proxy's part), and CoreDNS's answer for the name is a hosts entry for that address
 * (the Corefile block itself is tested in clusterDns.corefile.test.ts). The cluster (pod and node) is
 * one network namespace, the agent pod another, the cache pod a third.
 */
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { writeConfigMapVolume } from "../support/configMapVolume";
import { type DeployedStack, deployCommittedStack } from "../support/deployedStack";
import { UPSTREAM_REGISTRY } from "../support/distributionBinaries";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { ingressNginxConf, nginxDirectives } from "../support/ingress";
import { makeJar, makeTrustStore, mavenClient } from "../support/maven";
import { createNetns, type TestNetns } from "../support/netns";
import { type RunningPod, startPod } from "../support/podRunner";
import { makeOciImage, makeTestCa, type PrivateContainerd, startContainerd } from "../support/realRegistry";
import {
    freePort,
    privateDir,
    type RunResult,
    removeDir,
    run,
    type ServerProcess,
    startServer,
    waitForPort,
} from "../support/serverProcess";
import { type ServiceProxy, startForwarder, startServiceProxy } from "../support/serviceProxy";

const said = (r: RunResult) => `${r.stdout}\n${r.stderr}`;
const CREDENTIAL = "pulumi-nodejs:dynamic/jenkins:Credential";

let dir: string;
let stack: DeployedStack;
let pipeline: Record<string, string>;
let cluster: TestNetns;
let agentNs: TestNetns;
let pod: RunningPod | undefined;
let tlsService: ServiceProxy | undefined;
let ingress: ServerProcess | undefined;
let containerd: PrivateContainerd | undefined;
let engine: DockerEngine | undefined;
let nodeRoot: string;
let certsDir: string;
let caFile: string;
let mirrorNs: TestNetns;
let mirrorPod: RunningPod | undefined;
let mirrorService: ServiceProxy | undefined;
let dockerHub: ServerProcess | undefined;
let dockerHubRoute: { stop(): Promise<void> } | undefined;
const MIRROR = "registry-mirror-docker-io";
const HUB_IMAGE = "library/journey:1";

/** The account Jenkins holds under `credentialId`, as the stack hands it to Jenkins. */
function jenkinsAccount(credentialId: string): { username: string; password: string } {
    const inputs = stack.inputsOf(CREDENTIAL, `jenkins-credentials-${credentialId}`);
    return { username: String(inputs.username), password: String(inputs.password) };
}

/** A pod template of ConfigMap dso-registry-agent-pods. */
function agentPod(file: string): {
    spec: { containers: { name: string; volumeMounts?: { name: string; mountPath: string }[] }[]; volumes: Record<string, unknown>[] };
} {
    return YAML.parse(stack.dataOf("ConfigMap", "dso-registry-agent-pods", "jenkins")[file]!);
}

/** The shell lines of a rendered pipeline step (the body of its `sh '''…'''`). */
function stepScript(file: string): string {
    const groovy = stack.dataOf("ConfigMap", "dso-registry-agent-pods", "jenkins")[file]!;
    const body = /sh '''\n([\s\S]*?)'''/.exec(groovy)?.[1];
    if (!body) throw new Error(`no sh step in ${file}:\n${groovy}`);
    return body;
}

beforeAll(async () => {
    dir = privateDir("lj-local-journey");
    stack = await deployCommittedStack("local", { jenkinsApiToken: randomBytes(16).toString("hex") });
    pipeline = stack.dataOf("ConfigMap", "pipeline-config", "jenkins");
    const host = pipeline.CONTAINER_REGISTRY_HOST!;
    cluster = await createNetns({ prefix: "lj", subnet: "198.18.224.0/20" });
    agentNs = await createNetns({ prefix: "lj", subnet: "198.18.224.0/20" });

    mirrorNs = await createNetns({ prefix: "lj", subnet: "198.18.224.0/20" });

    // Docker Hub, played by Distribution with TLS from a test CA on this machine's loopback, reached
    // by the cache pod at the name its config proxies to (a route from the cache pod's side).
    const hubHost = /remoteurl: "https:\/\/([^"/]+)"/.exec(stack.dataOf("ConfigMap", MIRROR, "dso")["config.yml"]!)?.[1];
    if (!hubHost) throw new Error(`no https remoteurl in ConfigMap ${MIRROR}`);
    const hubCa = makeTestCa(path.join(dir, "hub-ca"), [hubHost]);
    const hubPort = await freePort();
    const hubConfig = path.join(dir, "hub.yml");
    writeFileSync(
        hubConfig,
        [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            `    rootdirectory: ${path.join(dir, "hub-data")}`,
            "http:",
            `  addr: 127.0.0.1:${hubPort}`,
            "  tls:",
            `    certificate: ${hubCa.serverCertFile}`,
            `    key: ${hubCa.serverKeyFile}`,
            "",
        ].join("\n"),
    );
    dockerHub = startServer(UPSTREAM_REGISTRY, ["serve", hubConfig]);
    await waitForPort(hubPort, 30_000, "Docker Hub stand-in");
    const seeded = run("skopeo", [
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        makeOciImage(path.join(dir, "hub-image"), 256 * 1024).ref,
        `docker://127.0.0.1:${hubPort}/${HUB_IMAGE}`,
    ]);
    if (seeded.code !== 0) throw new Error(`seeding Docker Hub's stand-in failed\n${said(seeded)}`);
    dockerHubRoute = await startForwarder(mirrorNs.hostAddress, 443, "127.0.0.1", hubPort, "Docker Hub's route from the cache pod");
    mirrorPod = await startPod({
        ns: mirrorNs,
        deployment: stack.object("Deployment", MIRROR, "dso"),
        stack,
        dnsAnswers: [`${mirrorNs.hostAddress} ${hubHost}`],
        caBundle: hubCa.caCertPem,
    });
    mirrorService = await startServiceProxy({
        service: stack.object("Service", MIRROR, "dso"),
        listenAddress: cluster.hostAddress,
        podAddress: mirrorPod.address,
        podPort: (name) => mirrorPod!.port(name),
    });

    // The registry pod, and Service registry-tls at the address the agent resolves the name to.
    pod = await startPod({
        ns: cluster,
        deployment: stack.object("Deployment", "registry", "dso"),
        stack,
        dnsAnswers: [`${cluster.hostAddress} ${MIRROR}.dso.svc`],
        // The data and Maven claims each a file system of its own, as a volume is: the disk guard in the pod
        // then reads their use, not this machine's disk.
        claimSizesMiB: { "registry-data": 256, "maven-data": 64 },
    });
    tlsService = await startServiceProxy({
        service: stack.object("Service", "registry-tls", "dso"),
        listenAddress: agentNs.hostAddress,
        podAddress: pod.address,
        podPort: (name) => pod!.port(name),
    });

    // The node's ingress (microk8s's ingress-nginx listens on the node itself): the Ingress's TLS
    // Secret and annotations, to the endpoints of the Service its rule names.
    const ingressObject = stack.object("Ingress", "registry", "dso") as unknown as {
        metadata: { annotations: Record<string, string> };
        spec: { tls: { secretName: string }[]; rules: { host: string; http: { paths: { backend: { service: { name: string } } }[] } }[] };
    };
    const tlsData = stack.dataOf("Secret", ingressObject.spec.tls[0]!.secretName, "dso");
    const ingressDir = path.join(dir, "ingress");
    mkdirSync(ingressDir, { recursive: true });
    writeFileSync(path.join(ingressDir, "tls.crt"), tlsData["tls.crt"]!);
    writeFileSync(path.join(ingressDir, "tls.key"), tlsData["tls.key"]!, { mode: 0o600 });
    const backend = stack.object("Service", ingressObject.spec.rules[0]!.http.paths[0]!.backend.service.name, "dso");
    const backendPort = (backend.spec as { ports: { targetPort: string | number }[] }).ports[0]!.targetPort;
    writeFileSync(
        path.join(ingressDir, "nginx.conf"),
        ingressNginxConf({
            dir: ingressDir,
            listen: "127.0.0.1:443",
            serverNames: ingressObject.spec.rules.map((r) => r.host),
            certFile: path.join(ingressDir, "tls.crt"),
            keyFile: path.join(ingressDir, "tls.key"),
            upstream: `${pod.address}:${typeof backendPort === "number" ? backendPort : pod.port(backendPort)}`,
            directives: nginxDirectives(ingressObject.metadata.annotations),
        }),
    );
    ingress = cluster.startServer("/usr/sbin/nginx", ["-c", path.join(ingressDir, "nginx.conf")]);

    // The node: the node-trust DaemonSet's apply.sh, with its ConfigMap where the DaemonSet mounts it
    // and the node's files under a root of its own (the pod's /host).
    const daemonSet = stack.object("DaemonSet", "dso-node-trust", "dso-node-trust") as unknown as {
        spec: {
            template: {
                spec: {
                    containers: { volumeMounts: { name: string; mountPath: string }[] }[];
                    volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string }; hostPath?: { path: string } }[];
                };
            };
        };
    };
    const dsSpec = daemonSet.spec.template.spec;
    const configVolume = dsSpec.volumes.find((v) => v.configMap)!;
    const configMount = dsSpec.containers[0]!.volumeMounts.find((m) => m.name === configVolume.name)!.mountPath;
    const configDir = path.join(dir, "node-trust-config");
    mkdirSync(configDir, { recursive: true });
    // Its Secret (the caches' pull account in hosts.toml), where it is mounted, when the stack has one.
    const secretVolume = dsSpec.volumes.find((v) => v.secret);
    const secretMount = secretVolume && dsSpec.containers[0]!.volumeMounts.find((m) => m.name === secretVolume.name)!.mountPath;
    const secretDir = path.join(dir, "node-trust-secret");
    if (secretVolume) {
        mkdirSync(secretDir, { recursive: true, mode: 0o700 });
        for (const [key, text] of Object.entries(stack.dataOf("Secret", secretVolume.secret!.secretName, "dso-node-trust"))) {
            writeFileSync(path.join(secretDir, key), text, { mode: 0o400 });
        }
    }
    for (const [key, text] of Object.entries(stack.dataOf("ConfigMap", configVolume.configMap!.name, "dso-node-trust"))) {
        const mapped = text.replaceAll(`${configMount}/`, `${configDir}/`);
        writeFileSync(path.join(configDir, key), secretMount ? mapped.replaceAll(`${secretMount}/`, `${secretDir}/`) : mapped);
    }
    nodeRoot = path.join(dir, "node");
    mkdirSync(path.join(nodeRoot, "etc"), { recursive: true });
    writeFileSync(path.join(nodeRoot, "etc", "hosts"), "127.0.0.1 localhost\n");
    const applied = run("sh", [path.join(configDir, "apply.sh")], { env: { ...process.env, DSO_ROOT: nodeRoot, POD_UID: "journey" } });
    if (applied.code !== 0) throw new Error(`node trust apply.sh failed\n${said(applied)}`);
    certsDir = path.join(nodeRoot, dsSpec.volumes.find((v) => v.hostPath?.path.endsWith("certs.d"))!.hostPath!.path);
    cluster.writeEtcFile("hosts", readFileSync(path.join(nodeRoot, "etc", "hosts"), "utf8"));
    containerd = await startContainerd();

    // The agent pod: the name resolves to Service registry-tls (CoreDNS's answer), and the daemon
    // finds the CA where the Docker-in-Docker template mounts ConfigMap dso-registry-ca.
    const template = agentPod("docker-in-docker.yaml").spec;
    const caVolume = template.volumes.find((v) => (v as { configMap?: { name: string } }).configMap?.name === "dso-registry-ca") as {
        name: string;
        configMap: { items: { key: string; path: string }[] };
    };
    const caMount = template.containers.flatMap((c) => c.volumeMounts ?? []).find((m) => m.name === caVolume.name)!.mountPath;
    if (!caMount.startsWith("/etc/")) throw new Error(`the CA is mounted at ${caMount}, outside /etc`);
    agentNs.writeEtcFile("hosts", `127.0.0.1 localhost\n${agentNs.hostAddress} ${host}\n`);
    const caData = stack.dataOf("ConfigMap", "dso-registry-ca", "jenkins");
    writeConfigMapVolume(path.join(agentNs.etcDir, path.posix.relative("/etc", caMount)), caData, caVolume.configMap.items);
    caFile = path.join(dir, "ca.crt");
    writeFileSync(caFile, caData["ca.crt"]!);
    engine = await startDockerEngine(agentNs);
}, 300_000);

afterAll(async () => {
    await engine?.stop();
    await containerd?.stop();
    await ingress?.stop();
    await tlsService?.stop();
    await pod?.stop();
    await mirrorService?.stop();
    await mirrorPod?.stop();
    await dockerHubRoute?.stop();
    await dockerHub?.stop();
    await mirrorNs?.destroy();
    await agentNs?.destroy();
    await cluster?.destroy();
    if (dir) removeDir(dir);
}, 120_000);

describe("the local stack, deployed", () => {
    test("the committed stack loads with no warning but the ingress class's advice, and every container of the registry pod is ready", () => {
        // "public" is the class every microk8s release serves: ingress-nginx's before 1.35, Traefik's since. The
        // program writes ingress-nginx's annotations for it and says what to set for Traefik; nothing else warns.
        expect(stack.warnings).toHaveLength(1);
        expect(stack.warnings[0]).toMatch(/^dso-registry:inCluster\.ingressClass: is "public", .*ingress-nginx was retired/);
        expect(pod!.logs()).not.toMatch(/permission denied|read-only file system/i);
    });
});

describe("CI in the cluster pushes", () => {
    let pushed: string;

    test("a Docker-in-Docker agent runs the rendered push steps with Jenkins's container-registry credential", () => {
        const account = jenkinsAccount(pipeline.CONTAINER_REGISTRY_CREDENTIAL_ID!);
        const workspace = path.join(dir, "workspace");
        mkdirSync(workspace, { recursive: true });
        writeFileSync(path.join(workspace, "payload"), randomBytes(512 * 1024));
        writeFileSync(path.join(workspace, "Dockerfile"), "FROM scratch\nCOPY payload /payload\n");
        const client = engine!.client();
        // Jenkins's withCredentials puts the account in REG_USER/REG_PASS; `sh` runs the lines with -e.
        const step = run("sh", ["-e", "-c", stepScript("docker-in-docker.groovy")], {
            cwd: workspace,
            env: { ...client.env, REG_USER: account.username, REG_PASS: account.password, BUILD_NUMBER: "7" },
            timeout: 300_000,
        });
        expect(step.code, said(step)).toBe(0);
        expect(step.stdout).toContain("Login Succeeded");
        const ref = `${pipeline.CONTAINER_REGISTRY_IMAGE_PREFIX}/app:7`;
        pushed = client.dockerOk(["image", "inspect", "--format", "{{index .RepoDigests 0}}", ref]);
        expect(pushed).toMatch(/@sha256:[0-9a-f]{64}$/);
        expect(said(step)).not.toContain(account.password);
    });

    test("an agent without the credential is refused the push", () => {
        const client = engine!.client();
        const ref = `${pipeline.CONTAINER_REGISTRY_IMAGE_PREFIX}/app:7`;
        const result = client.docker(["push", ref]);
        expect(result.code).not.toBe(0);
        expect(said(result)).toMatch(/unauthorized|authentication required|no basic auth credentials/i);
    });

    test("a node pulls the image CI pushed, anonymously, with the node-trust files, through the ingress", () => {
        expect(pushed).toBeDefined();
        const ref = `${pipeline.CONTAINER_REGISTRY_IMAGE_PREFIX}/app:7`;
        const pull = cluster.run("ctr", ["--address", containerd!.address, "images", "pull", "--hosts-dir", certsDir, ref]);
        expect(pull.code, said(pull)).toBe(0);
        const listed = containerd!.ctr(["images", "ls", "--quiet"]);
        expect(listed.stdout).toContain(ref);
        const digest =
            containerd!
                .ctr(["images", "ls"])
                .stdout.split("\n")
                .find((l) => l.startsWith(`${ref} `)) ?? "";
        expect(digest).toContain(pushed.split("@")[1]!);
    });

    test("without the node-trust CA the node's pull is refused as untrusted", () => {
        const bare = path.join(dir, "certs-without-ca");
        cpSync(certsDir, bare, { recursive: true });
        const hostDir = path.join(bare, pipeline.CONTAINER_REGISTRY_HOST!);
        expect(existsSync(path.join(hostDir, "ca.crt"))).toBe(true);
        rmSync(path.join(hostDir, "ca.crt"));
        writeFileSync(
            path.join(hostDir, "hosts.toml"),
            readFileSync(path.join(hostDir, "hosts.toml"), "utf8").replace(/^\s*ca = .*$/m, ""),
        );
        const ref = `${pipeline.CONTAINER_REGISTRY_IMAGE_PREFIX}/app:7`;
        containerd!.ctr(["images", "rm", ref]);
        const pull = cluster.run("ctr", ["--address", containerd!.address, "images", "pull", "--hosts-dir", bare, ref]);
        expect(pull.code).not.toBe(0);
        expect(said(pull)).toMatch(/x509|certificate/);
    });
});

describe("Maven deploys on the same name", () => {
    const app = { groupId: "com.example.journey", artifactId: "journey-lib", version: "1.0.0" };
    let jar: { readonly file: string; readonly marker: string };
    let hostsFile: string;
    let trustStore: { readonly file: string; readonly password: string };

    beforeAll(() => {
        jar = makeJar(path.join(dir, "maven"));
        // Java resolves the name as the agent pod does: to Service registry-tls.
        hostsFile = path.join(dir, "maven", "hosts");
        writeFileSync(hostsFile, `${agentNs.hostAddress} ${pipeline.MAVEN_REGISTRY_HOST}\n`);
        trustStore = makeTrustStore(path.join(dir, "maven"), caFile);
    });

    test("mvn deploys with Jenkins's maven-registry credential to MAVEN_REGISTRY_URL, into the maven-data volume", () => {
        const mvn = mavenClient(path.join(dir, "maven", "deployer"), trustStore, jenkinsAccount(pipeline.MAVEN_REGISTRY_CREDENTIAL_ID!), [
            `-Djdk.net.hosts.file=${hostsFile}`,
        ]);
        const result = mvn.deployFile(pipeline.MAVEN_REGISTRY_URL!, app, jar.file);
        expect(result.stdout, result.stderr).toContain("BUILD SUCCESS");
        const stored = path.join(
            pod!.claimDir("maven-data"),
            pipeline.MAVEN_REGISTRY_PATH_PREFIX!,
            "com/example/journey/journey-lib/1.0.0/journey-lib-1.0.0.jar",
        );
        expect(readFileSync(stored).equals(readFileSync(jar.file))).toBe(true);
    });

    test("an anonymous build resolves the artifact, byte for byte", () => {
        const mvn = mavenClient(path.join(dir, "maven", "reader"), trustStore, undefined, [`-Djdk.net.hosts.file=${hostsFile}`]);
        const result = mvn.get(pipeline.MAVEN_REGISTRY_URL!, app);
        expect(result.stdout, result.stderr).toContain("BUILD SUCCESS");
        const resolved = path.join(result.localRepository, "com/example/journey/journey-lib/1.0.0/journey-lib-1.0.0.jar");
        expect(readFileSync(resolved).equals(readFileSync(jar.file))).toBe(true);
    });

    test("an anonymous deploy is refused with 401", () => {
        const mvn = mavenClient(path.join(dir, "maven", "anonymous"), trustStore, undefined, [`-Djdk.net.hosts.file=${hostsFile}`]);
        const result = mvn.deployFile(pipeline.MAVEN_REGISTRY_URL!, { ...app, version: "6.6.6" }, jar.file);
        expect(result.code).not.toBe(0);
        expect(result.stdout).toMatch(/401/);
        expect(
            existsSync(
                path.join(pod!.claimDir("maven-data"), pipeline.MAVEN_REGISTRY_PATH_PREFIX!, "com/example/journey/journey-lib/6.6.6"),
            ),
        ).toBe(false);
    });
});

describe("nodes pull docker.io through the registry's cache", () => {
    const ref = `docker.io/${HUB_IMAGE}`;
    const cachedBlobs = () => {
        // The cache's claim is named after its size: take it from the rendered Deployment.
        type PodSpec = { template: { spec: { volumes: { persistentVolumeClaim?: { claimName: string } }[] } } };
        const volumes = (stack.object("Deployment", MIRROR, "dso").spec as PodSpec).template.spec.volumes;
        const claim = volumes.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName ?? MIRROR;
        const listed = run("find", [path.join(mirrorPod!.claimDir(claim), "docker/registry/v2/blobs"), "-name", "data", "-type", "f"]);
        return listed.stdout.split("\n").filter(Boolean);
    };

    test("a node pulls docker.io/library/… with the DaemonSet's hosts.toml, and the cache pod keeps the blobs", () => {
        expect(existsSync(path.join(certsDir, "docker.io", "hosts.toml"))).toBe(true);
        const pull = cluster.run("ctr", ["--address", containerd!.address, "images", "pull", "--hosts-dir", certsDir, ref]);
        expect(pull.code, `${said(pull)}\n${mirrorPod!.logs()}`).toBe(0);
        // Config and layer: what the node pulled is now on the cache's volume.
        expect(cachedBlobs().length).toBeGreaterThanOrEqual(2);
    });

    test("with Docker Hub unreachable, a fresh node still pulls the cached image", async () => {
        await dockerHubRoute!.stop();
        dockerHubRoute = undefined;
        const freshNode = await startContainerd();
        try {
            const pull = cluster.run("ctr", ["--address", freshNode.address, "images", "pull", "--hosts-dir", certsDir, ref]);
            expect(pull.code, `${said(pull)}\n${mirrorPod!.logs()}`).toBe(0);
            expect(freshNode.ctr(["images", "ls", "--quiet"]).stdout).toContain(ref);
        } finally {
            await freshNode.stop();
        }
    });
});
