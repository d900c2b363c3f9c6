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
    let Some((peers, layout)) = plan(t, version) else {
        return Ok(());
    };
    let apiserver = objects.find("Deployment", ns, "clustermesh-apiserver");
    let kvstoremesh = apiserver.is_some_and(|id| has_container(objects.get(id), "kvstoremesh"));

    let aliases: Vec<Value> = alias_pairs(&peers)
        .map(|(peer, ip)| json!({"ip": ip, "hostnames": [host_of(peer)]}))
        .collect();
    let targets = alias_targets(kvstoremesh, apiserver, objects.get(config), |kind, name| {
        objects.find(kind, ns, name)
    });
    let mesh_hosts: Vec<String> = t.mesh.clusters.iter().map(|c| host_of(&c.name)).collect();
    for id in targets {
        set_host_aliases(objects.get_mut(id), &mesh_hosts, aliases.clone());
    }

    let local = local_kvstoremesh(ns, kvstoremesh);
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
        remote_users(objects, ns, id, &other_names(t), &peers)?;
    }
    Ok(())
}

/// The workloads that dial the peers, so carry their host aliases: the agents (DaemonSet
/// `cilium`), or with KVStoreMesh the clustermesh-apiserver (`apiserver`); and the operator
/// too when it syncs EndpointSlices or serves the MCS API (1.16+/1.17+), as the chart's
/// `clustermesh.enableEndpointSliceSynchronization` / `mcsapi.enabled` say in cilium-config
/// (`config`). `find(kind, name)` looks a workload up in Cilium's namespace; those missing are
/// left out.
fn alias_targets<W>(
    kvstoremesh: bool,
    apiserver: Option<W>,
    config: &Value,
    find: impl Fn(&str, &str) -> Option<W>,
) -> Vec<W> {
    let dialer = if kvstoremesh {
        apiserver
    } else {
        find("DaemonSet", "cilium")
    };
    let enabled = |key: &str| config["data"][key] == "true";
    let operator = (!kvstoremesh
        && (enabled("clustermesh-enable-endpoint-sync") || enabled("clustermesh-enable-mcs-api")))
    .then(|| find("Deployment", "cilium-operator"))
    .flatten();
    dialer.into_iter().chain(operator).collect()
}

/// The peers [`apply`] writes for `t` (those with a recorded endpoint), in the chart's order,
/// and how the chart version at hand lays them out; `None` when there are none.
fn plan<'m>(t: &Target<'m>, version: Option<(u32, u32)>) -> Option<(Vec<&'m Cluster>, Layout)> {
    let mut peers: Vec<&Cluster> = t
        .mesh
        .peers_of(&t.cluster.name)
        .filter(|c| c.clustermesh.is_some())
        .collect();
    if peers.is_empty() {
        return None;
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
    Some((peers, layout))
}

/// (peer, IP) of every host alias, in order: `<peer>.mesh.cilium.io` pinned to each IP.
fn alias_pairs<'p>(peers: &'p [&Cluster]) -> impl Iterator<Item = (&'p str, &'p str)> {
    peers.iter().flat_map(|p| {
        p.clustermesh
            .iter()
            .flat_map(|e| &e.ips)
            .map(|ip| (p.name.as_str(), ip.as_str()))
    })
}

/// With KVStoreMesh the agents dial the local clustermesh-apiserver, not the peers.
fn local_kvstoremesh(ns: &str, kvstoremesh: bool) -> Option<String> {
    kvstoremesh.then(|| format!("https://clustermesh-apiserver.{ns}.svc:2379"))
}

/// The mesh's clusters but `t`'s own: their `remote-<name>` users are the mesh's (the cluster's
/// own user, 1.16 with KVStoreMesh, is the chart's, not a peer's: kept).
fn other_names<'m>(t: &Target<'m>) -> Vec<&'m str> {
    t.mesh
        .cluster_names()
        .into_iter()
        .filter(|n| *n != t.cluster.name)
        .collect()
}

/// Whether the objects `live` (those [`crate::render::peer_changes`] takes) already hold all
/// that [`apply`] would write for `t`, told by reading them: nothing is copied, changed or
/// encoded beyond one peer's entry at a time. `true` only when sure; `false` when something
/// differs and in every case it does not judge (no cilium-config, a malformed object, users
/// that are not YAML): the caller then runs the transform itself, whose answer stands.
pub fn unchanged(live: &[&Value], ns: &str, version: Option<(u32, u32)>, t: &Target) -> bool {
    let find = |kind: &str, name: &str| {
        live.iter().copied().find(|v| {
            v["kind"] == kind
                && v["metadata"]["name"] == name
                && v["metadata"]["namespace"].as_str().is_none_or(|n| n == ns)
        })
    };
    let Some(config) = find("ConfigMap", "cilium-config") else {
        return false;
    };
    let Some((peers, layout)) = plan(t, version) else {
        return true;
    };
    let apiserver = find("Deployment", "clustermesh-apiserver");
    let kvstoremesh = apiserver.is_some_and(|d| has_container(d, "kvstoremesh"));
    let aliases: Vec<(&str, &str)> = alias_pairs(&peers).collect();
    if !alias_targets(kvstoremesh, apiserver, config, find)
        .into_iter()
        .all(|w| aliases_unchanged(w, t, &aliases))
    {
        return false;
    }
    let local = local_kvstoremesh(ns, kvstoremesh);
    if !secret_unchanged(
        find("Secret", "cilium-clustermesh"),
        &peers,
        local.as_deref(),
        &layout,
    ) {
        return false;
    }
    if kvstoremesh && !secret_unchanged(find("Secret", "cilium-kvstoremesh"), &peers, None, &layout)
    {
        return false;
    }
    if let Some(d) = apiserver
        && has_arg(d, "--cluster-users-enabled")
    {
        let Some(cm) = find("ConfigMap", "clustermesh-remote-users") else {
            return false;
        };
        let Ok(existing) = users_in(cm) else {
            return false;
        };
        let users = users_text(&existing, &other_names(t), &peers);
        return cm["data"]["users.yaml"].as_str() == Some(users.as_str());
    }
    true
}

/// Whether [`set_host_aliases`] with the mesh's hosts and `expected` (peer, IP) would leave
/// `workload` as it is: its aliases are the others' (naming no mesh host) then exactly
/// `expected`'s, in order.
fn aliases_unchanged(workload: &Value, t: &Target, expected: &[(&str, &str)]) -> bool {
    let Some(spec) = workload.pointer("/spec/template/spec") else {
        return true;
    };
    let Some(spec) = spec.as_object() else {
        return false;
    };
    let current = spec.get("hostAliases");
    let list: &[Value] = current.and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let Some(kept) = list.len().checked_sub(expected.len()) else {
        return false;
    };
    // `{"ip": ip, "hostnames": [host]}` and nothing else, its two entries looked at in place.
    let is_alias = |a: &Value, (peer, ip): &(&str, &str)| {
        a.as_object().is_some_and(|o| {
            o.len() == 2
                && o.iter().all(|(k, v)| match k.as_str() {
                    "ip" => v.as_str() == Some(*ip),
                    "hostnames" => v.as_array().is_some_and(|h| {
                        h.len() == 1 && h[0].as_str().is_some_and(|h| is_host_of(h, peer))
                    }),
                    _ => false,
                })
        })
    };
    if !list[kept..]
        .iter()
        .zip(expected)
        .all(|(a, e)| is_alias(a, e))
    {
        return false;
    }
    if kept > 0 {
        let mesh_hosts: Vec<String> = t.mesh.clusters.iter().map(|c| host_of(&c.name)).collect();
        if list[..kept].iter().any(|a| names_one_of(a, &mesh_hosts)) {
            return false;
        }
    }
    if list.is_empty() {
        // Nothing to keep and nothing to add: `set_host_aliases` removes the key.
        return current.is_none();
    }
    current.is_some_and(Value::is_array)
}

/// Whether [`upsert_secret`] would leave Secret `secret` as it is: it exists and its `data`
/// holds every peer's etcd configuration, base64-encoded, as `apply` writes it.
fn secret_unchanged(
    secret: Option<&Value>,
    peers: &[&Cluster],
    local: Option<&str>,
    layout: &Layout,
) -> bool {
    let Some(data) = secret.and_then(|s| s["data"].as_object()) else {
        return false;
    };
    let mut encoded = String::new();
    peers.iter().all(|p| {
        encoded.clear();
        B64.encode_string(etcd_config(p, local, layout), &mut encoded);
        data.get(&p.name).and_then(Value::as_str) == Some(encoded.as_str())
    })
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

/// Whether `host` is [`host_of`] `cluster`, without making that name.
fn is_host_of(host: &str, cluster: &str) -> bool {
    host.strip_prefix(cluster)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest == DOMAIN)
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
    let users = users_text(&existing, mesh_names, peers);
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

/// The `users.yaml` [`remote_users`] writes: the users of clusters outside the mesh file
/// (`existing` but the mesh's), then one per peer.
fn users_text(existing: &[(String, String)], mesh_names: &[&str], peers: &[&Cluster]) -> String {
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
    users_yaml(&entries)
}

/// The (name, role) pairs of `users.yaml` in ConfigMap `id`.
fn existing_users(objects: &Objects, id: DocId) -> Result<Vec<(String, String)>, RenderError> {
    users_in(objects.get(id)).map_err(|message| RenderError::Invalid {
        object: objects.describe(id),
        message,
    })
}

/// The (name, role) pairs of the `users.yaml` of ConfigMap `cm`, or why it is not YAML.
fn users_in(cm: &Value) -> Result<Vec<(String, String)>, String> {
    let text = cm["data"]["users.yaml"].as_str().unwrap_or("");
    let parsed =
        crate::yaml::parse(text).map_err(|e| format!("users.yaml is not YAML: {}", e.message))?;
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::mesh::Mesh;
    use crate::render::{Target, peer_changes, peers_unchanged};

    const MESH: &str = "apiVersion: kubectl-mesh/v1alpha1
kind: Mesh
routingMode: native
clusters:
- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, clustermesh: {port: 32379, ips: [172.18.0.2, 172.18.0.3]}}
- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16, clustermesh: {port: 32380, ips: [172.18.0.4, 172.18.0.5]}}
- {name: north, id: 3, context: kind-north, podCIDR: 10.2.0.0/16, clustermesh: {address: north.example.org, port: 2379}}
- {name: south, id: 4, context: kind-south, podCIDR: 10.3.0.0/16}
";

    /// A cluster's peer objects before `connect`: chart `version`, with or without KVStoreMesh
    /// and remote users.
    fn before(version: &str, kvstoremesh: bool, users: bool) -> Vec<Value> {
        let image = format!("quay.io/cilium/cilium:{version}");
        let mut apiserver_containers = vec![json!({"name": "apiserver", "args": []})];
        if users {
            apiserver_containers[0]["args"] = json!(["--cluster-users-enabled"]);
        }
        if kvstoremesh {
            apiserver_containers.push(json!({"name": "kvstoremesh"}));
        }
        let mut objects = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cilium-config", "namespace": "kube-system"},
                "data": {"cluster-name": "west", "clustermesh-enable-endpoint-sync": "true"}}),
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "cilium", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": [{"name": "cilium-agent", "image": image}],
                    "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["registry.local"]}]}}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "clustermesh-apiserver", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": apiserver_containers}}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cilium-operator", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": [{"name": "operator"}]}}}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cilium-clustermesh", "namespace": "kube-system"},
                "data": {"gone": "eA=="}}),
        ];
        if users {
            objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "clustermesh-remote-users", "namespace": "kube-system"},
                "data": {"users.yaml": "users:\n- name: remote-gone\n  role: remote\n"}}));
        }
        objects
    }

    fn same(a: &Value, b: &Value) -> bool {
        a["kind"] == b["kind"] && a["metadata"]["name"] == b["metadata"]["name"]
    }

    /// `objects` with `changes` written over them, as a live write leaves them.
    fn written(mut objects: Vec<Value>, changes: Vec<Value>) -> Vec<Value> {
        for c in changes {
            match objects.iter_mut().find(|o| same(o, &c)) {
                Some(o) => *o = c,
                None => objects.push(c),
            }
        }
        objects
    }

    fn verdicts(objects: &[Value], target: &Target) -> (bool, bool) {
        let refs: Vec<&Value> = objects.iter().collect();
        let quick = peers_unchanged(&refs, target);
        let changes = peer_changes(objects.to_vec(), target).unwrap();
        (quick, changes.is_empty())
    }

    fn get<'v>(objects: &'v mut [Value], kind: &str, name: &str) -> &'v mut Value {
        objects
            .iter_mut()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap()
    }

    /// The workload that carries the peers' host aliases (kind, name).
    type Workload = (&'static str, &'static str);
    type Edit = (&'static str, fn(&mut Vec<Value>, Workload));

    /// Each one changes what `connect` wrote, or leaves it as `connect` would.
    fn edits() -> Vec<Edit> {
        vec![
            ("nothing", |_, _| {}),
            ("alias removed", |o, w| {
                aliases(o, w).pop();
            }),
            ("aliases swapped", |o, w| {
                let a = aliases(o, w);
                let n = a.len();
                a.swap(n - 1, n - 2);
            }),
            ("other alias after the mesh's", |o, w| {
                aliases(o, w).push(json!({"ip": "5.6.7.8", "hostnames": ["other.local"]}))
            }),
            ("other alias before the mesh's", |o, w| {
                aliases(o, w).insert(0, json!({"ip": "5.6.7.8", "hostnames": ["other.local"]}))
            }),
            ("alias with one more field", |o, w| {
                let a = aliases(o, w);
                let n = a.len();
                a[n - 1]["extra"] = json!(1);
            }),
            ("alias with one more hostname", |o, w| {
                aliases(o, w)[0]["hostnames"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("x.local"));
            }),
            ("alias of a stale IP", |o, w| {
                let a = aliases(o, w);
                let n = a.len();
                a[n - 1]["ip"] = json!("172.18.0.99");
            }),
            ("alias of a peer outside the mesh first", |o, w| {
                let gone = json!({"ip": "9.9.9.9", "hostnames": ["gone.mesh.cilium.io"]});
                aliases(o, w).insert(0, gone)
            }),
            ("alias of a mesh cluster first", |o, w| {
                let east = json!({"ip": "9.9.9.9", "hostnames": ["east.mesh.cilium.io"]});
                aliases(o, w).insert(0, east)
            }),
            ("no aliases", |o, (kind, name)| {
                get(o, kind, name)["spec"]["template"]["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("hostAliases");
            }),
            ("peer key missing", |o, _| {
                secret(o, "cilium-clustermesh").remove("east");
            }),
            ("peer key stale", |o, _| {
                secret(o, "cilium-clustermesh").insert("east".into(), json!("eA=="));
            }),
            ("key of a peer outside the mesh", |o, _| {
                secret(o, "cilium-clustermesh").insert("other".into(), json!("eA=="));
            }),
            ("data not a map", |o, _| {
                get(o, "Secret", "cilium-clustermesh")["data"] = json!("x")
            }),
            ("secret gone", |o, _| {
                o.retain(|v| v["metadata"]["name"] != "cilium-clustermesh")
            }),
        ]
    }

    fn aliases(objects: &mut [Value], (kind, name): Workload) -> &mut Vec<Value> {
        get(objects, kind, name)["spec"]["template"]["spec"]["hostAliases"]
            .as_array_mut()
            .unwrap()
    }

    fn secret<'v>(objects: &'v mut [Value], name: &str) -> &'v mut serde_json::Map<String, Value> {
        get(objects, "Secret", name)["data"]
            .as_object_mut()
            .unwrap()
    }

    #[test]
    fn the_quick_comparison_agrees_with_the_transform() {
        let mesh = Mesh::parse(MESH).unwrap();
        let target = Target {
            mesh: &mesh,
            cluster: &mesh.clusters[0],
            mesh_ca: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
            bundle: None,
        };
        let mut judged = 0;
        for version in ["v1.16.3", "v1.17.6", "v1.19.6", "v1.20.0"] {
            for kvstoremesh in [false, true] {
                for users in [false, true] {
                    let start = before(version, kvstoremesh, users);
                    let case = format!("{version} kvstoremesh={kvstoremesh} users={users}");
                    assert_eq!(verdicts(&start, &target), (false, false), "{case}");
                    let changes = peer_changes(start.clone(), &target).unwrap();
                    let connected = written(start, changes);
                    assert_eq!(verdicts(&connected, &target), (true, true), "{case}");
                    let workload = if kvstoremesh {
                        ("Deployment", "clustermesh-apiserver")
                    } else {
                        ("DaemonSet", "cilium")
                    };
                    for (what, edit) in edits() {
                        let mut objects = connected.clone();
                        edit(&mut objects, workload);
                        let (quick, empty) = verdicts(&objects, &target);
                        assert!(!quick || empty, "{case}, {what}: vouched for a change");
                        assert_eq!(quick, empty, "{case}, {what}");
                        judged += 1;
                    }
                    if kvstoremesh {
                        let mut objects = connected.clone();
                        secret(&mut objects, "cilium-kvstoremesh").remove("east");
                        assert_eq!(verdicts(&objects, &target), (false, false), "{case}");
                    }
                    if users {
                        for (text, same) in [
                            ("users:\n- name: remote-east\n  role: remote\n", false),
                            ("{", false),
                        ] {
                            let mut objects = connected.clone();
                            get(&mut objects, "ConfigMap", "clustermesh-remote-users")["data"]["users.yaml"] =
                                json!(text);
                            let (quick, empty) = verdicts_or_error(&objects, &target);
                            assert!(!quick, "{case}: users {text:?}");
                            assert_eq!(empty, same, "{case}: users {text:?}");
                        }
                    }
                }
            }
        }
        assert!(judged > 100);
    }

    /// An error of the transform counts as "changes" here (status then names none).
    fn verdicts_or_error(objects: &[Value], target: &Target) -> (bool, bool) {
        let refs: Vec<&Value> = objects.iter().collect();
        let quick = peers_unchanged(&refs, target);
        let empty = peer_changes(objects.to_vec(), target).is_ok_and(|c| c.is_empty());
        (quick, empty)
    }
}
