/**
 * The front's answers while a signal holds: the read-only window (503 to writes and to a
 * pusher's blob check) and the disk guard (507 to upload data), with their matchers.
 */

import { READ_ONLY_BODY_READ_LIMIT, READ_ONLY_RETRY_AFTER_SECONDS, type ReadOnlySignal, SWEEP_HOLD_RETRY_AFTER_SECONDS } from "../policy";
import { passedBodyTimeout } from "./limits";
import { escapeBraces, registryError } from "./syntax";

/** The name of a signal's matcher: one matcher per kind, since a named matcher's conditions all have to hold. */
export function windowMatcherName(kind: ReadOnlySignal["kind"]): string {
    return `@maintenance-${kind}`;
}

/**
 * A pusher's check whether a blob exists (HEAD on a blob) during the window: it gets the window's 503
 * too. Pulls fetch blobs with GET. Why: docs/decisions/access-policy.md#the-blob-check-during-the-window
 */
function blobCheckMatcherName(kind: ReadOnlySignal["kind"]): string {
    return `@maintenance-${kind}-blob-check`;
}

/** Any blob of any repository, by digest (the blob check's path). */
const BLOB_CHECK_PATH = "^/v2/.+/blobs/sha256:[0-9a-f]{64}$";

/** The kinds of signal present, in order: each gets its matchers and their 503 routes. */
export function signalKinds(signals: readonly ReadOnlySignal[]): ReadOnlySignal["kind"][] {
    return [...new Set(signals.map((s) => s.kind))];
}

/**
 * A pusher's blob check (HEAD on a blob) during the read-only window: the window's 503,
 * before any credential check. A HEAD carries no body: nothing is read. One route per kind of signal.
 * Why: docs/decisions/access-policy.md#the-blob-check-during-the-window
 */
export function blobCheckAnswer(signals: readonly ReadOnlySignal[]): string[] {
    return signalKinds(signals).flatMap((kind) => [`\t\troute ${blobCheckMatcherName(kind)} {`, ...unavailableAnswer("\t\t\t"), "\t\t}"]);
}

/**
 * Writes during the read-only window: 503, Retry-After and a registry error that says
 * what is going on. Placed after the push accounts' password check: a write without valid push
 * credentials gets the 401 it gets outside the window, at once and without its body being read; only
 * an authenticated write has its body read first (`readBodyFirst`). One route per kind of signal, with
 * the same answer: the window is open while any signal is.
 * Why: docs/decisions/access-policy.md#the-read-only-window and #the-window-reads-the-body-first
 */
export function readOnlyAnswer(signals: readonly ReadOnlySignal[]): string[] {
    return signalKinds(signals).flatMap((kind) => [
        `\t\troute ${windowMatcherName(kind)} {`,
        ...readBodyFirst("\t\t\t"),
        ...unavailableAnswer("\t\t\t"),
        "\t\t}",
    ]);
}

/** The window's answer: 503, Retry-After and a registry error that says what is going on. */
function unavailableAnswer(indent: string): string[] {
    const message =
        "the registry is in its read-only maintenance window (garbage collection or backup): pulls work, pushes do not; retry the push in a few minutes";
    return [
        "header {",
        `\tRetry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`,
        "\tContent-Type application/json",
        "\tDocker-Distribution-Api-Version registry/2.0",
        "}",
        `respond \`${escapeBraces(registryError("UNAVAILABLE", message))}\` 503`,
    ].map((l) => `${indent}${l}`);
}

/**
 * The disk guard's matchers, while its marker exists: a new blob upload (`@diskFull`: POST to a repository's
 * `blobs/uploads/`, a cross-repository mount included), and data for an upload already open
 * (`@diskFullData`: a PATCH or PUT to its session with a body: a length above zero, a chunked one, or over
 * HTTP/2 one without a length). The PUT that commits an upload whose data all came before carries no body and goes on: its bytes are on the
 * disk already, and the commit moves them into place. Manifests, pulls and deletes (which free space) go on.
 */
export function diskFullMatcher(marker: string): string[] {
    const file = ["\t\tfile {", "\t\t\troot /", `\t\t\ttry_files ${marker}`, "\t\t}"];
    return [
        "\t@diskFull {",
        "\t\tmethod POST",
        `\t\tpath_regexp ${UPLOAD_START_PATH}`,
        ...file,
        "\t}",
        "\t@diskFullData {",
        "\t\tmethod PATCH PUT",
        `\t\tpath_regexp ${UPLOAD_SESSION_PATH}`,
        // A length above zero, or a chunked body (Go's server keeps Transfer-Encoding out of the headers; the
        // matcher reads it back), or, over HTTP/2, no length at all: a stream says nothing of a body to come
        // (docker, skopeo and every Go client send `content-length: 0` with a PUT that has none).
        "\t\texpression `header_regexp('Content-Length', '^0*[1-9]') || header({'Transfer-Encoding': '*'}) || (protocol('http/2+') && !header({'Content-Length': '*'}))`",
        ...file,
        "\t}",
    ];
}

/** Where a blob upload starts: POST /v2/<name>/blobs/uploads/. */
const UPLOAD_START_PATH = "^/v2/.+/blobs/uploads/?$";

/** An open upload session: /v2/<name>/blobs/uploads/<session> (PATCH sends data, PUT the last data and commits). */
const UPLOAD_SESSION_PATH = "^/v2/.+/blobs/uploads/[^/]+$";

/** The message of the disk guard's refusal: what is wrong, that pulls go on, and what frees space. */
export const DISK_FULL_MESSAGE =
    "the registry's disk is almost full, so it takes no uploads: pulls work, pushes do not. An operator frees space (docs/runbooks.md, Disk full: delete unused tags, then run the garbage collection); pushes resume by themselves within five minutes of it";

/**
 * The message of the disk guard's refusal of a Maven deploy: what is wrong, that downloads go on, and what
 * frees space. Plain text, as every answer of the Maven route: Maven prints the status line, curl the body.
 */
export const MAVEN_DISK_FULL_MESSAGE =
    "the Maven repository's disk is almost full, so it takes no deploys: downloads work, deploys do not. An operator frees space (docs/runbooks.md, Disk full: remove old builds, or let the garbage collection remove old snapshot builds); deploys resume by themselves within five minutes of it";

/**
 * New blob uploads and data for open ones while the disk guard's marker exists: 507 Insufficient Storage and
 * a registry error that says so, on the window's path (after the push accounts' check, the body read first:
 * `readBodyFirst`). Nothing of the refused data reaches Distribution.
 */
export function diskFullAnswer(): string[] {
    return ["@diskFull", "@diskFullData"].flatMap((matcher) => [
        `\t\troute ${matcher} {`,
        ...readBodyFirst("\t\t\t"),
        "\t\t\theader {",
        "\t\t\t\tContent-Type application/json",
        "\t\t\t\tDocker-Distribution-Api-Version registry/2.0",
        "\t\t\t}",
        `\t\t\trespond \`${escapeBraces(registryError("DENIED", DISK_FULL_MESSAGE))}\` 507`,
        "\t\t}",
    ]);
}

/**
 * Reads a refused write's body (up to READ_ONLY_BODY_READ_LIMIT) before the answer: a Go client
 * (docker, skopeo) still writing a blob when the 503 comes reports a reset connection instead of it.
 * The placeholder `{http.request.body}` is what reads it; the variable is used nowhere else. Only
 * after a password check: the front never holds a body for a client it has not authenticated.
 * Why: docs/decisions/access-policy.md#the-window-reads-the-body-first
 */
export function readBodyFirst(indent: string): string[] {
    return [
        // Read as a backend would read it: a client that pauses in its body still gets the answer.
        ...passedBodyTimeout(indent),
        `${indent}request_body {`,
        `${indent}\tmax_size ${READ_ONLY_BODY_READ_LIMIT}`,
        `${indent}}`,
        `${indent}vars refused_body {http.request.body}`,
        // The rest of a body over the limit is not read before the answer either (`closingRefusal`).
        `${indent}header Connection close`,
    ];
}

/** One matcher per kind: the files' matcher holds when any of its files exists (try_files, first_exist). */
export function readOnlyMatchers(signals: readonly ReadOnlySignal[]): string[] {
    return signalKinds(signals).flatMap((kind) => {
        const files = signals.flatMap((s) => (s.kind === "file" ? [s.path] : []));
        const names = signals.flatMap((s) => (s.kind === "env" ? [s.name] : []));
        const test =
            kind === "file"
                ? ["\t\tfile {", "\t\t\troot /", `\t\t\ttry_files ${files.join(" ")}`, "\t\t}"]
                : [`\t\texpression \`{env.${names[0]}} != ""\``];
        return [
            `\t${windowMatcherName(kind)} {`,
            "\t\tnot method GET HEAD",
            ...test,
            "\t}",
            `\t${blobCheckMatcherName(kind)} {`,
            "\t\tmethod HEAD",
            `\t\tpath_regexp ${BLOB_CHECK_PATH}`,
            ...test,
            "\t}",
        ];
    });
}

/** A digest as a query parameter must be this before its value names a hold file. */
const DIGEST_VALUE = "^sha256:[0-9a-f]{64}$";

/**
 * The online collection's per-digest hold (`AccessPolicy.sweepHold`): a blob check, an upload's commit and a
 * mount that name a digest with a file in the hold directory, and every manifest PUT; the writes go through
 * the gate (`sweepHoldGate`). The file matcher looks the name up on each request: creating or removing a
 * file needs no reload.
 * A query value names a file only once it is a digest (nothing else reaches the file matcher).
 * Why: docs/decisions/online-collection.md
 */
export function sweepHoldMatchers(dir: string): string[] {
    const file = (name: string) => ["		file {", `			root ${dir}`, `			try_files ${name}`, "		}"];
    return [
        "	@sweepHoldCheck {",
        "		method HEAD",
        `		path_regexp ${BLOB_CHECK_PATH}`,
        ...file("{http.request.uri.path.file}"),
        "	}",
        "	@sweepHoldCommit {",
        "		method PUT",
        `		path_regexp ${UPLOAD_SESSION_PATH}`,
        `		vars_regexp {http.request.uri.query.digest} ${DIGEST_VALUE}`,
        ...file("{http.request.uri.query.digest}"),
        "	}",
        "	@sweepHoldMount {",
        "		method POST",
        `		path_regexp ${UPLOAD_START_PATH}`,
        `		vars_regexp {http.request.uri.query.mount} ${DIGEST_VALUE}`,
        ...file("{http.request.uri.query.mount}"),
        "	}",
        "	@sweepHoldManifest {",
        "		method PUT",
        "		path_regexp ^/v2/.+/manifests/[^/]+$",
        "	}",
    ];
}

/**
 * A blob check of a blob being swept: 404, as Distribution answers for a blob it does not have, so the
 * client uploads it (and its commit waits at the gate: `sweepHoldGate`). After the read rule and
 * the mirrors (whose blobs are not this registry's), before the front serves blob files itself.
 */
export function sweepHoldCheckAnswer(): string[] {
    return [
        "		route @sweepHoldCheck {",
        "			header Docker-Distribution-Api-Version registry/2.0",
        "			respond 404",
        "		}",
    ];
}

/** The message of the online collection's 503: a retry in seconds goes through. */
const SWEEP_HOLD_MESSAGE =
    "garbage collection has held this write longer than the front waits (it is removing a blob, or holds manifests while it does): retry in a few seconds";

/** The online collection's 503 (`SWEEP_HOLD_MESSAGE`) with its short Retry-After, at `indent`. */
function sweepHoldRefusal(indent: string): string[] {
    return [
        `${indent}header {`,
        `${indent}\tRetry-After ${SWEEP_HOLD_RETRY_AFTER_SECONDS}`,
        `${indent}\tContent-Type application/json`,
        `${indent}\tDocker-Distribution-Api-Version registry/2.0`,
        `${indent}}`,
        `${indent}respond \`${escapeBraces(registryError("UNAVAILABLE", SWEEP_HOLD_MESSAGE))}\` 503`,
    ];
}

/** The variable the gate's routes set, by which the site's error handler knows a write the gate kept out. */
export const SWEEP_HOLD_GATE_VAR = "dso_sweep_gate";

/**
 * In the site's error handler: a write that waited SWEEP_HOLD_WAIT_SECONDS at the shut gate
 * (`sweepHoldGate`) gets the collection's 503 with its Retry-After instead of the proxy's 502, its
 * connection closed (its body may be unread).
 */
export function sweepHoldGateShutAnswer(): string[] {
    return [
        `\t\t@sweepGateShut expression \`{err.status_code} == 502 && {vars.${SWEEP_HOLD_GATE_VAR}} == "yes"\``,
        "\t\thandle @sweepGateShut {",
        "\t\t\theader Connection close",
        ...sweepHoldRefusal("\t\t\t"),
        "\t\t}",
    ];
}
