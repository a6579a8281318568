# shellcheck shell=sh
# The pull history's harvest in the cluster (retention's keepPulledWithinDays; docs/in-cluster.md,
# Retention by last pull), shared by the harvest CronJob and the GC job: kubectl and a POSIX shell only.
# The front is the registry pod's Caddy sidecar, which logs to stdout: the kubelet keeps its log, rotates
# it, and drops it with the pod. So the history is kept in ConfigMap PULLS_CONFIGMAP (binaryData
# history.gz, data harvested: when the last complete harvest began, in Unix seconds), and each harvest
# reads, from every pod of REGISTRY_PODS, the log of its FRONT_CONTAINER since the last harvest (and
# HARVEST_MARGIN_SECONDS more; reading an entry twice changes nothing), and the log of the container
# before it when it restarted, and hands them with the stored history to PULL_MERGE_SCRIPT in the registry
# container (pull-merge.sh: busybox has the awk the kubectl image lacks), then stores what that prints.
# Needs: pods get/list, pods/log get, pods/exec create, the Deployment get, ConfigMap PULLS_CONFIGMAP get
# and patch.

# harvest_pulls: one harvest. Fails (and stores the pulls it could read, but not a newer "harvested", so
# that the next harvest reads the same span again) when a pod's log could not be read; fails and stores
# nothing when the history could not be read, merged or stored. On any failure, the merge's copy in the
# registry container is removed (best effort): retention then keeps what it cannot show unpulled.
harvest_pulls() {
    harvest_tmp=$(mktemp -d)
    harvest_started=$(date +%s)
    if ! harvest_run; then
        kubectl --namespace "$NAMESPACE" exec "deployment/$DEPLOYMENT" --container=registry -- rm -f "$LOCAL_PULL_HISTORY" >/dev/null 2>&1 || true
        rm -rf "$harvest_tmp"
        return 1
    fi
    rm -rf "$harvest_tmp"
}

harvest_run() {
    if ! kubectl --namespace "$NAMESPACE" get configmap "$PULLS_CONFIGMAP" \
        -o 'jsonpath={.metadata.resourceVersion}/{.data.harvested}/{.binaryData.history\.gz}' >"$harvest_tmp/stored"; then
        echo "pull history: ConfigMap $PULLS_CONFIGMAP cannot be read; no harvest" >&2
        return 1
    fi
    stored=$(cat "$harvest_tmp/stored")
    version=${stored%%/*}
    stored=${stored#*/}
    harvested=${stored%%/*}
    since=''
    case $harvested in
        '' | *[!0-9]*) harvested='' ;;
        *) since="--since=$((harvest_started - harvested + HARVEST_MARGIN_SECONDS))s" ;;
    esac
    printf '%s\n' "${stored#*/}" >"$harvest_tmp/input"
    if ! kubectl --namespace "$NAMESPACE" get pods --selector "$REGISTRY_PODS" \
        -o "jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[?(@.name==\"$FRONT_CONTAINER\")].restartCount}{\"\\n\"}{end}" >"$harvest_tmp/pods"; then
        echo "pull history: the registry's pods cannot be listed; no harvest" >&2
        return 1
    fi
    unread=''
    pods=0
    while read -r pod restarts; do
        [ -n "$pod" ] || continue
        pods=$((pods + 1))
        # shellcheck disable=SC2086 # no --since on the first harvest: all the kubelet keeps
        kubectl --namespace "$NAMESPACE" logs "$pod" --container="$FRONT_CONTAINER" $since >>"$harvest_tmp/input" ||
            { echo "pull history: the front's log of pod $pod cannot be read" >&2; unread=yes; }
        # A front that restarted: its previous container's log too, while the kubelet keeps it.
        if [ "${restarts:-0}" != 0 ]; then
            # shellcheck disable=SC2086
            kubectl --namespace "$NAMESPACE" logs "$pod" --container="$FRONT_CONTAINER" --previous $since >>"$harvest_tmp/input" 2>/dev/null ||
                echo "pull history: the log of pod $pod's front before its last restart is gone" >&2
        fi
    done <"$harvest_tmp/pods"
    if ! kubectl --namespace "$NAMESPACE" exec -i "deployment/$DEPLOYMENT" --container=registry -- /bin/sh "$PULL_MERGE_SCRIPT" \
        <"$harvest_tmp/input" >"$harvest_tmp/merged"; then
        echo "pull history: the merge in the registry container failed; the stored history stays as it was" >&2
        return 1
    fi
    merged=$(cat "$harvest_tmp/merged")
    if [ -z "$unread" ] && [ "$pods" -gt 0 ]; then harvested=$harvest_started; fi
    # A merge patch that names the version read: a harvest that ran in between makes it fail (409), not lose its pulls.
    printf '{"metadata":{"resourceVersion":"%s"},"data":{"harvested":"%s"},"binaryData":{"history.gz":"%s"}}\n' \
        "$version" "$harvested" "$merged" >"$harvest_tmp/patch"
    if ! kubectl --namespace "$NAMESPACE" patch configmap "$PULLS_CONFIGMAP" --type=merge --patch-file="$harvest_tmp/patch" >/dev/null; then
        echo "pull history: ConfigMap $PULLS_CONFIGMAP could not be written (changed since it was read, or too large); the next harvest reads the same span again" >&2
        return 1
    fi
    echo "pull history: the fronts' logs of $pods registry pods read${since:+ (the last ${since#--since=})}"
    [ -z "$unread" ]
}
