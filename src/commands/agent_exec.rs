//! Asking one pod of a cluster's Cilium for its own view: one Ready pod of the cilium DaemonSet
//! (or of the clustermesh-apiserver Deployment), chosen as `kubectl exec ds/cilium` /
//! `deploy/clustermesh-apiserver` would, and one command run in one of its containers. Used by
//! `troubleshoot --from agents` and `services --from-agents`.

use serde_json::Value;

use crate::live::ClusterClient;
use crate::live::pod_exec::ExecOutput;

/// What one command printed in one pod, or why it gave nothing.
#[derive(Debug)]
pub struct Ran {
    pub pod: String,
    pub output: Result<ExecOutput, String>,
}

/// The first Ready pod of `workload` (`what` names it in messages), or why there is none.
pub async fn one_ready_pod(
    client: &ClusterClient,
    workload: Option<&Value>,
    what: &str,
) -> Result<String, String> {
    let ns = &client.namespace;
    let Some(w) = workload else {
        return Err(format!("{what} is missing in namespace {ns}"));
    };
    match client.ready_pods_of(w, Some(1)).await {
        Ok(pods) => pods
            .into_iter()
            .next()
            .map(|p| p.name)
            .ok_or_else(|| format!("no Ready pod of {what} in namespace {ns}")),
        Err(e) => Err(format!(
            "cannot list the pods of {what}: {e:#} (needs `list` on pods in namespace {ns})"
        )),
    }
}

/// Runs `argv` in `pod`'s `container`; the error says why, with the RBAC needed when exec is
/// forbidden.
pub async fn run(client: &ClusterClient, pod: &str, container: &str, argv: &[String]) -> Ran {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let output = crate::live::pod_exec::exec(
        client.kube_client(),
        &client.namespace,
        pod,
        container,
        &args,
        &client.exec_limits(),
    )
    .await
    .map_err(|e| format!("`{}` in {pod}: {e}", argv.join(" ")));
    Ran {
        pod: pod.to_string(),
        output,
    }
}

/// The first non-empty line of `bytes`, at most 300 characters.
pub fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(300).collect())
}

/// Stdout as text when the command ran; a non-zero exit with nothing usable says why.
pub fn stdout_text(o: &ExecOutput) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `exited with N: <first stderr line>` for a failed command.
pub fn exit_note(o: &ExecOutput) -> String {
    match first_line(&o.stderr) {
        Some(l) => format!("exited with {}: {l}", o.exit_code),
        None => format!("exited with {}", o.exit_code),
    }
}
