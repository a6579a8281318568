# containers-policy.json(5) of a CRI-O or podman node, edited as text: one entry of
# transports.docker (the scope $scope) is set, read or taken out, and every other byte of the file
# stays as it was. policy-json.sh runs it with busybox awk, mawk or gawk, once for each of the
# registry's scopes (every spelling of its authority), the last one set first taken out.
#
#   awk -v op=check -f policy-json-merge.awk FILE              the file is strict JSON whose top level,
#                                                              "transports" and "docker" are objects
#   awk -v op=missing -f … FILE                                prints what "set" would create: "transports",
#                                                              "docker" (transports exists) or "nothing"
#   awk -v op=get -v scope=S -f … FILE                         prints the value of transports.docker[S]
#                                                              exactly as written; exit 3 when absent
#   awk -v op=set -v scope=S -v value=V [-v raw=1] -f … FILE  prints FILE with transports.docker[S] = the
#                                                              JSON text in the file V (its lines after the
#                                                              first indented to the member's, unless raw=1:
#                                                              a value "get" printed), creating "transports"
#                                                              and "docker" where absent
#   awk -v op=delete -v scope=S [-v container=C] -f … FILE    prints FILE without the member S of
#                                                              transports.docker (C "docker": without the
#                                                              member "docker" of transports, C "root":
#                                                              without "transports"), only when that
#                                                              member's value is an empty object for C
#
# Every output ends with a newline unless final_newline=0 (the file had none).
# Exit 2 with a message on stderr when the file is not such JSON (nothing is printed then). "set" adds
# a new member after the object's last one (or right after "{" in an empty object) and "delete" takes
# out exactly that text again, so a set followed by a delete gives the file back byte for byte; a
# replaced value is given back by setting the value "get" printed before.

function fail(msg) {
  printf "%s: %s\n", FILENAME == "" ? "policy.json" : FILENAME, msg > "/dev/stderr"
  failed = 1
  exit 2
}

function ch(i) { return substr(doc, i, 1) }

function skip_ws(   c) {
  while (pos <= len) {
    c = ch(pos)
    if (c == " " || c == "\t" || c == "\n" || c == "\r") pos++
    else break
  }
}

# A JSON string starting at pos (its opening quote): sets pos after it and returns its decoded text
# (escapes of ASCII characters decoded; others kept as written, which no scope of ours equals).
function parse_string(   out, c, e, hex) {
  if (ch(pos) != "\"") fail("expected a string at character " pos)
  pos++
  out = ""
  while (1) {
    if (pos > len) fail("a string is not closed")
    c = ch(pos)
    if (c == "\"") { pos++; return out }
    if (c == "\\") {
      e = ch(pos + 1)
      if (e == "\"" || e == "\\" || e == "/") { out = out e; pos += 2 }
      else if (e == "b" || e == "f" || e == "n" || e == "r" || e == "t") { out = out "\\" e; pos += 2 }
      else if (e == "u") {
        hex = tolower(substr(doc, pos + 2, 4))
        if (hex !~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/) fail("a bad \\u escape at character " pos)
        if (substr(hex, 1, 2) == "00" && index("01234567", substr(hex, 3, 1)) > 0) out = out sprintf("%c", hexval(substr(hex, 3, 2)))
        else out = out "\\u" hex
        pos += 6
      } else fail("a bad escape at character " pos)
    } else {
      if (c < " ") fail("a control character inside a string at character " pos)
      out = out c
      pos++
    }
  }
}

function hexval(h,   i, v) {
  v = 0
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}

function parse_number(   rest) {
  rest = substr(doc, pos)
  if (match(rest, /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/) == 0) fail("a bad value at character " pos)
  pos += RLENGTH
}

function parse_literal(word) {
  if (substr(doc, pos, length(word)) != word) fail("a bad value at character " pos)
  pos += length(word)
}

# A value at pos; `path` names the objects whose members are recorded ("root", "transports",
# "docker"; "" for any other). Sets pos after the value.
function parse_value(path, depth,   c) {
  if (depth > 512) fail("nested too deeply")
  skip_ws()
  if (pos > len) fail("a value is missing at the end")
  c = ch(pos)
  if (c == "{") parse_object(path, depth)
  else if (c == "[") parse_array(depth)
  else if (c == "\"") parse_string()
  else if (c == "t") parse_literal("true")
  else if (c == "f") parse_literal("false")
  else if (c == "n") parse_literal("null")
  else parse_number()
}

function parse_array(depth) {
  pos++
  skip_ws()
  if (ch(pos) == "]") { pos++; return }
  while (1) {
    parse_value("", depth + 1)
    skip_ws()
    if (ch(pos) == ",") { pos++; continue }
    if (ch(pos) == "]") { pos++; return }
    fail("expected \",\" or \"]\" at character " pos)
  }
}

function parse_object(path, depth,   key, ks, vs, child, i) {
  if (path != "") { seen[path] = 1; open[path] = pos; count[path] = 0 }
  pos++
  skip_ws()
  if (ch(pos) == "}") { if (path != "") closing[path] = pos; pos++; return }
  while (1) {
    skip_ws()
    ks = pos
    key = parse_string()
    skip_ws()
    if (ch(pos) != ":") fail("expected \":\" at character " pos)
    pos++
    skip_ws()
    vs = pos
    child = ""
    if (path == "root" && key == "transports") child = "transports"
    else if (path == "transports" && key == "docker") child = "docker"
    if (child != "" && ch(pos) != "{") fail("\"" key "\" is not an object")
    parse_value(child, depth + 1)
    if (path != "") {
      for (i = 1; i <= count[path]; i++) if (mkey[path, i] == key) fail("\"" key "\" is given twice")
      i = ++count[path]
      mkey[path, i] = key; mks[path, i] = ks; mvs[path, i] = vs; mve[path, i] = pos - 1
    }
    skip_ws()
    if (ch(pos) == ",") { pos++; continue }
    if (ch(pos) == "}") { if (path != "") closing[path] = pos; pos++; return }
    fail("expected \",\" or \"}\" at character " pos)
  }
}

function member(path, key,   i) {
  for (i = 1; i <= count[path]; i++) if (mkey[path, i] == key) return i
  return 0
}

# The indentation of a line: its leading blanks.
function line_indent(at,   start) {
  start = at
  while (start > 1 && ch(start - 1) != "\n") start--
  match(substr(doc, start), /^[ \t]*/)
  return substr(doc, start, RLENGTH)
}

# The indentation members of `path` have (that of its last member's line, when it starts its line).
function member_indent(path,   n, before) {
  n = count[path]
  if (n > 0) {
    before = substr(doc, (n > 1 ? mve[path, n - 1] : open[path]) + 1, mks[path, n] - (n > 1 ? mve[path, n - 1] : open[path]) - 1)
    if (before ~ /\n/) { sub(/^.*\n/, "", before); gsub(/[^ \t]/, "", before); return before }
  }
  return line_indent(open[path]) "    "
}

# `text` with every line after the first indented by `indent`.
function indented(text, indent) {
  gsub(/\n/, "\n" indent, text)
  return text
}

# `doc` with the member text `text` added to the object `path`.
function insert_member(path, text,   n, at, indent) {
  n = count[path]
  indent = member_indent(path)
  if (n > 0) {
    at = mve[path, n]
    return substr(doc, 1, at) ",\n" indent indented(text, indent) substr(doc, at + 1)
  }
  at = open[path]
  return substr(doc, 1, at) "\n" indent indented(text, indent) substr(doc, at + 1)
}

# `doc` without the member i of the object `path`.
function delete_member(path, i,   n) {
  n = count[path]
  if (i > 1) return substr(doc, 1, mve[path, i - 1]) substr(doc, mve[path, i] + 1)
  if (n > 1) return substr(doc, 1, mks[path, 1] - 1) substr(doc, mks[path, 2])
  return substr(doc, 1, open[path]) substr(doc, mve[path, 1] + 1)
}

function quoted(text) {
  gsub(/\\/, "\\\\", text)
  gsub(/"/, "\\\"", text)
  return "\"" text "\""
}

{ lines[++nlines] = $0 }

# The output, with a last newline where the input had one ($final_newline, told by the caller).
function emit(text) { printf "%s%s", text, (final_newline == "0" ? "" : "\n") }

END {
  if (failed) exit 2
  for (i = 1; i <= nlines; i++) doc = doc (i > 1 ? "\n" : "") lines[i]
  len = length(doc)
  pos = 1
  skip_ws()
  if (ch(pos) != "{") fail("the top level is not a JSON object")
  parse_value("root", 0)
  skip_ws()
  if (pos <= len) fail("text after the JSON object at character " pos)
  if (op == "check") exit 0
  if (op == "missing") {
    emit(seen["docker"] ? "nothing" : seen["transports"] ? "docker" : "transports")
    exit 0
  }
  if (scope == "" && container == "") fail("no scope given")
  if (op == "get") {
    i = seen["docker"] ? member("docker", scope) : 0
    if (i == 0) exit 3
    emit(substr(doc, mvs["docker", i], mve["docker", i] - mvs["docker", i] + 1))
    exit 0
  }
  if (op == "set") {
    text = ""
    while ((getline line < value) > 0) text = text (text == "" ? "" : "\n") line
    close(value)
    if (text == "") fail("no value to set")
    entry = quoted(scope) ": " text
    if (seen["docker"]) {
      i = member("docker", scope)
      if (i > 0) out = substr(doc, 1, mvs["docker", i] - 1) (raw == "1" ? text : indented(text, line_indent(mks["docker", i]))) substr(doc, mve["docker", i] + 1)
      else out = insert_member("docker", entry)
    } else if (seen["transports"]) {
      out = insert_member("transports", "\"docker\": {\n    " indented(entry, "    ") "\n}")
    } else {
      out = insert_member("root", "\"transports\": {\n    \"docker\": {\n        " indented(entry, "        ") "\n    }\n}")
    }
    emit(out)
    exit 0
  }
  if (op == "delete") {
    if (container == "docker" || container == "root") {
      path = container == "docker" ? "transports" : "root"
      key = container == "docker" ? "docker" : "transports"
      if (!seen[path]) { emit(doc); exit 0 }
      i = member(path, key)
      if (i == 0 || substr(doc, mvs[path, i], mve[path, i] - mvs[path, i] + 1) !~ /^\{[ \t\r\n]*\}$/) { emit(doc); exit 0 }
      emit(delete_member(path, i))
      exit 0
    }
    i = seen["docker"] ? member("docker", scope) : 0
    if (i == 0) { emit(doc); exit 0 }
    emit(delete_member("docker", i))
    exit 0
  }
  fail("op must be check, missing, get, set or delete")
}
