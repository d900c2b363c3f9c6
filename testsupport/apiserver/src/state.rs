//! The object store and the write semantics shared by HTTP handlers and the
//! library API: create/update/patch/apply/delete, resource versions,
//! validation, defaulting and the watch event history.

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::patch;
use crate::registry::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::util;

/// Maximum number of watch events kept for `resourceVersion` replays.
const HISTORY: usize = 10_000;

/// Watch event type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventType {
    /// Object created (or entered a selector).
    Added,
    /// Object changed.
    Modified,
    /// Object deleted (or left a selector).
    Deleted,
}

impl EventType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One recorded change.
#[derive(Clone, Debug)]
pub struct Event {
    rv: u64,
    group: String,
    plural: String,
    ns: String,
    kind: EventType,
    object: Value,
    prev: Option<Value>,
}

/// Options of one write.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOpts {
    /// `dryRun=All`: validate and return the would-be object, store nothing.
    pub dry_run: bool,
    /// Written by `seed_yaml`: keeps `status`, creates missing namespaces.
    pub seed: bool,
    /// Targets the `status` subresource.
    pub status: bool,
}

/// Preconditions of a DELETE.
#[derive(Clone, Debug, Default)]
pub struct Preconditions {
    /// Required `metadata.uid`.
    pub uid: Option<String>,
    /// Required `metadata.resourceVersion`.
    pub resource_version: Option<String>,
}

/// Filter of a list or watch.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Namespace, or all when `None`.
    pub ns: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Filter {
    fn matches(&self, ns: &str, obj: &Value) -> bool {
        self.ns.as_deref().is_none_or(|n| n == ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }
}

type Collection = BTreeMap<(String, String), Value>;
type AppliedKey = (String, String, String, String, String, bool);

/// Everything an instance stores, behind one mutex.
pub struct State {
    /// Served resource types.
    pub registry: Registry,
    objects: HashMap<(String, String), Collection>,
    /// Latest resource version handed out.
    pub rv: u64,
    events: VecDeque<Event>,
    dropped_rv: u64,
    applied: HashMap<AppliedKey, Value>,
    next_ip: u32,
    next_node_port: u32,
}

fn meta(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().expect("metadata object")
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

/// Everything except metadata and status: a change bumps `generation`.
fn spec_part(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets `apiVersion`/`kind` to the served version (storage is shared by versions).
pub fn serve_as(rt: &ResourceType, mut obj: Value) -> Value {
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
    }
    obj
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// A store holding the default namespaces only.
    pub fn new() -> State {
        let mut s = State {
            registry: Registry::builtin(),
            objects: HashMap::new(),
            rv: 0,
            events: VecDeque::new(),
            dropped_rv: 0,
            applied: HashMap::new(),
            next_ip: 10,
            next_node_port: 30000,
        };
        let ns_rt = s
            .registry
            .by_kind("v1", "Namespace")
            .expect("builtin")
            .clone();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            s.create(
                &ns_rt,
                "",
                obj,
                WriteOpts {
                    seed: true,
                    ..Default::default()
                },
            )
            .expect("default namespace");
        }
        s
    }

    fn coll_key(rt: &ResourceType) -> (String, String) {
        (rt.group.clone(), rt.plural.clone())
    }

    /// Namespace part of the storage key (empty for cluster-scoped kinds).
    fn key_ns<'a>(rt: &ResourceType, ns: &'a str) -> &'a str {
        if rt.namespaced { ns } else { "" }
    }

    /// One stored object (as stored; use [`serve_as`] before answering).
    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&Self::coll_key(rt))?
            .get(&(Self::key_ns(rt, ns).to_string(), name.to_string()))
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.objects
            .get(&(String::new(), "namespaces".to_string()))
            .is_some_and(|c| c.contains_key(&(String::new(), ns.to_string())))
    }

    /// Objects matching `filter`, ordered by namespace and name, starting
    /// after `after` and at most `limit` of them. Returns the items and the
    /// key of the last one when more remain.
    pub fn list(
        &self,
        rt: &ResourceType,
        filter: &Filter,
        after: Option<&(String, String)>,
        limit: Option<usize>,
    ) -> (Vec<Value>, Option<(String, String)>) {
        let mut items = Vec::new();
        let Some(coll) = self.objects.get(&Self::coll_key(rt)) else {
            return (items, None);
        };
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let iter: Box<dyn Iterator<Item = (&(String, String), &Value)>> = match after {
            Some(a) => Box::new(coll.range::<(String, String), _>((
                std::ops::Bound::Excluded(a.clone()),
                std::ops::Bound::Unbounded,
            ))),
            None => Box::new(coll.iter()),
        };
        for (key, obj) in iter {
            if !filter.matches(&key.0, obj) {
                continue;
            }
            if items.len() == limit {
                let last = items.last().map(|o: &Value| {
                    (
                        meta_str(o, "namespace").to_string(),
                        meta_str(o, "name").to_string(),
                    )
                });
                return (
                    items,
                    last.map(|(ns, n)| (Self::key_ns(rt, &ns).to_string(), n)),
                );
            }
            items.push(serve_as(rt, obj.clone()));
        }
        (items, None)
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        kind: EventType,
        object: Value,
        prev: Option<Value>,
    ) {
        if self.events.len() >= HISTORY
            && let Some(e) = self.events.pop_front()
        {
            self.dropped_rv = e.rv;
        }
        self.events.push_back(Event {
            rv: self.rv,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            ns: ns.to_string(),
            kind,
            object,
            prev,
        });
    }

    /// Events for `rt` after `after_rv` matching `filter`, as (type, object, rv),
    /// translated for selectors (an object leaving the selector is DELETED).
    /// `Err(oldest)` when history no longer reaches back to `after_rv`.
    pub fn events_since(
        &self,
        rt: &ResourceType,
        after_rv: u64,
        filter: &Filter,
    ) -> Result<Vec<(EventType, Value, u64)>, u64> {
        if after_rv < self.dropped_rv {
            return Err(self.dropped_rv + 1);
        }
        let start = self.events.partition_point(|e| e.rv <= after_rv);
        let mut out = Vec::new();
        for e in self.events.range(start..) {
            if e.group != rt.group || e.plural != rt.plural {
                continue;
            }
            let now = filter.matches(&e.ns, &e.object);
            let before = e.prev.as_ref().is_some_and(|p| filter.matches(&e.ns, p));
            let kind = match (e.kind, before, now) {
                (EventType::Modified, true, true) => EventType::Modified,
                (EventType::Modified, false, true) => EventType::Added,
                (EventType::Modified, true, false) => EventType::Deleted,
                (EventType::Modified, false, false) => continue,
                (k, _, true) => k,
                (_, _, false) => continue,
            };
            out.push((kind, serve_as(rt, e.object.clone()), e.rv));
        }
        Ok(out)
    }

    fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
        let Some(m) = obj.as_object_mut() else {
            return Err(ApiError::bad_request(
                "the body of the request was in an unknown format",
            ));
        };
        let want = rt.api_version();
        match m.get("apiVersion").and_then(Value::as_str) {
            Some(av) if av != want && crate::registry::split_api_version(av).0 != rt.group => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({want})"
                )));
            }
            _ => {}
        }
        match m.get("kind").and_then(Value::as_str) {
            Some(k) if k != rt.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
            _ => {}
        }
        m.insert("apiVersion".into(), json!(want));
        m.insert("kind".into(), json!(rt.kind));
        Ok(())
    }

    fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
        let res = match rt.kind.as_str() {
            "Namespace" | "Service" => util::check_dns1123_label(name),
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
                util::check_path_segment(name)
            }
            _ if rt.custom => util::check_path_segment(name),
            _ => util::check_dns1123_subdomain(name),
        };
        res.map_err(|why| ApiError::invalid(rt, name, "metadata.name", name, &why))
    }

    /// Type checks and validation that the real server applies to every write.
    fn validate(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
        let name = meta_str(obj, "name").to_string();
        for field in ["labels", "annotations"] {
            match &obj["metadata"][field] {
                Value::Null => {}
                Value::Object(m) => {
                    for (k, v) in m {
                        let Some(v) = v.as_str() else {
                            return Err(ApiError::decode(
                                rt,
                                &format!(
                                    "json: cannot unmarshal {} into Go struct field ObjectMeta.metadata.{field} of type string",
                                    json_type(v)
                                ),
                            ));
                        };
                        util::check_qualified_name(k).map_err(|why| {
                            ApiError::invalid(rt, &name, &format!("metadata.{field}"), k, &why)
                        })?;
                        if field == "labels" {
                            util::check_label_value(v).map_err(|why| {
                                ApiError::invalid(rt, &name, "metadata.labels", v, &why)
                            })?;
                        }
                    }
                }
                other => {
                    return Err(ApiError::decode(
                        rt,
                        &format!(
                            "json: cannot unmarshal {} into Go struct field ObjectMeta.metadata.{field} of type map[string]string",
                            json_type(other)
                        ),
                    ));
                }
            }
        }
        if !rt.group.is_empty() || !matches!(rt.kind.as_str(), "ConfigMap" | "Secret") {
            return Ok(());
        }
        if rt.kind == "Secret" {
            if let Some(Value::Object(sd)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                for (k, v) in sd {
                    let Some(s) = v.as_str() else {
                        return Err(ApiError::decode(
                            rt,
                            &format!(
                                "json: cannot unmarshal {} into Go struct field Secret.stringData of type string",
                                json_type(&v)
                            ),
                        ));
                    };
                    if !obj["data"].is_object() {
                        obj["data"] = json!({});
                    }
                    obj["data"][k] = json!(B64.encode(s));
                }
            }
            if obj["type"].is_null() {
                obj["type"] = json!("Opaque");
            }
        }
        let binary_fields: &[&str] = if rt.kind == "Secret" {
            &["data"]
        } else {
            &["binaryData"]
        };
        for field in ["data", "binaryData"] {
            let Some(m) = obj[field].as_object() else {
                if !obj[field].is_null() {
                    return Err(ApiError::decode(
                        rt,
                        &format!(
                            "json: cannot unmarshal {} into Go struct field {}.{field} of type map",
                            json_type(&obj[field]),
                            rt.kind
                        ),
                    ));
                }
                continue;
            };
            for (k, v) in m {
                let Some(s) = v.as_str() else {
                    return Err(ApiError::decode(
                        rt,
                        &format!(
                            "json: cannot unmarshal {} into Go struct field {}.{field} of type string",
                            json_type(v),
                            rt.kind
                        ),
                    ));
                };
                if binary_fields.contains(&field) && B64.decode(s).is_err() {
                    return Err(ApiError::decode(rt, "illegal base64 data at input byte 0"));
                }
                util::check_config_key(k).map_err(|why| {
                    ApiError::invalid(rt, &name, &format!("{field}[{k}]"), k, &why)
                })?;
            }
        }
        Ok(())
    }

    /// Server-side defaulting and allocation for a few kinds.
    fn default_fields(&mut self, rt: &ResourceType, obj: &mut Value, old: Option<&Value>) {
        if !rt.group.is_empty() {
            return;
        }
        match rt.kind.as_str() {
            "Namespace" => {
                let name = meta_str(obj, "name").to_string();
                let m = meta(obj);
                if !m.get("labels").is_some_and(Value::is_object) {
                    m.insert("labels".into(), json!({}));
                }
                m["labels"]["kubernetes.io/metadata.name"] = json!(name);
                if obj["spec"]["finalizers"].is_null() {
                    obj["spec"]["finalizers"] = json!(["kubernetes"]);
                }
                if obj["status"]["phase"].is_null() {
                    obj["status"]["phase"] = json!("Active");
                }
            }
            "Service" => self.default_service(obj, old),
            _ => {}
        }
    }

    fn default_service(&mut self, obj: &mut Value, old: Option<&Value>) {
        if !obj["spec"].is_object() {
            obj["spec"] = json!({});
        }
        let spec = obj["spec"].as_object_mut().expect("spec");
        if let Some(old_spec) = old.and_then(|o| o["spec"].as_object()) {
            for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                if spec.get(k).is_none_or(Value::is_null)
                    && let Some(v) = old_spec.get(k)
                {
                    spec.insert(k.into(), v.clone());
                }
            }
            if let (Some(Value::Array(ports)), Some(Value::Array(old_ports))) =
                (spec.get_mut("ports"), old_spec.get("ports"))
            {
                for p in ports.iter_mut() {
                    if p["nodePort"].is_null()
                        && let Some(op) = old_ports.iter().find(|op| op["port"] == p["port"])
                        && !op["nodePort"].is_null()
                    {
                        p["nodePort"] = op["nodePort"].clone();
                    }
                }
            }
        }
        let ty = spec
            .entry("type")
            .or_insert_with(|| json!("ClusterIP"))
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        if ty != "ExternalName" {
            if spec
                .get("clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                let n = self.next_ip;
                self.next_ip += 1;
                spec.insert(
                    "clusterIP".into(),
                    json!(format!("10.96.{}.{}", n / 256 % 256, n % 256)),
                );
            }
            if spec.get("clusterIPs").is_none_or(Value::is_null) {
                let ip = spec["clusterIP"].clone();
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
            spec.entry("ipFamilyPolicy")
                .or_insert_with(|| json!("SingleStack"));
            spec.entry("internalTrafficPolicy")
                .or_insert_with(|| json!("Cluster"));
        }
        spec.entry("sessionAffinity")
            .or_insert_with(|| json!("None"));
        let node_ports = ty == "NodePort" || ty == "LoadBalancer";
        if node_ports {
            spec.entry("externalTrafficPolicy")
                .or_insert_with(|| json!("Cluster"));
        }
        if let Some(Value::Array(ports)) = spec.get_mut("ports") {
            for p in ports.iter_mut().filter(|p| p.is_object()) {
                if p["protocol"].is_null() {
                    p["protocol"] = json!("TCP");
                }
                if p["targetPort"].is_null() {
                    p["targetPort"] = p["port"].clone();
                }
                if node_ports && p["nodePort"].is_null() {
                    p["nodePort"] = json!(self.next_node_port);
                    self.next_node_port += 1;
                }
            }
        }
    }

    /// Creates an object (POST, apply-create, seed).
    pub fn create(
        &mut self,
        rt: &ResourceType,
        url_ns: &str,
        mut obj: Value,
        o: WriteOpts,
    ) -> Result<Value, ApiError> {
        Self::check_type(rt, &mut obj)?;
        let body_ns = meta_str(&obj, "namespace").to_string();
        let ns = if rt.namespaced {
            if !body_ns.is_empty() && !url_ns.is_empty() && body_ns != url_ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            let ns = [url_ns, body_ns.as_str(), "default"]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("default")
                .to_string();
            meta(&mut obj).insert("namespace".into(), json!(ns));
            ns
        } else {
            meta(&mut obj).remove("namespace");
            String::new()
        };
        let mut name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            let generate = meta_str(&obj, "generateName").to_string();
            if generate.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name",
                    "",
                    "Required value: name or generateName is required",
                ));
            }
            name = format!("{generate}{}", util::name_suffix());
            meta(&mut obj).insert("name".into(), json!(name));
        }
        Self::validate_name(rt, &name)?;
        Self::validate(rt, &mut obj)?;
        if rt.namespaced && !self.namespace_exists(&ns) {
            if o.seed && !o.dry_run {
                let ns_rt = self
                    .registry
                    .by_kind("v1", "Namespace")
                    .expect("builtin")
                    .clone();
                let ns_obj =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                self.create(&ns_rt, "", ns_obj, o)?;
            } else {
                return Err(ApiError::namespace_not_found(&ns));
            }
        }
        if self.get(rt, &ns, &name).is_some() {
            return Err(ApiError::already_exists(rt, &name));
        }
        if !o.seed && !meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError::internal(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let now = util::now_rfc3339();
        {
            let m = meta(&mut obj);
            m.remove("selfLink");
            if !o.seed
                || m.get("uid")
                    .is_none_or(|u| u.as_str().unwrap_or("").is_empty())
            {
                m.insert("uid".into(), json!(util::new_uid()));
            }
            if !o.seed || m.get("creationTimestamp").is_none_or(Value::is_null) {
                m.insert("creationTimestamp".into(), json!(now));
            }
            if !o.seed {
                m.remove("deletionTimestamp");
                m.remove("deletionGracePeriodSeconds");
            }
            m.remove("resourceVersion");
            if rt.tracks_generation() {
                m.insert("generation".into(), json!(1));
            }
        }
        if rt.status && !o.seed {
            obj.as_object_mut().expect("object").remove("status");
        }
        self.default_fields(rt, &mut obj, None);
        if o.dry_run {
            return Ok(serve_as(rt, obj));
        }
        let rv = self.next_rv();
        meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects
            .entry(Self::coll_key(rt))
            .or_default()
            .insert((ns.clone(), name), obj.clone());
        self.emit(rt, &ns, EventType::Added, obj.clone(), None);
        self.after_write(rt, &obj);
        Ok(serve_as(rt, obj))
    }

    fn after_write(&mut self, rt: &ResourceType, obj: &Value) {
        if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
            for t in Registry::from_crd(obj) {
                self.registry.register(t);
            }
        }
    }

    /// Replaces an existing object (PUT, and the tail of patch/apply).
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut new: Value,
        o: WriteOpts,
    ) -> Result<Value, ApiError> {
        let ns = Self::key_ns(rt, ns).to_string();
        let Some(old) = self.get(rt, &ns, name).cloned() else {
            return Err(ApiError::not_found(rt, name));
        };
        Self::check_type(rt, &mut new)?;
        let body_name = meta_str(&new, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = meta_str(&new, "namespace");
        if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let old_rv = meta_str(&old, "resourceVersion").to_string();
        let want_rv = meta_str(&new, "resourceVersion");
        if !want_rv.is_empty() && want_rv != old_rv {
            return Err(ApiError::stale(rt, name));
        }
        let mut result = if o.status {
            let mut r = old.clone();
            match new.get("status") {
                Some(s) => r["status"] = s.clone(),
                None => {
                    r.as_object_mut().expect("object").remove("status");
                }
            }
            r
        } else {
            let mut r = new;
            {
                let m = meta(&mut r);
                m.insert("name".into(), json!(name));
                if rt.namespaced {
                    m.insert("namespace".into(), json!(ns));
                } else {
                    m.remove("namespace");
                }
                for k in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                ] {
                    match old["metadata"].get(k) {
                        Some(v) => m.insert(k.into(), v.clone()),
                        None => m.remove(k),
                    };
                }
                m.remove("selfLink");
            }
            if rt.status && !o.seed {
                match old.get("status") {
                    Some(s) => r["status"] = s.clone(),
                    None => {
                        r.as_object_mut().expect("object").remove("status");
                    }
                }
            }
            r
        };
        meta(&mut result).insert("resourceVersion".into(), json!(old_rv));
        Self::validate(rt, &mut result)?;
        self.default_fields(rt, &mut result, Some(&old));
        if rt.tracks_generation() && spec_part(&result) != spec_part(&old) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            meta(&mut result).insert("generation".into(), json!(g));
        }
        if result == old || o.dry_run {
            return Ok(serve_as(rt, result));
        }
        let finalized = !result["metadata"]["deletionTimestamp"].is_null()
            && result["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
        let rv = self.next_rv();
        meta(&mut result).insert("resourceVersion".into(), json!(rv.to_string()));
        if finalized {
            self.remove(rt, &ns, name, result.clone());
            return Ok(serve_as(rt, result));
        }
        self.objects
            .entry(Self::coll_key(rt))
            .or_default()
            .insert((ns.clone(), name.to_string()), result.clone());
        self.emit(rt, &ns, EventType::Modified, result.clone(), Some(old));
        self.after_write(rt, &result);
        Ok(serve_as(rt, result))
    }

    /// Removes an object whose deletion is final (rv already bumped).
    fn remove(&mut self, rt: &ResourceType, ns: &str, name: &str, last: Value) {
        if let Some(c) = self.objects.get_mut(&Self::coll_key(rt)) {
            c.remove(&(ns.to_string(), name.to_string()));
        }
        self.applied
            .retain(|k, _| !(k.0 == rt.group && k.1 == rt.plural && k.2 == ns && k.3 == name));
        self.emit(rt, ns, EventType::Deleted, last, None);
    }

    /// Deletes an object (DELETE). Objects with finalizers only get a deletionTimestamp.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let ns = Self::key_ns(rt, ns).to_string();
        let Some(mut obj) = self.get(rt, &ns, name).cloned() else {
            return Err(ApiError::not_found(rt, name));
        };
        if let Some(uid) = &pre.uid {
            let have = meta_str(&obj, "uid");
            if uid != have {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                    ),
                ));
            }
        }
        if let Some(rv) = &pre.resource_version {
            let have = meta_str(&obj, "resourceVersion");
            if rv != have {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        if dry_run {
            return Ok(serve_as(rt, obj));
        }
        let has_finalizers = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers && rt.kind != "Namespace" {
            if obj["metadata"]["deletionTimestamp"].is_null() {
                let prev = obj.clone();
                let rv = self.next_rv();
                let m = meta(&mut obj);
                m.insert("deletionTimestamp".into(), json!(util::now_rfc3339()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                m.insert("resourceVersion".into(), json!(rv.to_string()));
                self.objects
                    .entry(Self::coll_key(rt))
                    .or_default()
                    .insert((ns.clone(), name.to_string()), obj.clone());
                self.emit(rt, &ns, EventType::Modified, obj.clone(), Some(prev));
            }
            return Ok(serve_as(rt, obj));
        }
        if rt.group.is_empty() && rt.kind == "Namespace" {
            self.delete_namespace_contents(name);
        }
        let rv = self.next_rv();
        meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.remove(rt, &ns, name, obj.clone());
        Ok(serve_as(rt, obj))
    }

    fn delete_namespace_contents(&mut self, ns: &str) {
        let namespaced: Vec<ResourceType> = self
            .registry
            .types()
            .iter()
            .filter(|t| t.namespaced)
            .cloned()
            .collect();
        let mut seen = std::collections::HashSet::new();
        for rt in namespaced {
            if !seen.insert((rt.group.clone(), rt.plural.clone())) {
                continue;
            }
            let names: Vec<String> = self
                .objects
                .get(&Self::coll_key(&rt))
                .map(|c| {
                    c.keys()
                        .filter(|k| k.0 == ns)
                        .map(|k| k.1.clone())
                        .collect()
                })
                .unwrap_or_default();
            for name in names {
                if let Some(mut obj) = self.get(&rt, ns, &name).cloned() {
                    let rv = self.next_rv();
                    meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
                    self.remove(&rt, ns, &name, obj);
                }
            }
        }
    }

    /// Server-side apply: creates when absent, otherwise removes the fields
    /// this manager applied before but no longer applies, then merges the
    /// applied configuration. Returns the object and whether it was created.
    pub fn apply(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut applied: Value,
        manager: &str,
        o: WriteOpts,
    ) -> Result<(Value, bool), ApiError> {
        if !applied.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was in an unknown format",
            ));
        }
        for field in ["apiVersion", "kind"] {
            if applied[field].as_str().unwrap_or("").is_empty() {
                return Err(ApiError::bad_request(format!(
                    "{field} must be set in the applied configuration"
                )));
            }
        }
        let body_name = meta_str(&applied, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        meta(&mut applied).insert("name".into(), json!(name));
        let ns = Self::key_ns(rt, ns).to_string();
        let key: AppliedKey = (
            rt.group.clone(),
            rt.plural.clone(),
            ns.clone(),
            name.to_string(),
            manager.to_string(),
            o.status,
        );
        let Some(live) = self.get(rt, &ns, name).cloned() else {
            if o.status {
                return Err(ApiError::not_found(rt, name));
            }
            let mut obj = applied.clone();
            meta(&mut obj).remove("resourceVersion");
            let created = self.create(rt, &ns, obj, o)?;
            if !o.dry_run {
                self.applied.insert(key, applied);
            }
            return Ok((created, true));
        };
        Self::check_type(rt, &mut applied.clone())?;
        let mut merged = live.clone();
        if let Some(prev) = self.applied.get(&key) {
            patch::apply_prune(&mut merged, prev, &applied, &rt.kind, rt.custom);
        }
        patch::apply_merge(&mut merged, &applied, &rt.kind, rt.custom);
        if meta_str(&applied, "resourceVersion").is_empty() {
            let live_rv = meta_str(&live, "resourceVersion").to_string();
            meta(&mut merged).insert("resourceVersion".into(), json!(live_rv));
        }
        let out = self.update(rt, &ns, name, merged, o)?;
        if !o.dry_run {
            self.applied.insert(key, applied);
        }
        Ok((out, false))
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm_rt(s: &State) -> ResourceType {
        s.registry.by_kind("v1", "ConfigMap").unwrap().clone()
    }

    #[test]
    fn create_update_delete() {
        let mut s = State::new();
        let rt = cm_rt(&s);
        let o = WriteOpts::default();
        let c = s
            .create(
                &rt,
                "default",
                json!({"metadata": {"name": "a"}, "data": {"k": "v"}}),
                o,
            )
            .unwrap();
        assert_eq!(c["kind"], "ConfigMap");
        let rv = c["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            s.create(&rt, "default", json!({"metadata": {"name": "a"}}), o)
                .unwrap_err()
                .code,
            409
        );
        let mut stale = c.clone();
        stale["metadata"]["resourceVersion"] = json!("1");
        assert_eq!(
            s.update(&rt, "default", "a", stale, o).unwrap_err().reason,
            "Conflict"
        );
        let u = s
            .update(
                &rt,
                "default",
                "a",
                json!({"metadata": {"name": "a", "resourceVersion": rv}, "data": {"k": "w"}}),
                o,
            )
            .unwrap();
        assert_eq!(u["data"]["k"], "w");
        assert_eq!(u["metadata"]["uid"], c["metadata"]["uid"]);
        s.delete(&rt, "default", "a", &Preconditions::default(), false)
            .unwrap();
        assert!(s.get(&rt, "default", "a").is_none());
    }

    #[test]
    fn validation() {
        let mut s = State::new();
        let rt = cm_rt(&s);
        let o = WriteOpts::default();
        let e = s
            .create(&rt, "default", json!({"metadata": {"name": "Bad"}}), o)
            .unwrap_err();
        assert_eq!(e.code, 422);
        let e = s
            .create(
                &rt,
                "default",
                json!({"metadata": {"name": "a"}, "data": {"k": 1}}),
                o,
            )
            .unwrap_err();
        assert_eq!(e.code, 400);
        let e = s
            .create(&rt, "nope", json!({"metadata": {"name": "a"}}), o)
            .unwrap_err();
        assert_eq!(e.message, "namespaces \"nope\" not found");
    }
}
