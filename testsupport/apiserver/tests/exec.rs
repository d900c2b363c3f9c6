//! The exec subresource with a client that offers only `v4.channel.k8s.io` (older kubectl and
//! client-go): the protocol is agreed on, the channels are prefixed, the error channel carries
//! the kubelet's Status (staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go,
//! pkg/kubelet/cri/streaming/remotecommand/exec.go).

use futures_util::StreamExt;
use mesh_test_apiserver::ApiServer;
use mesh_test_apiserver::exec::ExecScript;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[test]
fn v4_only_clients_get_v4_and_the_status_on_channel_3() {
    let server = ApiServer::start_with(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: cilium-x7k2p, namespace: kube-system}\nspec: {containers: [{name: cilium-agent, image: x}]}\n",
    );
    server.script_exec(
        "cilium-x7k2p",
        "cilium-agent",
        &["false"],
        ExecScript {
            stdout: b"out".to_vec(),
            stderr: b"err".to_vec(),
            exit_code: 2,
            ..ExecScript::default()
        },
    );
    let url = format!(
        "{}/api/v1/namespaces/kube-system/pods/cilium-x7k2p/exec?container=cilium-agent&stdout=true&stderr=true&command=false",
        server.url().replace("http://", "ws://")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (protocol, frames) = rt.block_on(async {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "v4.channel.k8s.io".parse().unwrap(),
        );
        let (mut ws, response) = tokio_tungstenite::connect_async(req).await.unwrap();
        let protocol = response.headers()["sec-websocket-protocol"]
            .to_str()
            .unwrap()
            .to_string();
        let mut frames = Vec::new();
        while let Some(m) = ws.next().await {
            match m.unwrap() {
                Message::Binary(b) => frames.push(b.to_vec()),
                Message::Close(c) => {
                    assert_eq!(u16::from(c.unwrap().code), 1000);
                    break;
                }
                _ => {}
            }
        }
        (protocol, frames)
    });
    assert_eq!(protocol, "v4.channel.k8s.io");
    // One empty frame per channel on open, then stdout, stderr, and the Status.
    assert_eq!(frames[..3], [vec![1u8], vec![2], vec![3]]);
    assert_eq!(frames[3], b"\x01out");
    assert_eq!(frames[4], b"\x02err");
    assert_eq!(frames[5][0], 3);
    let status: serde_json::Value = serde_json::from_slice(&frames[5][1..]).unwrap();
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "2");
    assert_eq!(server.exec_calls()[0].protocol, "v4.channel.k8s.io");
}
