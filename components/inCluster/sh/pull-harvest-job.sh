#!/bin/sh
# Managed by dso-registry: the pull history's harvest (CronJob registry-pulls, kubectl only), every
# quarter of an hour while a retention rule has keepPulledWithinDays: reads the registry pods' front
# logs into the history in ConfigMap PULLS_CONFIGMAP (pull-harvest.sh; docs/in-cluster.md, Retention by
# last pull). The GC job runs the same harvest before tag retention reads the tags.
: "${NAMESPACE:?}" "${DEPLOYMENT:?}" "${REGISTRY_PODS:?}" "${FRONT_CONTAINER:?}" "${PULLS_CONFIGMAP:?}" "${PULL_MERGE_SCRIPT:?}"
: "${LOCAL_PULL_HISTORY:?}" "${HARVEST_MARGIN_SECONDS:?}"
set -eu
# shellcheck source=./pull-harvest.sh
. "$(dirname "$0")/pull-harvest.sh"
harvest_pulls
