//! TLS and certificates: the server certificate against A's CA, A's client certificate, the CAs of both sides, expiry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{
    AddressProbe, Check, EXPIRY_WARNING_DAYS, Judge, Status, TlsProbe, VerifyFailure, ago, check,
    not_checked,
};
use crate::mesh::Cluster;
use crate::mesh::state::{Live, MESH_DOMAIN};

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
    /// `subject, serial` of each, `; ` between: CAs named in a message.
    pub fn listed(cas: &[CertFacts]) -> String {
        cas.iter()
            .map(|c| format!("{}, serial {}", c.subject, c.serial))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn from_der(der: &[u8]) -> Option<CertFacts> {
        memo(&PARSED, der.to_vec(), || CertFacts::parse(der))
    }

    fn parse(der: &[u8]) -> Option<CertFacts> {
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
        memo(&SIGNED, (self.der.clone(), ca.der.clone()), || {
            let (Ok((_, cert)), Ok((_, ca))) = (
                X509Certificate::from_der(&self.der),
                X509Certificate::from_der(&ca.der),
            ) else {
                return false;
            };
            cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
        })
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

    pub(super) fn short(&self) -> String {
        format!("{}, issued by {}", self.subject, self.issuer)
    }
}

type Memo<K, V> = RefCell<HashMap<K, V>>;
type Cache<K, V> = std::thread::LocalKey<Memo<K, V>>;

thread_local! {
    /// Every path of a mesh brings back the same few certificates (each cluster's CA and client
    /// certificate, each server's chain): each is parsed once per thread, by its DER, and each
    /// signature checked once, by (certificate, CA). Pure functions of their keys.
    static PARSED: Memo<Vec<u8>, Option<CertFacts>> = RefCell::default();
    static SIGNED: Memo<(Vec<u8>, Vec<u8>), bool> = RefCell::default();
}

fn memo<K: Eq + Hash, V: Clone>(cache: &'static Cache<K, V>, key: K, f: impl FnOnce() -> V) -> V {
    if let Some(v) = cache.with(|c| c.borrow().get(&key).cloned()) {
        return v;
    }
    let v = f();
    cache.with(|c| c.borrow_mut().insert(key, v.clone()));
    v
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

impl Judge<'_> {
    pub(super) fn tls_probes(&self) -> Vec<(&AddressProbe, &TlsProbe)> {
        self.probe
            .addresses
            .iter()
            .filter_map(|p| Some((p, p.tls.as_ref()?)))
            .collect()
    }

    pub(super) fn cas(&self) -> (Vec<CertFacts>, Vec<CertFacts>) {
        let ca = |l: &Result<&Live, String>| {
            l.as_ref()
                .ok()
                .and_then(|l| l.ca_cert())
                .map(|p| pem_certs(&p))
                .unwrap_or_default()
        };
        (ca(&self.pair.from_live), ca(&self.pair.to_live))
    }

    /// A mesh of several CAs (`trust: bundle`): the CAs differ on purpose.
    pub(super) fn bundle(&self) -> bool {
        self.pair.mesh.is_bundle()
    }

    /// The CAs B's clustermesh-apiserver etcd admits client certificates of, and where from:
    /// its CA bundle when it mounts one, else its `cilium-ca`.
    pub(super) fn b_client_trust(&self) -> (String, Vec<CertFacts>) {
        match &self.pair.to_live {
            Ok(l) => {
                let (from, pem) = l.client_trust();
                (from, pem.as_deref().map(pem_certs).unwrap_or_default())
            }
            Err(_) => (String::new(), Vec::new()),
        }
    }

    pub(super) fn cas_differ(&self) -> bool {
        if self.bundle() {
            return false;
        }
        let (a, b) = self.cas();
        match (a.first(), b.first()) {
            (Some(a), Some(b)) => !a.same_ca(b),
            _ => false,
        }
    }

    pub(super) fn ca_sync_hint(&self) -> String {
        if self.bundle() {
            return format!(
                "a mesh of several CAs: each cluster's CA bundle must hold every cluster's CA (`kubectl mesh status` names what is missing): `kubectl mesh upgrade {} {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer writes the bundles; GitOps: regenerate `kubectl mesh values`)",
                self.a(),
                self.b()
            );
        }
        "run `kubectl mesh ca sync`, then `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, every cluster) to re-issue the certificates".to_string()
    }

    pub(super) fn tls_verify(&self) -> Check {
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
                            hint = if self.cas_differ() || self.bundle() {
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
                                CertFacts::listed(&trusted),
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

    pub(super) fn client_cert(&self) -> Check {
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
        let (b_from, b_trust) = if self.bundle() {
            self.b_client_trust()
        } else {
            (String::new(), self.cas().1.into_iter().take(1).collect())
        };
        let issued = (!b_trust.is_empty()).then(|| b_trust.iter().any(|ca| cert.signed_by(ca)));
        if issued == Some(false) && self.bundle() {
            status = Status::Fail;
            let same_name = b_trust.iter().any(|ca| cert.issuer == ca.subject);
            problems.push(format!(
                "not issued by a CA {} trusts ({b_from}: {}){}",
                self.b(),
                CertFacts::listed(&b_trust),
                if same_name {
                    ": only another CA of the same name (a stale CA?)"
                } else {
                    ""
                }
            ));
            hint = self.ca_sync_hint();
        } else if issued == Some(false) {
            status = Status::Fail;
            let ca = &b_trust[0];
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
            hint = if self.cas_differ() || self.bundle() {
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
        if issued == Some(true) && self.bundle() {
            message.push_str(&format!(" (a CA {} trusts: {b_from})", self.b()));
        } else if issued == Some(true) {
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

    pub(super) fn ca_equal(&self) -> Check {
        const ID: &str = "ca-equal";
        if let Err(c) = self.both(ID) {
            return *c;
        }
        if self.bundle() {
            return self.ca_in_bundle();
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

    /// `ca-equal` in a mesh of several CAs: B's CA must be among the CAs A trusts peers with
    /// (its CA bundle), and A's among those B's etcd admits clients of; a CA of the same name
    /// in their place is named as the stale CA it likely is.
    fn ca_in_bundle(&self) -> Check {
        const ID: &str = "ca-equal";
        let (a_ca, b_ca) = self.cas();
        let (a_from, a_trust) = match &self.pair.from_live {
            Ok(l) => {
                let (from, pem) = l.peer_trust();
                (from, pem.as_deref().map(pem_certs).unwrap_or_default())
            }
            Err(_) => (String::new(), Vec::new()),
        };
        let (b_from, b_trust) = self.b_client_trust();
        let details = json!({
            self.a(): a_ca.first(), self.b(): b_ca.first(),
            "trustedBy": {self.a(): {"source": a_from, "cas": a_trust}, self.b(): {"source": b_from, "cas": b_trust}},
        });
        let mut problems = Vec::new();
        for (who, ca, truster, from, trust) in [
            (self.b(), b_ca.first(), self.a(), &a_from, &a_trust),
            (self.a(), a_ca.first(), self.b(), &b_from, &b_trust),
        ] {
            let Some(ca) = ca else {
                problems.push(format!("Secret cilium-ca (ca.crt) is missing in {who}"));
                continue;
            };
            if trust.iter().any(|t| t.same_ca(ca)) {
                continue;
            }
            let stale: Vec<String> = trust
                .iter()
                .filter(|t| t.subject == ca.subject)
                .map(|t| format!("serial {}", t.serial))
                .collect();
            problems.push(format!(
                "{truster} does not trust {who}'s CA ({}, serial {}): {from} {}{}",
                ca.subject,
                ca.serial,
                if trust.is_empty() {
                    "holds no CA"
                } else {
                    "lacks it"
                },
                if stale.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; it holds a stale CA of the same name instead ({})",
                        stale.join(", ")
                    )
                }
            ));
        }
        if problems.is_empty() {
            let (a, b) = (&a_ca[0], &b_ca[0]);
            return check(
                ID,
                Status::Ok,
                format!(
                    "several CAs: {} trusts {}'s CA ({}, serial {}) through {a_from}, and {} trusts {}'s ({}, serial {}) through {b_from}",
                    self.a(),
                    self.b(),
                    b.subject,
                    b.serial,
                    self.b(),
                    self.a(),
                    a.subject,
                    a.serial
                ),
                String::new(),
                details,
            );
        }
        check(
            ID,
            Status::Fail,
            problems.join("; "),
            self.ca_sync_hint(),
            details,
        )
    }

    pub(super) fn cert_expiry(&self) -> Check {
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
}
