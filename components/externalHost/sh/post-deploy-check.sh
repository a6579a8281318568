#!/bin/sh
# Asks the registry through Caddy, from the host itself (HOST resolved to 127.0.0.1), whether the
# access policy holds: the ping is challenged, an anonymous read is allowed or challenged as
# configured, and an anonymous upload is refused (the EXPECT_ statuses). Fails the update (non-zero)
# when any answer is wrong. CA_FILE: the CA to verify with, "insecure" to skip verification, empty for
# the system's trust store. Waits WAIT_SECONDS for Caddy (and an ACME certificate).
: "${HOST:?}" "${PORT:?}" "${CA_FILE?}" "${EXPECT_PING:?}" "${EXPECT_READ:?}" "${EXPECT_WRITE:?}" "${WAIT_SECONDS:?}"
set -eu
base="https://$HOST:$PORT"
tls_curl() {
    case $CA_FILE in
        "") curl "$@" ;;
        insecure) curl --insecure "$@" ;;
        *) curl --cacert "${DSO_ROOT:-}$CA_FILE" "$@" ;;
    esac
}
# curl prints 000 itself when it gets no answer.
ask() { tls_curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --resolve "$HOST:$PORT:127.0.0.1" -X "$1" "$base$2" 2>/dev/null || true; }
deadline=$(( $(date +%s) + WAIT_SECONDS ))
while [ "$(ask GET /v2/)" = 000 ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "the registry does not answer on $base (through Caddy on this host); see: docker logs dso-registry-front" >&2; exit 1
    fi
    sleep 2
done
fail=0
check() {
    got=$(ask "$2" "$3")
    if [ "$got" = "$4" ]; then echo "ok   $1: $2 $3 -> $got"; else echo "FAIL $1: $2 $3 -> $got, expected $4" >&2; fail=1; fi
}
check "ping is challenged" GET /v2/ "$EXPECT_PING"
check "anonymous read" GET /v2/_catalog "$EXPECT_READ"
check "anonymous upload is refused" POST /v2/dso-check/blobs/uploads/ "$EXPECT_WRITE"
if [ "$fail" != 0 ]; then echo "the registry does not enforce the expected access policy; the update failed" >&2; exit 1; fi
