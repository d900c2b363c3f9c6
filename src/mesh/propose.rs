//! `init`'s core: a mesh file proposed from what live clusters say, with a note for every
//! value it had to choose. Pure: the clusters are read at the edge.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::state::{Live, distinct_node_ports, nodeport_collisions};
use super::{API_VERSION, Cluster, DEFAULT_MAX_CONNECTED_CLUSTERS, KIND, Mesh, RoutingMode};

/// A proposed mesh and what `init` decided on the user's behalf.
#[derive(Debug)]
pub struct Proposal {
    pub mesh: Mesh,
    pub notes: Vec<String>,
}

/// Proposes a mesh from `(context, live objects)` pairs, in the given order.
pub fn propose(clusters: &[(&str, &Live)], namespace: Option<&str>) -> Proposal {
    let mut notes = Vec::new();
    let mut out: Vec<Cluster> = Vec::new();
    for (context, live) in clusters {
        let live_name = live
            .cluster_name()
            .filter(|n| *n != "default" && !n.is_empty());
        let name = match live_name {
            Some(n) => n.to_string(),
            None => {
                let n = name_from_context(context);
                notes.push(format!(
                    "{n}: named after context {context:?} (cilium-config has cluster-name {:?}); `kubectl mesh upgrade --chart cilium/cilium --reuse-values` applies it",
                    live.cluster_name().unwrap_or("<unset>")
                ));
                n
            }
        };
        let (pod_cidr, source) = pod_cidr(live);
        if let Some(source) = &source {
            notes.push(format!("{name}: pod CIDR {pod_cidr} from {source}"));
        }
        let service_cidr = kubeadm(live, "serviceSubnet");
        out.push(Cluster {
            id: live
                .cluster_id()
                .and_then(|id| id.trim().parse().ok())
                .unwrap_or(0),
            name,
            context: context.to_string(),
            pod_cidr,
            service_cidr,
            native_routing_cidr: None,
            apiserver_node_port: None,
            clustermesh: None,
            ca: None,
        });
    }

    // Free ids for clusters still at 0, lowest first.
    let max_ids: Vec<u32> = clusters
        .iter()
        .filter_map(|(_, l)| l.max_connected_clusters())
        .collect();
    let max = max_ids
        .first()
        .copied()
        .unwrap_or(DEFAULT_MAX_CONNECTED_CLUSTERS);
    if max_ids.iter().any(|m| *m != max) {
        notes.push(format!(
            "max-connected-clusters differs between the clusters ({}); the mesh file says {max}, and the others must be reinstalled to match (it cannot change on a running cluster)",
            max_ids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    for i in 0..out.len() {
        if out[i].id == 0 {
            let used: Vec<u32> = out.iter().map(|c| c.id).collect();
            let id = (1..=max).find(|id| !used.contains(id)).unwrap_or(0);
            notes.push(format!(
                "{}: proposed cluster id {id} (the cluster still has id 0)",
                out[i].name
            ));
            out[i].id = id;
        }
    }

    let modes: Vec<RoutingMode> = clusters
        .iter()
        .filter_map(|(_, l)| l.routing_mode())
        .collect();
    let routing_mode = modes.first().copied().unwrap_or(RoutingMode::Tunnel);
    if modes.iter().any(|m| *m != routing_mode) {
        notes.push(format!(
            "the clusters use different routing modes; the mesh file says {routing_mode:?} and the others change at their next `kubectl mesh upgrade`"
        ));
    }

    // The NodePort trap: give colliding clusters distinct ports.
    let pairs: Vec<(&Cluster, &Live)> = out.iter().zip(clusters.iter().map(|(_, l)| *l)).collect();
    let collisions = nodeport_collisions(&pairs);
    let mut ports: Vec<(String, u16)> = Vec::new();
    if let Some(first) = collisions.first() {
        let colliding: Vec<&str> = out
            .iter()
            .filter(|c| collisions.iter().any(|f| f.cluster == c.name))
            .map(|c| c.name.as_str())
            .collect();
        let base = pairs
            .iter()
            .find_map(|(c, l)| {
                (c.name == first.cluster)
                    .then(|| l.apiserver_node_port())
                    .flatten()
            })
            .unwrap_or(super::CHART_DEFAULT_APISERVER_NODE_PORT);
        let taken: Vec<u16> = pairs
            .iter()
            .filter_map(|(_, l)| l.apiserver_node_port())
            .collect();
        let mut free = distinct_node_ports(base, 2768)
            .into_iter()
            .filter(|p| *p == base || !taken.contains(p));
        for name in &colliding {
            if let Some(p) = free.next() {
                ports.push((name.to_string(), p));
            }
        }
        notes.push(format!(
            "{}; wrote distinct apiserverNodePort values ({}): `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster) to apply them",
            first.message,
            ports.iter().map(|(n, p)| format!("{n}: {p}")).collect::<Vec<_>>().join(", ")
        ));
    }
    for (name, port) in ports {
        if let Some(c) = out.iter_mut().find(|c| c.name == name) {
            c.apiserver_node_port = Some(port);
        }
    }

    Proposal {
        mesh: Mesh {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            routing_mode,
            max_connected_clusters: (max != DEFAULT_MAX_CONNECTED_CLUSTERS).then_some(max),
            namespace: namespace
                .filter(|n| *n != super::DEFAULT_NAMESPACE)
                .map(str::to_string),
            ca: None,
            trust: None,
            clusters: out,
        },
        notes,
    }
}

/// A cluster name from a kubeconfig context: `kind-west` → `west`, EKS ARNs and GKE names by
/// their last part, `user@cluster` → `cluster`; then made a valid name.
pub fn name_from_context(context: &str) -> String {
    let mut s = context;
    for sep in ['/', '@'] {
        if let Some((_, tail)) = s.rsplit_once(sep) {
            s = tail;
        }
    }
    if s.starts_with("gke_") {
        s = s.rsplit('_').next().unwrap_or(s);
    }
    let s = s.strip_prefix("kind-").unwrap_or(s);
    let name: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    let name: String = name.chars().take(32).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "cluster".into()
    } else {
        name.to_string()
    }
}

/// The cluster's pod CIDR and where it came from: Cilium's cluster pool when Cilium allocates,
/// else kubeadm's podSubnet, else the smallest CIDR holding every node's `spec.podCIDRs`.
fn pod_cidr(live: &Live) -> (String, Option<String>) {
    let ipam = live.config("ipam").unwrap_or("cluster-pool");
    if ipam == "cluster-pool"
        && let Some(cidr) = live
            .config("cluster-pool-ipv4-cidr")
            .and_then(|c| c.split([' ', ',']).find(|s| !s.is_empty()))
    {
        return (
            cidr.to_string(),
            Some("Cilium's cluster-pool-ipv4-cidr".into()),
        );
    }
    if let Some(subnet) = kubeadm(live, "podSubnet") {
        return (subnet, Some("kubeadm-config podSubnet".into()));
    }
    let nets: Vec<IpNet> = live
        .nodes
        .iter()
        .flat_map(|n| {
            n["spec"]["podCIDRs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| c.as_str()?.parse().ok())
        .collect();
    match supernet(&nets) {
        Some(net) => (
            net.to_string(),
            Some("the smallest CIDR holding the nodes' podCIDRs".into()),
        ),
        None => (
            String::new(),
            Some(
                "nowhere: no IPAM setting, kubeadm-config or node podCIDRs found; fill in podCIDR"
                    .into(),
            ),
        ),
    }
}

/// A value from kubeadm's ClusterConfiguration `networking` (first of a dual-stack list).
fn kubeadm(live: &Live, key: &str) -> Option<String> {
    let text = live.kubeadm.as_ref()?["data"]["ClusterConfiguration"].as_str()?;
    let config = crate::yaml::parse(text).ok()?;
    let value = config["networking"][key].as_str()?;
    value
        .split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// The smallest network holding all of `nets` (all of one family).
fn supernet(nets: &[IpNet]) -> Option<IpNet> {
    let first = *nets.first()?;
    let mut len = first.prefix_len();
    loop {
        let candidate = match first {
            IpNet::V4(n) => IpNet::V4(Ipv4Net::new(n.addr(), len).ok()?.trunc()),
            IpNet::V6(n) => IpNet::V6(Ipv6Net::new(n.addr(), len).ok()?.trunc()),
        };
        if nets.iter().all(|n| candidate.contains(n)) {
            return Some(candidate);
        }
        len = len.checked_sub(1)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(name: &str, id: &str, ipam: &str, node_cidrs: &[&str], node_port: u16) -> Live {
        Live {
            config: Some(
                json!({"data": {"cluster-name": name, "cluster-id": id, "ipam": ipam,
                "routing-mode": "native", "kube-proxy-replacement": "true"}}),
            ),
            agents: Some(
                json!({"spec": {"template": {"spec": {"containers": [{"image": "quay.io/cilium/cilium:v1.17.6"}]}}}}),
            ),
            service: Some(
                json!({"spec": {"type": "NodePort", "ports": [{"port": 2379, "nodePort": node_port}]}}),
            ),
            nodes: node_cidrs
                .iter()
                .map(|c| json!({"spec": {"podCIDRs": [c]}}))
                .collect(),
            ..Live::default()
        }
    }

    #[test]
    fn names_from_contexts() {
        assert_eq!(name_from_context("kind-west"), "west");
        assert_eq!(
            name_from_context("arn:aws:eks:eu-west-1:123:cluster/Prod_EU"),
            "prod-eu"
        );
        assert_eq!(name_from_context("gke_proj_europe-west1_east"), "east");
        assert_eq!(name_from_context("admin@lab"), "lab");
    }

    #[test]
    fn proposes_names_ids_cidrs_and_distinct_node_ports() {
        let west = live(
            "default",
            "0",
            "kubernetes",
            &["10.0.0.0/24", "10.0.1.0/24"],
            32379,
        );
        let mut east = live("east", "2", "kubernetes", &["10.1.0.0/24"], 32379);
        east.kubeadm = Some(json!({"data": {"ClusterConfiguration":
            "networking:\n  podSubnet: 10.1.0.0/16\n  serviceSubnet: 10.3.0.0/16\n"}}));
        let p = propose(&[("kind-west", &west), ("kind-east", &east)], None);
        let [w, e] = &p.mesh.clusters[..] else {
            panic!("two clusters")
        };
        assert_eq!(
            (w.name.as_str(), w.id, w.pod_cidr.as_str()),
            ("west", 1, "10.0.0.0/23")
        );
        assert_eq!(
            (e.name.as_str(), e.id, e.pod_cidr.as_str()),
            ("east", 2, "10.1.0.0/16")
        );
        assert_eq!(e.service_cidr.as_deref(), Some("10.3.0.0/16"));
        assert_eq!(
            (w.apiserver_node_port, e.apiserver_node_port),
            (Some(32379), Some(32380))
        );
        assert!(
            p.notes.iter().any(|n| n.contains("#24692")),
            "{:?}",
            p.notes
        );
        assert!(p.notes.iter().any(|n| n.contains("proposed cluster id 1")));
        assert_eq!(p.mesh.routing_mode, RoutingMode::Native);
    }

    #[test]
    fn cluster_pool_cidr_wins_when_cilium_allocates() {
        let mut l = live("a", "1", "cluster-pool", &["10.244.0.0/24"], 32379);
        l.config.as_mut().unwrap()["data"]["cluster-pool-ipv4-cidr"] = json!("10.10.0.0/16");
        assert_eq!(pod_cidr(&l).0, "10.10.0.0/16");
    }
}
