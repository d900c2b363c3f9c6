#!/usr/bin/env python3
"""Inventory of the Cilium chart templates and helpers that read a value the mesh file owns.

The mesh file owns these chart values (paths below .Values):
  cluster.name, cluster.id, clustermesh.maxConnectedClusters, ipv4NativeRoutingCIDR, ipMasqAgent.*,
  clustermesh.config.*, clustermesh.apiserver.service.nodePort, tls.ca.*, tls.caBundle.* (a mesh
  of several CAs)
A template or helper "reads" one when it names it directly (.Values.x, $.Values.x, $root.Values.x,
hasKey/get/index/dig with string keys), through a variable or a range/with dot bound to such a
value, through `include`/`template` of a helper that reads one (transitively), through a helper
called with such a value as argument, through a root field a helper `set`s from one (.commonCA), or
through a whole file read by `include (print $.Template.BasePath ...)` (checksum annotations) or
`tpl (.Files.Get ...)`. String literals and comments are skipped.
For each reference: line number, the values it reads, the trimmed line, and the conditions of the
enclosing if/with/range blocks ("under"); per template, "when" is the chain of conditions common to
all its references outside if-conditions (the chart values that switch it on), plus whether it is
validation only, a Helm hook, and any .Capabilities.APIVersions gate.

Regenerate the inventories (one per chart version) and compare two versions:
  python3 tests/refcases/audit_chart.py --out tests/refcases/inventory ../shared/charts/cilium-*.tgz
  python3 tests/refcases/audit_chart.py --diff tests/refcases/inventory/cilium-1.19.6.txt \
      tests/refcases/inventory/cilium-1.20.0.txt
Without --out, the inventories are printed on stdout. Python 3.11, standard library only.
"""
import argparse, os, re, sys, tarfile

OWNED = ["cluster.name", "cluster.id", "clustermesh.maxConnectedClusters", "ipv4NativeRoutingCIDR",
         "ipMasqAgent", "clustermesh.config", "clustermesh.apiserver.service.nodePort", "tls.ca",
         "tls.caBundle"]
ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
VALUES = re.compile(r"(?<![\w)])(?:\$\w*)?\.Values((?:\.\w+)*)")
KEYED = re.compile(r"\b(hasKey|get|index)\s+$")
STR = re.compile(r'(?:\s+"\w+")+')
DOT = re.compile(r'(?<![\w$)\]."])\.(?:(?!Values\b|Release\b|Chart\b|Capabilities\b|Template\b|Files\b)(\w+)|(?![\w.]))')
VAR = re.compile(r"\$\w+")
INCLUDE = re.compile(r'\b(?:include|template)\s+"([^"]+)"')
BY_PATH = re.compile(r'\binclude\s+\(print\s+\$?\.Template\.BasePath\s+"/([^"]+)"\)'  # a template file
                     r'|\btpl\s+\(\$?\.Files\.Get\s+"([^"]+)"\)')  # a chart file rendered with tpl
ASSIGN = re.compile(r"^\s*(?:(\$\w+)\s*,\s*)?(\$\w+)\s*:?=(?!=)")
SET_ROOT = [re.compile(r'set\s+(?:\.|\$)\s+"(\w+)"\s+([$\w.]+)'),  # set . "commonCA" $ca
            re.compile(r'set\s+\(set\s+(?:\.|\$)\s+"\w+"\s+[$\w.]+\)\s+"(\w+)"\s+([$\w.]+)')]
CAPS = re.compile(r'\.Capabilities\.APIVersions\.Has\s+"[^"]+"')
ROOT_FIELD = re.compile(r"(?<![\w)\]])\$?\.(\w+)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


def code(text, pattern):
    """Matches of pattern outside string literals."""
    spans = [m.span() for m in STRING.finditer(text)]
    return [m for m in pattern.finditer(text) if not any(a < m.start() < b for a, b in spans)]


def arg_end(text, pos):
    """End of the argument that starts at pos (a pipeline stops at | or an unmatched ')')."""
    depth, masked = 0, STRING.sub(lambda m: "_" * len(m.group()), text)
    for i in range(pos, len(text)):
        depth += {"(": 1, ")": -1}.get(masked[i], 0)
        if depth < 0 or (depth == 0 and masked[i] == "|"):
            return i
    return len(text)


def owned(path):
    """The owned value a .Values path reads (itself, inside it, or a whole ancestor), or None."""
    for o in OWNED:
        if path == o or path.startswith(o + "."):
            return path
        if o.startswith(path + ".") and path:
            return path + ".*"
    return None


def value_refs(text):
    """(offset, path) of each owned .Values read in one action's text."""
    out = []
    for m in code(text, VALUES):
        path, end = m.group(1).lstrip("."), m.end()
        before = text[:m.start()]
        kw = KEYED.search(before)
        if kw:  # hasKey .Values.clustermesh "maxConnectedClusters", index .Values "a" "b"
            keys = re.findall(r'"(\w+)"', STR.match(text, end).group() if STR.match(text, end) else "")
            path = ".".join([path] + (keys if kw.group(1) == "index" else keys[:1])).strip(".")
        d = re.search(r"\bdig((?:\s+\"\w+\")+)\s+(?:\"[^\"]*\"|\(\w+\)|\S+)\s+$", before)
        if d:  # dig "k1" "k2" default .Values.x
            path = ".".join([path] + re.findall(r'"(\w+)"', d.group(1))).strip(".")
        if path.startswith("AsMap."):
            path = path[len("AsMap."):]
        hit = owned(path)
        if hit:
            out.append((m.start(), hit))
    return out


def parse(text):
    """Actions of a template: (offset, stripped text), comments dropped."""
    return [(m.start(2) + len(m.group(2)) - len(m.group(2).lstrip()), m.group(2).strip())
            for m in ACTION.finditer(text) if not m.group(2).strip().startswith("/*")]


def analyse(text, helpers, root_fields, dot0=frozenset()):
    """One pass over a file. Returns {define name or None: [ref]} and, as side information, the
    helpers this file calls with owned arguments, helper reads found, root fields it sets.
    A ref is (offset, sorted sources, conditions)."""
    refs, calls, sets = {None: []}, set(), set()
    stack = []  # frames: [kind, condition text, dot taint or None, define name, earlier branches]
    vars_ = {}
    define = None
    for off, act in parse(text):
        word = act.split(None, 1)[0] if act else ""
        rest = act[len(word):].strip()
        # the dot: innermost range/with frame, else the define's argument taint
        dot = next((f[2] for f in reversed(stack) if f[2] is not None), dot0 if define else frozenset())
        src = {}  # offset -> set of sources
        for o, p in value_refs(act):
            src.setdefault(o, set()).add(p)
        for m in INCLUDE.finditer(act):
            if m.group(1) in helpers:
                src.setdefault(m.start(), set()).update(helpers[m.group(1)])
        for m in BY_PATH.finditer(act):  # keyed like the files: templates/x.yaml, files/x.bash
            key = "templates/" + m.group(1) if m.group(1) else m.group(2)
            if key in helpers:
                src.setdefault(m.start(), set()).update(helpers[key])
        assign = ASSIGN.match(rest if word in ("range", "with", "if") else act)
        lhs = {g for g in (assign.groups() if assign else ()) if g}
        for m in code(act, VAR):
            if m.group() in vars_ and m.group() not in lhs | {"$", "$_"}:
                src.setdefault(m.start(), set()).update(vars_[m.group()])
        if dot:
            for m in code(act, DOT):
                src.setdefault(m.start(), set()).update(dot)
        for m in code(act, ROOT_FIELD):
            if m.group(1) in root_fields and not (dot and not act[m.start()] == "$"):
                src.setdefault(m.start(), set()).update(root_fields[m.group(1)])
        taint = frozenset().union(*src.values()) if src else frozenset()
        # helpers called with an owned argument, root fields set from an owned value
        for m in INCLUDE.finditer(act):  # owned data in the helper's argument
            end = arg_end(act, m.end())
            arg = frozenset().union(*[s for o, s in src.items() if m.end() <= o < end])
            if arg:
                calls.add((m.group(1), arg))
        for m in [m for p in SET_ROOT for m in p.finditer(act)]:
            v = m.group(2)
            vt = vars_.get(v) if v.startswith("$") else (taint if value_refs(v) else None)
            if vt:
                sets.add((m.group(1), frozenset(vt)))
        if word == "define":
            define = re.match(r'"([^"]+)"', rest).group(1)
            refs[define] = []
            vars_ = {}
            stack.append(["define", "", None, define, []])
            continue
        if word == "end":
            f = stack.pop() if stack else None
            if f and f[0] == "define":
                define, vars_ = None, {}
            continue
        body_taint = taint  # of the range/with expression, of an assignment's right-hand side
        if assign and word in ("range", "with"):  # range $k, $v := EXPR
            for v in lhs:
                if body_taint:
                    vars_[v] = vars_.get(v, frozenset()) | body_taint
        elif assign and body_taint:
            vars_[assign.group(2)] = vars_.get(assign.group(2), frozenset()) | body_taint
        for m in re.finditer(r"\bset\s+(\$\w+)\s+\"\w+\"", act):
            if body_taint:
                vars_[m.group(1)] = vars_.get(m.group(1), frozenset()) | body_taint
        conds = ["; ".join(f[4] + [f[1]] if f[1] else f[4]) for f in stack if f[1] or f[4]]
        if word in ("if", "range", "with", "block"):
            cond = " ".join((word + " " + rest).split()) if word != "if" else " ".join(rest.split())
            stack.append([word, cond, body_taint if word in ("range", "with") else None, None, []])
        elif word == "else" and stack:
            f = stack[-1]
            f[4].append("not (%s)" % (f[1][5:] if f[1].startswith("with ") else f[1]))
            new = rest.split(None, 1)
            f[1] = " ".join(new[1].split()) if new and new[0] in ("if", "with") else ""
            f[2] = body_taint if new and new[0] == "with" else (frozenset() if f[2] is not None else None)
        if src:
            for o, s in sorted(src.items()):
                refs[define].append((off + o, tuple(sorted(s)), tuple(conds), word in ("if", "else")))
    return refs, calls, sets


def audit(files):
    """files: {path in the chart (templates/x.yaml, files/y): text}.
    Returns ({helper: (file, refs)}, {template file: refs}, {helper: owned data it gets as argument})."""
    helpers, arg_helpers, root_fields = {}, {}, {}
    while True:  # fixed point over helper reads, helpers called with owned arguments, root fields
        before = (dict(helpers), dict(arg_helpers), dict(root_fields))
        results = {}
        for path, text in files.items():
            refs, calls, sets = analyse(text, helpers, root_fields)
            for name, taint in calls:
                arg_helpers[name] = arg_helpers.get(name, frozenset()) | taint
            for field, taint in sets:
                root_fields[field] = root_fields.get(field, frozenset()) | taint
            for name, rs in refs.items():
                if rs:  # a whole file is read like a helper by include (print .Template.BasePath) / tpl
                    helpers[name or path] = frozenset(s for r in rs for s in r[1])
            results[path] = refs
        if before == (helpers, arg_helpers, root_fields):
            break
    hout = {}
    for path, text in files.items():
        for name, rs in results[path].items():
            if name is None:
                continue
            if name in arg_helpers:  # re-read with the dot bound to the owned argument
                rs = analyse(text, helpers, root_fields, arg_helpers[name])[0][name]
            if rs:
                hout[name] = (path, rs)
    tout = {p: results[p][None] for p in files if results[p][None]}
    hout = {n: h for n, h in hout.items() if n not in files}
    return hout, tout, arg_helpers


def line_of(text, off):
    n = text.count("\n", 0, off)
    return n + 1, text.split("\n")[n].strip()


def short(path):
    return path[len("templates/"):] if path.startswith("templates/") else path


def kind(path, text):
    if path.startswith("files/"):
        return "chart file rendered through tpl"
    if path.endswith("NOTES.txt") or path.endswith(".txt"):
        return "notes (not in the manifest)"
    literal = ACTION.sub("", text)
    if not literal.strip():
        return "validation only (no output)"
    hook = re.search(r'helm\.sh/hook"?:\s*"?([\w,-]+)', text)
    return "renders as a Helm hook: %s" % hook.group(1) if hook else "renders"


def ref_lines(text, rs):
    out, seen = [], set()
    for off, srcs, conds, _ in sorted(rs):
        n, line = line_of(text, off)
        key = (n, srcs)
        if key in seen:
            continue
        seen.add(key)
        out.append("  L%d %s: %s" % (n, ", ".join(srcs), line))
        if conds:
            out.append("      under: %s" % " | ".join(conds))
    return out


def inventory(tgz):
    files, version = {}, "?"
    with tarfile.open(tgz) as t:
        for m in sorted(t.getmembers(), key=lambda m: m.name):
            parts = m.name.split("/")
            if m.isfile() and len(parts) == 2 and parts[1] == "Chart.yaml":
                version = re.search(r"^version:\s*(\S+)", t.extractfile(m).read().decode(), re.M).group(1)
            if m.isfile() and len(parts) > 2 and parts[1] in ("templates", "files"):
                files["/".join(parts[1:])] = t.extractfile(m).read().decode(errors="replace")
    if version == "?" or not files:
        raise OSError("no <chart>/Chart.yaml or templates/ inside")
    helpers, templates, arg_helpers = audit(files)
    out = ["# Cilium chart %s: templates and helpers that read a value the mesh file owns." % version,
           "# Generated by tests/refcases/audit_chart.py from %s; do not edit." % os.path.basename(tgz),
           "# Owned: " + ", ".join(OWNED), ""]
    for name in sorted(helpers):
        path, rs = helpers[name]
        reads = sorted({s for r in rs for s in r[1]})
        out.append('helper "%s" (%s)' % (name, short(path)))
        if name in arg_helpers:
            out.append("  argument: %s" % ", ".join(sorted(arg_helpers[name])))
        out.append("  reads: %s" % ", ".join(reads))
        out += ref_lines(files[path], rs) + [""]
    for path in sorted(templates):
        rs = templates[path]
        body = [r for r in rs if not r[3]] or rs  # references in if-conditions gate, not render
        common = list(body[0][2])
        for r in body[1:]:
            while common and list(r[2][:len(common)]) != common:
                common.pop()
        out.append("template %s [%s]" % (short(path), kind(path, files[path])))
        out.append("  when: %s" % (" | ".join(common) if common else "always"))
        out.append("  reads: %s" % ", ".join(sorted({s for r in rs for s in r[1]})))
        caps = sorted(set(m.group() for m in CAPS.finditer(files[path])))
        if caps:
            out.append("  capabilities: %s" % ", ".join(caps))
        out += ref_lines(files[path], rs) + [""]
    return version, "\n".join(out)


def entries(path):
    """An inventory as {section: {"when"/"reads"/...: text, "ref <sources>: <line>": [conditions]}}."""
    sections, cur, last = {}, None, None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith(("helper ", "template ")):
            cur = sections.setdefault(line, {})
        elif cur is not None and line.startswith("  L"):
            last = "ref " + re.sub(r"^  L\d+ ", "", line)  # line numbers move, the text is compared
            cur.setdefault(last, []).append("")
        elif cur is not None and line.startswith("      under: "):
            cur[last][-1] = line[13:]
        elif cur is not None and line.startswith("  ") and ": " in line:
            key, val = line.strip().split(": ", 1)
            cur[key] = val
    return sections


def diff(a, b):
    """What changed from inventory a to inventory b: sections, references, conditions."""
    ea, eb = entries(a), entries(b)
    out = ["--- %s" % a, "+++ %s" % b]
    for s in sorted(set(ea) | set(eb)):
        if s not in eb or s not in ea:
            out.append("%s %s" % ("-" if s in ea else "+", s))
            out += ["%s   %s" % ("-" if s in ea else "+", k) for k in sorted(ea.get(s) or eb[s]) if k.startswith("ref ")]
            continue
        sa, sb = ea[s], eb[s]
        changes = []
        for k in sorted(set(sa) | set(sb)):
            va, vb = sa.get(k), sb.get(k)
            if va == vb:
                continue
            if va is None or vb is None:
                changes.append("%s   %s" % ("-" if vb is None else "+", k))
            else:
                show = (lambda v: v if isinstance(v, str) else " // ".join(c or "always" for c in v))
                changes.append("~   %s\n      was: %s\n      now: %s" % (k, show(va), show(vb)))
        if changes:
            out += ["  " + s] + changes
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("charts", nargs="*", help="Cilium chart .tgz files")
    p.add_argument("--out", help="write <DIR>/cilium-<version>.txt instead of printing")
    p.add_argument("--diff", nargs=2, metavar=("A", "B"), help="compare two inventory files")
    a = p.parse_args()
    if a.diff:
        for f in a.diff:
            if not os.path.isfile(f):
                p.error("--diff: %s: no such inventory file" % f)
        print(diff(*a.diff))
        return
    if not a.charts:
        p.error("give at least one chart .tgz, or --diff A B")
    for tgz in a.charts:
        try:
            version, text = inventory(tgz)
        except (OSError, tarfile.TarError, AttributeError) as e:
            sys.exit("audit_chart.py: %s: not a readable Helm chart archive (%s)" % (tgz, e))
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            with open(os.path.join(a.out, "cilium-%s.txt" % version), "w") as f:
                f.write(text + "\n")
        else:
            sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
