//! `kubectl mesh render` as Helm runs it: stdin to stdout, untouched documents byte for byte,
//! idempotent, and on any bad input an explanation on stderr with nothing on stdout.

mod common;

use std::path::Path;

use predicates::prelude::*;

fn example(name: &str) -> String {
    std::fs::read_to_string(common::repo().join("examples").join(name)).unwrap()
}

fn render(home: &Path, mesh: &Path, cluster: &str, stdin: &str) -> assert_cmd::assert::Assert {
    common::kubectl_mesh(home)
        .args(["render", "--mesh"])
        .arg(mesh)
        .args(["--cluster", cluster])
        .write_stdin(stdin)
        .assert()
}

fn example_mesh(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("mesh.yaml");
    std::fs::write(&p, example("mesh.yaml")).unwrap();
    p
}

/// Another chart's documents, with what a careless re-serializer would break: comments, key
/// order, YAML 1.1 scalars (`on`, `no`, `0755`), a literal block and a flow map.
const OTHER_CHART: &str = "---
# Source: other/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: other   # trailing comment
  namespace: apps
data:
  zebra: on
  apple: no
  mode: 0755
  script: |
    #!/bin/sh
    echo   spaced
  inline: {b: 1, a: 2}
---
# Source: other/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: apps}
spec:
  replicas: 0x10
";

#[test]
fn an_umbrella_stream_passes_other_charts_through_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    let input = format!("{OTHER_CHART}{}{OTHER_CHART}", example("cilium.yaml"));
    let out = render(tmp.path(), &mesh, "west", &input)
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with(OTHER_CHART), "the leading chart changed");
    assert!(out.ends_with(OTHER_CHART), "the trailing chart changed");
    assert!(out.contains("cluster-name: west"));
}

#[test]
fn untouched_cilium_documents_are_byte_identical_and_changed_ones_keep_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    let input = example("cilium.yaml");
    let out = String::from_utf8(
        render(tmp.path(), &mesh, "east", &input)
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    let sources = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("# Source:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (before, after) = (sources(&input), sources(&out));
    // One new document (ip-masq-agent), right after cilium-config, from the same template file.
    assert_eq!(after.len(), before.len() + 1);
    let at = before
        .iter()
        .position(|s| s.ends_with("cilium-configmap.yaml"))
        .unwrap();
    assert_eq!(
        after[at + 1],
        "# Source: cilium/templates/cilium-configmap.yaml"
    );
    // The operator Deployment has nothing to do with the mesh: it comes out as it went in.
    let operator = input
        .split("\n---\n")
        .find(|d| d.contains("name: cilium-operator\n") && d.contains("kind: Deployment"))
        .unwrap();
    assert!(out.contains(operator));
}

#[test]
fn render_of_its_own_output_changes_nothing_and_keeps_the_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    let once = render(tmp.path(), &mesh, "west", &example("cilium.yaml"))
        .success()
        .get_output()
        .stdout
        .clone();
    let once = String::from_utf8(once).unwrap();
    let twice = render(tmp.path(), &mesh, "west", &once)
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(
        once == String::from_utf8(twice).unwrap(),
        "second render differs (certificates re-issued or values moved)"
    );
}

#[test]
fn helm4_filename_annotation_survives_on_changed_and_new_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    // Helm 4 hands a post-renderer documents without `# Source:` but with this annotation.
    let mut input = String::new();
    for doc in example("cilium.yaml").split("\n---\n").skip(1) {
        let source = doc
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .unwrap_or("x.yaml")
            .to_string();
        let body: String = doc
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let line = format!("    postrenderer.helm.sh/postrender-filename: '{source}'\n");
        let annotated = if body.contains("\n  annotations:\n") {
            body.replacen(
                "\n  annotations:\n",
                &format!("\n  annotations:\n{line}"),
                1,
            )
        } else {
            body.replacen(
                "metadata:\n",
                &format!("metadata:\n  annotations:\n{line}"),
                1,
            )
        };
        input.push_str("---\n");
        input.push_str(&annotated);
    }
    let out = render(tmp.path(), &mesh, "west", &input)
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let docs: Vec<&str> = out.split("---\n").filter(|d| d.contains("kind:")).collect();
    let missing: Vec<&str> = docs
        .iter()
        .filter(|d| !d.contains("postrenderer.helm.sh/postrender-filename"))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "documents without the annotation: {missing:?}"
    );
    let masq = docs
        .iter()
        .find(|d| d.contains("name: ip-masq-agent\n  namespace"))
        .expect("ip-masq-agent ConfigMap");
    assert!(
        masq.contains(
            "postrenderer.helm.sh/postrender-filename: cilium/templates/cilium-configmap.yaml"
        ),
        "{masq}"
    );
}

/// The wrong-cluster case of README's old Helm 3 example: `helm upgrade --kube-context kind-west
/// … --post-renderer kubectl-mesh --post-renderer-args render --post-renderer-args --mesh=…` with
/// the kubeconfig's current context `kind-east`. Helm 3 execs the post-renderer with Helm's own
/// environment and the arguments only (helm/helm v3 `pkg/postrender/exec.go`: `exec.Command(
/// binaryPath, args...)`); Helm 4's plugin runtime adds only HELM_PLUGIN_NAME/HELM_PLUGIN_DIR
/// (`internal/plugin/runtime_subprocess.go`, `runPostrenderer`). Nothing says `kind-west`, so
/// render used to pick east and write east's identity into west's release; it now refuses.
#[test]
fn without_cluster_render_refuses_to_guess_from_the_current_context() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    std::fs::write(
        tmp.path().join("kubeconfig"),
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-east\n",
    )
    .unwrap();
    let input = example("cilium.yaml");
    // As Helm 3 runs it for `--kube-context kind-west`: the same environment Helm had (no
    // HELM_KUBECONTEXT), the post-renderer arguments only.
    common::kubectl_mesh(tmp.path())
        .arg("render")
        .arg(format!("--mesh={}", mesh.display()))
        .write_stdin(input.clone())
        .assert()
        .failure()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("no --cluster given"))
        .stderr(predicate::str::contains("pass --cluster (west, east)"))
        .stderr(predicate::str::contains("cluster-name").not());
    // The user's explicit opt-in: the kubeconfig's current context.
    common::kubectl_mesh(tmp.path())
        .args(["render", "--current-context", "--mesh"])
        .arg(&mesh)
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(predicate::str::contains("cluster-name: east"));
    // --cluster wins; --current-context beside it is a contradiction.
    common::kubectl_mesh(tmp.path())
        .args(["render", "--cluster", "west", "--mesh"])
        .arg(&mesh)
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(predicate::str::contains("cluster-name: west"));
    common::kubectl_mesh(tmp.path())
        .args(["render", "--cluster", "west", "--current-context", "--mesh"])
        .arg(&mesh)
        .write_stdin(input.clone())
        .assert()
        .failure()
        .stdout("");
    // --current-context with no current context in the kubeconfig.
    std::fs::write(
        tmp.path().join("kubeconfig"),
        "apiVersion: v1\nkind: Config\n",
    )
    .unwrap();
    common::kubectl_mesh(tmp.path())
        .args(["render", "--current-context", "--mesh"])
        .arg(&mesh)
        .write_stdin(input.clone())
        .assert()
        .failure()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("no current context"));
    // $HELM_KUBECONTEXT, when the user set it (Helm reads it as its default --kube-context), is
    // Helm's context: it is used without opting in.
    common::kubectl_mesh(tmp.path())
        .args(["render", "--mesh"])
        .arg(&mesh)
        .env("HELM_KUBECONTEXT", "kind-west")
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(predicate::str::contains("cluster-name: west"));
    common::kubectl_mesh(tmp.path())
        .args(["render", "--mesh"])
        .arg(&mesh)
        .env("HELM_KUBECONTEXT", "kind-north")
        .write_stdin(input)
        .assert()
        .failure()
        .stdout("")
        .stderr(predicate::str::contains(
            "\"kind-north\" is not the context of any cluster",
        ));
}

/// Every class of bad input: a message naming the problem, exit ≠ 0 and nothing on stdout.
#[test]
fn bad_input_is_refused_with_nothing_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    let good = example("cilium.yaml");
    let refuse = |mesh: &Path, cluster: &str, stdin: &str, want: &str| {
        render(tmp.path(), mesh, cluster, stdin)
            .failure()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(want));
    };
    // Malformed YAML: the document number and the stream line.
    let broken = format!("{good}---\nkind: ConfigMap\nmetadata: {{name: x\n");
    let doc_count = good.matches("\n---\n").count() + 1;
    let line = broken.lines().count();
    refuse(
        &mesh,
        "west",
        &broken,
        &format!(
            "document {} of the input stream (line {line})",
            doc_count + 1
        ),
    );
    // Unknown cluster.
    refuse(
        &mesh,
        "north",
        &good,
        "no cluster named \"north\" in the mesh file (clusters: west, east)",
    );
    // Conflicting identity already in the stream.
    refuse(
        &mesh,
        "west",
        &good.replace("cluster-id: \"0\"", "cluster-id: \"7\""),
        "ConfigMap kube-system/cilium-config has cluster-id \"7\", but the mesh file says \"1\"",
    );
    // Invalid mesh file.
    let bad_mesh = tmp.path().join("bad.yaml");
    std::fs::write(&bad_mesh, example("mesh.yaml").replace("id: 2", "id: 1")).unwrap();
    refuse(
        &bad_mesh,
        "west",
        &good,
        "cluster \"east\", id: 1 is also the id of cluster \"west\"",
    );
    // A typo in the mesh file.
    std::fs::write(
        &bad_mesh,
        example("mesh.yaml").replace("podCIDR: 10.1", "podCidr: 10.1"),
    )
    .unwrap();
    refuse(&bad_mesh, "west", &good, "podCidr");
    // Missing files.
    refuse(
        &tmp.path().join("absent.yaml"),
        "west",
        &good,
        "cannot read the mesh file",
    );
    let with_ca = tmp.path().join("with-ca.yaml");
    std::fs::write(
        &with_ca,
        example("mesh.yaml").replace(
            "routingMode: native",
            "routingMode: native\nca: {cert: nope.crt, key: nope.key}",
        ),
    )
    .unwrap();
    refuse(
        &with_ca,
        "west",
        &good,
        "cannot read the mesh CA certificate",
    );
    // Not a Cilium stream.
    refuse(&mesh, "west", OTHER_CHART, "no ConfigMap \"cilium-config\"");
    // A NodePort for a Service that is not a NodePort.
    refuse(
        &mesh,
        "west",
        &good.replace(
            "type: NodePort\n  selector:\n    k8s-app: clustermesh-apiserver",
            "type: ClusterIP\n  selector:\n    k8s-app: clustermesh-apiserver",
        ),
        "is of type ClusterIP",
    );
    // Not UTF-8.
    common::kubectl_mesh(tmp.path())
        .args(["render", "--cluster", "west", "--mesh"])
        .arg(&mesh)
        .write_stdin(vec![0xff, 0xfe, 0x00])
        .assert()
        .failure()
        .stdout("");
}

#[test]
fn tunnel_mode_injects_identity_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = tmp.path().join("mesh.yaml");
    std::fs::write(
        &mesh,
        example("mesh.yaml").replace("routingMode: native", "routingMode: tunnel"),
    )
    .unwrap();
    let out = render(tmp.path(), &mesh, "west", &example("cilium.yaml"))
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("cluster-name: west") && out.contains("cluster-id: \"1\""));
    assert!(!out.contains("ip-masq-agent") && !out.contains("ipv4-native-routing-cidr"));
}

#[test]
fn validate_reports_every_problem_and_exits_by_validity() {
    let tmp = tempfile::tempdir().unwrap();
    let mesh = example_mesh(tmp.path());
    common::kubectl_mesh(tmp.path())
        .args(["validate", "--mesh"])
        .arg(&mesh)
        .assert()
        .success()
        .stdout(predicate::str::contains("valid mesh of 2 clusters"));
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        example("mesh.yaml")
            .replace("podCIDR: 10.1.0.0/16", "podCIDR: 10.0.128.0/17")
            .replace("32380", "32379")
            .replace("name: east", "name: East"),
    )
    .unwrap();
    let out = common::kubectl_mesh(tmp.path())
        .args(["validate", "-o", "json", "--mesh"])
        .arg(&bad)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["valid"], false);
    let fields: Vec<(&str, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["cluster"].as_str().unwrap_or("-"),
                p["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("East", "name"),
            ("East", "podCIDR"),
            ("East", "apiserverNodePort"),
            ("-", "apiserverNodePort")
        ],
        "{report:#}"
    );
}

#[test]
fn completion_scripts_are_generated() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        common::kubectl_mesh(tmp.path())
            .args(["completion", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("render"));
    }
}
