#!/usr/bin/env python3
"""Check the template inventory (audit_chart.py) against the real chart: render each activating
option set of AUDIT.md with the real Helm engine and report what the mesh-owned values change.

For each chart version and option set, three renders (values: the shared values of the
hubble-clustermesh fixture + the option set + ...):
  default : cluster.name=default, cluster.id=0 (no mesh values)
  name    : cluster.name=west, cluster.id=1
  full    : every value the mesh owns for west (name, id, maxConnectedClusters, ipv4NativeRoutingCIDR,
            ipMasqAgent, clustermesh.config with domain mesh.example and two peers (one by ips, one by
            address), clustermesh.apiserver.service.nodePort=32391, tls.ca = a fixed "Mesh CA"; none of
            them the chart default)
and two diffs (default -> name, name -> full) of normalized manifests: certificates are described by
subject, issuer, SANs and usages (random bytes dropped), keys hidden, text configs compared line by
line. Each differing document is attributed to its template (Helm's "# Source:" comment); a template
that differs but is missing from inventory/cilium-<version>.txt is reported as MISSED.

usage: audit_render.py [--shared ../shared] [--only SUBSTR]... [--out FILE]
Exit 1 when a set fails to render where it should, or when a template is MISSED.
Needs: pip install helm-python-sdk pyyaml cryptography (helm_render.py from --shared/tools).
"""
import argparse, base64, copy, datetime, json, os, re, subprocess, sys, tempfile

try:
    import yaml
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import helm_python  # noqa: F401  (used by helm_render.py, which runs with this interpreter)
except ImportError as e:
    sys.exit("audit_render.py: %s; install with: target/venv/bin/pip install helm-python-sdk pyyaml cryptography" % e)

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ["1.16.19", "1.17.6", "1.18.12", "1.19.6", "1.20.0"]
ISSUER = {"group": "cert-manager.io", "kind": "Issuer", "name": "ca-issuer"}
B64 = base64.b64encode(b"provided").decode()

# option set name -> (chart values to merge, versions where it applies)
OPTIONS = {
    "base": ({}, VERSIONS),
    "kvstoremesh": ({"clustermesh": {"apiserver": {"kvstoremesh": {"enabled": True}}}}, VERSIONS),
    "authmode-cluster": ({"clustermesh": {"apiserver": {"tls": {"authMode": "cluster"}}}}, VERSIONS),
    "authmode-migration": ({"clustermesh": {"apiserver": {"tls": {"authMode": "migration"}}}}, VERSIONS),
    "authmode-cluster-kvstoremesh": ({"clustermesh": {"apiserver": {"tls": {"authMode": "cluster"},
                                                                    "kvstoremesh": {"enabled": True}}}}, VERSIONS),
    "clustermesh-cronjob": ({"clustermesh": {"apiserver": {"kvstoremesh": {"enabled": True}, "tls": {
        "authMode": "cluster", "auto": {"method": "cronJob", "schedule": "0 0 1 */4 *"}}}}}, VERSIONS),
    "clustermesh-certmanager": ({"clustermesh": {"apiserver": {"kvstoremesh": {"enabled": True}, "tls": {
        "authMode": "cluster", "auto": {"method": "certmanager", "certManagerIssuerRef": ISSUER}}}}}, VERSIONS),
    "clustermesh-provided": ({"clustermesh": {"apiserver": {"tls": {
        "auto": {"enabled": False}, "server": {"cert": B64, "key": B64}, "admin": {"cert": B64, "key": B64},
        "remote": {"cert": B64, "key": B64}, "client": {"cert": B64, "key": B64}}}}}, VERSIONS[:4]),
    "hubble-cronjob": ({"hubble": {"tls": {"auto": {"method": "cronJob", "schedule": "0 0 1 */4 *"}},
                                   "metrics": {"enabled": ["dns"], "tls": {"enabled": True}}}}, VERSIONS),
    "hubble-certmanager": ({"hubble": {"tls": {"auto": {"method": "certmanager", "certManagerIssuerRef": ISSUER}},
                                       "metrics": {"enabled": ["dns"], "tls": {"enabled": True}}}}, VERSIONS),
    "hubble-metrics-tls": ({"hubble": {"metrics": {"enabled": ["dns"], "tls": {"enabled": True},
                                                   "serviceMonitor": {"enabled": True}}}}, VERSIONS),
    "hubble-provided": ({"hubble": {"tls": {"auto": {"enabled": False}, "server": {"cert": B64, "key": B64}},
                                    "relay": {"tls": {"client": {"cert": B64, "key": B64},
                                                      "server": {"enabled": True, "cert": B64, "key": B64}}},
                                    "ui": {"tls": {"client": {"cert": B64, "key": B64}}},
                                    "metrics": {"enabled": ["dns"], "tls": {"enabled": True,
                                                                           "server": {"cert": B64, "key": B64}}}}},
                        VERSIONS),
    "hubble-relay-tls-server": ({"hubble": {"relay": {"tls": {"server": {"enabled": True}}}}}, VERSIONS),
    "spire": ({"authentication": {"enabled": True, "mutual": {"spire": {"enabled": True, "install": {"enabled": True}}}}},
              VERSIONS),
    "rollout": ({"rollOutCiliumPods": True, "operator": {"rollOutPods": True},
                 "hubble": {"relay": {"rollOutPods": True}, "ui": {"rollOutPods": True}}}, VERSIONS),
    "endpointslice-sync": ({"clustermesh": {"enableEndpointSliceSynchronization": True}}, VERSIONS),
    "mcsapi": ({"clustermesh": {"mcsapi": {"enabled": True}}}, ["1.19.6", "1.20.0"]),
    "external-workloads": ({"externalWorkloads": {"enabled": True}}, ["1.16.19", "1.17.6"]),
}


# (option set, version) the chart refuses, with a piece of its message: checked to fail that way.
EXPECTED_FAILURES = {("clustermesh-provided", "1.20.0"): "providing Cluster Mesh certs and keys as helm values has been removed"}


def merge(a, b):
    a = copy.deepcopy(a)
    for k, v in b.items():
        a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else copy.deepcopy(v)
    return a


def mesh_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Mesh CA")])
    now = datetime.datetime(2026, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    kpem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    return base64.b64encode(pem).decode(), base64.b64encode(kpem).decode()


def west_values(ca):
    return {"cluster": {"name": "west", "id": 1}, "ipv4NativeRoutingCIDR": "10.0.0.0/16",
            "ipMasqAgent": {"enabled": True, "config": {"nonMasqueradeCIDRs": ["10.1.0.0/16", "10.4.0.0/16"],
                                                        "masqLinkLocal": False}},
            "clustermesh": {"maxConnectedClusters": 511,
                            "config": {"enabled": True, "domain": "mesh.example", "clusters": [
                                {"name": "east", "port": 32380, "ips": ["172.18.0.5"]},
                                {"name": "north", "port": 32381, "address": "north.example.com"}]},
                            "apiserver": {"service": {"nodePort": 32391}}},
            "tls": {"ca": {"cert": ca[0], "key": ca[1]}}}


def describe(data):
    """Normalized text of a Secret data value: certificates by subject/SAN/issuer/usages."""
    try:
        raw = base64.b64decode(data)
    except Exception:
        return [str(data)]
    if b"-----BEGIN CERTIFICATE-----" in raw:
        out = []
        for c in x509.load_pem_x509_certificates(raw):
            san = ""
            try:
                ext = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                san = " san=" + ",".join(sorted(str(v.value) for v in ext))
            except x509.ExtensionNotFound:
                pass
            eku = ""
            try:
                eku = " eku=" + ",".join(sorted(u._name for u in
                                                c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value))
            except x509.ExtensionNotFound:
                pass
            out.append("CERT subject=%s issuer=%s%s%s" % (c.subject.rfc4514_string(), c.issuer.rfc4514_string(),
                                                          san, eku))
        return out
    if b"PRIVATE KEY-----" in raw:
        return ["<private key>"]
    try:
        return raw.decode().splitlines() or [""]
    except UnicodeDecodeError:
        return ["<%d bytes>" % len(raw)]


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k in sorted(v):
            flatten("%s.%s" % (prefix, k), v[k], out)
    elif isinstance(v, list):
        for i, x in enumerate(v):  # named items by name, so an insertion does not shift the rest
            named = isinstance(x, dict) and isinstance(x.get("name"), str)
            flatten("%s[%s]" % (prefix, "name=" + x["name"] if named else i), x, out)
    elif isinstance(v, str) and "\n" in v:
        for i, line in enumerate(v.splitlines()):
            out.append("%s|%d: %s" % (prefix, i, line))
    else:
        out.append("%s = %s" % (prefix, json.dumps(v)))


def normalize(manifest):
    """{(source template, kind/name): set of lines}."""
    docs = {}
    for part in re.split(r"^---\s*$", manifest, flags=re.M):
        m = re.search(r"^# Source: [^/]+/(.+)$", part, re.M)
        doc = yaml.safe_load(part)
        if not doc or not m:
            continue
        key = (m.group(1), "%s/%s" % (doc.get("kind"), doc.get("metadata", {}).get("name")))
        lines = []
        if doc.get("kind") == "Secret":
            for k in sorted(doc.get("data") or {}):
                for i, line in enumerate(describe(doc["data"][k])):
                    lines.append("data.%s|%d: %s" % (k, i, line))
            doc = {k: v for k, v in doc.items() if k != "data"}
        flatten("", doc, lines)
        docs[key] = set(lines)
    return docs


def render(shared, version, values):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(values, f)
    try:
        p = subprocess.run([sys.executable, os.path.join(shared, "tools", "helm_render.py"),
                            os.path.join(shared, "charts", "cilium-%s.tgz" % version), "-f", f.name],
                           capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(f.name)
    if p.returncode:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "exit %d" % p.returncode
    return normalize(p.stdout), None


def compare(a, b, noise):
    out = []
    for key in sorted(set(a) | set(b)):
        la, lb = a.get(key, set()), b.get(key, set())
        if not la:
            out.append((key, "+ (document appears)"))
        elif not lb:
            out.append((key, "- (document disappears)"))
        for line in sorted(la - lb):
            if (key, line) not in noise:
                out.append((key, "- " + line))
        for line in sorted(lb - la):
            if (key, line) not in noise:
                out.append((key, "+ " + line))
    return out


def inventory(version):
    path = os.path.join(HERE, "inventory", "cilium-%s.txt" % version)
    return {l.split()[1] for l in open(path) if l.startswith("template ")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--out")
    a = p.parse_args()
    base = yaml.safe_load(open(os.path.join(a.shared, "fixtures", "cilium", "hubble-clustermesh-1.17.6",
                                            "values.yaml")))
    ca = mesh_ca()
    report, bad = [], 0
    seen = {}  # (diff, template, object, field) -> {option set: [versions]}, for the summary
    for (name, v), msg in EXPECTED_FAILURES.items():
        if a.only and not any(s in "%s-%s" % (name, v) for s in a.only):
            continue
        _, err = render(a.shared, v, merge(merge(base, OPTIONS[name][0]), {"cluster": {"name": "west", "id": 1}}))
        ok = bool(err) and msg in err
        bad += not ok
        report.append("## %s %s: %s: %s" % (name, v, "fails as expected" if ok else "UNEXPECTED", err or "renders"))
    for name, (opts, versions) in OPTIONS.items():
        for v in versions:
            if a.only and not any(s in "%s-%s" % (name, v) for s in a.only):
                continue
            vals = merge(base, opts)
            d1, err = render(a.shared, v, merge(vals, {"cluster": {"name": "default", "id": 0}}))
            if err:
                report.append("## %s %s: RENDER FAILS: %s" % (name, v, err))
                bad += 1
                continue
            d2, _ = render(a.shared, v, merge(vals, {"cluster": {"name": "default", "id": 0}}))
            noise = {(k, l) for k in set(d1) | set(d2) for l in d1.get(k, set()) ^ d2.get(k, set())}
            rn, err = render(a.shared, v, merge(vals, {"cluster": {"name": "west", "id": 1}}))
            rf, err2 = render(a.shared, v, merge(vals, west_values(ca))) if not err else (None, None)
            if err or err2:
                report.append("## %s %s: RENDER FAILS with west: %s" % (name, v, err or err2))
                bad += 1
                continue
            inv = inventory(v)
            report.append("## %s %s: renders (noise lines ignored: %d)" % (name, v, len(noise)))
            for label, title, diff in (("name", "default -> west (name, id)", compare(d1, rn, noise)),
                                       ("full", "west -> west with every mesh value", compare(rn, rf, noise))):
                report.append("### " + title)
                for (src, obj), line in diff:
                    miss = "" if src.split("/", 1)[1] in inv else "  MISSED"
                    bad += bool(miss)
                    report.append("%s %s%s: %s" % (src.split("/", 1)[1], obj, miss, line[:300]))
                    field = re.sub(r"\[\d+\]", "[]", re.split(r" = |\|\d+: ", line[2:])[0])
                    obj = re.sub(r"-[0-9a-f]{10}$", "-<hash>", obj)  # the certgen Jobs of 1.19+
                    seen.setdefault((label, src.split("/", 1)[1] + miss, obj, field), {}) \
                        .setdefault(name, []).append(v)
    report.append("## summary: what differs (name: default -> west; full: west -> every mesh value), template,"
                  " object, field <- option sets: versions")
    for key, sets in sorted(seen.items()):
        by_versions = {}
        for name, vs in sets.items():
            by_versions.setdefault(",".join(sorted(set(vs))), []).append(name)
        report.append("%s %s %s %s <- %s" % (key + ("; ".join("%s: %s" % (" ".join(n), vs)
                                                            for vs, n in sorted(by_versions.items())),)))
    text = "\n".join(report) + "\n"
    if a.out:
        open(a.out, "w").write(text)
    else:
        sys.stdout.write(text)
    if bad:
        sys.exit("audit_render.py: %d unexpected render failures or MISSED lines (see the report)" % bad)


if __name__ == "__main__":
    main()
