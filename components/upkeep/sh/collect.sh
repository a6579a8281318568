# shellcheck shell=sh
# Distribution's garbage collector, the same in both placements. It runs inside
# a window that holds writes back: docs/decisions/maintenance-window.md.

# collect_garbage DATA_DIR DELETE_UNTAGGED CONFIG [RUNNER...]: runs `registry garbage-collect` on the
# config file CONFIG, through RUNNER (`docker exec <container>` on the host, `kubectl exec …` from a
# job; nothing inside the registry's own container), with --delete-untagged when DELETE_UNTAGGED is
# true. With filesystem storage at DATA_DIR, a registry nobody has pushed to yet has no repositories
# folder, and the collector fails on it (verified with Distribution 2.8): then there is nothing to
# collect, and it says so. An empty DATA_DIR (a bucket, or storage the caller cannot see) always collects.
collect_garbage() {
    collect_data=$1 collect_untagged=$2 collect_config=$3
    shift 3
    if [ "$collect_untagged" = true ]; then
        set -- "$@" registry garbage-collect --delete-untagged "$collect_config"
    else
        set -- "$@" registry garbage-collect "$collect_config"
    fi
    if [ -n "$collect_data" ] && [ ! -d "$collect_data/docker/registry/v2/repositories" ]; then
        echo "the registry holds no repository yet: nothing to collect"
        return 0
    fi
    "$@"
}
