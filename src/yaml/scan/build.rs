//! The value of a document the reader is sure of, built as it reads: what [`super::super::parse`]
//! (serde-saphyr, as Helm reads YAML) gives for it, without the full parser's events.
//!
//! The reader's subset has no tags, anchors or aliases, so a node's value follows from its text:
//! quoted scalars are strings; literal blocks are their lines without the indentation, chomped;
//! plain scalars are typed by [`plain`], which is sure of strings that cannot be anything else,
//! small decimal integers and `true`/`false`/`null`/`~`, and asks the full parser about any other
//! (`1.5`, `0755`, `yes`…) on its own. Folded blocks, and blocks whose blank lines carry more
//! indentation than their content, make it unsure: the full parser reads the document.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{MAX_NUMBER, R, Sink, Unsure, special_word};

pub(super) struct Build;

impl<'a> Sink<'a> for Build {
    type Node = Value;
    type Map = Map<String, Value>;
    type Seq = Vec<Value>;

    fn null() -> Value {
        Value::Null
    }

    fn plain(text: &'a str) -> R<Value> {
        plain(text)
    }

    fn string(text: Cow<'a, str>) -> Value {
        Value::String(text.into_owned())
    }

    fn block(style: u8, chomp: u8, lines: &'a str, indent: Option<usize>) -> R<Value> {
        if style != b'|' {
            return Err(Unsure); // folded
        }
        literal(chomp, lines, indent).map(Value::String)
    }

    fn map() -> Map<String, Value> {
        Map::new()
    }

    fn insert(map: &mut Map<String, Value>, key: &'a str, value: Value) {
        map.insert(key.to_string(), value);
    }

    fn end_map(map: Map<String, Value>) -> Value {
        Value::Object(map)
    }

    fn seq() -> Vec<Value> {
        Vec::new()
    }

    fn push(seq: &mut Vec<Value>, value: Value) {
        seq.push(value);
    }

    fn end_seq(seq: Vec<Value>) -> Value {
        Value::Array(seq)
    }
}

/// A literal block scalar (YAML 1.2 §8.1.2): each content line without the content indentation
/// and with its line break, empty lines as line breaks, then chomped: clip keeps one final line
/// break, strip none, keep every trailing one.
fn literal(chomp: u8, lines: &str, indent: Option<usize>) -> R<String> {
    let Some(indent) = indent else {
        // Only blank lines: empty, unless kept.
        return if chomp == b'+' {
            Err(Unsure)
        } else {
            Ok(String::new())
        };
    };
    let mut out = String::with_capacity(lines.len());
    let mut blank = 0; // empty lines not yet written
    for line in lines.split_inclusive('\n') {
        // The document's last line without a line break: the final break's absence matters.
        let text = line.strip_suffix('\n').ok_or(Unsure)?;
        if text.bytes().all(|c| c == b' ') {
            if text.len() > indent {
                return Err(Unsure); // spaces beyond the indentation are content
            }
            blank += 1;
            continue;
        }
        for _ in 0..blank {
            out.push('\n');
        }
        blank = 0;
        out.push_str(&text[indent..]);
        out.push('\n');
    }
    match chomp {
        b'-' => {
            out.pop();
        }
        b'+' => out.extend(std::iter::repeat_n('\n', blank)),
        _ => {}
    }
    Ok(out)
}

/// A plain scalar's value: a string when no YAML 1.1 or 1.2 reader could take it for anything
/// else, a small decimal or YAML 1.1 octal integer, `true`, `false`, `null` or `~`; any other is
/// typed by the full parser on its own, as a mapping value (it is context-free: no tags).
pub(super) fn plain(text: &str) -> R<Value> {
    let b = text.as_bytes();
    let sure = match b[0] {
        b'a'..=b'z' | b'A'..=b'Z' | b'_' => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "null" => Some(Value::Null),
            _ if special_word(text) || float_word(text) => None,
            _ => Some(Value::String(text.to_string())),
        },
        b'~' if b.len() == 1 => Some(Value::Null),
        b'/' => Some(Value::String(text.to_string())),
        // `--flag=value`, `-c`: not a number (`-1`, `-.5`, `-inf`, `-nan` are asked about).
        b'-' if b.len() > 1
            && (b[1] == b'-'
                || (b[1].is_ascii_alphabetic() && !matches!(b[1] | 0x20, b'i' | b'n'))) =>
        {
            Some(Value::String(text.to_string()))
        }
        // `:4245` (a listen address): not a YAML 1.1 sexagesimal, which starts with digits.
        b':' => Some(Value::String(text.to_string())),
        b'0'..=b'9' => {
            if b.iter().all(u8::is_ascii_digit) {
                let octal = b.len() > 1 && b[0] == b'0';
                if b.len() > MAX_NUMBER {
                    None
                } else if !octal {
                    text.parse::<u64>().ok().map(Value::from)
                } else if b.iter().all(|c| matches!(c, b'0'..=b'7')) {
                    // YAML 1.1 octal, as Helm reads `defaultMode: 0400`.
                    u64::from_str_radix(text, 8).ok().map(Value::from)
                } else {
                    None // `08`: asked about
                }
            } else if !radix(b) && b.iter().any(|&c| !number_char(c)) {
                // Not a number, time or sexagesimal in any notation: `10.0.0.0/8`, `30s`, `5f2e…`.
                Some(Value::String(text.to_string()))
            } else {
                None
            }
        }
        _ => None,
    };
    match sure {
        Some(v) => Ok(v),
        None => ask(text),
    }
}

/// `inf`, `infinity`, `nan` in any case: floats to some readers.
fn float_word(s: &str) -> bool {
    ["inf", "infinity", "nan"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(s))
}

/// `0x`, `0o`, `0b` (and upper case): integers in another base.
fn radix(b: &[u8]) -> bool {
    b.len() > 1 && b[0] == b'0' && matches!(b[1] | 0x20, b'x' | b'o' | b'b')
}

/// Characters of numbers (`1_000`, `1.5e-3`), YAML 1.1 sexagesimals (`1:30`) and timestamps
/// (`2001-12-14t21:59:43.10-05:00`, `2001-12-14 21:59:43Z`).
fn number_char(c: u8) -> bool {
    c.is_ascii_digit()
        || matches!(
            c,
            b'.' | b'_' | b'+' | b'-' | b':' | b' ' | b'e' | b'E' | b't' | b'T' | b'z' | b'Z'
        )
}

/// The full parser's reading of one plain scalar, as the value of a mapping.
fn ask(text: &str) -> R<Value> {
    let doc = format!("x: {text}\n");
    match super::super::parse_raw(&doc) {
        Ok(Value::Object(mut m)) if m.len() == 1 => m.remove("x").ok_or(Unsure),
        _ => Err(Unsure),
    }
}
