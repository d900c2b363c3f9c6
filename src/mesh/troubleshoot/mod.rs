//! `kubectl mesh troubleshoot`'s judgement of one path of the mesh: cluster A's agents (or its
//! KVStoreMesh) reaching cluster B's clustermesh-apiserver, check by check with fixed ids.
//!
//! Pure: [`plan`] reads what A has configured for B (etcd config, host aliases, client
//! certificate, trusted CA) into the probes the network edge must run (`crate::live::probe`,
//! `crate::live::etcd`), and [`judge`] turns the objects of both clusters and the probes'
//! results into the checks. No key material leaves [`Plan`] except towards the TLS handshakes.
//!
//! By check family: [`plan`] (what to probe), `config` (identity, max-connected-clusters,
//! peer-config, endpoint-drift, nodeport-collision), `network` (dns, tcp), `tls` (tls-verify,
//! client-cert, ca-equal, cert-expiry), `etcd` (etcd-cluster-config, etcd-heartbeat, etcd-sync).

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::state::{Finding, Live};
use super::{Cluster, Mesh};

pub mod agents;
mod config;
mod etcd;
mod network;
mod plan;
pub mod report;
mod tls;

pub use plan::{
    AddressProbe, EtcdFacts, PathProbe, Plan, Resolve, Resolved, Source, TlsProbe, VerifyFailure,
    endpoint_url, peer_config, plan,
};

/// Every check of a path, in the order they are reported.
pub const CHECKS: [&str; 14] = [
    "identity",
    "max-connected-clusters",
    "peer-config",
    "endpoint-drift",
    "nodeport-collision",
    "dns",
    "tcp",
    "tls-verify",
    "client-cert",
    "ca-equal",
    "cert-expiry",
    "etcd-cluster-config",
    "etcd-heartbeat",
    "etcd-sync",
];
/// The checks from the agents' own report that the workstation has no equivalent of.
pub const AGENT_CHECKS: [&str; 4] = [
    "agent-report",
    "agent-connected",
    "agent-ready",
    "agent-synced",
];
/// The `from` of the checks the workstation ran.
pub const WORKSTATION: &str = "workstation";
/// A certificate expiring sooner than this is a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// The clustermesh-apiserver writes `cilium/.heartbeat` every minute; older than this is stale.
pub const HEARTBEAT_MAX_AGE_SECS: i64 = 120;
/// The heartbeat key every Cilium kvstore user keeps fresh.
pub const HEARTBEAT_KEY: &str = "cilium/.heartbeat";
/// The kinds of state a clustermesh-apiserver syncs, each with a canary once done.
pub const SYNC_KINDS: [&str; 4] = ["nodes", "services", "identities", "ip"];

/// `cilium/cluster-config/<cluster>`: the id and capabilities the apiserver announces.
pub fn cluster_config_key(cluster: &str) -> String {
    format!("cilium/cluster-config/{cluster}")
}

/// The canary the apiserver of `cluster` writes when its initial sync of `kind` is complete.
pub fn sync_canary_key(cluster: &str, kind: &str) -> String {
    format!("cilium/synced/{cluster}/cilium/state/{kind}/v1")
}

/// The prefix under which the apiserver of `cluster` keeps its entries of `kind`.
pub fn sync_prefix(cluster: &str, kind: &str) -> String {
    match kind {
        "nodes" | "services" => format!("cilium/state/{kind}/v1/{cluster}/"),
        "identities" => "cilium/state/identities/v1/id/".to_string(),
        _ => format!("cilium/state/{kind}/v1/"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check of one path.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    /// The vantage point: `workstation`, or `agent/<pod>` (the pod whose own report it is).
    pub from: String,
    pub status: Status,
    pub message: String,
    /// What to run or change; empty when the check is ok.
    pub hint: String,
    pub details: Value,
}

#[derive(Debug, Serialize)]
pub struct PairReport {
    pub from: String,
    pub to: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub pairs: Vec<PairReport>,
    pub summary: Summary,
}

impl Report {
    pub fn new(pairs: Vec<PairReport>) -> Report {
        let mut summary = Summary::default();
        for c in pairs.iter().flat_map(|p| &p.checks) {
            match c.status {
                Status::Ok => summary.ok += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        Report { pairs, summary }
    }
}

/// One ordered pair: A (`from`) dials B (`to`). A cluster that could not be read carries why.
pub struct Pair<'a> {
    pub mesh: &'a Mesh,
    pub mesh_path: &'a str,
    pub from: &'a Cluster,
    pub to: &'a Cluster,
    pub from_live: Result<&'a Live, String>,
    pub to_live: Result<&'a Live, String>,
}

/// The checks of one path. `collisions` are the mesh's NodePort findings
/// ([`crate::mesh::state::nodeport_collisions`] over every readable cluster).
pub fn judge(
    pair: &Pair,
    plan: &Plan,
    probe: &PathProbe,
    collisions: &[Finding],
    now: OffsetDateTime,
) -> Vec<Check> {
    let j = Judge {
        pair,
        plan,
        probe,
        now,
    };
    vec![
        j.identity(),
        j.max_connected(),
        j.peer_config(),
        j.endpoint_drift(),
        j.nodeport_collision(collisions),
        j.dns(),
        j.tcp(),
        j.tls_verify(),
        j.client_cert(),
        j.ca_equal(),
        j.cert_expiry(),
        j.etcd_cluster_config(),
        j.etcd_heartbeat(),
        j.etcd_sync(),
    ]
}

struct Judge<'a> {
    pair: &'a Pair<'a>,
    plan: &'a Plan,
    probe: &'a PathProbe,
    now: OffsetDateTime,
}

fn check(id: &'static str, status: Status, message: String, hint: String, details: Value) -> Check {
    check_from(WORKSTATION.to_string(), id, status, message, hint, details)
}

/// A check seen `from` a vantage point; a passing check carries no hint.
fn check_from(
    from: String,
    id: &'static str,
    status: Status,
    message: String,
    hint: String,
    details: Value,
) -> Check {
    Check {
        id,
        from,
        status,
        message,
        hint: if status == Status::Ok {
            String::new()
        } else {
            hint
        },
        details,
    }
}

/// A check that could not run because an earlier stage failed.
fn not_checked(id: &'static str, why: String, first: &str) -> Check {
    Check {
        id,
        from: WORKSTATION.to_string(),
        status: Status::Warn,
        message: format!("not checked: {why}"),
        hint: format!("fix `{first}` first"),
        details: json!({"checked": false}),
    }
}

fn ago(secs: i64) -> String {
    let s = secs.abs();
    let text = if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 172_800 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    };
    if secs < 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

impl Judge<'_> {
    fn a(&self) -> &str {
        &self.pair.from.name
    }

    fn b(&self) -> &str {
        &self.pair.to.name
    }

    fn ns(&self) -> &str {
        self.pair.mesh.namespace()
    }

    fn upgrade_hint(&self, c: &Cluster) -> String {
        format!(
            "run `kubectl mesh upgrade {} --mesh {} --chart cilium/cilium --reuse-values` (helm upgrade cilium with the post-renderer, in namespace {} with --kube-context {})",
            c.name,
            self.pair.mesh_path,
            self.ns(),
            c.context
        )
    }

    fn unreadable_hint(&self, c: &Cluster) -> String {
        format!(
            "check that `kubectl --context {} get nodes` works",
            c.context
        )
    }

    /// Both clusters' objects, or the check saying which could not be read.
    fn both(&self, id: &'static str) -> Result<(&Live, &Live), Box<Check>> {
        match (&self.pair.from_live, &self.pair.to_live) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(e), _) => Err(Box::new(not_checked(
                id,
                format!("cannot read cluster {}: {e}", self.a()),
                "identity",
            ))),
            (_, Err(e)) => Err(Box::new(not_checked(
                id,
                format!("cannot read cluster {}: {e}", self.b()),
                "identity",
            ))),
        }
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
