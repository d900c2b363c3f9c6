//! An in-memory Kubernetes API server for kubectl-mesh integration tests.
//!
//! Each [`ApiServer`] is one simulated cluster: it listens on
//! `http://127.0.0.1:<random port>` (plain HTTP, no auth), serves discovery
//! (legacy and aggregated), CRUD, list/watch, the four patch types and
//! server-side apply for the built-in kinds in [`registry`], and stops when
//! dropped. [`write_kubeconfig`] points kubectl or kube-rs at a set of them.
//!
//! ```no_run
//! use mesh_test_apiserver::{ApiServer, write_kubeconfig};
//! let a = ApiServer::start();
//! a.seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: v}\n");
//! let dir = tempfile::tempdir().unwrap();
//! let kc = dir.path().join("kubeconfig");
//! write_kubeconfig(&kc, &[("east", &a.url())], Some("east"));
//! assert!(a.get("v1", "ConfigMap", Some("default"), "x").is_some());
//! ```
//!
//! Fidelity notes and known gaps are listed in `README.md` next to this crate.

pub mod discovery;
pub mod error;
pub mod exec;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod selector;
pub mod server;
pub mod state;
pub mod table;
pub mod util;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use crate::registry::ResourceType;
use crate::server::{Shared, lock};
use crate::state::{Filter, Preconditions, State, WriteOpts, serve_as};

/// One request as received (recorded before any hang or latency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `PATCH`.
    pub method: String,
    /// URL path, e.g. `/api/v1/namespaces/default/configmaps/x`.
    pub path: String,
    /// Raw query string (still percent-encoded), empty when absent.
    pub query: String,
    /// `Content-Type` header, empty when absent.
    pub content_type: String,
}

/// A running in-memory API server. Stops (and closes every connection) on drop.
pub struct ApiServer {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("url", &self.url())
            .finish()
    }
}

impl ApiServer {
    /// Starts a server on `127.0.0.1:0` in its own thread with its own tokio
    /// runtime. Holds the namespaces `default`, `kube-system`, `kube-public`
    /// and `kube-node-lease`. Panics if it cannot bind.
    pub fn start() -> ApiServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            rv_tx: watch::Sender::new(0),
            hang: watch::Sender::new(false),
            writes: AtomicU64::new(0),
            fail: Mutex::new((0, 500)),
            latency: Mutex::new(Duration::ZERO),
            requests: Mutex::new(Vec::new()),
            addr,
            exec: Mutex::new(exec::ExecState::default()),
        });
        shared.notify();
        let (tx, rx) = oneshot::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("apiserver-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(serve(listener, thread_shared, rx));
            })
            .expect("spawn server thread");
        ApiServer {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Starts a server and seeds it (see [`ApiServer::seed_yaml`]).
    pub fn start_with(multi_doc_yaml: &str) -> ApiServer {
        let s = Self::start();
        s.seed_yaml(multi_doc_yaml);
        s
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Creates (or, if present, replaces) the objects of a multi-document YAML
    /// stream; `kind: List` documents are expanded. Assigns uid,
    /// resourceVersion and creationTimestamp, defaults the namespace of
    /// namespaced kinds to `default` and creates missing namespaces. Unknown
    /// kinds are registered by the generic plural rule, namespaced when the
    /// document has `metadata.namespace`. Unlike API writes, seeding keeps
    /// `status`. Panics on invalid input; see [`ApiServer::try_seed_yaml`].
    pub fn seed_yaml(&self, multi_doc_yaml: &str) {
        if let Err(e) = self.try_seed_yaml(multi_doc_yaml) {
            panic!("seed_yaml: {e}");
        }
    }

    /// Like [`ApiServer::seed_yaml`] but returns the stored objects or an error.
    pub fn try_seed_yaml(&self, multi_doc_yaml: &str) -> Result<Vec<Value>, String> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(multi_doc_yaml)
            .map_err(|e| format!("invalid YAML: {e}"))?;
        let mut out = Vec::new();
        let result = {
            let mut st = lock(&self.shared.state);
            docs.into_iter()
                .flat_map(expand_lists)
                .try_for_each(|doc| seed_one(&mut st, doc).map(|v| out.push(v)))
        };
        self.shared.notify();
        result.map(|_| out)
    }

    /// Resolves a kind, if registered.
    fn resource(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        lock(&self.shared.state)
            .registry
            .by_kind(api_version, kind)
            .cloned()
    }

    /// One object, or `None`. `ns` is ignored for cluster-scoped kinds and
    /// defaults to `default` for namespaced ones.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let rt = self.resource(api_version, kind)?;
        let st = lock(&self.shared.state);
        st.get(&rt, ns.unwrap_or("default"), name)
            .map(|o| serve_as(&rt, o.clone()))
    }

    /// Objects of a kind ordered by namespace and name; `ns: None` lists all namespaces.
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let Some(rt) = self.resource(api_version, kind) else {
            return vec![];
        };
        let filter = Filter {
            ns: ns.filter(|_| rt.namespaced).map(str::to_string),
            ..Default::default()
        };
        lock(&self.shared.state).list(&rt, &filter, None, None).0
    }

    /// Deletes an object as a client outside the test would; returns whether it existed.
    pub fn delete(&self, api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> bool {
        let Some(rt) = self.resource(api_version, kind) else {
            return false;
        };
        let ok = lock(&self.shared.state)
            .delete(
                &rt,
                ns.unwrap_or("default"),
                name,
                &Preconditions::default(),
                false,
            )
            .is_ok();
        self.shared.notify();
        ok
    }

    /// Number of successful mutating requests (POST/PUT/PATCH/DELETE) received
    /// over HTTP, not counting dry runs. Seeding does not count.
    pub fn write_count(&self) -> u64 {
        self.shared.writes.load(Ordering::SeqCst)
    }

    /// The latest resource version handed out (global counter, bumped by
    /// every stored change including seeding; unchanged by no-op writes).
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.state).rv
    }

    /// The next `n` mutating requests (dry runs included) fail with `status`
    /// (409 → Conflict, 500 → InternalError; 400/403/404/422/429/503/504 get
    /// their usual reasons) before touching the store.
    pub fn fail_next_writes(&self, n: u32, status: u16) {
        *lock(&self.shared.fail) = (n, status);
    }

    /// While on, every new request is held without an answer; turning it off
    /// releases the held requests, which are then answered normally.
    pub fn set_hang(&self, on: bool) {
        self.shared.hang.send_replace(on);
    }

    /// Delay added before answering every request (watch streams: before the
    /// stream starts).
    pub fn set_latency(&self, d: Duration) {
        *lock(&self.shared.latency) = d;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Scripts what `argv` run in `pod`'s `container` prints and how it exits (replacing an
    /// earlier script: a test may flip it while a client polls). Unscripted commands fail as a
    /// binary missing from the image does.
    pub fn script_exec(&self, pod: &str, container: &str, argv: &[&str], script: exec::ExecScript) {
        lock(&self.shared.exec)
            .scripts
            .insert(exec::key(pod, container, argv), script);
    }

    /// While on, every exec is refused with 403 Forbidden (no `create` on `pods/exec`).
    pub fn set_exec_forbidden(&self, on: bool) {
        lock(&self.shared.exec).forbidden = on;
    }

    /// The most execs that ran at once on this server so far.
    pub fn max_concurrent_execs(&self) -> usize {
        lock(&self.shared.exec).max_running
    }

    /// Every exec received so far (after the authorization check), in arrival order.
    pub fn exec_calls(&self) -> Vec<exec::ExecCall> {
        lock(&self.shared.exec).calls.clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.shared.hang.send_replace(false);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accept loop; returns on shutdown, after which the runtime (and every
/// connection task) is dropped.
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| server::handle(shared.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        }
    }
}

/// Expands `kind: List` documents into their items; drops null documents.
fn expand_lists(doc: Value) -> Vec<Value> {
    if doc.is_null() {
        return vec![];
    }
    if doc["kind"].as_str().is_some_and(|k| k.ends_with("List"))
        && let Some(items) = doc["items"].as_array()
    {
        return items.iter().cloned().flat_map(expand_lists).collect();
    }
    vec![doc]
}

fn seed_one(st: &mut State, mut doc: Value) -> Result<Value, String> {
    let av = doc["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = doc["kind"].as_str().unwrap_or("").to_string();
    if av.is_empty() || kind.is_empty() {
        return Err(format!("document without apiVersion/kind: {doc}"));
    }
    let rt = match st.registry.by_kind(&av, &kind) {
        Some(rt) => rt.clone(),
        None => {
            let namespaced = !doc["metadata"]["namespace"].is_null();
            let rt = ResourceType::generic(&av, &kind, namespaced);
            st.registry.register(rt.clone());
            rt
        }
    };
    let ns = match doc["metadata"]["namespace"].as_str() {
        Some(ns) if rt.namespaced => ns.to_string(),
        _ if rt.namespaced => "default".to_string(),
        _ => String::new(),
    };
    if let Some(m) = doc["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    let name = doc["metadata"]["name"].as_str().unwrap_or("").to_string();
    let o = WriteOpts {
        seed: true,
        ..Default::default()
    };
    let res = if !name.is_empty() && st.get(&rt, &ns, &name).is_some() {
        st.update(&rt, &ns, &name, doc, o)
    } else {
        st.create(&rt, &ns, doc, o)
    };
    res.map_err(|e| format!("{} {name}: {}", kind, e.message))
}

/// Writes a kubeconfig with one cluster, user (no credentials) and context
/// per `(context name, server url)`. `current` sets `current-context`
/// (omitted when `None`).
pub fn write_kubeconfig(path: &Path, contexts: &[(&str, &str)], current: Option<&str>) {
    let q = |s: &str| json!(s).to_string();
    let mut y = String::from("apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n");
    for (name, url) in contexts {
        y += &format!("- name: {}\n  cluster:\n    server: {}\n", q(name), q(url));
    }
    y += "users:\n";
    for (name, _) in contexts {
        y += &format!("- name: {}\n  user: {{}}\n", q(name));
    }
    y += "contexts:\n";
    for (name, _) in contexts {
        y += &format!(
            "- name: {n}\n  context:\n    cluster: {n}\n    user: {n}\n",
            n = q(name)
        );
    }
    if contexts.is_empty() {
        y = y
            .replace("clusters:\n", "clusters: []\n")
            .replace("users:\n", "users: []\n")
            .replace("contexts:\n", "contexts: []\n");
    }
    if let Some(c) = current {
        y += &format!("current-context: {}\n", q(c));
    }
    std::fs::write(path, y).unwrap_or_else(|e| panic!("write kubeconfig {}: {e}", path.display()));
}
