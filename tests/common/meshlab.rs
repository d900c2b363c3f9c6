//! A connected mesh whose clustermesh-apiservers are real etcds: the lab's in-memory API servers
//! hold the clusters' objects (one Ready node on 127.0.0.1 each, the clustermesh-apiserver
//! NodePort = that cluster's etcd port, Secrets with the tests' own CA and `remote` client
//! certificates), `kubectl mesh connect` has written the peers, and every etcd holds what a
//! healthy clustermesh-apiserver writes. Tests then break one thing and run `troubleshoot`.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use super::etcd::{self, Etcd};
use super::lab::{Lab, Spec};
use super::pki::{self, Ca, Pair};

pub struct EtcdLab {
    pub lab: Lab,
    pub ca: Ca,
    etcds: Vec<Etcd>,
}

/// The lab's clusters on loopback: one Ready node at 127.0.0.1 and a NodePort of their own.
pub fn loopback_specs(names: &[&'static str]) -> Vec<Spec> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut s = Spec::new(n, i as u32 + 1, etcd::free_node_port());
            s.node_ips = vec!["127.0.0.1"];
            s
        })
        .collect()
}

impl EtcdLab {
    /// Without etcd the test fails, unless the user opted out of it (then `None`, said loudly).
    pub fn start(names: &[&'static str]) -> Option<EtcdLab> {
        EtcdLab::start_with(loopback_specs(names))
    }

    pub fn start_with(specs: Vec<Spec>) -> Option<EtcdLab> {
        let bin = super::require(&super::ETCD, etcd::binary())?;
        let lab = Lab::start(&specs);
        let ca = Ca::new("Cilium CA");
        let this = EtcdLab {
            lab,
            ca,
            etcds: Vec::new(),
        };
        for s in &specs {
            this.set_ca(s.name, &this.ca);
            this.set_remote_cert(s.name, &this.ca, &this.ca.issue_valid(&pki::REMOTE));
        }
        let out = this.lab.cmd().arg("connect").output().unwrap();
        assert!(
            out.status.success(),
            "connect: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut this = this;
        for s in &specs {
            let server = this.ca.issue_valid(&pki::SERVER);
            let etcd = Etcd::start(&bin, s.node_port, &this.ca, &server);
            etcd.seed_apiserver(s.name, s.id, 255);
            this.etcds.push(etcd);
        }
        Some(this)
    }

    fn index(&self, cluster: &str) -> usize {
        self.lab
            .specs
            .iter()
            .position(|s| s.name == cluster)
            .expect("cluster in lab")
    }

    pub fn etcd(&self, cluster: &str) -> &Etcd {
        &self.etcds[self.index(cluster)]
    }

    pub fn etcd_mut(&mut self, cluster: &str) -> &mut Etcd {
        let i = self.index(cluster);
        &mut self.etcds[i]
    }

    /// Restarts `cluster`'s etcd serving `server`, trusting client certificates of `ca` (the
    /// lab's CA when `None`).
    pub fn restart_etcd(&mut self, cluster: &str, ca: Option<&Ca>, server: &Pair) {
        let i = self.index(cluster);
        let ca = ca.unwrap_or(&self.ca);
        self.etcds[i].restart(ca, server);
    }

    fn set_secret(&self, cluster: &str, name: &str, data: &[(&str, &str)]) {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut secret = self
            .lab
            .get(cluster, "Secret", name)
            .unwrap_or_else(|| panic!("{cluster} has Secret {name}"));
        for (k, v) in data {
            secret["data"][*k] = Value::String(b64(v));
        }
        self.lab.server(cluster).seed_yaml(&secret.to_string());
    }

    /// Secret cilium-ca of `cluster`.
    pub fn set_ca(&self, cluster: &str, ca: &Ca) {
        self.set_secret(
            cluster,
            "cilium-ca",
            &[("ca.crt", &ca.pair.cert), ("ca.key", &ca.pair.key)],
        );
    }

    /// Secret clustermesh-apiserver-remote-cert of `cluster`: the CA its agents trust for peers
    /// and the client certificate they present.
    pub fn set_remote_cert(&self, cluster: &str, trusted: &Ca, cert: &Pair) {
        self.set_secret(
            cluster,
            "clustermesh-apiserver-remote-cert",
            &[
                ("ca.crt", &trusted.pair.cert),
                ("tls.crt", &cert.cert),
                ("tls.key", &cert.key),
            ],
        );
    }

    /// `kubectl mesh troubleshoot ARGS -o json --request-timeout 2s`: exit code, report, time.
    pub fn troubleshoot_json(&self, args: &[&str]) -> (Option<i32>, Value, Duration) {
        let started = Instant::now();
        let out = self
            .lab
            .cmd()
            .args(["troubleshoot", "--from", "workstation"])
            .args(args)
            .args(["-o", "json", "--request-timeout", "2s"])
            .output()
            .unwrap();
        let took = started.elapsed();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), report, took)
    }

    /// The human output: exit code and text.
    pub fn troubleshoot_text(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self
            .lab
            .cmd()
            .args(["troubleshoot", "--from", "workstation"])
            .args(args)
            .args(["--request-timeout", "2s"])
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}
