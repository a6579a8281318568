/**
 * The garbage of the Maven repository this program serves, in either placement: the renderer of the
 * lines both garbage-collection jobs run (the external host's over its data directory, the in-cluster
 * one inside the nginx sidecar over the `maven-data` volume). Pure: no Pulumi, no I/O. The lines use
 * only POSIX sh, find, sed, sort, tr, head, mktemp, wc and rm, which Debian and the nginx image carry.
 */
import { shQuote } from "../shared/shQuote";

/**
 * Folder of the upload spool inside the data directory where nginx spools there (the external host:
 * same filesystem, so a finished upload is renamed into place). In the pod the spool is an emptyDir
 * and the folder does not exist.
 */
export const MAVEN_UPLOADS = ".uploads";
/** Minutes after which a spooled upload nobody writes to any more is a leftover (nginx was killed mid-upload). */
export const MAVEN_UPLOAD_LEFTOVER_MINUTES = 60;

/** What a garbage-collection job removes from the Maven repository. */
export interface MavenCleanup {
    /**
     * The data directory as the machine that runs the lines sees it: `externalHost.mavenDataDir` on the
     * host, the sidecar's mount of `maven-data` in the cluster. `$DSO_ROOT` (unset there) is put in front.
     */
    readonly dataDir: string;
    /** The repository's path (`mavenRegistry.pathPrefix`). */
    readonly pathPrefix: string;
    /** Timestamped builds kept per SNAPSHOT version (`mavenRegistry.snapshotBuildsToKeep`), at least 1. */
    readonly snapshotBuildsToKeep: number;
}

/**
 * Lines of a garbage-collection job, the external host's or the in-cluster one (run inside its read-only window, where the front refuses
 * deploys with 503, so no deploy is half-way through a version directory) that remove the Maven
 * repository's garbage:
 * - upload spool files nobody has written to for an hour: what nginx leaves when it is killed in the
 *   middle of an upload (a finished or aborted upload removes its own);
 * - timestamped builds of a SNAPSHOT version beyond the newest `snapshotBuildsToKeep` (by build
 *   number), every file of the build (jar, pom, classifiers, checksums). Safe because the version's
 *   maven-metadata.xml names only the latest build, which is always kept; a version directory whose
 *   metadata names no build is left alone. Releases are never touched.
 */
export function mavenCleanupLines(c: MavenCleanup): string[] {
    if (!Number.isInteger(c.snapshotBuildsToKeep) || c.snapshotBuildsToKeep < 1) {
        throw new Error(`mavenCleanupLines: snapshotBuildsToKeep must be a whole number of at least 1, not ${c.snapshotBuildsToKeep}`);
    }
    return [
        `maven="\${DSO_ROOT:-}"${shQuote(c.dataDir)}`,
        `if [ -d "$maven/${MAVEN_UPLOADS}" ]; then`,
        `  leftovers=$(find "$maven/${MAVEN_UPLOADS}" -type f -mmin +${MAVEN_UPLOAD_LEFTOVER_MINUTES} -print -exec rm -f {} + | wc -l)`,
        `  echo "maven: removed $leftovers leftover upload files"`,
        "fi",
        "# The build (timestamp-buildNumber) a file of the version directory belongs to, or nothing.",
        'build_of() { name=${1##*/}; rest=${name#"$prefix"}; [ "$rest" != "$name" ] || return 0; printf "%s\\n" "$rest" | sed -n \'s/^\\([0-9]\\{8\\}\\.[0-9]\\{6\\}-[0-9]\\{1,\\}\\)[.-].*/\\1/p\'; }',
        "pruned=0",
        "snapshots=$(mktemp)",
        `find "$maven"/${shQuote(c.pathPrefix)} -type d -name '*-SNAPSHOT' 2>/dev/null > "$snapshots" || true`,
        "while IFS= read -r dir; do",
        '  [ -f "$dir/maven-metadata.xml" ] || continue',
        '  version=${dir##*/}; parent=${dir%/*}; prefix="${parent##*/}-${version%-SNAPSHOT}-"',
        "  latest=$(tr -d ' \\t\\r\\n' < \"$dir/maven-metadata.xml\" | sed -n 's|.*<snapshot><timestamp>\\([0-9.]*\\)</timestamp><buildNumber>\\([0-9]*\\)</buildNumber>.*|\\1-\\2|p')",
        '  [ -n "$latest" ] || continue',
        `  kept=" $latest $(for f in "$dir"/*; do build_of "$f"; done | sort -u | sort -t- -k2,2nr | head -n ${c.snapshotBuildsToKeep} | tr '\\n' ' ')"`,
        '  for f in "$dir"/*; do',
        '    b=$(build_of "$f")',
        '    [ -n "$b" ] || continue',
        '    case "$kept" in *" $b "*) continue ;; esac',
        '    rm -f "$f"; pruned=$((pruned + 1))',
        "  done",
        'done < "$snapshots"',
        'rm -f "$snapshots"',
        `echo "maven: removed $pruned files of snapshot builds older than the newest ${c.snapshotBuildsToKeep} of each version"`,
    ];
}
