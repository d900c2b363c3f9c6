//! What one agent actually load-balances a Service to: `cilium-dbg service list -o json` read,
//! its backends counted per cluster, and compared with the prediction of
//! [`super::services::uses_of`]. Pure.
//!
//! The JSON is Cilium's `[]*models.Service` (api/v1/openapi.yaml `Service` → `ServiceSpec`:
//! `frontend-address`, `backend-addresses[]` of `BackendAddress` {`ip`, `port`, `protocol`,
//! `nodeName`, `zone`, `state`, `preferred`, `weight`}, `flags` {`type`, `name`, `namespace`,
//! `cluster`}), printed by `command.PrintOutput` (cilium-dbg/cmd/service_list.go).
//!
//! Which backends an agent uses, per version:
//! - 1.16–1.17 (pkg/service, `LegacyBackend.GetBackendModel`): every backend is listed, those
//!   the affinity favours with `preferred: true`; when any is preferred only the preferred ones
//!   are used (`filterPreferredBackends`), else all.
//! - 1.18+ (new load-balancer, pkg/loadbalancer/frontend.go `Frontend.ToModel`): only the
//!   backends selected for the frontend are listed (pkg/clustermesh/selectbackends.go applies
//!   the affinity), and every one says `preferred: true` (cilium/cilium#43681: the flag no
//!   longer tells anything).
//!
//! Both read the same way: the preferred backends if any are, else all. A backend's cluster is
//! its `ip@<cluster-id>` suffix (`AddrCluster.String()`) when present, else the mesh cluster
//! whose podCIDR holds the address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;
use serde_json::Value;

use super::Cluster;
use super::services::Use;

/// Backend states that carry traffic (`BackendStateActive`; terminating ones only drain).
const SERVING: [&str; 1] = ["active"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceListError {
    #[error("the output of `cilium-dbg service list -o json` is not JSON: {0}")]
    NotJson(String),
    #[error("the output of `cilium-dbg service list -o json` is not a list of services")]
    NotAList,
}

/// Reads the output into its services.
pub fn parse(text: &str) -> Result<Vec<Value>, ServiceListError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| ServiceListError::NotJson(e.to_string()))?;
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(Vec::new()),
        _ => Err(ServiceListError::NotAList),
    }
}

/// One Service as one agent load-balances it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentUse {
    /// Whether the agent has a ClusterIP frontend for the Service at all.
    pub found: bool,
    /// Clusters whose backends it uses, in mesh order, with how many distinct addresses.
    pub uses: Vec<Use>,
    /// Used backend addresses no mesh cluster claims.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unattributed: Vec<String>,
}

/// `10.1.2.3@2` → (10.1.2.3, Some(2)); `[fd00::1]` forms are not printed (`AddrCluster`
/// prints the bare address).
fn addr_cluster(text: &str) -> Option<(IpAddr, Option<u32>)> {
    match text.split_once('@') {
        Some((ip, id)) => Some((ip.parse().ok()?, Some(id.parse().ok()?))),
        None => Some((text.parse().ok()?, None)),
    }
}

/// The backends of `namespace/name` this agent uses, per cluster of the mesh.
pub fn agent_use(list: &[Value], namespace: &str, name: &str, clusters: &[Cluster]) -> AgentUse {
    let nets: Vec<Option<IpNet>> = clusters.iter().map(|c| c.pod_cidr.parse().ok()).collect();
    let mut out = AgentUse::default();
    let mut chosen: BTreeMap<usize, std::collections::BTreeSet<IpAddr>> = BTreeMap::new();
    let mut unattributed = std::collections::BTreeSet::new();
    for svc in list {
        let spec = match &svc["status"]["realized"] {
            Value::Null => &svc["spec"],
            r => r,
        };
        let flags = &spec["flags"];
        if flags["namespace"] != namespace || flags["name"] != name {
            continue;
        }
        if flags["type"] != "ClusterIP" {
            continue;
        }
        out.found = true;
        let backends: Vec<&Value> = spec["backend-addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| {
                b["state"]
                    .as_str()
                    .is_none_or(|s| s.is_empty() || SERVING.contains(&s))
            })
            .collect();
        let any_preferred = backends.iter().any(|b| b["preferred"] == true);
        for b in backends {
            if any_preferred && b["preferred"] != true {
                continue;
            }
            let Some((ip, id)) = b["ip"].as_str().and_then(addr_cluster) else {
                continue;
            };
            let owner = match id {
                Some(id) => clusters.iter().position(|c| c.id == id),
                None => nets
                    .iter()
                    .position(|n| n.as_ref().is_some_and(|n| n.contains(&ip))),
            };
            match owner {
                Some(i) => {
                    chosen.entry(i).or_default().insert(ip);
                }
                None => {
                    unattributed.insert(ip);
                }
            }
        }
    }
    out.uses = chosen
        .into_iter()
        .map(|(i, ips)| Use {
            cluster: clusters[i].name.clone(),
            backends: ips.len() as u32,
        })
        .collect();
    out.unattributed = unattributed.iter().map(ToString::to_string).collect();
    out
}

/// `east:2 west:1`, or `none`.
pub fn uses_text(uses: &[Use]) -> String {
    if uses.is_empty() {
        return "none".to_string();
    }
    uses.iter()
        .map(|u| format!("{}:{}", u.cluster, u.backends))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the agent disagrees with the prediction, as one sentence; `None` when it agrees.
pub fn disagreement(pod: &str, predicted: &[Use], agent: &AgentUse) -> Option<String> {
    if !agent.found {
        return Some(format!(
            "agent {pod} has no ClusterIP frontend for it (predicted {})",
            uses_text(predicted)
        ));
    }
    if agent.uses == predicted && agent.unattributed.is_empty() {
        return None;
    }
    let mut msg = format!(
        "agent {pod} uses {}, predicted {}",
        uses_text(&agent.uses),
        uses_text(predicted)
    );
    if !agent.unattributed.is_empty() {
        msg.push_str(&format!(
            "; backend(s) {} are in no cluster's podCIDR",
            agent.unattributed.join(", ")
        ));
    }
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::Mesh;
    use serde_json::json;

    fn clusters() -> Vec<Cluster> {
        Mesh::parse(
            "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: tunnel\nclusters:\n\
             - {name: west, id: 1, context: kind-west, podCIDR: 10.1.0.0/16}\n\
             - {name: east, id: 2, context: kind-east, podCIDR: 10.2.0.0/16}\n",
        )
        .unwrap()
        .clusters
    }

    /// One frontend as `Frontend.ToModel` / `GetModel` produce it (`spec` and
    /// `status.realized` are the same object in 1.18+).
    fn frontend(kind: &str, backends: Value) -> Value {
        let spec = json!({
            "id": 7,
            "frontend-address": {"ip": "10.96.0.20", "port": 80, "protocol": "TCP", "scope": "external"},
            "backend-addresses": backends,
            "flags": {"type": kind, "trafficPolicy": "Cluster", "name": "rebel-base", "namespace": "default"},
        });
        json!({"spec": spec, "status": {"realized": spec}})
    }

    fn be(ip: &str, preferred: bool, state: &str) -> Value {
        let mut b = json!({"ip": ip, "port": 80, "protocol": "TCP", "state": state, "weight": 100});
        if preferred {
            b["preferred"] = json!(true);
        }
        b
    }

    fn uses(pairs: &[(&str, u32)]) -> Vec<Use> {
        pairs
            .iter()
            .map(|(c, n)| Use {
                cluster: c.to_string(),
                backends: *n,
            })
            .collect()
    }

    #[test]
    fn legacy_lists_everything_and_marks_the_preferred() {
        // 1.17, affinity local: both clusters listed, west's backends preferred.
        let list = vec![frontend(
            "ClusterIP",
            json!([
                be("10.1.0.5", true, "active"),
                be("10.2.0.7", false, "active"),
                be("10.2.0.8", false, "active")
            ]),
        )];
        let a = agent_use(&list, "default", "rebel-base", &clusters());
        assert_eq!(a.uses, uses(&[("west", 1)]));
        // No affinity: nothing preferred, all used.
        let list = vec![frontend(
            "ClusterIP",
            json!([
                be("10.1.0.5", false, "active"),
                be("10.2.0.7", false, "active")
            ]),
        )];
        let a = agent_use(&list, "default", "rebel-base", &clusters());
        assert_eq!(a.uses, uses(&[("west", 1), ("east", 1)]));
    }

    #[test]
    fn new_load_balancer_marks_every_listed_backend_preferred() {
        // 1.18+: all preferred (cilium/cilium#43681); the listed set is the selection.
        let list = vec![
            frontend(
                "ClusterIP",
                json!([
                    be("10.1.0.5", true, "active"),
                    be("10.2.0.7@2", true, "active"),
                    be("10.2.0.9", true, "quarantined")
                ]),
            ),
            frontend("NodePort", json!([be("10.1.0.99", true, "active")])),
        ];
        let a = agent_use(&list, "default", "rebel-base", &clusters());
        assert_eq!(a.uses, uses(&[("west", 1), ("east", 1)]));
        assert_eq!(
            disagreement("cilium-x", &uses(&[("west", 1)]), &a).unwrap(),
            "agent cilium-x uses west:1 east:1, predicted west:1"
        );
        assert_eq!(disagreement("cilium-x", &a.uses, &a), None);
    }

    #[test]
    fn unknown_addresses_and_missing_frontends_disagree() {
        let list = vec![frontend(
            "ClusterIP",
            json!([be("192.168.9.9", false, "active")]),
        )];
        let a = agent_use(&list, "default", "rebel-base", &clusters());
        assert_eq!(a.unattributed, ["192.168.9.9"]);
        assert!(
            disagreement("p", &[], &a)
                .unwrap()
                .contains("in no cluster's podCIDR")
        );
        let a = agent_use(&list, "default", "other", &clusters());
        assert!(!a.found);
        assert!(
            disagreement("p", &[], &a)
                .unwrap()
                .contains("no ClusterIP frontend")
        );
        assert_eq!(parse("null").unwrap(), Vec::<Value>::new());
        assert!(matches!(parse("{}"), Err(ServiceListError::NotAList)));
        assert!(matches!(
            parse("Error: cannot"),
            Err(ServiceListError::NotJson(_))
        ));
    }
}
