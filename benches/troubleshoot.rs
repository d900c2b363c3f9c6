//! `kubectl mesh troubleshoot` over 2, 4, 8 and 16 clusters (2 to 240 ordered pairs), each
//! cluster an in-memory API server with a real etcd (Debian's `etcd-server`) as its
//! clustermesh-apiserver on 127.0.0.1, mutual TLS with certificates the bench issues (one client
//! certificate per cluster, as the chart issues them): the lab of `tests/troubleshoot.rs`.
//! Not a test: run on demand with `cargo bench --bench troubleshoot` (`--profile fast` while
//! iterating). Two rows per size: `--from workstation` (the probes and etcd reads) and
//! `--from both` (plus one exec per cluster into a scripted agent: `cilium-dbg troubleshoot
//! clustermesh <peers…>` and `cilium-dbg status -o json`). The ratio is to 2 clusters in the
//! same run; issue 16's goal is ≤ 4 for 16 clusters.
//!
//! TROUBLESHOOT_BENCH_RUNS (default 5) sets the runs per row, TROUBLESHOOT_BENCH_SIZES
//! (default `2,4,8,16`) the sizes, TROUBLESHOOT_BENCH_VERBOSE=1 shows the command's stderr.
//! For profiling, TROUBLESHOOT_BENCH_HOLD=PATH writes, once each lab is up, a script at PATH that
//! runs the binary in that lab (`sh PATH --from workstation -o json`; `WRAP='perf record -g'`
//! in its environment puts a profiler in front) and waits until PATH is deleted.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::meshlab::{EtcdLab, loopback_specs};
use mesh_test_apiserver::exec::ExecScript;

/// One section of `cilium-dbg troubleshoot clustermesh` for a healthy peer, as
/// `TroubleshootClusterMesh` and `EtcdDbg` print it (cilium-dbg/cmd/troubleshoot_clustermesh.go,
/// pkg/kvstore/etcd_debug.go; the same lines as tests/agents_view.rs).
fn section(peer: &str, port: u16) -> String {
    let host = format!("{peer}.mesh.cilium.io");
    let cert = |subject: &str| {
        format!(
            "      - Serial number:       6e:1f:a0\n        Subject:             {subject}\n        Issuer:              CN=Cilium CA\n        Validity:\n          Not before:  2026-01-01 00:00:00 +0000 UTC\n          Not after:   2029-01-01 00:00:00 +0000 UTC\n"
        )
    };
    format!(
        "\nCluster \"{peer}\":\n📄 Configuration path: /var/lib/cilium/clustermesh/{peer}\n\n🔌 Endpoints:\n   - https://{host}:{port}\n     ✅ Hostname resolved to: 127.0.0.1\n     ✅ TCP connection successfully established to 127.0.0.1:{port}\n     ✅ TLS connection successfully established to 127.0.0.1:{port}\n     ℹ️  Negotiated TLS version: TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256\n     ℹ️  Etcd server version: 3.5.17\n\n🔑 Digital certificates:\n   ✅ TLS Root CA certificates:\n{}   ✅ TLS client certificates:\n{}\n⚙️ Etcd client:\n   ✅ Etcd connection successfully established\n   ℹ️  Etcd cluster ID: 8e9e05c52164694d\n",
        cert("CN=Cilium CA"),
        cert("CN=remote"),
    )
}

/// Scripts every cluster's agents: `cilium-dbg status -o json` reporting every peer ready, and
/// the troubleshoot report (in the first agent, the one `troubleshoot` picks) for its peers in
/// the mesh file's order.
fn script_agents(lab: &EtcdLab) {
    lab.lab.script_agents_healthy();
    let specs = &lab.lab.specs;
    for s in specs {
        let peers: Vec<&str> = specs
            .iter()
            .filter(|p| p.name != s.name)
            .map(|p| p.name)
            .collect();
        let mut report = format!(
            "Found {} cluster configurations\nTroubleshooting filtered subset of clusters: {}\n",
            peers.len(),
            peers.join(", ")
        );
        for p in specs.iter().filter(|p| p.name != s.name) {
            report.push_str(&section(p.name, p.node_port));
        }
        let mut argv = vec!["cilium-dbg", "troubleshoot", "clustermesh"];
        argv.extend(&peers);
        let pod = lab.lab.agent_pods(s.name)[0].clone();
        lab.lab
            .server(s.name)
            .script_exec(&pod, "cilium-agent", &argv, ExecScript::ok(report));
    }
}

/// Runs `troubleshoot --from FROM -o json` `runs` times: the sorted times. Every run must
/// report every pair with every check ok.
fn measure(lab: &EtcdLab, from: &str, runs: usize, n: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = lab
            .lab
            .cmd()
            .args(["troubleshoot", "--from", from, "-o", "json"])
            .args(["--request-timeout", "10s"])
            .output()
            .expect("runs");
        times.push(t.elapsed());
        if std::env::var_os("TROUBLESHOOT_BENCH_VERBOSE").is_some() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let pairs = report["pairs"].as_array().map_or(0, Vec::len);
        assert_eq!(pairs, n * (n - 1), "every ordered pair is reported");
        let s = &report["summary"];
        assert!(
            s["fail"] == 0 && s["warn"] == 0 && s["ok"].as_u64().unwrap_or(0) > 0,
            "a healthy mesh is all ok ({from}, {n} clusters): {s}\n{report:#}"
        );
    }
    times.sort();
    times
}

/// For profiling: writes a script running the command in this lab to `path` and waits until it
/// is deleted.
fn hold(lab: &EtcdLab, path: &std::path::Path, n: usize) {
    let home = lab.lab.home();
    let bin = assert_cmd::cargo::cargo_bin("kubectl-mesh");
    std::fs::write(
        path,
        format!(
            "cd {h} && exec env -i HOME={h} PATH=\"$PATH\" KUBECONFIG={h}/kubeconfig ${{WRAP:-}} {b} troubleshoot --request-timeout 10s \"$@\"\n",
            h = home.display(),
            b = bin.display()
        ),
    )
    .expect("write the hold script");
    eprintln!(
        "{n} clusters: run `sh {} --from workstation -o json`, then delete it",
        path.display()
    );
    while path.exists() {
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::var("TROUBLESHOOT_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let sizes: Vec<usize> = std::env::var("TROUBLESHOOT_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 4, 8, 16]);
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let names: Vec<&'static str> = (0..sizes.iter().copied().max().unwrap_or(2))
        .map(|i| leak(format!("c{i}")))
        .collect();
    let mut base: [Option<Duration>; 2] = [None, None];
    println!("clusters  pairs  from         median     min        ratio-to-first");
    for &n in &sizes {
        let mut specs = loopback_specs(&names[..n]);
        for (i, s) in specs.iter_mut().enumerate() {
            s.pod_cidr = leak(format!("10.{}.0.0/16", i * 2));
            s.service_cidr = leak(format!("10.{}.0.0/16", i * 2 + 1));
        }
        let lab = EtcdLab::start_with(specs)
            .expect("etcd: apt-get install -y --no-install-recommends etcd-server");
        script_agents(&lab);
        if let Some(path) = std::env::var_os("TROUBLESHOOT_BENCH_HOLD") {
            hold(&lab, std::path::Path::new(&path), n);
        }
        for (k, from) in ["workstation", "both"].into_iter().enumerate() {
            let times = measure(&lab, from, runs, n);
            let median = times[times.len() / 2];
            let base = *base[k].get_or_insert(median);
            println!(
                "{n:<9} {:<6} {from:<12} {:<10} {:<10} {:.2}",
                n * (n - 1),
                ms(median),
                ms(times[0]),
                median.as_secs_f64() / base.as_secs_f64()
            );
        }
    }
}
