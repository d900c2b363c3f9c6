//! Reading every cluster for `status`, the agents included, as one pipeline: per cluster one
//! task (a tokio task, so the two cores share the parsing) that makes the client, reads the
//! objects and the pods of Cilium's workloads at once, then runs `cilium-dbg status -o json` in
//! every Ready agent pod (or a sample), and with KVStoreMesh `clustermesh-apiserver
//! kvstoremesh-dbg status -o json` in the clustermesh-apiserver, each output parsed as soon as
//! it is in. At most `--parallel` clusters and `--parallel` execs at once; judged by
//! `mesh::agents`.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::live::pod_exec::{ExecError, ExecOutput, PodRef};
use crate::live::{ClusterClient, Kind, KubeOptions, Reads};
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

/// The label key and values of the Cilium chart's agent and clustermesh-apiserver pods
/// (cilium/templates/cilium-agent/daemonset.yaml and clustermesh-apiserver/deployment.yaml:
/// `selector.matchLabels: {k8s-app: cilium}` / `{k8s-app: clustermesh-apiserver}`). Their pods
/// are listed with the objects, in the same round trip, before the workloads' own selectors are
/// known; a workload whose selector does not pin this key to one of these values gets its own
/// list once it is read.
const POD_LABEL: &str = "k8s-app";
const POD_LABEL_VALUES: [&str; 2] = ["cilium", "clustermesh-apiserver"];

/// The most connections one cluster's reads hold at once (its eleven reads, and room for the
/// execs), for keeping within the open-files limit.
const CONNECTIONS_PER_CLUSTER: u64 = 16;

/// One cluster of the mesh as `status` reads it.
pub struct ClusterRead {
    pub reached: Reached,
    /// The agents' view (`None` when the cluster was not reached).
    pub view: Option<AgentsView>,
    /// What `connect` would change in the cluster's peer objects (`kind name, …`), when it
    /// would change anything; computed in the cluster's own task.
    pub pending: Option<String>,
}

/// Which pods of one cluster to ask.
struct Targets {
    agents: Result<Vec<PodRef>, String>,
    kvstoremesh: Option<Result<PodRef, String>>,
}

/// Every cluster of `mesh`, in the mesh file's order: one task per cluster, at most
/// `opts.parallel` at once, execs bounded by `opts.parallel` in the whole process.
pub async fn read_all(
    mesh: &Mesh,
    opts: &KubeOptions,
    sample: Option<usize>,
) -> anyhow::Result<Vec<ClusterRead>> {
    let kubeconfig = Arc::new(crate::live::load_kubeconfig(opts)?);
    // A cluster being read holds up to a dozen connections at once (one per object read, one
    // per exec): keep the clusters at once within the open-files limit.
    let files = crate::live::raise_open_files_limit();
    let clusters_at_once = opts
        .parallel
        .min((files.saturating_sub(64) / CONNECTIONS_PER_CLUSTER) as usize)
        .max(1);
    let shared = Arc::new((mesh.clone(), opts.clone()));
    let execs = Arc::new(Semaphore::new(opts.parallel.max(1)));
    let indices: Vec<usize> = (0..mesh.clusters.len()).collect();
    Ok(crate::live::for_each(indices, clusters_at_once, |i| {
        let (kubeconfig, shared, execs) = (kubeconfig.clone(), shared.clone(), execs.clone());
        async move {
            let task = tokio::spawn(async move {
                let (mesh, opts) = &*shared;
                read_one(mesh, i, &kubeconfig, opts, sample, &execs).await
            });
            task.await.unwrap_or_else(|e| ClusterRead {
                reached: Reached {
                    client: None,
                    live: Err(anyhow::anyhow!(
                        "cluster {}: reading it stopped: {e}",
                        mesh.clusters[i].name
                    )),
                },
                view: None,
                pending: None,
            })
        }
    })
    .await)
}

/// One cluster, whole: client, objects and pods, agents.
async fn read_one(
    mesh: &Mesh,
    i: usize,
    kubeconfig: &kube::config::Kubeconfig,
    opts: &KubeOptions,
    sample: Option<usize>,
    execs: &Semaphore,
) -> ClusterRead {
    let c = &mesh.clusters[i];
    let client = match ClusterClient::new(kubeconfig, &c.context, mesh.namespace(), opts).await {
        Ok(client) => client,
        Err(e) => {
            return ClusterRead {
                reached: Reached {
                    client: None,
                    live: Err(e),
                },
                view: None,
                pending: None,
            };
        }
    };
    let selector = format!("{POD_LABEL} in ({})", POD_LABEL_VALUES.join(","));
    // The pods after the objects, not beside them: a cluster that floods every answer is then
    // read by at most the objects' requests at once, which hit the 16 MiB cap of one answer
    // before they reach the cap of all answers in flight (tests/hostile.rs).
    let live = client.read_live_with(Reads::STATUS).await;
    let pods = match &live {
        Ok(_) => Some(
            client
                .list_in(Kind::Pod, Some(&client.namespace), Some(&selector))
                .await,
        ),
        Err(_) => None,
    };
    let (view, pending) = match (&live, pods) {
        (Ok(l), Some(pods)) => {
            // The quick comparison first; the transform itself (copies of the objects) only
            // to name what differs.
            let pending = if super::peering::unchanged(mesh, c, l) {
                None
            } else {
                super::peering::changes(mesh, c, l)
                    .ok()
                    .filter(|p| !p.is_empty())
                    .map(|p| super::object_names(&p))
            };
            (
                Some(view(mesh, i, &client, l, pods, sample, execs).await),
                pending,
            )
        }
        _ => (None, None),
    };
    ClusterRead {
        reached: Reached {
            client: Some(client),
            live,
        },
        view,
        pending,
    }
}

/// What one cluster's agents (and KVStoreMesh) say.
async fn view(
    mesh: &Mesh,
    i: usize,
    client: &ClusterClient,
    live: &Live,
    pods: anyhow::Result<Vec<Value>>,
    sample: Option<usize>,
    execs: &Semaphore,
) -> AgentsView {
    let c = &mesh.clusters[i];
    let t = targets(client, live, pods, sample).await;
    let agent_pods = match t.agents {
        Ok(pods) => pods,
        Err(why) => {
            return AgentsView {
                unreadable: Some(why),
                ..AgentsView::default()
            };
        }
    };
    let agent_runs = futures::future::join_all(agent_pods.iter().map(|pod| {
        ask(
            client,
            pod,
            AGENT_CONTAINER,
            &AGENT_STATUS,
            "cilium-dbg status",
            agents::parse_agent_status,
            execs,
        )
    }));
    let kvstoremesh_run = async {
        match &t.kvstoremesh {
            Some(Ok(pod)) => Some(
                ask(
                    client,
                    pod,
                    KVSTOREMESH_CONTAINER,
                    &KVSTOREMESH_STATUS,
                    "kvstoremesh-dbg status",
                    agents::parse_kvstoremesh_status,
                    execs,
                )
                .await,
            ),
            _ => None,
        }
    };
    let (agent_runs, kvstoremesh_run) = futures::join!(agent_runs, kvstoremesh_run);
    if let Some(Err(e)) = agent_runs.iter().find(|r| r.is_err()) {
        return AgentsView {
            asked: agent_pods.len(),
            unreadable: Some(e.to_string()),
            ..AgentsView::default()
        };
    }
    let expected: Vec<(String, Option<u32>)> = mesh
        .peers_of(&c.name)
        .map(|p| (p.name.clone(), Some(p.id)))
        .collect();
    let agents: Vec<agents::VantageView> = agent_pods
        .iter()
        .zip(agent_runs)
        .map(|(pod, run)| {
            agents::judge_vantage(
                &pod.name,
                pod.node.as_deref(),
                run.unwrap_or_else(|e| Err(e.to_string())),
                &expected,
            )
        })
        .collect();
    let kvstoremesh = match (t.kvstoremesh, kvstoremesh_run) {
        (None, _) => None,
        (Some(Err(why)), _) => Some(agents::judge_vantage(
            "clustermesh-apiserver",
            None,
            Err(why),
            &expected,
        )),
        (Some(Ok(pod)), run) => run.map(|run| {
            agents::judge_vantage(
                &pod.name,
                pod.node.as_deref(),
                run.unwrap_or_else(|e| Err(format!("`kvstoremesh-dbg status`: {e}"))),
                &expected,
            )
        }),
    };
    AgentsView {
        asked: agents.len(),
        all_peers_ready: agents.iter().filter(|a| a.all_ready()).count(),
        unreadable: None,
        agents,
        kvstoremesh,
    }
}

/// Runs `argv` in `pod` (waiting for one of the process's exec slots) and parses what it
/// printed as soon as it is in. `Err` only when exec is forbidden (the whole cluster is then
/// unreadable); every other failure is the pod's report of why.
#[allow(clippy::too_many_arguments)]
async fn ask(
    client: &ClusterClient,
    pod: &PodRef,
    container: &str,
    argv: &[&str],
    what: &str,
    parse: fn(&[u8]) -> Result<Vec<RemoteCluster>, agents::ParseError>,
    execs: &Semaphore,
) -> Result<Result<Vec<RemoteCluster>, String>, ExecError> {
    let output = {
        let _slot = execs.acquire().await;
        crate::live::pod_exec::exec(
            client.kube_client(),
            &client.namespace,
            &pod.name,
            container,
            argv,
            &client.exec_limits(),
        )
        .await
    };
    match output {
        Err(e) if e.is_forbidden() => Err(e),
        output => Ok(reported(&output, what, parse)),
    }
}

/// The pods to ask in one cluster: from `pods` (the chart's pods, listed with the objects)
/// where they cover the workload's selector, else from a list of its own.
async fn targets(
    client: &ClusterClient,
    live: &Live,
    pods: anyhow::Result<Vec<Value>>,
    sample: Option<usize>,
) -> Targets {
    let pods = pods.as_ref().map(Vec::as_slice);
    let agents = match &live.agents {
        None => Err(format!(
            "DaemonSet cilium is missing in namespace {}",
            client.namespace
        )),
        Some(ds) => match ready_pods(client, ds, pods, sample).await {
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
        (Some(deploy), true) => Some(match ready_pods(client, deploy, pods, Some(1)).await {
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

/// The Ready pods of `workload`: picked from `listed` when its selector pins [`POD_LABEL`] to
/// one of [`POD_LABEL_VALUES`] (every pod it selects is then in that list), else listed by its
/// own selector.
async fn ready_pods(
    client: &ClusterClient,
    workload: &Value,
    listed: Result<&[Value], &anyhow::Error>,
    sample: Option<usize>,
) -> anyhow::Result<Vec<PodRef>> {
    let labels = workload["spec"]["selector"]["matchLabels"].as_object();
    let covered = labels
        .and_then(|l| l.get(POD_LABEL))
        .and_then(Value::as_str)
        .is_some_and(|v| POD_LABEL_VALUES.contains(&v));
    match (labels, listed) {
        (Some(labels), Ok(listed)) if covered => {
            let selected: Vec<Value> = listed
                .iter()
                .filter(|p| crate::live::pod_exec::matches_labels(p, labels))
                .cloned()
                .collect();
            Ok(crate::live::pod_exec::pick_ready(&selected, sample))
        }
        (_, Err(e)) if covered => Err(anyhow::anyhow!("{e:#}")),
        _ => client.ready_pods_of(workload, sample).await,
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
