//! HTTP layer: routing, request parsing, responses, watch streams.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::RecordedRequest;
use crate::discovery;
use crate::error::ApiError;
use crate::patch;
use crate::protobuf;
use crate::registry::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::{Filter, Preconditions, State, WriteOpts, serve_as};
use crate::table;
use crate::util;

/// Recorded requests kept; the older half is dropped when full.
const MAX_RECORDED: usize = 100_000;

/// Response body: a full buffer or a watch stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// State shared by the server thread and the [`crate::ApiServer`] handle.
pub struct Shared {
    /// The store.
    pub state: Mutex<State>,
    /// Latest resource version, to wake watchers.
    pub rv_tx: watch::Sender<u64>,
    /// Hang switch.
    pub hang: watch::Sender<bool>,
    /// Successful non-dry-run mutating requests.
    pub writes: AtomicU64,
    /// Injected failures: (remaining count, status code).
    pub fail: Mutex<(u32, u16)>,
    /// Delay added to every response.
    pub latency: Mutex<Duration>,
    /// Every request received.
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Bound address.
    pub addr: SocketAddr,
    /// Scripts and switches of the `pods/exec` subresource.
    pub exec: Mutex<crate::exec::ExecState>,
}

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Wakes watchers after a change.
    pub fn notify(&self) {
        let rv = lock(&self.state).rv;
        self.rv_tx.send_replace(rv);
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// An empty body (the 101 of a WebSocket upgrade).
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

pub(crate) fn json_response(code: u16, v: &Value) -> Response<Body> {
    json_response_as(code, v, "application/json")
}

fn json_response_as(code: u16, v: &Value, content_type: &str) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).expect("json")));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("content type"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

/// Serves one HTTP request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    {
        let mut requests = lock(&shared.requests);
        if requests.len() >= MAX_RECORDED {
            requests.drain(..MAX_RECORDED / 2);
        }
        requests.push(RecordedRequest {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or("").to_string(),
            content_type,
        });
    }
    let mut hang = shared.hang.subscribe();
    while *hang.borrow_and_update() {
        if hang.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
    let latency = *lock(&shared.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // The exec subresource upgrades the connection: served before any body is read.
    if let Some((ns, pod)) = crate::exec::exec_target(req.uri().path()) {
        return Ok(crate::exec::serve(&shared, req, ns, pod));
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading body: {e}"
            ))));
        }
    };
    Ok(route(&shared, &parts, body))
}

/// Decoded query parameters.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
    fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

/// A request for a resource path.
struct ResourceReq<'a> {
    group: &'a str,
    version: &'a str,
    plural: &'a str,
    ns: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn route(shared: &Arc<Shared>, parts: &Parts, body: Bytes) -> Response<Body> {
    let path = parts.uri.path();
    let params = Params(util::parse_query(parts.uri.query()));
    let accept = parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = parts.method == Method::GET;
    match segs.as_slice() {
        ["version"] if get => json_response(200, &discovery::version()),
        ["healthz" | "livez" | "readyz"] if get => {
            let mut r = Response::new(full("ok"));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        ["api"] if get => match aggregated_version(accept) {
            Some(v) => aggregated_response(shared, true, v),
            None => json_response(200, &discovery::api_versions(&shared.addr.to_string())),
        },
        ["apis"] if get => match aggregated_version(accept) {
            Some(v) => aggregated_response(shared, false, v),
            None => json_response(
                200,
                &discovery::api_group_list(&lock(&shared.state).registry),
            ),
        },
        ["api", "v1"] if get => {
            let st = lock(&shared.state);
            json_or_404(discovery::resource_list(&st.registry, "", "v1"))
        }
        ["apis", g] if get => json_or_404(discovery::api_group(&lock(&shared.state).registry, g)),
        ["apis", g, v] if get => json_or_404(discovery::resource_list(
            &lock(&shared.state).registry,
            g,
            v,
        )),
        ["openapi", "v3"] if get => json_response(
            200,
            &discovery::openapi_v3_index(&lock(&shared.state).registry),
        ),
        ["openapi", "v3", "api", v] if get => json_or_404(discovery::openapi_v3_gv(
            &lock(&shared.state).registry,
            "",
            v,
        )),
        ["openapi", "v3", "apis", g, v] if get => json_or_404(discovery::openapi_v3_gv(
            &lock(&shared.state).registry,
            g,
            v,
        )),
        ["api", "v1", rest @ ..] => resource_path(shared, parts, &params, "", "v1", rest, body),
        ["apis", g, v, rest @ ..] => resource_path(shared, parts, &params, g, v, rest, body),
        _ => error_response(&ApiError::no_route()),
    }
}

fn json_or_404(v: Option<Value>) -> Response<Body> {
    match v {
        Some(v) => json_response(200, &v),
        None => error_response(&ApiError::no_route()),
    }
}

/// The aggregated discovery version asked for in `Accept`, if any.
fn aggregated_version(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let p: String = part.chars().filter(|c| !c.is_whitespace()).collect();
        if p.contains("g=apidiscovery.k8s.io") && p.contains("as=APIGroupDiscoveryList") {
            if p.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if p.contains("v=v2") {
                return Some("v2");
            }
        }
    }
    None
}

fn aggregated_response(shared: &Shared, core: bool, v: &str) -> Response<Body> {
    let doc = discovery::aggregated(
        &lock(&shared.state).registry,
        core,
        &format!("apidiscovery.k8s.io/{v}"),
    );
    json_response_as(
        200,
        &doc,
        &format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"),
    )
}

fn resource_path(
    shared: &Arc<Shared>,
    parts: &Parts,
    params: &Params,
    group: &str,
    version: &str,
    rest: &[&str],
    body: Bytes,
) -> Response<Body> {
    let namespaced_form = rest.len() >= 3
        && rest[0] == "namespaces"
        && lock(&shared.state)
            .registry
            .by_plural(group, version, rest[2])
            .is_some();
    let req = if namespaced_form {
        if rest.len() > 5 {
            return error_response(&ApiError::no_route());
        }
        ResourceReq {
            group,
            version,
            plural: rest[2],
            ns: Some(rest[1]),
            name: rest.get(3).copied(),
            sub: rest.get(4).copied(),
        }
    } else {
        if rest.is_empty() || rest.len() > 3 {
            return error_response(&ApiError::no_route());
        }
        ResourceReq {
            group,
            version,
            plural: rest[0],
            ns: None,
            name: rest.get(1).copied(),
            sub: rest.get(2).copied(),
        }
    };
    let found = lock(&shared.state)
        .registry
        .by_plural(req.group, req.version, req.plural)
        .cloned();
    let Some(rt) = found else {
        return error_response(&ApiError::no_route());
    };
    if (req.ns.is_some() && !rt.namespaced)
        || (req.ns.is_none() && rt.namespaced && req.name.is_some())
        || req.sub.is_some_and(|s| s != "status" || !rt.status)
    {
        return error_response(&ApiError::no_route());
    }
    match handle_resource(shared, parts, params, &rt, &req, body) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn parse_body(rt: &ResourceType, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if content_type.contains("cbor") {
        return Err(ApiError::unsupported_media(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"
        )));
    }
    let v: Value = if content_type.contains("protobuf") {
        protobuf::decode(body).map_err(ApiError::unsupported_media)?
    } else if content_type.contains("yaml") {
        let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        serde_saphyr::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                rt.kind, rt.version, rt.kind
            ))
        })?
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was in an unknown format",
        ));
    }
    Ok(v)
}

fn handle_resource(
    shared: &Arc<Shared>,
    parts: &Parts,
    params: &Params,
    rt: &ResourceType,
    req: &ResourceReq,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let ns = req.ns.unwrap_or("");
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let dry_run = params.dry_run()
        || (parts.method == Method::DELETE
            && serde_json::from_slice::<Value>(&body).is_ok_and(|opts| {
                opts["dryRun"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == "All"))
            }));
    let o = WriteOpts {
        dry_run,
        seed: false,
        status: req.sub == Some("status"),
    };
    let method = &parts.method;
    let accept = parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let as_table = table::wanted(accept);
    if *method == Method::GET {
        return match req.name {
            Some(name) => {
                let st = lock(&shared.state);
                match st.get(rt, ns, name) {
                    Some(obj) if as_table => Ok(json_response(
                        200,
                        &table::render(
                            rt,
                            &[serve_as(rt, obj.clone())],
                            None,
                            params.get("includeObject"),
                        ),
                    )),
                    Some(obj) => Ok(json_response(200, &serve_as(rt, obj.clone()))),
                    None => Err(ApiError::not_found(rt, name)),
                }
            }
            None => {
                let filter = Filter {
                    ns: req.ns.map(str::to_string),
                    labels: LabelSelector::parse(params.get("labelSelector").unwrap_or(""))
                        .map_err(ApiError::bad_request)?,
                    fields: FieldSelector::parse(
                        params.get("fieldSelector").unwrap_or(""),
                        &rt.kind,
                        rt.custom,
                    )
                    .map_err(ApiError::bad_request)?,
                };
                if params.flag("watch") {
                    Ok(start_watch(shared, rt, filter, params, as_table))
                } else {
                    list(shared, rt, &filter, params, as_table)
                }
            }
        };
    }
    if ![Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
        || (*method == Method::POST && req.name.is_some())
        || (*method != Method::POST && *method != Method::DELETE && req.name.is_none())
        || (req.name.is_none() && req.ns.is_none() && rt.namespaced)
    {
        return Err(ApiError::method_not_allowed());
    }
    // Mutating request from here on.
    {
        let mut f = lock(&shared.fail);
        if f.0 > 0 {
            f.0 -= 1;
            let body_name = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b["metadata"]["name"].as_str().map(str::to_string));
            let name = req
                .name
                .map(str::to_string)
                .or(body_name)
                .unwrap_or_default();
            return Err(ApiError::injected(f.1, Some(rt), &name));
        }
    }
    let result = mutate(shared, parts, params, rt, req, ns, &content_type, o, body);
    if result.is_ok() && !dry_run {
        shared.writes.fetch_add(1, Ordering::SeqCst);
        shared.notify();
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn mutate(
    shared: &Arc<Shared>,
    parts: &Parts,
    params: &Params,
    rt: &ResourceType,
    req: &ResourceReq,
    ns: &str,
    content_type: &str,
    o: WriteOpts,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let method = &parts.method;
    if *method == Method::POST {
        let obj = parse_body(rt, content_type, &body)?;
        let created = lock(&shared.state).create(rt, ns, obj, o)?;
        return Ok(json_response(201, &created));
    }
    if *method == Method::PUT {
        let name = req.name.expect("name");
        let obj = parse_body(rt, content_type, &body)?;
        let updated = lock(&shared.state).update(rt, ns, name, obj, o)?;
        return Ok(json_response(200, &updated));
    }
    if *method == Method::DELETE {
        // DeleteOptions; a non-JSON (protobuf) body is ignored.
        let opts: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
        let pre = Preconditions {
            uid: opts["preconditions"]["uid"].as_str().map(str::to_string),
            resource_version: opts["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
        };
        let mut st = lock(&shared.state);
        return match req.name {
            Some(name) => Ok(json_response(
                200,
                &st.delete(rt, ns, name, &pre, o.dry_run)?,
            )),
            None => {
                let filter = Filter {
                    ns: req.ns.map(str::to_string),
                    labels: LabelSelector::parse(params.get("labelSelector").unwrap_or(""))
                        .map_err(ApiError::bad_request)?,
                    fields: FieldSelector::parse(
                        params.get("fieldSelector").unwrap_or(""),
                        &rt.kind,
                        rt.custom,
                    )
                    .map_err(ApiError::bad_request)?,
                };
                let (items, _) = st.list(rt, &filter, None, None);
                let mut deleted = Vec::new();
                for item in items {
                    let iname = item["metadata"]["name"].as_str().unwrap_or("").to_string();
                    let ins = item["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    deleted.push(st.delete(
                        rt,
                        &ins,
                        &iname,
                        &Preconditions::default(),
                        o.dry_run,
                    )?);
                }
                Ok(json_response(200, &list_doc(rt, deleted, st.rv, None)))
            }
        };
    }
    // PATCH
    let name = req.name.expect("name");
    let base = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if base == "application/apply-patch+yaml" || base == "application/apply-patch+json" {
        let manager = params.get("fieldManager").unwrap_or("");
        if manager.is_empty() {
            return Err(ApiError::invalid(
                rt,
                "",
                "fieldManager",
                "",
                "Required value: is required for apply patch",
            ));
        }
        let applied = parse_body(rt, "application/yaml", &body)?;
        let (obj, created) = lock(&shared.state).apply(rt, ns, name, applied, manager, o)?;
        return Ok(json_response(if created { 201 } else { 200 }, &obj));
    }
    let patch_doc: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let mut st = lock(&shared.state);
    let Some(mut obj) = st.get(rt, ns, name).cloned() else {
        return Err(ApiError::not_found(rt, name));
    };
    obj = serve_as(rt, obj);
    match base.as_str() {
        "application/merge-patch+json" => patch::merge_patch(&mut obj, &patch_doc),
        "application/json-patch+json" => {
            patch::json_patch(&mut obj, &patch_doc).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: e,
                details: Value::Null,
            })?
        }
        "application/strategic-merge-patch+json" if !rt.custom => {
            patch::strategic_merge(&mut obj, &patch_doc, &rt.kind).map_err(ApiError::bad_request)?
        }
        _ => {
            return Err(ApiError::unsupported_media(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
    }
    let updated = st.update(rt, ns, name, obj, o)?;
    Ok(json_response(200, &updated))
}

fn list_doc(rt: &ResourceType, items: Vec<Value>, rv: u64, cont: Option<String>) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            if !rt.custom
                && let Some(m) = i.as_object_mut()
            {
                m.remove("apiVersion");
                m.remove("kind");
            }
            i
        })
        .collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": items,
    })
}

fn list(
    shared: &Shared,
    rt: &ResourceType,
    filter: &Filter,
    params: &Params,
    as_table: bool,
) -> Result<Response<Body>, ApiError> {
    let after = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let decoded =
                util::unhex(c).ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            let (ns, name) = decoded
                .split_once('\0')
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            Some((ns.to_string(), name.to_string()))
        }
        None => None,
    };
    let limit = params.get("limit").and_then(|l| l.parse().ok());
    let st = lock(&shared.state);
    let (items, next) = st.list(rt, filter, after.as_ref(), limit);
    let cont = next.map(|(ns, name)| util::hex(&format!("{ns}\0{name}")));
    if as_table {
        let mut t = table::render(rt, &items, Some(st.rv), params.get("includeObject"));
        if let Some(c) = cont {
            t["metadata"]["continue"] = json!(c);
        }
        return Ok(json_response(200, &t));
    }
    Ok(json_response(200, &list_doc(rt, items, st.rv, cont)))
}

/// Streams a channel of byte chunks as a response body.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("json");
    line.push(b'\n');
    Bytes::from(line)
}

fn start_watch(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    filter: Filter,
    params: &Params,
    as_table: bool,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let rv_param = params.get("resourceVersion").unwrap_or("").to_string();
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let send_initial = params.get("sendInitialEvents").map(|v| v == "true");
    let bookmarks = params.flag("allowWatchBookmarks");
    let shared = shared.clone();
    let rt = rt.clone();
    // Snapshot the starting point synchronously so no change is missed.
    let mut rx_rv = shared.rv_tx.subscribe();
    let (initial, start_rv) = {
        let st = lock(&shared.state);
        let initial = send_initial.unwrap_or(rv_param.is_empty() || rv_param == "0");
        let items = if initial {
            st.list(&rt, &filter, None, None).0
        } else {
            vec![]
        };
        let start = if rv_param.is_empty() || rv_param == "0" || send_initial == Some(true) {
            st.rv
        } else {
            rv_param.parse().unwrap_or(st.rv)
        };
        (items, start)
    };
    let include = params.get("includeObject").map(str::to_string);
    let table_rt = rt.clone();
    // Watches asked for as Table get one-row Tables, like the real server.
    let wrap = move |obj: Value| -> Value {
        if as_table {
            table::render(&table_rt, &[obj], None, include.as_deref())
        } else {
            obj
        }
    };
    tokio::spawn(async move {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        for obj in initial {
            if tx.send(event_line("ADDED", &wrap(obj))).await.is_err() {
                return;
            }
        }
        if send_initial == Some(true) && bookmarks {
            let bm = json!({
                "kind": rt.kind,
                "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": start_rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}},
            });
            if tx.send(event_line("BOOKMARK", &bm)).await.is_err() {
                return;
            }
        }
        let mut last = start_rv;
        loop {
            // Mark the current version seen before reading, so a later change wakes us.
            rx_rv.borrow_and_update();
            let (batch, now_rv) = {
                let st = lock(&shared.state);
                (st.events_since(&rt, last, &filter), st.rv)
            };
            match batch {
                Err(oldest) => {
                    let status = json!({
                        "kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure",
                        "message": format!("too old resource version: {last} ({oldest})"),
                        "reason": "Expired", "code": 410,
                    });
                    let _ = tx.send(event_line("ERROR", &status)).await;
                    return;
                }
                Ok(events) => {
                    for (kind, obj, _) in events {
                        if tx
                            .send(event_line(kind.as_str(), &wrap(obj)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    last = last.max(now_rv);
                }
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = rx_rv.changed() => if changed.is_err() { return },
                _ = sleep => return,
                _ = tx.closed() => return,
            }
        }
    });
    let mut r = Response::new(ChannelBody(rx).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
