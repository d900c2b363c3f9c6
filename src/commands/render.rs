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
    let mesh_path = &args.mesh.mesh;
    let mesh = load_mesh(mesh_path)?;
    let cluster = select_cluster(&mesh, args.cluster.as_deref(), args.kubeconfig.as_deref())?;
    let mesh_ca = load_mesh_ca(&mesh, mesh_path)?;
    let mut input = input_buffer();
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
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    output.write_to(&mut stdout)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A buffer for all of stdin that is never copied as it grows: the file's size when stdin is a
/// file, else 64 MiB of address space, which the allocator maps on its own and which costs memory
/// only as it is filled (a growing buffer that started small would leave its earlier copies in
/// the heap: up to the input's size again).
fn input_buffer() -> Vec<u8> {
    use std::os::fd::AsFd;
    let size = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len().min(1 << 32) as usize + 1);
    Vec::with_capacity(size.unwrap_or(64 << 20))
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
