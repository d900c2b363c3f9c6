//! Drives the real `kubectl` against two in-memory servers. Without kubectl the test fails with
//! the command that installs it, unless `KUBECTL_MESH_TEST_OPT_OUT` names `kubectl` (or is `all`),
//! as for the main crate's tests; then it says `OPTED OUT`.

use std::path::{Path, PathBuf};
use std::process::Command;

use mesh_test_apiserver::{ApiServer, write_kubeconfig};
use serde_json::{Value, json};

fn find_kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

/// A hermetic kubectl: own HOME, KUBECONFIG and cache dir.
struct Kubectl {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Runs kubectl; panics with its output unless it succeeds. Returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert!(code == 0, "kubectl {args:?} failed ({code}):\n{out}\n{err}");
        out
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new(&self.bin)
            .env("HOME", &home)
            .env("KUBECONFIG", self.kubeconfig())
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .output()
            .expect("run kubectl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}\n{out}"))
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p: &Path = self.dir.path();
        let file = p.join(name);
        std::fs::write(&file, text).unwrap();
        file.to_string_lossy().into_owned()
    }
}

#[test]
fn real_kubectl_against_fake_clusters() {
    let Some(bin) = find_kubectl() else {
        let opted_out = std::env::var("KUBECTL_MESH_TEST_OPT_OUT")
            .is_ok_and(|v| v.split(',').any(|n| matches!(n.trim(), "kubectl" | "all")));
        let install = "apt-get install -y kubernetes-client   # or: scripts/test";
        assert!(
            opted_out,
            "real_kubectl_against_fake_clusters needs kubectl, which is missing.\n  install it: {install}\n  or opt out explicitly: KUBECTL_MESH_TEST_OPT_OUT=kubectl (or =all)"
        );
        // Past the test harness's output capture, so it shows in every run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "OPTED OUT: real_kubectl_against_fake_clusters: did not run what needs kubectl; install: {install}"
        );
        return;
    };
    let east = ApiServer::start_with(
        r#"
apiVersion: v1
kind: Service
metadata: {name: webpod, namespace: default, labels: {app: web}}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cilium-config, namespace: kube-system}
data: {cluster-name: east, cluster-id: "1"}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cilium, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: cilium}}
  template:
    metadata: {labels: {k8s-app: cilium}}
    spec: {containers: [{name: cilium-agent, image: "quay.io/cilium/cilium:v1.16.0"}]}
status: {numberReady: 3, desiredNumberScheduled: 3}
"#,
    );
    let west = ApiServer::start_with(
        "apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: kube-system}\nspec: {ports: [{port: 2379}]}\n",
    );
    let k = Kubectl {
        bin,
        dir: tempfile::tempdir().unwrap(),
    };
    write_kubeconfig(
        &k.kubeconfig(),
        &[("east", &east.url()), ("west", &west.url())],
        Some("east"),
    );

    // Reads across contexts; tables have the usual columns.
    let out = k.ok(&["get", "svc", "-A"]);
    assert!(out.contains("webpod") && out.contains("default"), "{out}");
    assert!(
        out.contains("CLUSTER-IP") && out.contains("80/TCP"),
        "{out}"
    );
    let out = k.ok(&["--context", "west", "get", "svc", "-A"]);
    assert!(out.contains("other") && !out.contains("webpod"), "{out}");
    let cms = k.json(&["get", "cm", "-n", "kube-system", "-o", "json"]);
    assert_eq!(cms["items"][0]["metadata"]["name"], "cilium-config");
    assert_eq!(cms["items"][0]["data"]["cluster-name"], "east");
    let ready = k.ok(&[
        "get",
        "ds",
        "cilium",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.status.numberReady}",
    ]);
    assert_eq!(ready, "3");

    // Client-side apply: create, then update removing a key (three-way merge).
    let cm_v1 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mesh\n  namespace: kube-system\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    let f = k.write("cm.yaml", cm_v1);
    assert!(k.ok(&["apply", "-f", &f]).contains("created"));
    let f = k.write("cm.yaml", &cm_v1.replace("b: \"2\"", "c: \"3\""));
    assert!(k.ok(&["apply", "-f", &f]).contains("configured"));
    let cm = east
        .get("v1", "ConfigMap", Some("kube-system"), "mesh")
        .unwrap();
    assert_eq!(cm["data"], json!({"a": "1", "c": "3"}));
    assert!(
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    assert!(k.ok(&["apply", "-f", &f]).contains("unchanged"));

    // Server-side dry run changes nothing.
    let writes = east.write_count();
    let f2 = k.write("cm2.yaml", &cm_v1.replace("name: mesh", "name: dry"));
    k.ok(&["apply", "--dry-run=server", "-f", &f2]);
    assert_eq!(east.write_count(), writes);
    assert!(
        east.get("v1", "ConfigMap", Some("kube-system"), "dry")
            .is_none()
    );

    // Patches: merge and strategic (ports merge by port).
    k.ok(&[
        "patch",
        "svc",
        "webpod",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"mesh":"yes"}}}"#,
    ]);
    k.ok(&[
        "patch",
        "svc",
        "webpod",
        "-p",
        r#"{"spec":{"ports":[{"name":"https","port":443}]}}"#,
    ]);
    let svc = east
        .get("v1", "Service", Some("default"), "webpod")
        .unwrap();
    assert_eq!(svc["metadata"]["labels"]["mesh"], "yes");
    let ports: Vec<u64> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [80, 443]);
    k.ok(&[
        "patch",
        "svc",
        "webpod",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/labels/mesh"}]"#,
    ]);
    k.ok(&["annotate", "svc", "webpod", "foo=bar"]);
    let svc = east
        .get("v1", "Service", Some("default"), "webpod")
        .unwrap();
    assert_eq!(svc["metadata"]["annotations"]["foo"], "bar");
    assert!(svc["metadata"]["labels"].get("mesh").is_none());
    k.ok(&["label", "svc", "webpod", "x=y"]);

    // Errors surface like a real server's.
    let (code, _, err) = k.run(&["get", "svc", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("services \"nope\" not found"), "{err}");

    // Delete, then server-side apply re-creates it.
    assert!(
        k.ok(&["delete", "cm", "mesh", "-n", "kube-system"])
            .contains("deleted")
    );
    assert!(
        east.get("v1", "ConfigMap", Some("kube-system"), "mesh")
            .is_none()
    );
    assert!(
        k.ok(&["apply", "--server-side", "-f", &f])
            .contains("serverside-applied")
    );
    assert!(
        east.requests()
            .iter()
            .any(|r| r.content_type == "application/apply-patch+yaml"
                && r.query.contains("fieldManager=kubectl"))
    );

    // A Cilium custom resource: created and updated through merge patches.
    let ccnp = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: allow-mesh}\nspec:\n  endpointSelector: {}\n  ingress: [{fromEntities: [cluster]}]\n";
    let f = k.write("ccnp.yaml", ccnp);
    k.ok(&["apply", "-f", &f]);
    let f = k.write("ccnp.yaml", &ccnp.replace("cluster]", "remote-node]"));
    k.ok(&["apply", "-f", &f]);
    let p = east
        .get(
            "cilium.io/v2",
            "CiliumClusterwideNetworkPolicy",
            None,
            "allow-mesh",
        )
        .unwrap();
    assert_eq!(
        p["spec"]["ingress"][0]["fromEntities"],
        json!(["remote-node"])
    );
    assert!(k.ok(&["get", "ccnp"]).contains("allow-mesh"));

    // `kubectl create <kind>` generators send protobuf bodies.
    k.ok(&["create", "namespace", "cilium-test"]);
    k.ok(&[
        "create",
        "configmap",
        "gen",
        "-n",
        "cilium-test",
        "--from-literal=k=v",
    ]);
    let generated = east
        .get("v1", "ConfigMap", Some("cilium-test"), "gen")
        .unwrap();
    assert_eq!(generated["data"]["k"], "v");
    k.ok(&["delete", "namespace", "cilium-test"]);
    assert!(
        east.get("v1", "ConfigMap", Some("cilium-test"), "gen")
            .is_none()
    );

    // The other cluster saw none of it.
    assert_eq!(west.write_count(), 0);
}

/// `kubectl exec` (WebSocket, v5 then v4 as kubectl 1.32 offers them) against the exec
/// subresource: scripted output, stderr, exit codes, a missing binary, 403.
#[test]
fn real_kubectl_exec() {
    use mesh_test_apiserver::exec::ExecScript;
    let Some(bin) = find_kubectl() else {
        let opted_out = std::env::var("KUBECTL_MESH_TEST_OPT_OUT")
            .is_ok_and(|v| v.split(',').any(|n| matches!(n.trim(), "kubectl" | "all")));
        let install = "apt-get install -y kubernetes-client   # or: scripts/test";
        assert!(
            opted_out,
            "real_kubectl_exec needs kubectl, which is missing.\n  install it: {install}\n  or opt out explicitly: KUBECTL_MESH_TEST_OPT_OUT=kubectl (or =all)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "OPTED OUT: real_kubectl_exec: did not run what needs kubectl; install: {install}"
        );
        return;
    };
    let server = ApiServer::start_with(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: cilium-x7k2p, namespace: kube-system, labels: {k8s-app: cilium}}
spec: {nodeName: east-worker, containers: [{name: cilium-agent, image: "quay.io/cilium/cilium:v1.17.6"}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
"#,
    );
    let k = Kubectl {
        bin,
        dir: tempfile::tempdir().unwrap(),
    };
    write_kubeconfig(&k.kubeconfig(), &[("east", &server.url())], Some("east"));
    let argv = ["cilium-dbg", "status", "-o", "json"];
    server.script_exec(
        "cilium-x7k2p",
        "cilium-agent",
        &argv,
        ExecScript::ok(r#"{"cluster-mesh":{"clusters":[]}}"#),
    );
    let exec = |extra: &[&str]| {
        let mut args = vec![
            "-n",
            "kube-system",
            "exec",
            "cilium-x7k2p",
            "-c",
            "cilium-agent",
            "--",
        ];
        args.extend_from_slice(extra);
        k.run(&args)
    };
    let (code, out, err) = exec(&argv);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out, r#"{"cluster-mesh":{"clusters":[]}}"#);
    let calls = server.exec_calls();
    assert_eq!(
        calls.last().unwrap().protocol,
        "v5.channel.k8s.io",
        "{calls:?}"
    );
    assert_eq!(calls.last().unwrap().argv, argv);

    server.script_exec(
        "cilium-x7k2p",
        "cilium-agent",
        &["false"],
        ExecScript {
            stdout: b"partial\n".to_vec(),
            stderr: b"boom\n".to_vec(),
            exit_code: 3,
            ..ExecScript::default()
        },
    );
    let (code, out, err) = exec(&["false"]);
    assert_eq!(
        code, 3,
        "kubectl exits with the command's code:\n{out}\n{err}"
    );
    assert_eq!(out, "partial\n");
    assert!(err.contains("boom"), "{err}");

    let (code, _, err) = exec(&["not-there"]);
    assert_ne!(code, 0);
    assert!(err.contains("executable file not found in $PATH"), "{err}");

    server.set_exec_forbidden(true);
    let (code, _, err) = exec(&argv);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot create resource \"pods/exec\""),
        "{err}"
    );
}
