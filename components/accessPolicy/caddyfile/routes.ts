/**
 * The routes to what the front serves: Distribution (and a cache) behind the proxy, the blob shortcut from
 * the data directory, the web UI, the pull-through caches under /v2/mirrors/, and the Maven repository.
 */

import { UI_PATH } from "../../registryUi/environment";
import {
    type AccessPolicy,
    type MavenRoute,
    MIRRORS_NAMESPACE,
    type MirrorRoute,
    READ_ONLY_RETRY_AFTER_SECONDS,
    SWEEP_HOLD_GATE,
    SWEEP_HOLD_WAIT_SECONDS,
    UPSTREAM_TRY_SECONDS,
} from "../policy";
import { passedBodyTimeout } from "./limits";
import type { PasswordChecks } from "./passwordChecks";
import { MAVEN_DISK_FULL_MESSAGE, readBodyFirst, SWEEP_HOLD_GATE_VAR, signalKinds, windowMatcherName } from "./signals";
import { closingRefusal, escapeBraces, REPOSITORY_NAME, registryError } from "./syntax";

/**
 * The proxy's read and write buffers on each connection to Distribution (or a cache). A download whose client
 * stops reading holds them until Caddy's minute without progress cuts it: at 64 KiB a stalled download costs
 * the front about 0.22 MiB (256 KiB: 0.40 MiB), and the front's 4,096 open files, two per proxied download,
 * hold it under 512 MiB (about 420 MiB measured at the cap; 256 KiB: 490 to 580 MiB). Downloads are as fast as
 * with 256 KiB (bench/policy-throughput.ts --proxy-buffer). Why: docs/decisions/access-policy.md#slow-clients
 */
const PROXY_BUFFER = "64KiB";

/**
 * Distribution (or a cache) behind the proxy: responses stream with PROXY_BUFFER socket buffers, without the
 * client's credentials, the body a minute without progress (`passedBodyTimeout`), and a request that finds no registry listening is held and retried for
 * UPSTREAM_TRY_SECONDS. Why: docs/decisions/access-policy.md#the-proxy-to-distribution
 */
export function registryProxy(upstream: string, options: { readonly trySeconds?: number; readonly keepalive?: boolean } = {}): string[] {
    return [
        ...passedBodyTimeout("\t\t"),
        `\t\treverse_proxy ${upstream} {`,
        "\t\t\theader_up -Authorization",
        "\t\t\tflush_interval -1",
        `\t\t\tlb_try_duration ${options.trySeconds ?? UPSTREAM_TRY_SECONDS}s`,
        "\t\t\tlb_try_interval 250ms",
        // Reads are retried also when the connection was accepted and then dropped; writes only when none was made.
        "\t\t\tlb_retry_match {",
        "\t\t\t\tmethod GET HEAD",
        "\t\t\t}",
        "\t\t\ttransport http {",
        "\t\t\t\tcompression off",
        `\t\t\t\tread_buffer ${PROXY_BUFFER}`,
        `\t\t\t\twrite_buffer ${PROXY_BUFFER}`,
        `\t\t\t\tkeepalive ${options.keepalive === false ? "off" : "5m"}`,
        "\t\t\t}",
        "\t\t}",
    ];
}

/**
 * The online collection's holds on writes (`AccessPolicy.sweepHold`): every manifest PUT, and the commit of an
 * upload or a mount of a blob being swept, go to Distribution through the gate, the link `gate` in the hold
 * directory. While the collection has taken the gate away, the proxy finds nothing to connect to and tries
 * again until it is back, for up to SWEEP_HOLD_WAIT_SECONDS: the write waits at the front instead of failing,
 * its body unread until then. Each opens a connection of its own (keep-alive off), so none passes a shut gate
 * on a connection pooled before. Placed after every policy rule, just before the proxy to Distribution.
 * Why: docs/decisions/online-collection.md
 */
export function sweepHoldGate(dir: string): string[] {
    const proxy = registryProxy(`unix/${dir}/${SWEEP_HOLD_GATE}`, { trySeconds: SWEEP_HOLD_WAIT_SECONDS, keepalive: false });
    return ["@sweepHoldCommit", "@sweepHoldMount", "@sweepHoldManifest"].flatMap((matcher) =>
        [`\troute ${matcher} {`, `\t\tvars ${SWEEP_HOLD_GATE_VAR} yes`, ...proxy, "\t}"].map((line) => `\t${line}`),
    );
}

/**
 * A blob GET/HEAD: capture 1 is the repository, 2 the 64 hex digits of the digest, 3 their first two
 * (Distribution's directory fan-out). Matched against the request's path as sent (decoded, not
 * cleaned): `//v2//…`, `/v2/./…`, `/v2/x/../…` and encoded slashes do not match and go through the
 * proxy, where Distribution gives its own answer (a 301 to the clean path). Anything else (other
 * algorithms, upper case, names outside the grammar) does not match either.
 */
export const BLOB_PATH = `^/v2/(${REPOSITORY_NAME})/blobs/sha256:(([0-9a-f]{2})[0-9a-f]{62})$`;

/**
 * Blob downloads served by Caddy from Distribution's filesystem storage, placed after every policy
 * rule. Served only when the repository's layer link (`repositories/<name>/_layers/sha256/<hex>/link`)
 * and the data (`blobs/sha256/<2 hex>/<hex>/data`) both exist; otherwise the request falls through to
 * the proxy and Distribution answers. The link is looked up under `repositories/` and the file served
 * from under `blobs/` only: nothing else of the storage (uploads in progress) can be named. The
 * placeholders come from the path matcher of the enclosing route: the file matchers sit in nested
 * routes because the matchers of one set are evaluated in no defined order.
 * Why: docs/decisions/access-policy.md#the-blob-shortcut
 */
export function blobShortcut(storageRoot: string): string[] {
    const v2 = `${storageRoot.replace(/\/+$/, "")}/docker/registry/v2`;
    const fileMatcher = (name: string, root: string, file: string) => [`@${name} file {`, `\troot ${root}`, `\ttry_files ${file}`, "}"];
    return [
        "route @blob {",
        ...fileMatcher("linked", `${v2}/repositories`, "/{re.blob.1}/_layers/sha256/{re.blob.2}/link").map((l) => `\t${l}`),
        "\troute @linked {",
        ...fileMatcher("stored", `${v2}/blobs`, "/sha256/{re.blob.3}/{re.blob.2}/data").map((l) => `\t\t${l}`),
        "\t\troute @stored {",
        // The headers Distribution sends with a blob; file_server keeps a Content-Type already set
        // and adds Content-Length, Accept-Ranges, ETag and Last-Modified, and answers Range requests.
        "\t\t\theader {",
        "\t\t\t\tDocker-Content-Digest sha256:{re.blob.2}",
        "\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t\tContent-Type application/octet-stream",
        "\t\t\t\tCache-Control max-age=31536000",
        "\t\t\t\tX-Content-Type-Options nosniff",
        "\t\t\t}",
        "\t\t\trewrite * {file_match.relative}",
        "\t\t\tfile_server {",
        `\t\t\t\troot ${v2}/blobs`,
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "}",
    ].map((l) => `\t\t${l}`);
}

/** The blob shortcut's matcher: a blob GET or HEAD whose path BLOB_PATH matches (its captures name the files). */
export function blobMatcher(): string[] {
    return ["\t@blob {", "\t\tmethod GET HEAD", `\t\tvars_regexp blob {http.request.uri.path} ${BLOB_PATH}`, "\t}"];
}

/**
 * The web UI under UI_PATH, right after the allowlist and before every credential rule: its files
 * are the same static page for everyone (nothing of the registry is in them); what it shows comes
 * from its own requests to /v2/, which meet every rule. The prefix is cut off (the UI serves its files
 * at "/"), and "/registry" without its slash is sent to the page. Why: docs/external-host.md#web-ui
 */
export function uiRoute(upstream: string): string[] {
    const prefix = UI_PATH.replace(/\/$/, "");
    return [
        `\t\tredir ${prefix} ${UI_PATH} 308`,
        `\t\thandle_path ${UI_PATH}* {`,
        "\t\t\trequest_header -Authorization",
        `\t\t\treverse_proxy ${upstream}`,
        "\t\t}",
    ];
}

/**
 * The pull-through caches under /v2/mirrors/: any method but GET and HEAD gets 405, pulls need an
 * account when `mirrorsRequireAuth` (unless every read needs one already), each mirror's prefix is cut
 * back to /v2/ and proxied to its cache, and an unknown mirror is a registry 404. After the credential
 * checks, before the registry itself. Why: docs/decisions/access-policy.md#mirrors-are-read-only and
 * #who-may-pull-through-the-caches
 */
export function mirrorRoutes(policy: AccessPolicy, checks: PasswordChecks, routes: readonly MirrorRoute[]): string[] {
    if (routes.length === 0) return [];
    const notFound = escapeBraces(registryError("NAME_UNKNOWN", "no mirror of that registry here; see docs/mirrors.md"));
    const accountCheck =
        policy.mirrorsRequireAuth && !policy.requiresAuthForPull
            ? checks.check("*", [policy.pushUsersFile, policy.pullUsersFile]).map((l) => l.replace(/^\t\t/, "\t"))
            : [];
    const lines = [
        `route /v2/${MIRRORS_NAMESPACE}/* {`,
        "\t@mirrorWrite not method GET HEAD",
        ...closingRefusal('\trespond @mirrorWrite "Mirrors are read-only: push to the registry itself, not under /mirrors/" 405'),
        ...accountCheck,
        ...routes.flatMap((r) => {
            const prefix = `/v2/${MIRRORS_NAMESPACE}/${r.pathName}/`;
            return [`\troute ${prefix}* {`, `\t\turi replace ${prefix} /v2/ 1`, ...registryProxy(r.upstream), "\t}"];
        }),
        "\theader Content-Type application/json",
        `\trespond \`${notFound}\` 404`,
        "}",
    ];
    return lines.map((l) => `\t\t${l}`);
}

export function mavenMatchers(maven: MavenRoute): string[] {
    return [
        `\t@maven path /${maven.pathPrefix} /${maven.pathPrefix}/*`,
        "\t@mavenOther not method GET HEAD PUT",
        "\t@mavenRead method GET HEAD",
        // A deploy while the disk guard's marker for the repository's disk exists.
        ...(maven.diskFullSignal
            ? [
                  "\t@mavenDiskFull {",
                  "\t\tmethod PUT",
                  "\t\tfile {",
                  "\t\t\troot /",
                  `\t\t\ttry_files ${maven.diskFullSignal}`,
                  "\t\t}",
                  "\t}",
              ]
            : []),
    ];
}

/**
 * The Maven repository's route, ahead of every registry rule. Only GET, HEAD and PUT exist there;
 * during the read-only window a PUT gets 503 with Retry-After, and while the disk guard's marker for
 * the repository's disk exists (`MavenRoute.diskFullSignal`) 507; PUT needs the Maven deploy account;
 * reads are anonymous unless `requiresAuthForPull`, and then any account may read. Credentials stop
 * here: the backend never sees them. Why: docs/decisions/access-policy.md#maven-on-the-same-origin
 */
export function mavenRoute(policy: AccessPolicy, checks: PasswordChecks, maven: MavenRoute): string[] {
    const readers = [maven.deployUsersFile, policy.pushUsersFile, policy.pullUsersFile];
    return [
        "\t\troute @maven {",
        ...closingRefusal('\t\t\trespond @mavenOther "Only GET, HEAD and PUT are allowed on the Maven repository" 405'),
        ...checks.check("@write", [maven.deployUsersFile]).map((l) => `\t${l}`),
        // Deploys wait out the read-only window like pushes: a backup or a clean-up must not see half a
        // deploy. After the password check, so that only the deploy account's body is ever read here.
        ...signalKinds(policy.readOnlySignals ?? []).flatMap((kind) => [
            `\t\t\troute ${windowMatcherName(kind)} {`,
            ...readBodyFirst("\t\t\t\t"),
            `\t\t\t\theader Retry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`,
            '\t\t\t\trespond "the Maven repository is in its read-only maintenance window (garbage collection or backup): downloads work, deploys do not; retry the deploy in a few minutes" 503',
            "\t\t\t}",
        ]),
        // A deploy that would fill the disk: refused as a push is (after the password check, the body read
        // first); downloads go on, and so does the removal of old builds, which frees space.
        ...(maven.diskFullSignal
            ? ["\t\t\troute @mavenDiskFull {", ...readBodyFirst("\t\t\t\t"), `\t\t\t\trespond "${MAVEN_DISK_FULL_MESSAGE}" 507`, "\t\t\t}"]
            : []),
        ...(maven.requiresAuthForPull ? checks.check("@mavenRead", readers).map((l) => `\t${l}`) : []),
        "\t\t\trequest_header -Authorization",
        ...passedBodyTimeout("\t\t\t"),
        `\t\t\treverse_proxy ${maven.upstream} {`,
        "\t\t\t\tflush_interval -1",
        "\t\t\t\ttransport http {",
        "\t\t\t\t\tcompression off",
        "\t\t\t\t}",
        "\t\t\t}",
        "\t\t}",
    ];
}
