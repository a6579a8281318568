#!/bin/sh
# Refuses a kubeconfig with which a pull request's preview could delete: the preview runs the pull request's
# own program with it. For every context of $KUBECONFIG (the current one when it names none), asks the API
# server with `kubectl auth can-i` (a SelfSubjectAccessReview each, which every authorizer of the cluster
# answers) whether it may:
#   - anything at all, or delete anything, in any namespace or in each NAMESPACE given;
#   - delete, in any namespace and in each NAMESPACE, the kinds a registry's stack keeps its data and
#     workloads in (Deployments, DaemonSets, StatefulSets, Pods, Services, ConfigMaps, Secrets, claims,
#     ServiceAccounts, Ingresses, Roles and their bindings), and delete the collections of secrets, claims
#     and pods;
#   - delete namespaces, nodes, persistent volumes or custom resource definitions;
#   - impersonate a user, a group or a service account (which could delete in its name).
# docs/preview-consequences.md, "The preview's access to the cluster", says what a preview needs instead.
#
#   sh tools/preview-access-check.sh [NAMESPACE...]
#
# Prints each question answered yes. Exit 0: none was; 3: some was (the kubeconfig could delete); 1: a question
# went unanswered (kubectl missing, the cluster unreachable, the credentials refused), which refuses it too.
# KUBECTL names the kubectl to run (default: kubectl on PATH).
set -eu

kubectl=${KUBECTL:-kubectl}
if ! command -v "$kubectl" >/dev/null 2>&1; then
    echo "preview access check: $kubectl was not found: nothing could be asked" >&2
    exit 1
fi

# Kinds whose deletion loses a registry's data or stops it, asked about one by one.
kinds="deployments.apps daemonsets.apps statefulsets.apps pods services configmaps secrets persistentvolumeclaims serviceaccounts ingresses.networking.k8s.io roles.rbac.authorization.k8s.io rolebindings.rbac.authorization.k8s.io"
collections="secrets persistentvolumeclaims pods"
cluster_kinds="namespaces nodes persistentvolumes customresourcedefinitions.apiextensions.k8s.io"

found=0
unanswered=0

# ask CONTEXT ARGS...: one `kubectl auth can-i ARGS` in CONTEXT ("" for the current one).
ask() {
    context=$1
    shift
    if [ -n "$context" ]; then
        set -- --context "$context" "$@"
    fi
    # can-i prints yes or no on stdout (exit 0 or 1); anything else is no answer.
    answer=$("$kubectl" auth can-i "$@" 2>"$errors") || true
    case $answer in
    yes)
        echo "  yes: kubectl auth can-i $*"
        found=1
        ;;
    no) ;;
    *)
        echo "  no answer: kubectl auth can-i $*: $(head -n 1 "$errors")"
        unanswered=1
        ;;
    esac
}

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

# check CONTEXT NAMESPACE...: every question in CONTEXT.
check() {
    context=$1
    shift
    echo "context ${context:-(current)}:"
    # Everywhere: a ClusterRoleBinding grants it in every namespace.
    ask "$context" '*' '*' --all-namespaces
    ask "$context" delete '*' --all-namespaces
    for kind in $kinds; do ask "$context" delete "$kind" --all-namespaces; done
    for kind in $collections; do ask "$context" deletecollection "$kind" --all-namespaces; done
    for kind in $cluster_kinds; do ask "$context" delete "$kind"; done
    for kind in users groups; do ask "$context" impersonate "$kind"; done
    ask "$context" impersonate serviceaccounts --all-namespaces
    # In each namespace the stack uses: a RoleBinding grants it there only.
    for namespace in "$@"; do
        ask "$context" '*' '*' --namespace "$namespace"
        ask "$context" delete '*' --namespace "$namespace"
        for kind in $kinds; do ask "$context" delete "$kind" --namespace "$namespace"; done
        for kind in $collections; do ask "$context" deletecollection "$kind" --namespace "$namespace"; done
        ask "$context" impersonate serviceaccounts --namespace "$namespace"
    done
}

contexts=$("$kubectl" config get-contexts --output=name 2>/dev/null || true)
if [ -z "$contexts" ]; then
    check "" "$@"
else
    for context in $contexts; do check "$context" "$@"; done
fi

if [ "$found" -eq 1 ]; then
    echo "The kubeconfig may delete (each yes above): a preview runs the pull request's own program with it."
    exit 3
fi
if [ "$unanswered" -eq 1 ]; then
    echo "Not every question was answered: the kubeconfig is not known to be unable to delete."
    exit 1
fi
echo "The kubeconfig may delete nothing asked about${1:+ (namespaces: $*)}."
