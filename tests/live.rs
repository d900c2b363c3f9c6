//! The live commands end to end: the built binary against in-memory API servers (one per
//! cluster, several contexts in one kubeconfig), seeded with the real chart output.

mod common;

use common::lab::{Lab, Spec};
use predicates::prelude::*;
use serde_json::Value;

fn two() -> Vec<Spec> {
    vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)]
}

fn json_out(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn connect_status_disconnect_two_clusters() {
    let Some(lab) = Lab::start(&two()) else {
        return;
    };
    // Before connecting: reachable, but not connected.
    let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_out(&out);
    assert_eq!(report["healthy"], false);

    lab.cmd().arg("connect").assert().success().stdout(
        predicate::str::contains("west: wrote").and(predicate::str::contains("east: wrote")),
    );

    // The endpoints are recorded, with the user's comments kept.
    let mesh = std::fs::read_to_string(lab.mesh()).unwrap();
    assert!(
        mesh.contains("# The lab's mesh.") && mesh.contains("# east cluster"),
        "{mesh}"
    );
    assert!(
        mesh.contains("clustermesh: {port: 32380, ips: [172.18.0.4, 172.18.0.5]}"),
        "{mesh}"
    );
    assert!(
        mesh.contains("clustermesh: {port: 32379, ips: [172.18.0.2, 172.18.0.3]}"),
        "{mesh}"
    );

    // west dials east at every Ready node of east, through the chart's own objects.
    let secret = lab.secret("west", "cilium-clustermesh").unwrap();
    assert_eq!(secret.len(), 1, "{secret:?}");
    assert_eq!(secret[0].0, "east");
    assert!(
        secret[0].1.contains("- https://east.mesh.cilium.io:32380"),
        "{}",
        secret[0].1
    );
    assert_eq!(
        lab.host_aliases("west"),
        [
            ("172.18.0.4".to_string(), "east.mesh.cilium.io".to_string()),
            ("172.18.0.5".to_string(), "east.mesh.cilium.io".to_string())
        ]
    );
    assert!(
        lab.secret("east", "cilium-clustermesh").unwrap()[0]
            .1
            .contains("west.mesh.cilium.io:32379")
    );

    // Healthy, and a second run changes nothing.
    let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
    let report = json_out(&out);
    assert_eq!(report["healthy"], true, "{report:#}");
    assert_eq!(out.status.code(), Some(0));
    let writes = lab.total_writes();
    let before = std::fs::read_to_string(lab.mesh()).unwrap();
    lab.cmd()
        .arg("connect")
        .assert()
        .success()
        .stdout(predicate::str::contains("west: up to date"));
    assert_eq!(lab.total_writes(), writes);
    assert_eq!(std::fs::read_to_string(lab.mesh()).unwrap(), before);

    // Disconnect east: gone from west, west gone from east, endpoint dropped from the file.
    lab.cmd().args(["disconnect", "east"]).assert().success();
    assert!(lab.secret("west", "cilium-clustermesh").unwrap().is_empty());
    assert!(lab.secret("east", "cilium-clustermesh").unwrap().is_empty());
    assert!(lab.host_aliases("west").is_empty());
    assert!(lab.host_aliases("east").is_empty());
    let mesh = std::fs::read_to_string(lab.mesh()).unwrap();
    assert!(!mesh.contains("32380"), "{mesh}");
    assert!(mesh.contains("# east cluster"), "{mesh}");
}
