//! A real etcd (Debian's `etcd-server`) on 127.0.0.1, serving TLS with client-certificate
//! auth, seeded with the keys a clustermesh-apiserver writes for its peers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::pki::{self, Ca, Pair};

/// The etcd binary: `$ETCD_BIN` (absent when it names nothing), else `etcd` on PATH or in
/// /usr/bin.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ETCD_BIN") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    which::which("etcd")
        .ok()
        .or_else(|| Some(PathBuf::from("/usr/bin/etcd")).filter(|p| p.exists()))
}

/// A free port in the NodePort range (30000–32767), where the lab's Services put their
/// clustermesh-apiserver: each test process walks the range from its own offset.
pub fn free_node_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        30000 + (std::process::id() % 2000) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let p = NEXT.fetch_add(1, Ordering::SeqCst);
        let p = 30000 + (p - 30000) % 2768;
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// Any free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One etcd member, stopped on drop.
pub struct Etcd {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
    peer_port: u16,
    admin: Pair,
    /// The CAs etcd admits clients of (PEM), when not only `ca`'s: a mesh of several CAs,
    /// whose clustermesh-apiserver etcd reads its client CA from the chart's CA bundle.
    trusted: Option<String>,
}

impl Etcd {
    /// Starts etcd on 127.0.0.1:`port` serving `server` (a certificate for the agents' name),
    /// admitting clients whose certificate `ca` issued.
    pub fn start(bin: &Path, port: u16, ca: &Ca, server: &Pair) -> Etcd {
        Etcd::start_with(bin, port, ca, None, server)
    }

    /// Like [`Etcd::start`], admitting clients of every CA in `trusted` (a PEM bundle that holds
    /// `ca`, which issues the tests' admin certificate).
    pub fn start_trusting(bin: &Path, port: u16, ca: &Ca, trusted: &str, server: &Pair) -> Etcd {
        Etcd::start_with(bin, port, ca, Some(trusted.to_string()), server)
    }

    fn start_with(bin: &Path, port: u16, ca: &Ca, trusted: Option<String>, server: &Pair) -> Etcd {
        let mut etcd = Etcd {
            bin: bin.to_path_buf(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
            port,
            peer_port: free_port(),
            admin: ca.issue_valid(&pki::ADMIN),
            trusted,
        };
        etcd.run(ca, server);
        etcd
    }

    /// Restarts etcd (same port and data) admitting clients of every CA in `trusted`.
    pub fn restart_trusting(&mut self, ca: &Ca, trusted: &str, server: &Pair) {
        self.stop();
        self.admin = ca.issue_valid(&pki::ADMIN);
        self.trusted = Some(trusted.to_string());
        self.run(ca, server);
    }

    /// Stops etcd and starts it again on the same port and data with other certificates.
    pub fn restart(&mut self, ca: &Ca, server: &Pair) {
        self.stop();
        self.admin = ca.issue_valid(&pki::ADMIN);
        self.trusted = None;
        self.run(ca, server);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn run(&mut self, ca: &Ca, server: &Pair) {
        let d = self.dir.path();
        let trusted = self.trusted.clone().unwrap_or_else(|| ca.pair.cert.clone());
        std::fs::write(d.join("ca.crt"), trusted).unwrap();
        std::fs::write(d.join("server.crt"), &server.cert).unwrap();
        std::fs::write(d.join("server.key"), &server.key).unwrap();
        let log = std::fs::File::create(d.join("etcd.log")).unwrap();
        let client = format!("https://127.0.0.1:{}", self.port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&self.bin)
            .arg("--name=member")
            .arg(format!("--data-dir={}", d.join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=member={peer}"))
            .arg("--initial-cluster-state=new")
            .arg(format!("--cert-file={}", d.join("server.crt").display()))
            .arg(format!("--key-file={}", d.join("server.key").display()))
            .arg(format!("--trusted-ca-file={}", d.join("ca.crt").display()))
            .arg("--client-cert-auth")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .arg("--log-level=warn")
            .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        // Ready when it answers a status request over mutual TLS.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self
                .call::<_, Empty>("/etcdserverpb.Maintenance/Status", Empty {})
                .is_ok()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("etcd exited ({status}): {}", self.log());
            }
            assert!(Instant::now() < deadline, "etcd not ready: {}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// Runs one etcd v3 call with the tests' own admin certificate, on a runtime of its own.
    fn call<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp, String>
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tls = ClientTlsConfig::new()
            .domain_name("clustermesh-apiserver.cilium.io")
            .ca_certificate(Certificate::from_pem(self.ca_pem()))
            .identity(Identity::from_pem(&self.admin.cert, &self.admin.key));
        let url = format!("https://127.0.0.1:{}", self.port);
        rt.block_on(async move {
            let call = async {
                let channel: Channel = Endpoint::from_shared(url)
                    .map_err(|e| e.to_string())?
                    .tls_config(tls)
                    .map_err(|e| e.to_string())?
                    .connect_timeout(Duration::from_secs(2))
                    .connect()
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                let mut grpc = tonic::client::Grpc::new(channel);
                grpc.ready().await.map_err(|e| e.to_string())?;
                grpc.unary(
                    tonic::Request::new(request),
                    tonic::codegen::http::uri::PathAndQuery::from_static(path),
                    tonic_prost::ProstCodec::<Req, Resp>::default(),
                )
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| s.to_string())
            };
            tokio::time::timeout(Duration::from_secs(5), call)
                .await
                .unwrap_or_else(|_| Err("timed out".into()))
        })
    }

    fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.crt")).unwrap()
    }

    pub fn put(&self, key: &str, value: &str) {
        let request = Put {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        };
        self.call::<_, Empty>("/etcdserverpb.KV/Put", request)
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    pub fn delete(&self, key: &str) {
        let request = Range {
            key: key.as_bytes().to_vec(),
            ..Range::default()
        };
        self.call::<_, Empty>("/etcdserverpb.KV/DeleteRange", request)
            .unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }

    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut end = prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1; // test prefixes end in '/', never 0xff
        }
        let request = Range {
            key: prefix.as_bytes().to_vec(),
            range_end: end,
            keys_only: true,
        };
        let response: RangeResponse = self.call("/etcdserverpb.KV/Range", request).unwrap();
        response
            .kvs
            .iter()
            .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
            .collect()
    }

    /// The keys a healthy clustermesh-apiserver of `cluster` (id `id`) has written: its
    /// cluster config, a fresh heartbeat, its nodes, a service, identities, IPs and the sync
    /// canaries (key layout of cilium/cilium pkg/clustermesh and pkg/kvstore).
    pub fn seed_apiserver(&self, cluster: &str, id: u32, max_connected: u32) {
        let now = rfc3339(time::OffsetDateTime::now_utc());
        self.put(
            &format!("cilium/cluster-config/{cluster}"),
            &format!(
                r#"{{"id":{id},"capabilities":{{"syncedCanaries":true,"maxConnectedClusters":{max_connected},"serviceExportsEnabled":false}}}}"#
            ),
        );
        self.put("cilium/.heartbeat", &now);
        for node in ["control-plane", "worker"] {
            self.put(
                &format!("cilium/state/nodes/v1/{cluster}/{cluster}-{node}"),
                &format!(
                    r#"{{"Name":"{cluster}-{node}","Cluster":"{cluster}","ClusterID":{id},"IPAddresses":[{{"Type":"InternalIP","IP":"127.0.0.1"}}]}}"#
                ),
            );
        }
        self.put(
            &format!("cilium/state/services/v1/{cluster}/default/webpod"),
            &format!(
                r#"{{"cluster":"{cluster}","namespace":"default","name":"webpod","shared":true,"includeExternal":true,"clusterID":{id}}}"#
            ),
        );
        for n in 1..=3u32 {
            self.put(
                &format!("cilium/state/identities/v1/id/{}", (id << 16) + n),
                "k8s:io.kubernetes.pod.namespace=default;k8s:app=webpod;",
            );
        }
        for n in 10..12 {
            self.put(
                &format!("cilium/state/ip/v1/default/10.{id}.1.{n}"),
                &format!(
                    r#"{{"IP":"10.{id}.1.{n}","ID":{},"Key":0}}"#,
                    (id << 16) + 1
                ),
            );
        }
        for kind in ["nodes", "services", "identities", "ip"] {
            self.put(
                &format!("cilium/synced/{cluster}/cilium/state/{kind}/v1"),
                &now,
            );
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A time as the clustermesh-apiserver writes it (Go's time.RFC3339).
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

// The few fields of etcd's rpc.proto the tests send (field numbers as there); DeleteRange's
// request shares Range's first two fields.
#[derive(Clone, PartialEq, Message)]
struct Put {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct Range {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    range_end: Vec<u8>,
    #[prost(bool, tag = "8")]
    keys_only: bool,
}

#[derive(Clone, PartialEq, Message)]
struct RangeResponse {
    #[prost(message, repeated, tag = "2")]
    kvs: Vec<Kv>,
}

#[derive(Clone, PartialEq, Message)]
struct Kv {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
}

/// A response whose fields the tests do not read.
#[derive(Clone, PartialEq, Message)]
struct Empty {}
