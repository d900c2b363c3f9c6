//! Shared helpers for the integration tests: the built binary in a hermetic environment, and
//! where the reference material lives.
#![allow(dead_code)]

pub mod etcd;
pub mod lab;
pub mod meshlab;
pub mod pki;

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository (read-only reference material), if present.
pub fn shared() -> Option<PathBuf> {
    let p = repo().join("../shared");
    p.is_dir().then_some(p)
}

/// The binary, with an environment that cannot leak the developer's kube config or Helm context.
pub fn kubectl_mesh(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("kubectl-mesh").expect("binary is built");
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", home.join("kubeconfig"));
    cmd
}

/// A Python with `yaml` and `cryptography` for `mesh_equiv.py`: `$MESH_PYTHON`, the venv that
/// `.ci/run` makes (`target/venv`), or `python3`.
pub fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("MESH_PYTHON").map(PathBuf::from),
        Some(repo().join("target/venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import yaml, cryptography"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Runs `mesh_equiv.py EXPECTED ACTUAL [--ca CA]`; `Err` carries its report.
pub fn mesh_equiv(
    py: &Path,
    shared: &Path,
    expected: &Path,
    actual: &Path,
    ca: Option<&Path>,
) -> Result<(), String> {
    let mut cmd = Command::new(py);
    cmd.arg(shared.join("tools/mesh_equiv.py"))
        .arg(expected)
        .arg(actual);
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Says, visibly, why a test did not run its checks.
pub fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
}
