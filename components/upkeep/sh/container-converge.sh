# shellcheck shell=sh
# Containers on the external host and the kind host converge to their spec: each carries the label dso-registry.spec
# with a fingerprint of everything it is made from (image, ports, mounts, config), and is replaced
# when that label differs or it does not run. The registry, the web UI, the Maven backend and the
# pull-through caches are run this way.
#
# Every script that removes, stops or replaces a container by its name checks here first that the
# container is the stack's (ours): one of that name that the stack did not make stops the run before
# any change (refuse_foreign, remove_container), or, on delete, stays as it is (delete_container).
# Why: docs/decisions/existing-objects.md

# run_container NAME SPEC ARGS...: `docker run` of ARGS (options, image, command) as container NAME,
# detached, restarted unless stopped, labelled with SPEC.
run_container() {
    run_name=$1 run_spec=$2
    shift 2
    docker run -d --name "$run_name" --restart unless-stopped --label "dso-registry.spec=$run_spec" "$@" >/dev/null
}

# Every look at a container by its name says `--type container`: without it `docker inspect NAME` answers
# for an image, a network or a volume of that exact name too when no container has it, and such an object
# is neither a container of the stack's nor one of someone else's.

# ours NAME: whether container NAME exists and carries the label every container of the stack carries.
ours() {
    [ -n "$(docker inspect --type container -f '{{index .Config.Labels "dso-registry.spec"}}' "$1" 2>/dev/null)" ]
}

# foreign NAME: whether a container NAME exists that the stack did not make (no label dso-registry.spec).
foreign() {
    docker inspect --type container "$1" >/dev/null 2>&1 && ! ours "$1"
}

# refuse_foreign NAME: stops the run, changing nothing, when a container NAME exists that the stack did
# not make (no dso-registry.spec label): kind's own local-registry recipe, say, names its container
# kind-registry. Why: docs/decisions/existing-objects.md
refuse_foreign() {
    foreign "$1" || return 0
    what=$(docker inspect --type container -f '{{.Config.Image}}, created {{.Created}}' "$1" 2>/dev/null || echo unknown)
    cat >&2 <<MESSAGE
A container named $1 exists on this Docker host and this stack did not make it ($what; it has no
label dso-registry.spec); nothing of it was changed. Keep it: rename it (docker rename $1 <another name>),
or give the stack's containers another name in its config (kind.containerName on kind). Or hand it over:
remove it yourself (docker rm -f $1), and the next pulumi up runs the stack's own.
MESSAGE
    exit 1
}

# remove_container NAME...: removes the containers NAME... that exist (docker rm -f), each of them the
# stack's: when one is not, none is removed and the run stops (refuse_foreign).
remove_container() {
    for remove_name in "$@"; do refuse_foreign "$remove_name"; done
    for remove_name in "$@"; do docker rm -f "$remove_name" >/dev/null 2>&1 || true; done
}

# delete_container NAME: on delete (pulumi destroy), removes container NAME when the stack made it or
# there is none. One that the stack did not make stays as it is: says so and returns 1, so that the
# caller keeps what goes with it too.
delete_container() {
    if foreign "$1"; then
        echo "kept container $1: this stack did not make it (it has no label dso-registry.spec); it is yours to remove"
        return 1
    fi
    docker rm -f "$1" >/dev/null 2>&1 || true
}

# converged NAME SPEC: whether container NAME runs with the label SPEC, and no DSO_RECREATE asks for it anew
# (converge_container leaves it as it is).
converged() {
    [ -z "${DSO_RECREATE:-}" ] &&
        [ "$(docker inspect --type container -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' "$1" 2>/dev/null || true)" = "$2 true" ]
}

# converge_container NAME SPEC WHAT RUN...: prints "unchanged WHAT" when container NAME runs with the
# label SPEC; otherwise removes it, runs the command RUN... (which runs the new one) and prints
# "changed WHAT". With DSO_RECREATE set (a file of the container's put back after a hand edit: it
# must read it again), the container is made anew all the same.
converge_container() {
    converge_name=$1 converge_spec=$2 converge_what=$3
    shift 3
    refuse_foreign "$converge_name"
    if converged "$converge_name" "$converge_spec"; then
        echo "unchanged $converge_what"
        return 0
    fi
    docker rm -f "$converge_name" >/dev/null 2>&1 || true
    "$@"
    echo "changed $converge_what"
}

# spec_with_env SPEC FILE: SPEC and a digest of the environment file FILE, so that new credentials in
# it make a new spec. The digest is computed here: the credentials never appear in a script.
spec_with_env() {
    printf '%s env:%s\n' "$1" "$(sha256sum <"$2" | cut -c1-16)"
}
