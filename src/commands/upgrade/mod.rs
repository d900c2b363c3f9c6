//! `kubectl mesh upgrade`: `helm upgrade` on every cluster of the mesh (or those named), each
//! with its `--kube-context`, the mesh file's namespace and kubectl-mesh as the post-renderer
//! with `--cluster` (the way the Helm binary found supports: Helm 4 the `mesh` plugin, Helm 3
//! an executable), in mesh-file order, stopping at the first failure unless
//! `--continue-on-error`. Everything that can be checked is checked before Helm first runs:
//! the mesh file, its CA, the values files against the mesh file, Helm and its post-renderer.

mod manifest;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;

use super::{EXIT_PROBLEMS, HIDDEN, block_on, format_table, load_mesh};
use crate::cli::UpgradeArgs;
use crate::live::helm::{self, Helm, Outcome};
use crate::live::{ClusterClient, KubeOptions};
use crate::mesh::{Cluster, Mesh};
use crate::render::Target;
use crate::render::values::ValuesFile;

/// Bound on the quick Helm calls before the upgrades (`version`, `env`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of Helm's error output quoted for a failed cluster.
const ERROR_LINES: usize = 5;

pub fn run(args: UpgradeArgs) -> anyhow::Result<ExitCode> {
    let mesh_path = &args.mesh.mesh;
    let mesh = load_mesh(mesh_path)?;
    let clusters = selected(&mesh, &args.clusters)?;
    // render refuses an unusable CA on every cluster: say it once, before Helm runs.
    let trust = super::ca::load_trust(&mesh, mesh_path)?;
    check_values(&mesh, &trust, &clusters, &args.values)?;
    let helm_path = helm::find(args.helm.as_deref())?;
    let helm = block_on(helm::version(&helm_path, PROBE_TIMEOUT))??;
    let renderer = block_on(post_renderer(&helm))??;
    let mesh_abs = std::path::absolute(mesh_path)
        .with_context(|| format!("cannot resolve the mesh file path {}", mesh_path.display()))?;
    let dry_run = args.dry_run || args.diff;
    let plans: Vec<Plan> = clusters
        .iter()
        .map(|c| Plan {
            cluster: c,
            args: helm_args(&args, &mesh, c, &renderer, &mesh_abs, dry_run),
        })
        .collect();
    errln!(
        "{} {} ({}) on {} cluster(s), {} at a time{}",
        if dry_run {
            "dry run of"
        } else {
            "upgrading with"
        },
        helm.path.display(),
        helm.version,
        plans.len(),
        args.parallel,
        if args.continue_on_error {
            ""
        } else {
            ", stopping at the first failure"
        }
    );
    let results = block_on(run_all(
        &helm,
        &plans,
        usize::from(args.parallel),
        !args.continue_on_error,
        args.timeout,
    ))?;

    let mut diff_failed: Vec<&str> = Vec::new();
    if dry_run {
        let hidden = if args.show_secrets { None } else { HIDDEN };
        let opts = kube_options(&args);
        for (plan, result) in plans.iter().zip(&results) {
            outln!(
                "# {} (context {}): {}",
                plan.cluster.name,
                plan.cluster.context,
                shell_line(&helm.path, &plan.args)
            );
            let Step::Ran(outcome) = result else {
                continue;
            };
            if !outcome.success {
                continue;
            }
            let Some(stream) = manifest::release_stream(&outcome.stdout) else {
                outln!("# (Helm's dry run printed no MANIFEST:)");
                continue;
            };
            if outcome.stdout_truncated {
                outln!(
                    "# (Helm printed more than {} MiB: the release is not shown)",
                    helm::MAX_STDOUT >> 20
                );
                continue;
            }
            if args.dry_run {
                match hidden {
                    Some(h) => out!(
                        "{}",
                        manifest::redacted(&stream, h).map_err(|e| {
                            anyhow::anyhow!(
                                "{}: cannot read Helm's dry run: {e}",
                                plan.cluster.name
                            )
                        })?
                    ),
                    None => out!("{stream}"),
                }
            }
            if args.diff {
                match block_on(diff(&mesh, plan.cluster, &stream, &opts, hidden))? {
                    Ok(text) => out!("{text}"),
                    Err(e) => {
                        errln!("error: {}: --diff: {e:#}", plan.cluster.name);
                        diff_failed.push(plan.cluster.name.as_str());
                    }
                }
            }
        }
    }

    let rows = summary(&plans, &results, dry_run);
    out!("{}", format_table(&rows));
    let failed: Vec<&str> = plans
        .iter()
        .zip(&results)
        .filter(|(_, r)| matches!(r, Step::Ran(o) if !o.success))
        .map(|(p, _)| p.cluster.name.as_str())
        .collect();
    if !failed.is_empty() {
        for (plan, result) in plans.iter().zip(&results) {
            if let Step::Ran(o) = result
                && !o.success
            {
                errln!("error: {}: helm failed ({}):", plan.cluster.name, o.status);
                for line in o.last_lines(ERROR_LINES) {
                    errln!("  {line}");
                }
            }
        }
        let skipped: Vec<&str> = plans
            .iter()
            .zip(&results)
            .filter(|(_, r)| matches!(r, Step::Skipped))
            .map(|(p, _)| p.cluster.name.as_str())
            .collect();
        if !skipped.is_empty() {
            errln!(
                "stopped after the failure; not run: {} (--continue-on-error goes on)",
                skipped.join(", ")
            );
        }
        errln!("error: helm failed on {}", failed.join(", "));
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    if !diff_failed.is_empty() {
        errln!(
            "error: --diff could not read the live objects of {}",
            diff_failed.join(", ")
        );
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    if args.wait && !dry_run {
        return super::status::wait_healthy(
            &mesh,
            &kube_options(&args),
            args.wait_timeout,
            mesh_path,
            None,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The clusters named (all when none), in mesh-file order; an unknown name is refused.
fn selected<'m>(mesh: &'m Mesh, names: &[String]) -> anyhow::Result<Vec<&'m Cluster>> {
    for n in names {
        mesh.cluster(n)?;
    }
    Ok(mesh
        .clusters
        .iter()
        .filter(|c| names.is_empty() || names.contains(&c.name))
        .collect())
}

/// Every values file readable, YAML, and without a value the mesh file owns set otherwise for
/// any of `clusters` (the rules of `kubectl mesh values`, one conflict named per cluster).
fn check_values(
    mesh: &Mesh,
    trust: &super::ca::Trust,
    clusters: &[&Cluster],
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let parsed = super::values::read_values_files(files)?;
    let files: Vec<ValuesFile> = parsed
        .iter()
        .map(|(name, values)| ValuesFile { name, values })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let problems: Vec<String> = clusters
        .iter()
        .filter_map(|cluster| {
            let bundle = trust.bundle(&cluster.name);
            let target = Target {
                mesh,
                cluster,
                mesh_ca: trust.signing_ca(&cluster.name),
                now,
                bundle: bundle.as_ref(),
            };
            crate::render::values::check(&files, &target)
                .err()
                .map(|e| format!("  {e}"))
        })
        .collect();
    if !problems.is_empty() {
        bail!(
            "upgrade refused, no cluster was touched: the values files conflict with the mesh file:\n{}",
            problems.join("\n")
        );
    }
    Ok(())
}

/// How Helm reaches kubectl-mesh.
enum Renderer {
    /// Helm 4: the `mesh` post-renderer plugin.
    Plugin,
    /// Helm 3: this binary, executed with `render` and its arguments.
    Exec(PathBuf),
}

async fn post_renderer(helm: &Helm) -> anyhow::Result<Renderer> {
    if helm.major == 3 {
        let me = std::env::current_exe()
            .context("cannot find the path of kubectl-mesh itself (the Helm 3 post-renderer)")?;
        return Ok(Renderer::Exec(me));
    }
    let dirs = helm::plugin_dirs(helm, PROBE_TIMEOUT).await?;
    let found = dirs.iter().any(|d| has_mesh_plugin(d));
    if !found {
        bail!(
            "Helm {} has no `mesh` post-renderer plugin in {}: install it (`helm plugin install PATH/TO/kubectl-mesh/plugins/mesh`) or point HELM_PLUGINS at the folder holding plugins/mesh",
            helm.version,
            if dirs.is_empty() {
                "its plugin folders".to_string()
            } else {
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            }
        );
    }
    let Ok(on_path) = which::which("kubectl-mesh") else {
        bail!(
            "the mesh plugin runs `kubectl-mesh` from PATH, and there is none: put kubectl-mesh on PATH (e.g. install it with krew)"
        );
    };
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    if let (Ok(plugin_runs), Some(me)) = (on_path.canonicalize(), me)
        && plugin_runs != me
    {
        errln!(
            "note: the mesh plugin renders with {} (kubectl-mesh on PATH), not this binary ({})",
            plugin_runs.display(),
            me.display()
        );
    }
    Ok(Renderer::Plugin)
}

/// A plugin folder holding a `postrenderer/v1` plugin named `mesh` (Helm 4 finds plugins by the
/// name in their plugin.yaml, `internal/plugin/loader.go` `FindPlugin`).
fn has_mesh_plugin(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let Ok(text) = super::read_text(&e.path().join("plugin.yaml"), 1 << 20) else {
            return false;
        };
        crate::yaml::parse(&text)
            .is_ok_and(|v| v["name"] == "mesh" && v["type"] == "postrenderer/v1")
    })
}

/// `helm upgrade` for one cluster, as Helm takes it.
fn helm_args(
    args: &UpgradeArgs,
    mesh: &Mesh,
    c: &Cluster,
    renderer: &Renderer,
    mesh_abs: &Path,
    dry_run: bool,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "upgrade".into(),
        (&args.release).into(),
        (&args.chart).into(),
    ];
    if args.install {
        a.push("--install".into());
    }
    if args.reuse_values {
        a.push("--reuse-values".into());
    }
    a.extend(["--namespace".into(), mesh.namespace().into()]);
    a.extend(["--kube-context".into(), (&c.context).into()]);
    if let Some(k) = &args.kubeconfig {
        a.extend(["--kubeconfig".into(), k.into()]);
    }
    if let Some(v) = &args.version {
        a.extend(["--version".into(), v.into()]);
    }
    for f in &args.values {
        a.extend(["--values".into(), f.into()]);
    }
    if dry_run {
        // server: the chart's lookups see the cluster as the real upgrade's do; nothing is written.
        a.push("--dry-run=server".into());
    }
    let pr_arg = |v: OsString| {
        let mut s = OsString::from("--post-renderer-args=");
        s.push(v);
        s
    };
    let mut mesh_arg = OsString::from("--mesh=");
    mesh_arg.push(mesh_abs);
    match renderer {
        Renderer::Plugin => a.extend(["--post-renderer".into(), "mesh".into()]),
        Renderer::Exec(me) => {
            a.extend(["--post-renderer".into(), me.into()]);
            a.push(pr_arg("render".into()));
        }
    }
    a.push(pr_arg(format!("--cluster={}", c.name).into()));
    a.push(pr_arg(mesh_arg));
    a
}

struct Plan<'m> {
    cluster: &'m Cluster,
    args: Vec<OsString>,
}

enum Step {
    Ran(Outcome),
    /// Not run: an earlier cluster failed.
    Skipped,
}

/// Runs Helm for every plan, at most `parallel` at once, in order; after a failure with
/// `stop`, the plans not started yet are skipped.
async fn run_all(
    helm: &Helm,
    plans: &[Plan<'_>],
    parallel: usize,
    stop: bool,
    timeout: Duration,
) -> Vec<Step> {
    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
    let tty = std::io::stderr().is_terminal();
    let bars = MultiProgress::with_draw_target(if tty {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template("{spinner} {prefix:<12} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let lines: Vec<ProgressBar> = plans
        .iter()
        .map(|p| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(p.cluster.name.clone());
            bar.set_message("waiting");
            bar
        })
        .collect();
    let failed = AtomicBool::new(false);
    let say = |bar: &ProgressBar, name: &str, msg: String| {
        if !tty {
            errln!("{name}: {msg}");
        }
        bar.set_message(msg);
    };
    futures::stream::iter(plans.iter().zip(&lines))
        .map(|(plan, bar)| {
            let failed = &failed;
            let say = &say;
            async move {
                let name = &plan.cluster.name;
                if stop && failed.load(Ordering::SeqCst) {
                    say(bar, name, "skipped: an earlier cluster failed".into());
                    bar.finish();
                    return Step::Skipped;
                }
                bar.enable_steady_tick(Duration::from_millis(120));
                say(
                    bar,
                    name,
                    format!("helm upgrade (context {})", plan.cluster.context),
                );
                let outcome = match helm::run(&helm.path, &plan.args, timeout).await {
                    Ok(o) => o,
                    Err(e) => Outcome {
                        success: false,
                        status: "not started".into(),
                        stdout: String::new(),
                        stdout_truncated: false,
                        stderr_tail: format!("{e:#}"),
                    },
                };
                if outcome.success {
                    say(bar, name, format!("ok: {}", helm_summary(&outcome)));
                } else {
                    failed.store(true, Ordering::SeqCst);
                    let last = outcome.last_lines(1).join("");
                    say(bar, name, format!("FAILED ({}): {last}", outcome.status));
                }
                bar.finish();
                Step::Ran(outcome)
            }
        })
        .buffered(parallel.max(1))
        .collect()
        .await
}

/// Helm's own word on a success: the revision, else its first line.
fn helm_summary(o: &Outcome) -> String {
    let revision = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("REVISION:"))
        .map(|r| format!("revision {}", r.trim()));
    let status = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("STATUS:"))
        .map(|s| s.trim().to_string());
    match (status, revision) {
        (Some(s), Some(r)) => format!("{s}, {r}"),
        (None, Some(r)) => r,
        (Some(s), None) => s,
        (None, None) => o
            .stdout
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("done")
            .to_string(),
    }
}

fn summary(plans: &[Plan], results: &[Step], dry_run: bool) -> Vec<[String; 4]> {
    let mut rows = vec![[
        "CLUSTER".to_string(),
        "CONTEXT".to_string(),
        "RESULT".to_string(),
        "HELM".to_string(),
    ]];
    for (p, r) in plans.iter().zip(results) {
        let (result, detail) = match r {
            Step::Skipped => (
                "skipped".to_string(),
                "not run: an earlier cluster failed".to_string(),
            ),
            Step::Ran(o) if o.success => (
                if dry_run { "dry-run ok" } else { "upgraded" }.to_string(),
                helm_summary(o),
            ),
            Step::Ran(o) => ("FAILED".to_string(), o.last_lines(1).join("")),
        };
        rows.push([
            p.cluster.name.clone(),
            p.cluster.context.clone(),
            result,
            detail,
        ]);
    }
    rows
}

/// The command as a user would type it (POSIX shell quoting where needed).
fn shell_line(helm: &Path, args: &[OsString]) -> String {
    std::iter::once(helm.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn kube_options(args: &UpgradeArgs) -> KubeOptions {
    KubeOptions {
        kubeconfig: args.kubeconfig.clone(),
        request_timeout: (!args.request_timeout.is_zero()).then_some(args.request_timeout),
        parallel: 64,
    }
}

/// What applying `stream` (the post-rendered release) would change in the cluster's live
/// objects: objects to create, fields to change (see [`manifest::changes`]).
async fn diff(
    mesh: &Mesh,
    cluster: &Cluster,
    stream: &str,
    opts: &KubeOptions,
    hidden: Option<&str>,
) -> anyhow::Result<String> {
    let objects = manifest::objects(stream).map_err(|e| anyhow::anyhow!("Helm's dry run: {e}"))?;
    let kubeconfig = crate::live::load_kubeconfig(opts)?;
    let client = ClusterClient::new(&kubeconfig, &cluster.context, mesh.namespace(), opts).await?;
    let ns = mesh.namespace();
    let mut text = String::new();
    let mut unchanged = 0;
    let looked_up = crate::live::for_each(objects.iter().collect(), 8, |o| {
        let client = &client;
        async move {
            let Some((api_version, kind, ns, name)) = manifest::address(o, ns) else {
                return (o, Ok(None), None);
            };
            let live = client
                .get_by_kind(&api_version, &kind, ns.as_deref(), &name)
                .await;
            let what = match &ns {
                Some(ns) => format!("{kind} {ns}/{name}"),
                None => format!("{kind} {name}"),
            };
            (o, live, Some(what))
        }
    })
    .await;
    for (wanted, live, what) in looked_up {
        let Some(what) = what else {
            text.push_str("? a document without apiVersion, kind or metadata.name\n");
            continue;
        };
        match live? {
            None => text.push_str(&format!("+ {what} (new)\n")),
            Some(live) => {
                let changes = manifest::changes(wanted, &live, hidden);
                if changes.is_empty() {
                    unchanged += 1;
                    continue;
                }
                text.push_str(&format!("~ {what}\n"));
                for c in changes {
                    text.push_str(&format!(
                        "    {}: {} -> {}\n",
                        c.path,
                        c.live.as_deref().unwrap_or("(unset)"),
                        c.wanted
                    ));
                }
            }
        }
    }
    text.push_str(&format!(
        "# {}: {} object(s) unchanged\n",
        cluster.name, unchanged
    ));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_posix_shell() {
        assert_eq!(
            quote("--post-renderer-args=--cluster=west"),
            "--post-renderer-args=--cluster=west"
        );
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
