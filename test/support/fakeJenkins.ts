/**
 * A stand-in for Jenkins's Credentials plugin, started by the tests on 127.0.0.1.
 *
 * Jenkins itself cannot run on the machines these tests run on, so this HTTP server plays the part of
 * the REST API the provider uses, as the plugin's own source behaves (CredentialsStoreAction,
 * ViewCredentialsAction) and no more leniently:
 * - the system store's global domain; a store the user may not view answers 404 on every URL of it,
 *   and the credentials root (`/credentials/api/json`) lists only the stores the user may view;
 * - XML bodies are read in the charset their Content-Type names, and as ISO-8859-1 when it names none
 *   (a servlet's default; Jenkins's UTF-8 filter leaves XML alone); malformed XML is a 500;
 * - XML create: 200, 409 for a taken ID; form create: 302 whatever happens, a duplicate ID ignored;
 * - config.xml: GET with secrets redacted, POST replaces (500 when the body's ID is not the URL's),
 *   DELETE removes (200; 409 only when planted);
 * - `…/credential/ID/api/json` with the fields Jenkins exports and its `typeName` display names;
 * - basic auth with a user's API token (no crumb needed) or password (crumb from /crumbIssuer, valid
 *   only with the session cookie it was issued with), and a context path such as "/jenkins".
 * It can also answer with planted failures. Passing against it shows the client speaks that protocol;
 * it is not proof against a real Jenkins.
 */
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { XMLParser, XMLValidator } from "fast-xml-parser";

export interface StoredCredential {
    readonly className: string;
    /** Every field as Jenkins decoded it, including secrets (as Jenkins's store holds them). */
    readonly fields: Record<string, string>;
}

export interface RecordedRequest {
    readonly method: string;
    readonly path: string;
    readonly headers: http.IncomingHttpHeaders;
    /** The body as the fake decoded it (see the charset rule above). */
    readonly body: string;
    readonly status: number;
}

/** A planted failure for the next request whose path (and method, when given) matches. */
export interface PlantedFailure {
    readonly match: RegExp;
    readonly method?: string;
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
    /** More API tokens of the same user: Jenkins lets a user hold several, so a rotation adds the new one before revoking the old. */
    readonly moreApiTokens?: readonly string[];
    readonly password?: string;
    /** CSRF protection (crumbs) on; off makes /crumbIssuer a 404 as in Jenkins. */
    readonly csrf?: boolean;
    /** Users whose permission on the store is only Credentials/View (changes answer 403). */
    readonly readOnlyUsers?: readonly string[];
    /** Users without Credentials/View on the system store (every URL of the store answers 404). */
    readonly usersWithoutView?: readonly string[];
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
const USERNAME_PASSWORD = "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl";
const SECRET_TEXT = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl";
/** The display names Jenkins exports as `typeName` (the descriptors' display names). */
const TYPE_NAMES: Record<string, string> = { [USERNAME_PASSWORD]: "Username with password", [SECRET_TEXT]: "Secret text" };

/** An element of a parsed XML document: its name and its children (elements and text). */
interface XmlElement {
    readonly name: string;
    readonly children: (XmlElement | string)[];
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes character data, refusing an unknown entity as an XML parser without a DTD does. */
function decodeText(text: string): string {
    return text.replace(/&([^;]*);/g, (_, ref: string) => {
        if (ENTITIES[ref] !== undefined) return ENTITIES[ref];
        const numeric = /^#(?:x([0-9a-fA-F]+)|(\d+))$/.exec(ref);
        if (!numeric) throw new Error(`unknown entity &${ref};`);
        return String.fromCodePoint(numeric[1] ? parseInt(numeric[1], 16) : parseInt(numeric[2]!, 10));
    });
}

/** fast-xml-parser's document order: each node is `{ name: children }`, `{ "#text": … }` or `{ "#cdata": [{ "#text": … }] }`. */
type OrderedNode = Record<string, unknown>;

const xmlParser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    parseTagValue: false,
    trimValues: false,
    // Entities are decoded here (decodeText), so that an unknown one fails as it does in Jenkins.
    processEntities: false,
    cdataPropName: "#cdata",
});

function toElement(node: OrderedNode): XmlElement | string {
    const [name, value] = Object.entries(node).find(([key]) => key !== ":@")!;
    if (name === "#text") return decodeText(String(value));
    const children = value as OrderedNode[];
    if (name === "#cdata") return children.map((c) => String(c["#text"])).join("");
    return { name, children: children.map(toElement) };
}

/**
 * A strict reading of the XML the fake takes (fast-xml-parser's validator and parser): one root
 * element, matching end tags, quoted attributes, known entities only, comments, CDATA and an XML
 * declaration. Throws on anything malformed, where Jenkins's XML transform fails the request with a 500.
 */
export function parseXml(xml: string): XmlElement {
    const valid = XMLValidator.validate(xml);
    if (valid !== true) throw new Error(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
    const top = (xmlParser.parse(xml) as OrderedNode[]).map(toElement);
    if (top.some((node) => typeof node === "string" && node.trim() !== "")) throw new Error("text outside the root element");
    const roots = top.filter((node) => typeof node !== "string");
    if (roots.length !== 1) throw new Error(`${roots.length} root elements`);
    return roots[0]!;
}

/** Reads a credential the way Jenkins's XStream would, for the fields used here; throws where Jenkins fails. */
function parseCredential(xml: string): StoredCredential {
    const root = parseXml(xml);
    if (TYPE_NAMES[root.name] === undefined) throw new Error(`unknown credential class ${root.name}`);
    const fields: Record<string, string> = {};
    for (const child of root.children) {
        if (typeof child === "string") {
            if (child.trim() !== "") throw new Error("text directly inside the credential");
            continue;
        }
        if (child.children.some((c) => typeof c !== "string")) continue;
        fields[child.name] = child.children.join("");
    }
    return { className: root.name, fields };
}

function escapeXml(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const SECRET_FIELDS = new Set(["password", "secret"]);

function redactedXml(c: StoredCredential): string {
    const body = Object.entries(c.fields)
        .map(([k, v]) => (SECRET_FIELDS.has(k) ? `  <${k}>\n    <secret-redacted/>\n  </${k}>\n` : `  <${k}>${escapeXml(v)}</${k}>\n`))
        .join("");
    return `<?xml version="1.1" encoding="UTF-8"?>\n<${c.className} plugin="credentials@1337.v60b_d7b_c7b_c9f">\n${body}</${c.className}>`;
}

/** The charset a request body is read in: the one its Content-Type names, else ISO-8859-1. */
function requestCharset(contentType: string | undefined): BufferEncoding {
    const named = /;\s*charset="?([^";\s]+)"?/i.exec(contentType ?? "")?.[1]?.toLowerCase();
    return named === "utf-8" || named === "utf8" ? "utf8" : "latin1";
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
            const body = Buffer.concat(chunks).toString(requestCharset(req.headers["content-type"]));
            const path = new URL(req.url ?? "/", "http://x").pathname;
            const answer = (status: number, text = "", headers: Record<string, string | string[]> = {}) => {
                requests.push({ method: req.method ?? "", path, headers: req.headers, body, status });
                res.writeHead(status, { "Content-Type": "text/plain;charset=utf-8", ...headers });
                res.end(text);
            };
            const json = (value: unknown) => answer(200, JSON.stringify(value), { "Content-Type": "application/json;charset=utf-8" });
            const failure = planted.findIndex((p) => p.match.test(path) && (p.method === undefined || p.method === req.method));
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
            const viaToken = who === user && (secret === apiToken || (options.moreApiTokens ?? []).includes(secret));
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

            const canView = !(options.usersWithoutView ?? []).includes(who);
            if (route === "/credentials/api/json" && req.method === "GET") {
                // The root lists only the stores the user may view.
                const stores = canView
                    ? { system: { _class: "com.cloudbees.plugins.credentials.SystemCredentialsProvider$UserFacingAction" } }
                    : {};
                return json({ _class: "com.cloudbees.plugins.credentials.ViewCredentialsAction$RootActionImpl", stores });
            }
            if (route.startsWith("/credentials/store/system/") && !canView) return answer(404, "Not Found");

            if (changes && (options.readOnlyUsers ?? []).includes(who)) {
                const permission = route.endsWith("/createCredentials") ? "Create" : req.method === "DELETE" ? "Delete" : "Update";
                return answer(403, `${who} is missing the Credentials/${permission} permission`);
            }

            if (route === `${STORE}/api/json` && req.method === "GET") {
                return json({
                    _class: "com.cloudbees.plugins.credentials.CredentialsStoreAction$DomainWrapper",
                    credentials: [...credentials.keys()].map((id) => ({ id })),
                    displayName: "Global credentials (unrestricted)",
                    fullName: "system/_",
                    global: true,
                    urlName: "_",
                });
            }

            if (route === `${STORE}/createCredentials` && req.method === "POST") {
                const type = String(req.headers["content-type"] ?? "");
                if (type.startsWith("application/xml") || type.startsWith("text/xml")) {
                    let parsed: StoredCredential;
                    try {
                        parsed = parseCredential(body);
                    } catch (error) {
                        return answer(500, `Failed to parse credential: ${(error as Error).message}`);
                    }
                    if (!parsed.fields.id) return answer(500, "A credential without an ID");
                    if (credentials.has(parsed.fields.id)) return answer(409, "Conflict");
                    credentials.set(parsed.fields.id, parsed);
                    return answer(200);
                }
                // The form variant redirects whatever happens, and ignores a duplicate ID.
                const form = new URLSearchParams(body).get("json");
                if (form) {
                    const c = (JSON.parse(form) as { credentials: Record<string, string> & { $class: string } }).credentials;
                    const { $class, ...fields } = c;
                    if (!credentials.has(fields.id!)) credentials.set(fields.id!, { className: $class, fields });
                }
                return answer(302, "", { Location: `${context}${STORE}/` });
            }

            const match = new RegExp(`^${STORE}/credential/([^/]+)/(config\\.xml|api/json)$`).exec(route);
            if (match) {
                const id = decodeURIComponent(match[1]!);
                const existing = credentials.get(id);
                const what = match[2];
                if (!existing) return answer(404, "Not Found");
                if (what === "api/json" && req.method === "GET") {
                    return json({
                        _class: "com.cloudbees.plugins.credentials.CredentialsStoreAction$CredentialsWrapper",
                        description: existing.fields.description ?? "",
                        fingerprint: null,
                        fullName: `system/_/${id}`,
                        id,
                        typeName: TYPE_NAMES[existing.className],
                    });
                }
                if (what === "config.xml" && req.method === "GET") {
                    return answer(200, redactedXml(existing), { "Content-Type": "application/xml;charset=UTF-8" });
                }
                if (what === "config.xml" && req.method === "POST") {
                    let parsed: StoredCredential;
                    try {
                        parsed = parseCredential(body);
                    } catch (error) {
                        return answer(500, `Failed to parse credential: ${(error as Error).message}`);
                    }
                    // Jenkins's store refuses a replacement with another ID (IllegalArgumentException: a 500).
                    if (parsed.fields.id !== id) return answer(500, "Credentials' IDs do not match, will not update.");
                    credentials.set(id, parsed);
                    return answer(200);
                }
                if (what === "config.xml" && req.method === "DELETE") {
                    credentials.delete(id);
                    return answer(200);
                }
                return answer(400, "Bad Request");
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
