#!/bin/sh
# Runs inside one kind node (as root, through `docker exec`): writes the registry's hosts.toml under
# both names and makes containerd's CRI plugin read them. Idempotent: writes only what differs, and
# restarts containerd only when its config_path had to be set.
#
# Both names as kind's local-registry recipe and KEP-1755 write them: certs.d/localhost:$PORT (the
# name images carry on the host and in manifests) and certs.d/$REGISTRY_NAME:$PORT, both sending the
# node to http://$REGISTRY_NAME:$PORT on the kind network. containerd reads certs.d only when its
# registry `config_path` names the directory; where it does not, it is added here the way kind's
# containerdConfigPatches would add it, and containerd restarted. Node images since kind v0.27 run
# containerd 2 on a version 2 config without config_path: containerd 2 then uses
# /etc/containerd/certs.d:/etc/docker/certs.d, which its CRI reads when it pulls by itself (as
# `discard_unpacked_layers = true` in kind's config makes it), so such a node is left as it is. Pulling
# through its transfer service instead, containerd 2 takes that list for one directory and reads
# neither (containerd#12415): there config_path is set as on 1.x, under containerd 2's section name
# when the config is version 3 or later.
#
# The pull-through caches: certs.d/<upstream>/hosts.toml for each line of MIRRORS (`<upstream> <the
# file in base64>`, rendered by components/kind/scripts.ts): the cache through the front first, the
# upstream itself as containerd's fallback. A file there that is not ours (its first line is not
# $MIRROR_HEADER: the cluster's own containerdConfigPatches, or a user's) is left alone, with a
# warning; our files for upstreams no longer listed go.
: "${PORT:?}" "${REGISTRY_NAME:?}" "${CERTS_DIR:?}" "${CONFIG_FILE:?}" "${MIRRORS?}" "${MIRROR_HEADER:?}"
set -eu
# `pulumi up` and the watcher may configure the same node at once: each writes a temporary file of its
# own ($$) and renames it over the target, so the file is always whole (both write the same text).
want=$(printf 'server = "http://%s:%s"\n\n[host."http://%s:%s"]\n  capabilities = ["pull", "resolve"]\n' \
  "$REGISTRY_NAME" "$PORT" "$REGISTRY_NAME" "$PORT")
for dir in "localhost:$PORT" "$REGISTRY_NAME:$PORT"; do
  mkdir -p "$CERTS_DIR/$dir"
  if [ "$(cat "$CERTS_DIR/$dir/hosts.toml" 2>/dev/null || true)" != "$want" ]; then
    printf '%s\n' "$want" >"$CERTS_DIR/$dir/hosts.toml.new.$$"
    mv -f "$CERTS_DIR/$dir/hosts.toml.new.$$" "$CERTS_DIR/$dir/hosts.toml"
    echo "wrote $CERTS_DIR/$dir/hosts.toml"
  fi
done

mirrored=" "
while read -r upstream encoded; do
  [ -n "$upstream" ] || continue
  mirrored="$mirrored$upstream "
  file="$CERTS_DIR/$upstream/hosts.toml"
  if [ -f "$file" ] && [ "$(head -n 1 "$file")" != "$MIRROR_HEADER" ]; then
    echo "$file is not ours: left as it is, so this node pulls $upstream's images without the cache" >&2
    continue
  fi
  want=$(printf '%s' "$encoded" | base64 -d)
  if [ "$(cat "$file" 2>/dev/null || true)" != "$want" ]; then
    mkdir -p "$CERTS_DIR/$upstream"
    printf '%s\n' "$want" >"$file.new.$$"
    mv -f "$file.new.$$" "$file"
    echo "wrote $file"
  fi
done <<EOF
$MIRRORS
EOF
for file in "$CERTS_DIR"/*/hosts.toml; do
  [ -f "$file" ] || continue
  [ "$(head -n 1 "$file")" = "$MIRROR_HEADER" ] || continue
  upstream=$(basename "$(dirname "$file")")
  case "$mirrored" in *" $upstream "*) continue ;; esac
  rm -f "$file"
  rmdir "$(dirname "$file")" 2>/dev/null || true
  echo "removed $file (its cache is no longer listed)"
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
config_version=$(awk '/^[ \t]*\[/ { exit } /^[ \t]*version[ \t]*=/ { v=$0; sub(/^[^=]*=[ \t]*/, "", v); print v + 0; exit }' "$CONFIG_FILE" 2>/dev/null || true)
containerd_major=$(containerd --version 2>/dev/null | awk '{ v=$3; sub(/^v/, "", v); sub(/[^0-9].*$/, "", v); print v }' || true)
if [ "$CERTS_DIR" = /etc/containerd/certs.d ] && { [ "${containerd_major:-0}" -ge 2 ] || [ "${config_version:-0}" -ge 3 ]; } &&
  grep -Eq '^[ \t]*(discard_unpacked_layers|use_local_image_pull)[ \t]*=[ \t]*true' "$CONFIG_FILE" 2>/dev/null; then
  echo "config_path ok (containerd 2 pulling by itself reads $CERTS_DIR when config_path is empty)"
  exit 0
fi
# containerd 1.x (config version 2) and 2.x (version 3 and later) name the CRI registry section
# differently. An empty config_path already in the section is replaced: a second key would be a TOML error.
if [ "${config_version:-0}" -ge 3 ]; then
  section='[plugins."io.containerd.cri.v1.images".registry]'
else
  section='[plugins."io.containerd.grpc.v1.cri".registry]'
fi
[ -f "$CONFIG_FILE" ] || : >"$CONFIG_FILE"
awk -v section="$section" -v want="$CERTS_DIR" '
  function key(s) { gsub(/[ \t]/, "", s); gsub(/\047/, "\"", s); return s }
  /^[ \t]*\[/ { inside = key($0) == key(section); if (inside) found = 1 }
  inside && /^[ \t]*config_path[ \t]*=/ { next }
  { print }
  inside && /^[ \t]*\[/ { print "  config_path = \"" want "\"" }
  END { if (!found) printf "\n%s\n  config_path = \"%s\"\n", section, want }
' "$CONFIG_FILE" >"$CONFIG_FILE.new.$$"
mv -f "$CONFIG_FILE.new.$$" "$CONFIG_FILE"
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
