/**
 * The agent pod templates: valid Pods, the CA mounted where each tool reads it, the push credential in
 * the steps, and the docs' copies equal to what the local stack's synth renders.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { CA_CONFIG_MAP } from "../../components/inCluster/caConfigMaps";
import {
    AGENT_BUILD_CONTAINER,
    AGENT_CA_FILE,
    AGENT_CA_VOLUME,
    AGENT_KINDS,
    AGENT_PODS_CONFIG_MAP,
    type AgentKind,
    type AgentPodsSpec,
    agentCaDir,
    renderAgentPod,
    renderAgentPodsData,
    renderAgentSteps,
    renderedAgentKinds,
} from "../../components/jenkins/agentPods";
import { committedSynthDir } from "../support/committedSynth";
import { restrictedPodProblems, schemaProblems } from "../support/k8sValidate";

const images = {
    dockerCli: "mirror.test/docker:cli",
    dockerDaemon: "mirror.test/docker:dind",
    kaniko: "mirror.test/kaniko:debug",
    buildah: "mirror.test/buildah:1",
};
const withCa: AgentPodsSpec = {
    authority: "registry.test:5443",
    imagePrefix: "registry.test:5443/team",
    credentialId: "ci-push",
    ca: { configMap: CA_CONFIG_MAP.name, key: CA_CONFIG_MAP.key },
    images,
};
const withoutCa: AgentPodsSpec = { ...withCa, ca: undefined };
const { kaniko: _kaniko, ...withoutKaniko } = images;

type Obj = Record<string, any>;
const containersOf = (kind: AgentKind, spec: AgentPodsSpec): Obj[] => renderAgentPod(kind, spec).spec.containers as Obj[];
const caMountsOf = (kind: AgentKind, spec: AgentPodsSpec): Obj[] =>
    containersOf(kind, spec).flatMap((c) =>
        ((c.volumeMounts ?? []) as Obj[]).filter((m) => m.name === AGENT_CA_VOLUME).map((m) => ({ container: c.name, ...m })),
    );

describe("renderAgentPod", () => {
    test.each(AGENT_KINDS.flatMap((kind) => [[kind, "with a CA", withCa] as const, [kind, "without a CA", withoutCa] as const]))(
        "%s %s is a valid Pod",
        async (kind, _label, spec) => {
            expect(await schemaProblems(renderAgentPod(kind, spec) as unknown as Obj)).toEqual([]);
        },
    );

    test.each(AGENT_KINDS)("%s mounts the CA ConfigMap's key as ca.crt, as a directory the kubelet keeps current", (kind) => {
        const volume = (renderAgentPod(kind, withCa).spec.volumes as Obj[]).find((v) => v.name === AGENT_CA_VOLUME);
        expect(volume?.configMap).toEqual({ name: CA_CONFIG_MAP.name, items: [{ key: CA_CONFIG_MAP.key, path: AGENT_CA_FILE }] });
        const mounts = caMountsOf(kind, withCa);
        expect(mounts.length).toBe(1);
        // A subPath mount is a copy taken at start: a rotated CA would never reach the running agent.
        expect(mounts[0]!.subPath).toBeUndefined();
        expect(mounts[0]!.readOnly).toBe(true);
    });

    test.each([
        ["docker-in-docker", "dind", "/etc/docker/certs.d/registry.test:5443"],
        ["buildah", "buildah", "/etc/containers/certs.d/registry.test:5443"],
        ["kaniko", "kaniko", "/kaniko/registry-ca"],
    ] as const)("%s: the CA directory of container %s is %s", (kind, container, dir) => {
        expect(caMountsOf(kind, withCa).map((m) => [m.container, m.mountPath])).toEqual([[container, dir]]);
        expect(agentCaDir(kind, withCa.authority)).toBe(dir);
    });

    test.each(AGENT_KINDS)("%s without a CA has no CA volume and no CA mount", (kind) => {
        expect(((renderAgentPod(kind, withoutCa).spec.volumes ?? []) as Obj[]).map((v) => v.name)).not.toContain(AGENT_CA_VOLUME);
        expect(caMountsOf(kind, withoutCa)).toEqual([]);
    });

    test.each(AGENT_KINDS)("%s runs the images of the config", (kind) => {
        const used = containersOf(kind, withCa).map((c) => c.image);
        expect(used.length).toBeGreaterThan(0);
        for (const image of used) expect(Object.values(images)).toContain(image);
    });

    test("the docker engine listens on the shared socket only, which the CLI container uses", () => {
        const [cli, daemon] = containersOf("docker-in-docker", withCa);
        const socket = String(daemon!.args.find((a: string) => a.startsWith("--host="))).slice("--host=".length);
        expect(daemon!.args.filter((a: string) => a.startsWith("--host=")).length).toBe(1);
        expect(socket).toMatch(/^unix:\/\//);
        expect(cli!.env).toContainEqual({ name: "DOCKER_HOST", value: socket });
        const socketDir = path.posix.dirname(socket.slice("unix://".length));
        for (const c of [cli!, daemon!]) expect((c.volumeMounts as Obj[]).map((m) => m.mountPath)).toContain(socketDir);
    });

    test("only the privileged builders are privileged; kaniko is not", () => {
        const privileged = AGENT_KINDS.flatMap((kind) =>
            containersOf(kind, withCa)
                .filter((c) => c.securityContext?.privileged === true)
                .map((c) => `${kind}/${c.name}`),
        );
        expect(privileged).toEqual(["docker-in-docker/dind", "buildah/buildah"]);
        expect(restrictedPodProblems(renderAgentPod("kaniko", withCa).spec).join("\n")).not.toContain("privileged");
    });
});

describe("the templates a stack gets", () => {
    test("every kind when kaniko's image is named; without it, no kaniko template (kaniko is archived upstream)", () => {
        expect(renderedAgentKinds(images)).toEqual([...AGENT_KINDS]);
        expect(renderedAgentKinds(withoutKaniko)).toEqual(["docker-in-docker", "buildah"]);
        expect(Object.keys(renderAgentPodsData({ ...withCa, images: withoutKaniko }))).toEqual([
            "buildah.groovy",
            "buildah.yaml",
            "docker-in-docker.groovy",
            "docker-in-docker.yaml",
        ]);
        expect(Object.keys(renderAgentPodsData(withCa))).toEqual(expect.arrayContaining(["kaniko.groovy", "kaniko.yaml"]));
    });

    test("a kaniko pod without kaniko's image is refused with the key that names it", () => {
        expect(() => renderAgentPod("kaniko", { ...withCa, images: withoutKaniko })).toThrow("jenkins.agentImages.kaniko");
    });
});

describe("renderAgentSteps", () => {
    test.each(AGENT_KINDS)("%s logs in with the push credential in the build container and pushes under the image prefix", (kind) => {
        const steps = renderAgentSteps(kind, withCa);
        expect(steps).toContain(`container('${AGENT_BUILD_CONTAINER[kind]}')`);
        expect(containersOf(kind, withCa).map((c) => c.name)).toContain(AGENT_BUILD_CONTAINER[kind]);
        expect(steps).toContain(`usernamePassword(credentialsId: '${withCa.credentialId}'`);
        expect(steps).toContain(`${withCa.imagePrefix}/app:$BUILD_NUMBER`);
        // The password goes on stdin or into the executor's config file, never on a command line.
        expect(steps).not.toMatch(/(-p|--password)[ =]"?\$REG_PASS/);
    });

    test("kaniko's --registry-certificate names the file the template mounts", () => {
        const flag = /--registry-certificate=([^=\s]+)=(\S+)/.exec(renderAgentSteps("kaniko", withCa));
        const [mount] = caMountsOf("kaniko", withCa);
        expect(flag?.[1]).toBe(withCa.authority);
        expect(flag?.[2]).toBe(path.posix.join(mount!.mountPath, AGENT_CA_FILE));
    });

    test("kaniko without a CA passes no certificate flag", () => {
        expect(renderAgentSteps("kaniko", withoutCa)).not.toContain("--registry-certificate");
    });

    test("the steps' shell is left to the shell: nothing for Groovy to interpolate inside sh '''", () => {
        for (const kind of AGENT_KINDS) {
            const script = /sh '''\n([\s\S]*?)\n\s*'''/.exec(renderAgentSteps(kind, withCa))?.[1];
            expect(script, kind).toBeDefined();
            expect(script).not.toContain("${");
        }
    });
});

describe("the local stack's templates", () => {
    const synthFile = () => path.join(committedSynthDir("local"), "k8s", "jenkins", `ConfigMap-${AGENT_PODS_CONFIG_MAP}.yaml`);
    const rendered = () => (YAML.parse(readFileSync(synthFile(), "utf8")) as { data: Record<string, string> }).data;

    test("the synth writes them into ConfigMap dso-registry-agent-pods in Jenkins's namespace, with the CA ConfigMap there", () => {
        const data = rendered();
        expect(Object.keys(data)).toEqual(Object.keys(renderAgentPodsData({ ...withCa, images: withoutKaniko })));
        const pod = YAML.parse(data["buildah.yaml"]!) as Obj;
        expect(pod.spec.volumes).toContainEqual({
            name: AGENT_CA_VOLUME,
            configMap: { name: CA_CONFIG_MAP.name, items: [{ key: "ca.crt", path: "ca.crt" }] },
        });
        expect(readFileSync(path.join(path.dirname(synthFile()), `ConfigMap-${CA_CONFIG_MAP.name}.yaml`), "utf8")).toContain(
            CA_CONFIG_MAP.key,
        );
    });

    test("docs/ci-agents.md shows each template exactly as rendered (copy them from the synth's ConfigMap after a change)", () => {
        const doc = readFileSync(path.resolve(__dirname, "../../docs/ci-agents.md"), "utf8");
        const shown = Object.fromEntries(
            [...doc.matchAll(/<!-- agent-pods: (\S+) -->\n```\w+\n([\s\S]*?)```/g)].map(([, key, body]) => [key!, body!]),
        );
        expect(shown).toEqual(rendered());
    });
});
