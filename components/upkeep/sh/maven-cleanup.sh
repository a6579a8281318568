# shellcheck shell=sh
# The garbage of the Maven repository this program serves, in either placement
# (components/upkeep/mavenCleanup.ts): run by both garbage-collection jobs inside their window, where
# the front refuses deploys with 503, so no deploy is half-way through a version directory. A script
# that sources this declares the MAVEN_ parameters of `mavenCleanupParams`. POSIX sh, find, sed, sort,
# tr, head, mktemp, wc and rm only: Debian and the nginx image carry them.

# maven_build_of FILE: the build (timestamp-buildNumber) a file of the version directory belongs to,
# or nothing; $maven_prefix is the version's file name prefix.
maven_build_of() {
    maven_name=${1##*/}
    maven_rest=${maven_name#"$maven_prefix"}
    [ "$maven_rest" != "$maven_name" ] || return 0
    printf "%s\n" "$maven_rest" | sed -n 's/^\([0-9]\{8\}\.[0-9]\{6\}-[0-9]\{1,\}\)[.-].*/\1/p'
}

# clean_maven_repository: removes from the repository at MAVEN_DATA_DIR
# - upload spool files nobody has written to for MAVEN_UPLOAD_LEFTOVER_MINUTES: what nginx leaves when
#   it is killed in the middle of an upload (a finished or aborted upload removes its own);
# - timestamped builds of a SNAPSHOT version beyond the newest MAVEN_SNAPSHOT_BUILDS_TO_KEEP (by build
#   number), every file of the build (jar, pom, classifiers, checksums). Safe because the version's
#   maven-metadata.xml names only the latest build, which is always kept; a version directory whose
#   metadata names no build is left alone. Releases are never touched.
clean_maven_repository() {
    maven="${DSO_ROOT:-}$MAVEN_DATA_DIR"
    if [ -d "$maven/$MAVEN_UPLOADS" ]; then
        leftovers=$(find "$maven/$MAVEN_UPLOADS" -type f -mmin "+$MAVEN_UPLOAD_LEFTOVER_MINUTES" -print -exec rm -f {} + | wc -l)
        echo "maven: removed $leftovers leftover upload files"
    fi
    pruned=0
    snapshots=$(mktemp)
    find "$maven/$MAVEN_PATH_PREFIX" -type d -name '*-SNAPSHOT' 2>/dev/null >"$snapshots" || true
    while IFS= read -r dir; do
        [ -f "$dir/maven-metadata.xml" ] || continue
        version=${dir##*/}; parent=${dir%/*}; maven_prefix="${parent##*/}-${version%-SNAPSHOT}-"
        latest=$(tr -d ' \t\r\n' < "$dir/maven-metadata.xml" | sed -n 's|.*<snapshot><timestamp>\([0-9.]*\)</timestamp><buildNumber>\([0-9]*\)</buildNumber>.*|\1-\2|p')
        [ -n "$latest" ] || continue
        kept=" $latest $(for f in "$dir"/*; do maven_build_of "$f"; done | sort -u | sort -t- -k2,2nr | head -n "$MAVEN_SNAPSHOT_BUILDS_TO_KEEP" | tr '\n' ' ')"
        for f in "$dir"/*; do
            b=$(maven_build_of "$f")
            [ -n "$b" ] || continue
            case "$kept" in *" $b "*) continue ;; esac
            rm -f "$f"; pruned=$((pruned + 1))
        done
    done <"$snapshots"
    rm -f "$snapshots"
    echo "maven: removed $pruned files of snapshot builds older than the newest $MAVEN_SNAPSHOT_BUILDS_TO_KEEP of each version"
}
