#!/bin/sh
# CRI-O and podman hosts: the program's registries.conf drop-in $FILE (under $DSO_ROOT, in
# /etc/containers/registries.conf.d) with mode $MODE. ACTION=apply places stdin there, atomically and
# only when it differs; ACTION=remove removes it. The file is the program's alone: the runtime's
# registries.conf and every other drop-in stay as they are, and drop-ins are read in name order after
# registries.conf. podman and skopeo read it on each run; CRI-O only when it reloads, so after a change
# the running units among $UNITS are reloaded (SIGHUP: running containers are not touched). A reload
# that failed is tried again on the next run (a marker, $PENDING_FILE, beside the file). $DSO_HOST_EXEC
# prefixes the commands that must run in the node's own namespaces (empty over SSH, nsenter in the
# DaemonSet). Prints "changed <file>", "unchanged <file>" or "removed <file>", and what it reloaded.
: "${ACTION:?}" "${FILE:?}" "${MODE:?}" "${UNITS:?}" "${PENDING_FILE:?}"
set -eu
file="${DSO_ROOT:-}$FILE"
dir=$(dirname "$file")
pending="$dir/$PENDING_FILE"
case "$ACTION" in
  apply)
    mkdir -p "$dir"
    # Not named *.conf while it is written: containers/image reads only those.
    tmp=$(mktemp "$dir/.dso-registries-conf.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    cat > "$tmp"
    chmod "$MODE" "$tmp"
    if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
      chmod "$MODE" "$file"
      echo "unchanged $file"
    else
      mv -f "$tmp" "$file"
      : > "$pending"
      echo "changed $file"
    fi
    ;;
  remove)
    if [ -e "$file" ]; then
      rm -f "$file"
      : > "$pending"
      echo "removed $file"
    else
      echo "unchanged $file"
    fi
    ;;
  *) echo "registries-conf.sh: ACTION must be apply or remove, got \"$ACTION\"" >&2; exit 2 ;;
esac
if [ -e "$pending" ]; then
  for unit in $UNITS; do
    if ${DSO_HOST_EXEC:-} systemctl is-active --quiet "$unit" 2>/dev/null; then
      ${DSO_HOST_EXEC:-} systemctl reload "$unit"
      echo "reloaded $unit, which rereads the registries configuration on a reload"
    fi
  done
  rm -f "$pending"
fi
