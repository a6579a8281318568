/**
 * Tag retention (`registry.maintenance.retention`): what the config accepts and refuses, the shared
 * script's parameters, and how each placement runs it inside garbage collection's window: the external
 * host's GC script and status, the in-cluster ConfigMap, RBAC and GC job (with a kubectl stand-in), and
 * kind's (test/unit/kind.test.ts). The script itself runs on real Distribution storage in
 * test/integration/retention.test.ts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { decide } from "../../components/config/decisions";
import { DEFAULT_PROTECTED_TAGS } from "../../components/config/schema/registry";
import { tagPatternProblem } from "../../components/config/schema/values";
import { defaultHostLayout, gcScript as hostGcScript, statusScript } from "../../components/externalHost/scripts";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { inClusterObjectPlan } from "../../components/inCluster/objectPlan";
import { IN_CLUSTER, type InClusterSpec } from "../../components/inCluster/spec";
import { gcScript, inClusterGcStepScript, renderGcRbac } from "../../components/inCluster/upkeep";
import { renderConfigMap } from "../../components/inCluster/workload";
import { resourceClassOf } from "../../components/shared/k8sResources";
import { type Retention, renderRetentionScript, retentionRuleLines } from "../../components/upkeep/retention";
import { readStackConfig, synthesizeConfig } from "../../tools/synth";
import { configProblems } from "../support/configProblems";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample";

/** A configuration with garbage collection on, in the mode given, and the retention settings given. */
function config(retention: Record<string, unknown>, overrides: { gc?: boolean; mode?: string } = {}): Record<string, any> {
    const mode = overrides.mode ?? "in-cluster";
    return {
        containerRegistry:
            mode === "kind"
                ? { host: "localhost", port: 5002, pathPrefix: "platform" }
                : { host: "registry.example.test", pathPrefix: "platform" },
        registry: {
            mode,
            ...(mode === "external-host" ? { tls: { mode: "acme", acmeEmail: "ops@example.test" } } : {}),
            ...(mode === "existing" ? { tls: { mode: "public" } } : {}),
            maintenance: { garbageCollection: { enabled: overrides.gc ?? true }, retention },
        },
        ...(mode === "external-host" ? { externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } } } : {}),
    };
}

const retentionOf = (raw: Record<string, any>) => {
    const registry = parseConfig(raw, {}, { allowMissingSecrets: true }).config.registry;
    if (registry.mode === "existing") throw new Error("an existing registry has no retention settings");
    return registry.maintenance.retention;
};

describe("the retention settings", () => {
    it("default to dry-run, no rules, and `latest` and three-number release tags protected", () => {
        expect(retentionOf(config({}))).toEqual({ mode: "dry-run", rules: [], protect: [...DEFAULT_PROTECTED_TAGS] });
        const protect = DEFAULT_PROTECTED_TAGS.map((p) => new RegExp(`^(?:${p})$`));
        const isProtected = (tag: string) => protect.some((p) => p.test(tag));
        expect(["latest", "1.4.2", "v1.4.2", "10.0.12"].filter(isProtected)).toEqual(["latest", "1.4.2", "v1.4.2", "10.0.12"]);
        expect(["1.4.2-rc.1", "1.4", "main-3f2a9c1", "latest-dev", "v1.4.2.1"].filter(isProtected)).toEqual([]);
    });

    it("accept rules under the path prefix, with keepNewest, keepDays or both", () => {
        const rules = [
            { prefix: "platform/team-a/", keepNewest: 10 },
            { prefix: "platform/team-b/", keepDays: 30 },
            { prefix: "platform/", keepNewest: 50, keepDays: 90 },
        ];
        expect(configProblems(config({ mode: "apply", rules }))).toEqual([]);
        expect(retentionOf(config({ mode: "apply", rules })).rules).toEqual(rules);
    });

    it.each([
        [
            "a rule with neither keepNewest, keepDays nor keepPulledWithinDays",
            { rules: [{ prefix: "platform/a/" }] },
            "rules[0]",
            "needs keepNewest, keepDays or keepPulledWithinDays",
        ],
        ["keepPulledWithinDays 0", { rules: [{ prefix: "platform/a/", keepPulledWithinDays: 0 }] }, "rules[0].keepPulledWithinDays", ""],
        ["keepNewest 0", { rules: [{ prefix: "platform/a/", keepNewest: 0 }] }, "rules[0].keepNewest", ""],
        ["keepDays 1.5", { rules: [{ prefix: "platform/a/", keepDays: 1.5 }] }, "rules[0].keepDays", ""],
        [
            "a prefix without its final slash",
            { rules: [{ prefix: "platform/a", keepNewest: 1 }] },
            "rules[0].prefix",
            'each followed by "/"',
        ],
        [
            "a prefix outside the path prefix",
            { rules: [{ prefix: "other/a/", keepNewest: 1 }] },
            "rules[0].prefix",
            'write it as "platform/other/a/"',
        ],
        [
            "the same prefix twice",
            {
                rules: [
                    { prefix: "platform/a/", keepNewest: 1 },
                    { prefix: "platform/a/", keepDays: 3 },
                ],
            },
            "rules[1].prefix",
            "merge the two rules",
        ],
        ["an unknown mode", { mode: "on" }, "mode", ""],
        ["a JavaScript-only escape", { protect: ["release-\\d+"] }, "protect[0]", "write [0-9] for \\d"],
        ["a lookahead", { protect: ["(?!dev).*"] }, "protect[0]", "no lookarounds"],
        ["an unbalanced parenthesis", { protect: ["(release"] }, "protect[0]", "not a valid regular expression"],
        ["an empty pattern", { protect: [""] }, "protect[0]", "would protect every tag"],
    ])("refuse %s, naming the key", (_case, retention, key, message) => {
        const problems = configProblems(config(retention));
        expect(
            problems.some((p) => p.startsWith(`dso-registry:registry.maintenance.retention.${key}:`) && p.includes(message)),
            problems.join("\n"),
        ).toBe(true);
    });

    it("accept keepPulledWithinDays on every placement that collects garbage, alone or beside the other terms", () => {
        const rules = [
            { prefix: "platform/a/", keepPulledWithinDays: 30 },
            { prefix: "platform/", keepNewest: 10, keepPulledWithinDays: 60 },
        ];
        for (const mode of ["external-host", "in-cluster", "kind"]) {
            expect(
                configProblems(config({ rules }, { mode })).filter((p) => p.includes("retention")),
                mode,
            ).toEqual([]);
            expect(retentionOf(config({ rules }, { mode })).rules).toEqual(rules);
        }
    });

    it("are refused with rules while garbage collection is off: retention runs with it", () => {
        expect(configProblems(config({ rules: [{ prefix: "platform/a/", keepNewest: 1 }] }, { gc: false }))).toEqual([
            "dso-registry:registry.maintenance.retention.rules: is set, but retention runs with garbage collection (its removals inside the collection's read-only window), and registry.maintenance.garbageCollection.enabled is false: set it to true (pulumi config set --path 'dso-registry:registry.maintenance.garbageCollection.enabled' true; retention starts in dry-run), or remove the rules",
        ]);
    });

    it("warn that mode and protect have no effect without rules", () => {
        const { warnings } = parseConfig(config({ mode: "apply", protect: ["latest"] }), {}, { allowMissingSecrets: true });
        expect(warnings.map((w) => w.key)).toEqual([
            "dso-registry:registry.maintenance.retention.mode",
            "dso-registry:registry.maintenance.retention.protect",
        ]);
        expect(warnings[0]?.message).toContain("has no effect with registry.maintenance.retention.rules empty");
    });

    it("reach the placements only with rules", () => {
        const parsed = (r: Record<string, unknown>) => decide(parseConfig(config(r), {}, { allowMissingSecrets: true }).config);
        expect(parsed({ mode: "apply" }).retention).toBeUndefined();
        expect(parsed({ rules: [{ prefix: "platform/a/", keepDays: 7 }] }).retention).toEqual({
            mode: "dry-run",
            rules: [{ prefix: "platform/a/", keepDays: 7 }],
            protect: [...DEFAULT_PROTECTED_TAGS],
        });
    });
});

describe("tagPatternProblem", () => {
    it.each(["latest", "v?[0-9]+\\.[0-9]+\\.[0-9]+", "release-.*", "[[:digit:]]+", "(stable|lts)-[a-z]+"])("accepts %s", (pattern) => {
        expect(tagPatternProblem(pattern)).toBeUndefined();
    });

    it.each(["\\w+", "a\\sb", "\\bx", "(?:a|b)", "a*?", "(a)\\1", "a\nb", "[a-"])("refuses %j", (pattern) => {
        expect(tagPatternProblem(pattern)).toBeDefined();
    });
});

const RETENTION: Retention = {
    mode: "apply",
    rules: [
        { prefix: "platform/team-a/", keepNewest: 10 },
        { prefix: "platform/", keepDays: 30 },
    ],
    protect: ["latest", "release-.*"],
};

describe("renderRetentionScript", () => {
    const text = renderRetentionScript({
        retention: RETENTION,
        base: "http://127.0.0.1:5001",
        client: "busybox-wget",
        registryLogs: "LOGS",
    });

    it("gives each rule as one line of prefix, keepNewest, keepDays and keepPulledWithinDays, '-' for unset", () => {
        expect(retentionRuleLines(RETENTION.rules)).toEqual(["platform/team-a/ 10 - -", "platform/ - 30 -"]);
        expect(text).toContain("RULES='platform/team-a/ 10 - -\nplatform/ - 30 -'");
        expect(retentionRuleLines([{ prefix: "platform/b/", keepPulledWithinDays: 14 }])).toEqual(["platform/b/ - - 14"]);
        expect(text).toContain("PULL_HISTORY=''");
        expect(text).toContain("PROTECT='latest\nrelease-.*'");
        expect(text).toContain("MODE='apply'");
    });

    it("reads ages from the link files only with filesystem storage", () => {
        expect(text).toContain("STORAGE_ROOT=''");
        const withRoot = renderRetentionScript({
            retention: RETENTION,
            base: "http://127.0.0.1:5001",
            client: "busybox-wget",
            registryLogs: "LOGS",
            storageRoot: "/var/lib/registry",
        });
        expect(withRoot).toContain("STORAGE_ROOT='/var/lib/registry'");
    });

    it("is one script with its API helpers inlined, and parses", () => {
        expect(text).not.toMatch(/^\. "\$\(dirname/m);
        expect(text).toContain("http_delete()");
        expect(execFileSync("/bin/sh", ["-n", "-c", text]).toString()).toBe("");
    });
});

describe("on the external host", () => {
    const layout = defaultHostLayout("/srv/data/registry");
    const spec = { name: "dso-registry", image: "registry:3.1.2", layout };

    it("the GC script runs dso-registry-retention's read phase before the front's window, its removals inside it, before the registry goes read-only", () => {
        const text = hostGcScript(spec, "fp", false, undefined, undefined, true);
        expect(text).toContain("RETENTION_SCRIPT='/usr/local/sbin/dso-registry-retention'");
        const plan = text.indexOf('"${DSO_ROOT:-}$RETENTION_SCRIPT" plan "$plan" || retention_failed=yes');
        const window = text.indexOf('open_front_window "$marker" "${DSO_ROOT:-}$REGISTRY_DATA_DIR"; fi');
        // The window's removals: the last of the two (the first is online mode's, in a function defined before).
        const retention = text.lastIndexOf('"${DSO_ROOT:-}$RETENTION_SCRIPT" apply "$plan" || retention_failed=yes');
        const readOnly = text.indexOf("run_registry read-only config-readonly.yml");
        expect(plan).toBeGreaterThan(0);
        expect(window).toBeGreaterThan(plan);
        expect(retention).toBeGreaterThan(window);
        expect(readOnly).toBeGreaterThan(retention);
        expect(hostGcScript(spec, "fp", false)).toContain("RETENTION_SCRIPT=''");
        expect(text).toContain("PULLS_SCRIPT=''");
    });

    it("online, the GC script makes retention's removals in a marker-only window that closes before the collection starts", () => {
        const text = hostGcScript(spec, "fp", false, undefined, undefined, true, false, {});
        const body = text.slice(text.indexOf("collect_online_on_host() {"));
        const opened = body.indexOf('open_marker_window "$marker"');
        const removals = body.indexOf('"${DSO_ROOT:-}$RETENTION_SCRIPT" apply "$plan" || retention_failed=yes');
        const closed = body.indexOf("close_marker_window");
        const collection = body.indexOf('collect_online "$DISTRIBUTION_CONFIG_DIR/config.yml" docker exec "$REGISTRY_NAME"');
        expect(text).toContain("GC_MODE='online'");
        expect([opened > 0, removals > opened, closed > removals, collection > closed]).toEqual([true, true, true, true]);
        // No read-only restart of Distribution on this path.
        expect(body.slice(0, collection)).not.toContain("run_registry read-only");
    });

    it("with keepPulledWithinDays, the GC script brings the pull history up to date before retention's read phase", () => {
        const text = hostGcScript(spec, "fp", false, undefined, undefined, true, true);
        expect(text).toContain("PULLS_SCRIPT='/usr/local/sbin/dso-registry-pulls'");
        const pulls = text.indexOf('"${DSO_ROOT:-}$PULLS_SCRIPT" ||');
        const plan = text.indexOf('"${DSO_ROOT:-}$RETENTION_SCRIPT" plan "$plan"');
        expect(pulls).toBeGreaterThan(0);
        expect(plan).toBeGreaterThan(pulls);
    });

    it("the status shows retention's last run from its textfile, or that it is off", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "dso-retention-status-"));
        try {
            const textfile = path.join(dir, "textfile");
            execFileSync("mkdir", ["-p", textfile]);
            writeFileSync(
                path.join(textfile, "dso_registry_retention.prom"),
                [
                    'dso_registry_retention_removed_tags{mode="apply"} 3',
                    'dso_registry_retention_candidate_tags{mode="apply"} 4',
                    'dso_registry_retention_kept_tags{mode="apply"} 20',
                    'dso_registry_retention_last_run_timestamp_seconds{mode="apply"} 1767225600',
                    "",
                ].join("\n"),
            );
            const status = (mode?: "apply") =>
                statusScript(spec, {
                    host: "registry.example.test",
                    port: 443,
                    textfileDir: textfile,
                    ...(mode ? { retentionMode: mode } : {}),
                });
            const section = (text: string) => {
                const out = spawnSync("/bin/sh", ["-c", text], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } }).stdout;
                return out.slice(out.indexOf("== retention"), out.indexOf("== data"));
            };
            expect(section(status("apply"))).toBe(
                "== retention\napply; last run (apply) 2026-01-01 00:00 UTC: removed 3 of 4 candidate tags\neach tag: journalctl -t dso-registry-gc | grep 'retention:'\n",
            );
            expect(section(status())).toBe("== retention\noff (registry.maintenance.retention.rules is empty)\n");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("in the cluster", () => {
    const spec = (retention?: Retention, replicas = 1): InClusterSpec => ({
        namespace: "dso",
        host: "registry-dso.jmann.local",
        port: 443,
        ingressClass: "public",
        ingressController: "nginx",
        tls: { kind: "secret", certPem: "CERT", keyPem: "KEY" },
        images: { registry: "registry:3.1.2", caddy: "caddy:2.8.4", ui: "joxit/docker-registry-ui:2.5.7", kubectl: "alpine/k8s:1.31.4" },
        replicas,
        storage: replicas > 1 ? { kind: "s3", accessKeyId: "AKID", secretAccessKey: "SECRET" } : { kind: "filesystem", size: "20Gi" },
        allowedNetworks: [],
        ui: { enabled: false, deleteEnabled: false },
        garbageCollection: { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false },
        ...(retention ? { retention } : {}),
        publishLocalRegistryHosting: true,
        caddyfile: "# caddyfile\n",
        registryConfig: "version: 0.1\n",
        users: { push: "", pull: "", htpasswd: "" },
        httpSecret: "HTTP-SECRET",
        configChecksum: "abc",
    });

    it("the ConfigMap holds retention.sh (busybox against Distribution on the pod's loopback, ages from the volume) only with retention", () => {
        const data = (s: InClusterSpec) => (renderConfigMap(s) as unknown as { data: Record<string, string> }).data;
        const text = data(spec(RETENTION))[IN_CLUSTER.retentionScript]!;
        expect(text).toContain(`REGISTRY_URL='http://${IN_CLUSTER.registryAddr}'`);
        expect(text).toContain("HTTP_CLIENT='busybox-wget'");
        expect(text).toContain(`STORAGE_ROOT='${IN_CLUSTER.dataDir}'`);
        expect(data(spec(RETENTION))[IN_CLUSTER.gcStepScript]).toContain(`RETENTION_SCRIPT='${IN_CLUSTER.configDir}/retention.sh'`);
        expect(data(spec())[IN_CLUSTER.retentionScript]).toBeUndefined();
        expect(data(spec())[IN_CLUSTER.gcStepScript]).toContain("RETENTION_SCRIPT=''");
    });

    it("the GC job's account may list pods cluster-wide, and nothing more, only with retention", () => {
        const cluster = (s: InClusterSpec) => renderGcRbac(s).filter((o) => String(o.kind).startsWith("Cluster"));
        expect(cluster(spec())).toEqual([]);
        const [role, binding] = cluster(spec(RETENTION)) as unknown as [Record<string, any>, Record<string, any>];
        expect(role.kind).toBe("ClusterRole");
        expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }]);
        expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name });
        expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: IN_CLUSTER.gcName, namespace: "dso" }]);
    });

    it("the local stack with garbage collection and a rule synthesizes the grant and the script", async () => {
        const stack = readStackConfig(path.join(__dirname, "../.."), "local");
        const registry = JSON.parse(stack.config["dso-registry:registry"] as string);
        registry.maintenance = {
            garbageCollection: { enabled: true },
            retention: { rules: [{ prefix: "docker-internal/p2c/team-a/", keepNewest: 5 }] },
        };
        const { files } = await synthesizeConfig("retention-local", {
            ...stack,
            config: { ...stack.config, "dso-registry:registry": JSON.stringify(registry) },
        });
        expect(files.get("k8s/_cluster/ClusterRole-registry-gc-dso-list-pods.yaml")).toContain("- list");
        expect(files.get("k8s/_cluster/ClusterRoleBinding-registry-gc-dso-list-pods.yaml")).toContain("name: registry-gc");
        const configMap = files.get("k8s/dso/ConfigMap-registry-config.yaml") ?? "";
        expect(configMap).toContain("retention.sh:");
        expect(configMap).toContain("docker-internal/p2c/team-a/ 5 -");
    }, 60_000);

    it("with keepPulledWithinDays the local stack synthesizes the harvest: its CronJob, the empty ConfigMap, a Role for that one ConfigMap", async () => {
        const stack = readStackConfig(path.join(__dirname, "../.."), "local");
        const registry = JSON.parse(stack.config["dso-registry:registry"] as string);
        registry.maintenance = {
            garbageCollection: { enabled: true },
            retention: { rules: [{ prefix: "docker-internal/p2c/team-a/", keepNewest: 5, keepPulledWithinDays: 30 }] },
        };
        const { files } = await synthesizeConfig("retention-local-pulls", {
            ...stack,
            config: { ...stack.config, "dso-registry:registry": JSON.stringify(registry) },
        });
        expect(files.get("k8s/dso/CronJob-registry-pulls.yaml")).toContain("*/15 * * * *");
        const history = files.get("k8s/dso/ConfigMap-registry-pull-history.yaml") ?? "";
        expect(history).toContain("name: registry-pull-history");
        expect(history).not.toMatch(/^(data|binaryData):/m);
        const role = files.get("k8s/dso/Role-registry-pull-history.yaml") ?? "";
        expect(role).toMatch(/resourceNames:\n\s*- registry-pull-history/);
        expect(role).toContain("- patch");
        expect(role).not.toMatch(/- (update|create|delete)$/m);
        const binding = files.get("k8s/dso/RoleBinding-registry-pull-history.yaml") ?? "";
        expect(binding).toContain("name: registry-pulls");
        expect(binding).toContain("name: registry-gc");
        const config = files.get("k8s/dso/ConfigMap-registry-config.yaml") ?? "";
        expect(config).toContain("pull-merge.sh:");
        expect(config).toContain("PULL_HISTORY='/tmp/pull-history'");
        expect(files.get("k8s/dso/CronJob-registry-gc.yaml")).toContain("PULLS_CONFIGMAP='registry-pull-history'");
    }, 60_000);

    it("without keepPulledWithinDays no harvest, and the GC job harvests nothing; with it the program never writes the history back", () => {
        const objects = renderInClusterObjects(spec(RETENTION));
        expect(objects.filter((o) => o.metadata.name.startsWith("registry-pull"))).toEqual([]);
        expect(gcScript("dso", false, false, "marker", true)).toContain("PULLS_CONFIGMAP=''");
        const pulled = { ...RETENTION, rules: [...RETENTION.rules, { prefix: "lib/", keepPulledWithinDays: 14 }] };
        const planned = inClusterObjectPlan("registry", renderInClusterObjects(spec(pulled)));
        const history = planned.find((o) => o.object.kind === "ConfigMap" && o.object.metadata.name === "registry-pull-history");
        expect(history?.ignoreChanges).toEqual(["data", "binaryData"]);
        expect(planned.find((o) => o.object.metadata.name === IN_CLUSTER.configMap)?.ignoreChanges).toBeUndefined();
    });

    it("every object rendered with retention has a resource type to be created with", () => {
        const objects = renderInClusterObjects(spec(RETENTION));
        expect(objects.filter((o) => o.kind.startsWith("Cluster")).map((o) => o.kind)).toEqual(["ClusterRole", "ClusterRoleBinding"]);
        for (const object of objects) expect(() => resourceClassOf(object, "test")).not.toThrow();
    });

    const dir = mkdtempSync(path.join(tmpdir(), "dso-retention-job-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, "kubectl.log");
    writeFileSync(
        path.join(dir, "kubectl"),
        [
            "#!/bin/sh",
            `printf '%s\\n' "$*" >> "${log}"`,
            `case "$*" in *"get pods --all-namespaces"*) [ -z "\${PODS_FAIL:-}" ] || exit 1; printf 'registry.example.test/platform/app:7\\nregistry.example.test/platform/app@sha256:abc\\n'; exit 0 ;; esac`,
            `case "$*" in *" exec -i "*) cat > "${dir}/stdin" ;; esac`,
            "exit 0",
            "",
        ].join("\n"),
    );
    chmodSync(path.join(dir, "kubectl"), 0o755);
    const run = (script: string, env: Record<string, string> = {}) => {
        rmSync(log, { force: true });
        rmSync(path.join(dir, "stdin"), { force: true });
        const result = spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}:/usr/bin:/bin`, ...env }, encoding: "utf8" });
        return { status: result.status, calls: readFileSync(log, "utf8").trim().split("\n"), stderr: result.stderr };
    };

    it("one pod: the job lists every pod's images and hands them to gc.sh on stdin, which runs retention in its window", () => {
        const { status, calls } = run(gcScript("dso", false, false, "marker", true));
        expect(status).toBe(0);
        expect(calls[0]).toContain("get pods --all-namespaces -o jsonpath=");
        expect(calls[1]).toBe(
            "--namespace dso exec -i deployment/registry --container=registry -- /bin/sh /etc/dso-registry/gc.sh retention",
        );
        expect(calls[2]).toContain("verify.sh");
        expect(readFileSync(path.join(dir, "stdin"), "utf8")).toBe(
            "registry.example.test/platform/app:7\nregistry.example.test/platform/app@sha256:abc\n",
        );
        const step = inClusterGcStepScript(false, "filesystem", true);
        const plan = step.indexOf('/bin/sh "${DSO_ROOT:-}$RETENTION_SCRIPT" plan "$plan" - || retention_failed=yes');
        const window = step.indexOf('open_marker_window "$marker"');
        const removals = step.indexOf('/bin/sh "${DSO_ROOT:-}$RETENTION_SCRIPT" apply "$plan" || retention_failed=yes');
        expect(plan).toBeGreaterThan(0);
        expect(window).toBeGreaterThan(plan);
        expect(removals).toBeGreaterThan(window);
    });

    it("one pod: when the pods cannot be listed, no retention runs, the collection and the check do, and the job fails", () => {
        const { status, calls, stderr } = run(gcScript("dso", false, false, "marker", true), { PODS_FAIL: "1" });
        expect(status).not.toBe(0);
        expect(calls.slice(1)).toEqual([
            "--namespace dso exec deployment/registry --container=registry -- /bin/sh /etc/dso-registry/gc.sh",
            "--namespace dso exec deployment/registry --container=registry -- /bin/sh /etc/dso-registry/verify.sh",
        ]);
        expect(stderr).toContain("cannot list the cluster's pods: no tag retention this time");
    });

    it("pods that may overlap: retention runs with the pods' images just before the read-only switch", () => {
        const { status, calls } = run(gcScript("dso", false, false, "rollout", true));
        expect(status).toBe(0);
        expect(calls[0]).toContain("get pods --all-namespaces");
        expect(calls[1]).toBe(
            "--namespace dso exec -i deployment/registry --container=registry -- /bin/sh /etc/dso-registry/retention.sh -",
        );
        expect(calls[2]).toContain(`set env deployment/registry ${IN_CLUSTER.readOnlyEnv}={"enabled":true}`);
        expect(readFileSync(path.join(dir, "stdin"), "utf8")).toContain("platform/app:7");
    });

    it("without retention the job lists no pods", () => {
        for (const window of ["marker", "rollout"] as const) {
            expect(run(gcScript("dso", false, false, window)).calls.some((c) => c.includes("--all-namespaces"))).toBe(false);
        }
    });
});
