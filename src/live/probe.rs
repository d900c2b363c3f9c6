//! The network edge of `kubectl mesh troubleshoot`: the path one cluster's agents take to a
//! peer, walked from the workstation with that cluster's configuration and credentials —
//! resolve the endpoint's name (host aliases first, as in the agent's pod), connect to every
//! address, shake hands with TLS (recording whether the server certificate verifies against the
//! trusted CA for the name the agent uses, and whether the server accepts the client
//! certificate), and read the peer's etcd (`super::etcd`). Every step is bounded by the request
//! timeout; what it finds is judged by `crate::mesh::troubleshoot`.

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
    AddressProbe, PathProbe, Plan, Resolve, Resolved, Target, TlsProbe, VerifyFailure,
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

/// Walks the path of `plan`, bounded by `timeout` per stage: name resolution (only DNS can
/// take time), then per address TCP and TLS, and the etcd read concurrently with them. An etcd
/// read is not tried when no address accepts a connection.
pub async fn probe_path(plan: &Plan, timeout: Option<Duration>) -> PathProbe {
    let resolved: Vec<Resolved> =
        futures::future::join_all(plan.targets.iter().map(|t| resolve(t, timeout))).await;
    let mut addresses: Vec<(SocketAddr, String)> = Vec::new();
    for (t, r) in plan.targets.iter().zip(&resolved) {
        for ip in r.addresses.iter().flatten() {
            let a = SocketAddr::new(*ip, t.port);
            if !addresses.iter().any(|(x, _)| *x == a) {
                addresses.push((a, t.host.clone()));
            }
        }
    }
    if addresses.is_empty() {
        return PathProbe {
            resolved,
            addresses: Vec::new(),
            etcd: None,
        };
    }
    let material = Material::new(plan);
    let deadline = Deadline::after(timeout);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let pipelines = futures::future::join_all(addresses.iter().map(|(a, name)| {
        let tx = tx.clone();
        probe_address(*a, name.clone(), &material, deadline, tx)
    }));
    drop(tx);
    // Resolves when every address has failed to connect: the etcd read is then pointless.
    let none_connected = async move {
        let mut any = false;
        while let Some(ok) = rx.recv().await {
            any |= ok;
        }
        if any {
            std::future::pending::<()>().await;
        }
    };
    let server_name = addresses[0].1.clone();
    let etcd_addresses: Vec<SocketAddr> = addresses
        .iter()
        .filter(|(_, n)| *n == server_name)
        .map(|(a, _)| *a)
        .collect();
    let etcd = async {
        tokio::select! {
            r = deadline.run(super::etcd::read(&etcd_addresses, &server_name, plan, timeout)) => {
                Some(r.and_then(|r| r))
            }
            () = none_connected => None,
        }
    };
    let (addresses, mut etcd) = tokio::join!(pipelines, etcd);
    if addresses.iter().all(|a| a.tcp.is_err()) {
        etcd = None;
    }
    PathProbe {
        resolved,
        addresses,
        etcd,
    }
}

async fn resolve(t: &Target, timeout: Option<Duration>) -> Resolved {
    let addresses = match &t.resolve {
        Resolve::Literal(ip) => Ok(vec![*ip]),
        Resolve::Aliases { ips, .. } => Ok(ips.clone()),
        Resolve::Unresolvable(why) => Err(why.clone()),
        Resolve::Dns => match Deadline::after(timeout)
            .run(tokio::net::lookup_host((t.host.as_str(), t.port)))
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
        },
    };
    Resolved { addresses }
}

async fn probe_address(
    address: SocketAddr,
    server_name: String,
    material: &Material,
    deadline: Deadline,
    connected: tokio::sync::mpsc::UnboundedSender<bool>,
) -> AddressProbe {
    let started = Instant::now();
    let stream = match deadline.run(TcpStream::connect(address)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let _ = connected.send(false);
            return AddressProbe {
                address,
                server_name,
                tcp: Err(e.to_string()),
                tls: None,
            };
        }
        Err(e) => {
            let _ = connected.send(false);
            return AddressProbe {
                address,
                server_name,
                tcp: Err(e),
                tls: None,
            };
        }
    };
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let _ = connected.send(true);
    let tls = handshake(stream, &server_name, material, deadline).await;
    AddressProbe {
        address,
        server_name,
        tcp: Ok(ms),
        tls: Some(tls),
    }
}

/// The TLS material of one path, prepared once for all its addresses.
struct Material {
    provider: Arc<CryptoProvider>,
    verifier: Result<Arc<WebPkiServerVerifier>, String>,
    client: Result<Option<Arc<CertifiedKey>>, String>,
}

impl Material {
    fn new(plan: &Plan) -> Material {
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
        Material {
            provider,
            verifier,
            client,
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
        let result = match &self.inner {
            Ok(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map(|_| ())
                .map_err(|e| (classify(&e), e.to_string())),
            Err(why) => Err((VerifyFailure::NoTrustedCa, why.clone())),
        };
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

async fn handshake(
    stream: TcpStream,
    server_name: &str,
    material: &Material,
    deadline: Deadline,
) -> TlsProbe {
    let mut probe = TlsProbe::default();
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
