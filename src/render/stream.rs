//! A multi-document YAML stream split into documents that keep their exact text, so documents
//! that are not changed can be written back byte for byte.

/// One document of the stream: its raw text including the `---` line that opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based position in the stream (the number a user sees in errors).
    pub number: usize,
    /// 1-based line of the stream where `raw` starts.
    pub first_line: usize,
    pub raw: &'a str,
}

impl<'a> Document<'a> {
    /// Splits `raw` into the separator line and leading comments (kept as they are when the
    /// document is rewritten, e.g. Helm's `# Source:` line) and the YAML body.
    pub fn split_head(&self) -> (&'a str, &'a str) {
        let mut head_len = 0;
        for line in self.raw.split_inclusive('\n') {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || (head_len == 0 && is_separator(line)) {
                head_len += line.len();
            } else {
                break;
            }
        }
        self.raw.split_at(head_len)
    }

    /// The 1-based stream line where the body (after the head) starts.
    pub fn body_first_line(&self) -> usize {
        let (head, _) = self.split_head();
        self.first_line + head.matches('\n').count()
    }
}

/// A line that opens a new document: `---` alone or followed by a space/comment/content.
fn is_separator(line: &str) -> bool {
    let line = line.trim_end_matches(['\n', '\r']);
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t")
}

/// Splits a stream at its `---` lines. Concatenating the documents' `raw` gives back the input.
pub fn split(stream: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (line_no, line) in (1..).zip(stream.split_inclusive('\n')) {
        if is_separator(line) && offset > start {
            docs.push(Document {
                number: docs.len() + 1,
                first_line: start_line,
                raw: &stream[start..offset],
            });
            start = offset;
            start_line = line_no;
        }
        offset += line.len();
    }
    if offset > start {
        docs.push(Document {
            number: docs.len() + 1,
            first_line: start_line,
            raw: &stream[start..offset],
        });
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_reassembles_exactly() {
        let s =
            "---\n# Source: a.yaml\nkind: A\n---\n# only a comment\n--- \nkind: B\nx: |\n  text\n";
        let docs = split(s);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs.iter().map(|d| d.raw).collect::<String>(), s);
        assert_eq!(
            docs[0].split_head(),
            ("---\n# Source: a.yaml\n", "kind: A\n")
        );
        assert_eq!(docs[2].first_line, 6);
        assert_eq!(docs[2].body_first_line(), 7);
    }

    #[test]
    fn a_stream_without_a_leading_separator() {
        let docs = split("kind: A\n---\nkind: B");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].raw, "kind: A\n");
        assert_eq!(docs[1].raw, "---\nkind: B");
        assert_eq!(docs[1].split_head().1, "kind: B");
    }

    #[test]
    fn dashes_inside_a_line_do_not_split() {
        assert_eq!(split("a: ---\nb: x---\n").len(), 1);
    }
}
