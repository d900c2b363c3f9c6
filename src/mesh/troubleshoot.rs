//! `kubectl mesh troubleshoot`'s judgement of one path of the mesh: cluster A's agents (or its
//! KVStoreMesh) reaching cluster B's clustermesh-apiserver, check by check with fixed ids.
//!
//! Pure: [`plan`] reads what A has configured for B (etcd config, host aliases, client
//! certificate, trusted CA) into the probes the network edge must run (`crate::live::probe`,
//! `crate::live::etcd`), and [`judge`] turns the objects of both clusters and the probes'
//! results into the checks. No key material leaves [`Plan`] except towards the TLS handshakes.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::state::{self, Finding, Live, MESH_DOMAIN, secret_text};
use super::{Cluster, Endpoint, Mesh};

/// Every check of a path, in the order they are reported.
pub const CHECKS: [&str; 14] = [
    "identity",
    "max-connected-clusters",
    "peer-config",
    "endpoint-drift",
    "nodeport-collision",
    "dns",
    "tcp",
    "tls-verify",
    "client-cert",
    "ca-equal",
    "cert-expiry",
    "etcd-cluster-config",
    "etcd-heartbeat",
    "etcd-sync",
];
/// A certificate expiring sooner than this is a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// The clustermesh-apiserver writes `cilium/.heartbeat` every minute; older than this is stale.
pub const HEARTBEAT_MAX_AGE_SECS: i64 = 120;
/// The heartbeat key every Cilium kvstore user keeps fresh.
pub const HEARTBEAT_KEY: &str = "cilium/.heartbeat";
/// The kinds of state a clustermesh-apiserver syncs, each with a canary once done.
pub const SYNC_KINDS: [&str; 4] = ["nodes", "services", "identities", "ip"];

/// `cilium/cluster-config/<cluster>`: the id and capabilities the apiserver announces.
pub fn cluster_config_key(cluster: &str) -> String {
    format!("cilium/cluster-config/{cluster}")
}

/// The canary the apiserver of `cluster` writes when its initial sync of `kind` is complete.
pub fn sync_canary_key(cluster: &str, kind: &str) -> String {
    format!("cilium/synced/{cluster}/cilium/state/{kind}/v1")
}

/// The prefix under which the apiserver of `cluster` keeps its entries of `kind`.
pub fn sync_prefix(cluster: &str, kind: &str) -> String {
    match kind {
        "nodes" | "services" => format!("cilium/state/{kind}/v1/{cluster}/"),
        "identities" => "cilium/state/identities/v1/id/".to_string(),
        _ => format!("cilium/state/{kind}/v1/"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check of one path.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    /// What to run or change; empty when the check is ok.
    pub hint: String,
    pub details: Value,
}

#[derive(Debug, Serialize)]
pub struct PairReport {
    pub from: String,
    pub to: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub pairs: Vec<PairReport>,
    pub summary: Summary,
}

impl Report {
    pub fn new(pairs: Vec<PairReport>) -> Report {
        let mut summary = Summary::default();
        for c in pairs.iter().flat_map(|p| &p.checks) {
            match c.status {
                Status::Ok => summary.ok += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        Report { pairs, summary }
    }
}

/// One ordered pair: A (`from`) dials B (`to`). A cluster that could not be read carries why.
pub struct Pair<'a> {
    pub mesh: &'a Mesh,
    pub mesh_path: &'a str,
    pub from: &'a Cluster,
    pub to: &'a Cluster,
    pub from_live: Result<&'a Live, String>,
    pub to_live: Result<&'a Live, String>,
}

/// Where the endpoints probed for a path come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A's own etcd config for B, in this Secret.
    Configured(&'static str),
    /// A has no config for B: B's endpoint as the mesh file records it or B's Service shows it.
    Expected(&'static str),
    /// Nothing to probe, and why.
    Nothing(String),
}

/// How A's agents find the addresses of an endpoint's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolve {
    /// The endpoint names an address.
    Literal(IpAddr),
    /// Pinned by host aliases (the workload's, or the etcd config's `cilium-host-aliases`).
    Aliases { ips: Vec<IpAddr>, source: String },
    /// A public name, resolved by DNS (asked from the workstation).
    Dns,
    /// A name only host aliases could resolve, and none pins it.
    Unresolvable(String),
}

/// One endpoint URL A uses for B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub resolve: Resolve,
}

/// What the network edge probes for one path, with A's credentials.
#[derive(Clone)]
pub struct Plan {
    pub peer: String,
    pub source: Source,
    pub targets: Vec<Target>,
    /// A's trusted CA for peers (`ca.crt` of `clustermesh-apiserver-remote-cert`), PEM.
    pub trusted_ca: Option<String>,
    /// A's client certificate (`tls.crt`), PEM.
    pub client_cert: Option<String>,
    /// Its private key (`tls.key`), PEM: only for the handshakes, never printed.
    pub client_key: Option<String>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("peer", &self.peer)
            .field("source", &self.source)
            .field("targets", &self.targets)
            .field("trusted_ca", &self.trusted_ca.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .field("client_key", &self.client_key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// What the edge found on one path.
#[derive(Debug, Clone, Default)]
pub struct PathProbe {
    /// One per target, in the plan's order.
    pub resolved: Vec<Resolved>,
    pub addresses: Vec<AddressProbe>,
    /// `None` when not probed (no address accepted a connection).
    pub etcd: Option<Result<EtcdFacts, String>>,
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub addresses: Result<Vec<IpAddr>, String>,
}

#[derive(Debug, Clone)]
pub struct AddressProbe {
    pub address: SocketAddr,
    pub server_name: String,
    /// Milliseconds to connect, or why not.
    pub tcp: Result<u64, String>,
    /// `None` when TCP failed.
    pub tls: Option<TlsProbe>,
}

/// Why a server certificate did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFailure {
    UnknownIssuer,
    NotValidForName,
    Expired,
    NoTrustedCa,
    Other,
}

#[derive(Debug, Clone)]
pub struct TlsProbe {
    /// `Err` when the handshake did not complete (refused, timed out, alert).
    pub handshake: Result<(), String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    /// The server's certificates, leaf first (DER).
    pub chain: Vec<Vec<u8>>,
    /// The server certificate against A's trusted CA, for the server name; `None` when the
    /// server never showed one.
    pub verified: Option<Result<(), (VerifyFailure, String)>>,
    /// Whether the server asked for a client certificate, and whether one was sent.
    pub client_cert_requested: bool,
    pub client_cert_sent: bool,
    /// After the handshake: `Ok` when the server answered (it accepted the client
    /// certificate), `Err` with its alert otherwise; `None` when not reached.
    pub accepted: Option<Result<(), String>>,
}

impl Default for TlsProbe {
    fn default() -> TlsProbe {
        TlsProbe {
            handshake: Err("not tried".into()),
            version: None,
            cipher_suite: None,
            chain: Vec::new(),
            verified: None,
            client_cert_requested: false,
            client_cert_sent: false,
            accepted: None,
        }
    }
}

/// What B's etcd said, read as A's agents would.
#[derive(Debug, Clone, Default)]
pub struct EtcdFacts {
    /// The address that answered.
    pub address: Option<SocketAddr>,
    pub version: String,
    pub cluster_config: Option<String>,
    pub heartbeat: Option<String>,
    /// kind → whether its sync canary exists.
    pub canaries: BTreeMap<String, bool>,
    /// kind → entries under its prefix.
    pub counts: BTreeMap<String, i64>,
}

/// A's etcd config for B as the agents (or KVStoreMesh) read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerConfig {
    pub secret: &'static str,
    pub endpoints: Vec<String>,
    /// `cilium-host-aliases` (1.20+): hostname → IPs.
    pub host_aliases: Vec<(String, Vec<String>)>,
}

/// The config A's dialing component uses for `peer`: `cilium-kvstoremesh` with KVStoreMesh
/// (the agents then talk to the local apiserver), `cilium-clustermesh` otherwise.
pub fn peer_config(a: &Live, peer: &str) -> Option<PeerConfig> {
    let (secret, object) = if a.kvstoremesh() {
        ("cilium-kvstoremesh", a.kvstoremesh.as_ref())
    } else {
        ("cilium-clustermesh", a.clustermesh.as_ref())
    };
    let text = secret_text(object?, peer)?;
    let v = crate::yaml::parse(&text).ok()?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    Some(PeerConfig {
        secret,
        endpoints: strings(&v["endpoints"]),
        host_aliases: v["cilium-host-aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["hostname"].as_str()?.to_string(), strings(&a["ips"]))))
            .collect(),
    })
}

/// The workload that dials the peers and its host aliases as (hostname, ip).
fn workload_aliases(a: &Live) -> (&'static str, Vec<(String, String)>) {
    let (what, workload) = if a.kvstoremesh() {
        ("Deployment clustermesh-apiserver", &a.apiserver)
    } else {
        ("DaemonSet cilium", &a.agents)
    };
    let aliases = workload
        .as_ref()
        .and_then(|w| w["spec"]["template"]["spec"]["hostAliases"].as_array())
        .into_iter()
        .flatten()
        .flat_map(|a| {
            let ip = a["ip"].as_str().unwrap_or_default().to_string();
            a["hostnames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |h| (h.to_string(), ip.clone()))
        })
        .collect();
    (what, aliases)
}

/// `https://host:port` → (host, port); 2379 when no port.
pub fn split_url(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split('/').next()?;
    if let Some(v6) = rest.strip_prefix('[') {
        let (host, tail) = v6.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => state::ETCD_PORT as u16,
        };
        return Some((host.to_string(), port));
    }
    match rest.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None if !rest.is_empty() => Some((rest.to_string(), state::ETCD_PORT as u16)),
        None => None,
    }
}

/// The URL A should have for B's endpoint, as render writes it.
pub fn endpoint_url(peer: &str, ep: &Endpoint) -> String {
    if ep.ips.is_empty() {
        format!(
            "https://{}:{}",
            ep.address.as_deref().unwrap_or_default(),
            ep.port
        )
    } else {
        format!("https://{peer}.{MESH_DOMAIN}:{}", ep.port)
    }
}

/// B's endpoint: recorded in the mesh file, else as B's Service shows it now.
fn expected_endpoint(pair: &Pair) -> Result<(Endpoint, &'static str), String> {
    if let Some(ep) = &pair.to.clustermesh {
        return Ok((ep.clone(), "the mesh file"));
    }
    match &pair.to_live {
        Ok(b) => b
            .discover_endpoint(true)
            .map(|ep| (ep, "its Service"))
            .map_err(|e| format!("{} has no endpoint: {e}", pair.to.name)),
        Err(e) => Err(format!("cannot read cluster {}: {e}", pair.to.name)),
    }
}

/// What to probe for the path A → B, with A's credentials.
pub fn plan(pair: &Pair) -> Plan {
    let peer = pair.to.name.clone();
    let a = match &pair.from_live {
        Ok(a) => *a,
        Err(e) => {
            return Plan {
                peer,
                source: Source::Nothing(format!("cannot read cluster {}: {e}", pair.from.name)),
                targets: Vec::new(),
                trusted_ca: None,
                client_cert: None,
                client_key: None,
            };
        }
    };
    let config = peer_config(a, &peer);
    let expected = expected_endpoint(pair);
    let (urls, source) = match (&config, &expected) {
        (Some(c), _) if !c.endpoints.is_empty() => {
            (c.endpoints.clone(), Source::Configured(c.secret))
        }
        (_, Ok((ep, from))) => (vec![endpoint_url(&peer, ep)], Source::Expected(from)),
        (_, Err(e)) => (Vec::new(), Source::Nothing(e.clone())),
    };
    let (workload, aliases) = workload_aliases(a);
    let targets = urls
        .iter()
        .filter_map(|url| {
            let (host, port) = split_url(url)?;
            let resolve = if let Ok(ip) = host.parse::<IpAddr>() {
                Resolve::Literal(ip)
            } else {
                let mut ips: Vec<IpAddr> = Vec::new();
                let mut sources = Vec::new();
                let from_workload: Vec<IpAddr> = aliases
                    .iter()
                    .filter(|(h, _)| *h == host)
                    .filter_map(|(_, ip)| ip.parse().ok())
                    .collect();
                if !from_workload.is_empty() {
                    sources.push(format!("host aliases of {workload}"));
                    ips.extend(from_workload);
                }
                let from_config: Vec<IpAddr> = config
                    .iter()
                    .flat_map(|c| &c.host_aliases)
                    .filter(|(h, _)| *h == host)
                    .flat_map(|(_, ips)| ips.iter().filter_map(|ip| ip.parse().ok()))
                    .filter(|ip| !ips.contains(ip))
                    .collect();
                if !from_config.is_empty() {
                    sources.push("cilium-host-aliases of the etcd config".to_string());
                    ips.extend(from_config);
                }
                let expected_ips: Vec<IpAddr> = match (&source, &expected) {
                    (Source::Expected(from), Ok((ep, _))) if ips.is_empty() => {
                        sources.push(format!("{}'s endpoint in {from}", pair.to.name));
                        ep.ips.iter().filter_map(|ip| ip.parse().ok()).collect()
                    }
                    _ => Vec::new(),
                };
                ips.extend(expected_ips);
                if !ips.is_empty() {
                    Resolve::Aliases {
                        ips,
                        source: sources.join(" and "),
                    }
                } else if host.ends_with(&format!(".{MESH_DOMAIN}"))
                    || host.ends_with(".svc")
                    || host.contains(".svc.")
                {
                    Resolve::Unresolvable(format!(
                        "no host alias pins {host} in {}'s {workload}, and only host aliases resolve it",
                        pair.from.name
                    ))
                } else {
                    Resolve::Dns
                }
            };
            Some(Target {
                url: url.clone(),
                host,
                port,
                resolve,
            })
        })
        .collect();
    let remote = a.remote_cert.as_ref();
    Plan {
        peer,
        source,
        targets,
        trusted_ca: remote.and_then(|s| secret_text(s, "ca.crt")),
        client_cert: remote.and_then(|s| secret_text(s, "tls.crt")),
        client_key: remote.and_then(|s| secret_text(s, "tls.key")),
    }
}

/// What a certificate says, for messages and details (never the key, never the PEM).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(skip)]
    pub expires: Option<OffsetDateTime>,
    #[serde(skip)]
    der: Vec<u8>,
}

impl CertFacts {
    pub fn from_der(der: &[u8]) -> Option<CertFacts> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let names = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
                        x509_parser::extensions::GeneralName::IPAddress(b) => {
                            match <[u8; 4]>::try_from(*b) {
                                Ok(a) => IpAddr::from(a).to_string(),
                                Err(_) => <[u8; 16]>::try_from(*b)
                                    .map(|a| IpAddr::from(a).to_string())
                                    .unwrap_or_default(),
                            }
                        }
                        other => other.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let not_after = cert.validity().not_after.to_datetime();
        Some(CertFacts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            not_before: day(cert.validity().not_before.to_datetime()),
            not_after: day(not_after),
            names,
            expires: Some(not_after),
            der: der.to_vec(),
        })
    }

    /// Whether `ca` signed this certificate.
    pub fn signed_by(&self, ca: &CertFacts) -> bool {
        let (Ok((_, cert)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&ca.der),
        ) else {
            return false;
        };
        cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// The same CA: the same certificate, or the same subject and key (re-issued).
    pub fn same_ca(&self, other: &CertFacts) -> bool {
        if self.der == other.der {
            return true;
        }
        match (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&other.der),
        ) {
            (Ok((_, a)), Ok((_, b))) => {
                a.subject() == b.subject() && a.public_key().raw == b.public_key().raw
            }
            _ => false,
        }
    }

    fn short(&self) -> String {
        format!("{}, issued by {}", self.subject, self.issuer)
    }
}

fn day(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Every certificate of a PEM bundle.
pub fn pem_certs(text: &str) -> Vec<CertFacts> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .filter_map(|p| CertFacts::from_der(&p.contents))
        .collect()
}

/// The checks of one path. `collisions` are the mesh's NodePort findings
/// ([`state::nodeport_collisions`] over every readable cluster).
pub fn judge(
    pair: &Pair,
    plan: &Plan,
    probe: &PathProbe,
    collisions: &[Finding],
    now: OffsetDateTime,
) -> Vec<Check> {
    let j = Judge {
        pair,
        plan,
        probe,
        now,
    };
    vec![
        j.identity(),
        j.max_connected(),
        j.peer_config(),
        j.endpoint_drift(),
        j.nodeport_collision(collisions),
        j.dns(),
        j.tcp(),
        j.tls_verify(),
        j.client_cert(),
        j.ca_equal(),
        j.cert_expiry(),
        j.etcd_cluster_config(),
        j.etcd_heartbeat(),
        j.etcd_sync(),
    ]
}

struct Judge<'a> {
    pair: &'a Pair<'a>,
    plan: &'a Plan,
    probe: &'a PathProbe,
    now: OffsetDateTime,
}

fn check(id: &'static str, status: Status, message: String, hint: String, details: Value) -> Check {
    Check {
        id,
        status,
        message,
        hint: if status == Status::Ok {
            String::new()
        } else {
            hint
        },
        details,
    }
}

/// A check that could not run because an earlier stage failed.
fn not_checked(id: &'static str, why: String, first: &str) -> Check {
    Check {
        id,
        status: Status::Warn,
        message: format!("not checked: {why}"),
        hint: format!("fix `{first}` first"),
        details: json!({"checked": false}),
    }
}

fn ago(secs: i64) -> String {
    let s = secs.abs();
    let text = if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 172_800 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    };
    if secs < 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

impl Judge<'_> {
    fn a(&self) -> &str {
        &self.pair.from.name
    }

    fn b(&self) -> &str {
        &self.pair.to.name
    }

    fn ns(&self) -> &str {
        self.pair.mesh.namespace()
    }

    fn upgrade_hint(&self, c: &Cluster) -> String {
        format!(
            "run `kubectl mesh upgrade {} --mesh {} --chart cilium/cilium --reuse-values` (helm upgrade cilium with the post-renderer, in namespace {} with --kube-context {})",
            c.name,
            self.pair.mesh_path,
            self.ns(),
            c.context
        )
    }

    fn unreadable_hint(&self, c: &Cluster) -> String {
        format!(
            "check that `kubectl --context {} get nodes` works",
            c.context
        )
    }

    /// Both clusters' objects, or the check saying which could not be read.
    fn both(&self, id: &'static str) -> Result<(&Live, &Live), Box<Check>> {
        match (&self.pair.from_live, &self.pair.to_live) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(e), _) => Err(Box::new(not_checked(
                id,
                format!("cannot read cluster {}: {e}", self.a()),
                "identity",
            ))),
            (_, Err(e)) => Err(Box::new(not_checked(
                id,
                format!("cannot read cluster {}: {e}", self.b()),
                "identity",
            ))),
        }
    }

    fn identity(&self) -> Check {
        let mut wrong = Vec::new();
        let mut details = serde_json::Map::new();
        let mut hint = String::new();
        for (c, live) in [
            (self.pair.from, &self.pair.from_live),
            (self.pair.to, &self.pair.to_live),
        ] {
            match live {
                Err(e) => {
                    wrong.push(format!("cannot read cluster {}: {e}", c.name));
                    hint = self.unreadable_hint(c);
                    details.insert(c.name.clone(), json!({"readable": false}));
                }
                Ok(l) if l.config.is_none() => {
                    wrong.push(format!(
                        "{}: no ConfigMap {}/cilium-config (Cilium not installed in context {}?)",
                        c.name,
                        self.ns(),
                        c.context
                    ));
                    details.insert(c.name.clone(), json!({"readable": true, "cilium": false}));
                }
                Ok(l) => {
                    let (name, id) = (l.cluster_name(), l.cluster_id());
                    details.insert(
                        c.name.clone(),
                        json!({"clusterName": name, "clusterId": id, "meshFile": {"name": c.name, "id": c.id}}),
                    );
                    let id_text = c.id.to_string();
                    if name != Some(c.name.as_str()) || id != Some(id_text.as_str()) {
                        wrong.push(format!(
                            "{}'s cilium-config says cluster-name {:?}, cluster-id {:?} (mesh file: {}, {})",
                            c.name,
                            name.unwrap_or("<unset>"),
                            id.unwrap_or("<unset>"),
                            c.name,
                            c.id
                        ));
                        if hint.is_empty() {
                            hint = self.upgrade_hint(c);
                        }
                    }
                }
            }
        }
        if wrong.is_empty() {
            check(
                "identity",
                Status::Ok,
                format!(
                    "{} is cluster {} (id {}), {} is cluster {} (id {}), as in the mesh file",
                    self.a(),
                    self.a(),
                    self.pair.from.id,
                    self.b(),
                    self.b(),
                    self.pair.to.id
                ),
                String::new(),
                Value::Object(details),
            )
        } else {
            check(
                "identity",
                Status::Fail,
                wrong.join("; "),
                hint,
                Value::Object(details),
            )
        }
    }

    fn max_connected(&self) -> Check {
        let (a, b) = match self.both("max-connected-clusters") {
            Ok(x) => x,
            Err(c) => return *c,
        };
        let (ma, mb) = (a.max_connected_clusters(), b.max_connected_clusters());
        let show = |m: Option<u32>| m.map_or("invalid".to_string(), |m| m.to_string());
        let details = json!({self.a(): ma, self.b(): mb, "meshFile": self.pair.mesh.max_connected_clusters()});
        if ma == mb && ma.is_some() {
            check(
                "max-connected-clusters",
                Status::Ok,
                format!("{} in both clusters", show(ma)),
                String::new(),
                details,
            )
        } else {
            check(
                "max-connected-clusters",
                Status::Fail,
                format!(
                    "{} runs with max-connected-clusters {}, {} with {}: they cannot connect",
                    self.a(),
                    show(ma),
                    self.b(),
                    show(mb)
                ),
                format!(
                    "set the same maxConnectedClusters (the mesh file's: {}) in every cluster, then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster) (Cilium: changing it on a running cluster disrupts connectivity)",
                    self.pair.mesh.max_connected_clusters()
                ),
                details,
            )
        }
    }

    fn peer_config(&self) -> Check {
        let Ok(a) = &self.pair.from_live else {
            return *self.both("peer-config").unwrap_err();
        };
        let config = peer_config(a, self.b());
        let expected = expected_endpoint(self.pair);
        let expected_url = expected
            .as_ref()
            .ok()
            .map(|(ep, _)| endpoint_url(self.b(), ep));
        let secret = if a.kvstoremesh() {
            "cilium-kvstoremesh"
        } else {
            "cilium-clustermesh"
        };
        let details = json!({
            "secret": secret,
            "configured": config.as_ref().map(|c| c.endpoints.clone()),
            "expected": expected_url,
            "expectedFrom": expected.as_ref().ok().map(|(_, from)| *from),
        });
        let connect = if self.pair.to.clustermesh.is_some() || expected.is_err() {
            "run `kubectl mesh connect`".to_string()
        } else {
            "run `kubectl mesh connect` (it records the endpoint in the mesh file)".to_string()
        };
        let Some(config) = config else {
            return check(
                "peer-config",
                Status::Fail,
                format!(
                    "{} has no config for {} in Secret {secret}",
                    self.a(),
                    self.b()
                ),
                connect,
                details,
            );
        };
        if config.endpoints.is_empty() {
            return check(
                "peer-config",
                Status::Fail,
                format!(
                    "{}'s config for {} in Secret {secret} has no endpoints",
                    self.a(),
                    self.b()
                ),
                connect,
                details,
            );
        }
        match (&expected_url, &expected) {
            (Some(url), Ok((_, from))) if config.endpoints != [url.clone()] => check(
                "peer-config",
                Status::Fail,
                format!(
                    "{} dials {} at {}, but {}'s endpoint in {from} is {url}",
                    self.a(),
                    self.b(),
                    config.endpoints.join(", "),
                    self.b()
                ),
                connect,
                details,
            ),
            (Some(url), Ok((_, from))) => check(
                "peer-config",
                Status::Ok,
                format!(
                    "{} dials {url} (Secret {secret}), {}'s endpoint in {from}",
                    self.a(),
                    self.b()
                ),
                String::new(),
                details,
            ),
            // `expected_url` is derived from `expected`: no URL means no expected endpoint.
            (None, Ok(_)) | (_, Err(_)) => {
                let why = expected
                    .as_ref()
                    .err()
                    .map_or("no endpoint", String::as_str);
                check(
                    "peer-config",
                    Status::Warn,
                    format!(
                        "{} dials {}; cannot tell whether that is right: {why}",
                        self.a(),
                        config.endpoints.join(", ")
                    ),
                    format!("record {}'s endpoint: `kubectl mesh connect`", self.b()),
                    details,
                )
            }
        }
    }

    fn endpoint_drift(&self) -> Check {
        const ID: &str = "endpoint-drift";
        let (_, b) = match self.both(ID) {
            Ok(x) => x,
            Err(c) => return *c,
        };
        let used: Vec<IpAddr> = self
            .plan
            .targets
            .iter()
            .flat_map(|t| match &t.resolve {
                Resolve::Literal(ip) => vec![*ip],
                Resolve::Aliases { ips, .. } => ips.clone(),
                _ => Vec::new(),
            })
            .collect();
        let current = match b.discover_endpoint(true) {
            Ok(ep) => ep,
            Err(e) => {
                return check(
                    ID,
                    Status::Warn,
                    format!("cannot tell {}'s current addresses: {e}", self.b()),
                    format!(
                        "check {}'s clustermesh-apiserver Service: `kubectl --context {} -n {} get svc clustermesh-apiserver`",
                        self.b(),
                        self.pair.to.context,
                        self.ns()
                    ),
                    json!({"used": used}),
                );
            }
        };
        let current_ips: Vec<IpAddr> = current.ips.iter().filter_map(|i| i.parse().ok()).collect();
        let details =
            json!({"used": used, "current": current_ips, "currentAddress": current.address});
        let hint = if self.pair.to.clustermesh.is_some() {
            format!(
                "run `kubectl mesh connect --rediscover` to record {}'s current addresses and apply them",
                self.b()
            )
        } else {
            "run `kubectl mesh connect`".to_string()
        };
        if used.is_empty() {
            return match &self.plan.source {
                Source::Nothing(why) => not_checked(ID, why.clone(), "peer-config"),
                _ if self.plan.targets.iter().all(|t| t.resolve == Resolve::Dns) => check(
                    ID,
                    Status::Ok,
                    format!(
                        "{} dials {} by name: nothing pinned",
                        self.a(),
                        self.plan
                            .targets
                            .iter()
                            .map(|t| t.host.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    String::new(),
                    details,
                ),
                _ => check(
                    ID,
                    Status::Fail,
                    format!("{} pins no address for {}", self.a(), self.b()),
                    hint,
                    details,
                ),
            };
        }
        if current_ips.is_empty() {
            return check(
                ID,
                Status::Ok,
                format!(
                    "{} is reached by name ({}); {} pins {}",
                    self.b(),
                    current.address.as_deref().unwrap_or("?"),
                    self.a(),
                    join(&used)
                ),
                String::new(),
                details,
            );
        }
        let stale: Vec<IpAddr> = used
            .iter()
            .filter(|ip| !current_ips.contains(ip))
            .copied()
            .collect();
        let fresh: Vec<IpAddr> = current_ips
            .iter()
            .filter(|ip| !used.contains(ip))
            .copied()
            .collect();
        let mut message = format!(
            "{} uses {} for {}; {}'s addresses now: {}",
            self.a(),
            join(&used),
            self.b(),
            self.b(),
            join(&current_ips)
        );
        if !fresh.is_empty() {
            message.push_str(&format!(" ({} not used by {})", join(&fresh), self.a()));
        }
        if stale.is_empty() {
            check(ID, Status::Ok, message, String::new(), details)
        } else if stale.len() == used.len() {
            message.push_str(&format!(
                ": none of the addresses {} uses is {}'s any more",
                self.a(),
                self.b()
            ));
            check(ID, Status::Fail, message, hint, details)
        } else {
            message.push_str(&format!(": {} no longer {}'s", join(&stale), self.b()));
            check(ID, Status::Warn, message, hint, details)
        }
    }

    fn nodeport_collision(&self, collisions: &[Finding]) -> Check {
        const ID: &str = "nodeport-collision";
        let (a, b) = match self.both(ID) {
            Ok(x) => x,
            Err(c) => return *c,
        };
        let mine = |name: &str| collisions.iter().find(|f| f.cluster == name);
        let details = json!({
            self.a(): {"nodePort": a.apiserver_node_port(), "kubeProxyReplacement": a.kube_proxy_replacement(),
                "cilium": a.cilium_version().map(|(x, y)| format!("{x}.{y}"))},
            self.b(): {"nodePort": b.apiserver_node_port(), "kubeProxyReplacement": b.kube_proxy_replacement(),
                "cilium": b.cilium_version().map(|(x, y)| format!("{x}.{y}"))},
        });
        if let (Some(fa), Some(fb)) = (mine(self.a()), mine(self.b()))
            && fa.message == fb.message
        {
            return check(
                ID,
                Status::Fail,
                fa.message.clone(),
                fa.hint.clone(),
                details,
            );
        }
        let port = |l: &Live| {
            l.apiserver_node_port()
                .map_or("no NodePort".to_string(), |p| format!("NodePort {p}"))
        };
        let message = match (a.apiserver_node_port(), b.apiserver_node_port()) {
            (Some(x), Some(y)) if x == y => format!(
                "both on NodePort {x}, but not affected (kube-proxy replacement off, or Cilium 1.19+ on both)"
            ),
            _ => format!("{}: {}, {}: {}", self.a(), port(a), self.b(), port(b)),
        };
        check(ID, Status::Ok, message, String::new(), details)
    }

    fn dns(&self) -> Check {
        const ID: &str = "dns";
        if let Source::Nothing(why) = &self.plan.source {
            return not_checked(ID, why.clone(), "peer-config");
        }
        let mut worst = Status::Ok;
        let mut lines = Vec::new();
        let mut hint = String::new();
        let mut details = Vec::new();
        for (t, r) in self.plan.targets.iter().zip(&self.probe.resolved) {
            let (status, line) = match (&t.resolve, &r.addresses) {
                (Resolve::Literal(ip), _) => (Status::Ok, format!("{} is an address", ip)),
                (Resolve::Unresolvable(why), _) => {
                    hint =
                        "run `kubectl mesh connect` (it pins the peers' names with host aliases)"
                            .to_string();
                    (Status::Fail, why.clone())
                }
                (Resolve::Aliases { source, .. }, Ok(ips)) => {
                    let status = if matches!(self.plan.source, Source::Expected(_)) {
                        hint = "run `kubectl mesh connect`".to_string();
                        Status::Warn
                    } else {
                        Status::Ok
                    };
                    (status, format!("{} → {} ({source})", t.host, join(ips)))
                }
                (Resolve::Dns, Ok(ips)) if !ips.is_empty() => {
                    (Status::Ok, format!("{} → {} (DNS)", t.host, join(ips)))
                }
                (_, Ok(_)) => {
                    hint = format!("check the DNS name {}", t.host);
                    (Status::Fail, format!("{} resolves to nothing", t.host))
                }
                (_, Err(e)) => {
                    hint = format!(
                        "check the DNS name {} (the mesh file's `clustermesh.address` for {})",
                        t.host,
                        self.b()
                    );
                    (Status::Fail, format!("{} does not resolve: {e}", t.host))
                }
            };
            worst = worst.max(status);
            lines.push(line);
            details.push(json!({"host": t.host, "url": t.url,
                "addresses": r.addresses.as_ref().ok(), "error": r.addresses.as_ref().err()}));
        }
        if lines.is_empty() {
            return check(
                ID,
                Status::Fail,
                "no endpoint to resolve".into(),
                "run `kubectl mesh connect`".into(),
                json!({"targets": details}),
            );
        }
        let mut message = lines.join("; ");
        if let Source::Expected(from) = &self.plan.source {
            message.push_str(&format!(
                " ({} has no config for {}: probing {}'s endpoint in {from})",
                self.a(),
                self.b(),
                self.b()
            ));
        }
        check(ID, worst, message, hint, json!({"targets": details}))
    }

    fn tcp(&self) -> Check {
        const ID: &str = "tcp";
        if self.probe.addresses.is_empty() {
            return not_checked(ID, "no address to connect to".into(), "dns");
        }
        let failed: Vec<&AddressProbe> = self
            .probe
            .addresses
            .iter()
            .filter(|p| p.tcp.is_err())
            .collect();
        let details: Vec<Value> = self
            .probe
            .addresses
            .iter()
            .map(|p| match &p.tcp {
                Ok(ms) => json!({"address": p.address.to_string(), "connected": true, "ms": ms}),
                Err(e) => json!({"address": p.address.to_string(), "connected": false, "error": e}),
            })
            .collect();
        let details = json!({ "addresses": details });
        if failed.is_empty() {
            let list: Vec<String> = self
                .probe
                .addresses
                .iter()
                .map(|p| format!("{} ({} ms)", p.address, p.tcp.as_ref().unwrap_or(&0)))
                .collect();
            return check(
                ID,
                Status::Ok,
                format!("connected to {}", list.join(", ")),
                String::new(),
                details,
            );
        }
        let list: Vec<String> = failed
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    p.address,
                    p.tcp.as_ref().err().map_or("", |e| e.as_str())
                )
            })
            .collect();
        let ok = self.probe.addresses.len() - failed.len();
        check(
            ID,
            Status::Fail,
            format!(
                "cannot connect to {} ({ok} of {} addresses connected)",
                list.join("; "),
                self.probe.addresses.len()
            ),
            format!(
                "check that {}'s clustermesh-apiserver Service answers there (`kubectl --context {} -n {} get svc,pods -l k8s-app=clustermesh-apiserver`) and that no firewall blocks the port; after node changes run `kubectl mesh connect --rediscover`",
                self.b(),
                self.pair.to.context,
                self.ns()
            ),
            details,
        )
    }

    fn tls_probes(&self) -> Vec<(&AddressProbe, &TlsProbe)> {
        self.probe
            .addresses
            .iter()
            .filter_map(|p| Some((p, p.tls.as_ref()?)))
            .collect()
    }

    fn cas(&self) -> (Vec<CertFacts>, Vec<CertFacts>) {
        let ca = |l: &Result<&Live, String>| {
            l.as_ref()
                .ok()
                .and_then(|l| l.ca_cert())
                .map(|p| pem_certs(&p))
                .unwrap_or_default()
        };
        (ca(&self.pair.from_live), ca(&self.pair.to_live))
    }

    fn cas_differ(&self) -> bool {
        let (a, b) = self.cas();
        match (a.first(), b.first()) {
            (Some(a), Some(b)) => !a.same_ca(b),
            _ => false,
        }
    }

    fn ca_sync_hint(&self) -> String {
        "run `kubectl mesh ca sync`, then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster) to re-issue the certificates".to_string()
    }

    fn tls_verify(&self) -> Check {
        const ID: &str = "tls-verify";
        let probes = self.tls_probes();
        if probes.is_empty() {
            return not_checked(ID, "no TCP connection to any address".into(), "tcp");
        }
        let trusted = self
            .plan
            .trusted_ca
            .as_deref()
            .map(pem_certs)
            .unwrap_or_default();
        let mut worst = Status::Ok;
        let mut lines = Vec::new();
        let mut hint = String::new();
        let mut details = Vec::new();
        for (p, t) in &probes {
            let leaf = t.chain.first().and_then(|d| CertFacts::from_der(d));
            let proto = match (&t.version, &t.cipher_suite) {
                (Some(v), Some(c)) => format!("{v} ({c})"),
                (Some(v), None) => v.clone(),
                _ => "TLS".to_string(),
            };
            let (status, line) = match (&t.verified, &t.handshake) {
                (Some(Ok(())), _) => (
                    Status::Ok,
                    format!(
                        "{}: {proto}, {}, valid until {}, verifies for {} against {}'s trusted CA",
                        p.address,
                        leaf.as_ref().map_or("?".into(), CertFacts::short),
                        leaf.as_ref().map_or("?", |l| l.not_after.as_str()),
                        p.server_name,
                        self.a()
                    ),
                ),
                (Some(Err((why, text))), _) => {
                    let cert = leaf.as_ref().map_or("?".into(), CertFacts::short);
                    let line = match why {
                        VerifyFailure::UnknownIssuer => {
                            hint = if self.cas_differ() {
                                self.ca_sync_hint()
                            } else {
                                format!(
                                    "{}'s server certificate must be issued by the CA {} trusts (Secret clustermesh-apiserver-remote-cert, ca.crt): `kubectl mesh ca sync`, then `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer)",
                                    self.b(),
                                    self.a(),
                                    self.b()
                                )
                            };
                            let same_name = leaf
                                .as_ref()
                                .is_some_and(|l| trusted.iter().any(|t| t.subject == l.issuer));
                            format!(
                                "{}: {cert}: not issued by the CA {} trusts ({}){}",
                                p.address,
                                self.a(),
                                trusted
                                    .iter()
                                    .map(|c| format!("{}, serial {}", c.subject, c.serial))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                                if same_name {
                                    ": another CA of the same name"
                                } else {
                                    ""
                                }
                            )
                        }
                        VerifyFailure::NotValidForName => {
                            hint = format!(
                                "{}'s clustermesh-apiserver server certificate must name {} (the chart issues it for *.{MESH_DOMAIN}): `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer) re-issues it",
                                self.b(),
                                p.server_name,
                                self.b()
                            );
                            format!(
                                "{}: {cert} is not valid for {} (it names {})",
                                p.address,
                                p.server_name,
                                leaf.as_ref().map_or(String::new(), |l| l.names.join(", "))
                            )
                        }
                        VerifyFailure::Expired => {
                            hint = format!(
                                "renew {}'s clustermesh-apiserver server certificate: `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer; see cert-expiry)",
                                self.b(),
                                self.b()
                            );
                            format!("{}: {cert}: {text}", p.address)
                        }
                        VerifyFailure::NoTrustedCa => {
                            hint = format!(
                                "{} has no CA to trust peers with: enable the clustermesh-apiserver (clustermesh.useAPIServer=true) in your values file and `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values -f values.yaml` (helm upgrade with the post-renderer)",
                                self.a(),
                                self.a()
                            );
                            format!("{}: {text}", p.address)
                        }
                        VerifyFailure::Other => {
                            hint = self.ca_sync_hint();
                            format!("{}: {cert}: {text}", p.address)
                        }
                    };
                    (Status::Fail, line)
                }
                (None, Err(e)) => {
                    hint = format!(
                        "{}'s clustermesh-apiserver accepts connections but does not complete TLS: check its pods (`kubectl --context {} -n {} get pods -l k8s-app=clustermesh-apiserver`) and that the port leads to it (see nodeport-collision)",
                        self.b(),
                        self.pair.to.context,
                        self.ns()
                    );
                    (
                        Status::Fail,
                        format!("{}: no TLS handshake: {e}", p.address),
                    )
                }
                (None, Ok(())) => (
                    Status::Fail,
                    format!("{}: the server showed no certificate", p.address),
                ),
            };
            worst = worst.max(status);
            lines.push(line);
            details.push(json!({
                "address": p.address.to_string(),
                "serverName": p.server_name,
                "tlsVersion": t.version,
                "cipherSuite": t.cipher_suite,
                "verified": matches!(t.verified, Some(Ok(()))),
                "error": match (&t.verified, &t.handshake) {
                    (Some(Err((_, e))), _) => Some(e.clone()),
                    (None, Err(e)) => Some(e.clone()),
                    _ => None,
                },
                "certificate": leaf,
            }));
        }
        check(
            ID,
            worst,
            lines.join("; "),
            hint,
            json!({"trustedCa": trusted, "addresses": details}),
        )
    }

    fn client_cert(&self) -> Check {
        const ID: &str = "client-cert";
        let cert = self
            .plan
            .client_cert
            .as_deref()
            .map(pem_certs)
            .unwrap_or_default();
        let Some(cert) = cert.first().cloned() else {
            let why = match &self.pair.from_live {
                Err(e) => {
                    return not_checked(
                        ID,
                        format!("cannot read cluster {}: {e}", self.a()),
                        "identity",
                    );
                }
                Ok(l) if l.remote_cert.is_none() => format!(
                    "Secret {}/clustermesh-apiserver-remote-cert is missing in {}",
                    self.ns(),
                    self.a()
                ),
                Ok(_) => format!(
                    "Secret clustermesh-apiserver-remote-cert of {} holds no certificate (tls.crt)",
                    self.a()
                ),
            };
            return check(
                ID,
                Status::Fail,
                why,
                format!(
                    "enable the clustermesh-apiserver (chart value clustermesh.useAPIServer=true) in your values file and `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values -f values.yaml` (helm upgrade with the post-renderer)",
                    self.a()
                ),
                json!({}),
            );
        };
        let mut problems = Vec::new();
        let mut hint = String::new();
        let mut status = Status::Ok;
        let (_, b_ca) = self.cas();
        let issued = b_ca.first().map(|ca| cert.signed_by(ca));
        if issued == Some(false) {
            status = Status::Fail;
            let ca = &b_ca[0];
            problems.push(format!(
                "not issued by {}'s CA ({}, serial {}){}",
                self.b(),
                ca.subject,
                ca.serial,
                if cert.issuer == ca.subject {
                    ": another CA of the same name"
                } else {
                    ""
                }
            ));
            hint = if self.cas_differ() {
                self.ca_sync_hint()
            } else {
                format!(
                    "re-issue {}'s client certificate from the mesh CA: `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer)",
                    self.a(),
                    self.a()
                )
            };
        }
        let probes = self.tls_probes();
        if probes.is_empty() && issued != Some(false) {
            return not_checked(ID, "no TCP connection to any address".into(), "tcp");
        }
        let mut accepted_by = Vec::new();
        let mut handshake = Vec::new();
        let mut unknown = Vec::new();
        for (p, t) in &probes {
            let result = match (&t.accepted, &t.handshake) {
                (Some(Ok(())), _) if t.client_cert_sent => Ok(()),
                (Some(Ok(())), _) => Err(Status::Warn),
                (Some(Err(e)), _) => {
                    problems.push(format!("{} refused it: {e}", p.address));
                    Err(Status::Fail)
                }
                (None, Err(e)) if t.client_cert_sent && e.contains("alert") => {
                    problems.push(format!("{} refused it: {e}", p.address));
                    Err(Status::Fail)
                }
                (None, _) => {
                    unknown.push(p.address.to_string());
                    Err(Status::Warn)
                }
            };
            match result {
                Ok(()) => accepted_by.push(p.address.to_string()),
                Err(s) => {
                    status = status.max(s);
                    if s == Status::Warn && t.accepted.is_some() {
                        problems.push(format!(
                            "{} did not ask for a client certificate",
                            p.address
                        ));
                    }
                }
            }
            handshake.push(json!({"address": p.address.to_string(),
                "requested": t.client_cert_requested, "sent": t.client_cert_sent,
                "accepted": matches!(t.accepted, Some(Ok(()))) && t.client_cert_sent,
                "error": t.accepted.as_ref().and_then(|a| a.as_ref().err()).or(t.handshake.as_ref().err())}));
        }
        if hint.is_empty() && status == Status::Fail {
            hint = if self.cas_differ() {
                self.ca_sync_hint()
            } else {
                format!(
                    "{}'s clustermesh-apiserver must accept client certificates of the mesh CA: `kubectl mesh ca sync`, then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster)",
                    self.b()
                )
            };
        }
        if !unknown.is_empty() && status == Status::Warn && hint.is_empty() {
            hint = "fix `tls-verify` first".to_string();
        }
        let mut message = format!("{}'s {}", self.a(), cert.short());
        if issued == Some(true) {
            message.push_str(&format!(" (the CA of {})", self.b()));
        }
        if !accepted_by.is_empty() {
            message.push_str(&format!(", accepted by {}", accepted_by.join(", ")));
        }
        if probes.is_empty() {
            message.push_str(" (handshake not tried: no TCP connection)");
        } else if !unknown.is_empty() {
            message.push_str(&format!(
                " (handshake with {} did not get that far)",
                unknown.join(", ")
            ));
        }
        if !problems.is_empty() {
            message.push_str(": ");
            message.push_str(&problems.join("; "));
        }
        check(
            ID,
            status,
            message,
            hint,
            json!({"certificate": cert, "issuedByPeerCa": issued, "handshakes": handshake}),
        )
    }

    fn ca_equal(&self) -> Check {
        const ID: &str = "ca-equal";
        if let Err(c) = self.both(ID) {
            return *c;
        }
        let (a, b) = self.cas();
        let details = json!({self.a(): a.first(), self.b(): b.first()});
        let missing: Vec<&str> = [(self.a(), &a), (self.b(), &b)]
            .iter()
            .filter(|(_, c)| c.is_empty())
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            return check(
                ID,
                Status::Fail,
                format!(
                    "Secret cilium-ca (ca.crt) is missing in {}",
                    missing.join(", ")
                ),
                self.ca_sync_hint(),
                details,
            );
        }
        let (ca, cb) = (&a[0], &b[0]);
        if ca.same_ca(cb) {
            check(
                ID,
                Status::Ok,
                format!(
                    "the same CA: {} (serial {}, valid until {})",
                    ca.subject, ca.serial, ca.not_after
                ),
                String::new(),
                details,
            )
        } else {
            check(
                ID,
                Status::Fail,
                format!(
                    "{}'s CA ({}, serial {}) is not {}'s ({}, serial {})",
                    self.a(),
                    ca.subject,
                    ca.serial,
                    self.b(),
                    cb.subject,
                    cb.serial
                ),
                self.ca_sync_hint(),
                details,
            )
        }
    }

    fn cert_expiry(&self) -> Check {
        const ID: &str = "cert-expiry";
        let mut certs: Vec<(String, CertFacts, &Cluster)> = Vec::new();
        let (a, b) = (self.pair.from, self.pair.to);
        for c in self
            .plan
            .trusted_ca
            .as_deref()
            .map(pem_certs)
            .unwrap_or_default()
        {
            certs.push((format!("{}'s trusted CA", a.name), c, a));
        }
        if let Some(c) = self
            .plan
            .client_cert
            .as_deref()
            .map(pem_certs)
            .and_then(|c| c.into_iter().next())
        {
            certs.push((format!("{}'s client certificate", a.name), c, a));
        }
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut server_seen = false;
        for (_, t) in self.tls_probes() {
            for (i, der) in t.chain.iter().enumerate() {
                if seen.contains(der) {
                    continue;
                }
                seen.push(der.clone());
                if let Some(c) = CertFacts::from_der(der) {
                    let what = if i == 0 {
                        format!("{}'s server certificate", b.name)
                    } else {
                        format!("{}'s server chain", b.name)
                    };
                    server_seen = true;
                    certs.push((what, c, b));
                }
            }
        }
        let (_, b_ca) = self.cas();
        for c in b_ca {
            certs.push((format!("{}'s CA", b.name), c, b));
        }
        if certs.is_empty() {
            return not_checked(ID, "no certificate found on the path".into(), "client-cert");
        }
        let mut worst = Status::Ok;
        let mut bad = Vec::new();
        let mut hint = String::new();
        let mut details = Vec::new();
        let mut first: Option<(i64, &str, &CertFacts)> = None;
        for (what, c, owner) in &certs {
            let left = c
                .expires
                .map_or(i64::MAX, |t| (t - self.now).whole_seconds());
            let days = left.div_euclid(86_400);
            let status = if left <= 0 {
                Status::Fail
            } else if days < EXPIRY_WARNING_DAYS {
                Status::Warn
            } else {
                Status::Ok
            };
            details.push(
                json!({"what": what, "subject": c.subject, "issuer": c.issuer,
                "notAfter": c.not_after, "daysLeft": days, "status": status}),
            );
            if first.is_none_or(|(l, _, _)| left < l) {
                first = Some((left, what, c));
            }
            if status != Status::Ok {
                bad.push(if left <= 0 {
                    format!(
                        "{what} ({}) expired {} ({})",
                        c.subject,
                        c.not_after,
                        ago(-left)
                    )
                } else {
                    format!(
                        "{what} ({}) expires {} (in {days} days)",
                        c.subject, c.not_after
                    )
                });
                if status > worst || hint.is_empty() {
                    hint = if what.ends_with("CA") {
                        "issue a new mesh CA (the mesh file's `ca:`), `kubectl mesh ca sync`, then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster)".to_string()
                    } else {
                        format!(
                            "re-issue it: `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, which issues the certificates from the mesh CA)",
                            owner.name
                        )
                    };
                }
                worst = worst.max(status);
            }
        }
        let mut message = match first {
            // `certs` is not empty, so every certificate was compared and `first` is set.
            Some((left, what, c)) if bad.is_empty() => format!(
                "{} certificates valid for {EXPIRY_WARNING_DAYS}+ days; the first to expire: {what} ({}) on {} (in {} days)",
                certs.len(),
                c.subject,
                c.not_after,
                left.div_euclid(86_400)
            ),
            _ => bad.join("; "),
        };
        if !server_seen {
            message.push_str(&format!(
                " ({}'s server certificate not seen: no TLS handshake)",
                b.name
            ));
        }
        check(ID, worst, message, hint, json!({"certificates": details}))
    }

    fn etcd(&self, id: &'static str) -> Result<&EtcdFacts, Box<Check>> {
        match &self.probe.etcd {
            Some(Ok(f)) => Ok(f),
            None => Err(Box::new(not_checked(
                id,
                "no address of the endpoint accepted a TCP connection".into(),
                "tcp",
            ))),
            Some(Err(e)) if id == "etcd-cluster-config" => Err(Box::new(check(
                id,
                Status::Fail,
                format!("cannot read {}'s etcd as {} does: {e}", self.b(), self.a()),
                if self.probe.addresses.iter().any(|p| {
                    p.tls
                        .as_ref()
                        .is_some_and(|t| matches!(t.verified, Some(Err(_))) || t.handshake.is_err())
                }) {
                    "fix `tls-verify` / `client-cert` first".to_string()
                } else {
                    format!(
                        "check {}'s clustermesh-apiserver (its etcd container): `kubectl --context {} -n {} logs deploy/clustermesh-apiserver -c etcd`",
                        self.b(),
                        self.pair.to.context,
                        self.ns()
                    )
                },
                json!({"error": e}),
            ))),
            Some(Err(e)) => Err(Box::new(not_checked(
                id,
                format!("etcd unreachable ({e})"),
                "etcd-cluster-config",
            ))),
        }
    }

    fn etcd_cluster_config(&self) -> Check {
        const ID: &str = "etcd-cluster-config";
        let facts = match self.etcd(ID) {
            Ok(f) => f,
            Err(c) => return *c,
        };
        let key = cluster_config_key(self.b());
        let logs = format!(
            "check {}'s clustermesh-apiserver: `kubectl --context {} -n {} logs deploy/clustermesh-apiserver -c apiserver`",
            self.b(),
            self.pair.to.context,
            self.ns()
        );
        let Some(text) = &facts.cluster_config else {
            return check(
                ID,
                Status::Fail,
                format!(
                    "etcd {}: {key} is missing: {}'s clustermesh-apiserver has not announced itself (or runs under another cluster name)",
                    facts.version,
                    self.b()
                ),
                logs,
                json!({"etcdVersion": facts.version, "key": key}),
            );
        };
        let Ok(config) = serde_json::from_str::<Value>(text) else {
            return check(
                ID,
                Status::Fail,
                format!("etcd {}: {key} is not JSON", facts.version),
                logs,
                json!({"etcdVersion": facts.version, "key": key}),
            );
        };
        let id = config["id"].as_u64();
        let announced_max = config["capabilities"]["maxConnectedClusters"]
            .as_u64()
            .filter(|m| *m != 0)
            .unwrap_or(u64::from(crate::mesh::DEFAULT_MAX_CONNECTED_CLUSTERS));
        let local_max = self
            .pair
            .from_live
            .as_ref()
            .ok()
            .and_then(|l| l.max_connected_clusters());
        let details = json!({"etcdVersion": facts.version, "key": key, "config": config});
        let mut wrong = Vec::new();
        let mut hint = String::new();
        if id != Some(u64::from(self.pair.to.id)) {
            wrong.push(format!(
                "announces id {}, the mesh file says {} is {}",
                id.map_or("<none>".to_string(), |i| i.to_string()),
                self.b(),
                self.pair.to.id
            ));
            hint = format!(
                "{}'s clustermesh-apiserver runs with another cluster-id: {}, then restart it (`kubectl --context {} -n {} rollout restart deploy/clustermesh-apiserver`)",
                self.b(),
                self.upgrade_hint(self.pair.to),
                self.pair.to.context,
                self.ns()
            );
        }
        if let Some(m) = local_max
            && u64::from(m) != announced_max
        {
            wrong.push(format!(
                "announces maxConnectedClusters {announced_max}, {} runs with {m}",
                self.a()
            ));
            if hint.is_empty() {
                hint = "set the same maxConnectedClusters in every cluster (see max-connected-clusters)".into();
            }
        }
        if wrong.is_empty() {
            check(
                ID,
                Status::Ok,
                format!(
                    "etcd {}{}: {key}: id {}, maxConnectedClusters {announced_max}",
                    facts.version,
                    facts.address.map_or(String::new(), |a| format!(" at {a}")),
                    self.pair.to.id
                ),
                String::new(),
                details,
            )
        } else {
            check(
                ID,
                Status::Fail,
                format!("etcd {}: {key} {}", facts.version, wrong.join("; ")),
                hint,
                details,
            )
        }
    }

    fn apiserver_pods_hint(&self) -> String {
        format!(
            "check {}'s clustermesh-apiserver: `kubectl --context {} -n {} get pods -l k8s-app=clustermesh-apiserver` and its logs (`kubectl --context {} -n {} logs deploy/clustermesh-apiserver -c apiserver`)",
            self.b(),
            self.pair.to.context,
            self.ns(),
            self.pair.to.context,
            self.ns()
        )
    }

    fn etcd_heartbeat(&self) -> Check {
        const ID: &str = "etcd-heartbeat";
        let facts = match self.etcd(ID) {
            Ok(f) => f,
            Err(c) => return *c,
        };
        let Some(text) = &facts.heartbeat else {
            return check(
                ID,
                Status::Warn,
                format!(
                    "{HEARTBEAT_KEY} is missing: nothing keeps {}'s etcd fresh",
                    self.b()
                ),
                self.apiserver_pods_hint(),
                json!({"key": HEARTBEAT_KEY}),
            );
        };
        let parsed =
            OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339);
        let Ok(at) = parsed else {
            return check(
                ID,
                Status::Warn,
                format!(
                    "{HEARTBEAT_KEY} holds no time: {:?}",
                    text.chars().take(40).collect::<String>()
                ),
                self.apiserver_pods_hint(),
                json!({"key": HEARTBEAT_KEY}),
            );
        };
        let age = (self.now - at).whole_seconds();
        let details = json!({"key": HEARTBEAT_KEY, "value": text.trim(), "ageSeconds": age});
        if age > HEARTBEAT_MAX_AGE_SECS {
            check(
                ID,
                Status::Warn,
                format!(
                    "{HEARTBEAT_KEY} last written {} ({}): {}'s clustermesh-apiserver writes it every minute",
                    ago(age),
                    text.trim(),
                    self.b()
                ),
                self.apiserver_pods_hint(),
                details,
            )
        } else {
            check(
                ID,
                Status::Ok,
                format!("{HEARTBEAT_KEY} written {} ({})", ago(age), text.trim()),
                String::new(),
                details,
            )
        }
    }

    fn etcd_sync(&self) -> Check {
        const ID: &str = "etcd-sync";
        let facts = match self.etcd(ID) {
            Ok(f) => f,
            Err(c) => return *c,
        };
        let counts: Vec<String> = SYNC_KINDS
            .iter()
            .map(|k| format!("{k} {}", facts.counts.get(*k).copied().unwrap_or(0)))
            .collect();
        let missing: Vec<&str> = SYNC_KINDS
            .iter()
            .filter(|k| !facts.canaries.get(**k).copied().unwrap_or(false))
            .copied()
            .collect();
        let details = json!({"canaries": facts.canaries, "counts": facts.counts});
        if missing.is_empty() {
            check(
                ID,
                Status::Ok,
                format!("synced: {}", counts.join(", ")),
                String::new(),
                details,
            )
        } else {
            check(
                ID,
                Status::Warn,
                format!(
                    "not synced: {} (no {}); entries: {}",
                    missing.join(", "),
                    missing
                        .iter()
                        .map(|k| sync_canary_key(self.b(), k))
                        .collect::<Vec<_>>()
                        .join(", "),
                    counts.join(", ")
                ),
                self.apiserver_pods_hint(),
                details,
            )
        }
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::certs::tests::test_ca;
    use crate::render::certs::{Ca, Issued, Leaf, issue};
    use base64::Engine;
    use time::Duration;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn mesh() -> Mesh {
        Mesh::parse(
            "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n\
             - {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, clustermesh: {port: 32379, ips: [172.18.0.2]}}\n\
             - {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16, clustermesh: {port: 32380, ips: [172.18.0.4]}}\n",
        )
        .unwrap()
    }

    fn leaf(cn: &str, server: bool, lifetime: Duration) -> Leaf {
        let now = OffsetDateTime::now_utc();
        Leaf {
            common_name: Some(cn.into()),
            dns_names: if server {
                vec![format!("*.{MESH_DOMAIN}")]
            } else {
                Vec::new()
            },
            ip_addresses: Vec::new(),
            uris: Vec::new(),
            emails: Vec::new(),
            server_auth: server,
            client_auth: true,
            digital_signature: true,
            key_encipherment: true,
            not_before: now,
            not_after: now + lifetime,
        }
    }

    fn remote(ca: &Ca) -> Issued {
        issue(
            &leaf("remote", false, Duration::days(1000)),
            ca,
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    }

    /// A cluster that dials its peer `peer` at `peer.mesh.cilium.io:port`, pinned to `pins`.
    fn live(
        name: &str,
        id: u32,
        ca: &Ca,
        remote: &Issued,
        peer: Option<(&str, u16, &[&str])>,
        node: (&str, u16),
    ) -> Live {
        let mut clustermesh = json!({"data": {}});
        let mut aliases = Vec::new();
        if let Some((p, port, pins)) = peer {
            clustermesh["data"][p] = json!(b64(&format!(
                "endpoints:\n- https://{p}.{MESH_DOMAIN}:{port}\ntrusted-ca-file: /var/lib/cilium/clustermesh/common-etcd-client-ca.crt\n"
            )));
            for ip in pins {
                aliases.push(json!({"ip": ip, "hostnames": [format!("{p}.{MESH_DOMAIN}")]}));
            }
        }
        Live {
            config: Some(
                json!({"data": {"cluster-name": name, "cluster-id": id.to_string(),
                "kube-proxy-replacement": "true"}}),
            ),
            agents: Some(
                json!({"spec": {"template": {"spec": {"hostAliases": aliases,
                "containers": [{"name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.17.6"}]}}}}),
            ),
            service: Some(json!({"spec": {"type": "NodePort",
                "ports": [{"port": 2379, "targetPort": 2379, "nodePort": node.1}]}})),
            ca: Some(json!({"data": {"ca.crt": b64(&ca.cert_pem), "ca.key": b64(&ca.key_pem)}})),
            remote_cert: Some(json!({"data": {"ca.crt": b64(&ca.cert_pem),
                "tls.crt": b64(&remote.cert_pem), "tls.key": b64(&remote.key_pem)}})),
            clustermesh: Some(clustermesh),
            nodes: vec![
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": node.0}]}}),
            ],
            ..Live::default()
        }
    }

    fn der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    }

    /// What a healthy path looks like from the edge.
    fn healthy_probe(server: &Issued, peer: &str, id: u32) -> PathProbe {
        let now = OffsetDateTime::now_utc();
        let stamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let address: SocketAddr = "172.18.0.4:32380".parse().unwrap();
        PathProbe {
            resolved: vec![Resolved {
                addresses: Ok(vec![address.ip()]),
            }],
            addresses: vec![AddressProbe {
                address,
                server_name: format!("{peer}.{MESH_DOMAIN}"),
                tcp: Ok(1),
                tls: Some(TlsProbe {
                    handshake: Ok(()),
                    version: Some("TLS 1.3".into()),
                    cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
                    chain: vec![der(&server.cert_pem)],
                    verified: Some(Ok(())),
                    client_cert_requested: true,
                    client_cert_sent: true,
                    accepted: Some(Ok(())),
                }),
            }],
            etcd: Some(Ok(EtcdFacts {
                address: Some(address),
                version: "3.5.21".into(),
                cluster_config: Some(format!(
                    r#"{{"id":{id},"capabilities":{{"syncedCanaries":true,"maxConnectedClusters":255}}}}"#
                )),
                heartbeat: Some(stamp),
                canaries: SYNC_KINDS.iter().map(|k| (k.to_string(), true)).collect(),
                counts: SYNC_KINDS.iter().map(|k| (k.to_string(), 2)).collect(),
            })),
        }
    }

    struct Fixture {
        mesh: Mesh,
        west: Live,
        east: Live,
        server: Issued,
    }

    fn fixture() -> Fixture {
        let ca = test_ca("Cilium CA");
        let server = issue(
            &leaf(
                "clustermesh-apiserver.cilium.io",
                true,
                Duration::days(1000),
            ),
            &ca,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        Fixture {
            mesh: mesh(),
            west: live(
                "west",
                1,
                &ca,
                &remote(&ca),
                Some(("east", 32380, &["172.18.0.4"])),
                ("172.18.0.2", 32379),
            ),
            east: live(
                "east",
                2,
                &ca,
                &remote(&ca),
                Some(("west", 32379, &["172.18.0.2"])),
                ("172.18.0.4", 32380),
            ),
            server,
        }
    }

    fn run(f: &Fixture, probe: impl FnOnce(&mut PathProbe)) -> (Plan, Vec<Check>) {
        let pair = Pair {
            mesh: &f.mesh,
            mesh_path: "mesh.yaml",
            from: &f.mesh.clusters[0],
            to: &f.mesh.clusters[1],
            from_live: Ok(&f.west),
            to_live: Ok(&f.east),
        };
        let plan = plan(&pair);
        let mut p = healthy_probe(&f.server, "east", 2);
        probe(&mut p);
        let collisions = state::nodeport_collisions(&[
            (&f.mesh.clusters[0], &f.west),
            (&f.mesh.clusters[1], &f.east),
        ]);
        let checks = judge(&pair, &plan, &p, &collisions, OffsetDateTime::now_utc());
        (plan, checks)
    }

    fn status_of(checks: &[Check], id: &str) -> (Status, String) {
        let c = checks.iter().find(|c| c.id == id).unwrap();
        (c.status, c.message.clone())
    }

    fn problems(checks: &[Check]) -> Vec<(&'static str, Status)> {
        checks
            .iter()
            .filter(|c| c.status != Status::Ok)
            .map(|c| (c.id, c.status))
            .collect()
    }

    #[test]
    fn a_healthy_path_is_all_ok_and_the_key_stays_hidden() {
        let f = fixture();
        let (plan, checks) = run(&f, |_| {});
        assert_eq!(
            checks.iter().map(|c| c.id).collect::<Vec<_>>(),
            CHECKS.to_vec()
        );
        assert!(problems(&checks).is_empty(), "{checks:#?}");
        assert!(checks.iter().all(|c| c.hint.is_empty()));
        assert_eq!(plan.source, Source::Configured("cilium-clustermesh"));
        assert_eq!(
            plan.targets,
            [Target {
                url: "https://east.mesh.cilium.io:32380".into(),
                host: "east.mesh.cilium.io".into(),
                port: 32380,
                resolve: Resolve::Aliases {
                    ips: vec!["172.18.0.4".parse().unwrap()],
                    source: "host aliases of DaemonSet cilium".into()
                },
            }]
        );
        assert!(plan.client_key.as_deref().unwrap().contains("PRIVATE KEY"));
        assert!(!format!("{plan:?}").contains("PRIVATE KEY"));
        let text = serde_json::to_string(&checks).unwrap();
        assert!(!text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"));
        let (_, sync) = status_of(&checks, "etcd-sync");
        assert_eq!(sync, "synced: nodes 2, services 2, identities 2, ip 2");
    }

    #[test]
    fn etcd_findings() {
        let f = fixture();
        let (_, checks) = run(&f, |p| {
            let Some(Ok(e)) = &mut p.etcd else { panic!() };
            e.cluster_config = Some(r#"{"id":7}"#.into());
            let old = OffsetDateTime::now_utc() - Duration::minutes(5);
            e.heartbeat = Some(
                old.format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
            );
            e.canaries.insert("services".into(), false);
        });
        assert_eq!(
            problems(&checks),
            [
                ("etcd-cluster-config", Status::Fail),
                ("etcd-heartbeat", Status::Warn),
                ("etcd-sync", Status::Warn)
            ]
        );
        assert!(
            status_of(&checks, "etcd-cluster-config")
                .1
                .contains("announces id 7")
        );
        assert!(status_of(&checks, "etcd-heartbeat").1.contains("5m ago"));
        assert!(
            status_of(&checks, "etcd-sync")
                .1
                .contains("not synced: services")
        );

        let (_, checks) = run(&f, |p| p.etcd = Some(Err("timed out after 2s".into())));
        assert_eq!(
            problems(&checks),
            [
                ("etcd-cluster-config", Status::Fail),
                ("etcd-heartbeat", Status::Warn),
                ("etcd-sync", Status::Warn)
            ]
        );
    }

    #[test]
    fn certificates_that_expire_soon_warn_and_expired_ones_fail() {
        let mut f = fixture();
        let ca = Ca::from_pem(
            &f.west.ca_cert().unwrap(),
            &secret_text(f.west.ca.as_ref().unwrap(), "ca.key").unwrap(),
        )
        .unwrap();
        let soon = issue(
            &leaf("remote", false, Duration::days(10)),
            &ca,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let set = |l: &mut Live, c: &Issued| {
            l.remote_cert.as_mut().unwrap()["data"]["tls.crt"] = json!(b64(&c.cert_pem));
        };
        set(&mut f.west, &soon);
        let (_, checks) = run(&f, |_| {});
        assert_eq!(problems(&checks), [("cert-expiry", Status::Warn)]);
        assert!(
            status_of(&checks, "cert-expiry")
                .1
                .contains("west's client certificate (CN=remote) expires")
        );
        let old = issue(
            &leaf("remote", false, Duration::days(10)),
            &ca,
            OffsetDateTime::now_utc() - Duration::days(40),
        )
        .unwrap();
        set(&mut f.west, &old);
        let (_, checks) = run(&f, |_| {});
        assert_eq!(problems(&checks), [("cert-expiry", Status::Fail)]);
        assert!(status_of(&checks, "cert-expiry").1.contains("expired"));
    }

    #[test]
    fn another_ca_fails_ca_equal_and_client_cert_offline() {
        let mut f = fixture();
        let other = test_ca("Cilium CA");
        f.east.ca = Some(json!({"data": {"ca.crt": b64(&other.cert_pem)}}));
        let (_, checks) = run(&f, |_| {});
        assert_eq!(
            problems(&checks),
            [("client-cert", Status::Fail), ("ca-equal", Status::Fail)]
        );
        let (_, m) = status_of(&checks, "client-cert");
        assert!(m.contains("another CA of the same name"), "{m}");
        let ca_equal = checks.iter().find(|c| c.id == "ca-equal").unwrap();
        assert!(ca_equal.hint.contains("kubectl mesh ca sync"));
    }

    #[test]
    fn endpoint_drift_warns_for_some_stale_addresses_and_fails_for_all() {
        let mut f = fixture();
        f.east.nodes.push(
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.5"}]}}),
        );
        let (_, checks) = run(&f, |_| {});
        assert!(problems(&checks).is_empty(), "a new node is not drift");
        f.east.nodes.remove(0);
        let (_, checks) = run(&f, |_| {});
        let drift = checks.iter().find(|c| c.id == "endpoint-drift").unwrap();
        assert_eq!(drift.status, Status::Fail, "{drift:?}");
        assert!(drift.hint.contains("--rediscover"));
        f.east.nodes.push(
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.4"}]}}),
        );
        f.west.agents.as_mut().unwrap()["spec"]["template"]["spec"]["hostAliases"] = json!([
            {"ip": "172.18.0.4", "hostnames": ["east.mesh.cilium.io"]},
            {"ip": "172.18.0.9", "hostnames": ["east.mesh.cilium.io"]}]);
        let (_, checks) = run(&f, |_| {});
        let (status, m) = status_of(&checks, "endpoint-drift");
        assert_eq!(status, Status::Warn);
        assert!(m.contains("172.18.0.9 no longer east's"), "{m}");
    }

    #[test]
    fn the_nodeport_trap_fails_the_pair() {
        let mut f = fixture();
        f.east.service.as_mut().unwrap()["spec"]["ports"][0]["nodePort"] = json!(32379);
        f.mesh.clusters[1].clustermesh.as_mut().unwrap().port = 32379;
        let (_, checks) = run(&f, |_| {});
        let c = checks
            .iter()
            .find(|c| c.id == "nodeport-collision")
            .unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.message.contains("#24692") && c.hint.contains("apiserverNodePort"));
    }

    #[test]
    fn names_without_an_alias_and_missing_configs() {
        let mut f = fixture();
        f.west.agents.as_mut().unwrap()["spec"]["template"]["spec"]["hostAliases"] = json!([]);
        let (plan, checks) = run(&f, |p| {
            p.resolved[0].addresses = Err("no alias".into());
            p.addresses.clear();
            p.etcd = None;
        });
        assert!(matches!(plan.targets[0].resolve, Resolve::Unresolvable(_)));
        let (status, m) = status_of(&checks, "dns");
        assert_eq!(status, Status::Fail);
        assert!(m.contains("no host alias pins east.mesh.cilium.io"), "{m}");
        assert_eq!(status_of(&checks, "tcp").0, Status::Warn);
        assert_eq!(status_of(&checks, "etcd-cluster-config").0, Status::Warn);

        // Not connected: the expected endpoint is probed, with its recorded IPs.
        f.west.clustermesh = Some(json!({"data": {}}));
        let (plan, checks) = run(&f, |_| {});
        assert_eq!(plan.source, Source::Expected("the mesh file"));
        assert!(matches!(&plan.targets[0].resolve, Resolve::Aliases { ips, .. } if ips.len() == 1));
        assert_eq!(status_of(&checks, "peer-config").0, Status::Fail);
        assert_eq!(status_of(&checks, "dns").0, Status::Warn);

        // 1.20 etcd configs carry their own host aliases.
        f.west.clustermesh = Some(json!({"data": {"east": b64(
            "endpoints:\n- https://east.mesh.cilium.io:32380\ncilium-host-aliases:\n- hostname: east.mesh.cilium.io\n  ips:\n    - 172.18.0.4\n")}}));
        let (plan, _) = run(&f, |_| {});
        assert_eq!(
            plan.targets[0].resolve,
            Resolve::Aliases {
                ips: vec!["172.18.0.4".parse().unwrap()],
                source: "cilium-host-aliases of the etcd config".into()
            }
        );

        // A load balancer's name is resolved by DNS.
        f.west.clustermesh = Some(json!({"data": {"east": b64(
            "endpoints:\n- https://east.elb.example.org:2379\n")}}));
        let (plan, _) = run(&f, |_| {});
        assert_eq!(plan.targets[0].resolve, Resolve::Dns);
    }

    #[test]
    fn an_unreadable_cluster_fails_identity_and_leaves_the_rest_unchecked() {
        let f = fixture();
        let pair = Pair {
            mesh: &f.mesh,
            mesh_path: "mesh.yaml",
            from: &f.mesh.clusters[0],
            to: &f.mesh.clusters[1],
            from_live: Ok(&f.west),
            to_live: Err("connection refused".into()),
        };
        let plan = plan(&pair);
        let probe = healthy_probe(&f.server, "east", 2);
        let checks = judge(&pair, &plan, &probe, &[], OffsetDateTime::now_utc());
        assert_eq!(checks.len(), CHECKS.len());
        assert_eq!(status_of(&checks, "identity").0, Status::Fail);
        for id in ["max-connected-clusters", "endpoint-drift", "ca-equal"] {
            let (s, m) = status_of(&checks, id);
            assert_eq!(s, Status::Warn, "{id}");
            assert!(
                m.starts_with("not checked: cannot read cluster east"),
                "{m}"
            );
        }
        // The path itself, as west configured it, is still walked.
        assert_eq!(status_of(&checks, "tls-verify").0, Status::Ok);
        assert_eq!(status_of(&checks, "etcd-sync").0, Status::Ok);
    }

    #[test]
    fn with_kvstoremesh_the_apiserver_dials_the_peers() {
        let mut f = fixture();
        let config = f.west.clustermesh.take().unwrap();
        let aliases =
            f.west.agents.as_ref().unwrap()["spec"]["template"]["spec"]["hostAliases"].clone();
        f.west.agents.as_mut().unwrap()["spec"]["template"]["spec"]["hostAliases"] = json!([]);
        f.west.clustermesh = Some(json!({"data": {"east": b64(
            "endpoints:\n- https://clustermesh-apiserver.kube-system.svc:2379\n")}}));
        f.west.kvstoremesh = Some(config);
        f.west.apiserver = Some(
            json!({"spec": {"template": {"spec": {"hostAliases": aliases,
            "containers": [{"name": "etcd"}, {"name": "apiserver"}, {"name": "kvstoremesh"}]}}}}),
        );
        let (plan, checks) = run(&f, |_| {});
        assert_eq!(plan.source, Source::Configured("cilium-kvstoremesh"));
        assert_eq!(
            plan.targets[0].resolve,
            Resolve::Aliases {
                ips: vec!["172.18.0.4".parse().unwrap()],
                source: "host aliases of Deployment clustermesh-apiserver".into()
            }
        );
        assert!(problems(&checks).is_empty(), "{checks:#?}");
    }

    #[test]
    fn urls_split_like_etcd_endpoints() {
        assert_eq!(
            split_url("https://east.mesh.cilium.io:32380"),
            Some(("east.mesh.cilium.io".into(), 32380))
        );
        assert_eq!(split_url("https://[::1]:2379"), Some(("::1".into(), 2379)));
        assert_eq!(
            split_url("https://10.0.0.1"),
            Some(("10.0.0.1".into(), 2379))
        );
        assert_eq!(split_url("https://"), None);
    }
}
