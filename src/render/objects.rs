//! The parsed stream: every document with its raw text and its value, so that a transform can
//! look objects up, change them, add new ones, and untouched documents stay byte-identical.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::stream::{self, Document};
use super::{RenderError, Rendered};
use crate::yaml;

/// Helm 4 tags every document it hands a post-renderer with this annotation and regroups the
/// output by it; objects we add must carry it too.
pub const HELM_FILENAME_ANNOTATION: &str = yaml::scan::FILENAME_ANNOTATION;

/// A document a transform may read or change. Documents nothing needs are not kept: their text
/// stays in the stream, in the `before` of the next kept document or the `tail`.
struct Doc<'a> {
    /// The documents between the previous kept one and this one, written back as they are.
    before: &'a str,
    src: Document<'a>,
    /// Whether the document comes from the Cilium chart's own templates (see [`ChartSource`]).
    chart: bool,
    /// The template that made it (`cilium/templates/…`), when Helm named it.
    template: Option<String>,
    /// New text for the whole document, when a transform edited the text itself.
    text: Option<String>,
    value: Value,
    /// The value as parsed, kept from the first mutable access on, to tell whether it changed.
    original: Option<Value>,
}

/// An object added by a transform, written after the document at `after`.
struct Added {
    after: usize,
    source: String,
    value: Value,
}

pub struct Objects<'a> {
    docs: Vec<Doc<'a>>,
    added: Vec<Added>,
    /// The documents after the last kept one.
    tail: &'a str,
}

/// Which documents the Cilium chart made. Helm names each document's template (`# Source:`
/// comment, or Helm 4's filename annotation): the chart's are those below the folder of the
/// template that made `cilium-config` (`cilium/templates/`, or `umbrella/charts/cilium/templates/`
/// in an umbrella chart). A stream without any template names (kustomize output, a hand-made
/// stream) has no such folder: then every document in the Cilium namespace counts as the chart's.
#[derive(Debug, Clone)]
pub enum ChartSource {
    Templates(String),
    Namespace(String),
}

impl ChartSource {
    /// Finds the chart's template folder in `stream` (a text scan: no parsing; only the lines
    /// that name the config template are looked at).
    pub fn detect(stream: &str, namespace: &str) -> ChartSource {
        const CONFIG_TEMPLATE: &str = "templates/cilium-configmap.yaml";
        let bytes = stream.as_bytes();
        let mut lines = memchr::memmem::find_iter(bytes, CONFIG_TEMPLATE).map(|at| {
            let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |p| p + 1);
            let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |p| at + p);
            &stream[start..end]
        });
        let folder = lines.find_map(|l| {
            let l = l.trim();
            let path = l
                .strip_prefix("# Source: ")
                .or_else(|| {
                    l.strip_prefix(HELM_FILENAME_ANNOTATION)
                        .map(|r| r.trim_start_matches(':').trim())
                })?
                .trim_matches(['"', '\'']);
            path.strip_suffix(CONFIG_TEMPLATE)
                .map(|f| format!("{f}templates/"))
        });
        match folder {
            Some(f) => ChartSource::Templates(f),
            None => ChartSource::Namespace(namespace.to_string()),
        }
    }

    /// Whether a document in `namespace` (`None`: none, or not a string) made by `template`
    /// is the chart's.
    pub fn made(&self, namespace: Option<&str>, template: Option<&str>) -> bool {
        match self {
            ChartSource::Templates(folder) => {
                template.is_some_and(|t| t.starts_with(folder.as_str()))
            }
            ChartSource::Namespace(ns) => namespace.is_none_or(|n| n == ns),
        }
    }
}

/// Index of a document in the stream.
pub type DocId = usize;

impl<'a> Objects<'a> {
    /// Checks every document (a malformed one is an error naming its number and stream line)
    /// and keeps those a transform may need: the ones `wanted` by their kind and namespace and
    /// whether the chart made them (parsed whole), the chart's others and any labelled as a
    /// Cilium chart (their header only). The rest stay text: most documents of an umbrella
    /// chart are read by [`yaml::scan::Reader`] alone, without building a value. A big stream
    /// is read by two threads, a half each, cut at a document boundary.
    pub fn parse(
        stream: &'a str,
        chart: &ChartSource,
        wanted: impl Fn(Option<&str>, Option<&str>, bool) -> bool + Sync,
    ) -> Result<Objects<'a>, RenderError> {
        const TWO_THREADS_FROM: usize = 1 << 20;
        let cut = if stream.len() >= TWO_THREADS_FROM {
            stream::boundary_after(stream, stream.len() / 2)
        } else {
            stream.len()
        };
        let (first, second) = std::thread::scope(|scope| {
            let second = (cut < stream.len())
                .then(|| scope.spawn(|| Part::read(stream, cut, stream.len(), chart, &wanted)));
            let first = Part::read(stream, 0, cut, chart, &wanted);
            let second = second.map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (first, second)
        });
        let first = first?;
        let Some(second) = second else {
            return Ok(first.objects(stream));
        };
        // The second half counted its documents and lines from 1.
        let lines = memchr::memchr_iter(b'\n', &stream.as_bytes()[..cut]).count();
        let shift = |number: &mut usize, line: &mut usize| {
            *number += first.count;
            *line += lines;
        };
        let mut second = second.map_err(|mut e| {
            if let RenderError::Yaml { document, line, .. } = &mut e {
                shift(document, line);
            }
            e
        })?;
        for doc in &mut second.docs {
            shift(&mut doc.src.number, &mut doc.src.first_line);
        }
        let mut docs = first.docs;
        let gap = match second.docs.first_mut() {
            Some(doc) => {
                // Its untouched text starts where the first half's did.
                let start = doc.src.raw.as_ptr() as usize - stream.as_ptr() as usize;
                doc.before = &stream[first.gap..start];
                second.gap
            }
            None => first.gap,
        };
        docs.append(&mut second.docs);
        Ok(Objects {
            docs,
            added: Vec::new(),
            tail: &stream[gap..],
        })
    }

    /// Objects read from a live cluster instead of a stream, for the transforms `connect` shares
    /// with `render`; see [`Objects::changes`].
    pub fn from_values(values: Vec<Value>) -> Objects<'static> {
        let docs = values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Doc {
                before: "",
                src: Document {
                    number: i + 1,
                    first_line: 1,
                    raw: "",
                },
                chart: true,
                template: None,
                text: None,
                value,
                original: None,
            })
            .collect();
        Objects {
            docs,
            added: Vec::new(),
            tail: "",
        }
    }

    /// The objects a transform changed or added, in order: what a live write must apply.
    pub fn changes(self) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, doc) in self.docs.into_iter().enumerate() {
            if doc.original.as_ref().is_some_and(|o| *o != doc.value) {
                out.push(doc.value);
            }
            out.extend(
                self.added
                    .iter()
                    .filter(|a| a.after == i)
                    .map(|a| a.value.clone()),
            );
        }
        out
    }

    /// Documents of `kind` named `name` in `namespace` (a document without a namespace matches
    /// any, as Helm leaves it to the release namespace).
    pub fn find_all(&self, kind: &str, namespace: &str, name: &str) -> Vec<DocId> {
        (0..self.docs.len())
            .filter(|&i| {
                let v = &self.docs[i].value;
                v["kind"] == kind
                    && v["metadata"]["name"] == name
                    && v["metadata"]["namespace"]
                        .as_str()
                        .is_none_or(|ns| ns == namespace)
            })
            .collect()
    }

    pub fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<DocId> {
        self.find_all(kind, namespace, name).into_iter().next()
    }

    /// Every document of `kinds` in `namespace`.
    pub fn of_kinds(&self, kinds: &[&str], namespace: &str) -> Vec<DocId> {
        (0..self.docs.len())
            .filter(|&i| {
                let v = &self.docs[i].value;
                kinds.iter().any(|k| v["kind"] == *k)
                    && v["metadata"]["namespace"]
                        .as_str()
                        .is_none_or(|ns| ns == namespace)
            })
            .collect()
    }

    /// Every document the Cilium chart made, of one of `kinds`, in any namespace.
    pub fn chart_made(&self, kinds: &[&str]) -> Vec<DocId> {
        (0..self.docs.len())
            .filter(|&i| {
                self.docs[i].chart && kinds.iter().any(|k| self.docs[i].value["kind"] == *k)
            })
            .collect()
    }

    /// The template (below the chart's `templates/`) that made document `id`, when Helm named it.
    pub fn template(&self, id: DocId) -> Option<&str> {
        let t = self.docs[id].template.as_deref()?;
        t.find("templates/").map(|i| &t[i + "templates/".len()..])
    }

    /// Whether a transform changed a document made by `template` (below `templates/`) or added
    /// one as if made by it.
    pub fn template_changed(&self, template: &str) -> bool {
        let changed = (0..self.docs.len()).any(|i| {
            let d = &self.docs[i];
            self.template(i) == Some(template)
                && (d.text.is_some() || d.original.as_ref().is_some_and(|o| *o != d.value))
        });
        changed
            || self
                .added
                .iter()
                .any(|a| a.source.ends_with(&format!("templates/{template}")))
    }

    /// Values of label `key` over all documents, in stream order.
    pub fn labels<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.docs
            .iter()
            .filter_map(move |d| d.value["metadata"]["labels"][key].as_str())
    }

    /// Container images of the workloads' pod templates, in stream order.
    pub fn images(&self) -> impl Iterator<Item = &str> + '_ {
        self.docs.iter().flat_map(|d| {
            d.value["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["image"].as_str())
        })
    }

    pub fn get(&self, id: DocId) -> &Value {
        &self.docs[id].value
    }

    /// Mutable access; the document is written anew only if its value ends up different.
    pub fn get_mut(&mut self, id: DocId) -> &mut Value {
        let doc = &mut self.docs[id];
        if doc.original.is_none() {
            doc.original = Some(doc.value.clone());
        }
        &mut doc.value
    }

    /// The document's current text (`---` line and comments included).
    pub fn raw(&self, id: DocId) -> &str {
        self.docs[id]
            .text
            .as_deref()
            .unwrap_or(self.docs[id].src.raw)
    }

    /// Replaces the document's text, keeping its formatting where a transform edits text; the
    /// new text must parse, and becomes the baseline later transforms change.
    pub fn set_raw(&mut self, id: DocId, text: String) -> Result<(), RenderError> {
        let doc = &mut self.docs[id];
        let reparsed = stream::split(&text)
            .map(|d| d.split_head().1)
            .collect::<String>();
        doc.value = yaml::parse(&reparsed).map_err(|e| RenderError::Invalid {
            object: describe(&doc.value),
            message: format!("edited text does not parse: {}", e.message),
        })?;
        doc.original = None;
        doc.text = Some(text);
        Ok(())
    }

    /// The document's 1-based position in the stream.
    pub fn number(&self, id: DocId) -> usize {
        self.docs[id].src.number
    }

    /// `kind namespace/name` for messages.
    pub fn describe(&self, id: DocId) -> String {
        describe(&self.docs[id].value)
    }

    /// Adds an object after document `after`, as if made by the chart template `template`
    /// (a path below the chart's `templates/`), taking that chart's Helm 4 filename annotation.
    pub fn add_after(&mut self, after: DocId, template: &str, mut value: Value) {
        let sibling =
            self.docs[after].value["metadata"]["annotations"][HELM_FILENAME_ANNOTATION].as_str();
        let sibling_source = source_in(self.docs[after].src.raw);
        let chart_dir = sibling
            .or(sibling_source)
            .and_then(|s| s.find("templates/").map(|i| s[..i].to_string()))
            .unwrap_or_else(|| "cilium/".to_string());
        let source = format!("{chart_dir}templates/{template}");
        if sibling.is_some()
            && let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut)
        {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(
                    HELM_FILENAME_ANNOTATION.into(),
                    Value::String(source.clone()),
                );
            }
        }
        self.added.push(Added {
            after,
            source,
            value,
        });
    }

    /// The whole output stream, complete before anything is written: the input's own text
    /// where nothing changed (borrowed, not copied), new text where a transform changed or added
    /// an object. `check` sees every document the chart made (and every object a transform
    /// added) with the text it is written as; an error from `check` fails the write.
    pub fn write(
        self,
        mut check: impl FnMut(&Value, &str) -> Result<(), RenderError>,
    ) -> Result<Rendered<'a>, RenderError> {
        let Objects { docs, added, tail } = self;
        let mut out = Rendered::default();
        for (i, doc) in docs.into_iter().enumerate() {
            out.push(Cow::Borrowed(doc.before));
            let changed = doc.original.as_ref().is_some_and(|o| *o != doc.value);
            if changed {
                let (head, _) = doc.src.split_head(); // the `---` line and `# Source:` comment
                out.push(Cow::Borrowed(head));
                if !head.is_empty() && !head.ends_with('\n') {
                    out.push(Cow::Borrowed("\n"));
                }
                let text = emit(&doc.value, &describe(&doc.value))?;
                if doc.chart {
                    check(&doc.value, &text)?;
                }
                out.push(Cow::Owned(text));
            } else {
                let text = match doc.text {
                    Some(t) => Cow::Owned(t),
                    None => Cow::Borrowed(doc.src.raw),
                };
                if doc.chart {
                    check(&doc.value, &text)?;
                }
                out.push(text);
            }
            out.spent.push(doc.value);
            out.spent.extend(doc.original);
            for add in added.iter().filter(|a| a.after == i) {
                if !out.ends_with_newline() {
                    out.push(Cow::Borrowed("\n"));
                }
                out.push(Cow::Owned(format!("---\n# Source: {}\n", add.source)));
                let text = emit(&add.value, &describe(&add.value))?;
                check(&add.value, &text)?;
                out.push(Cow::Owned(text));
            }
        }
        out.push(Cow::Borrowed(tail));
        Ok(out)
    }
}

/// The documents of `stream[from..to]` a render keeps (see [`Objects::parse`]); numbers and
/// lines count from the part's start.
struct Part<'a> {
    docs: Vec<Doc<'a>>,
    /// How many documents the part has.
    count: usize,
    /// Where the text after the last kept document starts.
    gap: usize,
}

impl<'a> Part<'a> {
    fn read(
        stream: &'a str,
        from: usize,
        to: usize,
        chart: &ChartSource,
        wanted: &impl Fn(Option<&str>, Option<&str>, bool) -> bool,
    ) -> Result<Part<'a>, RenderError> {
        let mut docs = Vec::new();
        let mut reader = yaml::scan::Reader::default();
        let mut gap = from; // where the text not yet in a kept document starts
        let mut offset = from;
        let mut count = 0;
        for src in stream::split(&stream[from..to]) {
            count += 1;
            let start = offset;
            offset += src.raw.len();
            let (head, body) = src.split_head();
            let yaml_error = |e: yaml::ParseError| RenderError::Yaml {
                document: src.number,
                line: src.body_first_line() + e.line.map_or(0, |l| l.saturating_sub(1) as usize),
                message: e.message,
            };
            // A document the render probably reads whole (a kind it may change, from the
            // chart's templates by its `# Source:` line) is built in the same pass that checks
            // it; the others are only checked. A wrong guess costs time, never the result.
            let guess = source_in(head).is_some_and(|t| chart.made(None, Some(t)))
                && wanted(top_kind(body), None, true);
            let read = if guess {
                reader.value(body).map(|(h, v)| (h, Some(v)))
            } else {
                None
            };
            let (header, template, made, whole, built) = match read
                .or_else(|| reader.head(body).map(|h| (h, None)))
            {
                Some((h, built)) => {
                    let template = h.filename.as_deref().or_else(|| source_in(head));
                    let made = chart.made(h.namespace.as_deref(), template);
                    let whole = wanted(h.kind.as_deref(), h.namespace.as_deref(), made);
                    if !(whole || made || cilium_label(h.chart.as_deref())) {
                        continue;
                    }
                    let template = template.map(str::to_string);
                    let built = built.filter(|_| whole);
                    let header = if built.is_some() {
                        Value::Null
                    } else {
                        head_value(&h)
                    };
                    (header, template, made, whole, built)
                }
                None => {
                    let header = yaml::parse_header(body).map_err(yaml_error)?;
                    if !matches!(header, Value::Null | Value::Object(_)) {
                        return Err(RenderError::Yaml {
                            document: src.number,
                            line: src.body_first_line(),
                            message:
                                "is not a Kubernetes object (a mapping with apiVersion and kind)"
                                    .into(),
                        });
                    }
                    let meta = &header["metadata"];
                    let template = meta["annotations"][HELM_FILENAME_ANNOTATION]
                        .as_str()
                        .or_else(|| source_in(head));
                    let namespace = meta["namespace"].as_str();
                    let made = chart.made(namespace, template);
                    let whole = wanted(header["kind"].as_str(), namespace, made);
                    if !(whole || made || cilium_label(meta["labels"]["helm.sh/chart"].as_str())) {
                        continue;
                    }
                    let template = template.map(str::to_string);
                    (header, template, made, whole, None)
                }
            };
            let value = match built {
                Some(value) => value,
                None if whole => yaml::parse(body).map_err(yaml_error)?,
                None => header,
            };
            docs.push(Doc {
                before: &stream[gap..start],
                src,
                chart: made,
                template,
                text: None,
                value,
                original: None,
            });
            gap = offset;
        }
        Ok(Part { docs, count, gap })
    }

    fn objects(self, stream: &'a str) -> Objects<'a> {
        Objects {
            docs: self.docs,
            added: Vec::new(),
            tail: &stream[self.gap..],
        }
    }
}

fn emit(value: &Value, what: &str) -> Result<String, RenderError> {
    yaml::emit(value).map_err(|e| RenderError::Emit {
        object: what.to_string(),
        message: e.to_string(),
    })
}

/// The value of a `kind:` line at the start of a line of `body` (a guess at the document's
/// kind, for [`Part::read`]: it may be a line of a block scalar).
fn top_kind(body: &str) -> Option<&str> {
    let at = if body.starts_with("kind:") {
        0
    } else {
        memchr::memmem::find(body.as_bytes(), b"\nkind:")? + 1
    };
    let rest = &body[at + "kind:".len()..];
    let line = rest.split('\n').next().unwrap_or(rest);
    Some(line.trim())
}

/// The template a document came from, from Helm's `# Source:` comment.
fn source_in(raw: &str) -> Option<&str> {
    raw.lines()
        .find_map(|l| l.strip_prefix("# Source: ").map(str::trim))
}

/// A `helm.sh/chart` label of the Cilium chart (the chart version is read from it).
fn cilium_label(label: Option<&str>) -> bool {
    label.is_some_and(|l| l.starts_with("cilium-"))
}

/// The header a document's [`yaml::scan::Head`] stands for: what [`yaml::parse_header`] would
/// give for the fields a render reads of a document it does not parse whole.
fn head_value(h: &yaml::scan::Head) -> Value {
    if !h.mapping {
        return Value::Null;
    }
    let string = |s: &Option<Cow<str>>| s.as_deref().map(|s| Value::String(s.to_string()));
    let mut meta = Map::new();
    for (key, value) in [("name", &h.name), ("namespace", &h.namespace)] {
        if let Some(v) = string(value) {
            meta.insert(key.into(), v);
        }
    }
    for (key, field, value) in [
        ("labels", "helm.sh/chart", &h.chart),
        ("annotations", HELM_FILENAME_ANNOTATION, &h.filename),
    ] {
        if let Some(v) = string(value) {
            meta.insert(
                key.into(),
                Value::Object(Map::from_iter([(field.into(), v)])),
            );
        }
    }
    let mut m = Map::new();
    for (key, value) in [("apiVersion", &h.api_version), ("kind", &h.kind)] {
        if let Some(v) = string(value) {
            m.insert(key.into(), v);
        }
    }
    if !meta.is_empty() {
        m.insert("metadata".into(), Value::Object(meta));
    }
    Value::Object(m)
}

pub fn describe(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or("object");
    let name = v["metadata"]["name"].as_str().unwrap_or("?");
    match v["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream over 1 MiB (read by two threads): tiny documents around two the test keeps.
    fn big(middle: &str) -> String {
        let tiny = |i: usize| {
            format!(
                "---\n# Source: t/templates/c.yaml\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: a}}\n"
            )
        };
        let mut s: String = (0..8000).map(tiny).collect();
        s.push_str("---\nkind: Secret\nmetadata: {name: keep, namespace: kube-system}\n");
        s.extend((8000..16000).map(tiny));
        s.push_str(middle);
        s.push_str("---\nkind: Secret\nmetadata: {name: keep2, namespace: kube-system}\n");
        s.extend((16000..24000).map(tiny));
        assert!(s.len() > 1 << 20);
        s
    }

    fn parse(stream: &str) -> Result<Objects<'_>, RenderError> {
        let chart = ChartSource::Namespace("kube-system".into());
        Objects::parse(stream, &chart, |kind, ns, _| {
            kind == Some("Secret") && ns == Some("kube-system")
        })
    }

    #[test]
    fn a_big_stream_read_in_two_halves_is_the_whole_stream() {
        let stream = big("");
        let objects = parse(&stream).unwrap();
        assert_eq!(objects.docs.len(), 2);
        assert_eq!(objects.number(0), 8001);
        assert_eq!(objects.number(1), 16002);
        let keep2 = stream.find("kind: Secret\nmetadata: {name: keep2").unwrap();
        assert_eq!(
            objects.docs[1].src.first_line,
            stream[..keep2].matches('\n').count()
        );
        let out = objects.write(|_, _| Ok(())).unwrap();
        assert_eq!(out.to_string(), stream);
    }

    #[test]
    fn a_malformed_document_in_the_second_half_is_named_by_its_place_in_the_stream() {
        let stream = big("---\nkind: ConfigMap\nmetadata: {name: x\n");
        let at = stream.find("metadata: {name: x\n").unwrap();
        match parse(&stream) {
            Err(RenderError::Yaml { document, line, .. }) => {
                assert_eq!(document, 16002);
                assert_eq!(line, stream[..at].matches('\n').count() + 1);
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted"),
        }
    }
}
