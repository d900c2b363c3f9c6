//! A path seen from inside cluster A: the section for B of `cilium-dbg troubleshoot clustermesh`
//! run in one of A's agents (with KVStoreMesh, `kvstoremesh-dbg troubleshoot` in A's
//! clustermesh-apiserver, the component that dials B), turned into the same check ids as the
//! workstation's, each with `from: agent/<pod>`. Pure: the report is read by [`super::report`].
//!
//! Only the checks the report speaks to are given: peer-config, dns, tcp, tls-verify,
//! client-cert, ca-equal, cert-expiry and etcd-heartbeat (the agent reads `cilium/.heartbeat`
//! as its authorization check, `pkg/kvstore/etcd_debug.go`).

use serde_json::json;
use time::OffsetDateTime;

use super::report::{self, EndpointLines, Section};
use super::{Check, EXPIRY_WARNING_DAYS, HEARTBEAT_KEY, Status};
use crate::mesh::agents::PeerView;

/// Where the agents' report came from.
#[derive(Debug, Clone)]
pub struct Vantage<'a> {
    /// A (whose component dialed) and B.
    pub from: &'a str,
    pub to: &'a str,
    /// `agent/<pod>`.
    pub label: String,
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    /// The command as run, for hints.
    pub command: String,
    /// Whether the pod is A's clustermesh-apiserver (KVStoreMesh) rather than an agent.
    pub kvstoremesh: bool,
    /// A mesh of several CAs (`trust: bundle`): the clusters' CAs differ on purpose and each
    /// trusts the others through the chart's CA bundle.
    pub bundle: bool,
}

impl Vantage<'_> {
    /// What fixes a CA a cluster does not trust: one CA (`ca sync`), or the bundle rewritten.
    fn ca_fix(&self, restart: &str) -> String {
        if self.bundle {
            format!(
                "a mesh of several CAs: every cluster's CA bundle must hold every cluster's CA (kubectl mesh status names what is missing): `kubectl mesh upgrade {} {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer, which writes the bundles), then restart {restart}",
                self.from, self.to
            )
        } else {
            format!("`kubectl mesh ca sync`, then restart {restart}")
        }
    }
    fn rerun(&self) -> String {
        format!(
            "see the full report: `kubectl exec -n {} {} -c {} -- {}`",
            self.namespace, self.pod, self.container, self.command
        )
    }

    fn who(&self) -> String {
        if self.kvstoremesh {
            format!("{}'s KVStoreMesh ({})", self.from, self.pod)
        } else {
            format!("{}'s agent {}", self.from, self.pod)
        }
    }

    fn check(&self, id: &'static str, status: Status, message: String, hint: String) -> Check {
        self.with(id, status, message, hint, json!({}))
    }

    fn with(
        &self,
        id: &'static str,
        status: Status,
        message: String,
        hint: String,
        details: serde_json::Value,
    ) -> Check {
        super::check_from(self.label.clone(), id, status, message, hint, details)
    }

    fn not_checked(&self, id: &'static str, why: &str, first: &str) -> Check {
        self.with(
            id,
            Status::Warn,
            format!("not checked: {why}"),
            format!("fix `{first}` (from {}) first", self.label),
            json!({"checked": false}),
        )
    }
}

/// The checks of A → B from A's agent. `report` is the parsed output, or why there is none
/// (exec refused, command failed, output not a report): then a single failing check says so,
/// never a healthy one.
pub fn agent_checks(
    v: &Vantage,
    report: &Result<report::Report, String>,
    now: OffsetDateTime,
) -> Vec<Check> {
    let r = match report {
        Ok(r) => r,
        Err(e) => {
            return vec![v.check(
                "agent-report",
                Status::Fail,
                format!("agents not readable: {e}"),
                v.rerun(),
            )];
        }
    };
    let Some(s) = r.section(v.to) else {
        return vec![v.check(
            "agent-report",
            Status::Fail,
            format!(
                "{} printed no section for {} ({} configuration(s) found)",
                v.who(),
                v.to,
                r.configurations
            ),
            v.rerun(),
        )];
    };
    let mut checks = vec![peer_config(v, s)];
    if checks[0].status == Status::Fail {
        for id in [
            "dns",
            "tcp",
            "tls-verify",
            "client-cert",
            "ca-equal",
            "cert-expiry",
            "etcd-heartbeat",
        ] {
            checks.push(v.not_checked(id, "no usable configuration", "peer-config"));
        }
    } else {
        checks.extend([
            dns(v, s),
            tcp(v, s),
            tls_verify(v, s),
            client_cert(v, s),
            ca_equal(v, s),
            cert_expiry(v, s, now),
            etcd(v, s),
        ]);
    }
    if !s.unknown.is_empty() {
        let failing = s.unknown.iter().any(|l| l.starts_with('❌'));
        checks.push(v.with(
            "agent-report",
            if failing { Status::Fail } else { Status::Warn },
            format!(
                "{} line(s) of the report not understood: {}",
                s.unknown.len(),
                s.unknown.join(" | ")
            ),
            v.rerun(),
            json!({"unknown": s.unknown}),
        ));
    }
    checks
}

fn peer_config(v: &Vantage, s: &Section) -> Check {
    const ID: &str = "peer-config";
    let secret = if v.kvstoremesh {
        "cilium-kvstoremesh"
    } else {
        "cilium-clustermesh"
    };
    let fix = format!(
        "give {} a {} entry in Secret {secret}: `kubectl mesh connect` (or check `kubectl mesh status`)",
        v.from, v.to
    );
    if let Some(e) = &s.invalid_name {
        return v.check(
            ID,
            Status::Fail,
            format!("invalid cluster name {}: {e}", v.to),
            fix,
        );
    }
    if s.config_missing {
        let msg = format!("{} has no configuration for {}", v.who(), v.to);
        return v.check(ID, Status::Fail, msg, fix);
    }
    if let Some(e) = &s.config_error {
        let msg = format!(
            "{} cannot parse its etcd configuration for {}: {e}",
            v.who(),
            v.to
        );
        return v.check(ID, Status::Fail, msg, fix);
    }
    if s.no_endpoints {
        let msg = format!("{}'s configuration for {} lists no endpoint", v.who(), v.to);
        return v.check(ID, Status::Fail, msg, fix);
    }
    let bad: Vec<String> = s
        .endpoints
        .iter()
        .filter_map(|e| Some(format!("{}: {}", e.url, e.parse_error.as_ref()?)))
        .collect();
    if !bad.is_empty() {
        let msg = format!("unparsable endpoint(s): {}", bad.join("; "));
        return v.check(ID, Status::Fail, msg, fix);
    }
    if s.local {
        let msg = format!(
            "{} has a configuration for {} that is its own cluster",
            v.who(),
            v.to
        );
        return v.check(ID, Status::Fail, msg, fix);
    }
    let urls: Vec<&str> = s.endpoints.iter().map(|e| e.url.as_str()).collect();
    v.with(
        ID,
        Status::Ok,
        format!(
            "{} reads {} ({})",
            v.who(),
            s.config_path.as_deref().unwrap_or("its configuration"),
            urls.join(", ")
        ),
        String::new(),
        json!({"path": s.config_path, "endpoints": urls}),
    )
}

/// Worst of per-endpoint results: every endpoint failing fails, some failing warns.
fn per_endpoint(
    v: &Vantage,
    id: &'static str,
    s: &Section,
    result: impl Fn(&EndpointLines) -> Option<Result<String, String>>,
    what_failed: &str,
    hint: String,
) -> Check {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for e in &s.endpoints {
        match result(e) {
            Some(Ok(m)) => ok.push(format!("{}: {m}", e.url)),
            Some(Err(m)) => bad.push(format!("{}: {m}", e.url)),
            None => {}
        }
    }
    let details = json!({"ok": ok, "failed": bad});
    if ok.is_empty() && bad.is_empty() {
        return v.not_checked(id, "no endpoint reached this stage", "peer-config");
    }
    let status = match (ok.is_empty(), bad.is_empty()) {
        (_, true) => Status::Ok,
        (true, false) => Status::Fail,
        (false, false) => Status::Warn,
    };
    let message = if bad.is_empty() {
        ok.join("; ")
    } else {
        format!("{what_failed} from {}: {}", v.who(), bad.join("; "))
    };
    v.with(id, status, message, hint, details)
}

fn dns(v: &Vantage, s: &Section) -> Check {
    let hint = format!(
        "the name must resolve inside {}: pin it with host aliases (`kubectl mesh connect` renders them) or fix DNS",
        v.from
    );
    per_endpoint(
        v,
        "dns",
        s,
        |e| match &e.resolved {
            Some(r) => Some(r.clone().map(|ips| format!("resolved to {ips}"))),
            None if e.parse_error.is_none() => Some(Ok("an address, no lookup".into())),
            None => None,
        },
        "cannot resolve",
        hint,
    )
}

fn tcp(v: &Vantage, s: &Section) -> Check {
    let hint = format!(
        "open the path from {}'s nodes to {}'s clustermesh-apiserver (firewall, security groups, NodePort/LoadBalancer); the workstation's view may differ",
        v.from, v.to
    );
    per_endpoint(
        v,
        "tcp",
        s,
        |e| {
            e.tcp
                .clone()
                .map(|r| r.map(|a| format!("connected to {a}")))
        },
        "no TCP connection",
        hint,
    )
}

/// Whether a handshake error is the client certificate's (the server certificate was
/// accepted): the `GetClientCertificate` refusal of `etcdDbgEndpoint`, or the server's alert.
fn client_side(error: &str) -> bool {
    error.contains("client certificate is not signed by any acceptable CA")
        || error.contains("remote error: tls: bad certificate")
        || error.contains("remote error: tls: unknown certificate authority")
        || error.contains("remote error: tls: certificate required")
        || error.contains("remote error: tls: expired certificate")
}

fn tls_verify(v: &Vantage, s: &Section) -> Check {
    let hint = format!(
        "{}'s clustermesh-apiserver must present a certificate from a CA {} trusts, valid for the endpoint's name: {}",
        v.to,
        v.from,
        v.ca_fix("the apiserver")
    );
    per_endpoint(
        v,
        "tls-verify",
        s,
        |e| match &e.tls {
            Some(Ok(a)) => Some(Ok(match &e.negotiated {
                Some(n) => format!("handshake with {a} ({n})"),
                None => format!("handshake with {a}"),
            })),
            Some(Err(err)) if client_side(err) => Some(Ok(
                "server certificate accepted (the handshake failed on the client certificate)"
                    .into(),
            )),
            Some(Err(err)) => Some(Err(err.clone())),
            None => None,
        },
        "TLS handshake failed",
        hint,
    )
}

fn client_cert(v: &Vantage, s: &Section) -> Check {
    const ID: &str = "client-cert";
    let hint = format!(
        "{}'s client certificate (Secret clustermesh-apiserver-remote-cert) must be signed by a CA {} trusts: {}",
        v.from,
        v.to,
        v.ca_fix("the agents")
    );
    if s.certs.no_client_cert {
        let msg = format!("{} has no TLS client certificate for {}", v.who(), v.to);
        return v.check(ID, Status::Fail, msg, hint);
    }
    per_endpoint(
        v,
        ID,
        s,
        |e| match (&e.tls, &e.answer) {
            (Some(Err(err)), _) if client_side(err) => Some(Err(match &e.acceptable_cas {
                Some(cas) => format!("{err} (the server accepts: {cas})"),
                None => err.clone(),
            })),
            (_, Some(Ok(version))) => Some(Ok(match version {
                Some(ver) => format!("accepted (etcd {ver})"),
                None => "accepted".to_string(),
            })),
            (_, Some(Err(r))) if r.client_auth => Some(Err(format!("refused: {}", r.error))),
            (_, Some(Err(r))) => Some(Err(format!("no answer after the handshake: {}", r.error))),
            _ => None,
        },
        "client certificate refused",
        hint,
    )
}

fn ca_equal(v: &Vantage, s: &Section) -> Check {
    const ID: &str = "ca-equal";
    let c = &s.certs;
    let hint = if v.bundle {
        v.ca_fix(&format!("the agents of {}", v.from))
    } else {
        format!(
            "every cluster of the mesh must trust one CA: `kubectl mesh ca sync`, then restart the agents of {}",
            v.from
        )
    };
    let details = json!({"rootCAs": c.root_cas, "clientCertificates": c.client_certs});
    if !c.errors.is_empty() {
        let msg = format!("certificate errors: {}", c.errors.join("; "));
        return v.with(ID, Status::Fail, msg, hint, details);
    }
    if c.root_ca_unset {
        let msg = format!(
            "{} trusts the system pool for {}: no mesh CA configured",
            v.who(),
            v.to
        );
        return v.with(ID, Status::Warn, msg, hint, details);
    }
    if c.client_unverified {
        let msg = if v.bundle {
            format!(
                "{}'s client certificate does not verify against the CAs it trusts for {} (its CA bundle): the bundle lacks {}'s own CA",
                v.who(),
                v.to,
                v.from
            )
        } else {
            format!(
                "{}'s client certificate does not verify against the CA it trusts for {}: the clusters use different CAs",
                v.who(),
                v.to
            )
        };
        return v.with(ID, Status::Fail, msg, hint, details);
    }
    if c.root_cas.is_empty() {
        return v.not_checked(ID, "the report lists no root CA", "peer-config");
    }
    let issuers: Vec<&str> = c.root_cas.iter().map(|r| r.subject.as_str()).collect();
    let msg = format!(
        "the client certificate verifies against the trusted CA ({})",
        issuers.join(", ")
    );
    v.with(ID, Status::Ok, msg, String::new(), details)
}

fn cert_expiry(v: &Vantage, s: &Section, now: OffsetDateTime) -> Check {
    const ID: &str = "cert-expiry";
    let certs = s.certs.root_cas.iter().map(|c| ("trusted CA", c)).chain(
        s.certs
            .client_certs
            .iter()
            .map(|c| ("client certificate", c)),
    );
    let mut worst = Status::Ok;
    let mut notes = Vec::new();
    let mut first: Option<(i64, String)> = None;
    let mut seen = 0;
    for (what, c) in certs {
        seen += 1;
        let Some(t) = report::go_time(&c.not_after) else {
            notes.push(format!(
                "{what} {}: unreadable expiry {:?}",
                c.subject, c.not_after
            ));
            worst = worst.max(Status::Warn);
            continue;
        };
        let left = (t - now).whole_seconds();
        let days = left.div_euclid(86_400);
        if left <= 0 {
            worst = Status::Fail;
            notes.push(format!("{what} {} expired on {}", c.subject, c.not_after));
        } else if days < EXPIRY_WARNING_DAYS {
            worst = worst.max(Status::Warn);
            notes.push(format!("{what} {} expires in {days} day(s)", c.subject));
        }
        if first.as_ref().is_none_or(|(l, _)| left < *l) {
            first = Some((left, format!("{what} {} ({})", c.subject, c.not_after)));
        }
    }
    if seen == 0 {
        return v.not_checked(ID, "the report lists no certificate", "peer-config");
    }
    let hint = format!(
        "renew: `kubectl mesh upgrade {} --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer re-issues the certificates from the mesh CA), then restart the agents of {}",
        v.from, v.from
    );
    let message = if notes.is_empty() {
        format!(
            "{seen} certificate(s) valid; first to expire: {}",
            first.map(|(_, w)| w).unwrap_or_default()
        )
    } else {
        notes.join("; ")
    };
    v.check(ID, worst, message, hint)
}

fn etcd(v: &Vantage, s: &Section) -> Check {
    const ID: &str = "etcd-heartbeat";
    match &s.etcd {
        Some(Ok(id)) => v.with(
            ID,
            Status::Ok,
            format!(
                "{} read {HEARTBEAT_KEY} from {}'s etcd{} (freshness is not in this report)",
                v.who(),
                v.to,
                id.as_ref()
                    .map(|i| format!(", cluster ID {i}"))
                    .unwrap_or_default()
            ),
            String::new(),
            json!({"clusterID": id}),
        ),
        Some(Err(e)) => v.check(
            ID,
            Status::Fail,
            format!("{}'s etcd client cannot read {}'s etcd: {e}", v.who(), v.to),
            format!(
                "check {}'s clustermesh-apiserver: `kubectl mesh status`, its logs",
                v.to
            ),
        ),
        None => v.not_checked(ID, "the report stops before the etcd client", "tcp"),
    }
}

/// The agent's connected / ready / synced state for B from `cilium-dbg status -o json`
/// (`ClusterMeshStatus` → `RemoteCluster`, judged by [`crate::mesh::agents::judge_peer`]) as
/// checks of their own: `agent-connected`, `agent-ready`, `agent-synced`. `Err`: the status could
/// not be read, with why.
pub fn status_checks(v: &Vantage, peer: &Result<PeerView, String>) -> Vec<Check> {
    let p = match peer {
        Ok(p) => p,
        Err(e) => {
            return vec![v.check(
                "agent-connected",
                Status::Fail,
                format!("agents not readable: {e}"),
                v.rerun(),
            )];
        }
    };
    let details = serde_json::to_value(p).unwrap_or_default();
    let fix = format!(
        "see why: `kubectl exec -n {} {} -c {} -- cilium-dbg status --all-clusters`, and `kubectl mesh troubleshoot {} {}`",
        v.namespace, v.pod, v.container, v.from, v.to
    );
    let failures = if p.num_failures > 0 {
        format!(
            ", {} failure(s){}",
            p.num_failures,
            p.last_failure
                .as_deref()
                .map(|t| format!(", last at {t}"))
                .unwrap_or_default()
        )
    } else {
        String::new()
    };
    let status = if p.status.is_empty() {
        String::new()
    } else {
        format!(" ({})", p.status)
    };
    let connected = if !p.known {
        v.with(
            "agent-connected",
            Status::Fail,
            format!("{} does not know {}", v.who(), v.to),
            fix.clone(),
            details.clone(),
        )
    } else if !p.connected {
        v.with(
            "agent-connected",
            Status::Fail,
            format!("{} is not connected to {}{status}{failures}", v.who(), v.to),
            fix.clone(),
            details.clone(),
        )
    } else {
        v.with(
            "agent-connected",
            Status::Ok,
            format!("{} is connected to {}{failures}", v.who(), v.to),
            String::new(),
            details.clone(),
        )
    };
    if connected.status != Status::Ok {
        return vec![
            connected,
            v.not_checked("agent-ready", "not connected", "agent-connected"),
            v.not_checked("agent-synced", "not connected", "agent-connected"),
        ];
    }
    let ready = match (&p.problem, p.ready) {
        (None, true) => v.check(
            "agent-ready",
            Status::Ok,
            format!(
                "{} reports {} ready ({} node(s), {} endpoint(s))",
                v.who(),
                v.to,
                p.num_nodes,
                p.num_endpoints
            ),
            String::new(),
        ),
        (Some(problem), _) => v.check(
            "agent-ready",
            Status::Fail,
            format!("{}: {problem}", v.who()),
            fix.clone(),
        ),
        (None, false) => v.check(
            "agent-ready",
            Status::Fail,
            format!("{} reports {} not ready{status}", v.who(), v.to),
            fix.clone(),
        ),
    };
    let synced = if p.not_synced.is_empty() {
        v.check(
            "agent-synced",
            Status::Ok,
            format!("initial sync from {} done", v.to),
            String::new(),
        )
    } else {
        v.check(
            "agent-synced",
            Status::Fail,
            format!(
                "{} has not finished its initial sync from {}: {}",
                v.who(),
                v.to,
                p.not_synced.join(", ")
            ),
            fix,
        )
    };
    vec![connected, ready, synced]
}

#[cfg(test)]
mod tests {
    use super::super::report::parse;
    use super::*;

    fn vantage() -> Vantage<'static> {
        Vantage {
            from: "west",
            to: "east",
            label: "agent/cilium-abcde".into(),
            namespace: "kube-system",
            pod: "cilium-abcde",
            container: "cilium-agent",
            command: "cilium-dbg troubleshoot clustermesh east".into(),
            kvstoremesh: false,
            bundle: false,
        }
    }

    fn now() -> OffsetDateTime {
        report::go_time("2026-06-01 00:00:00 +0000 UTC").unwrap()
    }

    fn statuses(checks: &[Check]) -> Vec<(&'static str, Status)> {
        checks.iter().map(|c| (c.id, c.status)).collect()
    }

    #[test]
    fn a_healthy_report_is_all_ok_from_the_agent() {
        let r = parse(&super::super::report::tests_support::healthy("east")).unwrap();
        let checks = agent_checks(&vantage(), &Ok(r), now());
        assert_eq!(
            statuses(&checks),
            [
                ("peer-config", Status::Ok),
                ("dns", Status::Ok),
                ("tcp", Status::Ok),
                ("tls-verify", Status::Ok),
                ("client-cert", Status::Ok),
                ("ca-equal", Status::Ok),
                ("cert-expiry", Status::Ok),
                ("etcd-heartbeat", Status::Ok),
            ]
        );
        assert!(checks.iter().all(|c| c.from == "agent/cilium-abcde"));
    }

    #[test]
    fn a_server_certificate_from_another_ca_fails_tls_verify() {
        let text = super::super::report::tests_support::tls_failure(
            "east",
            "tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: verification error\" while trying to verify candidate authority certificate \"Cilium CA\")",
        );
        let checks = agent_checks(&vantage(), &Ok(parse(&text).unwrap()), now());
        let tls = checks.iter().find(|c| c.id == "tls-verify").unwrap();
        assert_eq!(tls.status, Status::Fail, "{tls:?}");
        assert!(tls.message.contains("unknown authority"), "{}", tls.message);
        assert!(tls.hint.contains("ca sync"), "{}", tls.hint);
        let cc = checks.iter().find(|c| c.id == "client-cert").unwrap();
        assert_eq!(cc.status, Status::Warn, "not reached: {cc:?}");
        assert_eq!(
            checks.iter().find(|c| c.id == "tcp").unwrap().status,
            Status::Ok
        );
    }

    #[test]
    fn in_a_mesh_of_several_cas_the_fix_is_the_bundle_not_ca_sync() {
        let text = super::super::report::tests_support::tls_failure(
            "east",
            "tls: failed to verify certificate: x509: certificate signed by unknown authority",
        );
        let v = Vantage {
            bundle: true,
            ..vantage()
        };
        let checks = agent_checks(&v, &Ok(parse(&text).unwrap()), now());
        let tls = checks.iter().find(|c| c.id == "tls-verify").unwrap();
        assert_eq!(tls.status, Status::Fail, "{tls:?}");
        assert!(!tls.hint.contains("ca sync"), "{}", tls.hint);
        assert!(
            tls.hint.contains("CA bundle") && tls.hint.contains("kubectl mesh upgrade west east"),
            "{}",
            tls.hint
        );
        for c in &checks {
            assert!(!c.message.contains("different CAs"), "{c:?}");
            assert!(!c.hint.contains("ca sync"), "{c:?}");
        }
    }

    #[test]
    fn a_refused_client_certificate_fails_client_cert_not_tls_verify() {
        let text = super::super::report::tests_support::tls_failure(
            "east",
            "client certificate is not signed by any acceptable CA",
        );
        let checks = agent_checks(&vantage(), &Ok(parse(&text).unwrap()), now());
        let get = |id| checks.iter().find(|c| c.id == id).unwrap().status;
        assert_eq!(get("tls-verify"), Status::Ok);
        assert_eq!(get("client-cert"), Status::Fail);
    }

    #[test]
    fn no_report_or_no_section_is_a_failure_never_healthy() {
        let checks = agent_checks(
            &vantage(),
            &Err("exec forbidden: create pods/exec".into()),
            now(),
        );
        assert_eq!(statuses(&checks), [("agent-report", Status::Fail)]);
        assert!(checks[0].message.starts_with("agents not readable: "));
        let r = parse("Found 0 cluster configurations\n").unwrap();
        let checks = agent_checks(&vantage(), &Ok(r), now());
        assert_eq!(statuses(&checks), [("agent-report", Status::Fail)]);
        let r = parse(
            "Found 1 cluster configurations\n\nCluster \"east\":\n❌ Configuration not found\n",
        )
        .unwrap();
        let checks = agent_checks(&vantage(), &Ok(r), now());
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[1..].iter().all(|c| c.status == Status::Warn));
    }

    #[test]
    fn expired_certificates_fail_cert_expiry() {
        let text = super::super::report::tests_support::healthy("east").replace(
            "2027-01-01 00:00:00 +0000 UTC",
            "2026-05-01 00:00:00 +0000 UTC",
        );
        let checks = agent_checks(&vantage(), &Ok(parse(&text).unwrap()), now());
        let c = checks.iter().find(|c| c.id == "cert-expiry").unwrap();
        assert_eq!(c.status, Status::Fail, "{c:?}");
    }

    fn peer(connected: bool, ready: bool, not_synced: Vec<&'static str>) -> PeerView {
        PeerView {
            peer: "east".into(),
            known: true,
            connected,
            ready,
            status: String::new(),
            config_retrieved: Some(true),
            cluster_id: Some(2),
            not_synced,
            num_nodes: 2,
            num_endpoints: 4,
            num_failures: 0,
            last_failure: None,
            problem: None,
        }
    }

    #[test]
    fn the_agents_status_gives_connected_ready_and_synced() {
        let v = vantage();
        let ok = status_checks(&v, &Ok(peer(true, true, vec![])));
        assert_eq!(
            statuses(&ok),
            [
                ("agent-connected", Status::Ok),
                ("agent-ready", Status::Ok),
                ("agent-synced", Status::Ok)
            ]
        );
        let mut down = peer(false, false, vec![]);
        down.num_failures = 3;
        down.status = "tls: bad certificate".into();
        let c = status_checks(&v, &Ok(down));
        assert_eq!(c[0].status, Status::Fail);
        assert!(c[0].message.contains("3 failure(s)"), "{}", c[0].message);
        assert!(c[1..].iter().all(|c| c.status == Status::Warn));
        let mut partial = peer(true, false, vec!["services", "endpoints"]);
        partial.problem = Some("connected to east but not synced yet (services, endpoints)".into());
        let c = status_checks(&v, &Ok(partial));
        assert_eq!(
            statuses(&c),
            [
                ("agent-connected", Status::Ok),
                ("agent-ready", Status::Fail),
                ("agent-synced", Status::Fail)
            ]
        );
        let unknown = PeerView {
            known: false,
            ..peer(false, false, vec![])
        };
        assert_eq!(status_checks(&v, &Ok(unknown))[0].status, Status::Fail);
        let c = status_checks(&v, &Err("forbidden".into()));
        assert_eq!(statuses(&c), [("agent-connected", Status::Fail)]);
        assert!(c[0].message.starts_with("agents not readable"));
    }
}
