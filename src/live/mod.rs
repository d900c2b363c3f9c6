//! The edge to live clusters: one Kubernetes client per kubeconfig context, the reads the
//! commands need, and writes as read-modify-write with retry on conflict.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, Resource};
use serde_json::Value;

use crate::mesh::state::Live;
use crate::render::describe;

pub mod etcd;
pub mod probe;

/// How to reach the clusters: the usual kubectl flags.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Kubeconfig file; `None` reads $KUBECONFIG (every listed file) or ~/.kube/config.
    pub kubeconfig: Option<PathBuf>,
    /// Bound on every request (connect, send and each wait for an answer).
    pub request_timeout: Option<Duration>,
    /// How many clusters are talked to at once.
    pub parallel: usize,
}

/// The kinds the commands read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConfigMap,
    Secret,
    Service,
    Node,
    DaemonSet,
    Deployment,
    Namespace,
    EndpointSlice,
}

impl Kind {
    fn resource(self) -> ApiResource {
        match self {
            Kind::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
            Kind::Secret => ApiResource::erase::<Secret>(&()),
            Kind::Service => ApiResource::erase::<Service>(&()),
            Kind::Node => ApiResource::erase::<Node>(&()),
            Kind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
            Kind::Deployment => ApiResource::erase::<Deployment>(&()),
            Kind::Namespace => ApiResource::erase::<Namespace>(&()),
            Kind::EndpointSlice => ApiResource::erase::<EndpointSlice>(&()),
        }
    }

    fn of(v: &Value) -> Option<Kind> {
        Some(match v["kind"].as_str()? {
            "ConfigMap" => Kind::ConfigMap,
            "Secret" => Kind::Secret,
            "Service" => Kind::Service,
            "Node" => Kind::Node,
            "DaemonSet" => Kind::DaemonSet,
            "Deployment" => Kind::Deployment,
            "Namespace" => Kind::Namespace,
            "EndpointSlice" => Kind::EndpointSlice,
            _ => return None,
        })
    }

    fn namespaced(self) -> bool {
        !matches!(self, Kind::Node | Kind::Namespace)
    }
}

/// The kubeconfig, read once for all clusters.
pub fn load_kubeconfig(opts: &KubeOptions) -> anyhow::Result<Kubeconfig> {
    match &opts.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read the kubeconfig {}", path.display())),
        None => Kubeconfig::read().context(
            "cannot read the kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig",
        ),
    }
}

/// A client for one context, with Cilium's namespace.
#[derive(Clone)]
pub struct ClusterClient {
    client: kube::Client,
    pub namespace: String,
    pub context: String,
}

impl ClusterClient {
    pub async fn new(
        kubeconfig: &Kubeconfig,
        context: &str,
        namespace: &str,
        opts: &KubeOptions,
    ) -> anyhow::Result<ClusterClient> {
        let options = KubeConfigOptions {
            context: Some(context.to_string()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
            .await
            .with_context(|| format!("kubeconfig context {context:?}"))?;
        // A plain-HTTP server (`kubectl proxy`, test servers) never uses TLS: skip loading the
        // OS trust store, which otherwise costs ~2 ms of CPU per cluster.
        if config.cluster_url.scheme_str() == Some("http") && config.root_cert.is_none() {
            config.root_cert = Some(Vec::new());
        }
        config.connect_timeout = opts.request_timeout;
        config.read_timeout = opts.request_timeout;
        config.write_timeout = opts.request_timeout;
        let client = kube::Client::try_from(config)
            .with_context(|| format!("cannot make a client for context {context:?}"))?;
        Ok(ClusterClient {
            client,
            namespace: namespace.to_string(),
            context: context.to_string(),
        })
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        let ar = kind.resource();
        if kind.namespaced() {
            Api::namespaced_with(self.client.clone(), &self.namespace, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        }
    }

    /// The object, or `None` when it does not exist.
    pub async fn get(&self, kind: Kind, name: &str) -> anyhow::Result<Option<Value>> {
        let ns = self.namespace.clone();
        self.get_raw(kind, Some(&ns), name).await
    }

    /// The object in another namespace (e.g. kubeadm's ConfigMap in kube-system).
    pub async fn get_in(&self, kind: Kind, ns: &str, name: &str) -> anyhow::Result<Option<Value>> {
        self.get_raw(kind, Some(ns), name).await
    }

    /// Objects are read straight into JSON values (no typed round trip: `status` reads a dozen
    /// objects from every cluster).
    async fn get_raw(
        &self,
        kind: Kind,
        ns: Option<&str>,
        name: &str,
    ) -> anyhow::Result<Option<Value>> {
        let ar = kind.resource();
        let ns = ns.filter(|_| kind.namespaced());
        let what = || match ns {
            Some(ns) => format!("get {kind:?} {ns}/{name}"),
            None => format!("get {kind:?} {name}"),
        };
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .get(name, &kube::api::GetParams::default())
            .map_err(|e| anyhow!("context {}: {}: {e}", self.context, what()))?;
        match self.client.request::<Value>(request).await {
            Ok(mut v) => {
                typed(&mut v, &ar);
                Ok(Some(v))
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(self.error(e, &what())),
        }
    }

    pub async fn list(&self, kind: Kind) -> anyhow::Result<Vec<Value>> {
        let ar = kind.resource();
        let ns = kind.namespaced().then_some(self.namespace.as_str());
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .list(&ListParams::default())
            .map_err(|e| anyhow!("context {}: list {kind:?}: {e}", self.context))?;
        let mut list: Value = self
            .client
            .request(request)
            .await
            .map_err(|e| self.error(e, &format!("list {kind:?}")))?;
        let mut items = match list.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        for item in &mut items {
            typed(item, &ar);
        }
        Ok(items)
    }

    /// Everything the mesh commands look at in this cluster, read concurrently.
    pub async fn read_live(&self) -> anyhow::Result<Live> {
        use Kind::*;
        // One round trip: every read at once.
        let (
            (config, agents, apiserver, service, ca, remote_cert),
            (clustermesh, kvstoremesh, remote_users, kubeadm, nodes),
        ) = futures::try_join!(
            async {
                futures::try_join!(
                    self.get(ConfigMap, "cilium-config"),
                    self.get(DaemonSet, "cilium"),
                    self.get(Deployment, "clustermesh-apiserver"),
                    self.get(Service, "clustermesh-apiserver"),
                    self.get(Secret, "cilium-ca"),
                    self.get(Secret, "clustermesh-apiserver-remote-cert"),
                )
            },
            async {
                futures::try_join!(
                    self.get(Secret, "cilium-clustermesh"),
                    self.get(Secret, "cilium-kvstoremesh"),
                    self.get(ConfigMap, "clustermesh-remote-users"),
                    self.get_in(ConfigMap, "kube-system", "kubeadm-config"),
                    self.list(Node),
                )
            },
        )?;
        Ok(Live {
            config,
            agents,
            apiserver,
            service,
            ca,
            remote_cert,
            clustermesh,
            kvstoremesh,
            remote_users,
            kubeadm,
            nodes,
        })
    }

    /// Creates `object`, or replaces it at the resourceVersion it was read with.
    pub async fn write(&self, object: &Value) -> Result<(), WriteError> {
        let kind = Kind::of(object)
            .ok_or_else(|| WriteError::Other(anyhow!("cannot write {}", describe(object))))?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let dynamic: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| WriteError::Other(anyhow!("{}: {e}", describe(object))))?;
        let api = self.api(kind);
        let result = if object["metadata"]["resourceVersion"].is_string() {
            api.replace(name, &PostParams::default(), &dynamic).await
        } else {
            api.create(&PostParams::default(), &dynamic).await
        };
        match result {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(WriteError::Conflict),
            Err(e) => Err(WriteError::Other(
                self.error(e, &format!("write {}", describe(object))),
            )),
        }
    }

    /// Read-modify-write: reads the cluster, asks `changes` what to write, writes it; on a
    /// conflict (someone else wrote in between) starts again from a fresh read.
    pub async fn converge<F>(&self, changes: F) -> anyhow::Result<Vec<Value>>
    where
        F: Fn(&Live) -> anyhow::Result<Vec<Value>>,
    {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let live = self.read_live().await?;
            let objects = changes(&live)?;
            let mut conflict = false;
            for object in &objects {
                match self.write(object).await {
                    Ok(()) => {}
                    Err(WriteError::Conflict) => {
                        conflict = true;
                        break;
                    }
                    Err(WriteError::Other(e)) => return Err(e),
                }
            }
            if !conflict {
                return Ok(objects);
            }
            tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
        }
        Err(anyhow!(
            "context {}: the objects kept changing under us ({ATTEMPTS} conflicts in a row); run the command again",
            self.context
        ))
    }

    /// `kind` in namespace `ns`, or in every namespace when `None` (cluster-scoped kinds ignore
    /// `ns`).
    fn api_in(&self, kind: Kind, ns: Option<&str>) -> Api<DynamicObject> {
        let ar = kind.resource();
        match ns {
            Some(ns) if kind.namespaced() => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// Objects of `kind` in namespace `ns` (every namespace when `None`) matching the label
    /// selector `labels` (everything when `None`), each with its apiVersion and kind.
    pub async fn list_in(
        &self,
        kind: Kind,
        ns: Option<&str>,
        labels: Option<&str>,
    ) -> anyhow::Result<Vec<Value>> {
        let mut params = ListParams::default();
        if let Some(l) = labels {
            params = params.labels(l);
        }
        let where_ = ns.map_or("every namespace".to_string(), |n| format!("namespace {n}"));
        let list = self
            .api_in(kind, ns)
            .list(&params)
            .await
            .map_err(|e| self.error(e, &format!("list {kind:?} in {where_}")))?;
        let ar = kind.resource();
        list.items
            .iter()
            .map(|o| {
                let mut v = to_value(o)?;
                if v["apiVersion"].is_null() {
                    v["apiVersion"] = Value::String(ar.api_version.clone());
                    v["kind"] = Value::String(ar.kind.clone());
                }
                Ok(v)
            })
            .collect()
    }

    /// The object `ns/name` (`ns` ignored for cluster-scoped kinds), or `None` when it does not
    /// exist.
    pub async fn get_object(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
    ) -> anyhow::Result<Option<Value>> {
        let found = self
            .api_in(kind, Some(ns))
            .get_opt(name)
            .await
            .map_err(|e| self.error(e, &format!("get {kind:?} {}", object_path(kind, ns, name))))?;
        found.map(|o| to_value(&o)).transpose()
    }

    /// Applies a JSON merge patch (RFC 7386) to `ns/name`. A patch that carries
    /// `metadata.resourceVersion` only applies to that version: `Conflict` otherwise.
    pub async fn merge_patch(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, WriteError> {
        let result = self
            .api_in(kind, Some(ns))
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await;
        match result {
            Ok(o) => to_value(&o).map_err(WriteError::Other),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(WriteError::Conflict),
            Err(e) => Err(WriteError::Other(self.error(
                e,
                &format!("patch {kind:?} {}", object_path(kind, ns, name)),
            ))),
        }
    }

    fn error(&self, e: kube::Error, what: &str) -> anyhow::Error {
        let detail = match &e {
            kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
            other => error_chain(other),
        };
        anyhow!("context {}: {what}: {detail}", self.context)
    }
}

/// Why a write did not happen.
#[derive(Debug)]
pub enum WriteError {
    /// 409: the object changed since it was read (or was created meanwhile).
    Conflict,
    Other(anyhow::Error),
}

/// Runs `task` for every item, at most `parallel` at once, and returns the results in the
/// items' order.
pub async fn for_each<I, T, F, Fut>(items: Vec<I>, parallel: usize, task: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = T>,
{
    let mut results: Vec<(usize, T)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let fut = task(item);
            async move { (i, fut.await) }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}

/// Parses kubectl's `--request-timeout`: `0` (none), a number of seconds, or `1s`, `500ms`,
/// `2m`, `1h`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use e.g. 30s, 500ms, 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: use e.g. 30s, 500ms, 2m"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {text:?}"))
}

/// List items (and some GETs) come without apiVersion and kind.
fn typed(v: &mut Value, ar: &ApiResource) {
    if v["apiVersion"].is_null() {
        v["apiVersion"] = Value::String(ar.api_version.clone());
    }
    if v["kind"].is_null() {
        v["kind"] = Value::String(ar.kind.clone());
    }
}

fn to_value(o: &DynamicObject) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(o)?;
    // The API server omits these on GET; DynamicObject puts them back from its type.
    if v["apiVersion"].is_null()
        && let Some(t) = &o.types
    {
        v["apiVersion"] = Value::String(t.api_version.clone());
        v["kind"] = Value::String(t.kind.clone());
    }
    Ok(v)
}

fn object_path(kind: Kind, ns: &str, name: &str) -> String {
    if kind.namespaced() {
        format!("{ns}/{name}")
    } else {
        name.to_string()
    }
}

/// An error with its causes, for messages ("connection refused", "timed out", …).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_kubectl() {
        assert_eq!(parse_timeout("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_timeout("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_timeout("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_timeout("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("5d").is_err());
    }
}
