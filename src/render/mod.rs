//! `render`: a Helm post-renderer core. Takes a rendered chart stream and one cluster of the
//! mesh, and returns the stream that cluster must get. Pure: no files, no network, no clock.

pub mod certs;
mod cilium;
mod derived;
mod live;
mod objects;
mod peers;
pub mod stream;
mod tls;
pub mod values;

use std::borrow::Cow;
use std::io::Write;

use time::OffsetDateTime;

use crate::mesh::{Cluster, Mesh};
pub use certs::Ca;
pub use live::{adopt, peer_changes, peers_unchanged, unpeer_changes};
pub use objects::describe;

/// The Cilium chart versions whose rendering `render` has been checked against (the reference
/// cases in the test suite); `kubectl mesh version` reports them.
pub const VERIFIED_CHART_VERSIONS: &[&str] = &["1.16.19", "1.17.6", "1.18.12", "1.19.6", "1.20.0"];

/// What to render the stream for.
pub struct Target<'a> {
    pub mesh: &'a Mesh,
    pub cluster: &'a Cluster,
    /// The mesh's own CA (`ca:` in the mesh file), already loaded.
    pub mesh_ca: Option<&'a Ca>,
    /// Certificates are issued from, and checked for expiry against, this instant.
    pub now: OffsetDateTime,
    /// A mesh of several CAs: the CA bundle this cluster's chart must carry, and its own CA.
    pub bundle: Option<&'a Bundle>,
}

/// The CA bundle of one cluster in a mesh of several CAs (`trust: bundle`): the chart mounts it
/// (`tls.caBundle`) where it would mount the cluster's own `ca.crt`, so the agents (and
/// KVStoreMesh, 1.18+) verify every peer's clustermesh-apiserver with it, and the
/// clustermesh-apiserver's etcd admits the peers' client certificates with it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Every CA certificate of the mesh (PEM, trimmed), in mesh-file order, each once.
    pub cas: Vec<String>,
    /// The cluster's own CA certificate (PEM): its certificates are issued by it.
    pub own: String,
}

impl Bundle {
    /// The bundle's text: the mesh's CAs, each PEM block on its own lines, ending in a newline
    /// (as the chart's `|` block holds `tls.caBundle.content`).
    pub fn content(&self) -> String {
        let mut text = self.cas.join("\n");
        text.push('\n');
        text
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("malformed YAML in document {document} of the input stream (line {line}): {message}")]
    Yaml {
        document: usize,
        line: usize,
        message: String,
    },
    #[error("cannot write {object} as YAML: {message}")]
    Emit { object: String, message: String },
    #[error(
        "the input stream has no ConfigMap \"cilium-config\" in namespace {namespace:?}: pass the rendered Cilium chart (or set `namespace:` in the mesh file)"
    )]
    NoCiliumConfig { namespace: String },
    #[error(
        "{object} has {field} {found:?}, but the mesh file says {wanted:?} for cluster {cluster:?}: remove the value from the Helm values (kubectl-mesh sets it) or fix the mesh file"
    )]
    Conflict {
        object: String,
        field: String,
        found: String,
        wanted: String,
        cluster: String,
    },
    #[error(
        "{object}: {place} still reads {found:?}, a value the chart derived from the cluster name {old:?} it was rendered with, and kubectl-mesh does not know this place ({wanted:?} expected): nothing was written. Set the value for this cluster in its Helm values, or leave out the chart option that renders it, and report the option to kubectl-mesh"
    )]
    Unhandled {
        object: String,
        place: String,
        found: String,
        wanted: String,
        old: String,
    },
    #[error("{object}: {message}")]
    Invalid { object: String, message: String },
    #[error("{object}: {source}")]
    Certificate {
        object: String,
        source: certs::CertError,
    },
}

/// Renders `stream` for `target`; the result is complete or an error, never half a stream.
pub fn render<'a>(stream: &'a str, target: &Target) -> Result<Rendered<'a>, RenderError> {
    let ns = target.mesh.namespace();
    let chart = objects::ChartSource::detect(stream, ns);
    let mut objects = objects::Objects::parse(stream, &chart, |kind, namespace, made| {
        cilium::wanted(kind, namespace, made, ns)
    })?;
    let identity = cilium::apply(&mut objects, target)?;
    objects.write(|object, text| derived::check(object, text, &identity))
}

/// A rendered stream, in pieces: the input's own text wherever nothing changed (borrowed, so an
/// umbrella chart's stream is not copied) and new text where something did.
#[derive(Debug, Default)]
pub struct Rendered<'a> {
    parts: Vec<Cow<'a, str>>,
    /// The parsed documents, dropped with the stream: a caller about to exit may
    /// [`Rendered::forget`] them instead (freeing a tree of small allocations one by one costs
    /// more than the whole YAML reading of a seed stream does).
    spent: Vec<serde_json::Value>,
}

impl<'a> Rendered<'a> {
    fn push(&mut self, part: Cow<'a, str>) {
        if !part.is_empty() {
            self.parts.push(part);
        }
    }

    fn ends_with_newline(&self) -> bool {
        self.parts.last().is_none_or(|p| p.ends_with('\n'))
    }

    /// Leaks what the stream holds instead of freeing it: for a process that exits next.
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// Writes the stream to `out`.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        for part in &self.parts {
            out.write_all(part.as_bytes())?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parts.iter().try_for_each(|p| f.write_str(p))
    }
}
