//! `render` against the real Cilium chart: for every scenario (the shared fixtures, and the
//! reference cases `tests/refcases/make_refcases.py` renders into `target/refcases`), the
//! post-renderer's output for each cluster must be equivalent to the chart rendered with that
//! cluster's own values, by `../shared/tools/mesh_equiv.py`.

mod common;

use std::path::{Path, PathBuf};

fn scenarios(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("mesh.yaml").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Renders every cluster of every scenario under `root`; returns (checked, failures).
fn check_all(root: &Path, shared: &Path, py: &Path) -> (usize, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in scenarios(root) {
        let mut expected: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("expected-"))
            })
            .collect();
        expected.sort();
        for exp in expected {
            let cluster = exp
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_start_matches("expected-")
                .to_string();
            let name = format!("{}/{cluster}", dir.file_name().unwrap().to_string_lossy());
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
            let actual = tmp.path().join("actual.yaml");
            std::fs::write(&actual, &out.stdout).unwrap();
            let ca = dir.join("ca.crt");
            if let Err(report) = common::mesh_equiv(
                py,
                shared,
                &exp,
                &actual,
                ca.is_file().then_some(ca.as_path()),
            ) {
                failures.push(format!("{name}:\n{report}"));
            }
        }
    }
    (checked, failures)
}

fn run(root: &Path, what: &str) {
    let Some(shared) = common::shared() else {
        return common::skip("../shared is absent: no reference material to compare against");
    };
    let Some(py) = common::python() else {
        return common::skip(
            "no python with pyyaml and cryptography (run .ci/run, or set MESH_PYTHON)",
        );
    };
    if scenarios(root).is_empty() {
        return common::skip(&format!("no {what} scenarios in {}", root.display()));
    }
    let (checked, failures) = check_all(root, &shared, &py);
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
    let root = common::repo().join("../shared/fixtures/cilium");
    run(&root, "shared fixture");
}

#[test]
fn every_generated_reference_case_is_equivalent_to_the_chart() {
    run(
        &common::repo().join("target/refcases"),
        "generated reference (make_refcases.py)",
    );
}
