/**
 * The registry UI's origins for the headless-browser test (test/integration/registryUi.browser.test.ts):
 * what every placement's origin offers the test, and the kind placement's origin.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderOverlapMatchers, renderPreviousUsersFile, renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderKindCaddyfile } from "../../components/kind/front";
import { renderKindUiObjects } from "../../components/kind/ui";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import { pinnedCaddy } from "./caddyBinaries";
import { deployedRegistry } from "./distributionBinaries";
import { ingressLocations, ingressNginxConf, ingressRegexLocations } from "./ingress";
import { caddyEnv, makeAccount, makeDecoyHash, makePreviousAccount, type TestAccount, writeAuthFile } from "./realRegistry";
import { freePort, type RunResult, run, type ServerProcess, startServer, waitForPort } from "./serverProcess";

/** The stand-in UI's files (test/support/registryUiStandIn). */
export const UI_FILES = path.join(__dirname, "registryUiStandIn");

/** One origin of the UI and the registry's API, with the servers behind it. */
export interface Origin {
    /** "127.0.0.1:<port>": the Ingress's host as people and clients write it. */
    readonly authority: string;
    /** The origin the browser opens: "https://<authority>", or the kind UI's "http://localhost:<port>". */
    readonly base: string;
    /** curl's arguments to reach `base` (the CA, or where the UI's host name leads). */
    readonly curlArgs: readonly string[];
    /** The CA directory of skopeo's anonymous pull through `authority` (TLS origins only). */
    readonly certDir?: string;
    /** Chromium's arguments beyond the common ones. */
    readonly browserArgs: readonly string[];
    /** Pushes `src` as `ref` ("team/app:1") with the push account, as CI does. */
    pushImage(src: string, ref: string, scratch: string): RunResult;
    readonly push: TestAccount;
    readonly pull: TestAccount;
    readonly logs: () => string;
    stop(): Promise<void>;
}

/** The kind UI's host (`kind.ui.host`'s default, the same name as the front's on the Docker host) and the front's container name. */
const KIND_UI_HOST = "localhost";
const KIND_REGISTRY_NAME = "kind-registry";

/** What `writeKindFront` is told: the test's ports, the front's settings, and where Caddy listens. */
export interface KindFrontFiles {
    readonly frontPort: number;
    /** Distribution's port on 127.0.0.1. */
    readonly registryPort: number;
    readonly deletesEnabled: boolean;
    readonly ui?: { readonly host: string; readonly port: number };
    /** Caddy's addresses (its `default_bind`). */
    readonly bind: readonly string[];
    /** The scoped account was just rotated with an overlap of an hour: its previous password works too. */
    readonly overlap?: boolean;
}

/**
 * The kind front's files as the stack renders them, in `dir`: Distribution's config.yml (its storage in
 * `dir`/data), a push and a pull-only account in the users files, and the Caddyfile, whose container
 * paths become `dir`, whose Distribution becomes 127.0.0.1:`registryPort`, and which listens on `bind`.
 */
export function writeKindFront(dir: string, files: KindFrontFiles) {
    const push = makeAccount("ci-push");
    const pull = makeAccount("cluster-pull");
    // A push account scoped to team-a/ (containerRegistry.pushAccounts), beside the push account.
    const scoped = makeAccount("team-a-ci");
    const registryConfig = path.join(dir, "config.yml");
    writeFileSync(
        registryConfig,
        renderRegistryConfig({
            addr: `127.0.0.1:${files.registryPort}`,
            storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
            deletesEnabled: files.deletesEnabled,
            logLevel: "warn",
        }),
    );
    writeFileSync(path.join(dir, "users-push"), renderUsersFile("push", [push, scoped]), { mode: 0o600 });
    writeFileSync(path.join(dir, "users-pull"), renderUsersFile("pull", [pull]), { mode: 0o600 });
    // The overlap's files as the placement writes them (usersFileOutput.ts), the scoped account in its overlap.
    const rotated = files.overlap ? makePreviousAccount(scoped, 3600) : undefined;
    if (rotated) {
        const inOverlap = [{ username: scoped.username, previous: rotated.previous }];
        writeFileSync(path.join(dir, "users-push-previous"), renderPreviousUsersFile("push", inOverlap), { mode: 0o600 });
        writeFileSync(path.join(dir, "users-pull-previous"), renderPreviousUsersFile("pull", []), { mode: 0o600 });
        writeFileSync(path.join(dir, "overlap"), renderOverlapMatchers([...inOverlap, { username: push.username }]), { mode: 0o600 });
    }
    const rendered = renderKindCaddyfile({
        overlap: rotated !== undefined,
        registryName: KIND_REGISTRY_NAME,
        port: files.frontPort,
        distributionName: "distribution.invalid",
        requiresAuthForPull: false,
        deletesEnabled: files.deletesEnabled,
        ...(files.ui ? { ui: files.ui } : {}),
        decoy: { accounts: { push: [push.username, scoped.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
        scopedPushAccounts: [{ username: scoped.username, prefixes: ["team-a/"] }],
    });
    const bind = `default_bind ${files.bind.join(" ")}`;
    const caddyfileText = rendered
        .replaceAll("/etc/dso-registry/", `${dir}/`)
        .replaceAll("distribution.invalid:5000", `127.0.0.1:${files.registryPort}`)
        .replace("\n{\n", `\n{\n\t${bind}\n`);
    if (!caddyfileText.includes(`127.0.0.1:${files.registryPort}`) || !caddyfileText.includes(bind)) {
        throw new Error(`the kind front's Caddyfile did not take the test's addresses:\n${caddyfileText}`);
    }
    const caddyfile = path.join(dir, "Caddyfile");
    writeFileSync(caddyfile, caddyfileText);
    return { push, pull, scoped, ...(rotated ? { previousScoped: rotated.account } : {}), registryConfig, caddyfile };
}

/**
 * The kind placement: nginx from both of the kind UI's rendered Ingresses (`/registry/` → the UI's web
 * server, `/v2/` → the front) on localhost:<UI port>, as the Docker host publishes the cluster's ingress
 * controller (plain HTTP; the front names that origin, port included, as the realm for requests that
 * came by it, the UI calls it), and the front: real Caddy with the kind front's rendered Caddyfile on
 * localhost:<front port>, in front of real Distribution. Both origins are localhost: only their ports
 * tell them apart, as with the kind stack's 8080 and 5002.
 */
export async function startKindOrigin(dir: string): Promise<Origin> {
    const servers: ServerProcess[] = [];
    const stop = async () => {
        for (const s of servers.splice(0).reverse()) await s.stop();
    };
    try {
        mkdirSync(dir, { recursive: true });
        const [frontPort, registryPort, uiPort, ingressPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
        const uiOrigin = `${KIND_UI_HOST}:${ingressPort}`;
        const { push, pull, registryConfig, caddyfile } = writeKindFront(dir, {
            frontPort,
            registryPort,
            deletesEnabled: true,
            ui: { host: KIND_UI_HOST, port: ingressPort },
            bind: ["127.0.0.1"],
        });
        // The cluster's objects of the UI, as the kind stack renders them with registry.ui.enabled.
        const objects = renderKindUiObjects({
            namespace: "dso-registry-ui",
            host: KIND_UI_HOST,
            uiPort: ingressPort,
            ingressClass: "nginx",
            image: "joxit/docker-registry-ui:2.5.7",
            deleteEnabled: true,
            registryName: KIND_REGISTRY_NAME,
            port: frontPort,
        });
        const object = (kind: string, name: string): K8sObject => {
            const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
            if (!o) throw new Error(`no ${kind} ${name}`);
            return o;
        };
        const byName = (kind: string, name: string) => object(kind, name) as Record<string, any>;
        const uiRoot = path.join(dir, "ui");
        cpSync(UI_FILES, uiRoot, { recursive: true });
        // The settings of the UI's container, from its rendered Deployment.
        const env: Record<string, string> = Object.fromEntries(
            byName("Deployment", "registry-ui").spec.template.spec.containers[0].env.map((e: { name: string; value: string }) => [
                e.name,
                e.value,
            ]),
        );
        const uiConfig = {
            registryUrl: env.REGISTRY_URL,
            deleteImages: env.DELETE_IMAGES === "true",
            catalogElementsLimit: Number(env.CATALOG_ELEMENTS_LIMIT),
        };
        writeFileSync(path.join(uiRoot, "config.js"), `window.UI_CONFIG = ${JSON.stringify(uiConfig)};\n`);
        // The ExternalName Service names the front's container at its port: here the test's Caddy.
        const apiService = byName("Service", "registry-api");
        if (apiService.spec.externalName !== KIND_REGISTRY_NAME) throw new Error("the API's Service does not name the front");
        const services: Record<string, string> = {
            "registry-ui": `127.0.0.1:${uiPort}`,
            "registry-api": `127.0.0.1:${apiService.spec.ports[0].port}`,
        };
        const api = ingressLocations([object("Ingress", "registry-api")]);
        const nginxConf = path.join(dir, "nginx.conf");
        writeFileSync(
            nginxConf,
            ingressNginxConf({
                dir,
                listen: `127.0.0.1:${ingressPort}`,
                serverNames: byName("Ingress", "registry-ui").spec.rules.map((r: { host: string }) => r.host),
                upstream: services["registry-api"]!,
                http: api.http,
                locations: [
                    ...api.locations,
                    ...ingressRegexLocations(object("Ingress", "registry-ui"), (service) => {
                        const upstream = services[service];
                        if (!upstream) throw new Error(`no Service ${service}`);
                        return upstream;
                    }),
                ],
                staticSites: [{ listen: `127.0.0.1:${uiPort}`, root: uiRoot }],
            }),
        );
        servers.push(startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment }));
        servers.push(startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(dir)));
        servers.push(startServer("/usr/sbin/nginx", ["-c", nginxConf, "-e", path.join(dir, "nginx-error.log")]));
        const logs = () => servers.map((s) => s.output()).join("\n");
        for (const port of [registryPort, frontPort, ingressPort, uiPort]) {
            await waitForPort(port, 30_000, `port ${port}`).catch((e: Error) => {
                throw new Error(`${e.message}\n${logs()}`);
            });
        }
        // CI pushes on the Docker host, to the front at localhost:<port> (plain HTTP, the account in an auth file).
        const pushImage = (src: string, ref: string, scratch: string) =>
            run("skopeo", [
                "--insecure-policy",
                "copy",
                "--retry-times",
                "0",
                "--dest-tls-verify=false",
                "--dest-authfile",
                writeAuthFile(scratch, `localhost:${frontPort}`, push),
                src,
                `docker://localhost:${frontPort}/${ref}`,
            ]);
        return {
            authority: uiOrigin,
            base: `http://${uiOrigin}`,
            // Where nginx and the front listen: localhost's IPv4 address.
            curlArgs: ["--resolve", `${uiOrigin}:127.0.0.1`],
            browserArgs: [`--host-resolver-rules=MAP ${KIND_UI_HOST} 127.0.0.1`],
            pushImage,
            push,
            pull,
            logs,
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
