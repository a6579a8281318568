/**
 * Which container engine the external host's scripts take (components/upkeep/sh/container-engine.sh), and the
 * package check's Podman step (components/externalHost/sh/packages.sh), run under sh with stand-ins on PATH:
 * a `podman` that records each call (its arguments, and whether the upkeep lock's descriptor 9 came
 * with it); as `docker`, the podman-docker package's script that runs podman (what RHEL's `dnf install
 * docker` installs), a link to podman, or a stand-in for Docker's CLI that records its calls the same way.
 * Podman is taken however it is installed, with its three adjustments (`rm --depend`, restart policy
 * `always`, descriptor 9 closed); a host with Docker keeps Docker even when Podman is installed beside it.
 * The real engines run the same scripts in test/integration/externalRegistryHost.podman*.test.ts and
 * externalRegistryHost.scripts.test.ts.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { packagesScript } from "../../components/externalHost/scripts";
import { PODMAN_DOCKER_SCRIPT } from "../support/podmanDockerScript";

const ENGINE_SH = path.resolve(__dirname, "../../components/upkeep/sh/container-engine.sh");
const scratch = mkdtempSync(path.join(tmpdir(), "dso-container-engine-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** podman-docker's script, running the stand-in podman from PATH. */
const PODMAN_DOCKER = PODMAN_DOCKER_SCRIPT.replace("/usr/bin/podman", "podman");

type Docker = "none" | "podman-docker" | "link to podman" | "docker";

/** What the engine check reads `docker` with, beside the stand-ins. */
const TOOLS = ["readlink", "head", "grep"];

/**
 * A PATH of nothing but stand-ins and TOOLS (this machine's own docker stays out of it): `docker` as
 * given, podman (when `podman`), systemctl; each call is recorded in calls.log.
 */
function standIns(docker: Docker, podman = true) {
    const bin = mkdtempSync(path.join(scratch, "bin-"));
    const log = path.join(bin, "calls.log");
    writeFileSync(log, "");
    const write = (name: string, body: string) => {
        writeFileSync(path.join(bin, name), body);
        chmodSync(path.join(bin, name), 0o755);
    };
    const record = (name: string) => `fd9=closed; [ -e /proc/$$/fd/9 ] && fd9=open; echo "${name} $* (fd 9 $fd9)" >> '${log}'`;
    for (const tool of TOOLS) symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
    if (podman) write("podman", `#!/bin/sh\n${record("podman")}\n`);
    if (docker === "podman-docker") write("docker", PODMAN_DOCKER);
    if (docker === "link to podman") symlinkSync("podman", path.join(bin, "docker"));
    if (docker === "docker") write("docker", `#!/bin/sh\n${record("docker")}\n`);
    write("systemctl", `#!/bin/sh\n${record("systemctl")}\n[ "$1" = is-enabled ] && exit 1\nexit 0\n`);
    const calls = () => readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
    return { bin, calls };
}

/** Under the lock's descriptor 9, as the upkeep scripts hold it: a container removed and run as the converge does. */
const CONVERGE = [
    `. '${ENGINE_SH}'`,
    'exec 9>"$LOCK"',
    "docker rm -f dso-registry",
    "docker run -d --name dso-registry --restart unless-stopped registry:3.1.2",
    "docker inspect -f '{{.State.Running}}' dso-registry",
].join("\n");

function converge(docker: Docker, podman = true) {
    const bins = standIns(docker, podman);
    const r = spawnSync("/bin/sh", ["-c", CONVERGE], {
        env: { PATH: bins.bin, LOCK: path.join(scratch, "lock") },
        encoding: "utf8",
    });
    return { status: r.status, stderr: r.stderr, calls: bins.calls() };
}

const PODMAN_CALLS = [
    "podman rm --depend -f dso-registry (fd 9 closed)",
    "podman run -d --name dso-registry --restart always registry:3.1.2 (fd 9 closed)",
    "podman inspect -f {{.State.Running}} dso-registry (fd 9 closed)",
];

describe("the external host's container engine", () => {
    test.each([
        ["the podman-docker package's `docker` beside podman", "podman-docker" as const],
        ["`docker` a link to podman", "link to podman" as const],
        ["podman and no docker", "none" as const],
    ])("%s: Podman is run itself, with its adjustments", (_what, docker) => {
        const r = converge(docker);
        expect(r.status, r.stderr).toBe(0);
        expect(r.calls).toEqual(PODMAN_CALLS);
        // podman-docker's notice is not printed: its script is not what runs the commands.
        expect(r.stderr).toBe("");
    });

    test("Docker's CLI with podman installed beside it: Docker is run, unchanged", () => {
        const r = converge("docker");
        expect(r.status, r.stderr).toBe(0);
        expect(r.calls).toEqual([
            "docker rm -f dso-registry (fd 9 open)",
            "docker run -d --name dso-registry --restart unless-stopped registry:3.1.2 (fd 9 open)",
            "docker inspect -f {{.State.Running}} dso-registry (fd 9 open)",
        ]);
    });

    test("Docker's CLI and no podman: Docker is run", () => {
        expect(converge("docker", false).calls[0]).toBe("docker rm -f dso-registry (fd 9 open)");
    });
});

describe("the package check with Podman", () => {
    /** The rendered package check (nothing to install) under the stand-ins. */
    function packageCheck(docker: Docker) {
        const bins = standIns(docker);
        for (const program of ["crontab", "curl", "flock", "nft"]) {
            writeFileSync(path.join(bins.bin, program), "#!/bin/sh\n", { mode: 0o755 });
        }
        const r = spawnSync("/bin/sh", ["-c", packagesScript(false)], { env: { PATH: bins.bin }, encoding: "utf8" });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: bins.calls().filter((c) => c.startsWith("systemctl")) };
    }

    test.each([
        ["podman-docker", "podman-docker" as const],
        ["podman and no docker", "none" as const],
    ])("%s: changes no package and enables podman-restart.service", (_what, docker) => {
        const r = packageCheck(docker);
        expect([r.status, r.stdout]).toEqual([0, "unchanged packages\n"]);
        expect(r.calls).toEqual([
            "systemctl is-enabled --quiet podman-restart.service (fd 9 closed)",
            "systemctl enable podman-restart.service (fd 9 closed)",
        ]);
        expect(r.stderr).toBe("enabled podman-restart.service: it starts the registry's containers at boot\n");
    });

    test("Docker with podman beside it: podman-restart.service is left alone", () => {
        const r = packageCheck("docker");
        expect([r.status, r.stdout, r.calls]).toEqual([0, "unchanged packages\n", []]);
    });
});
