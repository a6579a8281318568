/**
 * Tag retention (`registry.maintenance.retention`), for every placement: one script, `sh/retention.sh`
 * beside this file, run by garbage collection in two phases: `plan` reads every tag under the rules and
 * writes what goes to a file while the registry still takes pushes; `apply` makes those removals inside
 * the read-only window, before the collection (so that the collector frees the blobs of what it removed),
 * with a request per removal, per affected repository and per tag new since the plan, and keeps what
 * changed in between (docs/deletes-and-gc.md, Retention). Without a phase it does both at once. The places it runs differ only in how they
 * reach Distribution (as the check in ./verify.ts does), where its storage is, what they know of the
 * running workloads and where the counts go:
 *
 * - the external host: `dso-registry-retention`, with curl over Distribution's unix socket, the link
 *   files read on the host, the counts in node_exporter's textfile collector; no workloads known;
 * - the in-cluster registry: `retention.sh` in ConfigMap `registry-config`, run in the registry
 *   container (busybox) with the images of every pod in the cluster on stdin, handed over by the GC job;
 *   with monitoring, the counts in a directory the Caddy sidecar serves (../inCluster/retentionCounts.ts);
 * - kind: run in the Distribution container (busybox) by the upkeep container; no workloads known.
 */
import * as path from "node:path";
import { JOB_METRICS } from "../monitoring/jobMetrics";
import { renderShellScript } from "../shared/shellScript";
import { type RegistryApiAccess, registryApiParams } from "./verify";

/**
 * What the tools that attach by tag push under each suffix: the media types the layers of that manifest may
 * have (cosign v2.6: `pkg/oci/remote/options.go` names the suffixes, `pkg/types` the media types). `sig`:
 * `cosign sign`'s simple-signing payloads; `att`: `cosign attest`'s DSSE envelopes; `sbom`: the SPDX,
 * CycloneDX or Syft document of `cosign attach sbom`.
 */
export const ATTACHMENT_LAYERS = {
    sig: ["application/vnd.dev.cosign.simplesigning.v1+json"],
    att: ["application/vnd.dsse.envelope.v1+json"],
    sbom: ["text/spdx", "text/spdx+json", "application/vnd.cyclonedx+xml", "application/vnd.cyclonedx+json", "application/vnd.syft+json"],
} as const satisfies Record<string, readonly string[]>;

/**
 * The config media types a container runtime takes for an image's configuration: OCI's and Docker's, and
 * the ones Docker Engine's puller takes for an image too (moby `distribution/config.go`, `defaultImageTypes`:
 * `application/octet-stream`, `application/json`, `text/html`, and none at all). An artifact's config has a
 * media type of its own or OCI's empty one (image-spec 1.1, artifacts-guidance.md).
 */
const IMAGE_CONFIG_TYPES = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
    "application/octet-stream",
    "application/json",
    "text/html",
] as const;

/**
 * The layer media types a container runtime unpacks into a container's filesystem, as a POSIX extended
 * regular expression matched against the whole type: OCI's and Docker's layer types, and everything Docker
 * Engine's puller lets through as a layer (moby `distribution/pull_v2.go`, `supportedMediaTypes`: any type
 * under `application/vnd.oci.image.` or `application/vnd.docker.`, the three untyped ones above, none).
 */
export const IMAGE_LAYER_TYPES =
    "(application/vnd[.]oci[.]image[.].*|application/vnd[.]docker[.].*|application/octet-stream|application/json|text/html)?";

/** IMAGE_CONFIG_TYPES or none, as one POSIX extended regular expression matched against the whole type (grep -Ex). */
const IMAGE_CONFIG_PATTERN = `(${IMAGE_CONFIG_TYPES.map((t) => t.replace(/[.+]/g, "[$&]")).join("|")})?`;

/**
 * A tag attached to another manifest of its repository, as a POSIX extended regular expression matched
 * against the whole tag (grep -Ex): `sha256-` and the 64 hex digits of the subject's digest, alone (the
 * OCI 1.1 referrers tag schema's index, which oras and notation write where the registry has no referrers
 * API, as Distribution 3.1.2 has not) or followed by one of cosign's suffixes (`ATTACHMENT_LAYERS`: `.sig`,
 * `.att`, `.sbom`). Any other suffix makes a tag of its own. A tag of this form counts as attached only
 * when its manifest is what that tool pushes (the script checks it: docs/supply-chain.md), a referrers
 * index only when what it lists are artifacts, not images a runtime would run (`IMAGE_CONFIG_PATTERN`,
 * `IMAGE_LAYER_TYPES`); then retention never ranks or ages it: it follows its subject.
 */
export const ATTACHED_TAG = `sha256-[0-9a-f]{64}([.](${Object.keys(ATTACHMENT_LAYERS).join("|")}))?`;

const ATTACHED_TAG_REGEXP = new RegExp(`^(?:${ATTACHED_TAG})$`);

/** The digest `tag` names as its subject (`sha256-<hex>.sig` → `sha256:<hex>`); undefined for a tag of its own. */
export function attachedSubject(tag: string): string | undefined {
    return ATTACHED_TAG_REGEXP.test(tag) ? `sha256:${tag.slice("sha256-".length, "sha256-".length + 64)}` : undefined;
}

/** ATTACHMENT_LAYERS as the script reads it: "SUFFIX MEDIA-TYPE" a line. */
function attachmentLayerLines(): string[] {
    return Object.entries(ATTACHMENT_LAYERS).flatMap(([suffix, types]) => types.map((type) => `${suffix} ${type}`));
}

/** The file the counts go to in `RetentionScriptSpec.textfileDir`. */
export const RETENTION_TEXTFILE = "dso_registry_retention.prom";

/**
 * One rule: the repositories under `prefix` keep their `keepNewest` newest tags, those younger than
 * `keepDays`, and those pulled within `keepPulledWithinDays` (the pull history), any of them.
 */
export interface RetentionRule {
    readonly prefix: string;
    readonly keepNewest?: number;
    readonly keepDays?: number;
    readonly keepPulledWithinDays?: number;
}

/** The retention settings, as configured. */
export interface Retention {
    readonly mode: "dry-run" | "apply";
    readonly rules: readonly RetentionRule[];
    /** POSIX extended regular expressions; a tag matching one as a whole is never removed. */
    readonly protect: readonly string[];
}

/** What differs between the places retention runs. */
export interface RetentionScriptSpec extends RegistryApiAccess {
    readonly retention: Retention;
    /**
     * With filesystem storage: Distribution's storage root as the script sees it (tag ages are the
     * link files' mtimes). Unset with a bucket: ages come from the image configs' `created`.
     */
    readonly storageRoot?: string;
    /** The directory the counts go to (`RETENTION_TEXTFILE`, Prometheus's text format); none when unset. */
    readonly textfileDir?: string;
    /** The pull history (sh/pull-history.sh) that `keepPulledWithinDays` reads; none when unset. */
    readonly pullHistory?: string;
    /** A pull history not written within this many seconds is taken for missing (the cluster's copy in the pod); no limit when unset. */
    readonly pullHistoryMaxAgeSeconds?: number;
}

/** RULES as the script reads it: "PREFIX KEEP_NEWEST KEEP_DAYS KEEP_PULLED_DAYS" a line, "-" for unset. */
export function retentionRuleLines(rules: readonly RetentionRule[]): string[] {
    return rules.map((r) => `${r.prefix} ${r.keepNewest ?? "-"} ${r.keepDays ?? "-"} ${r.keepPulledWithinDays ?? "-"}`);
}

/** The longest `keepPulledWithinDays` of the rules: how far back the pull history keeps pulls; undefined when no rule has it. */
export function pullHistoryDays(retention: Pick<Retention, "rules"> | undefined): number | undefined {
    const days = (retention?.rules ?? []).flatMap((r) => (r.keepPulledWithinDays === undefined ? [] : [r.keepPulledWithinDays]));
    return days.length > 0 ? Math.max(...days) : undefined;
}

/**
 * The script's complete text. Prints each tag it removes, or would remove in dry-run, on its own line
 * (`retention: removed team/app:41 (not among the 10 newest, 40 days old; with its manifest sha256:…)`;
 * an attached tag: `retention: removed team/app:sha256-….sig (attached to sha256:…, which retention removes)`),
 * each tag it keeps for a reason worth telling (`retention: kept team/app:1.2 (pulled 3 days ago)`), each tag that looks attached and is not
 * (`retention: not attached team/app:sha256-….sig (<why>; it counts as a tag of its own)`), and a summary line
 * (`retention: apply: 3 tags removed, …`); fails when Distribution refused a removal.
 */
export function renderRetentionScript(options: RetentionScriptSpec): string {
    return renderShellScript(path.join(__dirname, "sh", "retention.sh"), {
        ...registryApiParams(options),
        MODE: options.retention.mode,
        RULES: retentionRuleLines(options.retention.rules),
        PULL_HISTORY: options.pullHistory ?? "",
        PULL_HISTORY_MAX_AGE: options.pullHistoryMaxAgeSeconds ?? "",
        PROTECT: [...options.retention.protect],
        ATTACHED_TAG,
        ATTACHMENT_LAYERS: attachmentLayerLines(),
        IMAGE_CONFIG_TYPES: IMAGE_CONFIG_PATTERN,
        IMAGE_LAYER_TYPES,
        STORAGE_ROOT: options.storageRoot ?? "",
        TEXTFILE_DIR: options.textfileDir ?? "",
        TEXTFILE_NAME: RETENTION_TEXTFILE,
        REMOVED_METRIC: JOB_METRICS.retentionRemoved,
        CANDIDATES_METRIC: JOB_METRICS.retentionCandidates,
        KEPT_METRIC: JOB_METRICS.retentionKept,
        LAST_RUN_METRIC: JOB_METRICS.retentionLastRun,
    });
}
