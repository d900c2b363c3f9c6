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
    let lab = Lab::start(&two());
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

    // Healthy once the agents report each other ready, and a second run changes nothing.
    let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
    assert_eq!(
        json_out(&out)["healthy"],
        false,
        "config alone is not healthy"
    );
    lab.script_agents_healthy();
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

#[test]
fn dry_run_prints_the_objects_and_changes_nothing() {
    let lab = Lab::start(&two());
    let before = std::fs::read_to_string(lab.mesh()).unwrap();
    let out = lab.cmd().args(["connect", "--dry-run"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("# cluster west (context kind-west)"),
        "{text}"
    );
    assert!(
        text.contains("kind: Secret") && text.contains("name: cilium-clustermesh"),
        "{text}"
    );
    assert!(text.contains("east.mesh.cilium.io"), "{text}");
    assert!(
        text.contains("clustermesh: {port: 32380, ips: [172.18.0.4, 172.18.0.5]}"),
        "{text}"
    );
    assert_eq!(lab.total_writes(), 0);
    assert_eq!(std::fs::read_to_string(lab.mesh()).unwrap(), before);

    lab.cmd().arg("connect").assert().success();
    let (writes, mesh) = (
        lab.total_writes(),
        std::fs::read_to_string(lab.mesh()).unwrap(),
    );
    let out = lab
        .cmd()
        .args(["disconnect", "east", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("would drop the endpoint of east"));
    assert_eq!(lab.total_writes(), writes);
    assert_eq!(std::fs::read_to_string(lab.mesh()).unwrap(), mesh);
}

#[test]
fn interrupted_connect_converges_and_keeps_unknown_peers() {
    let lab = Lab::start(&two());
    // A peer the user added by hand, unknown to the mesh file: never dropped.
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cilium-clustermesh", "namespace": "kube-system"},
        "data": {"north": "ZW5kcG9pbnRzOgotIGh0dHBzOi8vbm9ydGgubWVzaC5jaWxpdW0uaW86MjM3OQo="}});
    lab.server("west").seed_yaml(&secret.to_string());
    lab.server("east").fail_next_writes(1, 500);
    let out = lab.cmd().arg("connect").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("east: failed"), "{stdout}");
    assert!(stdout.contains("west: keeps peer \"north\""), "{stdout}");
    // A conflict on the rerun is retried on a fresh read.
    lab.server("east").fail_next_writes(1, 409);
    lab.cmd().arg("connect").assert().success();
    let west = lab.secret("west", "cilium-clustermesh").unwrap();
    let keys: Vec<&str> = west.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["north", "east"]);
    assert_eq!(
        lab.secret("east", "cilium-clustermesh").unwrap()[0].0,
        "west"
    );
    let report = json_out(&lab.cmd().args(["status", "-o", "json"]).output().unwrap());
    assert_eq!(
        report["clusters"][0]["peers"]["unknown"],
        serde_json::json!(["north"])
    );
    // Disconnecting east leaves the user's peer alone.
    lab.cmd().args(["disconnect", "east"]).assert().success();
    let west = lab.secret("west", "cilium-clustermesh").unwrap();
    assert_eq!(west.len(), 1);
    assert_eq!(west[0].0, "north");
}

#[test]
fn unreachable_and_hung_clusters_fail_within_the_timeout() {
    let specs = vec![
        Spec::new("west", 1, 32379),
        Spec::new("east", 2, 32380),
        Spec::new("north", 3, 32381),
    ];
    let lab = Lab::start(&specs);
    // east: nothing listens; north: accepts and never answers.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    lab.write_kubeconfig(&[("east", dead_url)]);
    lab.server("north").set_hang(true);
    let started = std::time::Instant::now();
    let out = lab
        .cmd()
        .args(["status", "-o", "json", "--request-timeout", "1s"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let report = json_out(&out);
    let reachable: Vec<bool> = report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reachable"].as_bool().unwrap())
        .collect();
    assert_eq!(reachable, [true, false, false], "{report:#}");
    assert_eq!(report["clusters"][0]["agents"]["ready"], 2);
    // Bounded by the request timeout, not by the hang (generous bound for slow CI machines).
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    lab.server("north").set_hang(false);
}

#[test]
fn three_clusters_through_kubectl_plugin_discovery() {
    let specs = vec![
        Spec::new("west", 1, 32379),
        Spec::new("east", 2, 32380),
        Spec::new("north", 3, 32381),
    ];
    let lab = Lab::start(&specs);
    let kubectl_mesh = |args: &[&str]| lab.kubectl_mesh(args);
    let Some(out) = kubectl_mesh(&["connect"]) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (cluster, peers) in [
        ("west", ["east", "north"]),
        ("east", ["north", "west"]),
        ("north", ["east", "west"]),
    ] {
        let mut keys: Vec<String> = lab
            .secret(cluster, "cilium-clustermesh")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        assert_eq!(keys, peers);
        assert_eq!(lab.host_aliases(cluster).len(), 4);
    }
    lab.script_agents_healthy();
    let out = kubectl_mesh(&["status"]).expect("kubectl ran before");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.starts_with("CLUSTER"), "{table}");
    assert!(table.contains("2/2"), "{table}");
}

#[test]
fn preflight_reports_every_problem_and_ca_sync_fixes_the_ca() {
    let lab = Lab::start(&two());
    // east: a different CA, and an id that is not the mesh file's.
    lab.set_ca("east", &common::data("fixtures/shared-ca-1.17.6"));
    let mut config = lab.get("east", "ConfigMap", "cilium-config").unwrap();
    config["data"]["cluster-id"] = "7".into();
    lab.server("east").seed_yaml(&config.to_string());

    let out = lab.cmd().arg("connect").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(
        err.contains("cluster-id is \"7\" (mesh file: 2)") && err.contains("helm upgrade cilium"),
        "{err}"
    );
    assert!(
        err.contains("cilium-ca differs from cluster west's")
            && err.contains("kubectl mesh ca sync"),
        "{err}"
    );
    assert_eq!(lab.total_writes(), 0);

    // ca sync: dry-run hides key material; the real run makes east's CA west's.
    let out = lab
        .cmd()
        .args(["ca", "sync", "--from", "west", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("<hidden: pass --show-secrets>") && !text.contains("LS0t"),
        "{text}"
    );
    assert_eq!(lab.total_writes(), 0);
    let out = lab
        .cmd()
        .args(["ca", "sync", "--from", "west", "--write-files", "ca"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("east: wrote Secret cilium-ca"), "{text}");
    assert!(
        text.contains("west: cilium-ca already the mesh CA"),
        "{text}"
    );
    assert_eq!(
        lab.get("east", "Secret", "cilium-ca").unwrap()["data"],
        lab.get("west", "Secret", "cilium-ca").unwrap()["data"]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(lab.home().join("ca/ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mesh = std::fs::read_to_string(lab.mesh()).unwrap();
    assert!(
        mesh.contains("ca: {cert: \"ca/ca.crt\", key: \"ca/ca.key\"}"),
        "{mesh}"
    );
    // Only the identity is left, with the command that fixes it.
    let out = lab.cmd().arg("connect").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 problem(s)") && err.contains("cluster-id"),
        "{err}"
    );
}

#[test]
fn init_writes_a_mesh_file_from_the_clusters() {
    let lab = Lab::start(&two());
    let out = lab
        .cmd()
        .args([
            "init",
            "--context",
            "kind-west",
            "--context",
            "kind-east",
            "-f",
            "new.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(lab.home().join("new.yaml")).unwrap();
    let mesh: Value =
        serde_json::to_value(serde_saphyr::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
    assert_eq!(mesh["routingMode"], "native");
    assert_eq!(mesh["clusters"][0]["name"], "west");
    assert_eq!(mesh["clusters"][1]["id"], 2);
    assert_eq!(mesh["clusters"][1]["podCIDR"], "10.1.0.0/16");
    assert_eq!(mesh["clusters"][0]["serviceCIDR"], "10.2.0.0/16");
    lab.cmd()
        .args(["validate", "--mesh", "new.yaml"])
        .assert()
        .success();
    // An existing file is not replaced without --force.
    lab.cmd()
        .args(["init", "--context", "kind-west", "-f", "new.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn render_with_the_recorded_peers_matches_what_connect_wrote() {
    let lab = Lab::start(&two());
    lab.cmd().arg("connect").assert().success();
    // The next `helm upgrade` with the post-renderer renders the same peers.
    let base = common::data("fixtures/hubble-clustermesh-1.17.6/base.yaml");
    let rendered = lab.rendered_secrets(&base, "west", &["cilium-clustermesh"]);
    let live = lab.get("west", "Secret", "cilium-clustermesh").unwrap();
    assert_eq!(rendered[0]["data"], live["data"]);
}

fn trap(version: &'static str, kpr: bool) -> Vec<Spec> {
    let mut specs = vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32379)];
    for s in &mut specs {
        s.version = version;
        s.kube_proxy_replacement = kpr;
    }
    specs
}

fn collisions(report: &Value) -> usize {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["problems"].as_array().unwrap())
        .filter(|p| p["check"] == "nodeport-collision")
        .count()
}

#[test]
fn nodeport_trap_is_caught_by_connect_status_and_init() {
    let lab = Lab::start(&trap("v1.17.6", true));
    let out = lab.cmd().arg("connect").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("connect says:\n{err}");
    assert!(
        err.contains("clusters west, east all expose the clustermesh-apiserver on NodePort 32379"),
        "{err}"
    );
    assert!(
        err.contains("#24692")
            && err.contains("apiserverNodePort")
            && err.contains("west: 32379, east: 32380"),
        "{err}"
    );
    assert_eq!(lab.total_writes(), 0);

    let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(collisions(&json_out(&out)), 2);
    let out = lab.cmd().arg("status").output().unwrap();
    eprintln!("status says:\n{}", String::from_utf8_lossy(&out.stdout));

    let out = lab
        .cmd()
        .args(["init", "--context", "kind-west", "--context", "kind-east"])
        .output()
        .unwrap();
    let (mesh, notes) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("init says:\n{notes}");
    assert!(
        notes.contains("wrote distinct apiserverNodePort values (west: 32379, east: 32380)"),
        "{notes}"
    );
    assert!(
        mesh.contains("apiserverNodePort: 32379") && mesh.contains("apiserverNodePort: 32380"),
        "{mesh}"
    );
}

#[test]
fn nodeport_trap_needs_same_port_kpr_and_cilium_before_1_19() {
    for (specs, why) in [
        (two(), "distinct ports"),
        (trap("v1.19.6", true), "Cilium 1.19"),
        (trap("v1.17.6", false), "no kube-proxy replacement"),
    ] {
        let lab = Lab::start(&specs);
        let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
        assert_eq!(collisions(&json_out(&out)), 0, "{why}");
        let out = lab.cmd().arg("connect").output().unwrap();
        assert!(
            out.status.success(),
            "{why}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab.script_agents_healthy();
        let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
        assert_eq!(json_out(&out)["healthy"], true, "{why}");
    }
}

#[test]
fn status_wait_returns_when_healthy_or_at_the_timeout() {
    let lab = Lab::start(&two());
    lab.cmd().arg("connect").assert().success();
    lab.script_agents_healthy();
    lab.cmd()
        .args(["status", "--wait", "--timeout", "30s"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .success()
        .stdout(predicate::str::contains("yes"));
    // One agent of east not ready: --wait gives up at the timeout and says what is missing.
    let mut ds = lab.get("east", "DaemonSet", "cilium").unwrap();
    ds["status"]["numberReady"] = 1.into();
    lab.server("east").seed_yaml(&ds.to_string());
    lab.cmd()
        .args(["status", "--wait", "--timeout", "1s"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("timed out")
                .and(predicate::str::contains("east: 1/2 Cilium agents ready")),
        );
}

#[test]
fn host_alias_drift_is_reported_after_a_node_goes() {
    let lab = Lab::start(&two());
    lab.cmd().arg("connect").assert().success();
    // east loses a node: west's aliases still point at it.
    assert!(lab.server("east").delete("v1", "Node", None, "east-worker"));
    let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json_out(&out);
    let problem = report["clusters"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["check"] == "host-aliases")
        .cloned()
        .unwrap_or_else(|| panic!("{report:#}"));
    assert!(
        problem["message"].as_str().unwrap().contains("172.18.0.5"),
        "{problem}"
    );
    // Rediscovering records east's remaining node and heals the mesh.
    lab.cmd()
        .args(["connect", "--rediscover"])
        .assert()
        .success();
    assert_eq!(lab.host_aliases("west").len(), 1);
    assert!(
        std::fs::read_to_string(lab.mesh())
            .unwrap()
            .contains("ips: [172.18.0.4]")
    );
    lab.script_agents_healthy();
    let report = json_out(&lab.cmd().args(["status", "-o", "json"]).output().unwrap());
    assert_eq!(report["healthy"], true, "{report:#}");
}

#[test]
fn the_seed_lab_workflow_init_ca_sync_connect_status_disconnect() {
    let lab = Lab::start(&two());
    // east was installed with its own CA, as two independent `helm install`s would do.
    lab.set_ca("east", &common::data("fixtures/shared-ca-1.17.6"));

    let run = |args: &[&str]| {
        let out = lab.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "kubectl mesh {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&[
        "init",
        "--context",
        "kind-west",
        "--context",
        "kind-east",
        "-f",
        "mesh.yaml",
        "--force",
    ]);
    run(&["validate"]);
    let out = lab.cmd().arg("connect").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "connect must refuse two CAs");
    // east's CA becomes the mesh's: the certificates west's CA signed must be re-issued.
    let synced = run(&["ca", "sync", "--from", "east"]);
    assert!(synced.contains("west: wrote Secret cilium-ca"), "{synced}");
    assert!(
        synced.contains("west: must re-issue") && synced.contains("hubble-server-certs"),
        "{synced}"
    );
    run(&["connect"]);
    lab.script_agents_healthy();
    let status = run(&["status"]);
    assert!(
        status.contains("1/1") && !status.contains("Problems"),
        "{status}"
    );
    run(&["disconnect", "east"]);
    let out = lab.cmd().args(["status", "-o", "json"]).output().unwrap();
    let report = json_out(&out);
    assert_eq!(
        report["clusters"][0]["peers"]["configured"],
        serde_json::json!([])
    );
}

/// The agents' or apiserver's etcd config for `peer` in Secret `name` of `cluster`.
fn etcd_config(lab: &Lab, cluster: &str, name: &str, peer: &str) -> String {
    lab.secret(cluster, name)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == peer)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{cluster}: Secret {name} has no {peer}"))
}

#[test]
fn connect_with_kvstoremesh_on_1_17_and_1_20_writes_what_render_renders() {
    for scenario in ["kvstoremesh-1.17.6", "kvstoremesh-1.20.0"] {
        let base = common::data(&format!("refcases/{scenario}/base.yaml"));
        let lab = Lab::start_from(&base, &two());
        lab.cmd().arg("connect").assert().success();
        // The agents dial their local KVStoreMesh; the apiserver dials east, pinned by host
        // aliases on the apiserver, not on the agents.
        let agents = etcd_config(&lab, "west", "cilium-clustermesh", "east");
        assert!(
            agents.contains("https://clustermesh-apiserver.kube-system.svc:2379"),
            "{scenario}: {agents}"
        );
        let kvstoremesh = etcd_config(&lab, "west", "cilium-kvstoremesh", "east");
        assert!(
            kvstoremesh.contains("https://east.mesh.cilium.io:32380"),
            "{scenario}: {kvstoremesh}"
        );
        assert!(lab.host_aliases("west").is_empty(), "{scenario}");
        let apiserver = lab
            .get("west", "Deployment", "clustermesh-apiserver")
            .unwrap();
        assert_eq!(
            apiserver["spec"]["template"]["spec"]["hostAliases"][0]["hostnames"][0],
            "east.mesh.cilium.io",
            "{scenario}"
        );
        // 1.20 admits the peers by name.
        let users = lab.get("west", "ConfigMap", "clustermesh-remote-users");
        if scenario.ends_with("1.20.0") {
            let users = users.expect("clustermesh-remote-users");
            assert!(
                users["data"]["users.yaml"]
                    .as_str()
                    .unwrap()
                    .contains("remote-east"),
                "{users}"
            );
        }
        lab.script_agents_healthy();
        let report = json_out(&lab.cmd().args(["status", "-o", "json"]).output().unwrap());
        assert_eq!(report["healthy"], true, "{scenario}: {report:#}");
        // Rendering the chart with the recorded endpoints gives the same Secrets.
        let names = ["cilium-clustermesh", "cilium-kvstoremesh"];
        let rendered = lab.rendered_secrets(&base, "west", &names);
        for (name, rendered) in names.iter().zip(&rendered) {
            assert_eq!(
                rendered["data"],
                lab.get("west", "Secret", name).unwrap()["data"],
                "{scenario}: {name}"
            );
        }
        lab.cmd().args(["disconnect", "east"]).assert().success();
        assert!(
            lab.secret("west", "cilium-kvstoremesh").unwrap().is_empty(),
            "{scenario}"
        );
        let apiserver = lab
            .get("west", "Deployment", "clustermesh-apiserver")
            .unwrap();
        assert!(
            apiserver["spec"]["template"]["spec"]["hostAliases"].is_null(),
            "{scenario}"
        );
    }
}
