//! Certificates the chart makes: read what a certificate says, check who issued it, and issue a
//! replacement with the same shape (subject, SANs, usages, lifetime) for another cluster name.

use std::net::IpAddr;

use ::time::{Duration, OffsetDateTime};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use x509_parser::prelude::{FromDer, GeneralName, SubjectPublicKeyInfo, X509Certificate};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("not a PEM certificate: {0}")]
    NotPem(String),
    #[error(
        "is DER (binary), not PEM: convert it with `openssl x509 -inform der -in FILE -out FILE.pem`"
    )]
    Der,
    #[error("the CA private key is missing (empty or null)")]
    NoKey,
    #[error("is not a CA certificate ({0}): it cannot sign certificates")]
    NotCa(&'static str),
    #[error(
        "the CA certificate expired on {0}: make a new CA (e.g. `kubectl mesh ca sync` from a cluster whose cilium-ca is valid)"
    )]
    Expired(String),
    #[error("the CA certificate is not valid before {0}")]
    NotYetValid(String),
    #[error("not an X.509 certificate: {0}")]
    NotX509(String),
    #[error("cannot read the private key: {0}")]
    Key(String),
    #[error("the CA private key does not belong to the CA certificate")]
    KeyMismatch,
    #[error("cannot issue a certificate: {0}")]
    Issue(String),
}

/// A CA that can sign: its certificate (PEM, as shipped to clients) and its signing key.
pub struct Ca {
    pub cert_pem: String,
    pub key_pem: String,
    spki: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Loads a CA from PEM; the key may be PKCS#8, PKCS#1 (RSA, as Helm's `genCA` writes) or SEC1.
    /// Refused: DER instead of PEM, no key, a key of another certificate, a certificate that is
    /// not a CA (basicConstraints missing or CA:FALSE). Expiry needs a clock: [`Ca::usable_at`].
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, CertError> {
        let der = pem_der(cert_pem)?;
        let (_, cert) =
            X509Certificate::from_der(&der).map_err(|e| CertError::NotX509(e.to_string()))?;
        require_ca(&cert)?;
        if key_pem.trim().is_empty() || key_pem.trim() == "null" {
            return Err(CertError::NoKey);
        }
        if !key_pem.contains("-----BEGIN") {
            return Err(CertError::Key(
                "not a PEM private key (DER or other binary keys are not read: convert it with `openssl pkey -inform der -in FILE -out FILE.pem`)"
                    .into(),
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| CertError::Key(e.to_string()))?;
        let spki = cert.public_key().raw.to_vec();
        if rcgen::PublicKeyData::subject_public_key_info(&key) != spki {
            return Err(CertError::KeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| CertError::NotX509(e.to_string()))?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            spki,
            issuer,
        })
    }

    /// Refuses a CA that is not valid at `now` (expired, or not yet valid).
    pub fn usable_at(&self, now: OffsetDateTime) -> Result<(), CertError> {
        let der = pem_der(&self.cert_pem)?;
        let (_, cert) =
            X509Certificate::from_der(&der).map_err(|e| CertError::NotX509(e.to_string()))?;
        valid_at(&cert, now)
    }

    /// Whether `cert_pem`'s signature verifies with this CA's public key.
    pub fn signed(&self, cert_pem: &str) -> bool {
        let Ok(der) = pem_der(cert_pem) else {
            return false;
        };
        let Ok((_, cert)) = X509Certificate::from_der(&der) else {
            return false;
        };
        let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(&self.spki) else {
            return false;
        };
        cert.verify_signature(Some(&spki)).is_ok()
    }

    /// Whether both hold the same certificate (compared by DER, not by PEM text).
    pub fn same_cert(&self, other_pem: &str) -> bool {
        same_cert_pem(&self.cert_pem, other_pem)
    }
}

/// Checks a CA certificate given without its key (a cluster's own CA in a mesh of several CAs,
/// which only goes into the CA bundles): PEM, X.509, a CA (basicConstraints), valid at `now`.
pub fn check_ca_cert(cert_pem: &str, now: OffsetDateTime) -> Result<(), CertError> {
    let der = pem_der(cert_pem)?;
    let (_, cert) =
        X509Certificate::from_der(&der).map_err(|e| CertError::NotX509(e.to_string()))?;
    require_ca(&cert)?;
    valid_at(&cert, now)
}

/// A CA certificate's basicConstraints say CA:TRUE.
fn require_ca(cert: &X509Certificate) -> Result<(), CertError> {
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Ok(()),
        Ok(Some(_)) => Err(CertError::NotCa("basicConstraints CA:FALSE")),
        Ok(None) => Err(CertError::NotCa("no basicConstraints extension")),
        Err(e) => Err(CertError::NotX509(e.to_string())),
    }
}

/// `now` lies within the certificate's validity.
fn valid_at(cert: &X509Certificate, now: OffsetDateTime) -> Result<(), CertError> {
    let validity = cert.validity();
    if validity.not_after.to_datetime() < now {
        return Err(CertError::Expired(validity.not_after.to_string()));
    }
    if validity.not_before.to_datetime() > now {
        return Err(CertError::NotYetValid(validity.not_before.to_string()));
    }
    Ok(())
}

/// Whether two PEM texts hold the same certificate (by DER).
pub fn same_cert_pem(a: &str, b: &str) -> bool {
    matches!((pem_der(a), pem_der(b)), (Ok(a), Ok(b)) if a == b)
}

/// Every PEM certificate block of `text`, each as its own PEM text (trimmed), in order.
pub fn pem_blocks(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// What a leaf certificate says, as far as a Cilium component checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// URI SANs (e.g. SPIFFE IDs), kept as they are on re-issue.
    pub uris: Vec<String>,
    /// Email SANs, kept as they are on re-issue.
    pub emails: Vec<String>,
    pub server_auth: bool,
    pub client_auth: bool,
    pub digital_signature: bool,
    pub key_encipherment: bool,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Leaf {
    pub fn read(cert_pem: &str) -> Result<Leaf, CertError> {
        let der = pem_der(cert_pem)?;
        let (_, cert) =
            X509Certificate::from_der(&der).map_err(|e| CertError::NotX509(e.to_string()))?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let mut uris = Vec::new();
        let mut emails = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push(d.to_string()),
                    GeneralName::URI(u) => uris.push(u.to_string()),
                    GeneralName::RFC822Name(e) => emails.push(e.to_string()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            ip_addresses.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            ip_addresses.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        let (server_auth, client_auth) = match cert.extended_key_usage() {
            Ok(Some(eku)) => (eku.value.server_auth, eku.value.client_auth),
            _ => (false, false),
        };
        let (digital_signature, key_encipherment) = match cert.key_usage() {
            Ok(Some(ku)) => (ku.value.digital_signature(), ku.value.key_encipherment()),
            _ => (false, false),
        };
        Ok(Leaf {
            common_name,
            dns_names,
            ip_addresses,
            uris,
            emails,
            server_auth,
            client_auth,
            digital_signature,
            key_encipherment,
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
        })
    }

    /// The same certificate shape with every name passed through `rename`.
    pub fn renamed(&self, rename: impl Fn(&str) -> String) -> Leaf {
        Leaf {
            common_name: self.common_name.as_deref().map(&rename),
            dns_names: self.dns_names.iter().map(|d| rename(d)).collect(),
            ..self.clone()
        }
    }

    /// Same names and usages (validity aside).
    pub fn same_identity(&self, other: &Leaf) -> bool {
        Leaf {
            not_before: other.not_before,
            not_after: other.not_after,
            ..self.clone()
        } == *other
    }

    pub fn lifetime(&self) -> Duration {
        self.not_after - self.not_before
    }
}

/// A freshly issued certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Issues `shape` (names, usages, lifetime) from `now` with a new ECDSA P-256 key, signed by `ca`.
pub fn issue(shape: &Leaf, ca: &Ca, now: OffsetDateTime) -> Result<Issued, CertError> {
    let err = |e: rcgen::Error| CertError::Issue(e.to_string());
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = &shape.common_name {
        dn.push(DnType::CommonName, cn.as_str());
    }
    params.distinguished_name = dn;
    for d in &shape.dns_names {
        params
            .subject_alt_names
            .push(SanType::DnsName(d.clone().try_into().map_err(err)?));
    }
    params
        .subject_alt_names
        .extend(shape.ip_addresses.iter().map(|ip| SanType::IpAddress(*ip)));
    for u in &shape.uris {
        params
            .subject_alt_names
            .push(SanType::URI(u.clone().try_into().map_err(err)?));
    }
    for e in &shape.emails {
        params
            .subject_alt_names
            .push(SanType::Rfc822Name(e.clone().try_into().map_err(err)?));
    }
    if shape.server_auth {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if shape.client_auth {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    if shape.digital_signature {
        params.key_usages.push(KeyUsagePurpose::DigitalSignature);
    }
    if shape.key_encipherment {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    // Backdated a little, like Helm's genSignedCert, so a skewed node clock accepts it at once.
    // Checked: a chart certificate may carry RFC 5280's "no expiry" (99991231235959Z), whose
    // lifetime added to now passes the last representable date; it stays "no expiry".
    params.not_before = now.checked_sub(Duration::minutes(5)).unwrap_or(now);
    params.not_after = now
        .checked_add(shape.lifetime().max(Duration::days(1)))
        .unwrap_or_else(no_expiry);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let cert = params.signed_by(&key, &ca.issuer).map_err(err)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// RFC 5280's "no well-defined expiration date": 9999-12-31T23:59:59Z.
fn no_expiry() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(253_402_300_799)
        .unwrap_or(::time::PrimitiveDateTime::MAX.assume_utc())
}

fn pem_der(text: &str) -> Result<Vec<u8>, CertError> {
    // DER read as text: a SEQUENCE tag (0x30) and a length, then binary.
    if text.starts_with('0')
        && !text.contains("-----BEGIN")
        && text.bytes().any(|b| b < 0x09 || b == 0xEF)
    {
        return Err(CertError::Der);
    }
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
        .map_err(|e| CertError::NotPem(e.to_string()))?;
    Ok(pem.contents)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A throw-away CA for tests.
    pub(crate) fn test_ca(cn: &str) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca::from_pem(&cert.pem(), &key.serialize_pem()).unwrap()
    }

    fn shape() -> Leaf {
        let now = OffsetDateTime::now_utc();
        Leaf {
            common_name: Some("*.default.hubble-grpc.cilium.io".into()),
            dns_names: vec!["*.default.hubble-grpc.cilium.io".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            uris: vec!["spiffe://cluster.local/ns/kube-system/sa/hubble".into()],
            emails: vec!["ops@example.org".into()],
            server_auth: true,
            client_auth: true,
            digital_signature: true,
            key_encipherment: true,
            not_before: now,
            not_after: now + Duration::days(365),
        }
    }

    #[test]
    fn issues_the_same_shape_renamed_and_signed_by_the_ca() {
        let ca = test_ca("Cilium CA");
        let other = test_ca("Other CA");
        let want = shape().renamed(|n| n.replace(".default.", ".west."));
        let now = OffsetDateTime::now_utc();
        let issued = issue(&want, &ca, now).unwrap();
        let got = Leaf::read(&issued.cert_pem).unwrap();
        assert!(got.same_identity(&want), "{got:?}");
        assert_eq!(
            got.common_name.as_deref(),
            Some("*.west.hubble-grpc.cilium.io")
        );
        assert!(
            (got.lifetime() - Duration::days(365) - Duration::minutes(5)).abs()
                < Duration::seconds(2)
        );
        assert!(ca.signed(&issued.cert_pem));
        assert!(!other.signed(&issued.cert_pem));
        assert!(issued.key_pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn a_no_expiry_certificate_is_reissued_without_overflow() {
        let ca = test_ca("Cilium CA");
        let mut want = shape();
        want.not_before = OffsetDateTime::from_unix_timestamp(1_735_689_600).unwrap();
        want.not_after = no_expiry();
        let issued = issue(&want, &ca, OffsetDateTime::now_utc()).unwrap();
        let got = Leaf::read(&issued.cert_pem).unwrap();
        assert_eq!(got.not_after, no_expiry());
        assert_eq!(got.uris, want.uris);
        assert_eq!(got.emails, want.emails);
    }

    #[test]
    fn unusable_cas_are_refused() {
        let ca = test_ca("Cilium CA");
        assert!(matches!(
            Ca::from_pem(&ca.cert_pem, ""),
            Err(CertError::NoKey)
        ));
        assert!(matches!(
            Ca::from_pem(&ca.cert_pem, "null"),
            Err(CertError::NoKey)
        ));
        let der = pem_der(&ca.cert_pem).unwrap();
        let der_text = String::from_utf8_lossy(&der).into_owned();
        assert!(
            matches!(Ca::from_pem(&der_text, &ca.key_pem), Err(CertError::Der)),
            "{:?}",
            Ca::from_pem(&der_text, &ca.key_pem).err()
        );
        // A leaf (CA:FALSE) cannot be a CA.
        let leaf = issue(&shape(), &ca, OffsetDateTime::now_utc()).unwrap();
        assert!(matches!(
            Ca::from_pem(&leaf.cert_pem, &leaf.key_pem),
            Err(CertError::NotCa(_))
        ));
        assert!(ca.usable_at(OffsetDateTime::now_utc()).is_ok());
        assert!(matches!(
            ca.usable_at(no_expiry()),
            Err(CertError::Expired(_))
        ));
    }

    #[test]
    fn a_ca_key_that_does_not_match_is_refused() {
        let a = test_ca("a");
        let b = test_ca("b");
        assert!(matches!(
            Ca::from_pem(&a.cert_pem, &b.key_pem),
            Err(CertError::KeyMismatch)
        ));
        assert!(matches!(
            Ca::from_pem("junk", &b.key_pem),
            Err(CertError::NotPem(_))
        ));
    }
}
