//! kubeconfig `exec` credential plugins, run by kubectl-mesh itself: kube-rs would run them
//! synchronously, unbounded, and quote their stdout (the token) in its error. The caller bounds
//! the run with the request deadline; the process is killed when that future is dropped.

use anyhow::anyhow;
use serde_json::Value;

/// The most a credential plugin may print (an ExecCredential is a few KB).
const MAX_PLUGIN_OUTPUT: usize = 1 << 20;

/// What a credential plugin gave.
pub struct Credential {
    token: Option<String>,
    cert_and_key: Option<(String, String)>,
}

impl Credential {
    /// Puts the credential where kube-rs reads static credentials.
    pub fn apply(self, auth: &mut kube::config::AuthInfo) {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        if let Some(token) = self.token {
            auth.token = Some(secrecy::SecretString::from(token));
        }
        if let Some((cert, key)) = self.cert_and_key {
            auth.client_certificate = None;
            auth.client_key = None;
            auth.client_certificate_data = Some(b64.encode(cert));
            auth.client_key_data = Some(secrecy::SecretString::from(b64.encode(key)));
        }
    }
}

pub fn plugin_name(exec: &kube::config::ExecConfig) -> String {
    exec.command.clone().unwrap_or_else(|| "(none)".to_string())
}

/// Runs a kubeconfig `exec` credential plugin as client-go does (KUBERNETES_EXEC_INFO, the
/// configured env), non-interactively, its output capped. Its output is never shown: it holds
/// the credential, even when the plugin fails.
pub async fn run_plugin(
    exec: &kube::config::ExecConfig,
    context: &str,
) -> anyhow::Result<Credential> {
    use tokio::io::AsyncReadExt;
    let name = plugin_name(exec);
    let Some(command) = &exec.command else {
        anyhow::bail!("context {context}: the kubeconfig's exec credential plugin has no command");
    };
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(exec.args.iter().flatten());
    for env in exec.env.iter().flatten() {
        if let (Some(n), Some(v)) = (env.get("name"), env.get("value")) {
            cmd.env(n, v);
        }
    }
    for n in exec.drop_env.iter().flatten() {
        cmd.env_remove(n);
    }
    let mut spec = serde_json::json!({"interactive": false});
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or(Value::Null);
    }
    let info = serde_json::json!({
        "apiVersion": exec.api_version.as_deref().unwrap_or("client.authentication.k8s.io/v1"),
        "kind": "ExecCredential",
        "spec": spec,
    });
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        let hint = exec
            .install_hint
            .as_deref()
            .map(|h| format!("\n{}", h.trim()))
            .unwrap_or_default();
        anyhow!("context {context}: cannot run the credential plugin {name}: {e}{hint}")
    })?;
    let mut stdout = Vec::new();
    if let Some(out) = child.stdout.take() {
        out.take(MAX_PLUGIN_OUTPUT as u64 + 1)
            .read_to_end(&mut stdout)
            .await
            .map_err(|e| anyhow!("context {context}: credential plugin {name}: {e}"))?;
    }
    if stdout.len() > MAX_PLUGIN_OUTPUT {
        anyhow::bail!(
            "context {context}: the credential plugin {name} printed more than {} KiB (its output is not shown: it may hold secrets)",
            MAX_PLUGIN_OUTPUT >> 10
        );
    }
    let status = child
        .wait()
        .await
        .map_err(|e| anyhow!("context {context}: credential plugin {name}: {e}"))?;
    if !status.success() {
        anyhow::bail!(
            "context {context}: the credential plugin {name} failed ({status}); its output is not shown (it may hold secrets): run it yourself to see why"
        );
    }
    let credential: Value = serde_json::from_slice(&stdout).map_err(|_| {
        anyhow!(
            "context {context}: the credential plugin {name} did not print an ExecCredential as JSON (its output is not shown: it may hold secrets)"
        )
    })?;
    let status = &credential["status"];
    let text = |k: &str| {
        status[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let token = text("token");
    let cert_and_key = text("clientCertificateData").zip(text("clientKeyData"));
    if token.is_none() && cert_and_key.is_none() {
        anyhow::bail!(
            "context {context}: the credential plugin {name} printed an ExecCredential without status.token or status.clientCertificateData/clientKeyData"
        );
    }
    Ok(Credential {
        token,
        cert_and_key,
    })
}
