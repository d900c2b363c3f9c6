//! Shared helpers for the integration tests: the built binary in a hermetic environment, where
//! the reference material lives, and what a test needs from the machine.
#![allow(dead_code)]

pub mod cilium;
pub mod equiv;
pub mod etcd;
pub mod lab;
pub mod meshlab;
pub mod pki;
pub mod probe;

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository (the project's shared reference material): only the test
/// that compares the Rust equivalence check with the Python one
/// (`tests/equiv_agreement.rs`) needs it.
pub fn shared() -> Option<PathBuf> {
    let p = repo().join("../shared");
    p.join("tools/mesh_equiv.py").is_file().then_some(p)
}

/// Test data the repository carries (`tests/data/…`): the Cilium charts, the shared fixtures and
/// the reference cases rendered from the charts. Missing data fails the test.
pub fn data(rel: &str) -> PathBuf {
    let p = repo().join("tests/data").join(rel);
    assert!(
        p.exists(),
        "{} is missing: the repository's test data (tests/data) is incomplete",
        p.display()
    );
    p
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

/// The one switch that lets a test run go without a prerequisite: a comma-separated list of
/// prerequisite names (`kubectl`, `etcd`, `python`, `shared`) or `all`. Without it, a missing
/// prerequisite fails the test with the command that installs it.
pub const OPT_OUT: &str = "KUBECTL_MESH_TEST_OPT_OUT";

/// Something a test needs from the machine.
pub struct Prereq {
    /// The name `KUBECTL_MESH_TEST_OPT_OUT` takes.
    pub name: &'static str,
    pub what: &'static str,
    pub install: &'static str,
}

pub const KUBECTL: Prereq = Prereq {
    name: "kubectl",
    what: "kubectl (for kubectl's plugin discovery)",
    install: "apt-get install -y kubernetes-client   # or: scripts/test",
};

pub const ETCD: Prereq = Prereq {
    name: "etcd",
    what: "etcd (Debian's etcd-server, a real etcd per test cluster)",
    install: "apt-get install -y --no-install-recommends etcd-server   # or: scripts/test",
};

pub const PYTHON: Prereq = Prereq {
    name: "python",
    what: "target/venv (or $MESH_PYTHON) with helm-python-sdk, pyyaml and cryptography",
    install: "python3 -m venv target/venv && target/venv/bin/pip install helm-python-sdk pyyaml cryptography   # or: scripts/test",
};

pub const SHARED: Prereq = Prereq {
    name: "shared",
    what: "../shared beside the repository (its tools/mesh_equiv.py is the Python reference checker)",
    install: "place the project's shared material at ../shared (CI runs with it there)",
};

fn opted_out(name: &str) -> bool {
    std::env::var(OPT_OUT)
        .is_ok_and(|v| v.split(',').map(str::trim).any(|n| n == "all" || n == name))
}

/// `found`, when it is there. When it is not: the test fails, saying what is missing and the
/// command that installs it, unless the user opted out of `prereq` with
/// `KUBECTL_MESH_TEST_OPT_OUT`; then it says `OPTED OUT` on the test process's stderr (past the
/// test harness's output capture, so it shows in every run) and gives `None`.
pub fn require<T>(prereq: &Prereq, found: Option<T>) -> Option<T> {
    if found.is_some() {
        return found;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if opted_out(prereq.name) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "OPTED OUT: {test}: did not run what needs {} ({OPT_OUT} names {:?}); install: {}",
            prereq.what,
            prereq.name,
            prereq.install
        );
        return None;
    }
    panic!(
        "{test} needs {}, which is missing.\n  install it: {}\n  or opt out explicitly: {OPT_OUT}={} (or =all)",
        prereq.what, prereq.install, prereq.name
    );
}

/// A Python with `yaml` and `cryptography` (and `helm_python` when `helm` is set): `$MESH_PYTHON`,
/// or the venv that `scripts/test` makes (`target/venv`).
pub fn python(helm: bool) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("MESH_PYTHON").map(PathBuf::from),
        Some(repo().join("target/venv/bin/python")),
    ];
    let probe = if helm {
        "import helm_python, yaml, cryptography"
    } else {
        "import yaml, cryptography"
    };
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", probe])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Cargo.toml's `[package]` version.
pub fn cargo_version(repo: &Path) -> String {
    let text = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let mut in_package = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("version = \"") {
            return rest.trim_end_matches('"').to_string();
        }
    }
    panic!("no [package] version in Cargo.toml")
}
