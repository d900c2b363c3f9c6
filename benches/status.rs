//! `kubectl mesh status` over 1, 16, 64 and 255 clusters (255: the chart's default
//! `clustermesh.maxConnectedClusters`), each an in-memory API server answering every request
//! (exec included) after 50 ms: a far-away cluster. The mesh is connected (`kubectl mesh
//! connect`) and every agent is scripted to report every peer ready, so `status` does all its
//! work, the agents' view (one `cilium-dbg status` exec per Ready agent) included, and must
//! find the mesh healthy.
//!
//! Not a test: run on demand with `cargo bench --bench status --profile fast` (or `--release`).
//! `STATUS_BENCH_RUNS` changes the runs per size (default 5), `STATUS_BENCH_SIZES` the sizes
//! (`1,16,64,255`), `STATUS_BENCH_PARALLEL` passes `--parallel`, `STATUS_BENCH_LATENCY_MS` the
//! latency, `STATUS_BENCH_WRAP` runs `status` under a profiler (`perf record -g -o FILE --`),
//! `STATUS_BENCH_BINS` (comma-separated paths) times several builds in turn, a run of each
//! after the other, so that a before and an after share the machine's load alike.
//! The peer is the same command on one cluster in the same run: the ratio is what
//! counts. Printed per size: median and min wall time, the ratio of the medians to one cluster,
//! the command's CPU time (user+system, median), the CPU the in-process API servers used while
//! it ran (they share the machine's cores with it), and the requests each cluster received per
//! `status` (execs included).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::lab::{Lab, Spec};

fn specs(n: usize) -> Vec<Spec> {
    (0..n)
        .map(|i| {
            let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
            let mut s = Spec::new(leak(format!("c{i}")), i as u32 + 1, 30000 + i as u16);
            // Distinct, non-overlapping CIDRs for up to 255 clusters: 10.X.Y.0/20 pods and
            // services, X from the cluster's index.
            s.pod_cidr = leak(format!("10.{}.{}.0/20", i / 8, (i % 8) * 32));
            s.service_cidr = leak(format!("10.{}.{}.0/20", i / 8, (i % 8) * 32 + 16));
            s.node_ips = vec![
                leak(format!("172.{}.{}.2", 16 + i / 250, i % 250)),
                leak(format!("172.{}.{}.3", 16 + i / 250, i % 250)),
            ];
            s.version = "v1.19.6";
            s
        })
        .collect()
}

/// CPU time (user + system) of this process (`RUSAGE_SELF`) or of its waited-for children.
fn cpu(who: libc::c_int) -> Duration {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut u) };
    let t = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    t(u.ru_utime) + t(u.ru_stime)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::var("STATUS_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let sizes: Vec<usize> = std::env::var("STATUS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64, 255]);
    let latency = Duration::from_millis(
        std::env::var("STATUS_BENCH_LATENCY_MS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(50),
    );
    let parallel = std::env::var("STATUS_BENCH_PARALLEL").ok();
    // Several binaries (`STATUS_BENCH_BINS=/tmp/before/kubectl-mesh,target/fast/kubectl-mesh`)
    // run in turn, one run each, so that they share the machine's load alike.
    let bins: Vec<PathBuf> = match std::env::var("STATUS_BENCH_BINS") {
        Ok(list) => list.split(',').map(PathBuf::from).collect(),
        Err(_) => vec![assert_cmd::cargo::cargo_bin("kubectl-mesh")],
    };
    let mut base: Vec<Option<Duration>> = vec![None; bins.len()];
    println!(
        "status: {} ms per request (execs too), {runs} runs per size, --parallel {}",
        latency.as_millis(),
        parallel.as_deref().unwrap_or("default")
    );
    println!(
        "clusters  median     min        ratio  cpu(status)  cpu(apiservers)  requests/cluster  execs/cluster  load  binary"
    );
    for n in sizes {
        let lab = Lab::start(&specs(n));
        if n > 1 {
            let out = lab
                .cmd()
                .args(["connect", "--request-timeout", "60s"])
                .output()
                .expect("connect runs");
            assert!(
                out.status.success(),
                "connect: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        lab.script_agents_healthy();
        for s in &lab.servers {
            s.set_latency(latency);
            s.clear_requests();
        }
        let execs_before: usize = lab.servers.iter().map(|s| s.exec_calls().len()).sum();
        let mut times = vec![Vec::new(); bins.len()];
        let mut cpus = vec![Vec::new(); bins.len()];
        let mut server_cpus = vec![Vec::new(); bins.len()];
        for _ in 0..runs {
            let mut first: Option<Vec<u8>> = None;
            for (b, bin) in bins.iter().enumerate() {
                let (stdout, t, c, s) = run_once(&lab, n, bin, parallel.as_deref());
                // Builds compared must print the same report, byte for byte.
                match &first {
                    None => first = Some(stdout),
                    Some(f) => assert!(
                        *f == stdout,
                        "{} and {} print different reports",
                        bins[0].display(),
                        bin.display()
                    ),
                }
                times[b].push(t);
                cpus[b].push(c);
                server_cpus[b].push(s);
            }
        }
        let requests: usize = lab.servers.iter().map(|s| s.requests().len()).sum();
        let execs: usize = lab
            .servers
            .iter()
            .map(|s| s.exec_calls().len())
            .sum::<usize>()
            - execs_before;
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        // The machine's load average while it ran (other work on the same cores inflates wall
        // time, not CPU time).
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        for (b, bin) in bins.iter().enumerate() {
            let wall = median(&mut times[b]);
            let min = *times[b].iter().min().expect("a run");
            let base = *base[b].get_or_insert(wall);
            println!(
                "{n:<9} {:<10} {:<10} {:<6.2} {:<12} {:<16} {:<17.1} {:<14.1} {load:<5} {}",
                ms(wall),
                ms(min),
                wall.as_secs_f64() / base.as_secs_f64(),
                ms(median(&mut cpus[b])),
                ms(median(&mut server_cpus[b])),
                requests as f64 / (n * runs * bins.len()) as f64,
                execs as f64 / (n * runs * bins.len()) as f64,
                bin.display(),
            );
        }
    }
}

/// One `status -o json` by `bin` (under `STATUS_BENCH_WRAP` when set), checked healthy with
/// every agent asked: what it printed, its wall time, its CPU time and the API servers' CPU time
/// meanwhile.
fn run_once(
    lab: &Lab,
    n: usize,
    bin: &Path,
    parallel: Option<&str>,
) -> (Vec<u8>, Duration, Duration, Duration) {
    let mut cmd = match std::env::var("STATUS_BENCH_WRAP") {
        // e.g. `perf record -g -o /tmp/status.perf --`: the same command under a profiler.
        Ok(wrap) => {
            let mut words = wrap.split_whitespace();
            let mut w = Command::new(words.next().expect("a command"));
            w.args(words).arg(bin);
            w
        }
        Err(_) => Command::new(bin),
    };
    cmd.env_clear()
        .env("HOME", lab.home())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", lab.home().join("kubeconfig"))
        .current_dir(lab.home())
        .args(["status", "-o", "json"]);
    if let Some(p) = parallel {
        cmd.args(["--parallel", p]);
    }
    let (children, me) = (cpu(libc::RUSAGE_CHILDREN), cpu(libc::RUSAGE_SELF));
    let t = Instant::now();
    let out = cmd.output().expect("runs");
    let (wall, status_cpu, servers_cpu) = (
        t.elapsed(),
        cpu(libc::RUSAGE_CHILDREN) - children,
        cpu(libc::RUSAGE_SELF) - me,
    );
    if std::env::var_os("STATUS_BENCH_VERBOSE").is_some() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let clusters = report["clusters"].as_array().expect("clusters");
    let healthy = clusters.iter().filter(|c| c["healthy"] == true).count();
    assert_eq!(
        healthy,
        n,
        "every cluster is healthy: {}",
        serde_json::to_string(
            &clusters
                .iter()
                .flat_map(|c| c["problems"].as_array().cloned().unwrap_or_default())
                .take(5)
                .collect::<Vec<_>>()
        )
        .unwrap()
    );
    let asked: u64 = clusters
        .iter()
        .map(|c| c["agentView"]["asked"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(asked, 2 * n as u64, "every agent is asked");
    (out.stdout, wall, status_cpu, servers_cpu)
}
