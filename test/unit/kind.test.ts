/**
 * The kind placement's pure parts: its config rules, the front it renders, the KEP-1755 document, the
 * script run inside each node (run here with /bin/sh on a private directory: config_path present,
 * missing, in a section without it, containerd 2.x, or naming other directories; the caches'
 * hosts.toml), and the garbage collection's script with a docker stand-in. The containers and nodes
 * themselves: test/integration/kindPlacement.test.ts, kindMaintenance.test.ts, kindMirror.test.ts.
 * Covers: components/config/kindRules.ts, components/kind/front.ts, components/kind/scripts.ts, components/kind/dataDir.ts.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mirrorPullPolicy, parseConfig } from "../../components/config";
import { decide } from "../../components/config/decisions";
import { defaultKindDataDir } from "../../components/kind/dataDir";
import { kindFrontPolicy, renderKindCaddyfile, renderKindRegistryConfig } from "../../components/kind/front";
import {
    containersApplyScript,
    gcScript,
    KIND_GC_MARKER,
    KIND_MIRROR_HEADER,
    type KindLayout,
    localRegistryHostingBody,
    maintenanceCrontab,
    nodeMirrorParams,
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
            clusterName: "kind",
            network: "kind",
            containerName: "kind-registry",
            hostPort: 5002,
        });
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

describe("kind.dataDir when unset", () => {
    it.each([
        [
            "locally: the home of Pulumi's user, no sudo",
            { remote: false, home: "/home/dev", systemDirHoldsImages: false },
            "/home/dev/.local/share/dso-registry-kind",
        ],
        [
            "locally, with images in the former default: kept",
            { remote: false, home: "/home/dev", systemDirHoldsImages: true },
            "/var/lib/dso-registry-kind",
        ],
        [
            "over SSH, where the steps run as root",
            { remote: true, home: "/home/dev", systemDirHoldsImages: false },
            "/var/lib/dso-registry-kind",
        ],
    ])("%s", (_name, facts, dataDir) => {
        expect(defaultKindDataDir(facts)).toBe(dataDir);
    });

    it("says what to set when the home directory is unknown", () => {
        expect(() => defaultKindDataDir({ remote: false, home: "", systemDirHoldsImages: false })).toThrow(
            /pulumi config set --path 'dso-registry:kind.dataDir'/,
        );
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

/** The layout the node script tests render for (the front's name and port in hosts.toml). */
const NODE_LAYOUT: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };

describe("the script run inside each node", () => {
    let dir: string;
    let bin: string;
    beforeAll(() => {
        dir = privateDir("kind-node-script");
        bin = path.join(dir, "bin");
        mkdirSync(bin);
        // systemctl stand-in: records the restart.
        writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> "${dir}/restarts"\n`, { mode: 0o755 });
    });
    afterAll(() => removeDir(dir));

    /** Runs the node script on a config (undefined: no file); returns its output and the config after. */
    function nodeRun(name: string, config: string | undefined, mirrors: readonly { upstream: string; pathName: string }[] = []) {
        const root = path.join(dir, name);
        mkdirSync(root, { recursive: true });
        const configFile = path.join(root, "config.toml");
        if (config !== undefined) writeFileSync(configFile, config);
        const script = renderShellScript(path.join(__dirname, "../../components/kind/sh/node-inside.sh"), {
            PORT: 5002,
            REGISTRY_NAME: "kind-registry",
            CERTS_DIR: path.join(root, "certs.d"),
            CONFIG_FILE: configFile,
            ...nodeMirrorParams(NODE_LAYOUT, mirrors),
        });
        const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
        const first = run("/bin/sh", ["-c", script], { env });
        const second = run("/bin/sh", ["-c", script], { env });
        const read = (f: string) => readFileSync(path.join(root, f), "utf8");
        return { first, second, root, read, certs: path.join(root, "certs.d") };
    }

    const restarts = () => {
        try {
            return readFileSync(path.join(dir, "restarts"), "utf8").split("\n").filter(Boolean).length;
        } catch {
            return 0;
        }
    };

    it("writes hosts.toml under both names, and leaves a config that has config_path alone", () => {
        const before = restarts();
        const again = nodeRun(
            "kind-027",
            `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${path.join(dir, "kind-027", "certs.d")}"\n`,
        );
        expect(again.first.code, again.first.stderr).toBe(0);
        expect(again.first.stdout).toContain("config_path ok");
        for (const name of ["localhost:5002", "kind-registry:5002"]) {
            expect(again.read(`certs.d/${name}/hosts.toml`)).toBe(
                'server = "http://kind-registry:5002"\n\n[host."http://kind-registry:5002"]\n  capabilities = ["pull", "resolve"]\n',
            );
        }
        expect(again.second.stdout).not.toContain("wrote");
        expect(restarts()).toBe(before);
    });

    it("adds config_path where the config has none, restarts containerd once, and not on the next run", () => {
        const before = restarts();
        const r = nodeRun("kind-old", 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "overlayfs"\n');
        expect(r.first.code, r.first.stderr).toBe(0);
        expect(r.read("config.toml")).toContain(`[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${r.certs}"\n`);
        expect(r.second.stdout).toContain("config_path ok");
        expect(restarts()).toBe(before + 1);
    });

    it("puts the key under an existing registry section, and uses containerd 2.x's section for a version 3 config", () => {
        const section = nodeRun("kind-section", 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n[other]\n');
        expect(section.read("config.toml")).toBe(
            `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${section.certs}"\n[other]\n`,
        );
        const v3 = nodeRun("kind-v3", "version = 3\n");
        expect(v3.read("config.toml")).toContain(`[plugins."io.containerd.cri.v1.images".registry]\n  config_path = "${v3.certs}"`);
    });

    it("writes each cache's hosts.toml (the front's name in plain HTTP, the upstream as fallback), removes ours when a cache goes, leaves others' alone", () => {
        const config = `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "CERTS"\n`;
        const mirrors = [
            { upstream: "docker.io", pathName: "docker.io" },
            { upstream: "ghcr.io", pathName: "ghcr.io" },
        ];
        const root = path.join(dir, "kind-mirrors");
        const withCerts = (c: string) => c.replace("CERTS", path.join(root, "certs.d"));
        // Someone else's file for quay.io: the cluster's containerdConfigPatches, or a user's.
        mkdirSync(path.join(root, "certs.d/quay.io"), { recursive: true });
        writeFileSync(path.join(root, "certs.d/quay.io/hosts.toml"), 'server = "https://quay.io"\n');
        const r = nodeRun("kind-mirrors", withCerts(config), [...mirrors, { upstream: "quay.io", pathName: "quay.io" }]);
        expect(r.first.code, r.first.stderr).toBe(0);
        expect(r.read("certs.d/docker.io/hosts.toml")).toBe(
            [
                KIND_MIRROR_HEADER,
                'server = "https://registry-1.docker.io"',
                "",
                '[host."http://kind-registry:5002/v2/mirrors/docker.io"]',
                '  capabilities = ["pull", "resolve"]',
                "  override_path = true",
                "",
            ].join("\n"),
        );
        expect(r.read("certs.d/ghcr.io/hosts.toml")).toContain('server = "https://ghcr.io"');
        expect(r.first.stderr).toContain("quay.io/hosts.toml is not ours");
        expect(r.read("certs.d/quay.io/hosts.toml")).toBe('server = "https://quay.io"\n');
        expect(r.second.stdout).not.toContain("wrote");
        // ghcr.io's cache removed from the stack: its file goes, docker.io's and quay.io's stay.
        const script = renderShellScript(path.join(__dirname, "../../components/kind/sh/node-inside.sh"), {
            PORT: 5002,
            REGISTRY_NAME: "kind-registry",
            CERTS_DIR: path.join(root, "certs.d"),
            CONFIG_FILE: path.join(root, "config.toml"),
            ...nodeMirrorParams(NODE_LAYOUT, [mirrors[0]!]),
        });
        const after = run("/bin/sh", ["-c", script]);
        expect(after.code, after.stderr).toBe(0);
        expect(after.stdout).toContain("(its cache is no longer listed)");
        expect(existsSync(path.join(root, "certs.d/ghcr.io"))).toBe(false);
        expect(existsSync(path.join(root, "certs.d/docker.io/hosts.toml"))).toBe(true);
        expect(existsSync(path.join(root, "certs.d/quay.io/hosts.toml"))).toBe(true);
    });

    it("refuses a config_path that names other directories, changing nothing", () => {
        const config = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/elsewhere"\n';
        const r = nodeRun("kind-other", config);
        expect(r.first.code).toBe(1);
        expect(r.first.stderr).toContain("containerdConfigPatches");
        expect(r.read("config.toml")).toBe(config);
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
        expect(maintenanceCrontab({ schedule: "30 3 * * 0", deleteUntagged: false })).toBe(
            "30 3 * * 0 /bin/sh /dso/gc.sh >/proc/1/fd/1 2>&1\n",
        );
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
                `#!/bin/sh\nif [ -e "${dir}/window/gc" ]; then w=marker; else w=no-marker; fi\necho "$w $*" >> "${dir}/docker-calls"\ncase "$*" in "exec -i "*) cat > "${dir}/retention-stdin"; exit "\${RETENTION_EXIT:-0}" ;; "exec kind-registry-distribution rm -rf /var/lib/registry/"*) rm -rf "${dir}/images\${5#/var/lib/registry}" ;; esac\nexit "\${DOCKER_EXIT:-0}"\n`,
                { mode: 0o755 },
            );
            mkdirSync(path.join(dir, "window"));
            mkdirSync(path.join(dir, "images/docker/registry/v2/repositories"), { recursive: true });
        });
        afterAll(() => removeDir(dir));

        const script = (retentionScript = "", window = { FRONT_SETTLE_SECONDS: 0, FRONT_DRAIN_SECONDS: 5 }) =>
            renderShellScript(path.join(__dirname, "../../components/kind/sh/gc.sh"), {
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
        const gc = (env: Record<string, string> = {}, retentionScript = "") =>
            run("/bin/sh", ["-c", script(retentionScript)], { env: { ...process.env, ...env, PATH: `${dir}/bin:${process.env.PATH}` } });
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

        it("with retention, runs its script in Distribution's container inside the window, before the collection", () => {
            const retention = path.join(dir, "retention.sh");
            writeFileSync(retention, "echo the retention script\n");
            const before = calls().length;
            const r = gc({}, retention);
            expect(r.code, r.stderr).toBe(0);
            expect(calls().slice(before)).toEqual([
                "marker exec -i kind-registry-distribution /bin/sh -s",
                "marker exec kind-registry-distribution registry garbage-collect --delete-untagged /etc/docker/registry/config.yml",
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

        it("a failed retention still lets the collection run, then fails the run", () => {
            const retention = path.join(dir, "retention.sh");
            const before = calls().length;
            const r = gc({ RETENTION_EXIT: "1" }, retention);
            expect(r.code).toBe(1);
            expect(r.stderr).toContain("tag retention FAILED");
            expect(calls().slice(before)[1]).toContain("registry garbage-collect");
            expect(existsSync(path.join(dir, "window/gc"))).toBe(false);
        });
    });
});

describe("the Docker socket the watcher mounts: DOCKER_HOST's, the docker context's, or refused for a remote daemon", () => {
    let dir: string;
    beforeAll(() => {
        dir = privateDir("kind-docker-socket");
        mkdirSync(path.join(dir, "bin"));
        // docker stand-in: the context's endpoint from CONTEXT_HOST; every other call recorded and answered with nothing.
        writeFileSync(
            path.join(dir, "bin", "docker"),
            `#!/bin/sh\ncase "$1 $2" in "context inspect") [ -n "\${CONTEXT_HOST:-}" ] || exit 1; echo "$CONTEXT_HOST"; exit 0 ;; esac\necho "$*" >> "\${CALLS:?}"\nexit 0\n`,
            { mode: 0o755 },
        );
    });
    afterAll(() => removeDir(dir));

    const apply = (env: Record<string, string>) => {
        const calls = path.join(
            dir,
            `calls-${Object.values(env)
                .join("-")
                .replace(/[^a-z0-9]/gi, "_")}`,
        );
        const layout: KindLayout = {
            cluster: "kind",
            network: "kind",
            registryName: "kind-registry",
            port: 5002,
            dataDir: path.join(dir, "data"),
        };
        const script = containersApplyScript(
            layout,
            { distribution: "registry:3.1.2", front: "caddy:2.8.4", watcher: "docker:27.3-cli" },
            {
                distribution: "d",
                front: "f",
                watcher: "w",
            },
        );
        const { DOCKER_HOST: _host, ...inherited } = process.env;
        const r = run("/bin/sh", ["-c", script], { env: { ...inherited, ...env, CALLS: calls, PATH: `${dir}/bin:${process.env.PATH}` } });
        const made = existsSync(calls) ? readFileSync(calls, "utf8") : "";
        return { ...r, mounts: [...made.matchAll(/-v (\S+):\/var\/run\/docker\.sock/g)].map((m) => m[1]) };
    };

    it.each([
        ["DOCKER_HOST names a socket", { DOCKER_HOST: "unix:///run/user/1000/docker.sock" }, "/run/user/1000/docker.sock"],
        [
            "no DOCKER_HOST: the current context's socket (rootless Docker)",
            { CONTEXT_HOST: "unix:///run/user/1000/docker.sock" },
            "/run/user/1000/docker.sock",
        ],
        ["neither: the default socket", {}, "/var/run/docker.sock"],
    ])("%s", (_name, env, socket) => {
        const r = apply(env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.mounts.length).toBeGreaterThan(0);
        expect(new Set(r.mounts)).toEqual(new Set([socket]));
    });

    it.each([
        ["DOCKER_HOST over TCP", { DOCKER_HOST: "tcp://10.0.0.5:2376" }, "tcp://10.0.0.5:2376"],
        ["a context over SSH", { CONTEXT_HOST: "ssh://builder@10.0.0.5" }, "ssh://builder@10.0.0.5"],
    ])("%s: refused before any container changes, naming the endpoint and what to set", (_name, env, endpoint) => {
        const r = apply(env);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`the Docker daemon is at ${endpoint}`);
        expect(r.stderr).toContain("DOCKER_HOST=unix://");
        expect(r.mounts).toEqual([]);
    });
});
