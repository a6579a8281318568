# The merge of registries.yaml (run by registries-yaml.sh). Input files: the entries of the program (empty to
# remove them), then the current file (or /dev/null). Prints the merged file; on anything it cannot
# merge safely it prints why to stderr and exits 1 (the script then changes nothing).
# Variables (-v): file (the path, for messages), entries (the first input), authority, begin and end
# (the marker lines), header (first line of a file the program creates), addedComment (trailing
# comment of a top-level key the program added), created (1: the current file is not read).
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function indentOf(s) { match(s, /^ */); return RLENGTH }
function blankOrComment(s) { return s ~ /^[ \t]*(#.*)?$/ }
# Key of a block-mapping line ("" if the line is not "key:" or "key: value"); sets KEYPART (up to and
# including the colon) and KEYREST (after it).
function keyOf(s,   body, pad, k, i, rest) {
  match(s, /^[ \t]*/); pad = substr(s, 1, RLENGTH); body = substr(s, RLENGTH + 1)
  if (body ~ /^"/ || body ~ /^\047/) {
    i = index(substr(body, 2), substr(body, 1, 1)); if (!i) return ""
    k = substr(body, 2, i - 1); rest = substr(body, i + 2)
    if (!match(rest, /^[ \t]*:/)) return ""
    if (substr(rest, RLENGTH + 1) !~ /^([ \t]|$)/) return ""
    KEYPART = pad substr(body, 1, i + 1) substr(rest, 1, RLENGTH); KEYREST = substr(rest, RLENGTH + 1)
    return k
  }
  if (body ~ /^[-?{\[#&*!|>%@]/ || !match(body, /:([ \t]|$)/)) return ""
  k = substr(body, 1, RSTART - 1); sub(/[ \t]+$/, "", k)
  KEYPART = pad substr(body, 1, RSTART); KEYREST = substr(body, RSTART + 1)
  return k
}
function fail(msg) { print file ": " msg > "/dev/stderr"; print "Nothing was changed." > "/dev/stderr"; failed = 1; exit 1 }
FILENAME == entries {
  if ($0 ~ /^[a-z]+:[ \t]*$/) { ek = substr($0, 1, index($0, ":") - 1); next }
  if (ek != "") {
    nent[ek]++; ent[ek, nent[ek]] = substr($0, 3)
    # Keys of the entries this program writes (the registry, and each upstream it mirrors).
    if (ent[ek, nent[ek]] ~ /^[^ \t]/) { kk = keyOf(ent[ek, nent[ek]]); if (kk != "") own[ek, kk] = 1 }
  }
  next
}
{
  t = trim($0)
  if (t == begin) { if (inside) fail("line " FNR ": a second \"" begin "\" before its END line; remove the dso-registry lines by hand and run again"); inside = 1; next }
  if (t == end) { if (!inside) fail("line " FNR ": \"" end "\" without its BEGIN line; remove the dso-registry lines by hand and run again"); inside = 0; next }
  if (inside) next
  n++; L[n] = $0; src[n] = FNR
}
END {
  if (failed) exit 1
  if (inside) fail("\"" begin "\" without its END line; remove the dso-registry lines by hand and run again")
  content = 0
  for (i = 1; i <= n; i++) {
    s = L[i]
    if (s ~ /^---/) { if (content) fail("line " src[i] ": more than one YAML document; k3s and RKE2 read only the first: keep one"); continue }
    if (s ~ /^\.\.\.[ \t]*$/) fail("line " src[i] ": a YAML document end marker (...); remove it")
    if (blankOrComment(s) || s ~ /^[ \t]/) continue
    content = 1
    k = keyOf(s)
    if (k == "") fail("line " src[i] ": not a \"key:\" line of a block mapping; write the file in block style (one key per line)")
    if (k != "mirrors" && k != "configs") continue
    if (k in keyline) fail("line " src[i] ": a second top-level \"" k ":\"; merge the two into one")
    keyline[k] = i; v = trim(KEYREST)
    if (v ~ /^\{[ \t]*\}[ \t]*(#.*)?$/) L[i] = KEYPART
    else if (v != "" && v !~ /^#/) fail("line " src[i] ": \"" k ":\" holds a flow-style value; write it in block style (one entry per line) so entries can be added and removed")
    added[k] = (v == addedComment)
  }
  for (k in keyline) {
    kids = 0; ind = 2
    for (i = keyline[k] + 1; i <= n; i++) {
      s = L[i]
      if (s ~ /^[^ \t#]/) break
      if (blankOrComment(s)) continue
      if (!kids) ind = indentOf(s)
      kids++
      if (indentOf(s) == ind && keyOf(s) == authority)
        fail("line " src[i] ": " k "." authority " exists and was not written by dso-registry; remove that entry (the program writes its own) and run again")
      if (indentOf(s) == ind && ((k, keyOf(s)) in own))
        fail("line " src[i] ": " k "." keyOf(s) " exists and was not written by dso-registry, which writes its own for its pull-through cache (registry.mirrors); remove that entry, or the upstream from registry.mirrors, and run again")
    }
    children[k] = kids; indent[k] = ind
  }
  if (created) print header
  for (i = 1; i <= n; i++) {
    k = ""
    if (("mirrors" in keyline) && i == keyline["mirrors"]) k = "mirrors"
    if (("configs" in keyline) && i == keyline["configs"]) k = "configs"
    if (k != "" && added[k] && !children[k] && !nent[k]) continue
    print L[i]
    if (k != "" && nent[k]) block(k, indent[k])
  }
  if (nent["mirrors"] && !("mirrors" in keyline)) { print "mirrors: " addedComment; block("mirrors", 2) }
  if (nent["configs"] && !("configs" in keyline)) { print "configs: " addedComment; block("configs", 2) }
}
function block(k, ind,   pad, j) {
  pad = sprintf("%" ind "s", "")
  print pad begin
  for (j = 1; j <= nent[k]; j++) print pad ent[k, j]
  print pad end
}
