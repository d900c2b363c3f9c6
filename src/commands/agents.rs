//! Asking the agents: for every reachable cluster, `cilium-dbg status -o json` in every Ready
//! agent pod (or a sample), and with KVStoreMesh `clustermesh-apiserver kvstoremesh-dbg status
//! -o json` in the clustermesh-apiserver, at most `--parallel` execs at once; judged by `mesh::agents`.

use crate::live::pod_exec::{ExecError, ExecOutput, PodRef};
use crate::live::{ClusterClient, KubeOptions};
use crate::mesh::Mesh;
use crate::mesh::agents::{self, AgentsView, RemoteCluster};
use crate::mesh::state::Live;

use super::Reached;

/// The agents' container in the cilium DaemonSet's pods.
pub const AGENT_CONTAINER: &str = "cilium-agent";
/// KVStoreMesh's container in the clustermesh-apiserver's pods.
pub const KVSTOREMESH_CONTAINER: &str = "kvstoremesh";
/// What cilium-cli's `clustermesh status` runs in each agent (cilium-cli k8s/client.go
/// `CiliumStatus`).
pub const AGENT_STATUS: [&str; 4] = ["cilium-dbg", "status", "-o", "json"];
/// What it runs in KVStoreMesh: the clustermesh-apiserver binary's `kvstoremesh-dbg`
/// subcommand (cilium-cli: `defaults.ClusterMeshBinaryName` = /usr/bin/clustermesh-apiserver,
/// run with `kvstoremesh-dbg status -o json` in container `kvstoremesh`, as its sysdump and
/// `clustermesh status` do).
pub const KVSTOREMESH_STATUS: [&str; 5] = [
    "/usr/bin/clustermesh-apiserver",
    "kvstoremesh-dbg",
    "status",
    "-o",
    "json",
];

/// Which pods of one cluster to ask.
struct Targets {
    agents: Result<Vec<PodRef>, String>,
    kvstoremesh: Option<Result<PodRef, String>>,
}

/// One exec to run.
struct Job<'a> {
    cluster: usize,
    client: &'a ClusterClient,
    pod: PodRef,
    kvstoremesh: bool,
}

/// The agents' view of every cluster of `mesh` (`None` where the cluster was not reached).
pub async fn views(
    mesh: &Mesh,
    reached: &[Reached],
    opts: &KubeOptions,
    sample: Option<usize>,
) -> Vec<Option<AgentsView>> {
    let reachable: Vec<(usize, &ClusterClient, &Live)> = reached
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.client.as_ref()?, r.live.as_ref().ok()?)))
        .collect();
    let targets: Vec<Targets> = crate::live::for_each(
        reachable.clone(),
        opts.parallel,
        |(_, client, live)| async move { targets(client, live, sample).await },
    )
    .await;
    let mut jobs = Vec::new();
    for ((i, client, _), t) in reachable.iter().zip(&targets) {
        for pod in t.agents.iter().flatten() {
            jobs.push(Job {
                cluster: *i,
                client,
                pod: pod.clone(),
                kvstoremesh: false,
            });
        }
        if let Some(Ok(pod)) = &t.kvstoremesh {
            jobs.push(Job {
                cluster: *i,
                client,
                pod: pod.clone(),
                kvstoremesh: true,
            });
        }
    }
    let keys: Vec<(usize, String, bool)> = jobs
        .iter()
        .map(|j| (j.cluster, j.pod.name.clone(), j.kvstoremesh))
        .collect();
    let outputs: Vec<Result<ExecOutput, ExecError>> =
        crate::live::for_each(jobs, opts.parallel, |j: Job| async move {
            let (container, argv): (&str, &[&str]) = if j.kvstoremesh {
                (KVSTOREMESH_CONTAINER, &KVSTOREMESH_STATUS)
            } else {
                (AGENT_CONTAINER, &AGENT_STATUS)
            };
            crate::live::pod_exec::exec(
                j.client.kube_client(),
                &j.client.namespace,
                &j.pod.name,
                container,
                argv,
                &j.client.exec_limits(),
            )
            .await
        })
        .await;

    let mut out: Vec<Option<AgentsView>> = vec![None; reached.len()];
    for ((i, _, _), t) in reachable.iter().zip(targets) {
        let c = &mesh.clusters[*i];
        let expected: Vec<(String, Option<u32>)> = mesh
            .peers_of(&c.name)
            .map(|p| (p.name.clone(), Some(p.id)))
            .collect();
        let mine = |kv: bool| {
            keys.iter()
                .zip(&outputs)
                .filter(move |((ci, _, k), _)| ci == i && *k == kv)
                .map(|((_, pod, _), o)| (pod.as_str(), o))
        };
        let agent_pods = match t.agents {
            Ok(pods) => pods,
            Err(why) => {
                out[*i] = Some(AgentsView {
                    unreadable: Some(why),
                    ..AgentsView::default()
                });
                continue;
            }
        };
        if let Some((_, Err(e))) =
            mine(false).find(|(_, o)| o.as_ref().is_err_and(ExecError::is_forbidden))
        {
            out[*i] = Some(AgentsView {
                asked: agent_pods.len(),
                unreadable: Some(e.to_string()),
                ..AgentsView::default()
            });
            continue;
        }
        let agents: Vec<agents::VantageView> = agent_pods
            .iter()
            .zip(mine(false))
            .map(|(pod, (_, o))| {
                agents::judge_vantage(
                    &pod.name,
                    pod.node.as_deref(),
                    reported(o, "cilium-dbg status", agents::parse_agent_status),
                    &expected,
                )
            })
            .collect();
        let kvstoremesh = match t.kvstoremesh {
            None => None,
            Some(Err(why)) => Some(agents::judge_vantage(
                "clustermesh-apiserver",
                None,
                Err(why),
                &expected,
            )),
            Some(Ok(pod)) => mine(true).next().map(|(_, o)| {
                agents::judge_vantage(
                    &pod.name,
                    pod.node.as_deref(),
                    reported(
                        o,
                        "kvstoremesh-dbg status",
                        agents::parse_kvstoremesh_status,
                    ),
                    &expected,
                )
            }),
        };
        out[*i] = Some(AgentsView {
            asked: agents.len(),
            all_peers_ready: agents.iter().filter(|a| a.all_ready()).count(),
            unreadable: None,
            agents,
            kvstoremesh,
        });
    }
    out
}

/// The pods to ask in one cluster.
async fn targets(client: &ClusterClient, live: &Live, sample: Option<usize>) -> Targets {
    let agents = match &live.agents {
        None => Err(format!(
            "DaemonSet cilium is missing in namespace {}",
            client.namespace
        )),
        Some(ds) => match client.ready_pods_of(ds, sample).await {
            Ok(pods) if pods.is_empty() => Err(format!(
                "no Ready pod of DaemonSet cilium in namespace {}",
                client.namespace
            )),
            Ok(pods) => Ok(pods),
            Err(e) => Err(format!(
                "cannot list the agent pods: {e:#} (needs `list` on pods in namespace {})",
                client.namespace
            )),
        },
    };
    let kvstoremesh = match (&live.apiserver, live.kvstoremesh()) {
        (Some(deploy), true) => Some(match client.ready_pods_of(deploy, Some(1)).await {
            Ok(pods) => pods.into_iter().next().ok_or_else(|| {
                format!(
                    "no Ready pod of Deployment clustermesh-apiserver in namespace {}",
                    client.namespace
                )
            }),
            Err(e) => Err(format!("cannot list the clustermesh-apiserver pods: {e:#}")),
        }),
        _ => None,
    };
    Targets {
        agents,
        kvstoremesh,
    }
}

/// The remote clusters a command printed, or why there are none. A non-zero exit with a
/// readable report is the report (`cilium-dbg status` exits non-zero when the agent itself is
/// unhealthy, after printing it).
fn reported(
    output: &Result<ExecOutput, ExecError>,
    what: &str,
    parse: fn(&[u8]) -> Result<Vec<RemoteCluster>, agents::ParseError>,
) -> Result<Vec<RemoteCluster>, String> {
    let o = output.as_ref().map_err(|e| format!("`{what}`: {e}"))?;
    match parse(&o.stdout) {
        Ok(list) => Ok(list),
        Err(e) if o.exit_code != 0 => Err(format!(
            "`{what}` exited with {}: {}",
            o.exit_code,
            first_line(&o.stderr).unwrap_or_else(|| e.to_string())
        )),
        Err(e) => Err(format!("`{what}` printed no status report: {e}")),
    }
}

fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(300).collect())
}
