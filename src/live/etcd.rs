//! A peer's etcd read as the agents read it: etcd v3 gRPC over mutual TLS (tonic), connecting
//! to the endpoint's addresses with the server name of the configured endpoint, the cluster's
//! trusted CA and client certificate. Only the keys the clustermesh-apiserver writes for its
//! peers are read: the cluster config, the heartbeat, the sync canaries, and counts of entries.

use std::net::SocketAddr;
use std::time::Duration;

use prost::Message;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::mesh::troubleshoot::{
    EtcdFacts, HEARTBEAT_KEY, Plan, SYNC_KINDS, cluster_config_key, sync_canary_key, sync_prefix,
};

/// Reads what `plan.peer`'s apiserver published, through the first of `addresses` that
/// answers (all are tried at once, as an etcd client fails over between endpoints), for
/// `server_name`. The caller bounds the whole read; `timeout` also bounds each request.
pub async fn read(
    addresses: &[SocketAddr],
    server_name: &str,
    plan: &Plan,
    timeout: Option<Duration>,
) -> Result<EtcdFacts, String> {
    let reads = addresses.iter().map(|a| {
        Box::pin(async move {
            read_one(*a, server_name, plan, timeout).await.map_err(|e| {
                if addresses.len() > 1 {
                    format!("{a}: {e}")
                } else {
                    e
                }
            })
        })
    });
    match futures::future::select_ok(reads).await {
        Ok((facts, _)) => Ok(facts),
        Err(last) => Err(last),
    }
}

async fn read_one(
    address: SocketAddr,
    server_name: &str,
    plan: &Plan,
    timeout: Option<Duration>,
) -> Result<EtcdFacts, String> {
    let mut tls = ClientTlsConfig::new()
        .domain_name(server_name)
        .assume_http2(true);
    if let Some(ca) = &plan.trusted_ca {
        tls = tls.ca_certificate(Certificate::from_pem(ca));
    }
    if let (Some(cert), Some(key)) = (&plan.client_cert, &plan.client_key) {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let mut endpoint = Endpoint::from_shared(format!("https://{address}"))
        .map_err(|e| describe(&e))?
        .tls_config(tls)
        .map_err(|e| describe(&e))?;
    if let Some(t) = timeout {
        endpoint = endpoint.connect_timeout(t).timeout(t);
    }
    let channel = endpoint.connect().await.map_err(|e| describe(&e))?;
    let grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(READ_CAP);
    let peer = &plan.peer;
    // Every key in one transaction (no comparisons: its reads run, at one revision), beside
    // the member's status on the same connection: two round trips instead of nine.
    let ranges = [
        RangeRequest::key(&cluster_config_key(peer)),
        RangeRequest::key(HEARTBEAT_KEY),
        RangeRequest::prefix(&format!("cilium/synced/{peer}/")).keys_only(),
    ]
    .into_iter()
    .chain(
        SYNC_KINDS
            .iter()
            .map(|kind| RangeRequest::prefix(&sync_prefix(peer, kind)).count_only()),
    );
    let txn = TxnRequest {
        success: ranges
            .map(|r| RequestOp {
                request_range: Some(r),
            })
            .collect(),
    };
    let wanted = txn.success.len();
    let (status, answer) = futures::join!(
        Etcd(grpc.clone()).call::<_, StatusResponse>(STATUS, StatusRequest {}),
        Etcd(grpc).call::<_, TxnResponse>(TXN, txn)
    );
    let (status, answer) = (status?, answer?);
    let mut ranges: Vec<RangeResponse> = answer
        .responses
        .into_iter()
        .filter_map(|r| r.response_range)
        .collect();
    if ranges.len() != wanted {
        return Err(format!(
            "etcd answered {} of the {wanted} reads of one transaction",
            ranges.len()
        ));
    }
    let counts = ranges.split_off(3);
    let value = |r: &RangeResponse| {
        r.kvs
            .first()
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
    };
    let keys: Vec<String> = ranges[2]
        .kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect();
    let mut facts = EtcdFacts {
        address: Some(address),
        version: status.version,
        cluster_config: value(&ranges[0]),
        heartbeat: value(&ranges[1]),
        ..EtcdFacts::default()
    };
    for (kind, count) in SYNC_KINDS.iter().zip(&counts) {
        facts.canaries.insert(
            kind.to_string(),
            keys.contains(&sync_canary_key(peer, kind)),
        );
        facts.counts.insert(kind.to_string(), count.count);
    }
    Ok(facts)
}

/// The most one answer may hold: the reads are one key each, keys-only of a peer's few
/// canaries, and counts.
const READ_CAP: usize = 1 << 20;
const TXN: &str = "/etcdserverpb.KV/Txn";
const STATUS: &str = "/etcdserverpb.Maintenance/Status";

/// The two etcd v3 calls the probe makes (Status, and Txn of Ranges), over a tonic channel. The messages are the few
/// fields of etcd's `rpc.proto`/`kv.proto` it reads (field numbers as there), declared with
/// prost instead of generated: a generated client (`etcd-client`) needs `protoc` at build time,
/// which would make every build of kubectl-mesh depend on a system package.
struct Etcd(tonic::client::Grpc<tonic::transport::Channel>);

impl Etcd {
    async fn call<Req, Resp>(mut self, path: &'static str, request: Req) -> Result<Resp, String>
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        self.0.ready().await.map_err(|e| describe(&e))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        self.0
            .unary(tonic::Request::new(request), path, codec)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| describe_status(&s))
    }
}

#[derive(Clone, PartialEq, Message)]
struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    range_end: Vec<u8>,
    #[prost(bool, tag = "8")]
    keys_only: bool,
    #[prost(bool, tag = "9")]
    count_only: bool,
}

impl RangeRequest {
    fn key(key: &str) -> RangeRequest {
        RangeRequest {
            key: key.as_bytes().to_vec(),
            ..RangeRequest::default()
        }
    }

    /// Every key starting with `prefix`: the range ends at the prefix with its last byte + 1.
    fn prefix(prefix: &str) -> RangeRequest {
        let key = prefix.as_bytes().to_vec();
        let mut end = key.clone();
        while let Some(last) = end.pop() {
            if last < 0xff {
                end.push(last + 1);
                break;
            }
        }
        if end.is_empty() {
            end = vec![0];
        }
        RangeRequest {
            key,
            range_end: end,
            ..RangeRequest::default()
        }
    }

    fn keys_only(mut self) -> RangeRequest {
        self.keys_only = true;
        self
    }

    fn count_only(mut self) -> RangeRequest {
        self.count_only = true;
        self
    }
}

#[derive(Clone, PartialEq, Message)]
struct RangeResponse {
    #[prost(message, repeated, tag = "2")]
    kvs: Vec<KeyValue>,
    #[prost(int64, tag = "4")]
    count: i64,
}

#[derive(Clone, PartialEq, Message)]
struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    value: Vec<u8>,
}

/// `TxnRequest` without comparisons: only `success` (field 2), whose `RequestOp`s are all
/// `request_range` (field 1 of its `oneof request`), as etcd's rpc.proto numbers them.
#[derive(Clone, PartialEq, Message)]
struct TxnRequest {
    #[prost(message, repeated, tag = "2")]
    success: Vec<RequestOp>,
}

#[derive(Clone, PartialEq, Message)]
struct RequestOp {
    #[prost(message, optional, tag = "1")]
    request_range: Option<RangeRequest>,
}

/// `TxnResponse.responses` (field 3), each a `ResponseOp` whose `response_range` is field 1.
#[derive(Clone, PartialEq, Message)]
struct TxnResponse {
    #[prost(message, repeated, tag = "3")]
    responses: Vec<ResponseOp>,
}

#[derive(Clone, PartialEq, Message)]
struct ResponseOp {
    #[prost(message, optional, tag = "1")]
    response_range: Option<RangeResponse>,
}

#[derive(Clone, PartialEq, Message)]
struct StatusRequest {}

#[derive(Clone, PartialEq, Message)]
struct StatusResponse {
    #[prost(string, tag = "2")]
    version: String,
}

/// A gRPC status as one line: its message and the root cause of a transport failure.
fn describe_status(s: &tonic::Status) -> String {
    let top = if s.message().is_empty() {
        s.to_string()
    } else {
        s.message().to_string()
    };
    with_root_cause(top, std::error::Error::source(s))
}

/// An error as one line: what failed and its root cause ("tcp connect error: Connection
/// refused (os error 111)", "transport error: invalid peer certificate: …").
fn describe(e: &dyn std::error::Error) -> String {
    with_root_cause(e.to_string(), e.source())
}

fn with_root_cause(top: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut root: Option<String> = None;
    while let Some(s) = source {
        root = Some(s.to_string());
        source = s.source();
    }
    match root {
        Some(r) if !top.contains(&r) => format!("{top}: {r}"),
        _ => top,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges_end_past_the_prefix() {
        let r = RangeRequest::prefix("cilium/synced/east/");
        assert_eq!(r.range_end, b"cilium/synced/east0");
        assert_eq!(
            RangeRequest::prefix("a\u{ff}").range_end,
            [b'a', 0xc3, 0xc0]
        );
    }

    #[test]
    fn messages_use_etcds_field_numbers() {
        // RangeRequest{key: "k", count_only: true} as etcd's generated code encodes it.
        let bytes = RangeRequest::key("k").count_only().encode_to_vec();
        assert_eq!(bytes, [0x0a, 0x01, b'k', 0x48, 0x01]);
    }

    #[test]
    fn a_transaction_of_ranges_uses_etcds_field_numbers() {
        // TxnRequest{success: [RequestOp{request_range: RangeRequest{key: "k"}}]}: field 2
        // (length 5) holding field 1 (length 3) holding the range.
        let txn = TxnRequest {
            success: vec![RequestOp {
                request_range: Some(RangeRequest::key("k")),
            }],
        };
        assert_eq!(
            txn.encode_to_vec(),
            [0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'k']
        );
        // TxnResponse{responses: [ResponseOp{response_range: RangeResponse{count: 2}}]}.
        let answer = TxnResponse::decode(&[0x1a, 0x04, 0x0a, 0x02, 0x20, 0x02][..]).unwrap();
        assert_eq!(
            answer.responses[0].response_range.as_ref().unwrap().count,
            2
        );
    }
}
