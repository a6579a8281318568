/**
 * A stand-in for Jenkins's Credentials plugin, started by the tests on 127.0.0.1.
 *
 * Jenkins itself cannot run on the machines these tests run on, so this HTTP server plays the part of
 * the REST API the provider uses, as documented for the Credentials plugin: the system store's global
 * domain, XML create (200, or 409 for a taken ID), form create (302, duplicates silently ignored),
 * config.xml read (secrets redacted) / update / DELETE, doDelete (302), basic auth with a user's API
 * token (no crumb needed) or password (crumb from /crumbIssuer, valid only with the session cookie it
 * was issued with), and a context path such as "/jenkins". It can also answer with planted failures.
 * Passing against it shows the client speaks that protocol; it is not proof against a real Jenkins.
 */
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";

export interface StoredCredential {
    readonly className: string;
    /** Every field as sent, including secrets (as Jenkins's store holds them). */
    readonly fields: Record<string, string>;
}

export interface RecordedRequest {
    readonly method: string;
    readonly path: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
    readonly status: number;
}

/** A planted failure for the next request whose path matches. */
export interface PlantedFailure {
    readonly match: RegExp;
    /** HTTP status to answer with, or "hang" to never answer (for timeouts). */
    readonly answer: number | "hang";
    /** Body to answer with. */
    readonly body?: string;
}

export interface FakeJenkinsOptions {
    /** Context path Jenkins is served under, e.g. "/jenkins"; "" for the root. */
    readonly contextPath?: string;
    readonly user?: string;
    readonly apiToken?: string;
    readonly password?: string;
    /** CSRF protection (crumbs) on; off makes /crumbIssuer a 404 as in Jenkins. */
    readonly csrf?: boolean;
    /** Users whose permission on the store is only "View" (answers 403 to changes). */
    readonly readOnlyUsers?: readonly string[];
    /** Whether DELETE on config.xml is supported (older plugins answer 405). */
    readonly deleteVerb?: boolean;
    /** Serve HTTPS with this key and certificate. */
    readonly tls?: { readonly key: string; readonly cert: string };
}

export interface FakeJenkins {
    /** Base URL, with the context path. */
    readonly url: string;
    readonly credentials: Map<string, StoredCredential>;
    readonly requests: RecordedRequest[];
    plant(failure: PlantedFailure): void;
    close(): Promise<void>;
}

const STORE = "/credentials/store/system/domain/_";

function xmlText(value: string): string {
    return value
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, "&");
}

function escapeXml(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Parses a credential XML document the way Jenkins's XStream would, for the fields we use. */
function parseCredential(xml: string): StoredCredential | undefined {
    const root = /^\s*(?:<\?xml[^>]*\?>\s*)?<([\w.$-]+)>([\s\S]*)<\/\1>\s*$/.exec(xml);
    if (!root) return undefined;
    const fields: Record<string, string> = {};
    for (const m of root[2]!.matchAll(/<(\w+)>([\s\S]*?)<\/\1>/g)) fields[m[1]!] = xmlText(m[2]!);
    return { className: root[1]!, fields };
}

const SECRET_FIELDS = new Set(["password", "secret"]);

function redactedXml(c: StoredCredential): string {
    const body = Object.entries(c.fields)
        .map(([k, v]) => (SECRET_FIELDS.has(k) ? `  <${k}>\n    <secret-redacted/>\n  </${k}>\n` : `  <${k}>${escapeXml(v)}</${k}>\n`))
        .join("");
    return `<?xml version="1.1" encoding="UTF-8"?>\n<${c.className} plugin="credentials@1337.v60b_d7b_c7b_c9f">\n${body}</${c.className}>`;
}

export async function startFakeJenkins(options: FakeJenkinsOptions = {}): Promise<FakeJenkins> {
    const context = options.contextPath ?? "";
    const user = options.user ?? "admin";
    const apiToken = options.apiToken ?? randomBytes(16).toString("hex");
    const password = options.password;
    const csrf = options.csrf ?? true;
    const credentials = new Map<string, StoredCredential>();
    const requests: RecordedRequest[] = [];
    const planted: PlantedFailure[] = [];
    /** session id → crumb issued in that session. */
    const sessions = new Map<string, string>();
    const hanging = new Set<http.ServerResponse>();

    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8");
            const path = new URL(req.url ?? "/", "http://x").pathname;
            const answer = (status: number, text = "", headers: Record<string, string | string[]> = {}) => {
                requests.push({ method: req.method ?? "", path, headers: req.headers, body, status });
                res.writeHead(status, { "Content-Type": "text/plain;charset=utf-8", ...headers });
                res.end(text);
            };
            const failure = planted.findIndex((p) => p.match.test(path));
            if (failure >= 0) {
                const [p] = planted.splice(failure, 1);
                if (p!.answer === "hang") {
                    requests.push({ method: req.method ?? "", path, headers: req.headers, body, status: 0 });
                    hanging.add(res);
                    return;
                }
                answer(p!.answer, p!.body ?? `<html><body>Error ${p!.answer}</body></html>`);
                return;
            }
            if (!path.startsWith(`${context}/`)) return answer(404, "Not Found");
            const route = path.slice(context.length);

            // Authentication: basic auth with the API token or the password.
            const authz = req.headers.authorization ?? "";
            const decoded = authz.startsWith("Basic ") ? Buffer.from(authz.slice(6), "base64").toString("utf8") : "";
            const sep = decoded.indexOf(":");
            const [who, secret] = sep >= 0 ? [decoded.slice(0, sep), decoded.slice(sep + 1)] : ["", ""];
            const viaToken = who === user && secret === apiToken;
            const viaPassword = password !== undefined && who === user && secret === password;
            if (!viaToken && !viaPassword) {
                return answer(401, "Unauthorized", { "WWW-Authenticate": 'Basic realm="Jenkins"' });
            }

            if (route === "/crumbIssuer/api/json" && req.method === "GET") {
                if (!csrf) return answer(404, "Not Found");
                const sessionId = randomBytes(8).toString("hex");
                const crumb = randomBytes(16).toString("hex");
                sessions.set(sessionId, crumb);
                return answer(
                    200,
                    JSON.stringify({ _class: "hudson.security.csrf.DefaultCrumbIssuer", crumb, crumbRequestField: "Jenkins-Crumb" }),
                    { "Content-Type": "application/json;charset=utf-8", "Set-Cookie": [`JSESSIONID.fake=${sessionId}; Path=/; HttpOnly`] },
                );
            }

            const changes = req.method !== "GET" && req.method !== "HEAD";
            if (changes && viaPassword && !viaToken && csrf) {
                const cookie = /JSESSIONID\.fake=([0-9a-f]+)/.exec(req.headers.cookie ?? "")?.[1];
                const expected = cookie ? sessions.get(cookie) : undefined;
                if (!expected || req.headers["jenkins-crumb"] !== expected) {
                    return answer(403, "No valid crumb was included in the request");
                }
            }
            if (changes && (options.readOnlyUsers ?? []).includes(who)) {
                return answer(403, `${who} is missing the Credentials/Create permission`);
            }

            if (route === `${STORE}/createCredentials` && req.method === "POST") {
                const type = String(req.headers["content-type"] ?? "");
                if (type.startsWith("application/xml")) {
                    const parsed = parseCredential(body);
                    if (!parsed?.fields.id) return answer(400, "Bad Request");
                    if (credentials.has(parsed.fields.id)) return answer(409, "Conflict");
                    credentials.set(parsed.fields.id, parsed);
                    return answer(200);
                }
                // The form variant redirects whatever happens, and ignores a duplicate ID.
                const json = new URLSearchParams(body).get("json");
                if (json) {
                    const c = (JSON.parse(json) as { credentials: Record<string, string> & { $class: string } }).credentials;
                    const { $class, ...fields } = c;
                    if (!credentials.has(fields.id!)) credentials.set(fields.id!, { className: $class, fields });
                }
                return answer(302, "", { Location: `${context}${STORE}/` });
            }

            const match = new RegExp(`^${STORE}/credential/([^/]+)/(config\\.xml|api/json|doDelete)$`).exec(route);
            if (match) {
                const id = decodeURIComponent(match[1]!);
                const existing = credentials.get(id);
                const what = match[2];
                if (!existing) return answer(404, "Not Found");
                if (what === "api/json" && req.method === "GET") {
                    const { password: _p, secret: _s, ...visible } = existing.fields;
                    return answer(200, JSON.stringify({ id, typeName: existing.className, ...visible }), {
                        "Content-Type": "application/json",
                    });
                }
                if (what === "config.xml" && req.method === "GET") {
                    return answer(200, redactedXml(existing), { "Content-Type": "application/xml" });
                }
                if (what === "config.xml" && req.method === "POST") {
                    const parsed = parseCredential(body);
                    if (!parsed) return answer(400, "Bad Request");
                    credentials.set(id, { className: parsed.className, fields: { ...parsed.fields, id } });
                    return answer(200);
                }
                if (what === "config.xml" && req.method === "DELETE") {
                    if (options.deleteVerb === false) return answer(405, "Method Not Allowed");
                    credentials.delete(id);
                    return answer(200);
                }
                if (what === "doDelete" && req.method === "POST") {
                    credentials.delete(id);
                    return answer(302, "", { Location: `${context}${STORE}/` });
                }
                return answer(405, "Method Not Allowed");
            }
            return answer(404, "Not Found");
        });
    };

    const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const scheme = options.tls ? "https" : "http";
    return {
        url: `${scheme}://127.0.0.1:${port}${context}`,
        credentials,
        requests,
        plant: (failure) => planted.push(failure),
        close: () =>
            new Promise<void>((resolve) => {
                for (const res of hanging) res.destroy();
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
