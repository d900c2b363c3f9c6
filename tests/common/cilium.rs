//! What Cilium's own tools print, built from Cilium's source types per version, for the lab's
//! scripted execs.
//!
//! - `cilium-dbg status -o json` prints the agent's `StatusResponse` (api/v1/openapi.yaml
//!   `StatusResponse`, api/v1/models/status_response.go); its `cluster-mesh` is a
//!   `ClusterMeshStatus` (api/v1/models/cluster_mesh_status.go: `clusters`,
//!   `num-global-services`) of `RemoteCluster` (api/v1/models/remote_cluster.go),
//!   `RemoteClusterConfig` (remote_cluster_config.go) and `RemoteClusterSynced`
//!   (remote_cluster_synced.go). go-swagger models marshal with `omitempty`: a `false`, `0`
//!   or `""` field is absent; pointer fields (`*bool`) are present when set, even to false.
//! - `clustermesh-apiserver kvstoremesh-dbg status -o json` prints the list of `RemoteCluster`
//!   KVStoreMesh caches (run by cilium-cli's sysdump and `clustermesh status` in container
//!   `kvstoremesh`).
//! - A remote cluster's `connected` is "has a backend", `ready` is connected with its config
//!   retrieved where required (pkg/clustermesh/common/remote_cluster.go `status`,
//!   `isReadyLocked`), and for the agent also synced (pkg/clustermesh/remote_cluster.go).
//! - The ready agent's etcd status line is the one `cilium status --verbose` shows in the seed
//!   lab (1.17.6): `etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: endpoint
//!   status checks are disabled, ID: …` (pkg/kvstore/etcd.go `Status`); a cluster without a
//!   backend yet reports `Waiting for initial connection to be established`
//!   (pkg/clustermesh/common/remote_cluster.go `Status`).
//!
//! Version differences 1.16 → 1.17+: `RemoteClusterConfig.service-exports-enabled` (a `*bool`,
//! `false` printed when MCS-API support is off, as the seed lab's `service-exports=disabled`),
//! `RemoteCluster.num-service-exports` (omitted at 0) and `RemoteClusterSynced.service-exports`
//! (nil, so absent, when service exports are not watched).

use serde_json::{Value, json};

/// The command cilium-cli runs in each agent.
pub const AGENT_STATUS: [&str; 4] = ["cilium-dbg", "status", "-o", "json"];
/// The command it runs in the clustermesh-apiserver's kvstoremesh container (cilium-cli
/// `defaults.ClusterMeshBinaryName` with the `kvstoremesh-dbg` subcommand).
pub const KVSTOREMESH_STATUS: [&str; 5] = [
    "/usr/bin/clustermesh-apiserver",
    "kvstoremesh-dbg",
    "status",
    "-o",
    "json",
];

/// How a remote cluster looks from an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Connected, configuration retrieved, every resource synced.
    Ready,
    /// Configured but no connection yet (no failure recorded: still trying the first time).
    NotConnected,
    /// Every attempt fails (a TLS handshake the peer refuses): failures counted, last one dated.
    TlsFailure,
    /// Connected and configured, the initial sync of services and endpoints not done.
    PartialSync,
}

/// `v1.17.6` → 17.
pub fn minor(version: &str) -> u32 {
    version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .expect("a version like v1.17.6")
}

/// One `RemoteCluster` as an agent of Cilium `version` reports it.
pub fn remote_cluster(
    version: &str,
    name: &str,
    id: u32,
    nodes: usize,
    peer: Peer,
    kvstoremesh: bool,
) -> Value {
    let newer = minor(version) >= 17;
    let mut config =
        json!({"cluster-id": id, "required": true, "retrieved": true, "sync-canaries": true});
    if kvstoremesh {
        config["kvstoremesh"] = json!(true);
    }
    if newer {
        config["service-exports-enabled"] = json!(false);
    }
    let synced_all =
        json!({"nodes": true, "services": true, "identities": true, "endpoints": true});
    let mut rc = json!({"name": name});
    match peer {
        Peer::Ready => {
            rc["ready"] = json!(true);
            rc["connected"] = json!(true);
            rc["status"] = json!(
                "etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: endpoint status checks are disabled, ID: c6ba18866da7dfd8"
            );
            rc["num-nodes"] = json!(nodes);
            rc["num-endpoints"] = json!(nodes * 2);
            rc["num-identities"] = json!(3);
            rc["config"] = config;
            rc["synced"] = synced_all;
            rc["last-failure"] = json!("0001-01-01T00:00:00.000Z");
        }
        Peer::NotConnected => {
            rc["status"] = json!("Waiting for initial connection to be established");
            rc["synced"] = json!({});
            rc["last-failure"] = json!("0001-01-01T00:00:00.000Z");
        }
        Peer::TlsFailure => {
            rc["status"] = json!("Waiting for initial connection to be established");
            rc["num-failures"] = json!(7);
            rc["last-failure"] = json!("2025-08-20T13:05:00.000Z");
            rc["synced"] = json!({});
        }
        Peer::PartialSync => {
            rc["connected"] = json!(true);
            rc["status"] = json!(
                "etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: endpoint status checks are disabled, ID: c6ba18866da7dfd8"
            );
            rc["num-nodes"] = json!(nodes);
            rc["config"] = config;
            rc["synced"] = json!({"nodes": true, "identities": true});
            rc["last-failure"] = json!("0001-01-01T00:00:00.000Z");
        }
    }
    rc
}

/// `cilium-dbg status -o json` of an agent with these remote clusters (the parts of
/// `StatusResponse` around `cluster-mesh` trimmed to a few real keys; `num-global-services` is
/// omitted at 0).
pub fn agent_status(remotes: Vec<Value>) -> String {
    let status = json!({
        "cilium": {"state": "Ok", "msg": ""},
        "kvstore": {"state": "Disabled", "msg": "Disabled"},
        "kubernetes": {"state": "Ok", "msg": "1.33 (v1.33.1) [linux/amd64]"},
        "cluster-mesh": {"clusters": remotes},
        "kube-proxy-replacement": {"mode": "True"},
        "stale": {},
    });
    serde_json::to_string_pretty(&status).unwrap()
}

/// `kvstoremesh-dbg status -o json`: the remote clusters KVStoreMesh caches.
pub fn kvstoremesh_status(remotes: Vec<Value>) -> String {
    serde_json::to_string_pretty(&Value::Array(remotes)).unwrap()
}
