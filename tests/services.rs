//! Global Services across the mesh: `kubectl mesh annotate service|namespace` and
//! `kubectl mesh services`, end to end against in-memory API servers seeded with the seed lab's
//! `webpod` (Deployment, Service, EndpointSlices).

mod common;

use common::lab::{Lab, Spec};
use predicates::prelude::*;
use serde_json::{Value, json};

const GLOBAL: &str = "service.cilium.io/global";
const AFFINITY: &str = "service.cilium.io/affinity";
const SHARED: &str = "service.cilium.io/shared";

fn two() -> Vec<Spec> {
    vec![Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)]
}

fn three() -> Vec<Spec> {
    let mut specs = two();
    specs.push(Spec::new("north", 3, 32381));
    specs
}

/// A lab whose clusters all run `webpod` with two ready pods and the seed's Service (plus an
/// unrelated annotation that must survive every write).
fn webpod_lab(specs: &[Spec]) -> Lab {
    let lab = Lab::start(specs);
    for s in specs {
        lab.seed_webpod(s.name, 2, 0, &[("team", "web")]);
    }
    lab
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(lab: &Lab, args: &[&str]) -> std::process::Output {
    lab.cmd().args(args).output().unwrap()
}

/// Runs an annotate command and asserts it succeeded.
fn annotate(lab: &Lab, args: &[&str]) -> String {
    let mut all = vec!["annotate", "service", "webpod", "-n", "default"];
    all.extend(args);
    let out = run(lab, &all);
    assert!(out.status.success(), "{all:?}: {}", text(&out));
    text(&out)
}

/// `kubectl mesh services -o json`, asserting the exit code.
fn services_json(lab: &Lab, code: i32) -> Value {
    let out = run(lab, &["services", "-o", "json"]);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)))
}

/// `kubectl mesh services` as a table, printed (see them with `--nocapture`).
fn services_table(lab: &Lab, title: &str) -> String {
    let out = run(lab, &["services"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("$ kubectl mesh services   # {title}\n{table}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    table
}

/// The backends each cluster uses, per cluster: `west:2 east:2`.
fn uses(report: &Value, cluster: &str) -> String {
    let c = report["services"][0]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == cluster)
        .unwrap_or_else(|| panic!("{cluster} in {report:#}"));
    let uses: Vec<String> = c["uses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| format!("{}:{}", u["cluster"].as_str().unwrap(), u["backends"]))
        .collect();
    uses.join(" ")
}

fn problems(report: &Value) -> Vec<String> {
    report["services"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn annotate_end_to_end_through_kubectl_plugin_discovery() {
    let lab = webpod_lab(&two());
    // `kubectl mesh …` through kubectl's plugin discovery (the binary directly only when the user
    // opted out of kubectl).
    let kubectl = common::require(&common::KUBECTL, which::which("kubectl").ok());
    let bin = assert_cmd::cargo::cargo_bin("kubectl-mesh");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl_mesh = |args: &[&str]| match &kubectl {
        Some(kubectl) => std::process::Command::new(kubectl)
            .arg("mesh")
            .args(args)
            .current_dir(lab.home())
            .env_clear()
            .env("HOME", lab.home())
            .env("PATH", &path)
            .env("KUBECONFIG", lab.home().join("kubeconfig"))
            .output()
            .unwrap(),
        None => run(&lab, args),
    };
    let global = ["annotate", "service", "webpod", "-n", "default", "--global"];

    // Nothing is global yet.
    let out = kubectl_mesh(&["services"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("No global Services in namespace default."),
        "{}",
        text(&out)
    );

    // Dry run: the Service as it would be written, per cluster; nothing written.
    let out = kubectl_mesh(&[&global[..], &["--dry-run"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    for cluster in ["west", "east"] {
        let header = format!("# cluster {cluster} (context kind-{cluster}): 1 object(s) to write");
        assert!(printed.contains(&header), "{printed}");
    }
    assert!(
        printed.contains("service.cilium.io/global: \"true\"") && printed.contains("team: web"),
        "{printed}"
    );
    assert_eq!(lab.total_writes(), 0);

    // For real: both clusters, only that key.
    let out = kubectl_mesh(&global);
    assert!(out.status.success(), "{}", text(&out));
    for cluster in ["west", "east"] {
        let line =
            format!("{cluster}: annotated Service default/webpod: service.cilium.io/global=true");
        assert!(text(&out).contains(&line), "{}", text(&out));
        let a = lab.annotations(cluster, "Service", "default", "webpod");
        assert_eq!(a.get(GLOBAL).map(String::as_str), Some("true"));
        assert_eq!(a.get("team").map(String::as_str), Some("web"));
        assert_eq!(a.len(), 2, "{a:?}");
    }
    let writes = lab.total_writes();
    assert_eq!(writes, 2);

    // A second run changes nothing.
    let out = kubectl_mesh(&global);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("west: Service default/webpod is up to date"),
        "{}",
        text(&out)
    );
    assert_eq!(lab.total_writes(), writes);

    // Global, no affinity: both clusters balance over all four pods (seed lab, section 8).
    let out = kubectl_mesh(&["services", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(uses(&report, "west"), "west:2 east:2");
    assert_eq!(uses(&report, "east"), "west:2 east:2");

    // Changing a value needs --overwrite, and a refusal writes nothing.
    let out = kubectl_mesh(&[&global[..2], &["webpod", "--affinity", "local"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let out = kubectl_mesh(&[&global[..2], &["webpod", "--affinity", "remote"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "service.cilium.io/affinity is already \"local\": pass --overwrite to change it to \"remote\""
        ) && text(&out).contains("nothing was changed"),
        "{}",
        text(&out)
    );
    let writes = lab.total_writes();
    let out = kubectl_mesh(
        &[
            &global[..2],
            &["webpod", "--affinity", "remote", "--overwrite"],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lab.total_writes(), writes + 2);

    // Removing: --remove affinity, then --global=false (no --overwrite needed).
    let out = kubectl_mesh(&[&global[..5], &["--remove", "affinity"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("annotated Service default/webpod: service.cilium.io/affinity-"),
        "{}",
        text(&out)
    );
    let out = kubectl_mesh(&[&global[..5], &["--global=false"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    for cluster in ["west", "east"] {
        let a = lab.annotations(cluster, "Service", "default", "webpod");
        assert_eq!(a.keys().collect::<Vec<_>>(), ["team"], "{a:?}");
    }
}

#[test]
fn services_select_backends_like_the_seed_lab() {
    let lab = webpod_lab(&two());
    annotate(&lab, &["--global"]);

    // affinity=local in both: each cluster uses its own pods.
    annotate(&lab, &["--affinity", "local"]);
    let report = services_json(&lab, 0);
    assert_eq!(uses(&report, "west"), "west:2");
    assert_eq!(uses(&report, "east"), "east:2");
    assert_eq!(
        report["services"][0]["clusters"][0],
        json!({"cluster": "west", "global": true, "shared": true, "affinity": "local",
            "ports": [{"port": 80, "protocol": "TCP"}], "readyBackends": 2,
            "uses": [{"cluster": "west", "backends": 2}]})
    );
    assert_eq!(
        (
            &report["services"][0]["namespace"],
            &report["services"][0]["name"]
        ),
        (&json!("default"), &json!("webpod"))
    );
    assert!(problems(&report).is_empty());
    services_table(&lab, "affinity=local in west and east");

    // affinity=remote in both: each prefers the other's pods (seed lab, 9.1) …
    annotate(&lab, &["--affinity", "remote", "--overwrite"]);
    let report = services_json(&lab, 0);
    assert_eq!(uses(&report, "west"), "east:2");
    assert_eq!(uses(&report, "east"), "west:2");
    services_table(&lab, "affinity=remote in west and east");
    // … and falls back to its own once the remote has none ready.
    lab.seed_webpod_endpoints("east", 0, 2);
    let report = services_json(&lab, 0);
    assert_eq!(uses(&report, "west"), "west:2");
    assert_eq!(uses(&report, "east"), "west:2");
    assert_eq!(report["services"][0]["clusters"][1]["readyBackends"], 0);
    services_table(&lab, "affinity=remote, east scaled to 0 ready");
    lab.seed_webpod_endpoints("east", 2, 0);

    // shared=false in west (no affinity): east sees only its own pods; west still uses both.
    annotate(&lab, &["--remove", "affinity"]);
    annotate(&lab, &["--shared=false", "--clusters", "west"]);
    assert_eq!(
        lab.annotations("west", "Service", "default", "webpod")
            .get(SHARED)
            .map(String::as_str),
        Some("false")
    );
    assert!(
        !lab.annotations("east", "Service", "default", "webpod")
            .contains_key(SHARED)
    );
    let report = services_json(&lab, 0);
    assert_eq!(uses(&report, "west"), "west:2 east:2");
    assert_eq!(uses(&report, "east"), "east:2");
    services_table(&lab, "shared=false in west");

    // No ready backend anywhere is a problem (exit 1).
    lab.seed_webpod_endpoints("west", 0, 0);
    lab.seed_webpod_endpoints("east", 0, 1);
    let report = services_json(&lab, 1);
    assert_eq!(
        problems(&report),
        ["no ready backend in any cluster (west, east)"]
    );
    let out = run(&lab, &["services", "webpod"]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(
            "Problems:\n  ✗ default/webpod: no ready backend in any cluster (west, east)"
        ),
        "{table}"
    );
}

#[test]
fn a_port_mismatch_refuses_without_writing_anywhere() {
    let lab = webpod_lab(&two());
    let mut east = lab.object("east", "Service", "default", "webpod").unwrap();
    east["spec"]["ports"] = json!([{"name": "http", "port": 8080, "protocol": "TCP"}]);
    lab.server("east").seed_yaml(&east.to_string());

    for dry_run in [true, false] {
        let mut args = vec!["annotate", "service", "webpod", "--global"];
        if dry_run {
            args.push("--dry-run");
        }
        let out = run(&lab, &args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("annotate refused: 1 problem(s), nothing was changed")
                && t.contains("west, east: ports differ: west has 80/TCP; east has http:8080/TCP")
                && t.contains("or pass --force"),
            "{t}"
        );
        assert!(!t.contains("kind: Service"), "{t}");
        assert_eq!(lab.total_writes(), 0);
    }

    // --force annotates anyway, saying so; `services` reports the mismatch.
    let out = run(
        &lab,
        &["annotate", "service", "webpod", "--global", "--force"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("warning: ports differ"),
        "{}",
        text(&out)
    );
    assert_eq!(lab.total_writes(), 2);
    let report = services_json(&lab, 1);
    assert_eq!(
        problems(&report),
        ["ports differ: west has 80/TCP; east has http:8080/TCP"]
    );
}

#[test]
fn missing_and_unreachable_clusters_are_reported() {
    let lab3 = Lab::start(&three());
    // north has no webpod.
    for c in ["west", "east"] {
        lab3.seed_webpod(c, 2, 0, &[]);
    }
    let out = run(&lab3, &["annotate", "service", "webpod", "--global"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("north: Service default/webpod does not exist")
            && text(&out).contains("--allow-missing"),
        "{}",
        text(&out)
    );
    assert_eq!(lab3.total_writes(), 0);

    let out = run(
        &lab3,
        &[
            "annotate",
            "service",
            "webpod",
            "--global",
            "--allow-missing",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("north: skipped: Service default/webpod does not exist"),
        "{}",
        text(&out)
    );
    assert_eq!(lab3.total_writes(), 2);
    let report = services_json(&lab3, 1);
    assert_eq!(report["services"][0]["missing"], json!(["north"]));
    assert_eq!(
        problems(&report),
        [
            "missing in north: without the Service there, that cluster can neither use nor add backends"
        ]
    );

    // Global in one cluster only.
    lab3.seed_webpod("north", 1, 0, &[]);
    let report = services_json(&lab3, 1);
    assert_eq!(uses(&report, "north"), "north:1");
    assert_eq!(uses(&report, "west"), "west:2 east:2");
    assert_eq!(
        problems(&report),
        [
            "global in west, east only, not in north: there it neither exports its backends nor uses remote ones"
        ]
    );

    // east unreachable: annotate refuses everywhere; `services` says so and exits 1.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    lab3.write_kubeconfig(&[("east", dead_url)]);
    let writes = lab3.total_writes();
    let out = run(
        &lab3,
        &[
            "annotate",
            "service",
            "webpod",
            "--global",
            "--request-timeout",
            "2s",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("east: cannot read it") && text(&out).contains("nothing was changed"),
        "{}",
        text(&out)
    );
    assert_eq!(lab3.total_writes(), writes);
    // Leaving it out with --clusters works, with a warning.
    let out = run(
        &lab3,
        &[
            "annotate",
            "service",
            "webpod",
            "--global",
            "--clusters",
            "north",
            "--request-timeout",
            "2s",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("warning: east (not to be annotated): cannot read it"),
        "{}",
        text(&out)
    );
    assert_eq!(lab3.total_writes(), writes + 1);
    let out = run(&lab3, &["services", "--request-timeout", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("unreachable") && table.contains("✗ east: cannot read it"),
        "{table}"
    );
    // An unknown cluster name is an error (exit 2) naming the known ones.
    run_code(
        &lab3,
        &[
            "annotate",
            "service",
            "webpod",
            "--global",
            "--clusters",
            "south",
        ],
        2,
    )
    .stderr(predicate::str::contains("south").and(predicate::str::contains("west, east, north")));
}

fn run_code(lab: &Lab, args: &[&str], code: i32) -> assert_cmd::assert::Assert {
    lab.cmd().args(args).assert().code(code)
}

#[test]
fn the_namespace_must_be_global_on_cilium_1_20() {
    let mut specs = two();
    for s in &mut specs {
        s.version = "v1.20.0";
    }
    let lab = webpod_lab(&specs);
    for c in ["west", "east"] {
        lab.set_cilium_config(c, "clustermesh-default-global-namespace", "false");
    }
    let out = run(&lab, &["annotate", "service", "webpod", "--global"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("west, east: namespace default is not global (Cilium runs with clustermesh-default-global-namespace=\"false\"")
            && text(&out).contains("run `kubectl mesh annotate namespace default --global` first"),
        "{}",
        text(&out)
    );
    assert_eq!(lab.total_writes(), 0);

    // Forced: global as annotated, but not as Cilium applies it.
    run_code(
        &lab,
        &["annotate", "service", "webpod", "--global", "--force"],
        0,
    );
    let report = services_json(&lab, 1);
    assert_eq!(
        report["services"][0]["clusters"][0]["namespaceGlobal"],
        false
    );
    assert_eq!(uses(&report, "west"), "west:2");
    assert!(
        problems(&report)[0].starts_with("west: the Service is annotated service.cilium.io/global but its namespace is not global"),
        "{report:#}"
    );
    let table = String::from_utf8_lossy(&run(&lab, &["services"]).stdout).into_owned();
    assert!(table.contains("no (namespace)"), "{table}");

    // The offered fix: dry run first, then for real; a second run changes nothing.
    let writes = lab.total_writes();
    let out = run(
        &lab,
        &["annotate", "namespace", "default", "--global", "--dry-run"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("kind: Namespace")
            && text(&out).contains("clustermesh.cilium.io/global: \"true\""),
        "{}",
        text(&out)
    );
    assert_eq!(lab.total_writes(), writes);
    run_code(&lab, &["annotate", "namespace", "default", "--global"], 0).stdout(
        predicate::str::contains(
            "west: annotated Namespace default: clustermesh.cilium.io/global=true",
        ),
    );
    run_code(&lab, &["annotate", "namespace", "default", "--global"], 0).stdout(
        predicate::str::contains("east: Namespace default is up to date"),
    );
    assert_eq!(lab.total_writes(), writes + 2);
    // Making it local again needs --overwrite.
    run_code(
        &lab,
        &["annotate", "namespace", "default", "--global=false"],
        1,
    )
    .stderr(predicate::str::contains("pass --overwrite"));

    let report = services_json(&lab, 0);
    assert_eq!(uses(&report, "west"), "west:2 east:2");
    assert!(
        report["services"][0]["clusters"][0]
            .get("namespaceGlobal")
            .is_none()
    );
    // With a global namespace the Service annotates without --force.
    run_code(
        &lab,
        &["annotate", "service", "webpod", "--affinity", "local"],
        0,
    );
}

#[test]
fn legacy_keys_are_reported_and_migrated() {
    let lab = Lab::start(&two());
    lab.seed_webpod("west", 2, 0, &[("io.cilium/global-service", "true")]);
    lab.seed_webpod("east", 2, 0, &[(GLOBAL, "true")]);
    let report = services_json(&lab, 0);
    assert_eq!(uses(&report, "east"), "west:2 east:2");
    let warnings = report["services"][0]["warnings"].to_string();
    assert!(
        warnings.contains("west: legacy annotation(s) io.cilium/global-service")
            && warnings.contains("--migrate-legacy"),
        "{warnings}"
    );
    // Already global everywhere: nothing to write, but the legacy key is pointed out.
    let out = annotate(&lab, &["--global"]);
    assert!(
        out.contains("west: Service default/webpod is up to date")
            && out.contains(
                "warning: west: Service default/webpod carries legacy annotation(s) io.cilium/global-service"
            ),
        "{out}"
    );
    assert_eq!(lab.total_writes(), 0);
    let out = annotate(&lab, &["--migrate-legacy"]);
    assert!(
        out.contains("west: annotated Service default/webpod: io.cilium/global-service-, service.cilium.io/global=true")
            && out.contains("east: Service default/webpod is up to date"),
        "{out}"
    );
    let a = lab.annotations("west", "Service", "default", "webpod");
    assert_eq!(a.keys().collect::<Vec<_>>(), [GLOBAL]);
    let report = services_json(&lab, 0);
    assert!(
        report["services"][0].get("warnings").is_none(),
        "{report:#}"
    );
}

#[test]
fn a_conflicting_write_is_planned_again() {
    let lab = webpod_lab(&two());
    // Someone changes webpod between our read and our write: one 409, then success.
    lab.server("west").fail_next_writes(1, 409);
    annotate(&lab, &["--global", "--affinity", "local"]);
    for c in ["west", "east"] {
        let a = lab.annotations(c, "Service", "default", "webpod");
        assert_eq!(a.get(AFFINITY).map(String::as_str), Some("local"), "{c}");
        assert_eq!(a.get("team").map(String::as_str), Some("web"), "{c}");
    }
    // Flags that make no sense are errors (exit 2) before anything is read.
    run_code(&lab, &["annotate", "service", "webpod"], 2)
        .stderr(predicate::str::contains("nothing to change"));
    run_code(
        &lab,
        &[
            "annotate",
            "service",
            "webpod",
            "--affinity",
            "local",
            "--remove",
            "affinity",
        ],
        2,
    )
    .stderr(predicate::str::contains(
        "--remove affinity contradicts --affinity",
    ));
    // Asking for a Service that exists nowhere is an error too.
    run_code(&lab, &["services", "nosuch"], 2).stderr(predicate::str::contains(
        "no Service nosuch in namespace default",
    ));
}

/// The affinity=none trap (cilium/cilium#46623): on Cilium 1.18.x, and on 1.19 before the
/// backport of the fix (cilium/cilium#46635; which 1.19 patch carries it is not known to
/// kubectl-mesh, so 1.19.6 is "maybe"), a literal `service.cilium.io/affinity: none` drops every
/// remote backend; on 1.20 it means no preference. `services` predicts it and says how to fix
/// it; `annotate --affinity none` removes the annotation (same meaning everywhere) unless
/// `--literal-none`, and warns where the literal value is found or written on such a release.
#[test]
fn affinity_none_on_1_18_1_19_and_1_20() {
    let mut specs = three();
    specs[0].version = "v1.18.12";
    specs[1].version = "v1.19.6";
    specs[2].version = "v1.20.0";
    let lab = Lab::start(&specs);
    for s in &specs {
        lab.seed_webpod(s.name, 2, 0, &[(GLOBAL, "true"), (AFFINITY, "none")]);
    }
    let report = services_json(&lab, 1);
    let clusters = &report["services"][0]["clusters"];
    assert_eq!(clusters[0]["remoteBackendsDropped"], "yes", "{report:#}");
    assert_eq!(clusters[1]["remoteBackendsDropped"], "maybe", "{report:#}");
    assert!(
        clusters[2].get("remoteBackendsDropped").is_none(),
        "{report:#}"
    );
    assert_eq!(uses(&report, "west"), "west:2");
    assert_eq!(uses(&report, "east"), "east:2");
    assert_eq!(uses(&report, "north"), "west:2 east:2 north:2");
    let found = problems(&report);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("west: affinity \"none\": Cilium 1.18.12 drops every remote backend")
            && found[0].contains("cilium/cilium#46623")
            && found[0].contains("kubectl mesh annotate service webpod -n default --affinity none"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("east: affinity \"none\": Cilium 1.19.6 may drop")
            && found[1].contains("cilium/cilium#46635"),
        "{found:#?}"
    );
    let table = run(&lab, &["services"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    println!("$ kubectl mesh services   # literal affinity none on 1.18, 1.19, 1.20\n{table}");
    assert!(
        table.contains("local only (!)") && table.contains("local only (?)"),
        "{table}"
    );

    // No ready pod in west: on 1.18 it uses nothing at all (the blackhole).
    lab.seed_webpod_endpoints("west", 0, 0);
    let report = services_json(&lab, 1);
    assert_eq!(uses(&report, "west"), "");
    lab.seed_webpod_endpoints("west", 2, 0);

    // `--affinity none` removes the annotation everywhere, no --overwrite needed, and says
    // where the literal value was dropping backends.
    let said = annotate(&lab, &["--affinity", "none"]);
    assert!(
        said.contains("west: Service default/webpod had affinity \"none\": Cilium 1.18.12 drops")
            && said.contains(
                "east: Service default/webpod had affinity \"none\": Cilium 1.19.6 may drop"
            )
            && !said.contains("north: Service default/webpod had"),
        "{said}"
    );
    for s in &specs {
        let a = lab.annotations(s.name, "Service", "default", "webpod");
        assert!(!a.contains_key(AFFINITY), "{}: {a:?}", s.name);
        assert_eq!(a.get(GLOBAL).map(String::as_str), Some("true"));
    }
    let report = services_json(&lab, 0);
    for c in ["west", "east", "north"] {
        assert_eq!(uses(&report, c), "west:2 east:2 north:2", "{c}");
    }
    // A second run writes nothing.
    let writes = lab.total_writes();
    annotate(&lab, &["--affinity", "none"]);
    assert_eq!(lab.total_writes(), writes);

    // The user insists on the literal value: written, with a warning where it drops backends.
    let said = annotate(&lab, &["--affinity", "none", "--literal-none"]);
    assert!(
        said.contains("west: Service default/webpod will carry affinity \"none\"")
            && said.contains("Leave out --literal-none")
            && !said.contains("north: Service default/webpod will carry"),
        "{said}"
    );
    for s in &specs {
        let a = lab.annotations(s.name, "Service", "default", "webpod");
        assert_eq!(
            a.get(AFFINITY).map(String::as_str),
            Some("none"),
            "{}",
            s.name
        );
    }
    // Removing `local` still needs --overwrite.
    annotate(&lab, &["--affinity", "local", "--overwrite"]);
    let out = run(
        &lab,
        &[
            "annotate",
            "service",
            "webpod",
            "-n",
            "default",
            "--affinity",
            "none",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--overwrite"), "{}", text(&out));
    let out = run(
        &lab,
        &[
            "annotate",
            "service",
            "webpod",
            "-n",
            "default",
            "--affinity",
            "local",
            "--literal-none",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
