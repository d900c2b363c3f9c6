//! Patch algorithms: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
//! a good-enough strategic merge patch, and the merge/prune used by
//! server-side apply.

use serde_json::{Map, Value};

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// RFC 6902 JSON patch. The error text describes the failing operation.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    json_patch::patch(target, &ops.0).map_err(|e| e.to_string())
}

/// How a list field is merged.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ListStrategy {
    /// Merge object elements that agree on this key.
    Key(&'static str),
    /// Union of primitive values (e.g. `finalizers`).
    Set,
    /// Replace the whole list.
    Atomic,
}

fn list_strategy(field: &str, kind: &str, custom: bool, elems: &[&Value]) -> ListStrategy {
    if custom {
        return ListStrategy::Atomic;
    }
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => ListStrategy::Key("name"),
        "volumeMounts" => ListStrategy::Key("mountPath"),
        "volumeDevices" => ListStrategy::Key("devicePath"),
        "conditions" => ListStrategy::Key("type"),
        "ownerReferences" => ListStrategy::Key("uid"),
        "hostAliases" => ListStrategy::Key("ip"),
        "topologySpreadConstraints" => ListStrategy::Key("topologyKey"),
        "finalizers" => ListStrategy::Set,
        "ports" if elems.iter().any(|e| e.get("containerPort").is_some()) => {
            ListStrategy::Key("containerPort")
        }
        "ports" if kind == "Service" => ListStrategy::Key("port"),
        _ => ListStrategy::Atomic,
    }
}

/// Removes `$patch`, `$retainKeys`, … directives and `null`s from a value
/// being inserted fresh.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|e| e.get("$patch").is_none())
                .map(clean)
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Strategic merge patch for built-in kinds. `kind` selects a few
/// kind-specific merge keys. Supports `$patch: replace|delete`,
/// `$deleteFromPrimitiveList/<field>` and `$retainKeys`; ignores
/// `$setElementOrder/<field>`.
pub fn strategic_merge(target: &mut Value, patch: &Value, kind: &str) -> Result<(), String> {
    let Value::Object(pm) = patch else {
        return Err("strategic merge patch must be a JSON object".into());
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let tm = target.as_object_mut().expect("object");
    merge_map(tm, pm, kind, false, true)
}

/// Merges an applied configuration (server-side apply) into the live object:
/// maps merge, lists merge by key for built-in kinds and are atomic for
/// custom resources.
pub fn apply_merge(live: &mut Value, applied: &Value, kind: &str, custom: bool) {
    if let (Value::Object(lm), Value::Object(am)) = (&mut *live, applied) {
        let _ = merge_map(lm, am, kind, custom, false);
    } else {
        *live = applied.clone();
    }
}

fn merge_map(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    kind: &str,
    custom: bool,
    directives: bool,
) -> Result<(), String> {
    if directives {
        match patch.get("$patch").and_then(Value::as_str) {
            Some("replace") => {
                *target = clean(&Value::Object(patch.clone()))
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                return Ok(());
            }
            Some("delete") => {
                target.clear();
                return Ok(());
            }
            Some("merge") | None => {}
            Some(other) => return Err(format!("unknown patch type: {other}")),
        }
    }
    let mut retain: Option<Vec<String>> = None;
    for (k, pv) in patch {
        if directives && k.starts_with('$') {
            if k == "$retainKeys" {
                retain = Some(
                    pv.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect(),
                );
            } else if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
                && let Some(Value::Array(list)) = target.get_mut(field)
            {
                let remove = pv.as_array().cloned().unwrap_or_default();
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if pv.is_null() {
            target.remove(k);
            continue;
        }
        match pv {
            Value::Object(pobj) => {
                if directives && pobj.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(k);
                    continue;
                }
                let slot = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                merge_map(
                    slot.as_object_mut().expect("object"),
                    pobj,
                    kind,
                    custom,
                    directives,
                )?;
            }
            Value::Array(parr) => match target.get_mut(k) {
                Some(Value::Array(tarr)) => merge_list(k, tarr, parr, kind, custom, directives)?,
                _ => {
                    target.insert(k.clone(), if directives { clean(pv) } else { pv.clone() });
                }
            },
            _ => {
                target.insert(k.clone(), pv.clone());
            }
        }
    }
    if let Some(keep) = retain {
        target.retain(|k, _| keep.contains(k) || patch.contains_key(k));
    }
    Ok(())
}

fn merge_list(
    field: &str,
    target: &mut Vec<Value>,
    patch: &[Value],
    kind: &str,
    custom: bool,
    directives: bool,
) -> Result<(), String> {
    if directives
        && patch
            .iter()
            .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *target = patch
            .iter()
            .filter(|e| e.get("$patch").is_none())
            .map(clean)
            .collect();
        return Ok(());
    }
    let elems: Vec<&Value> = target.iter().chain(patch.iter()).collect();
    match list_strategy(field, kind, custom, &elems) {
        ListStrategy::Atomic => {
            *target = if directives {
                patch.iter().map(clean).collect()
            } else {
                patch.to_vec()
            };
        }
        ListStrategy::Set => {
            for v in patch {
                if !target.contains(v) {
                    target.push(v.clone());
                }
            }
        }
        ListStrategy::Key(key) => {
            for pe in patch {
                let Some(pobj) = pe.as_object() else {
                    target.push(pe.clone());
                    continue;
                };
                let kv = pobj.get(key).cloned().unwrap_or(Value::Null);
                if directives && pobj.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.retain(|t| t.get(key) != Some(&kv));
                    continue;
                }
                match target.iter_mut().find(|t| t.get(key) == Some(&kv)) {
                    Some(Value::Object(tobj)) => merge_map(tobj, pobj, kind, custom, directives)?,
                    _ => target.push(if directives { clean(pe) } else { pe.clone() }),
                }
            }
        }
    }
    Ok(())
}

/// Removes from `live` the fields that the same field manager applied last
/// time (`old`) but no longer applies (`new`).
pub fn apply_prune(live: &mut Value, old: &Value, new: &Value, kind: &str, custom: bool) {
    let (Value::Object(lm), Value::Object(om)) = (live, old) else {
        return;
    };
    for (k, ov) in om {
        match new.get(k) {
            None => {
                lm.remove(k);
            }
            Some(nv) => match (lm.get_mut(k), ov, nv) {
                (Some(lv @ Value::Object(_)), Value::Object(_), Value::Object(_)) => {
                    apply_prune(lv, ov, nv, kind, custom)
                }
                (Some(Value::Array(larr)), Value::Array(oarr), Value::Array(narr)) => {
                    let elems: Vec<&Value> = oarr.iter().chain(narr.iter()).collect();
                    if let ListStrategy::Key(key) = list_strategy(k, kind, custom, &elems) {
                        for oe in oarr {
                            let Some(kv) = oe.get(key) else { continue };
                            match narr.iter().find(|n| n.get(key) == Some(kv)) {
                                None => larr.retain(|l| l.get(key) != Some(kv)),
                                Some(ne) => {
                                    if let Some(le) =
                                        larr.iter_mut().find(|l| l.get(key) == Some(kv))
                                    {
                                        apply_prune(le, oe, ne, kind, custom);
                                    }
                                }
                            }
                        }
                    } else if let ListStrategy::Set = list_strategy(k, kind, custom, &elems) {
                        larr.retain(|l| !oarr.contains(l) || narr.contains(l));
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn smp_merges_containers_by_name() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
            {"name": "b", "$patch": "delete"},
            {"name": "c", "image": "c:1"}
        ]}}}});
        strategic_merge(&mut d, &p, "Deployment").unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "a", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                {"name": "c", "image": "c:1"}
            ])
        );
    }

    #[test]
    fn smp_service_ports_and_atomic_lists() {
        let mut d = json!({"spec": {"ports": [{"port": 80, "name": "http"}], "externalIPs": ["1.1.1.1"]},
                          "metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}}});
        let p = json!({"spec": {"ports": [{"port": 443, "name": "https"}], "externalIPs": ["2.2.2.2"]},
                      "metadata": {"finalizers": ["b"], "labels": {"x": null}}});
        strategic_merge(&mut d, &p, "Service").unwrap();
        assert_eq!(d["spec"]["ports"].as_array().unwrap().len(), 2);
        assert_eq!(d["spec"]["externalIPs"], json!(["2.2.2.2"]));
        assert_eq!(d["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(d["metadata"]["labels"], json!({"y": "2"}));
    }

    #[test]
    fn smp_replace_directives() {
        let mut d = json!({"data": {"a": "1", "b": "2"}, "list": [1, 2]});
        let p =
            json!({"data": {"$patch": "replace", "c": "3"}, "$deleteFromPrimitiveList/list": [1]});
        strategic_merge(&mut d, &p, "ConfigMap").unwrap();
        assert_eq!(d, json!({"data": {"c": "3"}, "list": [2]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"a": {"b": 1}});
        json_patch(
            &mut d,
            &json!([{"op": "add", "path": "/a/c", "value": 2}, {"op": "remove", "path": "/a/b"}]),
        )
        .unwrap();
        assert_eq!(d, json!({"a": {"c": 2}}));
        assert!(json_patch(&mut d, &json!([{"op": "test", "path": "/a/c", "value": 3}])).is_err());
    }

    #[test]
    fn apply_prunes_dropped_fields() {
        let mut live = json!({"data": {"a": "1", "b": "2", "other": "x"}});
        let old = json!({"data": {"a": "1", "b": "2"}});
        let new = json!({"data": {"a": "9"}});
        apply_prune(&mut live, &old, &new, "ConfigMap", false);
        apply_merge(&mut live, &new, "ConfigMap", false);
        assert_eq!(live, json!({"data": {"a": "9", "other": "x"}}));
    }
}
