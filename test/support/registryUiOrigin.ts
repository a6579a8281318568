/**
 * The registry UI's origins for the headless-browser test (test/integration/registryUi.browser.test.ts):
 * what every placement's origin offers the test, and the kind placement's origin.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderOverlapMatchers, renderPreviousUsersFile, renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderKindCaddyfile } from "../../components/kind/front";
import { kindUiEnvironment, kindUiUpstream } from "../../components/kind/ui";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "./caddyBinaries";
import { deployedRegistry } from "./distributionBinaries";
import { caddyEnv, makeAccount, makeDecoyHash, makePreviousAccount, type TestAccount, writeAuthFile } from "./realRegistry";
import { freePort, type RunResult, run, type ServerProcess, startServer, waitForPort } from "./serverProcess";

/** The stand-in UI's files (test/support/registryUiStandIn). */
export const UI_FILES = path.join(__dirname, "registryUiStandIn");

/** One origin of the UI and the registry's API, with the servers behind it. */
export interface Origin {
    /** "127.0.0.1:<port>": the Ingress's host as people and clients write it; kind's front, "localhost:<port>". */
    readonly authority: string;
    /** The origin the browser opens: "https://<authority>", or kind's front "http://localhost:<port>". */
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

/** The front's container name on the kind network (`kind.containerName`'s default). */
const KIND_REGISTRY_NAME = "kind-registry";

/** What `writeKindFront` is told: the test's ports, the front's settings, and where Caddy listens. */
export interface KindFrontFiles {
    readonly frontPort: number;
    /** Distribution's port on 127.0.0.1. */
    readonly registryPort: number;
    readonly deletesEnabled: boolean;
    /** With the web UI: the port on 127.0.0.1 where the UI's files are served, which stands for its container. */
    readonly uiPort?: number;
    /** Caddy's addresses (its `default_bind`). */
    readonly bind: readonly string[];
    /** The scoped account was just rotated with an overlap of an hour: its previous password works too. */
    readonly overlap?: boolean;
}

/**
 * The kind front's files as the stack renders them, in `dir`: Distribution's config.yml (its storage in
 * `dir`/data), a push and a pull-only account in the users files, and the Caddyfile, whose container
 * paths become `dir`, whose Distribution becomes 127.0.0.1:`registryPort` (the UI's container 127.0.0.1:`uiPort`),
 * and which listens on `bind`.
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
        ...(files.uiPort ? { uiUpstream: kindUiUpstream(KIND_LAYOUT(files.frontPort)) } : {}),
        decoy: { accounts: { push: [push.username, scoped.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
        scopedPushAccounts: [{ username: scoped.username, prefixes: ["team-a/"] }],
    });
    const bind = `default_bind ${files.bind.join(" ")}`;
    const ui = files.uiPort ? kindUiUpstream(KIND_LAYOUT(files.frontPort)) : undefined;
    const caddyfileText = rendered
        .replaceAll("/etc/dso-registry/", `${dir}/`)
        .replaceAll("distribution.invalid:5000", `127.0.0.1:${files.registryPort}`)
        .replaceAll(`reverse_proxy ${ui}\n`, `reverse_proxy 127.0.0.1:${files.uiPort}\n`)
        .replace("\n{\n", `\n{\n\t${bind}\n`);
    if (
        !caddyfileText.includes(`127.0.0.1:${files.registryPort}`) ||
        !caddyfileText.includes(bind) ||
        (ui !== undefined && !caddyfileText.includes(`reverse_proxy 127.0.0.1:${files.uiPort}\n`))
    ) {
        throw new Error(`the kind front's Caddyfile did not take the test's addresses:\n${caddyfileText}`);
    }
    const caddyfile = path.join(dir, "Caddyfile");
    writeFileSync(caddyfile, caddyfileText);
    return { push, pull, scoped, ...(rotated ? { previousScoped: rotated.account } : {}), registryConfig, caddyfile };
}

/** The kind stack's layout with the test's front port: what the UI's settings are rendered from. */
const KIND_LAYOUT = (port: number) => ({ cluster: "kind", network: "kind", registryName: KIND_REGISTRY_NAME, port, dataDir: "/unused" });

/**
 * The kind placement: the front, real Caddy with the kind front's rendered Caddyfile on localhost:<front port>,
 * in front of real Distribution and, under /registry/, of the UI's files served where its container would
 * answer (a second Caddy's file server stands for the UI's nginx). The page, its `/v2/` requests and CI's
 * pushes all go to that one origin, as on the Docker host of a kind cluster.
 */
export async function startKindOrigin(dir: string): Promise<Origin> {
    const servers: ServerProcess[] = [];
    const stop = async () => {
        for (const s of servers.splice(0).reverse()) await s.stop();
    };
    try {
        mkdirSync(dir, { recursive: true });
        const [frontPort, registryPort, uiPort] = [await freePort(), await freePort(), await freePort()];
        const authority = `localhost:${frontPort}`;
        const { push, pull, registryConfig, caddyfile } = writeKindFront(dir, {
            frontPort,
            registryPort,
            deletesEnabled: true,
            uiPort,
            bind: ["127.0.0.1"],
        });
        const uiRoot = path.join(dir, "ui");
        cpSync(UI_FILES, uiRoot, { recursive: true });
        // The settings of the UI's container, as the placement renders its environment.
        const env: Record<string, string> = Object.fromEntries(
            kindUiEnvironment(KIND_LAYOUT(frontPort), { deleteEnabled: true }).map((w) => [
                w.slice(0, w.indexOf("=")),
                w.slice(w.indexOf("=") + 1),
            ]),
        );
        const uiConfig = {
            registryUrl: env.REGISTRY_URL,
            deleteImages: env.DELETE_IMAGES === "true",
            catalogElementsLimit: Number(env.CATALOG_ELEMENTS_LIMIT),
        };
        writeFileSync(path.join(uiRoot, "config.js"), `window.UI_CONFIG = ${JSON.stringify(uiConfig)};\n`);
        servers.push(startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment }));
        servers.push(startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(dir)));
        // The UI's files, where the front's route sends /registry/ (no admin endpoint: two Caddys run here).
        const uiServer = path.join(dir, "ui-server.Caddyfile");
        writeFileSync(uiServer, `{\n\tadmin off\n}\nhttp://:${uiPort} {\n\tbind 127.0.0.1\n\troot * ${uiRoot}\n\tfile_server\n}\n`);
        servers.push(startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", uiServer], caddyEnv(dir)));
        const logs = () => servers.map((s) => s.output()).join("\n");
        for (const port of [registryPort, frontPort, uiPort]) {
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
                writeAuthFile(scratch, authority, push),
                src,
                `docker://${authority}/${ref}`,
            ]);
        return {
            authority,
            base: `http://${authority}`,
            // Where the front listens: localhost's IPv4 address.
            curlArgs: ["--resolve", `${authority}:127.0.0.1`],
            browserArgs: ["--host-resolver-rules=MAP localhost 127.0.0.1"],
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
