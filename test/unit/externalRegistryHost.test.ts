/**
 * ExternalRegistryHost under Pulumi's mock runtime: which remote commands and files it creates, with
 * which inputs, and that secrets stay on stdin and secret in state. What a command does is checked by
 * running it under sh with stand-ins for the programs it calls (docker, curl).
 * The hosts are made by test/support/externalHostMocks.ts; the tests of each component's own commands
 * are in the file named after it (hostPackages, registryContainer, uiContainer).
 * Covers: components/externalHost/postDeployCheck.ts, components/externalHost/upkeep.ts,
 * components/upkeep/backup.ts (the restic repository).
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { renderConnectionCapRules } from "../../components/externalHost/connectionCap";
import { FRONT_ENVIRONMENT, FRONT_MEMORY } from "../../components/shared/front";
import { promiseOf } from "../../tools/mockRuntime";
import { HASH, hostsUnderMocks, PLACED_0600 } from "../support/externalHostMocks";

const { hosts, rt, command, script, runStubbed } = hostsUnderMocks();
const commands = () =>
    rt()
        .ofType("command:remote:Command")
        .filter((c) => c.name.startsWith("registry-host-"));

describe("ExternalRegistryHost", () => {
    test("one component per remote job, each a child of the host", () => {
        const hostUrn = rt().byName("registry-host").urn;
        const children = rt()
            .resources.filter((r) => r.parentUrn === hostUrn)
            .map((r) => `${r.type} ${r.name}`);
        expect(children.sort()).toEqual(
            [
                "dso-registry:externalHost:CaddySite registry-host-caddy",
                "dso-registry:externalHost:HostLoginLimit registry-host-login-limit",
                "dso-registry:externalHost:HostPackages registry-host-packages",
                "dso-registry:externalHost:HostUpkeep registry-host-maintenance",
                "dso-registry:externalHost:PostDeployCheck registry-host-check",
                "dso-registry:externalHost:PurgeOnDestroy registry-host-purge",
                "dso-registry:externalHost:RegistryContainer registry-host-container",
            ].sort(),
        );
    });

    test("creates one remote command per step and per file", () => {
        expect(
            commands()
                .map((c) => c.name)
                .sort(),
        ).toEqual(
            [
                "registry-host-caddy-caddyfile-write",
                "registry-host-caddy-reload",
                "registry-host-caddy-tls-cert-write",
                "registry-host-caddy-tls-key-write",
                "registry-host-caddy-users-pull-write",
                "registry-host-caddy-users-push-write",
                "registry-host-check-ca-cert-write",
                "registry-host-check-run",
                "registry-host-container-config-readonly-write",
                "registry-host-container-config-write",
                "registry-host-container-run",
                "registry-host-login-limit-fail2ban",
                "registry-host-maintenance-backup-known-hosts-write",
                "registry-host-maintenance-backup-password-write",
                "registry-host-maintenance-backup-script-write",
                "registry-host-maintenance-backup-ssh-key-write",
                "registry-host-maintenance-cron-write",
                "registry-host-maintenance-gc-script-write",
                "registry-host-maintenance-restore-script-write",
                "registry-host-maintenance-status-script-write",
                "registry-host-maintenance-verify-script-write",
                "registry-host-packages-data-dir",
                "registry-host-packages-install",
                "registry-host-purge-marker",
            ].sort(),
        );
    });

    test("every remote step has a delete, except the Caddyfile which is replaced by the site removal", () => {
        const withoutDelete = commands()
            .filter((c) => typeof c.inputs.delete !== "string")
            .map((c) => c.name);
        expect(withoutDelete).toEqual(["registry-host-caddy-caddyfile-write"]);
    });

    test("the connection pins the host key", () => {
        // rawInputs keep the wire form: the secret connection is wrapped as { <sig>: …, value }.
        const raw = command("registry-host-container-run").rawInputs.connection as { value: Record<string, unknown> };
        expect(raw.value.hostKey).toBe("ssh-ed25519 AAAAtest");
        // The private key makes the whole connection secret in state.
        expect(command("registry-host-container-run").inputs.connection).toBe("[secret]");
    });

    test.each([
        ["registry-host-caddy-users-push-write"],
        ["registry-host-caddy-users-pull-write"],
        ["registry-host-caddy-tls-key-write"],
        ["registry-host-maintenance-backup-password-write"],
        ["registry-host-maintenance-backup-ssh-key-write"],
    ])("%s carries its body as a secret on stdin, with output kept out of logs", (name) => {
        const c = command(name);
        expect(c.inputs.stdin).toBe("[secret]");
        expect(c.inputs.logging).toBe("none");
        expect(String(c.inputs.create)).toMatch(PLACED_0600);
    });

    test("no command line carries a secret", () => {
        for (const c of commands()) {
            const text = JSON.stringify([c.rawInputs.create, c.rawInputs.update, c.rawInputs.delete]);
            expect(text).not.toContain("SERVER-KEY-MATERIAL");
            expect(text).not.toContain("PRIVATE-KEY-MATERIAL");
            expect(text).not.toContain("REPOSITORY-PASSWORD-MATERIAL");
            expect(text).not.toContain("BACKUP-KEY-MATERIAL");
            expect(text).not.toContain(HASH);
        }
    });

    test("privileged steps run through sudo -n", () => {
        expect(String(command("registry-host-container-run").inputs.create)).toMatch(/^sudo -n sh -c /);
    });

    /**
     * A Docker stand-in for the front's apply: `inspect` of the front says `running` (none when empty:
     * a plain `inspect` fails), its log says Caddy is up.
     */
    const frontDocker = (running: string) =>
        `case "$1" in inspect) [ "$2" = -f ] || [ -n '${running}' ] || exit 1; case "$3" in *Labels*) printf '%s\\n' '${running}' ;; *) echo true ;; esac ;; logs) echo '{"msg":"serving initial configuration"}' ;; esac`;
    const FRONT_MOUNTS = ["/etc/caddy:/etc/caddy:ro", "/srv/data/registry:/srv/data/registry:ro", "/run/dso-registry:/run/dso-registry"];

    test("the front is the pinned Caddy image on the host's network: validated first, then run with no capability but binding low ports", () => {
        const { status, calls, stdout, stderr, root } = runStubbed(script("registry-host-caddy-reload"), ["docker", "nft"], {
            dockerAnswer: frontDocker(""),
        });
        expect(status, stderr).toBe(0);
        const validate = calls.find((c) => c.startsWith("docker run "))!;
        const front = calls.find((c) => c.startsWith("docker create "))!;
        expect(validate).toMatch(
            / --rm --network none --cap-drop ALL --cap-add NET_BIND_SERVICE caddy:2\.8\.4 caddy validate --adapter caddyfile --config \/etc\/caddy\/Caddyfile$/,
        );
        expect(front).toMatch(/ --name dso-registry-front-next --restart unless-stopped /);
        expect(front).toContain(
            " --network host --cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges --tmpfs /run/caddy ",
        );
        expect(front).toMatch(/ caddy:2\.8\.4 caddy run --adapter caddyfile --config \/etc\/caddy\/Caddyfile$/);
        // Its memory and connections are bounded: slow clients can slow it down, not grow it into the host's memory.
        expect(front).toContain(
            ` --memory 512m --memory-swap 512m -e GOMEMLIMIT=${FRONT_ENVIRONMENT.GOMEMLIMIT} --ulimit nofile=2048:2048 `,
        );
        expect(FRONT_ENVIRONMENT.GOMEMLIMIT).toBe("399MiB");
        // One client address gets at most its share of them: the cap's rules checked, then loaded, before the front is made.
        const rules = `${root}/etc/caddy/dso-registry/connection-cap.nft`;
        const capCalls = calls.filter((c) => c.startsWith("nft "));
        expect(capCalls).toEqual([`nft -c -f ${rules}.dso-new`, `nft -f ${rules}`]);
        expect(calls.indexOf(`nft -f ${rules}`)).toBeLessThan(calls.findIndex((c) => c.startsWith("docker create ")));
        expect(readFileSync(rules, "utf8")).toBe(renderConnectionCapRules([443]));
        expect(readFileSync(`${root}/etc/cron.d/dso-registry-connection-cap`, "utf8")).toContain(
            "\n@reboot root nft -f /etc/caddy/dso-registry/connection-cap.nft 2>&1 | logger -t dso-registry-connection-cap\n",
        );
        expect(stdout).toContain("changed connection cap\n");
        for (const command of [validate, front]) {
            expect(command).toContain(
                "-e XDG_DATA_HOME=/var/lib/dso-registry-front/data -e XDG_CONFIG_HOME=/var/lib/dso-registry-front/config",
            );
            expect(command).toMatch(/ -v \S*\/var\/lib\/dso-registry-front:\/var\/lib\/dso-registry-front /);
            for (const mount of FRONT_MOUNTS) expect(command).toMatch(new RegExp(` -v \\S*${mount.replaceAll("/", "\\/")} `));
            // Nothing else of the host: no Docker socket, no /etc but Caddy's own.
            expect(command).not.toContain("docker.sock");
        }
        // Made before the old front goes, started right after it went.
        const removed = calls.indexOf("docker rm -f dso-registry-front");
        expect(calls.findIndex((c) => c.startsWith("docker create "))).toBeLessThan(removed);
        expect(calls.slice(removed)).toEqual([
            "docker rm -f dso-registry-front",
            "docker rename dso-registry-front-next dso-registry-front",
            "docker start dso-registry-front",
            "docker logs dso-registry-front",
        ]);
        expect(stdout).toContain("changed caddy");
        const caddyfile = String(command("registry-host-caddy-caddyfile-write").inputs.stdin);
        // HTTP/1.1 only, and a connection with no request in flight closed after 10 s (docs/access-policy.md#connection-limits).
        expect(caddyfile).toContain("\t\tprotocols h1\n");
        expect(caddyfile).toContain("\t\t\tidle 10s\n");
        expect(caddyfile).toContain("output file /var/lib/dso-registry-front/logs/access.log {");
    });

    test("a front running from the same spec is reloaded inside its container, nothing else", () => {
        const mounts = [
            "/etc/caddy:/etc/caddy:ro",
            "/srv/data/registry:/srv/data/registry:ro",
            "/run/dso-registry:/run/dso-registry",
            "/run/dso-registry-maven:/run/dso-registry-maven",
            "/run/dso-registry-mirrors:/run/dso-registry-mirrors",
        ];
        const digest = createHash("sha256")
            .update(
                `/var/lib/dso-registry-front ${mounts.join("\n")} memory:${FRONT_MEMORY.limitMiB} go:${FRONT_ENVIRONMENT.GOMEMLIMIT} files:${FRONT_MEMORY.openFiles}`,
            )
            .digest("hex")
            .slice(0, 16);
        const { status, calls, stdout, stderr } = runStubbed(script("registry-host-caddy-reload"), ["docker", "systemctl", "curl", "nft"], {
            dockerAnswer: frontDocker(`caddy:2.8.4 mounts:${digest} true`),
            failing: ["systemctl", "curl"],
        });
        expect(status, stderr).toBe(0);
        expect(calls.filter((c) => !c.includes(" caddy validate ") && !c.startsWith("docker inspect ") && !c.startsWith("nft "))).toEqual([
            "docker exec dso-registry-front caddy reload --adapter caddyfile --config /etc/caddy/Caddyfile",
        ]);
        // The cap is new in this scratch root; on a host that has it, only the reload is said (externalRegistryHost.scripts.test.ts).
        expect(stdout).toBe("changed connection cap\nreloaded caddy\n");
    });

    test("a host whose front was the caddy service: its certificates copied, the service stopped and disabled, the front started", () => {
        const { status, calls, stdout, stderr, root } = runStubbed(script("registry-host-caddy-reload"), ["docker", "systemctl", "nft"], {
            dockerAnswer: frontDocker(""),
            prepare: (r) => {
                const account = path.join(r, "var/lib/caddy/.local/share/caddy/acme/acme-v02.api.letsencrypt.org-directory/users/ops");
                mkdirSync(account, { recursive: true });
                writeFileSync(path.join(account, "ops.json"), "{}");
            },
        });
        expect(status, stderr).toBe(0);
        expect(
            readFileSync(
                path.join(root, "var/lib/dso-registry-front/data/caddy/acme/acme-v02.api.letsencrypt.org-directory/users/ops/ops.json"),
                "utf8",
            ),
        ).toBe("{}");
        expect(calls).toContain("systemctl disable --now caddy");
        // The service stops before the front starts on its ports.
        expect(calls.indexOf("systemctl disable --now caddy")).toBeLessThan(calls.indexOf("docker start dso-registry-front"));
        expect(stdout).toContain("copied the caddy service's certificates and ACME account");
        expect(stdout).toContain("stopped and disabled the caddy service");
    });

    test("the Caddyfile is the rendered policy with the allowlist", () => {
        const caddyfile = String(command("registry-host-caddy-caddyfile-write").inputs.stdin);
        expect(caddyfile).toContain("registry.example.com:443 {");
        expect(caddyfile).toContain("@outside not remote_ip 10.0.0.0/8");
        expect(caddyfile).toContain("tls /etc/caddy/dso-registry/registry.crt /etc/caddy/dso-registry/registry.key");
    });

    test("Caddy serves blob downloads from the host's data directory", () => {
        const caddyfile = String(command("registry-host-caddy-caddyfile-write").inputs.stdin);
        expect(caddyfile).toContain("route @blob");
        expect(caddyfile).toContain("root /srv/data/registry/docker/registry/v2");
    });

    test("the check expects 403 when loopback is outside the allowlist", () => {
        const { status, stdout } = runStubbed(script("registry-host-check-run"), ["curl"], { curlAnswer: "403" });
        expect(status).toBe(0);
        expect(stdout).toContain("ok   ping is challenged: GET /v2/ -> 403");
        expect(stdout).toContain("ok   anonymous upload is refused: POST /v2/dso-check/blobs/uploads/ -> 403");
    });

    test("the cron file schedules garbage collection and backups", () => {
        const cron = String(command("registry-host-maintenance-cron-write").inputs.stdin);
        expect(cron).toContain("30 3 * * 0 root /usr/local/sbin/dso-registry-gc");
        expect(cron).toContain("0 2 * * * root /usr/local/sbin/dso-registry-backup");
    });

    test("the backup machine's host key is pinned for the backup's SSH session", () => {
        expect(String(command("registry-host-maintenance-backup-known-hosts-write").inputs.stdin)).toBe(
            "backup-01 ssh-ed25519 AAAAbackup\n",
        );
        const backup = String(command("registry-host-maintenance-backup-script-write").inputs.stdin);
        expect(backup).toContain("-o StrictHostKeyChecking=yes");
        expect(backup).toContain("REPOSITORY='sftp:dso-backup@backup-01:/srv/restic/registry'");
    });

    test("outputs: URL, image prefix, CA and ops commands", async () => {
        expect(hosts().host.registryUrl).toBe("https://registry.example.com");
        expect(hosts().host.imagePrefix).toBe("registry.example.com/team/app");
        expect(await promiseOf(hosts().host.caCertPem!)).toBe("CA");
        expect(hosts().host.opsCommands.status).toBe("ssh -p 22 deploy@10.0.0.5 sudo /usr/local/sbin/dso-registry-status");
        expect(hosts().host.opsCommands.restore).toBe("ssh -p 22 deploy@10.0.0.5 sudo /usr/local/sbin/dso-registry-restore");
    });
});

describe("externalRegistryHostProblem", () => {
    test.each([
        ["/srv/data/registry", undefined],
        ["srv/data", 'dataDir "srv/data" must be an absolute path below /'],
        ["/", 'dataDir "/" must be an absolute path below /'],
    ] as const)("dataDir %s -> %s", (dataDir, expected) => {
        expect(hosts().mod.externalRegistryHostProblem({ dataDir })).toBe(expected);
    });
});

describe("ExternalRegistryHost with ACME and the web UI", () => {
    test("Caddy serves the UI same-origin", () => {
        expect(String(command("ui-host-caddy-caddyfile-write").inputs.stdin)).toContain("127.0.0.1:5080");
    });

    test("no TLS or CA files are placed, and the check trusts the system store and waits for ACME", () => {
        const names = rt()
            .ofType("command:remote:Command")
            .map((c) => c.name)
            .filter((n) => n.startsWith("ui-host-"));
        expect(names.filter((n) => /tls|ca-cert|backup/.test(n))).toEqual([]);
        const check = script("ui-host-check-run");
        expect(check).toContain("\nCA_FILE=''\n");
        expect(check).toContain("\nWAIT_SECONDS='180'\n");
    });

    test("without sudo, steps run through sh -c; with purge the marker lists the data directory", () => {
        expect(String(command("ui-host-container-run").inputs.create)).toMatch(/^sh -c /);
        expect(String(command("ui-host-packages-data-dir").inputs.delete)).not.toContain("rm -rf");
        expect(String(command("ui-host-purge-marker").inputs.create)).toMatch(/\nDIRECTORIES='\\''\/srv\//);
    });
});

describe("ExternalRegistryHost with s3 storage", () => {
    const s3Commands = () =>
        rt()
            .ofType("command:remote:Command")
            .map((c) => c.name)
            .filter((n) => n.startsWith("s3-host-"));

    test("no command line and no file in the clear carries the credentials", () => {
        for (const c of rt()
            .ofType("command:remote:Command")
            .filter((r) => r.name.startsWith("s3-host-"))) {
            const text = JSON.stringify([c.rawInputs.create, c.rawInputs.update, c.rawInputs.delete, c.inputs.stdin]);
            expect(text).not.toContain("S3-ACCESS-KEY-ID");
            expect(text).not.toContain("S3-SECRET-KEY-VALUE");
        }
    });

    test("no data directory is made; garbage collection is scheduled", () => {
        const names = s3Commands();
        expect(names).not.toContain("s3-host-packages-data-dir");
        expect(names).toContain("s3-host-maintenance-gc-script-write");
        expect(String(command("s3-host-maintenance-cron-write").inputs.stdin)).toContain("/usr/local/sbin/dso-registry-gc");
    });

    test("Caddy proxies every blob download (it has no files to serve)", () => {
        expect(String(command("s3-host-caddy-caddyfile-write").inputs.stdin)).not.toContain("route @blob");
    });

    test("the status script names the bucket", () => {
        expect(String(command("s3-host-maintenance-status-script-write").inputs.stdin)).toContain(
            "s3 bucket dso-images at https://minio.example.com:9000",
        );
    });
});
