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
            let host = format!("{}.{DOMAIN}", p.name);
            p.clustermesh
                .iter()
                .flat_map(|e| e.ips.clone())
                .map(move |ip| json!({"ip": ip, "hostnames": [host.clone()]}))
        })
        .collect();
    let alias_target = if kvstoremesh {
        apiserver
    } else {
        objects.find("DaemonSet", ns, "cilium")
    };
    if let Some(id) = alias_target {
        set_host_aliases(objects.get_mut(id), aliases);
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
        remote_users(objects, ns, id, &peers);
    }
    Ok(())
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

/// Host aliases for the mesh names; aliases for other names (the user's) are kept first.
fn set_host_aliases(workload: &mut Value, mesh_aliases: Vec<Value>) {
    let Some(spec) = workload.pointer_mut("/spec/template/spec") else {
        return;
    };
    let suffix = format!(".{DOMAIN}");
    let mut aliases: Vec<Value> = spec["hostAliases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            !a["hostnames"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|h| h.as_str().is_some_and(|h| h.ends_with(&suffix)))
        })
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
fn remote_users(objects: &mut Objects, ns: &str, apiserver: DocId, peers: &[&Cluster]) {
    let mut users = String::from("users:\n");
    for p in peers {
        users.push_str(&format!("- name: remote-{}\n  role: remote\n", p.name));
    }
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
