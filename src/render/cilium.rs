//! The Cilium chart's view of a cluster's mesh identity: every object and field the chart
//! renders from `cluster.name`, `cluster.id`, `clustermesh.maxConnectedClusters`,
//! `ipv4NativeRoutingCIDR`, `ipMasqAgent`, the CA, the peers and the apiserver NodePort.

use serde_json::{Value, json};

use super::derived::{self, Identity};
use super::objects::{DocId, Objects};
use super::tls;
use super::{RenderError, Target};
use crate::mesh::{DEFAULT_MAX_CONNECTED_CLUSTERS, RoutingMode};

/// The chart's placeholders for a cluster that is in no mesh.
const DEFAULT_NAME: &str = "default";
const DEFAULT_ID: &str = "0";

/// Workload kinds whose pod templates may carry identity arguments.
const WORKLOADS: &[&str] = &["Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob"];

/// Kinds a transform may read or change; any other document only needs its header.
const TOUCHED_KINDS: &[&str] = &[
    "ConfigMap",
    "Secret",
    "Service",
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "Certificate",
    "ServiceMonitor",
];

/// Whether a document (by its header, and whether the Cilium chart made it) is one the
/// transforms may need whole: the chart's objects of the kinds above wherever they are (SPIRE
/// and ServiceMonitors may live in other namespaces), and those kinds in the Cilium namespace.
/// `kind` and `namespace` are `None` when absent or not strings.
pub fn wanted(kind: Option<&str>, namespace: Option<&str>, chart_made: bool, ns: &str) -> bool {
    kind.is_some_and(|kind| TOUCHED_KINDS.contains(&kind))
        && (chart_made || namespace.is_none_or(|n| n == ns))
}

/// Gives the stream `t`'s identity, routing, ip-masq-agent, peers and certificates; returns the
/// identity the stream had and now has, for [`super::derived::check`].
pub fn apply(objects: &mut Objects, t: &Target) -> Result<Identity, RenderError> {
    let ns = t.mesh.namespace();
    let configs = objects.find_all("ConfigMap", ns, "cilium-config");
    let config = match configs[..] {
        [config] => config,
        [] => {
            return Err(RenderError::NoCiliumConfig {
                namespace: ns.to_string(),
            });
        }
        [first, second, ..] => {
            return Err(RenderError::Invalid {
                object: objects.describe(second),
                message: format!(
                    "the stream has {} ConfigMaps cilium-config in namespace {ns:?} (documents {} and {}): render one Cilium release at a time",
                    configs.len(),
                    objects.number(first),
                    objects.number(second)
                ),
            });
        }
    };
    let old = identity(objects, config, t)?;
    let old_name = old.old_name.clone();
    tls::certgen(objects, ns, &old_name, t)?;
    identity_args(objects, ns, t)?;
    hubble_relay(objects, ns, t)?;
    derived_names(objects, &old_name, t);
    derived_config_text(objects, &old);
    if t.mesh.routing_mode == RoutingMode::Native {
        native_routing(objects, config, t)?;
        ip_masq_agent(objects, ns, config, t)?;
    }
    apiserver_node_port(objects, ns, t)?;
    let version = chart_version(objects);
    super::peers::apply(objects, ns, config, version, t)?;
    tls::certificates(objects, ns, &old_name, version, t)?;
    tls::ca_bundle(objects, ns, version, t)?;
    checksums(objects)?;
    Ok(old)
}

/// Sets `key` of a string map to `wanted`, accepting the chart default or the same value;
/// anything else was set on purpose and is a conflict the user must resolve.
fn set_identity(
    objects: &mut Objects,
    id: DocId,
    path: &[&str],
    key: &str,
    default: &str,
    wanted: &str,
    t: &Target,
) -> Result<Option<String>, RenderError> {
    let object = objects.describe(id);
    let mut v = objects.get(id);
    for p in path {
        v = &v[*p];
    }
    let found = match &v[key] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    if let Some(f) = &found
        && f != default
        && f != wanted
    {
        return Err(RenderError::Conflict {
            object,
            field: key.to_string(),
            found: f.clone(),
            wanted: wanted.to_string(),
            cluster: t.cluster.name.clone(),
        });
    }
    if found.is_some() {
        let mut m = objects.get_mut(id);
        for p in path {
            m = &mut m[*p];
        }
        m[key] = Value::String(wanted.to_string());
    }
    Ok(found)
}

/// cilium-config: `cluster-name`, `cluster-id`, `max-connected-clusters`. Returns the values the
/// stream was rendered with (the chart's defaults, or already this cluster's).
fn identity(objects: &mut Objects, config: DocId, t: &Target) -> Result<Identity, RenderError> {
    let data = ["data"];
    let name = &t.cluster.name;
    let old = set_identity(
        objects,
        config,
        &data,
        "cluster-name",
        DEFAULT_NAME,
        name,
        t,
    )?;
    let old_id = set_identity(
        objects,
        config,
        &data,
        "cluster-id",
        DEFAULT_ID,
        &t.cluster.id.to_string(),
        t,
    )?;
    let max = t.mesh.max_connected_clusters().to_string();
    let old_max = set_identity(
        objects,
        config,
        &data,
        "max-connected-clusters",
        &DEFAULT_MAX_CONNECTED_CLUSTERS.to_string(),
        &max,
        t,
    )?;
    let data = objects.get_mut(config)["data"].as_object_mut();
    if let Some(data) = data {
        data.entry("cluster-name")
            .or_insert_with(|| Value::String(name.clone()));
        data.entry("cluster-id")
            .or_insert_with(|| Value::String(t.cluster.id.to_string()));
    }
    Ok(Identity {
        old_name: old.unwrap_or_else(|| DEFAULT_NAME.to_string()),
        new_name: name.clone(),
        old_id: old_id.unwrap_or_else(|| DEFAULT_ID.to_string()),
        new_id: t.cluster.id.to_string(),
        old_max: old_max.unwrap_or_else(|| DEFAULT_MAX_CONNECTED_CLUSTERS.to_string()),
        new_max: max,
    })
}

/// Names the chart builds from `cluster.name` in objects it does not sign itself: cert-manager
/// `Certificate`s (`commonName`, `dnsNames`: cert-manager issues them, render only edits) and the
/// Hubble `ServiceMonitor`'s `tlsConfig.serverName`.
fn derived_names(objects: &mut Objects, old: &str, t: &Target) {
    let rename = |v: &mut Value| {
        if let Some(name) = v.as_str()
            && let Some(new) = derived::rename_name(name, old, &t.cluster.name)
        {
            *v = Value::String(new);
        }
    };
    for id in objects.chart_made(&["Certificate"]) {
        let needs = {
            let spec = &objects.get(id)["spec"];
            let names = std::iter::once(&spec["commonName"])
                .chain(spec["dnsNames"].as_array().into_iter().flatten());
            names
                .filter_map(Value::as_str)
                .any(|n| derived::rename_name(n, old, &t.cluster.name).is_some())
        };
        if needs && let Some(spec) = objects.get_mut(id).get_mut("spec") {
            if let Some(cn) = spec.get_mut("commonName") {
                rename(cn);
            }
            let names = spec.get_mut("dnsNames").and_then(Value::as_array_mut);
            for n in names.into_iter().flatten() {
                rename(n);
            }
        }
    }
    for id in objects.chart_made(&["ServiceMonitor"]) {
        let needs = objects.get(id)["spec"]["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["tlsConfig"]["serverName"].as_str())
            .any(|n| derived::rename_name(n, old, &t.cluster.name).is_some());
        if needs {
            let endpoints = objects
                .get_mut(id)
                .pointer_mut("/spec/endpoints")
                .and_then(Value::as_array_mut);
            for e in endpoints.into_iter().flatten() {
                if let Some(server) = e.pointer_mut("/tlsConfig/serverName") {
                    rename(server);
                }
            }
        }
    }
}

/// Text configs the chart writes with the cluster's name in them, edited as text (the chart
/// writes them as text): SPIRE's server (`clusters = { "<name>" = {…} }`) and agent
/// (`cluster = "<name>"`) configs (`authentication.mutual.spire.install`), and the
/// clustermesh-apiserver users (1.16 with KVStoreMesh lists the cluster's own `remote-<name>`).
const TEXT_CONFIGS: &[(&str, &str)] = &[
    ("spire-server", "server.conf"),
    ("spire-agent", "agent.conf"),
    ("clustermesh-remote-users", "users.yaml"),
];

/// Pod annotations that hash the text of a chart template (`rollOutCiliumPods`,
/// `operator.rollOutPods`, `hubble.relay.rollOutPods`), and the template they hash.
const CHECKSUMS: &[(&str, &str)] = &[
    (
        "cilium.io/cilium-configmap-checksum",
        "cilium-configmap.yaml",
    ),
    (
        "cilium.io/hubble-relay-configmap-checksum",
        "hubble-relay/configmap.yaml",
    ),
];

/// Refuses a stream where a pod annotation hashes a template whose output render changed: the
/// hash is of the text Helm rendered for the whole template file, which render does not
/// reproduce byte for byte, so it cannot write the value the chart would.
fn checksums(objects: &Objects) -> Result<(), RenderError> {
    for id in objects.chart_made(WORKLOADS) {
        if let Some(template) = pod_template(objects.get(id)) {
            let annotations = &template["metadata"]["annotations"];
            for (key, hashed) in CHECKSUMS {
                if annotations[*key].is_string() && objects.template_changed(hashed) {
                    return Err(RenderError::Invalid {
                        object: objects.describe(id),
                        message: format!(
                            "the pod annotation {key} is the sha256 of the chart's text of {hashed}, which render changes for this cluster and cannot hash as Helm would; turn the rollout annotations off (rollOutCiliumPods=false, operator.rollOutPods=false, hubble.relay.rollOutPods=false) and restart the pods after the upgrade (`kubectl rollout restart`), or set the cluster's values with `kubectl mesh values`"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The pod template of a workload.
fn pod_template(workload: &Value) -> Option<&Value> {
    let path = if workload["kind"] == "CronJob" {
        "/spec/jobTemplate/spec/template"
    } else {
        "/spec/template"
    };
    workload.pointer(path)
}

fn derived_config_text(objects: &mut Objects, identity: &Identity) {
    for doc in objects.chart_made(&["ConfigMap"]) {
        for (name, key) in TEXT_CONFIGS {
            if objects.get(doc)["metadata"]["name"] != *name {
                continue;
            }
            let Some(text) = objects.get(doc)["data"][*key].as_str() else {
                continue;
            };
            let renamed = super::derived::rename_in_text(text, identity);
            if renamed != text {
                objects.get_mut(doc)["data"][*key] = Value::String(renamed);
            }
        }
    }
}

/// `--cluster-name=`, `--cluster-id=`, `--max-connected-clusters=` arguments of any container
/// in the Cilium namespace (clustermesh-apiserver, kvstoremesh, certgen, …).
fn identity_args(objects: &mut Objects, ns: &str, t: &Target) -> Result<(), RenderError> {
    let wanted = [
        (
            "--cluster-name=",
            DEFAULT_NAME.to_string(),
            t.cluster.name.clone(),
        ),
        (
            "--cluster-id=",
            DEFAULT_ID.to_string(),
            t.cluster.id.to_string(),
        ),
        (
            "--max-connected-clusters=",
            DEFAULT_MAX_CONNECTED_CLUSTERS.to_string(),
            t.mesh.max_connected_clusters().to_string(),
        ),
    ];
    for id in objects.of_kinds(WORKLOADS, ns) {
        let object = objects.describe(id);
        let mut edits = Vec::new();
        for (path, container) in containers(objects.get(id)) {
            for field in ["args", "command"] {
                for (i, arg) in container[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let Some(arg) = arg.as_str() else { continue };
                    for (flag, default, want) in &wanted {
                        // `$(CLUSTER_NAME)` refers to an env var, itself from cilium-config.
                        if let Some(found) = arg.strip_prefix(flag)
                            && found != want
                            && !found.starts_with("$(")
                        {
                            if found != default {
                                return Err(RenderError::Conflict {
                                    object: object.clone(),
                                    field: flag.trim_end_matches('=').to_string(),
                                    found: found.to_string(),
                                    wanted: want.clone(),
                                    cluster: t.cluster.name.clone(),
                                });
                            }
                            edits.push((path.clone(), field, i, format!("{flag}{want}")));
                        }
                    }
                }
            }
        }
        for (path, field, i, arg) in edits {
            if let Some(c) = objects.get_mut(id).pointer_mut(&path) {
                c[field][i] = Value::String(arg);
            }
        }
    }
    Ok(())
}

/// JSON pointers to, and values of, every container and init container of a workload.
pub(super) fn containers(workload: &Value) -> Vec<(String, &Value)> {
    let spec = if workload["kind"] == "CronJob" {
        "/spec/jobTemplate/spec/template/spec"
    } else {
        "/spec/template/spec"
    };
    let mut out = Vec::new();
    for list in ["containers", "initContainers"] {
        let Some(items) = workload
            .pointer(&format!("{spec}/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            out.push((format!("{spec}/{list}/{i}"), c));
        }
    }
    out
}

/// hubble-relay's `config.yaml` names the local cluster.
fn hubble_relay(objects: &mut Objects, ns: &str, t: &Target) -> Result<(), RenderError> {
    let Some(id) = objects.find("ConfigMap", ns, "hubble-relay-config") else {
        return Ok(());
    };
    let Some(text) = objects.get(id)["data"]["config.yaml"].as_str() else {
        return Ok(());
    };
    let object = objects.describe(id);
    let mut config = crate::yaml::parse(text).map_err(|e| RenderError::Invalid {
        object: object.clone(),
        message: format!("config.yaml: {}", e.message),
    })?;
    let Some(found) = config["cluster-name"].as_str() else {
        return Ok(());
    };
    if found == t.cluster.name {
        return Ok(());
    }
    if found != DEFAULT_NAME {
        return Err(RenderError::Conflict {
            object,
            field: "config.yaml cluster-name".into(),
            found: found.to_string(),
            wanted: t.cluster.name.clone(),
            cluster: t.cluster.name.clone(),
        });
    }
    config["cluster-name"] = Value::String(t.cluster.name.clone());
    let text = crate::yaml::emit(&config).map_err(|e| RenderError::Emit {
        object,
        message: e.to_string(),
    })?;
    objects.get_mut(id)["data"]["config.yaml"] = Value::String(text);
    Ok(())
}

/// Native routing: the cluster's routing CIDR and the ip-masq-agent switch in cilium-config.
fn native_routing(objects: &mut Objects, config: DocId, t: &Target) -> Result<(), RenderError> {
    let cidr = t.cluster.native_routing_cidr();
    if cidr.contains(':') {
        return Err(RenderError::Invalid {
            object: objects.describe(config),
            message: format!(
                "cluster {:?} routes {cidr} natively, but render injects IPv4 routing only; set ipv6NativeRoutingCIDR in the Helm values",
                t.cluster.name
            ),
        });
    }
    let found = objects.get(config)["data"]["ipv4-native-routing-cidr"]
        .as_str()
        .map(str::to_string);
    if let Some(found) = found
        && found != cidr
    {
        // The chart has no default routing CIDR: any value in the stream was set by the user.
        return Err(RenderError::Conflict {
            object: objects.describe(config),
            field: "ipv4-native-routing-cidr".into(),
            found,
            wanted: cidr.to_string(),
            cluster: t.cluster.name.clone(),
        });
    }
    let cfg = objects.get_mut(config);
    if let Some(d) = cfg["data"].as_object_mut() {
        d.insert(
            "ipv4-native-routing-cidr".into(),
            Value::String(cidr.to_string()),
        );
        d.insert("enable-ip-masq-agent".into(), Value::String("true".into()));
    }
    Ok(())
}

/// The ip-masq-agent ConfigMap (user's `nonMasqueradeCIDRs` first, then every peer's pod CIDR)
/// and the agent DaemonSet's volume and mount for it, as the chart renders them.
fn ip_masq_agent(
    objects: &mut Objects,
    ns: &str,
    config: DocId,
    t: &Target,
) -> Result<(), RenderError> {
    let peers: Vec<String> = t
        .mesh
        .peers_of(&t.cluster.name)
        .map(|c| c.pod_cidr.clone())
        .collect();
    match objects.find("ConfigMap", ns, "ip-masq-agent") {
        Some(id) => {
            let object = objects.describe(id);
            let text = objects.get(id)["data"]["config"]
                .as_str()
                .unwrap_or("{}")
                .to_string();
            let mut conf = crate::yaml::parse(&text).map_err(|e| RenderError::Invalid {
                object: object.clone(),
                message: format!("data.config: {}", e.message),
            })?;
            if conf.is_null() {
                conf = json!({});
            }
            let Some(map) = conf.as_object_mut() else {
                return Err(RenderError::Invalid {
                    object,
                    message: "data.config is not a mapping".into(),
                });
            };
            let mut cidrs: Vec<String> = match map.get("nonMasqueradeCIDRs") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            for p in peers {
                if !cidrs.contains(&p) {
                    cidrs.push(p);
                }
            }
            map.insert("nonMasqueradeCIDRs".into(), json!(cidrs));
            objects.get_mut(id)["data"]["config"] = Value::String(conf.to_string());
        }
        None => {
            let cm = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "ip-masq-agent", "namespace": ns},
                "data": {"config": json!({"nonMasqueradeCIDRs": peers}).to_string()},
            });
            // Same template file as cilium-config (templates/cilium-configmap.yaml).
            objects.add_after(config, "cilium-configmap.yaml", cm);
        }
    }
    if let Some(ds) = objects.find("DaemonSet", ns, "cilium") {
        let volume = json!({"name": "ip-masq-agent", "configMap": {"name": "ip-masq-agent", "optional": true, "items": [{"key": "config", "path": "ip-masq-agent"}]}});
        let mount = json!({"name": "ip-masq-agent", "mountPath": "/etc/config", "readOnly": true});
        let spec = objects.get_mut(ds).pointer_mut("/spec/template/spec");
        if let Some(spec) = spec {
            insert_named(&mut spec["volumes"], volume, "clustermesh-secrets");
            if let Some(agent) = spec["containers"]
                .as_array_mut()
                .and_then(|cs| cs.iter_mut().find(|c| c["name"] == "cilium-agent"))
            {
                insert_named(&mut agent["volumeMounts"], mount, "clustermesh-secrets");
            }
        }
    }
    Ok(())
}

/// The chart's (major, minor) version: the `helm.sh/chart: cilium-X.Y.Z` label (1.19+ puts it
/// on most objects), else the tag of the agent image (`…/cilium:vX.Y.Z`).
pub(super) fn chart_version(objects: &Objects) -> Option<(u32, u32)> {
    chart_version_of(objects.labels("helm.sh/chart"), objects.images())
}

/// [`chart_version`] from the objects' `helm.sh/chart` labels and their containers' images.
pub(super) fn chart_version_of<'a>(
    mut charts: impl Iterator<Item = &'a str>,
    mut images: impl Iterator<Item = &'a str>,
) -> Option<(u32, u32)> {
    let parse = |v: &str| {
        let mut parts = v.trim_start_matches('v').split(['.', '-', '@']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    charts
        .find_map(|chart| parse(chart.strip_prefix("cilium-")?))
        .or_else(|| images.find_map(|image| parse(image.split_once("/cilium:")?.1)))
}

/// Adds `item` to a list of named items unless one of that name exists, after `after` if present.
fn insert_named(list: &mut Value, item: Value, after: &str) {
    if list.is_null() {
        *list = Value::Array(Vec::new());
    }
    let Some(items) = list.as_array_mut() else {
        return;
    };
    if items.iter().any(|i| i["name"] == item["name"]) {
        return;
    }
    let at = items
        .iter()
        .position(|i| i["name"] == after)
        .map_or(items.len(), |p| p + 1);
    items.insert(at, item);
}

/// The cluster's own clustermesh-apiserver NodePort (`clustermesh.apiserver.service.nodePort`).
fn apiserver_node_port(objects: &mut Objects, ns: &str, t: &Target) -> Result<(), RenderError> {
    let Some(port) = t.cluster.apiserver_node_port else {
        return Ok(());
    };
    let Some(id) = objects.find("Service", ns, "clustermesh-apiserver") else {
        return Err(RenderError::Invalid {
            object: format!("Service {ns}/clustermesh-apiserver"),
            message: format!(
                "cluster {:?} sets apiserverNodePort {port}, but the stream has no clustermesh-apiserver Service: enable clustermesh.useAPIServer in the Helm values",
                t.cluster.name
            ),
        });
    };
    let object = objects.describe(id);
    let kind = objects.get(id)["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    if kind != "NodePort" {
        return Err(RenderError::Invalid {
            object,
            message: format!(
                "cluster {:?} sets apiserverNodePort {port}, but the Service is of type {kind}: a NodePort applies only to clustermesh.apiserver.service.type=NodePort",
                t.cluster.name
            ),
        });
    }
    let svc = objects.get_mut(id);
    if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
        for p in ports.iter_mut().filter(|p| p["port"] == 2379) {
            p["nodePort"] = json!(port);
        }
    }
    Ok(())
}
