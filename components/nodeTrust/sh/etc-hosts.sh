#!/bin/sh
# Puts the managed block that maps $HOST to $ADDRESS into /etc/hosts (under $DSO_ROOT), or removes it
# when $ADDRESS is empty. The block sits between the lines $BEGIN_MARKER and $END_MARKER. Lines outside
# it stay as they are; a block already present is replaced where it stands; a damaged block (BEGIN
# without END) stops the script without writing. The new content goes to a temporary file next to the
# original and replaces it with a rename, or by copying over the original where it is a bind mount
# (containers, kind nodes, the DaemonSet) and cannot be renamed. Prints "changed <path>" or
# "unchanged <path>".
: "${HOST:?}" "${ADDRESS?}" "${BEGIN_MARKER:?}" "${END_MARKER:?}"
set -eu
hosts="${DSO_ROOT:-}/etc/hosts"
entry=""
if [ -n "$ADDRESS" ]; then entry="$ADDRESS $HOST"; fi
if [ ! -e "$hosts" ]; then
  if [ -z "$entry" ]; then echo "unchanged $hosts"; exit 0; fi
  : > "$hosts"
fi
if ! awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" '$0==b{if(open)bad=1;open=1;next} $0==e{if(!open)bad=1;open=0;next} END{exit (open||bad)?1:0}' "$hosts"; then
  echo "$hosts has a damaged dso-registry block for $HOST (a BEGIN line without its END line, or the reverse)." >&2
  echo "Nothing was changed. Remove the lines between and including the markers by hand, then run again." >&2
  exit 1
fi
others=$(awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" -v h="$HOST" '$0==b{s=1;next} s{if($0==e)s=0;next} $1 !~ /^#/ {for(i=2;i<=NF;i++) if($i==h) printf "%s ", NR}' "$hosts")
if [ -n "$others" ]; then
  echo "note: $hosts also maps $HOST outside the managed block (line $others); the first line for a name wins"
fi
dir=$(dirname "$hosts")
tmp=$(mktemp "$dir/.dso-hosts.XXXXXX")
trap 'rm -f "$tmp"' EXIT
awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" -v l="$entry" 'function block(){ if (l != "") { print b; print l; print e } } $0==b { if (!done) block(); done=1; skip=1; next } skip { if ($0==e) skip=0; next } { print } END { if (!done) block() }' "$hosts" > "$tmp"
if cmp -s "$tmp" "$hosts"; then echo "unchanged $hosts"; exit 0; fi
chmod "$(stat -c %a "$hosts")" "$tmp"
if ! mv -f "$tmp" "$hosts" 2>/dev/null; then cat "$tmp" > "$hosts"; fi
echo "changed $hosts"
