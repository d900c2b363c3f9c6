//! `kubectl mesh services`: every global Service across the mesh, per cluster: its Cilium
//! annotations, ports, ready backends (EndpointSlices) and the clusters whose backends that
//! cluster will use, computed with Cilium's rules (`crate::mesh::services`); then what is wrong.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use super::{EXIT_PROBLEMS, Reached, block_on, load_mesh, print_structured, reach_all};
use crate::cli::ServicesArgs;
use crate::live::{ClusterClient, Kind};
use crate::mesh::Mesh;
use crate::mesh::service_list::{self, AgentUse};
use crate::mesh::services::{self as svc, Affinity, ClusterService, Keys};
use crate::mesh::state::Live;

/// The whole answer (`-o json|yaml`).
#[derive(Debug, Serialize)]
pub struct Report {
    pub services: Vec<ServiceReport>,
    /// Clusters that could not be read: their part of every Service is unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<Unreachable>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReport {
    pub namespace: String,
    pub name: String,
    /// The clusters that have the Service, in mesh order.
    pub clusters: Vec<ClusterService>,
    /// Reachable clusters that do not have it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub problems: Vec<String>,
    /// Worth knowing, not wrong (legacy annotation keys).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// With `--from-agents`: what one agent of each cluster that has the Service actually uses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<AgentView>,
}

/// One agent's actual selection for a Service, or why it could not be read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    pub cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(flatten)]
    pub seen: Option<AgentUse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether it matches the prediction (`uses`).
    pub agrees: bool,
}

#[derive(Debug, Serialize)]
pub struct Unreachable {
    pub cluster: String,
    pub error: String,
}

impl Report {
    fn has_problems(&self) -> bool {
        !self.unreachable.is_empty() || self.services.iter().any(|s| !s.problems.is_empty())
    }
}

/// What one cluster holds for the command.
#[derive(Debug, Default)]
pub struct Seen {
    pub services: Vec<Value>,
    pub slices: Vec<Value>,
    /// Only read where Cilium has global namespaces (1.20+).
    pub namespaces: Vec<Value>,
}

pub fn run(args: ServicesArgs) -> anyhow::Result<ExitCode> {
    let mesh = load_mesh(&args.mesh.mesh)?;
    let opts = args.kube.options();
    let ns = (!args.all_namespaces).then_some(args.namespace.as_str());
    let name = args.name.as_deref();
    let reached = block_on(reach_all(&mesh, &opts))??;
    let seen = block_on(crate::live::for_each(
        reached.iter().collect(),
        opts.parallel,
        |r: &Reached| async move {
            match (&r.client, &r.live) {
                (Some(client), Ok(live)) => read(client, live, ns, name).await,
                (_, Err(e)) => Err(anyhow::anyhow!("{e:#}")),
                (None, Ok(_)) => Err(anyhow::anyhow!("no client")),
            }
        },
    ))?;
    let lives: Vec<Result<(&Live, Seen), String>> = reached
        .iter()
        .zip(seen)
        .map(|(r, s)| match (&r.live, s) {
            (Ok(live), Ok(seen)) => Ok((live, seen)),
            (Err(e), _) => Err(format!("{e:#}")),
            (_, Err(e)) => Err(format!("{e:#}")),
        })
        .collect();
    let mut report = assess(&mesh, &lives, name);
    if args.from_agents {
        let lists = block_on(crate::live::for_each(
            reached.iter().collect(),
            opts.parallel,
            agent_service_list,
        ))?;
        compare_agents(&mesh, &mut report, &lists);
    }
    let place = match ns {
        Some(ns) => format!("in namespace {ns}"),
        None => "in any namespace".to_string(),
    };
    if let Some(name) = name
        && report.services.is_empty()
        && report.unreachable.is_empty()
    {
        anyhow::bail!(
            "no Service {name} {place} in any cluster of the mesh ({})",
            mesh.cluster_names().join(", ")
        );
    }
    match args.output {
        Some(format) => print_structured(format, &serde_json::to_value(&report)?)?,
        None => {
            if report.services.is_empty() {
                errln!("No global Services {place}.");
            }
            out!("{}", table(&mesh, &report));
        }
    }
    Ok(if report.has_problems() {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `cilium-dbg service list -o json` prints in one Ready agent (cilium-dbg/cmd/
/// service_list.go), as (pod, services), or why it could not be read.
pub const SERVICE_LIST: [&str; 5] = ["cilium-dbg", "service", "list", "-o", "json"];

async fn agent_service_list(r: &Reached) -> Result<(String, Vec<Value>), String> {
    let (client, live) = match (&r.client, &r.live) {
        (Some(c), Ok(l)) => (c, l),
        (_, Err(e)) => return Err(format!("cannot read the cluster: {e:#}")),
        (None, Ok(_)) => return Err("no client for the cluster".to_string()),
    };
    let pod =
        super::agent_exec::one_ready_pod(client, live.agents.as_ref(), "DaemonSet cilium").await?;
    let argv: Vec<String> = SERVICE_LIST.iter().map(|s| s.to_string()).collect();
    let ran = super::agent_exec::run(client, &pod, super::agents::AGENT_CONTAINER, &argv).await;
    let o = ran.output?;
    let what = SERVICE_LIST.join(" ");
    match service_list::parse(&super::agent_exec::stdout_text(&o)) {
        Ok(list) => Ok((pod, list)),
        Err(e) if o.exit_code != 0 => Err(format!(
            "`{what}` in {pod} {}: {e}",
            super::agent_exec::exit_note(&o)
        )),
        Err(e) => Err(format!("`{what}` in {pod}: {e}")),
    }
}

/// Adds each agent's actual selection to every Service, and a problem where it differs from
/// the prediction or could not be read (never counted as agreeing).
fn compare_agents(
    mesh: &Mesh,
    report: &mut Report,
    lists: &[Result<(String, Vec<Value>), String>],
) {
    for s in &mut report.services {
        for cs in &s.clusters {
            let Some(i) = mesh.clusters.iter().position(|c| c.name == cs.cluster) else {
                continue;
            };
            let view = match &lists[i] {
                Err(e) => {
                    s.problems
                        .push(format!("{}: agents not readable: {e}", cs.cluster));
                    AgentView {
                        cluster: cs.cluster.clone(),
                        pod: None,
                        seen: None,
                        error: Some(e.clone()),
                        agrees: false,
                    }
                }
                Ok((pod, list)) => {
                    let seen = service_list::agent_use(list, &s.namespace, &s.name, &mesh.clusters);
                    let differs = service_list::disagreement(pod, &cs.uses, &seen);
                    if let Some(d) = &differs {
                        s.problems.push(format!("{}: {d}", cs.cluster));
                    }
                    AgentView {
                        cluster: cs.cluster.clone(),
                        pod: Some(pod.clone()),
                        seen: Some(seen),
                        error: None,
                        agrees: differs.is_none(),
                    }
                }
            };
            s.agents.push(view);
        }
    }
}

/// Services, their EndpointSlices and (on 1.20+) the namespaces of one cluster.
pub async fn read(
    client: &ClusterClient,
    live: &Live,
    ns: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<Seen> {
    let services = async {
        match (ns, name) {
            (Some(ns), Some(name)) => Ok(client
                .get_object(Kind::Service, ns, name)
                .await?
                .into_iter()
                .collect()),
            _ => {
                let mut all = client.list_in(Kind::Service, ns, None).await?;
                all.retain(|s| name.is_none_or(|n| s["metadata"]["name"] == n));
                Ok(all)
            }
        }
    };
    let selector = match name {
        Some(n) => format!("{}={n}", svc::SERVICE_NAME_LABEL),
        None => svc::SERVICE_NAME_LABEL.to_string(),
    };
    let slices = client.list_in(Kind::EndpointSlice, ns, Some(&selector));
    let namespaces = async {
        if has_global_namespaces(live) {
            client.list_in(Kind::Namespace, None, None).await
        } else {
            Ok(Vec::new())
        }
    };
    let (services, slices, namespaces) = futures::try_join!(services, slices, namespaces)?;
    Ok(Seen {
        services,
        slices,
        namespaces,
    })
}

/// Whether the cluster's Cilium can make a namespace local (1.20+, or the setting is present).
fn has_global_namespaces(live: &Live) -> bool {
    svc::global_namespaces_apply(
        live.cilium_version(),
        live.config(svc::DEFAULT_GLOBAL_NAMESPACE),
    )
}

/// One Service in one cluster, before the selection.
struct Found {
    service: ClusterService,
    legacy: Vec<&'static str>,
    problems: Vec<String>,
    ignored_current: bool,
}

/// The report, from what every cluster holds (`Err`: the cluster could not be read). Pure.
pub fn assess(
    mesh: &Mesh,
    clusters: &[Result<(&Live, Seen), String>],
    name: Option<&str>,
) -> Report {
    let mut by_service: BTreeMap<(String, String), Vec<Option<Found>>> = BTreeMap::new();
    let mut unreachable = Vec::new();
    for (i, (cluster, seen)) in mesh.clusters.iter().zip(clusters).enumerate() {
        let (live, seen) = match seen {
            Ok((live, seen)) => (live, seen),
            Err(e) => {
                unreachable.push(Unreachable {
                    cluster: cluster.name.clone(),
                    error: e.clone(),
                });
                continue;
            }
        };
        for s in &seen.services {
            let (Some(ns), Some(n)) = (
                s["metadata"]["namespace"].as_str(),
                s["metadata"]["name"].as_str(),
            ) else {
                continue;
            };
            let found = found(&cluster.name, live, seen, s, ns, n);
            let slot = by_service
                .entry((ns.to_string(), n.to_string()))
                .or_insert_with(|| mesh.clusters.iter().map(|_| None).collect());
            slot[i] = Some(found);
        }
    }
    let reachable: Vec<bool> = clusters.iter().map(Result::is_ok).collect();
    let mut services = Vec::new();
    for ((ns, n), slots) in by_service {
        if name.is_none() && !slots.iter().flatten().any(|f| f.service.global) {
            continue;
        }
        let missing: Vec<String> = (mesh.clusters.iter().zip(&slots).zip(&reachable))
            .filter(|((_, s), ok)| s.is_none() && **ok)
            .map(|((c, _), _)| c.name.clone())
            .collect();
        let found: Vec<Found> = slots.into_iter().flatten().collect();
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        for f in &found {
            let c = &f.service.cluster;
            problems.extend(f.problems.iter().map(|p| format!("{c}: {p}")));
            if f.ignored_current {
                problems.push(format!(
                    "{c}: its Cilium (before {}.{}) reads only the legacy io.cilium/… keys: the service.cilium.io/… annotations are ignored there",
                    svc::CURRENT_KEYS_SINCE.0,
                    svc::CURRENT_KEYS_SINCE.1
                ));
            }
            if !f.legacy.is_empty() {
                warnings.push(format!(
                    "{c}: legacy annotation(s) {} (Cilium reads them too): `kubectl mesh annotate service {n} -n {ns} --migrate-legacy` moves them to service.cilium.io/…",
                    f.legacy.join(", ")
                ));
            }
        }
        let mut clusters: Vec<ClusterService> = found.into_iter().map(|f| f.service).collect();
        svc::fill_uses(&mut clusters);
        problems.extend(svc::problems(&clusters));
        if !missing.is_empty() && clusters.iter().any(|c| c.is_global()) {
            problems.push(format!(
                "missing in {}: without the Service there, {} can neither use nor add backends",
                missing.join(", "),
                if missing.len() == 1 {
                    "that cluster"
                } else {
                    "those clusters"
                }
            ));
        }
        services.push(ServiceReport {
            namespace: ns,
            name: n,
            clusters,
            missing,
            problems,
            warnings,
            agents: Vec::new(),
        });
    }
    Report {
        services,
        unreachable,
    }
}

/// The Service `ns/name` as Cilium in this cluster sees it.
fn found(cluster: &str, live: &Live, seen: &Seen, service: &Value, ns: &str, name: &str) -> Found {
    let version = live.cilium_version();
    let release = live.cilium_release();
    let keys = Keys::for_version(version);
    let mut annotations = svc::annotations_of(service);
    let mut ignored_current = false;
    if keys == Keys::Legacy {
        let before = annotations.len();
        annotations.retain(|k, _| !k.starts_with("service.cilium.io/"));
        ignored_current = annotations.len() != before;
    }
    let mut parsed = svc::parse_annotations(&annotations);
    if let Some(v) = parsed.affinity_value.as_deref()
        && v.eq_ignore_ascii_case("none")
    {
        let verdict = svc::drops_remote(v, release);
        if !verdict.is_no() {
            parsed.problems.push(format!(
                "affinity {v:?}: {}. Fix: `kubectl mesh annotate service {name} -n {ns} --affinity none` removes the annotation (no preference on every release){}",
                svc::explain(v, release, verdict),
                if release.is_some_and(|(a, b, _)| (a, b) == (1, 19)) {
                    ", or upgrade Cilium to 1.20 (or the 1.19 release with cilium/cilium#46635)"
                } else {
                    ", or upgrade Cilium to 1.20"
                }
            ));
        }
    }
    let namespace = seen
        .namespaces
        .iter()
        .find(|n| n["metadata"]["name"] == ns)
        .map(svc::annotations_of)
        .unwrap_or_default();
    let slices: Vec<&Value> = seen
        .slices
        .iter()
        .filter(|s| {
            s["metadata"]["namespace"] == ns
                && s["metadata"]["labels"][svc::SERVICE_NAME_LABEL] == name
        })
        .collect();
    Found {
        service: ClusterService {
            cluster: cluster.to_string(),
            global: parsed.global,
            shared: parsed.shared,
            affinity: parsed.affinity,
            ports: svc::ports_of(service),
            ready_backends: svc::ready_backends(&slices),
            namespace_global: svc::namespace_global(
                version,
                live.config(svc::DEFAULT_GLOBAL_NAMESPACE),
                &namespace,
            ),
            remote_backends_dropped: parsed
                .affinity_value
                .as_deref()
                .map_or(svc::Verdict::No, |v| svc::drops_remote(v, release)),
            uses: Vec::new(),
        },
        legacy: if keys == Keys::Current {
            parsed.legacy_keys
        } else {
            Vec::new()
        },
        problems: parsed.problems,
        ignored_current,
    }
}

/// The report as a `kubectl get`-style table, then the problems and warnings.
pub fn table(mesh: &Mesh, report: &Report) -> String {
    let mut rows: Vec<[String; 8]> = Vec::new();
    if !report.services.is_empty() {
        rows.push(
            [
                "SERVICE", "CLUSTER", "GLOBAL", "SHARED", "AFFINITY", "PORTS", "READY", "USES",
            ]
            .map(str::to_string),
        );
    }
    for s in &report.services {
        let mut first = true;
        for c in &mesh.clusters {
            let label = if first {
                format!("{}/{}", s.namespace, s.name)
            } else {
                String::new()
            };
            let row = if let Some(cs) = s.clusters.iter().find(|cs| cs.cluster == c.name) {
                cluster_row(label, cs)
            } else if s.missing.contains(&c.name) {
                placeholder(label, &c.name, "missing")
            } else if report.unreachable.iter().any(|u| u.cluster == c.name) {
                placeholder(label, &c.name, "unreachable")
            } else {
                continue;
            };
            rows.push(row);
            first = false;
        }
    }
    let with_agents = report.services.iter().any(|s| !s.agents.is_empty());
    let mut out = if with_agents {
        let mut wide: Vec<[String; 9]> = Vec::new();
        let mut current: Option<&ServiceReport> = None;
        let mut services = report.services.iter();
        for (i, r) in rows.iter().enumerate() {
            if i > 0 && !r[0].is_empty() {
                current = services.next();
            }
            let agent = if i == 0 {
                "AGENT".to_string()
            } else {
                current.map_or_else(|| "-".to_string(), |s| agent_cell(s, &r[1]))
            };
            wide.push(std::array::from_fn(|k| {
                if k < 8 { r[k].clone() } else { agent.clone() }
            }));
        }
        super::format_table(&wide)
    } else {
        super::format_table(&rows)
    };
    let mut problems: Vec<String> = report
        .unreachable
        .iter()
        .map(|u| format!("{}: cannot read it: {}", u.cluster, u.error))
        .collect();
    let mut warnings = Vec::new();
    for s in &report.services {
        let id = format!("{}/{}", s.namespace, s.name);
        problems.extend(s.problems.iter().map(|p| format!("{id}: {p}")));
        warnings.extend(s.warnings.iter().map(|w| format!("{id}: {w}")));
    }
    if !problems.is_empty() {
        out.push_str("\nProblems:\n");
        for p in problems {
            out.push_str(&format!("  ✗ {p}\n"));
        }
    }
    if !warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in warnings {
            out.push_str(&format!("  ! {w}\n"));
        }
    }
    out
}

/// What the agent of `cluster` uses for the Service: `west:2 east:2`, with `✗` where it differs
/// from USES, `unreadable` when it could not be asked, `-` when not asked.
fn agent_cell(s: &ServiceReport, cluster: &str) -> String {
    match s.agents.iter().find(|a| a.cluster == cluster) {
        None => "-".to_string(),
        Some(a) => match &a.seen {
            None => "unreadable ✗".to_string(),
            Some(seen) if a.agrees => service_list::uses_text(&seen.uses),
            Some(seen) => format!("{} ✗", service_list::uses_text(&seen.uses)),
        },
    }
}

fn cluster_row(label: String, c: &ClusterService) -> [String; 8] {
    let global = match (c.global, c.namespace_global) {
        (true, true) => "yes",
        (true, false) => "no (namespace)",
        (false, _) => "no",
    };
    let (shared, affinity) = if c.is_global() {
        let affinity = match c.affinity {
            Affinity::None => "none",
            Affinity::Local => "local",
            Affinity::Remote => "remote",
        };
        let affinity = match c.remote_backends_dropped {
            svc::Verdict::No => affinity,
            svc::Verdict::Yes => "local only (!)",
            svc::Verdict::Maybe => "local only (?)",
        };
        (if c.shared { "yes" } else { "no" }, affinity)
    } else {
        ("-", "-")
    };
    let uses: Vec<String> = c
        .uses
        .iter()
        .map(|u| format!("{}:{}", u.cluster, u.backends))
        .collect();
    [
        label,
        c.cluster.clone(),
        global.into(),
        shared.into(),
        affinity.into(),
        svc::ports_text(&c.ports),
        c.ready_backends.to_string(),
        if uses.is_empty() {
            "none".into()
        } else {
            uses.join(" ")
        },
    ]
}

fn placeholder(label: String, cluster: &str, what: &str) -> [String; 8] {
    let dash = || "-".to_string();
    [
        label,
        cluster.to_string(),
        what.to_string(),
        dash(),
        dash(),
        dash(),
        dash(),
        dash(),
    ]
}
