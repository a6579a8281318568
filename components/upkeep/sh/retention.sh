#!/bin/sh
# Managed by dso-registry: tag retention (registry.maintenance.retention), run by garbage collection
# around its read-only window, so that the collector frees what it removes. See docs/deletes-and-gc.md,
# Retention.
#
# retention plan PLAN [WORKLOADS]: the read phase, while the registry takes writes: reads every tag of
# every repository under a rule (its manifest, its age), decides, and writes what it would remove to the
# file PLAN. In dry-run it also reports, and the apply phase has nothing to do.
# retention apply PLAN: the delete phase, inside the window: makes the removals PLAN lists, safe against
# what happened since the plan: a tag pushed since is not in it; each planned tag is checked once (a
# HEAD) and kept when it now names another manifest; before a manifest goes by digest, each affected
# repository's tags are listed once and those not in the plan's snapshot asked for (a HEAD each), and
# with filesystem storage the tag links of that repository read (no request), and a manifest a tag
# names that the plan did not remove stays: only the planned tags on it go, and the log says so. Its
# requests are one per planned removal, per affected repository and per new tag, whatever the number of
# tags retention keeps.
# retention [WORKLOADS]: both, one after the other.
# WORKLOADS is a file of the image references running workloads name, one a line (a pod's image or its
# status imageID), "-" for stdin; without it no workload is known.
#
# RULES holds one rule a line, "PREFIX KEEP_NEWEST KEEP_DAYS KEEP_PULLED_DAYS" ("-" for unset); a
# repository follows the rule with the longest prefix it starts with, and repositories under none are not
# read. In a covered repository a tag is kept when it is among the KEEP_NEWEST newest, younger than
# KEEP_DAYS days, matches a line of PROTECT as a whole (grep -Ex), is named by a workload (by tag, or by
# the digest it points to), was pulled within KEEP_PULLED_DAYS days (by tag, by the digest it points to,
# or by the digest of an image of its index), or when its age cannot be known; every other tag is a
# candidate. Pulls come from the file PULL_HISTORY (components/upkeep/sh/pull-history.sh: "since SECONDS",
# then "REPO REFERENCE SECONDS" lines); while it does not reach KEEP_PULLED_DAYS back (it is missing, or
# pulls are recorded for a shorter time), a tag it does not show pulled is kept, and the report says
# why. With PULL_HISTORY_MAX_AGE (seconds; empty: none), a history file not written within that time is
# taken for missing (the cluster's copy, which its harvest rewrites before each run). MODE "dry-run" prints the candidates; "apply" removes them through Distribution's API (with
# delete enabled): the manifest by digest when every tag on it goes, the tag alone when something kept
# still names its manifest (Distribution 3; Distribution 2.8 cannot remove a tag alone, so that tag is
# kept and the reason told).
# A tag's age is its push time: the mtime of its link file under STORAGE_ROOT (filesystem storage), or
# with a bucket (STORAGE_ROOT empty) the image config's `created` (an index's first image). An age
# before 2000 (Jib writes 1970) or in the future is unknown. With TEXTFILE_DIR, the counts go to the
# file TEXTFILE_NAME there, in Prometheus's text format (node_exporter's textfile collector on the
# host, the Caddy sidecar's metrics listener in the cluster).
#
# A tag that matches ATTACHED_TAG as a whole (grep -Ex: `sha256-<64 hex digits>`, alone or followed by
# cosign's .sig, .att or .sbom) names the manifest with that digest in the same repository as its subject.
# It is attached to it when its manifest is what the tool that uses the tag pushes (not_attached): a
# referrers index (the OCI 1.1 referrers tag schema that oras and notation write) is an OCI image index
# whose every manifest names the subject as its own `subject` and is an artifact, not an image a
# container runtime runs (not_artifact); a cosign tag is an image manifest whose layers all have the
# media types ATTACHMENT_LAYERS lists for its suffix, with a `subject`, if any, that is the one its tag
# names. Any other tag of that form is ranked and aged as a tag of its own, and the report says why: else
# an old image that names a kept one as its subject, listed under that one's referrers tag, would stay as
# long as it. An attached tag is never ranked or aged: it is kept while its subject is kept (a kept tag
# points to it, a kept index or referrers index lists it, a running workload names it by digest) or while
# it matches PROTECT, and removed with it otherwise, including when its subject is untagged or gone; it
# stays when removing its subject fails. Removing a referrers index also removes the artifacts it lists
# that nothing kept names, so that the collector frees them.
: "${REGISTRY_URL:?}" "${HTTP_CLIENT:?}" "${UNIX_SOCKET?}" "${REGISTRY_LOGS:?}"
: "${MODE:?}" "${RULES:?}" "${PULL_HISTORY?}" "${PULL_HISTORY_MAX_AGE?}" "${PROTECT?}" "${ATTACHED_TAG:?}" "${ATTACHMENT_LAYERS:?}" "${IMAGE_CONFIG_TYPES:?}" "${IMAGE_LAYER_TYPES:?}" "${STORAGE_ROOT?}"
: "${TEXTFILE_DIR?}" "${TEXTFILE_NAME:?}" "${REMOVED_METRIC:?}" "${CANDIDATES_METRIC:?}" "${KEPT_METRIC:?}" "${LAST_RUN_METRIC:?}"
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
api_tmp=$tmp
# shellcheck source=./registry-api.sh
. "$(dirname "$0")/./registry-api.sh"
# shellcheck source=./textfile.sh
. "$(dirname "$0")/./textfile.sh"
base=$REGISTRY_URL
case $MODE in dry-run | apply) ;; *) echo "MODE is dry-run or apply, not $MODE" >&2; exit 2 ;; esac
now=$(date +%s)
# 2000-01-01T00:00:00Z: anything older is a placeholder date, not a push.
oldest_plausible=946684800
phase=both plan=$tmp/plan
case ${1:-} in
    plan | apply)
        phase=$1
        if [ $# -lt 2 ] || [ -z "$2" ]; then echo "usage: retention plan PLAN [WORKLOADS] | apply PLAN | [WORKLOADS]" >&2; exit 2; fi
        plan=$2
        shift 2 ;;
esac

# The workloads' references as "REPO TAG DIGEST" ("-" for a missing part), without the registry's host
# or a runtime's scheme (docker-pullable://): "host:5000/team/app:1@sha256:…" → "team/app 1 sha256:…".
: >"$tmp/named"
if [ "$phase" != apply ] && [ $# -gt 0 ] && [ -n "$1" ]; then
    if [ "$1" = - ]; then cat >"$tmp/workloads"; else cat "$1" >"$tmp/workloads"; fi
    sed 's|^[a-z-]*://||; s|^[^/]*/||' "$tmp/workloads" | awk '
        NF == 0 { next }
        {
            ref = $1; digest = "-"; tag = "-"
            at = index(ref, "@"); if (at > 0) { digest = substr(ref, at + 1); ref = substr(ref, 1, at - 1) }
            n = split(ref, parts, ":"); if (n > 1 && parts[n] !~ /\//) { tag = parts[n]; ref = substr(ref, 1, length(ref) - length(tag) - 1) }
            print ref, tag, digest
        }' >"$tmp/named"
fi
printf '%s\n' "$PROTECT" | grep -v '^$' >"$tmp/protect" || true

removed=0 candidates=0 kept=0 failed=0 repositories=0 planned=0 planned_repositories=0
# say LINE: one line of the report.
say() { printf 'retention: %s\n' "$1"; }

# rule_of REPO: "NEWEST DAYS PULLED_DAYS" of the rule with the longest prefix REPO starts with; nothing when none.
rule_of() {
    printf '%s\n' "$RULES" | awk -v repo="$1" '
        NF == 4 && index(repo, $1) == 1 && length($1) > best { best = length($1); rule = $2 " " $3 " " $4 }
        END { if (best) print rule }'
}

# plausible SECONDS: SECONDS when it can be a push time, nothing otherwise.
plausible() { if [ -n "$1" ] && [ "$1" -ge "$oldest_plausible" ] && [ "$1" -le $((now + 86400)) ]; then echo "$1"; fi; }

# created_of REPO MANIFEST_FILE TYPE: the image config's `created` in Unix seconds (an index: its
# first image's); nothing when it cannot be read.
created_of() {
    if case $3 in *index* | *manifest.list*) true ;; *) false ;; esac then
        child=$(grep -oE '"digest"[[:space:]]*:[[:space:]]*"[^"]+"' "$2" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
        [ -n "$child" ] || return 0
        [ "$(http_get "$base/v2/$1/manifests/$child" "$tmp/child")" = 200 ] || return 0
        set -- "$1" "$tmp/child"
    fi
    config=$(tr -d '\n' <"$2" | sed -n 's/.*"config"[[:space:]]*:[[:space:]]*{[^}]*"digest"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    [ -n "$config" ] || return 0
    [ "$(http_get "$base/v2/$1/blobs/$config" "$tmp/config")" = 200 ] || return 0
    # The image's own `created` comes before its history's in every config writer's order.
    stamp=$(grep -oE '"created"[[:space:]]*:[[:space:]]*"[0-9-]+T[0-9:]+' "$tmp/config" | head -n 1 | sed 's/.*"\([0-9-]*\)T/\1 /')
    [ -n "$stamp" ] || return 0
    date -u -d "$stamp" +%s 2>/dev/null || true
}

# age_of REPO TAG MANIFEST_FILE TYPE: the tag's push time in Unix seconds, nothing when unknown.
age_of() {
    if [ -n "$STORAGE_ROOT" ]; then
        link="${DSO_ROOT:-}$STORAGE_ROOT/docker/registry/v2/repositories/$1/_manifests/tags/$2/current/link"
        plausible "$(stat -c %Y "$link" 2>/dev/null || true)"
    else
        plausible "$(created_of "$1" "$3" "$4")"
    fi
}

# fraction_of REPO TAG: the sub-second part of the tag's push time in nanoseconds (the link file's mtime;
# 0 with a bucket or when unknown), so that tags pushed within one second still sort in push order.
fraction_of() {
    [ -n "$STORAGE_ROOT" ] || { echo 0; return 0; }
    link="${DSO_ROOT:-}$STORAGE_ROOT/docker/registry/v2/repositories/$1/_manifests/tags/$2/current/link"
    # `%y` is "YYYY-MM-DD hh:mm:ss.NNNNNNNNN +zone" in busybox and GNU stat alike.
    stat -c %y "$link" 2>/dev/null | sed -n 's/^[^.]*:[0-9][0-9]\.\([0-9]*\).*/\1000000000/p' | cut -c1-9 | sed 's/^0*//; s/^$/0/' | grep . || echo 0
}

# The pull history: "REPO REFERENCE SECONDS" lines in $tmp/pulls, and since when it records pulls (empty: no history).
: >"$tmp/pulls"
pulls_since=''
history_written=$(stat -c %Y "${DSO_ROOT:-}$PULL_HISTORY" 2>/dev/null || echo 0)
if [ -n "$PULL_HISTORY" ] && [ -f "${DSO_ROOT:-}$PULL_HISTORY" ] && [ -n "$PULL_HISTORY_MAX_AGE" ] &&
    [ $((now - history_written)) -gt "$PULL_HISTORY_MAX_AGE" ]; then
    say "the pull history was written $(((now - history_written) / 60)) minutes ago, not in the last $((PULL_HISTORY_MAX_AGE / 60)): not read; a tag it would have to show pulled is kept"
elif [ -n "$PULL_HISTORY" ] && [ -f "${DSO_ROOT:-}$PULL_HISTORY" ]; then
    pulls_since=$(sed -n 's/^since \([0-9][0-9]*\)$/\1/p' "${DSO_ROOT:-}$PULL_HISTORY" | head -n 1)
    awk 'NF == 3 && $1 != "since" && $3 ~ /^[0-9]+$/' "${DSO_ROOT:-}$PULL_HISTORY" >"$tmp/pulls"
fi

# last_pull REPO TAG DIGEST SINCE: "SECONDS HOW" of the last pull of the tag when it is SINCE or later (HOW
# "by tag"), else of the latest pull of the manifest it points to or of an image of its index ("by
# digest"); nothing when the history has none.
last_pull() {
    awk -v r="$1" -v t="$2" -v d="$3" -v since="$4" '
        FILENAME == ARGV[1] { if ($1 == t) want[$2] = 1; next }
        $1 != r { next }
        $2 == t && $3 + 0 > tag + 0 { tag = $3 }
        ($2 == d || ($2 in want)) && $3 + 0 > digest + 0 { digest = $3 }
        END {
            if (tag != "" && (tag + 0 >= since + 0 || digest == "" || tag + 0 >= digest + 0)) print tag, "by tag"
            else if (digest != "") print digest, "by digest"
        }' "$tmp/children" "$tmp/repo-pulls"
}

# ago SECONDS: how long ago SECONDS was, in words.
ago() {
    n=$(((now - $1) / 86400))
    case $n in 0) echo "less than a day ago" ;; 1) echo "1 day ago" ;; *) echo "$n days ago" ;; esac
}

# named REPO TAG DIGEST: whether a workload names the tag, or the digest in this repository.
named() { awk -v r="$1" -v t="$2" -v d="$3" '$1 == r && ($2 == t || $3 == d) { found = 1 } END { exit !found }' "$tmp/named"; }

# subject_of TAG: the digest a tag of the attached form names ("sha256-<hex>.sig" → "sha256:<hex>"); nothing for any other tag.
subject_of() { if printf '%s\n' "$1" | grep -Exq "$ATTACHED_TAG"; then printf 'sha256:%s\n' "$(printf '%s\n' "$1" | cut -c8-71)"; fi; }

# json_values FILE: every string, number, true, false and null of the JSON document FILE, one a line as
# "PATH VALUE", PATH as jq spells it (".layers[0].mediaType application/vnd.oci.image.layer.v1.tar");
# a string's escapes are left as they are. Manifests are read whole, whatever their layout.
json_values() {
    awk '
        { doc = doc $0 "\n" }
        function here() { return depth == 0 ? "" : kind[depth] == "o" ? prefix[depth] "." key[depth] : prefix[depth] "[" idx[depth] "]" }
        END {
            n = length(doc); depth = 0; want = "value"
            for (i = 1; i <= n; i++) {
                c = substr(doc, i, 1)
                if (c == "{" || c == "[") {
                    p = here(); depth++; prefix[depth] = p
                    if (c == "{") { kind[depth] = "o"; want = "key" } else { kind[depth] = "a"; idx[depth] = 0; want = "value" }
                } else if (c == "}" || c == "]") { depth--; want = "" }
                else if (c == ",") { if (kind[depth] == "a") { idx[depth]++; want = "value" } else want = "key" }
                else if (c == ":") want = "value"
                else if (c == "\"") {
                    for (j = i + 1; j <= n; j++) { d = substr(doc, j, 1); if (d == "\\") j++; else if (d == "\"") break }
                    text = substr(doc, i + 1, j - i - 1); i = j
                    if (depth > 0 && kind[depth] == "o" && want == "key") key[depth] = text; else print here() " " text
                    want = ""
                } else if (c !~ /[ \t\r\n]/) {
                    for (j = i; j <= n && substr(doc, j, 1) !~ /[],} \t\r\n]/; j++) {}
                    print here() " " substr(doc, i, j - i); i = j - 1; want = ""
                }
            }
        }' "$1"
}

# field PATH: the value of PATH in json_values' lines on stdin (the first, if several).
field() { awk -v p="$1" '$1 == p { sub(/^[^ ]* /, ""); print; exit }'; }

# not_artifact FIELDS TYPE: what makes the manifest of media type TYPE (json_values' lines in FIELDS) an
# image a container runtime runs rather than an artifact; nothing for an artifact. An index lists images;
# a manifest is one when its config is of a type in IMAGE_CONFIG_TYPES and every layer of a type in
# IMAGE_LAYER_TYPES, whatever its `artifactType` says (runtimes do not read it). An artifact's config has a
# type of its own or OCI's empty one (oras, notation); cosign's manifests have an image config, but no
# layer a runtime unpacks.
not_artifact() {
    case $2 in *index* | *manifest.list*) echo "an index of manifests, as images are"; return 0 ;; esac
    config_type=$(field .config.mediaType <"$1")
    printf '%s\n' "$config_type" | grep -Exq "$IMAGE_CONFIG_TYPES" || return 0
    if sed -n 's/^\.layers\[[0-9]*\]\.mediaType //p' "$1" | grep -Evxq "$IMAGE_LAYER_TYPES"; then return 0; fi
    echo "an image a container runtime runs (its config is ${config_type:-untyped} and every layer one a runtime unpacks)"
}

# not_attached REPO TAG SUBJECT TYPE: why the manifest TAG names (in $tmp/manifest, of media type TYPE) is
# not what a tool attaches to SUBJECT under such a tag; nothing when it is.
not_attached() {
    json_values "$tmp/manifest" >"$tmp/fields"
    claimed=$(field .subject.digest <"$tmp/fields")
    if [ -n "$claimed" ] && [ "$claimed" != "$3" ]; then echo "its manifest's subject is $claimed"; return 0; fi
    suffix=$(printf '%s\n' "$2" | cut -c73-)
    if [ -z "$suffix" ]; then
        [ "$4" = application/vnd.oci.image.index.v1+json ] || { echo "its manifest is $4, not an OCI image index as a referrers index is"; return 0; }
        sed -n 's/^\.manifests\[[0-9]*\]\.digest //p' "$tmp/fields" >"$tmp/referrers"
        while read -r referrer <&6; do
            # One that is gone is no longer there to keep.
            [ "$(http_get "$base/v2/$1/manifests/$referrer" "$tmp/referrer")" = 200 ] || continue
            json_values "$tmp/referrer" >"$tmp/referrer-fields"
            claimed=$(field .subject.digest <"$tmp/referrer-fields")
            [ "$claimed" = "$3" ] || { echo "it lists $referrer, which does not name $3 as its subject"; return 0; }
            image=$(not_artifact "$tmp/referrer-fields" "$(api_header Content-Type)")
            [ -z "$image" ] || { echo "it lists $referrer, $image, not an artifact"; return 0; }
        done 6<"$tmp/referrers"
        return 0
    fi
    case $4 in
        application/vnd.oci.image.manifest.v1+json | application/vnd.docker.distribution.manifest.v2+json) ;;
        *) echo "its manifest is $4, not an image manifest as cosign pushes under .$suffix"; return 0 ;;
    esac
    sed -n 's/^\.layers\[[0-9]*\]\.mediaType //p' "$tmp/fields" >"$tmp/layer-types"
    [ -s "$tmp/layer-types" ] || { echo "its manifest has no layers (cosign's under .$suffix have)"; return 0; }
    printf '%s\n' "$ATTACHMENT_LAYERS" | awk -v s="$suffix" '$1 == s { print $2 }' >"$tmp/allowed"
    odd=$(grep -vxF -f "$tmp/allowed" "$tmp/layer-types" | head -n 1 || true)
    [ -z "$odd" ] || echo "a layer of its manifest is $odd, which cosign does not push under .$suffix"
}

# protected TAG: whether TAG matches a line of PROTECT as a whole.
protected() { printf '%s\n' "$1" | grep -Exq -f "$tmp/protect"; }

# keep_digest TAG DIGEST: DIGEST stays, and so do the images of the index TAG names.
keep_digest() {
    echo "$2" >>"$tmp/kept-digests"
    awk -v t="$1" '$1 == t { print $2 }' "$tmp/children" >>"$tmp/kept-digests"
}

# follow_subjects REPO: sorts the attached tags ("TAG DIGEST SUBJECT" in $tmp/attached) into kept ones
# and candidates ($tmp/attached-candidates, "TAG DIGEST SUBJECT WHY"), once the other tags are decided.
# A kept attached tag keeps what it names in turn (a referrers index's artifacts, and what is attached to
# them), so this goes round until a round keeps nothing more.
follow_subjects() {
    : >"$tmp/attached-candidates"
    [ -s "$tmp/attached" ] || return 0
    cp "$tmp/attached" "$tmp/pending"
    more=yes
    while [ -n "$more" ]; do
        more=''
        : >"$tmp/still"
        while read -r tag digest subject <&5; do
            if grep -qxF "$subject" "$tmp/kept-digests" || named "$1" "" "$subject" || protected "$tag"; then
                kept=$((kept + 1))
                keep_digest "$tag" "$digest"
                more=yes
            else
                echo "$tag $digest $subject" >>"$tmp/still"
            fi
        done 5<"$tmp/pending"
        mv "$tmp/still" "$tmp/pending"
    done
    # What goes: the candidates, the attached tags left over, and the artifacts their referrers indexes list.
    {
        cut -d ' ' -f 2 "$tmp/candidates" "$tmp/pending"
        awk 'NR == FNR { going[$1] = 1; next } $1 in going { print $2 }' "$tmp/pending" "$tmp/children"
    } >"$tmp/candidate-digests"
    while read -r tag digest subject <&5; do
        if grep -qxF "$subject" "$tmp/candidate-digests"; then why="attached to $subject, which retention removes"
        elif [ "$(http_get "$base/v2/$1/manifests/$subject" "$tmp/subject")" = 200 ]; then why="attached to $subject, which no kept tag names"
        else why="attached to $subject, which is not in the repository"
        fi
        echo "$tag $digest $subject $why" >>"$tmp/attached-candidates"
    done 5<"$tmp/pending"
}

# retain REPO: applies the rule that covers REPO, if any.
retain() {
    repo=$1
    rule=$(rule_of "$repo")
    [ -n "$rule" ] || return 0
    newest=${rule%% *} days=${rule#* } pulled_days=${rule##* }
    days=${days%% *}
    code=$(http_get "$base/v2/$repo/tags/list" "$tmp/tags")
    case $code in
        200) ;;
        404) return 0 ;;
        *) echo "listing the tags of $repo answered HTTP $code; see: $REGISTRY_LOGS" >&2; failed=$((failed + 1)); return 0 ;;
    esac
    repositories=$((repositories + 1))
    # This repository's pulls, read once ("REPO REFERENCE SECONDS").
    if [ "$pulled_days" != - ]; then awk -v r="$repo" '$1 == r' "$tmp/pulls" >"$tmp/repo-pulls"; else : >"$tmp/repo-pulls"; fi
    # "SORT-KEY FRACTION TAG DIGEST AGE" per tag; an unknown age sorts as the newest.
    : >"$tmp/listed"
    : >"$tmp/attached"
    : >"$tmp/kept-digests"
    array tags "$tmp/tags" >"$tmp/tag-names"
    while read -r tag <&4; do
        code=$(http_get "$base/v2/$repo/manifests/$tag" "$tmp/manifest")
        if [ "$code" != 200 ]; then say "kept $repo:$tag (its manifest answered HTTP $code)"; kept=$((kept + 1)); continue; fi
        digest=$(api_header Docker-Content-Digest)
        type=$(api_header Content-Type)
        subject=$(subject_of "$tag")
        if [ -n "$subject" ]; then
            problem=$(not_attached "$repo" "$tag" "$subject" "$type")
            if [ -n "$problem" ]; then
                say "not attached $repo:$tag ($problem; it counts as a tag of its own)"
                subject=''
            fi
        fi
        if [ -n "$subject" ]; then
            echo "$tag $digest $subject" >>"$tmp/attached"
        else
            age=$(age_of "$repo" "$tag" "$tmp/manifest" "$type")
            echo "${age:-9999999999} $(fraction_of "$repo" "$tag") $tag $digest ${age:--}" >>"$tmp/listed"
        fi
        # An index's images ("TAG CHILD"): removing one by digest would break the index.
        case $type in
            *index* | *manifest.list*) grep -oE '"digest"[[:space:]]*:[[:space:]]*"[^"]+"' "$tmp/manifest" | sed "s/.*\"\([^\"]*\)\"\$/$tag \1/" >>"$tmp/children" ;;
        esac
    done 4<"$tmp/tag-names"
    # Newest first (to the nanosecond where the storage keeps it); equal times by name, so that a run is repeatable.
    sort -k1,1nr -k2,2nr -k3,3 "$tmp/listed" >"$tmp/sorted"
    : >"$tmp/candidates"
    rank=0
    while read -r _ _ tag digest age <&4; do
        rank=$((rank + 1))
        reason=''
        if [ "$newest" != - ] && [ "$rank" -le "$newest" ]; then reason="among the $newest newest"
        elif [ "$age" = - ]; then reason="age unknown, counted as new"
        elif [ "$days" != - ] && [ $((now - age)) -lt $((days * 86400)) ]; then reason="younger than $days days"
        elif protected "$tag"; then reason="protected"
        elif named "$repo" "$tag" "$digest"; then reason="a running workload names it"
        elif [ "$pulled_days" != - ]; then
            pull=$(last_pull "$repo" "$tag" "$digest" $((now - pulled_days * 86400)))
            if [ -n "$pull" ] && [ $((now - ${pull%% *})) -lt $((pulled_days * 86400)) ]; then
                reason="pulled $(ago "${pull%% *}")"
                [ "${pull#* }" = "by tag" ] || reason="$reason, by digest"
                say "kept $repo:$tag ($reason)"
            elif [ -z "$pulls_since" ]; then
                reason="no pull history yet: whether it was pulled in $pulled_days days is not known"
                say "kept $repo:$tag ($reason)"
            elif [ $((now - pulls_since)) -lt $((pulled_days * 86400)) ]; then
                reason="pulls recorded only since $(date -u -d "@$pulls_since" +%Y-%m-%d 2>/dev/null || echo "$pulls_since"), not yet $pulled_days days: whether it was pulled is not known"
                say "kept $repo:$tag ($reason)"
            fi
        fi
        if [ -n "$reason" ]; then
            kept=$((kept + 1))
            keep_digest "$tag" "$digest"
            continue
        fi
        why=''
        [ "$pulled_days" = - ] || why="not pulled in $pulled_days days"
        [ "$newest" = - ] || why="${why:+$why; }not among the $newest newest"
        [ "$days" = - ] || why="${why:+$why, }$(((now - age) / 86400)) days old"
        echo "$tag $digest $why" >>"$tmp/candidates"
    done 4<"$tmp/sorted"
    follow_subjects "$repo"
    if [ "$MODE" = dry-run ]; then
        while read -r tag _ why <&4; do
            candidates=$((candidates + 1))
            say "would remove $repo:$tag ($why)"
        done 4<"$tmp/candidates"
        while read -r tag _ _ why <&4; do
            candidates=$((candidates + 1))
            say "would remove $repo:$tag ($why)"
        done 4<"$tmp/attached-candidates"
    elif [ -s "$tmp/candidates" ] || [ -s "$tmp/attached-candidates" ]; then
        # The repository's part of the plan: the tags it had (the snapshot the window compares with), the
        # manifests that stay (kept tags' and workloads'), the images of its indexes, and what goes.
        planned=$((planned + $(cat "$tmp/candidates" "$tmp/attached-candidates" | wc -l)))
        planned_repositories=$((planned_repositories + 1))
        {
            echo "repo $repo"
            sed 's/^/tag /' "$tmp/tag-names"
            awk -v r="$repo" '$1 == r && $3 != "-" { print $3 }' "$tmp/named" | cat "$tmp/kept-digests" - | sort -u | sed 's/^/keep /'
            sed 's/^/child /' "$tmp/children"
            sed 's/^/candidate /' "$tmp/candidates"
            sed 's/^/attached /' "$tmp/attached-candidates"
        } >>"$tmp/plan-lines"
    fi
    : >"$tmp/children"
}

# apply_repo DIR: makes the removals of one repository's part of the plan (split into DIR).
apply_repo() {
    repo=$(cat "$1/repo")
    cp "$1/keep" "$tmp/kept-digests"
    cp "$1/children" "$tmp/children"
    cp "$1/candidates" "$tmp/candidates"
    cp "$1/attached" "$tmp/attached-candidates"
    check_since_plan "$repo" "$1/tags"
    : >"$tmp/deleted"
    : >"$tmp/untagged"
    while read -r tag digest why <&4; do
        candidates=$((candidates + 1))
        remove "$repo" "$tag" "$digest" "$why"
    done 4<"$tmp/candidates"
    # After their subjects: a subject whose removal failed is still there, and so is what is attached to
    # it, down the chain.
    stay_with_failed "$repo"
    while read -r tag digest subject why <&4; do
        candidates=$((candidates + 1))
        remove "$repo" "$tag" "$digest" "$why"
        # A referrers index's artifacts go with it, unless something kept names them.
        if grep -qxF "$digest" "$tmp/untagged" "$tmp/deleted"; then
            awk -v t="$tag" '$1 == t { print $2 }' "$tmp/children" | while read -r child; do
                grep -qxF "$child" "$tmp/kept-digests" || echo "$child" >>"$tmp/untagged"
            done
        fi
    done 4<"$tmp/attached-candidates"
    : >"$tmp/children"
    forget_untagged "$repo"
}

# check_since_plan REPO SNAPSHOT: what changed in REPO since the plan, in as few requests as that takes.
# Each planned tag once (a HEAD): "TAG STATUS DIGEST" in $tmp/checked, for remove. Then the tags that
# name a manifest the plan removes by digest (its candidates', its attached tags' and their indexes'
# images) and that the plan does not remove with it: tags new since the plan (the repository's tags
# listed once, a HEAD for each tag not in SNAPSHOT), planned tags that moved there, and with filesystem
# storage any tag whose link names it now (a kept tag moved onto it). Such a manifest stays
# ($tmp/kept-digests): only the planned tags on it go.
check_since_plan() {
    # The manifests the plan may remove by digest; those it keeps for a kept tag or a workload stay anyway.
    { cut -d ' ' -f 2 "$tmp/candidates" "$tmp/attached-candidates"; cut -d ' ' -f 2 "$tmp/children"; } | sort -u |
        { grep -vxF -f "$tmp/kept-digests" || true; } >"$tmp/planned-digests"
    cut -d ' ' -f 1,2 "$tmp/candidates" "$tmp/attached-candidates" >"$tmp/planned-tags"
    : >"$tmp/checked"
    : >"$tmp/now-naming"
    while read -r tag _ <&4; do
        code=$(http_head_manifest "$base/v2/$1/manifests/$tag")
        now_digest=$(api_header Docker-Content-Digest)
        echo "$tag $code ${now_digest:--}" >>"$tmp/checked"
        [ "$code" != 200 ] || echo "$tag $now_digest" >>"$tmp/now-naming"
    done 4<"$tmp/planned-tags"
    code=$(http_get "$base/v2/$1/tags/list" "$tmp/tags")
    case $code in
        200)
            array tags "$tmp/tags" | grep -vxF -f "$2" >"$tmp/new-tags" || true
            while read -r tag <&4; do
                code=$(http_head_manifest "$base/v2/$1/manifests/$tag")
                [ "$code" != 200 ] || echo "$tag $(api_header Docker-Content-Digest)" >>"$tmp/now-naming"
            done 4<"$tmp/new-tags"
            ;;
        404) ;;
        *)
            say "could not list the tags of $1 inside the window (HTTP $code): no manifest goes by digest there, only the planned tags"
            cat "$tmp/planned-digests" >>"$tmp/kept-digests"
            ;;
    esac
    if [ -n "$STORAGE_ROOT" ]; then
        tags_dir="${DSO_ROOT:-}$STORAGE_ROOT/docker/registry/v2/repositories/$1/_manifests/tags"
        # One find and one grep over the repository's tag links: "TAG DIGEST" for each that names a planned manifest.
        find "$tags_dir" -path '*/current/link' -exec grep -H -x -F -f "$tmp/planned-digests" /dev/null {} + 2>/dev/null |
            awk -v d="$tags_dir/" 'index($0, d) == 1 { line = substr($0, length(d) + 1); sub(/\/current\/link:/, " ", line); print line }' >>"$tmp/now-naming" || true
    fi
    # A tag that names a planned manifest now, and is not a planned tag on that same manifest, keeps it.
    awk 'FILENAME == ARGV[1] { planned[$1 " " $2] = 1; next } FILENAME == ARGV[2] { going[$1] = 1; next }
        ($2 in going) && !(($1 " " $2) in planned) && !seen[$1 " " $2]++ { print }' \
        "$tmp/planned-tags" "$tmp/planned-digests" "$tmp/now-naming" >"$tmp/newcomers"
    while read -r tag digest <&4; do
        echo "$digest" >>"$tmp/kept-digests"
        say "kept the manifest $1@$digest: $1:$tag names it since the plan, so only the planned tags on it go"
    done 4<"$tmp/newcomers"
}

# stay_with_failed REPO: keeps the attached candidates whose subject stays after all, since removing it
# (or what it is attached to) failed.
stay_with_failed() {
    more=yes
    while [ -n "$more" ]; do
        more=''
        : >"$tmp/still"
        while read -r tag digest subject why <&5; do
            if grep -qxF "$subject" "$tmp/kept-digests"; then
                say "kept $1:$tag (attached to $subject, which stays: a removal failed)"
                candidates=$((candidates + 1)) kept=$((kept + 1))
                keep_digest "$tag" "$digest"
                more=yes
            else
                echo "$tag $digest $subject $why" >>"$tmp/still"
            fi
        done 5<"$tmp/attached-candidates"
        mv "$tmp/still" "$tmp/attached-candidates"
    done
}

# remove REPO TAG DIGEST WHY: removes the tag (MODE apply), when it still pointed to DIGEST inside the window.
# The tag goes alone where Distribution can untag (3.x); its manifest follows once no tag is left on
# it (forget_untagged), so that the collector frees its blobs without --delete-untagged. Where it
# cannot (2.8), the manifest is deleted by digest, which takes every tag on it, so only when nothing
# kept names it.
tag_delete=unknown
remove() {
    if grep -qxF "$3" "$tmp/deleted"; then say "removed $1:$2 ($4; with its manifest $3)"; removed=$((removed + 1)); return 0; fi
    # What the tag named when check_since_plan asked, inside the window.
    checked=$(awk -v t="$2" '$1 == t { print $2, $3; exit }' "$tmp/checked")
    code=${checked%% *} now_digest=${checked#* }
    if [ "$code" != 200 ] || [ "$now_digest" != "$3" ]; then
        say "kept $1:$2 (it changed since it was listed: HTTP $code, $now_digest)"
        kept=$((kept + 1))
        return 0
    fi
    shared=''
    if grep -qxF "$3" "$tmp/kept-digests" || named "$1" "" "$3"; then shared=yes; fi
    if [ "$tag_delete" != no ]; then
        code=$(http_delete "$base/v2/$1/manifests/$2")
        case $code in
            202)
                tag_delete=yes
                if [ -n "$shared" ]; then
                    say "removed $1:$2 ($4; the tag only, its manifest stays for what still names it)"
                else
                    say "removed $1:$2 ($4)"
                    echo "$3" >>"$tmp/untagged"
                fi
                removed=$((removed + 1))
                return 0 ;;
            400 | 404 | 405) tag_delete=no ;;
            *) echo "retention: removing $1:$2 answered HTTP $code; is delete enabled? see: $REGISTRY_LOGS" >&2; failed=$((failed + 1)); echo "$3" >>"$tmp/kept-digests"; return 0 ;;
        esac
    fi
    if [ -n "$shared" ]; then
        say "kept $1:$2 ($4, but a kept tag or a running workload names its manifest $3, and this Distribution cannot remove a tag alone (Distribution 2.8 cannot, 3 can))"
        kept=$((kept + 1))
        return 0
    fi
    code=$(http_delete "$base/v2/$1/manifests/$3")
    case $code in
        202) echo "$3" >>"$tmp/deleted"; say "removed $1:$2 ($4; with its manifest $3)"; removed=$((removed + 1)) ;;
        *) echo "retention: removing $1:$2 (manifest $3) answered HTTP $code; is delete enabled? see: $REGISTRY_LOGS" >&2; failed=$((failed + 1)); echo "$3" >>"$tmp/kept-digests" ;;
    esac
}

# forget_untagged REPO: deletes the manifests whose every tag retention removed.
forget_untagged() {
    [ -s "$tmp/untagged" ] || return 0
    sort -u "$tmp/untagged" | while read -r digest; do
        code=$(http_delete "$base/v2/$1/manifests/$digest")
        case $code in
            202 | 404) ;;
            *) echo "retention: deleting the manifest $1@$digest, which no tag names any more, answered HTTP $code; see: $REGISTRY_LOGS" >&2 ;;
        esac
    done
    : >"$tmp/untagged"
}

# In dry-run the read phase did everything.
if [ "$phase" = apply ] && [ "$MODE" = dry-run ]; then exit 0; fi
wait_for_registry_api
if [ "$phase" != apply ]; then
    : >"$tmp/children"
    : >"$tmp/plan-lines"
    each_repository retain
    # The counts so far close the plan: a plan without them is one whose read phase did not end.
    { echo "mode $MODE"; cat "$tmp/plan-lines"; echo "counts $kept $failed $repositories"; } >"$plan"
    if [ "$MODE" = apply ]; then
        say "plan: $planned tags to remove in $planned_repositories of $repositories repositories under the rules; the removals come inside the window"
    fi
fi
if [ "$phase" != plan ] && [ "$MODE" = apply ]; then
    counts=$(sed -n 's/^counts //p' "$plan" 2>/dev/null || true)
    if [ -z "$counts" ] || [ "$(sed -n 's/^mode //p' "$plan")" != "$MODE" ]; then
        echo "retention: $plan is not a complete plan of this mode; nothing removed" >&2
        exit 1
    fi
    kept=$(echo "$counts" | cut -d ' ' -f 1) failed=$(echo "$counts" | cut -d ' ' -f 2) repositories=$(echo "$counts" | cut -d ' ' -f 3)
    # One directory a repository (in the plan's order): repo, tags, keep, children, candidates, attached.
    awk -v d="$tmp/parts" '
        function out(name) { return d "/" sprintf("%06d", n) "/" name }
        $1 == "repo" {
            if (n) for (i in files) close(files[i])
            n++; system("mkdir -p " d "/" sprintf("%06d", n))
            split("tags keep children candidates attached", names, " ")
            for (i in names) { files[i] = out(names[i]); printf "" > files[i] }
            print $2 > out("repo"); close(out("repo")); next
        }
        $1 == "tag" || $1 == "keep" || $1 == "child" || $1 == "candidate" || $1 == "attached" {
            kind = $1 == "tag" ? "tags" : $1 == "child" ? "children" : $1 == "candidate" ? "candidates" : $1
            sub(/^[a-z]* /, ""); print > out(kind)
        }' "$plan"
    [ ! -d "$tmp/parts" ] || for part in "$tmp/parts"/*; do apply_repo "$part"; done
fi
if [ "$phase" = plan ] && [ "$MODE" = apply ]; then exit 0; fi
if [ "$MODE" = dry-run ]; then
    say "dry-run: $candidates tags would be removed, $kept kept, in $repositories repositories under the rules; nothing was removed (registry.maintenance.retention.mode \"apply\" removes them)"
else
    say "apply: $removed tags removed, $kept kept, of $candidates candidates, in $repositories repositories under the rules; $failed failures"
fi
if [ -n "$TEXTFILE_DIR" ]; then
    dir="${DSO_ROOT:-}$TEXTFILE_DIR"
    label="{mode=\"$MODE\"}"
    if mkdir -p "$dir" 2>/dev/null; then
        {
            echo "# HELP $REMOVED_METRIC Tags the last retention run removed (0 in dry-run)."
            echo "# TYPE $REMOVED_METRIC gauge"
            echo "$REMOVED_METRIC$label $removed"
            echo "# HELP $CANDIDATES_METRIC Tags the rules selected for removal in the last retention run."
            echo "# TYPE $CANDIDATES_METRIC gauge"
            echo "$CANDIDATES_METRIC$label $candidates"
            echo "# HELP $KEPT_METRIC Tags the last retention run kept in the repositories under its rules."
            echo "# TYPE $KEPT_METRIC gauge"
            echo "$KEPT_METRIC$label $kept"
            echo "# HELP $LAST_RUN_METRIC When the last retention run ended."
            echo "# TYPE $LAST_RUN_METRIC gauge"
            echo "$LAST_RUN_METRIC$label $(date +%s)"
        } | write_textfile "$dir" "$TEXTFILE_NAME"
    else
        echo "could not create $dir: retention's counts are not reported" >&2
    fi
fi
[ "$failed" -eq 0 ]
