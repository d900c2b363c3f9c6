//! The network: DNS (or host aliases) and TCP to B's endpoint.

use serde_json::{Value, json};

use super::{AddressProbe, Check, Judge, Resolve, Source, Status, check, join, not_checked};

impl Judge<'_> {
    pub(super) fn dns(&self) -> Check {
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

    pub(super) fn tcp(&self) -> Check {
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
}
