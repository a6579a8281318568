#!/bin/sh
# Build the test control plane's binaries from our wrapper Go modules:
#   kube-apiserver kube-controller-manager kube-scheduler kubectl  (kubernetes/)
#   kubelet kube-proxy (kubernetes/: a real node, node-start.sh)
#   etcd                                                   (etcd/)
#   coredns                                                (coredns/)
#   kwok, and kwok-stages.yaml (its stages)                (kwok/)
# into the directory given as $1.
#
# Each binary is keyed by its module version, the sha256 of its wrapper's
# go.mod and go.sum, the Go toolchain and the link flags; the key is kept in
# $1/.NAME.key. A binary whose key matches is not rebuilt, so a warm run does
# nothing (it does not even start the go command).
#
# Usage: tools/engine/kube/build.sh OUTDIR
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)

PATH=$PATH:/usr/local/go/bin
export PATH
command -v go >/dev/null || {
	echo "build.sh: Go is not installed (Go 1.26 or newer is needed)" >&2
	exit 1
}
export GONOSUMDB="${GONOSUMDB:-github.com/pulumi/pulumi}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0
# shellcheck source=../../go-module-dir.sh
. "$HERE/../../go-module-dir.sh"

# mod_version DIR MODULE: the version MODULE is required at in DIR/go.mod.
mod_version() {
	awk -v m="$2" '
		$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 ~ /^v/ { print $2; exit }
	' "$1/go.mod"
}

sha() {
	cat "$@" | sha256sum | cut -d' ' -f1
}

# Go toolchain version, asked only once and only when some key must be
# computed; a change of toolchain rebuilds everything. Found from the files
# of the go command's GOROOT so that a warm run starts no go command.
goversion() {
	if [ -z "${GOV:-}" ]; then
		gobin=$(command -v go)
		gobin=$(readlink -f "$gobin" 2>/dev/null || echo "$gobin")
		gorootdir=$(dirname "$(dirname "$gobin")")
		if [ -f "$gorootdir/VERSION" ]; then
			GOV=$(head -n1 "$gorootdir/VERSION")
		else
			GOV=$(go env GOVERSION)
		fi
	fi
	echo "$GOV"
}

TOTAL_START=$(date +%s)
BUILT=0

# build NAME MODDIR PACKAGE VERSION LDFLAGS
build() {
	name=$1 moddir=$HERE/$2 pkg=$3 ver=$4 ld=$5
	if [ -z "$ver" ]; then
		echo "build.sh: no version for $name in $moddir/go.mod" >&2
		exit 1
	fi
	key="$name $ver go.sum=$(sha "$moddir/go.sum") go.mod=$(sha "$moddir/go.mod") $(goversion) CGO_ENABLED=0 -trimpath ldflags=$(printf '%s' "$ld" | sha256sum | cut -c1-16)"
	if [ -x "$OUT/$name" ] && [ -f "$OUT/.$name.key" ] && [ "$(cat "$OUT/.$name.key")" = "$key" ]; then
		echo "$name $ver: up to date"
		return 0
	fi
	echo "$name $ver: building $pkg ..."
	start=$(date +%s)
	tmp="$OUT/.$name.tmp.$$"
	rm -f "$OUT/.$name.key"
	if ! (cd "$moddir" && go build -trimpath -ldflags "$ld" -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		echo "build.sh: building $name failed" >&2
		exit 1
	fi
	mv -f "$tmp" "$OUT/$name"
	printf '%s\n' "$key" >"$OUT/.$name.key"
	echo "$name $ver: built in $(($(date +%s) - start))s"
	BUILT=$((BUILT + 1))
}

# --- Kubernetes -------------------------------------------------------------
KV=$(mod_version "$HERE/kubernetes" k8s.io/kubernetes)
KMAJOR=$(echo "$KV" | sed -n 's/^v\([0-9]*\)\.\([0-9]*\)\..*/\1/p')
KMINOR=$(echo "$KV" | sed -n 's/^v\([0-9]*\)\.\([0-9]*\)\..*/\2/p')
KLD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	KLD="$KLD -X $p.gitVersion=$KV -X $p.gitMajor=$KMAJOR -X $p.gitMinor=$KMINOR -X $p.gitTreeState=clean"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kubeadm; do
	build "$c" kubernetes "k8s.io/kubernetes/cmd/$c" "$KV" "$KLD"
done

# --- etcd -------------------------------------------------------------------
# The root package of go.etcd.io/etcd/server/v3 is the etcd main.
EV=$(mod_version "$HERE/etcd" go.etcd.io/etcd/server/v3)
build etcd etcd go.etcd.io/etcd/server/v3 "$EV" "-s -w"

# --- CoreDNS ----------------------------------------------------------------
# Cluster DNS for the real node's pods (test/support/kubeNode.ts); the root package is CoreDNS's main.
CV=$(mod_version "$HERE/coredns" github.com/coredns/coredns)
build coredns coredns github.com/coredns/coredns "$CV" "-s -w"

# --- kwok -------------------------------------------------------------------
WV=$(mod_version "$HERE/kwok" sigs.k8s.io/kwok)
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$WV" "-s -w"

# From v0.8 the kwok binary has no stages of its own (kwokctl passes them): a
# fake node would never become Ready and its pods never Running. start.sh
# gives it, as kwok-stages.yaml, the stages v0.7 used by default when kwok
# keeps the node leases itself (--node-lease-duration-seconds): the fast node
# initialisation, the heartbeat without lease, and the fast pod ready,
# complete and delete stages, each the module's own file at the version built.
stages_key="kwok-stages $WV go.sum=$(sha "$HERE/kwok/go.sum")"
if [ -f "$OUT/kwok-stages.yaml" ] && [ -f "$OUT/.kwok-stages.key" ] && [ "$(cat "$OUT/.kwok-stages.key")" = "$stages_key" ]; then
	echo "kwok-stages.yaml $WV: up to date"
else
	kwok_dir=$(go_module_dir "$HERE/kwok" sigs.k8s.io/kwok)
	tmp="$OUT/.kwok-stages.tmp.$$"
	for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
		echo "---"
		cat "$kwok_dir/kustomize/stage/$stage.yaml"
	done >"$tmp"
	mv -f "$tmp" "$OUT/kwok-stages.yaml"
	printf '%s\n' "$stages_key" >"$OUT/.kwok-stages.key"
	echo "kwok-stages.yaml $WV: written"
fi

echo "build.sh: $BUILT built, total $(($(date +%s) - TOTAL_START))s, in $OUT"
