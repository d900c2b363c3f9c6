//! Every shape problem of a mesh file at once: unknown and missing fields, and values of the
//! wrong type. The typed parse stops at the first one; when it fails on a file that is valid
//! YAML, this walk over the same text names all of them, each with its cluster and field.

use serde_json::Value;

use super::{Problem, Severity};

/// What a field must hold.
#[derive(Clone, Copy)]
enum Kind {
    /// Any scalar: the typed parse reads plain scalars as text.
    Text,
    /// A whole number in `0..=max`.
    Number(u64),
    /// One of these words.
    Word(&'static [&'static str]),
    /// A sequence of scalars.
    TextList,
    /// A mapping with these fields.
    Map(&'static [Field]),
    /// A sequence of mappings with these fields (the clusters).
    MapList(&'static [Field]),
}

struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn field(name: &'static str, kind: Kind, required: bool) -> Field {
    Field {
        name,
        kind,
        required,
    }
}

const ENDPOINT: &[Field] = &[
    field("address", Kind::Text, false),
    field("ips", Kind::TextList, false),
    field("port", Kind::Number(u16::MAX as u64), true),
];

const CLUSTER: &[Field] = &[
    field("name", Kind::Text, true),
    field("id", Kind::Number(u32::MAX as u64), true),
    field("context", Kind::Text, true),
    field("podCIDR", Kind::Text, true),
    field("serviceCIDR", Kind::Text, false),
    field("nativeRoutingCIDR", Kind::Text, false),
    field("apiserverNodePort", Kind::Number(u16::MAX as u64), false),
    field("clustermesh", Kind::Map(ENDPOINT), false),
    field("ca", Kind::Map(CLUSTER_CA), false),
];

const CLUSTER_CA: &[Field] = &[
    field("cert", Kind::Text, true),
    field("key", Kind::Text, false),
];

const CA: &[Field] = &[
    field("cert", Kind::Text, true),
    field("key", Kind::Text, true),
];

/// The fields of [`super::Mesh`] and the structs below it, as serde reads them.
const MESH: &[Field] = &[
    field("apiVersion", Kind::Text, true),
    field("kind", Kind::Text, true),
    field("routingMode", Kind::Word(&["native", "tunnel"]), true),
    field("maxConnectedClusters", Kind::Number(u32::MAX as u64), false),
    field("namespace", Kind::Text, false),
    field("ca", Kind::Map(CA), false),
    field("trust", Kind::Word(&["shared", "bundle"]), false),
    field("clusters", Kind::MapList(CLUSTER), false),
];

/// The shape problems of `doc` (the mesh file read as plain data), in file order.
pub fn problems(doc: &Value) -> Vec<Problem> {
    let mut walk = Walk(Vec::new());
    match doc {
        Value::Object(_) => walk.map(doc, MESH, None, ""),
        _ => walk.error(None, "", format!("must be a mapping, not {}", what(doc))),
    }
    walk.0
}

struct Walk(Vec<Problem>);

impl Walk {
    fn error(&mut self, cluster: Option<&str>, field: &str, message: String) {
        self.0.push(Problem {
            severity: Severity::Error,
            cluster: cluster.map(str::to_string),
            field: if field.is_empty() {
                "(file)".to_string()
            } else {
                field.to_string()
            },
            message,
        });
    }

    fn map(&mut self, value: &Value, fields: &[Field], cluster: Option<&str>, at: &str) {
        let Value::Object(map) = value else {
            self.error(
                cluster,
                at,
                format!("must be a mapping, not {}", what(value)),
            );
            return;
        };
        for (key, v) in map {
            let path = join(at, key);
            match fields.iter().find(|f| f.name == key) {
                Some(f) => self.value(v, f.kind, cluster, &path),
                None => {
                    let known: Vec<_> = fields.iter().map(|f| f.name).collect();
                    self.error(
                        cluster,
                        &path,
                        format!("unknown field; expected one of {}", known.join(", ")),
                    );
                }
            }
        }
        for f in fields.iter().filter(|f| f.required) {
            if !map.contains_key(f.name) {
                self.error(cluster, &join(at, f.name), "missing field".to_string());
            }
        }
    }

    fn value(&mut self, value: &Value, kind: Kind, cluster: Option<&str>, at: &str) {
        match kind {
            Kind::Text => {
                if !is_scalar(value) {
                    self.error(cluster, at, format!("must be text, not {}", what(value)));
                }
            }
            Kind::Number(max) => match value.as_u64() {
                Some(n) if n <= max => {}
                _ => self.error(
                    cluster,
                    at,
                    format!(
                        "must be a whole number from 0 to {max}, not {}",
                        what(value)
                    ),
                ),
            },
            Kind::Word(words) => {
                if !value.as_str().is_some_and(|s| words.contains(&s)) {
                    self.error(
                        cluster,
                        at,
                        format!("must be one of {}, not {}", words.join(", "), what(value)),
                    );
                }
            }
            Kind::TextList => match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item, Kind::Text, cluster, &format!("{at}[{i}]"));
                    }
                }
                _ => self.error(cluster, at, format!("must be a list, not {}", what(value))),
            },
            Kind::Map(fields) => self.map(value, fields, cluster, at),
            Kind::MapList(fields) => match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        // Problems inside a cluster name it; one without a usable name, its place.
                        let label = match item.get("name") {
                            Some(name) if is_scalar(name) => scalar_text(name),
                            _ => format!("{at}[{i}]"),
                        };
                        self.map(item, fields, Some(&label), "");
                    }
                }
                _ => self.error(cluster, at, format!("must be a list, not {}", what(value))),
            },
        }
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value as the message names it: its kind, and a scalar itself (cut short).
fn what(v: &Value) -> String {
    match v {
        Value::Null => "empty".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("the text {:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("the text {s:?}"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Vec<String> {
        let doc: Value = serde_saphyr::from_str(yaml).unwrap();
        problems(&doc).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_file_has_no_problems() {
        let ok = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nca: {cert: c, key: k}\nclusters:\n- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, clustermesh: {ips: [172.18.0.2], port: 32379}}\n";
        assert_eq!(check(ok), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_named_with_its_cluster_and_field() {
        let bad = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: direct\nmaxConnectedClusters: -1\nclusters:\n- {name: west, id: one, context: kind-west, podCIDR: 10.0.0.0/16, podCidr: x}\n- {name: east, id: 70000000000, context: [a], clustermesh: {port: 99999, ips: 1.2.3.4}}\n- {id: 3}\n";
        let got = check(bad);
        let expect = [
            "error: routingMode: must be one of native, tunnel, not the text \"direct\"",
            "error: maxConnectedClusters: must be a whole number from 0 to 4294967295, not the number -1",
            "error: cluster \"west\", id: must be a whole number from 0 to 4294967295, not the text \"one\"",
            "error: cluster \"west\", podCidr: unknown field; expected one of name, id, context, podCIDR, serviceCIDR, nativeRoutingCIDR, apiserverNodePort, clustermesh, ca",
            "error: cluster \"east\", id: must be a whole number from 0 to 4294967295, not the number 70000000000",
            "error: cluster \"east\", context: must be text, not a list",
            "error: cluster \"east\", clustermesh.port: must be a whole number from 0 to 65535, not the number 99999",
            "error: cluster \"east\", clustermesh.ips: must be a list, not the text \"1.2.3.4\"",
            "error: cluster \"east\", podCIDR: missing field",
            "error: cluster \"clusters[2]\", name: missing field",
        ];
        for line in expect {
            assert!(
                got.iter().any(|g| g == line),
                "missing {line:?} in {got:#?}"
            );
        }
        // The third cluster also lacks context and podCIDR.
        assert_eq!(got.len(), expect.len() + 2, "{got:#?}");
    }

    #[test]
    fn trust_and_cluster_cas_are_shaped_too() {
        let bad = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\ntrust: several\nclusters:\n- {name: west, id: 1, context: a, podCIDR: 10.0.0.0/16, ca: {key: k, crt: c}}\n";
        let got = check(bad);
        for line in [
            "error: trust: must be one of shared, bundle, not the text \"several\"",
            "error: cluster \"west\", ca.crt: unknown field; expected one of cert, key",
            "error: cluster \"west\", ca.cert: missing field",
        ] {
            assert!(
                got.iter().any(|g| g == line),
                "missing {line:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), 3, "{got:#?}");
    }

    #[test]
    fn not_a_mapping() {
        assert_eq!(
            check("- a\n- b\n"),
            ["error: (file): must be a mapping, not a list"]
        );
    }
}
