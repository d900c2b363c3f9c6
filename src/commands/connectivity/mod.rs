//! `kubectl mesh connectivity`: deploy the probe workload in every cluster, wait for it, send
//! the seed lab's packets (pod-to-pod ICMP and TCP, N requests to the global Service), compare
//! the answers with what `services` predicts, and always remove what it created (also on Ctrl-C)
//! unless `--keep`. The workload, the probes' command lines and the judgement are in
//! `crate::mesh::connectivity`; this is the sequencing and the I/O.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

mod workload;

use workload::{Created, Progress, cleanup, kind_of, plan, wait_ready};

use crate::cli::ConnectivityArgs;
use crate::commands::services::{Seen, assess, read};
use crate::commands::{
    EXIT_PROBLEMS, HIDDEN, Reached, block_on, dry_run_yaml, load_mesh, reach_all,
};
use crate::live::pod_exec::{ExecError, ExecLimits, exec};
use crate::live::{ClusterClient, Kind, MAX_RESPONSE};
use crate::mesh::Mesh;
use crate::mesh::connectivity::probes::{self, Outcome};
use crate::mesh::connectivity::report::{self, Distribution, Path, Report};
use crate::mesh::connectivity::{self as conn, CLIENT_CONTAINER, SERVER_PORT, Workload};
use crate::mesh::services::Use;
use crate::mesh::state::Live;

/// Exit code after Ctrl-C (128 + SIGINT), once the workload is cleaned up.
const EXIT_INTERRUPTED: u8 = 130;
/// How often readiness and the service distribution are polled.
pub(crate) const POLL: Duration = Duration::from_secs(2);

/// One reachable cluster.
pub(crate) struct Site<'a> {
    pub name: &'a str,
    pub client: &'a ClusterClient,
    pub live: &'a Live,
}

/// The global Service probed.
struct Target {
    namespace: String,
    name: String,
    /// Deployed by this run (the probe's own), or the user's (`--service`).
    own: bool,
}

pub fn run(args: ConnectivityArgs) -> anyhow::Result<ExitCode> {
    let mesh = load_mesh(&args.mesh.mesh)?;
    let opts = args.kube.options();
    let workload = Workload {
        namespace: args.namespace.clone(),
        client_image: args.client_image.clone(),
        server_image: args.server_image.clone(),
        server: args.service.is_none(),
    };
    let target = match &args.service {
        Some((ns, name)) => Target {
            namespace: ns.clone(),
            name: name.clone(),
            own: false,
        },
        None => Target {
            namespace: args.namespace.clone(),
            name: conn::NAME.to_string(),
            own: true,
        },
    };
    let reached = block_on(reach_all(&mesh, &opts))??;
    let mut unreachable = Vec::new();
    let mut sites = Vec::new();
    for (c, r) in mesh.clusters.iter().zip(&reached) {
        match r {
            Reached {
                client: Some(client),
                live: Ok(live),
            } => sites.push(Site {
                name: &c.name,
                client,
                live,
            }),
            Reached { live: Err(e), .. } => unreachable.push(format!(
                "{}: cannot reach it, nothing probed there: {e:#}",
                c.name
            )),
            Reached { client: None, .. } => {
                unreachable.push(format!("{}: cannot reach it, nothing probed there", c.name))
            }
        }
    }
    if sites.is_empty() {
        bail!(
            "no cluster of the mesh can be reached: {}",
            unreachable.join("; ")
        );
    }
    // What each cluster gets; refused before anything is created anywhere when a name is taken.
    let plans = block_on(futures::future::try_join_all(
        sites.iter().map(|s| plan(s, &workload)),
    ))??;
    if args.dry_run {
        for (s, objects) in sites.iter().zip(&plans) {
            out!(
                "# cluster {} (context {}): would create\n",
                s.name,
                s.client.context
            );
            out!("{}", dry_run_yaml(objects, HIDDEN)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let port = match target.own {
        true => SERVER_PORT,
        false => block_on(service_port(&sites, &target))??,
    };
    let created = Created::default();
    let progress = Progress::new(&sites);
    let work = probe_all(
        &mesh, &sites, &plans, &target, port, &args, &created, &progress,
    );
    let finished = block_on(async {
        tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => None,
            r = work => Some(r),
        }
    })?;
    progress.finish();
    let left = if args.keep {
        errln!(
            "kept the probe workload: remove it with `kubectl delete -n {ns} pod,deployment,service -l {}` in each cluster (and `kubectl delete namespace {ns}` where this run made it)",
            conn::selector(),
            ns = workload.namespace,
        );
        Vec::new()
    } else {
        block_on(cleanup(&sites, &created))?
    };
    let Some(result) = finished else {
        errln!(
            "interrupted: {}",
            match (args.keep, left.is_empty()) {
                (true, _) => "the probe workload was kept (--keep)",
                (false, true) => "the probe workload was removed",
                (false, false) => "the probe workload was removed, except what is listed above",
            }
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let mut report = result?;
    report.problems.splice(0..0, unreachable);
    report.problems.extend(left);
    report.ok = report.problems.is_empty();
    match args.output {
        Some(format) => crate::commands::print_structured(format, &serde_json::to_value(&report)?)?,
        None => out!("{}", table(&report)),
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    })
}

/// The port of the user's Service (its first TCP port), from the first cluster that has it.
async fn service_port(sites: &[Site<'_>], target: &Target) -> anyhow::Result<u16> {
    for s in sites {
        if let Some(svc) = s
            .client
            .get_object(Kind::Service, &target.namespace, &target.name)
            .await?
        {
            return svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP")
                .find_map(|p| p["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
                .ok_or_else(|| {
                    anyhow!(
                        "{}: Service {}/{} has no TCP port to send requests to",
                        s.name,
                        target.namespace,
                        target.name
                    )
                });
        }
    }
    bail!(
        "no Service {}/{} in any reachable cluster of the mesh",
        target.namespace,
        target.name
    )
}

/// Deploy, wait, probe, judge.
#[allow(clippy::too_many_arguments)]
async fn probe_all(
    mesh: &Mesh,
    sites: &[Site<'_>],
    plans: &[Vec<Value>],
    target: &Target,
    port: u16,
    args: &ConnectivityArgs,
    created: &Created,
    progress: &Progress,
) -> anyhow::Result<Report> {
    let ns = args.namespace.as_str();
    futures::future::try_join_all(sites.iter().zip(plans).enumerate().map(
        |(i, (s, objects))| async move {
            progress.say(i, "creating the probe workload");
            for o in objects {
                let kind = kind_of(o);
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                // Recorded before the request: an interrupt in flight still cleans it up.
                created.add(i, kind, ns, name);
                s.client
                    .apply(ns, o)
                    .await
                    .with_context(|| format!("{}: cannot create the probe workload", s.name))?;
            }
            anyhow::Ok(())
        },
    ))
    .await?;
    let ready = wait_ready(sites, ns, target.own, args.timeout, progress).await?;
    let url = probes::url(&format!("{}.{}.svc", target.name, target.namespace), port);
    let argv = probes::service_argv(&url, args.requests);
    let names: Vec<String> = mesh.clusters.iter().map(|c| c.name.clone()).collect();
    let limits = ExecLimits {
        deadline: Some(
            Duration::from_secs(
                u64::from(args.requests) * u64::from(probes::REQUEST_TIMEOUT_SECS + 1),
            ) + args.kube.request_timeout,
        ),
        max_output: MAX_RESPONSE,
    };
    let sync_deadline = tokio::time::Instant::now() + args.timeout;
    let (distributions, service_problems, backends) = loop {
        for i in 0..sites.len() {
            progress.say(i, &format!("{} requests to {url}", args.requests));
        }
        let Prediction {
            uses: predicted,
            problems: service_problems,
            backends,
        } = predict(mesh, sites, target).await?;
        let mut pods: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (cluster, list) in &backends {
            for p in list {
                pods.entry(p.name.clone())
                    .or_default()
                    .push(cluster.clone());
            }
        }
        let outputs =
            futures::future::join_all(sites.iter().zip(&ready).map(|(s, (client_pod, _))| {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                async move {
                    exec(
                        s.client.kube_client(),
                        ns,
                        &client_pod.name,
                        CLIENT_CONTAINER,
                        &argv,
                        &limits,
                    )
                    .await
                }
            }))
            .await;
        let distributions: Vec<Distribution> = sites
            .iter()
            .zip(outputs)
            .map(|(s, out)| {
                let predicted = predicted.get(s.name).map(Vec::as_slice);
                match out {
                    Ok(out) => report::distribution(
                        s.name,
                        args.requests,
                        &probes::split_answers(&String::from_utf8_lossy(&out.stdout)),
                        &names,
                        &pods,
                        predicted,
                    ),
                    Err(e) => {
                        let mut d = report::distribution(
                            s.name,
                            args.requests,
                            &[],
                            &names,
                            &pods,
                            predicted,
                        );
                        d.problems.insert(
                            0,
                            format!("cannot run the requests in {}'s client pod: {e}", s.name),
                        );
                        d.matches = false;
                        d
                    }
                }
            })
            .collect();
        // A new Service takes a moment to reach every agent of the mesh: the own probe is
        // asked again until it agrees or the time is up. The user's Service is settled.
        let settled = distributions.iter().all(|d| d.matches);
        if settled || !target.own || tokio::time::Instant::now() + POLL > sync_deadline {
            break (distributions, service_problems, backends);
        }
        for (i, d) in distributions.iter().enumerate() {
            if let Some(p) = d.problems.first() {
                progress.say(
                    i,
                    &format!("waiting for the mesh to route as predicted: {p}"),
                );
            }
        }
        tokio::time::sleep(POLL).await;
    };
    // Pod to pod: from each client to every other cluster's server pods (or, with --service,
    // the Service's ready backends there).
    let targets: Vec<(String, Vec<Backend>)> = if target.own {
        sites
            .iter()
            .zip(&ready)
            .map(|(s, (_, servers))| {
                let pods = servers
                    .iter()
                    .map(|p| Backend {
                        name: p.name.clone(),
                        ip: p.ip.clone(),
                        port: SERVER_PORT,
                    })
                    .collect();
                (s.name.to_string(), pods)
            })
            .collect()
    } else {
        backends
    };
    let mut jobs = Vec::new();
    for (i, s) in sites.iter().enumerate() {
        progress.say(i, "pod to pod: ICMP and TCP");
        for (to, pods) in &targets {
            if to == s.name {
                continue;
            }
            for p in pods {
                jobs.push((s, &ready[i].0, to.clone(), p.clone()));
            }
        }
    }
    let expect_name = target.own;
    let paths: Vec<Path> =
        futures::future::join_all(jobs.into_iter().map(|(s, client, to, pod)| {
            let limits = s.client.exec_limits();
            async move {
                let ping = probes::ping_argv(&pod.ip);
                let tcp = probes::tcp_argv(&pod.ip, pod.port);
                let ping: Vec<&str> = ping.iter().map(String::as_str).collect();
                let tcp: Vec<&str> = tcp.iter().map(String::as_str).collect();
                let kube = s.client.kube_client();
                let (icmp, curl) = tokio::join!(
                    exec(kube, ns, &client.name, CLIENT_CONTAINER, &ping, &limits),
                    exec(kube, ns, &client.name, CLIENT_CONTAINER, &tcp, &limits),
                );
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let icmp = match icmp {
                    Ok(o) => probes::judge_ping(&text(&o.stdout), &text(&o.stderr), o.exit_code),
                    Err(e) => exec_failed("ping", s.name, &e),
                };
                let tcp = match curl {
                    Ok(o) => probes::judge_tcp(
                        &text(&o.stdout),
                        &text(&o.stderr),
                        o.exit_code,
                        expect_name.then_some(to.as_str()),
                    ),
                    Err(e) => exec_failed("curl", s.name, &e),
                };
                Path {
                    from: s.name.to_string(),
                    to,
                    pod: pod.name,
                    ip: pod.ip,
                    icmp,
                    tcp,
                }
            }
        }))
        .await;
    let mut problems: Vec<String> = service_problems
        .into_iter()
        .map(|p| format!("services: {p}"))
        .collect();
    problems.extend(report::path_problems(&paths));
    for d in &distributions {
        problems.extend(d.problems.iter().map(|p| format!("{}: {p}", d.cluster)));
    }
    if !sites
        .iter()
        .any(|s| targets.iter().any(|(to, p)| to != s.name && !p.is_empty()))
    {
        problems.push("no pod of another cluster to probe: there is no pod-to-pod path".into());
    }
    Ok(Report {
        ok: problems.is_empty(),
        service: format!("{}/{}", target.namespace, target.name),
        requests: args.requests,
        paths,
        distributions,
        problems,
    })
}

/// An exec that did not run: a missing `ping` in a custom client image means ICMP cannot be
/// tried from there (skipped); anything else is a failed probe.
fn exec_failed(tool: &str, cluster: &str, e: &ExecError) -> Outcome {
    let text = e.to_string();
    if tool == "ping" && text.contains("executable file not found") {
        return Outcome::Skipped {
            reason: format!("the client image has no ping ({text})"),
        };
    }
    Outcome::Failed {
        error: format!("cannot run {tool} in {cluster}'s client pod: {text}"),
    }
}

/// A pod to probe directly.
#[derive(Debug, Clone)]
struct Backend {
    name: String,
    ip: String,
    port: u16,
}

/// What `services` predicts for the target, per cluster (the clusters whose backends it uses),
/// the problems it sees, and the ready backend pods per cluster (mesh order) as the
/// EndpointSlices list them.
async fn predict(mesh: &Mesh, sites: &[Site<'_>], target: &Target) -> anyhow::Result<Prediction> {
    let seen = futures::future::join_all(sites.iter().map(|s| {
        read(
            s.client,
            s.live,
            Some(&target.namespace),
            Some(&target.name),
        )
    }))
    .await;
    let mut per_cluster: Vec<Result<(&Live, Seen), String>> = Vec::new();
    let mut backends = Vec::new();
    for c in &mesh.clusters {
        match sites.iter().zip(&seen).find(|(s, _)| s.name == c.name) {
            Some((s, Ok(seen))) => {
                backends.push((c.name.clone(), ready_backends(seen, target)));
                let copy = Seen {
                    services: seen.services.clone(),
                    slices: seen.slices.clone(),
                    namespaces: seen.namespaces.clone(),
                };
                per_cluster.push(Ok((s.live, copy)));
            }
            Some((_, Err(e))) => return Err(anyhow!("{}: {e:#}", c.name)),
            None => per_cluster.push(Err("unreachable".into())),
        }
    }
    let svc_report = assess(mesh, &per_cluster, Some(&target.name));
    let found = svc_report
        .services
        .into_iter()
        .find(|s| s.namespace == target.namespace && s.name == target.name);
    let (predicted, problems) = match found {
        Some(s) => (
            s.clusters
                .into_iter()
                .map(|c| (c.cluster, c.uses))
                .collect(),
            s.problems,
        ),
        None => (BTreeMap::new(), Vec::new()),
    };
    Ok(Prediction {
        uses: predicted,
        problems,
        backends,
    })
}

/// What `services` says about the target.
struct Prediction {
    /// Per cluster, the clusters whose backends it uses.
    uses: BTreeMap<String, Vec<Use>>,
    problems: Vec<String>,
    /// Ready backend pods per cluster, in mesh order.
    backends: Vec<(String, Vec<Backend>)>,
}

/// Ready endpoints of the target's EndpointSlices in one cluster, with the pod they name.
fn ready_backends(seen: &Seen, target: &Target) -> Vec<Backend> {
    let mut out: Vec<Backend> = Vec::new();
    for slice in &seen.slices {
        if slice["metadata"]["namespace"] != target.namespace.as_str()
            || slice["metadata"]["labels"][crate::mesh::services::SERVICE_NAME_LABEL]
                != target.name.as_str()
        {
            continue;
        }
        let Some(port) = slice["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP")
            .find_map(|p| p["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
        else {
            continue;
        };
        for e in slice["endpoints"].as_array().into_iter().flatten() {
            if e["conditions"]["ready"] == Value::Bool(false) {
                continue;
            }
            let (Some(ip), Some(name)) = (
                e["addresses"].get(0).and_then(Value::as_str),
                e["targetRef"]["name"].as_str(),
            ) else {
                continue;
            };
            if !out.iter().any(|b| b.name == name) {
                out.push(Backend {
                    name: name.to_string(),
                    ip: ip.to_string(),
                    port,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The report as tables: the paths, the distribution beside the prediction, the problems.
fn table(report: &Report) -> String {
    let mut out = String::new();
    let mut rows = vec![["FROM", "TO", "POD", "IP", "ICMP", "TCP"].map(str::to_string)];
    for p in &report.paths {
        rows.push([
            p.from.clone(),
            p.to.clone(),
            p.pod.clone(),
            p.ip.clone(),
            p.icmp.short(),
            p.tcp.short(),
        ]);
    }
    out.push_str("Pod to pod:\n");
    if report.paths.is_empty() {
        out.push_str("  (no paths)\n");
    } else {
        out.push_str(&crate::commands::format_table(&rows));
    }
    out.push_str(&format!(
        "\nGlobal Service {} ({} requests from each cluster):\n",
        report.service, report.requests
    ));
    let mut rows =
        vec![["FROM", "ANSWERED BY", "PREDICTED (services)", "MATCH"].map(str::to_string)];
    for d in &report.distributions {
        let mut answered: Vec<String> = d
            .answered
            .iter()
            .map(|c| format!("{} {}", c.cluster, c.answers))
            .collect();
        if d.unknown > 0 {
            answered.push(format!("unknown {}", d.unknown));
        }
        if d.failed > 0 {
            answered.push(format!("failed {}", d.failed));
        }
        let predicted = match &d.predicted {
            None => "- (no Service here)".to_string(),
            Some(u) if u.is_empty() => "none".to_string(),
            Some(u) => u
                .iter()
                .map(|u| format!("{}:{}", u.cluster, u.backends))
                .collect::<Vec<_>>()
                .join(" "),
        };
        rows.push([
            d.cluster.clone(),
            if answered.is_empty() {
                "-".into()
            } else {
                answered.join(", ")
            },
            predicted,
            if d.matches { "yes" } else { "no" }.into(),
        ]);
    }
    out.push_str(&crate::commands::format_table(&rows));
    if report.problems.is_empty() {
        out.push_str("\nEvery path works and every cluster's answers match the prediction.\n");
    } else {
        out.push_str("\nProblems:\n");
        for p in &report.problems {
            out.push_str(&format!("  ✗ {p}\n"));
        }
    }
    out
}
