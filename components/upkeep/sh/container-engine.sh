# shellcheck shell=sh
# The host's container engine: Docker, or Podman. Podman is the engine when `docker` is Podman (the
# podman-docker package, which RHEL's `dnf install docker` installs, is a `docker` script that runs
# podman; elsewhere `docker` may be a link to podman), or when there is no `docker` and there is
# `podman`. What `docker` is, is read from the program itself: nothing is run (no daemon is asked, and
# podman-docker's notice on stderr is not printed); Docker's CLI is a compiled program, not a script.
# The scripts call `docker`; with Podman that name is a function that runs Podman itself (which takes
# every command and flag they use: run, create, start, rename, rm, inspect -f, exec, logs, ps), so the
# adjustments below are made whichever way Podman is installed.
# Three differences are made up for here. Podman starts each container's monitor (conmon) from the
# calling shell, and the monitor would inherit the maintenance lock's descriptor (lock.sh, fd 9) and
# hold the lock for as long as the container runs: Podman runs with it closed. Podman removes a
# container that another joined (the metrics relay, in the registry's namespaces) only with that one
# (--depend); Docker removes it alone, and the scripts replace the other right after. And Podman has no
# daemon to start containers at boot: its podman-restart.service starts those whose policy is
# `always` (the package check enables it), so `unless-stopped` becomes `always`.

# podman_engine: whether the host's container engine is Podman.
podman_engine() {
    command -v podman >/dev/null 2>&1 || return 1
    engine_docker=$(command -v docker 2>/dev/null) || return 0
    # Only the function below (from an earlier line of the same script), no docker program: Podman.
    case $engine_docker in /*) ;; *) return 0 ;; esac
    engine_docker=$(readlink -f "$engine_docker" 2>/dev/null) || return 1
    case ${engine_docker##*/} in podman*) return 0 ;; esac
    [ "$(head -c 2 "$engine_docker" 2>/dev/null)" = '#!' ] && grep -q podman "$engine_docker" 2>/dev/null
}

if podman_engine; then
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
