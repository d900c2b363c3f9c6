//! The mesh file (`kubectl-mesh/v1alpha1`, kind `Mesh`): the single source of truth for every
//! cluster's identity, CIDRs and clustermesh endpoint. Pure: parsing and validation, no I/O.

pub mod agents;
pub mod connectivity;
pub mod edit;
pub mod names;
pub mod propose;
pub mod service_list;
pub mod services;
mod shape;
pub mod state;
pub mod troubleshoot;
pub mod trust;
mod validate;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use validate::{Problem, Severity, validate};

/// The API version every mesh file must declare.
pub const API_VERSION: &str = "kubectl-mesh/v1alpha1";
/// The kind every mesh file must declare.
pub const KIND: &str = "Mesh";
/// Cilium's default `clustermesh.maxConnectedClusters`.
pub const DEFAULT_MAX_CONNECTED_CLUSTERS: u32 = 255;
/// The namespace Cilium is installed in unless the mesh file says otherwise.
pub const DEFAULT_NAMESPACE: &str = "kube-system";
/// The chart's default NodePort for the clustermesh-apiserver (`clustermesh.apiserver.service.nodePort`).
pub const CHART_DEFAULT_APISERVER_NODE_PORT: u16 = 32379;

/// How Cilium routes pod traffic between nodes; decides whether routing CIDR and ip-masq-agent apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutingMode {
    Native,
    Tunnel,
}

/// The mesh file as written. CIDRs and addresses stay text here so that [`validate`] can report
/// every malformed one at once instead of stopping at the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mesh {
    pub api_version: String,
    pub kind: String,
    pub routing_mode: RoutingMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connected_clusters: Option<u32>,
    /// Namespace of the Cilium installation in every cluster (default `kube-system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaFiles>,
    /// How the clusters trust each other: one CA (`shared`, the default) or several CAs whose
    /// certificates every cluster trusts through the chart's CA bundle (`bundle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<Trust>,
    #[serde(default)]
    pub clusters: Vec<Cluster>,
}

/// `trust:` in the mesh file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// One CA for the whole mesh (`ca:`, or `kubectl mesh ca sync`).
    Shared,
    /// Each cluster keeps its own CA; the chart's CA bundle (`tls.caBundle`) carries them all.
    Bundle,
}

/// One cluster's own CA in a mesh of several CAs; paths are relative to the mesh file. The key
/// is optional: without it render issues nothing with this CA itself and requires the chart's
/// `cilium-ca` (the live Secret Helm looks up) to be this CA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterCaFiles {
    pub cert: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// One CA for the whole mesh; paths are relative to the mesh file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaFiles {
    pub cert: String,
    pub key: String,
}

/// One member cluster of the mesh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    pub id: u32,
    pub context: String,
    #[serde(rename = "podCIDR")]
    pub pod_cidr: String,
    #[serde(
        rename = "serviceCIDR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_cidr: Option<String>,
    #[serde(
        rename = "nativeRoutingCIDR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub native_routing_cidr: Option<String>,
    /// NodePort of this cluster's clustermesh-apiserver Service (port 2379).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_node_port: Option<u16>,
    /// Where the other clusters reach this cluster's clustermesh-apiserver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustermesh: Option<Endpoint>,
    /// This cluster's own CA (a mesh of several CAs, `trust: bundle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<ClusterCaFiles>,
}

/// A clustermesh-apiserver endpoint: a port and either IPs (pinned with host aliases) or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    pub port: u16,
}

/// Why a mesh file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("not a valid mesh file: {0}")]
    Syntax(String),
    #[error("{} problem(s) in the mesh file:\n{}", .0.len(), format_problems(.0))]
    Invalid(Vec<Problem>),
    #[error("no cluster named {name:?} in the mesh file (clusters: {known})")]
    UnknownCluster { name: String, known: String },
}

fn format_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Mesh {
    /// Parses a mesh file; unknown fields are errors so that typos are never silently ignored.
    /// A file that is valid YAML but not shaped like a mesh file gives every shape problem at
    /// once ([`MeshError::Invalid`]), not only the first the typed parse met.
    pub fn parse(text: &str) -> Result<Mesh, MeshError> {
        serde_saphyr::from_str(text).map_err(|e| {
            let problems = serde_saphyr::from_str::<serde_json::Value>(text)
                .map(|doc| shape::problems(&doc))
                .unwrap_or_default();
            if problems.is_empty() {
                MeshError::Syntax(names::parse_error(&e))
            } else {
                MeshError::Invalid(problems)
            }
        })
    }

    /// Parses and validates; returns the warnings of a valid mesh, or every error at once.
    pub fn load(text: &str) -> Result<(Mesh, Vec<Problem>), MeshError> {
        let mesh = Mesh::parse(text)?;
        let problems = validate(&mesh);
        if problems.iter().any(|p| p.severity == Severity::Error) {
            return Err(MeshError::Invalid(
                problems
                    .into_iter()
                    .filter(|p| p.severity == Severity::Error)
                    .collect(),
            ));
        }
        Ok((mesh, problems))
    }

    pub fn max_connected_clusters(&self) -> u32 {
        self.max_connected_clusters
            .unwrap_or(DEFAULT_MAX_CONNECTED_CLUSTERS)
    }

    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    pub fn cluster(&self, name: &str) -> Result<&Cluster, MeshError> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| MeshError::UnknownCluster {
                name: name.to_string(),
                known: self.cluster_names().join(", "),
            })
    }

    pub fn cluster_by_context(&self, context: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.context == context)
    }

    pub fn cluster_names(&self) -> Vec<&str> {
        self.clusters.iter().map(|c| c.name.as_str()).collect()
    }

    /// Whether the clusters keep several CAs and trust each other through the chart's CA bundle:
    /// `trust: bundle`, or a cluster with a `ca:` of its own.
    pub fn is_bundle(&self) -> bool {
        self.trust == Some(Trust::Bundle) || self.clusters.iter().any(|c| c.ca.is_some())
    }

    /// Every cluster but `name`, in file order: the peers of `name`.
    pub fn peers_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Cluster> + 'a {
        self.clusters.iter().filter(move |c| c.name != name)
    }
}

impl Cluster {
    /// The pod CIDR; only `None` for a mesh that failed validation.
    pub fn pod_net(&self) -> Option<IpNet> {
        self.pod_cidr.parse().ok()
    }

    pub fn service_net(&self) -> Option<IpNet> {
        self.service_cidr.as_deref().and_then(|s| s.parse().ok())
    }

    /// The routing CIDR Cilium must not masquerade inside: the override, else the pod CIDR.
    pub fn native_routing_cidr(&self) -> &str {
        self.native_routing_cidr
            .as_deref()
            .unwrap_or(&self.pod_cidr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "apiVersion: kubectl-mesh/v1alpha1
kind: Mesh
routingMode: native
clusters:
- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, serviceCIDR: 10.2.0.0/16}
- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16}
";

    #[test]
    fn parses_a_minimal_mesh_with_defaults() {
        let (mesh, warnings) = Mesh::load(TWO).unwrap();
        assert_eq!(mesh.max_connected_clusters(), 255);
        assert_eq!(mesh.namespace(), "kube-system");
        assert_eq!(
            mesh.cluster("east").unwrap().native_routing_cidr(),
            "10.1.0.0/16"
        );
        assert_eq!(
            mesh.peers_of("west")
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["east"]
        );
        assert!(warnings.iter().all(|w| w.severity == Severity::Warning));
    }

    #[test]
    fn unknown_fields_are_errors() {
        let typo = TWO.replace("routingMode", "routingMod");
        let err = Mesh::parse(&typo).unwrap_err().to_string();
        assert!(err.contains("routingMod"), "{err}");
        let typo = TWO.replace("serviceCIDR", "serviceCidr");
        assert!(
            Mesh::parse(&typo)
                .unwrap_err()
                .to_string()
                .contains("serviceCidr")
        );
    }

    #[test]
    fn unknown_cluster_names_the_known_ones() {
        let (mesh, _) = Mesh::load(TWO).unwrap();
        let err = mesh.cluster("north").unwrap_err().to_string();
        assert!(err.contains("north") && err.contains("west, east"), "{err}");
    }
}
