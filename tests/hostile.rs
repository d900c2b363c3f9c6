//! Hostile clusters, files and terminals (issue 12): servers on 127.0.0.1 that stall, drip or
//! flood, credential plugins that hang or print their token and fail, secrets that must never be
//! printed, a closed stdout, a symlinked mesh file, names that would traverse paths, and CAs that
//! cannot be used. Every test drives the built binary; time and memory bounds are generous (3× the
//! limit, 300 MB) so they hold on a loaded machine.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

/// Runs `cmd` to its end, polling its peak RSS (`VmHWM`) while it runs.
fn run_measured(cmd: assert_cmd::Command) -> Run {
    let mut cmd: Command = cmd.into();
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
    let Some(lab) = Lab::start(&three()) else {
        panic!("../shared is needed: run `bash .ci/run` (it sets up ../shared beside the clone)");
    };
    let east = hostile_server(drip);
    let north = hostile_server(flood);
    lab.write_kubeconfig(&[("east", east.clone()), ("north", north.clone())]);
    let run = run_measured({
        let mut c = lab.cmd();
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
            && (got[2].2.contains("more than 64 MiB")
                || got[2].2.contains("did not answer within 2s")),
        "{}",
        got[2].2
    );
    assert!(run.took < Duration::from_secs(6), "took {:?}", run.took);
    assert!(run.peak_kb < MAX_RSS_KB, "peak RSS {} KB", run.peak_kb);

    // --wait: bounded by its timeout plus one request timeout.
    let run = run_measured({
        let mut c = lab.cmd();
        c.args(["status", "--wait", "--timeout", "3s", "--request-timeout", "1s"]);
        c
    });
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.took < Duration::from_secs(9), "took {:?}", run.took);
    assert!(run.stderr.contains("did not answer within 1s"), "{}", run.stderr);
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
    let Some(lab) = Lab::start(&three()) else {
        panic!("../shared is needed: run `bash .ci/run` (it sets up ../shared beside the clone)");
    };
    // east: a plugin that never ends; north: one that prints its token and fails.
    use_plugin(&lab, "kind-east", "exec sleep 600");
    use_plugin(
        &lab,
        "kind-north",
        "echo '{\"status\":{\"token\":\"TOKEN-MARKER-6f1c\"}}'; echo 'password: PW-MARKER-9a2e'; exit 1",
    );
    for output in [None, Some("json")] {
        let run = run_measured({
            let mut c = lab.cmd();
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
        let mut c = lab.cmd();
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
    let mut cmd: Command = lab.cmd().into();
    cmd.args(args).stdout(writer).stderr(Stdio::piped());
    run_child(cmd)
}

#[test]
fn a_closed_stdout_never_panics_and_keeps_the_exit_code() {
    let Some(lab) = Lab::start(&three()) else {
        panic!("../shared is needed: run `bash .ci/run` (it sets up ../shared beside the clone)");
    };
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
        assert!(!run.stderr.contains("Broken pipe"), "{args:?}: {}", run.stderr);
        // Not connected: the mesh is unhealthy, every path broken.
        if args[0] == "status" || args[0] == "troubleshoot" {
            assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        } else {
            assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        }
    }
    // ca sync --write-files with nobody reading: the clusters and the files are all written.
    let run = with_closed_stdout(&lab, &["ca", "sync", "--from", "west", "--write-files", "ca"]);
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

