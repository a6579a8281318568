# shellcheck shell=sh
# The images running workloads name, for tag retention (docs/deletes-and-gc.md, Retention): the GC
# job's two scripts list them the same way. Needs the job's ClusterRole to list pods.

# list_workloads FILE: every pod's container and init-container images, as the specs name them and as
# the runtimes resolved them (status imageID, by digest), one a line, into FILE. Fails when the pods
# cannot be listed: retention must then not run, since it would not know what is in use.
list_workloads() {
    kubectl get pods --all-namespaces -o 'jsonpath={range .items[*]}{range .spec.containers[*]}{.image}{"\n"}{end}{range .spec.initContainers[*]}{.image}{"\n"}{end}{range .status.containerStatuses[*]}{.imageID}{"\n"}{end}{range .status.initContainerStatuses[*]}{.imageID}{"\n"}{end}{end}' >"$1" || return 1
    echo "running workloads: $(sort -u "$1" | grep -c . || true) distinct images and digests named by pods"
}
