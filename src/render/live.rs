//! The peer transforms `connect` and `disconnect` share with `render`, run on objects read from
//! a live cluster: one code path, so a cluster connected live is exactly what the next
//! `helm upgrade` with the post-renderer renders.

use serde_json::{Value, json};

use super::objects::Objects;
use super::{RenderError, Target, cilium, peers};

/// Helm's ownership metadata: an object we create carries it so that the next `helm upgrade`
/// (whose post-rendered stream contains the same object) adopts it instead of failing.
const HELM_RELEASE_NAME: &str = "meta.helm.sh/release-name";
const HELM_RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The objects to write to `target.cluster` so that its peers are the mesh file's: changed
/// objects and new ones, given the cluster's current `live` objects (cilium-config, the agent
/// DaemonSet, the clustermesh-apiserver Deployment, the peer Secrets and remote users).
pub fn peer_changes(live: Vec<Value>, target: &Target) -> Result<Vec<Value>, RenderError> {
    let ns = target.mesh.namespace();
    let mut objects = Objects::from_values(live.clone());
    let config = objects
        .find("ConfigMap", ns, "cilium-config")
        .ok_or_else(|| RenderError::NoCiliumConfig {
            namespace: ns.to_string(),
        })?;
    let owner = objects.get(config).clone();
    let version = cilium::chart_version(&objects);
    peers::apply(&mut objects, ns, config, version, target)?;
    Ok(adopted(objects.changes(), &live, &owner))
}

/// Whether [`peer_changes`] on the same objects would write nothing, told without copying them:
/// `true` only when sure (see [`peers::unchanged`]); on `false`, run [`peer_changes`].
pub fn peers_unchanged(live: &[&Value], target: &Target) -> bool {
    let charts = live
        .iter()
        .filter_map(|v| v["metadata"]["labels"]["helm.sh/chart"].as_str());
    let images = live.iter().flat_map(|v| {
        v["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["image"].as_str())
    });
    let version = cilium::chart_version_of(charts, images);
    peers::unchanged(live, target.mesh.namespace(), version, target)
}

/// The objects to write so that the clusters `gone` are no longer peers of this one.
pub fn unpeer_changes(
    live: Vec<Value>,
    namespace: &str,
    gone: &[&str],
) -> Result<Vec<Value>, RenderError> {
    let mut objects = Objects::from_values(live);
    peers::remove(&mut objects, namespace, gone)?;
    Ok(objects.changes())
}

/// New objects (not among `live`) get the Helm release metadata of `owner` (cilium-config).
fn adopted(changes: Vec<Value>, live: &[Value], owner: &Value) -> Vec<Value> {
    let same = |a: &Value, b: &Value| {
        a["kind"] == b["kind"] && a["metadata"]["name"] == b["metadata"]["name"]
    };
    changes
        .into_iter()
        .map(|mut v| {
            if !live.iter().any(|l| same(l, &v)) {
                adopt(&mut v, owner);
            }
            v
        })
        .collect()
}

/// Gives an object kubectl-mesh creates the Helm release metadata of `owner` (cilium-config),
/// so that the next `helm upgrade`, whose post-rendered stream holds the same object, adopts it
/// instead of failing on an object it does not own.
pub fn adopt(object: &mut Value, owner: &Value) {
    let meta = &owner["metadata"];
    for key in [HELM_RELEASE_NAME, HELM_RELEASE_NAMESPACE] {
        if let Some(s) = meta["annotations"][key].as_str() {
            object["metadata"]["annotations"][key] = json!(s);
        }
    }
    if let Some(s) = meta["labels"][MANAGED_BY].as_str() {
        object["metadata"]["labels"][MANAGED_BY] = json!(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::Mesh;

    const MESH: &str = "apiVersion: kubectl-mesh/v1alpha1
kind: Mesh
routingMode: native
clusters:
- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16}
- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16, clustermesh: {port: 32380, ips: [172.18.0.4]}}
";

    fn live() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": "kube-system",
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {"meta.helm.sh/release-name": "cilium", "meta.helm.sh/release-namespace": "kube-system"}},
                "data": {"cluster-name": "west"}}),
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "cilium", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": [{"name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.17.6"}],
                    "hostAliases": [{"ip": "10.9.9.9", "hostnames": ["north.mesh.cilium.io"]}, {"ip": "1.2.3.4", "hostnames": ["registry.local"]}]}}}}),
        ]
    }

    #[test]
    fn new_objects_are_adoptable_by_helm_and_unknown_peers_stay() {
        let mesh = Mesh::parse(MESH).unwrap();
        let target = Target {
            mesh: &mesh,
            cluster: &mesh.clusters[0],
            mesh_ca: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
            bundle: None,
        };
        let changes = peer_changes(live(), &target).unwrap();
        let ds = changes.iter().find(|o| o["kind"] == "DaemonSet").unwrap();
        let aliases = &ds["spec"]["template"]["spec"]["hostAliases"];
        assert_eq!(aliases.as_array().unwrap().len(), 3, "{aliases}");
        assert_eq!(aliases[0]["hostnames"][0], "north.mesh.cilium.io");
        assert_eq!(aliases[2]["ip"], "172.18.0.4");
        let secret = changes.iter().find(|o| o["kind"] == "Secret").unwrap();
        assert_eq!(
            secret["metadata"]["annotations"]["meta.helm.sh/release-name"],
            "cilium"
        );
        assert_eq!(
            secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
        // The changed DaemonSet keeps its own metadata.
        assert!(ds["metadata"]["annotations"].is_null());
    }

    #[test]
    fn unpeering_removes_only_the_named_clusters() {
        let mut objects = live();
        objects[1]["spec"]["template"]["spec"]["hostAliases"]
            .as_array_mut()
            .unwrap()
            .push(json!({"ip": "172.18.0.4", "hostnames": ["east.mesh.cilium.io"]}));
        let changes = unpeer_changes(objects, "kube-system", &["east"]).unwrap();
        let aliases = &changes[0]["spec"]["template"]["spec"]["hostAliases"];
        assert_eq!(aliases.as_array().unwrap().len(), 2, "{aliases}");
        assert!(
            unpeer_changes(live(), "kube-system", &["east"])
                .unwrap()
                .is_empty()
        );
    }
}
