//! `kubectl mesh connectivity`: deploy the probe workload in every cluster, wait for it, send
//! the seed lab's packets (pod-to-pod ICMP and TCP, N requests to the global Service), compare
//! the answers with what `services` predicts, and always remove what it created (also on Ctrl-C)
//! unless `--keep`. The workload, the probes' command lines and the judgement are in
//! `crate::mesh::connectivity`; this is the sequencing and the I/O.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::services::{Seen, assess, read};
use super::{EXIT_PROBLEMS, HIDDEN, Reached, block_on, dry_run_yaml, load_mesh, reach_all};
use crate::cli::ConnectivityArgs;
use crate::live::pod_exec::{ExecError, ExecLimits, exec};
use crate::live::{ClusterClient, Kind, MAX_RESPONSE};
use crate::mesh::Mesh;
use crate::mesh::connectivity::probes::{self, Outcome};
use crate::mesh::connectivity::report::{self, Distribution, Path, Report};
use crate::mesh::connectivity::{
    self as conn, CLIENT, CLIENT_CONTAINER, ReadyPod, SERVER_PORT, Workload,
};
use crate::mesh::services::Use;
use crate::mesh::state::Live;

/// Exit code after Ctrl-C (128 + SIGINT), once the workload is cleaned up.
const EXIT_INTERRUPTED: u8 = 130;
/// How often readiness and the service distribution are polled.
const POLL: Duration = Duration::from_secs(2);

/// One reachable cluster.
struct Site<'a> {
    name: &'a str,
    client: &'a ClusterClient,
    live: &'a Live,
}

/// What this run created, per cluster (by index into the sites), in creation order: what
/// cleanup deletes, and nothing else.
#[derive(Default, Clone)]
struct Created(Arc<Mutex<Vec<Entry>>>);

/// (site, kind, namespace, name) of one created object.
type Entry = (usize, Kind, String, String);

impl Created {
    fn add(&self, site: usize, kind: Kind, ns: &str, name: &str) {
        if let Ok(mut v) = self.0.lock() {
            v.push((site, kind, ns.to_string(), name.to_string()));
        }
    }
    fn of(&self, site: usize) -> Vec<(Kind, String, String)> {
        self.0
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|(s, ..)| *s == site)
                    .map(|(_, k, ns, n)| (*k, ns.clone(), n.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
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
        if finished.is_some() {
            errln!(
                "kept the probe workload: remove it with `kubectl delete -n {ns} pod,deployment,service -l {}` in each cluster (and `kubectl delete namespace {ns}` where this run made it)",
                conn::selector(),
                ns = workload.namespace,
            );
        }
        Vec::new()
    } else {
        block_on(cleanup(&sites, &created))?
    };
    let Some(result) = finished else {
        errln!(
            "interrupted: the probe workload was removed{}",
            if left.is_empty() {
                ""
            } else {
                " except what is listed above"
            }
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let mut report = result?;
    report.problems.splice(0..0, unreachable);
    report.problems.extend(left);
    report.ok = report.problems.is_empty();
    match args.output {
        Some(format) => super::print_structured(format, &serde_json::to_value(&report)?)?,
        None => out!("{}", table(&report)),
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    })
}

/// The objects `site` gets: the Namespace only when it is missing; refused when an object of
/// the workload's names exists there without the workload's labels (it is someone else's).
async fn plan(site: &Site<'_>, workload: &Workload) -> anyhow::Result<Vec<Value>> {
    let ns = &workload.namespace;
    let has_ns = site
        .client
        .get_object(Kind::Namespace, ns, ns)
        .await?
        .is_some();
    let objects = conn::objects(workload, site.name, !has_ns);
    if has_ns {
        for o in &objects {
            let kind = kind_of(o);
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            if let Some(existing) = site.client.get_object(kind, ns, name).await?
                && !conn::is_ours(&existing)
            {
                bail!(
                    "{}: {kind:?} {ns}/{name} exists and was not made by kubectl mesh connectivity (it lacks the labels {}): pass another --namespace",
                    site.name,
                    conn::selector()
                );
            }
        }
    }
    Ok(objects)
}

fn kind_of(o: &Value) -> Kind {
    match o["kind"].as_str() {
        Some("Namespace") => Kind::Namespace,
        Some("Service") => Kind::Service,
        Some("Deployment") => Kind::Deployment,
        _ => Kind::Pod,
    }
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

/// Waits until every cluster's client Pod is Ready (and, with a server, a server pod too);
/// returns per site the client pod and the ready server pods.
async fn wait_ready(
    sites: &[Site<'_>],
    ns: &str,
    server: bool,
    timeout: Duration,
    progress: &Progress,
) -> anyhow::Result<Vec<(ReadyPod, Vec<ReadyPod>)>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let states = futures::future::try_join_all(sites.iter().map(|s| async move {
            let client = s.client.get_object(Kind::Pod, ns, CLIENT).await?;
            let servers = if server {
                s.client
                    .list_in(Kind::Pod, Some(ns), Some(&conn::server_selector()))
                    .await?
            } else {
                Vec::new()
            };
            anyhow::Ok((client, servers))
        }))
        .await?;
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for (i, (s, (client, servers))) in sites.iter().zip(&states).enumerate() {
            let client_ready = client.as_ref().and_then(conn::ready_pod);
            let mut server_ready: Vec<ReadyPod> =
                servers.iter().filter_map(conn::ready_pod).collect();
            server_ready.sort_by(|a, b| a.name.cmp(&b.name));
            let mut why = Vec::new();
            if client_ready.is_none() {
                why.push(format!(
                    "client Pod: {}",
                    client
                        .as_ref()
                        .map_or("not created".into(), conn::not_ready_reason)
                ));
            }
            if server && server_ready.is_empty() {
                why.push(format!(
                    "server: no Ready pod ({})",
                    servers
                        .first()
                        .map_or("none created yet".into(), conn::not_ready_reason)
                ));
            }
            if why.is_empty() {
                progress.say(i, "ready");
            } else {
                progress.say(i, &format!("waiting: {}", why.join("; ")));
                waiting.push(format!("{}: {}", s.name, why.join("; ")));
            }
            if let Some(c) = client_ready {
                ready.push((c, server_ready));
            }
        }
        if waiting.is_empty() {
            return Ok(ready);
        }
        if tokio::time::Instant::now() + POLL > deadline {
            bail!(
                "the probe workload was not ready within {}: {} (an air-gapped cluster needs --client-image/--server-image from a registry it can pull from)",
                crate::live::probe::show(timeout),
                waiting.join("; ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Deletes what this run created, newest first, per cluster. Returns what could not be
/// deleted, as problems (and says each on stderr with the command that removes it).
async fn cleanup(sites: &[Site<'_>], created: &Created) -> Vec<String> {
    let results = futures::future::join_all(sites.iter().enumerate().map(|(i, s)| async move {
        let mut left = Vec::new();
        let mut deleted = Vec::new();
        for (kind, ns, name) in created.of(i).into_iter().rev() {
            match s.client.delete(kind, &ns, &name).await {
                Ok(_) => deleted.push(format!("{kind:?} {name}")),
                Err(e) => left.push(format!(
                    "{}: could not delete {kind:?} {ns}/{name}: {e:#} (kubectl --context {} delete {} -n {ns} {name})",
                    s.name,
                    s.client.context,
                    format!("{kind:?}").to_lowercase()
                )),
            }
        }
        if !deleted.is_empty() {
            errln!("{}: deleted {}", s.name, deleted.join(", "));
        }
        left
    }))
    .await;
    let left: Vec<String> = results.into_iter().flatten().collect();
    for l in &left {
        errln!("{l}");
    }
    left
}

/// One progress line per cluster on stderr (drawn only on a terminal).
struct Progress {
    bars: Vec<indicatif::ProgressBar>,
    _multi: indicatif::MultiProgress,
}

impl Progress {
    fn new(sites: &[Site<'_>]) -> Progress {
        use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{spinner} {prefix:<12} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = sites
            .iter()
            .map(|s| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(s.name.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .collect();
        Progress {
            bars,
            _multi: multi,
        }
    }

    fn say(&self, i: usize, message: &str) {
        if let Some(b) = self.bars.get(i) {
            b.set_message(message.to_string());
        }
    }

    fn finish(&self) {
        for b in &self.bars {
            b.finish_and_clear();
        }
    }
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
        out.push_str(&super::format_table(&rows));
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
    out.push_str(&super::format_table(&rows));
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
