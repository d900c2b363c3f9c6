//! The mesh's peers, as the chart renders `clustermesh.config.clusters`: the agents' (and with
//! KVStoreMesh, the apiserver's) etcd configs in Secrets, host aliases pinning each peer's
//! `<name>.mesh.cilium.io` to its IPs, and (1.19+) the remote users the apiserver admits.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::objects::{DocId, Objects};
use super::{RenderError, Target};
use crate::mesh::Cluster;

/// `clustermesh.config.domain`.
const DOMAIN: &str = "mesh.cilium.io";
const CLUSTERMESH_DIR: &str = "/var/lib/cilium/clustermesh";

/// How the chart version at hand lays the peers out.
struct Layout {
    /// 1.19+ builds a dict of clusters: everything comes sorted by name.
    sorted: bool,
    /// 1.20+ repeats the host aliases inside each etcd config (`cilium-host-aliases`).
    config_host_aliases: bool,
    /// 1.17+ names the agents' KVStoreMesh client files `local-…` (1.16: `common-…`).
    local_prefix: bool,
}

pub fn apply(
    objects: &mut Objects,
    ns: &str,
    config: DocId,
    version: Option<(u32, u32)>,
    t: &Target,
) -> Result<(), RenderError> {
    let mut peers: Vec<&Cluster> = t
        .mesh
        .peers_of(&t.cluster.name)
        .filter(|c| c.clustermesh.is_some())
        .collect();
    if peers.is_empty() {
        return Ok(());
    }
    let v = version.unwrap_or((1, 20));
    let layout = Layout {
        sorted: v >= (1, 19),
        config_host_aliases: v >= (1, 20),
        local_prefix: v >= (1, 17),
    };
    if layout.sorted {
        peers.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let apiserver = objects.find("Deployment", ns, "clustermesh-apiserver");
    let kvstoremesh = apiserver.is_some_and(|id| has_container(objects.get(id), "kvstoremesh"));

    let aliases: Vec<Value> = peers
        .iter()
        .flat_map(|p| {
            let host = host_of(&p.name);
            p.clustermesh
                .iter()
                .flat_map(|e| e.ips.clone())
                .map(move |ip| json!({"ip": ip, "hostnames": [host.clone()]}))
        })
        .collect();
    // Who dials the peers: the agents, or with KVStoreMesh the apiserver's kvstoremesh; and the
    // operator too when it syncs EndpointSlices or serves the MCS API (1.16+/1.17+), as the
    // chart's `clustermesh.enableEndpointSliceSynchronization` / `mcsapi.enabled` say in
    // cilium-config.
    let mut alias_targets = vec![if kvstoremesh {
        apiserver
    } else {
        objects.find("DaemonSet", ns, "cilium")
    }];
    let enabled = |key: &str| objects.get(config)["data"][key] == "true";
    if !kvstoremesh
        && (enabled("clustermesh-enable-endpoint-sync") || enabled("clustermesh-enable-mcs-api"))
    {
        alias_targets.push(objects.find("Deployment", ns, "cilium-operator"));
    }
    let mesh_hosts: Vec<String> = t.mesh.clusters.iter().map(|c| host_of(&c.name)).collect();
    for id in alias_targets.into_iter().flatten() {
        set_host_aliases(objects.get_mut(id), &mesh_hosts, aliases.clone());
    }

    let local = kvstoremesh.then(|| format!("https://clustermesh-apiserver.{ns}.svc:2379"));
    let agent_data: Vec<(String, String)> = peers
        .iter()
        .map(|p| (p.name.clone(), etcd_config(p, local.as_deref(), &layout)))
        .collect();
    upsert_secret(
        objects,
        ns,
        config,
        "cilium-clustermesh",
        "clustermesh-config/clustermesh-secret.yaml",
        agent_data,
    );
    if kvstoremesh {
        let data = peers
            .iter()
            .map(|p| (p.name.clone(), etcd_config(p, None, &layout)))
            .collect();
        upsert_secret(
            objects,
            ns,
            config,
            "cilium-kvstoremesh",
            "clustermesh-config/kvstoremesh-secret.yaml",
            data,
        );
    }
    if let Some(id) = apiserver
        && has_arg(objects.get(id), "--cluster-users-enabled")
    {
        // The cluster's own user (1.16 with KVStoreMesh) is the chart's, not a peer's: kept.
        let mesh_names: Vec<&str> = t
            .mesh
            .cluster_names()
            .into_iter()
            .filter(|n| *n != t.cluster.name)
            .collect();
        remote_users(objects, ns, id, &mesh_names, &peers)?;
    }
    Ok(())
}

/// Takes the clusters `gone` out of this cluster's peers: their keys in the etcd-config Secrets,
/// their host aliases and remote users. Everything else stays.
pub fn remove(objects: &mut Objects, ns: &str, gone: &[&str]) -> Result<(), RenderError> {
    let hosts: Vec<String> = gone.iter().map(|n| host_of(n)).collect();
    for kind in ["DaemonSet", "Deployment"] {
        for id in objects.of_kinds(&[kind], ns) {
            let has = objects.get(id)["spec"]["template"]["spec"]["hostAliases"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| names_one_of(a, &hosts)));
            if has {
                set_host_aliases(objects.get_mut(id), &hosts, Vec::new());
            }
        }
    }
    for name in ["cilium-clustermesh", "cilium-kvstoremesh"] {
        if let Some(id) = objects.find("Secret", ns, name) {
            let present = gone.iter().any(|g| !objects.get(id)["data"][*g].is_null());
            if present && let Some(data) = objects.get_mut(id)["data"].as_object_mut() {
                for g in gone {
                    data.remove(*g);
                }
            }
        }
    }
    if let Some(id) = objects.find("ConfigMap", ns, "clustermesh-remote-users") {
        let users = existing_users(objects, id)?;
        let kept: Vec<String> = users
            .iter()
            .filter(|(n, _)| !gone.iter().any(|g| *n == format!("remote-{g}")))
            .map(|(n, r)| user_entry(n, r))
            .collect();
        if kept.len() != users.len() {
            objects.get_mut(id)["data"]["users.yaml"] = Value::String(users_yaml(&kept));
        }
    }
    Ok(())
}

/// The name the agents dial for a peer, pinned to its IPs by a host alias.
fn host_of(cluster: &str) -> String {
    format!("{cluster}.{DOMAIN}")
}

fn names_one_of(alias: &Value, hosts: &[String]) -> bool {
    alias["hostnames"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|h| hosts.iter().any(|m| h == m.as_str()))
}

/// The etcd client config a component uses to reach `peer` (or, with `local`, the local
/// KVStoreMesh that caches it), as `clustermesh-config-generate-etcd-cfg` writes it.
fn etcd_config(peer: &Cluster, local: Option<&str>, layout: &Layout) -> String {
    let Some(ep) = &peer.clustermesh else {
        return String::new();
    };
    let endpoint = match local {
        Some(url) => url.to_string(),
        None if !ep.ips.is_empty() => format!("https://{}.{DOMAIN}:{}", peer.name, ep.port),
        None => format!(
            "https://{}:{}",
            ep.address.as_deref().unwrap_or_default(),
            ep.port
        ),
    };
    let prefix = if local.is_some() && layout.local_prefix {
        "local-"
    } else {
        "common-"
    };
    let mut text = format!(
        "endpoints:\n- {endpoint}\ntrusted-ca-file: {CLUSTERMESH_DIR}/{prefix}etcd-client-ca.crt\nkey-file: {CLUSTERMESH_DIR}/{prefix}etcd-client.key\ncert-file: {CLUSTERMESH_DIR}/{prefix}etcd-client.crt"
    );
    if layout.config_host_aliases && local.is_none() && !ep.ips.is_empty() {
        text.push_str(&format!(
            "\ncilium-host-aliases:\n- hostname: {}.{DOMAIN}\n  ips: ",
            peer.name
        ));
        for ip in &ep.ips {
            text.push_str(&format!("\n    - {ip}"));
        }
    }
    text
}

/// Replaces the aliases of the mesh's host names (`mesh_hosts`) with `mesh_aliases`; aliases of
/// other names (the user's, or peers the mesh file does not know) are kept first.
fn set_host_aliases(workload: &mut Value, mesh_hosts: &[String], mesh_aliases: Vec<Value>) {
    let Some(spec) = workload.pointer_mut("/spec/template/spec") else {
        return;
    };
    let mut aliases: Vec<Value> = spec["hostAliases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| !names_one_of(a, mesh_hosts))
        .cloned()
        .collect();
    aliases.extend(mesh_aliases);
    if aliases.is_empty() {
        if let Some(m) = spec.as_object_mut() {
            m.remove("hostAliases");
        }
    } else {
        spec["hostAliases"] = Value::Array(aliases);
    }
}

/// Writes one key per peer into Secret `name`, creating it as the chart would when absent;
/// keys of clusters that are not mesh peers stay.
fn upsert_secret(
    objects: &mut Objects,
    ns: &str,
    config: DocId,
    name: &str,
    template: &str,
    data: Vec<(String, String)>,
) {
    let id = objects.find("Secret", ns, name);
    let mut secret = match id {
        Some(id) => objects.get(id).clone(),
        None => {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": {}})
        }
    };
    if !secret["data"].is_object() {
        secret["data"] = json!({});
    }
    for (key, text) in data {
        secret["data"][key] = Value::String(B64.encode(text));
    }
    match id {
        Some(id) => *objects.get_mut(id) = secret,
        None => objects.add_after(config, template, secret),
    }
}

/// `clustermesh-remote-users` (1.19+ auth mode): the `remote-<peer>` users the apiserver admits.
/// Users of clusters outside the mesh file are kept.
fn remote_users(
    objects: &mut Objects,
    ns: &str,
    apiserver: DocId,
    mesh_names: &[&str],
    peers: &[&Cluster],
) -> Result<(), RenderError> {
    let existing = match objects.find("ConfigMap", ns, "clustermesh-remote-users") {
        Some(id) => existing_users(objects, id)?,
        None => Vec::new(),
    };
    let mesh_users: std::collections::HashSet<String> =
        mesh_names.iter().map(|m| format!("remote-{m}")).collect();
    let mut entries: Vec<String> = existing
        .iter()
        .filter(|(n, _)| !mesh_users.contains(n))
        .map(|(n, r)| user_entry(n, r))
        .collect();
    entries.extend(
        peers
            .iter()
            .map(|p| user_entry(&format!("remote-{}", p.name), "remote")),
    );
    let users = users_yaml(&entries);
    let mut labels = json!({"app.kubernetes.io/part-of": "cilium"});
    if let Some(chart) = objects.get(apiserver)["metadata"]["labels"]["helm.sh/chart"].as_str() {
        labels["helm.sh/chart"] = json!(chart);
    }
    match objects.find("ConfigMap", ns, "clustermesh-remote-users") {
        Some(id) => objects.get_mut(id)["data"]["users.yaml"] = Value::String(users),
        None => {
            let cm = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "clustermesh-remote-users", "namespace": ns, "labels": labels},
                "data": {"users.yaml": users},
            });
            objects.add_after(apiserver, "clustermesh-apiserver/users-configmap.yaml", cm);
        }
    }
    Ok(())
}

/// The (name, role) pairs of `users.yaml` in ConfigMap `id`.
fn existing_users(objects: &Objects, id: DocId) -> Result<Vec<(String, String)>, RenderError> {
    let text = objects.get(id)["data"]["users.yaml"].as_str().unwrap_or("");
    let parsed = crate::yaml::parse(text).map_err(|e| RenderError::Invalid {
        object: objects.describe(id),
        message: format!("users.yaml is not YAML: {}", e.message),
    })?;
    Ok(parsed["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| {
            let name = u["name"].as_str()?;
            Some((
                name.to_string(),
                u["role"].as_str().unwrap_or("remote").to_string(),
            ))
        })
        .collect())
}

fn user_entry(name: &str, role: &str) -> String {
    format!("- name: {name}\n  role: {role}\n")
}

fn users_yaml(entries: &[String]) -> String {
    let mut users = String::from("users:\n");
    users.extend(entries.iter().map(String::as_str));
    users
}

fn has_container(workload: &Value, name: &str) -> bool {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["name"] == name)
}

fn has_arg(workload: &Value, flag: &str) -> bool {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["args"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .any(|a| a == flag || a == format!("{flag}=true"))
}
