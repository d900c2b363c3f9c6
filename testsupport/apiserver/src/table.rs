//! Server-side `meta.k8s.io/v1 Table` rendering, so `kubectl get` prints the
//! usual columns for a few common kinds (Name and Age for the rest).

use serde_json::{Value, json};

use crate::registry::ResourceType;
use crate::util;

/// Whether the `Accept` header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .any(|p| p.contains("as=Table") && p.contains("g=meta.k8s.io"))
}

/// kubectl's short human duration (`45s`, `3m2s`, `5h`, `3d4h`, `20d`, `2y`).
pub fn human_age(secs: u64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        if secs.is_multiple_of(60) {
            format!("{m}m")
        } else {
            format!("{m}m{}s", secs % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m.is_multiple_of(60) {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        if h.is_multiple_of(24) {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 730 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(obj: &Value) -> String {
    let Some(created) = obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(util::parse_rfc3339)
    else {
        return "<unknown>".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    human_age(now.saturating_sub(created))
}

fn count(v: &Value) -> i64 {
    v.as_object().map(|m| m.len() as i64).unwrap_or(0)
}

fn int(v: &Value) -> Value {
    json!(v.as_i64().unwrap_or(0))
}

fn join_or(items: Vec<String>, empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.join(",")
    }
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Column names/types (after Name) and the matching cells of one object.
fn columns(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "Service" => &[
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("External-IP", "string"),
            ("Port(s)", "string"),
            ("Age", "string"),
        ],
        "ConfigMap" => &[("Data", "integer"), ("Age", "string")],
        "Secret" => &[("Type", "string"), ("Data", "integer"), ("Age", "string")],
        "Namespace" => &[("Status", "string"), ("Age", "string")],
        "Pod" => &[
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
            ("Age", "string"),
        ],
        "Deployment" => &[
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Age", "string"),
        ],
        "DaemonSet" => &[
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Ready", "integer"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Node Selector", "string"),
            ("Age", "string"),
        ],
        "Node" => &[
            ("Status", "string"),
            ("Roles", "string"),
            ("Age", "string"),
            ("Version", "string"),
        ],
        _ => &[("Age", "string")],
    }
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let spec = &o["spec"];
    let status = &o["status"];
    match kind {
        "Service" => {
            let ty = spec["type"].as_str().unwrap_or("ClusterIP");
            let mut external = str_list(&spec["externalIPs"]);
            if ty == "LoadBalancer" {
                for i in status["loadBalancer"]["ingress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if let Some(a) = i["ip"].as_str().or(i["hostname"].as_str()) {
                        external.push(a.to_string());
                    }
                }
            }
            let external = if ty == "LoadBalancer" && external.is_empty() {
                "<pending>".to_string()
            } else if ty == "ExternalName" {
                spec["externalName"]
                    .as_str()
                    .unwrap_or("<none>")
                    .to_string()
            } else {
                join_or(external, "<none>")
            };
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(np) => format!("{}:{np}/{proto}", p["port"]),
                        None => format!("{}/{proto}", p["port"]),
                    }
                })
                .collect();
            vec![
                json!(ty),
                json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
                json!(external),
                json!(join_or(ports, "<none>")),
                json!(age(o)),
            ]
        }
        "ConfigMap" => vec![
            json!(count(&o["data"]) + count(&o["binaryData"])),
            json!(age(o)),
        ],
        "Secret" => vec![
            json!(o["type"].as_str().unwrap_or("Opaque")),
            json!(count(&o["data"])),
            json!(age(o)),
        ],
        "Namespace" => vec![
            json!(status["phase"].as_str().unwrap_or("Active")),
            json!(age(o)),
        ],
        "Pod" => {
            let cs = status["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(cs.len());
            let ready = cs.iter().filter(|c| c["ready"] == json!(true)).count();
            let restarts: i64 = cs
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            vec![
                json!(format!("{ready}/{total}")),
                json!(status["phase"].as_str().unwrap_or("Pending")),
                json!(restarts.to_string()),
                json!(age(o)),
            ]
        }
        "Deployment" => vec![
            json!(format!(
                "{}/{}",
                status["readyReplicas"].as_i64().unwrap_or(0),
                spec["replicas"].as_i64().unwrap_or(1)
            )),
            int(&status["updatedReplicas"]),
            int(&status["availableReplicas"]),
            json!(age(o)),
        ],
        "DaemonSet" => {
            let sel: Vec<String> = spec["template"]["spec"]["nodeSelector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            vec![
                int(&status["desiredNumberScheduled"]),
                int(&status["currentNumberScheduled"]),
                int(&status["numberReady"]),
                int(&status["updatedNumberScheduled"]),
                int(&status["numberAvailable"]),
                json!(join_or(sel, "<none>")),
                json!(age(o)),
            ]
        }
        "Node" => {
            let ready = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map(|c| {
                    if c["status"] == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                })
                .unwrap_or("Unknown");
            let roles: Vec<String> = o["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_string)
                })
                .collect();
            vec![
                json!(ready),
                json!(join_or(roles, "<none>")),
                json!(age(o)),
                json!(status["nodeInfo"]["kubeletVersion"].as_str().unwrap_or("")),
            ]
        }
        _ => vec![json!(age(o))],
    }
}

/// Renders objects as a Table. `include_object` is the `includeObject`
/// query parameter (`None`, `Metadata` (default) or `Object`).
pub fn render(
    rt: &ResourceType,
    items: &[Value],
    rv: Option<u64>,
    include_object: Option<&str>,
) -> Value {
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for (name, ty) in columns(&rt.kind) {
        defs.push(
            json!({"name": name, "type": ty, "format": "", "description": "", "priority": 0}),
        );
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            cells.extend(self::cells(&rt.kind, o));
            let mut row = json!({"cells": cells});
            match include_object {
                Some("None") => {}
                Some("Object") => row["object"] = o.clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"],
                    })
                }
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = rv {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(185), "3m5s");
        assert_eq!(human_age(3600), "60m");
        assert_eq!(human_age(4 * 3600 + 60), "4h1m");
        assert_eq!(human_age(30 * 3600), "30h");
        assert_eq!(human_age(3 * 86_400), "3d");
        assert_eq!(human_age(40 * 86_400), "40d");
    }
}
