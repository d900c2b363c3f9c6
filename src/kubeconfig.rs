//! The little of kubeconfig that `render` needs: which context is current. Reading a file is all
//! it does; no client is built.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

#[derive(Deserialize)]
struct KubeconfigHead {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
}

/// The kubeconfig files kubectl would read: `$KUBECONFIG` (a path list) or `~/.kube/config`.
pub fn files(kubeconfig: Option<&str>) -> Vec<PathBuf> {
    match kubeconfig.filter(|s| !s.is_empty()) {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".kube/config"))
            .into_iter()
            .collect(),
    }
}

/// The current context, as kubectl merges files: the first file that sets it wins.
pub fn current_context(kubeconfig: Option<&str>) -> anyhow::Result<Option<String>> {
    for path in files(kubeconfig) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()));
            }
        };
        let head: KubeconfigHead = serde_saphyr::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}", crate::mesh::names::parse_error(&e)))
            .with_context(|| format!("kubeconfig {} is not valid YAML", path.display()))?;
        if let Some(c) = head.current_context.filter(|c| !c.is_empty()) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}
