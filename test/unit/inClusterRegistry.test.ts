/**
 * The InClusterRegistry component under Pulumi's mocks: one instance per option set, all in one
 * runtime, each recognised by the prefix of its children's names.
 * Covers: components/inCluster/inClusterRegistry.ts, components/inCluster/sidecarFront.ts (the sidecar's
 * policy and Caddyfile), components/inCluster/issuerChain.ts (the chain),
 * components/accessPolicy/usersFileOutput.ts (the users files), components/shared/k8sResources.ts (each
 * object registered).
 */
import { beforeAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import {
    type MockRuntime,
    mockPassword,
    promiseOf,
    type RecordedResource,
    redactWireValue,
    settle,
    startMockRuntime,
} from "../../tools/mockRuntime";

const rtPromise = startMockRuntime({ stack: "test" });

import * as pulumi from "@pulumi/pulumi";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { RegistryAccounts } from "../../components/accounts/registryAccounts";
import { parseConfig } from "../../components/config";
import { decide } from "../../components/config/decisions";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { InClusterRegistry } from "../../components/inCluster/inClusterRegistry";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import type { InClusterRegistryArgs } from "../../components/inCluster/registryArgs";
import { RETENTION_COUNTS } from "../../components/inCluster/retentionCounts";
import { renderSidecarCaddyfile, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { inClusterRegistryArgs } from "../../components/stack/inCluster";
import { inClusterTls } from "../../components/stack/tls";
import { podTemplates, restrictedPodProblems, schemaProblems } from "../support/k8sValidate";

type Variant = {
    /** Stack config overrides of `dso-registry:registry` and `containerRegistry`. */
    registry?: Record<string, unknown>;
    containerRegistry?: Record<string, unknown>;
    certManager?: boolean;
    /** cert-manager with the program's own issuer chain. */
    chain?: boolean;
    pullAccount?: boolean;
    suppliedPushPassword?: string;
    /** Args the config does not decide here (tag retention, monitoring). */
    args?: Partial<InClusterRegistryArgs>;
};

const RETENTION_ARGS: Partial<InClusterRegistryArgs> = {
    retention: { mode: "apply", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] },
    monitoring: { prometheusOperator: false, runbookBaseUrl: "docs/runbooks.md" },
};

const variants: Record<string, Variant> = {
    plain: {},
    ui: { registry: { ui: { enabled: true, deleteEnabled: true } } },
    gc: { registry: { maintenance: { garbageCollection: { enabled: true, schedule: "0 5 * * 0", deleteUntagged: true } } } },
    s3: {
        registry: { replicas: 3, storage: { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.lab.local" } } },
    },
    s3gc: {
        registry: {
            replicas: 2,
            storage: { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.lab.local" } },
            maintenance: { garbageCollection: { enabled: true } },
        },
    },
    certmgr: {
        registry: { tls: { mode: "cert-manager", certManagerIssuer: { kind: "ClusterIssuer", name: "lab-ca" } } },
        certManager: true,
    },
    chain: { registry: { tls: { mode: "cert-manager" } }, chain: true },
    retention: { registry: { maintenance: { garbageCollection: { enabled: true } } }, args: RETENTION_ARGS },
    authpull: {
        containerRegistry: { requiresAuthForPull: true },
        pullAccount: true,
        suppliedPushPassword: "push-password-for-test",
    },
};

function configFor(v: Variant, options = { allowMissingSecrets: true }) {
    const { config } = parseConfig(
        {
            containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c", ...v.containerRegistry },
            // ingress-nginx ("public") takes the login limit with its open routes accepted.
            registry: { mode: "in-cluster", loginLimit: { allowUnlimitedCredentialRequests: true }, ...v.registry },
            inCluster: { ingressClass: "public" },
            // Reads that need credentials are refused unless something that pulls gets them.
            ...(v.pullAccount ? { pullSecrets: { namespaces: ["apps"] } } : {}),
        },
        {},
        options,
    );
    return config;
}

/** Stand-ins for the secrets a variant's config needs (the object store's keys). */
const SECRETS = { s3AccessKeyId: pulumi.output("AKID-FOR-TEST"), s3SecretAccessKey: pulumi.output("S3-SECRET-FOR-TEST") };

/**
 * The component's args for a variant: the stack's own mapping of its config (components/stack/inCluster.ts), with
 * the certificate's source the stack would take (a stand-in of the generated certificate), then the variant's args.
 */
function argsFor(v: Variant, accounts: RegistryAccounts): InClusterRegistryArgs {
    const config = configFor(v);
    const registry = config.registry;
    if (registry.mode !== "in-cluster") throw new Error(`variant ${JSON.stringify(v)} is not in-cluster`);
    const cfg = { ...config, registry, secrets: SECRETS, warnings: [], placeholders: [] };
    const tls: InClusterRegistryArgs["tls"] =
        registry.tls.mode === "cert-manager"
            ? inClusterTls(cfg, registry.tls).args
            : { kind: "secret", certPem: "CERT-PEM", keyPem: "KEY-PEM-FOR-TEST" };
    return { ...inClusterRegistryArgs(cfg, decide(config), { accounts, tls }), ...v.args };
}

let rt: MockRuntime;
const components = new Map<string, InClusterRegistry>();

beforeAll(async () => {
    rt = await rtPromise;
    for (const [name, v] of Object.entries(variants)) {
        const accounts = new RegistryAccounts(`${name}-accounts`, {
            push: { username: "ci-push", password: v.suppliedPushPassword },
            pull: v.pullAccount ? { username: "cluster-pull" } : undefined,
            rotation: "1",
        });
        components.set(name, new InClusterRegistry(name, argsFor(v, accounts)));
    }
    await settle();
});

/** Inputs with secret wrappers removed: what the API server would receive. */
const unwrap = (value: unknown): any => redactWireValue(value, (secret) => secret);

/** The Kubernetes objects one instance registered, as the API server would receive them. */
function objectsOf(variant: string): (K8sObject & Record<string, any>)[] {
    return rt.resources
        .filter((r) => r.custom && r.type.startsWith("kubernetes:") && r.name.startsWith(`${variant}-`))
        .map((r) => unwrap(r.rawInputs) as K8sObject & Record<string, any>);
}

function recorded(variant: string, kind: string, name: string): RecordedResource {
    return rt.byName(`${variant}-${kind.toLowerCase()}-${name}`);
}

function raw(variant: string, kind: string, name: string): any {
    return unwrap(recorded(variant, kind, name).rawInputs);
}

describe.each(Object.keys(variants))("variant %s", (variant) => {
    test("every registered object is valid against the Kubernetes API schema", async () => {
        const objects = objectsOf(variant);
        expect(objects.length).toBeGreaterThan(8);
        expect((await Promise.all(objects.map((o) => schemaProblems(o)))).flat()).toEqual([]);
    });

    test("every pod template meets the restricted Pod Security Standard", () => {
        const templates = podTemplates(objectsOf(variant));
        expect(templates.flatMap((t) => restrictedPodProblems(t.spec))).toEqual([]);
    });

    test("every Secret's data is secret in state", () => {
        const secrets = rt.resources.filter((r) => r.type === "kubernetes:core/v1:Secret" && r.name.startsWith(`${variant}-`));
        expect(secrets.length).toBeGreaterThanOrEqual(2);
        expect(secrets.filter((s) => s.inputs.stringData !== "[secret]").map((s) => s.name)).toEqual([]);
    });

    test("tlsServiceClusterIp is the ClusterIP of Service registry-tls", async () => {
        const service = recorded(variant, "Service", "registry-tls");
        const clusterIp = (service.state.spec as Record<string, unknown>).clusterIP;
        expect(clusterIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        expect(await promiseOf(components.get(variant)!.tlsServiceClusterIp)).toBe(clusterIp);
    });

    test("every child is parented to the component", () => {
        const component = rt.ofType("dso-registry:inCluster:InClusterRegistry").find((r) => r.name === variant)!;
        const children = rt.resources.filter((r) => r.type.startsWith("kubernetes:") && r.name.startsWith(`${variant}-`));
        expect(children.filter((c) => c.parentUrn !== component.urn).map((c) => c.name)).toEqual([]);
    });
});

describe("default objects (PVC, generated CA, no UI, no GC; the stack's default monitoring, login limit and disk guard)", () => {
    test("explicit names, no suffixes", () => {
        const names = objectsOf("plain").map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
        expect(names.sort()).toEqual(
            [
                "ConfigMap/dso/dso-registry-alert-rules",
                "ConfigMap/dso/registry-certificate-probe",
                "Deployment/dso/registry-certificate-probe",
                "Ingress/dso/registry-login",
                "ConfigMap/dso/registry-config",
                "ConfigMap/kube-public/local-registry-hosting",
                "Deployment/dso/registry",
                "Ingress/dso/registry",
                "Namespace//dso",
                "PersistentVolumeClaim/dso/registry-data",
                "Secret/dso/registry-htpasswd",
                "Secret/dso/registry-http-secret",
                "Secret/dso/registry-tls",
                "Service/dso/registry",
                "Service/dso/registry-tls",
                "ServiceAccount/dso/registry",
            ].sort(),
        );
    });

    test("the TLS Secret carries the server certificate and key", () => {
        expect(raw("plain", "Secret", "registry-tls").stringData).toEqual({ "tls.crt": "CERT-PEM", "tls.key": "KEY-PEM-FOR-TEST" });
    });

    test("the Caddyfile is the shared policy, on plain HTTP for any host name, with the users files imported", () => {
        const caddyfile: string = raw("plain", "ConfigMap", "registry-config").data.Caddyfile;
        expect(caddyfile).toContain("http://:5000 {");
        expect(caddyfile).toContain("import /etc/dso-registry/users/push");
        expect(caddyfile).toContain("reverse_proxy 127.0.0.1:5001");
        expect(caddyfile).not.toContain("@read");
    });

    test.each([
        ["plain", true],
        ["s3", false],
    ])("the %s variant's Caddyfile serves blob downloads from the PVC: %s", (variant, expected) => {
        const caddyfile: string = raw(variant, "ConfigMap", "registry-config").data.Caddyfile;
        expect(caddyfile.includes("root /var/lib/registry/docker/registry/v2")).toBe(expected);
    });

    test("Distribution listens on loopback inside the pod and stores on the PVC", () => {
        const config: string = raw("plain", "ConfigMap", "registry-config").data["config.yml"];
        expect(config).toContain('addr: "127.0.0.1:5001"');
        expect(config).toContain('rootdirectory: "/var/lib/registry"');
    });

    test("the http.secret is generated once for the registry and is secret", () => {
        expect(rt.byName("plain-http-secret").type).toBe("random:index/randomPassword:RandomPassword");
        expect(recorded("plain", "Secret", "registry-http-secret").inputs.stringData).toBe("[secret]");
    });

    test("a change of the users files changes the pod template's checksum", () => {
        const checksum = (v: string) => raw(v, "Deployment", "registry").spec.template.metadata.annotations["dso-registry/config-checksum"];
        expect(checksum("plain")).toMatch(/^[0-9a-f]{64}$/);
        expect(checksum("authpull")).toMatch(/^[0-9a-f]{64}$/);
        expect(checksum("plain")).not.toBe(checksum("authpull"));
    });

    test.each(Object.keys(variants))("%s: the namespace enforces the restricted standard (no privileged pod shares it)", (name) => {
        expect(raw(name, "Namespace", "dso").metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    });
});

describe("options", () => {
    test("requiresAuthForPull: reads need an account, and the pull-only account is in the pull users file", () => {
        const caddyfile: string = raw("authpull", "ConfigMap", "registry-config").data.Caddyfile;
        expect(caddyfile).toContain("@read method GET HEAD");
        const users = raw("authpull", "Secret", "registry-htpasswd").stringData;
        expect(users.push).toMatch(/^ci-push \$2[aby]\$\d\d\$/m);
        expect(users.pull).toMatch(/^cluster-pull \$2[aby]\$\d\d\$/m);
        expect(users.pull).not.toContain(mockPassword("authpull-accounts-pull"));
        expect(users.htpasswd).toMatch(/^ci-push:\$2[aby]\$/m);
        expect(users.push).not.toContain("push-password-for-test");
    });

    test("UI: a Deployment of its own behind its own Ingress, never in the registry's pod or its Caddyfile; deletes allowed in Distribution and the policy", () => {
        const caddyfile: string = raw("ui", "ConfigMap", "registry-config").data.Caddyfile;
        expect(caddyfile).not.toContain("8081");
        expect(caddyfile).not.toContain("@delete method DELETE");
        expect(raw("ui", "ConfigMap", "registry-config").data["config.yml"]).toMatch(/delete:\n\s+enabled: true/);
        const containers = raw("ui", "Deployment", "registry").spec.template.spec.containers.map((c: any) => c.name);
        // The UI adds no container to the registry's pod (the disk guard is the stack's default).
        expect(containers).toEqual(["caddy", "registry", "disk-guard"]);
        for (const kind of ["Deployment", "Service", "Ingress"]) expect(recorded("ui", kind, "registry-ui")).toBeDefined();
    });

    test("no UI: deletes refused by the policy and by Distribution", () => {
        expect(raw("plain", "ConfigMap", "registry-config").data.Caddyfile).toContain("@delete method DELETE");
        expect(raw("plain", "ConfigMap", "registry-config").data["config.yml"]).toMatch(/delete:\n\s+enabled: false/);
    });

    test("GC: CronJob, its ServiceAccount, Role and RoleBinding", () => {
        expect(raw("gc", "CronJob", "registry-gc").spec.schedule).toBe("0 5 * * 0");
        for (const kind of ["ServiceAccount", "Role", "RoleBinding"]) expect(recorded("gc", kind, "registry-gc")).toBeDefined();
        expect(objectsOf("plain").filter((o) => o.kind === "CronJob")).toEqual([]);
    });

    test.each([
        ["plain", "no GC: Distribution keeps its blob cache, no GC marker", true, false],
        ["gc", "GC in the front's window (one pod): no blob cache (nothing restarts to empty it), the GC's marker watched", false, true],
        ["s3gc", "GC that rolls the pods (s3, two replicas): the cache stays (the rollouts empty it), no marker", true, false],
    ])("%s: %s", (variant, _name, cached, marker) => {
        const data = raw(variant, "ConfigMap", "registry-config").data;
        expect(YAML.parse(data["config.yml"]).storage.cache).toEqual(cached ? { blobdescriptor: "inmemory" } : undefined);
        expect(data.Caddyfile.includes(`try_files ${READ_ONLY_SIGNAL.gcMarker}`)).toBe(marker);
    });

    test.each([
        ["retention", "retention rules, monitoring and GC in the front's window: served", true],
        ["gc", "GC without retention: not served", false],
    ])("tag retention's counts in the pod, %s: %s", (variant, _name, served) => {
        const data = raw(variant, "ConfigMap", "registry-config").data;
        expect(data.Caddyfile.includes(`path ${RETENTION_COUNTS.path}`)).toBe(served);
        const volumes = raw(variant, "Deployment", "registry").spec.template.spec.volumes.map((v: { name: string }) => v.name);
        expect(volumes.includes(RETENTION_COUNTS.volume)).toBe(served);
        if (served) expect(data[IN_CLUSTER.retentionScript]).toContain(`\nTEXTFILE_DIR='${RETENTION_COUNTS.dir}'\n`);
    });

    test("s3: bucket settings in config.yml, credentials only in the registry-s3 Secret, no PVC", () => {
        const config: string = raw("s3", "ConfigMap", "registry-config").data["config.yml"];
        expect(config).toContain('bucket: "dso-images"');
        expect(config).toContain('regionendpoint: "https://minio.lab.local"');
        expect(JSON.stringify(objectsOf("s3").filter((o) => o.kind !== "Secret"))).not.toMatch(/AKID-FOR-TEST|S3-SECRET-FOR-TEST/);
        expect(raw("s3", "Secret", "registry-s3").stringData).toEqual({
            accessKeyId: "AKID-FOR-TEST",
            secretAccessKey: "S3-SECRET-FOR-TEST",
        });
        expect(objectsOf("s3").filter((o) => o.kind === "PersistentVolumeClaim")).toEqual([]);
    });

    test("replicas: 3 replicas and a disruption budget; one replica has none", () => {
        expect(raw("s3", "Deployment", "registry").spec.replicas).toBe(3);
        expect(raw("s3", "PodDisruptionBudget", "registry").spec.maxUnavailable).toBe(1);
        expect(objectsOf("plain").filter((o) => o.kind === "PodDisruptionBudget")).toEqual([]);
    });

    test("cert-manager: the ingress names the issuer and no TLS Secret is ours", () => {
        expect(raw("certmgr", "Ingress", "registry").metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("lab-ca");
        expect(objectsOf("certmgr").filter((o) => o.kind === "Secret" && o.metadata.name === "registry-tls")).toEqual([]);
        // The operator's issuer: the program does not know its CA.
        expect(components.get("certmgr")?.caCertPem).toBeUndefined();
    });

    test("cert-manager's chain: the component creates it, and reads its CA from cert-manager's Secret", async () => {
        const chain = objectsOf("chain").filter((o) => o.apiVersion === "cert-manager.io/v1");
        expect(chain.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
            "Certificate/dso-registry-ca",
            "Certificate/registry-tls",
            "Issuer/dso-registry-ca",
            "Issuer/dso-registry-selfsigned",
        ]);
        // The mock's read of Secret dso/dso-registry-ca finds a placeholder certificate (tools/mockRuntime.ts
        // mockReadState); the component hands back what the Secret holds. The order (the read after the CA
        // is Ready) is the engine tier's to prove: test/engine/certManagerChain.test.ts.
        const ca = components.get("chain")?.caCertPem;
        expect(ca).toBeDefined();
        expect(await promiseOf(ca!)).toBe("[unknown]");
        expect(objectsOf("chain").filter((o) => o.kind === "Secret" && o.metadata.name === "registry-tls")).toEqual([]);
        // The registry's pods start once cert-manager has issued: Caddy reads the Secret at start.
        const dependencies = recorded("chain", "Deployment", "registry").dependencies;
        expect(dependencies).toContain(recorded("chain", "Certificate", "registry-tls").urn);
        expect(dependencies).toContain(recorded("chain", "Certificate", "dso-registry-ca").urn);
        // The Ingress after the TLS Secret's Certificate and the Services it routes to (a controller reads it at once).
        const ingress = recorded("chain", "Ingress", "registry").dependencies;
        expect(ingress).toContain(recorded("chain", "Certificate", "registry-tls").urn);
        expect(ingress).toContain(recorded("chain", "Service", "registry").urn);
    });
});

describe("validation", () => {
    test("s3 without credentials is refused with the command that fixes it", () => {
        expect(() => configFor(variants.s3!, { allowMissingSecrets: false })).toThrow(
            /pulumi config set --secret dso-registry:s3AccessKeyId/,
        );
    });

    test.each(["[secret]", "[unknown]", "{SHA}abc", ""])(
        "the users files refuse %j where a bcrypt hash belongs, under mocks as for real",
        (hash) => {
            expect(() => renderUsersFile("push", [{ username: "ci-push", bcryptHash: hash }])).toThrow(/not a bcrypt hash/);
        },
    );

    test.each([
        ["filesystem", "/var/lib/registry"],
        ["s3", undefined],
    ] as const)("with %s storage the sidecar's blob shortcut reads %s", (storage, blobFiles) => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage,
        });
        expect(policy.blobFiles).toBe(blobFiles);
        expect(renderSidecarCaddyfile(policy).includes("route @blob")).toBe(blobFiles !== undefined);
    });

    test.each([
        [443, "{dso_client_scheme}://registry-dso.jmann.local/v2/token"],
        [8443, "{dso_client_scheme}://registry-dso.jmann.local:8443/v2/token"],
    ])("the token realm is the address clients write, port %i", (port, realm) => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            port,
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: "filesystem",
        });
        expect(renderSidecarCaddyfile(policy)).toContain(`realm="${realm}"`);
    });

    test("behind a Gateway the plain-HTTP site enforces the allowlist on the client a trusted proxy names; the TLS site has none", () => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: "filesystem",
            gateway: { proxyNetworks: ["10.42.0.0/16"], uiService: "registry-ui.dso.svc:80" },
            allowedNetworks: ["192.0.2.0/24"],
        });
        const text = renderSidecarCaddyfile(policy, { port: 8443, certFile: "/c/tls.crt", keyFile: "/c/tls.key" });
        const [globals = "", rest = ""] = text.split("\nhttp://:5000 {\n");
        expect(globals).toContain("\t\ttrusted_proxies static 10.42.0.0/16\n\t\ttrusted_proxies_strict\n");
        const [plain = "", secure] = rest.split("\nregistry-dso.jmann.local:8443 {\n");
        expect(plain).toContain("\t@outside not client_ip 192.0.2.0/24\n");
        // The allowlist's refusal comes before the web UI's path, which the front serves from the UI's Service.
        expect(plain.indexOf("respond @outside")).toBeGreaterThan(0);
        expect(plain.indexOf("respond @outside")).toBeLessThan(plain.indexOf("reverse_proxy registry-ui.dso.svc:80"));
        expect(plain).not.toContain("remote_ip");
        expect(secure).not.toContain("@outside");
    });

    test("behind an Ingress the sidecar enforces no allowlist and trusts no proxy (the controller enforces it)", () => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: "filesystem",
        });
        const text = renderSidecarCaddyfile(policy, { port: 8443, certFile: "/c/tls.crt", keyFile: "/c/tls.key" });
        expect(text).not.toContain("@outside");
        expect(text).not.toContain("trusted_proxies");
    });

    test("with a TLS listener the sidecar serves the same policy on a second, TLS site with the given certificate", () => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            requiresAuthForPull: true,
            deletesEnabled: false,
            storage: "filesystem",
        });
        const text = renderSidecarCaddyfile(policy, { port: 8443, certFile: "/c/tls.crt", keyFile: "/c/tls.key" });
        const sites = text.split("\n").filter((l) => /^\S.* \{$/.test(l));
        expect(sites).toEqual(["http://:5000 {", "registry-dso.jmann.local:8443 {"]);
        const [plain, secure] = text.split("\nregistry-dso.jmann.local:8443 {\n");
        expect(secure).toContain("\ttls /c/tls.crt /c/tls.key\n");
        expect(plain).not.toContain("\ttls ");
        // The same rules in both: every basicauth line of one is in the other.
        const rules = (s: string) => s.split("\n").filter((l) => l.includes("basicauth") || l.includes("respond @"));
        expect(rules(secure!)).toEqual(rules(plain!.slice(plain!.indexOf("http://:5000 {"))));
        expect(text.match(/^\tauto_https .*/gm)).toEqual(["\tauto_https disable_redirects"]);
        // Pods that push through Service registry-tls get HTTP/1.1 (uploads through Caddy run slower over HTTP/2).
        expect(text.match(/^\t\tprotocols .*/gm)).toEqual(["\t\tprotocols h1"]);
        expect(text).not.toContain("write_max_chunk");
    });

    const env = { kind: "env", name: IN_CLUSTER.readOnlyEnv } as const;
    const gcMarker = { kind: "file", path: READ_ONLY_SIGNAL.gcMarker } as const;
    const backupMarker = { kind: "file", path: IN_CLUSTER_BACKUP.marker } as const;
    test.each([
        ["no GC, no backups: the switch only", undefined, false, [env], ""],
        ["GC that rolls the pods, no backups: the switch only", "rollout", false, [env], ""],
        ["GC in the front's window: the switch and the GC's marker", "marker", false, [env, gcMarker], READ_ONLY_SIGNAL.gcMarker],
        ["backups: the switch and the backup's marker", undefined, true, [env, backupMarker], IN_CLUSTER_BACKUP.marker],
        [
            "GC in the front's window and backups: the switch and both markers, in one matcher",
            "marker",
            true,
            [env, gcMarker, backupMarker],
            `${READ_ONLY_SIGNAL.gcMarker} ${IN_CLUSTER_BACKUP.marker}`,
        ],
    ] as const)("the sidecar's read-only signals: %s", (_name, gcWindow, backup, signals, files) => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: "filesystem",
            backup,
            ...(gcWindow ? { gcWindow } : {}),
        });
        expect(policy.readOnlySignals).toEqual(signals);
        const tryFiles = renderSidecarCaddyfile(policy).match(/try_files (\/run\/\S.*)$/m)?.[1] ?? "";
        expect(tryFiles).toBe(files);
    });

    test("the sidecar's site line is found in the shared renderer's output", () => {
        const policy = sidecarPolicy({
            host: "registry-dso.jmann.local",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: "filesystem",
        });
        expect(renderSidecarCaddyfile(policy).split("\n")).toContain("http://:5000 {");
    });
});
