/**
 * The Jenkins Credentials plugin's REST API (system store, global domain): read, create, update and
 * delete one credential, telling a credential that is absent from a store the user may not see.
 *
 * This module imports only its sibling modules, on purpose: the Jenkins dynamic provider captures
 * these functions, and Pulumi serializes them, with what they use of those modules, into the stack's
 * state. Node built-ins are `require`d inside the functions that use them, so the serialized code
 * runs wherever the provider is loaded.
 */
import { type CredentialSpec, type LiveCredential, parseCredentialXml, renderCredentialXml, XML_CONTENT_TYPE } from "./credentialXml";
import {
    apiError,
    basicAuth,
    type JenkinsApiError,
    type JenkinsConnection,
    normalizeBaseUrl,
    openSession,
    send,
    statusError,
    statusText,
} from "./jenkinsHttp";

/** URL of the system credential store's global domain. */
export function storeUrl(baseUrl: string): string {
    return `${normalizeBaseUrl(baseUrl)}/credentials/store/system/domain/_`;
}

/** URL of one credential's config.xml. */
export function credentialUrl(baseUrl: string, id: string): string {
    return `${storeUrl(baseUrl)}/credential/${encodeURIComponent(id)}/config.xml`;
}

function describe(id: string): string {
    return `credential "${id}"`;
}

function credentialSecrets(spec: CredentialSpec): string[] {
    return spec.kind === "usernamePassword" ? [spec.password] : [spec.secret];
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
