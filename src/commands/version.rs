//! `kubectl mesh version [-o json|yaml]`: this binary's version and commit, and the Cilium
//! chart versions render has been verified against.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use crate::cli::VersionArgs;
use crate::render::VERIFIED_CHART_VERSIONS;

/// `v0.1.0`: the version as krew and release tags spell it.
fn version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// The commit `build.rs` found (`unknown` when built outside a git checkout).
const COMMIT: &str = env!("KUBECTL_MESH_COMMIT");

pub fn run(args: VersionArgs) -> anyhow::Result<ExitCode> {
    match args.output {
        Some(format) => super::print_structured(
            format,
            &json!({
                "version": version(),
                "commit": COMMIT,
                "verifiedCharts": VERIFIED_CHART_VERSIONS,
            }),
        )?,
        None => std::io::stdout().lock().write_all(plain().as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn plain() -> String {
    format!(
        "kubectl-mesh {} (commit {COMMIT})\nverified against Cilium charts: {}\n",
        version(),
        VERIFIED_CHART_VERSIONS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_output_names_version_commit_and_every_chart() {
        let text = plain();
        assert!(text.starts_with(&format!(
            "kubectl-mesh v{} (commit ",
            env!("CARGO_PKG_VERSION")
        )));
        for chart in VERIFIED_CHART_VERSIONS {
            assert!(text.contains(chart), "{chart} missing from {text}");
        }
    }
}
