//! What a live cluster says about its part in the mesh, read from its objects, and the checks
//! `init`, `connect` and `status` make on it. Pure: the objects are fetched at the edge.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::Value;

use super::{Cluster, Endpoint, Mesh, RoutingMode};

/// The port the clustermesh-apiserver serves etcd on.
pub const ETCD_PORT: i64 = 2379;
/// The first Cilium release whose datapath keeps a remote NodePort apart from a local one with
/// the same port (cilium/cilium#41337); older ones fall into cilium/cilium#24692.
pub const NODEPORT_FIXED_IN: (u32, u32) = (1, 19);
/// The domain of the names agents dial for peers (`clustermesh.config.domain`).
pub const MESH_DOMAIN: &str = "mesh.cilium.io";

/// The objects of one cluster that matter to the mesh; `None` where the object does not exist.
#[derive(Debug, Default, Clone)]
pub struct Live {
    pub config: Option<Value>,
    pub agents: Option<Value>,
    pub apiserver: Option<Value>,
    pub service: Option<Value>,
    pub ca: Option<Value>,
    pub remote_cert: Option<Value>,
    pub clustermesh: Option<Value>,
    pub kvstoremesh: Option<Value>,
    pub remote_users: Option<Value>,
    pub kubeadm: Option<Value>,
    pub nodes: Vec<Value>,
    /// The CA bundle the chart mounts (`tls.caBundle`, see [`Live::ca_bundle_ref`]).
    pub ca_bundle: Option<Value>,
}

/// A problem found on a live cluster (or between clusters), with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub cluster: String,
    /// A stable id for scripts: `identity`, `ca`, `nodeport-collision`, …
    pub check: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.cluster, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n    → {}", self.hint)?;
        }
        Ok(())
    }
}

impl Live {
    /// A key of `cilium-config`.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config.as_ref()?["data"][key].as_str()
    }

    pub fn cluster_name(&self) -> Option<&str> {
        self.config("cluster-name")
    }

    pub fn cluster_id(&self) -> Option<&str> {
        self.config("cluster-id")
    }

    /// `max-connected-clusters`, 255 when the key is absent (Cilium's default).
    pub fn max_connected_clusters(&self) -> Option<u32> {
        match self.config("max-connected-clusters") {
            None => Some(super::DEFAULT_MAX_CONNECTED_CLUSTERS),
            Some(v) => v.trim().parse().ok(),
        }
    }

    /// `routing-mode`, or for old configs `tunnel: disabled` meaning native.
    pub fn routing_mode(&self) -> Option<RoutingMode> {
        match self.config("routing-mode") {
            Some("native") => Some(RoutingMode::Native),
            Some("tunnel") => Some(RoutingMode::Tunnel),
            Some(_) => None,
            None => match self.config("tunnel") {
                Some("disabled") => Some(RoutingMode::Native),
                Some(_) => Some(RoutingMode::Tunnel),
                None => None,
            },
        }
    }

    /// Whether kube-proxy replacement is on (`true`, or `strict` in old releases).
    pub fn kube_proxy_replacement(&self) -> bool {
        matches!(
            self.config("kube-proxy-replacement"),
            Some("true" | "strict")
        )
    }

    /// Cilium's minor version, from the agent image tag (`…/cilium:v1.17.6@sha256:…`).
    pub fn cilium_version(&self) -> Option<(u32, u32)> {
        self.agents.as_ref()?["spec"]["template"]["spec"]["containers"]
            .as_array()?
            .iter()
            .filter_map(|c| c["image"].as_str())
            .find_map(image_version)
    }

    /// Cilium's release with its patch number, from the agent image tag (`v1.19.6` → 1, 19, 6).
    pub fn cilium_release(&self) -> Option<crate::mesh::services::Release> {
        self.agents.as_ref()?["spec"]["template"]["spec"]["containers"]
            .as_array()?
            .iter()
            .filter_map(|c| c["image"].as_str())
            .find_map(image_release)
    }

    /// Ready and desired agent pods.
    pub fn agents_ready(&self) -> Option<(i64, i64)> {
        let s = &self.agents.as_ref()?["status"];
        Some((
            s["numberReady"].as_i64().unwrap_or(0),
            s["desiredNumberScheduled"].as_i64().unwrap_or(0),
        ))
    }

    /// Ready and desired clustermesh-apiserver replicas.
    pub fn apiserver_ready(&self) -> Option<(i64, i64)> {
        let d = self.apiserver.as_ref()?;
        Some((
            d["status"]["readyReplicas"].as_i64().unwrap_or(0),
            d["spec"]["replicas"].as_i64().unwrap_or(1),
        ))
    }

    /// Whether the clustermesh-apiserver runs KVStoreMesh (the agents then talk to it).
    pub fn kvstoremesh(&self) -> bool {
        self.apiserver.as_ref().is_some_and(|d| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["name"] == "kvstoremesh")
        })
    }

    /// The CA certificate of `cilium-ca` (PEM).
    pub fn ca_cert(&self) -> Option<String> {
        secret_text(self.ca.as_ref()?, "ca.crt")
    }

    /// The NodePort serving etcd, when the clustermesh-apiserver Service is of type NodePort.
    pub fn apiserver_node_port(&self) -> Option<u16> {
        let svc = self.service.as_ref()?;
        if svc["spec"]["type"] != "NodePort" {
            return None;
        }
        etcd_port(svc)?["nodePort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
    }

    /// InternalIPs of the Ready nodes, in node order: where a NodePort answers.
    pub fn ready_node_ips(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| node_ready(n))
            .flat_map(|n| {
                n["status"]["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["type"] == "InternalIP")
                    .filter_map(|a| a["address"].as_str().map(str::to_string))
            })
            .collect()
    }

    /// How the other clusters can reach this cluster's clustermesh-apiserver, from its Service:
    /// NodePort → every Ready node's InternalIP; LoadBalancer → its ingress IPs or hostname;
    /// ClusterIP → only when `allow_cluster_ip` (reachable only if pod networks are routed).
    pub fn discover_endpoint(&self, allow_cluster_ip: bool) -> Result<Endpoint, String> {
        let svc = self.service.as_ref().ok_or(
            "the clustermesh-apiserver Service does not exist: enable it with the chart value clustermesh.useAPIServer=true",
        )?;
        let port = etcd_port(svc).ok_or("the clustermesh-apiserver Service has no port 2379")?;
        match svc["spec"]["type"].as_str().unwrap_or("ClusterIP") {
            "NodePort" => {
                let node_port = port["nodePort"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or("the clustermesh-apiserver NodePort Service has no nodePort yet")?;
                let ips = self.ready_node_ips();
                if ips.is_empty() {
                    return Err("no Ready node has an InternalIP to reach the NodePort on".into());
                }
                Ok(Endpoint {
                    address: None,
                    ips,
                    port: node_port,
                })
            }
            "LoadBalancer" => {
                let ingress = svc["status"]["loadBalancer"]["ingress"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let port = service_port(port);
                let ips: Vec<String> = ingress
                    .iter()
                    .filter_map(|i| i["ip"].as_str().map(str::to_string))
                    .collect();
                if !ips.is_empty() {
                    return Ok(Endpoint {
                        address: None,
                        ips,
                        port,
                    });
                }
                match ingress.iter().find_map(|i| i["hostname"].as_str()) {
                    Some(host) => Ok(Endpoint {
                        address: Some(host.to_string()),
                        ips: Vec::new(),
                        port,
                    }),
                    None => Err("the clustermesh-apiserver LoadBalancer has no ingress address yet: wait for the load balancer, or write `clustermesh:` for this cluster in the mesh file".into()),
                }
            }
            kind if allow_cluster_ip => {
                let ip = svc["spec"]["clusterIP"]
                    .as_str()
                    .filter(|ip| *ip != "None")
                    .ok_or_else(|| {
                        format!("the clustermesh-apiserver Service ({kind}) has no cluster IP")
                    })?;
                Ok(Endpoint {
                    address: None,
                    ips: vec![ip.to_string()],
                    port: service_port(port),
                })
            }
            kind => Err(format!(
                "the clustermesh-apiserver Service is of type {kind}, which other clusters cannot reach: set clustermesh.apiserver.service.type=NodePort or LoadBalancer, write `clustermesh:` for this cluster in the mesh file, or pass --allow-cluster-ip if pod and service networks are routed between the clusters"
            )),
        }
    }

    /// The names of the peers configured in `cilium-clustermesh` (its keys but the TLS files;
    /// each peer's etcd configuration is checked by the peer transform, `connect`'s own).
    pub fn configured_peer_names(&self) -> Vec<String> {
        self.configured_peers()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// [`Live::configured_peer_names`] borrowed: sorted, each once.
    pub fn configured_peers(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .clustermesh
            .as_ref()
            .and_then(|s| s["data"].as_object())
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .filter(|k| !k.ends_with(".crt") && !k.ends_with(".key"))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Host aliases for `<peer>.mesh.cilium.io` on the workload that dials the peers
    /// (the agents, or the clustermesh-apiserver with KVStoreMesh): peer → IPs.
    pub fn peer_host_aliases(&self) -> BTreeMap<&str, Vec<&str>> {
        let workload = if self.kvstoremesh() {
            &self.apiserver
        } else {
            &self.agents
        };
        let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let aliases = workload
            .as_ref()
            .and_then(|w| w["spec"]["template"]["spec"]["hostAliases"].as_array());
        for a in aliases.into_iter().flatten() {
            let Some(ip) = a["ip"].as_str() else { continue };
            for h in a["hostnames"].as_array().into_iter().flatten() {
                if let Some(peer) = h
                    .as_str()
                    .and_then(|h| h.strip_suffix(MESH_DOMAIN))
                    .and_then(|h| h.strip_suffix('.'))
                {
                    out.entry(peer).or_default().push(ip);
                }
            }
        }
        out
    }

    /// The objects the peer transform reads and may change, for [`crate::render::peer_changes`].
    pub fn peer_objects(&self) -> Vec<Value> {
        self.peer_object_refs().into_iter().cloned().collect()
    }

    /// [`Live::peer_objects`] borrowed, for [`crate::render::peers_unchanged`].
    pub fn peer_object_refs(&self) -> Vec<&Value> {
        [
            &self.config,
            &self.agents,
            &self.apiserver,
            &self.clustermesh,
            &self.kvstoremesh,
            &self.remote_users,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Differences between a cluster's live identity and the mesh file, with the fix.
pub fn identity_findings(mesh: &Mesh, c: &Cluster, live: &Live, mesh_path: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let upgrade = format!(
        "run `kubectl mesh upgrade {} --mesh {mesh_path} --chart cilium/cilium --reuse-values` (helm upgrade cilium with the post-renderer, in namespace {} with --kube-context {})",
        c.name,
        mesh.namespace(),
        c.context
    );
    let Some(_) = live.config else {
        out.push(Finding {
            cluster: c.name.clone(),
            check: "cilium",
            message: format!(
                "no ConfigMap {}/cilium-config: Cilium is not installed in context {} (or in another namespace: set `namespace:` in the mesh file)",
                mesh.namespace(),
                c.context
            ),
            hint: String::new(),
        });
        return out;
    };
    let id = c.id.to_string();
    let mut wrong = Vec::new();
    if live.cluster_name() != Some(c.name.as_str()) {
        wrong.push(format!(
            "cluster-name is {:?} (mesh file: {:?})",
            live.cluster_name().unwrap_or("<unset>"),
            c.name
        ));
    }
    if live.cluster_id() != Some(id.as_str()) {
        wrong.push(format!(
            "cluster-id is {:?} (mesh file: {id})",
            live.cluster_id().unwrap_or("<unset>")
        ));
    }
    if live.max_connected_clusters() != Some(mesh.max_connected_clusters()) {
        wrong.push(format!(
            "max-connected-clusters is {:?} (mesh file: {})",
            live.config("max-connected-clusters").unwrap_or("255"),
            mesh.max_connected_clusters()
        ));
    }
    if let Some(mode) = live.routing_mode()
        && mode != mesh.routing_mode
    {
        wrong.push(format!(
            "routing mode is {mode:?} (mesh file: {:?})",
            mesh.routing_mode
        ));
    }
    if !wrong.is_empty() {
        out.push(Finding {
            cluster: c.name.clone(),
            check: "identity",
            message: format!("cilium-config: {}", wrong.join("; ")),
            hint: upgrade,
        });
    }
    out
}

/// Clusters whose CAs would make agents reject peers: with one CA, a `cilium-ca` other than
/// the mesh's (the mesh file's, else the first cluster's); with several (`trust: bundle`), a
/// `cilium-ca` other than the mesh file's for that cluster or a CA bundle that lacks a mesh CA
/// or trusts another ([`super::trust::bundle_findings`]).
pub fn ca_findings(
    expected: &super::trust::ExpectedCas,
    clusters: &[(&Cluster, &Live)],
) -> Vec<Finding> {
    let mesh_ca = match expected {
        super::trust::ExpectedCas::Shared(pem) => pem.as_deref(),
        super::trust::ExpectedCas::Bundle(cas) => {
            return super::trust::bundle_findings(cas, clusters);
        }
    };
    let reference = mesh_ca
        .map(str::to_string)
        .or_else(|| clusters.iter().find_map(|(_, l)| l.ca_cert()));
    let Some(reference) = reference else {
        return Vec::new();
    };
    let hint = "run `kubectl mesh ca sync` (then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` re-issues the certificates)";
    clusters
        .iter()
        .filter_map(|(c, l)| {
            let message = match l.ca_cert() {
                None => "Secret cilium-ca is missing".to_string(),
                Some(pem) if same_pem(&pem, &reference) => return None,
                Some(_) if mesh_ca.is_some() => {
                    "Secret cilium-ca is not the mesh file's CA".to_string()
                }
                Some(_) => format!(
                    "Secret cilium-ca differs from cluster {}'s",
                    clusters
                        .iter()
                        .find(|(_, l)| l.ca_cert().is_some())
                        .map_or("?", |(c, _)| c.name.as_str())
                ),
            };
            Some(Finding {
                cluster: c.name.clone(),
                check: "ca",
                message,
                hint: hint.to_string(),
            })
        })
        .collect()
}

/// The NodePort trap (cilium/cilium#24692): two or more clusters expose their
/// clustermesh-apiserver on the same NodePort with kube-proxy replacement on, and one of them
/// runs Cilium older than 1.19 (an unknown version counts as affected). Agents then reach their
/// own apiserver instead of the peer's.
pub fn nodeport_collisions(clusters: &[(&Cluster, &Live)]) -> Vec<Finding> {
    let mut by_port: BTreeMap<u16, Vec<(&Cluster, &Live)>> = BTreeMap::new();
    for (c, l) in clusters {
        if let Some(port) = l.apiserver_node_port()
            && l.kube_proxy_replacement()
        {
            by_port.entry(port).or_default().push((c, l));
        }
    }
    let mut out = Vec::new();
    for (port, group) in by_port {
        let affected = group
            .iter()
            .any(|(_, l)| l.cilium_version().is_none_or(|v| v < NODEPORT_FIXED_IN));
        if group.len() < 2 || !affected {
            continue;
        }
        let names: Vec<&str> = group.iter().map(|(c, _)| c.name.as_str()).collect();
        let versions: Vec<String> = group
            .iter()
            .map(|(c, l)| match l.cilium_version() {
                Some((a, b)) => format!("{} runs Cilium {a}.{b}", c.name),
                None => format!("{} runs an unknown Cilium version", c.name),
            })
            .collect();
        for (c, _) in &group {
            out.push(Finding {
                cluster: c.name.clone(),
                check: "nodeport-collision",
                message: format!(
                    "clusters {} all expose the clustermesh-apiserver on NodePort {port} with kube-proxy replacement on ({}): agents will reach their own apiserver instead of the peer's (cilium/cilium#24692, fixed in Cilium 1.19)",
                    names.join(", "),
                    versions.join(", ")
                ),
                hint: format!(
                    "set a distinct `apiserverNodePort` per cluster in the mesh file (e.g. {}), then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster)",
                    suggest_ports(&names, port)
                ),
            });
        }
    }
    out
}

/// `a: 32379, b: 32380, …` — distinct ports from `base` on, for messages and `init`.
fn suggest_ports(names: &[&str], base: u16) -> String {
    names
        .iter()
        .zip(distinct_node_ports(base, names.len()))
        .map(|(n, p)| format!("{n}: {p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` consecutive NodePorts from `base`, wrapping inside 30000–32767.
pub fn distinct_node_ports(base: u16, count: usize) -> Vec<u16> {
    (0..count)
        .map(|i| {
            let offset = (u32::from(base.clamp(30000, 32767)) - 30000 + i as u32) % 2768;
            (30000 + offset) as u16
        })
        .collect()
}

fn etcd_port(svc: &Value) -> Option<&Value> {
    let ports = svc["spec"]["ports"].as_array()?;
    ports
        .iter()
        .find(|p| p["targetPort"] == ETCD_PORT || p["port"] == ETCD_PORT)
        .or_else(|| ports.first())
}

fn service_port(port: &Value) -> u16 {
    port["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(ETCD_PORT as u16)
}

fn node_ready(node: &Value) -> bool {
    node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// A Secret's value as text.
pub fn secret_text(secret: &Value, key: &str) -> Option<String> {
    let b = B64.decode(secret["data"][key].as_str()?).ok()?;
    String::from_utf8(b).ok()
}

/// PEM blocks compared without whitespace differences.
fn same_pem(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<String>();
    norm(a) == norm(b)
}

/// `v1.17.6` from an image reference, with its patch number when it has one.
fn image_release(image: &str) -> Option<crate::mesh::services::Release> {
    let (major, minor) = image_version(image)?;
    let image = image.split('@').next()?;
    let tag = image.rsplit_once(':')?.1;
    let patch = tag.split(['.', '-']).nth(2).and_then(|p| p.parse().ok());
    Some((major, minor, patch))
}

/// `v1.17.6` from an image reference.
fn image_version(image: &str) -> Option<(u32, u32)> {
    let image = image.split('@').next()?;
    let (_, tag) = image.rsplit_once(':')?;
    if tag.contains('/') {
        return None;
    }
    let mut parts = tag.trim_start_matches('v').split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(port: u16, kpr: &str, image: &str) -> Live {
        Live {
            config: Some(
                json!({"data": {"cluster-name": "west", "cluster-id": "1", "kube-proxy-replacement": kpr}}),
            ),
            agents: Some(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "cilium-agent", "image": image}]}}}}),
            ),
            service: Some(
                json!({"spec": {"type": "NodePort", "ports": [{"port": 2379, "targetPort": 2379, "nodePort": port}]}}),
            ),
            nodes: vec![
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "w"}]}}),
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}], "addresses": [{"type": "InternalIP", "address": "172.18.0.9"}]}}),
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "172.18.0.3"}]}}),
            ],
            ..Live::default()
        }
    }

    fn cluster(name: &str) -> Cluster {
        Cluster {
            name: name.into(),
            id: 1,
            context: format!("kind-{name}"),
            pod_cidr: "10.0.0.0/16".into(),
            service_cidr: None,
            native_routing_cidr: None,
            apiserver_node_port: None,
            clustermesh: None,
            ca: None,
        }
    }

    #[test]
    fn nodeport_endpoint_is_every_ready_node() {
        let ep = live(32379, "true", "quay.io/cilium/cilium:v1.17.6@sha256:abc")
            .discover_endpoint(false)
            .unwrap();
        assert_eq!(ep.ips, ["172.18.0.2", "172.18.0.3"]);
        assert_eq!(ep.port, 32379);
    }

    #[test]
    fn cluster_ip_is_refused_unless_allowed() {
        let mut l = live(0, "true", "x");
        l.service = Some(
            json!({"spec": {"type": "ClusterIP", "clusterIP": "10.2.0.5", "ports": [{"port": 2379}]}}),
        );
        assert!(
            l.discover_endpoint(false)
                .unwrap_err()
                .contains("--allow-cluster-ip")
        );
        assert_eq!(l.discover_endpoint(true).unwrap().ips, ["10.2.0.5"]);
    }

    #[test]
    fn load_balancer_hostname_becomes_an_address() {
        let mut l = live(0, "true", "x");
        l.service = Some(
            json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 2379, "nodePort": 31000}]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "east.elb.example.org"}]}}}),
        );
        let ep = l.discover_endpoint(false).unwrap();
        assert_eq!(
            (ep.address.as_deref(), ep.port),
            (Some("east.elb.example.org"), 2379)
        );
    }

    #[test]
    fn nodeport_collision_needs_same_port_kpr_and_an_affected_version() {
        let (w, e) = (cluster("west"), cluster("east"));
        let old = "quay.io/cilium/cilium:v1.17.6@sha256:abc";
        let new = "quay.io/cilium/cilium:v1.19.1";
        let check = |a: &Live, b: &Live| nodeport_collisions(&[(&w, a), (&e, b)]);
        let found = check(&live(32379, "true", old), &live(32379, "true", old));
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("west, east") && found[0].message.contains("32379"));
        assert!(
            found[0].hint.contains("west: 32379, east: 32380"),
            "{}",
            found[0].hint
        );
        assert!(check(&live(32379, "true", old), &live(32380, "true", old)).is_empty());
        assert!(check(&live(32379, "false", old), &live(32379, "true", old)).is_empty());
        assert!(check(&live(32379, "true", new), &live(32379, "true", new)).is_empty());
        assert_eq!(
            check(
                &live(32379, "true", new),
                &live(32379, "true", "cilium:dev")
            )
            .len(),
            2
        );
    }

    #[test]
    fn node_ports_wrap_inside_the_range() {
        assert_eq!(distinct_node_ports(32766, 3), [32766, 32767, 30000]);
    }

    #[test]
    fn image_versions() {
        assert_eq!(
            image_version("quay.io/cilium/cilium:v1.17.6@sha256:1"),
            Some((1, 17))
        );
        assert_eq!(image_version("localhost:5000/cilium"), None);
        assert_eq!(
            image_release("quay.io/cilium/cilium:v1.19.6@sha256:1"),
            Some((1, 19, Some(6)))
        );
        assert_eq!(image_release("cilium:1.20"), Some((1, 20, None)));
        assert_eq!(image_version("cilium:1.20.0-pre.1"), Some((1, 20)));
    }
}
