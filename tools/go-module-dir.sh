# shellcheck shell=sh
# go_module_dir WRAPPER MODULE: the directory of the module cache that holds MODULE (or what replaces it) at
# the version the Go module in WRAPPER requires, downloaded first. `go list -m` alone never downloads: on a
# machine whose module cache does not hold MODULE yet it prints an empty .Dir, and a path built on it points
# at the file system's root. Every build script that reads files out of a module (sources to copy, CRDs,
# stages, launchers) asks here.
go_module_dir() {
    (
        cd "$1" &&
            go mod download "$2" &&
            go_module_dir_found=$(go list -m -f '{{with .Replace}}{{.Dir}}{{else}}{{.Dir}}{{end}}' "$2") &&
            if [ -z "$go_module_dir_found" ] || [ ! -d "$go_module_dir_found" ]; then
                echo "go module $2 (required by $1/go.mod) is not in the module cache after its download" >&2
                exit 1
            else
                echo "$go_module_dir_found"
            fi
    )
}
