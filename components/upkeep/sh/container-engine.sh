# shellcheck shell=sh
# The host's container engine: Docker where it is installed, otherwise Podman. The scripts call
# `docker`; on a host with Podman and no Docker that name is a function that runs Podman, which takes
# every command and flag they use (run, create, start, rename, rm, inspect -f, exec, logs, ps).
if ! command -v docker >/dev/null 2>&1 && command -v podman >/dev/null 2>&1; then
    docker() { podman "$@"; }
fi
