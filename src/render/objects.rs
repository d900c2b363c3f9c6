//! The parsed stream: every document with its raw text and its value, so that a transform can
//! look objects up, change them, add new ones, and untouched documents stay byte-identical.

use serde_json::{Map, Value};

use super::RenderError;
use super::stream::{self, Document};
use crate::yaml;

/// Helm 4 tags every document it hands a post-renderer with this annotation and regroups the
/// output by it; objects we add must carry it too.
pub const HELM_FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

struct Doc<'a> {
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
    /// Finds the chart's template folder in `stream` (a text scan: no parsing).
    pub fn detect(stream: &str, namespace: &str) -> ChartSource {
        const CONFIG_TEMPLATE: &str = "templates/cilium-configmap.yaml";
        let folder = stream.lines().find_map(|l| {
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

    /// Whether a document with this header and template path is the chart's.
    pub fn made(&self, header: &Value, template: Option<&str>) -> bool {
        match self {
            ChartSource::Templates(folder) => {
                template.is_some_and(|t| t.starts_with(folder.as_str()))
            }
            ChartSource::Namespace(ns) => header["metadata"]["namespace"]
                .as_str()
                .is_none_or(|n| n == ns),
        }
    }
}

/// Index of a document in the stream.
pub type DocId = usize;

impl<'a> Objects<'a> {
    /// Parses every document (a malformed one is an error naming its number and stream line).
    /// Only documents `wanted` by their header (kind and metadata) are kept whole; the others
    /// keep just that header, since they are written back as their raw text anyway.
    pub fn parse(
        stream: &'a str,
        chart: &ChartSource,
        wanted: impl Fn(&Value, bool) -> bool,
    ) -> Result<Objects<'a>, RenderError> {
        let mut docs = Vec::new();
        for src in stream::split(stream) {
            let (head, body) = src.split_head();
            let yaml_error = |e: yaml::ParseError| RenderError::Yaml {
                document: src.number,
                line: src.body_first_line() + e.line.map_or(0, |l| l.saturating_sub(1) as usize),
                message: e.message,
            };
            let header = yaml::parse_header(body).map_err(yaml_error)?;
            let template = header["metadata"]["annotations"][HELM_FILENAME_ANNOTATION]
                .as_str()
                .map(str::to_string)
                .or_else(|| source_of(head));
            let made = chart.made(&header, template.as_deref());
            let value = if wanted(&header, made) {
                yaml::parse(body).map_err(yaml_error)?
            } else {
                header
            };
            if !matches!(value, Value::Null | Value::Object(_)) {
                return Err(RenderError::Yaml {
                    document: src.number,
                    line: src.body_first_line(),
                    message: "is not a Kubernetes object (a mapping with apiVersion and kind)"
                        .into(),
                });
            }
            docs.push(Doc {
                src,
                chart: made,
                template,
                text: None,
                value,
                original: None,
            });
        }
        Ok(Objects {
            docs,
            added: Vec::new(),
        })
    }

    /// Objects read from a live cluster instead of a stream, for the transforms `connect` shares
    /// with `render`; see [`Objects::changes`].
    pub fn from_values(values: Vec<Value>) -> Objects<'static> {
        let docs = values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Doc {
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
            .into_iter()
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

    /// `kind namespace/name` for messages.
    pub fn describe(&self, id: DocId) -> String {
        describe(&self.docs[id].value)
    }

    /// Adds an object after document `after`, as if made by the chart template `template`
    /// (a path below the chart's `templates/`), taking that chart's Helm 4 filename annotation.
    pub fn add_after(&mut self, after: DocId, template: &str, mut value: Value) {
        let sibling =
            self.docs[after].value["metadata"]["annotations"][HELM_FILENAME_ANNOTATION].as_str();
        let sibling_source = source_of(self.docs[after].src.raw);
        let chart_dir = sibling
            .or(sibling_source.as_deref())
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

    /// The whole output stream, built completely before anything is written. `check` sees every
    /// document the chart made (and every object a transform added) with the text it is written
    /// as; an error from `check` fails the write.
    pub fn write(
        &self,
        mut check: impl FnMut(&Value, &str) -> Result<(), RenderError>,
    ) -> Result<String, RenderError> {
        let mut out =
            String::with_capacity(self.docs.iter().map(|d| d.src.raw.len()).sum::<usize>() + 4096);
        for (i, doc) in self.docs.iter().enumerate() {
            let changed = doc.original.as_ref().is_some_and(|o| *o != doc.value);
            if changed {
                let (head, _) = doc.src.split_head(); // the `---` line and `# Source:` comment
                out.push_str(head);
                if !head.is_empty() && !head.ends_with('\n') {
                    out.push('\n');
                }
                let text = emit(&doc.value, &describe(&doc.value))?;
                if doc.chart {
                    check(&doc.value, &text)?;
                }
                out.push_str(&text);
            } else {
                let text = doc.text.as_deref().unwrap_or(doc.src.raw);
                if doc.chart {
                    check(&doc.value, text)?;
                }
                out.push_str(text);
            }
            for add in self.added.iter().filter(|a| a.after == i) {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str("---\n# Source: ");
                out.push_str(&add.source);
                out.push('\n');
                let text = emit(&add.value, &describe(&add.value))?;
                check(&add.value, &text)?;
                out.push_str(&text);
            }
        }
        Ok(out)
    }
}

fn emit(value: &Value, what: &str) -> Result<String, RenderError> {
    yaml::emit(value).map_err(|e| RenderError::Emit {
        object: what.to_string(),
        message: e.to_string(),
    })
}

/// The template a document came from, from Helm's `# Source:` comment.
fn source_of(raw: &str) -> Option<String> {
    raw.lines()
        .find_map(|l| l.strip_prefix("# Source: ").map(|s| s.trim().to_string()))
}

pub fn describe(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or("object");
    let name = v["metadata"]["name"].as_str().unwrap_or("?");
    match v["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}
