#!/bin/sh
# Builds the engine tier's binaries from the wrapper modules beside this script: the Pulumi CLI at the
# version its wrapper module requires (cli/go.mod: the npm SDK @pulumi/pulumi has releases the module proxy
# does not serve, so the two move on their own), our Node.js language host, pulumi-kubernetes's own
# provider (kubernetes-provider/), our stand-ins for Pulumi's other providers (the modules in stand-ins/),
# each provider stamped with the version package-lock.json resolves for @pulumi/command, kubernetes, random
# and tls, and, with --kube, the Kubernetes control plane (tools/engine/kube/build.sh). Everything goes to a
# cache outside the checkout, one directory per binary keyed by its version and the hash of its module's
# files, so a warm cache builds nothing. The last line printed is the directory holding the set: `bin/` with the CLI,
# its language host and the dynamic-provider launcher (the CLI finds them beside itself), Pebble and its challenge test server, Caddy, the control
# plane's binaries, kubectl, a real node's kubelet, kube-proxy and CoreDNS, and cert-manager's controller (with cert-manager's CRDs in `cert-manager-crds/`), and `plugins/`, laid out as $PULUMI_HOME/plugins.
#
#   sh tools/engine/build.sh [--kube] [--quiet]
#
#   sh tools/engine/build.sh --caddy [--quiet]
#
# --caddy builds the pinned Caddy alone (into the same set, printed the same way): what the integration
# tests that stand for the cluster's and kind's fronts need, without the CLI, the providers or the control plane.
# Builds of the same cache take turns (a lock under the cache), so parallel test files that each ask for the
# set wait for one build instead of racing each other into the same directories.
#
# DSO_ENGINE_CACHE overrides the cache (default: $XDG_CACHE_HOME or ~/.cache, then dso-registry/engine).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
standins="$root/stand-ins"
cache=${DSO_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dso-registry/engine}
kube=false
quiet=false
caddy_only=false
for arg in "$@"; do
    case $arg in
    --kube) kube=true ;;
    --caddy) caddy_only=true ;;
    --quiet) quiet=true ;;
    *)
        echo "usage: sh tools/engine/build.sh [--kube | --caddy] [--quiet]" >&2
        exit 2
        ;;
    esac
done

PATH=$PATH:/usr/local/go/bin
export PATH
# The checksum database has no entries for the Pulumi modules the proxy serves; go.sum, committed, is
# what every later build verifies them against.
export GONOSUMDB=github.com/pulumi/pulumi
export GOFLAGS=-buildvcs=false
command -v go >/dev/null || {
    echo "engine build: Go is not installed (Go 1.26 or newer is needed; from 1.21 on, Go fetches the toolchain a module names through the module proxy)" >&2
    exit 1
}

say() { [ "$quiet" = true ] || echo "$@" >&2; }

# shellcheck source=../go-module-dir.sh
. "$here/../go-module-dir.sh"

mkdir -p "$cache"
exec 9>"$cache/.engine-build.lock"
if ! flock -n 9; then
    say "engine build: another build of this cache is running; waiting for it"
    flock 9
fi

lock_version() {
    node -e 'const l = require(process.argv[1]); const p = l.packages["node_modules/" + process.argv[2]];
if (!p) { console.error("package-lock.json has no " + process.argv[2]); process.exit(1); }
console.log(p.version);' "$root/package-lock.json" "$1"
}

# module_files DIR: the hash of each file of the Go module in DIR that goes into its binaries.
module_files() {
    (cd "$1" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum)
}

# module_key DIR: the hash of a module's files and, for one that uses it (its go.mod names it), of the
# stand-ins' shared module providerkit's (stand-ins/providerkit), so that any change to either builds anew.
# Both hashes are of paths relative to the module's directory: moving a module keeps its key.
module_key() {
    {
        module_files "$1"
        if grep -q 'dso-registry/engine/providerkit' "$1/go.mod"; then
            echo providerkit
            module_files "$standins/providerkit"
        fi
        go env GOVERSION
    } | sha256sum | cut -c1-16
}

# build DEST NAME MODULE_DIR PACKAGE VERSION LDFLAGS [TAGS]: builds one binary into the cache unless it is
# there, and links it into DEST.
build() {
    dest=$1 name=$2 dir=$3 package=$4 version=$5 ldflags=$6 tags=${7:-}
    out="$cache/build/$name-$version-$(module_key "$dir")"
    if [ -x "$out/$name" ]; then
        say "engine build: $name $version is cached"
    else
        say "engine build: building $name $version"
        started=$(date +%s)
        mkdir -p "$out.partial"
        (cd "$dir" && go build ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out.partial/$name" "$package")
        rm -rf "$out" && mv "$out.partial" "$out"
        say "engine build: $name $version built in $(($(date +%s) - started)) s"
    fi
    mkdir -p "$dest"
    ln -sf "$out/$name" "$dest/$name"
}

# build_kubernetes DEST VERSION: pulumi-kubernetes's provider (kubernetes-provider/go.mod pins the
# module), stamped VERSION, into the cache unless it is there, linked into DEST. Its main package embeds
# schema-embed.json and terraform-mapping-embed.json, which upstream's Makefile makes with
# `VERSION=<version> go generate` from the schema.json and terraform-mapping.json beside it. The module
# cache is read-only (and `go build -overlay` may not replace files in it), so the command's package is
# copied into a copy of the wrapper module outside the checkout, generated and built there, then removed.
build_kubernetes() {
    dest=$1 version=$2 dir="$here/kubernetes-provider"
    out="$cache/build/pulumi-resource-kubernetes-upstream-$version-$(module_key "$dir")"
    if [ -x "$out/pulumi-resource-kubernetes" ]; then
        say "engine build: pulumi-resource-kubernetes $version (pulumi-kubernetes $kubernetes_module) is cached"
    else
        say "engine build: building pulumi-resource-kubernetes $version (pulumi-kubernetes $kubernetes_module)"
        started=$(date +%s)
        module_dir=$(go_module_dir "$dir" github.com/pulumi/pulumi-kubernetes/provider/v4)
        command_dir=$module_dir/cmd/pulumi-resource-kubernetes
        work="$out.partial/src"
        rm -rf "$out.partial"
        mkdir -p "$work"
        cp "$dir/go.mod" "$dir/go.sum" "$command_dir"/*.go "$command_dir/schema.json" "$command_dir/terraform-mapping.json" "$work/"
        chmod -R u+w "$work"
        # Two cores shared with the test runs: the longest build of the set yields to them.
        (cd "$work" && VERSION=$version nice -n 19 go generate . &&
            nice -n 19 go build -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" \
                -o "$out.partial/pulumi-resource-kubernetes" .)
        rm -rf "$work"
        rm -rf "$out" && mv "$out.partial" "$out"
        say "engine build: pulumi-resource-kubernetes $version (pulumi-kubernetes $kubernetes_module) built in $(($(date +%s) - started)) s"
    fi
    mkdir -p "$dest"
    ln -sf "$out/pulumi-resource-kubernetes" "$dest/pulumi-resource-kubernetes"
}

# mod_version DIR MODULE: the version (without its v) at which DIR/go.mod requires MODULE, read from the
# file so that a warm run starts no go command for it.
mod_version() {
    awk -v m="$2" '
        $1 == "require" && $2 == m { print substr($3, 2); exit }
        $1 == m && $2 ~ /^v/ { print substr($2, 2); exit }
    ' "$1/go.mod"
}

cli=$(mod_version "$here/cli" github.com/pulumi/pulumi/pkg/v3)
language_sdk=$(mod_version "$here/language-nodejs" github.com/pulumi/pulumi/sdk/v3)
if [ -z "$cli" ] || [ "$language_sdk" != "$cli" ]; then
    echo "engine build: tools/engine/cli requires pkg/v3 '$cli' and tools/engine/language-nodejs sdk/v3 '$language_sdk': the CLI and its language host move together" >&2
    exit 1
fi
# A set is keyed by what goes into it: the CLI (and its language host), the providers' versions and the
# pulumi-kubernetes module its kubernetes provider is built from.
kubernetes_module=$(mod_version "$here/kubernetes-provider" github.com/pulumi/pulumi-kubernetes/provider/v4)
set_key=$(printf '%s\n' "cli $cli" "$(lock_version @pulumi/command)" "$(lock_version @pulumi/kubernetes)" \
    "$(lock_version @pulumi/random)" "$(lock_version @pulumi/tls)" "pulumi-kubernetes $kubernetes_module" |
    sha256sum | cut -c1-12)
set="$cache/sets/$set_key"
mkdir -p "$set/bin"

if [ "$caddy_only" = false ]; then
    build "$set/bin" pulumi "$here/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$cli" \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$cli" osusergo,grpcnotrace
    build "$set/bin" pulumi-language-nodejs "$here/language-nodejs" . "$cli" "-X main.version=$cli"
    # Providers go where `pulumi plugin install` puts them ($PULUMI_HOME/plugins/resource-NAME-vVERSION/), not
    # beside the CLI: the engine then loads exactly the version each package asks for, as it does for a user.
    version=$(lock_version @pulumi/kubernetes)
    build_kubernetes "$set/plugins/resource-kubernetes-v$version" "$version"
    for provider in command random tls; do
        version=$(lock_version "@pulumi/$provider")
        build "$set/plugins/resource-$provider-v$version" "pulumi-resource-$provider" "$standins/$provider" . \
            "$version" "-X main.version=$version"
    done

    # Pebble, an ACME server for the prod test's external host (the stack's ACME certificate, obtained for real),
    # and its challenge test server, the DNS server through which Pebble's validation finds the registry host.
    pebble_version=$(cd "$here/pebble" && go list -m -f '{{.Version}}' github.com/letsencrypt/pebble/v2)
    build "$set/bin" pebble "$here/pebble" github.com/letsencrypt/pebble/v2/cmd/pebble "$pebble_version" "-s -w"
    build "$set/bin" pebble-challtestsrv "$here/pebble" github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv "$pebble_version" "-s -w"
fi

# Caddy at the version the cluster's and kind's fronts pin (`registry.caddyImage`'s default; test/unit/
# pinnedVersions.test.ts holds the two together), static as the image's: the tests that stand for those fronts run it.
caddy_version=$(cd "$here/caddy" && go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)
(
    export CGO_ENABLED=0
    build "$set/bin" caddy "$here/caddy" github.com/caddyserver/caddy/v2/cmd/caddy "$caddy_version" "-s -w"
)

# Dynamic providers (the Jenkins credentials) run through the SDK's own launcher script, which the SDK
# module ships beside its Node.js sources.
if [ "$caddy_only" = false ]; then
    sdk_dir=$(go_module_dir "$here/cli" github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$set/bin/pulumi-resource-pulumi-nodejs"
fi

if [ "$kube" = true ] && [ "$caddy_only" = false ]; then
    mkdir -p "$cache/kube"
    sh "$here/kube/build.sh" "$cache/kube" >&2
    for binary in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml kubelet kube-proxy kubeadm coredns; do
        ln -sf "$cache/kube/$binary" "$set/bin/$binary"
    done
    # cert-manager's controllers (tools/engine/cert-manager) and the CRDs its module ships, for the stacks
    # whose certificate cert-manager issues: the CRDs go to the API server, the controller issues for real.
    cm_version=$(cd "$here/cert-manager" && go list -m -f '{{.Version}}' github.com/cert-manager/cert-manager)
    CGO_ENABLED=0 build "$set/bin" cert-manager-controller "$here/cert-manager" . "$cm_version" "-s -w"
    cm_dir=$(go_module_dir "$here/cert-manager" github.com/cert-manager/cert-manager)
    # deploy/crds holds the plain CRDs (v1.16 had Helm templates there, named crd-*.yaml); a set keeps
    # only those of the version it was last built with.
    mkdir -p "$set/cert-manager-crds"
    rm -f "$set/cert-manager-crds"/*.yaml
    cp "$cm_dir"/deploy/crds/*.yaml "$set/cert-manager-crds/"
    chmod 0644 "$set/cert-manager-crds"/*.yaml
fi

echo "$set"
