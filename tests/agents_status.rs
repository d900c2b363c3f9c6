//! `status` from the agents' side: the built binary asks every Ready agent of every lab cluster
//! `cilium-dbg status -o json` over the exec subresource (and KVStoreMesh
//! `kvstoremesh-dbg status -o json`), whose outputs the lab scripts from Cilium's own types
//! (tests/common/cilium.rs cites the source paths: api/v1/openapi.yaml `StatusResponse` →
//! `ClusterMeshStatus` → `RemoteCluster`, api/v1/models/remote_cluster*.go).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cilium::{self, Peer};
use common::lab::{Lab, Spec};
use serde_json::Value;

fn two() -> Vec<Spec> {
    vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)]
}

/// A two-cluster lab, connected (the config side is complete).
fn connected(specs: &[Spec]) -> Lab {
    connected_from(None, specs)
}

fn connected_from(base: Option<&str>, specs: &[Spec]) -> Lab {
    let lab = match base {
        Some(b) => Lab::start_from(&common::data(b), specs),
        None => Lab::start(specs),
    };
    let out = lab.cmd().arg("connect").output().unwrap();
    assert!(
        out.status.success(),
        "connect: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    lab
}

/// `status -o json ARGS`: exit code and report.
fn status_json(lab: &Lab, args: &[&str]) -> (Option<i32>, Value) {
    let out = lab
        .cmd()
        .args(["status", "-o", "json", "--request-timeout", "5s"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

fn status_text(lab: &Lab) -> (Option<i32>, String) {
    let out = lab
        .cmd()
        .args(["status", "--request-timeout", "5s"])
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn cluster<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {report:#}"))
}

fn messages(c: &Value) -> Vec<String> {
    c["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn healthy_agents_make_a_healthy_mesh() {
    let lab = connected(&two());
    lab.script_agents_healthy();
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(report["healthy"], true, "{report:#}");
    assert_eq!(code, Some(0));
    for name in ["west", "east"] {
        let view = &cluster(&report, name)["agentView"];
        assert_eq!(view["asked"], 2, "{view:#}");
        assert_eq!(view["allPeersReady"], 2, "{view:#}");
        let agent = &view["agents"][0];
        assert_eq!(agent["pod"], lab.agent_pods(name)[0]);
        assert_eq!(agent["peers"][0]["ready"], true);
        assert_eq!(agent["peers"][0]["connected"], true);
        assert_eq!(agent["peers"][0]["numNodes"], 2);
    }
    // Every agent was asked, in its cilium-agent container, over the v5 protocol kube-rs
    // prefers.
    let calls = lab.server("west").exec_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        assert_eq!(call.container, "cilium-agent");
        assert_eq!(call.argv, cilium::AGENT_STATUS);
        assert_eq!(call.protocol, "v5.channel.k8s.io");
        assert_eq!(call.namespace, "kube-system");
    }
    let (code, text) = status_text(&lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("1/1 cfg, 2/2 agents"), "{text}");
}

#[test]
fn configured_but_not_connected_is_unhealthy_naming_cluster_pod_and_peer() {
    let lab = connected(&two());
    lab.script_agents("west", Peer::NotConnected);
    lab.script_agents("east", Peer::Ready);
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["healthy"], false);
    let west = cluster(&report, "west");
    assert_eq!(west["healthy"], false);
    // The config side is complete: the problem is the agents' alone.
    assert_eq!(west["peers"]["configured"], serde_json::json!(["east"]));
    let problems = messages(west);
    let pods = lab.agent_pods("west");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains(&pods[0])
            && problems[0].contains(&pods[1])
            && problems[0].contains("not connected to east")
            && problems[0].contains("Waiting for initial connection to be established"),
        "{problems:?}"
    );
    assert_eq!(west["problems"][0]["check"], "agents-peers");
    assert_eq!(cluster(&report, "east")["healthy"], true);

    let (code, text) = status_text(&lab);
    assert_eq!(code, Some(1));
    assert!(text.contains("1/1 cfg, 0/2 agents"), "{text}");
    assert!(text.contains("west: 2/2 agents: pods"), "{text}");
}

#[test]
fn tls_failures_and_partial_sync_are_named() {
    let lab = connected(&two());
    lab.script_agents("west", Peer::TlsFailure);
    lab.script_agents("east", Peer::PartialSync);
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let west = messages(cluster(&report, "west"));
    assert!(
        west[0].contains("not connected to east")
            && west[0].contains("7 failure(s), last at 2025-08-20T13:05:00.000Z"),
        "{west:?}"
    );
    let east = messages(cluster(&report, "east"));
    assert!(
        east[0].contains("connected to west but not synced yet (services, endpoints)"),
        "{east:?}"
    );
    let peer = &cluster(&report, "east")["agentView"]["agents"][0]["peers"][0];
    assert_eq!(peer["connected"], true);
    assert_eq!(peer["ready"], false);
    assert_eq!(
        peer["notSynced"],
        serde_json::json!(["services", "endpoints"])
    );
}

#[test]
fn one_agent_of_two_disconnected_is_unhealthy() {
    let lab = connected(&two());
    lab.script_agents_healthy();
    let pods = lab.agent_pods("east");
    let down = cilium::agent_status(vec![cilium::remote_cluster(
        "v1.17.6",
        "west",
        1,
        2,
        Peer::NotConnected,
        false,
    )]);
    lab.script_agent("east", &pods[1], &down);
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let east = cluster(&report, "east");
    assert_eq!(east["healthy"], false);
    assert_eq!(east["agentView"]["allPeersReady"], 1);
    let problems = messages(east);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "1/2 agents: pod {} not connected to west",
            pods[1]
        )),
        "{problems:?}"
    );
    assert!(!problems[0].contains(&pods[0]), "{problems:?}");
    let (_, text) = status_text(&lab);
    assert!(text.contains("1/1 cfg, 1/2 agents"), "{text}");

    // --agents 1 samples the first agent only: that one is fine.
    let (code, report) = status_json(&lab, &["--agents", "1"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(cluster(&report, "east")["agentView"]["asked"], 1);
}

#[test]
fn exec_forbidden_is_a_clear_per_cluster_message_never_healthy() {
    let lab = connected(&two());
    lab.script_agents_healthy();
    lab.server("east").set_exec_forbidden(true);
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let east = cluster(&report, "east");
    assert_eq!(east["healthy"], false);
    assert_eq!(east["problems"][0]["check"], "agents-unreadable");
    let problems = messages(east);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("agents not readable: ")
            && problems[0].contains("cannot create resource \"pods/exec\"")
            && problems[0].contains("grant `create` on `pods/exec` in namespace kube-system"),
        "{problems:?}"
    );
    assert_eq!(cluster(&report, "west")["healthy"], true);
    let (_, text) = status_text(&lab);
    assert!(text.contains("1/1 cfg, ? agents"), "{text}");
}

#[test]
fn unscripted_agents_fail_like_a_missing_binary() {
    let lab = connected(&two());
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let problems = messages(cluster(&report, "west"));
    assert!(
        problems[0].contains("cannot read agent pods")
            && problems[0].contains("executable file not found in $PATH"),
        "{problems:?}"
    );
}

/// `status --wait` keeps waiting while the agents are not connected, and returns as soon as
/// they turn ready (the test flips the scripts while it waits).
#[test]
fn status_wait_waits_on_the_agents() {
    let lab = connected(&two());
    lab.script_agents("west", Peer::NotConnected);
    lab.script_agents("east", Peer::NotConnected);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kubectl-mesh"))
        .args([
            "status",
            "--wait",
            "--timeout",
            "60s",
            "--request-timeout",
            "5s",
        ])
        .current_dir(lab.home())
        .env_clear()
        .env("HOME", lab.home())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", lab.home().join("kubeconfig"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It has asked the agents at least twice and is still waiting.
    let started = Instant::now();
    while lab.server("west").exec_calls().len() < 4 {
        assert!(child.try_wait().unwrap().is_none(), "--wait returned early");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no second poll"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "--wait returned on unconnected agents"
    );
    lab.script_agents_healthy();
    let flipped = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(flipped.elapsed() < Duration::from_secs(30));
    assert!(stdout.contains("1/1 cfg, 2/2 agents"), "{stdout}");
}

/// With KVStoreMesh the clustermesh-apiserver's kvstoremesh container is asked too; the agents
/// report the peers through it (`config.kvstoremesh`).
#[test]
fn kvstoremesh_ready_and_not_ready() {
    let mut specs = two();
    for s in &mut specs {
        s.version = "v1.20.0";
    }
    let lab = connected_from(Some("refcases/kvstoremesh-1.20.0/base.yaml"), &specs);
    assert!(lab.has_kvstoremesh("west"));
    lab.script_agents_healthy();
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let km = &cluster(&report, "west")["agentView"]["kvstoremesh"];
    assert_eq!(km["pod"], lab.apiserver_pod("west"), "{km:#}");
    assert_eq!(km["peers"][0]["ready"], true);
    let calls = lab.server("west").exec_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.container == "kvstoremesh" && c.argv == cilium::KVSTOREMESH_STATUS),
        "{calls:?}"
    );

    // KVStoreMesh loses east: west is unhealthy, said as KVStoreMesh's view.
    lab.server("west").script_exec(
        &lab.apiserver_pod("west"),
        "kvstoremesh",
        &cilium::KVSTOREMESH_STATUS,
        mesh_test_apiserver::exec::ExecScript::ok(cilium::kvstoremesh_status(vec![
            cilium::remote_cluster("v1.20.0", "east", 2, 2, Peer::TlsFailure, false),
        ])),
    );
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let west = cluster(&report, "west");
    assert_eq!(west["healthy"], false);
    let problems = messages(west);
    assert!(
        problems.iter().any(|p| p.starts_with(&format!(
            "KVStoreMesh (pod {}): not connected to east",
            lab.apiserver_pod("west")
        ))),
        "{problems:?}"
    );
    assert!(
        west["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["check"] == "kvstoremesh")
    );
    assert_eq!(cluster(&report, "east")["healthy"], true);
}

/// Cilium 1.16 and 1.20 agents print different `RemoteCluster` shapes (1.17+ adds
/// `config.service-exports-enabled`); both are read.
#[test]
fn cilium_1_16_and_1_20_shapes() {
    let v16 = cilium::remote_cluster("v1.16.19", "east", 2, 2, Peer::Ready, false);
    let v20 = cilium::remote_cluster("v1.20.0", "east", 2, 2, Peer::Ready, false);
    assert!(v16["config"].get("service-exports-enabled").is_none());
    assert_eq!(v20["config"]["service-exports-enabled"], false);
    for (base, version) in [
        ("refcases/kvstoremesh-1.16.19/base.yaml", "v1.16.19"),
        ("refcases/kvstoremesh-1.20.0/base.yaml", "v1.20.0"),
    ] {
        let mut specs = two();
        for s in &mut specs {
            s.version = version;
        }
        let lab = connected_from(Some(base), &specs);
        lab.script_agents_healthy();
        let (code, report) = status_json(&lab, &[]);
        assert_eq!(code, Some(0), "{version}: {report:#}");
        assert_eq!(
            cluster(&report, "west")["ciliumVersion"],
            version.trim_start_matches('v').rsplit_once('.').unwrap().0
        );
    }
}

/// A hung agent is bounded by `--request-timeout` (the whole exec), a flooding one by the
/// 16 MiB cap; the other agents are still judged.
#[test]
fn hung_and_flooding_agents_are_bounded() {
    use mesh_test_apiserver::exec::ExecScript;
    let lab = connected(&two());
    lab.script_agents_healthy();
    let pods = lab.agent_pods("west");
    let healthy = cilium::agent_status(vec![cilium::remote_cluster(
        "v1.17.6",
        "east",
        2,
        2,
        Peer::Ready,
        false,
    )]);
    lab.server("west").script_exec(
        &pods[0],
        "cilium-agent",
        &cilium::AGENT_STATUS,
        ExecScript {
            stdout: healthy.into_bytes(),
            delay: Duration::from_secs(60),
            ..ExecScript::default()
        },
    );
    lab.server("east").script_exec(
        &lab.agent_pods("east")[1],
        "cilium-agent",
        &cilium::AGENT_STATUS,
        ExecScript::ok(vec![b' '; 17 << 20]),
    );
    let started = Instant::now();
    let out = lab
        .cmd()
        .args(["status", "-o", "json", "--request-timeout", "2s"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Generous bound for slow CI machines: far below the hang.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let west = messages(cluster(&report, "west"));
    assert_eq!(west.len(), 1, "{west:?}");
    assert!(
        west[0].contains(&format!("cannot read agent pod {}", pods[0]))
            && west[0].contains("did not finish within 2s"),
        "{west:?}"
    );
    assert_eq!(cluster(&report, "west")["agentView"]["allPeersReady"], 1);
    let east = messages(cluster(&report, "east"));
    assert!(
        east[0].contains("printed more than 16 MiB on stdout"),
        "{east:?}"
    );
}

/// At most `--parallel` execs run at once (each server sees its own share of them).
#[test]
fn execs_run_at_most_parallel_at_once() {
    use mesh_test_apiserver::exec::ExecScript;
    let lab = connected(&two());
    let slow = |lab: &Lab| {
        for s in &lab.specs {
            let remotes = lab
                .specs
                .iter()
                .filter(|p| p.name != s.name)
                .map(|p| cilium::remote_cluster("v1.17.6", p.name, p.id, 2, Peer::Ready, false))
                .collect();
            let out = cilium::agent_status(remotes);
            for pod in lab.agent_pods(s.name) {
                lab.server(s.name).script_exec(
                    &pod,
                    "cilium-agent",
                    &cilium::AGENT_STATUS,
                    ExecScript {
                        stdout: out.clone().into_bytes(),
                        delay: Duration::from_millis(400),
                        ..ExecScript::default()
                    },
                );
            }
        }
    };
    slow(&lab);
    let (code, report) = status_json(&lab, &["--parallel", "1"]);
    assert_eq!(code, Some(0), "{report:#}");
    for s in ["west", "east"] {
        assert_eq!(lab.server(s).max_concurrent_execs(), 1, "{s}");
    }
    // Without the bound, a cluster's two agents are asked at once.
    let (code, _) = status_json(&lab, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(lab.server("west").max_concurrent_execs(), 2);
}

/// `connect --wait` waits on the agents too: config written, agents not connected → it times
/// out naming them.
#[test]
fn connect_wait_waits_on_the_agents() {
    let lab = Lab::start(&two());
    lab.script_agents("west", Peer::NotConnected);
    lab.script_agents("east", Peer::NotConnected);
    let out = lab
        .cmd()
        .args([
            "connect",
            "--wait",
            "--timeout",
            "2s",
            "--request-timeout",
            "5s",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("timed out")
            && stderr.contains("west: 2/2 agents: pods")
            && stderr.contains("not connected to east"),
        "{stderr}"
    );
    lab.script_agents_healthy();
    let out = lab
        .cmd()
        .args(["connect", "--wait", "--timeout", "30s"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What `status` asks each cluster, and in how many requests: the objects (nine GETs), the
/// Nodes and the chart's agent and clustermesh-apiserver pods (one LIST each, the pods listed
/// with the objects, not after them) and one exec per Ready agent. kubeadm's ClusterConfiguration
/// (only `init` reads it) is not asked for.
#[test]
fn status_reads_a_cluster_in_nine_gets_two_lists_and_one_exec_per_agent() {
    let lab = connected(&two());
    lab.script_agents_healthy();
    for s in &lab.servers {
        s.clear_requests();
    }
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    for name in ["west", "east"] {
        let requests = lab.server(name).requests();
        let gets: Vec<&str> = requests
            .iter()
            .filter(|r| r.method == "GET" && !r.path.ends_with("/exec"))
            .map(|r| r.path.as_str())
            .collect();
        let lists: Vec<&str> = gets
            .iter()
            .copied()
            .filter(|p| p.ends_with("/nodes") || p.ends_with("/pods"))
            .collect();
        assert_eq!(lists.len(), 2, "{name}: {gets:#?}");
        assert_eq!(gets.len(), 11, "{name}: {gets:#?}");
        assert!(
            !gets.iter().any(|p| p.contains("kubeadm-config")),
            "{gets:#?}"
        );
        let pods = requests.iter().find(|r| r.path.ends_with("/pods")).unwrap();
        assert!(
            pods.query
                .contains("labelSelector=k8s-app+in+%28cilium%2Cclustermesh-apiserver%29")
                || pods
                    .query
                    .contains("labelSelector=k8s-app%20in%20%28cilium%2Cclustermesh-apiserver%29"),
            "{pods:?}"
        );
        assert_eq!(lab.server(name).exec_calls().len(), 2, "{name}");
    }
}

/// A DaemonSet whose selector is not the chart's (`k8s-app: cilium`) gets its own list of pods
/// by its own selector: the pods asked are the ones `kubectl exec ds/cilium` picks from, never
/// a guess.
#[test]
fn an_agent_selector_other_than_the_charts_lists_its_own_pods() {
    let lab = connected(&two());
    let server = lab.server("west");
    let mut ds = lab.get("west", "DaemonSet", "cilium").unwrap();
    ds["spec"]["selector"]["matchLabels"] = serde_json::json!({"app": "my-cilium"});
    server.seed_yaml(&ds.to_string());
    let pods = lab.agent_pods("west");
    for pod in &pods {
        let mut p = lab.object("west", "Pod", "kube-system", pod).unwrap();
        p["metadata"]["labels"]["app"] = "my-cilium".into();
        server.seed_yaml(&p.to_string());
    }
    // A pod carrying the chart's label but not the DaemonSet's selector: never asked.
    let mut stray = lab.object("west", "Pod", "kube-system", &pods[0]).unwrap();
    stray["metadata"]["name"] = "cilium-stray".into();
    stray["metadata"]["labels"] = serde_json::json!({"k8s-app": "cilium"});
    server.seed_yaml(&stray.to_string());
    lab.script_agents_healthy();
    server.clear_requests();
    let (code, report) = status_json(&lab, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let view = &cluster(&report, "west")["agentView"];
    assert_eq!(view["asked"], 2, "{view:#}");
    let asked: Vec<String> = server.exec_calls().into_iter().map(|c| c.pod).collect();
    assert!(!asked.contains(&"cilium-stray".to_string()), "{asked:?}");
    let own = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/pods") && r.query.contains("my-cilium"))
        .count();
    assert_eq!(own, 1, "{:#?}", server.requests());
}
