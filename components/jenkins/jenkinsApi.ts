/**
 * A small client for the Jenkins Credentials plugin's REST API (system store, global domain) and the
 * XML documents it takes.
 *
 * This module has no top-level imports on purpose: the Jenkins dynamic provider captures these
 * functions, and Pulumi serializes them into the stack's state. Node built-ins are `require`d inside
 * the functions that use them, so the serialized code runs wherever the provider is loaded.
 *
 * Secrets (the API token or password, credential passwords) travel only in request headers and
 * bodies. Every error message names the credential and the URL and is scrubbed of the secrets it was
 * given, so nothing here can leak a secret into a log or a failed `pulumi up`.
 */

/** How to reach Jenkins and who to act as. */
export interface JenkinsConnection {
    /** Base URL, e.g. "https://jenkins.example.com" or "https://example.com/jenkins". */
    readonly url: string;
    readonly user: string;
    /** "token": basic auth with an API token (no crumb). "password": crumb and session cookie too. */
    readonly auth: "token" | "password";
    /** The API token or password (secret). */
    readonly secret: string;
    /** PEM CA certificate(s) for Jenkins's TLS when it is not publicly trusted. */
    readonly caCertificate?: string;
    /** Per-request timeout. */
    readonly timeoutSeconds: number;
}

/** A credential as this program manages it. */
export type CredentialSpec =
    | {
          readonly kind: "usernamePassword";
          readonly id: string;
          readonly description: string;
          readonly username: string;
          readonly password: string;
          /** Whether Jenkins masks the user name in build logs, as its "Treat username as secret" box. */
          readonly usernameSecret: boolean;
      }
    | {
          readonly kind: "secretText";
          readonly id: string;
          readonly description: string;
          readonly secret: string;
      };

/** What Jenkins shows of a credential (never a secret: Jenkins redacts them). */
export interface LiveCredential {
    readonly className?: string;
    readonly username?: string;
    readonly description?: string;
    /** As written in config.xml; absent there means true for a username/password credential. */
    readonly usernameSecret?: boolean;
}

export const USERNAME_PASSWORD_CLASS = "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl";
export const STRING_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl";

/**
 * The Content-Type of every XML body. Jenkins reads an XML body with the charset named here and, when
 * none is named, as ISO-8859-1 (its UTF-8 filter leaves XML alone): without it a non-ASCII password
 * would be stored garbled, with a 200.
 */
export const XML_CONTENT_TYPE = "application/xml; charset=utf-8";

/** Escapes text for an XML element body. */
export function xmlEscape(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Reverses xmlEscape (and numeric references), for values read back from Jenkins. */
export function xmlUnescape(value: string): string {
    return value
        .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
        .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, "&");
}

/** The XML body that creates or updates a credential (global scope). */
export function renderCredentialXml(spec: CredentialSpec): string {
    const fields =
        spec.kind === "usernamePassword"
            ? [
                  ["scope", "GLOBAL"],
                  ["id", spec.id],
                  ["description", spec.description],
                  ["username", spec.username],
                  ["password", spec.password],
                  // Absent means true to Jenkins: always write the setting, so an update never flips it.
                  ["usernameSecret", String(spec.usernameSecret)],
              ]
            : [
                  ["scope", "GLOBAL"],
                  ["id", spec.id],
                  ["description", spec.description],
                  ["secret", spec.secret],
              ];
    const root = spec.kind === "usernamePassword" ? USERNAME_PASSWORD_CLASS : STRING_CLASS;
    const body = fields.map(([tag, value]) => `  <${tag}>${xmlEscape(value!)}</${tag}>\n`).join("");
    return `<${root}>\n${body}</${root}>\n`;
}

/** Reads the class and the non-secret fields out of a credential's config.xml. */
export function parseCredentialXml(xml: string): LiveCredential {
    const root = /<([A-Za-z_][\w.$-]*)(\s[^>]*)?>/.exec(xml.replace(/<\?xml[^>]*\?>/, ""));
    const field = (tag: string) => {
        const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
        return match ? xmlUnescape(match[1]!) : undefined;
    };
    const usernameSecret = field("usernameSecret")?.trim();
    return {
        className: root?.[1],
        username: field("username"),
        description: field("description"),
        ...(usernameSecret === undefined ? {} : { usernameSecret: usernameSecret === "true" }),
    };
}

/** The base URL without a trailing slash, and never with user info (which would leak into messages). */
export function normalizeBaseUrl(url: string): string {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        throw new Error(`jenkins.url "${parsed.protocol}//${parsed.host}" must start with https:// (or http://)`);
    }
    if (parsed.username || parsed.password) {
        throw new Error(
            `jenkins.url must not contain a user name or password; set jenkins.user and the secret dso-registry:jenkinsApiToken instead`,
        );
    }
    return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, "");
}

/** URL of the system credential store's global domain. */
export function storeUrl(baseUrl: string): string {
    return `${normalizeBaseUrl(baseUrl)}/credentials/store/system/domain/_`;
}

/** URL of one credential's config.xml. */
export function credentialUrl(baseUrl: string, id: string): string {
    return `${storeUrl(baseUrl)}/credential/${encodeURIComponent(id)}/config.xml`;
}

/** Replaces every occurrence of each secret (and of its basic-auth form) by "[secret]". */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
    let out = text;
    for (const secret of secrets) {
        if (!secret || secret.length < 4) continue;
        out = out.split(secret).join("[secret]");
    }
    return out;
}

/** An error from talking to Jenkins; the message is safe to print. */
export interface JenkinsApiError extends Error {
    readonly status?: number;
}

/** A plain HTTP exchange. */
interface HttpAnswer {
    readonly status: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly body: string;
}

interface HttpCall {
    readonly method: string;
    readonly url: string;
    readonly headers: Record<string, string>;
    readonly body?: string;
}

/**
 * A response body as text: in the charset its Content-Type names; without one, UTF-8 when the bytes are
 * valid UTF-8 and ISO-8859-1 otherwise (a servlet container's default), so a user name read back is the
 * one Jenkins holds rather than a mis-decoded one that would show as drift.
 */
export function decodeBody(bytes: Uint8Array, contentType: string | undefined): string {
    const named = /;\s*charset="?([^";\s]+)"?/i.exec(contentType ?? "")?.[1]?.toLowerCase();
    if (named === "iso-8859-1" || named === "latin1" || named === "us-ascii") return Buffer.from(bytes).toString("latin1");
    if (named !== undefined) return new TextDecoder("utf-8").decode(bytes);
    try {
        return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
        return Buffer.from(bytes).toString("latin1");
    }
}

function httpCall(conn: JenkinsConnection, call: HttpCall): Promise<HttpAnswer> {
    const target = new URL(call.url);
    const transport = target.protocol === "https:" ? require("node:https") : require("node:http");
    const bodyBytes = call.body === undefined ? undefined : Buffer.from(call.body, "utf8");
    return new Promise((resolve, reject) => {
        const req = transport.request(
            target,
            {
                method: call.method,
                headers: { ...call.headers, ...(bodyBytes ? { "Content-Length": String(bodyBytes.length) } : {}) },
                ...(target.protocol === "https:" && conn.caCertificate ? { ca: conn.caCertificate } : {}),
            },
            (res: import("node:http").IncomingMessage) => {
                const chunks: Buffer[] = [];
                res.on("data", (chunk: Buffer) => chunks.push(chunk));
                res.on("end", () =>
                    resolve({
                        status: res.statusCode ?? 0,
                        headers: res.headers,
                        body: decodeBody(Buffer.concat(chunks), res.headers["content-type"]),
                    }),
                );
                res.on("error", reject);
            },
        );
        req.setTimeout(conn.timeoutSeconds * 1000, () => {
            const timeout = new Error(`no answer within ${conn.timeoutSeconds} s`) as Error & { code: string };
            timeout.code = "DSO_TIMEOUT";
            req.destroy(timeout);
        });
        req.on("error", reject);
        if (bodyBytes) req.write(bodyBytes);
        req.end();
    });
}

/** The step a request belongs to, which decides what a status means. */
type Action = "read" | "create" | "update" | "delete";

/** What an operator should do about an HTTP status, for the action attempted. */
function statusHint(conn: JenkinsConnection, status: number, action: Action): string {
    const secretKey = conn.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword";
    if (status === 401) {
        return (
            `Jenkins rejected user "${conn.user}" with the configured ${conn.auth === "token" ? "API token" : "password"}. ` +
            `Check jenkins.user and set the secret again: pulumi config set --secret dso-registry:${secretKey}`
        );
    }
    if (status === 403) {
        const permission = { read: "View", create: "Create", update: "Update", delete: "Delete" }[action];
        return (
            `user "${conn.user}" may not ${action} credentials: it needs Overall/Read and Credentials/${permission} on the system store ` +
            `(this program needs View, Create, Update and Delete); give them in Manage Jenkins > Security, or use the API token of a user that has them` +
            (conn.auth === "password"
                ? `. With a password, Jenkins may also have refused the CSRF crumb; an API token (jenkins.auth: token) needs none`
                : "")
        );
    }
    if (status === 404) {
        return `nothing at this URL: check jenkins.url (including any context path such as /jenkins) and that the Credentials plugin is installed`;
    }
    if (status === 409 && action === "delete") {
        return (
            `Jenkins found the credential but did not remove it (the store changed while the request ran, or it cannot be changed). ` +
            `Check it in Manage Jenkins > Credentials > System > Global credentials and run the command again`
        );
    }
    if (status === 409) {
        return (
            `a credential with this ID already exists in Jenkins and is not managed by this stack. Delete it in Jenkins ` +
            `(Manage Jenkins > Credentials > System > Global credentials) or choose another credential ID, then run pulumi up again`
        );
    }
    if (status >= 500) {
        return `Jenkins failed with a server error; see its log (Manage Jenkins > System Log) and run pulumi up again`;
    }
    if (status >= 300 && status < 400) {
        return `Jenkins redirected instead of answering (often to its login page): check jenkins.url and the credentials of jenkins.user`;
    }
    return `unexpected answer`;
}

function statusText(status: number): string {
    const names: Record<number, string> = {
        302: "Found",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    };
    return names[status] ? `HTTP ${status} ${names[status]}` : `HTTP ${status}`;
}

/** Builds the error for a failed step; `what` names the credential. */
function apiError(
    conn: JenkinsConnection,
    what: string,
    action: string,
    url: string,
    detail: string,
    status?: number,
    secrets: readonly string[] = [],
): JenkinsApiError {
    const message = scrubSecrets(`Jenkins ${what}: ${action} at ${url} failed: ${detail}`, [conn.secret, ...secrets]);
    const error = new Error(message) as Error & { status?: number };
    error.name = "JenkinsApiError";
    if (status !== undefined) error.status = status;
    return error;
}

function networkDetail(conn: JenkinsConnection, error: unknown): string {
    const e = error as { code?: string; message?: string };
    if (e.code === "DSO_TIMEOUT") {
        return `no answer within ${conn.timeoutSeconds} s. Check jenkins.url and the network path, or raise jenkins.timeoutSeconds`;
    }
    const tlsCodes = [
        "SELF_SIGNED_CERT_IN_CHAIN",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        "CERT_HAS_EXPIRED",
        "ERR_TLS_CERT_ALTNAME_INVALID",
    ];
    if (e.code && tlsCodes.includes(e.code)) {
        return `Jenkins's TLS certificate is not trusted (${e.code}). Give the CA that signs it in jenkins.caCertificate`;
    }
    if (e.code === "ECONNREFUSED" || e.code === "ENOTFOUND" || e.code === "EHOSTUNREACH" || e.code === "ECONNRESET") {
        return `cannot connect (${e.code}). Check jenkins.url and that Jenkins is running`;
    }
    return `${e.code ? `${e.code}: ` : ""}${e.message ?? String(error)}`;
}

/** Headers (and a session cookie) that authorize changes. */
export interface JenkinsSession {
    readonly headers: Record<string, string>;
}

function basicAuth(conn: JenkinsConnection): string {
    return `Basic ${Buffer.from(`${conn.user}:${conn.secret}`, "utf8").toString("base64")}`;
}

/** Sends one request, turning network failures into safe errors. */
async function send(
    conn: JenkinsConnection,
    what: string,
    action: string,
    call: HttpCall,
    secrets: readonly string[] = [],
): Promise<HttpAnswer> {
    try {
        return await httpCall(conn, call);
    } catch (error) {
        throw apiError(conn, what, action, call.url, networkDetail(conn, error), undefined, secrets);
    }
}

/**
 * Authorization for state-changing requests. With an API token, basic auth is enough (Jenkins 2.96+).
 * With a password, Jenkins wants a CSRF crumb, valid only in the session it was issued in, so the
 * session cookie is kept and sent along.
 */
export async function openSession(conn: JenkinsConnection, what: string): Promise<JenkinsSession> {
    const headers: Record<string, string> = { Authorization: basicAuth(conn) };
    if (conn.auth === "token") return { headers };
    const url = `${normalizeBaseUrl(conn.url)}/crumbIssuer/api/json`;
    const answer = await send(conn, what, "fetching a CSRF crumb", { method: "GET", url, headers });
    if (answer.status === 404) return { headers }; // CSRF protection is off: no crumb to send.
    if (answer.status !== 200) {
        throw apiError(
            conn,
            what,
            "fetching a CSRF crumb",
            url,
            `${statusText(answer.status)}. ${statusHint(conn, answer.status, "read")}`,
            answer.status,
        );
    }
    let crumb: { crumb?: string; crumbRequestField?: string };
    try {
        crumb = JSON.parse(answer.body) as typeof crumb;
    } catch {
        throw apiError(conn, what, "fetching a CSRF crumb", url, `the answer is not JSON; check that jenkins.url points at Jenkins`);
    }
    if (!crumb.crumb || !crumb.crumbRequestField) {
        throw apiError(conn, what, "fetching a CSRF crumb", url, `the answer has no crumb; check that jenkins.url points at Jenkins`);
    }
    const setCookie = answer.headers["set-cookie"];
    const cookies = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [])
        .map((c) => c.split(";")[0]!.trim())
        .filter(Boolean);
    return {
        headers: {
            ...headers,
            [crumb.crumbRequestField]: crumb.crumb,
            ...(cookies.length > 0 ? { Cookie: cookies.join("; ") } : {}),
        },
    };
}

function describe(id: string): string {
    return `credential "${id}"`;
}

function credentialSecrets(spec: CredentialSpec): string[] {
    return spec.kind === "usernamePassword" ? [spec.password] : [spec.secret];
}

/** The error for an answer that is not one the step expects. */
function statusError(
    conn: JenkinsConnection,
    what: string,
    action: Action,
    verb: string,
    url: string,
    status: number,
    secrets: readonly string[] = [],
): JenkinsApiError {
    return apiError(conn, what, verb, url, `${statusText(status)}. ${statusHint(conn, status, action)}`, status, secrets);
}

/**
 * Why a store URL answered 404. Jenkins answers 404 for every URL of a store the user may not view, so
 * a 404 for a credential means "absent" only when the store itself answers. When it does not, the
 * credentials root (which lists only the stores the user may view) tells a missing permission apart
 * from a wrong jenkins.url or a missing Credentials plugin.
 */
async function storeVisibility(conn: JenkinsConnection, what: string, verb: string): Promise<"visible" | "hidden" | "unreachable"> {
    const headers = { Authorization: basicAuth(conn) };
    const store = `${storeUrl(conn.url)}/api/json`;
    const answer = await send(conn, what, verb, { method: "GET", url: store, headers });
    if (answer.status === 200) return "visible";
    if (answer.status !== 404) throw statusError(conn, what, "read", verb, store, answer.status);
    const root = `${normalizeBaseUrl(conn.url)}/credentials/api/json`;
    const rootAnswer = await send(conn, what, verb, { method: "GET", url: root, headers });
    if (rootAnswer.status !== 200) return "unreachable";
    try {
        const stores = (JSON.parse(rootAnswer.body) as { stores?: Record<string, unknown> }).stores ?? {};
        return "system" in stores ? "unreachable" : "hidden";
    } catch {
        return "unreachable";
    }
}

/** The error for a 404 whose store is not visible (a missing permission or a wrong URL). */
function notFoundError(
    conn: JenkinsConnection,
    what: string,
    verb: string,
    url: string,
    visibility: "hidden" | "unreachable",
): JenkinsApiError {
    if (visibility === "unreachable") return statusError(conn, what, "read", verb, url, 404);
    const secretKey = conn.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword";
    return apiError(
        conn,
        what,
        verb,
        url,
        `${statusText(404)}. The Jenkins user "${conn.user}" cannot see the system credential store: it lacks Credentials/View ` +
            `(or Overall/Read), and Jenkins answers 404 for every URL of a store a user may not view, so whether the credential exists ` +
            `is unknown. Give "${conn.user}" Credentials/View, Create, Update and Delete in Manage Jenkins > Security, or set jenkins.user ` +
            `and dso-registry:${secretKey} to a user that has them`,
        404,
    );
}

/**
 * Reads a credential's non-secret fields; undefined when Jenkins has no credential with this ID (its
 * store answers, the credential does not). Fails, rather than reading "absent", when the user cannot
 * see the store.
 */
export async function readCredential(conn: JenkinsConnection, id: string): Promise<LiveCredential | undefined> {
    const url = credentialUrl(conn.url, id);
    const answer = await send(conn, describe(id), "reading", { method: "GET", url, headers: { Authorization: basicAuth(conn) } });
    if (answer.status === 200) return parseCredentialXml(answer.body);
    if (answer.status !== 404) throw statusError(conn, describe(id), "read", "reading", url, answer.status);
    const visibility = await storeVisibility(conn, describe(id), "reading");
    if (visibility === "visible") return undefined;
    throw notFoundError(conn, describe(id), "reading", url, visibility);
}

/** Creates a credential; fails (409) when the ID is taken. */
export async function createCredential(conn: JenkinsConnection, spec: CredentialSpec): Promise<void> {
    const session = await openSession(conn, describe(spec.id));
    const url = `${storeUrl(conn.url)}/createCredentials`;
    const secrets = credentialSecrets(spec);
    const answer = await send(
        conn,
        describe(spec.id),
        "creating",
        { method: "POST", url, headers: { ...session.headers, "Content-Type": XML_CONTENT_TYPE }, body: renderCredentialXml(spec) },
        secrets,
    );
    if (answer.status === 200) return;
    if (answer.status === 404) {
        const visibility = await storeVisibility(conn, describe(spec.id), "creating");
        if (visibility !== "visible") throw notFoundError(conn, describe(spec.id), "creating", url, visibility);
    }
    throw statusError(conn, describe(spec.id), "create", "creating", url, answer.status, secrets);
}

/**
 * Replaces a credential's fields in place (no window without the credential). When it is gone
 * (deleted by hand in Jenkins), it is created again.
 */
export async function updateCredential(conn: JenkinsConnection, spec: CredentialSpec): Promise<"updated" | "recreated"> {
    const session = await openSession(conn, describe(spec.id));
    const url = credentialUrl(conn.url, spec.id);
    const secrets = credentialSecrets(spec);
    const answer = await send(
        conn,
        describe(spec.id),
        "updating",
        { method: "POST", url, headers: { ...session.headers, "Content-Type": XML_CONTENT_TYPE }, body: renderCredentialXml(spec) },
        secrets,
    );
    if (answer.status === 200) return "updated";
    if (answer.status !== 404) throw statusError(conn, describe(spec.id), "update", "updating", url, answer.status, secrets);
    const visibility = await storeVisibility(conn, describe(spec.id), "updating");
    if (visibility !== "visible") throw notFoundError(conn, describe(spec.id), "updating", url, visibility);
    await createCredential(conn, spec);
    return "recreated";
}

/**
 * Deletes a credential with `DELETE …/config.xml` (Credentials plugin 2.1.1 and later): 200 when
 * removed, 404 when already gone (counts as deleted, once the store is known to be visible), 409 when
 * Jenkins found it but did not remove it.
 */
export async function deleteCredential(conn: JenkinsConnection, id: string): Promise<"deleted" | "absent"> {
    const session = await openSession(conn, describe(id));
    const url = credentialUrl(conn.url, id);
    const answer = await send(conn, describe(id), "deleting", { method: "DELETE", url, headers: session.headers });
    if (answer.status === 200 || answer.status === 204) return "deleted";
    if (answer.status !== 404) throw statusError(conn, describe(id), "delete", "deleting", url, answer.status);
    const visibility = await storeVisibility(conn, describe(id), "deleting");
    if (visibility === "visible") return "absent";
    throw notFoundError(conn, describe(id), "deleting", url, visibility);
}
