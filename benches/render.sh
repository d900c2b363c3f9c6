#!/usr/bin/env bash
# Benchmark (run on demand, not a test): `kubectl-mesh render` against `kubectl kustomize`
# applying the same identity/routing/ip-masq-agent changes through patches, on
#   1. the shipped example stream (the seed lab's chart, with certificates to re-issue), and
#   2. a ~10 MB umbrella stream (the Cilium chart plus many other charts' documents).
# Prints wall times (median of N runs), throughput, the ratio to kustomize and peak RSS.
# usage: benches/render.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
cargo build --release --quiet
bin=target/release/kubectl-mesh
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# 10 MB stream: the example plus copies of its documents moved to other namespaces (other charts).
cp examples/cilium.yaml "$work/seed.yaml"
cp examples/cilium.yaml "$work/big.yaml"
i=0; while [ "$(wc -c <"$work/big.yaml")" -lt 10000000 ]; do
  sed -e "s/namespace: kube-system/namespace: other-$i/" -e "s/^  name: \([a-z0-9.-]*\)\$/  name: \1-$i/" examples/cilium.yaml >>"$work/big.yaml"
  i=$((i+1)); done

# The same changes as kustomize patches (no certificates: kustomize cannot issue them).
kustomization() { # $1 = stream file
  mkdir -p "$work/k-$2"; cp "$1" "$work/k-$2/stream.yaml"
  cat >"$work/k-$2/kustomization.yaml" <<'K'
resources: [stream.yaml, ip-masq-agent.yaml]
patches:
- target: {kind: ConfigMap, name: cilium-config, namespace: kube-system}
  patch: |-
    - {op: replace, path: /data/cluster-name, value: west}
    - {op: replace, path: /data/cluster-id, value: "1"}
    - {op: add, path: /data/ipv4-native-routing-cidr, value: 10.0.0.0/16}
    - {op: add, path: /data/enable-ip-masq-agent, value: "true"}
- target: {kind: ConfigMap, name: hubble-relay-config, namespace: kube-system}
  patch: |-
    - {op: replace, path: /data/config.yaml, value: "cluster-name: west\n"}
- target: {kind: DaemonSet, name: cilium, namespace: kube-system}
  patch: |-
    - {op: add, path: /spec/template/spec/volumes/-, value: {name: ip-masq-agent, configMap: {name: ip-masq-agent, optional: true, items: [{key: config, path: ip-masq-agent}]}}}
    - {op: add, path: /spec/template/spec/containers/0/volumeMounts/-, value: {name: ip-masq-agent, mountPath: /etc/config, readOnly: true}}
K
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ip-masq-agent, namespace: kube-system}\ndata:\n  config: %s\n' "'{\"nonMasqueradeCIDRs\":[\"10.1.0.0/16\"]}'" >"$work/k-$2/ip-masq-agent.yaml"
}
kustomization "$work/seed.yaml" seed
kustomization "$work/big.yaml" big

median_ms() { # command... ; runs it $runs times, prints the median wall time in ms
  local t=() s e
  for _ in $(seq "$runs"); do s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); t+=($(( (e - s) / 1000 ))); done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
render() { "$bin" render --mesh examples/mesh.yaml --cluster west <"$1"; }
rss_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

for s in seed big; do
  f="$work/$s.yaml"; bytes=$(wc -c <"$f")
  ours=$(median_ms render "$f")
  theirs=$(median_ms kubectl kustomize "$work/k-$s")
  rss=$(/usr/bin/time -f %M "$bin" render --mesh examples/mesh.yaml --cluster west <"$f" 2>&1 >/dev/null | tail -1)
  mbps=$(awk -v b="$bytes" -v ms="$ours" 'BEGIN {printf "%.0f", b / 1e6 / (ms / 1000)}')
  ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN {printf "%.1f", a / b}')
  rss_ratio=$(awk -v r="$rss" -v b="$bytes" 'BEGIN {printf "%.2f", r * 1024 / b}')
  printf '%-5s %9d bytes  kubectl-mesh %8.1f ms (%s MB/s, peak RSS %d KiB = %sx input)  kustomize %8.1f ms  -> %sx faster\n' \
    "$s" "$bytes" "$ours" "$mbps" "$rss" "$rss_ratio" "$theirs" "$ratio"
done
