/**
 * Real Maven and the real Maven backend for tests: nginx (Debian's, with its WebDAV module) running the
 * rendered nginx.conf, and Debian's `mvn` working offline (plugins and their dependencies from a file
 * mirror of /usr/share/maven-repo, a private local repository, plugins named with their version),
 * trusting a test CA through a Java trust store made with keytool. Passwords go into 0600 settings
 * files, never on a command line.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderMavenNginxConfig } from "../../components/maven/nginxConfig";
import { freePort, type RunResult, run, runOk, type ServerProcess, startServer, waitForPort } from "./serverProcess";

/** Versions Debian ships in /usr/share/maven-repo (libmaven-deploy-plugin-java, libmaven-dependency-plugin-java). */
export const DEPLOY_PLUGIN = "org.apache.maven.plugins:maven-deploy-plugin:3.0.0";
export const DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.5.0";

/** uid and gid of nobody (Debian). */
const NOBODY = 65534;

/** The repository id the settings give credentials for and keep out of the offline mirror. */
const REPOSITORY_ID = "dso";

export interface MavenBackend {
    /** "127.0.0.1:<port>" */
    readonly address: string;
    readonly dataDir: string;
    readonly config: string;
    output(): string;
    stop(): Promise<void>;
}

/** Starts nginx with the rendered Maven backend config on a free loopback port; files under `dir`. */
export async function startMavenBackend(dir: string, pathPrefix: string): Promise<MavenBackend> {
    const port = await freePort();
    const dataDir = path.join(dir, "maven-data");
    const runDir = path.join(dir, "maven-run");
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(runDir, { recursive: true });
    const config = renderMavenNginxConfig({ listen: `127.0.0.1:${port}`, pathPrefix, dataDir, runDir });
    const configFile = path.join(dir, "maven-nginx.conf");
    writeFileSync(configFile, config);
    // -e: nginx opens its default error log before reading the config; send it to stderr instead.
    // As in both placements, nginx runs as a user without privileges (here nobody), owning only its
    // data and run directories: with no `user` directive it serves as the user that starts it.
    chmodSync(dir, 0o711);
    for (const d of [dataDir, runDir]) chownSync(d, NOBODY, NOBODY);
    const server: ServerProcess = startServer("/usr/bin/setpriv", [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "/usr/sbin/nginx",
        "-e",
        "stderr",
        "-p",
        runDir,
        "-c",
        configFile,
    ]);
    await waitForPort(port, 30_000, "nginx (Maven backend)").catch((e: Error) => {
        throw new Error(`${e.message}\n${server.output()}`);
    });
    return { address: `127.0.0.1:${port}`, dataDir, config, output: server.output, stop: server.stop };
}

/** A Java trust store (PKCS12) holding only `caCertFile`, with a throwaway store password. */
export function makeTrustStore(dir: string, caCertFile: string): { readonly file: string; readonly password: string } {
    const file = path.join(dir, "truststore.p12");
    const password = randomBytes(12).toString("hex");
    runOk(
        "keytool",
        [
            "-importcert",
            "-noprompt",
            "-alias",
            "dso-ca",
            "-file",
            caCertFile,
            "-keystore",
            file,
            "-storetype",
            "PKCS12",
            "-storepass:env",
            "DSO_STOREPASS",
        ],
        { env: { ...process.env, DSO_STOREPASS: password } },
    );
    return { file, password };
}

export interface MavenClient {
    /** `mvn deploy:deploy-file` of a small jar as groupId:artifactId:version to `url`. */
    deployFile(url: string, coordinates: MavenCoordinates, jarFile: string): RunResult;
    /** `mvn dependency:get` of groupId:artifactId:version from `url` into a fresh local repository. */
    get(url: string, coordinates: MavenCoordinates): RunResult & { readonly localRepository: string };
}

export interface MavenCoordinates {
    readonly groupId: string;
    readonly artifactId: string;
    readonly version: string;
}

/**
 * An offline Maven client under `dir`. With `account` its settings carry that account for the
 * repository id "dso" (a 0600 file); without, it is anonymous.
 */
export function mavenClient(
    dir: string,
    trustStore: { readonly file: string; readonly password: string },
    account?: { readonly username: string; readonly password: string },
    /** More JVM system properties, e.g. `-Djdk.net.hosts.file=…` to resolve a test host name. */
    javaOptions: readonly string[] = [],
): MavenClient {
    mkdirSync(dir, { recursive: true });
    const settings = path.join(dir, "settings.xml");
    const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    writeFileSync(
        settings,
        [
            "<settings>",
            "  <mirrors>",
            "    <mirror>",
            "      <id>debian-offline</id>",
            `      <mirrorOf>*,!${REPOSITORY_ID}</mirrorOf>`,
            "      <url>file:///usr/share/maven-repo</url>",
            "    </mirror>",
            "  </mirrors>",
            ...(account
                ? [
                      "  <servers>",
                      "    <server>",
                      `      <id>${REPOSITORY_ID}</id>`,
                      `      <username>${xml(account.username)}</username>`,
                      `      <password>${xml(account.password)}</password>`,
                      "    </server>",
                      "  </servers>",
                  ]
                : []),
            "</settings>",
            "",
        ].join("\n"),
        { mode: 0o600 },
    );
    const env = {
        ...process.env,
        // The trust store password is a throwaway of this run; the JVM reads these as system properties.
        MAVEN_OPTS: `-Djavax.net.ssl.trustStore=${trustStore.file} -Djavax.net.ssl.trustStorePassword=${trustStore.password} -Djavax.net.ssl.trustStoreType=PKCS12${javaOptions.map((o) => ` ${o}`).join("")}`,
        HOME: dir,
    };
    let runs = 0;
    const mvn = (args: readonly string[]) => {
        runs += 1;
        const localRepository = path.join(dir, `local-${runs}`);
        const result = run("mvn", ["-B", "-s", settings, `-Dmaven.repo.local=${localRepository}`, ...args], {
            env,
            cwd: dir,
            timeout: 300_000,
        });
        return { ...result, localRepository };
    };
    const gav = (c: MavenCoordinates) => [`-DgroupId=${c.groupId}`, `-DartifactId=${c.artifactId}`, `-Dversion=${c.version}`];
    return {
        deployFile: (url, c, jarFile) =>
            mvn([
                `${DEPLOY_PLUGIN}:deploy-file`,
                `-Dfile=${jarFile}`,
                ...gav(c),
                "-Dpackaging=jar",
                `-DrepositoryId=${REPOSITORY_ID}`,
                `-Durl=${url}`,
            ]),
        get: (url, c) =>
            mvn([
                `${DEPENDENCY_PLUGIN}:get`,
                `-Dartifact=${c.groupId}:${c.artifactId}:${c.version}`,
                `-DremoteRepositories=${REPOSITORY_ID}::default::${url}`,
                "-Dtransitive=false",
            ]),
    };
}

/** A small real jar (made with the JDK's `jar`) whose content is unique to this run. */
export function makeJar(dir: string): { readonly file: string; readonly marker: string } {
    const classes = path.join(dir, "jar-content");
    mkdirSync(classes, { recursive: true });
    const marker = randomBytes(16).toString("hex");
    writeFileSync(path.join(classes, "marker.txt"), marker);
    const file = path.join(dir, "app.jar");
    runOk("jar", ["cf", file, "-C", classes, "."]);
    if (!existsSync(file)) throw new Error(`jar did not write ${file}`);
    return { file, marker };
}
