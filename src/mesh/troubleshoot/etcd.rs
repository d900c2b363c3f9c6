//! B's etcd as A's agents read it: cluster config, heartbeat, sync canaries.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{
    Check, EtcdFacts, HEARTBEAT_KEY, HEARTBEAT_MAX_AGE_SECS, Judge, SYNC_KINDS, Status, ago, check,
    cluster_config_key, not_checked, sync_canary_key,
};

impl Judge<'_> {
    pub(super) fn etcd(&self, id: &'static str) -> Result<&EtcdFacts, Box<Check>> {
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

    pub(super) fn etcd_cluster_config(&self) -> Check {
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

    pub(super) fn apiserver_pods_hint(&self) -> String {
        format!(
            "check {}'s clustermesh-apiserver: `kubectl --context {} -n {} get pods -l k8s-app=clustermesh-apiserver` and its logs (`kubectl --context {} -n {} logs deploy/clustermesh-apiserver -c apiserver`)",
            self.b(),
            self.pair.to.context,
            self.ns(),
            self.pair.to.context,
            self.ns()
        )
    }

    pub(super) fn etcd_heartbeat(&self) -> Check {
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

    pub(super) fn etcd_sync(&self) -> Check {
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
