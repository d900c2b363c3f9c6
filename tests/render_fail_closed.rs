//! render fails closed: after its transforms, a document the Cilium chart made that still
//! carries a value derived from the identity the stream was rendered with (`remote-default`,
//! `*.default.hubble-grpc.cilium.io`, `cluster = "default"`, …) stops the release — exit 2,
//! nothing on stdout, the document, object and place named. What the chart did not derive from
//! the identity (the namespace `default`, other charts' objects, the user's own objects) passes.

mod common;

use std::path::{Path, PathBuf};

fn example(name: &str) -> String {
    std::fs::read_to_string(common::repo().join("examples").join(name)).unwrap()
}

fn example_mesh(dir: &Path) -> PathBuf {
    let p = dir.join("mesh.yaml");
    std::fs::write(&p, example("mesh.yaml")).unwrap();
    p
}

fn render(dir: &Path, stdin: &str) -> std::process::Output {
    render_with(&example_mesh(dir), dir, stdin)
}

fn render_with(mesh: &Path, dir: &Path, stdin: &str) -> std::process::Output {
    common::kubectl_mesh(dir)
        .args(["render", "--mesh"])
        .arg(mesh)
        .args(["--cluster", "west"])
        .write_stdin(stdin)
        .output()
        .unwrap()
}

/// A document as the Cilium chart (template `template`) would write it, with one data value.
fn chart_doc(template: &str, kind: &str, name: &str, ns: &str, data: &str) -> String {
    format!(
        "---\n# Source: cilium/templates/{template}\napiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n{data}"
    )
}

fn refused(out: &std::process::Output, wants: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "partial output on a refusal");
    for w in wants {
        assert!(stderr.contains(w), "{w:?} not in: {stderr}");
    }
}

#[test]
fn an_unaudited_value_derived_from_the_cluster_name_stops_the_release() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        // a user name of the clustermesh-apiserver in a config render does not know
        (
            chart_doc(
                "future/users.yaml",
                "ConfigMap",
                "future-users",
                "kube-system",
                "  users.yaml: |\n    - name: remote-default\n",
            ),
            "remote-default",
        ),
        // a Hubble TLS name in a text config
        (
            chart_doc(
                "future/relay.yaml",
                "ConfigMap",
                "future-relay",
                "kube-system",
                "  server: \"*.default.hubble-grpc.cilium.io:4244\"\n",
            ),
            "*.default.hubble-grpc.cilium.io",
        ),
        // a config line naming the cluster, in another namespace the chart writes to
        (
            chart_doc(
                "future/agent.yaml",
                "ConfigMap",
                "future-agent",
                "cilium-spire",
                "  agent.conf: |\n    cluster_name = \"default\"\n",
            ),
            "cilium-spire/future-agent",
        ),
        // the cluster id, in an argument
        (
            "---\n# Source: cilium/templates/future/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: future\n  namespace: kube-system\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        command: [sh, -c, \"tool --cluster-id 7 --cluster-id=0\"]\n".to_string(),
            "Job kube-system/future",
        ),
    ];
    for (doc, named) in cases {
        let input = format!("{}{doc}", example("cilium.yaml"));
        let out = render(tmp.path(), &input);
        refused(&out, &[named, "nothing was written", "derived"]);
    }
}

#[test]
fn what_the_chart_did_not_derive_from_the_identity_passes() {
    let tmp = tempfile::tempdir().unwrap();
    // Other charts' objects and the user's own objects (no Cilium template), and chart objects
    // naming the namespace `default` or a Service in it.
    let other = "---\n# Source: umbrella/templates/users.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: users\n  namespace: kube-system\ndata:\n  users.yaml: |\n    - name: remote-default\n  tls: \"*.default.hubble-grpc.cilium.io\"\n  cluster-name: default\n";
    let user_secret = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: mine\n  namespace: apps\ndata:\n  note: cmVtb3RlLWRlZmF1bHQ=\n";
    let namespace = chart_doc(
        "extra/namespace.yaml",
        "ConfigMap",
        "ns-ref",
        "default",
        "  target: hubble-peer.default.svc.cluster.local\n  namespace: default\n  policy: default\n  file: /etc/nginx/conf.d/default.conf\n",
    );
    let mut input = String::new();
    for _ in 0..2_000 {
        input.push_str(other);
        input.push_str(user_secret);
    }
    input.push_str(&example("cilium.yaml"));
    input.push_str(&namespace);
    let out = render(tmp.path(), &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with(&format!("{other}{user_secret}")));
    assert!(stdout.contains("cluster-name: west"));
    assert!(stdout.ends_with(&namespace));
}

#[test]
fn a_rollout_checksum_of_a_changed_config_is_refused() {
    // Cilium 1.17.6 rendered with rollOutCiliumPods=true and operator.rollOutPods=true: the pods
    // carry the sha256 of the chart's own text of cilium-configmap.yaml.
    let tmp = tempfile::tempdir().unwrap();
    let input =
        std::fs::read_to_string(common::repo().join("tests/data/render/rollout-1.17.6.yaml"))
            .unwrap();
    // The example mesh without its NodePorts (that stream has no clustermesh-apiserver).
    let mesh = tmp.path().join("no-nodeport.yaml");
    let text: String = example("mesh.yaml")
        .lines()
        .filter(|l| !l.contains("apiserverNodePort"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&mesh, text).unwrap();
    let out = render_with(&mesh, tmp.path(), &input);
    refused(
        &out,
        &[
            "DaemonSet kube-system/cilium",
            "cilium.io/cilium-configmap-checksum",
            "rollOutCiliumPods=false",
        ],
    );
}

#[test]
fn two_cilium_configs_in_the_namespace_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let second = chart_doc(
        "cilium-configmap.yaml",
        "ConfigMap",
        "cilium-config",
        "kube-system",
        "  cluster-name: default\n",
    );
    let input = format!("{}{second}", example("cilium.yaml"));
    refused(
        &render(tmp.path(), &input),
        &["2 ConfigMaps cilium-config", "one Cilium release at a time"],
    );
}

#[test]
fn an_alias_bomb_in_the_stream_is_refused_not_expanded() {
    // 10 KB repeated through five levels of aliases: 1 GB once expanded.
    let mut bomb = format!("  l0: &a0 \"{}\"\n", "x".repeat(10_000));
    for i in 1..=5 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("  l{i}: &a{i} [{refs}]\n"));
    }
    let tmp = tempfile::tempdir().unwrap();
    let doc = chart_doc("bomb.yaml", "ConfigMap", "bomb", "kube-system", &bomb);
    let input = format!("{}{doc}", example("cilium.yaml"));
    let out = render(tmp.path(), &input);
    refused(&out, &["in document", "line"]);
}

#[test]
fn a_users_own_tls_secret_with_garbage_passes_through() {
    let tmp = tempfile::tempdir().unwrap();
    let mine = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: my-tls\n  namespace: kube-system\ntype: kubernetes.io/tls\ndata:\n  tls.crt: \"\"\n  tls.key: Z2FyYmFnZQ==\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: my-other\n  namespace: kube-system\ndata:\n  tls.crt: Z2FyYmFnZQ==\n";
    let input = format!("{}{mine}", example("cilium.yaml"));
    let out = render(tmp.path(), &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().ends_with(mine));
}

#[test]
fn a_cilium_ca_that_cannot_be_read_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let stream = example("cilium.yaml");
    // The chart's cilium-ca with its key taken out, and with DER-looking (not PEM) content.
    let start = stream
        .find("name: cilium-ca")
        .expect("the example has cilium-ca");
    let key_at = start + stream[start..].find("ca.key:").unwrap();
    let key_end = key_at + stream[key_at..].find('\n').unwrap();
    for replacement in ["ca.key: null", "ca.key: MIIBCgKCAQEA"] {
        let input = format!("{}{replacement}{}", &stream[..key_at], &stream[key_end..]);
        refused(&render(tmp.path(), &input), &["cilium-ca"]);
    }
}
