//! `kubectl mesh values`: the Helm values that make the Cilium chart render one cluster of the
//! mesh as `render` would, for tools that render the chart themselves (Argo CD, Flux). Pure: the
//! user's values files come in already read, the values go out as a JSON value.
//!
//! The values are layered after the user's own files (`helm -f theirs.yaml -f mesh.yaml`), so
//! they follow Helm's merge: mappings merge key by key, lists and scalars are replaced. A list the
//! mesh extends (`ipMasqAgent.config.nonMasqueradeCIDRs`, `clustermesh.config.clusters`) therefore
//! comes out whole: the user's entries first, then the mesh's, as `render` orders them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::Target;
use crate::mesh::{Cluster, DEFAULT_MAX_CONNECTED_CLUSTERS, RoutingMode};

/// The chart's placeholders for a cluster in no mesh (`cluster.name`, `cluster.id`).
const DEFAULT_NAME: &str = "default";
/// `clustermesh.config.domain`: the peers' host names render pins (`<peer>.mesh.cilium.io`).
const DOMAIN: &str = "mesh.cilium.io";

/// One of the user's values files, read and parsed (`null` for an empty file).
pub struct ValuesFile<'a> {
    /// How errors name it (its path).
    pub name: &'a str,
    pub values: &'a Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    #[error(
        "{file}: {path} is {found}, but the mesh file says {wanted} for cluster {cluster:?}: remove it from the values file (kubectl-mesh sets it) or fix the mesh file"
    )]
    Conflict {
        file: String,
        path: String,
        found: String,
        wanted: String,
        cluster: String,
    },
    #[error("{file}: {path} {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
    #[error("cluster {cluster:?}: {message}")]
    Unsupported { cluster: String, message: String },
}

/// Where the chart gets the mesh CA from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaSource {
    /// `tls.ca.cert` and `tls.ca.key` in the values (the key in clear).
    Values,
    /// The Secret `cilium-ca` already in the cluster (`kubectl mesh ca sync`), which certgen
    /// reuses (`tls.auto.method=cronJob`, `--ca-reuse-secret`); the values carry only the
    /// certificate (`tls.ca.cert`, copied into the `ca.crt` of certificates you provide).
    /// Allowed only when the values make the chart render no CA of its own.
    Cluster,
}

/// The values for `t.cluster`, after checking the user's `files` (in `-f` order) against the
/// mesh file. `files` may be empty: then nothing can be checked and the lists the mesh extends
/// hold the mesh's entries only.
pub fn values(files: &[ValuesFile], t: &Target, ca_source: CaSource) -> Result<Value, ValuesError> {
    build(files, t, ca_source, true)
}

/// The user's `files` against the mesh file for `t.cluster`, for a release the post-renderer
/// finishes (`kubectl mesh upgrade`): the same conflicts as [`values`], without what only values
/// that must stand alone need (the apiserver enabled for a NodePort: `--reuse-values` may keep
/// it from the release).
pub fn check(files: &[ValuesFile], t: &Target) -> Result<(), ValuesError> {
    build(files, t, CaSource::Values, false).map(drop)
}

fn build(
    files: &[ValuesFile],
    t: &Target,
    ca_source: CaSource,
    standalone: bool,
) -> Result<Value, ValuesError> {
    let user = merge_all(files);
    let check = Checker {
        files,
        user: &user,
        t,
        standalone,
    };
    let c = t.cluster;
    let mut out = Map::new();

    check.scalar(&["cluster", "name"], Some(DEFAULT_NAME), &json!(c.name))?;
    check.scalar(&["cluster", "id"], Some("0"), &json!(c.id))?;
    out.insert("cluster".into(), json!({"name": c.name, "id": c.id}));

    let max = t.mesh.max_connected_clusters();
    check.scalar(
        &["clustermesh", "maxConnectedClusters"],
        Some(&DEFAULT_MAX_CONNECTED_CLUSTERS.to_string()),
        &json!(max),
    )?;
    let mut clustermesh = Map::new();
    clustermesh.insert("maxConnectedClusters".into(), json!(max));
    if let Some(config) = check.peers()? {
        clustermesh.insert("config".into(), config);
    }
    if let Some(port) = c.apiserver_node_port {
        check.node_port(port)?;
        clustermesh.insert(
            "apiserver".into(),
            json!({"service": {"type": "NodePort", "nodePort": port}}),
        );
    }
    out.insert("clustermesh".into(), Value::Object(clustermesh));

    if t.mesh.routing_mode == RoutingMode::Native {
        let cidr = c.native_routing_cidr();
        if cidr.contains(':') {
            return Err(ValuesError::Unsupported {
                cluster: c.name.clone(),
                message: format!(
                    "routes {cidr} natively, but kubectl-mesh sets IPv4 routing only; set ipv6NativeRoutingCIDR in your values"
                ),
            });
        }
        check.scalar(&["ipv4NativeRoutingCIDR"], None, &json!(cidr))?;
        out.insert("ipv4NativeRoutingCIDR".into(), json!(cidr));
        out.insert(
            "ipMasqAgent".into(),
            json!({"enabled": true, "config": {"nonMasqueradeCIDRs": check.non_masquerade()?}}),
        );
    }
    check.routing_mode(match t.mesh.routing_mode {
        RoutingMode::Native => "native",
        RoutingMode::Tunnel => "tunnel",
    })?;
    check.scalar(&["namespaceOverride"], Some(""), &json!(t.mesh.namespace()))?;

    if let Some(bundle) = t.bundle {
        // A mesh of several CAs: the cluster's own CA, and the bundle of every mesh CA.
        check.ca(&bundle.own)?;
        check.ca_bundle(bundle)?;
        let cert = B64.encode(&bundle.own);
        let mut tls = match (t.mesh_ca, ca_source) {
            (Some(ca), CaSource::Values) => {
                json!({"ca": {"cert": B64.encode(&ca.cert_pem), "key": B64.encode(&ca.key_pem)}})
            }
            // No key in the mesh file (or --ca-in-cluster): the key stays in the cluster, so
            // values that stand alone must not make the chart issue with a CA of its own (a
            // release the post-renderer finishes looks up the live cilium-ca instead).
            _ => {
                if standalone {
                    check.no_chart_ca()?;
                }
                json!({"ca": {"cert": cert}})
            }
        };
        tls["caBundle"] = json!({"enabled": true, "content": bundle.content()});
        out.insert("tls".into(), tls);
    } else if let Some(ca) = t.mesh_ca {
        check.ca(&ca.cert_pem)?;
        let cert = B64.encode(&ca.cert_pem);
        let tls = match ca_source {
            CaSource::Values => json!({"ca": {"cert": cert, "key": B64.encode(&ca.key_pem)}}),
            CaSource::Cluster => {
                check.no_chart_ca()?;
                json!({"ca": {"cert": cert}})
            }
        };
        out.insert("tls".into(), tls);
    }
    Ok(Value::Object(out))
}

/// Helm's merge of `-f` files: later files win, mappings merge key by key, `null` deletes.
fn merge_all(files: &[ValuesFile]) -> Value {
    let mut merged = Value::Object(Map::new());
    for f in files {
        if let Value::Object(_) = f.values {
            merge(&mut merged, f.values);
        }
    }
    merged
}

fn merge(into: &mut Value, from: &Value) {
    let (Value::Object(into), Value::Object(from)) = (into, from) else {
        return;
    };
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (_, Value::Null) => {
                into.remove(k);
            }
            (Some(existing @ Value::Object(_)), Value::Object(_)) => merge(existing, v),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn lookup<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter()
        .try_fold(v, |v, k| v.as_object()?.get(*k))
        .filter(|v| !v.is_null())
}

/// A scalar as Helm prints it in a template (`1` and `"1"` are the same cluster id).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Checker<'a> {
    files: &'a [ValuesFile<'a>],
    user: &'a Value,
    t: &'a Target<'a>,
    /// The values must render the cluster on their own (`values`), not through render.
    standalone: bool,
}

impl Checker<'_> {
    /// The last file that sets `path` (the one whose value counts).
    fn file_of(&self, path: &[&str]) -> String {
        self.files
            .iter()
            .rev()
            .find(|f| lookup(f.values, path).is_some())
            .map_or_else(|| "the values files".to_string(), |f| f.name.to_string())
    }

    fn conflict(&self, path: &[&str], found: &Value, wanted: String) -> ValuesError {
        ValuesError::Conflict {
            file: self.file_of(path),
            path: path.join("."),
            found: found.to_string(),
            wanted,
            cluster: self.t.cluster.name.clone(),
        }
    }

    fn invalid(&self, path: &[&str], message: String) -> ValuesError {
        ValuesError::Invalid {
            file: self.file_of(path),
            path: path.join("."),
            message,
        }
    }

    /// A value the mesh owns: the user may leave it out, repeat the chart's `default` (as render
    /// accepts the chart's placeholder in the stream) or say the same; anything else conflicts.
    fn scalar(
        &self,
        path: &[&str],
        default: Option<&str>,
        wanted: &Value,
    ) -> Result<(), ValuesError> {
        let Some(found) = lookup(self.user, path) else {
            return Ok(());
        };
        let text = scalar_text(found);
        if text == scalar_text(wanted) || default.is_some_and(|d| d == text) {
            return Ok(());
        }
        Err(self.conflict(path, found, wanted.to_string()))
    }

    /// `routingMode` set by the user must be the mesh file's.
    fn routing_mode(&self, mesh: &str) -> Result<(), ValuesError> {
        match lookup(self.user, &["routingMode"]) {
            Some(found) if !scalar_text(found).is_empty() && scalar_text(found) != mesh => {
                Err(self.conflict(&["routingMode"], found, format!("{mesh:?}")))
            }
            _ => Ok(()),
        }
    }

    /// The user's `nonMasqueradeCIDRs`, then every peer's pod CIDR not already there.
    fn non_masquerade(&self) -> Result<Vec<String>, ValuesError> {
        let path = ["ipMasqAgent", "config", "nonMasqueradeCIDRs"];
        let mut cidrs = Vec::new();
        if let Some(found) = lookup(self.user, &path) {
            let Some(list) = found.as_array() else {
                return Err(self.invalid(&path, format!("is {found}, not a list of CIDRs")));
            };
            for item in list {
                let Some(cidr) = item.as_str() else {
                    return Err(self.invalid(&path, format!("holds {item}, not a CIDR")));
                };
                cidrs.push(cidr.to_string());
            }
        }
        for peer in self.t.mesh.peers_of(&self.t.cluster.name) {
            if !cidrs.contains(&peer.pod_cidr) {
                cidrs.push(peer.pod_cidr.clone());
            }
        }
        Ok(cidrs)
    }

    /// `clustermesh.config` with the user's clusters the mesh file does not know, then every peer
    /// with an endpoint; `None` when no peer has one yet (render adds no peers either).
    fn peers(&self) -> Result<Option<Value>, ValuesError> {
        let t = self.t;
        let peers: Vec<&Cluster> = t
            .mesh
            .peers_of(&t.cluster.name)
            .filter(|c| c.clustermesh.is_some())
            .collect();
        if peers.is_empty() {
            return Ok(None);
        }
        let domain = ["clustermesh", "config", "domain"];
        if let Some(found) = lookup(self.user, &domain)
            && scalar_text(found) != DOMAIN
        {
            return Err(self.conflict(
                &domain,
                found,
                format!("{DOMAIN:?} (the peers' host names render pins)"),
            ));
        }
        let path = ["clustermesh", "config", "clusters"];
        let mine: Vec<Value> = peers.iter().map(|p| peer_entry(p)).collect();
        let mut clusters = Vec::new();
        if let Some(found) = lookup(self.user, &path) {
            let Some(list) = found.as_array() else {
                return Err(self.invalid(&path, format!("is {found}, not a list of clusters")));
            };
            for entry in list {
                let Some(name) = entry["name"].as_str() else {
                    return Err(self.invalid(&path, format!("holds {entry}, which has no name")));
                };
                if name == t.cluster.name {
                    return Err(self.invalid(
                        &path,
                        format!("lists cluster {name:?} itself as a peer: remove the entry (kubectl-mesh lists the peers)"),
                    ));
                }
                if !t.mesh.clusters.iter().any(|c| c.name == name) {
                    clusters.push(entry.clone());
                    continue;
                }
                match mine.iter().find(|m| m["name"] == name) {
                    Some(m) if m == entry => {}
                    Some(m) => return Err(self.conflict(&path, entry, m.to_string())),
                    None => {
                        return Err(self.invalid(
                            &path,
                            format!("lists {name:?}, a cluster of the mesh file without a clustermesh endpoint: remove the entry or run `kubectl mesh connect`"),
                        ));
                    }
                }
            }
        }
        clusters.extend(mine);
        Ok(Some(json!({"enabled": true, "clusters": clusters})))
    }

    /// An apiserver NodePort needs the apiserver, and a Service of type NodePort.
    fn node_port(&self, port: u16) -> Result<(), ValuesError> {
        let cluster = &self.t.cluster.name;
        if self.standalone && !self.files.is_empty() {
            let on = lookup(self.user, &["clustermesh", "useAPIServer"]);
            if on != Some(&Value::Bool(true)) {
                return Err(ValuesError::Unsupported {
                    cluster: cluster.clone(),
                    message: format!(
                        "the mesh file sets apiserverNodePort {port}, but the values files do not enable the clustermesh-apiserver: set clustermesh.useAPIServer: true"
                    ),
                });
            }
        }
        let path = ["clustermesh", "apiserver", "service", "type"];
        if let Some(found) = lookup(self.user, &path)
            && scalar_text(found) != "NodePort"
        {
            return Err(self.invalid(
                &path,
                format!("is {found}, but the mesh file sets apiserverNodePort {port} for cluster {cluster:?}: a NodePort applies only to type NodePort"),
            ));
        }
        Ok(())
    }

    /// The chart renders a `cilium-ca` of its own (`templates/cilium-ca-secret.yaml`: the
    /// `lookup` of the live Secret under Helm, a new CA under `helm template`/Argo CD) when Helm
    /// issues the Hubble or clustermesh-apiserver certificates (`tls.auto.method=helm`, the
    /// default), or when `tls.ca.key` is set. Refused then: the CA would not be the cluster's.
    fn no_chart_ca(&self) -> Result<(), ValuesError> {
        let on = |path: &[&str], default: bool| {
            lookup(self.user, path).map_or(default, |v| v.as_bool().unwrap_or(true))
        };
        let method =
            |path: &[&str]| lookup(self.user, path).map_or_else(|| "helm".to_string(), scalar_text);
        let mut helm_made = Vec::new();
        if on(&["clustermesh", "useAPIServer"], false)
            && on(
                &["clustermesh", "apiserver", "tls", "auto", "enabled"],
                true,
            )
            && method(&["clustermesh", "apiserver", "tls", "auto", "method"]) == "helm"
        {
            helm_made.push("clustermesh.apiserver.tls.auto.method");
        }
        if on(&["hubble", "enabled"], true)
            && on(&["hubble", "tls", "enabled"], true)
            && on(&["hubble", "tls", "auto", "enabled"], true)
            && method(&["hubble", "tls", "auto", "method"]) == "helm"
            && (on(&["agent"], true)
                || on(&["hubble", "relay", "enabled"], false)
                || on(&["hubble", "ui", "enabled"], false))
        {
            helm_made.push("hubble.tls.auto.method");
        }
        if self.files.is_empty() {
            return Err(ValuesError::Unsupported {
                cluster: self.t.cluster.name.clone(),
                message: "the CA can come from the cluster only when the chart makes no CA of its own, which kubectl-mesh checks in your values: pass them with -f".into(),
            });
        }
        if !helm_made.is_empty() {
            return Err(ValuesError::Unsupported {
                cluster: self.t.cluster.name.clone(),
                message: format!(
                    "with the CA from the cluster, the chart would still make a CA of its own ({} is helm, the default): set it to cronJob (certgen reuses the Secret cilium-ca) or certmanager in your values, or pass the CA in the values (--show-secrets)",
                    helm_made.join(" and ")
                ),
            });
        }
        if lookup(self.user, &["tls", "ca", "key"]).is_some_and(|k| !scalar_text(k).is_empty()) {
            return Err(self.invalid(
                &["tls", "ca", "key"],
                "is set: the chart then renders a cilium-ca of its own; remove it (the CA comes from the cluster)".into(),
            ));
        }
        Ok(())
    }

    /// The user's `tls.caBundle.content`, when set, may hold only the mesh's CAs: the mesh file
    /// owns the bundle of a mesh of several CAs.
    fn ca_bundle(&self, bundle: &super::Bundle) -> Result<(), ValuesError> {
        let path = ["tls", "caBundle", "content"];
        let Some(found) = lookup(self.user, &path) else {
            return Ok(());
        };
        let text = scalar_text(found);
        let foreign = super::certs::pem_blocks(&text)
            .iter()
            .filter(|b| !bundle.cas.iter().any(|c| super::certs::same_cert_pem(c, b)))
            .count();
        if foreign == 0 {
            return Ok(());
        }
        Err(ValuesError::Conflict {
            file: self.file_of(&path),
            path: path.join("."),
            found: format!("a bundle with {foreign} CA(s) that are no cluster's in the mesh file"),
            wanted:
                "the CAs of the mesh's clusters (kubectl-mesh writes the bundle; remove the value)"
                    .into(),
            cluster: self.t.cluster.name.clone(),
        })
    }

    /// The user's `tls.ca` must be the mesh CA (or the cluster's own), or absent.
    fn ca(&self, ca_pem: &str) -> Result<(), ValuesError> {
        let path = ["tls", "ca", "cert"];
        let Some(found) = lookup(self.user, &path) else {
            return Ok(());
        };
        let text = scalar_text(found);
        if text.is_empty() {
            return Ok(());
        }
        let pem = B64
            .decode(text.split_whitespace().collect::<String>())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if pem
            .as_deref()
            .is_some_and(|p| super::certs::same_cert_pem(ca_pem, p))
        {
            return Ok(());
        }
        Err(ValuesError::Conflict {
            file: self.file_of(&path),
            path: path.join("."),
            found: "another CA".into(),
            wanted: if self.t.bundle.is_some() {
                "the cluster's own CA (its ca: in the mesh file)".into()
            } else {
                "the mesh CA (ca: in the mesh file)".into()
            },
            cluster: self.t.cluster.name.clone(),
        })
    }
}

/// A peer as `clustermesh.config.clusters` lists it: IPs (the chart pins `<name>.<domain>` to them
/// with host aliases) or a DNS address.
fn peer_entry(peer: &Cluster) -> Value {
    let mut e = Map::new();
    e.insert("name".into(), json!(peer.name));
    if let Some(ep) = &peer.clustermesh {
        if ep.ips.is_empty() {
            e.insert(
                "address".into(),
                json!(ep.address.as_deref().unwrap_or_default()),
            );
        } else {
            e.insert("ips".into(), json!(ep.ips));
        }
        e.insert("port".into(), json!(ep.port));
    }
    Value::Object(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::Mesh;

    const MESH: &str = "apiVersion: kubectl-mesh/v1alpha1
kind: Mesh
routingMode: native
clusters:
- {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, clustermesh: {port: 32379, ips: [172.18.0.2]}}
- {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16, apiserverNodePort: 32380, clustermesh: {port: 32380, address: east.example.org}}
- {name: south, id: 3, context: kind-south, podCIDR: 10.4.0.0/16}
";

    /// `values` for the values files `(name, text)` and target `t`.
    fn values_of(files: &[(&str, &str)], t: &Target) -> Result<Value, ValuesError> {
        let parsed: Vec<Value> = files
            .iter()
            .map(|(_, t)| crate::yaml::parse(t).unwrap())
            .collect();
        let files: Vec<ValuesFile> = files
            .iter()
            .zip(&parsed)
            .map(|((name, _), values)| ValuesFile { name, values })
            .collect();
        values(&files, t, CaSource::Values)
    }

    fn run(cluster: &str, files: &[(&str, &str)]) -> Result<Value, ValuesError> {
        let (mesh, _) = Mesh::load(MESH).unwrap();
        let t = Target {
            mesh: &mesh,
            cluster: mesh.cluster(cluster).unwrap(),
            mesh_ca: None,
            now: time::OffsetDateTime::now_utc(),
            bundle: None,
        };
        values_of(files, &t)
    }

    /// A mesh of several CAs: west's own CA (with or without its key) and the bundle of both.
    fn run_bundle(with_key: bool, files: &[(&str, &str)]) -> Result<Value, ValuesError> {
        let (mesh, _) = Mesh::load(MESH).unwrap();
        let (w, e) = (
            super::super::certs::tests::test_ca("west"),
            super::super::certs::tests::test_ca("east"),
        );
        let bundle = super::super::Bundle {
            cas: vec![w.cert_pem.trim().into(), e.cert_pem.trim().into()],
            own: w.cert_pem.trim().into(),
        };
        let t = Target {
            mesh: &mesh,
            cluster: mesh.cluster("west").unwrap(),
            mesh_ca: with_key.then_some(&w),
            now: time::OffsetDateTime::now_utc(),
            bundle: Some(&bundle),
        };
        values_of(files, &t)
    }

    #[test]
    fn several_cas_give_the_own_ca_and_the_bundle() {
        let v = run_bundle(true, &[("v.yaml", "tls: {caBundle: {enabled: false}}")]).unwrap();
        let content = v["tls"]["caBundle"]["content"].as_str().unwrap();
        assert_eq!(content.matches("BEGIN CERTIFICATE").count(), 2, "{content}");
        assert!(content.ends_with("-----END CERTIFICATE-----\n"));
        assert_eq!(v["tls"]["caBundle"]["enabled"], true);
        assert!(v["tls"]["ca"]["key"].is_string());
        // Without the key only the certificate, and only when the chart makes no CA itself.
        let err = run_bundle(false, &[("v.yaml", "clustermesh: {useAPIServer: true}")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("clustermesh.apiserver.tls.auto.method"),
            "{err}"
        );
        let certgen = "clustermesh: {useAPIServer: true, apiserver: {tls: {auto: {method: cronJob}}}}\nhubble: {tls: {auto: {method: cronJob}}}";
        let v = run_bundle(false, &[("v.yaml", certgen)]).unwrap();
        assert!(v["tls"]["ca"]["cert"].is_string() && v["tls"]["ca"]["key"].is_null());
        // The mesh file owns the bundle: a foreign CA in the values is refused.
        let stranger = super::super::certs::tests::test_ca("stale").cert_pem;
        let user = format!(
            "tls:\n  caBundle:\n    content: |\n      {}\n",
            stranger.trim().replace('\n', "\n      ")
        );
        let err = run_bundle(true, &[("v.yaml", &user)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("v.yaml: tls.caBundle.content") && err.contains("1 CA(s)"),
            "{err}"
        );
    }

    #[test]
    fn identity_routing_masquerade_and_peers() {
        let v = run("west", &[]).unwrap();
        assert_eq!(v["cluster"], json!({"name": "west", "id": 1}));
        assert_eq!(v["ipv4NativeRoutingCIDR"], "10.0.0.0/16");
        assert_eq!(
            v["ipMasqAgent"]["config"]["nonMasqueradeCIDRs"],
            json!(["10.1.0.0/16", "10.4.0.0/16"])
        );
        // south has no endpoint yet: not a peer in the chart's sense.
        assert_eq!(
            v["clustermesh"]["config"]["clusters"],
            json!([{"name": "east", "address": "east.example.org", "port": 32380}])
        );
        assert!(v["clustermesh"]["apiserver"].is_null());
        assert!(v.get("tls").is_none());
        let e = run("east", &[]).unwrap();
        assert_eq!(
            e["clustermesh"]["config"]["clusters"],
            json!([{"name": "west", "ips": ["172.18.0.2"], "port": 32379}])
        );
        assert_eq!(e["clustermesh"]["apiserver"]["service"]["nodePort"], 32380);
    }

    #[test]
    fn lists_come_out_whole_after_the_users_entries() {
        let user = "ipMasqAgent:\n  config:\n    nonMasqueradeCIDRs: [192.168.0.0/16, 10.4.0.0/16]\nclustermesh:\n  config:\n    clusters:\n    - {name: far, address: far.example.org, port: 2379}\n    - {name: east, address: east.example.org, port: 32380}\n";
        let v = run("west", &[("a.yaml", user)]).unwrap();
        assert_eq!(
            v["ipMasqAgent"]["config"]["nonMasqueradeCIDRs"],
            json!(["192.168.0.0/16", "10.4.0.0/16", "10.1.0.0/16"])
        );
        let names: Vec<&str> = v["clustermesh"]["config"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["far", "east"]);
    }

    #[test]
    fn conflicts_name_the_file_and_the_value() {
        let err = run(
            "west",
            &[
                ("a.yaml", "cluster: {name: west}\n"),
                ("b.yaml", "cluster: {name: north}\n"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("b.yaml: cluster.name is \"north\""),
            "{err}"
        );
        // The chart's placeholders and the same value are fine; a later file may undo an earlier.
        run("west", &[("a.yaml", "cluster: {name: default, id: 0}\n")]).unwrap();
        run(
            "west",
            &[
                ("a.yaml", "cluster: {id: 7}\n"),
                ("b.yaml", "cluster: {id: null}\n"),
            ],
        )
        .unwrap();
        for (text, want) in [
            ("cluster: {id: 9}\n", "cluster.id is 9"),
            (
                "ipv4NativeRoutingCIDR: 10.9.0.0/16\n",
                "ipv4NativeRoutingCIDR",
            ),
            (
                "clustermesh: {maxConnectedClusters: 511}\n",
                "maxConnectedClusters is 511",
            ),
            ("routingMode: tunnel\n", "routingMode is \"tunnel\""),
            ("clustermesh: {config: {domain: x.org}}\n", "domain"),
            (
                "clustermesh: {config: {clusters: [{name: east, address: other.org, port: 1}]}}\n",
                "clustermesh.config.clusters is",
            ),
            (
                "clustermesh: {config: {clusters: [{name: west, address: w, port: 1}]}}\n",
                "itself",
            ),
            (
                "clustermesh: {config: {clusters: [{name: south, address: s, port: 1}]}}\n",
                "without a clustermesh endpoint",
            ),
            (
                "ipMasqAgent: {config: {nonMasqueradeCIDRs: 10.0.0.0/8}}\n",
                "not a list",
            ),
            ("namespaceOverride: cilium\n", "namespaceOverride"),
        ] {
            let err = run("west", &[("v.yaml", text)]).unwrap_err().to_string();
            assert!(
                err.starts_with("v.yaml: ") && err.contains(want),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn a_node_port_needs_the_apiserver_as_a_node_port_service() {
        let err = run("east", &[("v.yaml", "debug: {enabled: true}\n")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("clustermesh.useAPIServer: true"), "{err}");
        let lb = "clustermesh: {useAPIServer: true, apiserver: {service: {type: LoadBalancer}}}\n";
        let err = run("east", &[("v.yaml", lb)]).unwrap_err().to_string();
        assert!(err.contains("type NodePort"), "{err}");
        run("east", &[("v.yaml", "clustermesh: {useAPIServer: true}\n")]).unwrap();
    }
}
