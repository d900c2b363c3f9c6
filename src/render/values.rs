//! Helm values files against the mesh file, before Helm runs: a value the mesh file owns, set in
//! a values file to something else than the chart's default or what the mesh file gives the
//! cluster, would make render refuse the release (the same rule as render's conflicts on the
//! stream, `cilium.rs`) or fight the mesh file: `kubectl mesh upgrade` refuses it before any
//! cluster is touched. Pure: the caller reads and parses the files.

use serde_json::Value;

use crate::mesh::{Cluster, Mesh, RoutingMode};

/// One value of one values file that disagrees with the mesh file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueConflict {
    /// The values file (as the user named it).
    pub file: String,
    /// The value's path, Helm style: `cluster.name`.
    pub key: String,
    /// What the file says (compact JSON).
    pub found: String,
    /// What the mesh file says, and for which cluster.
    pub wanted: String,
}

impl std::fmt::Display for ValueConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} is {}, but {}: remove it from the values file (kubectl-mesh sets it per cluster from the mesh file) or fix the mesh file",
            self.file, self.key, self.found, self.wanted
        )
    }
}

/// Every conflict of the values file `file` (parsed: a mapping, or null when empty) with the
/// mesh file, for each of `clusters` (one values file serves them all).
pub fn conflicts(
    file: &str,
    values: &Value,
    mesh: &Mesh,
    clusters: &[&Cluster],
) -> Vec<ValueConflict> {
    let mut out = Vec::new();
    let mut add = |key: &str, found: &Value, wanted: String| {
        let c = ValueConflict {
            file: file.to_string(),
            key: key.to_string(),
            found: found.to_string(),
            wanted,
        };
        if !out.contains(&c) {
            out.push(c);
        }
    };
    let get = |path: &str| -> Option<&Value> {
        let mut v = values;
        for p in path.split('.') {
            v = v.get(p)?;
        }
        (!v.is_null()).then_some(v)
    };
    // Scalars as Helm templates print them: `id: "2"` and `id: 2` both render 2.
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let max = mesh.max_connected_clusters();
    if let Some(v) = get("clustermesh.maxConnectedClusters")
        && text(v) != "255"
        && text(v) != max.to_string()
    {
        add(
            "clustermesh.maxConnectedClusters",
            v,
            format!("the mesh file says {max} (maxConnectedClusters)"),
        );
    }
    if mesh.ca.is_some()
        && let Some(tls_ca) = get("tls.ca")
    {
        let set = |k: &str| {
            tls_ca
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
        };
        if set("cert") || set("key") || set("certFile") || set("keyFile") {
            add(
                "tls.ca",
                &Value::String("(a CA)".into()),
                "the mesh file's `ca:` is the mesh's CA".to_string(),
            );
        }
    }
    if let Some(v) = get("clustermesh.config.clusters")
        && v.as_array().is_none_or(|a| !a.is_empty())
    {
        add(
            "clustermesh.config.clusters",
            &Value::String("(a peer list)".into()),
            "the peers are the mesh file's clusters (`kubectl mesh connect` records their endpoints)".to_string(),
        );
    }
    for c in clusters {
        if let Some(v) = get("cluster.name")
            && text(v) != "default"
            && text(v) != c.name
        {
            add(
                "cluster.name",
                v,
                format!("the mesh file names this cluster {:?}", c.name),
            );
        }
        if let Some(v) = get("cluster.id")
            && text(v) != "0"
            && text(v) != c.id.to_string()
        {
            add(
                "cluster.id",
                v,
                format!("the mesh file gives cluster {} id {}", c.name, c.id),
            );
        }
        if mesh.routing_mode == RoutingMode::Native
            && let Some(v) = get("ipv4NativeRoutingCIDR")
            && text(v) != c.native_routing_cidr()
        {
            add(
                "ipv4NativeRoutingCIDR",
                v,
                format!(
                    "the mesh file routes {} natively for cluster {}",
                    c.native_routing_cidr(),
                    c.name
                ),
            );
        }
        if let (Some(port), Some(v)) = (
            c.apiserver_node_port,
            get("clustermesh.apiserver.service.nodePort"),
        ) && text(v) != port.to_string()
        {
            add(
                "clustermesh.apiserver.service.nodePort",
                v,
                format!(
                    "the mesh file gives cluster {} apiserverNodePort {port}",
                    c.name
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESH: &str = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, apiserverNodePort: 32379}\n- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16}\n";

    fn check(values: &str) -> Vec<String> {
        let mesh = Mesh::parse(MESH).unwrap();
        let clusters: Vec<&Cluster> = mesh.clusters.iter().collect();
        let v = crate::yaml::parse(values).unwrap();
        conflicts("v.yaml", &v, &mesh, &clusters)
            .into_iter()
            .map(|c| format!("{} {}", c.key, c.found))
            .collect()
    }

    #[test]
    fn shared_values_and_chart_defaults_pass() {
        assert!(check("").is_empty());
        assert!(check("ipam: {mode: kubernetes}\ncluster: {name: default, id: 0}\nclustermesh: {maxConnectedClusters: 255, useAPIServer: true, config: {enabled: true, clusters: []}}\nipMasqAgent: {enabled: true, config: {nonMasqueradeCIDRs: [192.168.0.0/16]}}\ntls: {ca: {cert: '', key: ''}}\n").is_empty());
    }

    #[test]
    fn mesh_owned_values_that_disagree_are_conflicts() {
        // One values file for both clusters: any real name is another cluster's.
        assert_eq!(
            check("cluster: {name: west}"),
            vec!["cluster.name \"west\""]
        );
        assert_eq!(check("cluster: {id: \"2\"}"), vec!["cluster.id \"2\""]);
        assert_eq!(
            check("clustermesh: {maxConnectedClusters: 511}"),
            vec!["clustermesh.maxConnectedClusters 511"]
        );
        assert_eq!(
            check("ipv4NativeRoutingCIDR: 10.0.0.0/16"),
            vec!["ipv4NativeRoutingCIDR \"10.0.0.0/16\""]
        );
        assert_eq!(
            check("clustermesh: {apiserver: {service: {nodePort: 32380}}}"),
            vec!["clustermesh.apiserver.service.nodePort 32380"]
        );
        assert_eq!(
            check("clustermesh: {config: {clusters: [{name: x, port: 2379}]}}"),
            vec!["clustermesh.config.clusters \"(a peer list)\""]
        );
    }

    #[test]
    fn tls_ca_conflicts_only_with_a_mesh_ca() {
        let with_ca = format!("{MESH}ca: {{cert: ca.crt, key: ca.key}}\n");
        let mesh = Mesh::parse(&with_ca).unwrap();
        let clusters: Vec<&Cluster> = mesh.clusters.iter().collect();
        let v = crate::yaml::parse("tls: {ca: {cert: QUJD, key: REVG}}").unwrap();
        let found = conflicts("v.yaml", &v, &mesh, &clusters);
        assert_eq!(found.len(), 1);
        assert!(found[0].to_string().starts_with("v.yaml: tls.ca is"));
        assert!(
            !found[0].to_string().contains("QUJD"),
            "key material is never quoted"
        );
        assert!(check("tls: {ca: {cert: QUJD, key: REVG}}").is_empty());
    }

    #[test]
    fn a_cluster_of_its_own_accepts_its_own_values() {
        let mesh = Mesh::parse(MESH).unwrap();
        let west = vec![&mesh.clusters[0]];
        let v = crate::yaml::parse("cluster: {name: west, id: 1}\nipv4NativeRoutingCIDR: 10.0.0.0/16\nclustermesh: {apiserver: {service: {nodePort: 32379}}}").unwrap();
        assert!(conflicts("v.yaml", &v, &mesh, &west).is_empty());
    }
}
