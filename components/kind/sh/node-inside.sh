#!/bin/sh
# Runs inside one kind node (as root, through `docker exec`): writes the registry's hosts.toml under
# both names and makes containerd's CRI plugin read them. Idempotent: writes only what differs, and
# restarts containerd only when its config_path had to be set.
#
# Both names as kind's local-registry recipe and KEP-1755 write them: certs.d/localhost:$PORT (the
# name images carry on the host and in manifests) and certs.d/$REGISTRY_NAME:$PORT, both sending the
# node to http://$REGISTRY_NAME:$PORT on the kind network. containerd reads certs.d only when its
# registry `config_path` names the directory: node images since kind v0.27 set it; on older ones it
# is added here the way kind's containerdConfigPatches would add it, and containerd restarted.
: "${PORT:?}" "${REGISTRY_NAME:?}" "${CERTS_DIR:?}" "${CONFIG_FILE:?}"
set -eu
want=$(printf 'server = "http://%s:%s"\n\n[host."http://%s:%s"]\n  capabilities = ["pull", "resolve"]\n' \
  "$REGISTRY_NAME" "$PORT" "$REGISTRY_NAME" "$PORT")
for dir in "localhost:$PORT" "$REGISTRY_NAME:$PORT"; do
  mkdir -p "$CERTS_DIR/$dir"
  if [ "$(cat "$CERTS_DIR/$dir/hosts.toml" 2>/dev/null || true)" != "$want" ]; then
    printf '%s\n' "$want" >"$CERTS_DIR/$dir/hosts.toml.new"
    mv -f "$CERTS_DIR/$dir/hosts.toml.new" "$CERTS_DIR/$dir/hosts.toml"
    echo "wrote $CERTS_DIR/$dir/hosts.toml"
  fi
done

current=""
if [ -f "$CONFIG_FILE" ]; then
  current=$(awk '/^[ \t]*\[/ { s=$0; gsub(/[ \t]/, "", s); next } s ~ /\.registry\]$/ && /^[ \t]*config_path[ \t]*=/ { v=$0; sub(/^[^=]*=[ \t]*["\047]/, "", v); sub(/["\047].*$/, "", v); print v; exit }' "$CONFIG_FILE")
fi
case ":$current:" in
  *":$CERTS_DIR:"*) echo "config_path ok"; exit 0 ;;
esac
if [ -n "$current" ]; then
  echo "config_path is \"$current\", without $CERTS_DIR: add it in the cluster's containerdConfigPatches" >&2
  exit 1
fi
# containerd 1.x (config version 2) and 2.x (version 3) name the CRI registry section differently.
if grep -Eq '^[ \t]*version[ \t]*=[ \t]*3' "$CONFIG_FILE" 2>/dev/null; then
  section='[plugins."io.containerd.cri.v1.images".registry]'
else
  section='[plugins."io.containerd.grpc.v1.cri".registry]'
fi
if [ -f "$CONFIG_FILE" ] && grep -Fqx "$section" "$CONFIG_FILE"; then
  awk -v s="$section" -v want="$CERTS_DIR" '{ print } $0 == s { print "  config_path = \"" want "\"" }' "$CONFIG_FILE" >"$CONFIG_FILE.new"
else
  { cat "$CONFIG_FILE" 2>/dev/null || true; printf '\n%s\n  config_path = "%s"\n' "$section" "$CERTS_DIR"; } >"$CONFIG_FILE.new"
fi
mv -f "$CONFIG_FILE.new" "$CONFIG_FILE"
echo "set config_path = \"$CERTS_DIR\" in $CONFIG_FILE"
# Right after the node container starts, systemd may still be booting: try for a minute.
i=0
while [ "$i" -lt 60 ]; do
  if systemctl restart containerd 2>/dev/null; then
    echo "restarted containerd"
    exit 0
  fi
  i=$((i + 1))
  sleep 1
done
echo "containerd could not be restarted: restart the node container" >&2
exit 1
