//! A mesh of several CAs (`trust: bundle`): where a live cluster's chart mounts its CA bundle
//! (`tls.caBundle`), what that bundle holds, and what the agents, KVStoreMesh and the
//! clustermesh-apiserver's etcd trust. Pure: the objects are fetched at the edge.
//!
//! From the Cilium chart templates (1.16.19 to 1.20.0): with `tls.caBundle.enabled` the agents'
//! projected volume `clustermesh-secrets` (`cilium-agent/daemonset.yaml`) takes
//! `common-etcd-client-ca.crt` and `local-etcd-client-ca.crt` from the bundle (a ConfigMap, or a
//! Secret with `useSecret`, entry `tls.caBundle.key`) instead of `ca.crt` of
//! `clustermesh-apiserver-remote-cert` / `-local-cert`; every peer's etcd config names
//! `trusted-ca-file: /var/lib/cilium/clustermesh/common-etcd-client-ca.crt`
//! (`clustermesh-config/_helpers.tpl`). The clustermesh-apiserver's etcd takes its client CA
//! (`etcd-server-secrets`, `ca.crt`) from the bundle on every version. KVStoreMesh's own volume
//! (`kvstoremesh-secrets`) takes it from the bundle only from 1.18; 1.16 and 1.17 keep `ca.crt`
//! of `clustermesh-apiserver-remote-cert`.

use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::Cluster;
use super::state::{Finding, Live, secret_text};

/// What the mesh file says the clusters' CAs are.
#[derive(Debug, Clone)]
pub enum ExpectedCas {
    /// One CA: the mesh file's `ca:` (PEM), or, without it, the first cluster's live one.
    Shared(Option<String>),
    /// Several CAs: each cluster's own (cluster name, PEM), in mesh-file order.
    Bundle(Vec<(String, String)>),
}

/// The object the chart mounts the CA bundle from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRef {
    /// A Secret (`tls.caBundle.useSecret`), else a ConfigMap.
    pub secret: bool,
    pub name: String,
    pub key: String,
}

impl BundleRef {
    pub fn kind(&self) -> &'static str {
        if self.secret { "Secret" } else { "ConfigMap" }
    }
}

impl std::fmt::Display for BundleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.kind(), self.name, self.key)
    }
}

/// The chart's own certificate Secrets: a projected `ca.crt` from one of them is the cluster's
/// own CA, not a bundle.
const CERT_SECRETS: [&str; 4] = [
    "clustermesh-apiserver-remote-cert",
    "clustermesh-apiserver-local-cert",
    "clustermesh-apiserver-server-cert",
    "clustermesh-apiserver-admin-cert",
];

/// The source of `path` in the projected volume `volume` of a workload: (is a Secret, name, key).
pub fn projected_source(
    workload: &Value,
    volume: &str,
    path: &str,
) -> Option<(bool, String, String)> {
    let volumes = workload["spec"]["template"]["spec"]["volumes"].as_array()?;
    let v = volumes.iter().find(|v| v["name"] == volume)?;
    for source in v["projected"]["sources"].as_array()? {
        for (kind, secret) in [("secret", true), ("configMap", false)] {
            let s = &source[kind];
            let Some(name) = s["name"].as_str() else {
                continue;
            };
            for item in s["items"].as_array().into_iter().flatten() {
                if item["path"] == path
                    && let Some(key) = item["key"].as_str()
                {
                    return Some((secret, name.to_string(), key.to_string()));
                }
            }
        }
    }
    None
}

/// A projected source that is a CA bundle (not one of the chart's certificate Secrets).
pub fn as_bundle((secret, name, key): (bool, String, String)) -> Option<BundleRef> {
    (!(secret && CERT_SECRETS.contains(&name.as_str()))).then_some(BundleRef { secret, name, key })
}

/// Every certificate (DER) of a PEM text.
pub fn pem_ders(text: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .collect()
}

/// A certificate as messages name it: `CN=…, serial …`.
pub fn label(der: &[u8]) -> String {
    match X509Certificate::from_der(der) {
        Ok((_, c)) => format!("{}, serial {}", c.subject(), c.raw_serial_as_string()),
        Err(_) => "an unreadable certificate".into(),
    }
}

impl Live {
    /// Where this cluster's chart mounts a CA bundle from (`tls.caBundle.enabled`): the agents'
    /// source of `common-etcd-client-ca.crt`, else the clustermesh-apiserver etcd's client CA.
    pub fn ca_bundle_ref(&self) -> Option<BundleRef> {
        let from_agents = self.agents.as_ref().and_then(|ds| {
            projected_source(ds, "clustermesh-secrets", "common-etcd-client-ca.crt")
        });
        let from_apiserver = self
            .apiserver
            .as_ref()
            .and_then(|d| projected_source(d, "etcd-server-secrets", "ca.crt"));
        from_agents
            .and_then(as_bundle)
            .or_else(|| from_apiserver.and_then(as_bundle))
    }

    /// The CA bundle's text, when the chart mounts one and it exists.
    pub fn ca_bundle_text(&self) -> Option<String> {
        let r = self.ca_bundle_ref()?;
        let object = self.ca_bundle.as_ref()?;
        if r.secret {
            secret_text(object, &r.key)
        } else {
            object["data"][r.key.as_str()].as_str().map(str::to_string)
        }
    }

    /// Whether the component that dials the peers reads their CA from the bundle: the agents, or
    /// with KVStoreMesh the `kvstoremesh` container (its own volume: the bundle from 1.18 on).
    fn dialer_uses_bundle(&self) -> Option<bool> {
        let (workload, volume) = if self.kvstoremesh() {
            (self.apiserver.as_ref()?, "kvstoremesh-secrets")
        } else {
            (self.agents.as_ref()?, "clustermesh-secrets")
        };
        let source = projected_source(workload, volume, "common-etcd-client-ca.crt")?;
        Some(as_bundle(source).is_some())
    }

    /// The CAs this cluster trusts peers' clustermesh-apiservers with (PEM), and where they come
    /// from: its CA bundle when the dialing component mounts it, else `ca.crt` of
    /// `clustermesh-apiserver-remote-cert`.
    pub fn peer_trust(&self) -> (String, Option<String>) {
        if self.dialer_uses_bundle() == Some(true)
            && let Some(r) = self.ca_bundle_ref()
        {
            return (format!("its CA bundle, {r}"), self.ca_bundle_text());
        }
        (
            "Secret clustermesh-apiserver-remote-cert (ca.crt)".into(),
            self.remote_cert
                .as_ref()
                .and_then(|s| secret_text(s, "ca.crt")),
        )
    }

    /// The CAs whose client certificates this cluster's clustermesh-apiserver etcd admits (PEM),
    /// and where they come from: the CA bundle when its etcd mounts it, else `cilium-ca`.
    pub fn client_trust(&self) -> (String, Option<String>) {
        let bundle = self
            .apiserver
            .as_ref()
            .and_then(|d| projected_source(d, "etcd-server-secrets", "ca.crt"))
            .and_then(as_bundle);
        match bundle {
            Some(r) => (format!("its CA bundle, {r}"), self.ca_bundle_text()),
            None => ("its Secret cilium-ca".into(), self.ca_cert()),
        }
    }
}

/// The upgrade that makes a cluster's chart carry the mesh's CA bundle.
fn upgrade_hint(c: &Cluster) -> String {
    format!(
        "with `tls.caBundle.enabled: true` in your values, `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values -f values.yaml` (helm upgrade with the post-renderer: it writes every mesh CA into the bundle; GitOps: `kubectl mesh values --cluster {}`)",
        c.name, c.name
    )
}

/// A mesh of several CAs: each cluster's `cilium-ca` must be the CA the mesh file names for it,
/// and its CA bundle must hold every cluster's CA and nothing else (a CA no cluster has is a
/// stale one, or a stranger's).
pub fn bundle_findings(cas: &[(String, String)], clusters: &[(&Cluster, &Live)]) -> Vec<Finding> {
    let expected: Vec<(&str, Vec<u8>)> = cas
        .iter()
        .filter_map(|(c, pem)| Some((c.as_str(), pem_ders(pem).into_iter().next()?)))
        .collect();
    let mut out = Vec::new();
    for (c, l) in clusters {
        let mut push = |message: String, hint: String| {
            out.push(Finding {
                cluster: c.name.clone(),
                check: "ca",
                message,
                hint,
            })
        };
        let own = expected.iter().find(|(n, _)| *n == c.name).map(|(_, d)| d);
        match l.ca_cert().map(|p| pem_ders(&p)) {
            None => push(
                "Secret cilium-ca is missing".into(),
                format!(
                    "install Cilium in {} with its CA (the mesh file's ca.cert for it)",
                    c.name
                ),
            ),
            Some(live) if live.first().is_some_and(|d| Some(d) != own) => push(
                format!(
                    "Secret cilium-ca ({}) is not the CA the mesh file names for {} (ca.cert: {})",
                    label(&live[0]),
                    c.name,
                    own.map_or("none".into(), |d| label(d))
                ),
                format!(
                    "set cluster {}'s `ca: {{cert: …}}` in the mesh file to its cilium-ca's ca.crt, or restore that CA in the cluster",
                    c.name
                ),
            ),
            Some(_) => {}
        }
        let Some(r) = l.ca_bundle_ref() else {
            push(
                "the chart mounts no CA bundle (tls.caBundle.enabled is off): its agents trust only its own CA, so every peer of another CA is refused".into(),
                upgrade_hint(c),
            );
            continue;
        };
        let Some(text) = l.ca_bundle_text() else {
            push(
                format!("the CA bundle {r} is missing: the agents trust no CA at all"),
                upgrade_hint(c),
            );
            continue;
        };
        let held = pem_ders(&text);
        let missing: Vec<String> = expected
            .iter()
            .filter(|(_, d)| !held.contains(d))
            .map(|(n, d)| format!("{n}'s ({})", label(d)))
            .collect();
        let strangers: Vec<String> = held
            .iter()
            .filter(|d| !expected.iter().any(|(_, e)| e == *d))
            .map(|d| label(d))
            .collect();
        if !missing.is_empty() {
            push(
                format!("the CA bundle {r} lacks the CA of {}", missing.join(", ")),
                upgrade_hint(c),
            );
        }
        if !strangers.is_empty() {
            push(
                format!(
                    "the CA bundle {r} trusts a CA that is no cluster's in the mesh file (a stale or foreign CA): {}",
                    strangers.join("; ")
                ),
                upgrade_hint(c),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(source: Value) -> Value {
        json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "clustermesh-secrets", "projected": {"sources": [
                {"secret": {"name": "cilium-clustermesh", "optional": true}},
                {"secret": {"name": "clustermesh-apiserver-remote-cert", "items": [
                    {"key": "tls.key", "path": "common-etcd-client.key"},
                    {"key": "tls.crt", "path": "common-etcd-client.crt"}]}},
                source]}}]}}}})
    }

    #[test]
    fn the_bundle_is_where_the_agents_read_the_peers_ca() {
        let bundle = ds(
            json!({"configMap": {"name": "cilium-root-ca.crt", "items": [
            {"key": "ca.crt", "path": "common-etcd-client-ca.crt"}]}}),
        );
        let live = Live {
            agents: Some(bundle),
            ca_bundle: Some(json!({"data": {"ca.crt": "PEM"}})),
            ..Live::default()
        };
        let r = live.ca_bundle_ref().unwrap();
        assert_eq!(
            (r.secret, r.name.as_str(), r.key.as_str()),
            (false, "cilium-root-ca.crt", "ca.crt")
        );
        assert_eq!(live.ca_bundle_text().as_deref(), Some("PEM"));
        assert!(live.peer_trust().0.contains("CA bundle"));

        // Without the bundle the chart projects ca.crt of the remote certificate's Secret.
        let own = ds(
            json!({"secret": {"name": "clustermesh-apiserver-remote-cert", "items": [
            {"key": "ca.crt", "path": "common-etcd-client-ca.crt"}]}}),
        );
        let live = Live {
            agents: Some(own),
            ..Live::default()
        };
        assert_eq!(live.ca_bundle_ref(), None);
        assert!(live.peer_trust().0.contains("remote-cert"));
    }

    /// KVStoreMesh dials the peers: what it mounts decides (1.16/1.17: its own CA even with the
    /// bundle on), and the apiserver's etcd admits clients of the bundle.
    #[test]
    fn with_kvstoremesh_its_own_volume_decides() {
        let bundle = json!({"configMap": {"name": "cilium-root-ca.crt", "items": [
            {"key": "ca.crt", "path": "common-etcd-client-ca.crt"}]}});
        let remote = json!({"secret": {"name": "clustermesh-apiserver-remote-cert", "items": [
            {"key": "ca.crt", "path": "common-etcd-client-ca.crt"}]}});
        let apiserver = |kvstoremesh_source: &Value| {
            json!({"spec": {"template": {"spec": {
                "containers": [{"name": "etcd"}, {"name": "kvstoremesh"}],
                "volumes": [
                    {"name": "etcd-server-secrets", "projected": {"sources": [
                        {"secret": {"name": "clustermesh-apiserver-server-cert", "items": [{"key": "tls.crt", "path": "tls.crt"}]}},
                        {"configMap": {"name": "cilium-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}},
                    {"name": "kvstoremesh-secrets", "projected": {"sources": [kvstoremesh_source]}}]}}}})
        };
        let old = Live {
            agents: Some(ds(bundle.clone())),
            apiserver: Some(apiserver(&remote)),
            ca_bundle: Some(json!({"data": {"ca.crt": "BUNDLE"}})),
            remote_cert: Some(json!({"data": {"ca.crt": "T1dO"}})),
            ..Live::default()
        };
        assert_eq!(
            old.peer_trust(),
            (
                "Secret clustermesh-apiserver-remote-cert (ca.crt)".to_string(),
                Some("OWN".to_string())
            )
        );
        assert_eq!(old.client_trust().1.as_deref(), Some("BUNDLE"));
        let new = Live {
            apiserver: Some(apiserver(&bundle)),
            ..old
        };
        assert_eq!(new.peer_trust().1.as_deref(), Some("BUNDLE"));
    }
}
