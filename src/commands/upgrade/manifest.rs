//! What Helm's dry run prints, read back: the release's documents (hooks and manifest), shown
//! with Secret values hidden, and compared with the live objects for `--diff`. Pure.

use serde_json::Value;

use crate::render::stream;

/// The YAML stream of a release in the text `helm upgrade --dry-run` prints: the documents under
/// `HOOKS:` and `MANIFEST:`, up to `NOTES:` (helm/helm `pkg/cmd/status.go`, v3
/// `cmd/helm/status.go`, `PrintReleaseHooks`/`MANIFEST:`). `None` when there is no `MANIFEST:`.
pub fn release_stream(dry_run_output: &str) -> Option<String> {
    let mut out = String::new();
    let mut section = None;
    let mut seen_manifest = false;
    for line in dry_run_output.split_inclusive('\n') {
        match line.trim_end() {
            "HOOKS:" => {
                section = Some("hooks");
                continue;
            }
            "MANIFEST:" => {
                section = Some("manifest");
                seen_manifest = true;
                continue;
            }
            "NOTES:" => {
                section = None;
                continue;
            }
            _ => {}
        }
        if section.is_some() {
            out.push_str(line);
        }
    }
    seen_manifest.then_some(out)
}

/// The objects of a stream, parsed (empty documents and comments left out).
pub fn objects(stream_text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in stream::split(stream_text) {
        let (_, body) = doc.split_head();
        if body.trim().is_empty() {
            continue;
        }
        let v = crate::yaml::parse(body).map_err(|e| {
            format!(
                "document {} (line {}): {}",
                doc.number,
                doc.body_first_line() + e.line.unwrap_or(1) as usize - 1,
                e.message
            )
        })?;
        if v.is_object() {
            out.push(v);
        }
    }
    Ok(out)
}

/// The stream as Helm printed it, with every Secret's `data`/`stringData` values replaced by
/// `hidden` (other documents byte for byte).
pub fn redacted(stream_text: &str, hidden: &str) -> Result<String, String> {
    let mut out = String::new();
    for doc in stream::split(stream_text) {
        let (head, body) = doc.split_head();
        let header = crate::yaml::parse_header(body)
            .map_err(|e| format!("document {}: {}", doc.number, e.message))?;
        if header["kind"] != "Secret" {
            out.push_str(doc.raw);
            continue;
        }
        let mut v = crate::yaml::parse(body)
            .map_err(|e| format!("document {}: {}", doc.number, e.message))?;
        crate::commands::redact(&mut v, hidden);
        out.push_str(head);
        if !head.ends_with('\n') && !head.is_empty() {
            out.push('\n');
        }
        out.push_str(&crate::yaml::emit(&v).map_err(|e| format!("document {}: {e}", doc.number))?);
    }
    Ok(out)
}

/// Kinds that are not namespaced, of those a chart makes: objects of other kinds without a
/// namespace go to the release's namespace, as Helm puts them.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "CSIDriver",
    "CiliumClusterwideNetworkPolicy",
    "CiliumClusterwideEnvoyConfig",
    "CiliumNode",
    "CiliumIdentity",
    "CiliumLoadBalancerIPPool",
    "CiliumBGPClusterConfig",
    "CiliumBGPPeerConfig",
    "CiliumBGPAdvertisement",
    "CiliumNodeConfig",
];

/// Where an object of the release lives: (apiVersion, kind, namespace or `None`, name).
pub fn address(
    object: &Value,
    release_ns: &str,
) -> Option<(String, String, Option<String>, String)> {
    let api_version = object["apiVersion"].as_str()?.to_string();
    let kind = object["kind"].as_str()?.to_string();
    let name = object["metadata"]["name"].as_str()?.to_string();
    let ns = if CLUSTER_SCOPED.contains(&kind.as_str()) {
        None
    } else {
        Some(
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(release_ns)
                .to_string(),
        )
    };
    Some((api_version, kind, ns, name))
}

/// One change of one field.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// `spec.ports[0].nodePort`, `data["cluster-name"]`.
    pub path: String,
    /// Compact JSON, `None`: not set live.
    pub live: Option<String>,
    pub wanted: String,
}

/// What applying `wanted` would change in `live`: every field the release sets to something
/// else than the live object has (fields only the live object has, like the server's defaults
/// and `status`, are not the release's and not shown). Lists are compared whole. Secret values
/// are shown as `hidden` unless it is `None`.
pub fn changes(wanted: &Value, live: &Value, hidden: Option<&str>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let secret = wanted["kind"] == "Secret";
    walk(wanted, Some(live), String::new(), &mut out);
    if let Some(hidden) = hidden {
        for c in &mut out {
            let secret_value =
                secret && (c.path.starts_with("data") || c.path.starts_with("stringData"));
            let last_applied = c
                .path
                .contains("kubectl.kubernetes.io/last-applied-configuration");
            if secret_value || last_applied {
                c.wanted = hidden.to_string();
                if c.live.is_some() {
                    c.live = Some(hidden.to_string());
                }
            }
        }
    }
    out
}

const SERVER_FIELDS: &[&str] = &[
    "status",
    "metadata.managedFields",
    "metadata.resourceVersion",
    "metadata.uid",
    "metadata.creationTimestamp",
    "metadata.generation",
];

fn walk(wanted: &Value, live: Option<&Value>, path: String, out: &mut Vec<FieldChange>) {
    if SERVER_FIELDS.contains(&path.as_str()) {
        return;
    }
    match (wanted, live) {
        (Value::Object(w), Some(Value::Object(l))) => {
            for (k, v) in w {
                walk(v, l.get(k), child(&path, k), out);
            }
        }
        (Value::Object(w), _) if !w.is_empty() && live.is_none_or(Value::is_null) => {
            for (k, v) in w {
                walk(v, None, child(&path, k), out);
            }
        }
        (Value::Array(w), Some(Value::Array(l))) if !same(wanted, live.unwrap_or(&Value::Null)) => {
            walk_list(w, l, &path, out)
        }
        (w, Some(l)) if same(w, l) => {}
        (Value::Null, None) => {}
        // `{}`/`[]` the server drops when it stores the object.
        (Value::Object(w), None) if w.is_empty() => {}
        (Value::Array(w), None) if w.is_empty() => {}
        (w, l) => out.push(FieldChange {
            path,
            live: l.filter(|l| !l.is_null()).map(Value::to_string),
            wanted: w.to_string(),
        }),
    }
}

/// Two lists: items with a `name` matched by name (`volumes[name=x]`), else by position when
/// the lengths agree; otherwise the list is one change.
fn walk_list(w: &[Value], l: &[Value], path: &str, out: &mut Vec<FieldChange>) {
    let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_string);
    let named = !w.is_empty() && w.iter().chain(l).all(|v| name(v).is_some());
    if named {
        for item in w {
            let n = name(item).unwrap_or_default();
            let path = format!("{path}[name={n}]");
            match l.iter().find(|v| name(v).as_deref() == Some(n.as_str())) {
                Some(live) => walk(item, Some(live), path, out),
                None => out.push(FieldChange {
                    path,
                    live: None,
                    wanted: item.to_string(),
                }),
            }
        }
        return;
    }
    if w.len() == l.len() {
        for (i, (a, b)) in w.iter().zip(l).enumerate() {
            walk(a, Some(b), format!("{path}[{i}]"), out);
        }
        return;
    }
    out.push(FieldChange {
        path: path.to_string(),
        live: Some(Value::Array(l.to_vec()).to_string()),
        wanted: Value::Array(w.to_vec()).to_string(),
    });
}

/// Equal as the API server stores them: a number and its text differ, but `1` and `1.0` not.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_deep(a, b))
        }
        _ => a == b,
    }
}

/// Lists hold objects the server defaults too: an item is the same when every field the
/// release sets is the same.
fn same_deep(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .all(|(k, v)| y.get(k).is_some_and(|w| same_deep(v, w)) || v.is_null()),
        _ => same(a, b),
    }
}

fn child(path: &str, key: &str) -> String {
    let plain = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_release_stream_is_hooks_and_manifest_without_notes() {
        let out = "Release \"cilium\" has been upgraded. Happy Helming!\nNAME: cilium\nREVISION: 2\nHOOKS:\n---\n# Source: c/templates/hook.yaml\nkind: Job\nMANIFEST:\n---\n# Source: c/templates/a.yaml\nkind: A\n\nNOTES:\nYou have successfully installed Cilium.\n";
        assert_eq!(
            release_stream(out).unwrap(),
            "---\n# Source: c/templates/hook.yaml\nkind: Job\n---\n# Source: c/templates/a.yaml\nkind: A\n\n"
        );
        assert_eq!(release_stream("Error: boom\n"), None);
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept_byte_for_byte() {
        let s = "---\n# Source: c/a.yaml\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: on}\n---\n# Source: c/s.yaml\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  ca.key: S0VZ\n";
        let r = redacted(s, "<hidden>").unwrap();
        assert!(r.starts_with("---\n# Source: c/a.yaml\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: on}\n---\n# Source: c/s.yaml\n"), "{r}");
        assert!(r.contains("ca.key: <hidden>"), "{r}");
        assert!(!r.contains("S0VZ"), "{r}");
        assert!(!r.contains("null") && !r.contains("stringData"), "{r}");
    }

    #[test]
    fn changes_are_the_fields_the_release_sets_differently() {
        let wanted = json!({"kind": "Service", "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"type": "NodePort", "ports": [{"port": 2379, "nodePort": 32380}]}});
        let live = json!({"kind": "Service", "metadata": {"name": "x", "uid": "u", "resourceVersion": "9", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"type": "NodePort", "clusterIP": "10.2.0.9", "ports": [{"port": 2379, "nodePort": 32379, "protocol": "TCP"}]},
            "status": {}});
        let c = changes(&wanted, &live, Some("<hidden>"));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            c,
            vec![FieldChange {
                path: "spec.ports[0].nodePort".into(),
                live: Some("32379".into()),
                wanted: "32380".into()
            }]
        );
        let same_live = json!({"kind": "Service", "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"type": "NodePort", "ports": [{"port": 2379, "nodePort": 32380, "protocol": "TCP"}]}});
        assert!(changes(&wanted, &same_live, None).is_empty());
    }

    #[test]
    fn named_items_are_matched_by_name() {
        let wanted = json!({"spec": {"volumes": [{"name": "b", "configMap": {"defaultMode": 256}}, {"name": "c", "emptyDir": {}}]}});
        let live = json!({"spec": {"volumes": [{"name": "a", "hostPath": {"path": "/x"}}, {"name": "b", "configMap": {"defaultMode": 420}}]}});
        let c = changes(&wanted, &live, None);
        assert_eq!(
            c.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
            [
                "spec.volumes[name=b].configMap.defaultMode",
                "spec.volumes[name=c]"
            ]
        );
        assert_eq!(c[1].live, None);
        // Lists of other lengths, without names, are one change.
        let c = changes(&json!({"args": ["a", "b"]}), &json!({"args": ["a"]}), None);
        assert_eq!(c[0].path, "args");
    }

    #[test]
    fn secret_values_are_hidden_in_changes() {
        let wanted = json!({"kind": "Secret", "metadata": {"name": "cilium-ca"}, "data": {"ca.key": "TkVX", "ca.crt": "Qw=="}});
        let live = json!({"kind": "Secret", "metadata": {"name": "cilium-ca"}, "data": {"ca.key": "T0xE", "ca.crt": "Qw=="}});
        let c = changes(&wanted, &live, Some("<hidden>"));
        assert_eq!(
            c,
            vec![FieldChange {
                path: "data[\"ca.key\"]".into(),
                live: Some("<hidden>".into()),
                wanted: "<hidden>".into()
            }]
        );
        let shown = changes(&wanted, &live, None);
        assert_eq!(shown[0].wanted, "\"TkVX\"");
    }

    #[test]
    fn addresses_default_to_the_release_namespace() {
        let a = address(
            &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "cilium"}}),
            "kube-system",
        )
        .unwrap();
        assert_eq!(a.2.as_deref(), Some("kube-system"));
        let a = address(&json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cilium", "namespace": "x"}}), "kube-system").unwrap();
        assert_eq!(a.2, None);
    }
}
