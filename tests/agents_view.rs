//! The agents' own view in `troubleshoot --from agents` and `services --from-agents`, end to
//! end: the built binary against the lab's in-memory API servers, whose agent pods answer the
//! exec subresource with what Cilium prints. The outputs are built here from Cilium's printing
//! code, not invented:
//! - `cilium-dbg troubleshoot clustermesh`: cilium-dbg/cmd/troubleshoot_clustermesh.go
//!   (`TroubleshootClusterMesh`) and pkg/kvstore/etcd_debug.go (`EtcdDbg`, `etcdDbgEndpoint`,
//!   `etcdDbgCerts`, `etcdDbgOutputCert`, `indentedWriter`), the same from 1.16 to 1.20;
//! - `cilium-dbg service list -o json`: cilium-dbg/cmd/service_list.go (`command.PrintOutput`
//!   of `[]*models.Service`, api/v1/openapi.yaml), backends from `LegacyBackend.
//!   GetBackendModel` (1.16–1.17: `preferred` only where the affinity prefers) and
//!   pkg/loadbalancer/frontend.go `Frontend.ToModel` (1.18+: only the selected backends, every
//!   one `preferred: true`, cilium/cilium#43681).

mod common;

use common::cilium::Peer;
use common::lab::{Lab, Spec};
use mesh_test_apiserver::exec::ExecScript;
use serde_json::{Value, json};

fn two(version: &'static str) -> Vec<Spec> {
    let mut specs = vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)];
    for s in &mut specs {
        s.version = version;
    }
    specs
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One certificate as `etcdDbgOutputCert` prints it, indented by `indent`.
fn cert(indent: usize, serial: &str, subject: &str, issuer: &str, not_after: &str) -> String {
    let i = " ".repeat(indent);
    format!(
        "{i}- Serial number:       {serial}\n{i}  Subject:             {subject}\n{i}  Issuer:              {issuer}\n{i}  Validity:\n{i}    Not before:  2026-01-01 00:00:00 +0000 UTC\n{i}    Not after:   {not_after}\n"
    )
}

/// How the TLS part of `etcdDbgEndpoint` ends.
enum Tls {
    Ok,
    /// `Cannot establish TLS connection to …: <error>`.
    Fails(&'static str),
}

/// What `cilium-dbg troubleshoot clustermesh <peer>` prints for one peer, as
/// `TroubleshootClusterMesh` + `EtcdDbg` print it (indentation: `indentedWriter`, 3 then 2).
fn troubleshoot_report(peer: &str, ip: &str, port: u16, tls: Tls) -> String {
    let host = format!("{peer}.mesh.cilium.io");
    let mut out = format!(
        "Found 1 cluster configurations\nTroubleshooting filtered subset of clusters: {peer}\n\nCluster \"{peer}\":\n📄 Configuration path: /var/lib/cilium/clustermesh/{peer}\n\n🔌 Endpoints:\n   - https://{host}:{port}\n     ✅ Hostname resolved to: {ip}\n     ✅ TCP connection successfully established to {ip}:{port}\n"
    );
    match tls {
        Tls::Ok => out.push_str(&format!(
            "     ✅ TLS connection successfully established to {ip}:{port}\n     ℹ️  Negotiated TLS version: TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256\n     ℹ️  Etcd server version: 3.5.17\n"
        )),
        Tls::Fails(e) => out.push_str(&format!(
            "     ❌ Cannot establish TLS connection to {ip}:{port}: {e}\n"
        )),
    }
    out.push_str("\n🔑 Digital certificates:\n   ✅ TLS Root CA certificates:\n");
    out.push_str(&cert(
        6,
        "6e:1f:a0",
        "CN=Cilium CA",
        "CN=Cilium CA",
        "2029-01-01 00:00:00 +0000 UTC",
    ));
    out.push_str("   ✅ TLS client certificates:\n");
    out.push_str(&cert(
        6,
        "3c:4d",
        "CN=remote",
        "CN=Cilium CA",
        "2029-01-01 00:00:00 +0000 UTC",
    ));
    out.push_str("\n⚙️ Etcd client:\n");
    match tls {
        Tls::Ok => out.push_str(
            "   ✅ Etcd connection successfully established\n   ℹ️  Etcd cluster ID: 8e9e05c52164694d\n",
        ),
        Tls::Fails(_) => {
            out.push_str("   ❌ Failed to establish connection: context deadline exceeded\n")
        }
    }
    out
}

const TROUBLESHOOT: [&str; 3] = ["cilium-dbg", "troubleshoot", "clustermesh"];

/// Scripts the troubleshoot report of `cluster`'s first agent (the one picked, as `kubectl exec
/// ds/cilium` picks) for its one peer.
fn script_troubleshoot(lab: &Lab, cluster: &str, peer: &str, report: &str) -> String {
    let pod = lab.agent_pods(cluster)[0].clone();
    let mut argv: Vec<&str> = TROUBLESHOOT.to_vec();
    argv.push(peer);
    lab.server(cluster)
        .script_exec(&pod, "cilium-agent", &argv, ExecScript::ok(report));
    pod
}

fn troubleshoot(lab: &Lab, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = lab
        .cmd()
        .arg("troubleshoot")
        .args(args)
        .args(["--request-timeout", "5s"])
        .output()
        .unwrap();
    let json = if args.contains(&"json") {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)))
    } else {
        Value::Null
    };
    (out.status.code(), json, text(&out))
}

fn checks<'a>(report: &'a Value, from: &str, to: &str) -> Vec<&'a Value> {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .unwrap_or_else(|| panic!("no pair {from} → {to}: {report:#}"))["checks"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

fn statuses(checks: &[&Value]) -> Vec<(String, String, String)> {
    checks
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["from"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn troubleshoot_from_agents_maps_a_healthy_and_a_tls_failing_report() {
    let lab = Lab::start(&two("v1.17.6"));
    lab.script_agents_healthy();
    let west = script_troubleshoot(
        &lab,
        "west",
        "east",
        &troubleshoot_report("east", "172.18.0.4", 32380, Tls::Ok),
    );
    let east = script_troubleshoot(
        &lab,
        "east",
        "west",
        &troubleshoot_report(
            "west",
            "172.18.0.2",
            32379,
            Tls::Fails(
                "tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: verification error\" while trying to verify candidate authority certificate \"Cilium CA\")",
            ),
        ),
    );

    let (code, report, all) = troubleshoot(&lab, &["--from", "agents", "-o", "json"]);
    assert_eq!(code, Some(1), "{all}");
    let from_west = format!("agent/{west}");
    let ok = |id: &str, from: &str| (id.to_string(), from.to_string(), "ok".to_string());
    assert_eq!(
        statuses(&checks(&report, "west", "east")),
        [
            ok("peer-config", &from_west),
            ok("dns", &from_west),
            ok("tcp", &from_west),
            ok("tls-verify", &from_west),
            ok("client-cert", &from_west),
            ok("ca-equal", &from_west),
            ok("cert-expiry", &from_west),
            ok("etcd-heartbeat", &from_west),
            ok("agent-connected", &from_west),
            ok("agent-ready", &from_west),
            ok("agent-synced", &from_west),
        ],
        "{report:#}"
    );
    let east_checks = checks(&report, "east", "west");
    let get = |id: &str| {
        east_checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {report:#}"))
    };
    assert_eq!(get("tcp")["status"], "ok");
    assert_eq!(get("tls-verify")["status"], "fail");
    assert_eq!(get("tls-verify")["from"], format!("agent/{east}"));
    assert!(
        get("tls-verify")["message"]
            .as_str()
            .unwrap()
            .contains("certificate signed by unknown authority"),
        "{report:#}"
    );
    assert_eq!(
        get("client-cert")["status"],
        "warn",
        "not reached: {report:#}"
    );
    assert_eq!(get("etcd-heartbeat")["status"], "fail");
    assert_eq!(report["summary"]["fail"], 2, "{report:#}");

    // The text names the vantage point of each block; with both, the workstation's come first.
    let (code, _, all) = troubleshoot(&lab, &[]);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("  from workstation:\n"), "{all}");
    assert!(all.contains(&format!("  from agent/{west}:\n")), "{all}");
    let workstation = all.find("  from workstation:").unwrap();
    let agent = all.find(&format!("  from agent/{west}:")).unwrap();
    assert!(workstation < agent, "{all}");
}

#[test]
fn agents_that_are_not_connected_fail_their_own_checks() {
    let lab = Lab::start(&two("v1.16.15"));
    lab.script_agents("west", Peer::NotConnected);
    lab.script_agents("east", Peer::PartialSync);
    script_troubleshoot(
        &lab,
        "west",
        "east",
        &troubleshoot_report("east", "172.18.0.4", 32380, Tls::Ok),
    );
    script_troubleshoot(
        &lab,
        "east",
        "west",
        &troubleshoot_report("west", "172.18.0.2", 32379, Tls::Ok),
    );
    let (code, report, all) = troubleshoot(&lab, &["--from", "agents", "-o", "json"]);
    assert_eq!(code, Some(1), "{all}");
    let status = |from: &str, to: &str, id: &str| {
        checks(&report, from, to)
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {id}: {report:#}"))
    };
    assert_eq!(status("west", "east", "agent-connected"), "fail");
    assert_eq!(status("west", "east", "tls-verify"), "ok");
    assert_eq!(status("east", "west", "agent-connected"), "ok");
    assert_eq!(status("east", "west", "agent-synced"), "fail");
}

#[test]
fn no_exec_permission_is_reported_per_cluster_never_healthy() {
    let lab = Lab::start(&two("v1.17.6"));
    lab.script_agents_healthy();
    script_troubleshoot(
        &lab,
        "west",
        "east",
        &troubleshoot_report("east", "172.18.0.4", 32380, Tls::Ok),
    );
    script_troubleshoot(
        &lab,
        "east",
        "west",
        &troubleshoot_report("west", "172.18.0.2", 32379, Tls::Ok),
    );
    let (code, _, all) = troubleshoot(&lab, &["--from", "agents", "-o", "json"]);
    assert_eq!(code, Some(0), "{all}");

    lab.server("west").set_exec_forbidden(true);
    let (code, report, all) = troubleshoot(&lab, &["--from", "agents", "-o", "json"]);
    assert_eq!(code, Some(1), "{all}");
    let west = checks(&report, "west", "east");
    assert!(west.iter().all(|c| c["status"] != "ok"), "{report:#}");
    let first = west[0];
    assert_eq!(first["id"], "agent-report");
    let msg = first["message"].as_str().unwrap();
    assert!(msg.starts_with("agents not readable: "), "{msg}");
    assert!(msg.contains("pods/exec"), "{msg}");
    // East's agents still answer.
    assert!(
        checks(&report, "east", "west")
            .iter()
            .all(|c| c["status"] == "ok"),
        "{report:#}"
    );
}

/// With KVStoreMesh, the component that dials the peers is the clustermesh-apiserver's
/// kvstoremesh container: its `kvstoremesh-dbg troubleshoot <peer>` (clustermesh-apiserver/
/// kvstoremesh-dbg/troubleshoot.go, the same sections) is the path's report; the agents' status
/// still gives agent-connected/ready/synced. A firewall between the node networks shows as the
/// agents' side failing `tcp`.
#[test]
fn with_kvstoremesh_the_apiserver_reports_the_path() {
    let specs = two("v1.20.0");
    let lab = Lab::start_from(
        &common::data("refcases/kvstoremesh-1.20.0/base.yaml"),
        &specs,
    );
    assert!(lab.has_kvstoremesh("west"));
    lab.script_agents_healthy();
    let script = |cluster: &str, peer: &str, report: &str| -> String {
        let pod = lab.apiserver_pod(cluster);
        lab.server(cluster).script_exec(
            &pod,
            "kvstoremesh",
            &["kvstoremesh-dbg", "troubleshoot", peer],
            ExecScript::ok(report),
        );
        pod
    };
    let west = script(
        "west",
        "east",
        &troubleshoot_report("east", "172.18.0.4", 32380, Tls::Ok),
    );
    // East's KVStoreMesh cannot reach west's NodePort: `etcdDbgEndpoint` stops after TCP.
    let firewalled = troubleshoot_report("west", "172.18.0.2", 32379, Tls::Ok)
        .replace(
            "     ✅ TCP connection successfully established to 172.18.0.2:32379\n     ✅ TLS connection successfully established to 172.18.0.2:32379\n     ℹ️  Negotiated TLS version: TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256\n     ℹ️  Etcd server version: 3.5.17\n",
            "     ❌ Cannot establish TCP connection to west.mesh.cilium.io:32379: dial tcp 172.18.0.2:32379: i/o timeout\n",
        )
        .replace(
            "   ✅ Etcd connection successfully established\n   ℹ️  Etcd cluster ID: 8e9e05c52164694d\n",
            "   ❌ Failed to establish connection: context deadline exceeded\n",
        );
    assert!(firewalled.contains("i/o timeout"));
    let east = script("east", "west", &firewalled);

    let (code, report, all) = troubleshoot(&lab, &["--from", "agents", "-o", "json"]);
    assert_eq!(code, Some(1), "{all}");
    let west_checks = checks(&report, "west", "east");
    assert!(
        west_checks.iter().all(|c| c["status"] == "ok"),
        "{report:#}"
    );
    let config = west_checks
        .iter()
        .find(|c| c["id"] == "peer-config")
        .unwrap();
    assert_eq!(config["from"], format!("agent/{west}"));
    assert!(
        config["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("west's KVStoreMesh ({west}) reads")),
        "{config}"
    );
    let agent = lab.agent_pods("west")[0].clone();
    let connected = west_checks
        .iter()
        .find(|c| c["id"] == "agent-connected")
        .unwrap();
    assert_eq!(connected["from"], format!("agent/{agent}"));
    let east_checks = checks(&report, "east", "west");
    let status = |id: &str| {
        east_checks
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| {
                (
                    c["from"].as_str().unwrap().to_string(),
                    c["status"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(status("tcp"), (format!("agent/{east}"), "fail".to_string()));
    assert_eq!(
        status("tls-verify").1,
        "warn",
        "not checked after TCP: {report:#}"
    );
    assert_eq!(status("etcd-heartbeat").1, "fail");
}

/// The lab's `webpod` backends: the EndpointSlice addresses `Lab::seed_webpod_endpoints` writes.
fn webpod_ips(lab: &Lab, cluster: &str, n: usize) -> Vec<String> {
    let spec = lab.specs.iter().find(|s| s.name == cluster).unwrap();
    (0..n)
        .map(|i| spec.pod_cidr.replace(".0.0/16", &format!(".1.{}", 10 + i)))
        .collect()
}

/// `cilium-dbg service list -o json` with webpod's ClusterIP frontend and `backends` as
/// (ip, preferred) — plus kube-dns, which must be ignored.
fn service_list(backends: &[(String, bool)]) -> String {
    let be = |ip: &str, preferred: bool| {
        let mut b =
            json!({"ip": ip, "port": 80, "protocol": "TCP", "state": "active", "weight": 100});
        if preferred {
            b["preferred"] = json!(true);
        }
        b
    };
    let spec = |id: i64, ip: &str, port: u16, name: &str, ns: &str, bes: Vec<Value>| {
        let s = json!({
            "id": id,
            "frontend-address": {"ip": ip, "port": port, "protocol": "TCP", "scope": "external"},
            "backend-addresses": bes,
            "flags": {"type": "ClusterIP", "trafficPolicy": "Cluster", "extTrafficPolicy": "Cluster",
                "intTrafficPolicy": "Cluster", "name": name, "namespace": ns},
        });
        json!({"spec": s, "status": {"realized": s}})
    };
    let list = json!([
        spec(
            1,
            "10.96.0.10",
            53,
            "kube-dns",
            "kube-system",
            vec![be("10.0.0.7", false)]
        ),
        spec(
            9,
            "10.96.200.9",
            80,
            "webpod",
            "default",
            backends.iter().map(|(ip, p)| be(ip, *p)).collect()
        ),
    ]);
    serde_json::to_string_pretty(&list).unwrap()
}

const SERVICE_LIST: [&str; 5] = ["cilium-dbg", "service", "list", "-o", "json"];

fn script_service_list(lab: &Lab, cluster: &str, out: &str) {
    for pod in lab.agent_pods(cluster) {
        lab.server(cluster)
            .script_exec(&pod, "cilium-agent", &SERVICE_LIST, ExecScript::ok(out));
    }
}

fn services(lab: &Lab) -> (Option<i32>, Value, String) {
    let out = lab
        .cmd()
        .args(["services", "--from-agents", "-o", "json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    (out.status.code(), v, text(&out))
}

#[test]
fn services_from_agents_reports_where_the_agents_disagree() {
    let lab = Lab::start(&two("v1.17.6"));
    for c in ["west", "east"] {
        lab.seed_webpod(
            c,
            2,
            0,
            &[
                ("service.cilium.io/global", "true"),
                ("service.cilium.io/affinity", "local"),
            ],
        );
    }
    let west = webpod_ips(&lab, "west", 2);
    let east = webpod_ips(&lab, "east", 2);
    let all = |pref_west: bool, pref_east: bool| -> Vec<(String, bool)> {
        west.iter()
            .map(|ip| (ip.clone(), pref_west))
            .chain(east.iter().map(|ip| (ip.clone(), pref_east)))
            .collect()
    };
    // 1.17, affinity local: every backend listed, the local ones preferred: as predicted.
    script_service_list(&lab, "west", &service_list(&all(true, false)));
    script_service_list(&lab, "east", &service_list(&all(false, true)));
    let (code, report, out) = services(&lab);
    assert_eq!(code, Some(0), "{out}");
    let agents = report["services"][0]["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2, "{report:#}");
    assert!(agents.iter().all(|a| a["agrees"] == true), "{report:#}");
    assert_eq!(
        agents[0]["uses"],
        json!([{"cluster": "west", "backends": 2}])
    );

    // West's agent prefers nothing (the annotation not applied there): it uses both clusters.
    script_service_list(&lab, "west", &service_list(&all(false, false)));
    let (code, report, out) = services(&lab);
    assert_eq!(code, Some(1), "{out}");
    let pod = lab.agent_pods("west")[0].clone();
    let problems: Vec<&str> = report["services"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        problems,
        [format!(
            "west: agent {pod} uses west:2 east:2, predicted west:2"
        )],
        "{report:#}"
    );

    let out = lab
        .cmd()
        .args(["services", "--from-agents"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    eprintln!("{table}");
    assert!(table.contains("USES     AGENT"), "{table}");
    assert!(table.contains("west:2   west:2 east:2 ✗"), "{table}");
    assert!(table.contains("east:2   east:2\n"), "{table}");

    // No exec permission in east: a problem naming the RBAC, never agreement.
    script_service_list(&lab, "west", &service_list(&all(true, false)));
    lab.server("east").set_exec_forbidden(true);
    let (code, report, out) = services(&lab);
    assert_eq!(code, Some(1), "{out}");
    let problems = report["services"][0]["problems"].to_string();
    assert!(
        problems.contains("east: agents not readable: "),
        "{problems}"
    );
    assert!(problems.contains("pods/exec"), "{problems}");
    assert_eq!(report["services"][0]["agents"][1]["agrees"], false);
}

#[test]
fn services_from_agents_reads_the_new_load_balancer() {
    // 1.18+: only the selected backends are listed, every one preferred (cilium/cilium#43681).
    let lab = Lab::start(&two("v1.18.4"));
    for c in ["west", "east"] {
        lab.seed_webpod(c, 2, 0, &[("service.cilium.io/global", "true")]);
    }
    let both: Vec<(String, bool)> = webpod_ips(&lab, "west", 2)
        .into_iter()
        .chain(webpod_ips(&lab, "east", 2))
        .map(|ip| (ip, true))
        .collect();
    script_service_list(&lab, "west", &service_list(&both));
    script_service_list(&lab, "east", &service_list(&both));
    let (code, report, out) = services(&lab);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        report["services"][0]["agents"][1]["uses"],
        json!([{"cluster": "west", "backends": 2}, {"cluster": "east", "backends": 2}])
    );
    // East's agent has dropped west's backends: a disagreement.
    let only_east: Vec<(String, bool)> = webpod_ips(&lab, "east", 2)
        .into_iter()
        .map(|ip| (ip, true))
        .collect();
    script_service_list(&lab, "east", &service_list(&only_east));
    let (code, report, out) = services(&lab);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        report["services"][0]["problems"]
            .to_string()
            .contains("uses east:2, predicted west:2 east:2"),
        "{report:#}"
    );
}
