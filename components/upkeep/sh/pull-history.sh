# shellcheck shell=sh
# The pull history that tag retention's keepPulledWithinDays reads (docs/deletes-and-gc.md, Retention):
# one small file, the line "since SECONDS" (from when pulls are recorded), then "REPO REFERENCE SECONDS"
# a line, the last time anyone pulled REPO by REFERENCE (a tag or a digest), in Unix seconds. It is
# fed from the front's JSON access log and merged by the latest time, so reading an entry twice changes
# nothing. POSIX sh and awk only (busybox, mawk, gawk).

# pulls_from_log: the pulls among the front's access-log entries on stdin, as "REPO REFERENCE SECONDS"
# lines, and the digest each was answered with as "REPO DIGEST SECONDS" too (so that a pull by tag keeps
# every tag on that manifest, and a pull by digest the tags on it); then "seen SECONDS", the earliest
# entry read. A pull is a successful (2xx) GET or HEAD of /v2/<repo>/manifests/<reference>; a browser's
# request (a User-Agent of "Mozilla/", the web UI) is not one. Anything else, and any line that is not
# such an entry, is skipped.
pulls_from_log() {
    awk '
        # str(TEXT, KEY): the string value of the first "KEY":"…" in TEXT (keys are unique in what is read).
        function str(text, key,   i, rest) {
            i = index(text, "\"" key "\":\""); if (!i) return ""
            rest = substr(text, i + length(key) + 4)
            i = index(rest, "\""); return i ? substr(rest, 1, i - 1) : ""
        }
        # first(TEXT, KEY): the first string of the first "KEY":["…"] in TEXT (the values of a header).
        function first(text, key,   i, rest) {
            i = index(text, "\"" key "\":[\""); if (!i) return ""
            rest = substr(text, i + length(key) + 5)
            i = index(rest, "\""); return i ? substr(rest, 1, i - 1) : ""
        }
        # num(TEXT, KEY): the number value of the first "KEY": in TEXT, its integer part.
        function num(text, key,   i, rest) {
            i = index(text, "\"" key "\":"); if (!i) return ""
            rest = substr(text, i + length(key) + 3)
            if (!match(rest, /^[0-9]+/)) return ""
            return substr(rest, 1, RLENGTH)
        }
        {
            ts = num($0, "ts"); if (ts == "") next
            if (seen == "" || ts + 0 < seen + 0) seen = ts
            method = str($0, "method"); if (method != "GET" && method != "HEAD") next
            status = num($0, "status"); if (status < 200 || status > 299) next
            if (index($0, "\"User-Agent\":[\"Mozilla/")) next
            uri = str($0, "uri"); q = index(uri, "?"); if (q) uri = substr(uri, 1, q - 1)
            if (substr(uri, 1, 4) != "/v2/") next
            path = substr(uri, 5); repo = ""
            while ((i = index(path, "/manifests/")) > 0) { repo = repo (repo == "" ? "" : "/manifests/") substr(path, 1, i - 1); path = substr(path, i + 11) }
            ref = path
            if (repo !~ /^[a-z0-9][a-z0-9._\/-]*$/) next
            if (ref !~ /^[A-Za-z0-9_][A-Za-z0-9._-]*$/ && !(ref ~ /^sha256:[0-9a-f]+$/ && length(ref) == 71)) next
            print repo, ref, ts
            r = index($0, "\"resp_headers\":")
            if (r) {
                digest = first(substr($0, r), "Docker-Content-Digest")
                if (digest ~ /^sha256:[0-9a-f]+$/ && length(digest) == 71 && digest != ref) print repo, digest, ts
            }
        }
        END { if (seen != "") print "seen", seen }'
}

# merge_pulls HISTORY KEEP_DAYS NOW: merges pulls_from_log's lines on stdin into the history file
# HISTORY (created when missing, its "since" then the earliest entry read, or NOW), keeping each pair's
# latest time and dropping the pairs not pulled in KEEP_DAYS days. The file is replaced whole (a rename).
merge_pulls() {
    mkdir -p "$(dirname "$1")"
    { cat "$1" 2>/dev/null || true; cat; } | awk -v cutoff=$(($3 - $2 * 86400)) -v now="$3" '
        $1 == "since" && NF == 2 { if (since == "" || $2 + 0 < since + 0) since = $2; next }
        $1 == "seen" && NF == 2 { if (seen == "" || $2 + 0 < seen + 0) seen = $2; next }
        NF == 3 && $3 ~ /^[0-9]+$/ && $3 + 0 <= now + 86400 {
            key = $1 " " $2
            if (!(key in last) || $3 + 0 > last[key] + 0) last[key] = $3
        }
        END {
            if (since == "") since = (seen != "" && seen + 0 < now + 0) ? seen : now
            print "since", since
            for (key in last) if (last[key] + 0 >= cutoff) print key, last[key]
        }' >"$1.new"
    mv "$1.new" "$1"
}
