//! `kubectl mesh status`: the health of every cluster of the mesh, as a table like `kubectl
//! get` or as JSON/YAML; `--wait` polls until the mesh is healthy or the timeout passes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::agents::ClusterRead;
use super::peering::grouped;
use super::{EXIT_PROBLEMS, block_on, load_mesh, print_structured};
use crate::cli::StatusArgs;
use crate::live::KubeOptions;
use crate::mesh::Mesh;
use crate::mesh::agents::AgentsView;
use crate::mesh::state::{self, Finding, Live};

/// One row of the status table.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub cluster: String,
    pub context: String,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cilium_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Ready>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apiserver: Option<Ready>,
    pub identity: bool,
    pub peers: Peers,
    /// What the agents themselves report (`cilium-dbg status`, `kvstoremesh-dbg status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_view: Option<AgentsView>,
    pub ca: bool,
    pub healthy: bool,
    pub problems: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct Ready {
    pub ready: i64,
    pub desired: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct Peers {
    /// Peers the mesh file gives this cluster (every other cluster).
    pub expected: Vec<String>,
    /// Peers configured in the cluster's `cilium-clustermesh`.
    pub configured: Vec<String>,
    /// Configured peers the mesh file does not know (kept, never removed by kubectl-mesh).
    pub unknown: Vec<String>,
}

/// The whole mesh.
#[derive(Debug, Serialize)]
pub struct Report {
    pub healthy: bool,
    pub clusters: Vec<ClusterStatus>,
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let mesh = load_mesh(path)?;
    let opts = args.kube.options();
    let sample = args.agents.map(usize::from);
    if args.wait {
        return wait_healthy(&mesh, &opts, args.timeout, path, sample);
    }
    let (report, reads) = read_and_assess(&mesh, &opts, path, sample)?;
    match args.output {
        // JSON streamed out straight from the report (255 clusters' agents' views make tens of
        // MB: built whole, the text's fresh pages cost more than writing it).
        Some(crate::cli::Output::Json) => super::out_with(|w| {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            std::io::Write::write_all(w, b"\n")
        })?,
        Some(format) => print_structured(format, &serde_json::to_value(&report)?)?,
        None => out!("{}", table(&report)),
    }
    let code = exit_code(&report);
    // The process ends here: what was read and the report (255 clusters: millions of small
    // allocations) are left to the OS instead of being freed one by one.
    std::mem::forget((report, reads));
    Ok(code)
}

fn exit_code(report: &Report) -> ExitCode {
    if report.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    }
}

/// Reads every cluster, asks its agents (every Ready one, or `sample` of them) and assesses the
/// mesh.
pub fn check(
    mesh: &Mesh,
    opts: &KubeOptions,
    path: &Path,
    sample: Option<usize>,
) -> anyhow::Result<Report> {
    Ok(read_and_assess(mesh, opts, path, sample)?.0)
}

/// [`check`], with what was read left over (the agents' views moved into the report).
fn read_and_assess(
    mesh: &Mesh,
    opts: &KubeOptions,
    path: &Path,
    sample: Option<usize>,
) -> anyhow::Result<(Report, Vec<ClusterRead>)> {
    let cas = super::ca::load_trust(mesh, path)?.expected();
    let mut reads = block_on(super::agents::read_all(mesh, opts, sample))??;
    let report = assess(mesh, &mut reads, &cas, &path.display().to_string());
    Ok((report, reads))
}

/// Polls until the mesh is healthy or `timeout` passes, with a progress line per cluster.
pub fn wait_healthy(
    mesh: &Mesh,
    opts: &KubeOptions,
    timeout: Duration,
    path: &Path,
    sample: Option<usize>,
) -> anyhow::Result<ExitCode> {
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {prefix:<12} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let lines: Vec<ProgressBar> = mesh
        .clusters
        .iter()
        .map(|c| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(c.name.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
        .collect();
    let deadline = Instant::now() + timeout;
    loop {
        let report = check(mesh, opts, path, sample)?;
        for (bar, c) in lines.iter().zip(&report.clusters) {
            bar.set_message(match c.problems.first() {
                None => "healthy".to_string(),
                Some(p) => format!("waiting: {}", p.message),
            });
        }
        if report.healthy || Instant::now() >= deadline {
            for bar in &lines {
                bar.finish();
            }
            if !report.healthy {
                errln!("timed out after {}s; still missing:", timeout.as_secs());
                for f in report.clusters.iter().flat_map(|c| &c.problems) {
                    errln!("  {f}");
                }
            }
            out!("{}", table(&report));
            return Ok(exit_code(&report));
        }
        std::thread::sleep(Duration::from_secs(2).min(deadline - Instant::now()));
    }
}

/// Every check of every cluster; pure on what was read. The agents' views are moved into the
/// report (`None` left in `reads`).
pub fn assess(
    mesh: &Mesh,
    reads: &mut [ClusterRead],
    cas: &crate::mesh::trust::ExpectedCas,
    mesh_path: &str,
) -> Report {
    let mut views: Vec<Option<AgentsView>> = reads.iter_mut().map(|r| r.view.take()).collect();
    let reads = &*reads;
    let live: Vec<Option<&Live>> = reads.iter().map(|r| r.reached.live.as_ref().ok()).collect();
    let ok: Vec<_> = mesh
        .clusters
        .iter()
        .zip(&live)
        .filter_map(|(c, l)| Some((c, (*l)?)))
        .collect();
    let mut shared: Vec<Finding> = state::ca_findings(cas, &ok);
    shared.extend(state::nodeport_collisions(&ok));
    let answers: Answers = ok
        .iter()
        .map(|(p, pl)| {
            let ips = pl.discover_endpoint(true).ok().map(|e| {
                let mut ips = e.ips;
                ips.sort_unstable();
                ips.dedup();
                ips
            });
            (p.name.as_str(), (*p, ips))
        })
        .collect();
    let names: HashSet<&str> = mesh.clusters.iter().map(|c| c.name.as_str()).collect();

    let mut clusters = Vec::new();
    for (((c, read), l), view) in mesh.clusters.iter().zip(reads).zip(&live).zip(&mut views) {
        let view = view.take();
        let mut problems: Vec<Finding> = Vec::new();
        let Some(l) = l else {
            let e = read
                .reached
                .live
                .as_ref()
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            clusters.push(ClusterStatus {
                cluster: c.name.clone(),
                context: c.context.clone(),
                reachable: false,
                cilium_version: None,
                agents: None,
                apiserver: None,
                identity: false,
                peers: Peers::default(),
                agent_view: None,
                ca: false,
                healthy: false,
                problems: vec![Finding {
                    cluster: c.name.clone(),
                    check: "unreachable",
                    message: e,
                    hint: format!(
                        "check that `kubectl --context {} get nodes` works",
                        c.context
                    ),
                }],
            });
            continue;
        };
        let identity = state::identity_findings(mesh, c, l, mesh_path);
        let identity_ok = identity.is_empty();
        problems.extend(identity);
        let agents = l.agents_ready();
        match agents {
            None => problems.push(finding(
                c,
                "agents",
                "DaemonSet cilium is missing".into(),
                "",
            )),
            Some((ready, desired)) if ready < desired || desired == 0 => problems.push(finding(
                c,
                "agents",
                format!("{ready}/{desired} Cilium agents ready"),
                "",
            )),
            _ => {}
        }
        let apiserver = l.apiserver_ready();
        match apiserver {
            None => problems.push(finding(
                c,
                "clustermesh-apiserver",
                "Deployment clustermesh-apiserver is missing".into(),
                "enable it with the chart value clustermesh.useAPIServer=true",
            )),
            Some((ready, desired)) if ready < desired || desired == 0 => problems.push(finding(
                c,
                "clustermesh-apiserver",
                format!("{ready}/{desired} clustermesh-apiserver replicas ready"),
                "",
            )),
            _ => {}
        }
        // Every other cluster of the mesh file is a peer, recorded endpoint or not.
        let expected: Vec<String> = mesh.peers_of(&c.name).map(|p| p.name.clone()).collect();
        let configured: Vec<&str> = l.configured_peers();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|p| configured.binary_search(&p.as_str()).is_err())
            .collect();
        if !missing.is_empty() {
            problems.push(finding(
                c,
                "peers",
                format!(
                    "not connected to {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "run `kubectl mesh connect`",
            ));
        } else if let Some(what) = &read.pending {
            problems.push(finding(
                c,
                "peers",
                format!("peer configuration differs from the mesh file in {}", what),
                "run `kubectl mesh connect`",
            ));
        }
        problems.extend(drift(c, l, &answers));
        // With the DaemonSet missing or no agent Ready, the config side has said it already.
        let agents_said = problems.iter().any(|f| f.check == "agents");
        if let Some(view) = view
            .as_ref()
            .filter(|v| !(agents_said && v.unreadable.is_some()))
        {
            let said = view.problems();
            if said.is_empty() && !view.healthy() {
                // Never healthy on a view that is not (a safety net: every such view has a
                // problem to say).
                problems.push(finding(
                    c,
                    "agents-peers",
                    format!(
                        "the agents do not all report every peer ready ({})",
                        view.figure()
                    ),
                    "",
                ));
            }
            for (check, message) in said {
                let hint = match check {
                    "agents-unreadable" => "",
                    _ => "run `kubectl mesh troubleshoot` to see where the path breaks",
                };
                problems.push(finding(c, check, message, hint));
            }
        }
        let ca_ok = !shared
            .iter()
            .any(|f| f.cluster == c.name && f.check == "ca");
        problems.extend(shared.iter().filter(|f| f.cluster == c.name).cloned());
        clusters.push(ClusterStatus {
            cluster: c.name.clone(),
            context: c.context.clone(),
            reachable: true,
            cilium_version: l.cilium_version().map(|(a, b)| format!("{a}.{b}")),
            agents: agents.map(|(ready, desired)| Ready { ready, desired }),
            apiserver: apiserver.map(|(ready, desired)| Ready { ready, desired }),
            identity: identity_ok,
            peers: Peers {
                expected,
                // Configured peers the mesh file does not know (`peering::unknown_peers`).
                unknown: configured
                    .iter()
                    .filter(|p| !names.contains(*p))
                    .map(|p| p.to_string())
                    .collect(),
                configured: configured.iter().map(|p| p.to_string()).collect(),
            },
            agent_view: view,
            ca: ca_ok,
            healthy: problems.is_empty(),
            problems,
        });
    }
    Report {
        healthy: clusters.iter().all(|c| c.healthy),
        clusters,
    }
}

/// Per reachable cluster (by name): the addresses its clustermesh-apiserver answers on now,
/// sorted, each once (`None` when they cannot be told), found once for all its peers.
type Answers<'a> = HashMap<&'a str, (&'a crate::mesh::Cluster, Option<Vec<String>>)>;

/// Host aliases of `c` for a peer that point at addresses the peer no longer answers on.
fn drift(c: &crate::mesh::Cluster, l: &Live, answers: &Answers) -> Vec<Finding> {
    let mut out = Vec::new();
    for (peer, ips) in l.peer_host_aliases() {
        let Some((p, Some(current))) = answers.get(peer) else {
            continue;
        };
        if current.is_empty() {
            continue;
        }
        let stale: Vec<&str> = ips
            .iter()
            .copied()
            .filter(|ip| current.binary_search_by(|c| c.as_str().cmp(ip)).is_err())
            .collect();
        let fresh: Vec<&String> = current
            .iter()
            .filter(|ip| !ips.contains(&ip.as_str()))
            .collect();
        if stale.is_empty() && fresh.is_empty() {
            continue;
        }
        let mut message = format!("host aliases for {}.{}", p.name, state::MESH_DOMAIN);
        if !stale.is_empty() {
            message.push_str(&format!(
                " point at {} ({} no longer answers there)",
                join(&stale),
                p.name
            ));
        }
        if !fresh.is_empty() {
            message.push_str(&format!(
                " miss {} (new Ready nodes of {})",
                join(&fresh),
                p.name
            ));
        }
        let hint = if p.clustermesh.is_some() {
            format!(
                "run `kubectl mesh connect --rediscover` to record {}'s current addresses and apply them",
                p.name
            )
        } else {
            "run `kubectl mesh connect`".into()
        };
        out.push(finding(c, "host-aliases", message, &hint));
    }
    out
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn finding(c: &crate::mesh::Cluster, check: &'static str, message: String, hint: &str) -> Finding {
    Finding {
        cluster: c.name.clone(),
        check,
        message,
        hint: hint.to_string(),
    }
}

/// The report as a `kubectl get`-style table, then the problems with their fixes.
pub fn table(report: &Report) -> String {
    let ready = |r: &Option<Ready>| {
        r.as_ref()
            .map_or("-".to_string(), |r| format!("{}/{}", r.ready, r.desired))
    };
    let yes = |b: bool| if b { "ok" } else { "NO" };
    let mut rows = vec![
        [
            "CLUSTER",
            "CONTEXT",
            "CILIUM",
            "AGENTS",
            "APISERVER",
            "IDENTITY",
            "PEERS",
            "CA",
            "HEALTHY",
        ]
        .map(str::to_string),
    ];
    for c in &report.clusters {
        if !c.reachable {
            rows.push([
                c.cluster.clone(),
                c.context.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "unreachable".into(),
            ]);
            continue;
        }
        let configured: BTreeSet<&String> = c.peers.configured.iter().collect();
        let connected = c
            .peers
            .expected
            .iter()
            .filter(|p| configured.contains(p))
            .count();
        rows.push([
            c.cluster.clone(),
            c.context.clone(),
            c.cilium_version.clone().unwrap_or_else(|| "?".into()),
            ready(&c.agents),
            ready(&c.apiserver),
            yes(c.identity).into(),
            match &c.agent_view {
                Some(v) => format!("{connected}/{} cfg, {}", c.peers.expected.len(), v.figure()),
                None => format!("{connected}/{} cfg", c.peers.expected.len()),
            },
            yes(c.ca).into(),
            if c.healthy { "yes" } else { "no" }.into(),
        ]);
    }
    let mut out = super::format_table(&rows);
    let problems: Vec<&Finding> = report.clusters.iter().flat_map(|c| &c.problems).collect();
    if !problems.is_empty() {
        out.push_str("\nProblems:\n");
        let problems: Vec<Finding> = problems.into_iter().cloned().collect();
        for line in grouped(&problems) {
            out.push_str(&format!("  ✗ {line}\n"));
        }
    }
    out
}
