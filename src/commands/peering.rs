//! What `connect` and `status` share about peers: the objects that make a cluster's peers the
//! mesh file's, the peers the mesh file does not know, and findings as grouped lines. Kept here so
//! neither command imports the other's internals.

use anyhow::Context;
use serde_json::Value;

use crate::mesh::state::{Finding, Live};
use crate::mesh::{Cluster, Mesh};
use crate::render::{Target, peer_changes, peers_unchanged};

/// What to write to cluster `c` so its peers are the mesh file's.
pub fn changes(mesh: &Mesh, c: &Cluster, live: &Live) -> anyhow::Result<Vec<Value>> {
    peer_changes(live.peer_objects(), &target(mesh, c))
        .with_context(|| format!("cluster {} (context {})", c.name, c.context))
}

/// Whether [`changes`] would be empty, told without copying the objects: `true` only when
/// sure; on `false`, [`changes`] says what differs.
pub fn unchanged(mesh: &Mesh, c: &Cluster, live: &Live) -> bool {
    peers_unchanged(&live.peer_object_refs(), &target(mesh, c))
}

fn target<'a>(mesh: &'a Mesh, c: &'a Cluster) -> Target<'a> {
    Target {
        mesh,
        cluster: c,
        mesh_ca: None,
        now: time::OffsetDateTime::now_utc(),
        bundle: None,
    }
}

/// Peers configured in a cluster that the mesh file does not know.
pub fn unknown_peers(mesh: &Mesh, live: &Live) -> Vec<String> {
    live.configured_peer_names()
        .into_iter()
        .filter(|p| mesh.cluster(p).is_err())
        .collect()
}

/// Findings as lines, one per problem: the same problem in several clusters (a NodePort
/// collision, say) is said once, naming them all.
pub fn grouped(findings: &[Finding]) -> Vec<String> {
    let mut groups: Vec<(Vec<&str>, &Finding)> = Vec::new();
    for f in findings {
        match groups
            .iter_mut()
            .find(|(_, g)| g.message == f.message && g.hint == f.hint)
        {
            Some((clusters, _)) => clusters.push(&f.cluster),
            None => groups.push((vec![&f.cluster], f)),
        }
    }
    groups
        .into_iter()
        .map(|(clusters, f)| {
            let mut line = format!("{}: {}", clusters.join(", "), f.message);
            if !f.hint.is_empty() {
                line.push_str(&format!("\n    → {}", f.hint));
            }
            line
        })
        .collect()
}
