//! `render` against the real Cilium chart: for every scenario the repository carries (the shared
//! fixtures in `tests/data/fixtures`, and the reference cases `tests/refcases/make_refcases.py`
//! renders into `tests/data/refcases`), the post-renderer's output for each cluster must be
//! equivalent to the chart rendered with that cluster's own values (`common::equiv`). A scenario
//! with a `ca.crt` is a mesh with one CA: the render's `cilium-ca` must hold exactly that CA; one
//! with `ca-<cluster>.crt` is a mesh of several CAs (`trust: bundle`): each cluster's `cilium-ca`
//! must be its own, and the chart's CA bundle (rendered with every cluster's CA) must match.

mod common;

use std::path::{Path, PathBuf};

/// The scenario directories under `root` (each has a `mesh.yaml`); none is an error.
fn scenarios(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("mesh.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no scenario (a directory with mesh.yaml) in {}",
        root.display()
    );
    dirs
}

/// The clusters a scenario has expected renders for (`expected-<cluster>.yaml`), sorted.
fn clusters(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let cluster = name.strip_prefix("expected-")?.strip_suffix(".yaml")?;
            Some(cluster.to_string())
        })
        .collect();
    names.sort();
    names
}

/// Renders every cluster of every scenario under `root`; returns (checked, failures).
fn check_all(root: &Path) -> (usize, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in scenarios(root) {
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        let names = clusters(&dir);
        assert!(!names.is_empty(), "{scenario}: no expected-<cluster>.yaml");
        for cluster in names {
            // One CA for the mesh (ca.crt), or in a mesh of several CAs the cluster's own.
            let ca = std::fs::read_to_string(dir.join(format!("ca-{cluster}.crt")))
                .or_else(|_| std::fs::read_to_string(dir.join("ca.crt")))
                .ok();
            let name = format!("{scenario}/{cluster}");
            let out = common::kubectl_mesh(tmp.path())
                .args(["render", "--mesh"])
                .arg(dir.join("mesh.yaml"))
                .args(["--cluster", &cluster])
                .pipe_stdin(dir.join("base.yaml"))
                .unwrap()
                .output()
                .unwrap();
            checked += 1;
            if !out.status.success() {
                failures.push(format!(
                    "{name}: render failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
            let expected =
                std::fs::read_to_string(dir.join(format!("expected-{cluster}.yaml"))).unwrap();
            let actual = String::from_utf8(out.stdout).unwrap();
            if let Err(problems) = common::equiv::equivalent(&expected, &actual, ca.as_deref()) {
                failures.push(format!("{name}:\n{}", common::equiv::report(&problems)));
            }
        }
    }
    (checked, failures)
}

fn run(root: &Path, what: &str) {
    let (checked, failures) = check_all(root);
    eprintln!(
        "{what}: {checked} cluster renders checked, {} not equivalent",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} renders are not equivalent to the chart:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_shared_fixture_is_equivalent_to_the_chart() {
    run(&common::data("fixtures"), "shared fixture");
}

#[test]
fn every_generated_reference_case_is_equivalent_to_the_chart() {
    run(
        &common::data("refcases"),
        "generated reference case (make_refcases.py)",
    );
}
