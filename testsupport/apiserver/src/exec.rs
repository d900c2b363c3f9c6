//! The `pods/exec` subresource over WebSocket, as the real API server relays it from the kubelet.
//!
//! Wire format (Kubernetes' own source):
//! - subprotocols `v5.channel.k8s.io` and `v4.channel.k8s.io`, the first one the client offers
//!   that the server speaks (staging/src/k8s.io/apimachinery/pkg/util/remotecommand/constants.go;
//!   staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go `handshake`);
//! - binary frames whose first byte is the channel: 0 stdin, 1 stdout, 2 stderr, 3 error,
//!   4 resize, and in v5 255 "close" (conn.go); on open the server writes one frame per channel
//!   it writes to, holding just the channel byte (conn.go `Open`);
//! - the error channel carries a `metav1.Status` JSON at the end (v4+): `Success`, or `Failure`
//!   with reason `NonZeroExitCode` and the exit code in `details.causes[{reason: ExitCode}]`,
//!   or an `InternalError` when the command could not start
//!   (pkg/kubelet/cri/streaming/remotecommand/exec.go `ServeExec`, httpstream.go
//!   `v4WriteStatusFunc`).
//!
//! The commands' outputs are scripted by the tests per (pod, container, argv); an unscripted
//! command fails as a missing binary does under containerd.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::SinkExt;
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::error::ApiError;
use crate::server::{Body, Shared, lock};
use crate::util;

/// The subprotocols served, in the server's order of preference.
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// What a scripted command prints and how it ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecScript {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
    /// How long the command runs before it prints anything (a hung agent: long).
    pub delay: std::time::Duration,
}

impl ExecScript {
    /// A command that prints `stdout` and exits 0.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> ExecScript {
        ExecScript {
            stdout: stdout.into(),
            ..ExecScript::default()
        }
    }
}

/// One exec as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecCall {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub argv: Vec<String>,
    /// The subprotocol agreed on.
    pub protocol: String,
}

/// Scripts and switches for the exec subresource.
#[derive(Default)]
pub struct ExecState {
    /// (pod, container, argv joined by NUL) → script.
    pub scripts: HashMap<(String, String, String), ExecScript>,
    /// When set, every exec is refused with 403 as RBAC without `create` on `pods/exec`.
    pub forbidden: bool,
    pub calls: Vec<ExecCall>,
    /// Execs running right now, and the most that ever ran at once.
    pub running: usize,
    pub max_running: usize,
}

pub fn key(pod: &str, container: &str, argv: &[&str]) -> (String, String, String) {
    (pod.to_string(), container.to_string(), argv.join("\0"))
}

/// `/api/v1/namespaces/{ns}/pods/{name}/exec` → (ns, name).
pub fn exec_target(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, "exec"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

fn error(e: &ApiError) -> Response<Body> {
    crate::server::json_response(e.code, &e.to_status())
}

/// Serves an exec request (GET or POST, as the real server accepts both).
pub fn serve(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    ns: String,
    pod: String,
) -> Response<Body> {
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::POST {
        return error(&ApiError::method_not_allowed());
    }
    let params = util::parse_query(req.uri().query());
    let container_param = params
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone());
    let argv: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let pod_obj = {
        let st = lock(&shared.state);
        let rt = st.registry.by_kind("v1", "Pod").cloned();
        rt.and_then(|rt| st.get(&rt, &ns, &pod).cloned().map(|p| (rt, p)))
    };
    if lock(&shared.exec).forbidden {
        return error(&ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "pods \"{pod}\" is forbidden: User \"kubectl-mesh-test\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{ns}\""
            ),
            details: json!({"name": pod, "kind": "pods"}),
        });
    }
    let Some((_, pod_obj)) = pod_obj else {
        return error(&ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("pods \"{pod}\" not found"),
            details: json!({"name": pod, "kind": "pods"}),
        });
    };
    let containers: Vec<String> = pod_obj["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match container_param {
        Some(c) if containers.contains(&c) => c,
        Some(c) => {
            return error(&ApiError::bad_request(format!(
                "container {c} is not valid for pod {pod}"
            )));
        }
        None => match containers.first() {
            Some(c) => c.clone(),
            None => {
                return error(&ApiError::bad_request(format!(
                    "pod {pod} has no container"
                )));
            }
        },
    };
    if argv.is_empty() {
        return error(&ApiError::bad_request(
            "you must specify at least 1 command",
        ));
    }
    let headers = req.headers();
    let upgrade = headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(ws_key) = headers.get("sec-websocket-key").cloned() else {
        return error(&ApiError::bad_request("Upgrade request required"));
    };
    if !upgrade {
        return error(&ApiError::bad_request("Upgrade request required"));
    }
    let offered: Vec<String> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .collect();
    // wsstream's handshake takes the client's first protocol the server speaks.
    let Some(protocol) = offered
        .iter()
        .find(|p| PROTOCOLS.contains(&p.as_str()))
        .cloned()
    else {
        return error(&ApiError::bad_request(format!(
            "requested protocol(s) are not supported: {offered:?}; supports {PROTOCOLS:?}"
        )));
    };
    let script = {
        let mut ex = lock(&shared.exec);
        ex.calls.push(ExecCall {
            namespace: ns.clone(),
            pod: pod.clone(),
            container: container.clone(),
            argv: argv.clone(),
            protocol: protocol.clone(),
        });
        let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        ex.scripts.get(&key(&pod, &container, &argv_refs)).cloned()
    };
    let accept = derive_accept_key(ws_key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let shared = shared.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        {
            let mut ex = lock(&shared.exec);
            ex.running += 1;
            ex.max_running = ex.max_running.max(ex.running);
        }
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let _ = run(ws, script, &argv).await;
        lock(&shared.exec).running -= 1;
    });
    let mut r = Response::new(crate::server::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("accept key"),
    );
    h.insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&protocol).expect("protocol"),
    );
    r
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(Bytes::from(v))
}

/// The most one frame carries (the kubelet copies in 32 KiB buffers).
const CHUNK: usize = 32 << 10;

async fn run<S>(
    mut ws: WebSocketStream<S>,
    script: Option<ExecScript>,
    argv: &[String],
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // conn.go `Open`: one empty frame per channel written to.
    for ch in [1u8, 2, 3] {
        ws.send(frame(ch, &[])).await?;
    }
    let status = match &script {
        Some(s) => {
            tokio::time::sleep(s.delay).await;
            for chunk in s.stdout.chunks(CHUNK) {
                ws.send(frame(1, chunk)).await?;
            }
            for chunk in s.stderr.chunks(CHUNK) {
                ws.send(frame(2, chunk)).await?;
            }
            exit_status(s.exit_code, argv)
        }
        None => missing_binary(argv),
    };
    ws.send(frame(3, &serde_json::to_vec(&status).expect("json")))
        .await?;
    // A normal closure (1000): client-go reads the error stream to its end and takes any other
    // close code (even 1005, no status) as a broken stream.
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await
}

/// The kubelet's Status for an exit code (exec.go `ServeExec`).
pub fn exit_status(code: i32, argv: &[String]) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            argv.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// containerd/runc's answer for a binary that is not in the image, wrapped by the kubelet as an
/// InternalError.
pub fn missing_binary(argv: &[String]) -> Value {
    let bin = argv.first().map(String::as_str).unwrap_or("");
    let cause = format!(
        "error executing command in container: failed to exec in container: failed to start exec \"0f5c1d2e\": OCI runtime exec failed: exec failed: unable to start container process: exec: \"{bin}\": executable file not found in $PATH: unknown"
    );
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {cause}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": cause}]},
        "code": 500,
    })
}
