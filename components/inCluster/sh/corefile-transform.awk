# The Corefile transform (run by corefile.sh). Input files: the server block to insert (empty to
# remove it), then the current Corefile. Prints the new Corefile; on anything it cannot change safely
# it prints why to stderr and exits 1 (the script then changes nothing). Every line outside the
# markers of the program is printed as it was, and the final line break is kept as it was, so removing
# gives the original back byte for byte.
# Variables (-v): blockFile (the first input), host (the zone of the block), begin and end (the marker
# lines), joined (the BEGIN line used when the Corefile did not end with a line break), noFinalBreak
# (1: the Corefile does not end with a line break).
function fail(msg) { print "Corefile: " msg > "/dev/stderr"; print "Nothing was changed." > "/dev/stderr"; failed = 1; exit 1 }
FILENAME == blockFile { nb++; B[nb] = $0; next }
{
  line = $0
  if (line == begin || line == joined) {
    if (inside) fail("line " FNR ": a second \"" begin "\" before its END line; remove the dso-registry lines by hand and run again")
    inside = 1; wasJoined = (line == joined); next
  }
  if (line == end) {
    if (!inside) fail("line " FNR ": \"" end "\" without its BEGIN line; remove the dso-registry lines by hand and run again")
    inside = 0; removed = 1; if (wasJoined) dropFinalBreak = 1; next
  }
  if (inside) next
  code = line; sub(/#.*/, "", code)
  if (depth == 0) {
    keys = code; sub(/\{.*/, "", keys); gsub(/,/, " ", keys)
    nk = split(keys, K, /[ \t]+/)
    for (i = 1; i <= nk; i++) {
      k = K[i]; sub(/^dns:\/\//, "", k); sub(/:53$/, "", k); sub(/\.$/, "", k)
      if (k == host) fail("line " FNR ": a server block for " host " exists and was not written by dso-registry; remove it (the program writes its own) and run again")
    }
  }
  opens = gsub(/\{/, "{", code); closes = gsub(/\}/, "}", code); depth += opens - closes
  n++; L[n] = line
}
END {
  if (failed) exit 1
  if (inside) fail("\"" begin "\" without its END line; remove the dso-registry lines by hand and run again")
  if (n == 0) fail("it is empty; this is not the cluster's Corefile")
  finalBreak = !noFinalBreak
  if (removed && dropFinalBreak) finalBreak = 0
  for (i = 1; i <= n; i++) {
    if (i < n || finalBreak || nb) printf "%s\n", L[i]
    else printf "%s", L[i]
  }
  if (nb) {
    print (finalBreak ? begin : joined)
    for (j = 1; j <= nb; j++) print B[j]
    print end
  }
}
