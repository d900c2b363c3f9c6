//! For `kubectl mesh connectivity` against the lab: the test API server has no kubelet and no
//! controllers, so [`Kubelet`] plays them — when the probe's Deployment and client Pod appear
//! in a cluster it runs their pods (Ready, with pod IPs) and fills the Service's EndpointSlice —
//! and the probes' outputs are scripted per (pod, container, argv) as the real tools print
//! them:
//!
//! - `ping -c 1 -W 2 IP`: iputils (nicolaka/netshoot), the seed lab's output and summary line;
//!   `ping: socket: Operation not permitted` without CAP_NET_RAW (iputils ping.c).
//! - `curl -sS …`: the body on stdout (traefik/whoami app.go `whoamiHandler`: `Name:` when
//!   given `--name`, `Hostname:`, `IP:` lines, `RemoteAddr:`, then the request as
//!   `http.Request.Write` prints it, CRLF-terminated), curl's error line on stderr.
//!
//! The argv below are the command's own; a change there fails these tests until the scripts
//! follow.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mesh_test_apiserver::exec::ExecScript;
use serde_json::{Value, json};

use super::lab::Lab;

pub const NS: &str = "kubectl-mesh-check";
pub const CLIENT: &str = "kubectl-mesh-check-client";
pub const CONTAINER: &str = "client";
pub const SERVICE: &str = "kubectl-mesh-check";
pub const PORT: u16 = 8080;

pub fn ping_argv(ip: &str) -> Vec<String> {
    ["ping", "-c", "1", "-W", "2", ip]
        .map(str::to_string)
        .to_vec()
}

pub fn curl_argv(url: &str) -> Vec<String> {
    [
        "curl",
        "-sS",
        "--connect-timeout",
        "2",
        "--max-time",
        "5",
        url,
    ]
    .map(str::to_string)
    .to_vec()
}

pub fn service_argv(url: &str, requests: u32) -> Vec<String> {
    let script = format!(
        "i=0; while [ $i -lt {requests} ]; do {} 2>&1; echo \"--- kubectl-mesh-check exit=$?\"; i=$((i+1)); done",
        curl_argv(url).join(" ")
    );
    vec!["sh".into(), "-c".into(), script]
}

/// iputils' output for one echo answered (as in the seed lab).
pub fn ping_ok(ip: &str) -> ExecScript {
    ExecScript::ok(format!(
        "PING {ip} ({ip}) 56(84) bytes of data.\n64 bytes from {ip}: icmp_seq=1 ttl=62 time=0.156 ms\n\n--- {ip} ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.156/0.156/0.156/0.000 ms\n"
    ))
}

/// iputils' output when no reply came within -W (exit 1).
pub fn ping_lost(ip: &str) -> ExecScript {
    ExecScript {
        stdout: format!(
            "PING {ip} ({ip}) 56(84) bytes of data.\n\n--- {ip} ping statistics ---\n1 packets transmitted, 0 received, 100% packet loss, time 0ms\n\n"
        )
        .into_bytes(),
        stderr: Vec::new(),
        exit_code: 1,
        ..ExecScript::default()
    }
}

/// iputils without CAP_NET_RAW and outside the ping group range (exit 2).
pub fn ping_not_permitted() -> ExecScript {
    ExecScript {
        stdout: Vec::new(),
        stderr: b"ping: socktype: SOCK_RAW\nping: socket: Operation not permitted\nping: => missing cap_net_raw+p capability or setuid?\n".to_vec(),
        exit_code: 2,
        ..ExecScript::default()
    }
}

/// whoami's answer (traefik/whoami `whoamiHandler`) from pod `hostname` with IP `ip`, to a
/// client at `remote`, for a request to `host`.
pub fn whoami(name: Option<&str>, hostname: &str, ip: &str, remote: &str, host: &str) -> String {
    let mut s = String::new();
    if let Some(n) = name {
        s.push_str(&format!("Name: {n}\n"));
    }
    s.push_str(&format!(
        "Hostname: {hostname}\nIP: 127.0.0.1\nIP: ::1\nIP: {ip}\nIP: fe80::202f:c5ff:fed3:21c4\nRemoteAddr: {remote}:60758\nGET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n"
    ));
    s
}

/// curl's error line on stderr for a connection that timed out (exit 28).
pub fn curl_timeout() -> ExecScript {
    ExecScript {
        stdout: Vec::new(),
        stderr: b"curl: (28) Connection timed out after 2002 milliseconds\n".to_vec(),
        exit_code: 28,
        ..ExecScript::default()
    }
}

/// What the service loop prints for these answers: each answer (a body, or curl's error with
/// `2>&1`) followed by the marker line with curl's exit code, as `sh` runs it.
pub fn loop_output(answers: &[(String, i32)]) -> ExecScript {
    let mut out = String::new();
    for (text, code) in answers {
        out.push_str(text);
        out.push_str(&format!("--- kubectl-mesh-check exit={code}\n"));
    }
    ExecScript::ok(out)
}

/// The pod IP the kubelet gives the client in `pod_cidr` (`10.0.0.0/16` → `10.0.1.105`, the
/// seed lab's curl-pod address).
pub fn client_ip(pod_cidr: &str) -> String {
    pod_cidr.replace(".0.0/16", ".1.105")
}

/// The server pod's IP.
pub fn server_ip(pod_cidr: &str) -> String {
    pod_cidr.replace(".0.0/16", ".1.20")
}

/// The server pod's name in `cluster` (a ReplicaSet hash and a pod suffix, as the controllers
/// name them).
pub fn server_pod(cluster: &str) -> String {
    let suffix = match cluster {
        "west" => "w7k2p",
        "east" => "e4q9z",
        _ => "n8n3f",
    };
    format!("kubectl-mesh-check-server-6d9f7c8b4-{suffix}")
}

/// Plays the kubelet and the endpoint controller for the probe workload.
pub struct Kubelet {
    /// Mark pods Ready (false: they stay Pending, as with an image that cannot be pulled).
    pub ready: bool,
    /// Wait for the server Deployment too (false with `--service`).
    pub server: bool,
    scripted: bool,
    done: Vec<String>,
}

impl Kubelet {
    pub fn new(ready: bool, server: bool) -> Kubelet {
        Kubelet {
            ready,
            server,
            scripted: false,
            done: Vec::new(),
        }
    }

    /// Whether every cluster has the workload's objects.
    pub fn all_created(&self, lab: &Lab) -> bool {
        lab.specs.iter().all(|s| {
            let srv = lab.server(s.name);
            srv.get("v1", "Pod", Some(NS), CLIENT).is_some()
                && (!self.server
                    || (srv
                        .get(
                            "apps/v1",
                            "Deployment",
                            Some(NS),
                            "kubectl-mesh-check-server",
                        )
                        .is_some()
                        && srv.get("v1", "Service", Some(NS), SERVICE).is_some()))
        })
    }

    /// One round: once every cluster has its objects, `script` is called (once) and then the
    /// pods are run.
    pub fn tick(&mut self, lab: &Lab, script: &mut dyn FnMut(&Lab)) {
        if !self.ready || !self.all_created(lab) {
            return;
        }
        if !self.scripted {
            script(lab);
            self.scripted = true;
        }
        for s in &lab.specs {
            if self.done.iter().any(|d| d == s.name) {
                continue;
            }
            let srv = lab.server(s.name);
            let mut docs = Vec::new();
            if self.server {
                let d = srv
                    .get(
                        "apps/v1",
                        "Deployment",
                        Some(NS),
                        "kubectl-mesh-check-server",
                    )
                    .unwrap();
                let template = &d["spec"]["template"];
                let pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": server_pod(s.name), "namespace": NS,
                        "labels": template["metadata"]["labels"],
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                            "name": "kubectl-mesh-check-server-6d9f7c8b4", "uid": d["metadata"]["uid"],
                            "controller": true}]},
                    "spec": {"nodeName": format!("{}-worker", s.name), "containers": template["spec"]["containers"]},
                    "status": running(&server_ip(s.pod_cidr)),
                });
                docs.push(pod);
                docs.push(json!({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": "kubectl-mesh-check-8x2kd", "namespace": NS,
                        "labels": {"kubernetes.io/service-name": SERVICE,
                            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": PORT, "protocol": "TCP"}],
                    "endpoints": [{"addresses": [server_ip(s.pod_cidr)],
                        "conditions": {"ready": true, "serving": true, "terminating": false},
                        "nodeName": format!("{}-worker", s.name),
                        "targetRef": {"kind": "Pod", "namespace": NS, "name": server_pod(s.name)}}],
                }));
            }
            let mut client = srv.get("v1", "Pod", Some(NS), CLIENT).unwrap();
            client["spec"]["nodeName"] = json!(format!("{}-worker", s.name));
            client["status"] = running(&client_ip(s.pod_cidr));
            docs.push(client);
            srv.seed_yaml(
                &docs
                    .iter()
                    .map(|d| format!("---\n{d}\n"))
                    .collect::<String>(),
            );
            self.done.push(s.name.to_string());
        }
    }
}

fn running(ip: &str) -> Value {
    json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]})
}

/// The built binary in the lab's hermetic environment, started (not waited for); stdout and
/// stderr go to files in the lab directory.
pub fn spawn(lab: &Lab, args: &[&str]) -> Child {
    let bin = assert_cmd::cargo::cargo_bin("kubectl-mesh");
    let out = std::fs::File::create(lab.home().join("stdout")).unwrap();
    let err = std::fs::File::create(lab.home().join("stderr")).unwrap();
    Command::new(bin)
        .args(args)
        .current_dir(lab.home())
        .env_clear()
        .env("HOME", lab.home())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", lab.home().join("kubeconfig"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("the binary starts")
}

/// What a finished run printed and its exit code.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `kubectl-mesh ARGS` while `kubelet` plays the kubelet (calling `script` once the
/// objects exist); `interrupt` sends SIGINT once it returns true. Fails the test past
/// `limit`.
pub fn run_with(
    lab: &Lab,
    args: &[&str],
    kubelet: &mut Kubelet,
    script: &mut dyn FnMut(&Lab),
    interrupt: &mut dyn FnMut(&Lab) -> bool,
    limit: Duration,
) -> Run {
    let mut child = spawn(lab, args);
    let start = Instant::now();
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        kubelet.tick(lab, script);
        if !interrupted && interrupt(lab) {
            let ok = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(ok.success(), "kill -INT");
            interrupted = true;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "kubectl-mesh {args:?} did not finish within {limit:?}: {}",
                std::fs::read_to_string(lab.home().join("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code(),
        stdout: std::fs::read_to_string(lab.home().join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(lab.home().join("stderr")).unwrap_or_default(),
    }
}
