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
            if live.iter().any(|l| same(l, &v)) {
                return v;
            }
            let meta = &owner["metadata"];
            for key in [HELM_RELEASE_NAME, HELM_RELEASE_NAMESPACE] {
                if let Some(s) = meta["annotations"][key].as_str() {
                    v["metadata"]["annotations"][key] = json!(s);
                }
            }
            if let Some(s) = meta["labels"][MANAGED_BY].as_str() {
                v["metadata"]["labels"][MANAGED_BY] = json!(s);
            }
            v
        })
        .collect()
}
