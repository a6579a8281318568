#!/bin/sh
# Builds kube-network-policies (its cmd package), a NetworkPolicy implementation, from the wrapper module beside
# this script (the version its go.mod requires) into the engine tier's cache: one directory keyed by the version
# and the hash of the module's files and the Go version, so a warm cache builds nothing. The last line printed is
# that directory; it holds `kube-network-policies`. The engine tier runs it on its real node
# (test/engine/networkPolicy.test.ts) to show that the NetworkPolicy the stack creates for the in-cluster
# registry is enforced.
#
# kube-network-policies hands each new connection of a selected pod to user space with nftables' queue
# expression (nft_queue), which a kernel may lack (CONFIG_NFT_QUEUE unset, as on the machines the suite runs
# on) while it has nft_compat and the xtables NFQUEUE target, which hand the packet to the same nfnetlink queue.
# The build copies google/nftables (the library kube-network-policies writes its rules with) from the module
# cache into a scratch directory, puts overlay/nftables/queue.go in place of its expr/queue.go (the same Queue
# type, written as the NFQUEUE target), and builds from a copy of the wrapper module whose go.mod replaces the
# library with that copy; the module cache and kube-network-policies' own code are unchanged. (Go refuses an
# -overlay of files in the module cache, and a workspace resolves this module graph differently.)
#
#   sh tools/kube-network-policies/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="kube-network-policies build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=sigs.k8s.io/kube-network-policies
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/kube-network-policies-${version#v}-$(module_key .)"
build() {
    (
        work=$(mktemp -d)
        trap 'chmod -R u+w "$work" && rm -rf "$work"' EXIT
        cp -R "$(go_module_dir "$here" github.com/google/nftables)" "$work/nftables"
        chmod -R u+w "$work"
        cp "$here/overlay/nftables/queue.go" "$work/nftables/expr/queue.go"
        mkdir "$work/wrapper"
        cp "$here/go.mod" "$here/go.sum" "$here/tools.go" "$work/wrapper/"
        cd "$work/wrapper"
        go mod edit -replace "github.com/google/nftables=$work/nftables"
        go build -tags "osusergo netgo" -ldflags "-s -w" -o "$1/kube-network-policies" "$module/cmd"
    )
}
if [ -x "$out/kube-network-policies" ]; then
    say "kube-network-policies build: kube-network-policies $version is cached"
else
    say "kube-network-policies build: building kube-network-policies $version"
    build_into "$out" build
    say "kube-network-policies build: kube-network-policies $version built in $build_seconds s"
fi
echo "$out"
