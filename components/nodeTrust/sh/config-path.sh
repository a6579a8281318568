#!/bin/sh
# containerd's CRI plugin reads the registry's hosts.toml files only from the directories its
# `config_path` names, in $CONFIG_FILE (under $DSO_ROOT).
#
# ACTION=apply checks that config_path includes $CERTS_DIR. When it does not, it reports what to change;
# with ALLOW_RESTART=true it sets config_path itself (keeping a copy of the original and a checksum of
# what it wrote, so removal can put the original back), validates the result with `containerd config
# dump` where containerd is installed, and restarts containerd. It never edits a config that still has
# entries in the deprecated registry.mirrors / registry.configs tables, which containerd refuses
# together with config_path.
# ACTION=remove undoes that: puts the original config back when the file is still exactly what this
# script wrote, and restarts containerd (ALLOW_RESTART=true); otherwise says where the original is.
#
# $DSO_HOST_EXEC prefixes the commands that must run in the node's own namespaces (empty over SSH,
# nsenter in the DaemonSet).
: "${ACTION:?}" "${CONFIG_FILE:?}" "${CERTS_DIR:?}" "${ALLOW_RESTART:?}"
set -eu
conf="${DSO_ROOT:-}$CONFIG_FILE"
want="$CERTS_DIR"
# containerd 1.x (config version 2) and 2.x (version 3) spell the CRI registry section differently.
section_v2='[plugins."io.containerd.grpc.v1.cri".registry]'
section_v3='[plugins."io.containerd.cri.v1.images".registry]'

# Restarts containerd when it is running ($1 says why): it comes back by itself, and running
# containers keep running.
restart_containerd() {
  if ${DSO_HOST_EXEC:-} systemctl is-active --quiet containerd; then
    ${DSO_HOST_EXEC:-} systemctl restart containerd
    echo "restarted containerd ($1)"
  else
    echo "none of containerd is running; it reads the change when it starts"
  fi
}

apply_config_path() {
  current=""
  if [ -f "$conf" ]; then
    current=$(awk '/^[ \t]*\[/ { s=$0; gsub(/[ \t]/, "", s); next } s ~ /\.registry\]$/ && /^[ \t]*config_path[ \t]*=/ { v=$0; sub(/^[^=]*=[ \t]*["\047]/, "", v); sub(/["\047].*$/, "", v); print v; exit }' "$conf")
  fi
  case ":$current:" in
    *":$want:"*) echo "containerd config_path ok: $current"; exit 0 ;;
  esac
  problem="containerd's CRI plugin does not read $want (config_path is \"$current\" in $CONFIG_FILE), so kubelet pulls ignore the registry's hosts.toml"
  if [ "$ALLOW_RESTART" != true ]; then
    echo "WARNING: $problem. Add config_path = \"$want\" under $section_v2 (containerd 1.x) or $section_v3 (2.x) and restart containerd, or set dso-registry:nodes.allowContainerdRestart true to let this program do it." >&2
    echo "config_path missing"
    exit 0
  fi
  if [ -f "$conf" ] && grep -Eq '\.registry\.(mirrors|configs)\.' "$conf"; then
    echo "WARNING: $problem. $CONFIG_FILE still has entries under registry.mirrors/registry.configs, which containerd refuses together with config_path: move them to hosts.toml files under $want, then run again." >&2
    exit 0
  fi
  dir=$(dirname "$conf")
  mkdir -p "$dir"
  tmp=$(mktemp "$dir/.dso-config.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  if [ ! -f "$conf" ]; then
    printf 'version = 2\n\n%s\n  config_path = "%s"\n' "$section_v2" "$want" > "$tmp"
  elif [ -n "$current" ] || awk '/^[ \t]*\[/ { s=$0; gsub(/[ \t]/, "", s); if (s ~ /\.registry\]$/) found=1 } END { exit found ? 0 : 1 }' "$conf"; then
    # A registry section exists: replace its config_path value (keeping other paths) or add the key under it.
    awk -v want="$want" -v cur="$current" '
      /^[ \t]*\[/ { if (insec && !done) { print "  config_path = \"" want "\""; done=1 } s=$0; gsub(/[ \t]/, "", s); insec = (s ~ /\.registry\]$/); print; next }
      insec && !done && /^[ \t]*config_path[ \t]*=/ { v = (cur == "") ? want : want ":" cur; print "  config_path = \"" v "\""; done=1; next }
      { print }
      END { if (insec && !done) print "  config_path = \"" want "\"" }' "$conf" > "$tmp"
  else
    cat "$conf" > "$tmp"
    if grep -Eq '^[ \t]*version[ \t]*=[ \t]*3' "$conf"; then section="$section_v3"; else section="$section_v2"; fi
    printf '\n%s\n  config_path = "%s"\n' "$section" "$want" >> "$tmp"
  fi
  # From the DaemonSet, containerd runs in the node's mount namespace: the path loses the /host prefix.
  check="$tmp"
  if [ -n "${DSO_HOST_EXEC:-}" ]; then check="${tmp#"${DSO_ROOT:-}"}"; fi
  if ${DSO_HOST_EXEC:-} sh -c 'command -v containerd' >/dev/null 2>&1; then
    if ! ${DSO_HOST_EXEC:-} containerd --config "$check" config dump >/dev/null 2>&1; then
      echo "WARNING: $problem. Setting it automatically gave a config containerd rejects; nothing was changed. Set it by hand." >&2
      exit 0
    fi
  fi
  if [ -f "$conf" ]; then
    [ -e "$conf.before-dso-registry" ] || cp -p "$conf" "$conf.before-dso-registry"
    chmod "$(stat -c %a "$conf")" "$tmp"
  else
    : > "$conf.created-by-dso-registry"
    chmod 0644 "$tmp"
  fi
  mv -f "$tmp" "$conf"
  sha256sum "$conf" | cut -d " " -f 1 > "$conf.dso-registry.sha256"
  echo "containerd config_path set to include $want in $CONFIG_FILE"
  restart_containerd "config_path changed"
}

restore_config() {
  [ -f "$conf.dso-registry.sha256" ] || exit 0
  if [ -f "$conf" ] && [ "$(sha256sum "$conf" | cut -d " " -f 1)" = "$(cat "$conf.dso-registry.sha256")" ]; then
    if [ -e "$conf.created-by-dso-registry" ]; then rm -f "$conf" "$conf.created-by-dso-registry"; else mv -f "$conf.before-dso-registry" "$conf"; fi
    rm -f "$conf.dso-registry.sha256"
    echo "restored $CONFIG_FILE as it was before dso-registry set config_path"
    if [ "$ALLOW_RESTART" = true ]; then restart_containerd "config_path restored"; else echo "restart containerd to apply it"; fi
  else
    rm -f "$conf.dso-registry.sha256" "$conf.created-by-dso-registry"
    echo "$CONFIG_FILE was changed after dso-registry set config_path; left as it is (the earlier version is $CONFIG_FILE.before-dso-registry, if it exists)" >&2
  fi
}

case "$ACTION" in
  apply) apply_config_path ;;
  remove) restore_config ;;
  *) echo "config-path.sh: ACTION must be apply or remove, got \"$ACTION\"" >&2; exit 2 ;;
esac
