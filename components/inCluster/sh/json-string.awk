# A whole file as a JSON string literal (run by corefile.sh for its JSON Patch): every byte kept,
# control characters escaped. Input: the file; -v noFinalBreak=1 when it does not end with a line break.
BEGIN {
  for (c = 1; c < 32; c++) esc[sprintf("%c", c)] = sprintf("\\u%04x", c)
  esc["\t"] = "\\t"; esc["\r"] = "\\r"; esc["\""] = "\\\""; esc["\\"] = "\\\\"
  printf "\""
}
{
  if (NR > 1) printf "\\n"
  s = $0; out = ""
  while (match(s, /[\001-\037"\\]/)) { out = out substr(s, 1, RSTART - 1) esc[substr(s, RSTART, 1)]; s = substr(s, RSTART + 1) }
  printf "%s%s", out, s
}
END { if (NR > 0 && !noFinalBreak) printf "\\n"; printf "\"" }
