//! Certificates the tests issue themselves: a Cilium-like CA, clustermesh-apiserver server
//! certificates, `remote` client certificates, with any validity (expired ones included).

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Pair {
    pub cert: String,
    pub key: String,
}

pub struct Ca {
    pub pair: Pair,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A CA like the chart's `cilium-ca` (CN=Cilium CA), valid for three years.
    pub fn new(cn: &str) -> Ca {
        let now = OffsetDateTime::now_utc();
        Ca::valid_between(cn, now - Duration::hours(1), now + Duration::days(3 * 365))
    }

    /// A CA valid from `not_before` to `not_after` (an expired one, for tests).
    pub fn valid_between(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.self_signed(&key).unwrap();
        let pair = Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        };
        let issuer = Issuer::from_ca_cert_pem(&pair.cert, key).unwrap();
        Ca { pair, issuer }
    }

    /// A leaf valid from `from` to `until` (relative to now).
    pub fn issue(&self, leaf: &Leaf, from: Duration, until: Duration) -> Pair {
        let now = OffsetDateTime::now_utc();
        self.issue_between(leaf, now + from, now + until)
    }

    /// A leaf valid from `not_before` to `not_after`.
    pub fn issue_between(
        &self,
        leaf: &Leaf,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Pair {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, leaf.cn);
        for d in leaf.dns {
            params
                .subject_alt_names
                .push(SanType::DnsName((*d).try_into().unwrap()));
        }
        for ip in leaf.ips {
            params
                .subject_alt_names
                .push(SanType::IpAddress(ip.parse::<IpAddr>().unwrap()));
        }
        params.extended_key_usages = leaf.usages.to_vec();
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A leaf valid for three years.
    pub fn issue_valid(&self, leaf: &Leaf) -> Pair {
        self.issue(leaf, Duration::minutes(-5), Duration::days(3 * 365))
    }
}

/// What a leaf certificate names and is for.
pub struct Leaf {
    pub cn: &'static str,
    pub dns: &'static [&'static str],
    pub ips: &'static [&'static str],
    pub usages: &'static [ExtendedKeyUsagePurpose],
}

/// Hubble's server certificate, as the chart issues it for a cluster still called `default`.
pub const HUBBLE_SERVER: Leaf = Leaf {
    cn: "*.default.hubble-grpc.cilium.io",
    dns: &["*.default.hubble-grpc.cilium.io"],
    ips: &[],
    usages: &[
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ],
};

/// The clustermesh-apiserver's server certificate, as the chart issues it.
pub const SERVER: Leaf = Leaf {
    cn: "clustermesh-apiserver.cilium.io",
    dns: &[
        "clustermesh-apiserver.cilium.io",
        "*.mesh.cilium.io",
        "clustermesh-apiserver.kube-system.svc",
    ],
    ips: &["127.0.0.1", "::1"],
    usages: &[
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ],
};

/// A server certificate without `*.mesh.cilium.io`: the agents' name does not match.
pub const SERVER_WITHOUT_MESH_NAME: Leaf = Leaf {
    cn: "clustermesh-apiserver.cilium.io",
    dns: &["clustermesh-apiserver.cilium.io"],
    ips: &["127.0.0.1"],
    usages: &[
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ],
};

/// The client certificate the agents present to peers (`clustermesh-apiserver-remote-cert`).
pub const REMOTE: Leaf = Leaf {
    cn: "remote",
    dns: &[],
    ips: &[],
    usages: &[ExtendedKeyUsagePurpose::ClientAuth],
};

/// The tests' own client, to seed etcd.
pub const ADMIN: Leaf = Leaf {
    cn: "root",
    dns: &[],
    ips: &[],
    usages: &[ExtendedKeyUsagePurpose::ClientAuth],
};
