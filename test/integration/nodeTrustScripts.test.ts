/**
 * The node-trust scripts on real files: /bin/sh, a private root ($DSO_ROOT), and containerd's own
 * config loader (`containerd config dump`) to check every config.toml the config_path step writes.
 * `systemctl` is a stand-in on PATH that records calls (there is no systemd here): units listed in
 * $DSO_ROOT/active-units count as running.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mirrorCaFile, renderMirrorHostsToml } from "../../components/mirrors/mirrors";
import {
    type ConfigPathStep,
    configPathCheckScript,
    configPathRemoveScript,
    etcHostsMarkers,
    etcHostsScript,
    type FileStep,
    MANAGED_HEADER,
    markMirrorHostsToml,
    mirrorBlockMarkers,
    mirrorHostsTomlPruneScript,
    mirrorHostsTomlScript,
    trustPlan,
} from "../../components/nodeTrust/files";
import { privateDir, removeDir } from "../support/serverProcess";

const HOST = "registry-dso.example.test";
const ORIGINAL_HOSTS = "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n# a comment the operator wrote\n10.1.1.1 other.example.test\n";

let root: string;
let stubs: string;

beforeEach(() => {
    root = privateDir("node-trust-root");
    stubs = privateDir("node-trust-stubs");
    writeFileSync(
        path.join(stubs, "systemctl"),
        [
            "#!/bin/sh",
            'echo "$*" >> "$DSO_ROOT/systemctl.log"',
            'if [ "$1" = is-active ]; then grep -qx "$3" "$DSO_ROOT/active-units" 2>/dev/null; exit $?; fi',
            "exit 0",
            "",
        ].join("\n"),
    );
    chmodSync(path.join(stubs, "systemctl"), 0o755);
});

afterEach(() => {
    removeDir(root);
    removeDir(stubs);
});

function sh(script: string, stdin = ""): { code: number; stdout: string; stderr: string } {
    const r = spawnSync("/bin/sh", ["-c", script], {
        env: { ...process.env, DSO_ROOT: root, PATH: `${stubs}:${process.env.PATH}` },
        input: stdin,
        encoding: "utf8",
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function file(absolute: string): string | undefined {
    const p = path.join(root, absolute);
    return existsSync(p) ? readFileSync(p, "utf8") : undefined;
}

function put(absolute: string, content: string): void {
    mkdirSync(path.dirname(path.join(root, absolute)), { recursive: true });
    writeFileSync(path.join(root, absolute), content);
}

const systemctlLog = () => file("/systemctl.log") ?? "";

describe("/etc/hosts managed block", () => {
    const { begin, end } = etcHostsMarkers(HOST);
    const block = (address: string) => `${begin}\n${address} ${HOST}\n${end}\n`;

    it("appends the block and keeps every other byte", () => {
        put("/etc/hosts", ORIGINAL_HOSTS);
        const r = sh(etcHostsScript(HOST, "10.0.0.5"));
        expect(r).toMatchObject({ code: 0, stdout: `changed ${root}/etc/hosts\n` });
        expect(file("/etc/hosts")).toBe(ORIGINAL_HOSTS + block("10.0.0.5"));
    });

    it("reports unchanged and writes nothing on a second run", () => {
        put("/etc/hosts", ORIGINAL_HOSTS + block("10.0.0.5"));
        expect(sh(etcHostsScript(HOST, "10.0.0.5")).stdout).toBe(`unchanged ${root}/etc/hosts\n`);
        expect(file("/etc/hosts")).toBe(ORIGINAL_HOSTS + block("10.0.0.5"));
    });

    it("replaces the block where it stands when the address changes", () => {
        put("/etc/hosts", `${ORIGINAL_HOSTS}${block("10.0.0.5")}192.168.9.9 later.example.test\n`);
        sh(etcHostsScript(HOST, "10.0.0.6"));
        expect(file("/etc/hosts")).toBe(`${ORIGINAL_HOSTS}${block("10.0.0.6")}192.168.9.9 later.example.test\n`);
    });

    it("removal gives back the original bytes", () => {
        put("/etc/hosts", ORIGINAL_HOSTS);
        sh(etcHostsScript(HOST, "10.0.0.5"));
        sh(etcHostsScript(HOST, undefined));
        expect(file("/etc/hosts")).toBe(ORIGINAL_HOSTS);
    });

    it("collapses duplicated blocks into one", () => {
        put("/etc/hosts", ORIGINAL_HOSTS + block("10.0.0.5") + block("10.0.0.5"));
        sh(etcHostsScript(HOST, "10.0.0.5"));
        expect(file("/etc/hosts")).toBe(ORIGINAL_HOSTS + block("10.0.0.5"));
    });

    it("leaves another registry's block alone", () => {
        const other = etcHostsMarkers("other-registry.example.test");
        const theirs = `${other.begin}\n10.9.9.9 other-registry.example.test\n${other.end}\n`;
        put("/etc/hosts", ORIGINAL_HOSTS + theirs);
        sh(etcHostsScript(HOST, "10.0.0.5"));
        sh(etcHostsScript(HOST, undefined));
        expect(file("/etc/hosts")).toBe(ORIGINAL_HOSTS + theirs);
    });

    it("refuses a damaged block (BEGIN without END) and changes nothing", () => {
        const damaged = `${ORIGINAL_HOSTS}${begin}\n10.0.0.5 ${HOST}\n`;
        put("/etc/hosts", damaged);
        const r = sh(etcHostsScript(HOST, "10.0.0.6"));
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("damaged dso-registry block");
        expect(file("/etc/hosts")).toBe(damaged);
    });

    it("notes a mapping of the host outside the block", () => {
        put("/etc/hosts", `${ORIGINAL_HOSTS}10.7.7.7 ${HOST}\n`);
        expect(sh(etcHostsScript(HOST, "10.0.0.5")).stdout).toContain(
            "also maps registry-dso.example.test outside the managed block (line 5",
        );
    });

    it("keeps the file's mode", () => {
        put("/etc/hosts", ORIGINAL_HOSTS);
        chmodSync(path.join(root, "etc/hosts"), 0o644);
        sh(etcHostsScript(HOST, "10.0.0.5"));
        expect(spawnSync("stat", ["-c", "%a", path.join(root, "etc/hosts")], { encoding: "utf8" }).stdout.trim()).toBe("644");
    });

    it("updates a bind-mounted /etc/hosts (containers, the DaemonSet's mount) in place", () => {
        // A bind-mounted file cannot be renamed over; the script then copies the new content into it.
        const outside = path.join(stubs, "node-hosts");
        writeFileSync(outside, ORIGINAL_HOSTS);
        put("/etc/hosts", "");
        const target = path.join(root, "etc/hosts");
        expect(spawnSync("mount", ["--bind", outside, target]).status).toBe(0);
        try {
            expect(sh(etcHostsScript(HOST, "10.0.0.5")).code).toBe(0);
            expect(readFileSync(outside, "utf8")).toBe(ORIGINAL_HOSTS + block("10.0.0.5"));
            expect(sh(etcHostsScript(HOST, undefined)).code).toBe(0);
            expect(readFileSync(outside, "utf8")).toBe(ORIGINAL_HOSTS);
        } finally {
            spawnSync("umount", [target]);
        }
    });

    it("removal without a hosts file creates none", () => {
        expect(sh(etcHostsScript(HOST, undefined)).code).toBe(0);
        expect(file("/etc/hosts")).toBeUndefined();
    });

    it("leaves no temp file behind", () => {
        put("/etc/hosts", ORIGINAL_HOSTS);
        sh(etcHostsScript(HOST, "10.0.0.5"));
        expect(spawnSync("ls", ["-A", path.join(root, "etc")], { encoding: "utf8" }).stdout).toBe("hosts\n");
    });
});

describe("containerd config_path", () => {
    const step: ConfigPathStep = { kind: "config-path", configFile: "/etc/containerd/config.toml", certsDir: "/etc/containerd/certs.d" };
    const conf = "/etc/containerd/config.toml";
    const defaultConfig = spawnSync("containerd", ["config", "default"], { encoding: "utf8" }).stdout;

    /** config_path of the CRI registry section, as containerd itself reads the file. */
    function effectiveConfigPath(): string | undefined {
        const r = spawnSync("containerd", ["--config", path.join(root, conf), "config", "dump"], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`containerd rejects the config: ${r.stderr}`);
        const section = r.stdout.split('[plugins."io.containerd.grpc.v1.cri".registry]')[1] ?? "";
        return /^\s*config_path = "(.*)"/m.exec(section)?.[1];
    }

    const configs: [string, string | undefined, string][] = [
        ["no config.toml", undefined, "/etc/containerd/certs.d"],
        ["containerd's default config", defaultConfig, "/etc/containerd/certs.d"],
        [
            "another config_path",
            'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/docker/certs.d"\n',
            "/etc/containerd/certs.d:/etc/docker/certs.d",
        ],
        [
            "a registry section without config_path",
            'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n[plugins."io.containerd.grpc.v1.cri".registry.headers]\n  X-Test = ["a"]\n',
            "/etc/containerd/certs.d",
        ],
        [
            "no registry section",
            'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n',
            "/etc/containerd/certs.d",
        ],
    ];

    it.each(configs)("with %s, it sets config_path so that containerd reads it, and restarts containerd", (_, before, expected) => {
        if (before !== undefined) put(conf, before);
        put("/active-units", "containerd\n");
        const r = sh(configPathCheckScript(step, true));
        expect(r.code).toBe(0);
        expect(effectiveConfigPath()).toBe(expected);
        expect(systemctlLog()).toContain("restart containerd");
    });

    it.each(configs)("with %s, removal puts back the original exactly", (_, before) => {
        if (before !== undefined) put(conf, before);
        sh(configPathCheckScript(step, true));
        expect(sh(configPathRemoveScript(step, true)).code).toBe(0);
        expect(file(conf)).toBe(before);
        expect(spawnSync("ls", ["-A", path.join(root, "etc/containerd")], { encoding: "utf8" }).stdout).toBe(
            before === undefined ? "" : "config.toml\n",
        );
    });

    it("does nothing and restarts nothing when config_path already includes the directory", () => {
        const ok =
            'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/docker/certs.d:/etc/containerd/certs.d"\n';
        put(conf, ok);
        put("/active-units", "containerd\n");
        expect(sh(configPathCheckScript(step, true)).stdout).toContain("config_path ok");
        expect(file(conf)).toBe(ok);
        expect(systemctlLog()).toBe("");
    });

    it("without permission to restart, only warns", () => {
        put(conf, defaultConfig);
        const r = sh(configPathCheckScript(step, false));
        expect(r.code).toBe(0);
        expect(r.stderr).toMatch(/WARNING: containerd's CRI plugin does not read \/etc\/containerd\/certs.d.*allowContainerdRestart/);
        expect(file(conf)).toBe(defaultConfig);
        expect(systemctlLog()).toBe("");
    });

    it("without permission to restart, names the TOML tables with their quotes", () => {
        put(conf, defaultConfig);
        const { stderr } = sh(configPathCheckScript(step, false));
        expect(stderr).toContain(`under [plugins."io.containerd.grpc.v1.cri".registry] (containerd 1.x)`);
        expect(stderr).toContain(`or [plugins."io.containerd.cri.v1.images".registry] (2.x)`);
    });

    it("refuses to add config_path next to registry.mirrors entries, which containerd would reject", () => {
        const mirrors =
            'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://mirror.example.test"]\n';
        put(conf, mirrors);
        const r = sh(configPathCheckScript(step, true));
        expect(r.stderr).toContain("registry.mirrors/registry.configs");
        expect(file(conf)).toBe(mirrors);
    });

    it("on removal, leaves a config that was edited after it set config_path", () => {
        put(conf, defaultConfig);
        sh(configPathCheckScript(step, true));
        const edited = `${file(conf)}\n# edited by the operator\n`;
        put(conf, edited);
        const r = sh(configPathRemoveScript(step, true));
        expect(r.stderr).toContain("was changed after dso-registry set config_path");
        expect(file(conf)).toBe(edited);
    });
});

/**
 * A mirrored upstream's hosts.toml that is someone else's (the runtime's, the operator's): the program's
 * block goes in and comes out again, and every other byte stays; the DaemonSet's prune takes out what
 * an upstream no longer mirrored still has. The microk8s files, with containerd, are in
 * nodeTrustMicrok8sMirror.test.ts.
 */
describe("a mirrored upstream's hosts.toml", () => {
    const DOCKER_IO = "/etc/containerd/certs.d/docker.io/hosts.toml";
    const mirrors = [{ upstream: "docker.io", pathName: "docker.io" }];
    /** The mirror's step and the file the program would place, for the registry `host`. */
    function mirrorFile(host: string, secret = false): { step: FileStep; body: string } {
        const plan = trustPlan("containerd", {
            host,
            port: 443,
            hasCa: true,
            hasPullAuth: secret,
            hasAddress: false,
            plainHttp: false,
            mirrors,
        });
        const step = plan.steps.find((s): s is FileStep => s.kind === "file" && s.role === "mirror-hosts-toml")!;
        const rendered = renderMirrorHostsToml({
            mirror: step.mirror!,
            registryHost: host,
            registryPort: 443,
            caFile: mirrorCaFile(host),
            authorization: secret ? "Basic dGVzdDp0ZXN0" : undefined,
            header: MANAGED_HEADER,
        });
        return { step, body: markMirrorHostsToml(rendered, host) };
    }
    const ours = mirrorFile(HOST);
    const apply = (f = ours) => sh(mirrorHostsTomlScript(f.step, "apply"), f.body);
    const remove = (f = ours) => sh(mirrorHostsTomlScript(f.step, "remove"));
    const mode = (file: string) => spawnSync("stat", ["-c", "%a", path.join(root, file)], { encoding: "utf8" }).stdout.trim();

    it("goes in front of the first table and the comment lines above it, and comes out leaving the file as it was", () => {
        const theirs =
            'server = "https://registry-1.docker.io"\n\n# the company\'s cache\n[host."https://cache.example.test"]\n  capabilities = ["pull"]\n';
        put(DOCKER_IO, theirs);
        expect(apply().code).toBe(0);
        const merged = file(DOCKER_IO)!;
        expect(merged.indexOf(mirrorBlockMarkers(HOST).end)).toBeLessThan(merged.indexOf("# the company's cache"));
        expect(merged.startsWith('server = "https://registry-1.docker.io"\n\n# BEGIN dso-registry')).toBe(true);
        expect(remove().code).toBe(0);
        expect(file(DOCKER_IO)).toBe(theirs);
    });

    it("its check mode says whether apply would change the file, and writes nothing", () => {
        const check = (f = ours) => sh(mirrorHostsTomlScript(f.step, "check"), f.body);
        const outputOf = (r: { code: number | null; stdout: string; stderr: string }) => {
            expect(r.code, r.stderr).toBe(0);
            return r.stdout.trim();
        };
        const onNode = path.join(root, DOCKER_IO);
        rmSync(path.dirname(onNode), { recursive: true, force: true });
        expect(outputOf(check())).toBe(`changed ${onNode} (absent)`);
        expect(existsSync(path.dirname(onNode))).toBe(false);
        const theirs = 'server = "https://registry-1.docker.io"\n[host."https://cache.example.test"]\n  capabilities = ["pull"]\n';
        put(DOCKER_IO, theirs);
        expect(outputOf(check())).toBe(`changed ${onNode}`);
        expect(file(DOCKER_IO)).toBe(theirs);
        expect(apply().code).toBe(0);
        expect(outputOf(check())).toBe(`unchanged ${onNode}`);
        // The operator's own table edited: still unchanged for the program.
        put(DOCKER_IO, file(DOCKER_IO)!.replace("https://cache.example.test", "https://cache2.example.test"));
        expect(outputOf(check())).toBe(`unchanged ${onNode}`);
        // The program's block edited by hand: changed, and left as it is until apply.
        const edited = file(DOCKER_IO)!.replace(`https://${HOST}`, "https://elsewhere.example.test");
        expect(edited).toContain("elsewhere.example.test");
        put(DOCKER_IO, edited);
        expect(outputOf(check())).toBe(`changed ${onNode}`);
        expect(file(DOCKER_IO)).toBe(edited);
        // A damaged block is a change for the check (apply then says what to do), not a failed read.
        put(DOCKER_IO, `${mirrorBlockMarkers(HOST).begin}\n${theirs}`);
        expect(outputOf(check())).toBe(`changed ${onNode} (damaged block)`);
        expect(readdirSync(path.dirname(onNode)).filter((f) => f.startsWith(".dso-"))).toEqual([]);
        rmSync(path.dirname(onNode), { recursive: true, force: true });
    });

    it("a file without tables and without a newline at its end comes back exactly", () => {
        const theirs = 'server = "https://registry-1.docker.io"';
        put(DOCKER_IO, theirs);
        apply();
        expect(file(DOCKER_IO)).toMatch(/^server = "https:\/\/registry-1\.docker\.io"\n# BEGIN dso-registry /);
        remove();
        expect(file(DOCKER_IO)).toBe(theirs);
    });

    it("a last line without a newline stays so when the block goes in front of a table", () => {
        const theirs = 'server = "https://registry-1.docker.io"\n[host."https://cache.example.test"]\n  capabilities = ["pull"]';
        put(DOCKER_IO, theirs);
        apply();
        expect(file(DOCKER_IO)!.endsWith('  capabilities = ["pull"]')).toBe(true);
        remove();
        expect(file(DOCKER_IO)).toBe(theirs);
    });

    it("another registry's block stays; the program's own file goes with the last block", () => {
        const other = mirrorFile("other-registry.example.test");
        apply();
        apply(other);
        expect(file(DOCKER_IO)).toContain(mirrorBlockMarkers("other-registry.example.test").begin);
        remove();
        expect(file(DOCKER_IO)).toContain(mirrorBlockMarkers("other-registry.example.test").begin);
        expect(file(DOCKER_IO)).not.toContain(mirrorBlockMarkers(HOST).begin);
        remove(other);
        expect(file(DOCKER_IO)).toBeUndefined();
    });

    it("takes over a file an earlier version wrote whole", () => {
        put(
            DOCKER_IO,
            `${MANAGED_HEADER}\nserver = "https://registry-1.docker.io"\n\n[host."https://${HOST}/v2/mirrors/docker.io"]\n  capabilities = ["pull"]\n`,
        );
        apply();
        expect(file(DOCKER_IO)).toBe(ours.body);
    });

    it("refuses a damaged block and changes nothing", () => {
        const damaged = `server = "https://registry-1.docker.io"\n${mirrorBlockMarkers(HOST).begin}\n[host."https://x.example.test"]\n`;
        put(DOCKER_IO, damaged);
        const r = apply();
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("damaged dso-registry block");
        expect(file(DOCKER_IO)).toBe(damaged);
    });

    it("with the pull password the file becomes root's alone; without it again, the file gets its mode back", () => {
        const theirs = 'server = "https://registry-1.docker.io"\n';
        put(DOCKER_IO, theirs);
        chmodSync(path.join(root, DOCKER_IO), 0o644);
        const secret = mirrorFile(HOST, true);
        apply(secret);
        expect(mode(DOCKER_IO)).toBe("600");
        apply(secret);
        expect(mode(DOCKER_IO)).toBe("600");
        apply();
        expect(mode(DOCKER_IO)).toBe("644");
        expect(file(DOCKER_IO)).toBe(`${theirs}${ours.body.slice(ours.body.indexOf("# BEGIN"))}`);
    });

    it("leaves no temporary file behind", () => {
        put(DOCKER_IO, 'server = "https://registry-1.docker.io"\n');
        apply();
        remove();
        expect(spawnSync("ls", ["-A", path.join(root, "etc/containerd/certs.d/docker.io")], { encoding: "utf8" }).stdout).toBe(
            "hosts.toml\n",
        );
    });

    it("prune takes out the upstreams no longer mirrored, an earlier version's whole file too, and keeps the rest", () => {
        const certs = "/etc/containerd/certs.d";
        const theirs = 'server = "https://registry-1.docker.io"\n';
        const legacy = `${MANAGED_HEADER}\nserver = "https://ghcr.io"\n\n[host."https://${HOST}/v2/mirrors/ghcr.io"]\n  capabilities = ["pull"]\n`;
        const registryOwn = `${MANAGED_HEADER}\nserver = "https://${HOST}"\n`;
        put(DOCKER_IO, theirs);
        apply();
        put(`${certs}/ghcr.io/hosts.toml`, legacy);
        put(`${certs}/quay.io/hosts.toml`, file(DOCKER_IO)!);
        put(`${certs}/${HOST}/hosts.toml`, registryOwn);
        expect(sh(mirrorHostsTomlPruneScript(certs, HOST, ["quay.io"])).code).toBe(0);
        expect(file(DOCKER_IO)).toBe(theirs);
        expect(existsSync(path.join(root, certs, "ghcr.io"))).toBe(false);
        expect(file(`${certs}/quay.io/hosts.toml`)).toContain(mirrorBlockMarkers(HOST).begin);
        expect(file(`${certs}/${HOST}/hosts.toml`)).toBe(registryOwn);
    });
});
