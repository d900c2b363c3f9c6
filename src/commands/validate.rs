//! `kubectl mesh validate`: all problems of the mesh file at once.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use super::{EXIT_PROBLEMS, print_structured};
use crate::cli::ValidateArgs;
use crate::mesh::{Mesh, MeshError, Problem, Severity, validate};
use crate::render::Ca;

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let text = super::read_text(path, 16 << 20)
        .with_context(|| format!("cannot read the mesh file {}", path.display()))?;
    let (mesh, mut problems) = match Mesh::parse(&text) {
        Ok(mesh) => {
            let problems = validate(&mesh);
            (Some(mesh), problems)
        }
        // Shaped wrong (unknown fields, wrong types): every such problem, reported like the rest.
        Err(MeshError::Invalid(problems)) => (None, problems),
        // Unreadable as a mesh file: exit 2 as before, and still a report for `-o json|yaml`.
        Err(e) => {
            if let Some(format) = args.output {
                print_structured(
                    format,
                    &json!({"file": path.display().to_string(), "valid": false, "problems": [
                        {"severity": "error", "cluster": null, "field": null, "message": e.to_string()}]}),
                )?;
                return Ok(ExitCode::from(super::EXIT_ERROR));
            }
            return Err(e).with_context(|| format!("mesh file {}", path.display()));
        }
    };
    if let Some(mesh) = &mesh {
        problems.extend(ca_problems(mesh, path));
        problems.extend(cluster_ca_problems(mesh, path));
    }
    problems.sort_by_key(|p| p.severity);
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
                    mesh.as_ref().map_or(0, |m| m.clusters.len())
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

/// What render would find wrong with the `ca:` files: missing, not PEM, a key of another
/// certificate, not a CA, expired; and a key others can read (a warning).
fn ca_problems(mesh: &Mesh, mesh_path: &std::path::Path) -> Vec<Problem> {
    use std::os::unix::fs::PermissionsExt;
    let Some(files) = &mesh.ca else {
        return Vec::new();
    };
    let problem = |severity, field: &str, message: String| Problem {
        severity,
        cluster: None,
        field: field.to_string(),
        message,
    };
    let dir = super::mesh_dir(mesh_path);
    let (cert_path, key_path) = (dir.join(&files.cert), dir.join(&files.key));
    let mut problems = Vec::new();
    let cert = super::read_text(&cert_path, super::MAX_PEM_FILE)
        .map_err(|e| {
            problems.push(problem(
                Severity::Error,
                "ca.cert",
                format!("cannot read {}: {e}", cert_path.display()),
            ))
        })
        .ok();
    let key = super::read_text(&key_path, super::MAX_PEM_FILE)
        .map_err(|e| {
            problems.push(problem(
                Severity::Error,
                "ca.key",
                format!("cannot read {}: {e}", key_path.display()),
            ))
        })
        .ok();
    if let Ok(meta) = std::fs::metadata(&key_path)
        && meta.is_file()
        && meta.permissions().mode() & 0o077 != 0
    {
        problems.push(problem(
            Severity::Warning,
            "ca.key",
            format!(
                "{} is readable by {} (mode {:04o}): the mesh CA key signs every certificate of the mesh; run `chmod 600 {}`",
                key_path.display(),
                if meta.permissions().mode() & 0o007 != 0 { "everyone" } else { "its group" },
                meta.permissions().mode() & 0o777,
                key_path.display()
            ),
        ));
    }
    if let (Some(cert), Some(key)) = (cert, key) {
        let checked =
            Ca::from_pem(&cert, &key).and_then(|ca| ca.usable_at(time::OffsetDateTime::now_utc()));
        if let Err(e) = checked {
            problems.push(problem(
                Severity::Error,
                "ca",
                format!("{} / {}: {e}", cert_path.display(), key_path.display()),
            ));
        }
    }
    problems
}

/// What render would find wrong with the clusters' own `ca:` files (a mesh of several CAs): the
/// certificate missing, not one CA certificate, expired; a key that is not its own; a key others
/// can read (a warning).
fn cluster_ca_problems(mesh: &Mesh, mesh_path: &std::path::Path) -> Vec<Problem> {
    use std::os::unix::fs::PermissionsExt;
    let dir = super::mesh_dir(mesh_path);
    let now = time::OffsetDateTime::now_utc();
    let mut problems = Vec::new();
    for c in &mesh.clusters {
        let Some(files) = &c.ca else { continue };
        let mut problem = |severity, field: &str, message: String| {
            problems.push(Problem {
                severity,
                cluster: Some(c.name.clone()),
                field: field.to_string(),
                message,
            })
        };
        let cert_path = dir.join(&files.cert);
        let cert = match super::read_text(&cert_path, super::MAX_PEM_FILE) {
            Ok(cert) => cert,
            Err(e) => {
                problem(
                    Severity::Error,
                    "ca.cert",
                    format!("cannot read {}: {e}", cert_path.display()),
                );
                continue;
            }
        };
        let blocks = crate::render::certs::pem_blocks(&cert).len();
        if blocks > 1 {
            problem(
                Severity::Error,
                "ca.cert",
                format!(
                    "{} holds {blocks} certificates; give exactly one CA certificate per cluster",
                    cert_path.display()
                ),
            );
        }
        let checked = match &files.key {
            None => crate::render::certs::check_ca_cert(&cert, now)
                .map_err(|e| format!("{}: {e}", cert_path.display())),
            Some(key) => {
                let key_path = dir.join(key);
                if let Ok(meta) = std::fs::metadata(&key_path)
                    && meta.is_file()
                    && meta.permissions().mode() & 0o077 != 0
                {
                    problem(
                        Severity::Warning,
                        "ca.key",
                        format!(
                            "{} is readable by others (mode {:04o}): it signs every certificate of cluster {}; run `chmod 600 {}`",
                            key_path.display(),
                            meta.permissions().mode() & 0o777,
                            c.name,
                            key_path.display()
                        ),
                    );
                }
                match super::read_text(&key_path, super::MAX_PEM_FILE) {
                    Err(e) => Err(format!("cannot read {}: {e}", key_path.display())),
                    Ok(key) => Ca::from_pem(&cert, &key)
                        .and_then(|ca| ca.usable_at(now))
                        .map_err(|e| {
                            format!("{} / {}: {e}", cert_path.display(), key_path.display())
                        }),
                }
            }
        };
        if let Err(message) = checked {
            problem(Severity::Error, "ca", message);
        }
    }
    problems
}
