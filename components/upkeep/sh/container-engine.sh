# shellcheck shell=sh
# The host's container engine: Docker where it is installed, otherwise Podman. The scripts call
# `docker`; on a host with Podman and no Docker that name is a function that runs Podman, which takes
# every command and flag they use (run, create, start, rename, rm, inspect -f, exec, logs, ps).
# Three differences are made up for here. Podman starts each container's monitor (conmon) from the
# calling shell, and the monitor would inherit the maintenance lock's descriptor (lock.sh, fd 9) and
# hold the lock for as long as the container runs: Podman runs with it closed. Podman removes a
# container that another joined (the metrics relay, in the registry's namespaces) only with that one
# (--depend); Docker removes it alone, and the scripts replace the other right after. And Podman has no
# daemon to start containers at boot: its podman-restart.service starts those whose policy is
# `always` (the package check enables it), so `unless-stopped` becomes `always`.
if ! command -v docker >/dev/null 2>&1 && command -v podman >/dev/null 2>&1; then
    docker() {
        case "$1" in
            rm)
                shift
                podman rm --depend "$@" 9>&-
                ;;
            run | create)
                engine_verb=$1
                shift
                for engine_arg do
                    shift
                    if [ "$engine_arg" = unless-stopped ]; then engine_arg=always; fi
                    set -- "$@" "$engine_arg"
                done
                podman "$engine_verb" "$@" 9>&-
                ;;
            *) podman "$@" 9>&- ;;
        esac
    }
fi
