/**
 * The restart part of a k3s / RKE2 node's registries.yaml script: the node's own kubectl and the
 * kubelet's credentials for the Ready check, the configured wait and node name, the check mode, and no
 * restart without permission. The rolling order: restarts.test.ts; the restarts run for real in
 * nodeTrustSsh.test.ts.
 * Covers: components/nodeTrust/restarts.ts (the NodeRestart a script is given).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { registriesYamlScript, renderRegistriesEntries } from "../../components/nodeTrust/registriesYaml";
import type { NodeRestart } from "../../components/nodeTrust/restarts";

describe("the restart part of the registries.yaml script", () => {
    const settings = { allow: true, timeoutSeconds: 120 };
    const input = { path: "/etc/rancher/k3s/registries.yaml", authority: "registry.example.com", secret: false };
    const script = (restart: NodeRestart, action: "apply" | "remove" | "check" = "apply") => registriesYamlScript(input, restart, action);

    it.each([
        ["k3s", "k3s kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node"],
        ["rke2", "kubectl --kubeconfig /var/lib/rancher/rke2/agent/kubelet.kubeconfig get node"],
    ] as const)("%s checks the node with its own kubectl and the kubelet's credentials", (flavour, kubectl) => {
        const text = script({ flavour, units: ["u"], settings });
        expect(text).toMatch(new RegExp(`^KUBECTL_GET='[^\\n]*${kubectl.replace(/[.]/g, "\\.")}`, "m"));
        expect(text).not.toContain(`/var/lib/rancher/${flavour === "k3s" ? "rke2" : "k3s"}/`);
    });

    it("waits as long as configured", () => {
        expect(script({ flavour: "k3s", units: ["k3s"], settings })).toContain("\nRESTART_TIMEOUT_SECONDS='120'\n");
    });

    it("with a configured node name, checks that node", () => {
        expect(script({ flavour: "k3s", units: ["k3s"], settings: { ...settings, nodeName: "worker-7.lab" } })).toContain(
            "\nNODE_NAME='worker-7.lab'\n",
        );
    });

    it("its check mode says whether placing the entries would change the file, and writes and restarts nothing", () => {
        const root = mkdtempSync(path.join(tmpdir(), "dso-check-"));
        try {
            mkdirSync(path.join(root, "bin"));
            writeFileSync(path.join(root, "bin", "systemctl"), `#!/bin/sh\necho "$*" >> "${root}/systemctl.calls"\n`, { mode: 0o755 });
            const entries = renderRegistriesEntries({ host: "registry.example.com", port: 443, plainHttp: false });
            const restart = { flavour: "k3s" as const, units: ["k3s"], settings: { ...settings, allow: false } };
            const sh = (action: "apply" | "check") =>
                spawnSync("sh", ["-c", script(restart, action)], {
                    input: entries,
                    env: { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` },
                    encoding: "utf8",
                });
            const file = path.join(root, input.path);
            expect(sh("check").stdout).toBe(`changed ${file} (absent)\n`);
            expect(sh("apply").status).toBe(0);
            expect(sh("check").stdout).toBe(`unchanged ${file}\n`);
            // The operator's own entry outside the program's block: still unchanged.
            writeFileSync(file, `${readFileSync(file, "utf8")}# the operator's note\n`);
            expect(sh("check").stdout).toBe(`unchanged ${file}\n`);
            // A line of the program's block edited by hand: changed, and the file is left as it is.
            const edited = readFileSync(file, "utf8").replace('- "https://registry.example.com"', '- "https://registry.evil.example"');
            expect(edited).toContain("registry.evil.example");
            writeFileSync(file, edited);
            const checked = sh("check");
            expect(checked.status, checked.stderr).toBe(0);
            expect(checked.stdout).toBe(`changed ${file}\n`);
            expect(readFileSync(file, "utf8")).toBe(edited);
            expect(readdirSync(path.dirname(file)).filter((f) => f.startsWith(".dso-"))).toEqual([]);
            expect(existsSync(path.join(root, "systemctl.calls"))).toBe(false);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("without permission restarts nothing and says what to run", () => {
        const root = mkdtempSync(path.join(tmpdir(), "dso-restart-"));
        try {
            // A systemctl that says every unit is running and notes every call.
            mkdirSync(path.join(root, "bin"));
            writeFileSync(path.join(root, "bin", "systemctl"), `#!/bin/sh\necho "$*" >> "${root}/systemctl.calls"\n`, { mode: 0o755 });
            const text = script({
                flavour: "rke2",
                units: ["rke2-server", "rke2-agent"],
                settings: { ...settings, allow: false },
            });
            const r = spawnSync("sh", ["-c", text], {
                input: renderRegistriesEntries({ host: "registry.example.com", port: 443, plainHttp: false }),
                env: { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` },
                encoding: "utf8",
            });
            expect(r.status, r.stderr).toBe(0);
            expect(r.stdout).toContain(
                "/etc/rancher/k3s/registries.yaml changed: restart rke2-server or rke2-agent to apply it (dso-registry:nodes.allowServiceRestart is false)",
            );
            expect(existsSync(path.join(root, "systemctl.calls"))).toBe(false);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
