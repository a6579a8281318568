/**
 * The settings the program reads, narrowed once by registry.mode (`toSettings`, alone: the stack file
 * in its mode's shape in, the settings out): each mode carries what its shape takes and nothing else,
 * so kind has no certificate and an existing registry no image, storage, UI or upkeep.
 */
import { describe, expect, it } from "vitest";
import type { RegistrySettings } from "../../components/config";
import { MODE_SHAPES, REGISTRY_MODES, type RegistryMode } from "../../components/config/modeShapes";
import { toSettings } from "../../components/config/settings";

type Raw = Record<string, unknown>;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheSettingsTest";
const PEM = "-----BEGIN CERTIFICATE-----\nMIIBsettingsTest\n-----END CERTIFICATE-----\n";

/** The smallest stack file of each mode (the TLS mode written out where the mode has one, as the catalogue's view reads it). */
const STACKS: Record<RegistryMode, () => Raw> = {
    "in-cluster": () => ({ containerRegistry: { host: "registry.example.test", pathPrefix: "" }, registry: { mode: "in-cluster" } }),
    "external-host": () => ({
        containerRegistry: { host: "registry.example.test", pathPrefix: "" },
        registry: { mode: "external-host" },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } },
    }),
    kind: () => ({ containerRegistry: { host: "localhost", port: 5002, pathPrefix: "" }, registry: { mode: "kind" } }),
    existing: () => ({
        containerRegistry: { host: "registry.corp.example.test", pathPrefix: "" },
        registry: { mode: "existing", tls: { mode: "public" } },
    }),
};

/** `toSettings` of a stack file in its mode's shape, as parseConfig hands it over. */
function settingsOf(mode: RegistryMode, registry: Raw = {}, rest: Raw = {}): RegistrySettings {
    const raw = STACKS[mode]();
    const stack = { ...raw, ...rest, registry: { ...(raw.registry as Raw), ...registry } };
    return toSettings(MODE_SHAPES[mode].parse(stack)).registry;
}

describe("toSettings narrows the registry's settings once, by registry.mode", () => {
    it.each([
        [
            "in-cluster",
            [
                "allowedNetworks",
                "caddyImage",
                "diskGuard",
                "image",
                "inCluster",
                "loginLimit",
                "maintenance",
                "mirrors",
                "mode",
                "monitoring",
                "replicas",
                "storage",
                "tls",
                "ui",
            ],
        ],
        [
            "external-host",
            [
                "allowedNetworks",
                "caddyImage",
                "diskGuard",
                "externalHost",
                "image",
                "loginLimit",
                "maintenance",
                "mirrors",
                "mode",
                "monitoring",
                "storage",
                "tls",
                "ui",
            ],
        ],
        ["kind", ["caddyImage", "diskGuard", "image", "kind", "maintenance", "mirrors", "mode", "ui"]],
        ["existing", ["existing", "mode", "tls"]],
    ] as const)("mode %s carries exactly %j", (mode, keys) => {
        const registry = settingsOf(mode);
        expect(registry.mode).toBe(mode);
        expect(Object.keys(registry).sort()).toEqual([...keys]);
    });

    it.each(["kind", "existing"] as const)("gives mode %s no storage, and an existing registry no image or UI either", (mode) => {
        const registry = settingsOf(mode);
        expect("storage" in registry).toBe(false);
        expect(["image" in registry, "caddyImage" in registry, "ui" in registry]).toEqual(
            mode === "existing" ? [false, false, false] : [true, true, true],
        );
    });

    it("gives kind its upkeep without backups, and no certificate (plain HTTP)", () => {
        const registry = settingsOf("kind", { maintenance: { garbageCollection: { enabled: true } } });
        if (registry.mode !== "kind") throw new Error("not kind");
        expect(Object.keys(registry.maintenance).sort()).toEqual(["garbageCollection", "retention"]);
        expect(registry.maintenance.garbageCollection.enabled).toBe(true);
        expect("tls" in registry).toBe(false);
    });

    it("gives an existing registry its CA and public TLS, nothing of a registry the program runs", () => {
        expect(settingsOf("existing", {}, { existing: { caCertificate: PEM } })).toEqual({
            mode: "existing",
            tls: { mode: "public" },
            existing: { caCertificate: PEM },
        });
    });

    it.each(REGISTRY_MODES.filter((m) => m !== "existing"))("gives mode %s the web UI's block, its defaults filled in", (mode) => {
        const off = settingsOf(mode);
        const on = settingsOf(mode, { ui: { enabled: true } });
        if (off.mode === "existing" || on.mode === "existing") throw new Error("existing");
        // Off, the UI's image is no setting of the stack's: only deletes through the API are decided.
        expect(off.ui).toEqual({ enabled: false, deleteEnabled: false });
        expect(on.ui).toEqual({ enabled: true, image: "joxit/docker-registry-ui:2.6.0", deleteEnabled: false });
    });

    it("takes each placement's storage from its own shape: a claim in the cluster, a directory on the host", () => {
        const inCluster = settingsOf("in-cluster", { storage: { storageClass: "fast" } });
        const host = settingsOf("external-host");
        expect(inCluster.mode === "in-cluster" && inCluster.storage).toEqual({ kind: "filesystem", size: "20Gi", storageClass: "fast" });
        expect(host.mode === "external-host" && host.storage).toEqual({ kind: "filesystem" });
        const s3 = settingsOf("external-host", { storage: { kind: "s3", s3: { bucket: "images" } } });
        expect(s3.mode === "external-host" && s3.storage).toMatchObject({ kind: "s3", s3: { bucket: "images" } });
    });

    it("takes each placement's metrics and login limit from its own shape: the controller's rate in the cluster, fail2ban on the host", () => {
        const inCluster = settingsOf("in-cluster");
        const host = settingsOf("external-host");
        if (inCluster.mode !== "in-cluster" || host.mode !== "external-host") throw new Error("modes");
        expect(inCluster.loginLimit).toEqual({
            enabled: true,
            tokenRequestsPerMinute: 60,
            credentialRequestsPerMinute: 300,
            ignoreNetworks: [],
            allowUnlimitedCredentialRequests: false,
        });
        expect(host.loginLimit).toEqual({ enabled: true, maxRetry: 10, findTimeSeconds: 600, banTimeSeconds: 3600, ignoreNetworks: [] });
        expect(inCluster.monitoring).toEqual({
            enabled: true,
            prometheusOperator: false,
            runbookBaseUrl: "docs/runbooks.md",
            probeImage: "prom/blackbox-exporter:v0.28.0",
        });
        expect(host.monitoring).toEqual({ enabled: true, runbookBaseUrl: "docs/runbooks.md" });
        const off = settingsOf("in-cluster", { loginLimit: { enabled: false }, monitoring: { enabled: false } });
        expect(off.mode === "in-cluster" && [off.loginLimit, off.monitoring]).toEqual([{ enabled: false }, { enabled: false }]);
    });

    it("leaves out an optional setting the stack file leaves out, and carries it where it is set", () => {
        const bare = settingsOf("kind");
        expect(["mirrorPull" in bare, "distributionConfig" in bare]).toEqual([false, false]);
        const set = settingsOf("kind", {
            mirrors: [{ upstream: "docker.io" }],
            mirrorPull: "anonymous",
            distributionConfig: { log: { level: "debug" } },
        });
        expect(set).toMatchObject({ mirrorPull: "anonymous", distributionConfig: { log: { level: "debug" } } });
    });
});
