//! The report of `cilium-dbg troubleshoot clustermesh [clusters...]` (and of
//! `kvstoremesh-dbg troubleshoot [clusters...]`, which prints the same per-cluster sections), read
//! into one [`Section`] per remote cluster. Pure.
//!
//! The shape is Cilium's, 1.16 to 1.20, from:
//! - `cilium-dbg/cmd/troubleshoot_clustermesh.go` (1.16–1.18; `cilium-dbg/cmd/troubleshoot/
//!   clustermesh.go` later): "Found %d cluster configurations", "Troubleshooting filtered subset
//!   of clusters: …", then per cluster `"\nCluster %q:\n"`, "ℹ️  This entry corresponds to the
//!   local cluster", "❌ Invalid cluster name: …" (1.19+), "❌ Configuration not found";
//! - `clustermesh-apiserver/kvstoremesh-dbg/troubleshoot.go`: the same sections;
//! - `pkg/kvstore/etcd_debug.go` (`EtcdDbg`, `etcdDbgEndpoint`, `etcdDbgCerts`,
//!   `etcdDbgOutputCert`): every line of a section, indented by `indentedWriter`. The lines are
//!   the same in every version read (1.16 printed the TLS version with its own `versionName`,
//!   later ones with `tls.VersionName`: the same names).
//!
//! Lines are recognised by their text after the leading mark (✅ ❌ ⚠️ ℹ️ 📄 🔌 🔑 ⚙️), so a
//! missing variation selector changes nothing. A line this reader does not know is kept in
//! [`Section::unknown`]: the caller reports it rather than guessing.

use serde::Serialize;

/// How a line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Ok,
    Fail,
    Warn,
    Info,
    Header,
    None,
}

/// One certificate as `etcdDbgOutputCert` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertLines {
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
}

/// One endpoint of the etcd configuration, as `etcdDbgEndpoint` tried it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointLines {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// `None` when the host is an address (no lookup); `Ok` the addresses as printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Result<String, String>>,
    /// `Ok` the address connected to; `Err` (address, error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Result<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Result<String, String>>,
    /// "Acceptable CAs" the server named when the client had no certificate it accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptable_cas: Option<String>,
    /// "TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiated: Option<String>,
    /// The GET /version after the handshake: `Ok(version)` (None: not in the answer), or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Result<Option<String>, Refusal>>,
}

/// Why the GET /version after the handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// "TLS client authentication failed": the server's alert.
    pub client_auth: bool,
    pub error: String,
}

/// The "🔑 Digital certificates" part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertsLines {
    /// "Root CA unset: using system pool".
    pub root_ca_unset: bool,
    pub root_cas: Vec<CertLines>,
    pub client_certs: Vec<CertLines>,
    /// "No available TLS client certificates".
    pub no_client_cert: bool,
    /// "Cannot verify certificate with the configured root CAs".
    pub client_unverified: bool,
    /// ❌ lines of this part (Root CA path, unparsable certificates).
    pub errors: Vec<String>,
}

/// One remote cluster's section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub cluster: String,
    /// "This entry corresponds to the local cluster".
    pub local: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_name: Option<String>,
    /// "Configuration not found".
    pub config_missing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// "No available endpoints".
    pub no_endpoints: bool,
    pub endpoints: Vec<EndpointLines>,
    pub certs: CertsLines,
    /// "⚙️ Etcd client": `Ok(cluster id)` once a key was read, or why not; `None` when the
    /// report stops before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<Result<Option<String>, String>>,
    /// Lines this reader does not know, as printed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// "Found %d cluster configurations".
    pub configurations: usize,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn section(&self, cluster: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.cluster == cluster)
    }
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// "Unable to retrieve cluster configurations: …".
    #[error("no cluster configuration could be read: {0}")]
    NoConfigurations(String),
    #[error("the output is not a clustermesh troubleshoot report (first line: {0:?})")]
    NotAReport(String),
}

fn mark(line: &str) -> (Mark, &str) {
    let mut chars = line.char_indices();
    let Some((_, first)) = chars.next() else {
        return (Mark::None, line);
    };
    let m = match first {
        '✅' => Mark::Ok,
        '❌' => Mark::Fail,
        '⚠' => Mark::Warn,
        'ℹ' => Mark::Info,
        '📄' | '🔌' | '🔑' | '⚙' => Mark::Header,
        _ => return (Mark::None, line),
    };
    let rest = &line[first.len_utf8()..];
    let rest = rest.trim_start_matches('\u{fe0f}').trim_start();
    (m, rest)
}

/// `Cluster "east":` → `east` (Go `%q`: the names Cilium accepts need no escapes).
fn cluster_header(line: &str) -> Option<String> {
    let inner = line.strip_prefix("Cluster \"")?.strip_suffix("\":")?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// `to <host>: <error>` → (host, error); the host has no space, the error may have colons.
fn target_and_error(rest: &str) -> (String, String) {
    match rest.split_once(": ") {
        Some((h, e)) => (h.to_string(), e.to_string()),
        None => (rest.to_string(), String::new()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Top,
    Endpoints,
    Certs,
    RootCas,
    ClientCerts,
    Etcd,
}

/// Reads the report. Sections come in the order printed (Cilium sorts them by name).
pub fn parse(text: &str) -> Result<Report, ReportError> {
    let mut report = Report::default();
    let mut seen_found = false;
    let mut part = Part::Top;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(e) = line.strip_prefix("Unable to retrieve cluster configurations: ") {
            return Err(ReportError::NoConfigurations(e.to_string()));
        }
        if let Some(n) = line
            .strip_prefix("Found ")
            .and_then(|r| r.strip_suffix(" cluster configurations"))
        {
            report.configurations = n.parse().unwrap_or(0);
            seen_found = true;
            continue;
        }
        if line.starts_with("Troubleshooting filtered subset of clusters: ")
            || line.starts_with("Is \"")
        {
            continue;
        }
        if let Some(name) = cluster_header(line) {
            report.sections.push(Section {
                cluster: name,
                ..Section::default()
            });
            part = Part::Top;
            continue;
        }
        let Some(section) = report.sections.last_mut() else {
            if !seen_found {
                return Err(ReportError::NotAReport(line.chars().take(120).collect()));
            }
            continue;
        };
        let (m, rest) = mark(line);
        if !read_line(section, &mut part, m, rest) {
            section.unknown.push(line.to_string());
        }
    }
    if !seen_found {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(ReportError::NotAReport(first.chars().take(120).collect()));
    }
    Ok(report)
}

/// Files one line into the section; false when it is not a line Cilium prints there.
fn read_line(s: &mut Section, part: &mut Part, m: Mark, rest: &str) -> bool {
    let after = |p: &str| rest.strip_prefix(p).map(str::to_string);
    match (m, rest) {
        (Mark::Info, "This entry corresponds to the local cluster") => s.local = true,
        (Mark::Fail, "Configuration not found") => s.config_missing = true,
        (Mark::Fail, r) if r.starts_with("Invalid cluster name:") => {
            s.invalid_name = Some(r["Invalid cluster name:".len()..].trim().to_string());
        }
        (Mark::Header, r) if r.starts_with("Configuration path: ") => {
            s.config_path = after("Configuration path: ");
        }
        (Mark::Fail, r) if r.starts_with("Cannot parse etcd configuration: ") => {
            s.config_error = after("Cannot parse etcd configuration: ");
        }
        (Mark::Fail, "No available endpoints") => s.no_endpoints = true,
        (Mark::Header, "Endpoints:") => *part = Part::Endpoints,
        (Mark::Header, "Digital certificates:") => *part = Part::Certs,
        (Mark::Header, "Etcd client:") => *part = Part::Etcd,
        _ => {
            return match *part {
                Part::Top => false,
                Part::Endpoints => endpoint_line(s, m, rest),
                Part::Certs | Part::RootCas | Part::ClientCerts => cert_line(s, part, m, rest),
                Part::Etcd => etcd_line(s, m, rest),
            };
        }
    }
    true
}

fn endpoint_line(s: &mut Section, m: Mark, rest: &str) -> bool {
    if m == Mark::None
        && let Some(url) = rest.strip_prefix("- ")
    {
        s.endpoints.push(EndpointLines {
            url: url.to_string(),
            ..EndpointLines::default()
        });
        return true;
    }
    let Some(ep) = s.endpoints.last_mut() else {
        return false;
    };
    let after = |p: &str| rest.strip_prefix(p).map(str::to_string);
    match m {
        Mark::Fail => {
            if let Some(e) = after("Cannot parse endpoint: ") {
                ep.parse_error = Some(e);
            } else if let Some(e) = after("Cannot resolve hostname: ") {
                ep.resolved = Some(Err(e));
            } else if let Some(r) = rest.strip_prefix("Cannot establish TCP connection to ") {
                let (host, e) = target_and_error(r);
                ep.tcp = Some(Err(format!("{host}: {e}")));
            } else if let Some(r) = rest.strip_prefix("Cannot establish TLS connection to ") {
                let (_, e) = target_and_error(r);
                ep.tls = Some(Err(e));
            } else if let Some(e) = after("Failed to perform a GET /version request: ") {
                ep.answer = Some(Err(Refusal {
                    client_auth: false,
                    error: e,
                }));
            } else if let Some(e) = after("TLS client authentication failed: ") {
                ep.answer = Some(Err(Refusal {
                    client_auth: true,
                    error: e,
                }));
            } else if let Some(e) = after("Failed to retrieve GET /version answer: ") {
                ep.answer = Some(Err(Refusal {
                    client_auth: false,
                    error: e,
                }));
            } else {
                return false;
            }
        }
        Mark::Ok => {
            if let Some(ips) = after("Hostname resolved to: ") {
                ep.resolved = Some(Ok(ips));
            } else if let Some(a) = after("TCP connection successfully established to ") {
                ep.tcp = Some(Ok(a));
            } else if let Some(a) = after("TLS connection successfully established to ") {
                ep.tls = Some(Ok(a));
            } else {
                return false;
            }
        }
        Mark::Info => {
            if let Some(cas) = after("Acceptable CAs: ") {
                ep.acceptable_cas = Some(cas);
            } else if let Some(n) = after("Negotiated TLS version: ") {
                ep.negotiated = Some(n);
            } else if let Some(v) = after("Etcd server version: ") {
                ep.answer = Some(Ok(Some(v)));
            } else {
                return false;
            }
        }
        Mark::Warn if rest == "Could not retrieve etcd server version" => {
            ep.answer = Some(Ok(None));
        }
        _ => return false,
    }
    true
}

fn cert_line(s: &mut Section, part: &mut Part, m: Mark, rest: &str) -> bool {
    let c = &mut s.certs;
    match (m, rest) {
        (Mark::Warn, "Root CA unset: using system pool") => c.root_ca_unset = true,
        (Mark::Ok, "TLS Root CA certificates:") => *part = Part::RootCas,
        (Mark::Ok, "TLS client certificates:") => *part = Part::ClientCerts,
        (Mark::Warn, "No available TLS client certificates") => c.no_client_cert = true,
        (Mark::Warn, "Cannot verify certificate with the configured root CAs") => {
            c.client_unverified = true;
        }
        (Mark::Fail, r) => c.errors.push(r.to_string()),
        (Mark::Ok, r) if r.starts_with("Username set to ") => {}
        (Mark::None, "Intermediates:") | (Mark::None, "Validity:") => {}
        (Mark::None, r) => {
            let field = |p: &str| r.strip_prefix(p).map(|v| v.trim().to_string());
            if let Some(serial) = field("- Serial number:") {
                let Some(l) = list(c, *part) else {
                    return false;
                };
                l.push(CertLines {
                    serial,
                    ..CertLines::default()
                });
                return true;
            }
            let Some(cert) = list(c, *part).and_then(|l| l.last_mut()) else {
                return false;
            };
            if let Some(v) = field("Subject:") {
                cert.subject = v;
            } else if let Some(v) = field("Issuer:") {
                cert.issuer = v;
            } else if let Some(v) = field("Not before:") {
                cert.not_before = v;
            } else if let Some(v) = field("Not after:") {
                cert.not_after = v;
            } else {
                return false;
            }
        }
        _ => return false,
    }
    true
}

fn list(c: &mut CertsLines, part: Part) -> Option<&mut Vec<CertLines>> {
    match part {
        Part::RootCas => Some(&mut c.root_cas),
        Part::ClientCerts => Some(&mut c.client_certs),
        _ => None,
    }
}

fn etcd_line(s: &mut Section, m: Mark, rest: &str) -> bool {
    let after = |p: &str| rest.strip_prefix(p).map(str::to_string);
    match m {
        Mark::Fail => {
            if let Some(e) = after("Failed to establish connection: ")
                .or_else(|| after("Failed to retrieve key from etcd: "))
            {
                s.etcd = Some(Err(e));
                return true;
            }
            false
        }
        Mark::Ok if rest == "Etcd connection successfully established" => {
            s.etcd = Some(Ok(None));
            true
        }
        Mark::Info => match (after("Etcd cluster ID: "), &mut s.etcd) {
            (Some(id), Some(Ok(slot))) => {
                *slot = Some(id);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Go's `time.Time.String()` ("2027-03-01 12:00:00 +0000 UTC", fractional seconds optional)
/// as a moment.
pub fn go_time(text: &str) -> Option<time::OffsetDateTime> {
    let mut parts = text.split_whitespace();
    let (date, clock, offset) = (parts.next()?, parts.next()?, parts.next()?);
    let mut d = date.splitn(3, '-').map(str::parse::<i32>);
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let clock = clock.split('.').next()?;
    let mut c = clock.splitn(3, ':').map(str::parse::<u8>);
    let (h, mi, se) = (c.next()?.ok()?, c.next()?.ok()?, c.next()?.ok()?);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = offset.get(1..5)?;
    let (oh, om): (i8, i8) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(y, month, u8::try_from(da).ok()?).ok()?;
    let t = time::Time::from_hms(h, mi, se).ok()?;
    let off = time::UtcOffset::from_hms(sign * oh, sign * om, 0).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_offset(off))
}

#[cfg(test)]
pub mod tests_support {
    /// The lines of a healthy section as `EtcdDbg` prints them (pkg/kvstore/etcd_debug.go):
    /// `indentedWriter` indents endpoints by 3, their results by 5, certificates by 6.
    pub const HEALTHY_SECTION: [&str; 30] = [
        "📄 Configuration path: /var/lib/cilium/clustermesh/{cluster}",
        "",
        "🔌 Endpoints:",
        "   - https://{cluster}.mesh.cilium.io:2379",
        "     ✅ Hostname resolved to: 172.18.0.4",
        "     ✅ TCP connection successfully established to 172.18.0.4:2379",
        "     ✅ TLS connection successfully established to 172.18.0.4:2379",
        "     ℹ️  Negotiated TLS version: TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256",
        "     ℹ️  Etcd server version: 3.5.17",
        "",
        "🔑 Digital certificates:",
        "   ✅ TLS Root CA certificates:",
        "      - Serial number:       1a:2b",
        "        Subject:             CN=Cilium CA",
        "        Issuer:              CN=Cilium CA",
        "        Validity:",
        "          Not before:  2026-01-01 00:00:00 +0000 UTC",
        "          Not after:   2029-01-01 00:00:00 +0000 UTC",
        "   ✅ TLS client certificates:",
        "      - Serial number:       3c:4d",
        "        Subject:             CN=remote",
        "        Issuer:              CN=Cilium CA",
        "        Validity:",
        "          Not before:  2026-01-01 00:00:00 +0000 UTC",
        "          Not after:   2027-01-01 00:00:00 +0000 UTC",
        "",
        "⚙️ Etcd client:",
        "   ✅ Etcd connection successfully established",
        "   ℹ️  Etcd cluster ID: 8e9e05c52164694d",
        "",
    ];

    /// A healthy report for one cluster: `TroubleshootClusterMesh`'s head
    /// (cilium-dbg/cmd/troubleshoot_clustermesh.go) and one section.
    pub fn healthy(cluster: &str) -> String {
        let mut out = format!(
            "Found 1 cluster configurations\nTroubleshooting filtered subset of clusters: {cluster}\n\nCluster \"{cluster}\":\n"
        );
        for l in HEALTHY_SECTION {
            out.push_str(&l.replace("{cluster}", cluster));
            out.push('\n');
        }
        out
    }

    /// The same, with the TLS handshake failing with `error` (`etcdDbgEndpoint` then returns;
    /// the etcd client fails on its own handshake).
    pub fn tls_failure(cluster: &str, error: &str) -> String {
        healthy(cluster)
            .replace(
                "     ✅ TLS connection successfully established to 172.18.0.4:2379\n     ℹ️  Negotiated TLS version: TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256\n     ℹ️  Etcd server version: 3.5.17\n",
                &format!("     ❌ Cannot establish TLS connection to 172.18.0.4:2379: {error}\n"),
            )
            .replace(
                "   ✅ Etcd connection successfully established\n   ℹ️  Etcd cluster ID: 8e9e05c52164694d\n",
                "   ❌ Failed to establish connection: context deadline exceeded\n",
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_section_is_read_line_by_line() {
        let r = parse(&tests_support::healthy("east")).unwrap();
        assert_eq!(r.configurations, 1);
        let s = r.section("east").unwrap();
        assert!(s.unknown.is_empty(), "{:?}", s.unknown);
        assert_eq!(
            s.config_path.as_deref(),
            Some("/var/lib/cilium/clustermesh/east")
        );
        let ep = &s.endpoints[0];
        assert_eq!(ep.url, "https://east.mesh.cilium.io:2379");
        assert_eq!(ep.resolved, Some(Ok("172.18.0.4".into())));
        assert_eq!(ep.tcp, Some(Ok("172.18.0.4:2379".into())));
        assert_eq!(ep.tls, Some(Ok("172.18.0.4:2379".into())));
        assert_eq!(
            ep.negotiated.as_deref(),
            Some("TLS 1.3, ciphersuite TLS_AES_128_GCM_SHA256")
        );
        assert_eq!(ep.answer, Some(Ok(Some("3.5.17".into()))));
        assert_eq!(s.certs.root_cas.len(), 1);
        assert_eq!(s.certs.client_certs[0].subject, "CN=remote");
        assert_eq!(
            s.certs.client_certs[0].not_after,
            "2027-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(s.etcd, Some(Ok(Some("8e9e05c52164694d".into()))));
    }

    #[test]
    fn failures_keep_their_errors() {
        let text = "Found 2 cluster configurations\n\nCluster \"east\":\n\
❌ Configuration not found\n\nCluster \"north\":\n\
📄 Configuration path: /var/lib/cilium/clustermesh/north\n\n🔌 Endpoints:\n\
   - https://north.mesh.cilium.io:2379\n\
     ❌ Cannot resolve hostname: lookup north.mesh.cilium.io on 10.96.0.10:53: no such host\n\
     ❌ Cannot establish TCP connection to north.mesh.cilium.io:2379: dial tcp: lookup north.mesh.cilium.io: no such host\n\
   - https://172.18.0.9:2379\n\
     ✅ TCP connection successfully established to 172.18.0.9:2379\n\
     ❌ Cannot establish TLS connection to 172.18.0.9:2379: tls: failed to verify certificate: x509: certificate signed by unknown authority\n\
\n🔑 Digital certificates:\n   ⚠️ Root CA unset: using system pool\n   ⚠️ No available TLS client certificates\n\
\n⚙️ Etcd client:\n   ❌ Failed to establish connection: context deadline exceeded\n";
        let r = parse(text).unwrap();
        assert!(r.section("east").unwrap().config_missing);
        let n = r.section("north").unwrap();
        assert!(n.unknown.is_empty(), "{:?}", n.unknown);
        assert!(matches!(&n.endpoints[0].resolved, Some(Err(e)) if e.contains("no such host")));
        assert!(
            matches!(&n.endpoints[0].tcp, Some(Err(e)) if e.starts_with("north.mesh.cilium.io:2379: dial tcp"))
        );
        assert!(matches!(&n.endpoints[1].tls, Some(Err(e)) if e.contains("unknown authority")));
        assert_eq!(n.endpoints[1].resolved, None);
        assert!(n.certs.root_ca_unset && n.certs.no_client_cert);
        assert_eq!(n.etcd, Some(Err("context deadline exceeded".into())));
    }

    #[test]
    fn unknown_lines_are_kept_and_non_reports_refused() {
        let r = parse("Found 1 cluster configurations\n\nCluster \"east\":\n💥 something new\n")
            .unwrap();
        assert_eq!(r.sections[0].unknown, ["💥 something new"]);
        assert!(matches!(
            parse("error: unknown command \"troubleshoot\""),
            Err(ReportError::NotAReport(_))
        ));
        assert!(matches!(
            parse(
                "Unable to retrieve cluster configurations: open /var/lib/cilium/clustermesh/: no such file or directory\nIs \"/var/lib/cilium/clustermesh/\" the correct configuration directory?\n"
            ),
            Err(ReportError::NoConfigurations(_))
        ));
    }

    #[test]
    fn go_times_parse_with_their_offset() {
        let t = go_time("2027-01-01 01:00:00.5 +0100 CET").unwrap();
        assert_eq!(t.unix_timestamp(), 1_798_761_600);
        assert_eq!(go_time("soon"), None);
    }
}
