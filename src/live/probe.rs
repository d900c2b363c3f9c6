//! The network edge of `kubectl mesh troubleshoot`: the path one cluster's agents take to a
//! peer, walked from the workstation with that cluster's configuration and credentials —
//! resolve the endpoint's name (host aliases first, as in the agent's pod), connect to every
//! address, shake hands with TLS (recording whether the server certificate verifies against the
//! trusted CA for the name the agent uses, and whether the server accepts the client
//! certificate), and read the peer's etcd (`super::etcd`). Every step is bounded by the request
//! timeout; what it finds is judged by `crate::mesh::troubleshoot`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::mesh::troubleshoot::{
    AddressProbe, PathProbe, Plan, Resolve, Resolved, TlsProbe, VerifyFailure,
};

/// The HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (etcd) answers it with
/// its own SETTINGS once it has accepted the TLS session, client certificate included.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A point in time every step of one path must finish by; `None` waits forever.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<tokio::time::Instant>,
    timeout: Option<Duration>,
}

impl Deadline {
    pub fn after(timeout: Option<Duration>) -> Deadline {
        Deadline {
            at: timeout.map(|t| tokio::time::Instant::now() + t),
            timeout,
        }
    }

    /// `f`'s output, or "timed out after …" when the deadline passes first.
    pub async fn run<F: Future>(&self, f: F) -> Result<F::Output, String> {
        match self.at {
            Some(at) => tokio::time::timeout_at(at, f)
                .await
                .map_err(|_| format!("timed out after {}", show(self.timeout.unwrap_or_default()))),
            None => Ok(f.await),
        }
    }
}

pub(crate) fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// What bounds every probe: how many run at once, and how long each may take.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub timeout: Option<Duration>,
    pub parallel: usize,
}

/// Walks the paths of `plans` from the workstation, running each distinct probe once: name
/// resolution, then TCP, then the TLS handshakes, then the etcd reads, each stage at most
/// `bounds.parallel` probes at a time and every probe bounded by `bounds.timeout` from its
/// start. The result is one [`PathProbe`] per plan, in order, as if each path had been walked
/// on its own.
///
/// What is shared between paths, and why the answer is the same for each of them:
/// - a name lookup is a function of (host, port): the workstation asks, whoever's path it is;
///   host aliases and literal addresses are read from each path's own plan;
/// - a TCP connect is a function of the socket address alone (the `tcp` check: connected, ms);
/// - a TLS handshake is a function of (address, server name, trusted CA, client certificate
///   and key): paths share one only when their cluster's `clustermesh-apiserver-remote-cert`
///   holds the same CA, certificate and key byte for byte. With the chart's certificates, one
///   per cluster, every path shakes hands with its own, so the peer judges every path's client
///   certificate (`client-cert`) and every path's CA judges the peer (`tls-verify`);
/// - an etcd read is shared by paths to the same peer (the same keys: `cilium/cluster-config/
///   <peer>`, the heartbeat, the sync canaries and counts) through the same server name and the
///   same addresses, whose client certificates carry the same subject CN: once etcd has
///   accepted a TLS session, what it serves depends only on the user it maps the session to,
///   the CN of the verified leaf (etcd server/auth/store.go `AuthInfoFromTLS`). A path takes
///   part only through the addresses where its own handshake verified the server (A's CA, the
///   configured name: what the agent's etcd client requires) and was accepted; a path with no
///   such address reads nothing and gets the reason from its own handshake. The read is made
///   once, with the first such path's credentials.
pub async fn probe_paths(plans: &[Plan], bounds: Bounds) -> Vec<PathProbe> {
    let timeout = bounds.timeout;
    let parallel = bounds.parallel;
    // Each distinct identity (CA, certificate, key) is parsed and loaded once.
    let mut identities: Vec<(&Plan, Arc<Material>)> = Vec::new();
    let identity: Vec<usize> = plans
        .iter()
        .map(|p| {
            let same = |(q, _): &(&Plan, Arc<Material>)| {
                q.trusted_ca == p.trusted_ca
                    && q.client_cert == p.client_cert
                    && q.client_key == p.client_key
            };
            identities.iter().position(same).unwrap_or_else(|| {
                // The verdicts on servers' chains depend on the trusted CA alone.
                let verdicts = identities
                    .iter()
                    .find(|(q, _)| q.trusted_ca == p.trusted_ca)
                    .map(|(_, m)| m.verdicts.clone())
                    .unwrap_or_default();
                identities.push((p, Arc::new(Material::new(p, verdicts))));
                identities.len() - 1
            })
        })
        .collect();

    // Names.
    let mut lookups: Vec<(&str, u16)> = Vec::new();
    for t in plans.iter().flat_map(|p| &p.targets) {
        if t.resolve == Resolve::Dns && !lookups.contains(&(t.host.as_str(), t.port)) {
            lookups.push((t.host.as_str(), t.port));
        }
    }
    let looked_up = super::for_each(lookups.clone(), parallel, |(host, port)| {
        lookup(host, port, timeout)
    })
    .await;
    let resolved: Vec<Vec<Resolved>> = plans
        .iter()
        .map(|p| {
            p.targets
                .iter()
                .map(|t| {
                    let addresses = match &t.resolve {
                        Resolve::Literal(ip) => Ok(vec![*ip]),
                        Resolve::Aliases { ips, .. } => Ok(ips.clone()),
                        Resolve::Unresolvable(why) => Err(why.clone()),
                        Resolve::Dns => lookups
                            .iter()
                            .position(|l| *l == (t.host.as_str(), t.port))
                            .map_or_else(|| Err("not looked up".into()), |i| looked_up[i].clone()),
                    };
                    Resolved { addresses }
                })
                .collect()
        })
        .collect();

    // Addresses, as each path dials them: (address, the server name it uses there).
    let dialed: Vec<Vec<(SocketAddr, String)>> = plans
        .iter()
        .zip(&resolved)
        .map(|(p, r)| {
            let mut addresses: Vec<(SocketAddr, String)> = Vec::new();
            for (t, r) in p.targets.iter().zip(r) {
                for ip in r.addresses.iter().flatten() {
                    let a = SocketAddr::new(*ip, t.port);
                    if !addresses.iter().any(|(x, _)| *x == a) {
                        addresses.push((a, t.host.clone()));
                    }
                }
            }
            addresses
        })
        .collect();
    let mut sockets: Vec<SocketAddr> = Vec::new();
    for (a, _) in dialed.iter().flatten() {
        if !sockets.contains(a) {
            sockets.push(*a);
        }
    }
    let connected = super::for_each(sockets.clone(), parallel, |a| connect(a, timeout)).await;
    let tcp = |a: &SocketAddr| -> Result<u64, String> {
        sockets
            .iter()
            .position(|s| s == a)
            .map_or_else(|| Err("not connected".into()), |i| connected[i].clone())
    };

    // Handshakes: (address, server name, identity).
    let mut shakes: Vec<(SocketAddr, &str, usize)> = Vec::new();
    let mut shake_of: HashMap<(SocketAddr, &str, usize), usize> = HashMap::new();
    for (addresses, id) in dialed.iter().zip(&identity) {
        for (a, name) in addresses {
            let key = (*a, name.as_str(), *id);
            if tcp(a).is_ok() && !shake_of.contains_key(&key) {
                shake_of.insert(key, shakes.len());
                shakes.push(key);
            }
        }
    }
    // Handshakes are CPU (key exchange, signatures, the chain): spawned, they spread over the
    // runtime's worker threads.
    let shaken = super::for_each(shakes.clone(), parallel, |(a, name, id)| {
        let material = identities[id].1.clone();
        let name = name.to_string();
        async move {
            tokio::spawn(
                async move { handshake(a, &name, &material, Deadline::after(timeout)).await },
            )
            .await
            .unwrap_or_else(|e| TlsProbe {
                handshake: Err(format!("the handshake's task failed: {e}")),
                ..TlsProbe::default()
            })
        }
    })
    .await;
    let tls = |a: &SocketAddr, name: &str, id: usize| -> Option<TlsProbe> {
        shake_of.get(&(*a, name, id)).map(|&i| shaken[i].clone())
    };
    let probes: Vec<Vec<AddressProbe>> = dialed
        .iter()
        .zip(&identity)
        .map(|(addresses, id)| {
            addresses
                .iter()
                .map(|(a, name)| {
                    let tcp = tcp(a);
                    AddressProbe {
                        address: *a,
                        server_name: name.clone(),
                        tls: tcp.as_ref().ok().and_then(|_| tls(a, name, *id)),
                        tcp,
                    }
                })
                .collect()
        })
        .collect();

    // etcd reads: one per (peer, server name, accepted addresses, client CN).
    let mut reads: Vec<(&str, &str, Vec<SocketAddr>, Option<String>)> = Vec::new();
    let mut readers: Vec<usize> = Vec::new();
    let mut etcd: Vec<Option<Result<usize, String>>> = Vec::new();
    for (k, (plan, addresses)) in plans.iter().zip(&probes).enumerate() {
        if addresses.iter().all(|a| a.tcp.is_err()) {
            etcd.push(None);
            continue;
        }
        // As the agents' etcd client: the addresses of the first endpoint's name.
        let name = addresses[0].server_name.as_str();
        let candidates: Vec<&AddressProbe> =
            addresses.iter().filter(|a| a.server_name == name).collect();
        let mut passing: Vec<SocketAddr> = candidates
            .iter()
            .filter(|a| a.tls.as_ref().is_some_and(admitted))
            .map(|a| a.address)
            .collect();
        if passing.is_empty() {
            etcd.push(Some(Err(refusal(&candidates))));
            continue;
        }
        passing.sort();
        let user = identities[identity[k]].1.client_cn.clone().or_else(|| {
            // No CN to go by: this identity's own read.
            Some(format!("\0identity {}", identity[k]))
        });
        let key = (plan.peer.as_str(), name, passing, user);
        let i = reads.iter().position(|r| *r == key).unwrap_or_else(|| {
            reads.push(key);
            readers.push(k);
            reads.len() - 1
        });
        etcd.push(Some(Ok(i)));
    }
    let read = super::for_each(
        reads.iter().zip(&readers).collect(),
        parallel,
        |((_, name, addresses, _), &k)| async move {
            Deadline::after(timeout)
                .run(super::etcd::read(addresses, name, &plans[k], timeout))
                .await
                .and_then(|r| r)
        },
    )
    .await;

    resolved
        .into_iter()
        .zip(probes)
        .zip(etcd)
        .map(|((resolved, addresses), etcd)| PathProbe {
            resolved,
            addresses,
            etcd: etcd.map(|e| e.and_then(|i| read[i].clone())),
        })
        .collect()
}

/// Whether the agent's etcd client would go on through this handshake: the server verified
/// against the trusted CA for the name, the session (client certificate included) accepted.
fn admitted(t: &TlsProbe) -> bool {
    t.handshake.is_ok() && matches!(t.verified, Some(Ok(()))) && matches!(t.accepted, Some(Ok(())))
}

/// Why no etcd read was made through these addresses: what their handshakes ended with.
fn refusal(addresses: &[&AddressProbe]) -> String {
    let why = |a: &AddressProbe| -> String {
        let Some(t) = &a.tls else {
            return a.tcp.as_ref().err().cloned().unwrap_or_default();
        };
        if let Err(e) = &t.handshake {
            return e.clone();
        }
        if let Some(Err((_, e))) = &t.verified {
            return format!("invalid peer certificate: {e}");
        }
        match &t.accepted {
            Some(Err(e)) => e.clone(),
            _ => "no answer after the TLS handshake".into(),
        }
    };
    match addresses {
        [one] => why(one),
        many => many
            .iter()
            .map(|a| format!("{}: {}", a.address, why(a)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

async fn lookup(host: &str, port: u16, timeout: Option<Duration>) -> Result<Vec<IpAddr>, String> {
    match Deadline::after(timeout)
        .run(tokio::net::lookup_host((host, port)))
        .await
    {
        Ok(Ok(found)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for a in found {
                if !ips.contains(&a.ip()) {
                    ips.push(a.ip());
                }
            }
            Ok(ips)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e),
    }
}

/// Milliseconds to connect to `address`, or why not; the connection is closed at once.
async fn connect(address: SocketAddr, timeout: Option<Duration>) -> Result<u64, String> {
    let started = Instant::now();
    match Deadline::after(timeout)
        .run(TcpStream::connect(address))
        .await
    {
        Ok(Ok(_)) => Ok(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e),
    }
}

/// The TLS material of one path, prepared once for all its addresses.
struct Material {
    provider: Arc<CryptoProvider>,
    verifier: Result<Arc<WebPkiServerVerifier>, String>,
    client: Result<Option<Arc<CertifiedKey>>, String>,
    /// The subject CN of the client certificate: the user etcd serves its sessions as.
    client_cn: Option<String>,
    /// The verifier's verdicts on the chains servers showed, by (leaf, intermediates, server
    /// name, OCSP response, second), shared by the identities that trust the same CA: every
    /// peer's chain comes back on every path, and webpki's verdict is a function of these and
    /// the CA alone.
    verdicts: Arc<Mutex<HashMap<VerdictKey, Verdict>>>,
}

type Verdict = Result<(), (VerifyFailure, String)>;
type VerdictKey = (Vec<u8>, Vec<Vec<u8>>, String, Vec<u8>, u64);

impl Material {
    fn new(plan: &Plan, verdicts: Arc<Mutex<HashMap<VerdictKey, Verdict>>>) -> Material {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        if let Some(pem) = &plan.trusted_ca {
            for der in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
                let _ = roots.add(der);
            }
        }
        let verifier = if roots.is_empty() {
            Err("no CA to verify peers with (no ca.crt in Secret clustermesh-apiserver-remote-cert)".to_string())
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| e.to_string())
        };
        let client = match (&plan.client_cert, &plan.client_key) {
            (Some(cert), Some(key)) => {
                let chain: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .flatten()
                        .collect();
                // The key's text is never part of an error: only what kind of problem it was.
                match PrivateKeyDer::from_pem_slice(key.as_bytes()) {
                    Ok(key) => provider
                        .key_provider
                        .load_private_key(key)
                        .map(|k| Some(Arc::new(CertifiedKey::new(chain, k))))
                        .map_err(|_| "the client key (tls.key) is not a usable private key".into()),
                    Err(_) => Err("the client key (tls.key) is not a PEM private key".into()),
                }
            }
            _ => Ok(None),
        };
        let client_cn = plan.client_cert.as_deref().and_then(|pem| {
            let der = CertificateDer::pem_slice_iter(pem.as_bytes())
                .next()?
                .ok()?;
            let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
            let cn = cert.subject().iter_common_name().next()?;
            cn.as_str().ok().map(str::to_string)
        });
        Material {
            client_cn,
            provider,
            verifier,
            client,
            verdicts,
        }
    }
}

/// The server's chain and whether it verified.
type Seen = (Vec<Vec<u8>>, Option<Result<(), (VerifyFailure, String)>>);

/// Verifies like the agent would, but records the outcome and lets the handshake go on, so
/// that the client certificate is tried even when the server certificate does not verify.
#[derive(Debug)]
struct Recording {
    inner: Result<Arc<WebPkiServerVerifier>, String>,
    provider: Arc<CryptoProvider>,
    verdicts: Arc<Mutex<HashMap<VerdictKey, Verdict>>>,
    seen: Mutex<Seen>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let key: VerdictKey = (
            end_entity.to_vec(),
            intermediates.iter().map(|c| c.to_vec()).collect(),
            server_name.to_str().into_owned(),
            ocsp_response.to_vec(),
            now.as_secs(),
        );
        let known = self.verdicts.lock().ok().and_then(|v| v.get(&key).cloned());
        let result = known.unwrap_or_else(|| {
            let result = match &self.inner {
                Ok(v) => v
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                    .map(|_| ())
                    .map_err(|e| (classify(&e), e.to_string())),
                Err(why) => Err((VerifyFailure::NoTrustedCa, why.clone())),
            };
            if let Ok(mut v) = self.verdicts.lock() {
                v.insert(key, result.clone());
            }
            result
        });
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = (chain, Some(result));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn classify(e: &TlsError) -> VerifyFailure {
    match e {
        TlsError::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                VerifyFailure::UnknownIssuer
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                VerifyFailure::NotValidForName
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                VerifyFailure::Expired
            }
            _ => VerifyFailure::Other,
        },
        _ => VerifyFailure::Other,
    }
}

/// Presents the client certificate when asked, and remembers that it was.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    requested: AtomicBool,
    sent: AtomicBool,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::SeqCst);
        let key = self.key.clone()?;
        key.key.choose_scheme(sigschemes)?;
        self.sent.store(true, Ordering::SeqCst);
        Some(key)
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Connects to `address` and shakes hands as `material`'s cluster would, for `server_name`.
async fn handshake(
    address: SocketAddr,
    server_name: &str,
    material: &Material,
    deadline: Deadline,
) -> TlsProbe {
    let mut probe = TlsProbe::default();
    let stream = match deadline.run(TcpStream::connect(address)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            probe.handshake = Err(e.to_string());
            return probe;
        }
        Err(e) => {
            probe.handshake = Err(e);
            return probe;
        }
    };
    let client_key = match &material.client {
        Ok(k) => k.clone(),
        Err(e) => {
            probe.handshake = Err(e.clone());
            return probe;
        }
    };
    let Ok(name) = ServerName::try_from(server_name.to_string()) else {
        probe.handshake = Err(format!("{server_name:?} is not a valid TLS server name"));
        return probe;
    };
    let recording = Arc::new(Recording {
        inner: material.verifier.clone(),
        provider: material.provider.clone(),
        verdicts: material.verdicts.clone(),
        seen: Mutex::new((Vec::new(), None)),
    });
    let client = Arc::new(ClientCert {
        key: client_key,
        requested: AtomicBool::new(false),
        sent: AtomicBool::new(false),
    });
    let config = rustls::ClientConfig::builder_with_provider(material.provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(recording.clone())
                .with_client_cert_resolver(client.clone())
        });
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            probe.handshake = Err(e.to_string());
            return probe;
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let outcome = deadline.run(connector.connect(name, stream)).await;
    let finish = |probe: &mut TlsProbe| {
        if let Ok(seen) = recording.seen.lock() {
            probe.chain = seen.0.clone();
            probe.verified = seen.1.clone();
        }
        probe.client_cert_requested = client.requested.load(Ordering::SeqCst);
        probe.client_cert_sent = client.sent.load(Ordering::SeqCst);
    };
    let mut tls = match outcome {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            probe.handshake = Err(io_error_text(&e));
            finish(&mut probe);
            return probe;
        }
        Err(e) => {
            probe.handshake = Err(e);
            finish(&mut probe);
            return probe;
        }
    };
    probe.handshake = Ok(());
    {
        let (_, conn) = tls.get_ref();
        probe.version = conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
            other => format!("{other:?}"),
        });
        probe.cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
    }
    // TLS 1.3 clients finish before the server has judged their certificate: its verdict is
    // the first thing read, an answer or an alert.
    let answer = deadline
        .run(async {
            tls.write_all(H2_PREFACE).await?;
            tls.flush().await?;
            let mut buf = [0u8; 9];
            tls.read(&mut buf).await
        })
        .await;
    probe.accepted = match answer {
        Ok(Ok(n)) if n > 0 => Some(Ok(())),
        Ok(Ok(_)) => Some(Err("the server closed the connection".into())),
        Ok(Err(e)) => Some(Err(io_error_text(&e))),
        Err(_) => None,
    };
    finish(&mut probe);
    probe
}

fn io_error_text(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}
