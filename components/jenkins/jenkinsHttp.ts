/**
 * Talking to Jenkins over HTTP: the connection and its base URL, authorization (basic auth, and the
 * CSRF crumb with its session cookie for a password), one request at a time, and errors that say what
 * to change.
 *
 * Secrets (the API token or password, credential passwords) travel only in request headers and
 * bodies. Every error message names the credential and the URL and is scrubbed of the secrets it was
 * given, so nothing here can leak a secret into a log or a failed `pulumi up`.
 *
 * This module has no top-level imports on purpose: the Jenkins dynamic provider captures these
 * functions, and Pulumi serializes them into the stack's state. Node built-ins are `require`d inside
 * the functions that use them, so the serialized code runs wherever the provider is loaded.
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
export interface HttpAnswer {
    readonly status: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly body: string;
}

/** A request, as `send` takes it. */
export interface HttpCall {
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
export type Action = "read" | "create" | "update" | "delete";

/** What an operator should do about an HTTP status, for the action attempted. */
function statusHint(conn: JenkinsConnection, status: number, action: Action): string {
    const secretKey = conn.auth === "token" ? "jenkinsApiToken" : "jenkinsPassword";
    if (status === 401 && action === "delete") {
        // A delete runs with the state of the last `up`, never the config: `pulumi destroy` does not run
        // the program, so a secret set since then is not what it sends.
        return (
            `Jenkins rejected user "${conn.user}" with the ${conn.auth === "token" ? "API token" : "password"} stored at the last \`pulumi up\`; ` +
            `a delete uses that one, not the config. If it was rotated since, set the new one ` +
            `(pulumi config set --secret dso-registry:${secretKey}), run \`pulumi up\` (it stores it), then delete or destroy again`
        );
    }
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

/** "HTTP 404 Not Found" for a status, for error messages. */
export function statusText(status: number): string {
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
export function apiError(
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

/** The basic-auth header value of the connection's user and secret. */
export function basicAuth(conn: JenkinsConnection): string {
    return `Basic ${Buffer.from(`${conn.user}:${conn.secret}`, "utf8").toString("base64")}`;
}

/** Sends one request, turning network failures into safe errors. */
export async function send(
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

/** The error for an answer that is not one the step expects. */
export function statusError(
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
