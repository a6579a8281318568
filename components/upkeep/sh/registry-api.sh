# shellcheck shell=sh
# shellcheck disable=SC2154 # api_tmp: set by the script that sources this
# Distribution's own API (no front in between) for the upkeep scripts that read or change what it
# holds: verify.sh and retention.sh. A script that sources this declares REGISTRY_URL (Distribution's
# `http://host:port`), HTTP_CLIENT and UNIX_SOCKET, and sets api_tmp to a private directory before it
# calls anything here. HTTP_CLIENT is what the place it runs has: curl (the external host, over
# Distribution's unix socket UNIX_SOCKET; REGISTRY_URL then names no real host) or busybox (the
# registry image is Alpine: busybox's wget for reads, its nc for DELETE, which wget cannot send).

# Every manifest type Distribution stores.
api_accept='application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.v1+prettyjws'

# http_get URL FILE: a GET that accepts every manifest type; the body goes to FILE, the headers to
# $api_tmp/headers. http_head URL. http_head_manifest URL: a HEAD that accepts every manifest type, the
# headers to $api_tmp/headers (Docker-Content-Digest: what a tag names, without its body). http_delete URL. Each prints the HTTP status, 000 when nothing answers.
case $HTTP_CLIENT in
    curl)
        curl() { if [ -n "$UNIX_SOCKET" ]; then command curl --unix-socket "${DSO_ROOT:-}$UNIX_SOCKET" "$@"; else command curl "$@"; fi; }
        http_get() { curl -sS --max-time 60 -H "Accept: $api_accept" -D "$api_tmp/headers" -o "$2" -w "%{http_code}" "$1" 2>/dev/null || true; }
        http_head() { curl -sS --max-time 60 -o /dev/null -w "%{http_code}" -I "$1" 2>/dev/null || true; }
        http_head_manifest() { curl -sS --max-time 60 -I -H "Accept: $api_accept" -D "$api_tmp/headers" -o /dev/null -w "%{http_code}" "$1" 2>/dev/null || true; }
        http_delete() { curl -sS --max-time 60 -X DELETE -H "Accept: $api_accept" -o /dev/null -w "%{http_code}" "$1" 2>/dev/null || true; }
        ;;
    busybox-wget)
        # busybox wget prints the answer's headers (-S) to stderr, indented. The last status line it
        # wrote to file $1; 000 when there is none (nothing answered).
        status_of() { sed -n 's/^[[:space:]]*HTTP\/[0-9.]*[[:space:]]*\([0-9][0-9][0-9]\).*/\1/p' "$1" | tail -n 1 | grep . || echo 000; }
        http_get() { wget -S -q -O "$2" --header "Accept: $api_accept" "$1" 2>"$api_tmp/headers" || true; status_of "$api_tmp/headers"; }
        # busybox wget sends no HEAD: --spider sends a GET and stops after the headers; Distribution looks
        # the blob up (the repository's link, the blob's file) exactly as for a HEAD and answers 404
        # before any byte when it is missing.
        http_head() { wget -S -q --spider "$1" 2>"$api_tmp/head" || true; status_of "$api_tmp/head"; }
        http_head_manifest() { wget -S -q --spider --header "Accept: $api_accept" "$1" 2>"$api_tmp/headers" || true; status_of "$api_tmp/headers"; }
        # An HTTP/1.0 request written by hand: Distribution answers and closes the connection.
        http_delete() {
            api_authority=${REGISTRY_URL#http://}
            api_authority=${api_authority%%/*}
            case $api_authority in *:*) api_port=${api_authority##*:} ;; *) api_port=80 ;; esac
            printf 'DELETE %s HTTP/1.0\r\nHost: %s\r\nAccept: %s\r\n\r\n' "${1#"$REGISTRY_URL"}" "$api_authority" "$api_accept" |
                nc "${api_authority%:*}" "$api_port" >"$api_tmp/delete" 2>/dev/null || true
            head -n 1 "$api_tmp/delete" | tr -d '\r' >"$api_tmp/delete-status"
            status_of "$api_tmp/delete-status"
        }
        ;;
    *)
        echo "HTTP_CLIENT is curl or busybox-wget, not $HTTP_CLIENT" >&2
        exit 2
        ;;
esac

# api_header NAME: the value of header NAME in the last http_get's answer (case-insensitive name).
api_header() { tr -d '\r' <"$api_tmp/headers" | sed -n "s/^[[:space:]]*$1:[[:space:]]*//Ip" | tail -n 1; }

# The values of a JSON array field of $1, one a line (names and tags hold no quotes or commas).
array() { tr -d '\n' < "$2" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p" | tr ',' '\n' | sed 's/^[[:space:]]*"//; s/"[[:space:]]*$//' | grep -v '^$' || true; }

# wait_for_registry_api: until Distribution answers its ping (at most a minute).
wait_for_registry_api() {
    api_tries=0
    until [ "$(http_get "$REGISTRY_URL/v2/" "$api_tmp/ping")" = 200 ]; do
        api_tries=$((api_tries + 1))
        if [ "$api_tries" -ge 60 ]; then echo "the registry does not answer on $REGISTRY_URL/v2/; see: $REGISTRY_LOGS" >&2; exit 1; fi
        sleep 1
    done
}

# each_repository COMMAND: runs COMMAND REPO for every repository in Distribution's catalog, page by page.
each_repository() {
    api_last=''
    while :; do
        api_code=$(http_get "$REGISTRY_URL/v2/_catalog?n=1000${api_last:+&last=$api_last}" "$api_tmp/catalog")
        if [ "$api_code" != 200 ]; then echo "listing the repositories answered HTTP $api_code; see: $REGISTRY_LOGS" >&2; exit 1; fi
        array repositories "$api_tmp/catalog" >"$api_tmp/repositories"
        [ -s "$api_tmp/repositories" ] || break
        api_last=$(tail -n 1 "$api_tmp/repositories")
        # The page is read from a copy: COMMAND may call http_get, which rewrites the files above.
        cp "$api_tmp/repositories" "$api_tmp/page"
        while read -r api_repo <&3; do "$1" "$api_repo"; done 3<"$api_tmp/page"
        [ "$(wc -l <"$api_tmp/page")" -ge 1000 ] || break
    done
}
