//! `kubectl mesh troubleshoot`: every ordered pair of the mesh (A → B), walked the way A's
//! agents walk it — A's etcd config, host aliases, client certificate and trusted CA, against B's
//! live state and B's etcd — with one line per check and what to run for each problem.

use std::process::ExitCode;

use anyhow::bail;

use super::{EXIT_PROBLEMS, block_on, load_mesh, print_structured, reach_all};
use crate::cli::TroubleshootArgs;
use crate::mesh::state::{self, Live};
use crate::mesh::troubleshoot::{self, Pair, PairReport, Plan, Report, Status};
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
    let pairs = ordered_pairs(&mesh, &args.clusters);
    let pairs: Vec<Pair> = pairs
        .into_iter()
        .map(|(a, b)| Pair {
            mesh: &mesh,
            mesh_path: &mesh_path,
            from: &mesh.clusters[a],
            to: &mesh.clusters[b],
            from_live: lives[a].clone(),
            to_live: lives[b].clone(),
        })
        .collect();
    let plans: Vec<Plan> = pairs.iter().map(troubleshoot::plan).collect();
    let timeout = opts.request_timeout;
    let probes = block_on(crate::live::for_each(
        plans.iter().collect(),
        opts.parallel,
        |plan: &Plan| crate::live::probe::probe_path(plan, timeout),
    ))?;
    let now = time::OffsetDateTime::now_utc();
    let report = Report::new(
        pairs
            .iter()
            .zip(&plans)
            .zip(&probes)
            .map(|((pair, plan), probe)| PairReport {
                from: pair.from.name.clone(),
                to: pair.to.name.clone(),
                checks: troubleshoot::judge(pair, plan, probe, &collisions, now),
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
        for c in &pair.checks {
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
