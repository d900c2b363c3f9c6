//! `kubectl mesh render`: the Helm post-renderer. All of stdin is read and the whole result is
//! built before a single byte goes to stdout, so a failure never leaves half a stream.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::{load_mesh, load_mesh_ca};
use crate::cli::RenderArgs;
use crate::kubeconfig;
use crate::mesh::{Cluster, Mesh};
use crate::render::{Target, render};

pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    if super::stdout_at_start::closed() {
        bail!(
            "stdout is closed: render writes the rendered chart stream there (Helm reads it); nothing was rendered"
        );
    }
    let mesh_path = &args.mesh.mesh;
    let mesh = load_mesh(mesh_path)?;
    let cluster = select_cluster(&mesh, args.cluster.as_deref(), args.kubeconfig.as_deref())?;
    let mesh_ca = load_mesh_ca(&mesh, mesh_path)?;
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("cannot read the chart stream from stdin")?;
    let input = String::from_utf8(input).context("the chart stream on stdin is not UTF-8 text")?;
    let target = Target {
        mesh: &mesh,
        cluster,
        mesh_ca: mesh_ca.as_ref(),
        now: time::OffsetDateTime::now_utc(),
    };
    let output = render(&input, &target)
        .with_context(|| format!("render for cluster {:?}", cluster.name))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(output.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `--cluster`, else the cluster whose context is `$HELM_KUBECONTEXT` or the current context.
fn select_cluster<'m>(
    mesh: &'m Mesh,
    flag: Option<&str>,
    kubeconfig: Option<&str>,
) -> anyhow::Result<&'m Cluster> {
    if let Some(name) = flag {
        return Ok(mesh.cluster(name)?);
    }
    let (context, from) = match std::env::var("HELM_KUBECONTEXT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        Some(c) => (c, "$HELM_KUBECONTEXT"),
        None => match kubeconfig::current_context(kubeconfig)? {
            Some(c) => (c, "the kubeconfig's current-context"),
            None => bail!(
                "no --cluster given and no current kube context to pick one by: pass --cluster ({})",
                mesh.cluster_names().join(", ")
            ),
        },
    };
    let contexts: Vec<_> = mesh
        .clusters
        .iter()
        .map(|c| format!("{} ({})", c.context, c.name))
        .collect();
    mesh.cluster_by_context(&context).with_context(|| {
        format!("no --cluster given and {from} {context:?} is not the context of any cluster in the mesh file; pass --cluster or switch context (mesh contexts: {})", contexts.join(", "))
    })
}
