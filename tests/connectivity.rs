//! `kubectl mesh connectivity` against the lab: the objects it creates and deletes (and
//! nothing else), the exec calls it makes, cleanup after a failure and after an interrupt, and
//! the report for scripted outcomes (all ok; one direction dropped; answers all local under
//! affinity=remote). The test plays the kubelet (tests/common/probe.rs) and scripts what ping
//! and curl print, as the real tools print it.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::lab::{Lab, Spec};
use common::probe::{self as p, Kubelet, Run};
use mesh_test_apiserver::exec::ExecScript;
use serde_json::Value;

const SVC_URL: &str = "http://kubectl-mesh-check.kubectl-mesh-check.svc:8080/";
const LIMIT: Duration = Duration::from_secs(60);

fn two() -> Vec<Spec> {
    vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)]
}

fn spec<'a>(lab: &'a Lab, name: &str) -> &'a Spec {
    lab.specs.iter().find(|s| s.name == name).unwrap()
}

fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Scripts `from`'s client: ping and curl to `to`'s server pod.
fn script_path(lab: &Lab, from: &str, to: &str, icmp: ExecScript, tcp: Option<ExecScript>) {
    let (f, t) = (spec(lab, from), spec(lab, to));
    let ip = p::server_ip(t.pod_cidr);
    let srv = lab.server(from);
    srv.script_exec(p::CLIENT, p::CONTAINER, &argv(&p::ping_argv(&ip)), icmp);
    let tcp = tcp.unwrap_or_else(|| {
        ExecScript::ok(p::whoami(
            Some(to),
            &p::server_pod(to),
            &ip,
            &p::client_ip(f.pod_cidr),
            &format!("{ip}:8080"),
        ))
    });
    let url = format!("http://{ip}:8080/");
    srv.script_exec(p::CLIENT, p::CONTAINER, &argv(&p::curl_argv(&url)), tcp);
}

/// Scripts `from`'s service loop of `n` requests: answers from these clusters in turn (`None`:
/// curl timed out).
fn script_service(lab: &Lab, from: &str, n: u32, answers: &[Option<&str>]) {
    let f = spec(lab, from);
    let out: Vec<(String, i32)> = (0..n as usize)
        .map(|i| match answers[i % answers.len()] {
            Some(c) => (
                p::whoami(
                    Some(c),
                    &p::server_pod(c),
                    &p::server_ip(spec(lab, c).pod_cidr),
                    &p::client_ip(f.pod_cidr),
                    "kubectl-mesh-check.kubectl-mesh-check.svc:8080",
                ),
                0,
            ),
            None => (
                "curl: (28) Connection timed out after 2002 milliseconds\n".to_string(),
                28,
            ),
        })
        .collect();
    lab.server(from).script_exec(
        p::CLIENT,
        p::CONTAINER,
        &argv(&p::service_argv(SVC_URL, n)),
        p::loop_output(&out),
    );
}

fn never(_: &Lab) -> bool {
    false
}

fn run(lab: &Lab, args: &[&str], kubelet: &mut Kubelet, script: &mut dyn FnMut(&Lab)) -> Run {
    let run = p::run_with(lab, args, kubelet, script, &mut never, LIMIT);
    println!(
        "$ kubectl mesh {}\n{}{}",
        args.join(" "),
        run.stdout,
        run.stderr
    );
    run
}

fn report(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", run.stdout, run.stderr))
}

/// (method, path) of every write the command sent to `cluster` (execs aside).
fn writes(lab: &Lab, cluster: &str) -> Vec<(String, String)> {
    lab.server(cluster)
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/exec"))
        .map(|r| (r.method, r.path))
        .collect()
}

/// Nothing of the probe workload is left in `cluster` (the kubelet's pods and slices go with
/// the namespace).
fn assert_clean(lab: &Lab, cluster: &str, namespace_kept: bool) {
    let srv = lab.server(cluster);
    let ns = srv.get("v1", "Namespace", None, p::NS);
    assert_eq!(ns.is_some(), namespace_kept, "{cluster}: namespace {ns:?}");
    assert!(srv.get("v1", "Pod", Some(p::NS), p::CLIENT).is_none());
    assert!(
        srv.get(
            "apps/v1",
            "Deployment",
            Some(p::NS),
            "kubectl-mesh-check-server"
        )
        .is_none()
    );
    assert!(srv.get("v1", "Service", Some(p::NS), p::SERVICE).is_none());
}

fn healthy_script(lab: &Lab) {
    for (from, to) in [("west", "east"), ("east", "west")] {
        let ip = p::server_ip(spec(lab, to).pod_cidr);
        script_path(lab, from, to, p::ping_ok(&ip), None);
        script_service(lab, from, 20, &[Some("west"), Some("east")]);
    }
}

#[test]
fn all_paths_ok_and_the_distribution_matches() {
    let lab = Lab::start(&two());
    let mut kubelet = Kubelet::new(true, true);
    let run = run(
        &lab,
        &["connectivity", "-o", "json"],
        &mut kubelet,
        &mut healthy_script,
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let r = report(&run);
    assert_eq!(r["ok"], true);
    assert_eq!(r["service"], "kubectl-mesh-check/kubectl-mesh-check");
    let paths = r["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2, "{r:#}");
    for path in paths {
        assert_eq!(path["icmp"]["result"], "ok", "{path}");
        assert_eq!(path["tcp"]["result"], "ok", "{path}");
    }
    for d in r["distributions"].as_array().unwrap() {
        assert_eq!(d["matches"], true, "{d}");
        assert_eq!(
            d["answered"],
            serde_json::json!([{"cluster": "west", "answers": 10}, {"cluster": "east", "answers": 10}])
        );
        assert_eq!(
            d["predicted"],
            serde_json::json!([{"cluster": "west", "backends": 1}, {"cluster": "east", "backends": 1}])
        );
    }
    for (cluster, other) in [("west", "east"), ("east", "west")] {
        // Created with server-side apply, deleted newest first; nothing else written.
        let ns = "/api/v1/namespaces/kubectl-mesh-check";
        let want =
            vec![
            ("PATCH".to_string(), ns.to_string()),
            ("PATCH".into(), format!("{ns}/services/kubectl-mesh-check")),
            (
                "PATCH".into(),
                "/apis/apps/v1/namespaces/kubectl-mesh-check/deployments/kubectl-mesh-check-server"
                    .into(),
            ),
            ("PATCH".into(), format!("{ns}/pods/kubectl-mesh-check-client")),
            ("DELETE".into(), format!("{ns}/pods/kubectl-mesh-check-client")),
            (
                "DELETE".into(),
                "/apis/apps/v1/namespaces/kubectl-mesh-check/deployments/kubectl-mesh-check-server"
                    .into(),
            ),
            ("DELETE".into(), format!("{ns}/services/kubectl-mesh-check")),
            ("DELETE".into(), ns.to_string()),
        ];
        assert_eq!(writes(&lab, cluster), want, "{cluster}");
        assert_clean(&lab, cluster, false);
        // The exec calls: ping and curl to the other cluster's server pod, one service loop.
        let calls: BTreeSet<Vec<String>> = lab
            .server(cluster)
            .exec_calls()
            .into_iter()
            .map(|c| {
                assert_eq!(
                    (c.namespace.as_str(), c.pod.as_str(), c.container.as_str()),
                    (p::NS, p::CLIENT, p::CONTAINER)
                );
                c.argv
            })
            .collect();
        let ip = p::server_ip(spec(&lab, other).pod_cidr);
        let want: BTreeSet<Vec<String>> = [
            p::ping_argv(&ip),
            p::curl_argv(&format!("http://{ip}:8080/")),
            p::service_argv(SVC_URL, 20),
        ]
        .into_iter()
        .collect();
        assert_eq!(calls, want, "{cluster}");
    }
}

#[test]
fn the_table_shows_paths_and_distribution() {
    let lab = Lab::start(&two());
    let mut kubelet = Kubelet::new(true, true);
    let run = run(&lab, &["connectivity"], &mut kubelet, &mut healthy_script);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"Pod to pod:"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "west   east   {}   10.1.1.20   ok     ok",
            p::server_pod("east")
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("west   west 10, east 10   west:1 east:1          yes"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Every path works"), "{}", run.stdout);
}

#[test]
fn icmp_not_permitted_is_skipped_not_failed() {
    let lab = Lab::start(&two());
    let mut kubelet = Kubelet::new(true, true);
    // east's kernel refuses the ICMP socket (no CAP_NET_RAW, ping_group_range not applied).
    let mut script = |lab: &Lab| {
        healthy_script(lab);
        let ip = p::server_ip(spec(lab, "west").pod_cidr);
        lab.server("east").script_exec(
            p::CLIENT,
            p::CONTAINER,
            &argv(&p::ping_argv(&ip)),
            p::ping_not_permitted(),
        );
    };
    let run = run(
        &lab,
        &["connectivity", "-o", "yaml"],
        &mut kubelet,
        &mut script,
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "icmp:\n    result: skipped\n    reason: \"ICMP not permitted in the client pod (ping: socket: Operation not permitted)\""
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn one_direction_dropped() {
    let lab = Lab::start(&two());
    let mut kubelet = Kubelet::new(true, true);
    // west → east works; east → west is dropped (ICMP and TCP time out), so east's requests
    // that the load balancer sends to west time out too.
    let mut script = |lab: &Lab| {
        let east_ip = p::server_ip(spec(lab, "east").pod_cidr);
        let west_ip = p::server_ip(spec(lab, "west").pod_cidr);
        script_path(lab, "west", "east", p::ping_ok(&east_ip), None);
        script_path(
            lab,
            "east",
            "west",
            p::ping_lost(&west_ip),
            Some(p::curl_timeout()),
        );
        script_service(lab, "west", 20, &[Some("west"), Some("east")]);
        script_service(lab, "east", 20, &[Some("east"), None]);
    };
    let run = run(
        &lab,
        &["connectivity", "-o", "json", "--timeout", "3s"],
        &mut kubelet,
        &mut script,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let r = report(&run);
    assert_eq!(r["ok"], false);
    let path = |from: &str| {
        r["paths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == from)
            .unwrap()
            .clone()
    };
    assert_eq!(path("west")["tcp"]["result"], "ok");
    let back = path("east");
    assert_eq!(back["icmp"]["result"], "failed");
    assert_eq!(
        back["tcp"],
        serde_json::json!({"result": "failed", "error": "curl: (28) Connection timed out after 2002 milliseconds"})
    );
    let problems: Vec<&str> = r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let ip = p::server_ip(spec(&lab, "west").pod_cidr);
    let pod = p::server_pod("west");
    assert_eq!(
        problems,
        [
            format!(
                "east → west ({pod} {ip}): ICMP failed: no ICMP echo reply (1 packets transmitted, 0 received, 100% packet loss, time 0ms)"
            ),
            format!(
                "east → west ({pod} {ip}): TCP failed: curl: (28) Connection timed out after 2002 milliseconds"
            ),
            "east: 10 of 20 requests failed: curl: (28) Connection timed out after 2002 milliseconds"
                .to_string(),
            "east: no answer from west among 10, though `services` predicts its 1 of the 2 backend(s) used here (silence by chance: 1 in 1024)"
                .to_string(),
        ]
    );
    // Asked again while it disagreed (the mesh may still be syncing), then cleaned up.
    assert!(
        lab.server("east")
            .exec_calls()
            .iter()
            .filter(|c| c.argv[0] == "sh")
            .count()
            >= 2
    );
    for c in ["west", "east"] {
        assert_clean(&lab, c, false);
    }
}

#[test]
fn answers_all_local_under_affinity_remote_contradict_the_prediction() {
    let lab = Lab::start(&two());
    // The seed lab's webpod, two ready pods per cluster, global with affinity=remote.
    for c in ["west", "east"] {
        lab.seed_webpod(
            c,
            2,
            0,
            &[
                ("service.cilium.io/global", "true"),
                ("service.cilium.io/affinity", "remote"),
            ],
        );
    }
    let mut script = |lab: &Lab| {
        script_webpod(lab, &|from: &str| {
            vec![if from == "west" { "west" } else { "east" }; 20]
        })
    };
    let mut kubelet = Kubelet::new(true, false);
    let run = run(
        &lab,
        &["connectivity", "--service", "default/webpod", "-o", "json"],
        &mut kubelet,
        &mut script,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let r = report(&run);
    assert_eq!(r["service"], "default/webpod");
    assert_eq!(r["paths"].as_array().unwrap().len(), 4);
    assert!(
        r["paths"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["tcp"]["result"] == "ok" && p["icmp"]["result"] == "ok"),
        "{r:#}"
    );
    let west = &r["distributions"][0];
    assert_eq!(west["cluster"], "west");
    assert_eq!(
        west["answered"],
        serde_json::json!([{"cluster": "west", "answers": 20}])
    );
    assert_eq!(
        west["predicted"],
        serde_json::json!([{"cluster": "east", "backends": 2}])
    );
    assert_eq!(west["matches"], false);
    assert_eq!(
        west["problems"][0],
        "20 of 20 answers came from west, but `services` predicts only east's backends (see its annotations)"
    );
    // Only the client was deployed; the user's Service and Deployment are untouched.
    for c in ["west", "east"] {
        let created: Vec<(String, String)> = writes(&lab, c)
            .into_iter()
            .filter(|(m, _)| m == "PATCH")
            .collect();
        assert_eq!(
            created,
            [
                (
                    "PATCH".to_string(),
                    "/api/v1/namespaces/kubectl-mesh-check".to_string()
                ),
                (
                    "PATCH".into(),
                    "/api/v1/namespaces/kubectl-mesh-check/pods/kubectl-mesh-check-client".into()
                ),
            ]
        );
        assert!(lab.object(c, "Service", "default", "webpod").is_some());
        assert_clean(&lab, c, false);
    }
}

/// The seed lab's webpod pod `i` of cluster `c` (as `Lab::seed_webpod` names them) and its IP.
fn webpod(lab: &Lab, c: &str, i: usize) -> (String, String) {
    (
        format!("webpod-697b545f57-{c}{i}"),
        spec(lab, c)
            .pod_cidr
            .replace(".0.0/16", &format!(".1.{}", 10 + i)),
    )
}

/// Scripts every client for `--service default/webpod`: ping and curl to the other cluster's
/// two webpod pods, and 20 requests to the Service answered by the clusters `answers(from)`
/// lists (whoami without a name, as the seed lab's webpod: only `Hostname:` says who).
fn script_webpod(lab: &Lab, answers: &dyn Fn(&str) -> Vec<&'static str>) {
    for (from, to) in [("west", "east"), ("east", "west")] {
        let client = p::client_ip(spec(lab, from).pod_cidr);
        let srv = lab.server(from);
        for i in 0..2 {
            let (pod, ip) = webpod(lab, to, i);
            srv.script_exec(
                p::CLIENT,
                p::CONTAINER,
                &argv(&p::ping_argv(&ip)),
                p::ping_ok(&ip),
            );
            srv.script_exec(
                p::CLIENT,
                p::CONTAINER,
                &argv(&p::curl_argv(&format!("http://{ip}:80/"))),
                ExecScript::ok(p::whoami(None, &pod, &ip, &client, &format!("{ip}:80"))),
            );
        }
        let out: Vec<(String, i32)> = answers(from)
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (pod, ip) = webpod(lab, c, i % 2);
                (p::whoami(None, &pod, &ip, &client, "webpod.default.svc"), 0)
            })
            .collect();
        srv.script_exec(
            p::CLIENT,
            p::CONTAINER,
            &argv(&p::service_argv("http://webpod.default.svc:80/", 20)),
            p::loop_output(&out),
        );
    }
}

/// The seed lab's walk-through (sections 8 and 9: global, affinity remote and local, shared)
/// with `annotate` and `connectivity --service`: the answers are scripted as the seed lab saw
/// Cilium route them, and each time they match what `services` predicts from the annotations
/// `annotate` wrote. The tables are printed (`--nocapture`) for the README.
#[test]
fn seed_lab_walk_through_with_annotate_and_connectivity() {
    let lab = Lab::start(&two());
    for c in ["west", "east"] {
        lab.seed_webpod(c, 2, 0, &[]);
    }
    let both =
        |_: &str| -> Vec<&'static str> { (0..20).map(|i| ["west", "east"][i % 2]).collect() };
    let other =
        |c: &str| -> Vec<&'static str> { vec![if c == "west" { "east" } else { "west" }; 20] };
    let own =
        |c: &str| -> Vec<&'static str> { vec![if c == "west" { "west" } else { "east" }; 20] };
    let only_shared = |c: &str| -> Vec<&'static str> {
        if c == "west" {
            (0..20).map(|i| ["west", "east"][i % 2]).collect()
        } else {
            vec!["east"; 20]
        }
    };
    type Answers = dyn Fn(&str) -> Vec<&'static str>;
    let steps: [(&[&str], &Answers); 5] = [
        (&["--global"], &both),
        (&["--affinity", "remote"], &other),
        (&["--affinity", "local", "--overwrite"], &own),
        (&["--remove", "affinity"], &both),
        (&["--shared=false", "--clusters", "west"], &only_shared),
    ];
    for (annotate, answers) in steps {
        let mut args = vec!["annotate", "service", "webpod", "-n", "default"];
        args.extend(annotate);
        let out = lab.cmd().args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("$ kubectl mesh {}", args.join(" "));
        let mut kubelet = Kubelet::new(true, false);
        let mut script = |lab: &Lab| script_webpod(lab, answers);
        let run = run(
            &lab,
            &["connectivity", "--service", "default/webpod"],
            &mut kubelet,
            &mut script,
        );
        assert_eq!(
            run.code,
            Some(0),
            "{annotate:?}: {}{}",
            run.stdout,
            run.stderr
        );
    }
}

/// A namespace that exists before: only the probe's objects go, the namespace and an unrelated
/// object in it stay.
fn seed_existing_namespace(lab: &Lab, cluster: &str) {
    lab.server(cluster).seed_yaml(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: kubectl-mesh-check\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep-me\n  namespace: kubectl-mesh-check\ndata:\n  a: b\n",
    );
}

#[test]
fn cleanup_after_a_failure_removes_only_what_it_created() {
    let lab = Lab::start(&two());
    seed_existing_namespace(&lab, "west");
    // Pods never become ready (an image that cannot be pulled).
    let mut kubelet = Kubelet::new(false, true);
    let run = run(
        &lab,
        &["connectivity", "--timeout", "3s"],
        &mut kubelet,
        &mut |_| {},
    );
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("error: the probe workload was not ready within 3s: west: client Pod: not scheduled yet; server: no Ready pod (none created yet)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_clean(&lab, "west", true);
    assert!(
        lab.object("west", "ConfigMap", "kubectl-mesh-check", "keep-me")
            .is_some()
    );
    assert_clean(&lab, "east", false);
    // In west the namespace was not made by this run: it is neither applied nor deleted.
    assert!(
        !writes(&lab, "west")
            .iter()
            .any(|(_, path)| path == "/api/v1/namespaces/kubectl-mesh-check")
    );
}

#[test]
fn cleanup_after_a_refused_write() {
    let lab = Lab::start(&two());
    // east refuses the first write (an admission webhook, a quota): whatever west got goes again.
    lab.server("east").fail_next_writes(1, 500);
    let mut kubelet = Kubelet::new(true, true);
    let run = run(&lab, &["connectivity"], &mut kubelet, &mut healthy_script);
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("error: east: cannot create the probe workload: context kind-east: apply Namespace kubectl-mesh-check:"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_clean(&lab, "west", false);
    assert_clean(&lab, "east", false);
}

#[test]
fn cleanup_after_an_interrupt() {
    let lab = Lab::start(&two());
    seed_existing_namespace(&lab, "east");
    let mut kubelet = Kubelet::new(false, true);
    let mut interrupt = |lab: &Lab| Kubelet::new(false, true).all_created(lab);
    let run = p::run_with(
        &lab,
        &["connectivity", "--timeout", "60s"],
        &mut kubelet,
        &mut |_| {},
        &mut interrupt,
        LIMIT,
    );
    assert_eq!(run.code, Some(130), "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    assert_clean(&lab, "west", false);
    assert_clean(&lab, "east", true);
    assert!(
        lab.object("east", "ConfigMap", "kubectl-mesh-check", "keep-me")
            .is_some()
    );
}

#[test]
fn keep_leaves_the_workload() {
    let lab = Lab::start(&two());
    let mut kubelet = Kubelet::new(true, true);
    let run = run(
        &lab,
        &["connectivity", "--keep"],
        &mut kubelet,
        &mut healthy_script,
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("kept the probe workload"),
        "{}",
        run.stderr
    );
    for c in ["west", "east"] {
        assert!(
            lab.server(c)
                .get("v1", "Pod", Some(p::NS), p::CLIENT)
                .is_some()
        );
        assert!(
            !writes(&lab, c).iter().any(|(m, _)| m == "DELETE"),
            "{c}: {:?}",
            writes(&lab, c)
        );
    }
}

#[test]
fn dry_run_prints_the_objects_and_changes_nothing() {
    let lab = Lab::start(&two());
    seed_existing_namespace(&lab, "east");
    let out = lab
        .cmd()
        .args([
            "connectivity",
            "--dry-run",
            "--client-image",
            "registry.local/netshoot:v0.13",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lab.total_writes(), 0);
    let west = stdout.split("# cluster east").next().unwrap();
    let east = stdout.split("# cluster east").nth(1).unwrap();
    assert!(west.starts_with("# cluster west (context kind-west): would create\n"));
    assert_eq!(west.matches("\nkind: ").count(), 4, "{west}");
    // east has the namespace already: not created.
    assert_eq!(east.matches("\nkind: ").count(), 3, "{east}");
    assert!(!east.contains("kind: Namespace"));
    assert!(stdout.contains("image: registry.local/netshoot:v0.13"));
    assert!(
        stdout.contains("service.cilium.io/global: 'true'")
            || stdout.contains("service.cilium.io/global: \"true\""),
        "{stdout}"
    );
}

#[test]
fn refuses_objects_it_did_not_make() {
    let lab = Lab::start(&two());
    seed_existing_namespace(&lab, "east");
    lab.server("east").seed_yaml(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kubectl-mesh-check-client\n  namespace: kubectl-mesh-check\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
    );
    let out = lab.cmd().arg("connectivity").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("east: Pod kubectl-mesh-check/kubectl-mesh-check-client exists and was not made by kubectl mesh connectivity"),
        "{stderr}"
    );
    assert_eq!(lab.total_writes(), 0);
}

#[test]
fn usage_errors_exit_2() {
    let lab = Lab::start(&two());
    for args in [
        vec!["connectivity", "--service", "webpod"],
        vec!["connectivity", "--requests", "0"],
        vec![
            "connectivity",
            "--service",
            "default/webpod",
            "--server-image",
            "x",
        ],
    ] {
        let out = lab.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(lab.total_writes(), 0);
}
