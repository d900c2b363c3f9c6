#!/usr/bin/env bash
# Benchmark (run on demand, not a test): `kubectl-mesh render` against `kubectl kustomize`
# applying the same identity/routing/ip-masq-agent changes through patches (issue 16, goals 1-2):
#   seed      the shipped example stream (examples/cilium.yaml, certificates to re-issue)
#   umbrella  ~10 MB: the Cilium rendering as an umbrella's subchart, then ~20,000 small
#             Deployments/Services/ConfigMaps of other subcharts (benches/gen_stream.py)
#   tiny-100k, tiny-1M  the Cilium rendering then 100,000 / 1,000,000 tiny ConfigMaps: time
#             and memory must grow in proportion to the size
# For each: median wall time and CPU time (user+sys) over RUNS runs (10 x RUNS for the seed),
# MB/s, peak RSS and its ratio to the input, and kustomize's time on the seed and the umbrella
# in the same run.
# Streams are generated into a temporary folder (never committed).
#
# usage: benches/render.sh [RUNS]          (default 15; the big streams run fewer times)
#        BIN=target/fast/kubectl-mesh benches/render.sh   compare a build without LTO
#        PEER=0 benches/render.sh          skip kustomize (it needs kubectl)
#        STREAMS="seed umbrella" benches/render.sh   only these streams (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/kubectl-mesh
fi
PEER=${PEER:-1}
if [ "$PEER" = 1 ] && ! command -v kubectl >/dev/null; then
  echo "render.sh: kubectl is needed for the peer (install kubectl, or PEER=0 to skip it)" >&2
  exit 2
fi
[ -x /usr/bin/time ] || { echo "render.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cp examples/cilium.yaml "$work/seed.yaml"
python3 benches/gen_stream.py umbrella 10000000 >"$work/umbrella.yaml"
python3 benches/gen_stream.py tiny 100000 >"$work/tiny-100k.yaml"
python3 benches/gen_stream.py tiny 1000000 >"$work/tiny-1M.yaml"

# The same changes as kustomize patches (no certificates: kustomize cannot issue them).
kustomization() { # $1 = stream file, $2 = name
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

# measure N INPUT command... : runs it N times with INPUT on stdin; prints "wall_ms cpu_ms rss_kib"
# (medians)
measure() {
  local n=$1 input=$2; shift 2
  for _ in $(seq "$n"); do
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@" <"$input" >/dev/null || true
    tail -1 "$work/t" | awk '{printf "%.1f %.1f %d\n", $1 * 1000, ($2 + $3) * 1000, $4}'
  done >"$work/runs"
  local med='{a[NR]=$0} END {print a[int((NR+1)/2)]}'
  printf '%s %s %s\n' "$(cut -d' ' -f1 "$work/runs" | sort -n | awk "$med")" \
    "$(cut -d' ' -f2 "$work/runs" | sort -n | awk "$med")" \
    "$(cut -d' ' -f3 "$work/runs" | sort -n | awk "$med")"
}
render() { "$BIN" render --mesh examples/mesh.yaml --cluster west <"$1"; }

# /usr/bin/time's resolution is 10 ms: the seed (ours and kustomize's) is timed per run by
# benches/runs.py instead (wall from fork to exit, CPU from the process's rusage, in µs).
seed_runs=$(( runs * 10 ))

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); binary $BIN"
printf '%-10s %10s %10s %10s %8s %10s %7s %11s %8s\n' stream bytes wall_ms cpu_ms MB/s rss_KiB rss/in kustomize_ms ratio
for s in ${STREAMS:-seed umbrella tiny-100k tiny-1M}; do
  f="$work/$s.yaml"; bytes=$(wc -c <"$f")
  case $s in seed) n=$runs ;; umbrella) n=$(( runs < 7 ? runs : 7 )) ;; *) n=3 ;; esac
  read -r wall cpu rss < <(measure "$n" "$f" "$BIN" render --mesh examples/mesh.yaml --cluster west)
  if [ "$s" = seed ]; then
    read -r wall cpu < <(python3 benches/runs.py "$seed_runs" "$f" "$BIN" render --mesh examples/mesh.yaml --cluster west)
  fi
  theirs=-; ratio=-
  # kustomize matches every patch against every resource: minutes on the umbrella (one run,
  # cut at 15 minutes), impractical on the tiny streams.
  if [ "$PEER" = 1 ] && { [ "$s" = seed ] || [ "$s" = umbrella ]; }; then
    kustomization "$f" "$s"
    if [ "$s" = seed ]; then read -r theirs _ < <(python3 benches/runs.py "$seed_runs" /dev/null kubectl kustomize "$work/k-$s")
    else read -r theirs _ _ < <(measure 1 /dev/null timeout 900 kubectl kustomize "$work/k-$s"); fi
    ratio=$(awk -v a="$theirs" -v b="$wall" 'BEGIN {printf "%.1fx", a / b}')
  fi
  mbps=$(awk -v b="$bytes" -v ms="$wall" 'BEGIN {printf "%.0f", b / 1e3 / ms}')
  rss_ratio=$(awk -v r="$rss" -v b="$bytes" 'BEGIN {printf "%.2f", r * 1024 / b}')
  printf '%-10s %10d %10s %10s %8s %10d %7s %11s %8s\n' "$s" "$bytes" "$wall" "$cpu" "$mbps" "$rss" "$rss_ratio" "$theirs" "$ratio"
done
echo "(MB/s from wall time; cpu_ms = user+sys; rss/in = peak RSS / input bytes; ratio = kustomize / kubectl-mesh wall time)"
