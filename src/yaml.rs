//! YAML as Helm reads it (YAML 1.1 scalars: `on`/`no` booleans, `0755` octal) into an ordered
//! JSON value, and back to YAML whose scalars mean the same to a YAML 1.1 reader. Shared by the
//! pure core (`mesh`, `render`) and the commands; it depends on neither.

use serde_json::Value;

pub mod scan;

/// A parse failure with the 1-based line (within the parsed text) where it was found.
#[derive(Debug)]
pub struct ParseError {
    pub line: Option<u64>,
    pub message: String,
}

/// Parses one YAML document the way Helm (sigs.k8s.io/yaml, YAML 1.1) reads it, within a
/// budget scaled to the text: aliases may not make it grow past a small multiple of itself.
/// The plain YAML charts are written in is read by [`scan::Reader::value`] (same value, a
/// fraction of the time); anything else, and every error, by serde-saphyr.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    if let Some((_, value)) = scan::Reader::default().value(text) {
        return Ok(value);
    }
    parse_raw(text).map_err(|e| ParseError {
        line: e.location().map(|l| l.line()),
        message: strip_location(&e.to_string()),
    })
}

/// serde-saphyr prefixes its messages with `error: line L column C: `; the caller says where.
fn strip_location(message: &str) -> String {
    let m = message.trim().trim_start_matches("error: ");
    match m
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, tail)) => tail.to_string(),
        None => m.to_string(),
    }
}

/// The identifying part of a Kubernetes object; the rest of the document is checked for
/// syntax but not kept.
#[derive(serde::Deserialize)]
struct Header {
    #[serde(rename = "apiVersion")]
    api_version: Option<Value>,
    kind: Option<Value>,
    metadata: Option<Value>,
}

/// Parses a document keeping only `apiVersion`, `kind` and `metadata` (cheap for big objects).
/// A document that is not a mapping comes back as whatever it is (null for an empty one).
pub fn parse_header(text: &str) -> Result<Value, ParseError> {
    match serde_saphyr::from_str_with_options::<Option<Header>>(text, options(text.len())) {
        Ok(None) => Ok(Value::Null),
        Ok(Some(h)) => {
            let mut m = serde_json::Map::new();
            for (k, v) in [
                ("apiVersion", h.api_version),
                ("kind", h.kind),
                ("metadata", h.metadata),
            ] {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            }
            Ok(Value::Object(m))
        }
        // Not a mapping (a list, a scalar): parse it whole so the caller can say what it is.
        Err(_) => parse(text),
    }
}

/// How much larger than its text a document may become through aliases (`*ref`).
const EXPANSION: usize = 4;
/// Room for small documents whatever their size.
const FLOOR: usize = 1 << 20;

/// Helm's reading of YAML, with a budget for a document of `len` bytes: scalar bytes, nodes and
/// events (aliases replay theirs) bounded by a small multiple of the text.
fn options(len: usize) -> serde_saphyr::Options {
    let room = len.saturating_mul(EXPANSION).max(FLOOR);
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_total_scalar_bytes = room;
    budget.max_recorded_anchor_bytes = room;
    budget.max_nodes = room / 4;
    budget.max_events = room / 2;
    budget.max_recorded_anchor_events = room / 2;
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        strict_booleans: false,
        budget: Some(budget),
        with_snippet: false,
        // Comments are checked but not kept: nothing reads them, and kept ones count against
        // the budget (more than 32 in a row in some places refused a valid document).
        emit_comments: false,
    }
}

fn parse_raw(text: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options(text.len()))
}

/// Emits one document (no `---`), quoting every string a YAML 1.1 reader could take for
/// something else and writing multi-line strings as literal blocks.
pub fn emit(value: &Value) -> Result<String, serde_saphyr::SerializeError> {
    let options = serde_saphyr::ser_options! {
        min_fold_chars: usize::MAX,
        folded_wrap_chars: usize::MAX,
        compact_list_indent: true,
    };
    let mut out = serde_saphyr::to_string_with_options(value, options)?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_yaml_1_1_scalars_as_helm_does() {
        let v = parse("a: on\nb: no\nc: 0755\nd: \"0755\"\ne: 'on'\nf: 1.5\ng: ~\n").unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": 493, "d": "0755", "e": "on", "f": 1.5, "g": null})
        );
    }

    /// An alias bomb: a 10 KB string repeated through five levels of aliases (10^5 copies).
    fn bomb() -> String {
        let mut doc = format!("kind: ConfigMap\nl0: &a0 \"{}\"\n", "x".repeat(10_000));
        for i in 1..=5 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            doc.push_str(&format!("l{i}: &a{i} [{refs}]\n"));
        }
        doc
    }

    #[test]
    fn aliases_cannot_grow_a_document_past_its_budget() {
        let text = bomb();
        assert!(text.len() < 20_000);
        let err = parse(&text).unwrap_err();
        assert!(!err.message.is_empty());
        // A few aliases (as charts write them) are fine.
        let v = parse("a: &x {k: v}\nb: *x\nc: *x\n").unwrap();
        assert_eq!(v["c"]["k"], "v");
    }

    #[test]
    fn long_runs_of_comments_are_fine() {
        let mut doc = String::from("kind: A\nx:\n");
        for i in 0..100 {
            doc.push_str(&format!("  # line {i}\n"));
        }
        doc.push_str("  y: 1\n");
        assert_eq!(parse(&doc).unwrap()["x"]["y"], 1);
        assert_eq!(parse_header(&doc).unwrap()["kind"], "A");
    }

    #[test]
    fn emitted_strings_keep_their_meaning_and_key_order() {
        let v = json!({"z": "on", "a": "0755", "m": "no", "n": "1e3", "s": "line1\nline2\n", "q": "", "t": true, "i": 7, "l": ["y", {"k": "null"}]});
        let text = emit(&v).unwrap();
        assert_eq!(parse(&text).unwrap(), v, "{text}");
        assert!(text.starts_with("z:"), "{text}");
        assert!(text.contains("s: |"), "{text}");
    }
}
