//! Which clusters' backends each cluster uses for a Cilium global Service (Cluster Mesh
//! "Load-balancing & Service Discovery" and "Service Affinity"). Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub const GLOBAL: &str = "service.cilium.io/global";
pub const SHARED: &str = "service.cilium.io/shared";
pub const AFFINITY: &str = "service.cilium.io/affinity";
pub const LEGACY_GLOBAL: &str = "io.cilium/global-service";
pub const LEGACY_SHARED: &str = "io.cilium/shared-service";
pub const LEGACY_AFFINITY: &str = "io.cilium/service-affinity";
/// Namespace annotation that, when not "true", makes Cilium ignore `service.cilium.io/global`.
pub const GLOBAL_NAMESPACE: &str = "clustermesh.cilium.io/global";

/// Which backends a global Service prefers (`service.cilium.io/affinity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Affinity {
    #[default]
    None,
    Local,
    Remote,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub port: i32,
    pub protocol: String,
}

/// One cluster whose backends a cluster uses, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Use {
    pub cluster: String,
    pub backends: u32,
}

/// The Service as one cluster has it; `uses` is filled by [`fill_uses`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterService {
    pub cluster: String,
    /// As annotated; see [`ClusterService::is_global`] for what Cilium applies.
    pub global: bool,
    pub shared: bool,
    pub affinity: Affinity,
    pub ports: Vec<Port>,
    pub ready_backends: u32,
    /// False when the namespace is not global (see [`GLOBAL_NAMESPACE`]).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub namespace_global: bool,
    #[serde(default)]
    pub uses: Vec<Use>,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

impl ClusterService {
    /// Global as Cilium applies it: annotated and in a global namespace.
    pub fn is_global(&self) -> bool {
        self.global && self.namespace_global
    }
    /// Whether other clusters receive this cluster's backends.
    pub fn exports(&self) -> bool {
        self.is_global() && self.shared
    }
}

/// The Cilium annotations of one Service, read as Cilium reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    pub global: bool,
    /// Default true when global; always false when not global (Cilium ignores it then).
    pub shared: bool,
    /// Always `None` when not global (Cilium ignores it then).
    pub affinity: Affinity,
    /// Legacy `io.cilium/...` keys present on the Service.
    pub legacy_keys: Vec<&'static str>,
    /// Invalid or shadowed values, as sentences (not naming the cluster).
    pub problems: Vec<String>,
}

/// Reads the Service annotations: the current key wins over its legacy alias; booleans are true
/// only for a case-insensitive "true"; an unknown affinity is ignored (treated as none).
pub fn parse_annotations(annotations: &BTreeMap<String, String>) -> Annotations {
    let mut out = Annotations::default();
    let mut get = |key: &'static str, legacy: &'static str| {
        let (current, old) = (annotations.get(key), annotations.get(legacy));
        if let Some(o) = old {
            out.legacy_keys.push(legacy);
            if let Some(c) = current.filter(|c| c.to_lowercase() != o.to_lowercase()) {
                let msg = format!("{legacy}={o:?} is ignored: {key}={c:?} takes precedence");
                out.problems.push(msg);
            }
        }
        current.map(|v| (key, v)).or(old.map(|v| (legacy, v)))
    };
    let (global, shared, affinity) = (
        get(GLOBAL, LEGACY_GLOBAL),
        get(SHARED, LEGACY_SHARED),
        get(AFFINITY, LEGACY_AFFINITY),
    );
    out.global = global.is_some_and(|(_, v)| v.to_lowercase() == "true");
    if !out.global {
        return out;
    }
    out.shared = shared.is_none_or(|(_, v)| v.to_lowercase() == "true");
    out.affinity = match affinity.map(|(k, v)| (k, v, v.to_lowercase())) {
        None => Affinity::None,
        Some((_, _, l)) if l == "none" || l.is_empty() => Affinity::None,
        Some((_, _, l)) if l == "local" => Affinity::Local,
        Some((_, _, l)) if l == "remote" => Affinity::Remote,
        Some((key, v, _)) => {
            let msg = format!("{key}={v:?} is not local, remote or none: Cilium ignores it");
            out.problems.push(msg);
            Affinity::None
        }
    };
    out
}

/// The clusters whose backends `clusters[i]` uses, in mesh order, skipping empty ones.
pub fn uses_of(clusters: &[ClusterService], i: usize) -> Vec<Use> {
    let Some(me) = clusters.get(i) else {
        return Vec::new();
    };
    let local = me.ready_backends;
    let importable = |j: usize, c: &ClusterService| me.is_global() && j != i && c.exports();
    let remote: u32 = clusters
        .iter()
        .enumerate()
        .filter(|&(j, c)| importable(j, c))
        .map(|(_, c)| c.ready_backends)
        .sum();
    let (use_local, use_remote) = match me.affinity {
        _ if !me.is_global() => (true, false),
        Affinity::None => (true, true),
        Affinity::Local => (true, local == 0),
        Affinity::Remote => (remote == 0, true),
    };
    let mut out = Vec::new();
    for (j, c) in clusters.iter().enumerate() {
        let wanted = if j == i {
            use_local
        } else {
            use_remote && importable(j, c)
        };
        if wanted && c.ready_backends > 0 {
            let (cluster, backends) = (c.cluster.clone(), c.ready_backends);
            out.push(Use { cluster, backends });
        }
    }
    out
}

/// Sets `uses` of every cluster.
pub fn fill_uses(clusters: &mut [ClusterService]) {
    let uses: Vec<_> = (0..clusters.len()).map(|i| uses_of(clusters, i)).collect();
    for (c, u) in clusters.iter_mut().zip(uses) {
        c.uses = u;
    }
}

/// What is wrong with the Service across the clusters where it exists, as sentences.
pub fn problems(clusters: &[ClusterService]) -> Vec<String> {
    let mut out = Vec::new();
    for c in clusters.iter().filter(|c| c.global && !c.namespace_global) {
        out.push(format!(
            "{}: the Service is annotated {GLOBAL} but its namespace is not global \
             ({GLOBAL_NAMESPACE} is not \"true\"), so Cilium treats it as not global there",
            c.cluster
        ));
    }
    let (global, local): (Vec<_>, Vec<_>) = clusters.iter().partition(|c| c.is_global());
    if !global.is_empty() && !local.is_empty() {
        out.push(format!(
            "global in {} only, not in {}: there it neither exports its backends nor uses remote ones",
            names(global.iter().copied()),
            names(local.iter().copied())
        ));
    }
    if !global.is_empty() && local.is_empty() && !global.iter().any(|c| c.shared) {
        out.push(format!(
            "global in {} but shared in none ({SHARED}=\"false\" everywhere): each cluster uses only its own backends",
            names(global.iter().copied())
        ));
    }
    let sets: Vec<BTreeSet<&Port>> = clusters.iter().map(|c| c.ports.iter().collect()).collect();
    if let Some(first) = sets.first().filter(|f| sets.iter().any(|s| s != *f)) {
        let common = sets.iter().fold(first.clone(), |a, s| &a & s);
        let mut msg = (sets.iter().zip(clusters))
            .map(
                |(set, c)| match ports_text(set.difference(&common).copied()) {
                    only if only.is_empty() => format!("{} has only the common ports", c.cluster),
                    only => format!("{} has {only}", c.cluster),
                },
            )
            .collect::<Vec<_>>()
            .join("; ");
        if !common.is_empty() {
            msg += &format!(" (common to all: {})", ports_text(common.iter().copied()));
        }
        out.push(format!("ports differ: {msg}"));
    }
    if !clusters.is_empty() && clusters.iter().all(|c| c.ready_backends == 0) {
        out.push(format!(
            "no ready backend in any cluster ({})",
            names(clusters)
        ));
    }
    out
}

fn names<'a>(clusters: impl IntoIterator<Item = &'a ClusterService>) -> String {
    let names: Vec<&str> = clusters.into_iter().map(|c| c.cluster.as_str()).collect();
    names.join(", ")
}

fn ports_text<'a>(ports: impl IntoIterator<Item = &'a Port>) -> String {
    let text = |p: &Port| match &p.name {
        Some(n) => format!("{n}:{}/{}", p.port, p.protocol),
        None => format!("{}/{}", p.port, p.protocol),
    };
    ports.into_iter().map(text).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(name: Option<&str>, port: i32) -> Port {
        let (name, protocol) = (name.map(Into::into), "TCP".into());
        Port {
            name,
            port,
            protocol,
        }
    }

    /// `name:token`: token `x<n>` (not global) or affinity `n|l|r`, shared `+|-`, ready count.
    fn svc(spec: &str) -> ClusterService {
        let (name, t) = spec.split_once(':').unwrap_or((spec, "n+0"));
        let affinity = match t.get(..1) {
            Some("l") => Affinity::Local,
            Some("r") => Affinity::Remote,
            _ => Affinity::None,
        };
        ClusterService {
            cluster: name.into(),
            global: !t.starts_with('x'),
            shared: t.contains('+'),
            affinity,
            ports: vec![tcp(Some("http"), 80)],
            ready_backends: t
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap_or(0),
            namespace_global: true,
            uses: vec![],
        }
    }

    /// Uses as `<cluster><backends>` separated by spaces.
    fn show(uses: &[Use]) -> String {
        let u: Vec<_> = uses
            .iter()
            .map(|u| format!("{}{}", u.cluster, u.backends))
            .collect();
        u.join(" ")
    }

    fn uses(specs: &[&str], i: usize) -> String {
        show(&uses_of(
            &specs.iter().map(|s| svc(s)).collect::<Vec<_>>(),
            i,
        ))
    }

    /// Runs a table: peer tokens, then the expected uses of the selecting cluster `me` for each of
    /// its affinities none/local/remote × 0 or 2 ready backends (`n0|n2|l0|l2|r0|r2`), each
    /// checked with `me` shared and not shared (its own `shared` never changes what it uses).
    fn check(me: &str, table: &[(&str, &str)]) {
        for (peers, expected) in table {
            let expected: Vec<&str> = expected.split('|').collect();
            for (col, want) in ["n0", "n2", "l0", "l2", "r0", "r2"].iter().zip(expected) {
                for shared in ["+", "-"] {
                    let own = format!("{me}:{}{shared}{}", &col[..1], &col[1..]);
                    let specs = peers.replace('*', &own);
                    let specs: Vec<&str> = specs.split(' ').collect();
                    let i = specs.iter().position(|s| *s == own).unwrap_or(0);
                    assert_eq!(uses(&specs, i), want, "{specs:?}");
                }
            }
        }
    }

    #[test]
    fn every_combination_two_clusters() {
        check(
            "a",
            &[
                ("* b:l+3", "b3|a2 b3|b3|a2|b3|b3"),
                ("* b:r+0", "|a2||a2||a2"),
                ("* b:n-3", "|a2||a2||a2"),
                ("* b:l-0", "|a2||a2||a2"),
                ("* b:x3", "|a2||a2||a2"),
                ("b:n+3 *", "b3|b3 a2|b3|a2|b3|b3"),
            ],
        );
    }

    #[test]
    fn every_combination_three_clusters() {
        // The selecting cluster b sits between its peers, so uses must keep mesh order.
        check(
            "b",
            &[
                ("a:n+3 * c:l+4", "a3 c4|a3 b2 c4|a3 c4|b2|a3 c4|a3 c4"),
                ("a:n+3 * c:l+0", "a3|a3 b2|a3|b2|a3|a3"),
                ("a:n+3 * c:l-4", "a3|a3 b2|a3|b2|a3|a3"),
                ("a:n+3 * c:l-0", "a3|a3 b2|a3|b2|a3|a3"),
                ("a:n+3 * c:x4", "a3|a3 b2|a3|b2|a3|a3"),
                ("a:r+0 * c:n+4", "c4|b2 c4|c4|b2|c4|c4"),
                ("a:r-3 * c:n+4", "c4|b2 c4|c4|b2|c4|c4"),
                ("a:r-0 * c:n+4", "c4|b2 c4|c4|b2|c4|c4"),
                ("a:x3 * c:n+4", "c4|b2 c4|c4|b2|c4|c4"),
                ("a:l+0 * c:r+0", "|b2||b2||b2"),
                ("a:l+0 * c:r-4", "|b2||b2||b2"),
                ("a:l+0 * c:r-0", "|b2||b2||b2"),
                ("a:l-3 * c:r+0", "|b2||b2||b2"),
                ("a:l-3 * c:r-4", "|b2||b2||b2"),
                ("a:l-3 * c:r-0", "|b2||b2||b2"),
                ("a:l-0 * c:r+0", "|b2||b2||b2"),
                ("a:l-0 * c:r-4", "|b2||b2||b2"),
                ("a:l-0 * c:r-0", "|b2||b2||b2"),
            ],
        );
    }

    #[test]
    fn seed_lab_observations() {
        // Global, no affinity: both clusters balance over all four pods.
        assert_eq!(uses(&["west:n+2", "east:n+2"], 0), "west2 east2");
        // west scaled to 0: west sends to east's pods.
        assert_eq!(uses(&["west:n+0", "east:n+2"], 0), "east2");
        // affinity=remote in both: each prefers the other's pods, its own once those are gone.
        assert_eq!(uses(&["west:r+2", "east:r+2"], 0), "east2");
        assert_eq!(uses(&["west:r+2", "east:r+2"], 1), "west2");
        assert_eq!(uses(&["west:r+2", "east:r+0"], 0), "west2");
        // affinity=local: own pods only.
        assert_eq!(uses(&["west:l+2", "east:n+2"], 0), "west2");
        // shared=false in west: east sees only its own, west still uses both.
        assert_eq!(uses(&["west:n-2", "east:n+2"], 1), "east2");
        assert_eq!(uses(&["west:n-2", "east:n+2"], 0), "west2 east2");
    }

    #[test]
    fn non_global_cluster_is_listed_but_isolated() {
        let mut cs = vec![svc("west:x2"), svc("east:n+3")];
        fill_uses(&mut cs);
        assert_eq!(show(&cs[0].uses), "west2");
        assert_eq!(show(&cs[1].uses), "east3");
        let want = "global in east only, not in west: there it neither exports its backends nor uses remote ones";
        assert_eq!(problems(&cs), [want]);
    }

    #[test]
    fn namespace_not_global_makes_the_service_local() {
        let mut cs = vec![svc("west:n+2"), svc("east:n+3")];
        cs[0].namespace_global = false;
        fill_uses(&mut cs);
        assert_eq!(show(&cs[0].uses), "west2");
        assert_eq!(show(&cs[1].uses), "east3");
        let p = problems(&cs);
        assert!(p[0].starts_with("west: the Service is annotated service.cilium.io/global"));
        assert!(p[0].contains("clustermesh.cilium.io/global"), "{p:?}");
        assert!(
            p[1].starts_with("global in east only, not in west"),
            "{p:?}"
        );
    }

    #[test]
    fn mesh_wide_problems() {
        assert_eq!(
            problems(&[svc("west:n-0"), svc("east:l-0")]),
            [
                "global in west, east but shared in none (service.cilium.io/shared=\"false\" everywhere): each cluster uses only its own backends",
                "no ready backend in any cluster (west, east)",
            ]
        );
        let mut cs = vec![svc("west:n+1"), svc("east:n+1"), svc("north:n+1")];
        cs[1].ports.push(tcp(None, 8080));
        cs[2].ports = vec![tcp(Some("http"), 80), tcp(Some("metrics"), 9090)];
        let want = "ports differ: west has only the common ports; east has 8080/TCP; north has metrics:9090/TCP (common to all: http:80/TCP)";
        assert_eq!(problems(&cs), [want]);
        cs[0].ports[0].name = None;
        assert!(
            problems(&cs)[0]
                .starts_with("ports differ: west has 80/TCP; east has 8080/TCP, http:80/TCP;")
        );
        assert!(problems(&[svc("west:n+1"), svc("east:n-0")]).is_empty());
    }

    fn parse(pairs: &[(&str, &str)]) -> Annotations {
        parse_annotations(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
    fn fields(a: &Annotations) -> (bool, bool, Affinity) {
        (a.global, a.shared, a.affinity)
    }

    #[test]
    fn parses_annotations_like_cilium() {
        use Affinity::*;
        let a = parse(&[(GLOBAL, "True")]);
        assert_eq!(fields(&a), (true, true, None));
        assert!(a.legacy_keys.is_empty() && a.problems.is_empty());
        assert!(!parse(&[(GLOBAL, "yes")]).global);
        // shared and affinity are ignored unless global.
        let a = parse(&[(SHARED, "true"), (AFFINITY, "bogus")]);
        assert_eq!(a, Annotations::default());
        let a = parse(&[(GLOBAL, "true"), (SHARED, "FALSE"), (AFFINITY, "Remote")]);
        assert_eq!(fields(&a), (true, false, Remote));
        let legacy = [LEGACY_GLOBAL, LEGACY_SHARED, LEGACY_AFFINITY];
        let a = parse(&[(legacy[0], "true"), (legacy[1], "no"), (legacy[2], "LOCAL")]);
        assert_eq!(
            (fields(&a), a.legacy_keys),
            ((true, false, Local), legacy.to_vec())
        );
        let a = parse(&[(GLOBAL, "true"), (AFFINITY, "Nearest")]);
        assert_eq!(a.affinity, None);
        let want = "service.cilium.io/affinity=\"Nearest\" is not local, remote or none: Cilium ignores it";
        assert_eq!(a.problems, [want]);
        // The current key wins over a disagreeing legacy one.
        let a = parse(&[(GLOBAL, "false"), (legacy[0], "true"), (legacy[1], "TRUE")]);
        assert_eq!(fields(&a), (false, false, None));
        let want = "io.cilium/global-service=\"true\" is ignored: service.cilium.io/global=\"false\" takes precedence";
        assert_eq!(a.problems, [want]);
    }

    #[test]
    fn serializes_to_the_command_shape() {
        let mut cs = vec![svc("west:l+2"), svc("east:n+2")];
        fill_uses(&mut cs);
        let json = serde_json::to_string(&cs[0]).unwrap_or_default();
        let want = r#"{"cluster":"west","global":true,"shared":true,"affinity":"local","ports":[{"name":"http","port":80,"protocol":"TCP"}],"readyBackends":2,"uses":[{"cluster":"west","backends":2}]}"#;
        assert_eq!(json, want);
        assert_eq!(
            serde_json::from_str::<ClusterService>(want).ok().as_ref(),
            Some(&cs[0])
        );
    }
}
