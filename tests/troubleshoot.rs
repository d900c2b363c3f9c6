//! `kubectl mesh troubleshoot` end to end: the built binary against the lab's in-memory API
//! servers (the clusters' objects) and real etcds on 127.0.0.1 (their clustermesh-apiservers),
//! with TLS and client-certificate auth from certificates the tests issue. One test per failure
//! class; each asserts the check id and status in `-o json`, and that every check still ran.
//! Nothing leaves 127.0.0.0/8.

mod common;

use std::time::Duration;

use common::lab::{Lab, Spec};
use common::meshlab::{EtcdLab, loopback_specs};
use common::pki::{self, Ca};
use serde_json::{Value, json};

const CHECKS: [&str; 14] = [
    "identity",
    "max-connected-clusters",
    "peer-config",
    "endpoint-drift",
    "nodeport-collision",
    "dns",
    "tcp",
    "tls-verify",
    "client-cert",
    "ca-equal",
    "cert-expiry",
    "etcd-cluster-config",
    "etcd-heartbeat",
    "etcd-sync",
];

fn pair<'a>(report: &'a Value, from: &str, to: &str) -> &'a Value {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .unwrap_or_else(|| panic!("no pair {from} → {to}: {report:#}"))
}

fn check<'a>(report: &'a Value, from: &str, to: &str, id: &str) -> &'a Value {
    pair(report, from, to)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} for {from} → {to}"))
}

/// The checks of a path that are not ok, as (id, status).
fn problems(report: &Value, from: &str, to: &str) -> Vec<(String, String)> {
    pair(report, from, to)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "ok")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every path has every check, in order, with the stable shape.
fn assert_all_ran(report: &Value) {
    for p in report["pairs"].as_array().unwrap() {
        let ids: Vec<&str> = p["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, CHECKS, "{p:#}");
        for c in p["checks"].as_array().unwrap() {
            assert!(
                ["ok", "warn", "fail"].contains(&c["status"].as_str().unwrap()),
                "{c}"
            );
            assert!(c["message"].is_string() && c["hint"].is_string(), "{c}");
            assert!(c["details"].is_object(), "{c}");
            if c["status"] != "ok" {
                assert!(!c["hint"].as_str().unwrap().is_empty(), "no hint: {c}");
            }
        }
    }
    let s = &report["summary"];
    let total: u64 = ["ok", "warn", "fail"]
        .iter()
        .map(|k| s[k].as_u64().unwrap())
        .sum();
    assert_eq!(
        total as usize,
        report["pairs"].as_array().unwrap().len() * CHECKS.len()
    );
}

fn assert_check(report: &Value, from: &str, to: &str, id: &str, status: &str) -> String {
    let c = check(report, from, to, id);
    assert_eq!(
        c["status"],
        status,
        "{from} → {to} {id}: {c:#}\nproblems: {:?}",
        problems(report, from, to)
    );
    c["message"].as_str().unwrap().to_string()
}

fn hint(report: &Value, from: &str, to: &str, id: &str) -> String {
    check(report, from, to, id)["hint"]
        .as_str()
        .unwrap()
        .to_string()
}

/// No private key and no Secret value in the output.
fn assert_no_secrets(text: &str, lab: &EtcdLab) {
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(!text.contains("BEGIN CERTIFICATE"), "{text}");
    let key_b64: String = lab.ca.pair.key.lines().nth(1).unwrap_or_default().into();
    assert!(!text.contains(&key_b64), "{text}");
}

#[test]
fn a_healthy_two_cluster_mesh_is_all_ok() {
    let Some(lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let (code, report, took) = lab.troubleshoot_json(&[]);
    eprintln!("2 clusters: troubleshoot took {took:?}");
    assert_all_ran(&report);
    for (a, b) in [("west", "east"), ("east", "west")] {
        assert!(problems(&report, a, b).is_empty(), "{report:#}");
    }
    assert_eq!(code, Some(0));
    assert_eq!(report["summary"], json!({"ok": 28, "warn": 0, "fail": 0}));
    // The measured facts.
    let east_port = lab.lab.specs[1].node_port;
    let dns = assert_check(&report, "west", "east", "dns", "ok");
    assert!(
        dns.contains("east.mesh.cilium.io → 127.0.0.1 (host aliases of DaemonSet cilium)"),
        "{dns}"
    );
    let tcp = assert_check(&report, "west", "east", "tcp", "ok");
    assert!(tcp.contains(&format!("127.0.0.1:{east_port}")), "{tcp}");
    let tls = assert_check(&report, "west", "east", "tls-verify", "ok");
    assert!(
        tls.contains("TLS 1.3")
            && tls.contains("CN=clustermesh-apiserver.cilium.io, issued by CN=Cilium CA"),
        "{tls}"
    );
    let client = assert_check(&report, "west", "east", "client-cert", "ok");
    assert!(
        client.contains("CN=remote") && client.contains("accepted by"),
        "{client}"
    );
    let config = assert_check(&report, "west", "east", "etcd-cluster-config", "ok");
    assert!(
        config.contains("etcd 3.") && config.contains("id 2, maxConnectedClusters 255"),
        "{config}"
    );
    let sync = assert_check(&report, "west", "east", "etcd-sync", "ok");
    assert_eq!(sync, "synced: nodes 2, services 1, identities 3, ip 2");
    let peer = assert_check(&report, "east", "west", "peer-config", "ok");
    assert!(
        peer.contains(&format!(
            "https://west.mesh.cilium.io:{}",
            lab.lab.specs[0].node_port
        )),
        "{peer}"
    );
    let details = &check(&report, "west", "east", "tls-verify")["details"];
    assert_eq!(details["addresses"][0]["verified"], true, "{details:#}");

    let (code, text) = lab.troubleshoot_text(&[]);
    eprintln!("troubleshoot says:\n{text}");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("west → east: ok\n"), "{text}");
    assert!(text.contains("  ✓ tls-verify "), "{text}");
    assert!(!text.contains('✗') && !text.contains('⚠'), "{text}");
    assert!(
        text.ends_with("2 path(s): 28 ok, 0 warning(s), 0 failed\n"),
        "{text}"
    );
    assert_no_secrets(&text, &lab);
    assert_no_secrets(&report.to_string(), &lab);
}

#[test]
fn a_healthy_three_cluster_mesh_and_the_named_clusters() {
    let Some(lab) = EtcdLab::start(&["west", "east", "north"]) else {
        return;
    };
    let (code, report, took) = lab.troubleshoot_json(&[]);
    eprintln!("3 clusters (6 paths): troubleshoot took {took:?}");
    assert_all_ran(&report);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 6);
    assert_eq!(report["summary"]["ok"], 6 * 14, "{report:#}");
    assert_eq!(code, Some(0));
    // Only the paths from or to north.
    let (code, report, _) = lab.troubleshoot_json(&["north"]);
    assert_eq!(code, Some(0));
    let pairs: Vec<(String, String)> = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["from"].as_str().unwrap().into(),
                p["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("west", "north"),
        ("east", "north"),
        ("north", "west"),
        ("north", "east"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(pairs, want);
}

#[test]
fn ca_mismatch_fails_ca_equal_tls_verify_and_client_cert_with_ca_sync() {
    let Some(mut lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    // east made its own "Cilium CA", as a separate `helm install` does.
    let other = Ca::new("Cilium CA");
    lab.set_ca("east", &other);
    lab.set_remote_cert("east", &other, &other.issue_valid(&pki::REMOTE));
    let server = other.issue_valid(&pki::SERVER);
    lab.restart_etcd("east", Some(&other), &server);

    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    for (a, b) in [("west", "east"), ("east", "west")] {
        assert_check(&report, a, b, "ca-equal", "fail");
        let tls = assert_check(&report, a, b, "tls-verify", "fail");
        assert!(tls.contains("not issued by the CA"), "{tls}");
        assert_check(&report, a, b, "client-cert", "fail");
        for id in ["ca-equal", "tls-verify", "client-cert"] {
            assert!(
                hint(&report, a, b, id).contains("kubectl mesh ca sync"),
                "{id}: {}",
                hint(&report, a, b, id)
            );
        }
        // What does not depend on the CA still holds.
        for id in ["identity", "peer-config", "endpoint-drift", "dns", "tcp"] {
            assert_check(&report, a, b, id, "ok");
        }
    }
    let (_, text) = lab.troubleshoot_text(&[]);
    eprintln!("troubleshoot says:\n{text}");
    assert!(text.contains("  ✗ ca-equal "), "{text}");
    assert!(text.contains("→ run `kubectl mesh ca sync`"), "{text}");
    assert_no_secrets(&text, &lab);
}

#[test]
fn a_server_certificate_without_the_mesh_name_fails_tls_verify() {
    let Some(mut lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let server = lab.ca.issue_valid(&pki::SERVER_WITHOUT_MESH_NAME);
    lab.restart_etcd("east", None, &server);
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let tls = assert_check(&report, "west", "east", "tls-verify", "fail");
    assert!(
        tls.contains("is not valid for east.mesh.cilium.io")
            && tls.contains("clustermesh-apiserver.cilium.io"),
        "{tls}"
    );
    assert!(hint(&report, "west", "east", "tls-verify").contains("*.mesh.cilium.io"));
    // The handshake went on: the client certificate was still tried, and accepted.
    assert_check(&report, "west", "east", "client-cert", "ok");
    assert_check(&report, "west", "east", "ca-equal", "ok");
    // The agents' etcd client refuses the name too.
    assert_check(&report, "west", "east", "etcd-cluster-config", "fail");
    assert!(problems(&report, "east", "west").is_empty());
}

#[test]
fn a_client_certificate_from_another_ca_fails_client_cert() {
    let Some(lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let other = Ca::new("Cilium CA");
    lab.set_remote_cert("west", &lab.ca, &other.issue_valid(&pki::REMOTE));
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let client = assert_check(&report, "west", "east", "client-cert", "fail");
    assert!(
        client.contains("not issued by east's CA") && client.contains("refused it"),
        "{client}"
    );
    assert_check(&report, "west", "east", "tls-verify", "ok");
    assert_check(&report, "west", "east", "ca-equal", "ok");
    assert_check(&report, "west", "east", "etcd-cluster-config", "fail");
    assert!(problems(&report, "east", "west").is_empty());
}

/// Probes are shared between paths only where the answer is the same: paths to one peer share
/// its TCP probe and one etcd read, but every client certificate is still presented on its own
/// path — a refused one fails that path only, whichever path comes first, and a path whose CA
/// does not verify the peer reads nothing from it.
#[test]
fn shared_probes_keep_every_paths_own_certificates() {
    let Some(lab) = EtcdLab::start(&["west", "east", "north"]) else {
        return;
    };
    let other = Ca::new("Cilium CA");
    // west (the first path to east) presents a certificate east refuses; north's is east's.
    lab.set_remote_cert("west", &lab.ca, &other.issue_valid(&pki::REMOTE));
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    for to in ["east", "north"] {
        let client = assert_check(&report, "west", to, "client-cert", "fail");
        assert!(client.contains("refused it"), "{client}");
        assert_check(&report, "west", to, "etcd-cluster-config", "fail");
    }
    for (a, b) in [
        ("north", "east"),
        ("east", "north"),
        ("east", "west"),
        ("north", "west"),
    ] {
        assert!(problems(&report, a, b).is_empty(), "{a} → {b}: {report:#}");
        let config = assert_check(&report, a, b, "etcd-cluster-config", "ok");
        assert!(config.contains("maxConnectedClusters 255"), "{config}");
    }

    // north trusts another CA: east's server certificate does not verify for north only, and
    // north gets no etcd answer from east although east answers west and east's other peers.
    lab.set_remote_cert("west", &lab.ca, &lab.ca.issue_valid(&pki::REMOTE));
    lab.set_remote_cert("north", &other, &lab.ca.issue_valid(&pki::REMOTE));
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    for to in ["west", "east"] {
        assert_check(&report, "north", to, "tls-verify", "fail");
        let config = assert_check(&report, "north", to, "etcd-cluster-config", "fail");
        assert!(config.contains("invalid peer certificate"), "{config}");
    }
    for (a, b) in [
        ("west", "east"),
        ("east", "west"),
        ("west", "north"),
        ("east", "north"),
    ] {
        assert!(problems(&report, a, b).is_empty(), "{a} → {b}: {report:#}");
    }
}

#[test]
fn expired_and_soon_expiring_certificates() {
    let Some(lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let day = time::Duration::days(1);
    let expired = lab.ca.issue(&pki::REMOTE, -30 * day, -day);
    lab.set_remote_cert("west", &lab.ca, &expired);
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let expiry = assert_check(&report, "west", "east", "cert-expiry", "fail");
    assert!(
        expiry.contains("west's client certificate (CN=remote) expired"),
        "{expiry}"
    );
    assert!(hint(&report, "west", "east", "cert-expiry").contains("helm upgrade"));
    // east refuses it, as it would refuse the agents.
    assert_check(&report, "west", "east", "client-cert", "fail");
    assert_check(&report, "west", "east", "tls-verify", "ok");

    let soon = lab.ca.issue(&pki::REMOTE, -day, 10 * day);
    lab.set_remote_cert("west", &lab.ca, &soon);
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    let expiry = assert_check(&report, "west", "east", "cert-expiry", "warn");
    assert!(
        expiry.contains("expires") && expiry.contains("in 9 days"),
        "{expiry}"
    );
    assert_eq!(
        problems(&report, "west", "east"),
        [("cert-expiry".to_string(), "warn".to_string())]
    );
    assert_eq!(code, Some(0), "warnings only");
}

#[test]
fn a_wrong_or_missing_cluster_config_fails_etcd_cluster_config() {
    let Some(lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let etcd = lab.etcd("east");
    etcd.put(
        "cilium/cluster-config/east",
        r#"{"id":7,"capabilities":{"syncedCanaries":true,"maxConnectedClusters":255}}"#,
    );
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let config = assert_check(&report, "west", "east", "etcd-cluster-config", "fail");
    assert!(
        config.contains("announces id 7, the mesh file says east is 2"),
        "{config}"
    );
    assert!(hint(&report, "west", "east", "etcd-cluster-config").contains("helm upgrade"));
    assert_eq!(problems(&report, "west", "east").len(), 1);

    etcd.put(
        "cilium/cluster-config/east",
        r#"{"id":2,"capabilities":{"syncedCanaries":true,"maxConnectedClusters":511}}"#,
    );
    let (_, report, _) = lab.troubleshoot_json(&[]);
    let config = assert_check(&report, "west", "east", "etcd-cluster-config", "fail");
    assert!(
        config.contains("announces maxConnectedClusters 511, west runs with 255"),
        "{config}"
    );

    etcd.delete("cilium/cluster-config/east");
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let config = assert_check(&report, "west", "east", "etcd-cluster-config", "fail");
    assert!(
        config.contains("cilium/cluster-config/east is missing"),
        "{config}"
    );
    assert_eq!(problems(&report, "west", "east").len(), 1);
    assert!(problems(&report, "east", "west").is_empty());
}

#[test]
fn a_stale_heartbeat_and_a_missing_sync_canary_are_warnings() {
    let Some(lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let etcd = lab.etcd("east");
    let old = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
    etcd.put("cilium/.heartbeat", &common::etcd::rfc3339(old));
    etcd.delete("cilium/synced/east/cilium/state/ip/v1");
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    let beat = assert_check(&report, "west", "east", "etcd-heartbeat", "warn");
    assert!(beat.contains("last written 10m ago"), "{beat}");
    let sync = assert_check(&report, "west", "east", "etcd-sync", "warn");
    assert!(
        sync.contains("not synced: ip (no cilium/synced/east/cilium/state/ip/v1)")
            && sync.contains("nodes 2, services 1, identities 3, ip 2"),
        "{sync}"
    );
    assert_eq!(problems(&report, "west", "east").len(), 2);
    assert_eq!(code, Some(0), "warnings only");

    etcd.delete("cilium/.heartbeat");
    let (_, report, _) = lab.troubleshoot_json(&[]);
    let beat = assert_check(&report, "west", "east", "etcd-heartbeat", "warn");
    assert!(beat.contains("cilium/.heartbeat is missing"), "{beat}");
}

#[test]
fn a_hung_endpoint_and_a_closed_port_cost_at_most_the_timeout() {
    let Some(mut lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    // east's apiserver accepts connections and never answers.
    let port = lab.lab.specs[1].node_port;
    lab.etcd_mut("east").stop();
    let hung = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (code, report, took) = lab.troubleshoot_json(&[]);
    eprintln!("hung endpoint (--request-timeout 2s): troubleshoot took {took:?}");
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    assert_check(&report, "west", "east", "tcp", "ok");
    let tls = assert_check(&report, "west", "east", "tls-verify", "fail");
    assert!(tls.contains("timed out after 2s"), "{tls}");
    let config = assert_check(&report, "west", "east", "etcd-cluster-config", "fail");
    assert!(config.contains("timed out after 2s"), "{config}");
    for id in ["client-cert", "etcd-heartbeat", "etcd-sync"] {
        assert_check(&report, "west", "east", id, "warn");
    }
    assert!(problems(&report, "east", "west").is_empty());
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(hung);

    // west pins east at an address where nothing listens.
    let mut ds = lab.lab.get("west", "DaemonSet", "cilium").unwrap();
    ds["spec"]["template"]["spec"]["hostAliases"] =
        json!([{"ip": "127.0.0.2", "hostnames": ["east.mesh.cilium.io"]}]);
    lab.lab.server("west").seed_yaml(&ds.to_string());
    let (code, report, took) = lab.troubleshoot_json(&[]);
    eprintln!("closed port: troubleshoot took {took:?}");
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let tcp = assert_check(&report, "west", "east", "tcp", "fail");
    assert!(
        tcp.contains(&format!("127.0.0.2:{port}")) && tcp.contains("refused"),
        "{tcp}"
    );
    let drift = assert_check(&report, "west", "east", "endpoint-drift", "fail");
    assert!(drift.contains("127.0.0.2"), "{drift}");
    for id in ["tls-verify", "client-cert", "etcd-cluster-config"] {
        let m = assert_check(&report, "west", "east", id, "warn");
        assert!(m.starts_with("not checked"), "{m}");
    }
    assert_check(&report, "west", "east", "ca-equal", "ok");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_stale_host_alias_is_endpoint_drift() {
    let mut specs = loopback_specs(&["west", "east"]);
    specs[1].node_ips = vec!["127.0.0.1", "127.0.0.3"];
    let Some(lab) = EtcdLab::start_with(specs) else {
        return;
    };
    // east loses its second node; west still pins it.
    assert!(
        lab.lab
            .server("east")
            .delete("v1", "Node", None, "east-worker")
    );
    let (code, report, _) = lab.troubleshoot_json(&[]);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    let drift = assert_check(&report, "west", "east", "endpoint-drift", "warn");
    assert!(drift.contains("127.0.0.3 no longer east's"), "{drift}");
    assert!(
        hint(&report, "west", "east", "endpoint-drift")
            .contains("kubectl mesh connect --rediscover")
    );
    let tcp = assert_check(&report, "west", "east", "tcp", "fail");
    assert!(tcp.contains("127.0.0.3") && tcp.contains("1 of 2"), "{tcp}");
    // Through the address that still works, everything else holds.
    for id in [
        "tls-verify",
        "client-cert",
        "etcd-cluster-config",
        "etcd-sync",
    ] {
        assert_check(&report, "west", "east", id, "ok");
    }
}

#[test]
fn the_nodeport_trap_is_a_failed_check_on_the_affected_pairs() {
    let specs = |version: &'static str| {
        let mut specs = vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32379)];
        specs[0].node_ips = vec!["127.0.0.2"];
        specs[1].node_ips = vec!["127.0.0.3"];
        for s in &mut specs {
            s.version = version;
        }
        specs
    };
    let lab = Lab::start(&specs("v1.17.6"));
    let run = |lab: &Lab| {
        let out = lab
            .cmd()
            .args([
                "troubleshoot",
                "--from",
                "workstation",
                "-o",
                "json",
                "--request-timeout",
                "2s",
            ])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        (out.status.code(), report)
    };
    let (code, report) = run(&lab);
    assert_all_ran(&report);
    assert_eq!(code, Some(1));
    for (a, b) in [("west", "east"), ("east", "west")] {
        let m = assert_check(&report, a, b, "nodeport-collision", "fail");
        assert!(
            m.contains(
                "clusters west, east all expose the clustermesh-apiserver on NodePort 32379"
            ) && m.contains("#24692"),
            "{m}"
        );
        assert!(hint(&report, a, b, "nodeport-collision").contains("apiserverNodePort"));
    }
    // Cilium 1.19 keeps a remote NodePort apart from a local one.
    let lab = Lab::start(&specs("v1.19.6"));
    let (_, report) = run(&lab);
    assert_all_ran(&report);
    let m = assert_check(&report, "west", "east", "nodeport-collision", "ok");
    assert!(m.contains("not affected"), "{m}");
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = dir.path().join("mesh.yaml");
    std::fs::write(
        &mesh,
        "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: tunnel\nclusters:\n- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16}\n- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16}\n",
    )
    .unwrap();
    let out = common::kubectl_mesh(dir.path())
        .args(["troubleshoot", "north", "--mesh"])
        .arg(&mesh)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cluster named \"north\""));
    let out = common::kubectl_mesh(dir.path())
        .args(["troubleshoot", "--mesh", "missing.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = common::kubectl_mesh(dir.path())
        .args(["troubleshoot", "-o", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_healthy_mesh_through_kubectl_plugin_discovery() {
    let Some(lab) = EtcdLab::start(&["west", "east"]) else {
        return;
    };
    let Some(out) = lab.lab.kubectl_mesh(&[
        "troubleshoot",
        "--from",
        "workstation",
        "--request-timeout",
        "5s",
    ]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("west → east: ok") && text.contains("east → west: ok"),
        "{text}"
    );
    assert!(
        text.contains("2 path(s): 28 ok, 0 warning(s), 0 failed"),
        "{text}"
    );
}
