//! `kubectl mesh annotate service|namespace`: the same Cilium annotations on one object in
//! every cluster of the mesh (or the named ones). Every cluster is checked first; when a check
//! fails nothing is written anywhere. Writes are merge patches of only the changed annotation
//! keys, bound to the resourceVersion they were planned on (a conflict re-reads and re-plans),
//! so no other annotation is touched and a second run writes nothing.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde_json::Value;

use super::peering::grouped;
use super::{EXIT_PROBLEMS, Reached, block_on, dry_run_yaml, load_mesh, reach_all};
use crate::cli::{AffinityArg, AnnotateNamespaceArgs, AnnotateServiceArgs, ServiceKey};
use crate::live::{ClusterClient, Kind, KubeOptions, WriteError};
use crate::mesh::services::{self as svc, Edit, Field, Keys, Request};
use crate::mesh::state::{Finding, Live};
use crate::mesh::{Cluster, Mesh};

/// How many times a write is planned again after a conflict.
const ATTEMPTS: u64 = 5;

/// One cluster of the mesh as annotate sees it.
struct Member<'a> {
    cluster: &'a Cluster,
    /// Named by `--clusters` (or no `--clusters`): to be annotated.
    target: bool,
    client: Option<&'a ClusterClient>,
    /// What was read: its Cilium, the object and (for a Service) its namespace; or why not.
    read: Result<Read<'a>, String>,
}

struct Read<'a> {
    live: &'a Live,
    object: Option<Value>,
    namespace: Option<Value>,
}

impl Member<'_> {
    fn name(&self) -> &str {
        &self.cluster.name
    }
}

/// The object to annotate.
struct Object<'a> {
    kind: Kind,
    /// Its namespace (for a Namespace, its own name).
    namespace: &'a str,
    name: &'a str,
}

impl Object<'_> {
    fn describe(&self) -> String {
        match self.kind {
            Kind::Namespace => format!("Namespace {}", self.name),
            kind => format!("{kind:?} {}/{}", self.namespace, self.name),
        }
    }
}

pub fn service(args: AnnotateServiceArgs) -> anyhow::Result<ExitCode> {
    let req = request(&args)?;
    let mesh = load_mesh(&args.mesh.mesh)?;
    let targets = targets(&mesh, &args.clusters)?;
    let opts = args.kube.options();
    let object = Object {
        kind: Kind::Service,
        namespace: &args.namespace,
        name: &args.name,
    };
    let reached = block_on(reach_all(&mesh, &opts))??;
    let members = read(&mesh, &targets, &reached, &opts, &object)?;
    let checked = check_service(&members, &object, &req, &args);
    let plans = match report_checks(checked) {
        Ok(plans) => plans,
        Err(code) => return Ok(code),
    };
    let rerun = format!(
        "kubectl mesh annotate service {} -n {} …",
        args.name, args.namespace
    );
    apply(
        &members,
        &object,
        &plans,
        args.dry_run,
        &opts,
        &rerun,
        |m, o| {
            let keys = Keys::for_version(m.cilium_version());
            svc::plan_service(&svc::annotations_of(o), &req, keys)
                .map_err(|e| anyhow!(e.join("; ")))
        },
    )
}

pub fn namespace(args: AnnotateNamespaceArgs) -> anyhow::Result<ExitCode> {
    let value = if args.global == Some(false) {
        "false"
    } else {
        "true"
    };
    let mesh = load_mesh(&args.mesh.mesh)?;
    let targets = targets(&mesh, &args.clusters)?;
    let opts = args.kube.options();
    let object = Object {
        kind: Kind::Namespace,
        namespace: &args.name,
        name: &args.name,
    };
    let reached = block_on(reach_all(&mesh, &opts))??;
    let members = read(&mesh, &targets, &reached, &opts, &object)?;
    let checked = check_namespace(&members, &object, value, &args);
    let plans = match report_checks(checked) {
        Ok(plans) => plans,
        Err(code) => return Ok(code),
    };
    let rerun = format!("kubectl mesh annotate namespace {} …", args.name);
    apply(
        &members,
        &object,
        &plans,
        args.dry_run,
        &opts,
        &rerun,
        |_, o| {
            svc::plan_key(
                &svc::annotations_of(o),
                svc::GLOBAL_NAMESPACE,
                value,
                args.overwrite,
            )
            .map_err(|e| anyhow!(e))
        },
    )
}

/// The changes the flags ask for.
fn request(args: &AnnotateServiceArgs) -> anyhow::Result<Request> {
    let mut fields: Vec<(Field, Option<String>)> = Vec::new();
    if let Some(global) = args.global {
        fields.push((Field::Global, global.then(|| "true".to_string())));
    }
    if let Some(shared) = args.shared {
        fields.push((Field::Shared, Some(shared.to_string())));
    }
    if let Some(affinity) = args.affinity {
        let value = match affinity {
            AffinityArg::Local => "local",
            AffinityArg::Remote => "remote",
            AffinityArg::None => "none",
        };
        fields.push((Field::Affinity, Some(value.to_string())));
    }
    for key in &args.remove {
        let (field, flag) = match key {
            ServiceKey::Global => (Field::Global, "global"),
            ServiceKey::Shared => (Field::Shared, "shared"),
            ServiceKey::Affinity => (Field::Affinity, "affinity"),
        };
        match fields.iter().find(|(f, _)| *f == field) {
            Some((_, Some(_))) => {
                bail!("--remove {flag} contradicts --{flag}: pass one of them")
            }
            Some((_, None)) => {}
            None => fields.push((field, None)),
        }
    }
    if fields.is_empty() && !args.migrate_legacy {
        bail!(
            "nothing to change: pass --global, --affinity, --shared, --remove or --migrate-legacy"
        );
    }
    Ok(Request {
        fields,
        migrate_legacy: args.migrate_legacy,
        overwrite: args.overwrite,
    })
}

/// Per cluster of the mesh, whether it is to be annotated.
fn targets(mesh: &Mesh, names: &[String]) -> anyhow::Result<Vec<bool>> {
    for name in names {
        mesh.cluster(name).map_err(|e| anyhow!("--clusters: {e}"))?;
    }
    Ok(mesh
        .clusters
        .iter()
        .map(|c| names.is_empty() || names.contains(&c.name))
        .collect())
}

/// Reads the object (and, for a Service, its namespace) in every reachable cluster.
fn read<'a>(
    mesh: &'a Mesh,
    targets: &[bool],
    reached: &'a [Reached],
    opts: &KubeOptions,
    object: &Object,
) -> anyhow::Result<Vec<Member<'a>>> {
    let with_namespace = object.kind != Kind::Namespace;
    let fetched = block_on(crate::live::for_each(
        reached.iter().collect(),
        opts.parallel,
        |r: &Reached| async move {
            let (Some(client), Ok(_)) = (&r.client, &r.live) else {
                return Ok((None, None));
            };
            let namespace = async {
                if with_namespace {
                    client
                        .get_object(Kind::Namespace, "", object.namespace)
                        .await
                } else {
                    Ok(None)
                }
            };
            futures::try_join!(
                client.get_object(object.kind, object.namespace, object.name),
                namespace
            )
        },
    ))?;
    Ok(mesh
        .clusters
        .iter()
        .zip(targets)
        .zip(reached.iter().zip(fetched))
        .map(|((cluster, &target), (r, fetched))| {
            let read = match (&r.live, fetched) {
                (Err(e), _) => Err(format!("{e:#}")),
                (Ok(_), Err(e)) => Err(format!("{e:#}")),
                (Ok(live), Ok((object, namespace))) => Ok(Read {
                    live,
                    object,
                    namespace,
                }),
            };
            Member {
                cluster,
                target,
                client: r.client.as_ref(),
                read,
            }
        })
        .collect())
}

/// What the checks found: problems (refuse), warnings (say and go on), and per cluster the
/// edit to make (`None`: not annotated there).
struct Checked {
    findings: Vec<Finding>,
    warnings: Vec<String>,
    plans: Vec<Option<Edit>>,
}

fn finding(cluster: &str, check: &'static str, message: String, hint: String) -> Finding {
    Finding {
        cluster: cluster.to_string(),
        check,
        message,
        hint,
    }
}

/// The checks shared by both kinds: each target must be readable and hold the object; the
/// clusters that are not targets are only read for comparison.
fn check_presence(members: &[Member], object: &Object, allow_missing: bool, checked: &mut Checked) {
    for m in members {
        match (&m.read, m.target) {
            (Err(e), true) => checked.findings.push(finding(
                m.name(),
                "unreachable",
                format!("cannot read it: {e}"),
                format!(
                    "check that `kubectl --context {} get nodes` works, or leave {} out with --clusters",
                    m.cluster.context,
                    m.name()
                ),
            )),
            (Err(e), false) => checked.warnings.push(format!(
                "{} (not to be annotated): cannot read it, so it is left out of the comparison: {e}",
                m.name()
            )),
            (Ok(r), true) if r.object.is_none() && allow_missing => checked.warnings.push(
                format!("{}: {} does not exist, skipped", m.name(), object.describe()),
            ),
            (Ok(r), true) if r.object.is_none() => checked.findings.push(finding(
                m.name(),
                "missing",
                format!("{} does not exist", object.describe()),
                "create it there first, or pass --allow-missing to annotate only where it exists"
                    .into(),
            )),
            _ => {}
        }
    }
    let present = members
        .iter()
        .any(|m| m.target && m.read.as_ref().is_ok_and(|r| r.object.is_some()));
    if !present && checked.findings.is_empty() {
        checked.findings.push(finding(
            &target_names(members),
            "missing",
            format!("{} exists in none of these clusters", object.describe()),
            String::new(),
        ));
    }
}

fn target_names(members: &[Member]) -> String {
    let names: Vec<&str> = members
        .iter()
        .filter(|m| m.target)
        .map(|m| m.name())
        .collect();
    names.join(", ")
}

/// Every check of `annotate service`, for all clusters at once.
fn check_service(
    members: &[Member],
    object: &Object,
    req: &Request,
    args: &AnnotateServiceArgs,
) -> Checked {
    let mut checked = Checked {
        findings: Vec::new(),
        warnings: Vec::new(),
        plans: members.iter().map(|_| None).collect(),
    };
    check_presence(members, object, args.allow_missing, &mut checked);
    let existing: Vec<(&Member, &Read, &Value)> = members
        .iter()
        .filter_map(|m| {
            let r = m.read.as_ref().ok()?;
            Some((m, r, r.object.as_ref()?))
        })
        .collect();

    // The Service must look the same everywhere Cilium pairs it.
    let ports: Vec<(&str, Vec<svc::Port>)> = existing
        .iter()
        .map(|(m, _, s)| (m.name(), svc::ports_of(s)))
        .collect();
    let ports: Vec<(&str, &[svc::Port])> = ports.iter().map(|(n, p)| (*n, p.as_slice())).collect();
    if let Some(difference) = svc::port_difference(&ports) {
        let names: Vec<&str> = ports.iter().map(|(n, _)| *n).collect();
        if args.force {
            checked
                .warnings
                .push(format!("{difference} (annotating anyway: --force)"));
        } else {
            checked.findings.push(finding(
                &names.join(", "),
                "ports",
                difference,
                "make the ports (name, port, protocol) the same in every cluster, or pass --force"
                    .into(),
            ));
        }
    }
    for (what, field) in [("type", "type"), ("selector", "selector")] {
        let values: Vec<(&str, String)> = existing
            .iter()
            .map(|(m, _, s)| {
                let v = &s["spec"][field];
                let text = match (field, v) {
                    ("type", Value::Null) => "ClusterIP".to_string(),
                    (_, Value::String(t)) => t.clone(),
                    (_, Value::Null) => "none".to_string(),
                    (_, v) => v.to_string(),
                };
                (m.name(), text)
            })
            .collect();
        if values.iter().any(|(_, v)| *v != values[0].1) {
            let each: Vec<String> = values.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            checked.warnings.push(format!(
                "the Service's {what} differs between clusters ({})",
                each.join("; ")
            ));
        }
    }

    for (i, m) in members.iter().enumerate() {
        let (true, Ok(r)) = (m.target, &m.read) else {
            continue;
        };
        let Some(service) = &r.object else { continue };
        let version = r.live.cilium_version();
        let keys = Keys::for_version(version);
        let before = svc::annotations_of(service);
        let edit = match svc::plan_service(&before, req, keys) {
            Ok(edit) => edit,
            Err(errors) => {
                for e in errors {
                    checked.findings.push(finding(
                        m.name(),
                        "annotation",
                        format!("{}: {e}", object.describe()),
                        String::new(),
                    ));
                }
                continue;
            }
        };
        let after = svc::parse_annotations(&edit.apply(&before));
        let namespace = r
            .namespace
            .as_ref()
            .map(svc::annotations_of)
            .unwrap_or_default();
        let default = r.live.config(svc::DEFAULT_GLOBAL_NAMESPACE);
        if after.global && !svc::namespace_global(version, default, &namespace) {
            let why = match namespace.get(svc::GLOBAL_NAMESPACE) {
                Some(v) => format!("it is annotated {}={v:?}", svc::GLOBAL_NAMESPACE),
                None => format!(
                    "Cilium runs with {}={:?} and the namespace has no {} annotation",
                    svc::DEFAULT_GLOBAL_NAMESPACE,
                    default.unwrap_or("false"),
                    svc::GLOBAL_NAMESPACE
                ),
            };
            let message = format!(
                "namespace {} is not global ({why}): Cilium ignores {} on its Services",
                object.namespace,
                svc::GLOBAL
            );
            if args.force {
                let what = format!("{}: {message} (annotating anyway: --force)", m.name());
                checked.warnings.push(what);
            } else {
                checked.findings.push(finding(
                    m.name(),
                    "namespace",
                    message,
                    format!(
                        "run `kubectl mesh annotate namespace {} --global` first",
                        object.namespace
                    ),
                ));
            }
        }
        if !after.global {
            for (field, value) in &req.fields {
                if *field != Field::Global && value.is_some() {
                    checked.warnings.push(format!(
                        "{}: {} has no effect while the Service is not global there",
                        m.name(),
                        keys.key(*field)
                    ));
                }
            }
        }
        if keys == Keys::Current && !req.migrate_legacy && !after.legacy_keys.is_empty() {
            checked.warnings.push(format!(
                "{}: {} carries legacy annotation(s) {} (Cilium reads them too); --migrate-legacy moves them to service.cilium.io/…",
                m.name(),
                object.describe(),
                after.legacy_keys.join(", ")
            ));
        }
        checked.plans[i] = Some(edit);
    }
    checked
}

/// Every check of `annotate namespace`, for all clusters at once.
fn check_namespace(
    members: &[Member],
    object: &Object,
    value: &str,
    args: &AnnotateNamespaceArgs,
) -> Checked {
    let mut checked = Checked {
        findings: Vec::new(),
        warnings: Vec::new(),
        plans: members.iter().map(|_| None).collect(),
    };
    check_presence(members, object, args.allow_missing, &mut checked);
    for (i, m) in members.iter().enumerate() {
        let (true, Ok(r)) = (m.target, &m.read) else {
            continue;
        };
        let Some(ns) = &r.object else { continue };
        match svc::plan_key(
            &svc::annotations_of(ns),
            svc::GLOBAL_NAMESPACE,
            value,
            args.overwrite,
        ) {
            Ok(edit) => checked.plans[i] = Some(edit),
            Err(e) => checked.findings.push(finding(
                m.name(),
                "annotation",
                format!("{}: {e}", object.describe()),
                String::new(),
            )),
        }
        if let Some((a, b)) = r.live.cilium_version()
            && (a, b) < svc::GLOBAL_NAMESPACES_SINCE
        {
            checked.warnings.push(format!(
                "{}: Cilium {a}.{b} ignores {} (every namespace is global before {}.{}); it takes effect after an upgrade",
                m.name(),
                svc::GLOBAL_NAMESPACE,
                svc::GLOBAL_NAMESPACES_SINCE.0,
                svc::GLOBAL_NAMESPACES_SINCE.1
            ));
        }
    }
    checked
}

/// Prints the warnings; on problems prints them and gives the exit code (nothing was written).
fn report_checks(checked: Checked) -> Result<Vec<Option<Edit>>, ExitCode> {
    for w in &checked.warnings {
        errln!("warning: {w}");
    }
    if checked.findings.is_empty() {
        return Ok(checked.plans);
    }
    errln!(
        "annotate refused: {} problem(s), nothing was changed:",
        checked.findings.len()
    );
    for line in grouped(&checked.findings) {
        errln!("  {line}");
    }
    Err(ExitCode::from(EXIT_PROBLEMS))
}

/// Prints what would be written (`dry_run`), or writes it to every target concurrently.
/// `plan` plans the edit again on a fresh read of the object, for every attempt.
fn apply<P>(
    members: &[Member],
    object: &Object,
    plans: &[Option<Edit>],
    dry_run: bool,
    opts: &KubeOptions,
    rerun: &str,
    plan: P,
) -> anyhow::Result<ExitCode>
where
    P: Fn(&Live, &Value) -> anyhow::Result<Edit>,
{
    if dry_run {
        for (m, edit) in members.iter().zip(plans) {
            let header = format!("# cluster {} (context {})", m.name(), m.cluster.context);
            match (edit, &m.read) {
                (
                    Some(edit),
                    Ok(Read {
                        object: Some(o), ..
                    }),
                ) => {
                    let objects = if edit.is_empty() {
                        Vec::new()
                    } else {
                        vec![with_annotations(o, edit)]
                    };
                    outln!("{header}: {} object(s) to write", objects.len());
                    out!("{}", dry_run_yaml(&objects, super::HIDDEN)?);
                }
                _ if m.target => {
                    outln!("{header}: {} does not exist, skipped", object.describe());
                }
                _ => {}
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let work: Vec<(&Member, Option<&ClusterClient>, &Live)> = members
        .iter()
        .zip(plans)
        .filter_map(|(m, edit)| {
            edit.as_ref()?;
            Some((m, m.client, m.read.as_ref().ok()?.live))
        })
        .collect();
    let results = block_on(crate::live::for_each(
        work.iter().collect(),
        opts.parallel,
        |(_, client, live): &(&Member, Option<&ClusterClient>, &Live)| {
            let plan = &plan;
            async move {
                let client = client.ok_or_else(|| anyhow!("no client"))?;
                write(client, object, |o| plan(live, o)).await
            }
        },
    ))?;
    let mut failed = false;
    let mut results = work.iter().map(|(m, _, _)| m.name()).zip(results);
    for (m, edit) in members.iter().zip(plans) {
        if edit.is_none() {
            if m.target {
                outln!(
                    "{}: skipped: {} does not exist",
                    m.name(),
                    object.describe()
                );
            }
            continue;
        }
        let Some((_, result)) = results.next() else {
            continue;
        };
        match result {
            Ok(edit) if edit.is_empty() => {
                outln!("{}: {} is up to date", m.name(), object.describe());
            }
            Ok(edit) => outln!(
                "{}: annotated {}: {}",
                m.name(),
                object.describe(),
                edit.describe()
            ),
            Err(e) => {
                failed = true;
                outln!("{}: failed: {e:#}", m.name());
            }
        }
    }
    if failed {
        errln!("some clusters were not annotated: run `{rerun}` again (it is safe to repeat)");
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

/// The object with the edit applied to its annotations, as it would be written.
fn with_annotations(object: &Value, edit: &Edit) -> Value {
    let mut o = object.clone();
    let after = edit.apply(&svc::annotations_of(object));
    o["metadata"]["annotations"] = serde_json::to_value(after).unwrap_or(Value::Null);
    o
}

/// Read, plan, merge-patch at the version read; on a conflict start again. Returns what was
/// written (empty: the object was up to date).
async fn write<P>(client: &ClusterClient, object: &Object<'_>, plan: P) -> anyhow::Result<Edit>
where
    P: Fn(&Value) -> anyhow::Result<Edit>,
{
    let what = object.describe();
    for attempt in 1..=ATTEMPTS {
        let Some(current) = client
            .get_object(object.kind, object.namespace, object.name)
            .await?
        else {
            bail!("{what} was deleted meanwhile");
        };
        let edit = plan(&current)?;
        if edit.is_empty() {
            return Ok(edit);
        }
        let version = current["metadata"]["resourceVersion"].as_str();
        let patch = edit.merge_patch(version);
        match client
            .merge_patch(object.kind, object.namespace, object.name, &patch)
            .await
        {
            Ok(_) => return Ok(edit),
            Err(WriteError::Conflict) => {
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(WriteError::Other(e)) => return Err(e),
        }
    }
    Err(anyhow!(
        "context {}: {what} kept changing under us ({ATTEMPTS} conflicts in a row)",
        client.context
    ))
}
