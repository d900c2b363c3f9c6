//! `kubectl mesh troubleshoot`: every ordered pair of the mesh (A → B), walked the way A's
//! agents walk it — A's etcd config, host aliases, client certificate and trusted CA, against B's
//! live state and B's etcd — with one line per check and what to run for each problem. With
//! `--from agents` (or `both`, the default) the same path is also read from inside A: the report
//! of `cilium-dbg troubleshoot clustermesh` in one Ready agent (`kvstoremesh-dbg troubleshoot` in
//! the clustermesh-apiserver with KVStoreMesh) and the agent's `cilium-dbg status -o json`.

use std::process::ExitCode;

use anyhow::bail;

use super::agent_exec::{self, Ran};
use super::agents::{AGENT_CONTAINER, AGENT_STATUS, KVSTOREMESH_CONTAINER};
use super::{EXIT_PROBLEMS, Reached, block_on, load_mesh, print_structured, reach_all};
use crate::cli::TroubleshootArgs;
use crate::live::ClusterClient;
use crate::mesh::agents::{judge_peer, parse_agent_status};
use crate::mesh::state::Finding;
use crate::mesh::state::{self, Live};
use crate::mesh::troubleshoot::agents::{Vantage, agent_checks, status_checks};
use crate::mesh::troubleshoot::{
    self, Check, Pair, PairReport, PathProbe, Plan, Report, Status, report,
};
use crate::mesh::{Cluster, Mesh};

pub fn run(args: TroubleshootArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let mesh = load_mesh(path)?;
    for name in &args.clusters {
        mesh.cluster(name)?;
    }
    if mesh.clusters.len() < 2 {
        bail!(
            "the mesh file {} has fewer than two clusters: no path to check",
            path.display()
        );
    }
    let opts = args.kube.options();
    let reached = block_on(reach_all(&mesh, &opts))??;
    let lives: Vec<Result<&Live, String>> = reached
        .iter()
        .map(|r| r.live.as_ref().map_err(|e| format!("{e:#}")))
        .collect();
    let readable: Vec<(&Cluster, &Live)> = mesh
        .clusters
        .iter()
        .zip(&lives)
        .filter_map(|(c, l)| Some((c, *l.as_ref().ok()?)))
        .collect();
    let collisions = state::nodeport_collisions(&readable);
    let mesh_path = path.display().to_string();
    let indices = ordered_pairs(&mesh, &args.clusters);
    let pairs: Vec<Pair> = indices
        .iter()
        .map(|&(a, b)| Pair {
            mesh: &mesh,
            mesh_path: &mesh_path,
            from: &mesh.clusters[a],
            to: &mesh.clusters[b],
            from_live: lives[a].clone(),
            to_live: lives[b].clone(),
        })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let mut checks: Vec<Vec<Check>> = vec![Vec::new(); pairs.len()];
    let plans: Vec<Plan> = if args.from.workstation() {
        pairs.iter().map(troubleshoot::plan).collect()
    } else {
        Vec::new()
    };
    let sources: Vec<usize> = if args.from.agents() {
        let mut a: Vec<usize> = indices.iter().map(|p| p.0).collect();
        a.sort_unstable();
        a.dedup();
        a
    } else {
        Vec::new()
    };
    let bounds = crate::live::probe::Bounds {
        timeout: opts.request_timeout,
        parallel: opts.parallel,
    };
    // Both vantage points at once: the probes are mostly CPU (TLS), the agents' execs mostly
    // waiting on the clusters.
    let (probes, asked) = block_on(async {
        futures::join!(
            crate::live::probe::probe_paths(&plans, bounds),
            crate::live::for_each(sources.clone(), opts.parallel, |a: usize| {
                let peers: Vec<String> = indices
                    .iter()
                    .filter(|p| p.0 == a)
                    .map(|p| mesh.clusters[p.1].name.clone())
                    .collect();
                ask_cluster(&reached[a], peers)
            })
        )
    })?;
    if args.from.workstation() {
        let judged = judge_all(&pairs, &plans, &probes, &collisions, now);
        for (checks, judged) in checks.iter_mut().zip(judged) {
            checks.extend(judged);
        }
    }
    if args.from.agents() {
        for (i, &(a, b)) in indices.iter().enumerate() {
            let Some(side) = sources.iter().position(|&s| s == a).map(|k| &asked[k]) else {
                continue;
            };
            checks[i].extend(agent_side(
                &mesh,
                &reached[a],
                side,
                &mesh.clusters[a],
                &mesh.clusters[b],
                now,
            ));
        }
    }
    let report = Report::new(
        pairs
            .iter()
            .zip(checks)
            .map(|(pair, checks)| PairReport {
                from: pair.from.name.clone(),
                to: pair.to.name.clone(),
                checks,
            })
            .collect(),
    );
    match args.output {
        Some(format) => print_structured(format, &serde_json::to_value(&report)?)?,
        None => out!("{}", text(&report)),
    }
    Ok(if report.summary.fail > 0 {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// The workstation's checks of every pair, judged on two threads (the machine's cores): the
/// certificate work is CPU, and every pair's is its own.
fn judge_all(
    pairs: &[Pair],
    plans: &[Plan],
    probes: &[PathProbe],
    collisions: &[Finding],
    now: time::OffsetDateTime,
) -> Vec<Vec<Check>> {
    let judge = |range: std::ops::Range<usize>| -> Vec<Vec<Check>> {
        range
            .map(|i| troubleshoot::judge(&pairs[i], &plans[i], &probes[i], collisions, now))
            .collect()
    };
    let half = pairs.len() / 2;
    if half < 8 {
        return judge(0..pairs.len());
    }
    std::thread::scope(|scope| {
        let second = scope.spawn(|| judge(half..pairs.len()));
        let mut out = judge(0..half);
        match second.join() {
            Ok(rest) => out.extend(rest),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
}

/// What one cluster's own components said.
struct Asked {
    /// The troubleshoot report: the pod it ran in, whether that is KVStoreMesh, the command,
    /// and the report or why there is none.
    troubleshoot: Result<(Ran, bool, Vec<String>), String>,
    /// `cilium-dbg status -o json` in the agent.
    status: Result<Ran, String>,
}

/// The troubleshoot command for `peers`: KVStoreMesh's where it dials the peers
/// (clustermesh-apiserver/kvstoremesh-dbg/troubleshoot.go), the agent's otherwise
/// (cilium-dbg/cmd/troubleshoot_clustermesh.go).
pub fn troubleshoot_argv(kvstoremesh: bool, peers: &[String]) -> Vec<String> {
    let head: &[&str] = if kvstoremesh {
        &["kvstoremesh-dbg", "troubleshoot"]
    } else {
        &["cilium-dbg", "troubleshoot", "clustermesh"]
    };
    head.iter()
        .map(|s| s.to_string())
        .chain(peers.iter().cloned())
        .collect()
}

/// Runs the troubleshoot report and the agent's status in cluster `r`.
async fn ask_cluster(r: &Reached, peers: Vec<String>) -> Asked {
    let (client, live) = match (&r.client, &r.live) {
        (Some(c), Ok(l)) => (c, l),
        (_, Err(e)) => {
            let why = format!("cannot read the cluster: {e:#}");
            return Asked {
                troubleshoot: Err(why.clone()),
                status: Err(why),
            };
        }
        (None, Ok(_)) => {
            let why = "no client for the cluster".to_string();
            return Asked {
                troubleshoot: Err(why.clone()),
                status: Err(why),
            };
        }
    };
    let agent = agent_exec::one_ready_pod(client, live.agents.as_ref(), "DaemonSet cilium").await;
    let status_argv: Vec<String> = AGENT_STATUS.iter().map(|s| s.to_string()).collect();
    let kvstoremesh = live.kvstoremesh();
    let troubleshoot = async {
        let pod = if kvstoremesh {
            agent_exec::one_ready_pod(
                client,
                live.apiserver.as_ref(),
                "Deployment clustermesh-apiserver",
            )
            .await?
        } else {
            agent.clone()?
        };
        let container = if kvstoremesh {
            KVSTOREMESH_CONTAINER
        } else {
            AGENT_CONTAINER
        };
        let argv = troubleshoot_argv(kvstoremesh, &peers);
        let ran = agent_exec::run(client, &pod, container, &argv).await;
        Ok::<_, String>((ran, kvstoremesh, argv))
    };
    let status = async {
        let pod = agent.clone()?;
        Ok::<Ran, String>(agent_exec::run(client, &pod, AGENT_CONTAINER, &status_argv).await)
    };
    let (troubleshoot, status) = futures::join!(troubleshoot, status);
    Asked {
        troubleshoot,
        status,
    }
}

/// The checks of A → B from inside A.
fn agent_side(
    mesh: &Mesh,
    r: &Reached,
    asked: &Asked,
    a: &Cluster,
    b: &Cluster,
    now: time::OffsetDateTime,
) -> Vec<Check> {
    let namespace = r
        .client
        .as_ref()
        .map_or(mesh.namespace(), |c: &ClusterClient| c.namespace.as_str());
    let unreadable = |label: &str, why: &str| -> Vec<Check> {
        let v = Vantage {
            from: &a.name,
            to: &b.name,
            label: label.to_string(),
            namespace,
            pod: "ds/cilium",
            container: AGENT_CONTAINER,
            command: troubleshoot_argv(false, std::slice::from_ref(&b.name)).join(" "),
            kvstoremesh: false,
            bundle: mesh.is_bundle(),
        };
        agent_checks(&v, &Err(why.to_string()), now)
    };
    let mut out = Vec::new();
    match &asked.troubleshoot {
        Err(why) => out.extend(unreadable("agent", why)),
        Ok((ran, kvstoremesh, argv)) => {
            let v = Vantage {
                from: &a.name,
                to: &b.name,
                label: format!("agent/{}", ran.pod),
                namespace,
                pod: &ran.pod,
                container: if *kvstoremesh {
                    KVSTOREMESH_CONTAINER
                } else {
                    AGENT_CONTAINER
                },
                command: argv.join(" "),
                kvstoremesh: *kvstoremesh,
                bundle: mesh.is_bundle(),
            };
            let parsed = match &ran.output {
                Err(e) => Err(e.clone()),
                Ok(o) => report::parse(&agent_exec::stdout_text(o)).map_err(|e| {
                    if o.exit_code != 0 {
                        format!("`{}` {}: {e}", argv.join(" "), agent_exec::exit_note(o))
                    } else {
                        format!("`{}`: {e}", argv.join(" "))
                    }
                }),
            };
            out.extend(agent_checks(&v, &parsed, now));
        }
    }
    match &asked.status {
        Err(why) => {
            if asked.troubleshoot.is_ok() {
                out.extend(unreadable("agent", why));
            }
        }
        Ok(ran) => {
            let argv = AGENT_STATUS.join(" ");
            let v = Vantage {
                from: &a.name,
                to: &b.name,
                label: format!("agent/{}", ran.pod),
                namespace,
                pod: &ran.pod,
                container: AGENT_CONTAINER,
                command: argv.clone(),
                kvstoremesh: false,
                bundle: mesh.is_bundle(),
            };
            let peer = match &ran.output {
                Err(e) => Err(e.clone()),
                Ok(o) => match parse_agent_status(&o.stdout) {
                    Ok(list) => Ok(judge_peer(&list, &b.name, Some(b.id))),
                    Err(e) if o.exit_code != 0 => {
                        Err(format!("`{argv}` {}: {e}", agent_exec::exit_note(o)))
                    }
                    Err(e) => Err(format!("`{argv}`: {e}")),
                },
            };
            out.extend(status_checks(&v, &peer));
        }
    }
    out
}

/// Every ordered pair of the mesh's clusters (indices), in file order; with `only`, those
/// from or to one of them.
fn ordered_pairs(mesh: &Mesh, only: &[String]) -> Vec<(usize, usize)> {
    let n = mesh.clusters.len();
    let wanted = |i: usize| only.is_empty() || only.contains(&mesh.clusters[i].name);
    (0..n)
        .flat_map(|a| (0..n).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && (wanted(a) || wanted(b)))
        .collect()
}

/// The report for a terminal: per pair one line per check, and under every ⚠/✗ what to do.
pub fn text(report: &Report) -> String {
    let width = troubleshoot::CHECKS
        .iter()
        .chain(&troubleshoot::AGENT_CHECKS)
        .map(|c| c.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (i, pair) in report.pairs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let worst = pair.checks.iter().map(|c| c.status).max();
        let verdict = match worst {
            Some(Status::Fail) => "broken",
            Some(Status::Warn) => "works, with warnings",
            _ => "ok",
        };
        out.push_str(&format!("{} → {}: {verdict}\n", pair.from, pair.to));
        let vantages = pair
            .checks
            .iter()
            .map(|c| c.from.as_str())
            .collect::<std::collections::BTreeSet<_>>();
        let mut last: Option<&str> = None;
        for c in &pair.checks {
            if vantages.len() > 1 && last != Some(c.from.as_str()) {
                out.push_str(&format!("  from {}:\n", c.from));
                last = Some(c.from.as_str());
            }
            let mark = match c.status {
                Status::Ok => "✓",
                Status::Warn => "⚠",
                Status::Fail => "✗",
            };
            out.push_str(&format!("  {mark} {:<width$}  {}\n", c.id, c.message));
            if c.status != Status::Ok && !c.hint.is_empty() {
                out.push_str(&format!("    {:<width$}  → {}\n", "", c.hint));
            }
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\n{} path(s): {} ok, {} warning(s), {} failed\n",
        report.pairs.len(),
        s.ok,
        s.warn,
        s.fail
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::troubleshoot::Check;

    fn mesh(names: &[&str]) -> Mesh {
        let mut text = String::from(
            "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: tunnel\nclusters:\n",
        );
        for (i, n) in names.iter().enumerate() {
            text.push_str(&format!(
                "- {{name: {n}, id: {}, context: kind-{n}, podCIDR: 10.{i}.0.0/16}}\n",
                i + 1
            ));
        }
        Mesh::parse(&text).unwrap()
    }

    #[test]
    fn pairs_are_ordered_and_filtered_by_the_named_clusters() {
        let m = mesh(&["west", "east", "north"]);
        assert_eq!(ordered_pairs(&m, &[]).len(), 6);
        let only = ordered_pairs(&m, &["north".to_string()]);
        assert_eq!(only, [(0, 2), (1, 2), (2, 0), (2, 1)]);
    }

    #[test]
    fn text_has_a_mark_per_check_and_a_hint_under_each_problem() {
        let check = |id, status, hint: &str| Check {
            id,
            from: "workstation".into(),
            status,
            message: format!("{id} says"),
            hint: hint.to_string(),
            details: serde_json::json!({}),
        };
        let report = Report::new(vec![PairReport {
            from: "west".into(),
            to: "east".into(),
            checks: vec![
                check("identity", Status::Ok, ""),
                check("ca-equal", Status::Fail, "run `kubectl mesh ca sync`"),
                check("etcd-heartbeat", Status::Warn, "check the apiserver"),
            ],
        }]);
        let text = text(&report);
        assert!(text.starts_with("west → east: broken\n"), "{text}");
        assert!(text.contains("  ✓ identity "), "{text}");
        assert!(text.contains("  ✗ ca-equal "), "{text}");
        assert!(text.contains("→ run `kubectl mesh ca sync`"), "{text}");
        assert!(text.contains("  ⚠ etcd-heartbeat "), "{text}");
        assert!(
            text.ends_with("1 path(s): 1 ok, 1 warning(s), 1 failed\n"),
            "{text}"
        );
    }
}
