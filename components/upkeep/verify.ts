/**
 * The check that every tagged image is still served whole, for both placements: after garbage
 * collection (what can go wrong there: docs/decisions/maintenance-window.md) and after a restore.
 * One script, `sh/verify.sh` beside this file; the places it runs differ only in the HTTP client they
 * have and in what the messages point to:
 *
 * - the external host: `dso-registry-verify` with curl, against Distribution's unix socket
 *   (components/externalHost/backupScripts.ts `verifyScript`);
 * - the in-cluster registry: `verify.sh` in ConfigMap `registry-config`, run by the GC job inside the
 *   registry container (`kubectl exec`), the only place that reaches Distribution on the pod's
 *   loopback; the registry:2 image is Alpine with busybox and no curl, so it uses busybox's wget.
 */
import * as path from "node:path";
import { renderShellScript } from "../shared/shellScript";
import { type JobReporting, reportingParams } from "./reporting";

/** The file, in Distribution's storage root (outside its `docker/` tree), listing the blob files that passed. */
export const CHECKED_BLOBS_FILE = "dso-checked-blobs";

/** The HTTP client the check runs with: curl (the external host), busybox's wget (the registry:2 image). */
export type VerifyHttpClient = "curl" | "busybox-wget";

/**
 * How a script reaches Distribution itself, with no front in between (sh/registry-api.sh, which the
 * check and retention share): the same four parameters wherever it runs.
 */
export interface RegistryApiAccess {
    /** Distribution's own address (`http://…`), no Caddy in between. */
    readonly base: string;
    /** Distribution's unix socket (curl only): requests go there, `base` only names the URL's host. */
    readonly unixSocket?: string;
    readonly client: VerifyHttpClient;
    /** The command that shows the registry's log, named when the registry does not answer as it should. */
    readonly registryLogs: string;
}

/** The script parameters of `RegistryApiAccess`. */
export function registryApiParams(access: RegistryApiAccess) {
    return {
        REGISTRY_URL: access.base,
        HTTP_CLIENT: access.client,
        UNIX_SOCKET: access.unixSocket ?? "",
        REGISTRY_LOGS: access.registryLogs,
    };
}

/** What differs between the places the check runs. */
export interface VerifyScriptSpec extends RegistryApiAccess {
    /** What to do about images that are not served whole: the failure's last line. */
    readonly remedy: string;
    /**
     * With filesystem storage: Distribution's storage root as the check sees it. The blob files are then
     * checked too (components/upkeep/sh/blob-files.sh): no symbolic link, every file hashing to its
     * digest; the digests that passed are kept beside Distribution's tree (`CHECKED_BLOBS_FILE`), so a
     * restore brings back the list that describes its data.
     */
    readonly blobStore?: string;
    /** The reporter, and this script's path on the host (the external host with monitoring on). */
    readonly reporting?: JobReporting & { readonly self: string };
}

/**
 * The check's complete text. Prints each missing piece with its image name (`MISSING repo:tag: blob
 * sha256:… (HTTP 404)`) and fails with the list (`FAILED: these tagged images are not served whole:
 * …`); with `blobStore`, also each damaged file (`DAMAGED <path>: …`). On success prints
 * `verified: N tagged images, M blobs, all served`.
 */
export function renderVerifyScript(options: VerifyScriptSpec): string {
    return renderShellScript(path.join(__dirname, "sh", "verify.sh"), {
        ...registryApiParams(options),
        REMEDY: options.remedy,
        BLOB_STORE: options.blobStore ?? "",
        CHECKED_BLOBS: options.blobStore ? `${options.blobStore.replace(/\/+$/, "")}/${CHECKED_BLOBS_FILE}` : "",
        ...reportingParams(options.reporting, options.reporting?.self ?? ""),
    });
}
