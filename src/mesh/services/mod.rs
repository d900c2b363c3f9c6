//! Which clusters' backends each cluster uses for a Cilium global Service (Cluster Mesh
//! "Load-balancing & Service Discovery" and "Service Affinity"). Pure: no I/O.

mod affinity_value;
mod plan;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use affinity_value::{Release, Verdict, drops_remote, explain};
pub use plan::{Edit, Field, Keys, Request, plan_key, plan_service};

pub const GLOBAL: &str = "service.cilium.io/global";
pub const SHARED: &str = "service.cilium.io/shared";
pub const AFFINITY: &str = "service.cilium.io/affinity";
pub const LEGACY_GLOBAL: &str = "io.cilium/global-service";
pub const LEGACY_SHARED: &str = "io.cilium/shared-service";
pub const LEGACY_AFFINITY: &str = "io.cilium/service-affinity";
/// Namespace annotation (Cilium 1.20+): "true" makes the namespace global, "false" local; without
/// it the cluster's [`DEFAULT_GLOBAL_NAMESPACE`] decides. Cilium ignores `service.cilium.io/global`
/// on a Service in a namespace that is not global.
pub const GLOBAL_NAMESPACE: &str = "clustermesh.cilium.io/global";
/// The `cilium-config` key of the chart value `clustermesh.defaultGlobalNamespace` (1.20+;
/// absent or anything but "false" means every namespace is global by default).
pub const DEFAULT_GLOBAL_NAMESPACE: &str = "clustermesh-default-global-namespace";
/// The first Cilium release with global namespaces.
pub const GLOBAL_NAMESPACES_SINCE: (u32, u32) = (1, 20);
/// The first Cilium release that reads the `service.cilium.io/…` keys; older ones read only
/// their legacy `io.cilium/…` aliases.
pub const CURRENT_KEYS_SINCE: (u32, u32) = (1, 13);
/// The EndpointSlice label that names its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

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
    /// Whether this cluster's Cilium drops every remote backend for the affinity value
    /// (a literal `none` on some releases, any unknown value from 1.18: [`drops_remote`]).
    #[serde(default, skip_serializing_if = "Verdict::is_no")]
    pub remote_backends_dropped: Verdict,
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
    /// The affinity value as written (current key, else legacy alias), when global.
    pub affinity_value: Option<String>,
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
    out.affinity_value = affinity.map(|(_, v)| v.clone());
    out.affinity = match affinity.map(|(k, v)| (k, v, v.to_lowercase())) {
        None => Affinity::None,
        Some((_, _, l)) if l == "none" || l.is_empty() => Affinity::None,
        Some((_, _, l)) if l == "local" => Affinity::Local,
        Some((_, _, l)) if l == "remote" => Affinity::Remote,
        Some((key, v, _)) => {
            let msg = format!(
                "{key}={v:?} is not local, remote or none: Cilium 1.17 and before ignore it, 1.18 and later drop every remote backend for it (cilium/cilium#46623)"
            );
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
        _ if !me.remote_backends_dropped.is_no() => (true, false),
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
    // Ports only matter where Cilium pairs the backends: among the clusters annotated global.
    let ports: Vec<(&str, &[Port])> = (clusters.iter().filter(|c| c.global))
        .map(|c| (c.cluster.as_str(), c.ports.as_slice()))
        .collect();
    if let Some(difference) = port_difference(&ports) {
        out.push(difference);
    }
    if !clusters.is_empty() && clusters.iter().all(|c| c.ready_backends == 0) {
        out.push(format!(
            "no ready backend in any cluster ({})",
            names(clusters)
        ));
    }
    out
}

/// `ports differ: …` naming what each cluster has beyond the ports common to all, or `None`
/// when every cluster has the same ports (name, port, protocol; order does not matter).
pub fn port_difference(clusters: &[(&str, &[Port])]) -> Option<String> {
    let sets: Vec<BTreeSet<&Port>> = clusters.iter().map(|(_, p)| p.iter().collect()).collect();
    let first = sets.first().filter(|f| sets.iter().any(|s| s != *f))?;
    let common = sets.iter().fold(first.clone(), |a, s| &a & s);
    let mut msg = (sets.iter().zip(clusters))
        .map(
            |(set, (name, _))| match ports_text(set.difference(&common).copied()) {
                only if only.is_empty() => format!("{name} has only the common ports"),
                only => format!("{name} has {only}"),
            },
        )
        .collect::<Vec<_>>()
        .join("; ");
    if !common.is_empty() {
        msg += &format!(" (common to all: {})", ports_text(common.iter().copied()));
    }
    Some(format!("ports differ: {msg}"))
}

/// An object's `metadata.annotations` (non-string values are skipped).
pub fn annotations_of(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// A Service's ports as Cilium matches them across clusters: name, port, protocol (default TCP).
pub fn ports_of(service: &Value) -> Vec<Port> {
    let mut ports: Vec<Port> = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(Port {
                name: p["name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
                port: i32::try_from(p["port"].as_i64()?).ok()?,
                protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
            })
        })
        .collect();
    ports.sort();
    ports
}

/// Ready endpoints of a Service from its EndpointSlices (`discovery.k8s.io/v1`): an endpoint
/// whose `conditions.ready` is absent counts as ready, like kube-proxy and Cilium read it; an
/// endpoint listed in several slices (IPv4 and IPv6) counts once.
pub fn ready_backends(slices: &[&Value]) -> u32 {
    let mut seen = BTreeSet::new();
    for slice in slices {
        for e in slice["endpoints"].as_array().into_iter().flatten() {
            if e["conditions"]["ready"] == Value::Bool(false) {
                continue;
            }
            let r = &e["targetRef"];
            let key = match r["name"].as_str() {
                Some(name) => format!(
                    "{}/{}/{name}",
                    r["kind"].as_str().unwrap_or(""),
                    r["namespace"].as_str().unwrap_or("")
                ),
                None => match e["addresses"].get(0).and_then(Value::as_str) {
                    Some(a) => a.to_string(),
                    None => continue,
                },
            };
            seen.insert(key);
        }
    }
    u32::try_from(seen.len()).unwrap_or(u32::MAX)
}

/// Whether Cilium treats a namespace as global: always before 1.20; from 1.20 on, its
/// [`GLOBAL_NAMESPACE`] annotation ("true" / "false"), else the cluster's
/// [`DEFAULT_GLOBAL_NAMESPACE`] setting (absent: global). An unknown version counts as 1.20+
/// when the setting is present.
pub fn namespace_global(
    version: Option<(u32, u32)>,
    default_setting: Option<&str>,
    namespace_annotations: &BTreeMap<String, String>,
) -> bool {
    if !global_namespaces_apply(version, default_setting) {
        return true;
    }
    let default = default_setting.is_none_or(|d| !d.trim().eq_ignore_ascii_case("false"));
    match namespace_annotations
        .get(GLOBAL_NAMESPACE)
        .map(|v| v.trim())
    {
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        _ => default,
    }
}

/// Whether a cluster's Cilium has global namespaces: 1.20+, or (version unknown) its
/// `cilium-config` has [`DEFAULT_GLOBAL_NAMESPACE`].
pub fn global_namespaces_apply(version: Option<(u32, u32)>, default_setting: Option<&str>) -> bool {
    match version {
        Some(v) => v >= GLOBAL_NAMESPACES_SINCE,
        None => default_setting.is_some(),
    }
}

fn names<'a>(clusters: impl IntoIterator<Item = &'a ClusterService>) -> String {
    let names: Vec<&str> = clusters.into_iter().map(|c| c.cluster.as_str()).collect();
    names.join(", ")
}

/// Ports as `name:port/protocol` (or `port/protocol`), comma-separated.
pub fn ports_text<'a>(ports: impl IntoIterator<Item = &'a Port>) -> String {
    let text = |p: &Port| match &p.name {
        Some(n) => format!("{n}:{}/{}", p.port, p.protocol),
        None => format!("{}/{}", p.port, p.protocol),
    };
    ports.into_iter().map(text).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

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
            remote_backends_dropped: Verdict::No,
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
        // Its ports do not matter while it is not global there.
        cs[0].ports = vec![tcp(None, 8080)];
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
        let want = "service.cilium.io/affinity=\"Nearest\" is not local, remote or none: Cilium 1.17 and before ignore it, 1.18 and later drop every remote backend for it (cilium/cilium#46623)";
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

    #[test]
    fn namespaces_are_global_by_version_setting_and_annotation() {
        let none = BTreeMap::new();
        let yes = map(&[(GLOBAL_NAMESPACE, "True")]);
        let no = map(&[(GLOBAL_NAMESPACE, "false")]);
        // Before 1.20 every namespace is global, whatever it says.
        assert!(namespace_global(Some((1, 19)), Some("false"), &no));
        // 1.20+: the annotation, else the default (absent = true).
        assert!(namespace_global(Some((1, 20)), None, &none));
        assert!(namespace_global(Some((1, 20)), Some("true"), &none));
        assert!(!namespace_global(Some((1, 20)), Some("true"), &no));
        assert!(!namespace_global(Some((1, 21)), Some("false"), &none));
        assert!(namespace_global(Some((1, 21)), Some("false"), &yes));
        // Unknown version: the setting's presence tells.
        assert!(!namespace_global(None, Some("false"), &none));
        assert!(namespace_global(None, None, &no));
    }

    #[test]
    fn ports_and_ready_backends_from_objects() {
        let svc = json!({"spec": {"ports": [
            {"port": 443, "protocol": "TCP", "name": "https"},
            {"port": 80, "name": ""},
        ]}});
        assert_eq!(ports_of(&svc), [tcp(None, 80), tcp(Some("https"), 443)]);
        let pod = |name: &str, ip: &str, ready: Option<bool>| {
            let mut e = json!({"addresses": [ip], "targetRef": {"kind": "Pod", "namespace": "default", "name": name}});
            if let Some(r) = ready {
                e["conditions"] = json!({"ready": r});
            }
            e
        };
        let v4 = json!({"endpoints": [pod("a", "10.0.1.1", Some(true)), pod("b", "10.0.1.2", None), pod("c", "10.0.1.3", Some(false))]});
        let v6 = json!({"endpoints": [pod("a", "fd00::1", Some(true))]});
        let bare = json!({"endpoints": [{"addresses": ["10.0.1.9"]}]});
        let empty = json!({"endpoints": null});
        assert_eq!(ready_backends(&[&v4, &v6, &bare, &empty]), 3);
        assert_eq!(ready_backends(&[]), 0);
    }
}
