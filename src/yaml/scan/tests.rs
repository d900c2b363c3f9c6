//! The fast reader held to the full parser (serde-saphyr, as `super::super::parse_header`).

use std::collections::HashSet;

use serde_json::Value;

use super::*;

fn head(body: &str) -> Option<Head<'_>> {
    Reader::default().head(body)
}

/// The fast reader against the full parser: a document it accepts must parse (header and
/// whole) and have the same header fields.
fn agrees(body: &str) -> bool {
    let Some(h) = head(body) else {
        return false;
    };
    let full = super::super::parse_header(body)
        .unwrap_or_else(|e| panic!("accepted, but the parser says {}: {body:?}", e.message));
    assert_eq!(full.is_null(), !h.mapping, "{body:?}");
    let meta = &full["metadata"];
    for (field, value) in [
        (&full["apiVersion"], &h.api_version),
        (&full["kind"], &h.kind),
        (&meta["name"], &h.name),
        (&meta["namespace"], &h.namespace),
        (&meta["labels"]["helm.sh/chart"], &h.chart),
        (&meta["annotations"][FILENAME_ANNOTATION], &h.filename),
    ] {
        let want = value
            .as_deref()
            .map_or(Value::Null, |v| Value::String(v.into()));
        assert_eq!(*field, want, "{body:?}");
    }
    if let Err(e) = super::super::parse(body) {
        panic!("accepted, but the parser says {}: {body:?}", e.message);
    }
    true
}

/// The value the reader builds against the full parser's (serde-saphyr itself, not
/// `super::super::parse`, which starts with this reader): a document it builds must parse to the
/// same value, and be one the header reader accepts with the same header.
fn builds(body: &str) -> bool {
    let Some((h, v)) = Reader::default().value(body) else {
        return false;
    };
    let full = super::super::parse_raw(body)
        .unwrap_or_else(|e| panic!("built, but the parser says {e}: {body:?}"));
    assert_eq!(v, full, "{body:?}");
    assert_eq!(head(body), Some(h), "{body:?}");
    true
}

fn bodies(stream: &str) -> Vec<&str> {
    crate::render::stream::split(stream)
        .map(|d| d.split_head().1)
        .collect()
}

/// Every distinct document of the recorded chart renderings (tests/data) and the shipped
/// example; most of them must be read without the full parser.
#[test]
fn agrees_with_the_parser_on_every_recorded_chart_document() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![std::fs::read_to_string(root.join("examples/cilium.yaml")).unwrap()];
    let mut dirs = vec![root.join("tests/data/refcases")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "base.yaml") {
                texts.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    assert!(
        texts.len() > 100,
        "tests/data/refcases has the recorded renderings"
    );
    let docs: HashSet<&str> = texts.iter().flat_map(|t| bodies(t)).collect();
    let fast = docs.iter().filter(|d| agrees(d)).count();
    assert!(
        fast * 10 >= docs.len() * 9,
        "only {fast} of {} documents read fast",
        docs.len()
    );
    let built = docs.iter().filter(|d| builds(d)).count();
    assert!(
        built * 10 >= docs.len() * 8,
        "only {built} of {} documents built without the full parser",
        docs.len()
    );
}

/// Small random edits of chart documents (YAML punctuation, indentation, line breaks,
/// tabs): whatever the fast reader accepts, the parser accepts with the same header.
#[test]
fn agrees_with_the_parser_on_mutated_documents() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("examples/cilium.yaml")).unwrap();
    let mut corpus: Vec<String> = bodies(&example)
        .into_iter()
        .filter(|b| b.len() < 3000)
        .map(str::to_string)
        .collect();
    corpus.extend(SAMPLES.iter().map(|s| s.to_string()));
    const PUNCT: &[u8] = b":-# \"'[]{}|>\n\t&*!,?%@.0e\\~";
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut rand = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut accepted, mut tried, mut built) = (0, 0, 0);
    for round in 0..12 {
        for doc in &corpus {
            let mut b = doc.clone().into_bytes();
            for _ in 0..=round % 3 {
                if b.is_empty() {
                    break;
                }
                let at = rand(b.len());
                match rand(4) {
                    0 => {
                        b.remove(at);
                    }
                    1 => b.insert(at, PUNCT[rand(PUNCT.len())]),
                    2 => b[at] = PUNCT[rand(PUNCT.len())],
                    _ => {
                        // Indent or outdent the line `at` is on.
                        let start = b[..at]
                            .iter()
                            .rposition(|&c| c == b'\n')
                            .map_or(0, |p| p + 1);
                        if rand(2) == 0 {
                            b.splice(start..start, *b"  ");
                        } else if b.get(start) == Some(&b' ') {
                            b.remove(start);
                        }
                    }
                }
            }
            let Ok(text) = String::from_utf8(b) else {
                continue;
            };
            tried += 1;
            accepted += usize::from(agrees(&text));
            built += usize::from(builds(&text));
        }
    }
    assert!(built > tried / 10, "{built} of {tried} built");
    // The mutations must leave both outcomes common, or the test shows nothing.
    assert!(
        accepted > tried / 10 && accepted < tried * 9 / 10,
        "{accepted} of {tried}"
    );
}

const SAMPLES: &[&str] = &[
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b, labels: {helm.sh/chart: cilium-1.2.3}}\ndata: {k: v, m: '1', checksum: 5f2b0e1c0ffee, n1: 0x1F, e: 1.2.3-rc}\n",
    "kind: Deployment\nmetadata:\n  name: x\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'u/charts/c/templates/d.yaml'\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        args: [\"--x=1\", --y]\n        command:\n        - sh\n        - -c\n        - |\n          echo hi\n          # not a comment\n\n      - name: b\n        ports: [{containerPort: 80}]\n",
    "kind: Service\nmetadata:\n  name: s # trailing\n  namespace: \"ns\"\nspec:\n  ports:\n    - port: 80\n      targetPort: 8080\n  selector: {}\n  x: []\n",
    "# only a comment\n",
    "",
    "kind: Secret\ndata:\n  a: >-\n    folded\n    text\n\n  b: |+\n    keep\n\nstringData: {}\n",
];

#[test]
fn refuses_to_guess() {
    for body in [
        "kind: A\nx: |\n  a\n b\n",  // a line less indented inside a block
        "kind: A\nx: |\n   \n  a\n", // a leading blank line indented too far
        "kind: A\nx: .inf\n",        // the parser refuses non-finite numbers
        "kind: A\nx: [1e400]\n",
        "kind: A\nx: 0x1234567890abcdef01234\n",
        "kind: A\nx: 12345678901234567890123\n",
        "kind: A\nx: {n: 1}\n",
        "kind: A\nx: &a 1\ny: *a\n", // anchors and aliases
        "kind: A\nx: !!int bar\n",   // tags
        "kind: A\nkind: B\n",        // duplicate keys
        "kind: A\nspec: {a: 1, a: 2}\n",
        "kind: A\nspec:\n  a: 1\n  'a': 2\n",
        "kind: A\nx: \"a\n  b\"\n", // a quoted scalar over two lines
        "kind: A\nx: [a,\n  b]\n",  // a flow collection over two lines
        "kind: A\nx: a\n  b\n",     // a plain scalar over two lines
        "kind: A\nx: a: b\n",
        "kind: A\nx: -\n",
        "kind: A\n\tx: 1\n",
        "kind: A\r\nx: 1\r\n",
        "- a\n- b\n", // not a mapping
        "kind: 1\n",  // a header field that is not a string
        "kind: yes\n",
        "metadata:\n  name: [a]\n",
        "kind: A\n~: 1\n",
        "%YAML 1.2\nkind: A\n",
        "kind: A\n...\n",
        "kind: A\nx: \"\\q\"\n",
    ] {
        assert!(head(body).is_none(), "{body:?}");
    }
}

#[test]
fn reads_the_header_fields() {
    let h = head(SAMPLES[0]).unwrap();
    assert_eq!(h.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(h.namespace.as_deref(), Some("b"));
    assert_eq!(h.chart.as_deref(), Some("cilium-1.2.3"));
    let h = head(SAMPLES[1]).unwrap();
    assert_eq!(h.filename.as_deref(), Some("u/charts/c/templates/d.yaml"));
    assert_eq!(h.namespace, None);
    assert!(!head("# c\n").unwrap().mapping);
    for s in SAMPLES {
        assert!(agrees(s), "{s:?}");
        builds(s);
    }
}

/// Plain scalars of every type, as block and flow values: whatever the reader builds, the full
/// parser reads the same; strings, small integers and the core words are built without it.
#[test]
fn types_plain_scalars_as_the_parser_does() {
    #[rustfmt::skip]
    const SCALARS: &[&str] = &[
        "a", "_x", "x y", "a:b", "a#b", "true", "false", "null", "~", "0", "7", "42", "0755",
        "09", "00", "1.5", "1.0", "1.", ".5", "1e3", "1E3", "1.5e-3", "-1", "+1", "-0", "-1.5",
        "1_000", "1:30", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5", "--x", "--a=1", "-c", "-e", "-E5", "-i", "-n", "/p",
        "10.0.0.0/8", "1.17.6", "30s", "5f2b0e1c0ffee", "1e", "1x", "0x1F", "0X1f", "0o17",
        "0b11", "0b2", "0xZZ", "yes", "no", "on", "off", "y", "n", "Y", "N", "NO", "Yes", "True",
        "TRUE", "False", "NULL", "Null", "nan", "NaN", "NAN", "inf", "Inf", "infinity",
        "Infinity", "-inf", "-nan", "e5", "E", "18446744073709551615", "18446744073709551616",
        "123456789012345678", "1234567890123456789", "9223372036854775808", "=", "<<", "$x",
        "%x", "1 2", "0.0.0.0", "::1", "2001:db8::1", "1-2", "1+2", "3e", "+", "0.", "-0.0",
        ":4245", ":x", ":1:2", "0400", "007", "0777777777777777", "08", "0128", "01", "00000",
    ];
    let mut sure = 0;
    for s in SCALARS {
        for body in [
            format!("x: {s}\n"),
            format!("x: [{s}]\n"),
            format!("- {s}\n"),
        ] {
            builds(&body);
        }
        if let Ok(v) = super::build::plain(s) {
            assert_eq!(
                v,
                super::super::parse_raw(&format!("x: {s}\n")).unwrap()["x"],
                "{s}"
            );
            sure += 1;
        }
    }
    assert!(sure > SCALARS.len() / 2, "{sure}");
    for (s, want) in [
        ("a", Value::from("a")),
        ("--a=1", Value::from("--a=1")),
        ("10.0.0.0/8", Value::from("10.0.0.0/8")),
        ("42", Value::from(42)),
        ("0400", Value::from(256)),
        (":4245", Value::from(":4245")),
        ("true", Value::Bool(true)),
        ("~", Value::Null),
    ] {
        let v = Reader::default().value(&format!("x: {s}\n")).unwrap().1;
        assert_eq!(v["x"], want, "{s}");
    }
}

/// Literal blocks with every chomping, blank lines inside, before and after, and more
/// indented lines; folded blocks are left to the full parser.
#[test]
fn builds_literal_blocks_as_the_parser_does() {
    let mut built = 0;
    for header in ["|", "|-", "|+", ">", ">-", ">+"] {
        for content in [
            "  a\n",
            "  a\n  b\n",
            "  a\n\n  b\n",
            "  a\n\n\n",
            "\n  a\n",
            "  \n  a\n",
            "  a\n    b\n  c\n",
            "  a \n  b\t\n",
            "  a\n  \n",
            "  a\n     \n",
            "  # not a comment\n",
            "\n",
            "",
            "  a\n# a comment\n",
            "  a",
        ] {
            for after in ["", "y: 1\n", "\ny: 1\n"] {
                let body = format!("x: {header}\n{content}{after}");
                built += usize::from(builds(&body));
                let body = format!("s:\n- {header}\n{content}{after}");
                built += usize::from(builds(&body));
            }
        }
    }
    assert!(built > 60, "{built}");
    assert!(Reader::default().value("x: >\n  a\n  b\n").is_none());
}
