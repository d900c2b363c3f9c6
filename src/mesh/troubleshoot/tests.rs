use super::plan::{Target, split_url};
use super::*;
use crate::mesh::state::{self, MESH_DOMAIN, secret_text};
use crate::render::certs::tests::test_ca;
use crate::render::certs::{Ca, Issued, Leaf, issue};
use base64::Engine;
use std::net::SocketAddr;
use time::Duration;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn mesh() -> Mesh {
    Mesh::parse(
        "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n\
         - {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16, clustermesh: {port: 32379, ips: [172.18.0.2]}}\n\
         - {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16, clustermesh: {port: 32380, ips: [172.18.0.4]}}\n",
    )
    .unwrap()
}

fn leaf(cn: &str, server: bool, lifetime: Duration) -> Leaf {
    let now = OffsetDateTime::now_utc();
    Leaf {
        common_name: Some(cn.into()),
        dns_names: if server {
            vec![format!("*.{MESH_DOMAIN}")]
        } else {
            Vec::new()
        },
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        emails: Vec::new(),
        server_auth: server,
        client_auth: true,
        digital_signature: true,
        key_encipherment: true,
        not_before: now,
        not_after: now + lifetime,
    }
}

fn remote(ca: &Ca) -> Issued {
    issue(
        &leaf("remote", false, Duration::days(1000)),
        ca,
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// A cluster that dials its peer `peer` at `peer.mesh.cilium.io:port`, pinned to `pins`.
fn live(
    name: &str,
    id: u32,
    ca: &Ca,
    remote: &Issued,
    peer: Option<(&str, u16, &[&str])>,
    node: (&str, u16),
) -> Live {
    let mut clustermesh = json!({"data": {}});
    let mut aliases = Vec::new();
    if let Some((p, port, pins)) = peer {
        clustermesh["data"][p] = json!(b64(&format!(
            "endpoints:\n- https://{p}.{MESH_DOMAIN}:{port}\ntrusted-ca-file: /var/lib/cilium/clustermesh/common-etcd-client-ca.crt\n"
        )));
        for ip in pins {
            aliases.push(json!({"ip": ip, "hostnames": [format!("{p}.{MESH_DOMAIN}")]}));
        }
    }
    Live {
        config: Some(
            json!({"data": {"cluster-name": name, "cluster-id": id.to_string(),
            "kube-proxy-replacement": "true"}}),
        ),
        agents: Some(
            json!({"spec": {"template": {"spec": {"hostAliases": aliases,
            "containers": [{"name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.17.6"}]}}}}),
        ),
        service: Some(json!({"spec": {"type": "NodePort",
            "ports": [{"port": 2379, "targetPort": 2379, "nodePort": node.1}]}})),
        ca: Some(json!({"data": {"ca.crt": b64(&ca.cert_pem), "ca.key": b64(&ca.key_pem)}})),
        remote_cert: Some(json!({"data": {"ca.crt": b64(&ca.cert_pem),
            "tls.crt": b64(&remote.cert_pem), "tls.key": b64(&remote.key_pem)}})),
        clustermesh: Some(clustermesh),
        nodes: vec![
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": node.0}]}}),
        ],
        ..Live::default()
    }
}

fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .unwrap()
        .1
        .contents
}

/// What a healthy path looks like from the edge.
fn healthy_probe(server: &Issued, peer: &str, id: u32) -> PathProbe {
    let now = OffsetDateTime::now_utc();
    let stamp = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let address: SocketAddr = "172.18.0.4:32380".parse().unwrap();
    PathProbe {
        resolved: vec![Resolved {
            addresses: Ok(vec![address.ip()]),
        }],
        addresses: vec![AddressProbe {
            address,
            server_name: format!("{peer}.{MESH_DOMAIN}"),
            tcp: Ok(1),
            tls: Some(TlsProbe {
                handshake: Ok(()),
                version: Some("TLS 1.3".into()),
                cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
                chain: vec![der(&server.cert_pem)],
                verified: Some(Ok(())),
                client_cert_requested: true,
                client_cert_sent: true,
                accepted: Some(Ok(())),
            }),
        }],
        etcd: Some(Ok(EtcdFacts {
            address: Some(address),
            version: "3.5.21".into(),
            cluster_config: Some(format!(
                r#"{{"id":{id},"capabilities":{{"syncedCanaries":true,"maxConnectedClusters":255}}}}"#
            )),
            heartbeat: Some(stamp),
            canaries: SYNC_KINDS.iter().map(|k| (k.to_string(), true)).collect(),
            counts: SYNC_KINDS.iter().map(|k| (k.to_string(), 2)).collect(),
        })),
    }
}

struct Fixture {
    mesh: Mesh,
    west: Live,
    east: Live,
    server: Issued,
}

fn fixture() -> Fixture {
    let ca = test_ca("Cilium CA");
    let server = issue(
        &leaf(
            "clustermesh-apiserver.cilium.io",
            true,
            Duration::days(1000),
        ),
        &ca,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    Fixture {
        mesh: mesh(),
        west: live(
            "west",
            1,
            &ca,
            &remote(&ca),
            Some(("east", 32380, &["172.18.0.4"])),
            ("172.18.0.2", 32379),
        ),
        east: live(
            "east",
            2,
            &ca,
            &remote(&ca),
            Some(("west", 32379, &["172.18.0.2"])),
            ("172.18.0.4", 32380),
        ),
        server,
    }
}

fn run(f: &Fixture, probe: impl FnOnce(&mut PathProbe)) -> (Plan, Vec<Check>) {
    let pair = Pair {
        mesh: &f.mesh,
        mesh_path: "mesh.yaml",
        from: &f.mesh.clusters[0],
        to: &f.mesh.clusters[1],
        from_live: Ok(&f.west),
        to_live: Ok(&f.east),
    };
    let plan = plan(&pair);
    let mut p = healthy_probe(&f.server, "east", 2);
    probe(&mut p);
    let collisions = state::nodeport_collisions(&[
        (&f.mesh.clusters[0], &f.west),
        (&f.mesh.clusters[1], &f.east),
    ]);
    let checks = judge(&pair, &plan, &p, &collisions, OffsetDateTime::now_utc());
    (plan, checks)
}

fn status_of(checks: &[Check], id: &str) -> (Status, String) {
    let c = checks.iter().find(|c| c.id == id).unwrap();
    (c.status, c.message.clone())
}

fn problems(checks: &[Check]) -> Vec<(&'static str, Status)> {
    checks
        .iter()
        .filter(|c| c.status != Status::Ok)
        .map(|c| (c.id, c.status))
        .collect()
}

#[test]
fn a_healthy_path_is_all_ok_and_the_key_stays_hidden() {
    let f = fixture();
    let (plan, checks) = run(&f, |_| {});
    assert_eq!(
        checks.iter().map(|c| c.id).collect::<Vec<_>>(),
        CHECKS.to_vec()
    );
    assert!(problems(&checks).is_empty(), "{checks:#?}");
    assert!(checks.iter().all(|c| c.hint.is_empty()));
    assert_eq!(plan.source, Source::Configured("cilium-clustermesh"));
    assert_eq!(
        plan.targets,
        [Target {
            url: "https://east.mesh.cilium.io:32380".into(),
            host: "east.mesh.cilium.io".into(),
            port: 32380,
            resolve: Resolve::Aliases {
                ips: vec!["172.18.0.4".parse().unwrap()],
                source: "host aliases of DaemonSet cilium".into()
            },
        }]
    );
    assert!(plan.client_key.as_deref().unwrap().contains("PRIVATE KEY"));
    assert!(!format!("{plan:?}").contains("PRIVATE KEY"));
    let text = serde_json::to_string(&checks).unwrap();
    assert!(!text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"));
    let (_, sync) = status_of(&checks, "etcd-sync");
    assert_eq!(sync, "synced: nodes 2, services 2, identities 2, ip 2");
}

#[test]
fn etcd_findings() {
    let f = fixture();
    let (_, checks) = run(&f, |p| {
        let Some(Ok(e)) = &mut p.etcd else { panic!() };
        e.cluster_config = Some(r#"{"id":7}"#.into());
        let old = OffsetDateTime::now_utc() - Duration::minutes(5);
        e.heartbeat = Some(
            old.format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        );
        e.canaries.insert("services".into(), false);
    });
    assert_eq!(
        problems(&checks),
        [
            ("etcd-cluster-config", Status::Fail),
            ("etcd-heartbeat", Status::Warn),
            ("etcd-sync", Status::Warn)
        ]
    );
    assert!(
        status_of(&checks, "etcd-cluster-config")
            .1
            .contains("announces id 7")
    );
    assert!(status_of(&checks, "etcd-heartbeat").1.contains("5m ago"));
    assert!(
        status_of(&checks, "etcd-sync")
            .1
            .contains("not synced: services")
    );

    let (_, checks) = run(&f, |p| p.etcd = Some(Err("timed out after 2s".into())));
    assert_eq!(
        problems(&checks),
        [
            ("etcd-cluster-config", Status::Fail),
            ("etcd-heartbeat", Status::Warn),
            ("etcd-sync", Status::Warn)
        ]
    );
}

#[test]
fn certificates_that_expire_soon_warn_and_expired_ones_fail() {
    let mut f = fixture();
    let ca = Ca::from_pem(
        &f.west.ca_cert().unwrap(),
        &secret_text(f.west.ca.as_ref().unwrap(), "ca.key").unwrap(),
    )
    .unwrap();
    let soon = issue(
        &leaf("remote", false, Duration::days(10)),
        &ca,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let set = |l: &mut Live, c: &Issued| {
        l.remote_cert.as_mut().unwrap()["data"]["tls.crt"] = json!(b64(&c.cert_pem));
    };
    set(&mut f.west, &soon);
    let (_, checks) = run(&f, |_| {});
    assert_eq!(problems(&checks), [("cert-expiry", Status::Warn)]);
    assert!(
        status_of(&checks, "cert-expiry")
            .1
            .contains("west's client certificate (CN=remote) expires")
    );
    let old = issue(
        &leaf("remote", false, Duration::days(10)),
        &ca,
        OffsetDateTime::now_utc() - Duration::days(40),
    )
    .unwrap();
    set(&mut f.west, &old);
    let (_, checks) = run(&f, |_| {});
    assert_eq!(problems(&checks), [("cert-expiry", Status::Fail)]);
    assert!(status_of(&checks, "cert-expiry").1.contains("expired"));
}

#[test]
fn another_ca_fails_ca_equal_and_client_cert_offline() {
    let mut f = fixture();
    let other = test_ca("Cilium CA");
    f.east.ca = Some(json!({"data": {"ca.crt": b64(&other.cert_pem)}}));
    let (_, checks) = run(&f, |_| {});
    assert_eq!(
        problems(&checks),
        [("client-cert", Status::Fail), ("ca-equal", Status::Fail)]
    );
    let (_, m) = status_of(&checks, "client-cert");
    assert!(m.contains("another CA of the same name"), "{m}");
    let ca_equal = checks.iter().find(|c| c.id == "ca-equal").unwrap();
    assert!(ca_equal.hint.contains("kubectl mesh ca sync"));
}

#[test]
fn endpoint_drift_warns_for_some_stale_addresses_and_fails_for_all() {
    let mut f = fixture();
    f.east.nodes.push(
        json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "InternalIP", "address": "172.18.0.5"}]}}),
    );
    let (_, checks) = run(&f, |_| {});
    assert!(problems(&checks).is_empty(), "a new node is not drift");
    f.east.nodes.remove(0);
    let (_, checks) = run(&f, |_| {});
    let drift = checks.iter().find(|c| c.id == "endpoint-drift").unwrap();
    assert_eq!(drift.status, Status::Fail, "{drift:?}");
    assert!(drift.hint.contains("--rediscover"));
    f.east.nodes.push(
        json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "InternalIP", "address": "172.18.0.4"}]}}),
    );
    f.west.agents.as_mut().unwrap()["spec"]["template"]["spec"]["hostAliases"] = json!([
        {"ip": "172.18.0.4", "hostnames": ["east.mesh.cilium.io"]},
        {"ip": "172.18.0.9", "hostnames": ["east.mesh.cilium.io"]}]);
    let (_, checks) = run(&f, |_| {});
    let (status, m) = status_of(&checks, "endpoint-drift");
    assert_eq!(status, Status::Warn);
    assert!(m.contains("172.18.0.9 no longer east's"), "{m}");
}

#[test]
fn the_nodeport_trap_fails_the_pair() {
    let mut f = fixture();
    f.east.service.as_mut().unwrap()["spec"]["ports"][0]["nodePort"] = json!(32379);
    f.mesh.clusters[1].clustermesh.as_mut().unwrap().port = 32379;
    let (_, checks) = run(&f, |_| {});
    let c = checks
        .iter()
        .find(|c| c.id == "nodeport-collision")
        .unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("#24692") && c.hint.contains("apiserverNodePort"));
}

#[test]
fn names_without_an_alias_and_missing_configs() {
    let mut f = fixture();
    f.west.agents.as_mut().unwrap()["spec"]["template"]["spec"]["hostAliases"] = json!([]);
    let (plan, checks) = run(&f, |p| {
        p.resolved[0].addresses = Err("no alias".into());
        p.addresses.clear();
        p.etcd = None;
    });
    assert!(matches!(plan.targets[0].resolve, Resolve::Unresolvable(_)));
    let (status, m) = status_of(&checks, "dns");
    assert_eq!(status, Status::Fail);
    assert!(m.contains("no host alias pins east.mesh.cilium.io"), "{m}");
    assert_eq!(status_of(&checks, "tcp").0, Status::Warn);
    assert_eq!(status_of(&checks, "etcd-cluster-config").0, Status::Warn);

    // Not connected: the expected endpoint is probed, with its recorded IPs.
    f.west.clustermesh = Some(json!({"data": {}}));
    let (plan, checks) = run(&f, |_| {});
    assert_eq!(plan.source, Source::Expected("the mesh file"));
    assert!(matches!(&plan.targets[0].resolve, Resolve::Aliases { ips, .. } if ips.len() == 1));
    assert_eq!(status_of(&checks, "peer-config").0, Status::Fail);
    assert_eq!(status_of(&checks, "dns").0, Status::Warn);

    // 1.20 etcd configs carry their own host aliases.
    f.west.clustermesh = Some(json!({"data": {"east": b64(
        "endpoints:\n- https://east.mesh.cilium.io:32380\ncilium-host-aliases:\n- hostname: east.mesh.cilium.io\n  ips:\n    - 172.18.0.4\n")}}));
    let (plan, _) = run(&f, |_| {});
    assert_eq!(
        plan.targets[0].resolve,
        Resolve::Aliases {
            ips: vec!["172.18.0.4".parse().unwrap()],
            source: "cilium-host-aliases of the etcd config".into()
        }
    );

    // A load balancer's name is resolved by DNS.
    f.west.clustermesh = Some(json!({"data": {"east": b64(
        "endpoints:\n- https://east.elb.example.org:2379\n")}}));
    let (plan, _) = run(&f, |_| {});
    assert_eq!(plan.targets[0].resolve, Resolve::Dns);
}

#[test]
fn an_unreadable_cluster_fails_identity_and_leaves_the_rest_unchecked() {
    let f = fixture();
    let pair = Pair {
        mesh: &f.mesh,
        mesh_path: "mesh.yaml",
        from: &f.mesh.clusters[0],
        to: &f.mesh.clusters[1],
        from_live: Ok(&f.west),
        to_live: Err("connection refused".into()),
    };
    let plan = plan(&pair);
    let probe = healthy_probe(&f.server, "east", 2);
    let checks = judge(&pair, &plan, &probe, &[], OffsetDateTime::now_utc());
    assert_eq!(checks.len(), CHECKS.len());
    assert_eq!(status_of(&checks, "identity").0, Status::Fail);
    for id in ["max-connected-clusters", "endpoint-drift", "ca-equal"] {
        let (s, m) = status_of(&checks, id);
        assert_eq!(s, Status::Warn, "{id}");
        assert!(
            m.starts_with("not checked: cannot read cluster east"),
            "{m}"
        );
    }
    // The path itself, as west configured it, is still walked.
    assert_eq!(status_of(&checks, "tls-verify").0, Status::Ok);
    assert_eq!(status_of(&checks, "etcd-sync").0, Status::Ok);
}

#[test]
fn with_kvstoremesh_the_apiserver_dials_the_peers() {
    let mut f = fixture();
    let config = f.west.clustermesh.take().unwrap();
    let aliases =
        f.west.agents.as_ref().unwrap()["spec"]["template"]["spec"]["hostAliases"].clone();
    f.west.agents.as_mut().unwrap()["spec"]["template"]["spec"]["hostAliases"] = json!([]);
    f.west.clustermesh = Some(json!({"data": {"east": b64(
        "endpoints:\n- https://clustermesh-apiserver.kube-system.svc:2379\n")}}));
    f.west.kvstoremesh = Some(config);
    f.west.apiserver = Some(
        json!({"spec": {"template": {"spec": {"hostAliases": aliases,
        "containers": [{"name": "etcd"}, {"name": "apiserver"}, {"name": "kvstoremesh"}]}}}}),
    );
    let (plan, checks) = run(&f, |_| {});
    assert_eq!(plan.source, Source::Configured("cilium-kvstoremesh"));
    assert_eq!(
        plan.targets[0].resolve,
        Resolve::Aliases {
            ips: vec!["172.18.0.4".parse().unwrap()],
            source: "host aliases of Deployment clustermesh-apiserver".into()
        }
    );
    assert!(problems(&checks).is_empty(), "{checks:#?}");
}

#[test]
fn urls_split_like_etcd_endpoints() {
    assert_eq!(
        split_url("https://east.mesh.cilium.io:32380"),
        Some(("east.mesh.cilium.io".into(), 32380))
    );
    assert_eq!(split_url("https://[::1]:2379"), Some(("::1".into(), 2379)));
    assert_eq!(
        split_url("https://10.0.0.1"),
        Some(("10.0.0.1".into(), 2379))
    );
    assert_eq!(split_url("https://"), None);
}
