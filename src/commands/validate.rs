//! `kubectl mesh validate`: all problems of the mesh file at once.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use super::{EXIT_PROBLEMS, print_structured};
use crate::cli::ValidateArgs;
use crate::mesh::{Mesh, Severity, validate};

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mesh file {}", path.display()))?;
    let mesh = Mesh::parse(&text).with_context(|| format!("mesh file {}", path.display()))?;
    let problems = validate(&mesh);
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    match args.output {
        Some(format) => {
            let items: Vec<_> = problems
                .iter()
                .map(|p| {
                    json!({
                        "severity": if p.severity == Severity::Error { "error" } else { "warning" },
                        "cluster": p.cluster, "field": p.field, "message": p.message,
                    })
                })
                .collect();
            print_structured(
                format,
                &json!({"file": path.display().to_string(), "valid": errors == 0, "problems": items}),
            )?;
        }
        None => {
            for p in &problems {
                outln!("{}: {p}", path.display());
            }
            if errors == 0 {
                outln!(
                    "{}: valid mesh of {} clusters ({warnings} warning(s))",
                    path.display(),
                    mesh.clusters.len()
                );
            } else {
                outln!(
                    "{}: {errors} error(s), {warnings} warning(s)",
                    path.display()
                );
            }
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    })
}
