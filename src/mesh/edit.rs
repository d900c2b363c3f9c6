//! Comment-preserving edits of one cluster's fields in the mesh file text. Pure: no I/O.
//!
//! Only the edited entry's bytes change; every other byte (comments, order, quoting, blank lines)
//! is kept. Each result is re-parsed and compared with the intended mesh before it is returned.

use std::ops::Range;

use granit_parser::{Event, Parser, Span, StructureStyle};

use serde::{Serialize, de::DeserializeOwned};

use super::{Endpoint, Mesh, MeshError};

/// Why an edit of the mesh file text was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The mesh file does not parse, or has no such cluster.
    #[error(transparent)]
    Mesh(#[from] MeshError),
    #[error("not a valid YAML file: {0}")]
    Syntax(String),
    /// The new value or the field name is not valid for the mesh file.
    #[error("invalid value for {0}")]
    Value(String),
    #[error("cannot edit the mesh file automatically: {0}")]
    Unsupported(String),
    /// The edited text would not read back as the intended mesh; nothing was changed.
    #[error("editing the mesh file would not give the intended result: {0}")]
    Verify(String),
}

/// A YAML node with its byte range in the text; `end` excludes trailing line breaks.
struct Node {
    start: usize,
    end: usize,
    col: usize,
    flow: bool,
    kind: Kind,
}

enum Kind {
    Scalar(String),
    Seq(Vec<Node>),
    /// Items alternate key, value.
    Map(Vec<Node>),
    Alias,
}

/// Bytes to replace and their replacement.
type Edit = (Range<usize>, String);
type Res<T> = Result<T, EditError>;

impl Node {
    /// Whether this is the scalar `s`.
    fn is(&self, s: &str) -> bool {
        matches!(&self.kind, Kind::Scalar(v) if v == s)
    }

    /// The `[key, value]` pairs of a mapping; none for other nodes.
    fn entries(&self) -> std::slice::ChunksExact<'_, Node> {
        match &self.kind {
            Kind::Map(items) => items.chunks_exact(2),
            _ => [].chunks_exact(2),
        }
    }

    /// The `[key, value]` pair of `key` in this mapping.
    fn get(&self, key: &str) -> Option<&[Node]> {
        self.entries().find(|kv| kv[0].is(key))
    }

    fn is_block_collection(&self) -> bool {
        !self.flow && matches!(self.kind, Kind::Seq(_) | Kind::Map(_))
    }
}

fn unsupported(msg: impl Into<String>) -> EditError {
    EditError::Unsupported(msg.into())
}

/// Sets (`Some`) or removes (`None`) `key` of the cluster named `cluster`, `value` being one line
/// of YAML flow text such as `{port: 2379, ips: [10.0.0.1]}` or `32380`.
pub fn set_cluster_field(
    text: &str,
    cluster: &str,
    key: &str,
    value: Option<&str>,
) -> Result<String, EditError> {
    let before = Mesh::parse(text)?;
    before.cluster(cluster)?;
    let root = parse_tree(text)?;
    let clusters = match root.get("clusters").map(|kv| &kv[1].kind) {
        Some(Kind::Seq(items)) => &items[..],
        _ => &[],
    };
    let is_it = |c: &&Node| c.get("name").is_some_and(|kv| kv[1].is(cluster));
    let Some((index, item)) = clusters.iter().enumerate().find(|(_, c)| is_it(c)) else {
        return Err(unsupported("cannot find the cluster in the text"));
    };
    let mut expected = before.clone();
    let slot = expected.clusters.get_mut(index);
    let slot = slot.ok_or_else(|| unsupported("clusters differ from the text"))?;
    *slot = with_field(&*slot, key, value)?;
    edit_mapping(text, item, key, value, &expected)
}

/// Sets top-level `key` of the mesh file (e.g. `ca`) to one line of YAML flow text.
pub fn set_top_level(text: &str, key: &str, value: &str) -> Result<String, EditError> {
    let expected = with_field(&Mesh::parse(text)?, key, Some(value))?;
    edit_mapping(text, &parse_tree(text)?, key, Some(value), &expected)
}

/// `old` with `key` set to the YAML flow text `value`, or removed; read by the file's parser.
fn with_field<T: Serialize + DeserializeOwned>(old: &T, key: &str, value: Option<&str>) -> Res<T> {
    let invalid = |e: &dyn std::fmt::Display| EditError::Value(format!("{key}: {e}"));
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(&"not a field name"));
    }
    if value.is_some_and(|v| v.trim().is_empty() || v.contains(['\n', '\r'])) {
        return Err(invalid(&format!("{value:?} is not one line of YAML")));
    }
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::to_value(old) else {
        return Err(invalid(&"not a mapping"));
    };
    fields.remove(key);
    // JSON is YAML flow syntax, so this is parsed as `value` will be in the file.
    let json_key = |k: &str| serde_json::Value::from(k).to_string();
    let mut flow: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_key(k)))
        .collect();
    flow.extend(value.map(|v| format!("{key}: {v}")));
    serde_saphyr::from_str(&format!("{{{}}}", flow.join(", "))).map_err(|e| invalid(&e))
}

/// Sets or removes `key` in mapping `map` and checks that the result parses as `expected`.
fn edit_mapping(
    text: &str,
    map: &Node,
    key: &str,
    value: Option<&str>,
    expected: &Mesh,
) -> Res<String> {
    let entries: Vec<&[Node]> = map.entries().collect();
    let last = entries.last().ok_or_else(|| unsupported("empty mapping"))?;
    let (range, new) = match (entries.iter().position(|kv| kv[0].is(key)), value) {
        (None, None) => (0..0, String::new()),
        (None, Some(val)) if map.flow => {
            let at = last[0].end.max(last[1].end);
            (at..at, format!(", {key}: {val}"))
        }
        (None, Some(val)) => {
            let at = line_end(text, map.end)?;
            let crlf = text.get(at..).is_some_and(|r| r.starts_with("\r\n"));
            let nl = if crlf { "\r\n" } else { "\n" };
            let indent = " ".repeat(last[0].col);
            (at..at, format!("{nl}{indent}{key}: {val}"))
        }
        (Some(p), Some(val)) => replace(text, entries[p], val)?,
        (Some(p), None) => (remove(text, &entries, p, map.flow)?, String::new()),
    };
    let (Some(head), Some(tail)) = (text.get(..range.start), text.get(range.end..)) else {
        return Err(unsupported("edit range is not on character boundaries"));
    };
    let edited = format!("{head}{new}{tail}");
    match Mesh::parse(&edited) {
        Ok(after) if after == *expected => Ok(edited),
        Ok(_) => Err(EditError::Verify(format!(
            "setting {key} would change other fields"
        ))),
        Err(e) => Err(EditError::Verify(e.to_string())),
    }
}

/// The flow text for an endpoint: `{address: east.example.org, port: 2379}` or
/// `{port: 32380, ips: [172.18.0.4, 172.18.0.5]}`, quoting strings a YAML reader could misread.
pub fn endpoint_flow(ep: &Endpoint) -> String {
    let mut parts = Vec::new();
    if let Some(address) = &ep.address {
        parts.push(format!("address: {}", flow_str(address)));
    }
    parts.push(format!("port: {}", ep.port));
    if !ep.ips.is_empty() {
        let ips: Vec<String> = ep.ips.iter().map(|ip| flow_str(ip)).collect();
        parts.push(format!("ips: [{}]", ips.join(", ")));
    }
    format!("{{{}}}", parts.join(", "))
}

/// `s` plain when no YAML 1.1 or 1.2 reader can take it for anything else (DNS names, IPv4),
/// otherwise double-quoted.
fn flow_str(s: &str) -> String {
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let name_chars = s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(name_char)
        && s.chars().any(|c| c.is_ascii_alphabetic());
    let lower = s.to_ascii_lowercase();
    let keyword = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    let special = keyword.contains(&lower.as_str())
        || ["0x", "0o", "0b"].iter().any(|p| lower.starts_with(p))
        || s.replace('_', "").parse::<f64>().is_ok();
    if s.parse::<std::net::Ipv4Addr>().is_ok() || (name_chars && !special) {
        s.to_string()
    } else {
        serde_json::Value::from(s).to_string()
    }
}

/// Replaces the value of an existing `[key, value]` entry, keeping comments around it.
fn replace(text: &str, kv: &[Node], val: &str) -> Res<Edit> {
    let (key, value) = (&kv[0], &kv[1]);
    let colon = colon_after(text, key.end);
    Ok(match colon {
        None if value.start == value.end => (key.end..key.end, format!(": {val}")),
        Some(c) if value.start == value.end => (c + 1..c + 1, format!(" {val}")),
        // A block value starts below its key: put the flow text on the key's line, before the
        // key line's comment, and drop the old lines with their comments.
        Some(c) if value.is_block_collection() => {
            let comment = text.get(c + 1..line_end(text, c + 1)?).unwrap_or("").trim();
            let sep = if comment.is_empty() { "" } else { " " };
            let end = line_end(text, value.end)?;
            (c + 1..end, format!(" {val}{sep}{comment}"))
        }
        None if value.is_block_collection() => return Err(unsupported("block value without `:`")),
        _ => (value.start..value.end, val.to_string()),
    })
}

/// The bytes to delete for entry `p`: its whole lines in block style, `key: value, ` in flow.
fn remove(text: &str, entries: &[&[Node]], p: usize, flow: bool) -> Res<Range<usize>> {
    let end_of = |kv: &[Node]| kv[0].end.max(kv[1].end);
    let kv = entries[p];
    if flow {
        let prev = p.checked_sub(1).and_then(|q| entries.get(q));
        return Ok(match (entries.get(p + 1), prev) {
            (Some(next), _) => kv[0].start..next[0].start,
            (None, Some(prev)) => end_of(prev)..end_of(kv),
            (None, None) => kv[0].start..end_of(kv),
        });
    }
    let head = text.get(..kv[0].start).unwrap_or("");
    let start = head.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let indent = &head[start..];
    if !indent.chars().all(|c| c == ' ') {
        return Err(unsupported(format!(
            "{indent:?} precedes the field on its line"
        )));
    }
    let end = line_end(text, end_of(kv))?;
    let rest = text.get(end..).unwrap_or("");
    let line_break = ["\r\n", "\n", "\r"]
        .into_iter()
        .find(|nl| rest.starts_with(nl));
    Ok(start..end + line_break.map_or(0, str::len))
}

/// Where the line holding `pos` ends (before its line break), if the rest is blank or a comment.
fn line_end(text: &str, pos: usize) -> Res<usize> {
    let rest = text.get(pos..).unwrap_or("");
    let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let tail = rest[..len].trim_start();
    if tail.is_empty() || tail.starts_with('#') {
        Ok(pos + len)
    } else {
        Err(unsupported(format!("unexpected {tail:?} after a value")))
    }
}

/// The byte index of the `:` following a key that ends at `pos`.
fn colon_after(text: &str, pos: usize) -> Option<usize> {
    let rest = text.get(pos..)?;
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let skipped = rest.len() - trimmed.len();
    trimmed.starts_with(':').then_some(pos + skipped)
}

/// The first document of `text` as a tree of nodes with byte ranges.
fn parse_tree(text: &str) -> Res<Node> {
    let events: Result<Vec<_>, _> = Parser::new_from_str(text).collect();
    let events = events.map_err(|e| EditError::Syntax(e.to_string()))?;
    node(text, &events, &mut 0)
}

/// The next node or collection end at or after `i`, skipping comments and other metadata.
fn next<'e, 'i>(events: &'e [(Event<'i>, Span)], i: &mut usize) -> Res<&'e (Event<'i>, Span)> {
    while let Some(e) = events.get(*i) {
        *i += 1;
        if e.0.is_node() || matches!(e.0, Event::SequenceEnd | Event::MappingEnd) {
            return Ok(e);
        }
    }
    Err(EditError::Syntax("unexpected end of the document".into()))
}

/// The node starting at event `i`, with its children.
fn node(text: &str, events: &[(Event, Span)], i: &mut usize) -> Res<Node> {
    let (event, span) = next(events, i)?;
    let (Some(start), Some(end)) = (span.start.byte_offset(), span.end.byte_offset()) else {
        return Err(EditError::Syntax("the parser gave no byte offsets".into()));
    };
    let (col, flow, kind) = (span.start.col(), false, Kind::Alias);
    let mut n = Node {
        start,
        end,
        col,
        flow,
        kind,
    };
    match event {
        Event::Scalar(v, ..) => n.kind = Kind::Scalar(v.to_string()),
        Event::SequenceStart(style, ..) | Event::MappingStart(style, ..) => {
            n.flow = *style == StructureStyle::Flow;
            let mut items = Vec::new();
            loop {
                let at = *i;
                if let (Event::SequenceEnd | Event::MappingEnd, close) = next(events, i)? {
                    n.end = close.end.byte_offset().filter(|_| n.flow).unwrap_or(n.end);
                    break;
                }
                *i = at;
                items.push(node(text, events, i)?);
            }
            if !n.flow {
                n.end = items.last().map_or(start, |last| last.end);
            }
            n.kind = match event {
                Event::MappingStart(..) => Kind::Map(items),
                _ => Kind::Seq(items),
            };
        }
        Event::Alias(_) | Event::UnresolvedAlias(_) => {}
        _ => return Err(EditError::Syntax("unexpected end of a collection".into())),
    }
    let trimmed = text.get(..n.end).map(str::trim_end);
    n.end = trimmed.map_or(n.end, str::len).max(start);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\n";
    const CM: &str = "  clustermesh:  # by peers\n    port: 2379 # p\n    ips:\n    - 10.0.0.9\n";
    const PORT: &str = "apiserverNodePort";

    /// Edits and checks that the same edit again changes nothing.
    fn set(text: &str, cluster: &str, key: &str, value: Option<&str>) -> String {
        let out = set_cluster_field(text, cluster, key, value).unwrap();
        let again = set_cluster_field(&out, cluster, key, value).unwrap();
        assert_eq!(again, out, "not idempotent");
        out
    }

    fn ep(address: Option<&str>, ips: &[&str], port: u16) -> Endpoint {
        let (address, ips) = (
            address.map(str::to_string),
            ips.iter().map(|ip| ip.to_string()),
        );
        Endpoint {
            address,
            ips: ips.collect(),
            port,
        }
    }

    #[test]
    fn block_clusters_keep_comments() {
        let west =
            "# the west\n- name: west   # first\n  id: 1\n  context: w\n  podCIDR: 10.0.0.0/16\n";
        let east =
            "\n  # east next\n- name: east\n  id: 2\n  context: e\n  podCIDR: 10.1.0.0/16 # pods\n";
        let text = format!("{HEAD}clusters:\n{west}{CM}{east}");
        let endpoint = ep(None, &["172.18.0.4", "172.18.0.5"], 32380);
        let flow = endpoint_flow(&endpoint);
        let replaced = set(&text, "west", "clustermesh", Some(&flow));
        let want = "  clustermesh: {port: 32380, ips: [172.18.0.4, 172.18.0.5]} # by peers\n";
        assert_eq!(replaced, text.replace(CM, want));
        let parsed = Mesh::parse(&replaced).unwrap().clusters.remove(0);
        assert_eq!(parsed.clustermesh, Some(endpoint));

        let port = format!("  {PORT}: 32380\n");
        assert_eq!(
            set(&text, "east", PORT, Some("32380")),
            format!("{text}{port}")
        );
        let added = set(&text, "west", PORT, Some("32380"));
        assert_eq!(added, text.replace(CM, &format!("{CM}{port}")));
        assert_eq!(set(&added, "west", PORT, None), text);
        assert_eq!(
            set(&text, "west", "clustermesh", None),
            text.replace(CM, "")
        );
        assert_eq!(set(&text, "east", "clustermesh", None), text);
    }

    #[test]
    fn flow_clusters_and_flow_sequence() {
        let west = "{name: west, id: 1, context: w, podCIDR: 10.0.0.0/16}";
        let east = "{ name: east, id: 2, context: e, podCIDR: 10.1.0.0/16 }";
        let text = format!("{HEAD}clusters:\n- {west} # w\n- {east}\n");
        let added = set(&text, "west", PORT, Some("32380"));
        assert_eq!(
            added,
            text.replace("0/16}", "0/16, apiserverNodePort: 32380}")
        );
        let replaced = set(&added, "west", PORT, Some("32381"));
        assert_eq!(replaced, added.replace("32380", "32381"));
        assert_eq!(set(&added, "west", PORT, None), text);
        let cm = "{address: east.example.org, port: 2379}";
        let added = set(&text, "east", "clustermesh", Some(cm));
        let want = format!("0/16, clustermesh: {cm} }}");
        assert_eq!(added, text.replace("0/16 }", &want));
        let id = set(&text, "east", "id", Some("7"));
        assert_eq!(id, text.replace("id: 2", "id: 7"));
        let with_port = west.replace("w,", "w, apiserverNodePort: 1,");
        let seq = format!("{HEAD}clusters: [{with_port}]\n");
        let removed = set(&seq, "west", PORT, None);
        assert_eq!(removed, format!("{HEAD}clusters: [{west}]\n"));
    }

    #[test]
    fn null_value_and_crlf() {
        let w = "- name: w\n  clustermesh:\n  id: 1\n  context: w\n  podCIDR: 10.0.0.0/16\n";
        let text = format!("{HEAD}clusters:\n{w}");
        let set_null = set(&text, "w", "clustermesh", Some("{port: 1}"));
        assert_eq!(set_null, text.replace("mesh:", "mesh: {port: 1}"));
        let crlf = text.replace("  clustermesh:\n", "").replace('\n', "\r\n");
        let added = set(&crlf, "w", PORT, Some("5"));
        assert_eq!(added, format!("{crlf}  {PORT}: 5\r\n"));
        assert_eq!(set(&added, "w", PORT, None), crlf);
    }

    #[test]
    fn top_level() {
        let text = format!(
            "{HEAD}# CA\nclusters:\n- {{name: w, id: 1, context: w, podCIDR: 1.0.0.0/8}}\n"
        );
        let ca = set_top_level(&text, "ca", "{cert: ca.crt, key: ca.key}").unwrap();
        assert_eq!(ca, format!("{text}ca: {{cert: ca.crt, key: ca.key}}\n"));
        let ca2 = set_top_level(&ca, "ca", "{cert: a.crt, key: a.key}").unwrap();
        assert_eq!(ca2, ca.replace("ca.crt, key: ca", "a.crt, key: a"));
        let ns = set_top_level(&text, "namespace", "cilium").unwrap();
        assert_eq!(ns, format!("{text}namespace: cilium\n"));
        let err = set_top_level(&text, "routingMode", "fast").unwrap_err();
        assert!(matches!(err, EditError::Value(_)), "{err}");
    }

    #[test]
    fn refuses_wrong_edits() {
        let w = "- name: wëst # ünïcode 🦀\n  id: 1\n  context: w\n  podCIDR: 10.0.0.0/16\n";
        let text = format!("{HEAD}clusters:\n{w}");
        let err = set_cluster_field(&text, "north", "id", Some("2")).unwrap_err();
        assert!(matches!(
            err,
            EditError::Mesh(MeshError::UnknownCluster { .. })
        ));
        let edit = |key, value| set_cluster_field(&text, "wëst", key, Some(value));
        assert!(matches!(edit("colour", "red"), Err(EditError::Value(_))));
        assert!(matches!(edit(PORT, "70000"), Err(EditError::Value(_))));
        for bad in ["{port: 1", "{port: 1} # x", "1\n2", " "] {
            assert!(edit("clustermesh", bad).is_err(), "{bad:?}");
        }
        assert!(set_cluster_field("clusters: [", "west", "id", Some("1")).is_err());
        assert_eq!(
            set(&text, "wëst", "id", Some("3")),
            text.replace("id: 1", "id: 3")
        );
        let dash = text.replace(
            "- name: wëst # ünïcode 🦀",
            "- apiserverNodePort: 1\n  name: wëst",
        );
        let err = set_cluster_field(&dash, "wëst", PORT, None);
        assert!(matches!(err, Err(EditError::Unsupported(_))));
    }

    #[test]
    fn endpoint_flow_quotes_what_yaml_could_misread() {
        let flow = |address| endpoint_flow(&ep(Some(address), &[], 2379));
        for plain in ["east.example.org", "1password.com", "10.1.2.3"] {
            assert_eq!(flow(plain), format!("{{address: {plain}, port: 2379}}"));
        }
        let odd = "fd00::1 yes No null 1e3 0x1F 123 2001-12-14 -a a#b".split(' ');
        for odd in odd.chain(["a b", ""]) {
            let quoted = serde_json::Value::from(odd);
            assert_eq!(flow(odd), format!("{{address: {quoted}, port: 2379}}"));
        }
        let v6 = ep(None, &["fd00::1", "10.0.0.1"], 1);
        let flow = endpoint_flow(&v6);
        assert_eq!(flow, r#"{port: 1, ips: ["fd00::1", 10.0.0.1]}"#);
        let text =
            format!("{HEAD}clusters:\n- {{name: w, id: 1, context: w, podCIDR: 1.0.0.0/8}}\n");
        let out = set(&text, "w", "clustermesh", Some(&flow));
        assert_eq!(Mesh::parse(&out).unwrap().clusters[0].clustermesh, Some(v6));
    }
}
