//! `kubectl mesh disconnect CLUSTER`: removes that cluster's keys, host aliases and remote user
//! from every other cluster, every mesh peer from it, and its endpoint from the mesh file.
//! Nothing else changes; peers the mesh file does not know stay.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use serde_json::Value;

use super::{EXIT_PROBLEMS, block_on, dry_run_yaml, load_mesh, reach_all};
use crate::cli::DisconnectArgs;
use crate::mesh::state::Live;
use crate::mesh::{Cluster, Mesh, edit};
use crate::render::unpeer_changes;

pub fn run(args: DisconnectArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let mesh = load_mesh(path)?;
    let leaving = mesh.cluster(&args.cluster)?.clone();
    let opts = args.kube.options();
    let reached = block_on(reach_all(&mesh, &opts))??;

    if args.dry_run {
        for (c, r) in mesh.clusters.iter().zip(&reached) {
            match &r.live {
                Ok(live) => {
                    let objects = changes(&mesh, &leaving, c, live)?;
                    outln!(
                        "# cluster {} (context {}): {} object(s) to write",
                        c.name,
                        c.context,
                        objects.len()
                    );
                    out!("{}", dry_run_yaml(&objects, super::HIDDEN)?);
                }
                Err(e) => outln!("# cluster {}: cannot read it: {e:#}", c.name),
            }
        }
        if leaving.clustermesh.is_some() {
            outln!(
                "# mesh file {} would drop the endpoint of {}",
                path.display(),
                leaving.name
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    let results = block_on(crate::live::for_each(
        mesh.clusters.iter().zip(&reached).collect(),
        opts.parallel,
        |(c, r): (&Cluster, &super::Reached)| {
            let (mesh, leaving) = (&mesh, &leaving);
            async move {
                let client = match (&r.client, &r.live) {
                    (Some(client), Ok(_)) => client,
                    (_, Err(e)) => return Err(anyhow!("{e:#}")),
                    (None, _) => return Err(anyhow!("no client")),
                };
                client
                    .converge(|live| changes(mesh, leaving, c, live))
                    .await
            }
        },
    ))?;
    let mut failed = false;
    for (c, result) in mesh.clusters.iter().zip(results) {
        match result {
            Ok(w) if w.is_empty() => outln!("{}: nothing to remove", c.name),
            Ok(w) => outln!("{}: wrote {}", c.name, super::object_names(&w)),
            Err(e) => {
                failed = true;
                outln!("{}: failed: {e:#}", c.name);
            }
        }
    }
    if leaving.clustermesh.is_some() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the mesh file {}", path.display()))?;
        let text = edit::set_cluster_field(&text, &leaving.name, "clustermesh", None)
            .with_context(|| {
                format!(
                    "cannot drop the endpoint of {} from {}",
                    leaving.name,
                    path.display()
                )
            })?;
        super::write_atomic(path, &text, None)?;
        outln!(
            "{}: dropped the endpoint of {} (the others' next `kubectl mesh upgrade` keeps it out; remove {} from the file to keep its own upgrade from re-adding its peers)",
            path.display(),
            leaving.name,
            leaving.name
        );
    }
    if failed {
        errln!(
            "some clusters could not be changed: run `kubectl mesh disconnect {}` again (it is safe to repeat)",
            leaving.name
        );
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

/// What to write to `c`: without `leaving` (or, for `leaving` itself, without any mesh peer).
fn changes(mesh: &Mesh, leaving: &Cluster, c: &Cluster, live: &Live) -> anyhow::Result<Vec<Value>> {
    let gone: Vec<&str> = if c.name == leaving.name {
        mesh.peers_of(&c.name).map(|p| p.name.as_str()).collect()
    } else {
        vec![leaving.name.as_str()]
    };
    unpeer_changes(live.peer_objects(), mesh.namespace(), &gone)
        .with_context(|| format!("cluster {} (context {})", c.name, c.context))
}
