//! `kubectl mesh init --context A --context B …`: a mesh file proposed from the live clusters,
//! validated, with every choice and problem explained.

use std::process::ExitCode;

use anyhow::bail;

use super::{EXIT_PROBLEMS, block_on};
use crate::cli::InitArgs;
use crate::live::ClusterClient;
use crate::mesh::propose::propose;
use crate::mesh::{Severity, validate};

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.file
        && file.exists()
        && !args.force
        && !args.dry_run
    {
        bail!("{} exists: pass --force to replace it", file.display());
    }
    let opts = args.kube.options();
    let ns = args
        .namespace
        .as_deref()
        .unwrap_or(crate::mesh::DEFAULT_NAMESPACE);
    let kubeconfig = crate::live::load_kubeconfig(&opts)?;
    let read = block_on(crate::live::for_each(
        args.contexts.clone(),
        opts.parallel,
        |context| {
            let (kubeconfig, opts) = (&kubeconfig, &opts);
            async move {
                let client = ClusterClient::new(kubeconfig, &context, ns, opts).await?;
                let live = client.read_live().await?;
                if live.config.is_none() {
                    bail!(
                        "context {context}: no ConfigMap {ns}/cilium-config: is Cilium installed (or in another namespace: pass -n)?"
                    );
                }
                Ok(live)
            }
        },
    ))?;
    let mut lives = Vec::new();
    let mut errors = Vec::new();
    for (context, r) in args.contexts.iter().zip(read) {
        match r {
            Ok(l) => lives.push((context.as_str(), l)),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("cannot read every cluster:\n  {}", errors.join("\n  "));
    }
    let pairs: Vec<(&str, &crate::mesh::state::Live)> =
        lives.iter().map(|(c, l)| (*c, l)).collect();
    let proposal = propose(&pairs, args.namespace.as_deref());
    let text = format!(
        "# Mesh file written by `kubectl mesh init` from contexts {}.\n# Review it, then `kubectl mesh validate`, `kubectl mesh ca sync`, `kubectl mesh connect`.\n{}",
        args.contexts.join(", "),
        crate::yaml::emit(&serde_json::to_value(&proposal.mesh)?)?
    );
    for note in &proposal.notes {
        errln!("note: {note}");
    }
    let problems = validate(&proposal.mesh);
    for p in &problems {
        errln!("{p}");
        if p.field == "podCIDR" && p.severity == Severity::Error {
            errln!(
                "    → a cluster's pod CIDR cannot change without recreating it (or migrating its IPAM): meshed clusters need pod CIDRs that do not overlap"
            );
        }
    }
    match (&args.file, args.dry_run) {
        (Some(file), false) => {
            super::write_atomic(file, &text, None)?;
            errln!("wrote {}", file.display());
        }
        _ => out!("{text}"),
    }
    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}
