# shellcheck shell=sh
# shellcheck disable=SC2154 # api_tmp: set here, for registry-api.sh's functions
# Garbage collection while pushes go on (registry.maintenance.garbageCollection.mode "online"). Why each
# step is safe, and what is not: docs/decisions/online-collection.md. A script that sources this also
# sources registry-api.sh (Distribution's own API: REGISTRY_URL, HTTP_CLIENT curl, UNIX_SOCKET) and sets:
#   ONLINE_HOLD_DIR       the front's hold directory (AccessPolicy.sweepHold), writable here
#   ONLINE_GATE_TARGET    what the hold's gate links to while held writes may pass: Distribution's unix
#                         socket as the front sees it
#   ONLINE_ACCESS_LOG     the front's JSON access log; its rotated files beside it are read too
#   ONLINE_GRACE_SECONDS  how long before the mark a client's request still counts (a blob checked then,
#                         its manifest put later)
#   ONLINE_SETTLE_SECONDS how long each hold waits for the requests already past the front to end and be logged
#   ONLINE_QUARANTINE_SECONDS how long what the sweep set aside stays aside, the holds gone, before the
#                         second mark reads which of it a manifest references after all
#   ONLINE_STORE          Distribution's filesystem storage root as seen here; empty with s3 storage, then:
#   ONLINE_S3_URL         the storage's root as a path-style object URL (endpoint/bucket/rootdirectory)
#   ONLINE_S3_REGION      the bucket's region, for signature V4
#   ONLINE_S3_CURL_CONFIG a file (mode 0600) with curl's `user = "<access key>:<secret key>"`

# online_blob_dir HEX: a blob's directory under the storage root, as Distribution lays it out.
online_blob_dir() {
    echo "docker/registry/v2/blobs/sha256/$(printf %s "$1" | cut -c1-2)/$1"
}

# online_s3 ARGS...: a request to the bucket signed with signature V4; the key comes from a file, never
# from the command line. curl itself, not registry-api.sh's wrapper, which goes to Distribution's socket.
# Every request here has no body: its payload hash is that of nothing, which S3 wants as a header.
online_s3() {
    command curl -sS --max-time 60 --aws-sigv4 "aws:amz:$ONLINE_S3_REGION:s3" -K "$ONLINE_S3_CURL_CONFIG" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$@"
}

# The set-aside: where the sweep moves a blob's data first (beside Distribution's blobs, in no folder it
# reads), so that a manifest put in the sweep's last instant can still get it back (collect_online, step 6).
ONLINE_ASIDE=docker/registry/v2/dso-swept

# online_s3_path: the storage root as the path of a copy source (/<bucket>/<rootdirectory>).
online_s3_path() {
    s3_path=${ONLINE_S3_URL#*://}
    echo "/${s3_path#*/}"
}

# online_s3_move FROM TO: an object moved within the storage (a server-side copy, then the delete).
online_s3_move() {
    move_code=$(online_s3 -X PUT -H "x-amz-copy-source: $(online_s3_path)/$1" -o /dev/null -w '%{http_code}' "$ONLINE_S3_URL/$2") || return 1
    [ "$move_code" = 200 ] || { echo "copying $1 in the bucket answered HTTP $move_code" >&2; return 1; }
    move_code=$(online_s3 -X DELETE -o /dev/null -w '%{http_code}' "$ONLINE_S3_URL/$1") || return 1
    case $move_code in 200 | 204) ;; *) echo "deleting $1 from the bucket answered HTTP $move_code" >&2; return 1 ;; esac
}

# online_set_aside HEX: moves a blob's data out of Distribution's sight; fails when it could not.
online_set_aside() {
    aside_dir=$(online_blob_dir "$1")
    if [ -n "$ONLINE_STORE" ]; then
        [ -d "$ONLINE_STORE/$aside_dir" ] || return 0
        mkdir -p "$ONLINE_STORE/$ONLINE_ASIDE" && mv "$ONLINE_STORE/$aside_dir" "$ONLINE_STORE/$ONLINE_ASIDE/$1"
    else
        online_s3_move "$aside_dir/data" "$ONLINE_ASIDE/$1"
    fi
}

# online_put_back HEX: a blob set aside goes back where Distribution finds it (unless a client stored it again meanwhile).
online_put_back() {
    back_dir=$(online_blob_dir "$1")
    if [ -n "$ONLINE_STORE" ]; then
        if [ -e "$ONLINE_STORE/$back_dir" ]; then rm -rf "${ONLINE_STORE:?}/$ONLINE_ASIDE/$1"; return 0; fi
        mkdir -p "$(dirname "$ONLINE_STORE/$back_dir")" && mv "$ONLINE_STORE/$ONLINE_ASIDE/$1" "$ONLINE_STORE/$back_dir"
    else
        online_s3_move "$ONLINE_ASIDE/$1" "$back_dir/data"
    fi
}

# online_drop HEX: removes a blob set aside for good and prints the bytes it held.
online_drop() {
    if [ -n "$ONLINE_STORE" ]; then
        drop_bytes=$(wc -c <"$ONLINE_STORE/$ONLINE_ASIDE/$1/data" 2>/dev/null || echo 0)
        rm -rf "${ONLINE_STORE:?}/$ONLINE_ASIDE/$1" || return 1
    else
        drop_bytes=$(online_s3 -I -o /dev/null -w '%header{content-length}' "$ONLINE_S3_URL/$ONLINE_ASIDE/$1" 2>/dev/null || :)
        case $drop_bytes in '' | *[!0-9]*) drop_bytes=0 ;; esac
        drop_code=$(online_s3 -X DELETE -o /dev/null -w '%{http_code}' "$ONLINE_S3_URL/$ONLINE_ASIDE/$1") || return 1
        case $drop_code in 200 | 204 | 404) ;; *) echo "deleting blob $1 from the bucket answered HTTP $drop_code" >&2; return 1 ;; esac
    fi
    echo "$drop_bytes"
}

# online_log_files: the access log and its rotated files (<name>-<time>.<ext>), the newest last.
online_log_files() {
    online_log_dir=$(dirname "$ONLINE_ACCESS_LOG")
    online_log_base=$(basename "$ONLINE_ACCESS_LOG")
    online_log_stem=${online_log_base%.*}
    online_log_ext=${online_log_base##*.}
    # Rotated names carry their time, so their order is their age.
    for f in "$online_log_dir/$online_log_stem"-*."$online_log_ext"; do [ -f "$f" ] && echo "$f"; done | sort
    [ -f "$ONLINE_ACCESS_LOG" ] && echo "$ONLINE_ACCESS_LOG"
    return 0
}

# online_named SINCE: every digest a request logged at or after SINCE (unix seconds) names anywhere in its
# entry (path, query, response headers), as "D <hex>"; and for a manifest request, also "M <repository>
# <hex>" for each, so that what the manifest references is protected too. A digest in a query may be
# percent-encoded (sha256%3A…).
online_named() {
    online_log_files | while read -r f; do cat "$f"; done | awk -v since="$1" '
        {
            if (!match($0, /"ts":[0-9.]+/)) next
            if (substr($0, RSTART + 5, RLENGTH - 5) + 0 < since) next
            line = $0
            gsub(/%3[Aa]/, ":", line)
            repo = ""
            if (match(line, /"uri":"\/v2\/[^"?]+\/manifests\/[^"?\/]+/)) {
                repo = substr(line, RSTART + 11, RLENGTH - 11)
                sub(/\/manifests\/[^\/]*$/, "", repo)
            }
            while (match(line, /sha256:[0-9a-f]+/)) {
                if (RLENGTH == 71) {
                    hex = substr(line, RSTART + 7, 64)
                    print "D " hex
                    if (repo != "") print "M " repo " " hex
                }
                line = substr(line, RSTART + RLENGTH)
            }
        }' | sort -u
}

# online_references FILE: the digests a manifest's body names (its config, layers, child manifests, subject).
online_references() {
    tr -c '0-9a-z:' '\n' <"$1" | sed -n 's/^sha256:\([0-9a-f]\{64\}\)$/\1/p' | sort -u
}

# online_protect_manifests LIST OUT: for each "<repository> <hex>" in LIST, the manifest's own digest and
# every digest it references go to OUT, through indexes to their children; a digest that is no manifest in
# that repository (404) is only itself. Fails when Distribution does not answer as it should.
online_protect_manifests() {
    cp "$1" "$api_tmp/queue"
    : >"$api_tmp/fetched"
    while [ -s "$api_tmp/queue" ]; do
        sort -u "$api_tmp/queue" | while read -r repo hex; do
            grep -qx "$repo $hex" "$api_tmp/fetched" && continue
            echo "$repo $hex" >>"$api_tmp/fetched"
            echo "$hex" >>"$2"
            # A 500 may be Distribution reading a link file that a push rewrites in place: read again.
            tries=0
            while code=$(http_get "$REGISTRY_URL/v2/$repo/manifests/sha256:$hex" "$api_tmp/manifest") && [ "$code" = 500 ] && [ "$tries" -lt 5 ]; do
                tries=$((tries + 1))
                sleep 1
            done
            case $code in
                200)
                    online_references "$api_tmp/manifest" >"$api_tmp/refs"
                    cat "$api_tmp/refs" >>"$2"
                    # An index's children are manifests of the same repository: fetched in turn.
                    if grep -q '"manifests"' "$api_tmp/manifest"; then sed "s|^|$repo |" "$api_tmp/refs" >>"$api_tmp/next"; fi
                    ;;
                404) ;;
                *) echo "reading manifest sha256:$hex of $repo answered HTTP $code: nothing is swept" >&2; exit 1 ;;
            esac
        done || return 1
        if [ -f "$api_tmp/next" ]; then mv "$api_tmp/next" "$api_tmp/queue"; else : >"$api_tmp/queue"; fi
    done
}

# online_put_back_all: every blob set aside goes back (a collection that stops half-way).
online_put_back_all() {
    [ -f "$api_tmp/aside" ] || return 0
    while read -r hex; do online_put_back "$hex" || echo "putting blob sha256:$hex back failed" >&2; done <"$api_tmp/aside"
    : >"$api_tmp/aside"
}

# online_release: removes every blob's hold and opens the gate (the writes waiting at the front go on);
# runs on every exit of the collection.
online_release() {
    rm -f "$ONLINE_HOLD_DIR"/sha256:*
    ln -sfn "$ONLINE_GATE_TARGET" "$ONLINE_HOLD_DIR/gate"
}

# online_mark OUT RUNNER...: Distribution's own mark (`registry garbage-collect --dry-run`, sweeping
# nothing) into OUT, through RUNNER. It reads the storage while clients write it: a link file it reads
# while a push writes it (empty, so "invalid checksum digest format"), or a manifest deleted under it,
# fails it. Reading again is safe: up to five times in all, then it fails.
online_mark() {
    mark_out=$1
    shift
    mark_tries=1
    until "$@" registry garbage-collect --dry-run "$online_config" >"$mark_out" 2>"$mark_out.err"; do
        if [ "$mark_tries" -ge 5 ]; then
            tail -n 5 "$mark_out.err" >&2
            return 1
        fi
        echo "the mark failed ($(tail -n 1 "$mark_out.err" | cut -c1-200)): it starts again"
        mark_tries=$((mark_tries + 1))
        sleep 1
    done
}

# collect_online CONFIG [RUNNER...]: one online collection. Runs `registry garbage-collect --dry-run
# CONFIG` through RUNNER for the mark (as collect_garbage does), holds the candidates at the front, reads
# the access log back to GRACE before the mark, protects what it names, and removes the rest. Prints what
# it did; fails (and sweeps nothing more) on any error. Runs in a subshell: its traps and files are its own.
collect_online() (
    LC_ALL=C
    export LC_ALL
    online_config=$1
    shift
    api_tmp=$(mktemp -d)
    trap 'online_put_back_all; online_release; rm -rf "$api_tmp"' EXIT
    trap 'exit 1' INT TERM HUP
    if [ -n "$ONLINE_STORE" ] && [ ! -d "$ONLINE_STORE/docker/registry/v2/repositories" ]; then
        echo "the registry holds no repository yet: nothing to collect"
        exit 0
    fi
    [ -d "$ONLINE_HOLD_DIR" ] || { echo "the front's hold directory $ONLINE_HOLD_DIR does not exist" >&2; exit 1; }
    online_release
    # 1. The mark: what no manifest revision references now. T0 is taken before its first try: the record
    # is read from then on (a mark read again only makes it longer).
    t0=$(date +%s)
    online_mark "$api_tmp/mark" "$@" || { echo "the mark failed five times: nothing is swept" >&2; exit 1; }
    sed -n 's/^blob eligible for deletion: sha256:\([0-9a-f]\{64\}\)$/\1/p' "$api_tmp/mark" | sort -u >"$api_tmp/candidates"
    candidates=$(wc -l <"$api_tmp/candidates")
    if [ "$candidates" -eq 0 ]; then
        echo "online collection: 0 candidates, nothing to sweep"
        exit 0
    fi
    # 2. The hold: from now on no client learns that a candidate exists, and its commit or mount waits at the
    # front; 3. so do manifests, so that none can name a candidate between the log's reading and the sweep.
    # The gate shut, those writes wait until step 7 opens it. Then the requests already past the front end.
    while read -r hex; do : >"$ONLINE_HOLD_DIR/sha256:$hex"; done <"$api_tmp/candidates"
    rm -f "$ONLINE_HOLD_DIR/gate"
    t_gate=$(date +%s)
    sleep "$ONLINE_SETTLE_SECONDS"
    # 4. The record since the mark (and GRACE before it): what it names is protected, with what its manifests reference.
    t_read=$(date +%s)
    online_named $((t0 - ONLINE_GRACE_SECONDS)) >"$api_tmp/named" || exit 1
    sed -n 's/^D //p' "$api_tmp/named" >"$api_tmp/protected"
    sed -n 's/^M //p' "$api_tmp/named" >"$api_tmp/manifests"
    online_protect_manifests "$api_tmp/manifests" "$api_tmp/protected" || exit 1
    sort -u "$api_tmp/protected" | comm -12 "$api_tmp/candidates" - >"$api_tmp/kept"
    comm -23 "$api_tmp/candidates" "$api_tmp/kept" >"$api_tmp/sweep"
    while read -r hex; do rm -f "$ONLINE_HOLD_DIR/sha256:$hex"; done <"$api_tmp/kept"
    # 5. The sweep: what no manifest referenced at the mark and no request has named since is set aside.
    set_aside=0
    while read -r hex; do
        online_set_aside "$hex" || { echo "setting blob sha256:$hex aside failed: the collection stops and puts back what it set aside" >&2; exit 1; }
        echo "$hex" >>"$api_tmp/aside"
        set_aside=$((set_aside + 1))
    done <"$api_tmp/sweep"
    # 6. A manifest PUT that passed the front before its hold and paused in its body past the settle time
    # may have been checked by Distribution while a blob it names was still there, then completed during the
    # sweep: the log names it now. What it and every request since the first reading name goes back.
    sleep "$ONLINE_SETTLE_SECONDS"
    online_named $((t_read - 1)) >"$api_tmp/named-late" || exit 1
    sed -n 's/^D //p' "$api_tmp/named-late" >"$api_tmp/late"
    sed -n 's/^M //p' "$api_tmp/named-late" >"$api_tmp/late-manifests"
    touch "$api_tmp/aside"
    sort -u "$api_tmp/late" | comm -12 "$api_tmp/aside" - >"$api_tmp/back"
    while read -r hex; do online_put_back "$hex" || exit 1; done <"$api_tmp/back"
    online_protect_manifests "$api_tmp/late-manifests" "$api_tmp/late" || exit 1
    sort -u "$api_tmp/late" | comm -12 "$api_tmp/aside" - >"$api_tmp/back"
    while read -r hex; do online_put_back "$hex" 2>/dev/null || :; done <"$api_tmp/back"
    put_back=$(sort -u "$api_tmp/back" | wc -l)
    sort -u "$api_tmp/back" | comm -23 "$api_tmp/aside" - >"$api_tmp/aside.rest"
    mv "$api_tmp/aside.rest" "$api_tmp/aside"
    # 7. The holds go and the gate opens: Distribution itself now refuses a manifest that names a blob set
    # aside (it checks each one, the blob-descriptor cache off), and a client that uploads one again stores it anew.
    online_release
    set_aside_end=$(date +%s)
    echo "online collection: the gate was shut for $((set_aside_end - t_gate)) s (manifest PUTs, and commits and mounts of blobs being swept, waited at the front)"
    # 8. The second mark, after the quarantine: a manifest PUT whose blob check passed before the set-aside
    # and that Distribution wrote later than the log's second reading shows as a revision now, whatever its
    # log entry; what any manifest references goes back. A mark that fails five times stops the collection,
    # which puts back everything still aside. With nothing aside (every candidate protected or put back),
    # there is nothing for the quarantine to wait for.
    referenced=0 swept=0 bytes=0
    if [ -s "$api_tmp/aside" ]; then
        wait_left=$((set_aside_end + ONLINE_QUARANTINE_SECONDS - $(date +%s)))
        [ "$wait_left" -le 0 ] || sleep "$wait_left"
        online_mark "$api_tmp/mark2" "$@" || {
            echo "the second mark failed five times: what was set aside goes back, nothing is removed" >&2
            exit 1
        }
        sed -n 's/^.*: marking \(manifest\|blob\) sha256:\([0-9a-f]\{64\}\) *$/\2/p' "$api_tmp/mark2" | sort -u |
            comm -12 "$api_tmp/aside" - >"$api_tmp/referenced"
        while read -r hex; do online_put_back "$hex" || exit 1; done <"$api_tmp/referenced"
        referenced=$(wc -l <"$api_tmp/referenced")
        comm -23 "$api_tmp/aside" "$api_tmp/referenced" >"$api_tmp/drop"
        # 9. What stays aside is removed for good.
        # The blobs put back are no longer aside; each one dropped leaves the list, so that a failure puts back only the rest.
        cp "$api_tmp/drop" "$api_tmp/aside"
        while read -r hex; do
            b=$(online_drop "$hex") || { echo "removing blob sha256:$hex failed: the collection stops, $swept removed" >&2; exit 1; }
            swept=$((swept + 1)) bytes=$((bytes + b))
            grep -vx "$hex" "$api_tmp/aside" >"$api_tmp/aside.rest" || :
            mv "$api_tmp/aside.rest" "$api_tmp/aside"
        done <"$api_tmp/drop"
    fi
    [ "$put_back" -eq 0 ] || echo "online collection: $put_back blobs put back (named by a manifest put while the sweep ran)"
    [ "$referenced" -eq 0 ] || echo "online collection: $referenced blobs put back (referenced by a manifest the second mark found)"
    echo "online collection: $candidates candidates, $(wc -l <"$api_tmp/kept") protected (named by requests since $((ONLINE_GRACE_SECONDS)) s before the mark, or referenced by manifests they named), $swept swept, $bytes bytes reclaimed"
)
