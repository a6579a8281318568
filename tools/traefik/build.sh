#!/bin/sh
# Builds Traefik (cmd/traefik) from the wrapper module beside this script (the version its go.mod requires)
# into the engine tier's cache: one directory keyed by the version and the hash of the module's files and the
# Go version, so a warm cache builds nothing. The last line printed is that directory; it holds `traefik`.
# Traefik's CRDs and RBAC are read at test time from the module's copy of Traefik (test/support/traefik.ts).
#
#   sh tools/traefik/build.sh [--quiet]
#
# Two dependencies cannot be built as Traefik's go.mod asks, since the module proxy does not serve what they
# need (see go.mod). The build copies them from the module cache into a scratch directory, puts files of ours
# in (overlay/), and builds with a workspace that replaces them with those copies; the module cache is unchanged:
# - lego's providers/dns, which imports every DNS provider and so several SDK modules that are not served,
#   gets overlay/legodns/providers.go in place of its generated file: no ACME DNS-01 provider in this build;
# - go-http-auth v0.4.0 (for Traefik's fork) gets overlay/httpauth/traefik.go beside its files.
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="Traefik build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=github.com/traefik/traefik/v3
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/traefik-${version#v}-$(module_key .)"
build() {
    (
        cd "$here"
        work=$(mktemp -d)
        trap 'chmod -R u+w "$work" && rm -rf "$work"' EXIT
        cp -R "$(go_module_dir "$here" github.com/go-acme/lego/v5)" "$work/lego"
        cp -R "$(go_module_dir "$here" github.com/abbot/go-http-auth)" "$work/httpauth"
        chmod -R u+w "$work"
        cp overlay/legodns/providers.go "$work/lego/providers/dns/zz_gen_dns_providers.go"
        cp overlay/httpauth/traefik.go "$work/httpauth/traefik.go"
        # go-http-auth v0.4.0 has no go.mod; its imports come from the build list.
        echo "module github.com/abbot/go-http-auth" >"$work/httpauth/go.mod"
        cat >"$work/go.work" <<WORK
go $(go list -m -f '{{.GoVersion}}')

use $here

replace github.com/go-acme/lego/v5 => $work/lego

replace github.com/abbot/go-http-auth => $work/httpauth
WORK
        GOWORK="$work/go.work" go build -tags "osusergo netgo" \
            -ldflags "-s -w -X $module/pkg/version.Version=$version" -o "$1/traefik" "$module/cmd/traefik"
    )
}
if [ -x "$out/traefik" ]; then
    say "Traefik build: Traefik $version is cached"
else
    say "Traefik build: building Traefik $version"
    build_into "$out" build
    say "Traefik build: Traefik $version built in $build_seconds s"
fi
echo "$out"
