/**
 * The kind placement's scripts (components/kind/scripts.ts) run with /bin/sh on a private directory: the
 * script run inside each node (config_path present, missing, in a section without it, containerd 2.x, or
 * naming other directories; the caches' hosts.toml), and the Docker socket the containers' apply script
 * gives the watcher. The rest of the kind placement's pure parts: kind.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    containersApplyScript,
    containersDeleteScript,
    KIND_MIRROR_HEADER,
    type KindLayout,
    nodeMirrorParams,
} from "../../components/kind/scripts";
import { renderShellScript } from "../../components/shared/shellScript";
import { privateDir, removeDir, run } from "../support/serverProcess";

/** The layout the node script tests render for (the front's name and port in hosts.toml). */
const NODE_LAYOUT: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };
/** The same layout with its data directory under `dir`, for the containers' scripts. */
const layoutIn = (dir: string): KindLayout => ({ ...NODE_LAYOUT, dataDir: path.join(dir, "data") });

/**
 * A private directory for the enclosing describe block (removed after it) whose bin/docker is `standIn`;
 * returns the directory, once the block's tests run.
 */
function dockerStandIn(name: string, standIn: string): () => string {
    let dir = "";
    beforeAll(() => {
        dir = privateDir(name);
        mkdirSync(path.join(dir, "bin"));
        writeFileSync(path.join(dir, "bin", "docker"), standIn, { mode: 0o755 });
    });
    afterAll(() => removeDir(dir));
    return () => dir;
}

/**
 * Runs a containers' script with /bin/sh, the docker stand-in of `dir` first on the PATH, no DOCKER_HOST but
 * `env`'s, and CALLS set to `calls` (the file the stand-in records its calls in); returns the run and those calls.
 */
function runWithDockerStandIn(dir: string, script: string, env: Record<string, string>, calls: string) {
    const { DOCKER_HOST: _host, ...inherited } = process.env;
    const r = run("/bin/sh", ["-c", script], { env: { ...inherited, ...env, CALLS: calls, PATH: `${dir}/bin:${process.env.PATH}` } });
    return { ...r, calls: existsSync(calls) ? readFileSync(calls, "utf8") : "" };
}

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

    /** The node script for a node whose containerd files are under `root`. */
    const nodeScript = (root: string, mirrors: readonly { upstream: string; pathName: string }[]) =>
        renderShellScript(path.join(__dirname, "../../components/kind/sh/node-inside.sh"), {
            PORT: 5002,
            REGISTRY_NAME: "kind-registry",
            CERTS_DIR: path.join(root, "certs.d"),
            CONFIG_FILE: path.join(root, "config.toml"),
            ...nodeMirrorParams(NODE_LAYOUT, mirrors),
        });

    /** Runs the node script on a config (undefined: no file); returns its output and the config after. */
    function nodeRun(name: string, config: string | undefined, mirrors: readonly { upstream: string; pathName: string }[] = []) {
        const root = path.join(dir, name);
        mkdirSync(root, { recursive: true });
        const configFile = path.join(root, "config.toml");
        if (config !== undefined) writeFileSync(configFile, config);
        const script = nodeScript(root, mirrors);
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
        const after = run("/bin/sh", ["-c", nodeScript(root, [mirrors[0]!])]);
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

describe("the Docker socket the watcher mounts: DOCKER_HOST's, the docker context's, or refused for a remote daemon", () => {
    // docker stand-in: the context's endpoint from CONTEXT_HOST; no container exists yet; every other call
    // recorded and answered with nothing.
    const dir = dockerStandIn(
        "kind-docker-socket",
        `#!/bin/sh\ncase "$1 $2" in "context inspect") [ -n "\${CONTEXT_HOST:-}" ] || exit 1; echo "$CONTEXT_HOST"; exit 0 ;; esac\necho "$*" >> "\${CALLS:?}"\n[ "$1" = inspect ] && exit 1\nexit 0\n`,
    );

    const apply = (env: Record<string, string>) => {
        const calls = path.join(
            dir(),
            `calls-${Object.values(env)
                .join("-")
                .replace(/[^a-z0-9]/gi, "_")}`,
        );
        const script = containersApplyScript(
            layoutIn(dir()),
            { distribution: "registry:3.1.2", front: "caddy:2.8.4", watcher: "docker:27.3-cli" },
            {
                distribution: "d",
                front: "f",
                watcher: "w",
            },
        );
        const r = runWithDockerStandIn(dir(), script, env, calls);
        return { ...r, mounts: [...r.calls.matchAll(/-v (\S+):\/var\/run\/docker\.sock/g)].map((m) => m[1]) };
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

describe("the web UI's container: on the backend network behind the front, removed once the UI is off", () => {
    // docker stand-in: every call recorded; `inspect` of a container named in EXISTING succeeds, one an earlier up
    // made (its spec label, when asked for, an older spec: it is made anew), of any other fails; networks exist;
    // nothing else answers.
    const dir = dockerStandIn(
        "kind-ui-container",
        [
            "#!/bin/sh",
            'echo "$*" >> "${CALLS:?}"',
            'eval "last=\\${$#}"',
            'case "$1" in',
            '  inspect) case " ${EXISTING:-} " in *" $last "*) case " $* " in *" -f "*) echo older-spec ;; esac; exit 0 ;; esac; exit 1 ;;',
            "  context) exit 1 ;;",
            "esac",
            "exit 0",
            "",
        ].join("\n"),
    );

    const apply = (name: string, ui: Parameters<typeof containersApplyScript>[4], existing = "") => {
        const script = containersApplyScript(
            layoutIn(dir()),
            { distribution: "registry:3.1.2", front: "caddy:2.11.9", watcher: "docker:29.9.3-cli" },
            { distribution: "d", front: "f", watcher: "w" },
            [],
            ui,
        );
        const r = runWithDockerStandIn(dir(), script, { EXISTING: existing }, path.join(dir(), `calls-${name}`));
        return { ...r, calls: r.calls ? r.calls.split("\n") : [] };
    };

    it("runs the UI with its environment on the backend network only, publishing no port", () => {
        const r = apply("on", {
            image: "joxit/docker-registry-ui:2.6.0",
            environment: ["REGISTRY_URL=http://localhost:5002", "DELETE_IMAGES=false"],
        });
        expect(r.code, r.stderr).toBe(0);
        const runs = r.calls.filter((c) => c.startsWith("run -d --name kind-registry-ui "));
        expect(runs).toHaveLength(1);
        expect(runs[0]).toMatch(
            / --network kind-registry-backend -e REGISTRY_URL=http:\/\/localhost:5002 -e DELETE_IMAGES=false joxit\/docker-registry-ui:2\.6\.0$/,
        );
        expect(runs[0]).not.toContain(" -p ");
        expect(r.stdout).toContain("changed web UI");
    });

    it("removes the UI's container an earlier up made once the UI is off, and touches none otherwise", () => {
        const off = apply("off", undefined, "kind-registry-ui");
        expect(off.code, off.stderr).toBe(0);
        expect(off.calls).toContain("rm -f kind-registry-ui");
        expect(off.stdout).toContain("removed web UI");
        const never = apply("never", undefined);
        expect(never.code, never.stderr).toBe(0);
        // Only asked whether a container of that name is the stack's: none is, and nothing is removed.
        expect(never.calls.filter((c) => c.includes("kind-registry-ui"))).toEqual([
            'inspect --type container -f {{index .Config.Labels "dso-registry.spec"}} kind-registry-ui',
        ]);
    });
});

describe("destroy's containers: the stack's own removed, someone else's kept, an image of their name no container", () => {
    // docker stand-in: every call recorded. `inspect` of a name in OURS answers as a container of the
    // stack's (its spec label), of a name in FOREIGN as one of someone else's (no label), of a name in
    // IMAGES as docker's does for an image of that name: unless it says `--type container` (no label);
    // of any other name it fails.
    const dir = dockerStandIn(
        "kind-containers-delete",
        [
            "#!/bin/sh",
            'echo "$*" >> "${CALLS:?}"',
            'eval "last=\\${$#}"',
            '[ "$1" = inspect ] || exit 0',
            'case " ${OURS:-} " in *" $last "*) case "$*" in *Labels*) echo spec-1 ;; esac; exit 0 ;; esac',
            'case " ${FOREIGN:-} " in *" $last "*) exit 0 ;; esac',
            'case " ${IMAGES:-} " in *" $last "*) case "$*" in *"--type container"*) exit 1 ;; esac; exit 0 ;; esac',
            "exit 1",
            "",
        ].join("\n"),
    );

    it("removes the stack's containers, keeps one of someone else's, and takes an image of a container's name for none", () => {
        const r = runWithDockerStandIn(
            dir(),
            containersDeleteScript(layoutIn(dir())),
            { OURS: "kind-registry-distribution", FOREIGN: "kind-registry-node-watcher", IMAGES: "kind-registry" },
            path.join(dir(), "calls"),
        );
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split("\n").filter((l) => l.includes(" container "))).toEqual([
            "kept container kind-registry-node-watcher: this stack did not make it",
            "removed container kind-registry-distribution",
        ]);
        expect(r.calls.split("\n").filter((c) => c.startsWith("rm "))).toEqual(["rm -f kind-registry-distribution"]);
    });
});
