#!/bin/sh
# The registry's server block in the Corefile of microk8s's CoreDNS (ConfigMap kube-system/coredns,
# key Corefile), run on the machine that runs Pulumi. ACTION=apply reads the block on stdin and puts it
# in (replacing an earlier one); ACTION=remove takes it out. The block sits between the lines
# $BEGIN_MARKER and $END_MARKER ($JOINED_MARKER in place of BEGIN when the Corefile did not end with a
# line break); the awk program $TRANSFORM_AWK makes the change and refuses what it cannot change safely.
# The script reads the Corefile with `kubectl get` and writes it back with a JSON Patch whose `test`
# operation makes the API server refuse the write when someone changed the Corefile in between (run
# again then). kubectl uses the context $KUBECTL_CONTEXT, or its current context when that is empty.
# Prints "changed Corefile" or "unchanged Corefile".
# Parameters hold awk programs: literal text, "$" and all.
# shellcheck disable=SC2016
: "${ACTION:?}" "${HOST:?}" "${KUBECTL_CONTEXT?}" "${BEGIN_MARKER:?}" "${END_MARKER:?}" "${JOINED_MARKER:?}"
: "${TRANSFORM_AWK:?}" "${JSON_STRING_AWK:?}"
set -eu
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kubectl in the context the stack deploys to (inCluster.clusterDns.kubectlContext, else kubernetes:context),
# else in its current one.
cluster_kubectl() {
  if [ -n "$KUBECTL_CONTEXT" ]; then kubectl --context "$KUBECTL_CONTEXT" "$@"; else kubectl "$@"; fi
}

# Prints 1 when the file $1 is not empty and does not end with a line break, else 0.
lacks_final_break() { if [ -s "$1" ] && [ "$(tail -c 1 "$1" | wc -l)" -eq 0 ]; then echo 1; else echo 0; fi; }

# The file $1 as a JSON string literal.
json_string() { awk -v noFinalBreak="$(lacks_final_break "$1")" "$JSON_STRING_AWK" "$1"; }

case "$ACTION" in
  apply) cat > "$work/block" ;;
  remove) : > "$work/block" ;;
  *) echo "corefile.sh: ACTION must be apply or remove, got \"$ACTION\"" >&2; exit 2 ;;
esac
if ! cluster_kubectl -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}' > "$work/current"; then
  echo "Cannot read the Corefile (ConfigMap kube-system/coredns, key Corefile). Enable CoreDNS (microk8s enable dns), check that kubectl reaches the cluster (inCluster.clusterDns.kubectlContext), and run again." >&2
  exit 1
fi
awk -v blockFile="$work/block" -v host="$HOST" -v begin="$BEGIN_MARKER" -v end="$END_MARKER" \
  -v joined="$JOINED_MARKER" -v noFinalBreak="$(lacks_final_break "$work/current")" \
  "$TRANSFORM_AWK" "$work/block" "$work/current" > "$work/new"
if cmp -s "$work/current" "$work/new"; then echo "unchanged Corefile"; exit 0; fi
{
  printf '[{"op":"test","path":"/data/Corefile","value":%s},' "$(json_string "$work/current")"
  printf '{"op":"replace","path":"/data/Corefile","value":%s}]\n' "$(json_string "$work/new")"
} > "$work/patch.json"
cluster_kubectl -n kube-system patch configmap coredns --type json --patch-file "$work/patch.json"
echo "changed Corefile"
