//! The edge to live clusters: one Kubernetes client per kubeconfig context, the reads the
//! commands need, and writes as read-modify-write with retry on conflict.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, Resource};
use serde_json::Value;

use crate::mesh::state::Live;
use crate::render::describe;

pub mod etcd;
mod exec;
pub mod helm;
pub mod pod_exec;
pub mod probe;
mod workload;

use exec::{plugin_name, run_plugin};

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
    Pod,
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
            Kind::Pod => ApiResource::erase::<Pod>(&()),
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
            "Pod" => Kind::Pod,
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
        Some(path) => Kubeconfig::read_from(path).map_err(|e| {
            anyhow!(
                "cannot read the kubeconfig {}: {}",
                path.display(),
                redacted_error(&e)
            )
        }),
        None => Kubeconfig::read().map_err(|e| {
            anyhow!(
                "cannot read the kubeconfig ($KUBECONFIG or ~/.kube/config): {}; pass --kubeconfig",
                redacted_error(&e)
            )
        }),
    }
}

/// The most one answer may hold: a reply past it is refused, never buffered to the end (a
/// flooding server would otherwise grow the process until the allocator aborts). Lists are read
/// in pages of [`PAGE`] items, so a big cluster stays far below it.
pub const MAX_RESPONSE: usize = 16 << 20;

/// The most all answers being read at once may hold together (many clusters, a dozen reads
/// each): past it, the read that would cross it fails instead of growing the process.
const MAX_IN_FLIGHT: usize = 160 << 20;

/// Items per list page.
const PAGE: u32 = 500;

/// Bytes of answers being read right now, in the whole process.
static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A client for one context, with Cilium's namespace.
#[derive(Clone)]
pub struct ClusterClient {
    client: kube::Client,
    pub namespace: String,
    pub context: String,
    /// The API server's URL, for messages.
    server: String,
    /// Bound on every whole request: connect, headers and body.
    limit: Option<Duration>,
}

/// Why a request failed.
enum CallError {
    /// The server answered with an error status (`Status` message, code).
    Status(String, u16),
    Other(anyhow::Error),
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
        let mut config =
            kube::Config::from_custom_kubeconfig(only_context(kubeconfig, context), &options)
                .await
                .map_err(|e| anyhow!("kubeconfig context {context:?}: {}", redacted_error(&e)))?;
        let server = config.cluster_url.to_string();
        let server = server.trim_end_matches('/').to_string();
        // kube-rs would run an `exec` credential plugin itself, synchronously and unbounded, and
        // put its output (the token) in its error: run it here, under the request deadline.
        if let Some(exec) = config.auth_info.exec.take() {
            let credential = match opts.request_timeout {
                Some(limit) => tokio::time::timeout(limit, run_plugin(&exec, context))
                    .await
                    .unwrap_or_else(|_| {
                        Err(anyhow!(
                            "context {context}: unreachable: the credential plugin {} did not answer within {}",
                            plugin_name(&exec),
                            probe::show(limit)
                        ))
                    })?,
                None => run_plugin(&exec, context).await?,
            };
            credential.apply(&mut config.auth_info);
        }
        // A plain-HTTP server (`kubectl proxy`, test servers) never uses TLS: skip loading the
        // OS trust store, which otherwise costs ~2 ms of CPU per cluster.
        if config.cluster_url.scheme_str() == Some("http") && config.root_cert.is_none() {
            config.root_cert = Some(Vec::new());
        }
        // The whole request is bounded in `call` (one deadline for connect, headers and body,
        // with the server and the limit in its message); kube-rs's per-read timeouts would race
        // it with a bare "deadline has elapsed", and `--request-timeout 0` means no bound at all.
        config.connect_timeout = None;
        config.read_timeout = None;
        config.write_timeout = None;
        let client = kube::Client::try_from(config)
            .with_context(|| format!("cannot make a client for context {context:?}"))?;
        Ok(ClusterClient {
            client,
            namespace: namespace.to_string(),
            context: context.to_string(),
            server,
            limit: opts.request_timeout,
        })
    }

    /// One request, whole: connect, headers and body within the deadline, the body read up to
    /// [`MAX_RESPONSE`]. `what` names it in messages.
    async fn call(&self, request: http::Request<Vec<u8>>, what: &str) -> Result<Value, CallError> {
        let work = async {
            let response = self
                .client
                .send(request.map(kube::client::Body::from))
                .await
                .map_err(|e| CallError::Other(self.error(e, what)))?;
            let status = response.status();
            let body = read_capped(response.into_body(), MAX_RESPONSE)
                .await
                .map_err(|e| {
                    CallError::Other(match e {
                        ReadError::TooLarge => anyhow!(
                            "context {}: unreachable: {} answered {what} with more than {} MiB",
                            self.context,
                            self.server,
                            MAX_RESPONSE >> 20
                        ),
                        ReadError::OverBudget => anyhow!(
                            "context {}: {what}: {} sent more than the {} MiB all answers being read at once may take",
                            self.context,
                            self.server,
                            MAX_IN_FLIGHT >> 20
                        ),
                        ReadError::Body(e) => anyhow!(
                            "context {}: {what}: the answer broke off: {}",
                            self.context,
                            error_chain(&e)
                        ),
                    })
                })?;
            if !status.is_success() {
                let message = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_string))
                    .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
                return Err(CallError::Status(message, status.as_u16()));
            }
            serde_json::from_slice::<Value>(&body).map_err(|e| {
                CallError::Other(anyhow!(
                    "context {}: {what}: {} did not answer with JSON ({e})",
                    self.context,
                    self.server
                ))
            })
        };
        match self.limit {
            Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                Err(CallError::Other(anyhow!(
                    "context {}: unreachable: {} did not answer within {} ({what})",
                    self.context,
                    self.server,
                    probe::show(limit)
                )))
            }),
            None => work.await,
        }
    }

    /// `call` for reads: a 404 is `None`.
    async fn call_opt(
        &self,
        request: http::Request<Vec<u8>>,
        what: &str,
    ) -> anyhow::Result<Option<Value>> {
        match self.call(request, what).await {
            Ok(v) => Ok(Some(v)),
            Err(CallError::Status(_, 404)) => Ok(None),
            Err(e) => Err(self.call_error(e, what)),
        }
    }

    fn call_error(&self, e: CallError, what: &str) -> anyhow::Error {
        match e {
            CallError::Status(message, code) => {
                anyhow!("context {}: {what}: {message} ({code})", self.context)
            }
            CallError::Other(e) => e,
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
        check_name(name).map_err(|e| anyhow!("context {}: {}: {e}", self.context, what()))?;
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .get(name, &kube::api::GetParams::default())
            .map_err(|e| anyhow!("context {}: {}: {e}", self.context, what()))?;
        let mut found = self.call_opt(request, &what()).await?;
        if let Some(v) = &mut found {
            typed(v, &ar);
        }
        Ok(found)
    }

    pub async fn list(&self, kind: Kind) -> anyhow::Result<Vec<Value>> {
        let ns = kind.namespaced().then_some(self.namespace.as_str());
        self.list_pages(kind, ns, ListParams::default(), &format!("list {kind:?}"))
            .await
    }

    /// Every item of a list, read in pages of [`PAGE`] (each answer bounded by
    /// [`MAX_RESPONSE`]), each with its apiVersion and kind.
    async fn list_pages(
        &self,
        kind: Kind,
        ns: Option<&str>,
        params: ListParams,
        what: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let ar = kind.resource();
        let mut params = params.limit(PAGE);
        let mut items = Vec::new();
        loop {
            let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
                .list(&params)
                .map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
            let mut list: Value = self
                .call(request, what)
                .await
                .map_err(|e| self.call_error(e, what))?;
            if let Some(Value::Array(page)) = list.get_mut("items").map(Value::take) {
                items.extend(page);
            }
            match list["metadata"]["continue"].as_str() {
                Some(token) if !token.is_empty() => params = params.continue_token(token),
                _ => break,
            }
        }
        for item in &mut items {
            typed(item, &ar);
        }
        Ok(items)
    }

    /// Everything the mesh commands look at in this cluster, read concurrently.
    pub async fn read_live(&self) -> anyhow::Result<Live> {
        self.read_live_with(Reads::ALL).await
    }

    /// What the mesh commands look at in this cluster, read concurrently; `reads` leaves out
    /// what the caller never looks at (left `None` in the [`Live`]).
    pub async fn read_live_with(&self, reads: Reads) -> anyhow::Result<Live> {
        use Kind::*;
        let kubeadm = async {
            if reads.kubeadm {
                self.get_in(ConfigMap, "kube-system", "kubeadm-config")
                    .await
            } else {
                Ok(None)
            }
        };
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
                    kubeadm,
                    self.list(Node),
                )
            },
        )?;
        let mut live = Live {
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
            ca_bundle: None,
        };
        // The CA bundle (`tls.caBundle`), named by the workloads just read.
        if let Some(r) = live.ca_bundle_ref() {
            let kind = if r.secret { Secret } else { ConfigMap };
            live.ca_bundle = self.get(kind, &r.name).await?;
        }
        Ok(live)
    }

    /// Creates `object`, or replaces it at the resourceVersion it was read with.
    pub async fn write(&self, object: &Value) -> Result<(), WriteError> {
        let kind = Kind::of(object)
            .ok_or_else(|| WriteError::Other(anyhow!("cannot write {}", describe(object))))?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let what = format!("write {}", describe(object));
        check_name(name).map_err(|e| WriteError::Other(anyhow!("{what}: {e}")))?;
        let ar = kind.resource();
        let ns = kind.namespaced().then_some(self.namespace.as_str());
        let data = serde_json::to_vec(object)
            .map_err(|e| WriteError::Other(anyhow!("{}: {e}", describe(object))))?;
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns));
        let request = if object["metadata"]["resourceVersion"].is_string() {
            request.replace(name, &PostParams::default(), data)
        } else {
            request.create(&PostParams::default(), data)
        }
        .map_err(|e| WriteError::Other(anyhow!("context {}: {what}: {e}", self.context)))?;
        match self.call(request, &what).await {
            Ok(_) => Ok(()),
            Err(CallError::Status(_, 409)) => Err(WriteError::Conflict),
            Err(e) => Err(WriteError::Other(self.call_error(e, &what))),
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

    /// Any object by apiVersion and kind, as a release manifest names it (`ns` `None`:
    /// cluster-scoped), or `None` when it does not exist. The resource's plural is kube's from
    /// the kind (`ApiResource::from_gvk`), right for the kinds a chart makes.
    pub async fn get_by_kind(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> anyhow::Result<Option<Value>> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let ar = ApiResource::from_gvk(&gvk);
        let what = match ns {
            Some(ns) => format!("get {kind} {ns}/{name}"),
            None => format!("get {kind} {name}"),
        };
        check_name(name).map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        if let Some(ns) = ns {
            check_name(ns).map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        }
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .get(name, &kube::api::GetParams::default())
            .map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        let mut found = self.call_opt(request, &what).await?;
        if let Some(v) = &mut found {
            typed(v, &ar);
        }
        Ok(found)
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
        let what = format!("list {kind:?} in {where_}");
        if let Some(ns) = ns.filter(|_| kind.namespaced()) {
            check_name(ns).map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        }
        let ns = ns.filter(|_| kind.namespaced());
        self.list_pages(kind, ns, params, &what).await
    }

    /// The object `ns/name` (`ns` ignored for cluster-scoped kinds), or `None` when it does not
    /// exist.
    pub async fn get_object(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
    ) -> anyhow::Result<Option<Value>> {
        if kind.namespaced() {
            check_name(ns).map_err(|e| anyhow!("context {}: get {kind:?}: {e}", self.context))?;
        }
        self.get_raw(kind, Some(ns), name).await
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
        let what = self
            .checked_target("patch", kind, ns, name)
            .map_err(WriteError::Other)?;
        let ar = kind.resource();
        let ns = kind.namespaced().then_some(ns);
        let request = kube::core::Request::new(DynamicObject::url_path(&ar, ns))
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .map_err(|e| WriteError::Other(anyhow!("context {}: {what}: {e}", self.context)))?;
        match self.call(request, &what).await {
            Ok(mut v) => {
                typed(&mut v, &ar);
                Ok(v)
            }
            Err(CallError::Status(_, 409)) => Err(WriteError::Conflict),
            Err(e) => Err(WriteError::Other(self.call_error(e, &what))),
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

/// Which of the optional objects [`ClusterClient::read_live_with`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Reads {
    /// kubeadm's `kube-system/kubeadm-config` (its pod and service subnets, for `init`).
    pub kubeadm: bool,
}

impl Reads {
    /// Everything [`Live`] holds.
    pub const ALL: Reads = Reads { kubeadm: true };
    /// What `status` looks at: all but kubeadm's ClusterConfiguration.
    pub const STATUS: Reads = Reads { kubeadm: false };
}

/// The kubeconfig with only `context`, its cluster and its user (the first of each name, as
/// kube-rs and kubectl pick): a client per context of a 255-cluster kubeconfig would otherwise
/// copy every cluster's entry (certificates included) for every cluster. A context it does not
/// hold keeps the whole file, for kube-rs's own message.
fn only_context(kubeconfig: &Kubeconfig, context: &str) -> Kubeconfig {
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        return kubeconfig.clone();
    };
    let cluster = named.context.as_ref().map(|c| c.cluster.as_str());
    let user = named.context.as_ref().and_then(|c| c.user.as_deref());
    Kubeconfig {
        preferences: kubeconfig.preferences.clone(),
        clusters: kubeconfig
            .clusters
            .iter()
            .find(|c| Some(c.name.as_str()) == cluster)
            .cloned()
            .into_iter()
            .collect(),
        auth_infos: kubeconfig
            .auth_infos
            .iter()
            .find(|a| Some(a.name.as_str()) == user)
            .cloned()
            .into_iter()
            .collect(),
        contexts: vec![named.clone()],
        current_context: kubeconfig.current_context.clone(),
        extensions: kubeconfig.extensions.clone(),
        kind: kubeconfig.kind.clone(),
        api_version: kubeconfig.api_version.clone(),
        other: kubeconfig.other.clone(),
    }
}

/// Raises this process's soft limit on open files to its hard limit (as Go programs such as
/// kubectl do at start-up): a command talking to 255 clusters at once holds a dozen
/// connections to each, past the usual soft limit of 1024. Returns the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit no higher than the hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
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

/// An object name as a path segment: refused when it could name another path (`..`, `/`,
/// `%`, a query). Commands validate names like kubectl first; this keeps the edge safe.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| matches!(c, '/' | '%' | '?' | '#' | '\\') || c.is_control() || c == ' ')
    {
        anyhow::bail!("invalid object name {name:?}");
    }
    Ok(())
}

enum ReadError {
    TooLarge,
    OverBudget,
    Body(kube::Error),
}

/// Bytes counted in [`IN_FLIGHT`], given back when the read ends.
struct Reserved(usize);

impl Reserved {
    fn grow(&mut self, n: usize) -> Result<(), ReadError> {
        use std::sync::atomic::Ordering;
        let before = IN_FLIGHT.fetch_add(n, Ordering::SeqCst);
        self.0 += n;
        if before + n > MAX_IN_FLIGHT {
            return Err(ReadError::OverBudget);
        }
        Ok(())
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(self.0, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The whole body (decompressed), refused as soon as it passes `cap` bytes or the process-wide
/// budget of answers being read.
async fn read_capped(mut body: kube::client::Body, cap: usize) -> Result<Vec<u8>, ReadError> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    let mut reserved = Reserved(0);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ReadError::Body)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > cap {
                return Err(ReadError::TooLarge);
            }
            reserved.grow(data.len())?;
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// A kube-rs error without what it quotes of its input (a kubeconfig syntax error quotes the
/// lines around it: passwords, keys).
fn redacted_error(e: &dyn std::error::Error) -> String {
    crate::mesh::names::parse_error(&error_chain(e))
}

impl ClusterClient {
    /// `<verb> <Kind> <ns/name>` for messages, once the names are checked as the API server
    /// checks them (`ns` only for namespaced kinds): a bad name is refused before any request.
    fn checked_target(
        &self,
        verb: &str,
        kind: Kind,
        ns: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        let what = format!("{verb} {kind:?} {}", object_path(kind, ns, name));
        let ns_ok = if kind.namespaced() {
            check_name(ns)
        } else {
            Ok(())
        };
        ns_ok
            .and_then(|()| check_name(name))
            .map_err(|e| anyhow!("context {}: {what}: {e}", self.context))?;
        Ok(what)
    }
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
