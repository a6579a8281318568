#!/bin/sh
# Reads back the files the program placed (FILES, one absolute path per line, under $DSO_ROOT: empty on
# a real machine, a private root in tests): for each, in order, one line "<sha256> <mode> <user>:<group>"
# of the file as it is, or "missing" when there is no such file. Changes nothing. Runs as root (the
# caller adds sudo): the files may be readable by their owner only.
: "${FILES:?}"
set -eu
printf '%s\n' "$FILES" | while IFS= read -r path; do
  [ -n "$path" ] || continue
  file="${DSO_ROOT:-}$path"
  if [ -f "$file" ]; then
    sum=$(sha256sum < "$file")
    printf '%s %s\n' "${sum%% *}" "$(stat -c '%a %U:%G' "$file")"
  else
    echo missing
  fi
done
