#!/usr/bin/env python3
"""Many `helm install --dry-run=client` renders in one process (the real Helm v4 engine, PyPI
helm-python-sdk, offline): loading the library and each chart once is most of a render's time.
Used by tests/values.rs.

usage: helm_batch.py < jobs.json
  jobs.json: [{"chart": "cilium-1.17.6.tgz", "values": ["a.yaml", "b.yaml"], "out": "x.yaml"}, ...]
  Values files are merged as `helm -f a.yaml -f b.yaml` merges them (mappings key by key, later
  files win, null deletes). Each manifest goes to its "out" file; a job Helm refuses writes its
  error to "out" + ".err" instead. Exit 0 when every job ran (refused or not), 1 on bad input.
"""
import json, sys

import yaml
import helm_python as h
from helm_python import _native
from helm_python.config import _opts


def merged(into, values):
    for k, v in values.items():
        if v is None:
            into.pop(k, None)
        elif isinstance(v, dict) and isinstance(into.get(k), dict):
            merged(into[k], v)
        else:
            into[k] = v
    return into


def main():
    jobs = json.load(sys.stdin)
    charts = {}
    for job in jobs:
        values = {}
        for f in job["values"]:
            with open(f) as fh:
                merged(values, yaml.safe_load(fh) or {})
        path = job["chart"]
        if path not in charts:
            with open(path, "rb") as fh:
                charts[path] = h.Chart.load_archive(fh.read())
        cfg = h.Config(kube_apiserver="http://127.0.0.1:1", namespace="kube-system", storage_driver="memory")
        handle, ref = cfg._chart_args(charts[path])
        try:
            payload = _native.call_string("helm_install", cfg._raw(), cfg._context_arg(None), handle, ref,
                                          "cilium", json.dumps(values),
                                          _opts(namespace="kube-system", dry_run="client"))
            with open(job["out"], "w") as fh:
                fh.write(json.loads(payload).get("manifest", ""))
        except h.HelmError as e:
            with open(job["out"] + ".err", "w") as fh:
                fh.write("helm: %s" % e)


if __name__ == "__main__":
    main()
