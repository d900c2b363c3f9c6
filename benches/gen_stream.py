#!/usr/bin/env python3
"""Chart streams for benches/render.sh (generated on demand, never committed).

  gen_stream.py umbrella BYTES   an umbrella chart's stream: the shipped Cilium rendering (as the
                                 umbrella's subchart) followed by other subcharts' small
                                 Deployments, Services and ConfigMaps (flow mappings, block
                                 literals, comments) until the stream is BYTES long
  gen_stream.py tiny COUNT       the Cilium rendering followed by COUNT tiny ConfigMaps

Reads examples/cilium.yaml (run from the repository root); writes the stream to stdout.
"""

import sys


def cilium():
    with open("examples/cilium.yaml", encoding="utf-8") as f:
        text = f.read()
    return text.replace("# Source: cilium/", "# Source: umbrella/charts/cilium/")


DEPLOYMENT = """---
# Source: umbrella/charts/app{c}/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{c}-{i}
  namespace: team-{c}
  labels: {{app.kubernetes.io/name: app{c}, app.kubernetes.io/instance: r{i}, helm.sh/chart: app{c}-1.2.{i}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: app{c}, app.kubernetes.io/instance: r{i}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: app{c}, app.kubernetes.io/instance: r{i}}}
      annotations: {{checksum/config: 5f2b{i:08x}c0ffee}}
    spec:
      containers:
      - name: app
        image: "registry.example/app{c}:1.2.{i}"
        args: ["--port=8080", "--log-level=info"]
        ports: [{{containerPort: 8080, name: http}}]
        resources: {{limits: {{cpu: 500m, memory: 256Mi}}, requests: {{cpu: 50m, memory: 64Mi}}}}
"""

SERVICE = """---
# Source: umbrella/charts/app{c}/templates/service.yaml
apiVersion: v1
kind: Service
metadata: {{name: app{c}-{i}, namespace: team-{c}, labels: {{app.kubernetes.io/name: app{c}}}}}
spec:
  type: ClusterIP
  ports: [{{port: 80, targetPort: http, protocol: TCP, name: http}}]
  selector: {{app.kubernetes.io/name: app{c}, app.kubernetes.io/instance: r{i}}}
"""

CONFIGMAP = """---
# Source: umbrella/charts/app{c}/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app{c}-{i}-config
  namespace: team-{c}
data:
  # rendered from values.yaml
  settings.yaml: |
    listen: ":8080"
    upstreams: [a{i}, b{i}]
    retries: 3
  feature-flags: 'on'
"""

TINY = """---
# Source: t/templates/c.yaml
apiVersion: v1
kind: ConfigMap
metadata: {{name: c{i}, namespace: a}}
data: {{k: v}}
"""


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("umbrella", "tiny"):
        sys.exit(__doc__)
    out = sys.stdout
    head = cilium()
    out.write(head)
    n = int(sys.argv[2])
    if sys.argv[1] == "tiny":
        out.writelines(TINY.format(i=i) for i in range(n))
        return
    size = len(head.encode())
    i = 0
    templates = (DEPLOYMENT, SERVICE, CONFIGMAP)
    while size < n:
        doc = templates[i % 3].format(c=i % 97, i=i)
        out.write(doc)
        size += len(doc.encode())
        i += 1


if __name__ == "__main__":
    main()
