//! What the network edge must probe for one path, read from A's objects, and what it found.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use super::Pair;
use crate::mesh::Endpoint;
use crate::mesh::state::{self, Live, MESH_DOMAIN, secret_text};
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
pub(super) fn expected_endpoint(pair: &Pair) -> Result<(Endpoint, &'static str), String> {
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
        // What A's agents (or KVStoreMesh) verify peers with: the chart's CA bundle when they
        // mount it (`tls.caBundle`), else ca.crt of the remote certificate's Secret.
        trusted_ca: a.peer_trust().1,
        client_cert: remote.and_then(|s| secret_text(s, "tls.crt")),
        client_key: remote.and_then(|s| secret_text(s, "tls.key")),
    }
}
