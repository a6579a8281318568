/**
 * The kind placement's pure parts: its config rules, the front it renders, the KEP-1755 document, and the
 * garbage collection's script with a docker stand-in. The script run inside each node and the watcher's
 * Docker socket: scripts.kind.test.ts; the data directory when unset: dataDir.test.ts. The containers
 * and nodes themselves: test/integration/kindPlacement.test.ts, kindUpkeep.test.ts, kindMirror.test.ts.
 * Covers: components/config/kindRules.ts, components/kind/front.ts, components/kind/scripts.ts.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mirrorPullPolicy, parseConfig } from "../../components/config";
import { decide } from "../../components/config/decisions";
import { kindFrontPolicy, renderKindCaddyfile, renderKindRegistryConfig } from "../../components/kind/front";
import {
    gcScript,
    KIND_GC_MARKER,
    type KindLayout,
    localRegistryHostingBody,
    MAINTENANCE_PULLS,
    upkeepCrontab,
} from "../../components/kind/scripts";
import { renderShellScript } from "../../components/shared/shellScript";
import { configProblems } from "../support/configProblems";
import { makeDecoyHash } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const kindStack = (): Record<string, any> => ({
    containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
    registry: { mode: "kind" },
});

const problemsOf = (raw: Record<string, unknown>): string[] => configProblems(raw, { sshPrivateKey: "secret" });

describe("registry.mode kind: the config", () => {
    it("accepts the smallest stack, with the defaults of dso-registry:kind", () => {
        const { config } = parseConfig(kindStack());
        expect(config.registry.mode).toBe("kind");
        if (config.registry.mode !== "kind") return;
        expect(config.registry.kind).toMatchObject({
            network: "kind",
            containerName: "kind-registry",
            hostPort: 5002,
        });
        // Unset: "kind", unless kind.clusterNames lists the clusters (components/stack/kind.ts).
        expect(config.registry.kind.clusterName).toBeUndefined();
        // Unset: the program chooses it on the Docker host (components/kind/dataDir.ts).
        expect(config.registry.kind.dataDir).toBeUndefined();
    });

    it.each([
        [
            "containerRegistry.host",
            { containerRegistry: { host: "registry.example.test", port: 5002, pathPrefix: "dev" } },
            /set it to "localhost"/,
        ],
        ["containerRegistry.port", { containerRegistry: { host: "localhost", port: 5003, pathPrefix: "dev" } }, /kind.hostPort \(5002\)/],
        [
            "registry.tls",
            { registry: { mode: "kind", tls: { mode: "provided" } } },
            /has no place with registry.mode "kind" \(.*plain HTTP/,
        ],
        ["nodes.delivery", { nodes: { delivery: "daemonset" } }, /configures the kind nodes itself/],
        ["registry.storage.kind", { registry: { mode: "kind", storage: { kind: "s3", s3: { bucket: "images" } } } }, /kind.dataDir/],
        ["kind.ssh.hostKey", { kind: { ssh: { host: "devbox" } } }, /pin the host key/],
    ])("refuses %s", (key, change, says) => {
        const problems = problemsOf({ ...kindStack(), ...change });
        expect(problems.find((p) => p.startsWith(`dso-registry:${key}:`))).toMatch(says);
    });

    it("offers pull-through caches, anonymous to the nodes, with no warning that no node uses them", () => {
        const withMirrors = { ...kindStack(), registry: { mode: "kind", mirrors: [{ upstream: "docker.io" }] } };
        expect(problemsOf(withMirrors)).toEqual([]);
        const { config, warnings } = parseConfig(withMirrors);
        expect(mirrorPullPolicy(config)).toBe("anonymous");
        expect(warnings.filter((w) => w.key.includes("registry.mirrors"))).toEqual([]);
        const accounts = { ...kindStack(), registry: { mode: "kind", mirrorPull: "accounts", mirrors: [{ upstream: "docker.io" }] } };
        expect(problemsOf(accounts).find((p) => p.startsWith("dso-registry:registry.mirrorPull:"))).toMatch(/kind's nodes hold no account/);
    });

    it("needs the SSH key only for a remote Docker host", () => {
        expect(parseConfig(kindStack()).requiredSecrets).not.toContain("sshPrivateKey");
        const remote = { ...kindStack(), kind: { ssh: { host: "devbox", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" } } };
        expect(parseConfig(remote, { sshPrivateKey: "secret" }).requiredSecrets).toContain("sshPrivateKey");
    });
});

describe("the kind front", () => {
    const spec = {
        registryName: "kind-registry",
        port: 5002,
        distributionName: "kind-registry-distribution",
        requiresAuthForPull: false,
        deletesEnabled: false,
        decoy: { accounts: { push: ["ci-push"], pull: [] }, bcryptHash: makeDecoyHash() },
    };

    it("answers to localhost, 127.0.0.1 and its name on the kind network, in plain HTTP, in front of Distribution", () => {
        const caddyfile = renderKindCaddyfile(spec);
        expect(caddyfile).toContain("http://localhost:5002, http://127.0.0.1:5002, http://kind-registry:5002 {");
        expect(caddyfile).toContain("reverse_proxy kind-registry-distribution:5000");
        // The realm names localhost, where the clients that log in run, unless they came by the front's
        // name on the kind network (pods). The real Caddy runs this front in test/integration/kindPlacement.test.ts.
        expect(kindFrontPolicy(spec).publicAuthority).toBe("localhost:5002");
        expect(kindFrontPolicy(spec).realmAuthorities).toEqual({ "kind-registry:5002": "kind-registry:5002" });
    });

    it("gives Distribution TCP on its own network and the image's storage root", () => {
        const config = renderKindRegistryConfig(false);
        expect(config).toContain('addr: ":5000"');
        expect(config).toContain('rootdirectory: "/var/lib/registry"');
    });

    it("publishes KEP-1755's localRegistryHosting.v1 with localhost on the host and the name in the cluster", () => {
        const layout: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };
        expect(localRegistryHostingBody(layout)).toBe(
            [
                'host: "localhost:5002"',
                'hostFromContainerRuntime: "kind-registry:5002"',
                'hostFromClusterNetwork: "kind-registry:5002"',
                'help: "https://kind.sigs.k8s.io/docs/user/local-registry/"',
                "",
            ].join("\n"),
        );
    });
});

describe("scheduled garbage collection in kind mode", () => {
    const gcStack = (gc: Record<string, unknown>) => ({
        ...kindStack(),
        registry: { mode: "kind", maintenance: { garbageCollection: gc } },
    });
    const layout: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };

    it("is accepted, and turns the registry's deletes on", () => {
        expect(problemsOf(gcStack({ enabled: true, schedule: "0 4 * * *" }))).toEqual([]);
        const { config } = parseConfig(gcStack({ enabled: true }));
        expect(decide(config).deletes.api).toBe(true);
    });

    it("gives the front the window's marker and Distribution no blob-descriptor cache", () => {
        const spec = {
            registryName: "kind-registry",
            port: 5002,
            distributionName: "kind-registry-distribution",
            requiresAuthForPull: false,
            deletesEnabled: true,
        };
        expect(renderKindCaddyfile(spec)).not.toContain(KIND_GC_MARKER);
        const windowed = renderKindCaddyfile({ ...spec, readOnlyMarker: KIND_GC_MARKER });
        expect(windowed).toContain(`try_files ${KIND_GC_MARKER}`);
        expect(windowed).toMatch(/read-only maintenance window.* 503/);
        expect(renderKindRegistryConfig(true)).toContain("blobdescriptor: inmemory");
        expect(renderKindRegistryConfig(true, true)).not.toContain("blobdescriptor");
        expect(renderKindRegistryConfig(true, true)).toContain("enabled: true");
    });

    it("runs gc.sh on the schedule from busybox crond's crontab, its output in the container's log", () => {
        expect(upkeepCrontab({ schedule: "30 3 * * 0", deleteUntagged: false })).toBe("30 3 * * 0 /bin/sh /dso/gc.sh >/proc/1/fd/1 2>&1\n");
        const pulled = { mode: "apply" as const, rules: [{ prefix: "team/", keepPulledWithinDays: 30 }], protect: [] };
        expect(upkeepCrontab({ schedule: "30 3 * * 0", deleteUntagged: false, retention: pulled })).toBe(
            "30 3 * * 0 /bin/sh /dso/gc.sh >/proc/1/fd/1 2>&1\n17 * * * * /bin/sh /dso/pull-harvest.sh >/proc/1/fd/1 2>&1\n",
        );
        const withPulls = gcScript(layout, { schedule: "30 3 * * 0", deleteUntagged: false, retention: pulled });
        expect(withPulls).toContain("PULL_HARVEST='/dso/pull-harvest.sh'");
        expect(withPulls).toContain(`PULL_HISTORY='${MAINTENANCE_PULLS}/history'`);
        expect(gcScript(layout, { schedule: "30 3 * * 0", deleteUntagged: false })).toContain("PULL_HARVEST=''");
        const gc = gcScript(layout, { schedule: "30 3 * * 0", deleteUntagged: true });
        expect(gc).toContain(`MARKER='${KIND_GC_MARKER}'`);
        expect(gc).toContain("DISTRIBUTION_NAME='kind-registry-distribution'");
        expect(gc).toContain("DELETE_UNTAGGED='true'");
    });

    describe("gc.sh, with a docker stand-in", () => {
        let dir: string;
        beforeAll(() => {
            dir = privateDir("kind-gc-script");
            mkdirSync(path.join(dir, "bin"));
            // docker stand-in: records its arguments and whether the marker existed while it ran.
            writeFileSync(
                path.join(dir, "bin", "docker"),
                `#!/bin/sh\nif [ -e "${dir}/window/gc" ]; then w=marker; else w=no-marker; fi\necho "$w $*" >> "${dir}/docker-calls"\ncase "$*" in "exec kind-registry-distribution mktemp") echo /tmp/tmp.plan ;; "exec -i kind-registry-distribution /bin/sh -c "*) cat > "${dir}/pull-copy" ;; "exec -i "*) cat > "${dir}/retention-stdin"; exit "\${RETENTION_EXIT:-0}" ;; "exec kind-registry-distribution rm -rf /var/lib/registry/"*) rm -rf "${dir}/images\${5#/var/lib/registry}" ;; esac\nexit "\${DOCKER_EXIT:-0}"\n`,
                { mode: 0o755 },
            );
            mkdirSync(path.join(dir, "window"));
            mkdirSync(path.join(dir, "images/docker/registry/v2/repositories"), { recursive: true });
        });
        afterAll(() => removeDir(dir));

        const script = (retentionScript = "", window = { FRONT_SETTLE_SECONDS: 0, FRONT_DRAIN_SECONDS: 5 }, harvest = "") =>
            renderShellScript(path.join(__dirname, "../../components/kind/sh/gc.sh"), {
                PULL_HARVEST: harvest,
                PULL_HISTORY: harvest ? path.join(dir, "pull-history") : "",
                DISTRIBUTION_PULL_HISTORY: harvest ? "/tmp/dso-registry-pull-history" : "",
                RETENTION_SCRIPT: retentionScript,
                MARKER: path.join(dir, "window/gc"),
                DATA_DIR: path.join(dir, "images"),
                LOCK_DIR: path.join(dir, "lock"),
                DISTRIBUTION_NAME: "kind-registry-distribution",
                DISTRIBUTION_CONFIG: "/etc/docker/registry/config.yml",
                DISTRIBUTION_DATA_DIR: "/var/lib/registry",
                DELETE_UNTAGGED: true,
                ...window,
            });
        const gc = (env: Record<string, string> = {}, retentionScript = "", harvest = "") =>
            run("/bin/sh", ["-c", script(retentionScript, undefined, harvest)], {
                env: { ...process.env, ...env, PATH: `${dir}/bin:${process.env.PATH}` },
            });
        const calls = () => readFileSync(path.join(dir, "docker-calls"), "utf8").trim().split("\n");

        it("collects in Distribution's container while the marker is up, then takes the marker and the lock away", () => {
            const r = gc();
            expect(r.code, r.stderr).toBe(0);
            expect(calls()).toEqual([
                "marker exec kind-registry-distribution registry garbage-collect --delete-untagged /etc/docker/registry/config.yml",
            ]);
            expect(existsSync(path.join(dir, "window/gc"))).toBe(false);
            expect(existsSync(path.join(dir, "lock"))).toBe(false);
            expect(r.stdout).toMatch(/garbage collection done in \d+ s; front writable again/);
        });

        it("takes the marker and the lock away when the collection fails", () => {
            const r = gc({ DOCKER_EXIT: "3" });
            expect(r.code).toBe(3);
            expect(existsSync(path.join(dir, "window/gc"))).toBe(false);
            expect(existsSync(path.join(dir, "lock"))).toBe(false);
        });

        it("leaves when another collection holds the lock, and takes over a lock whose owner is gone", () => {
            const before = calls().length;
            mkdirSync(path.join(dir, "lock"));
            // This test's own process: alive.
            writeFileSync(path.join(dir, "lock/pid"), String(process.pid));
            const busy = gc();
            expect(busy.code).toBe(0);
            expect(busy.stdout).toContain("is under way");
            expect(calls()).toHaveLength(before);
            expect(existsSync(path.join(dir, "lock/pid"))).toBe(true);
            // A PID no process has (above the kernel's default pid_max).
            writeFileSync(path.join(dir, "lock/pid"), "4194305");
            const stale = gc();
            expect(stale.code, stale.stderr).toBe(0);
            expect(stale.stdout).toContain("taking over the lock");
            expect(calls()).toHaveLength(before + 1);
            expect(existsSync(path.join(dir, "lock"))).toBe(false);
        });

        it("with retention, runs its script in Distribution's container: the plan before the window, the removals inside it, before the collection", () => {
            const retention = path.join(dir, "retention.sh");
            writeFileSync(retention, "echo the retention script\n");
            const before = calls().length;
            const r = gc({}, retention);
            expect(r.code, r.stderr).toBe(0);
            expect(calls().slice(before)).toEqual([
                "no-marker exec kind-registry-distribution mktemp",
                "no-marker exec -i kind-registry-distribution /bin/sh -s plan /tmp/tmp.plan",
                "marker exec -i kind-registry-distribution /bin/sh -s apply /tmp/tmp.plan",
                "marker exec kind-registry-distribution registry garbage-collect --delete-untagged /etc/docker/registry/config.yml",
                "no-marker exec kind-registry-distribution rm -f /tmp/tmp.plan",
            ]);
            expect(readFileSync(path.join(dir, "retention-stdin"), "utf8")).toBe("echo the retention script\n");
        });

        it("cuts an upload still streaming after the drain in Distribution's container, whose storage it is, then collects", async () => {
            const upload = path.join(dir, "images/docker/registry/v2/repositories/team/app/_uploads/streaming");
            mkdirSync(upload, { recursive: true });
            // A client streaming into the upload: a write every 0.2 s while its directory exists.
            const writer = spawn("/bin/sh", ["-c", `while [ -d '${upload}' ]; do echo x >> '${upload}/data'; sleep 0.2; done`]);
            const before = calls().length;
            const rendered = script("", { FRONT_SETTLE_SECONDS: 1, FRONT_DRAIN_SECONDS: 2 });
            const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
                const child = spawn("/bin/sh", ["-c", rendered], { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
                let out = "";
                child.stdout.on("data", (d) => {
                    out += d;
                });
                child.stderr.on("data", (d) => {
                    out += d;
                });
                child.on("exit", (code) => resolve({ code, out }));
            });
            writer.kill();
            expect(r.code, r.out).toBe(0);
            expect(r.out).toContain("upload streaming still streaming after 2 s: cut");
            expect(calls().slice(before)).toEqual([
                "marker exec kind-registry-distribution rm -rf /var/lib/registry/docker/registry/v2/repositories/team/app/_uploads/streaming",
                "marker exec kind-registry-distribution registry garbage-collect --delete-untagged /etc/docker/registry/config.yml",
            ]);
            expect(existsSync(upload)).toBe(false);
        });

        it("with retention by last pull, harvests first and hands the history to retention's plan; the copy goes at the end", () => {
            const retention = path.join(dir, "retention.sh");
            writeFileSync(retention, "echo the retention script\n");
            // The harvest stand-in: writes the history gc.sh copies, and records that it ran.
            const harvest = path.join(dir, "harvest.sh");
            writeFileSync(harvest, `echo harvest >> "${dir}/docker-calls"\necho "since 1" > "${dir}/pull-history"\n`);
            const before = calls().length;
            const r = gc({}, retention, harvest);
            expect(r.code, r.stderr).toBe(0);
            expect(calls().slice(before)).toEqual([
                "no-marker exec kind-registry-distribution rm -f /tmp/dso-registry-pull-history",
                "harvest",
                'no-marker exec -i kind-registry-distribution /bin/sh -c cat >"$1.new" && mv "$1.new" "$1" sh /tmp/dso-registry-pull-history',
                "no-marker exec kind-registry-distribution mktemp",
                "no-marker exec -i kind-registry-distribution /bin/sh -s plan /tmp/tmp.plan",
                "marker exec -i kind-registry-distribution /bin/sh -s apply /tmp/tmp.plan",
                "marker exec kind-registry-distribution registry garbage-collect --delete-untagged /etc/docker/registry/config.yml",
                "no-marker exec kind-registry-distribution rm -f /tmp/tmp.plan",
                "no-marker exec kind-registry-distribution rm -f /tmp/dso-registry-pull-history",
            ]);
            expect(readFileSync(path.join(dir, "pull-copy"), "utf8")).toBe("since 1\n");
        });

        it("a failed harvest hands retention no history (it keeps what it cannot show unpulled), lets it and the collection run, then fails the run", () => {
            const retention = path.join(dir, "retention.sh");
            const harvest = path.join(dir, "harvest-fails.sh");
            writeFileSync(harvest, `echo harvest >> "${dir}/docker-calls"\nexit 1\n`);
            const before = calls().length;
            const r = gc({}, retention, harvest);
            expect(r.code).toBe(1);
            expect(r.stderr).toContain("pull history: not harvested; tag retention keeps every tag it would have to show unpulled");
            expect(r.stderr).toContain("the pull history's harvest FAILED");
            const made = calls().slice(before);
            expect(made.filter((c) => c.includes("/bin/sh -c"))).toEqual([]);
            expect(made.filter((c) => c.includes("-s apply"))).toHaveLength(1);
            expect(made.filter((c) => c.includes("registry garbage-collect"))).toHaveLength(1);
        });

        it("a failed retention still lets the collection run, then fails the run", () => {
            const retention = path.join(dir, "retention.sh");
            const before = calls().length;
            const r = gc({ RETENTION_EXIT: "1" }, retention);
            expect(r.code).toBe(1);
            expect(r.stderr).toContain("tag retention FAILED");
            // The read phase failed: no removals in the window.
            expect(
                calls()
                    .slice(before)
                    .filter((c) => c.includes("-s apply")),
            ).toEqual([]);
            expect(calls().slice(before)[2]).toContain("registry garbage-collect");
            expect(existsSync(path.join(dir, "window/gc"))).toBe(false);
        });
    });
});
