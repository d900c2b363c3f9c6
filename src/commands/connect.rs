//! `kubectl mesh connect`: preflight every cluster, find each clustermesh-apiserver endpoint,
//! record the endpoints in the mesh file, and write to every cluster the peer objects `render`
//! would inject (the same transform), so the mesh works now and survives the next upgrade.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use serde_json::Value;

use super::peering::{changes, grouped, unknown_peers};
use super::{EXIT_PROBLEMS, Reached, block_on, dry_run_yaml, load_mesh, reach_all};
use crate::cli::ConnectArgs;
use crate::mesh::state::{self, Finding, Live};
use crate::mesh::{Cluster, Mesh, edit};

pub fn run(args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let mesh = load_mesh(path)?;
    let cas = super::ca::load_trust(&mesh, path)?.expected();
    let opts = args.kube.options();
    let reached = block_on(reach_all(&mesh, &opts))??;

    let mut findings = preflight(&mesh, &reached, &cas, &path.display().to_string());
    let mut connected = mesh.clone();
    for (c, r) in connected.clusters.iter_mut().zip(&reached) {
        if c.clustermesh.is_some() && !args.rediscover {
            continue;
        }
        let Ok(live) = &r.live else { continue };
        match live.discover_endpoint(args.allow_cluster_ip) {
            Ok(ep) => c.clustermesh = Some(ep),
            Err(message) => findings.push(Finding {
                cluster: c.name.clone(),
                check: "endpoint",
                message,
                hint: String::new(),
            }),
        }
    }
    if !findings.is_empty() {
        errln!(
            "connect refused: {} problem(s), nothing was changed:",
            findings.len()
        );
        for line in grouped(&findings) {
            errln!("  {line}");
        }
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }

    let new_text = record_endpoints(path, &mesh, &connected)?;
    let plans: Vec<anyhow::Result<Vec<Value>>> = connected
        .clusters
        .iter()
        .zip(&reached)
        .map(|(c, r)| {
            changes(
                &connected,
                c,
                r.live.as_ref().map_err(|e| anyhow!("{e:#}"))?,
            )
        })
        .collect();

    if args.dry_run {
        if new_text.is_some() {
            outln!("# mesh file {} would record the endpoints:", path.display());
            for (old, new) in mesh.clusters.iter().zip(&connected.clusters) {
                if let (Some(ep), true) = (&new.clustermesh, old.clustermesh != new.clustermesh) {
                    outln!("#   {}: clustermesh: {}", new.name, edit::endpoint_flow(ep));
                }
            }
        }
        for (c, plan) in connected.clusters.iter().zip(&plans) {
            let objects = plan.as_ref().map_err(|e| anyhow!("{e:#}"))?;
            outln!(
                "# cluster {} (context {}): {} object(s) to write",
                c.name,
                c.context,
                objects.len()
            );
            out!("{}", dry_run_yaml(objects, super::HIDDEN)?);
        }
        return Ok(ExitCode::SUCCESS);
    }

    if let Some(text) = &new_text {
        super::write_atomic(path, text, None)?;
        errln!("{}: recorded the clustermesh endpoints", path.display());
    }
    let results = block_on(crate::live::for_each(
        connected.clusters.iter().zip(&reached).collect(),
        opts.parallel,
        |(c, r): (&Cluster, &Reached)| {
            let connected = &connected;
            async move {
                let client = r.client.as_ref().ok_or_else(|| anyhow!("no client"))?;
                client.converge(|live| changes(connected, c, live)).await
            }
        },
    ))?;
    let mut failed = false;
    for ((c, r), result) in connected.clusters.iter().zip(&reached).zip(results) {
        match result {
            Ok(written) if written.is_empty() => outln!("{}: up to date", c.name),
            Ok(written) => outln!("{}: wrote {}", c.name, super::object_names(&written)),
            Err(e) => {
                failed = true;
                outln!("{}: failed: {e:#}", c.name);
            }
        }
        if let Ok(live) = &r.live {
            for peer in unknown_peers(&connected, live) {
                outln!(
                    "{}: keeps peer {peer:?}, which is not in the mesh file (remove it by hand if it is gone)",
                    c.name
                );
            }
        }
    }
    if failed {
        errln!(
            "some clusters were not connected: run `kubectl mesh connect` again (it is safe to repeat)"
        );
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    if args.wait {
        return super::status::wait_healthy(&connected, &opts, args.timeout, path, None);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every problem that must be fixed before connecting, for all clusters at once.
pub fn preflight(
    mesh: &Mesh,
    reached: &[Reached],
    cas: &crate::mesh::trust::ExpectedCas,
    mesh_path: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut ok: Vec<(&Cluster, &Live)> = Vec::new();
    for (c, r) in mesh.clusters.iter().zip(reached) {
        match &r.live {
            Ok(live) => {
                findings.extend(state::identity_findings(mesh, c, live, mesh_path));
                if live.config.is_some() {
                    if live.service.is_none() {
                        findings.push(missing(c, "Service clustermesh-apiserver", mesh));
                    }
                    if live.remote_cert.is_none() {
                        findings.push(missing(c, "Secret clustermesh-apiserver-remote-cert", mesh));
                    }
                }
                ok.push((c, live));
            }
            Err(e) => findings.push(Finding {
                cluster: c.name.clone(),
                check: "unreachable",
                message: format!("{e:#}"),
                hint: format!(
                    "check that context {:?} works: `kubectl --context {} get nodes`",
                    c.context, c.context
                ),
            }),
        }
    }
    findings.extend(state::ca_findings(cas, &ok));
    findings.extend(state::nodeport_collisions(&ok));
    findings
}

fn missing(c: &Cluster, what: &str, mesh: &Mesh) -> Finding {
    Finding {
        cluster: c.name.clone(),
        check: "clustermesh-apiserver",
        message: format!("{what} is missing in namespace {}", mesh.namespace()),
        hint: "enable the clustermesh-apiserver (chart value clustermesh.useAPIServer=true) in your values file and `kubectl mesh upgrade --chart cilium/cilium --reuse-values -f values.yaml` (helm upgrade with the post-renderer)".into(),
    }
}

/// The mesh file's new text with the endpoints of `connected`, or `None` when nothing changes.
fn record_endpoints(
    path: &std::path::Path,
    before: &Mesh,
    connected: &Mesh,
) -> anyhow::Result<Option<String>> {
    let mut text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mesh file {}", path.display()))?;
    let mut changed = false;
    for (old, new) in before.clusters.iter().zip(&connected.clusters) {
        if old.clustermesh != new.clustermesh {
            let flow = new.clustermesh.as_ref().map(edit::endpoint_flow);
            text = edit::set_cluster_field(&text, &new.name, "clustermesh", flow.as_deref())
                .with_context(|| {
                    format!(
                        "cannot record the endpoint of {} in {}",
                        new.name,
                        path.display()
                    )
                })?;
            changed = true;
        }
    }
    Ok(changed.then_some(text))
}
