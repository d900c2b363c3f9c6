//! `kubectl mesh render`: the Helm post-renderer. All of stdin is read and the whole result is
//! built before a single byte goes to stdout, so a failure never leaves half a stream.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::load_mesh;
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
    let cluster = select_cluster(
        &mesh,
        args.cluster.as_deref(),
        args.current_context,
        args.kubeconfig.as_deref(),
    )?;
    let trust = super::ca::load_trust(&mesh, mesh_path)?;
    let bundle = trust.bundle(&cluster.name);
    let mut input = input_buffer();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("cannot read the chart stream from stdin")?;
    let input = String::from_utf8(input).context("the chart stream on stdin is not UTF-8 text")?;
    let target = Target {
        mesh: &mesh,
        cluster,
        mesh_ca: trust.signing_ca(&cluster.name),
        now: time::OffsetDateTime::now_utc(),
        bundle: bundle.as_ref(),
    };
    let output = render(&input, &target)
        .with_context(|| format!("render for cluster {:?}", cluster.name))?;
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    output.write_to(&mut stdout)?;
    stdout.flush()?;
    output.forget(); // the process exits next
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

/// `--cluster`; else the cluster whose context is `$HELM_KUBECONTEXT`; else, only when the user
/// opted in with `--current-context`, the kubeconfig's current context. Otherwise refused: a
/// post-renderer is not told Helm's `--kube-context` (Helm 3 runs it with Helm's own environment,
/// `pkg/postrender/exec.go`; Helm 4's subprocess runtime adds only `HELM_PLUGIN_NAME` and
/// `HELM_PLUGIN_DIR`, `internal/plugin/runtime_subprocess.go` `runPostrenderer`), so the current
/// context may well be another cluster than the one Helm installs into.
fn select_cluster<'m>(
    mesh: &'m Mesh,
    flag: Option<&str>,
    current_context: bool,
    kubeconfig: Option<&str>,
) -> anyhow::Result<&'m Cluster> {
    if let Some(name) = flag {
        return Ok(mesh.cluster(name)?);
    }
    let names = mesh.cluster_names().join(", ");
    let (context, from) = match std::env::var("HELM_KUBECONTEXT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        Some(c) => (c, "$HELM_KUBECONTEXT"),
        None if !current_context => bail!(
            "no --cluster given: Helm does not tell a post-renderer which cluster it installs into (its --kube-context is not passed on), so render will not guess; pass --cluster ({names}) in the post-renderer arguments, e.g. --post-renderer-args=--cluster=NAME, or use `kubectl mesh upgrade`, which does (--current-context takes the kubeconfig's current context instead)"
        ),
        None => match kubeconfig::current_context(kubeconfig)? {
            Some(c) => (c, "the kubeconfig's current-context"),
            None => bail!(
                "--current-context given but the kubeconfig has no current context: pass --cluster ({names})"
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
