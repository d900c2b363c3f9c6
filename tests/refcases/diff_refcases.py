#!/usr/bin/env python3
"""Show, per scenario and cluster, what the post-renderer must change: expected-<c>.yaml vs base.yaml,
compared like shared/tools/mesh_equiv.py (imported from --shared), but printing full values.
usage: diff_refcases.py [--shared DIR] [--refcases DIR] [SCENARIO-SUBSTR...]"""
import argparse, json, os, sys
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def walk(e, a, path, out):
    if isinstance(e, dict) and isinstance(a, dict):
        for k in sorted(set(e) | set(a), key=str):
            if k not in a: out.append(("+", "%s/%s" % (path, k), e[k]))
            elif k not in e: out.append(("-", "%s/%s" % (path, k), a[k]))
            elif e[k] != a[k]: walk(e[k], a[k], "%s/%s" % (path, k), out)
    elif isinstance(e, list) and isinstance(a, list) and all(isinstance(x, dict) and "name" in x for x in e + a) and e and a:
        em = {json.dumps(x["name"]): x for x in e}; am = {json.dumps(x["name"]): x for x in a}
        for k in sorted(set(em) | set(am)):
            if k not in am: out.append(("+", "%s[name=%s]" % (path, k), em[k]))
            elif k not in em: out.append(("-", "%s[name=%s]" % (path, k), am[k]))
            elif em[k] != am[k]: walk(em[k], am[k], "%s[name=%s]" % (path, k), out)
    else:
        out.append(("~", path, {"base": a, "expected": e}))
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"))
    ap.add_argument("--refcases", default=os.path.join(REPO, "target", "refcases"))
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.shared, "tools"))
    import mesh_equiv as me
    for sc in sorted(os.listdir(a.refcases)):
        if a.only and not any(s in sc for s in a.only): continue
        d = os.path.join(a.refcases, sc)
        base = me.load(os.path.join(d, "base.yaml"))
        for f in sorted(os.listdir(d)):
            if not f.startswith("expected-"): continue
            exp = me.load(os.path.join(d, f))
            print("=== %s %s" % (sc, f))
            for k in sorted(set(exp) - set(base)): print("ADD object %s" % "/".join(k))
            for k in sorted(set(base) - set(exp)): print("REMOVE object %s" % "/".join(k))
            for k in sorted(set(exp) & set(base)):
                e, em = me.split_crypto(exp[k]); b, bm = me.split_crypto(base[k])
                for op, p, v in walk(me.norm(e), me.norm(b), "", []):
                    print("  %s %s %s: %s" % (op, "/".join(k), p, json.dumps(v)[:600]))
                for c in sorted(set(em) | set(bm)):
                    if not c.endswith(".crt") or c == "ca.crt" or c not in em or c not in bm: continue
                    ef = me.cert_facts(em[c])[1]; bf = me.cert_facts(bm[c])[1]
                    if ef != bf: print("  CERT %s %s: %s -> %s" % ("/".join(k), c, bf, ef))
                if sorted(em) != sorted(bm): print("  TLSKEYS %s: %s -> %s" % ("/".join(k), sorted(bm), sorted(em)))
main()
