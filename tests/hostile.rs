//! Hostile clusters, files and terminals (issue 12): servers on 127.0.0.1 that stall, drip or
//! flood, credential plugins that hang or print their token and fail, secrets that must never be
//! printed, a closed stdout, a symlinked mesh file, names that would traverse paths, and CAs that
//! cannot be used. Every test drives the built binary; time and memory bounds are generous (3× the
//! limit, 300 MB) so they hold on a loaded machine.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{Lab, Spec};
use serde_json::Value;

/// Peak memory a command may take, whatever the server sends.
const MAX_RSS_KB: u64 = 300 * 1024;

fn three() -> Vec<Spec> {
    vec![
        Spec::new("west", 1, 32379),
        Spec::new("east", 2, 32380),
        Spec::new("north", 3, 32381),
    ]
}

/// What a run of the binary gave, with its wall time and peak resident memory.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
    peak_kb: u64,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The binary in the lab's hermetic environment (as `Lab::cmd`), as a std `Command`.
fn bin(lab: &Lab) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("kubectl-mesh"));
    cmd.env_clear()
        .env("HOME", lab.home())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", lab.home().join("kubeconfig"))
        .current_dir(lab.home());
    cmd
}

/// Runs `cmd` to its end, polling its peak RSS (`VmHWM`) while it runs.
fn run_measured(mut cmd: Command) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    run_child(cmd)
}

fn run_child(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd.spawn().expect("binary runs");
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut peak_kb = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the command ran for 2 minutes: killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        took,
        peak_kb,
    }
}

/// An HTTP server on 127.0.0.1 that answers every request with `behave` on its own thread.
fn hostile_server(behave: fn(&mut TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                // Read the request head (the client sends GETs without a body).
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                behave(&mut stream);
            });
        }
    });
    url
}

/// Answers 200 and then one body byte every 200 ms, forever.
fn drip(stream: &mut TcpStream) {
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{",
    );
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if stream.write_all(b" ").is_err() {
            return;
        }
    }
}

/// Answers 200 and then an endless body as fast as the client reads it.
fn flood(stream: &mut TcpStream) {
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let chunk = vec![b' '; 1 << 16];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    loop {
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}

fn clusters(report: &Value) -> Vec<(String, bool, String)> {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cluster"].as_str().unwrap().to_string(),
                c["reachable"].as_bool().unwrap(),
                c["problems"][0]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

// ---- 1: one deadline per request, a cap on what is read ----

#[test]
fn dripping_and_flooding_clusters_are_unreachable_within_the_limit_others_reported() {
    let lab = Lab::start(&three());
    let east = hostile_server(drip);
    let north = hostile_server(flood);
    lab.write_kubeconfig(&[("east", east.clone()), ("north", north.clone())]);
    let run = run_measured({
        let mut c = bin(&lab);
        c.args(["status", "-o", "json", "--request-timeout", "2s"]);
        c
    });
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let report = run.json();
    let got = clusters(&report);
    assert_eq!(got[0].0, "west");
    assert!(got[0].1, "{report:#}");
    assert_eq!(report["clusters"][0]["agents"]["ready"], 2);
    assert!(!got[1].1 && !got[2].1, "{report:#}");
    assert!(
        got[1]
            .2
            .contains(&format!("unreachable: {east} did not answer within 2s")),
        "{}",
        got[1].2
    );
    assert!(
        got[2].2.contains(&format!("unreachable: {north}"))
            && (got[2].2.contains("more than 16 MiB")
                || got[2].2.contains("did not answer within 2s")),
        "{}",
        got[2].2
    );
    eprintln!(
        "measured: status -o json, drip + flood, --request-timeout 2s: {:?}, peak RSS {} KB",
        run.took, run.peak_kb
    );
    assert!(run.took < Duration::from_secs(6), "took {:?}", run.took);
    assert!(run.peak_kb < MAX_RSS_KB, "peak RSS {} KB", run.peak_kb);

    // A server that accepts and never answers: the same message, never a bare "deadline has
    // elapsed".
    let stall = hostile_server(|_| std::thread::sleep(Duration::from_secs(600)));
    lab.write_kubeconfig(&[("east", stall.clone()), ("north", north.clone())]);
    let run = run_measured({
        let mut c = bin(&lab);
        c.args(["status", "-o", "json", "--request-timeout", "1s"]);
        c
    });
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let got = clusters(&run.json());
    assert!(
        got[1]
            .2
            .contains(&format!("unreachable: {stall} did not answer within 1s")),
        "{}",
        got[1].2
    );
    assert!(!run.all().contains("deadline has elapsed"), "{}", run.all());
    assert!(run.took < Duration::from_secs(3), "took {:?}", run.took);
    lab.write_kubeconfig(&[("east", east.clone()), ("north", north.clone())]);

    // --wait: bounded by its timeout plus one request timeout.
    let run = run_measured({
        let mut c = bin(&lab);
        c.args([
            "status",
            "--wait",
            "--timeout",
            "3s",
            "--request-timeout",
            "1s",
        ]);
        c
    });
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    eprintln!(
        "measured: status --wait --timeout 3s --request-timeout 1s: {:?}, peak RSS {} KB",
        run.took, run.peak_kb
    );
    assert!(run.took < Duration::from_secs(9), "took {:?}", run.took);
    assert!(
        run.stderr.contains("did not answer within 1s"),
        "{}",
        run.stderr
    );
    assert!(run.peak_kb < MAX_RSS_KB, "peak RSS {} KB", run.peak_kb);
}

/// Points `user`'s kubeconfig entry at an `exec` credential plugin (a shell script).
fn use_plugin(lab: &Lab, user: &str, script: &str) {
    let plugin = lab.home().join(format!("plugin-{user}.sh"));
    std::fs::write(&plugin, format!("#!/bin/sh\n{script}\n")).unwrap();
    let mut perms = std::fs::metadata(&plugin).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&plugin, perms).unwrap();
    let path = lab.home().join("kubeconfig");
    let text = std::fs::read_to_string(&path).unwrap();
    if text.contains(&plugin.display().to_string()) {
        return;
    }
    let entry = format!("- name: \"{user}\"\n  user: {{}}\n");
    assert!(text.contains(&entry), "{text}");
    let exec = format!(
        "- name: \"{user}\"\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
        plugin.display()
    );
    std::fs::write(&path, text.replace(&entry, &exec)).unwrap();
}

#[test]
fn credential_plugins_are_bounded_and_never_echoed() {
    let lab = Lab::start(&three());
    // east: a plugin that never ends; north: one that prints its token and fails.
    use_plugin(&lab, "kind-east", "exec sleep 600");
    use_plugin(
        &lab,
        "kind-north",
        "echo '{\"status\":{\"token\":\"TOKEN-MARKER-6f1c\"}}'; echo 'password: PW-MARKER-9a2e'; exit 1",
    );
    for output in [None, Some("json")] {
        let run = run_measured({
            let mut c = bin(&lab);
            c.args(["status", "--request-timeout", "2s"]);
            if let Some(o) = output {
                c.args(["-o", o]);
            }
            c
        });
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        let all = run.all();
        assert!(!all.contains("TOKEN-MARKER"), "{all}");
        assert!(!all.contains("PW-MARKER"), "{all}");
        assert!(
            all.contains("the credential plugin") && all.contains("did not answer within 2s"),
            "{all}"
        );
        assert!(all.contains("failed (exit status: 1)"), "{all}");
        assert!(!all.contains("Output {"), "a Rust debug dump: {all}");
        assert!(run.took < Duration::from_secs(6), "took {:?}", run.took);
    }
    // A plugin that works is used: its token reaches the server, and status reads the cluster.
    use_plugin(
        &lab,
        "kind-east",
        "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"good\"}}'",
    );
    let run = run_measured({
        let mut c = bin(&lab);
        c.args(["status", "-o", "json", "--request-timeout", "2s"]);
        c
    });
    let got = clusters(&run.json());
    assert!(got[1].1, "{}", got[1].2);
}

// ---- 5: a closed stdout ----

/// Runs the binary with its stdout a pipe whose reader is already gone.
fn with_closed_stdout(lab: &Lab, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = bin(lab);
    cmd.args(args).stdout(writer).stderr(Stdio::piped());
    run_child(cmd)
}

#[test]
fn a_closed_stdout_never_panics_and_keeps_the_exit_code() {
    let lab = Lab::start(&three());
    for args in [
        &["status"][..],
        &["status", "-o", "json"],
        &["status", "-o", "yaml"],
        &["troubleshoot", "--request-timeout", "1s"],
        &["troubleshoot", "-o", "json", "--request-timeout", "1s"],
        &["connect", "--dry-run"],
        &["ca", "sync", "--from", "west", "--dry-run"],
        &["validate"],
        &["init", "--context", "kind-west", "--context", "kind-east"],
    ] {
        let run = with_closed_stdout(&lab, args);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("Broken pipe"),
            "{args:?}: {}",
            run.stderr
        );
        // Not connected: the mesh is unhealthy, every path broken.
        if args[0] == "status" || args[0] == "troubleshoot" {
            assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        } else {
            assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        }
    }
    // ca sync --write-files with nobody reading: the clusters and the files are all written.
    let run = with_closed_stdout(
        &lab,
        &["ca", "sync", "--from", "west", "--write-files", "ca"],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(lab.home().join("ca/ca.key").is_file());
    let west = lab.get("west", "Secret", "cilium-ca").unwrap();
    for c in ["east", "north"] {
        let s = lab.get(c, "Secret", "cilium-ca").unwrap();
        assert_eq!(s["data"]["ca.crt"], west["data"]["ca.crt"], "{c}");
    }
    let mesh = std::fs::read_to_string(lab.mesh()).unwrap();
    assert!(mesh.contains("ca:"), "{mesh}");
}

/// `render >&-`: stdout closed before the process starts. Rust's runtime would hand the writes to
/// /dev/null; render says it wrote nothing and fails instead of exiting 0.
#[test]
fn render_with_stdout_closed_from_the_start_fails_and_says_so() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let run = |redirect: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec \"$0\" render --cluster west --mesh \"$1\" < \"$2\" {redirect}"
            ))
            .arg(assert_cmd::cargo::cargo_bin("kubectl-mesh"))
            .arg(repo.join("examples/mesh.yaml"))
            .arg(repo.join("examples/cilium.yaml"))
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let closed = run(">&-");
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stdout is closed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Sent to /dev/null on purpose, it is a render like any other.
    let null = run(">/dev/null");
    assert_eq!(
        null.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&null.stderr)
    );
}

// ---- 4: secrets never printed ----

const KEY_MARKER: &str = "KEYMARKER0123456789";

#[test]
fn dry_runs_hide_secret_data_and_last_applied_configuration() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let lab = Lab::start(&three());
    // An old CA key left in east's cilium-ca by `kubectl apply`, and a legacy etcd-client key
    // in west's cilium-clustermesh.
    let old_key =
        format!("-----BEGIN EC PRIVATE KEY-----\n{KEY_MARKER}\n-----END EC PRIVATE KEY-----\n");
    let mut ca = lab.get("east", "Secret", "cilium-ca").unwrap();
    let applied = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cilium-ca", "namespace": "kube-system"},
        "data": {"ca.crt": ca["data"]["ca.crt"], "ca.key": b64(&old_key)}});
    ca["metadata"]["annotations"] = serde_json::json!({
        "kubectl.kubernetes.io/last-applied-configuration": applied.to_string()});
    lab.server("east").seed_yaml(&ca.to_string());
    lab.server("west").seed_yaml(
        &serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cilium-clustermesh", "namespace": "kube-system"},
            "data": {"north.etcd-client.key": b64(&old_key), "north.etcd-client.crt": b64("x")}})
        .to_string(),
    );
    for args in [
        &["ca", "sync", "--from", "west", "--dry-run"][..],
        &["connect", "--dry-run"],
    ] {
        let run = run_measured({
            let mut c = bin(&lab);
            c.args(args);
            c
        });
        let all = run.all();
        assert!(run.code.is_some(), "{args:?}");
        assert!(!all.contains(KEY_MARKER), "{args:?}: {all}");
        assert!(!all.contains(&b64(&old_key)), "{args:?}: {all}");
        assert!(!all.contains("PRIVATE KEY"), "{args:?}: {all}");
        assert!(all.contains("<hidden"), "{args:?}: {all}");
    }
    // A real sync leaves no old key behind in the annotation.
    let run = run_measured({
        let mut c = bin(&lab);
        c.args(["ca", "sync", "--from", "west"]);
        c
    });
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let ca = lab.get("east", "Secret", "cilium-ca").unwrap();
    assert!(!ca.to_string().contains(&b64(&old_key)), "{ca:#}");
}

#[test]
fn kubeconfig_and_mesh_syntax_errors_quote_no_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kubeconfig"),
        format!("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    password: PW-{KEY_MARKER}\n    client-key-data: {KEY_MARKER}\n    token: [x\ncurrent-context: a\n"),
    )
    .unwrap();
    let mesh = dir.path().join("mesh.yaml");
    std::fs::write(
        &mesh,
        "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n- {name: west, id: 1, context: a, podCIDR: 10.0.0.0/16}\n",
    )
    .unwrap();
    for args in [
        &["status"][..],
        &["render", "--current-context"],
        &["ca", "sync", "--from", "west"],
    ] {
        let out = common::kubectl_mesh(dir.path())
            .args(args)
            .arg("--mesh")
            .arg(&mesh)
            .write_stdin("")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(!all.contains(KEY_MARKER), "{args:?}: {all}");
        assert!(all.contains("line "), "{args:?}: {all}");
    }
    // A mesh file's syntax error: where, not the neighbouring lines.
    std::fs::write(
        &mesh,
        format!("apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\n# {KEY_MARKER}\nclusters: [x\n"),
    )
    .unwrap();
    let out = common::kubectl_mesh(dir.path())
        .args(["validate", "--mesh"])
        .arg(&mesh)
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(!all.contains(KEY_MARKER), "{all}");
}

// ---- 11: a mesh file of the wrong shape: every problem at once ----

#[test]
fn mesh_file_type_errors_are_all_reported_with_cluster_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = dir.path().join("mesh.yaml");
    std::fs::write(
        &mesh,
        "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: direct\nclusters:\n- {name: west, id: one, context: kind-west, podCIDR: 10.0.0.0/16}\n- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16, clustermesh: {port: 99999}, nodePort: 1}\n",
    )
    .unwrap();
    let out = common::kubectl_mesh(dir.path())
        .args(["validate", "-o", "json", "--mesh"])
        .arg(&mesh)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let mut got: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["cluster"].as_str().unwrap_or("-").to_string(),
                p["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("-", "routingMode"),
            ("east", "clustermesh.port"),
            ("east", "nodePort"),
            ("west", "id")
        ]
        .map(|(c, f)| (c.to_string(), f.to_string()))
    );
    // Every other command refuses the file with the same list and exit 2, nothing on stdout.
    let out = common::kubectl_mesh(dir.path())
        .args(["render", "--cluster", "west", "--mesh"])
        .arg(&mesh)
        .write_stdin("")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("4 problem(s)"), "{stderr}");
    assert!(
        stderr.contains("cluster \"east\", clustermesh.port"),
        "{stderr}"
    );
}

// ---- 10: names are validated before any request ----

#[test]
fn path_traversing_names_are_refused_before_any_request() {
    let lab = Lab::start(&three());
    for s in &lab.servers {
        s.clear_requests();
    }
    for args in [
        &[
            "annotate",
            "service",
            "x/../../configmaps/cilium-config",
            "--global",
        ][..],
        &[
            "annotate",
            "service",
            "webpod",
            "-n",
            "../kube-system",
            "--global",
        ],
        &["annotate", "namespace", "a/b", "--global"],
        &["services", "Web_Pod"],
        &["services", "-n", "x%2f.."],
    ] {
        let out = lab.cmd().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid name"), "{args:?}: {err}");
    }
    for s in &lab.servers {
        assert!(s.requests().is_empty(), "a request was sent");
    }
}

// ---- 3: no panic on RFC 5280's "no expiry" ----

/// `stream` with Secret `name`'s `key` set to `value` (base64).
fn set_secret_data(stream: &str, name: &str, key: &str, value: &str) -> String {
    let docs: Vec<String> = stream
        .split("\n---\n")
        .map(|doc| {
            if !(doc.contains("kind: Secret\n") && doc.contains(&format!("\n  name: {name}\n"))) {
                return doc.to_string();
            }
            doc.lines()
                .map(|l| {
                    if l.trim_start().starts_with(&format!("{key}:")) && l.starts_with("  ") {
                        format!("  {key}: {value}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    docs.join("\n---\n")
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_no_expiry_chart_certificate_is_reissued_without_a_panic() {
    use common::pki;
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::Ca::new("Cilium CA");
    let no_expiry = time::OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let leaf = ca.issue_between(
        &pki::HUBBLE_SERVER,
        now - time::Duration::days(1),
        no_expiry,
    );
    let example = std::fs::read_to_string(common::repo().join("examples/cilium.yaml")).unwrap();
    // The chart's other certificates are signed by the example's own CA, which this test
    // replaces: left in, they would be certificates render cannot re-issue (and refuses).
    let mut stream = example
        .split("\n---\n")
        .filter(|doc| {
            !(doc.contains("kind: Secret\n")
                && doc.contains("tls.crt:")
                && !doc.contains("\n  name: hubble-server-certs\n"))
        })
        .collect::<Vec<_>>()
        .join("\n---\n");
    stream = set_secret_data(&stream, "cilium-ca", "ca.crt", &b64(&ca.pair.cert));
    stream = set_secret_data(&stream, "cilium-ca", "ca.key", &b64(&ca.pair.key));
    stream = set_secret_data(
        &stream,
        "hubble-server-certs",
        "ca.crt",
        &b64(&ca.pair.cert),
    );
    stream = set_secret_data(&stream, "hubble-server-certs", "tls.crt", &b64(&leaf.cert));
    stream = set_secret_data(&stream, "hubble-server-certs", "tls.key", &b64(&leaf.key));
    let out = common::kubectl_mesh(dir.path())
        .args(["render", "--cluster", "west", "--mesh"])
        .arg(common::repo().join("examples/mesh.yaml"))
        .write_stdin(stream)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains(&b64(&leaf.cert)),
        "the certificate was not re-issued"
    );
}

// ---- 6: a symlinked mesh file ----

#[test]
fn a_symlinked_mesh_file_is_written_through_and_resolves_ca_from_its_real_folder() {
    let lab = Lab::start(&three());
    // The real file lives in repo/, the lab's mesh.yaml links to it.
    let repo = lab.home().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let real = repo.join("mesh.yaml");
    std::fs::rename(lab.mesh(), &real).unwrap();
    std::os::unix::fs::symlink("repo/mesh.yaml", lab.mesh()).unwrap();
    // A decoy beside the link (a certificate with another CA's key): never to be read.
    std::fs::create_dir(lab.home().join("ca")).unwrap();
    let decoy = common::pki::Ca::new("Decoy CA");
    let other = common::pki::Ca::new("Other CA");
    std::fs::write(lab.home().join("ca/ca.crt"), &decoy.pair.cert).unwrap();
    std::fs::write(lab.home().join("ca/ca.key"), &other.pair.key).unwrap();

    let out = lab
        .cmd()
        .args(["ca", "sync", "--from", "west", "--write-files", "repo/ca"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lab.mesh().is_symlink(), "the link was replaced by a file");
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("ca: {cert: \"ca/ca.crt\""), "{text}");
    // `ca: ca/…` is repo/ca (beside the real file), not the decoy beside the link.
    let out = lab.cmd().args(["validate"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = lab.cmd().args(["connect"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.mesh().is_symlink(),
        "connect replaced the link by a file"
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(
        text.contains("clustermesh:"),
        "connect did not record the endpoints: {text}"
    );
}

// ---- 9 and 7: the mesh CA files are checked; an unusable CA is refused ----

fn mesh_with_ca(dir: &Path, ca_line: &str) -> std::path::PathBuf {
    let mesh = dir.join("mesh.yaml");
    let text = std::fs::read_to_string(common::repo().join("examples/mesh.yaml"))
        .unwrap()
        .replace("clusters:\n", &format!("{ca_line}\nclusters:\n"));
    std::fs::write(&mesh, text).unwrap();
    mesh
}

fn validate_json(dir: &Path, mesh: &Path) -> (Option<i32>, Value) {
    let out = common::kubectl_mesh(dir)
        .args(["validate", "-o", "json", "--mesh"])
        .arg(mesh)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

fn messages(v: &Value) -> String {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}: {}\n", p["severity"], p["field"], p["message"]))
        .collect()
}

#[test]
fn validate_checks_the_ca_files_and_render_refuses_an_unusable_ca() {
    use common::pki;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = pki::Ca::new("Mesh CA");
    let other = pki::Ca::new("Other CA");
    let now = time::OffsetDateTime::now_utc();
    let expired = pki::Ca::valid_between(
        "Old CA",
        now - time::Duration::days(400),
        now - time::Duration::days(30),
    );
    let leaf = good.issue_valid(&pki::REMOTE);
    let write = |name: &str, text: &str| {
        std::fs::write(d.join(name), text).unwrap();
        std::fs::set_permissions(d.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write("good.crt", &good.pair.cert);
    write("good.key", &good.pair.key);
    write("other.key", &other.pair.key);
    write("expired.crt", &expired.pair.cert);
    write("expired.key", &expired.pair.key);
    write("leaf.crt", &leaf.cert);
    write("leaf.key", &leaf.key);
    std::fs::write(d.join("der.crt"), pem_to_der(&good.pair.cert)).unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();

    let mesh = mesh_with_ca(d, "ca: {cert: good.crt, key: good.key}");
    let (code, v) = validate_json(d, &mesh);
    assert_eq!(code, Some(0), "{v:#}");

    let cases: &[(&str, &str)] = &[
        ("ca: {cert: missing.crt, key: good.key}", "cannot read"),
        ("ca: {cert: adir, key: good.key}", "directory"),
        ("ca: {cert: good.crt, key: other.key}", "does not belong"),
        ("ca: {cert: expired.crt, key: expired.key}", "expired"),
        ("ca: {cert: leaf.crt, key: leaf.key}", "not a CA"),
        ("ca: {cert: der.crt, key: good.key}", "PEM"),
        ("ca: {cert: /dev/zero, key: good.key}", "more than"),
    ];
    for (line, want) in cases {
        let mesh = mesh_with_ca(d, line);
        let (code, v) = validate_json(d, &mesh);
        assert_eq!(code, Some(1), "{line}: {v:#}");
        assert!(messages(&v).contains(want), "{line}: {}", messages(&v));
        // render refuses the same CA, with nothing on stdout, bounded in memory.
        let run = run_measured({
            let mut c = Command::new(assert_cmd::cargo::cargo_bin("kubectl-mesh"));
            c.env_clear()
                .env("HOME", d)
                .args(["render", "--cluster", "west", "--mesh"])
                .arg(&mesh)
                .stdin(std::fs::File::open(common::repo().join("examples/cilium.yaml")).unwrap());
            c
        });
        assert_eq!(run.code, Some(2), "{line}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{line}");
        assert!(run.stderr.contains(want), "{line}: {}", run.stderr);
        assert!(
            run.peak_kb < MAX_RSS_KB,
            "{line}: peak RSS {} KB",
            run.peak_kb
        );
    }
    // A key others can read: a warning, still valid.
    std::fs::set_permissions(d.join("good.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mesh = mesh_with_ca(d, "ca: {cert: good.crt, key: good.key}");
    let (code, v) = validate_json(d, &mesh);
    assert_eq!(code, Some(0), "{v:#}");
    assert!(messages(&v).contains("chmod 600"), "{}", messages(&v));

    // IPv6 pod CIDR with native routing: render refuses it, so validate does.
    let mesh = d.join("v6.yaml");
    std::fs::write(
        &mesh,
        std::fs::read_to_string(common::repo().join("examples/mesh.yaml"))
            .unwrap()
            .replace("podCIDR: 10.0.0.0/16", "podCIDR: 'fd00:10::/64'"),
    )
    .unwrap();
    let (code, v) = validate_json(d, &mesh);
    assert_eq!(code, Some(1), "{v:#}");
    assert!(messages(&v).contains("IPv6"), "{}", messages(&v));
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
