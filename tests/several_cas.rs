//! A mesh of several CAs (`trust: bundle`), end to end: two clusters installed independently,
//! each with its own CA (its Secrets as the chart makes them: `cilium-ca`, the clustermesh-apiserver
//! certificates issued by it), whose chart mounts the CA bundle (`tls.caBundle.enabled`, the
//! reference case `several-cas-2-1.17.6`). The lab's in-memory API servers hold the objects; each
//! cluster's clustermesh-apiserver is a real etcd on 127.0.0.1 with mutual TLS that admits the
//! clients of every CA in its bundle, as the chart's `etcd-server-secrets` volume makes it.
//! `connect` without `ca sync`, `status` healthy, `troubleshoot` clean; then a stale CA in one
//! bundle, caught by `troubleshoot`, `status` and `connect`.

mod common;

use base64::Engine;
use common::etcd::{self, Etcd};
use common::lab::Lab;
use common::meshlab::loopback_specs;
use common::pki::{self, Ca, Pair};
use serde_json::Value;

const BUNDLE: &str = "cilium-root-ca.crt";

struct BundleLab {
    lab: Lab,
    west: Ca,
    east: Ca,
    etcds: Vec<Etcd>,
    bin: std::path::PathBuf,
    servers: Vec<Pair>,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn set_secret(lab: &Lab, cluster: &str, name: &str, data: &[(&str, &str)]) {
    let mut secret = lab
        .get(cluster, "Secret", name)
        .unwrap_or_else(|| panic!("{cluster} has Secret {name}"));
    for (k, v) in data {
        secret["data"][*k] = Value::String(b64(v));
    }
    lab.server(cluster).seed_yaml(&secret.to_string());
}

/// The CA bundle ConfigMap the chart mounts (`tls.caBundle`, name and key its defaults).
fn set_bundle(lab: &Lab, cluster: &str, pem: &str) {
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": BUNDLE, "namespace": "kube-system"}, "data": {"ca.crt": pem}});
    lab.server(cluster).seed_yaml(&cm.to_string());
}

fn mesh_file(lab: &Lab) -> String {
    let mut s = String::from(
        "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\ntrust: bundle\nclusters:\n",
    );
    for spec in &lab.specs {
        s.push_str(&format!(
            "- name: {n}\n  id: {}\n  context: kind-{n}\n  podCIDR: {}\n  serviceCIDR: {}\n",
            spec.id,
            spec.pod_cidr,
            spec.service_cidr,
            n = spec.name
        ));
        // west's key is known (render issues with it); east's is not (its CA stays in its cluster).
        if spec.name == "west" {
            s.push_str("  ca: {cert: west-ca.crt, key: west-ca.key}\n");
        } else {
            s.push_str(&format!("  ca: {{cert: {}-ca.crt}}\n", spec.name));
        }
    }
    s
}

fn run(lab: &Lab, args: &[&str]) -> (Option<i32>, String, String) {
    let out = lab.cmd().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl BundleLab {
    /// Two clusters installed independently (each its own CA), a `trust: bundle` mesh file, each
    /// cluster's bundle as render writes it; etcds not started yet.
    fn start() -> Option<BundleLab> {
        let bin = common::require(&common::ETCD, etcd::binary())?;
        let specs = loopback_specs(&["west", "east"]);
        let lab = Lab::start_from(
            &common::data("refcases/several-cas-2-1.17.6/base.yaml"),
            &specs,
        );
        // Both CAs are called "Cilium CA", as the chart names every CA it makes.
        let (west, east) = (Ca::new("Cilium CA"), Ca::new("Cilium CA"));
        for (name, ca) in [("west", &west), ("east", &east)] {
            set_secret(
                &lab,
                name,
                "cilium-ca",
                &[("ca.crt", &ca.pair.cert), ("ca.key", &ca.pair.key)],
            );
            let remote = ca.issue_valid(&pki::REMOTE);
            set_secret(
                &lab,
                name,
                "clustermesh-apiserver-remote-cert",
                &[
                    ("ca.crt", &ca.pair.cert),
                    ("tls.crt", &remote.cert),
                    ("tls.key", &remote.key),
                ],
            );
        }
        let dir = lab.home();
        std::fs::write(dir.join("west-ca.crt"), &west.pair.cert).unwrap();
        std::fs::write(dir.join("west-ca.key"), &west.pair.key).unwrap();
        std::fs::write(dir.join("east-ca.crt"), &east.pair.cert).unwrap();
        std::fs::write(lab.mesh(), mesh_file(&lab)).unwrap();
        Some(BundleLab {
            lab,
            west,
            east,
            etcds: Vec::new(),
            bin,
            servers: Vec::new(),
        })
    }

    /// The bundle both clusters must carry: every mesh CA, as render writes it.
    fn bundle(&self) -> String {
        format!(
            "{}\n{}\n",
            self.west.pair.cert.trim(),
            self.east.pair.cert.trim()
        )
    }

    fn ca(&self, cluster: &str) -> &Ca {
        if cluster == "west" {
            &self.west
        } else {
            &self.east
        }
    }

    /// Each cluster's clustermesh-apiserver: etcd serving a certificate of the cluster's own CA
    /// and admitting clients of every CA in `trusted(cluster)`.
    fn start_etcds(&mut self, trusted: impl Fn(&str) -> String) {
        for s in self.lab.specs.clone() {
            let ca = self.ca(s.name);
            let server = ca.issue_valid(&pki::SERVER);
            let e = Etcd::start_trusting(&self.bin, s.node_port, ca, &trusted(s.name), &server);
            e.seed_apiserver(s.name, s.id, 255);
            self.etcds.push(e);
            self.servers.push(server);
        }
    }

    fn troubleshoot(&self) -> (Option<i32>, Value) {
        let (code, stdout, stderr) = run(
            &self.lab,
            &[
                "troubleshoot",
                "--from",
                "workstation",
                "-o",
                "json",
                "--request-timeout",
                "2s",
            ],
        );
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
        (code, report)
    }
}

fn check<'a>(report: &'a Value, from: &str, to: &str, id: &str) -> &'a Value {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .and_then(|p| {
            p["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
        })
        .unwrap_or_else(|| panic!("no check {id} for {from} → {to}: {report:#}"))
}

fn not_ok(report: &Value) -> Vec<String> {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["status"] != "ok")
                .map(move |c| {
                    format!(
                        "{} → {} {} {}: {}",
                        p["from"], p["to"], c["id"], c["status"], c["message"]
                    )
                })
        })
        .collect()
}

#[test]
fn a_mesh_of_several_cas_connects_reports_healthy_and_troubleshoots_clean() {
    let Some(mut l) = BundleLab::start() else {
        return;
    };
    // render writes every mesh CA into west's bundle (west's key is in the mesh file) ...
    let base = common::data("refcases/several-cas-2-1.17.6/base.yaml");
    let cm = &l.lab.rendered(&base, "west", "ConfigMap", &[BUNDLE])[0];
    assert_eq!(cm["data"]["ca.crt"], l.bundle(), "{cm:#}");
    // ... and refuses east's stream, whose chart-made CA is not east's (no key to issue with).
    let out = l
        .lab
        .cmd()
        .args(["render", "--cluster", "east"])
        .pipe_stdin(common::data("refcases/several-cas-2-1.17.6/base.yaml"))
        .unwrap()
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cilium-ca") && err.contains("ca.key"), "{err}");
    assert!(out.stdout.is_empty());

    // east's bundle lacks west's CA: connect refuses, names it, writes nothing.
    set_bundle(&l.lab, "west", &l.bundle());
    set_bundle(&l.lab, "east", &l.east.pair.cert);
    let writes = l.lab.total_writes();
    let (code, stdout, stderr) = run(&l.lab, &["connect"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("east") && stderr.contains("lacks the CA of west"),
        "{stderr}"
    );
    assert!(stderr.contains("kubectl mesh upgrade east"), "{stderr}");
    assert_eq!(l.lab.total_writes(), writes, "a refused connect wrote");

    // Both bundles complete: connect without `ca sync`.
    set_bundle(&l.lab, "east", &l.bundle());
    let (code, stdout, stderr) = run(&l.lab, &["connect"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(l.lab.get("east", "Secret", "cilium-clustermesh").is_some());
    // Each cluster kept its own CA.
    for (name, ca) in [("west", &l.west), ("east", &l.east)] {
        let secret = l.lab.secret(name, "cilium-ca").unwrap();
        assert!(
            secret
                .iter()
                .any(|(k, v)| k == "ca.crt" && *v == ca.pair.cert)
        );
    }

    // Real etcds with mutual TLS, each admitting the clients of the CAs in its bundle.
    let bundle = l.bundle();
    l.start_etcds(|_| bundle.clone());
    let (code, report) = l.troubleshoot();
    assert_eq!(not_ok(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, Some(0));
    assert_eq!(report["summary"]["ok"], 28, "{report:#}");
    let ca = check(&report, "west", "east", "ca-equal");
    assert!(
        ca["message"].as_str().unwrap().contains("several CAs"),
        "{ca:#}"
    );
    assert!(
        check(&report, "west", "east", "tls-verify")["message"]
            .as_str()
            .unwrap()
            .contains("verifies"),
        "{report:#}"
    );

    // status: healthy, the agents scripted as reporting every peer ready.
    l.lab.script_agents_healthy();
    let (code, stdout, stderr) = run(&l.lab, &["status", "-o", "json"]);
    let status: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    assert_eq!(code, Some(0), "{status:#}");
    assert_eq!(status["healthy"], true, "{status:#}");
}

#[test]
fn a_stale_ca_in_a_bundle_is_caught_and_named() {
    let Some(mut l) = BundleLab::start() else {
        return;
    };
    set_bundle(&l.lab, "west", &l.bundle());
    set_bundle(&l.lab, "east", &l.bundle());
    let (code, stdout, stderr) = run(&l.lab, &["connect"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    // west's bundle holds an old CA of east (the same name, another key) instead of east's.
    let stale = Ca::new("Cilium CA");
    let west_bundle = format!("{}\n{}\n", l.west.pair.cert.trim(), stale.pair.cert.trim());
    set_bundle(&l.lab, "west", &west_bundle);
    let bundle = l.bundle();
    let wb = west_bundle.clone();
    l.start_etcds(|c| {
        if c == "west" {
            wb.clone()
        } else {
            bundle.clone()
        }
    });

    let (code, report) = l.troubleshoot();
    assert_eq!(code, Some(1), "{report:#}");
    // west's agents cannot verify east's server certificate ...
    let tls = check(&report, "west", "east", "tls-verify");
    assert_eq!(tls["status"], "fail", "{tls:#}");
    assert!(
        tls["hint"]
            .as_str()
            .unwrap()
            .contains("kubectl mesh upgrade"),
        "{tls:#}"
    );
    assert!(
        !tls["hint"].as_str().unwrap().contains("ca sync"),
        "{tls:#}"
    );
    // ... ca-equal names the stale CA by serial ...
    let ca = check(&report, "west", "east", "ca-equal");
    assert_eq!(ca["status"], "fail", "{ca:#}");
    let msg = ca["message"].as_str().unwrap();
    assert!(msg.contains("west does not trust east's CA"), "{msg}");
    assert!(msg.contains("stale CA"), "{msg}");
    let stale_serial = x509_serial(&stale.pair.cert);
    assert!(msg.contains(&stale_serial), "{msg} lacks {stale_serial}");
    // ... and west's etcd refuses east's client certificate.
    let client = check(&report, "east", "west", "client-cert");
    assert_eq!(client["status"], "fail", "{client:#}");
    // east → west's server verifies (east's bundle is right), east's own ca-equal names west.
    assert_eq!(check(&report, "east", "west", "tls-verify")["status"], "ok");

    // status names the stale CA and the missing one.
    l.lab.script_agents_healthy();
    let (code, stdout, _) = run(&l.lab, &["status", "-o", "json"]);
    assert_eq!(code, Some(1), "{stdout}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    let text = status.to_string();
    assert!(text.contains("lacks the CA of east"), "{status:#}");
    assert!(text.contains("stale or foreign CA"), "{status:#}");
    assert!(text.contains(&stale_serial), "{status:#}");

    // and connect refuses to go on.
    let (code, _, stderr) = run(&l.lab, &["connect"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("lacks the CA of east"), "{stderr}");
}

/// The serial as x509-parser prints it (`aa:bb:…`), as the messages name CAs.
fn x509_serial(pem: &str) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let (_, c) = X509Certificate::from_der(&p.contents).unwrap();
    c.raw_serial_as_string()
}

#[test]
fn validate_names_each_clusters_ca_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Cilium CA");
    let leaf = ca.issue_valid(&pki::SERVER);
    std::fs::write(dir.path().join("west-ca.crt"), &ca.pair.cert).unwrap();
    // east's "CA" is a server certificate, south's file is missing, north's key is another's.
    std::fs::write(dir.path().join("east-ca.crt"), &leaf.cert).unwrap();
    std::fs::write(dir.path().join("north-ca.crt"), &ca.pair.cert).unwrap();
    std::fs::write(dir.path().join("north-ca.key"), &leaf.key).unwrap();
    let mesh = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\ntrust: bundle\nclusters:\n\
- {name: west, id: 1, context: a, podCIDR: 10.0.0.0/16, ca: {cert: west-ca.crt}}\n\
- {name: east, id: 2, context: b, podCIDR: 10.1.0.0/16, ca: {cert: east-ca.crt}}\n\
- {name: south, id: 3, context: c, podCIDR: 10.2.0.0/16, ca: {cert: south-ca.crt}}\n\
- {name: north, id: 4, context: d, podCIDR: 10.3.0.0/16, ca: {cert: north-ca.crt, key: north-ca.key}}\n\
- {name: lost, id: 5, context: e, podCIDR: 10.4.0.0/16}\n";
    std::fs::write(dir.path().join("mesh.yaml"), mesh).unwrap();
    let out = common::kubectl_mesh(dir.path())
        .args(["validate", "--mesh"])
        .arg(dir.path().join("mesh.yaml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for want in [
        "cluster \"east\", ca: ",
        "is not a CA certificate",
        "cluster \"south\", ca.cert: cannot read",
        "cluster \"north\", ca: ",
        "does not belong to the CA certificate",
        "cluster \"lost\", ca: missing: a mesh of several CAs",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    assert!(!text.contains("cluster \"west\""), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    // render refuses such a file before reading any stream.
    let out = common::kubectl_mesh(dir.path())
        .args(["render", "--cluster", "west", "--mesh"])
        .arg(dir.path().join("mesh.yaml"))
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn values_print_the_own_ca_key_only_with_show_secrets() {
    let dir = common::data("refcases/several-cas-2-1.17.6");
    let tmp = tempfile::tempdir().unwrap();
    let values = |extra: &[&str]| {
        common::kubectl_mesh(tmp.path())
            .args(["values", "--cluster", "west", "--mesh"])
            .arg(dir.join("mesh.yaml"))
            .arg("-f")
            .arg(dir.join("values.yaml"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = values(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cluster \"west\"") && err.contains("--show-secrets"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // The CA in the cluster needs a chart that makes no CA itself (these values use helm).
    let out = values(&["--ca-in-cluster"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("tls.auto.method"), "{err}");
    let out = values(&["--show-secrets", "-o", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let west = std::fs::read_to_string(dir.join("ca-west.crt")).unwrap();
    let east = std::fs::read_to_string(dir.join("ca-east.crt")).unwrap();
    assert_eq!(
        v["tls"]["caBundle"]["content"],
        format!("{}\n{}\n", west.trim(), east.trim())
    );
    assert_eq!(v["tls"]["ca"]["cert"], b64(&west));
}
