// The requests joxit/docker-registry-ui 2.x makes, and its answer to a 401 (read from its source,
// src/scripts/utils.js, Http): a Bearer challenge with realm, service and scope is answered by a GET
// of `<realm>?service=…&scope=…` with credentials, whose JSON token is sent as `Authorization: Bearer`
// on a retry of the same request; a challenge without scope is answered by retrying with credentials.
// The page writes what it shows into the DOM and every request's outcome into `window.uiLog`.
"use strict";

const config = window.UI_CONFIG;
window.uiLog = [];

const MANIFEST_ACCEPT = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
].join(", ");

/** The parameters of a `WWW-Authenticate: Bearer k="v",…` header (the real UI's parser splits the same way). */
function parseChallenge(header) {
    const match = /^Bearer\s+(.*)$/i.exec(header || "");
    if (!match) return undefined;
    const params = {};
    for (const part of match[1].match(/[a-z_]+="[^"]*"/gi) || []) {
        const eq = part.indexOf("=");
        params[part.slice(0, eq)] = part.slice(eq + 2, -1);
    }
    return params;
}

/** One XMLHttpRequest: resolves with { status, headers, body } whatever the status. */
function send(method, url, headers, withCredentials) {
    return new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open(method, url);
        xhr.withCredentials = withCredentials;
        for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
        xhr.onloadend = () => {
            window.uiLog.push({ method, url, status: xhr.status });
            resolve({ status: xhr.status, header: (n) => xhr.getResponseHeader(n), body: xhr.responseText });
        };
        xhr.send();
    });
}

/** A registry request with the real UI's 401 handling. */
async function registry(method, path, headers = {}) {
    const url = `${config.registryUrl}${path}`;
    const first = await send(method, url, headers, false);
    if (first.status !== 401) return first;
    const challenge = parseChallenge(first.header("WWW-Authenticate"));
    if (challenge?.realm && challenge.service && challenge.scope) {
        const tokenUrl = `${challenge.realm}?service=${encodeURIComponent(challenge.service)}&scope=${encodeURIComponent(challenge.scope)}`;
        const token = await send("GET", tokenUrl, {}, true);
        if (token.status !== 200) return first;
        const bearer = JSON.parse(token.body).token;
        return send(method, url, { ...headers, Authorization: `Bearer ${bearer}` }, false);
    }
    return send(method, url, headers, true);
}

async function showImage(item, name, tag) {
    const manifest = await registry("GET", `/v2/${name}/manifests/${tag}`, { Accept: MANIFEST_ACCEPT });
    const li = document.createElement("li");
    li.className = "tag";
    li.dataset.tag = `${name}:${tag}`;
    if (manifest.status !== 200) {
        li.textContent = `${tag} (${manifest.status})`;
    } else {
        const digest = manifest.header("Docker-Content-Digest");
        const body = JSON.parse(manifest.body);
        const blob = body.config ? await registry("GET", `/v2/${name}/blobs/${body.config.digest}`) : undefined;
        const arch = blob?.status === 200 ? JSON.parse(blob.body).architecture : "";
        li.dataset.digest = digest;
        li.textContent = `${tag} ${digest} ${arch}`;
    }
    item.appendChild(li);
}

async function load() {
    document.getElementById("title").textContent = config.registryUrl;
    const catalog = await registry("GET", `/v2/_catalog?n=${config.catalogElementsLimit}`);
    if (catalog.status !== 200) {
        document.getElementById("status").textContent = `catalog ${catalog.status}`;
        return;
    }
    for (const name of JSON.parse(catalog.body).repositories || []) {
        const item = document.createElement("li");
        item.className = "repository";
        item.dataset.name = name;
        item.textContent = name;
        const tags = await registry("GET", `/v2/${name}/tags/list`);
        const list = document.createElement("ul");
        item.appendChild(list);
        document.getElementById("catalog").appendChild(item);
        for (const tag of (tags.status === 200 ? JSON.parse(tags.body).tags : null) || []) await showImage(list, name, tag);
    }
    document.getElementById("status").textContent = "loaded";
}

/** The delete button: the digest from a HEAD of the tag, then DELETE by digest. Resolves with the DELETE's status. */
window.deleteImage = async (name, tag) => {
    if (!config.deleteImages) throw new Error("deletes are not offered");
    const head = await registry("HEAD", `/v2/${name}/manifests/${tag}`, { Accept: MANIFEST_ACCEPT });
    const digest = head.header("Docker-Content-Digest");
    if (!digest) return head.status;
    const deleted = await registry("DELETE", `/v2/${name}/manifests/${digest}`);
    document.getElementById("status").textContent = `delete ${deleted.status}`;
    return deleted.status;
};

window.addEventListener("DOMContentLoaded", () => {
    load().catch((e) => {
        document.getElementById("status").textContent = `error ${e}`;
    });
});
