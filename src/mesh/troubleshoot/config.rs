//! Identity and configuration: who the clusters are, A's etcd config for B, endpoint drift, NodePorts.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::plan::expected_endpoint;
use super::{
    Check, Judge, Resolve, Source, Status, check, endpoint_url, join, not_checked, peer_config,
};
use crate::mesh::state::{Finding, Live};

impl Judge<'_> {
    pub(super) fn identity(&self) -> Check {
        let mut wrong = Vec::new();
        let mut details = serde_json::Map::new();
        let mut hint = String::new();
        for (c, live) in [
            (self.pair.from, &self.pair.from_live),
            (self.pair.to, &self.pair.to_live),
        ] {
            match live {
                Err(e) => {
                    wrong.push(format!("cannot read cluster {}: {e}", c.name));
                    hint = self.unreadable_hint(c);
                    details.insert(c.name.clone(), json!({"readable": false}));
                }
                Ok(l) if l.config.is_none() => {
                    wrong.push(format!(
                        "{}: no ConfigMap {}/cilium-config (Cilium not installed in context {}?)",
                        c.name,
                        self.ns(),
                        c.context
                    ));
                    details.insert(c.name.clone(), json!({"readable": true, "cilium": false}));
                }
                Ok(l) => {
                    let (name, id) = (l.cluster_name(), l.cluster_id());
                    details.insert(
                        c.name.clone(),
                        json!({"clusterName": name, "clusterId": id, "meshFile": {"name": c.name, "id": c.id}}),
                    );
                    let id_text = c.id.to_string();
                    if name != Some(c.name.as_str()) || id != Some(id_text.as_str()) {
                        wrong.push(format!(
                            "{}'s cilium-config says cluster-name {:?}, cluster-id {:?} (mesh file: {}, {})",
                            c.name,
                            name.unwrap_or("<unset>"),
                            id.unwrap_or("<unset>"),
                            c.name,
                            c.id
                        ));
                        if hint.is_empty() {
                            hint = self.upgrade_hint(c);
                        }
                    }
                }
            }
        }
        if wrong.is_empty() {
            check(
                "identity",
                Status::Ok,
                format!(
                    "{} is cluster {} (id {}), {} is cluster {} (id {}), as in the mesh file",
                    self.a(),
                    self.a(),
                    self.pair.from.id,
                    self.b(),
                    self.b(),
                    self.pair.to.id
                ),
                String::new(),
                Value::Object(details),
            )
        } else {
            check(
                "identity",
                Status::Fail,
                wrong.join("; "),
                hint,
                Value::Object(details),
            )
        }
    }

    pub(super) fn max_connected(&self) -> Check {
        let (a, b) = match self.both("max-connected-clusters") {
            Ok(x) => x,
            Err(c) => return *c,
        };
        let (ma, mb) = (a.max_connected_clusters(), b.max_connected_clusters());
        let show = |m: Option<u32>| m.map_or("invalid".to_string(), |m| m.to_string());
        let details = json!({self.a(): ma, self.b(): mb, "meshFile": self.pair.mesh.max_connected_clusters()});
        if ma == mb && ma.is_some() {
            check(
                "max-connected-clusters",
                Status::Ok,
                format!("{} in both clusters", show(ma)),
                String::new(),
                details,
            )
        } else {
            check(
                "max-connected-clusters",
                Status::Fail,
                format!(
                    "{} runs with max-connected-clusters {}, {} with {}: they cannot connect",
                    self.a(),
                    show(ma),
                    self.b(),
                    show(mb)
                ),
                format!(
                    "set the same maxConnectedClusters (the mesh file's: {}) in every cluster, then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster) (Cilium: changing it on a running cluster disrupts connectivity)",
                    self.pair.mesh.max_connected_clusters()
                ),
                details,
            )
        }
    }

    pub(super) fn peer_config(&self) -> Check {
        let Ok(a) = &self.pair.from_live else {
            return *self.both("peer-config").unwrap_err();
        };
        let config = peer_config(a, self.b());
        let expected = expected_endpoint(self.pair);
        let expected_url = expected
            .as_ref()
            .ok()
            .map(|(ep, _)| endpoint_url(self.b(), ep));
        let secret = if a.kvstoremesh() {
            "cilium-kvstoremesh"
        } else {
            "cilium-clustermesh"
        };
        let details = json!({
            "secret": secret,
            "configured": config.as_ref().map(|c| c.endpoints.clone()),
            "expected": expected_url,
            "expectedFrom": expected.as_ref().ok().map(|(_, from)| *from),
        });
        let connect = if self.pair.to.clustermesh.is_some() || expected.is_err() {
            "run `kubectl mesh connect`".to_string()
        } else {
            "run `kubectl mesh connect` (it records the endpoint in the mesh file)".to_string()
        };
        let Some(config) = config else {
            return check(
                "peer-config",
                Status::Fail,
                format!(
                    "{} has no config for {} in Secret {secret}",
                    self.a(),
                    self.b()
                ),
                connect,
                details,
            );
        };
        if config.endpoints.is_empty() {
            return check(
                "peer-config",
                Status::Fail,
                format!(
                    "{}'s config for {} in Secret {secret} has no endpoints",
                    self.a(),
                    self.b()
                ),
                connect,
                details,
            );
        }
        match (&expected_url, &expected) {
            (Some(url), Ok((_, from))) if config.endpoints != [url.clone()] => check(
                "peer-config",
                Status::Fail,
                format!(
                    "{} dials {} at {}, but {}'s endpoint in {from} is {url}",
                    self.a(),
                    self.b(),
                    config.endpoints.join(", "),
                    self.b()
                ),
                connect,
                details,
            ),
            (Some(url), Ok((_, from))) => check(
                "peer-config",
                Status::Ok,
                format!(
                    "{} dials {url} (Secret {secret}), {}'s endpoint in {from}",
                    self.a(),
                    self.b()
                ),
                String::new(),
                details,
            ),
            // `expected_url` is derived from `expected`: no URL means no expected endpoint.
            (None, Ok(_)) | (_, Err(_)) => {
                let why = expected
                    .as_ref()
                    .err()
                    .map_or("no endpoint", String::as_str);
                check(
                    "peer-config",
                    Status::Warn,
                    format!(
                        "{} dials {}; cannot tell whether that is right: {why}",
                        self.a(),
                        config.endpoints.join(", ")
                    ),
                    format!("record {}'s endpoint: `kubectl mesh connect`", self.b()),
                    details,
                )
            }
        }
    }

    pub(super) fn endpoint_drift(&self) -> Check {
        const ID: &str = "endpoint-drift";
        let (_, b) = match self.both(ID) {
            Ok(x) => x,
            Err(c) => return *c,
        };
        let used: Vec<IpAddr> = self
            .plan
            .targets
            .iter()
            .flat_map(|t| match &t.resolve {
                Resolve::Literal(ip) => vec![*ip],
                Resolve::Aliases { ips, .. } => ips.clone(),
                _ => Vec::new(),
            })
            .collect();
        let current = match b.discover_endpoint(true) {
            Ok(ep) => ep,
            Err(e) => {
                return check(
                    ID,
                    Status::Warn,
                    format!("cannot tell {}'s current addresses: {e}", self.b()),
                    format!(
                        "check {}'s clustermesh-apiserver Service: `kubectl --context {} -n {} get svc clustermesh-apiserver`",
                        self.b(),
                        self.pair.to.context,
                        self.ns()
                    ),
                    json!({"used": used}),
                );
            }
        };
        let current_ips: Vec<IpAddr> = current.ips.iter().filter_map(|i| i.parse().ok()).collect();
        let details =
            json!({"used": used, "current": current_ips, "currentAddress": current.address});
        let hint = if self.pair.to.clustermesh.is_some() {
            format!(
                "run `kubectl mesh connect --rediscover` to record {}'s current addresses and apply them",
                self.b()
            )
        } else {
            "run `kubectl mesh connect`".to_string()
        };
        if used.is_empty() {
            return match &self.plan.source {
                Source::Nothing(why) => not_checked(ID, why.clone(), "peer-config"),
                _ if self.plan.targets.iter().all(|t| t.resolve == Resolve::Dns) => check(
                    ID,
                    Status::Ok,
                    format!(
                        "{} dials {} by name: nothing pinned",
                        self.a(),
                        self.plan
                            .targets
                            .iter()
                            .map(|t| t.host.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    String::new(),
                    details,
                ),
                _ => check(
                    ID,
                    Status::Fail,
                    format!("{} pins no address for {}", self.a(), self.b()),
                    hint,
                    details,
                ),
            };
        }
        if current_ips.is_empty() {
            return check(
                ID,
                Status::Ok,
                format!(
                    "{} is reached by name ({}); {} pins {}",
                    self.b(),
                    current.address.as_deref().unwrap_or("?"),
                    self.a(),
                    join(&used)
                ),
                String::new(),
                details,
            );
        }
        let stale: Vec<IpAddr> = used
            .iter()
            .filter(|ip| !current_ips.contains(ip))
            .copied()
            .collect();
        let fresh: Vec<IpAddr> = current_ips
            .iter()
            .filter(|ip| !used.contains(ip))
            .copied()
            .collect();
        let mut message = format!(
            "{} uses {} for {}; {}'s addresses now: {}",
            self.a(),
            join(&used),
            self.b(),
            self.b(),
            join(&current_ips)
        );
        if !fresh.is_empty() {
            message.push_str(&format!(" ({} not used by {})", join(&fresh), self.a()));
        }
        if stale.is_empty() {
            check(ID, Status::Ok, message, String::new(), details)
        } else if stale.len() == used.len() {
            message.push_str(&format!(
                ": none of the addresses {} uses is {}'s any more",
                self.a(),
                self.b()
            ));
            check(ID, Status::Fail, message, hint, details)
        } else {
            message.push_str(&format!(": {} no longer {}'s", join(&stale), self.b()));
            check(ID, Status::Warn, message, hint, details)
        }
    }

    pub(super) fn nodeport_collision(&self, collisions: &[Finding]) -> Check {
        const ID: &str = "nodeport-collision";
        let (a, b) = match self.both(ID) {
            Ok(x) => x,
            Err(c) => return *c,
        };
        let mine = |name: &str| collisions.iter().find(|f| f.cluster == name);
        let details = json!({
            self.a(): {"nodePort": a.apiserver_node_port(), "kubeProxyReplacement": a.kube_proxy_replacement(),
                "cilium": a.cilium_version().map(|(x, y)| format!("{x}.{y}"))},
            self.b(): {"nodePort": b.apiserver_node_port(), "kubeProxyReplacement": b.kube_proxy_replacement(),
                "cilium": b.cilium_version().map(|(x, y)| format!("{x}.{y}"))},
        });
        if let (Some(fa), Some(fb)) = (mine(self.a()), mine(self.b()))
            && fa.message == fb.message
        {
            return check(
                ID,
                Status::Fail,
                fa.message.clone(),
                fa.hint.clone(),
                details,
            );
        }
        let port = |l: &Live| {
            l.apiserver_node_port()
                .map_or("no NodePort".to_string(), |p| format!("NodePort {p}"))
        };
        let message = match (a.apiserver_node_port(), b.apiserver_node_port()) {
            (Some(x), Some(y)) if x == y => format!(
                "both on NodePort {x}, but not affected (kube-proxy replacement off, or Cilium 1.19+ on both)"
            ),
            _ => format!("{}: {}, {}: {}", self.a(), port(a), self.b(), port(b)),
        };
        check(ID, Status::Ok, message, String::new(), details)
    }
}
