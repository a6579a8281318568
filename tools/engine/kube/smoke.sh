#!/bin/sh
# Smoke test of a control plane started by start.sh DIR, with curl and the
# admin client certificate only (no kubectl):
#   /version is the stamped release; a Namespace and a 1-replica Deployment
#   are created; its pod (faked by kwok) must become Running and Ready and the
#   Deployment Available; then the Namespace is deleted and must be gone
#   (namespace controller, garbage collection and kwok's pod deletion).
#
# Usage: tools/engine/kube/smoke.sh DIR
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
DIR=$(cd "$1" && pwd -P)
TIMEOUT=${KUBE_SMOKE_TIMEOUT:-120}
PKI=$DIR/pki
# shellcheck disable=SC1091 # written by start.sh
. "$DIR/env"
URL=$KUBE_APISERVER_URL
NS=smoke-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')

api() {
	curl -sS -A dso-kube-test --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"
}
post() {
	api -X POST -H 'Content-Type: application/json' "$URL$1" -d @-
}
fail() {
	echo "smoke.sh: FAIL: $*" >&2
	exit 1
}
# condition JSON TYPE: the status of the first condition of that type
condition() {
	printf '%s' "$1" | grep -o "\"type\":\"$2\"[^}]*}" | head -n1 | grep -o '"status":"[A-Za-z]*"' || true
}
# until_ok WHAT COMMAND...: retry COMMAND until it succeeds or TIMEOUT
until_ok() {
	what=$1
	shift
	start=$(date +%s)
	while ! "$@"; do
		[ $(($(date +%s) - start)) -lt "$TIMEOUT" ] || fail "timed out after ${TIMEOUT}s: $what"
		sleep 1
	done
	echo "ok: $what ($(($(date +%s) - start))s)"
}

v=$(api "$URL/version")
printf '%s' "$v" | grep -q '"gitVersion": *"v1\.' || fail "/version: $v"
echo "ok: /version $(printf '%s' "$v" | grep -o '"gitVersion": *"[^"]*"')"

post /api/v1/namespaces >/dev/null <<EOF
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"$NS"}}
EOF
echo "ok: namespace $NS created"

# The pod cannot be created before the namespace's default ServiceAccount
# exists; the ReplicaSet controller retries until it does.
out=$(
	post "/apis/apps/v1/namespaces/$NS/deployments" <<EOF
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
 "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
  "template":{"metadata":{"labels":{"app":"web"}},
   "spec":{"containers":[{"name":"web","image":"example.invalid/fake:1"}]}}}}
EOF
)
printf '%s' "$out" | grep -q '"kind":"Deployment"' || fail "create deployment: $out"
echo "ok: deployment $NS/web created"

pod_running() {
	pods=$(api "$URL/api/v1/namespaces/$NS/pods?labelSelector=app%3Dweb")
	printf '%s' "$pods" | grep -q '"phase":"Running"' &&
		[ "$(condition "$pods" Ready)" = '"status":"True"' ]
}
until_ok "pod of $NS/web Running and Ready" pod_running
node=$(printf '%s' "$pods" | grep -o '"nodeName":"[^"]*"' | head -n1)
ip=$(printf '%s' "$pods" | grep -o '"podIP":"[^"]*"' | head -n1)
echo "   pod on $node, $ip"

deploy_available() {
	d=$(api "$URL/apis/apps/v1/namespaces/$NS/deployments/web")
	printf '%s' "$d" | grep -q '"availableReplicas":1' &&
		[ "$(condition "$d" Available)" = '"status":"True"' ]
}
until_ok "deployment $NS/web Available" deploy_available

api -X DELETE "$URL/api/v1/namespaces/$NS" >/dev/null
ns_gone() {
	[ "$(api -o /dev/null -w '%{http_code}' "$URL/api/v1/namespaces/$NS")" = 404 ]
}
until_ok "namespace $NS deleted and gone" ns_gone

echo "smoke.sh: all checks passed"
