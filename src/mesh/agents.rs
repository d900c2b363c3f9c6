//! The agents' own view of the mesh: what `cilium-dbg status -o json` (each Cilium agent) and
//! `kvstoremesh-dbg status -o json` (the clustermesh-apiserver's KVStoreMesh) say about every
//! remote cluster, and the judgement on it. Pure: the commands' output is fetched at the edge.
//!
//! Shapes, from Cilium's source (1.16–1.20):
//! - api/v1/openapi.yaml: `StatusResponse.cluster-mesh` → `ClusterMeshStatus { clusters:
//!   [RemoteCluster], num-global-services }`;
//! - api/v1/models/remote_cluster.go: `RemoteCluster { name, ready, connected, status,
//!   num-nodes, num-shared-services, num-identities, num-endpoints, num-failures, last-failure,
//!   config, synced }` (every field `omitempty`: a `false` or `0` is absent from the JSON);
//! - api/v1/models/remote_cluster_config.go: `{ cluster-id, kvstoremesh, required, retrieved,
//!   sync-canaries }`, 1.17+ also `service-exports-enabled`;
//! - api/v1/models/remote_cluster_synced.go: `{ nodes, services, identities, endpoints }`,
//!   later releases also `service-exports` and `endpoint-slices` (pointers: absent = not
//!   watched);
//! - `clustermesh-apiserver kvstoremesh-dbg status -o json` prints `[RemoteCluster]`, as
//!   cilium-cli's `clustermesh status` and sysdump read it (container `kvstoremesh`);
//! - pkg/clustermesh/common/remote_cluster.go `status`: `connected` is "has an etcd backend",
//!   `status` is the backend's status line or "Waiting for initial connection to be
//!   established", `ready` needs the backend and the config retrieved where required; the
//!   agent's view (pkg/clustermesh/remote_cluster.go) adds the sync state.
//!
//! A cluster is healthy from the agents' side only when every agent asked reports every expected
//! peer `ready` (the agent's own verdict: connected, config retrieved where required, and the
//! initial sync of every resource done), and, with KVStoreMesh, KVStoreMesh reports every
//! expected peer ready too — as cilium-cli judges it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One remote cluster as an agent (or KVStoreMesh) reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct RemoteCluster {
    pub name: String,
    pub ready: bool,
    pub connected: bool,
    pub status: String,
    pub num_nodes: i64,
    pub num_endpoints: i64,
    pub num_identities: i64,
    pub num_shared_services: i64,
    pub num_failures: i64,
    /// RFC 3339; absent (or Go's zero time, read as absent) when it never failed.
    #[serde(deserialize_with = "failure_time")]
    pub last_failure: Option<String>,
    pub config: Option<RemoteConfig>,
    pub synced: Option<Synced>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct RemoteConfig {
    pub cluster_id: i64,
    pub kvstoremesh: bool,
    pub required: bool,
    pub retrieved: bool,
    pub sync_canaries: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Synced {
    pub nodes: bool,
    pub services: bool,
    pub identities: bool,
    pub endpoints: bool,
    /// 1.17+: `null`/absent when service exports are not watched.
    pub service_exports: Option<bool>,
    /// Later releases: `null`/absent when endpoint slices are not watched.
    pub endpoint_slices: Option<bool>,
}

impl Synced {
    /// The resources whose initial sync is not done.
    pub fn pending(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (done, what) in [
            (self.nodes, "nodes"),
            (self.services, "services"),
            (self.identities, "identities"),
            (self.endpoints, "endpoints"),
            (self.service_exports.unwrap_or(true), "service-exports"),
            (self.endpoint_slices.unwrap_or(true), "endpoint-slices"),
        ] {
            if !done {
                out.push(what);
            }
        }
        out
    }
}

/// Why an output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON ({0})")]
    NotJson(String),
    #[error("{0}")]
    Shape(String),
}

/// The remote clusters of `cilium-dbg status -o json` (a `StatusResponse`). No `cluster-mesh`
/// key (Cluster Mesh not configured in the agent) is an empty list.
pub fn parse_agent_status(stdout: &[u8]) -> Result<Vec<RemoteCluster>, ParseError> {
    // The usual output read straight into the remote clusters, skipping the rest of the
    // report (a 255-cluster mesh prints ~180 KB per agent); anything else takes the checked
    // way below, which says what is wrong.
    #[derive(Deserialize)]
    struct Status {
        #[serde(rename = "cluster-mesh")]
        cluster_mesh: Option<Mesh>,
    }
    #[derive(Deserialize)]
    struct Mesh {
        clusters: Option<Vec<RemoteCluster>>,
    }
    if stdout.trim_ascii_start().starts_with(b"{")
        && let Ok(status) = serde_json::from_slice::<Status>(stdout)
    {
        let list = status
            .cluster_mesh
            .and_then(|m| m.clusters)
            .unwrap_or_default();
        return Ok(list);
    }
    let v: Value =
        serde_json::from_slice(stdout).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(ParseError::Shape("not a StatusResponse object".to_string()));
    }
    match &v["cluster-mesh"] {
        Value::Null => Ok(Vec::new()),
        cm => match &cm["clusters"] {
            Value::Null => Ok(Vec::new()),
            clusters => remote_clusters(clusters, "cluster-mesh.clusters"),
        },
    }
}

/// The remote clusters of `kvstoremesh-dbg status -o json` (a list of `RemoteCluster`).
pub fn parse_kvstoremesh_status(stdout: &[u8]) -> Result<Vec<RemoteCluster>, ParseError> {
    if stdout.trim_ascii_start().starts_with(b"[")
        && let Ok(list) = serde_json::from_slice::<Vec<RemoteCluster>>(stdout)
    {
        return Ok(list);
    }
    let v: Value =
        serde_json::from_slice(stdout).map_err(|e| ParseError::NotJson(e.to_string()))?;
    match v {
        Value::Null => Ok(Vec::new()),
        v => remote_clusters(&v, "the top level"),
    }
}

fn remote_clusters(v: &Value, at: &str) -> Result<Vec<RemoteCluster>, ParseError> {
    let list = v
        .as_array()
        .ok_or_else(|| ParseError::Shape(format!("{at} is not a list of remote clusters")))?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let rc = RemoteCluster::deserialize(item)
            .map_err(|e| ParseError::Shape(format!("{at}: {e}")))?;
        out.push(rc);
    }
    Ok(out)
}

/// A last failure time (a string or null), Go's zero time (never failed) as none: looked at
/// where it lies, copied only when it is a time.
fn failure_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Time;
    impl<'de> serde::de::Visitor<'de> for Time {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<Self::Value, E> {
            Ok((!zero_time(t)).then(|| t.to_string()))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    d.deserialize_option(Time)
}

/// Go's zero `time.Time` as strfmt prints it.
fn zero_time(t: &str) -> bool {
    t.starts_with("0001-01-01")
}

/// What one vantage point (an agent, or KVStoreMesh) says about one expected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerView {
    pub peer: String,
    /// Whether the vantage point reports the peer at all.
    pub known: bool,
    pub connected: bool,
    pub ready: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_retrieved: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_synced: Vec<&'static str>,
    pub num_nodes: i64,
    pub num_endpoints: i64,
    pub num_failures: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// Why the peer is not usable from here; `None` when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Judges what a vantage point reports about `peer`, whose mesh-file cluster id is
/// `expected_id`.
pub fn judge_peer(reported: &[RemoteCluster], peer: &str, expected_id: Option<u32>) -> PeerView {
    judge(
        reported.iter().find(|r| r.name == peer).cloned(),
        peer,
        expected_id,
    )
}

/// [`judge_peer`] on the entry the vantage point reports for `peer` (`None`: none), its text
/// moved into the judgement.
fn judge(reported: Option<RemoteCluster>, peer: &str, expected_id: Option<u32>) -> PeerView {
    let Some(rc) = reported else {
        return PeerView {
            peer: peer.to_string(),
            known: false,
            connected: false,
            ready: false,
            status: String::new(),
            config_retrieved: None,
            cluster_id: None,
            not_synced: Vec::new(),
            num_nodes: 0,
            num_endpoints: 0,
            num_failures: 0,
            last_failure: None,
            problem: Some(format!(
                "does not know {peer} (its cilium-clustermesh Secret has no entry for it yet, or the agent has not reloaded it)"
            )),
        };
    };
    let not_synced = rc.synced.as_ref().map(Synced::pending).unwrap_or_default();
    let retrieved = rc.config.as_ref().map(|c| c.retrieved);
    let required = rc.config.as_ref().is_some_and(|c| c.required);
    let cluster_id = rc
        .config
        .as_ref()
        .filter(|c| c.retrieved)
        .map(|c| c.cluster_id);
    let failures = || {
        if rc.num_failures == 0 {
            String::new()
        } else {
            format!(
                ", {} failure(s){}",
                rc.num_failures,
                rc.last_failure
                    .as_deref()
                    .map(|t| format!(", last at {t}"))
                    .unwrap_or_default()
            )
        }
    };
    let status = || {
        if rc.status.is_empty() {
            String::new()
        } else {
            format!(": {}", rc.status)
        }
    };
    let problem = if !rc.connected {
        Some(format!("not connected to {peer}{}{}", status(), failures()))
    } else if required && retrieved != Some(true) {
        Some(format!(
            "connected to {peer} but its cluster configuration is not retrieved yet{}",
            failures()
        ))
    } else if let (Some(id), Some(expected)) = (cluster_id, expected_id)
        && id != 0
        && id != i64::from(expected)
    {
        Some(format!(
            "{peer} reports cluster id {id}, the mesh file says {expected}"
        ))
    } else if !not_synced.is_empty() {
        Some(format!(
            "connected to {peer} but not synced yet ({})",
            not_synced.join(", ")
        ))
    } else if !rc.ready {
        Some(format!("{peer} is not ready{}{}", status(), failures()))
    } else {
        None
    };
    PeerView {
        // The entry's own name: `peer` itself.
        peer: rc.name,
        known: true,
        connected: rc.connected,
        ready: rc.ready && problem.is_none(),
        status: rc.status,
        config_retrieved: retrieved,
        cluster_id,
        not_synced,
        num_nodes: rc.num_nodes,
        num_endpoints: rc.num_endpoints,
        num_failures: rc.num_failures,
        last_failure: rc.last_failure,
        problem,
    }
}

/// One vantage point's report: the peers as it sees them, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VantageView {
    pub pod: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub peers: Vec<PeerView>,
}

impl VantageView {
    /// Readable and every expected peer ready.
    pub fn all_ready(&self) -> bool {
        self.error.is_none() && self.peers.iter().all(|p| p.ready)
    }
}

/// Judges one vantage point's output (`Err`: the exec failed, with why).
pub fn judge_vantage(
    pod: &str,
    node: Option<&str>,
    reported: Result<Vec<RemoteCluster>, String>,
    expected: &[(String, Option<u32>)],
) -> VantageView {
    match reported {
        Ok(list) => VantageView {
            pod: pod.to_string(),
            node: node.map(str::to_string),
            error: None,
            peers: judge_all(list, expected),
        },
        Err(e) => VantageView {
            pod: pod.to_string(),
            node: node.map(str::to_string),
            error: Some(e),
            peers: Vec::new(),
        },
    }
}

/// [`judge_peer`] for every expected peer, in order: the report indexed by name once (the
/// first entry of a name counts, as [`judge_peer`]'s search finds it), each entry's text moved
/// into its peer's judgement.
fn judge_all(list: Vec<RemoteCluster>, expected: &[(String, Option<u32>)]) -> Vec<PeerView> {
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(list.len());
    for (i, rc) in list.iter().enumerate() {
        at.entry(rc.name.as_str()).or_insert(i);
    }
    let found: Vec<Option<usize>> = expected
        .iter()
        .map(|(p, _)| at.get(p.as_str()).copied())
        .collect();
    drop(at);
    let mut list: Vec<Option<RemoteCluster>> = list.into_iter().map(Some).collect();
    // The judgement of each entry already moved, for a peer expected twice.
    let mut judged: Vec<Option<usize>> = vec![None; list.len()];
    let mut out: Vec<PeerView> = Vec::with_capacity(expected.len());
    for ((peer, id), i) in expected.iter().zip(found) {
        let view = match i {
            None => judge(None, peer, *id),
            Some(i) => match judged[i] {
                Some(earlier) => out[earlier].clone(),
                None => {
                    judged[i] = Some(out.len());
                    judge(list[i].take(), peer, *id)
                }
            },
        };
        out.push(view);
    }
    out
}

/// The agents' view of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentsView {
    /// Agents asked (every Ready agent, or the `--agents N` sample).
    pub asked: usize,
    /// Agents that report every expected peer ready.
    pub all_peers_ready: usize,
    /// Set when the agents could not be asked at all (no exec permission, no Ready agent, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    pub agents: Vec<VantageView>,
    /// KVStoreMesh's view, where it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kvstoremesh: Option<VantageView>,
}

impl AgentsView {
    pub fn healthy(&self) -> bool {
        self.unreadable.is_none()
            && self.asked > 0
            && self.all_peers_ready == self.asked
            && self.kvstoremesh.as_ref().is_none_or(VantageView::all_ready)
    }

    /// `2/2 agents` for the table (`? agents` when unreadable).
    pub fn figure(&self) -> String {
        if self.unreadable.is_some() {
            "? agents".to_string()
        } else {
            format!("{}/{} agents", self.all_peers_ready, self.asked)
        }
    }

    /// The problems as (check id, message), one per (peer, kind of problem), naming up to three
    /// agent pods. Check ids: `agents-unreadable`, `agents-exec`, `agents-peers`, `kvstoremesh`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(why) = &self.unreadable {
            out.push(("agents-unreadable", format!("agents not readable: {why}")));
            return out;
        }
        // Exec failures, grouped by message.
        let mut failed: Vec<(&str, Vec<&str>)> = Vec::new();
        for a in &self.agents {
            if let Some(e) = &a.error {
                match failed.iter_mut().find(|(m, _)| *m == e.as_str()) {
                    Some((_, pods)) => pods.push(&a.pod),
                    None => failed.push((e, vec![&a.pod])),
                }
            }
        }
        for (message, pods) in failed {
            out.push((
                "agents-exec",
                format!(
                    "cannot read agent {} {}: {message}",
                    plural_pods(pods.len()),
                    name_some(&pods)
                ),
            ));
        }
        // Peer problems, grouped by peer and wording (the first agent's detail shown).
        let mut by_peer: Vec<(&str, Vec<&str>, &str)> = Vec::new();
        for a in &self.agents {
            for p in &a.peers {
                let Some(problem) = &p.problem else { continue };
                let kind = problem_kind(problem);
                match by_peer
                    .iter_mut()
                    .find(|(peer, _, first)| *peer == p.peer && problem_kind(first) == kind)
                {
                    Some((_, pods, _)) => pods.push(&a.pod),
                    None => by_peer.push((&p.peer, vec![&a.pod], problem)),
                }
            }
        }
        for (_, pods, first) in by_peer {
            out.push((
                "agents-peers",
                format!(
                    "{}/{} agents: {} {} {first}",
                    pods.len(),
                    self.asked,
                    plural_pods(pods.len()),
                    name_some(&pods)
                ),
            ));
        }
        if let Some(k) = &self.kvstoremesh {
            if let Some(e) = &k.error {
                out.push((
                    "kvstoremesh",
                    format!("cannot read KVStoreMesh in pod {}: {e}", k.pod),
                ));
            }
            for p in &k.peers {
                if let Some(problem) = &p.problem {
                    out.push((
                        "kvstoremesh",
                        format!("KVStoreMesh (pod {}): {problem}", k.pod),
                    ));
                }
            }
        }
        out
    }
}

fn plural_pods(n: usize) -> &'static str {
    if n == 1 { "pod" } else { "pods" }
}

/// `a, b, c and 4 more`.
fn name_some(pods: &[&str]) -> String {
    const SHOWN: usize = 3;
    let mut text = pods
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if pods.len() > SHOWN {
        text.push_str(&format!(" and {} more", pods.len() - SHOWN));
    }
    text
}

/// The wording of a problem up to its details (`not connected to east`), to group agents.
fn problem_kind(problem: &str) -> &str {
    problem
        .split([':', ',', '('])
        .next()
        .unwrap_or(problem)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> Vec<(String, Option<u32>)> {
        vec![("east".to_string(), Some(2))]
    }

    // Built from api/v1/models/remote_cluster.go and friends (omitempty: false/0 are absent).
    fn ready_east() -> Value {
        json!({"name": "east", "ready": true, "connected": true,
            "status": "etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: endpoint status checks are disabled, ID: c6ba18866da7dfd8",
            "num-nodes": 2, "num-endpoints": 4, "num-identities": 3,
            "config": {"cluster-id": 2, "required": true, "retrieved": true, "sync-canaries": true},
            "synced": {"nodes": true, "services": true, "identities": true, "endpoints": true},
            "last-failure": "0001-01-01T00:00:00.000Z"})
    }

    #[test]
    fn a_ready_peer_is_ready() {
        let out = json!({"cluster-mesh": {"clusters": [ready_east()], "num-global-services": 0}});
        let list = parse_agent_status(out.to_string().as_bytes()).unwrap();
        assert_eq!(list[0].last_failure, None);
        let v = judge_vantage("cilium-a", None, Ok(list), &expected());
        assert!(v.all_ready(), "{v:?}");
    }

    #[test]
    fn absent_unconnected_unsynced_and_wrong_id_are_problems() {
        let v = judge_vantage("cilium-a", None, Ok(vec![]), &expected());
        assert!(
            v.peers[0]
                .problem
                .as_ref()
                .unwrap()
                .contains("does not know east")
        );

        let mut down = ready_east();
        down["connected"] = json!(false);
        down["ready"] = json!(false);
        down["num-failures"] = json!(3);
        down["last-failure"] = json!("2025-08-20T13:05:00.000Z");
        let list = parse_agent_status(
            json!({"cluster-mesh": {"clusters": [down]}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let p = &judge_vantage("cilium-a", None, Ok(list), &expected()).peers[0];
        let problem = p.problem.as_ref().unwrap();
        assert!(problem.starts_with("not connected to east"), "{problem}");
        assert!(
            problem.contains("3 failure(s), last at 2025-08-20T13:05:00.000Z"),
            "{problem}"
        );

        let mut partial = ready_east();
        partial["ready"] = json!(false);
        partial["synced"] = json!({"nodes": true, "identities": true});
        let list = parse_agent_status(
            json!({"cluster-mesh": {"clusters": [partial]}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let p = &judge_vantage("cilium-a", None, Ok(list), &expected()).peers[0];
        assert_eq!(p.not_synced, ["services", "endpoints"]);

        let mut wrong = ready_east();
        wrong["config"]["cluster-id"] = json!(7);
        let list = parse_agent_status(
            json!({"cluster-mesh": {"clusters": [wrong]}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let p = &judge_vantage("cilium-a", None, Ok(list), &expected()).peers[0];
        assert!(
            p.problem.as_ref().unwrap().contains("cluster id 7"),
            "{p:?}"
        );
    }

    #[test]
    fn the_agents_view_needs_every_agent() {
        let ok = judge_vantage(
            "cilium-a",
            None,
            parse_agent_status(
                json!({"cluster-mesh": {"clusters": [ready_east()]}})
                    .to_string()
                    .as_bytes(),
            )
            .map_err(|e| e.to_string()),
            &expected(),
        );
        let bad = judge_vantage("cilium-b", None, Ok(vec![]), &expected());
        let view = AgentsView {
            asked: 2,
            all_peers_ready: 1,
            unreadable: None,
            agents: vec![ok.clone(), bad],
            kvstoremesh: None,
        };
        assert!(!view.healthy());
        assert_eq!(view.figure(), "1/2 agents");
        let problems = view.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "agents-peers");
        assert!(
            problems[0]
                .1
                .starts_with("1/2 agents: pod cilium-b does not know east"),
            "{problems:?}"
        );
        let good = AgentsView {
            asked: 1,
            all_peers_ready: 1,
            unreadable: None,
            agents: vec![ok],
            kvstoremesh: None,
        };
        assert!(good.healthy());
        assert!(
            !AgentsView::default().healthy(),
            "no agent asked is not healthy"
        );
    }

    #[test]
    fn last_failures_are_read_in_both_ways() {
        let mut failed = ready_east();
        failed["last-failure"] = json!("2025-08-20T13:05:00.000Z");
        let mut never = ready_east();
        never["last-failure"] = Value::Null;
        let mut odd = ready_east();
        odd["last-failure"] = json!(5);
        for (rc, last) in [
            (ready_east(), Ok(None)),
            (failed, Ok(Some("2025-08-20T13:05:00.000Z"))),
            (never, Ok(None)),
            (odd, Err("invalid type: integer `5`, expected a string")),
        ] {
            // The agent's report (read straight), KVStoreMesh's (read straight), and a report
            // with a field of another shape (read through a JSON tree, checked).
            let agent = json!({"cluster-mesh": {"clusters": [rc.clone()]}}).to_string();
            let kvstoremesh = json!([rc]).to_string();
            for read in [
                parse_agent_status(agent.as_bytes()),
                parse_kvstoremesh_status(kvstoremesh.as_bytes()),
            ] {
                match (&read, last) {
                    (Ok(list), Ok(last)) => assert_eq!(list[0].last_failure.as_deref(), last),
                    (Err(e), Err(message)) => assert!(e.to_string().contains(message), "{e}"),
                    _ => panic!("{read:?}"),
                }
            }
        }
    }

    #[test]
    fn bad_output_is_refused() {
        assert!(matches!(
            parse_agent_status(b"level=fatal"),
            Err(ParseError::NotJson(_))
        ));
        assert!(parse_agent_status(b"{\"cluster-mesh\": {\"clusters\": 3}}").is_err());
        assert!(parse_kvstoremesh_status(b"{}").is_err());
        assert_eq!(parse_kvstoremesh_status(b"[]").unwrap(), vec![]);
    }
}
