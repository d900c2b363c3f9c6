#!/usr/bin/env python3
"""`helm install --dry-run=client` with the real Helm v4 engine (PyPI: helm-python-sdk), offline,
optionally through a Helm 4 post-renderer plugin; prints the release manifest. Used by
tests/plugins.rs to drive `plugins/mesh` the way `helm … --post-renderer mesh` does.

usage: helm_install.py CHART.tgz [-f VALUES.yaml]... [--post-renderer PLUGIN [--post-renderer-arg=ARG]...]
  Plugins are looked up in $HELM_PLUGINS (set it before starting: Helm reads it when it loads).
  Helm's error goes to stderr, exit 1.
"""
import argparse, json, sys

import yaml
import helm_python as h
from helm_python import _native
from helm_python.config import _opts


def merged(into, values):
    """`-f a -f b`: later files win, mappings merge key by key."""
    for k, v in values.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merged(into[k], v)
        else:
            into[k] = v
    return into


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chart")
    ap.add_argument("-f", "--values", action="append", default=[])
    ap.add_argument("--post-renderer")
    ap.add_argument("--post-renderer-arg", action="append", default=[])
    a = ap.parse_args()
    values = {}
    for path in a.values:
        with open(path) as f:
            merged(values, yaml.safe_load(f) or {})
    with open(a.chart, "rb") as f:
        chart = h.Chart.load_archive(f.read())
    namespace = "kube-system"
    cfg = h.Config(kube_apiserver="http://127.0.0.1:1", namespace=namespace, storage_driver="memory")
    handle, ref = cfg._chart_args(chart)
    opts = {"namespace": namespace, "dry_run": "client"}
    if a.post_renderer:
        opts.update(post_renderer=a.post_renderer, post_renderer_args=a.post_renderer_arg)
    try:
        payload = _native.call_string("helm_install", cfg._raw(), cfg._context_arg(None), handle, ref,
                                      "cilium", json.dumps(values), _opts(**opts))
    except h.HelmError as e:
        print("helm: %s" % e, file=sys.stderr)
        sys.exit(1)
    sys.stdout.write(json.loads(payload).get("manifest", ""))


if __name__ == "__main__":
    main()
