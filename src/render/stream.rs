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
pub fn split(stream: &str) -> Split<'_> {
    Split {
        stream,
        start: 0,
        line: 1,
        number: 0,
        finder: memchr::memmem::Finder::new(b"\n---"),
    }
}

/// Where the first document starting at or after byte `at` of `stream` starts (its `---`
/// line), or the stream's length: a place to cut a stream without splitting a document.
pub fn boundary_after(stream: &str, at: usize) -> usize {
    let bytes = stream.as_bytes();
    let mut from = at.saturating_sub(1).min(bytes.len());
    let finder = memchr::memmem::Finder::new(b"\n---");
    while let Some(p) = finder.find(&bytes[from..]) {
        let line = from + p + 1;
        let eol = memchr::memchr(b'\n', &bytes[line..]).map_or(bytes.len(), |n| line + n + 1);
        if is_separator(&stream[line..eol]) {
            return line;
        }
        from = line;
    }
    stream.len()
}

/// The documents of a stream, in order (see [`split`]): separators are found with a vectorised
/// search for `\n---`, so a document costs what its length does to scan once.
pub struct Split<'a> {
    stream: &'a str,
    /// Where the next document starts.
    start: usize,
    /// Its first line.
    line: usize,
    number: usize,
    finder: memchr::memmem::Finder<'static>,
}

impl<'a> Iterator for Split<'a> {
    type Item = Document<'a>;

    fn next(&mut self) -> Option<Document<'a>> {
        let s = self.stream;
        if self.start >= s.len() {
            return None;
        }
        let bytes = s.as_bytes();
        // The next separator line after the one this document may open with.
        let mut from = self.start;
        let end = loop {
            match self.finder.find(&bytes[from..]) {
                None => break s.len(),
                Some(p) => {
                    let at = from + p + 1;
                    let eol = memchr::memchr(b'\n', &bytes[at..]).map_or(s.len(), |n| at + n + 1);
                    if is_separator(&s[at..eol]) {
                        break at;
                    }
                    from = at;
                }
            }
        };
        self.number += 1;
        let raw = &s[self.start..end];
        let doc = Document {
            number: self.number,
            first_line: self.line,
            raw,
        };
        self.line += memchr::memchr_iter(b'\n', raw.as_bytes()).count();
        self.start = end;
        Some(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_reassembles_exactly() {
        let s =
            "---\n# Source: a.yaml\nkind: A\n---\n# only a comment\n--- \nkind: B\nx: |\n  text\n";
        let docs: Vec<_> = split(s).collect();
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
        let docs: Vec<_> = split("kind: A\n---\nkind: B").collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].raw, "kind: A\n");
        assert_eq!(docs[1].raw, "---\nkind: B");
        assert_eq!(docs[1].split_head().1, "kind: B");
    }

    #[test]
    fn cut_at_a_boundary_splits_as_the_whole() {
        let s = "a: 1\n---\nb: |\n  ---x\n--- \nc: 3\n---\n";
        for at in 0..=s.len() {
            let cut = boundary_after(s, at);
            assert!(cut >= at.min(s.len()), "{at}");
            let mut parts: Vec<_> = split(&s[..cut]).map(|d| d.raw).collect();
            parts.extend(split(&s[cut..]).map(|d| d.raw));
            assert_eq!(parts, split(s).map(|d| d.raw).collect::<Vec<_>>(), "{at}");
        }
    }

    #[test]
    fn dashes_inside_a_line_do_not_split() {
        assert_eq!(split("a: ---\nb: x---\n").count(), 1);
        // `---` that is not alone on its line (or followed by a space or tab) splits nothing.
        assert_eq!(
            split("a: 1\n---x\n----\n--- \nb: 2\n---\t# c\n---").count(),
            4
        );
        let lines: Vec<_> = split("a\n---\nb\n\n---\n").map(|d| d.first_line).collect();
        assert_eq!(lines, [1, 2, 5]);
    }
}
