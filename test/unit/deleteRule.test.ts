/**
 * One delete rule for both placements: push accounts may DELETE manifests exactly when the UI's delete
 * button or garbage collection needs it (the seed workflow: delete a manifest, then collect). Checked
 * on what each placement's synth writes: Distribution's `storage.delete.enabled` and the Caddy policy's
 * 405 for DELETE, for every combination of the settings, in the cluster and on the external host.
 */
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { PROJECT } from "../../components/config";
import { synthesizeConfig } from "../../tools/synth";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheDeleteRuleTest";

const placements = {
    "in-cluster": {
        registry: { mode: "in-cluster" },
        files: { config: "k8s/dso/ConfigMap-registry-config.yaml", caddyfile: "k8s/dso/ConfigMap-registry-config.yaml" },
    },
    "external-host": {
        registry: { mode: "external-host" },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } },
        files: { config: "hosts/10.0.0.5/etc/dso-registry/config.yml", caddyfile: "hosts/10.0.0.5/etc/caddy/Caddyfile" },
    },
} as const;

/** What one placement does with DELETE: Distribution's switch, and whether the policy refuses it first. */
async function deletes(placement: keyof typeof placements, ui: { enabled: boolean; deleteEnabled: boolean }, gc: boolean) {
    const p = placements[placement];
    const raw: Record<string, unknown> = {
        containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
        registry: { ...p.registry, ui, maintenance: { garbageCollection: { enabled: gc } } },
        ...("externalHost" in p ? { externalHost: p.externalHost } : {}),
    };
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, JSON.stringify(v)]));
    const { files } = await synthesizeConfig("delete-rule", { config, secretKeys: [] });
    const text = (file: string) => files.get(file) ?? expect.fail(`no ${file} in the synth`);
    const configMap = placement === "in-cluster" ? (YAML.parse(text(p.files.config)) as { data: Record<string, string> }) : undefined;
    const registryConfig = YAML.parse(configMap ? configMap.data["config.yml"]! : text(p.files.config)) as {
        storage: { delete: { enabled: boolean } };
    };
    const caddyfile = configMap ? configMap.data.Caddyfile! : text(p.files.caddyfile);
    return { distribution: registryConfig.storage.delete.enabled, policyRefuses: /respond @delete .* 405/.test(caddyfile) };
}

const combinations = [false, true].flatMap((uiEnabled) =>
    [false, true].flatMap((deleteEnabled) => [false, true].map((gc) => ({ uiEnabled, deleteEnabled, gc }))),
);

describe.each(Object.keys(placements) as (keyof typeof placements)[])("%s", (placement) => {
    it.each(combinations)(
        "ui.enabled $uiEnabled, ui.deleteEnabled $deleteEnabled, garbage collection $gc",
        async ({ uiEnabled, deleteEnabled, gc }) => {
            const allowed = deleteEnabled || gc;
            expect(await deletes(placement, { enabled: uiEnabled, deleteEnabled }, gc)).toEqual({
                distribution: allowed,
                policyRefuses: !allowed,
            });
        },
    );
});
