//! The probe workload's life: what each cluster gets (refusing names someone else uses),
//! creating it, waiting until it is ready with progress, and deleting exactly what this run
//! created.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
use serde_json::Value;

use super::{POLL, Site};
use crate::live::Kind;
use crate::mesh::connectivity::{self as conn, CLIENT, ReadyPod, Workload};

/// What this run created, per cluster (by index into the sites), in creation order: what
/// cleanup deletes, and nothing else.
#[derive(Default, Clone)]
pub struct Created(Arc<Mutex<Vec<Entry>>>);

/// (site, kind, namespace, name) of one created object.
type Entry = (usize, Kind, String, String);

impl Created {
    pub fn add(&self, site: usize, kind: Kind, ns: &str, name: &str) {
        if let Ok(mut v) = self.0.lock() {
            v.push((site, kind, ns.to_string(), name.to_string()));
        }
    }
    pub fn of(&self, site: usize) -> Vec<(Kind, String, String)> {
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

/// The objects `site` gets: the Namespace only when it is missing; refused when an object of
/// the workload's names exists there without the workload's labels (it is someone else's).
pub async fn plan(site: &Site<'_>, workload: &Workload) -> anyhow::Result<Vec<Value>> {
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

pub fn kind_of(o: &Value) -> Kind {
    match o["kind"].as_str() {
        Some("Namespace") => Kind::Namespace,
        Some("Service") => Kind::Service,
        Some("Deployment") => Kind::Deployment,
        _ => Kind::Pod,
    }
}

/// Waits until every cluster's client Pod is Ready (and, with a server, a server pod too);
/// returns per site the client pod and the ready server pods.
pub async fn wait_ready(
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
pub async fn cleanup(sites: &[Site<'_>], created: &Created) -> Vec<String> {
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
pub struct Progress {
    bars: Vec<indicatif::ProgressBar>,
    _multi: indicatif::MultiProgress,
}

impl Progress {
    pub fn new(sites: &[Site<'_>]) -> Progress {
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

    pub fn say(&self, i: usize, message: &str) {
        if let Some(b) = self.bars.get(i) {
            b.set_message(message.to_string());
        }
    }

    pub fn finish(&self) {
        for b in &self.bars {
            b.finish_and_clear();
        }
    }
}
