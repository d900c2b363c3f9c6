//! The Cilium chart's view of a cluster's mesh identity: every object and field the chart
//! renders from `cluster.name`, `cluster.id`, `clustermesh.maxConnectedClusters`,
//! `ipv4NativeRoutingCIDR`, `ipMasqAgent`, the CA, the peers and the apiserver NodePort.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use time::Duration;

use super::certs::{self, Ca, Leaf};
use super::derived::{self, Identity};
use super::objects::{DocId, Objects};
use super::{RenderError, Target};
use crate::mesh::{DEFAULT_MAX_CONNECTED_CLUSTERS, RoutingMode};

/// The chart's placeholders for a cluster that is in no mesh.
const DEFAULT_NAME: &str = "default";
const DEFAULT_ID: &str = "0";
/// Certificates expiring sooner than this are re-issued.
const RENEW_BEFORE: Duration = Duration::days(30);

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
pub fn wanted(header: &Value, chart_made: bool, ns: &str) -> bool {
    TOUCHED_KINDS.iter().any(|k| header["kind"] == *k)
        && (chart_made
            || header["metadata"]["namespace"]
                .as_str()
                .is_none_or(|n| n == ns))
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
                    first + 1,
                    second + 1
                ),
            });
        }
    };
    let old = identity(objects, config, t)?;
    let old_name = old.old_name.clone();
    certgen(objects, ns, &old_name, t)?;
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
    certificates(objects, ns, &old_name, version, t)?;
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
    let mut v = &objects.get(id).clone();
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
fn containers(workload: &Value) -> Vec<(String, Value)> {
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
            out.push((format!("{spec}/{list}/{i}"), c.clone()));
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
    let parse = |v: &str| {
        let mut parts = v.trim_start_matches('v').split(['.', '-', '@']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    objects
        .labels("helm.sh/chart")
        .find_map(|chart| parse(chart.strip_prefix("cilium-")?))
        .or_else(|| {
            objects
                .images()
                .find_map(|image| parse(image.split_once("/cilium:")?.1))
        })
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

/// A name of a chart-made certificate for the new cluster name (see
/// [`derived::rename_name`]).
fn rename_cert_name(name: &str, old: &str, new: &str) -> String {
    derived::rename_name(name, old, new).unwrap_or_else(|| name.to_string())
}

/// The chart's certificates: with the mesh CA, `cilium-ca` carries it and every chart-made
/// certificate is issued by it; otherwise certificates naming the cluster are re-issued by the
/// stream's own CA. Certificates already right and valid for 30 more days are kept.
fn certificates(
    objects: &mut Objects,
    ns: &str,
    old_name: &str,
    version: Option<(u32, u32)>,
    t: &Target,
) -> Result<(), RenderError> {
    let ca_doc = objects.find("Secret", ns, "cilium-ca");
    let stream_ca = match ca_doc {
        Some(id) => {
            let d = &objects.get(id)["data"];
            match (secret_text(d, "ca.crt"), secret_text(d, "ca.key")) {
                (Some(c), Some(k)) => {
                    Some(
                        Ca::from_pem(&c, &k).map_err(|source| RenderError::Certificate {
                            object: objects.describe(id),
                            source,
                        })?,
                    )
                }
                _ => None,
            }
        }
        None => None,
    };
    match (t.mesh_ca, ca_doc) {
        (Some(mesh_ca), Some(id)) => {
            let s = objects.get_mut(id);
            s["data"]["ca.crt"] = Value::String(B64.encode(&mesh_ca.cert_pem));
            s["data"]["ca.key"] = Value::String(B64.encode(&mesh_ca.key_pem));
        }
        // The chart renders cilium-ca whenever `tls.ca.cert/key` are set (e.g. certgen's cronJob
        // method, which otherwise makes its own CA at run time).
        (Some(mesh_ca), None) => {
            let mut secret = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "cilium-ca", "namespace": ns},
                "data": {"ca.crt": B64.encode(&mesh_ca.cert_pem), "ca.key": B64.encode(&mesh_ca.key_pem)},
            });
            if version.is_some_and(|v| v >= (1, 19)) {
                secret["metadata"]["labels"] =
                    json!({"cilium.io/helm-template-non-idempotent": "true"});
            }
            let config = objects.find("ConfigMap", ns, "cilium-config").unwrap_or(0);
            objects.add_after(config, "cilium-ca-secret.yaml", secret);
        }
        (None, _) => {}
    }
    // The chart copies `tls.ca.cert` into the `ca.crt` of Secrets made of certificates the user
    // provides (`tls-provided/`); the certificates themselves are the user's.
    if let Some(mesh_ca) = t.mesh_ca {
        for id in objects.chart_made(&["Secret"]) {
            let provided = objects
                .template(id)
                .is_some_and(|p| p.contains("tls-provided/"));
            if provided && objects.get(id)["data"].get("ca.crt").is_some() {
                let pem = B64.encode(&mesh_ca.cert_pem);
                if objects.get(id)["data"]["ca.crt"] != pem.as_str() {
                    objects.get_mut(id)["data"]["ca.crt"] = Value::String(pem);
                }
            }
        }
    }
    let target_ca = t.mesh_ca.or(stream_ca.as_ref());
    for id in objects.of_kinds(&["Secret"], ns) {
        if objects
            .template(id)
            .is_some_and(|p| p.contains("tls-provided/"))
        {
            continue; // the user's certificate: kept as given
        }
        let Some(crt) = secret_text(&objects.get(id)["data"], "tls.crt") else {
            continue;
        };
        let object = objects.describe(id);
        let leaf = Leaf::read(&crt).map_err(|source| RenderError::Certificate {
            object: object.clone(),
            source,
        })?;
        let by_stream = stream_ca.as_ref().is_some_and(|ca| ca.signed(&crt));
        // Without a mesh CA the target is the stream's CA: one signature check serves both.
        let by_target = match t.mesh_ca {
            Some(ca) => ca.signed(&crt),
            None => by_stream,
        };
        if !by_stream && !by_target {
            continue; // not made by the chart: the user's own certificate, left alone
        }
        let wanted = leaf.renamed(|n| rename_cert_name(n, old_name, &t.cluster.name));
        let fresh = leaf.not_after > t.now + RENEW_BEFORE && leaf.not_before <= t.now;
        let Some(ca) = target_ca else { continue };
        let data = &mut objects.get_mut(id)["data"];
        if by_target && fresh && leaf.same_identity(&wanted) {
            if secret_text(data, "ca.crt").is_some_and(|c| !ca.same_cert(&c)) {
                data["ca.crt"] = Value::String(B64.encode(&ca.cert_pem));
            }
            continue;
        }
        let issued = certs::issue(&wanted, ca, t.now)
            .map_err(|source| RenderError::Certificate { object, source })?;
        data["tls.crt"] = Value::String(B64.encode(&issued.cert_pem));
        data["tls.key"] = Value::String(B64.encode(&issued.key_pem));
        if data.get("ca.crt").is_some() {
            data["ca.crt"] = Value::String(B64.encode(&ca.cert_pem));
        }
    }
    Ok(())
}

/// The env var through which the chart hands certgen its certificate list.
const CERTGEN_CONFIG_ENV: &str = "CILIUM_CERTGEN_CONFIG";

/// certgen (`tls.auto.method=cronJob`): the certificate names in its CronJobs and Jobs (Helm
/// hooks up to 1.18). The text is edited in place so the document keeps its exact form; a Job
/// named after the hash of its spec (1.19+: `hubble-generate-certs-<sha256[:10]>`) is renamed
/// with the hash of the edited spec, as the chart would name it.
fn certgen(objects: &mut Objects, ns: &str, old: &str, t: &Target) -> Result<(), RenderError> {
    for id in objects.of_kinds(&["Job", "CronJob"], ns) {
        let mut renames: Vec<(String, String)> = Vec::new();
        for (_, container) in containers(objects.get(id)) {
            for env in container["env"].as_array().into_iter().flatten() {
                let Some(text) = env["value"]
                    .as_str()
                    .filter(|_| env["name"] == CERTGEN_CONFIG_ENV)
                else {
                    continue;
                };
                let config = crate::yaml::parse(text).map_err(|e| RenderError::Invalid {
                    object: objects.describe(id),
                    message: format!("{CERTGEN_CONFIG_ENV}: {}", e.message),
                })?;
                for cert in config["certs"].as_array().into_iter().flatten() {
                    let hosts = cert["hosts"].as_array().into_iter().flatten();
                    for name in std::iter::once(&cert["commonName"])
                        .chain(hosts)
                        .filter_map(Value::as_str)
                    {
                        let renamed = rename_cert_name(name, old, &t.cluster.name);
                        if renamed != name && !renames.iter().any(|(from, _)| from == name) {
                            renames.push((name.to_string(), renamed));
                        }
                    }
                }
            }
        }
        if renames.is_empty() {
            continue;
        }
        let mut text = objects.raw(id).to_string();
        for (from, to) in &renames {
            text = replace_token(&text, from, to);
        }
        if objects.get(id)["kind"] == "Job"
            && let Some(name) = objects.get(id)["metadata"]["name"].as_str()
            && let Some((prefix, hash)) = name.rsplit_once('-')
            && hash.len() == 10
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && let Some(new_hash) = spec_hash(&text)
        {
            text = text.replacen(
                &format!("name: {name}"),
                &format!("name: {prefix}-{new_hash}"),
                1,
            );
        }
        objects.set_raw(id, text)?;
    }
    Ok(())
}

/// The chart's `$jobSpec | sha256sum | trunc 10`: the text from the `spec:` line to the end.
fn spec_hash(doc: &str) -> Option<String> {
    use sha2::Digest;
    let start = if doc.starts_with("spec:\n") {
        0
    } else {
        doc.find("\nspec:\n")? + 1
    };
    let digest = sha2::Sha256::digest(doc[start..].trim_end_matches('\n').as_bytes());
    Some(hex::encode(digest)[..10].to_string())
}

/// Replaces `from` where it stands as a whole name (not inside a longer name).
fn replace_token(text: &str, from: &str, to: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(is_name) || after.is_some_and(is_name) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// A base64 `data` entry of a Secret, decoded as text.
fn secret_text(data: &Value, key: &str) -> Option<String> {
    let raw = data.get(key)?.as_str()?;
    let bytes = B64
        .decode(raw.split_whitespace().collect::<String>())
        .ok()?;
    String::from_utf8(bytes).ok()
}
