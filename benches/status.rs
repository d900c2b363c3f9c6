//! `kubectl mesh status` over 1, 16 and 64 clusters, each an in-memory API server answering
//! every request after 50 ms (a far-away cluster). Not a test: run on demand with
//! `cargo bench --bench status` (set STATUS_BENCH_RUNS to change the runs per size).
//! The peer is the same command on one cluster in the same run: the ratio is what counts.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::lab::{Lab, Spec};

fn specs(n: usize) -> Vec<Spec> {
    (0..n)
        .map(|i| {
            let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
            let mut s = Spec::new(leak(format!("c{i}")), i as u32 + 1, 30000 + i as u16);
            s.pod_cidr = leak(format!("10.{}.0.0/16", i * 2));
            s.service_cidr = leak(format!("10.{}.0.0/16", i * 2 + 1));
            s.node_ips = vec![leak(format!("172.18.{i}.2")), leak(format!("172.18.{i}.3"))];
            s.version = "v1.19.6";
            s
        })
        .collect()
}

fn main() {
    let runs: usize = std::env::var("STATUS_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let latency = Duration::from_millis(50);
    let mut base = None;
    println!("clusters  median     min        ratio-to-1");
    for n in [1usize, 16, 64] {
        let lab = Lab::start(&specs(n));
        for s in &lab.servers {
            s.set_latency(latency);
        }
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let mut cmd = lab.cmd();
            cmd.args(["status", "-o", "json"]);
            if let Ok(p) = std::env::var("STATUS_BENCH_PARALLEL") {
                cmd.args(["--parallel", &p]);
            }
            let out = cmd.output().expect("runs");
            if std::env::var_os("STATUS_BENCH_VERBOSE").is_some() {
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
            }
            times.push(t.elapsed());
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            let reached = report["clusters"]
                .as_array()
                .map_or(0, |c| c.iter().filter(|c| c["reachable"] == true).count());
            assert_eq!(reached, n, "every cluster answers");
        }
        times.sort();
        let median = times[times.len() / 2];
        let base = *base.get_or_insert(median);
        println!(
            "{n:<9} {:<10} {:<10} {:.2}",
            format!("{:.0} ms", median.as_secs_f64() * 1e3),
            format!("{:.0} ms", times[0].as_secs_f64() * 1e3),
            median.as_secs_f64() / base.as_secs_f64()
        );
    }
}
