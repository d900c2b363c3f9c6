//! Label and field selectors as accepted by the Kubernetes API.

use serde_json::Value;

/// One label requirement.
#[derive(Clone, Debug, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed `labelSelector` (all requirements must match).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: found '{rest}', expected: '(' in \"{whole}\"")
        })?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    /// Parses the selector syntax (`a=b,c!=d,e in (f,g),h notin (i),j,!k`).
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "unable to parse requirement: empty requirement in \"{s}\""
                ));
            }
            if let Some(key) = part.strip_prefix('!') {
                reqs.push(Req::NotExists(key.trim().to_string()));
                continue;
            }
            let key_end = part
                .find(|c: char| c.is_whitespace() || "!=<>".contains(c))
                .unwrap_or(part.len());
            let key = part[..key_end].to_string();
            if key.is_empty() {
                return Err(format!(
                    "unable to parse requirement: missing key in \"{s}\""
                ));
            }
            let rest = part[key_end..].trim_start();
            let req = if rest.is_empty() {
                Req::Exists(key)
            } else if let Some(v) = rest.strip_prefix("!=") {
                Req::NotEq(key, v.trim().to_string())
            } else if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
                Req::Eq(key, v.trim().to_string())
            } else if let Some(v) = rest.strip_prefix('>') {
                Req::Gt(key, v.trim().parse().map_err(|e| format!("{e}"))?)
            } else if let Some(v) = rest.strip_prefix('<') {
                Req::Lt(key, v.trim().parse().map_err(|e| format!("{e}"))?)
            } else if let Some(v) = rest.strip_prefix("notin") {
                Req::NotIn(key, parse_set(v, s)?)
            } else if let Some(v) = rest.strip_prefix("in") {
                Req::In(key, parse_set(v, s)?)
            } else {
                return Err(format!(
                    "unable to parse requirement: found '{rest}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Req::NotIn(k, vs) => get(k).is_none_or(|l| !vs.iter().any(|v| v == l)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::Gt(k, n) => get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            Req::Lt(k, n) => get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }
}

/// A parsed `fieldSelector`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// Fields selectable for a kind beyond `metadata.name` and `metadata.namespace`.
fn extra_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Secret" => &["type"],
        "Node" => &["spec.unschedulable"],
        "Namespace" => &["status.phase"],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "reason",
            "type",
            "source",
        ],
        "Job" => &["status.successful"],
        "ReplicaSet" => &["status.replicas"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses `a=b,c!=d` and checks the fields are selectable for `kind`.
    pub fn parse(s: &str, kind: &str, custom: bool) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && (custom || !extra_fields(kind).contains(&field))
            {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object satisfies every field requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, want)| {
            let mut v = obj;
            for seg in field.split('.') {
                v = &v[seg];
            }
            let have = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (have == *want) == *eq
        })
    }

    /// The `metadata.name=` value, when the selector pins one name.
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_selectors() {
        let o = obj(json!({"app": "web", "tier": "fe", "n": "5"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier=fe"));
        assert!(!m("app!=web"));
        assert!(m("app in (web, db)"));
        assert!(!m("app notin (web)"));
        assert!(m("other notin (web)"));
        assert!(m("app"));
        assert!(m("!other"));
        assert!(!m("!app"));
        assert!(m("n>3,n<6"));
        assert!(m("app in (a,web),tier"));
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a=b,,").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        let f = FieldSelector::parse(
            "metadata.name=x,metadata.namespace!=kube-system",
            "Pod",
            false,
        )
        .unwrap();
        assert!(f.matches(&o));
        assert_eq!(f.pinned_name(), Some("x"));
        assert!(FieldSelector::parse("spec.foo=x", "ConfigMap", false).is_err());
        assert!(FieldSelector::parse("spec.nodeName=n1", "Pod", false).is_ok());
    }
}
