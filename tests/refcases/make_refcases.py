#!/usr/bin/env python3
"""Generate reference scenarios for `kubectl-mesh render` with the real Cilium chart (Helm v4 engine).

Each scenario directory has the layout of shared/fixtures/cilium/<scenario>/:
  values.yaml            the Helm values every cluster shares (no identity)
  base.yaml              chart rendered with values.yaml
  mesh.yaml              the kubectl-mesh/v1alpha1 Mesh file
  expected-<cluster>.yaml  chart rendered with that cluster's own values added
  ca.crt / ca.key        when the mesh has one CA (then expected-* are rendered with tls.ca.*)
  ca-<cluster>.crt/.key  a mesh of several CAs (trust: bundle): expected-<cluster> is rendered with
                         that cluster's tls.ca.* and tls.caBundle.content = every cluster's CA
  values/base.yaml, values/<cluster>.yaml   the Helm values used (for debugging)

usage: make_refcases.py [--charts DIR] [--out DIR] [--only SUBSTR]... [--jobs 2]
  --charts  the Cilium charts, cilium-<version>.tgz (default: <repo>/tests/data/charts)
  --out     output dir (default: <repo>/tests/data/refcases, committed: cargo test reads it)
Regenerate everything (after adding a chart version to VERSIONS and tests/data/charts):
  python3 -m venv target/venv && target/venv/bin/pip install helm-python-sdk pyyaml cryptography
  rm -rf tests/data/refcases && target/venv/bin/python tests/refcases/make_refcases.py
Needs: pip install helm-python-sdk pyyaml cryptography
"""
import argparse, base64, copy, datetime, json, os, sys, time
from concurrent.futures import ProcessPoolExecutor

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSIONS = ["1.16.19", "1.17.6", "1.18.12", "1.19.6", "1.20.0"]

# ---------------------------------------------------------------------------------------------
# Shared values (reverse-engineered from shared/fixtures/cilium/*-1.17.6/base.yaml; they
# reproduce those fixtures exactly per mesh_equiv.py).
# The lab's flags (seed/*.txt), minus the per-cluster ones; k8sServiceHost is west's, shared.
SEED = {
    "ipam": {"mode": "kubernetes"},
    "kubeProxyReplacement": True,
    "bpf": {"masquerade": True},
    "endpointHealthChecking": {"enabled": False},
    "healthChecking": False,
    "operator": {"replicas": 1},
    "debug": {"enabled": True},
    "routingMode": "native",
    "autoDirectNodeRoutes": True,
    "k8sServiceHost": "172.18.0.4",
    "k8sServicePort": 6443,
}
# + Hubble relay/UI and the clustermesh-apiserver (NodePort, certs by Helm, no KVStoreMesh).
HUBBLE_CM = {
    "hubble": {"relay": {"enabled": True}, "ui": {"enabled": True, "service": {"type": "NodePort"}}},
    "clustermesh": {
        "useAPIServer": True,
        "apiserver": {"service": {"type": "NodePort"}, "kvstoremesh": {"enabled": False}},
    },
}

WEST = dict(name="west", id=1, context="kind-west", podCIDR="10.0.0.0/16", serviceCIDR="10.2.0.0/16")
EAST = dict(name="east", id=2, context="kind-east", podCIDR="10.1.0.0/16", serviceCIDR="10.3.0.0/16")


def merge(a, b):
    """Deep merge b into a copy of a (like helm -f a -f b)."""
    a = copy.deepcopy(a)
    for k, v in b.items():
        a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else copy.deepcopy(v)
    return a


def cluster_values(mesh, c, base_values):
    """The chart values that one cluster adds to the shared ones (what kubectl-mesh injects)."""
    v = {"cluster": {"name": c["name"], "id": c["id"]}}
    if mesh.get("routingMode", "native") == "native":
        v["ipv4NativeRoutingCIDR"] = c.get("nativeRoutingCIDR", c["podCIDR"])
        user = ((base_values.get("ipMasqAgent") or {}).get("config") or {}).get("nonMasqueradeCIDRs") or []
        others = [o["podCIDR"] for o in mesh["clusters"] if o["name"] != c["name"]]
        v["ipMasqAgent"] = {"enabled": True, "config": {"nonMasqueradeCIDRs": list(user) + others}}
    cm = {}
    if "maxConnectedClusters" in mesh:
        cm["maxConnectedClusters"] = mesh["maxConnectedClusters"]
    peers = []
    for o in mesh["clusters"]:
        if o["name"] == c["name"] or "clustermesh" not in o:
            continue
        p = {"name": o["name"], "port": o["clustermesh"]["port"]}
        if "ips" in o["clustermesh"]:
            p["ips"] = list(o["clustermesh"]["ips"])
        else:
            p["address"] = o["clustermesh"]["address"]
        peers.append(p)
    if peers:
        cm["config"] = {"enabled": True, "clusters": peers}
    if "apiserverNodePort" in c:
        cm.setdefault("apiserver", {})["service"] = {"type": "NodePort", "nodePort": c["apiserverNodePort"]}
    if cm:
        v["clustermesh"] = cm
    return v


def mesh_file(clusters, routing="native", max_cc=None, ca=False, bundle=False):
    m = {"apiVersion": "kubectl-mesh/v1alpha1", "kind": "Mesh", "routingMode": routing}
    if max_cc is not None:
        m["maxConnectedClusters"] = max_cc
    if ca:
        m["ca"] = {"cert": "ca.crt", "key": "ca.key"}
    if bundle:
        m["trust"] = "bundle"
    m["clusters"] = [copy.deepcopy(c) for c in clusters]
    if bundle:
        for c in m["clusters"]:
            c["ca"] = {"cert": "ca-%s.crt" % c["name"], "key": "ca-%s.key" % c["name"]}
    return m


def with_peer(c, port, ips=None, address=None):
    c = dict(c)
    c["clustermesh"] = {"port": port, **({"ips": ips} if ips else {"address": address})}
    return c


# ---------------------------------------------------------------------------------------------
# Chart options that make templates derive values from the mesh-owned ones (the audit in
# tests/refcases/AUDIT.md): each is rendered for two clusters and for three, with peers.
OPTION_SETS = {
    # clustermesh-apiserver users per cluster: remote-<name> certificate CN, users ConfigMap
    "authmode-cluster": (None, {"clustermesh": {"apiserver": {"tls": {"authMode": "cluster"}}}}),
    "authmode-migration-kvstoremesh": (None, {"clustermesh": {"apiserver": {
        "tls": {"authMode": "migration"}, "kvstoremesh": {"enabled": True}}}}),
    # Hubble metrics over TLS (<name>.hubble-metrics.cilium.io) and its ServiceMonitor serverName
    "hubble-metrics-tls": (None, {"hubble": {"metrics": {
        "enabled": ["dns", "drop", "tcp"], "tls": {"enabled": True},
        "serviceMonitor": {"enabled": True}}}}),
    # cert-manager issues every certificate: render edits the Certificate objects' names
    "certmanager": (None, {
        "hubble": {"tls": {"auto": {"method": "certmanager",
                                    "certManagerIssuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "ca-issuer"}}},
                   "metrics": {"enabled": ["dns"], "tls": {"enabled": True}}},
        "clustermesh": {"apiserver": {"tls": {"authMode": "cluster", "auto": {"method": "certmanager",
                        "certManagerIssuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "ca-issuer"}}}}}}),
    # certgen CronJob/Job with every certificate it makes (users per cluster)
    "cronjob-authmode-cluster": (None, {
        "hubble": {"tls": {"auto": {"method": "cronJob"}}, "metrics": {"enabled": ["dns"], "tls": {"enabled": True}}},
        "clustermesh": {"apiserver": {"tls": {"authMode": "cluster",
                                              "auto": {"method": "cronJob", "schedule": "0 0 1 */4 *"}}}}}),
    # SPIRE (mutual authentication): the cluster name in the server's and agent's configs
    "spire": (None, {"authentication": {"enabled": True, "mutual": {"spire": {"enabled": True, "install": {"enabled": True}}}}}),
    # the operator dials the peers too (endpoint slice sync, MCS API): host aliases on it
    "endpointslice-sync": (None, {"clustermesh": {"enableEndpointSliceSynchronization": True}}),
    "mcsapi": (("1.19.6", "1.20.0"), {"clustermesh": {"mcsapi": {"enabled": True}}}),
}
# option sets also rendered with one CA for the mesh (tls.ca.cert/key)
OPTION_SETS_WITH_CA = ("authmode-cluster",)
# certificates the user provides (signed by the mesh CA, as the user's PKI would): the chart
# copies tls.ca.cert into their ca.crt. PROVIDED stands for a certificate and key made per scenario.
PROVIDED = "PROVIDED"
HUBBLE_PROVIDED = {"hubble": {
    "tls": {"auto": {"enabled": False}, "server": PROVIDED},
    "relay": {"tls": {"client": PROVIDED, "server": dict(enabled=True, **{"cert": PROVIDED})}},
    "ui": {"tls": {"client": PROVIDED}}}}


def provide(values, crt, key):
    """values with every PROVIDED cert/key pair replaced by a leaf signed by the scenario's CA."""
    if isinstance(values, dict):
        out = {}
        for k, v in values.items():
            if v == PROVIDED and k != "cert":
                out[k] = {"cert": crt, "key": key}
            elif v == PROVIDED:
                out["cert"], out["key"] = crt, key
            else:
                out[k] = provide(v, crt, key)
        return out
    return values


def make_leaf(ca_crt, ca_key, cn):
    """A certificate the user's PKI issued (base64 PEM cert, key), signed by the given CA."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    ca = x509.load_pem_x509_certificate(ca_crt)
    ca_k = serialization.load_pem_private_key(ca_key, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_k, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    kpem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(pem).decode(), base64.b64encode(kpem).decode()


def scenarios(versions):
    """(name, version, base_values, mesh) for every scenario."""
    out = []
    west_p = with_peer(WEST, 32379, ips=["172.18.0.2", "172.18.0.3"])
    east_p = with_peer(EAST, 32380, ips=["172.18.0.4", "172.18.0.5"])
    south = dict(name="south", id=3, context="kind-south", podCIDR="10.4.0.0/16", serviceCIDR="10.5.0.0/16")
    north = dict(name="north", id=511, context="kind-north", podCIDR="10.6.0.0/16", serviceCIDR="10.7.0.0/16",
                 nativeRoutingCIDR="10.6.0.0/15")
    kvs = merge(HUBBLE_CM, {"clustermesh": {"apiserver": {"kvstoremesh": {"enabled": True}}}})
    cron = merge(HUBBLE_CM, {"hubble": {"tls": {"auto": {"method": "cronJob"}}},
                             "clustermesh": {"apiserver": {"tls": {"auto": {"method": "cronJob", "schedule": "0 0 1 */4 *"}}}}})
    for ver in versions:
        two = [WEST, EAST]
        out.append(("seed", ver, merge(SEED, {}), mesh_file(two)))
        out.append(("hubble-clustermesh", ver, merge(SEED, HUBBLE_CM), mesh_file(two)))
        if ver in ("1.16.19", "1.17.6", "1.20.0"):
            out.append(("shared-ca", ver, merge(SEED, HUBBLE_CM), mesh_file(two, ca=True)))
        if ver in ("1.17.6", "1.20.0"):
            out.append(("cronjob-certgen", ver, merge(SEED, cron), mesh_file(two)))
            out.append(("cronjob-certgen-shared-ca", ver, merge(SEED, cron), mesh_file(two, ca=True)))
        out.append(("kvstoremesh", ver, merge(SEED, kvs), mesh_file(two)))
        out.append(("kvstoremesh-connect", ver, merge(SEED, kvs), mesh_file([west_p, east_p])))
        out.append(("three-511", ver, merge(SEED, HUBBLE_CM),
                    mesh_file([with_peer(WEST, 32379, ips=["172.18.0.2"]),
                               with_peer(south, 32381, ips=["172.18.0.6"]),
                               with_peer(north, 32382, ips=["172.18.0.8"])], max_cc=511)))
        out.append(("user-nonmasq", ver,
                    merge(SEED, {"ipMasqAgent": {"enabled": True, "config": {"nonMasqueradeCIDRs": ["192.168.0.0/16"]}}}),
                    mesh_file(two)))
        tun = merge(SEED, {"routingMode": "tunnel", "tunnelProtocol": "vxlan", "autoDirectNodeRoutes": False})
        out.append(("tunnel", ver, merge(tun, HUBBLE_CM), mesh_file(two, routing="tunnel")))
        out.append(("connect", ver, merge(SEED, HUBBLE_CM), mesh_file([west_p, east_p])))
        out.append(("connect-address", ver, merge(SEED, HUBBLE_CM),
                    mesh_file([with_peer(WEST, 32379, ips=["172.18.0.2"]),
                               with_peer(EAST, 32380, address="east.mesh.example.org"),
                               with_peer(south, 32381, ips=["172.18.0.6", "172.18.0.7"])])))
        out.append(("connect-kvstoremesh-address", ver, merge(SEED, kvs),
                    mesh_file([with_peer(WEST, 32379, ips=["172.18.0.2"]),
                               with_peer(EAST, 32380, address="east.mesh.example.org"),
                               with_peer(south, 32381, ips=["172.18.0.6", "172.18.0.7"])])))
        for opt, (only, extra) in OPTION_SETS.items():
            if only and ver not in only:
                continue
            vals = merge(merge(SEED, HUBBLE_CM), extra)
            out.append(("%s-2" % opt, ver, vals, mesh_file([west_p, east_p])))
            if opt in OPTION_SETS_WITH_CA:
                out.append(("%s-shared-ca-2" % opt, ver, vals, mesh_file([west_p, east_p], ca=True)))
            out.append(("%s-3" % opt, ver, vals,
                        mesh_file([with_peer(WEST, 32379, ips=["172.18.0.2"]),
                                   with_peer(EAST, 32380, address="east.mesh.example.org"),
                                   with_peer(south, 32381, ips=["172.18.0.6", "172.18.0.7"])], max_cc=511)))
        out.append(("hubble-provided-shared-ca-2", ver, merge(merge(SEED, HUBBLE_CM), HUBBLE_PROVIDED),
                    mesh_file([west_p, east_p], ca=True)))
        # A mesh of several CAs: each cluster keeps its own CA (tls.ca), and the chart's CA
        # bundle (tls.caBundle, enabled in the shared values) carries every cluster's CA. With
        # KVStoreMesh only from 1.18: before, KVStoreMesh does not read the bundle (render refuses).
        bundle_vals = merge(merge(SEED, HUBBLE_CM), {"tls": {"caBundle": {"enabled": True}}})
        out.append(("several-cas-2", ver, bundle_vals, mesh_file([west_p, east_p], bundle=True)))
        if ver not in ("1.16.19", "1.17.6"):
            out.append(("several-cas-kvstoremesh-2", ver,
                        merge(bundle_vals, {"clustermesh": {"apiserver": {"kvstoremesh": {"enabled": True}}}}),
                        mesh_file([west_p, east_p], bundle=True)))
        np = [dict(WEST, apiserverNodePort=32379), dict(EAST, apiserverNodePort=32380)]
        out.append(("apiserver-nodeport", ver, merge(SEED, HUBBLE_CM), mesh_file(np)))
        out.append(("apiserver-nodeport-connect", ver, merge(SEED, HUBBLE_CM),
                    mesh_file([with_peer(dict(WEST, apiserverNodePort=31001), 31001, ips=["172.18.0.2"]),
                               with_peer(dict(EAST, apiserverNodePort=31002), 31002, ips=["172.18.0.4"])])))
    return out


# ---------------------------------------------------------------------------------------------
def make_ca(seed_text):
    """A deterministic ECDSA P-256 CA key (derived from seed_text), CN "Cilium CA", fixed validity.
    (ECDSA signatures are randomized, so ca.crt bytes differ per run; key and fields do not.)"""
    import hashlib
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    secret = int.from_bytes(hashlib.sha256(seed_text.encode()).digest(), "big") % (2**255) + 1
    key = ec.derive_private_key(secret, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cilium CA")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(int.from_bytes(hashlib.sha256(b"serial" + seed_text.encode()).digest()[:16], "big") >> 1)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650 * 2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    crt = cert.public_bytes(serialization.Encoding.PEM)
    kpem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    return crt, kpem


# ---------------------------------------------------------------------------------------------
_CHARTS = {}


def render(chart_path, values, name="cilium", namespace="kube-system"):
    """Same as shared/tools/helm_render.py (helm install --dry-run=client, Helm v4 engine)."""
    import helm_python as h
    from helm_python import _native
    from helm_python.config import _opts
    if chart_path not in _CHARTS:
        _CHARTS[chart_path] = h.Chart.load_archive(open(chart_path, "rb").read())
    chart = _CHARTS[chart_path]
    cfg = h.Config(kube_apiserver="http://127.0.0.1:1", namespace=namespace, storage_driver="memory")
    handle, ref = cfg._chart_args(chart)
    payload = _native.call_string("helm_install", cfg._raw(), cfg._context_arg(None), handle, ref,
                                  name, json.dumps(values), _opts(namespace=namespace, dry_run="client"))
    return json.loads(payload).get("manifest", "")


def job(args):
    path, chart, values = args
    t = time.time()
    try:
        text = render(chart, values)
    except Exception as e:  # noqa
        return path, None, "%s: %s" % (type(e).__name__, e), time.time() - t
    with open(path, "w") as f:
        f.write(text)
    return path, True, None, time.time() - t


def dump(path, obj):
    with open(path, "w") as f:
        yaml.safe_dump(obj, f, sort_keys=False, default_flow_style=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--charts", default=os.path.join(REPO, "tests", "data", "charts"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "refcases"))
    ap.add_argument("--only", action="append", default=[], help="only scenarios whose dir name contains this")
    ap.add_argument("--versions", default=",".join(VERSIONS))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()
    jobs = []
    for kind, ver, base_values, mesh in scenarios(a.versions.split(",")):
        sc = "%s-%s" % (kind, ver)
        if a.only and not any(s in sc for s in a.only):
            continue
        d = os.path.join(a.out, sc)
        os.makedirs(os.path.join(d, "values"), exist_ok=True)
        chart = os.path.join(a.charts, "cilium-%s.tgz" % ver)
        dump(os.path.join(d, "mesh.yaml"), mesh)
        dump(os.path.join(d, "values.yaml"), base_values)
        jobs.append((os.path.join(d, "base.yaml"), chart, base_values))
        ca_vals = {}
        if "ca" in mesh:
            crt, key = make_ca("kubectl-mesh refcase " + sc)
            open(os.path.join(d, "ca.crt"), "wb").write(crt)
            open(os.path.join(d, "ca.key"), "wb").write(key)
            ca_vals = {"tls": {"ca": {"cert": base64.b64encode(crt).decode(), "key": base64.b64encode(key).decode()}}}
            leaf = make_leaf(crt, key, "hubble-provided.example.org")
            base_values = provide(base_values, *leaf)
            dump(os.path.join(d, "values.yaml"), base_values)
            jobs[-1] = (os.path.join(d, "base.yaml"), chart, base_values)
        bundle_cas = {}
        if mesh.get("trust") == "bundle":
            for c in mesh["clusters"]:
                crt, key = make_ca("kubectl-mesh refcase %s %s" % (sc, c["name"]))
                open(os.path.join(d, c["ca"]["cert"]), "wb").write(crt)
                open(os.path.join(d, c["ca"]["key"]), "wb").write(key)
                bundle_cas[c["name"]] = (crt, key)
            content = "".join(crt.decode().strip() + "\n" for crt, _ in bundle_cas.values())
        for c in mesh["clusters"]:
            cv = merge(cluster_values(mesh, c, base_values), ca_vals)
            if c["name"] in bundle_cas:
                crt, key = bundle_cas[c["name"]]
                cv = merge(cv, {"tls": {"ca": {"cert": base64.b64encode(crt).decode(), "key": base64.b64encode(key).decode()},
                                        "caBundle": {"enabled": True, "content": content}}})
            dump(os.path.join(d, "values", "%s.yaml" % c["name"]), cv)
            jobs.append((os.path.join(d, "expected-%s.yaml" % c["name"]), chart, merge(base_values, cv)))
    failed = 0
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        for path, ok, err, dt in pool.map(job, jobs):
            if not ok:
                failed += 1
                print("FAILED %s: %s" % (os.path.relpath(path, a.out), err), file=sys.stderr)
    print("%d renders (%d failed) into %s in %.1f s" % (len(jobs), failed, a.out, time.time() - t0))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
