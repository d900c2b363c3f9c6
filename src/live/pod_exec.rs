//! Running a command in a pod's container over the Kubernetes exec subresource (WebSocket,
//! `v5.channel.k8s.io`/`v4.channel.k8s.io` as kube-rs negotiates), like `kubectl exec`: the
//! agents' own view of the mesh (`cilium-dbg status -o json`, `kvstoremesh-dbg status -o json`).
//!
//! Not to be confused with `exec.rs`, the kubeconfig credential-plugin runner.
//!
//! Every exec is bounded as a whole (connect, run, read) by the request deadline, and its output
//! by the cap every other read of `live/` has ([`super::MAX_RESPONSE`], and the process-wide
//! budget of answers being read at once).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{ClusterClient, Kind, MAX_RESPONSE, Reserved};

/// What the command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// 0 on success; the process's exit code otherwise (from the `NonZeroExitCode` Status).
    pub exit_code: i32,
}

/// Bounds of one exec.
#[derive(Debug, Clone, Copy)]
pub struct ExecLimits {
    /// The whole exec (connect, run, read); `None` waits forever (`--request-timeout 0`).
    pub deadline: Option<Duration>,
    /// The most stdout and stderr may hold, each.
    pub max_output: usize,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            deadline: Some(Duration::from_secs(30)),
            max_output: MAX_RESPONSE,
        }
    }
}

/// Why an exec gave no output.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// 403: the user may not `create` `pods/exec` in the namespace.
    #[error(
        "{message} (403): grant `create` on `pods/exec` in namespace {namespace} (e.g. `kubectl create role mesh-exec -n {namespace} --verb=create --resource=pods/exec`)"
    )]
    Forbidden { namespace: String, message: String },
    /// The pod (or the container) is gone, or the request was refused otherwise.
    #[error("{message} ({code})")]
    Refused { code: u16, message: String },
    /// The command did not start or was cut off (a Status failure without an exit code: the
    /// binary is missing from the image, the container is not running, …).
    #[error("{0}")]
    Failed(String),
    #[error("did not finish within {}", super::probe::show(*.0))]
    Timeout(Duration),
    #[error("printed more than {} MiB on {stream}", .cap >> 20)]
    TooLarge { stream: &'static str, cap: usize },
    #[error("{0}")]
    Transport(String),
}

impl ExecError {
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ExecError::Forbidden { .. })
    }
}

/// Runs `argv` in `pod`'s `container` and returns its output, stderr and exit code. A non-zero
/// exit is an `Ok` with that code: the caller decides what it means.
pub async fn exec(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    argv: &[&str],
    limits: &ExecLimits,
) -> Result<ExecOutput, ExecError> {
    super::check_name(namespace)
        .and_then(|()| super::check_name(pod))
        .map_err(|e| ExecError::Failed(e.to_string()))?;
    let work = run(client, namespace, pod, container, argv, limits.max_output);
    match limits.deadline {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(ExecError::Timeout(limit))),
        None => work.await,
    }
}

async fn run(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    argv: &[&str],
    cap: usize,
) -> Result<ExecOutput, ExecError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    params.max_stdout_buf_size = Some(64 << 10);
    params.max_stderr_buf_size = Some(64 << 10);
    let mut process = pods
        .exec(pod, argv.iter().copied(), &params)
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 403 => ExecError::Forbidden {
                namespace: namespace.to_string(),
                message: s.message,
            },
            kube::Error::Api(s) => ExecError::Refused {
                code: s.code,
                message: s.message,
            },
            other => ExecError::Transport(super::error_chain(&other)),
        })?;
    let status = process
        .take_status()
        .ok_or_else(|| ExecError::Transport("no status channel".into()))?;
    let stdout = process.stdout();
    let stderr = process.stderr();
    // Both streams at once (the relay blocks on a full pipe of the one not read), and the
    // first error ends both: a stream past its cap is not read further, so the other would
    // never end.
    let (stdout, stderr) = tokio::try_join!(
        read_capped(stdout, cap, "stdout"),
        read_capped(stderr, cap, "stderr"),
    )?;
    // The relay ends both streams after the status came (or the connection closed).
    let exit_code = match status.await {
        // v4/v5 always end with a Status; a connection closed without one was cut off.
        None => {
            return Err(ExecError::Transport(
                "the connection closed before the command's exit status came".into(),
            ));
        }
        Some(s) => exit_code(&serde_json::to_value(&s).unwrap_or(Value::Null))?,
    };
    drop(process);
    Ok(ExecOutput {
        stdout,
        stderr,
        exit_code,
    })
}

/// The exit code a `metav1.Status` from the error channel carries: 0 for `Success`, the
/// `ExitCode` cause of a `NonZeroExitCode` failure (staging/src/k8s.io/apimachinery/pkg/util/
/// remotecommand/constants.go), an error for any other failure.
pub fn exit_code(status: &Value) -> Result<i32, ExecError> {
    if status["status"] == "Success" {
        return Ok(0);
    }
    if status["reason"] == "NonZeroExitCode" {
        let code = status["details"]["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["reason"] == "ExitCode")
            .and_then(|c| c["message"].as_str())
            .and_then(|m| m.trim().parse::<i32>().ok());
        if let Some(code) = code {
            return Ok(code);
        }
    }
    Err(ExecError::Failed(
        status["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("the command failed without saying why")
            .to_string(),
    ))
}

async fn read_capped<R: AsyncRead + Unpin>(
    reader: Option<R>,
    cap: usize,
    stream: &'static str,
) -> Result<Vec<u8>, ExecError> {
    let Some(mut reader) = reader else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut reserved = Reserved(0);
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| ExecError::Transport(format!("reading {stream}: {e}")))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > cap {
            return Err(ExecError::TooLarge { stream, cap });
        }
        reserved
            .grow(n)
            .map_err(|_| ExecError::TooLarge { stream, cap })?;
        out.extend_from_slice(&buf[..n]);
    }
}

/// A pod picked to run a command in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub node: Option<String>,
}

impl ClusterClient {
    /// The client and bounds for [`exec`] in this cluster.
    pub fn kube_client(&self) -> &kube::Client {
        &self.client
    }

    pub fn exec_limits(&self) -> ExecLimits {
        ExecLimits {
            deadline: self.limit,
            max_output: MAX_RESPONSE,
        }
    }

    /// The Ready pods of `workload` (a DaemonSet or Deployment read from this cluster), chosen
    /// as `kubectl exec ds/NAME` / `deploy/NAME` chooses: the pods its selector matches, sorted
    /// by name; `sample` keeps that many, spread evenly over the list.
    pub async fn ready_pods_of(
        &self,
        workload: &Value,
        sample: Option<usize>,
    ) -> anyhow::Result<Vec<PodRef>> {
        let selector = label_selector(workload).ok_or_else(|| {
            anyhow::anyhow!(
                "context {}: {} has no spec.selector.matchLabels",
                self.context,
                crate::render::describe(workload)
            )
        })?;
        let pods = self
            .list_in(Kind::Pod, Some(&self.namespace), Some(&selector))
            .await?;
        Ok(pick_ready(&pods, sample))
    }
}

/// `k=v,k2=v2` from a workload's `spec.selector.matchLabels`.
pub fn label_selector(workload: &Value) -> Option<String> {
    let labels = workload["spec"]["selector"]["matchLabels"].as_object()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Whether `pod` carries every label of `labels` (a workload's `spec.selector.matchLabels`)
/// with its value: the pods a list with [`label_selector`] returns.
pub fn matches_labels(pod: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let have = &pod["metadata"]["labels"];
    labels
        .iter()
        .all(|(k, v)| v.as_str().is_some_and(|v| have[k].as_str() == Some(v)))
}

/// Running pods whose Ready condition is True (not being deleted), sorted by name; `sample`
/// keeps that many, spread evenly.
pub fn pick_ready(pods: &[Value], sample: Option<usize>) -> Vec<PodRef> {
    let mut ready: Vec<PodRef> = pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .filter_map(|p| {
            Some(PodRef {
                name: p["metadata"]["name"].as_str()?.to_string(),
                node: p["spec"]["nodeName"].as_str().map(str::to_string),
            })
        })
        .collect();
    ready.sort_by(|a, b| a.name.cmp(&b.name));
    match sample {
        Some(n) if n > 0 && n < ready.len() => {
            let len = ready.len();
            (0..n).map(|i| ready[i * len / n].clone()).collect()
        }
        _ => ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exit_codes_come_from_the_status() {
        assert_eq!(exit_code(&json!({"status": "Success"})).unwrap(), 0);
        let failed = json!({"status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: error executing command [false], exit code 1",
            "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}});
        assert_eq!(exit_code(&failed).unwrap(), 1);
        let missing = json!({"status": "Failure", "reason": "InternalError",
            "message": "Internal error occurred: error executing command in container: exec: \"x\": executable file not found in $PATH"});
        let e = exit_code(&missing).unwrap_err();
        assert!(e.to_string().contains("executable file not found"), "{e}");
    }

    #[test]
    fn ready_pods_sorted_and_sampled() {
        let pod = |name: &str, ready: bool| {
            json!({"metadata": {"name": name}, "spec": {"nodeName": format!("n-{name}")},
                "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
        };
        let pods = vec![
            pod("cilium-d", true),
            pod("cilium-a", true),
            pod("cilium-c", false),
            pod("cilium-b", true),
            pod("cilium-e", true),
        ];
        let names = |v: Vec<PodRef>| v.into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(
            names(pick_ready(&pods, None)),
            ["cilium-a", "cilium-b", "cilium-d", "cilium-e"]
        );
        assert_eq!(names(pick_ready(&pods, Some(2))), ["cilium-a", "cilium-d"]);
        assert_eq!(names(pick_ready(&pods, Some(9))).len(), 4);
    }

    #[test]
    fn pods_match_every_label_of_the_selector() {
        let labels = json!({"k8s-app": "cilium", "app.kubernetes.io/part-of": "cilium"});
        let labels = labels.as_object().unwrap();
        let pod = |l: Value| json!({"metadata": {"name": "p", "labels": l}});
        assert!(matches_labels(
            &pod(json!({"k8s-app": "cilium", "app.kubernetes.io/part-of": "cilium", "x": "y"})),
            labels
        ));
        assert!(!matches_labels(&pod(json!({"k8s-app": "cilium"})), labels));
        assert!(!matches_labels(
            &pod(
                json!({"k8s-app": "clustermesh-apiserver", "app.kubernetes.io/part-of": "cilium"})
            ),
            labels
        ));
        assert!(!matches_labels(&json!({"metadata": {"name": "p"}}), labels));
    }

    #[test]
    fn selectors_from_match_labels() {
        let ds = json!({"spec": {"selector": {"matchLabels": {"k8s-app": "cilium"}}}});
        assert_eq!(label_selector(&ds).unwrap(), "k8s-app=cilium");
        assert!(label_selector(&json!({"spec": {}})).is_none());
    }
}
