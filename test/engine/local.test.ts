/**
 * The `local` (microk8s) stack under the real Pulumi engine: the README's quick start typed as written
 * (`npx pulumi stack init`, the Jenkins token on stdin, `preview --diff`, `up`, `stack output`), every
 * Kubernetes object applied to a real API server (kwok nodes run the pods, claims bind to static volumes
 * as with microk8s's hostpath-storage), the Corefile block written by the real script through kubectl,
 * the Jenkins credentials through the real dynamic-provider host; then a second `up` that changes
 * nothing, and `destroy`, after which only what the stack retains on purpose is left.
 */

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig, runProgram } from "../../tools/synth";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { MICROK8S_COREFILE } from "../support/microk8sCorefile";
import { engineSet, openWorkspace, type Workspace } from "../support/pulumiEngine";
import { run } from "../support/serverProcess";

const STACK = "local";
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let kube: ControlPlane;
let jenkins: FakeJenkins;
let ws: Workspace;

beforeAll(async () => {
    kube = await startLocalCluster();
    jenkins = await startFakeJenkins({ user: "admin", apiToken: jenkinsToken });
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kube.kubeconfig }, typeCheck: true });
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await jenkins?.close();
    kube?.stop();
});

const deployment = (name: string) =>
    kube.get<{ status: { availableReplicas?: number } }>(`/apis/apps/v1/namespaces/dso/deployments/${name}`);

describe("local stack, real engine", () => {
    it("runs the README's quick start as written", async () => {
        const init = await ws.shell(`npx pulumi stack init ${STACK}`);
        expect(init.code, init.stderr).toBe(0);
        // The one change to the committed stack: where the (fake) Jenkins answers.
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.url", jenkins.url, "-s", STACK]);
        const token = await ws.shell(`npx pulumi config set --secret dso-registry:jenkinsApiToken -s ${STACK}`, { input: jenkinsToken });
        expect(token.code, token.stderr).toBe(0);
        expect(readFileSync(path.join(ws.projectDir, `Pulumi.${STACK}.yaml`), "utf8")).not.toContain(jenkinsToken);

        const preview = await ws.shell(`npx pulumi preview --diff -s ${STACK}`);
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        expect(preview.stdout).toMatch(/\+ \d+ to create/);

        const up = await ws.shell(`npx pulumi up --yes -s ${STACK}`);
        expect(up.code, up.stdout + up.stderr).toBe(0);
    });

    it("the API server holds a registry that became available, and the node-trust DaemonSet", async () => {
        expect((await deployment("registry"))?.status.availableReplicas).toBe(1);
        expect((await deployment("registry-mirror-docker-io"))?.status.availableReplicas).toBe(1);
        const daemonSet = await kube.get<{ status: { numberReady: number } }>(
            "/apis/apps/v1/namespaces/dso-node-trust/daemonsets/dso-node-trust",
        );
        expect(daemonSet?.status.numberReady).toBe(1);
    });

    it("CoreDNS's Corefile got the registry's block, pointing at the TLS Service's ClusterIP", async () => {
        const service = await kube.get<{ spec: { clusterIP: string } }>("/api/v1/namespaces/dso/services/registry-tls");
        const corefile = (await kube.get<{ data: { Corefile: string } }>("/api/v1/namespaces/kube-system/configmaps/coredns"))?.data
            .Corefile;
        expect(corefile).toContain("registry-dso.jmann.local");
        expect(corefile).toContain(service?.spec.clusterIP);
        expect(corefile).toContain(MICROK8S_COREFILE.trim().split("\n")[0]);
    });

    it("Jenkins holds the generated push account, the one `stack output` shows", async () => {
        const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
        expect(push.password.length).toBeGreaterThanOrEqual(20);
        expect(jenkins.credentials.get("container-registry")?.fields).toMatchObject({ username: push.username, password: push.password });
        const caCertPem = await ws.shell(`npx pulumi stack output caCertPem -s ${STACK}`);
        expect(caCertPem.stdout).toMatch(/^-----BEGIN CERTIFICATE-----/);
    });

    it("`pulumi stack output` has exactly the outputs the synth shows for the stack's config, and each a doc names reads", async () => {
        const listed = await ws.pulumiOk(["stack", "output", "--json", "-s", STACK]);
        const synth = await runProgram(STACK, readStackConfig(ws.projectDir, STACK));
        expect(Object.keys(JSON.parse(listed.stdout) as object).sort()).toEqual(Object.keys(synth.outputs).sort());
        for (const name of Object.keys(synth.outputs)) {
            const read = await ws.pulumi(["stack", "output", "--show-secrets", name, "-s", STACK]);
            expect(read.code, `${name}: ${read.stderr}`).toBe(0);
            expect(read.stdout.trim(), name).not.toMatch(/^(null|)$/);
        }
    });

    it("keeps the generated passwords and the CA key out of the state's plaintext", async () => {
        const push = (await ws.output(STACK, "pushCredentials")) as { password: string };
        const state = JSON.stringify(await ws.exportState(STACK));
        expect(state).not.toContain(push.password);
        expect(state).not.toContain(jenkinsToken);
        expect(state).not.toMatch(/BEGIN (EC |RSA )?PRIVATE KEY/);
    });

    it("a second `up` with no change plans nothing, and a refresh right after finds nothing to change", async () => {
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        const refresh = await ws.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
    });

    it("a hand edit of a ConfigMap the stack owns shows as a change in `preview --refresh`, and `up --refresh` puts it back", async () => {
        type ConfigMap = { data: Record<string, string> };
        const configMap = "/api/v1/namespaces/dso/configmaps/registry-config";
        const before = await kube.get<ConfigMap>(configMap);
        const [key] = Object.keys(before?.data ?? {});
        expect(key, "the ConfigMap holds the registry's configuration").toBeDefined();
        // A ConfigMap holds nothing secret: the patch may stand on kubectl's command line.
        const patch = JSON.stringify({ data: { [key as string]: `${before?.data[key as string]}\n# edited by hand\n` } });
        const edit = run(path.join(engineSet(), "bin/kubectl"), [
            "--kubeconfig",
            kube.kubeconfig,
            "-n",
            "dso",
            "patch",
            "configmap",
            "registry-config",
            "--type",
            "merge",
            "-p",
            patch,
        ]);
        expect(edit.code, edit.stderr).toBe(0);
        const preview = await ws.pulumi(["preview", "--refresh", "--json", "--expect-no-changes", "-s", STACK]);
        expect(preview.code, "a preview that refreshes sees the edit").not.toBe(0);
        const steps = (JSON.parse(preview.stdout) as { steps: { op: string; urn: string }[] }).steps
            .filter((step) => !["same", "refresh"].includes(step.op))
            .map((step) => `${step.op} ${step.urn.slice(step.urn.lastIndexOf("::") + 2)}`);
        console.log(`the preview that refreshes, after the edit:\n${steps.join("\n")}`);
        expect(steps).toContainEqual(expect.stringMatching(/^(update|replace|create-replacement) registry-configmap-registry-config$/));
        const up = await ws.pulumi(["up", "--refresh", "--yes", "--skip-preview", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect((await kube.get<ConfigMap>(configMap))?.data).toEqual(before?.data);
        const again = await ws.pulumi(["preview", "--refresh", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("setting registry.storage.storageClass later keeps the existing claims and their data, and every later `up` works", async () => {
        const claim = () =>
            kube.get<{ metadata: { uid: string }; status: { phase: string } }>(
                "/api/v1/namespaces/dso/persistentvolumeclaims/registry-data",
            );
        const before = await claim();
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.storage.storageClass", "fast-ssd", "-s", STACK]);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect((await claim())?.metadata.uid).toBe(before?.metadata.uid);
        expect((await claim())?.status.phase).toBe("Bound");
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("a lower mirrors[].maxSize gives the cache a volume of the new size, and every later `up` works", async () => {
        type Claim = { metadata: { name: string }; spec: { resources: { requests: { storage: string } } }; status: { phase: string } };
        const mirrorClaims = async () =>
            ((await kube.get<{ items: Claim[] }>("/api/v1/namespaces/dso/persistentvolumeclaims"))?.items ?? []).filter((c) =>
                c.metadata.name.startsWith("registry-mirror-docker-io"),
            );
        expect((await mirrorClaims()).map((c) => c.spec.resources.requests.storage)).toEqual(["10Gi"]);
        // Back to the cluster's default class (the one the test's volumes have), which a new claim gets.
        await ws.pulumiOk(["config", "rm", "--path", "dso-registry:registry.storage.storageClass", "-s", STACK]);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.mirrors[0].maxSize", "5Gi", "-s", STACK]);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        const claims = await mirrorClaims();
        expect(claims.map((c) => [c.spec.resources.requests.storage, c.status.phase])).toEqual([["5Gi", "Bound"]]);
        const mirror = await kube.get<{ spec: { template: { spec: { volumes: { persistentVolumeClaim?: { claimName: string } }[] } } } }>(
            "/apis/apps/v1/namespaces/dso/deployments/registry-mirror-docker-io",
        );
        const mounted = mirror?.spec.template.spec.volumes.flatMap((v) =>
            v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [],
        );
        expect(mounted).toEqual([claims[0]?.metadata.name]);
        expect((await deployment("registry-mirror-docker-io"))?.status.availableReplicas).toBe(1);
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("inCluster.pod: resources, a toleration and an annotation reach the registry's Deployment, which is available again, and every later `up` plans nothing", async () => {
        const set = (key: string, value: string) =>
            ws.pulumiOk(["config", "set", "--path", `dso-registry:inCluster.pod.${key}`, value, "-s", STACK]);
        await set("resources.registry.limits.memory", "2Gi");
        await set("tolerations[0].key", "dedicated");
        await set("tolerations[0].operator", "Exists");
        await set("tolerations[0].effect", "NoSchedule");
        await set('annotations["example.com/team"]', "platform");
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        type Template = {
            metadata: { annotations: Record<string, string> };
            spec: { tolerations?: unknown[]; containers: { name: string; resources: { limits: Record<string, string> } }[] };
        };
        const registry = await kube.get<{ spec: { template: Template } }>("/apis/apps/v1/namespaces/dso/deployments/registry");
        const template = registry!.spec.template;
        expect(template.spec.containers.find((c) => c.name === "registry")?.resources.limits).toEqual({ memory: "2Gi" });
        expect(template.spec.tolerations).toEqual([{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }]);
        expect(template.metadata.annotations["example.com/team"]).toBe("platform");
        expect((await deployment("registry"))?.status.availableReplicas).toBe(1);
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("rotation by age: turning it on rotates once, the same period plans nothing, the first `up` of the next period rotates again, Jenkins following", async () => {
        type Account = { username: string; password: string };
        const push = async () => (await ws.output(STACK, "pushCredentials")) as Account;
        const inJenkins = () => jenkins.credentials.get("container-registry")?.fields;
        const usersSecret = async () =>
            JSON.stringify((await kube.get<{ data: Record<string, string> }>("/api/v1/namespaces/dso/secrets/registry-htpasswd"))?.data);
        const before = await push();
        const usersBefore = await usersSecret();
        /**
         * The users Secret after a rotation from `previous` to `current` at about `at` (ms): the push users
         * file holds the current password's hash, its previous-passwords file the previous one's, and the
         * overlap file the push account's end 24 hours after; returns that end (Unix seconds).
         */
        const expectOverlap = async (previous: Account, current: Account, at: number) => {
            const data = (await kube.get<{ data: Record<string, string> }>("/api/v1/namespaces/dso/secrets/registry-htpasswd"))!.data;
            const file = (key: string) => Buffer.from(data[key] ?? "", "base64").toString("utf8");
            const hashOf = (text: string) => new RegExp(`^${current.username} (\\S+)$`, "m").exec(text)?.[1] ?? "";
            expect(bcrypt.compareSync(current.password, hashOf(file("push")))).toBe(true);
            expect(bcrypt.compareSync(previous.password, hashOf(file("push-previous")))).toBe(true);
            expect(bcrypt.compareSync(current.password, hashOf(file("push-previous")))).toBe(false);
            const end = Number(new RegExp(`^# previous password of ${current.username} until (\\d+)$`, "m").exec(file("overlap"))?.[1]);
            expect(Math.abs(end - (Math.floor(at / 1000) + 24 * 3600))).toBeLessThan(600);
            return end;
        };

        await ws.pulumiOk(["config", "set", "--path", "dso-registry:containerRegistry.rotateAfterDays", "90", "-s", STACK]);
        const on = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
        expect(on.code, on.stdout + on.stderr).toBe(0);
        const first = await push();
        expect(first.password).not.toBe(before.password);
        expect(inJenkins()).toMatchObject({ username: first.username, password: first.password });
        expect(await usersSecret()).not.toBe(usersBefore);
        const rotation = (await ws.output(STACK, "accountRotation")) as {
            everyDays: number;
            since: string;
            nextDue: string;
            overlapHours: number;
            previousValidUntil: Record<string, string>;
        };
        expect(rotation.everyDays).toBe(90);
        // The overlap (default 24 hours): the previous password's hash beside the new one's, and its end.
        const firstEnd = await expectOverlap(before, first, Date.now());
        expect(rotation.overlapHours).toBe(24);
        expect(rotation.previousValidUntil[first.username]).toBe(new Date(firstEnd * 1000).toISOString());
        expect(Date.parse(rotation.since)).toBeLessThanOrEqual(Date.now());
        expect(Date.parse(rotation.nextDue) - Date.parse(rotation.since)).toBe(90 * 24 * 3600 * 1000);

        const same = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(same.code, same.stdout + same.stderr).toBe(0);

        // The program's clock an hour past the period's end (libfaketime in the Node.js process that runs it).
        const ahead = Math.ceil((Date.parse(rotation.nextDue) - Date.now()) / 1000) + 3600;
        const later = await ws.shell(`faketime -f +${ahead}s npx pulumi up --yes -s ${STACK}`);
        expect(later.code, later.stdout + later.stderr).toBe(0);
        const second = await push();
        expect(second.password).not.toBe(first.password);
        expect(inJenkins()).toMatchObject({ username: second.username, password: second.password });
        expect(((await ws.output(STACK, "accountRotation")) as { since: string }).since).toBe(rotation.nextDue);
        // The second rotation's overlap keeps the first password, ending 24 hours after the rotating `up` by its own clock.
        await expectOverlap(first, second, Date.now() + ahead * 1000);
        const again = await ws.shell(`faketime -f +${ahead}s npx pulumi up --yes --expect-no-changes -s ${STACK}`);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("`destroy` removes the stack's objects and keeps the registry's data claims and their namespace", async () => {
        const r = await ws.pulumi(["destroy", "--yes", "-s", STACK]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(await deployment("registry")).toBeUndefined();
        expect(await kube.get("/api/v1/namespaces/dso/persistentvolumeclaims/registry-data")).toBeDefined();
        expect(await kube.get("/api/v1/namespaces/dso")).toBeDefined();
        const corefile = (await kube.get<{ data: { Corefile: string } }>("/api/v1/namespaces/kube-system/configmaps/coredns"))?.data
            .Corefile;
        expect(corefile).toBe(MICROK8S_COREFILE);
        expect(jenkins.credentials.size).toBe(0);
    });
});
