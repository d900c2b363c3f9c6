//! A fast reader for the plain YAML charts are written in: block mappings and sequences,
//! one-line flow collections, one-line quoted scalars, plain scalars, literal and folded blocks,
//! comments. It checks a whole document and reads its identifying fields without building a
//! value, at hundreds of MB/s, so an umbrella chart's documents that nothing changes can be
//! passed through unparsed yet checked.
//!
//! It accepts only what it is sure [`super::parse_header`] accepts with the same header: every
//! construct outside this subset (anchors, aliases, tags, multi-line flow or quoted scalars,
//! explicit keys, tabs, directives, numbers that could overflow, keys that are not plain
//! strings, …) makes it answer "not sure" (`None`), and the caller parses the document with the
//! full parser, which accepts it or says what is wrong and where. The subset and its rules follow
//! YAML 1.2 (yaml.org/spec/1.2.2, chapters 6–8) as granit-parser and serde-saphyr apply them;
//! `tests` below holds it to the full parser on every document of the shipped stream and on
//! thousands of mutations of them.

use std::borrow::Cow;

mod build;
mod sink;

use sink::{Check, Sink};

/// Helm 4 tags every document it hands a post-renderer with this annotation (the template that
/// made it).
pub const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

/// What a document says about itself: the fields a render needs to decide whether it must
/// parse the document (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace`, the
/// `helm.sh/chart` label and Helm 4's filename annotation), each a string when present.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    /// Whether the document has any content (an empty document reads as null).
    pub mapping: bool,
    pub api_version: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub namespace: Option<Cow<'a, str>>,
    pub chart: Option<Cow<'a, str>>,
    pub filename: Option<Cow<'a, str>>,
}

/// Reads documents' [`Head`]s, reusing its memory from one document to the next.
#[derive(Default)]
pub struct Reader {
    /// The keys of the mappings being read (offsets in the document), innermost last.
    keys: Vec<(usize, usize)>,
}

impl Reader {
    /// Checks `body` (one document without its `---` line) and reads its [`Head`]; `None` when
    /// the document is outside the subset this reader is sure of (the full parser must decide).
    pub fn head<'a>(&mut self, body: &'a str) -> Option<Head<'a>> {
        self.read::<Check>(body).map(|(head, ())| head)
    }

    /// Reads `body` whole: its [`Head`] and the value [`super::parse`] gives for it, built
    /// without the full parser; `None` when the document or one of its scalars is outside what
    /// this reader is sure of ([`build`]).
    pub fn value<'a>(&mut self, body: &'a str) -> Option<(Head<'a>, serde_json::Value)> {
        self.read::<build::Build>(body)
    }

    fn read<'a, S: Sink<'a>>(&mut self, body: &'a str) -> Option<(Head<'a>, S::Node)> {
        if body.len() > MAX_DOCUMENT || !plain_text(body.as_bytes()) {
            return None;
        }
        self.keys.clear();
        let mut s = Scanner::<S> {
            text: body,
            pos: 0,
            cached: usize::MAX,
            end: 0,
            next: 0,
            tabs: memchr::memchr(b'\t', body.as_bytes()).is_some(),
            head: Head::default(),
            keys: &mut self.keys,
            sink: std::marker::PhantomData,
        };
        let node = s.document().ok()?;
        Some((s.head, node))
    }
}

/// Bigger documents go to the full parser (its budgets are sized for them).
const MAX_DOCUMENT: usize = 16 << 20;
/// Nesting deeper than this goes to the full parser (whose limit is 64).
const MAX_DEPTH: usize = 40;
/// Longer implicit keys go to the full parser (YAML limits them to 1024 characters).
const MAX_KEY: usize = 512;
/// Longer plain scalars that could be numbers go to the full parser (they may overflow).
const MAX_NUMBER: usize = 18;

/// "Not sure": the full parser decides.
struct Unsure;
type R<T> = Result<T, Unsure>;

/// Where in the header a mapping is, to know which of its keys are header fields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Metadata,
    Labels,
    Annotations,
    Other,
}

#[derive(Clone, Copy)]
enum Slot {
    ApiVersion,
    Kind,
    Name,
    Namespace,
    Chart,
    Filename,
}

/// The header field a key names in `ctx`, and the context of its value.
fn classify(ctx: Ctx, key: &str) -> (Option<Slot>, Ctx) {
    match (ctx, key) {
        (Ctx::Top, "apiVersion") => (Some(Slot::ApiVersion), Ctx::Other),
        (Ctx::Top, "kind") => (Some(Slot::Kind), Ctx::Other),
        (Ctx::Top, "metadata") => (None, Ctx::Metadata),
        (Ctx::Metadata, "name") => (Some(Slot::Name), Ctx::Other),
        (Ctx::Metadata, "namespace") => (Some(Slot::Namespace), Ctx::Other),
        (Ctx::Metadata, "labels") => (None, Ctx::Labels),
        (Ctx::Metadata, "annotations") => (None, Ctx::Annotations),
        (Ctx::Labels, "helm.sh/chart") => (Some(Slot::Chart), Ctx::Other),
        (Ctx::Annotations, FILENAME_ANNOTATION) => (Some(Slot::Filename), Ctx::Other),
        _ => (None, Ctx::Other),
    }
}

/// Only printable characters, `\n` line breaks and tabs: no `\r`, other controls, DEL, C1
/// controls (U+0080–U+009F), the line and paragraph separators (NEL, U+2028 and U+2029 are
/// line breaks to YAML 1.1), byte order marks or the non-characters U+FFFE/U+FFFF.
fn plain_text(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (0x20..0x7f).contains(&c) || c == b'\n' || c == b'\t' {
            i += 1;
            continue;
        }
        match c {
            0xc2 if b.get(i + 1).is_some_and(|&n| (0x80..0xa0).contains(&n)) => return false,
            0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => {
                return false;
            }
            0xef if matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
            ) =>
            {
                return false;
            }
            0x80.. => i += 1,
            _ => return false,
        }
    }
    true
}

/// Words a YAML 1.1 reader may take for a boolean or null (any case, to be safe).
fn special_word(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ];
    s.len() <= 5
        && s.as_bytes()
            .first()
            .is_some_and(|c| matches!(c | 0x20, b'y' | b'n' | b't' | b'f' | b'o' | b'~'))
        && WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// A plain scalar the full parser reads without failing: no `.inf`/`.nan`, and nothing that
/// reads as a number unless it is short (no overflow to infinity) and has no exponent.
fn safe_plain(s: &str) -> bool {
    let b = s.as_bytes();
    let unsigned = match b[0] {
        b'+' | b'-' => &b[1..],
        _ => b,
    };
    match unsigned.first() {
        Some(b'.') => return false,
        Some(b'0'..=b'9') => {}
        _ => return true, // not a number
    }
    let decimal = b
        .iter()
        .all(|c| matches!(c, b'0'..=b'9' | b'.' | b'_' | b'+' | b'-' | b'e' | b'E'));
    let radix = unsigned.len() > 1
        && unsigned[0] == b'0'
        && matches!(unsigned[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B');
    if decimal {
        s.len() <= MAX_NUMBER && !b.iter().any(|&c| c == b'e' || c == b'E')
    } else {
        !radix || s.len() <= MAX_NUMBER
    }
}

/// A plain scalar that is certainly a string (not a number, boolean or null).
fn string_plain(s: &str) -> bool {
    let c = s.as_bytes()[0];
    (c.is_ascii_alphabetic() || c == b'_') && !special_word(s)
}

fn key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/')
}

struct Scanner<'a, 'k, S> {
    text: &'a str,
    /// Start of the current line.
    pos: usize,
    /// The line start `end` and `next` were found for.
    cached: usize,
    /// End of the current line (before its line break) and start of the next.
    end: usize,
    next: usize,
    /// Whether the document has a tab anywhere (then each line is checked).
    tabs: bool,
    head: Head<'a>,
    /// The keys of the mappings being read, innermost last (duplicates are refused by the full
    /// parser, so they make this reader unsure).
    keys: &'k mut Vec<(usize, usize)>,
    sink: std::marker::PhantomData<S>,
}

impl<'a, S: Sink<'a>> Scanner<'a, '_, S> {
    /// The current line without its line break, and where the next one starts.
    fn line(&mut self) -> (&'a str, usize) {
        if self.cached != self.pos {
            let rest = &self.text.as_bytes()[self.pos..];
            (self.end, self.next) = match memchr::memchr(b'\n', rest) {
                Some(n) => (self.pos + n, self.pos + n + 1),
                None => (self.text.len(), self.text.len()),
            };
            self.cached = self.pos;
        }
        (&self.text[self.pos..self.end], self.next)
    }

    /// Whether `key` (a slice of the document) is among the keys from `start` on; adds it.
    fn new_key(&mut self, start: usize, key: &str) -> R<()> {
        let text = self.text;
        if self.keys[start..].iter().any(|&(a, b)| &text[a..b] == key) {
            return Err(Unsure);
        }
        let at = key.as_ptr() as usize - text.as_ptr() as usize;
        self.keys.push((at, at + key.len()));
        Ok(())
    }

    /// Skips blank and comment lines; the indentation of the next content line, or `None` at
    /// the end. A tab in a structural line makes the reader unsure.
    fn peek(&mut self) -> R<Option<usize>> {
        while self.pos < self.text.len() {
            let (line, next) = self.line();
            let indent = line.bytes().take_while(|&c| c == b' ').count();
            let rest = &line[indent..];
            if self.tabs && line.contains('\t') {
                return Err(Unsure);
            }
            if rest.is_empty() || rest.starts_with('#') {
                self.pos = next;
                continue;
            }
            return Ok(Some(indent));
        }
        Ok(None)
    }

    fn document(&mut self) -> R<S::Node> {
        let Some(indent) = self.peek()? else {
            return Ok(S::null()); // empty: null
        };
        self.head.mapping = true;
        let node = self.block_mapping(indent, indent, Ctx::Top, 1)?;
        match self.peek()? {
            None => Ok(node),
            Some(_) => Err(Unsure),
        }
    }

    /// A block mapping whose keys are at column `indent`; its first key starts at column `col`
    /// of the current line (`col > indent` for `- key: value`, the mapping of a sequence item).
    fn block_mapping(
        &mut self,
        indent: usize,
        mut col: usize,
        ctx: Ctx,
        depth: usize,
    ) -> R<S::Node> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        let start = self.keys.len();
        let mut map = S::map();
        loop {
            let (line, _) = self.line();
            let (key, rest) = key(&line[col..])?.ok_or(Unsure)?;
            self.new_key(start, key)?;
            let (slot, child) = classify(ctx, key);
            let value = self.value(rest, indent, slot, child, true, depth)?;
            S::insert(&mut map, key, value);
            match self.peek()? {
                Some(n) if n == indent => col = indent,
                Some(n) if n > indent => return Err(Unsure),
                _ => break,
            }
        }
        self.keys.truncate(start);
        Ok(S::end_map(map))
    }

    /// A block sequence whose `-` are at column `indent`; the current line is its first item.
    fn block_sequence(&mut self, indent: usize, depth: usize) -> R<S::Node> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        let mut seq = S::seq();
        loop {
            let (line, _) = self.line();
            let after = &line[indent + 1..];
            let spaces = after.bytes().take_while(|&c| c == b' ').count();
            let rest = &after[spaces..];
            if !rest.is_empty() && !rest.starts_with('#') && spaces == 0 {
                return Err(Unsure);
            }
            if dash_item(rest) {
                return Err(Unsure); // `- - x`: a compact nested sequence
            }
            let item = match key(rest)? {
                Some(_) => self.block_mapping(
                    indent + 1 + spaces,
                    indent + 1 + spaces,
                    Ctx::Other,
                    depth + 1,
                )?,
                None => self.value(rest, indent, None, Ctx::Other, false, depth)?,
            };
            S::push(&mut seq, item);
            match self.peek()? {
                Some(n) if n == indent => {
                    let (line, _) = self.line();
                    if !dash_item(&line[indent..]) {
                        break; // the next key of the mapping this sequence is the value of
                    }
                }
                Some(n) if n > indent => return Err(Unsure),
                _ => break,
            }
        }
        Ok(S::end_seq(seq))
    }

    /// The value after `key:` (or `- `): `rest` is the rest of the current line. `parent` is
    /// the indentation of the collection the value is in; `in_mapping` allows a sequence at
    /// the parent's own indentation. Leaves `pos` at the line after the value.
    fn value(
        &mut self,
        rest: &'a str,
        parent: usize,
        slot: Option<Slot>,
        ctx: Ctx,
        in_mapping: bool,
        depth: usize,
    ) -> R<S::Node> {
        let (_, next) = self.line();
        let b = rest.as_bytes();
        if b.is_empty() || b[0] == b'#' {
            // The value is on the lines below, or null.
            self.pos = next;
            let Some(n) = self.peek()? else {
                return Ok(S::null());
            };
            let (line, _) = self.line();
            let seq = dash_item(&line[n..]);
            if n > parent || (n == parent && seq && in_mapping) {
                if slot.is_some() {
                    return Err(Unsure);
                }
                return if seq {
                    self.block_sequence(n, depth + 1)
                } else {
                    self.block_mapping(n, n, ctx, depth + 1)
                };
            }
            return Ok(S::null());
        }
        match b[0] {
            b'|' | b'>' => {
                if slot.is_some() {
                    return Err(Unsure);
                }
                let mut i = 1;
                let mut chomp = b' ';
                if let Some(&c @ (b'-' | b'+')) = b.get(1) {
                    chomp = c;
                    i += 1;
                }
                end_of_line(&rest[i..], true)?;
                self.pos = next;
                self.block_scalar(parent, b[0], chomp)
            }
            b'"' | b'\'' => {
                let (text, len) = quoted(rest)?;
                end_of_line(&rest[len..], true)?;
                self.store(slot, text.clone())?;
                self.pos = next;
                Ok(S::string(text))
            }
            b'[' | b'{' => {
                if slot.is_some() {
                    return Err(Unsure);
                }
                let start = self.keys.len();
                let (node, len) = self.flow(rest, ctx, depth + 1)?;
                self.keys.truncate(start);
                end_of_line(&rest[len..], true)?;
                self.pos = next;
                Ok(node)
            }
            _ => {
                let text = block_plain(rest)?;
                if slot.is_some() && !string_plain(text) {
                    return Err(Unsure);
                }
                self.store(slot, Cow::Borrowed(text))?;
                self.pos = next;
                S::plain(text)
            }
        }
    }

    fn store(&mut self, slot: Option<Slot>, text: Cow<'a, str>) -> R<()> {
        let field = match slot {
            None => return Ok(()),
            Some(Slot::ApiVersion) => &mut self.head.api_version,
            Some(Slot::Kind) => &mut self.head.kind,
            Some(Slot::Name) => &mut self.head.name,
            Some(Slot::Namespace) => &mut self.head.namespace,
            Some(Slot::Chart) => &mut self.head.chart,
            Some(Slot::Filename) => &mut self.head.filename,
        };
        *field = Some(text);
        Ok(())
    }

    /// A literal or folded block scalar's lines (the current line is its first), in a
    /// collection indented by `parent`.
    fn block_scalar(&mut self, parent: usize, style: u8, chomp: u8) -> R<S::Node> {
        let start = self.pos;
        let mut content: Option<usize> = None;
        let mut leading_blank = 0;
        while self.pos < self.text.len() {
            let (line, next) = self.line();
            let spaces = line.bytes().take_while(|&c| c == b' ').count();
            if spaces == line.len() {
                if content.is_none() {
                    leading_blank = leading_blank.max(spaces);
                }
                self.pos = next;
                continue;
            }
            match content {
                None => {
                    if spaces <= parent {
                        break; // an empty block
                    }
                    if leading_blank > spaces {
                        return Err(Unsure);
                    }
                    content = Some(spaces);
                }
                Some(c) if spaces < c => break,
                Some(_) => {}
            }
            self.pos = next;
        }
        S::block(style, chomp, &self.text[start..self.pos], content)
    }

    /// A flow collection that closes on this line; returns it and its length in bytes.
    fn flow(&mut self, s: &'a str, ctx: Ctx, depth: usize) -> R<(S::Node, usize)> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        let b = s.as_bytes();
        let is_map = b[0] == b'{';
        let close = if is_map { b'}' } else { b']' };
        let start = self.keys.len();
        let mut map = S::map();
        let mut seq = S::seq();
        let mut i = skip_spaces(b, 1);
        loop {
            if b.get(i) == Some(&close) {
                self.keys.truncate(start);
                let node = if is_map {
                    S::end_map(map)
                } else {
                    S::end_seq(seq)
                };
                return Ok((node, i + 1));
            }
            let (key, slot, child) = if is_map {
                let (key, len) = flow_key(&s[i..])?;
                self.new_key(start, key)?;
                i = skip_spaces(b, i + len);
                let (slot, child) = classify(ctx, key);
                (Some(key), slot, child)
            } else {
                (None, None, Ctx::Other)
            };
            let (node, len) = self.flow_node(&s[i..], slot, child, depth)?;
            match key {
                Some(key) => S::insert(&mut map, key, node),
                None => S::push(&mut seq, node),
            }
            i = skip_spaces(b, i + len);
            match b.get(i) {
                Some(b',') => i = skip_spaces(b, i + 1),
                Some(&c) if c == close => {}
                _ => return Err(Unsure),
            }
        }
    }

    /// One node in a flow collection; returns it and its length.
    fn flow_node(
        &mut self,
        s: &'a str,
        slot: Option<Slot>,
        ctx: Ctx,
        depth: usize,
    ) -> R<(S::Node, usize)> {
        let b = s.as_bytes();
        match b.first() {
            Some(b'[' | b'{') => {
                if slot.is_some() {
                    return Err(Unsure);
                }
                let start = self.keys.len();
                let (node, len) = self.flow(s, ctx, depth + 1)?;
                self.keys.truncate(start);
                Ok((node, len))
            }
            Some(b'"' | b'\'') => {
                let (text, len) = quoted(s)?;
                if b.get(len) == Some(&b':') {
                    return Err(Unsure); // an implicit pair in a flow sequence
                }
                self.store(slot, text.clone())?;
                Ok((S::string(text), len))
            }
            Some(_) => {
                let len = flow_plain(s)?;
                let text = s[..len].trim_end_matches(' ');
                if slot.is_some() && !string_plain(text) {
                    return Err(Unsure);
                }
                self.store(slot, Cow::Borrowed(text))?;
                Ok((S::plain(text)?, len))
            }
            None => Err(Unsure),
        }
    }
}

/// `-` alone or followed by a space: a block sequence item.
fn dash_item(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() == Some(&b'-') && matches!(b.get(1), None | Some(b' '))
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// What may follow a complete node on its line: spaces, then nothing or a comment (after at
/// least one space when `space_before_comment`).
fn end_of_line(s: &str, space_before_comment: bool) -> R<()> {
    let t = s.trim_start_matches(' ');
    if t.is_empty() || (t.starts_with('#') && (t.len() < s.len() || !space_before_comment)) {
        Ok(())
    } else {
        Err(Unsure)
    }
}

/// An implicit key at the start of `s` (`name:` followed by a space or the end of the line):
/// the key and the rest of the line after `:` and its spaces. `Ok(None)` when `s` is not a key
/// this reader knows (then it is a scalar, or the reader is unsure later).
fn key(s: &str) -> R<Option<(&str, &str)>> {
    let b = s.as_bytes();
    let (key, len) = match b.first() {
        Some(b'"' | b'\'') => {
            let (k, len) = quoted(s)?;
            if b.get(len) != Some(&b':') {
                return Ok(None);
            }
            match k {
                Cow::Borrowed(k) => (k, len),
                Cow::Owned(_) => return Err(Unsure), // an escaped key
            }
        }
        Some(&c) if c.is_ascii_alphabetic() || c == b'_' => {
            let len = b.iter().take_while(|&&c| key_char(c)).count();
            if b.get(len) != Some(&b':') {
                return Ok(None);
            }
            let k = &s[..len];
            if special_word(k) {
                return Err(Unsure);
            }
            (k, len)
        }
        _ => return Ok(None),
    };
    if len > MAX_KEY {
        return Err(Unsure);
    }
    match b.get(len + 1) {
        None => Ok(Some((key, ""))),
        Some(b' ') => Ok(Some((key, s[len + 1..].trim_start_matches(' ')))),
        _ => Ok(None),
    }
}

/// A key in a flow mapping (`key: `), returning it and the length through `:`.
fn flow_key(s: &str) -> R<(&str, usize)> {
    let (k, rest) = key(s)?.ok_or(Unsure)?;
    if rest.is_empty() {
        return Err(Unsure); // a null value, or a line break inside the flow collection
    }
    Ok((k, s.len() - rest.len()))
}

/// A one-line quoted scalar at the start of `s`: its text (borrowed when it has no escapes;
/// an escape in a header field makes the reader unsure) and its length with the quotes.
fn quoted(s: &str) -> R<(Cow<'_, str>, usize)> {
    let b = s.as_bytes();
    let q = b[0];
    let mut i = 1;
    let mut escaped = false;
    while i < b.len() {
        let c = b[i];
        if c == q {
            if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                escaped = true;
                i += 2;
                continue;
            }
            let text = &s[1..i];
            return Ok((
                if !escaped {
                    Cow::Borrowed(text)
                } else if q == b'\'' {
                    Cow::Owned(text.replace("''", "'"))
                } else {
                    Cow::Owned(unescape(text)?)
                },
                i + 1,
            ));
        }
        if c == b'\\' && q == b'"' {
            escaped = true;
            i += 2;
            continue;
        }
        i += 1;
    }
    Err(Unsure) // closes on a later line
}

/// The YAML escapes of a double-quoted scalar; `\x`, `\u`, `\U` and unknown ones make the
/// reader unsure.
fn unescape(s: &str) -> R<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next().ok_or(Unsure)? {
            '0' => '\0',
            'a' => '\x07',
            'b' => '\x08',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\x0b',
            'f' => '\x0c',
            'r' => '\r',
            'e' => '\x1b',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            _ => return Err(Unsure),
        });
    }
    Ok(out)
}

/// A plain scalar filling the rest of a block line (up to a comment): its text.
fn block_plain(s: &str) -> R<&str> {
    let b = s.as_bytes();
    match b[0] {
        b'-' | b'?' | b':' if matches!(b.get(1), None | Some(b' ')) => return Err(Unsure),
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => return Err(Unsure),
        _ => {}
    }
    // Up to a comment; `: ` or a final `:` would make it a key.
    let mut end = b.len();
    for i in 1..b.len() {
        match b[i] {
            b'#' if b[i - 1] == b' ' => {
                end = i;
                break;
            }
            b':' if matches!(b.get(i + 1), None | Some(b' ')) => return Err(Unsure),
            _ => {}
        }
    }
    let text = s[..end].trim_end_matches(' ');
    if !safe_plain(text) {
        return Err(Unsure);
    }
    Ok(text)
}

/// A plain scalar in a flow collection: its length (up to `,`, `]`, `}` or the end).
fn flow_plain(s: &str) -> R<usize> {
    let b = s.as_bytes();
    match b[0] {
        b'-' | b'?' | b':' if matches!(b.get(1), None | Some(b' ' | b',' | b']' | b'}')) => {
            return Err(Unsure);
        }
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => return Err(Unsure),
        _ => {}
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b',' | b']' | b'}' => break,
            b':' if matches!(
                b.get(i + 1),
                None | Some(b' ' | b',' | b']' | b'}' | b'[' | b'{')
            ) =>
            {
                return Err(Unsure); // a pair where a scalar was expected
            }
            b'#' if b[i - 1] == b' ' => return Err(Unsure),
            b'[' | b'{' => return Err(Unsure),
            _ => {}
        }
        i += 1;
    }
    let text = s[..i].trim_end_matches(' ');
    if text.is_empty() || !safe_plain(text) {
        return Err(Unsure);
    }
    Ok(i)
}

#[cfg(test)]
mod tests;
