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
}

export const USERNAME_PASSWORD_CLASS = "com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl";
export const STRING_CLASS = "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl";

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
    return { className: root?.[1], username: field("username"), description: field("description") };
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
                    resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
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

/** What an operator should do about an HTTP status, for the action attempted. */
function statusHint(conn: JenkinsConnection, status: number, action: string): string {
    const secretKey = conn.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword";
    if (status === 401) {
        return (
            `Jenkins rejected user "${conn.user}" with the configured ${conn.auth === "token" ? "API token" : "password"}. ` +
            `Check jenkins.user and set the secret again: pulumi config set --secret dso-registry:${secretKey}`
        );
    }
    if (status === 403) {
        return (
            `user "${conn.user}" may not ${action} credentials (it needs Credentials/${action === "read" ? "View" : "Create, Update and Delete"} ` +
            `on the system store)` +
            (conn.auth === "password" ? `, or Jenkins refused the CSRF crumb; an API token (jenkins.auth: token) avoids crumbs` : "")
        );
    }
    if (status === 404) {
        return `nothing at this URL: check jenkins.url (including any context path such as /jenkins) and that the Credentials plugin is installed`;
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

/**
 * Reads a credential's non-secret fields; undefined when Jenkins has no credential with this ID.
 */
export async function readCredential(conn: JenkinsConnection, id: string): Promise<LiveCredential | undefined> {
    const url = credentialUrl(conn.url, id);
    const answer = await send(conn, describe(id), "reading", { method: "GET", url, headers: { Authorization: basicAuth(conn) } });
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) {
        throw apiError(
            conn,
            describe(id),
            "reading",
            url,
            `${statusText(answer.status)}. ${statusHint(conn, answer.status, "read")}`,
            answer.status,
        );
    }
    return parseCredentialXml(answer.body);
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
        { method: "POST", url, headers: { ...session.headers, "Content-Type": "application/xml" }, body: renderCredentialXml(spec) },
        secrets,
    );
    if (answer.status !== 200) {
        throw apiError(
            conn,
            describe(spec.id),
            "creating",
            url,
            `${statusText(answer.status)}. ${statusHint(conn, answer.status, "create")}`,
            answer.status,
            secrets,
        );
    }
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
        { method: "POST", url, headers: { ...session.headers, "Content-Type": "application/xml" }, body: renderCredentialXml(spec) },
        secrets,
    );
    if (answer.status === 200) return "updated";
    if (answer.status === 404) {
        await createCredential(conn, spec);
        return "recreated";
    }
    throw apiError(
        conn,
        describe(spec.id),
        "updating",
        url,
        `${statusText(answer.status)}. ${statusHint(conn, answer.status, "update")}`,
        answer.status,
        secrets,
    );
}

/** Deletes a credential; one that is already gone counts as deleted. */
export async function deleteCredential(conn: JenkinsConnection, id: string): Promise<"deleted" | "absent"> {
    const session = await openSession(conn, describe(id));
    const url = credentialUrl(conn.url, id);
    const answer = await send(conn, describe(id), "deleting", { method: "DELETE", url, headers: session.headers });
    if (answer.status === 200 || answer.status === 204) return "deleted";
    if (answer.status === 404) return "absent";
    if (answer.status === 405) {
        // Older Credentials plugins only offer the form action, which answers with a redirect.
        const doDelete = `${storeUrl(conn.url)}/credential/${encodeURIComponent(id)}/doDelete`;
        const form = await send(conn, describe(id), "deleting", { method: "POST", url: doDelete, headers: session.headers });
        const location = String(form.headers.location ?? "");
        if ((form.status === 200 || form.status === 302) && !/login/i.test(location)) return "deleted";
        if (form.status === 404) return "absent";
        throw apiError(
            conn,
            describe(id),
            "deleting",
            doDelete,
            `${statusText(form.status)}. ${statusHint(conn, form.status, "delete")}`,
            form.status,
        );
    }
    throw apiError(
        conn,
        describe(id),
        "deleting",
        url,
        `${statusText(answer.status)}. ${statusHint(conn, answer.status, "delete")}`,
        answer.status,
    );
}
