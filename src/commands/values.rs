//! `kubectl mesh values`: the Helm values for one cluster of the mesh (GitOps: Argo CD and Flux
//! render the chart themselves and run no post-renderer). The values are computed in
//! `render::values`; here the files are read and the key material rule is applied.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use anyhow::{Context, bail};

use super::{MAX_PEM_FILE, load_mesh, read_text};
use crate::cli::{Output, ValuesArgs};
use crate::render::Target;
use crate::render::values::{CaSource, ValuesFile, values};

/// The most a values file may hold (Cilium's own values.yaml is ~200 KB).
const MAX_VALUES_FILE: u64 = 64 * MAX_PEM_FILE;

pub fn run(args: ValuesArgs) -> anyhow::Result<ExitCode> {
    let mesh_path = &args.mesh.mesh;
    let mesh = load_mesh(mesh_path)?;
    let cluster = mesh.cluster(&args.cluster)?;
    let trust = super::ca::load_trust(&mesh, mesh_path)?;
    let mesh_ca = trust.signing_ca(&cluster.name);
    let bundle = trust.bundle(&cluster.name);
    let ca_source = if args.ca_in_cluster {
        CaSource::Cluster
    } else {
        CaSource::Values
    };
    if trust.is_bundle() && mesh_ca.is_some() && ca_source == CaSource::Values && !args.show_secrets
    {
        bail!(
            "cluster {:?} has its CA key in the mesh file {} (ca.key), and the chart takes it only as a value (tls.ca.key, in clear): pass --show-secrets to print it and keep the output in a Secret, not in Git; or pass --ca-in-cluster to print only its certificate and the bundle (the key stays in the cluster's Secret cilium-ca; needs certgen or cert-manager in your values)",
            cluster.name,
            mesh_path.display()
        );
    }
    if mesh_ca.is_some() && ca_source == CaSource::Values && !args.show_secrets {
        bail!(
            "the mesh file {} has a CA (ca:), and the chart takes its key only as a value (tls.ca.key, in clear): pass --show-secrets to print it and keep the output in a Secret (kubectl create secret generic … --from-file=values.yaml=/dev/stdin), not in Git; or, with tls.auto.method=cronJob, pass --ca-in-cluster to leave the key in each cluster's Secret cilium-ca (kubectl mesh ca sync)",
            mesh_path.display()
        );
    }
    let parsed = read_values_files(&args.values)?;
    let files: Vec<ValuesFile> = parsed
        .iter()
        .map(|(name, values)| ValuesFile { name, values })
        .collect();
    let target = Target {
        mesh: &mesh,
        cluster,
        mesh_ca,
        now: time::OffsetDateTime::now_utc(),
        bundle: bundle.as_ref(),
    };
    let out = values(&files, &target, ca_source)
        .with_context(|| format!("values for cluster {:?}", cluster.name))?;
    if files.is_empty() {
        errln!(
            "note: no values files given (-f): nothing was checked against the mesh file, and nonMasqueradeCIDRs / clustermesh.config.clusters hold the mesh's entries only (Helm replaces lists: yours would be lost)"
        );
    }
    match args.output.unwrap_or(Output::Yaml) {
        Output::Json => super::print_structured(Output::Json, &out)?,
        Output::Yaml => {
            let text = crate::yaml::emit(&out)?;
            super::out(&format!(
                "# kubectl mesh values --cluster {}: layer after your own values files; regenerate, do not edit\n{text}",
                cluster.name
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The values files, read and parsed in order (`null` for an empty one), each named by its path.
pub(super) fn read_values_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Value)>> {
    let mut parsed = Vec::new();
    for path in paths {
        let text = read_text(path, MAX_VALUES_FILE)
            .with_context(|| format!("cannot read the values file {}", path.display()))?;
        let value = crate::yaml::parse(&text).map_err(|e| {
            let at = e.line.map(|l| format!(" (line {l})")).unwrap_or_default();
            anyhow::anyhow!(
                "the values file {} is not YAML{at}: {}",
                path.display(),
                e.message
            )
        })?;
        if !(value.is_object() || value.is_null()) {
            bail!(
                "the values file {} is not a mapping of Helm values",
                path.display()
            );
        }
        parsed.push((path.display().to_string(), value));
    }
    Ok(parsed)
}
