//! Every rule a mesh file must satisfy, checked at once so the user sees all problems together.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{API_VERSION, CHART_DEFAULT_APISERVER_NODE_PORT, Cluster, KIND, Mesh};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, tied to the cluster and field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// The cluster the finding is about; `None` for mesh-wide fields.
    pub cluster: Option<String>,
    /// The field, as written in the mesh file (e.g. `podCIDR`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.cluster {
            Some(c) => write!(
                f,
                "{level}: cluster {c:?}, {}: {}",
                self.field, self.message
            ),
            None => write!(f, "{level}: {}: {}", self.field, self.message),
        }
    }
}

const MAX_NAME_LEN: usize = 32;
const NODE_PORT_RANGE: std::ops::RangeInclusive<u16> = 30000..=32767;

struct Findings(Vec<Problem>);

impl Findings {
    fn push(&mut self, severity: Severity, cluster: Option<&str>, field: &str, message: String) {
        self.0.push(Problem {
            severity,
            cluster: cluster.map(str::to_string),
            field: field.to_string(),
            message,
        });
    }
    fn error(&mut self, cluster: Option<&str>, field: &str, message: String) {
        self.push(Severity::Error, cluster, field, message);
    }
    fn warn(&mut self, cluster: Option<&str>, field: &str, message: String) {
        self.push(Severity::Warning, cluster, field, message);
    }
}

/// Checks every rule of the mesh file; errors first, then warnings, each in file order.
pub fn validate(mesh: &Mesh) -> Vec<Problem> {
    let mut f = Findings(Vec::new());
    if mesh.api_version != API_VERSION {
        f.error(
            None,
            "apiVersion",
            format!("is {:?}, must be {API_VERSION:?}", mesh.api_version),
        );
    }
    if mesh.kind != KIND {
        f.error(
            None,
            "kind",
            format!("is {:?}, must be {KIND:?}", mesh.kind),
        );
    }
    let max = mesh.max_connected_clusters();
    if max != 255 && max != 511 {
        f.error(
            None,
            "maxConnectedClusters",
            format!("is {max}, must be 255 or 511"),
        );
    }
    if let Some(ns) = &mesh.namespace
        && !is_dns_label(ns)
    {
        f.error(
            None,
            "namespace",
            format!("{ns:?} is not a valid namespace name"),
        );
    }
    if mesh.clusters.is_empty() {
        f.error(None, "clusters", "the mesh has no cluster".into());
    }
    for c in &mesh.clusters {
        check_cluster(c, max, &mut f);
        // render refuses it: it injects IPv4 native routing only.
        if mesh.routing_mode == super::RoutingMode::Native && c.native_routing_cidr().contains(':')
        {
            let field = if c.native_routing_cidr.is_some() {
                "nativeRoutingCIDR"
            } else {
                "podCIDR"
            };
            f.error(
                Some(&c.name),
                field,
                format!(
                    "{} is IPv6, but render injects IPv4 native routing only (ipv4-native-routing-cidr): use an IPv4 podCIDR, or routingMode: tunnel",
                    c.native_routing_cidr()
                ),
            );
        }
    }
    check_unique(mesh, &mut f);
    check_overlaps(mesh, &mut f);
    check_node_ports(mesh, &mut f);
    check_trust(mesh, &mut f);
    f.0.sort_by_key(|p| p.severity);
    f.0
}

fn check_cluster(c: &Cluster, max: u32, f: &mut Findings) {
    let name = Some(c.name.as_str());
    if c.name.len() > MAX_NAME_LEN {
        f.error(
            name,
            "name",
            format!(
                "is {} characters long, at most {MAX_NAME_LEN} are allowed",
                c.name.len()
            ),
        );
    }
    if !is_cluster_name(&c.name) {
        f.error(
            name,
            "name",
            "must be lower-case letters, digits and '-', starting and ending with a letter or digit".into(),
        );
    }
    if c.name == "default" {
        f.error(
            name,
            "name",
            "\"default\" is Cilium's placeholder for a cluster outside any mesh; pick another name"
                .into(),
        );
    }
    if c.id == 0 || c.id > max {
        f.error(
            name,
            "id",
            format!("is {}, must be 1..{max} (maxConnectedClusters)", c.id),
        );
    }
    if c.context.trim().is_empty() {
        f.error(
            name,
            "context",
            "is empty; name the kubeconfig context of this cluster".into(),
        );
    }
    let pod = parse_cidr(&c.pod_cidr, name, "podCIDR", f);
    if let Some(s) = &c.service_cidr {
        let svc = parse_cidr(s, name, "serviceCIDR", f);
        if let (Some(p), Some(s)) = (pod, svc)
            && overlaps(&p, &s)
        {
            f.error(
                name,
                "serviceCIDR",
                format!("{s} overlaps the cluster's own podCIDR {p}"),
            );
        }
    }
    if let Some(r) = &c.native_routing_cidr
        && let (Some(routing), Some(p)) = (parse_cidr(r, name, "nativeRoutingCIDR", f), pod)
        && !routing.contains(&p)
    {
        f.error(name, "nativeRoutingCIDR", format!("{routing} does not contain the podCIDR {p}: pod traffic would be masqueraded or misrouted"));
    }
    if let Some(port) = c.apiserver_node_port
        && !NODE_PORT_RANGE.contains(&port)
    {
        f.error(
            name,
            "apiserverNodePort",
            format!("is {port}, must be in the NodePort range 30000-32767"),
        );
    }
    if let Some(ep) = &c.clustermesh {
        if ep.port == 0 {
            f.error(name, "clustermesh.port", "must be 1-65535".into());
        }
        if ep.address.is_none() && ep.ips.is_empty() {
            f.error(
                name,
                "clustermesh",
                "needs `ips` or `address` besides `port`".into(),
            );
        }
        for ip in &ep.ips {
            if ip.parse::<IpAddr>().is_err() {
                f.error(
                    name,
                    "clustermesh.ips",
                    format!("{ip:?} is not an IP address"),
                );
            }
        }
        if let Some(a) = &ep.address
            && !is_dns_name(a)
        {
            f.error(
                name,
                "clustermesh.address",
                format!("{a:?} is not a DNS name"),
            );
        }
    }
}

/// A mesh of several CAs (`trust: bundle`, or a cluster with its own `ca:`) must know every
/// cluster's CA certificate: render puts them all into each cluster's CA bundle, and it cannot
/// read them from the clusters.
fn check_trust(mesh: &Mesh, f: &mut Findings) {
    if mesh.trust == Some(super::Trust::Shared) {
        for c in mesh.clusters.iter().filter(|c| c.ca.is_some()) {
            f.error(
                Some(&c.name),
                "ca",
                "a CA of the cluster's own needs `trust: bundle` (several CAs, trusted through the chart's CA bundle); with `trust: shared` the mesh has one CA (the top-level `ca:`): remove one of them".into(),
            );
        }
        return;
    }
    if !mesh.is_bundle() || mesh.ca.is_some() {
        return;
    }
    let ns = mesh.namespace();
    for c in mesh.clusters.iter().filter(|c| c.ca.is_none()) {
        f.error(
            Some(&c.name),
            "ca",
            format!(
                "missing: a mesh of several CAs (trust: bundle) puts every cluster's CA into each cluster's CA bundle, so each needs `ca: {{cert: FILE}}` (its Secret cilium-ca's ca.crt: `kubectl --context {} -n {ns} get secret cilium-ca -o jsonpath='{{.data.ca\\.crt}}' | base64 -d > {}-ca.crt`), or a top-level `ca:` for the clusters that share it",
                c.context, c.name
            ),
        );
    }
}

fn parse_cidr(text: &str, cluster: Option<&str>, field: &str, f: &mut Findings) -> Option<IpNet> {
    match text.parse::<IpNet>() {
        Ok(net) if net.trunc() != net => {
            f.error(
                cluster,
                field,
                format!("{text} has host bits set; did you mean {}?", net.trunc()),
            );
            None
        }
        Ok(net) => Some(net),
        Err(_) => {
            f.error(
                cluster,
                field,
                format!("{text:?} is not a CIDR (e.g. 10.0.0.0/16 or fd00:10::/64)"),
            );
            None
        }
    }
}

fn check_unique(mesh: &Mesh, f: &mut Findings) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut ids: HashMap<u32, &str> = HashMap::new();
    let mut contexts: HashMap<&str, &str> = HashMap::new();
    for c in &mesh.clusters {
        *names.entry(&c.name).or_default() += 1;
        if let Some(first) = ids.insert(c.id, &c.name)
            && first != c.name
        {
            f.error(
                Some(&c.name),
                "id",
                format!(
                    "{} is also the id of cluster {first:?}; ids must be unique",
                    c.id
                ),
            );
        }
        if let Some(first) = contexts.insert(&c.context, &c.name)
            && first != c.name
        {
            f.error(
                Some(&c.name),
                "context",
                format!("{:?} is also the context of cluster {first:?}", c.context),
            );
        }
    }
    let mut dup: Vec<_> = names
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect();
    dup.sort();
    for name in dup {
        f.error(
            Some(name),
            "name",
            "appears more than once; cluster names must be unique".into(),
        );
    }
}

/// Pod CIDRs must be disjoint from every other cluster's pod and service CIDRs; overlapping
/// service CIDRs are legal (services are not routed between clusters) but confusing.
fn check_overlaps(mesh: &Mesh, f: &mut Findings) {
    for (i, a) in mesh.clusters.iter().enumerate() {
        for b in &mesh.clusters[i + 1..] {
            if let (Some(pa), Some(pb)) = (a.pod_net(), b.pod_net())
                && overlaps(&pa, &pb)
            {
                f.error(
                    Some(&b.name),
                    "podCIDR",
                    format!("{pb} overlaps the podCIDR {pa} of cluster {:?}", a.name),
                );
            }
            for (x, y) in [(a, b), (b, a)] {
                if let (Some(p), Some(s)) = (x.pod_net(), y.service_net())
                    && overlaps(&p, &s)
                {
                    f.error(
                        Some(&x.name),
                        "podCIDR",
                        format!("{p} overlaps the serviceCIDR {s} of cluster {:?}", y.name),
                    );
                }
            }
            if let (Some(sa), Some(sb)) = (a.service_net(), b.service_net())
                && overlaps(&sa, &sb)
            {
                f.warn(Some(&b.name), "serviceCIDR", format!("{sb} overlaps the serviceCIDR {sa} of cluster {:?}; global services still work, but the same ClusterIP can mean different services in the two clusters", a.name));
            }
        }
    }
}

/// Cilium < 1.19 with kube-proxy replacement answers `<remote node>:<port>` with the LOCAL
/// service when both clusters expose the same NodePort (cilium/cilium#24692).
fn check_node_ports(mesh: &Mesh, f: &mut Findings) {
    let mut seen: HashMap<u16, &str> = HashMap::new();
    for c in &mesh.clusters {
        if let Some(port) = c.apiserver_node_port
            && let Some(first) = seen.insert(port, &c.name)
        {
            f.error(Some(&c.name), "apiserverNodePort", format!("{port} is also the apiserverNodePort of cluster {first:?}; with kube-proxy replacement on Cilium < 1.19 agents would reach their own clustermesh-apiserver instead of the peer's (cilium/cilium#24692)"));
        }
    }
    let all_default = mesh.clusters.len() > 1
        && mesh.clusters.iter().all(|c| {
            c.apiserver_node_port
                .is_none_or(|p| p == CHART_DEFAULT_APISERVER_NODE_PORT)
        });
    if all_default {
        let proposal: Vec<String> = mesh
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{}: {}",
                    c.name,
                    CHART_DEFAULT_APISERVER_NODE_PORT as usize + i
                )
            })
            .collect();
        f.warn(None, "apiserverNodePort", format!("every cluster keeps the chart's NodePort {CHART_DEFAULT_APISERVER_NODE_PORT} for its clustermesh-apiserver. On Cilium older than 1.19 with kube-proxy replacement, a node then reaches its OWN apiserver when it dials a peer's node on that port (cilium/cilium#24692). validate cannot know the Cilium version; if any cluster runs < 1.19, set distinct values, e.g. {}", proposal.join(", ")));
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    let (a, b) = (unmapped(a), unmapped(b));
    a.contains(&b.network()) || b.contains(&a.network())
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/112`) as the IPv4 network it is.
fn unmapped(net: &IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(|n| IpNet::V4(n).trunc())
                .unwrap_or(*net),
            None => *net,
        },
        _ => *net,
    }
}

/// `^([a-z0-9][-a-z0-9]*)?[a-z0-9]$`, as Cilium validates `cluster.name`.
fn is_cluster_name(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-')
}

fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && is_cluster_name(s)
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.')
            .all(|l| l.len() <= 63 && is_cluster_name(&l.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(clusters: &str) -> Mesh {
        Mesh::parse(&format!("apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n{clusters}")).unwrap()
    }

    fn errors(m: &Mesh) -> Vec<String> {
        validate(m)
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn a_mesh_of_several_cas_needs_every_clusters_ca() {
        let head = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\n";
        let two = "clusters:\n- {name: west, id: 1, context: a, podCIDR: 10.0.0.0/16, ca: {cert: w.crt, key: w.key}}\n- {name: east, id: 2, context: b, podCIDR: 10.1.0.0/16}\n";
        // A cluster ca: makes it a bundle mesh; east's CA is unknown.
        let m = Mesh::parse(&format!("{head}{two}")).unwrap();
        assert!(m.is_bundle());
        let e = errors(&m);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with("error: cluster \"east\", ca: missing: a mesh of several CAs")
                && e[0].contains("--context b"),
            "{e:#?}"
        );
        // A top-level ca: is the CA of the clusters without their own.
        let m = Mesh::parse(&format!("{head}ca: {{cert: c, key: k}}\n{two}")).unwrap();
        assert_eq!(errors(&m), Vec::<String>::new());
        // trust: bundle alone asks for each cluster's.
        let m = Mesh::parse(&format!("{head}trust: bundle\nclusters:\n- {{name: west, id: 1, context: a, podCIDR: 10.0.0.0/16}}\n")).unwrap();
        assert!(m.is_bundle());
        assert_eq!(errors(&m).len(), 1);
        // trust: shared contradicts a cluster's own CA.
        let m = Mesh::parse(&format!(
            "{head}trust: shared\nca: {{cert: c, key: k}}\n{two}"
        ))
        .unwrap();
        let e = errors(&m);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].contains("cluster \"west\", ca: a CA of the cluster's own needs `trust: bundle`"),
            "{e:#?}"
        );
        // The default is one CA.
        let m = Mesh::parse(&format!(
            "{head}clusters:\n- {{name: west, id: 1, context: a, podCIDR: 10.0.0.0/16}}\n"
        ))
        .unwrap();
        assert!(!m.is_bundle());
    }

    #[test]
    fn reports_every_problem_at_once_with_cluster_and_field() {
        let m = mesh(
            "- {name: West, id: 0, context: a, podCIDR: 10.0.0.0/16}
- {name: default, id: 300, context: a, podCIDR: 10.0.1.0/24, serviceCIDR: nonsense}
- {name: east, id: 2, context: c, podCIDR: 10.9.0.1/16, apiserverNodePort: 80}
",
        );
        let e = errors(&m);
        let expect = [
            "cluster \"West\", name: must be lower-case",
            "cluster \"West\", id: is 0, must be 1..255",
            "cluster \"default\", name: \"default\" is Cilium's placeholder",
            "cluster \"default\", id: is 300",
            "cluster \"default\", serviceCIDR: \"nonsense\" is not a CIDR",
            "cluster \"default\", context: \"a\" is also the context of cluster \"West\"",
            "cluster \"default\", podCIDR: 10.0.1.0/24 overlaps the podCIDR 10.0.0.0/16 of cluster \"West\"",
            "cluster \"east\", podCIDR: 10.9.0.1/16 has host bits set; did you mean 10.9.0.0/16?",
            "cluster \"east\", apiserverNodePort: is 80",
        ];
        for want in expect {
            assert!(
                e.iter().any(|x| x.contains(want)),
                "missing {want:?} in {e:#?}"
            );
        }
        assert_eq!(e.len(), expect.len(), "{e:#?}");
    }

    #[test]
    fn ids_up_to_511_need_max_connected_clusters_511() {
        let clusters = "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16}\n- {name: b, id: 511, context: b, podCIDR: 10.1.0.0/16}\n";
        assert_eq!(errors(&mesh(clusters)).len(), 1);
        let mut m = mesh(clusters);
        m.max_connected_clusters = Some(511);
        assert!(errors(&m).is_empty());
        m.max_connected_clusters = Some(300);
        assert!(errors(&m)[0].contains("must be 255 or 511"));
    }

    #[test]
    fn duplicate_ids_and_names() {
        let e = errors(&mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16}\n- {name: a, id: 1, context: b, podCIDR: 10.1.0.0/16}\n",
        ));
        assert!(
            e.iter().any(|x| x.contains("appears more than once")),
            "{e:?}"
        );
        let e = errors(&mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16}\n- {name: b, id: 1, context: b, podCIDR: 10.1.0.0/16}\n",
        ));
        assert!(
            e.iter()
                .any(|x| x.contains("cluster \"b\", id: 1 is also the id of cluster \"a\"")),
            "{e:?}"
        );
    }

    #[test]
    fn pod_cidr_must_not_overlap_a_peer_service_cidr_but_service_overlap_is_a_warning() {
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16, serviceCIDR: 10.96.0.0/12}\n- {name: b, id: 2, context: b, podCIDR: 10.96.0.0/16, serviceCIDR: 10.96.0.0/12}\n",
        );
        let all = validate(&m);
        assert!(all.iter().any(|p| p.severity == Severity::Error && p.to_string().contains("cluster \"b\", podCIDR: 10.96.0.0/16 overlaps the serviceCIDR 10.96.0.0/12 of cluster \"a\"")), "{all:#?}");
        assert!(
            all.iter()
                .any(|p| p.severity == Severity::Warning && p.field == "serviceCIDR"),
            "{all:#?}"
        );
    }

    #[test]
    fn ipv4_mapped_cidrs_overlap_their_ipv4_network() {
        let a: IpNet = "::ffff:10.0.0.0/120".parse().unwrap();
        let b: IpNet = "10.0.0.0/16".parse().unwrap();
        assert!(overlaps(&a, &b));
        let c: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(!overlaps(&a, &c));
    }

    #[test]
    fn ipv6_cidrs_validate() {
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 'fd00:10::/64'}\n- {name: b, id: 2, context: b, podCIDR: 'fd00:10::/48'}\n",
        );
        assert!(
            errors(&m)
                .iter()
                .any(|e| e.contains("overlaps the podCIDR fd00:10::/64"))
        );
        let mut m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 'fd00:10::/64'}\n- {name: b, id: 2, context: b, podCIDR: 'fd00:11::/64'}\n",
        );
        // render refuses IPv6 native routing, so validate does.
        let e = errors(&m);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("is IPv6, but render injects IPv4 native routing only"));
        m.routing_mode = crate::mesh::RoutingMode::Tunnel;
        assert!(errors(&m).is_empty());
    }

    #[test]
    fn routing_cidr_must_contain_the_pod_cidr() {
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16, nativeRoutingCIDR: 10.0.0.0/8}\n- {name: b, id: 2, context: b, podCIDR: 10.1.0.0/16, nativeRoutingCIDR: 10.2.0.0/16}\n",
        );
        let e = errors(&m);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("cluster \"b\", nativeRoutingCIDR: 10.2.0.0/16 does not contain"));
    }

    #[test]
    fn node_ports_collide_or_all_default() {
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16, apiserverNodePort: 32380}\n- {name: b, id: 2, context: b, podCIDR: 10.1.0.0/16, apiserverNodePort: 32380}\n",
        );
        assert!(errors(&m).iter().any(|e| e.contains(
            "cluster \"b\", apiserverNodePort: 32380 is also the apiserverNodePort of cluster \"a\""
        )));
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16}\n- {name: b, id: 2, context: b, podCIDR: 10.1.0.0/16}\n",
        );
        let w: Vec<_> = validate(&m)
            .into_iter()
            .filter(|p| p.severity == Severity::Warning)
            .collect();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].message.contains("24692") && w[0].message.contains("a: 32379, b: 32380"),
            "{}",
            w[0]
        );
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16, apiserverNodePort: 32379}\n- {name: b, id: 2, context: b, podCIDR: 10.1.0.0/16, apiserverNodePort: 32380}\n",
        );
        assert!(validate(&m).is_empty());
    }

    #[test]
    fn endpoints_need_a_target() {
        let m = mesh(
            "- {name: a, id: 1, context: a, podCIDR: 10.0.0.0/16, apiserverNodePort: 32379, clustermesh: {port: 32379}}\n- {name: b, id: 2, context: b, podCIDR: 10.1.0.0/16, apiserverNodePort: 32380, clustermesh: {port: 2379, ips: [1.2.3.x], address: 'bad_name'}}\n",
        );
        let e = errors(&m);
        assert_eq!(e.len(), 3, "{e:#?}");
    }
}
