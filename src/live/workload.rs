//! Objects the tool creates and removes itself (the probe workload of `kubectl mesh
//! connectivity`): server-side apply, delete, and the reads that tell whether a name is free.

use anyhow::anyhow;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::Resource;
use serde_json::Value;

use super::{CallError, ClusterClient, Kind, typed};

/// The field manager of every server-side apply the tool makes.
pub const FIELD_MANAGER: &str = "kubectl-mesh";

impl ClusterClient {
    /// Server-side apply of `object` (`ns` ignored for cluster-scoped kinds), as field manager
    /// [`FIELD_MANAGER`], taking over fields another manager set: applying the same object
    /// twice changes nothing. Returns the object as stored.
    pub async fn apply(&self, ns: &str, object: &Value) -> anyhow::Result<Value> {
        let kind = Kind::of(object)
            .ok_or_else(|| anyhow!("cannot apply {}", crate::render::describe(object)))?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let what = self.checked_target("apply", kind, ns, name)?;
        let ar = kind.resource();
        let ns = kind.namespaced().then_some(ns);
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        let mut stored = self
            .call(request, &what)
            .await
            .map_err(|e| self.call_error(e, &what))?;
        typed(&mut stored, &ar);
        Ok(stored)
    }

    /// Deletes `ns/name` (`ns` ignored for cluster-scoped kinds); dependents (a Deployment's
    /// ReplicaSets and Pods) go in the background. `Ok(false)` when it was already gone.
    pub async fn delete(&self, kind: Kind, ns: &str, name: &str) -> anyhow::Result<bool> {
        let what = self.checked_target("delete", kind, ns, name)?;
        let ar = kind.resource();
        let ns = kind.namespaced().then_some(ns);
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .delete(name, &DeleteParams::background())
            .map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        match self.call(request, &what).await {
            Ok(_) => Ok(true),
            Err(CallError::Status(_, 404)) => Ok(false),
            Err(e) => Err(self.call_error(e, &what)),
        }
    }
}
