//! `kubectl mesh version`: the version Cargo.toml says, the commit it was built from, and the
//! Cilium chart versions render is verified against; `-o json|yaml`; a closed stdout.

mod common;

use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-mesh"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `git rev-parse --short=12 HEAD` of this checkout, when it is one.
fn head() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn json_has_the_version_the_commit_and_the_verified_charts() {
    let v: Value = serde_json::from_str(&stdout(&["version", "-o", "json"])).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["version", "commit", "verifiedCharts"]);
    assert_eq!(
        v["version"],
        format!("v{}", common::cargo_version(&common::repo()))
    );

    // Built from this checkout: the commit is HEAD's (build.rs reruns when HEAD moves).
    let commit = v["commit"].as_str().unwrap();
    match head() {
        Some(head) => assert_eq!(commit, head),
        None => assert_eq!(commit, "unknown"),
    }

    let charts: Vec<&str> = v["verifiedCharts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(!charts.is_empty());
    let parsed: Vec<Vec<u32>> = charts
        .iter()
        .map(|c| {
            let parts: Vec<u32> = c.split('.').map(|n| n.parse().unwrap()).collect();
            assert_eq!(parts.len(), 3, "{c} is not a chart version X.Y.Z");
            parts
        })
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] < w[1]),
        "not ascending: {charts:?}"
    );

    // YAML says the same; the plain form names the same version, commit and charts.
    let y: Value = serde_saphyr::from_str(&stdout(&["version", "-o", "yaml"])).unwrap();
    assert_eq!(y, v);
    let plain = stdout(&["version"]);
    let mut lines = plain.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "kubectl-mesh {} (commit {commit})",
            v["version"].as_str().unwrap()
        )
    );
    assert_eq!(
        lines.next().unwrap(),
        format!("verified against Cilium charts: {}", charts.join(", "))
    );
    assert_eq!(lines.next(), None);
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    for args in [&["version"][..], &["version", "-o", "json"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-mesh"))
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn completion_offers_the_version_command() {
    let script = stdout(&["completion", "bash"]);
    assert!(
        script.contains("version"),
        "bash completion does not list `version`"
    );
    let out = run(&["version", "-o", "toml"]);
    assert_eq!(out.status.code(), Some(2));
}
