//! A mesh lab for the live commands: one in-memory API server per cluster, seeded with the
//! Cilium chart as `kubectl mesh render` makes it for that cluster (the real chart output the
//! repository carries in tests/data), plus Ready nodes, kubeadm's ClusterConfiguration and ready workloads; one
//! kubeconfig with a context per cluster.

use std::path::{Path, PathBuf};

use mesh_test_apiserver::{ApiServer, write_kubeconfig};
use serde_json::{Value, json};

/// One cluster of a lab.
#[derive(Clone)]
pub struct Spec {
    pub name: &'static str,
    pub id: u32,
    pub pod_cidr: &'static str,
    pub service_cidr: &'static str,
    pub node_ips: Vec<&'static str>,
    /// The clustermesh-apiserver NodePort (the chart default is 32379).
    pub node_port: u16,
    /// Cilium image tag, e.g. `v1.17.6`.
    pub version: &'static str,
    pub kube_proxy_replacement: bool,
}

impl Spec {
    pub fn new(name: &'static str, id: u32, node_port: u16) -> Spec {
        let (pod, svc, ips) = match id {
            1 => (
                "10.0.0.0/16",
                "10.2.0.0/16",
                vec!["172.18.0.2", "172.18.0.3"],
            ),
            2 => (
                "10.1.0.0/16",
                "10.3.0.0/16",
                vec!["172.18.0.4", "172.18.0.5"],
            ),
            _ => (
                "10.4.0.0/16",
                "10.5.0.0/16",
                vec!["172.18.0.6", "172.18.0.7"],
            ),
        };
        Spec {
            name,
            id,
            pod_cidr: pod,
            service_cidr: svc,
            node_ips: ips,
            node_port,
            version: "v1.17.6",
            kube_proxy_replacement: true,
        }
    }
}

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub servers: Vec<ApiServer>,
    pub specs: Vec<Spec>,
}

impl Lab {
    /// A lab seeded with the Cilium 1.17.6 chart (Hubble, clustermesh-apiserver as NodePort).
    pub fn start(specs: &[Spec]) -> Lab {
        Lab::start_from(
            &super::data("fixtures/hubble-clustermesh-1.17.6/base.yaml"),
            specs,
        )
    }

    /// A lab seeded from another chart stream `base` (the chart rendered with the values every
    /// cluster shares).
    pub fn start_from(base: &Path, specs: &[Spec]) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let render_mesh = dir.path().join("render-mesh.yaml");
        std::fs::write(&render_mesh, mesh_yaml(specs, true)).unwrap();
        std::fs::write(dir.path().join("mesh.yaml"), mesh_yaml(specs, false)).unwrap();
        let mut servers = Vec::new();
        for spec in specs {
            let out = super::kubectl_mesh(dir.path())
                .args(["render", "--mesh"])
                .arg(&render_mesh)
                .args(["--cluster", spec.name])
                .pipe_stdin(base)
                .unwrap()
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut stream = String::from_utf8(out.stdout).unwrap();
            stream = stream.replace("cilium:v1.17.6@", &format!("cilium:{}@", spec.version));
            if !spec.kube_proxy_replacement {
                stream = stream.replace(
                    "kube-proxy-replacement: \"true\"",
                    "kube-proxy-replacement: \"false\"",
                );
            }
            let server = ApiServer::start_with(&stream);
            server.seed_yaml(&extras(spec));
            mark_ready(&server);
            seed_pods(&server);
            servers.push(server);
        }
        let lab = Lab {
            dir,
            servers,
            specs: specs.to_vec(),
        };
        lab.write_kubeconfig(&[]);
        lab
    }

    /// Rewrites the kubeconfig; `overrides` point some contexts at other URLs (dead or hung).
    pub fn write_kubeconfig(&self, overrides: &[(&str, String)]) {
        let contexts: Vec<(String, String)> = self
            .specs
            .iter()
            .zip(&self.servers)
            .map(|(s, srv)| {
                let ctx = format!("kind-{}", s.name);
                let url = overrides
                    .iter()
                    .find(|(n, _)| *n == s.name)
                    .map_or(srv.url(), |(_, u)| u.clone());
                (ctx, url)
            })
            .collect();
        let refs: Vec<(&str, &str)> = contexts
            .iter()
            .map(|(c, u)| (c.as_str(), u.as_str()))
            .collect();
        write_kubeconfig(&self.dir.path().join("kubeconfig"), &refs, None);
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn mesh(&self) -> PathBuf {
        self.dir.path().join("mesh.yaml")
    }

    pub fn server(&self, name: &str) -> &ApiServer {
        let i = self
            .specs
            .iter()
            .position(|s| s.name == name)
            .expect("cluster in lab");
        &self.servers[i]
    }

    /// `kubectl-mesh` in this lab's hermetic environment, run from the lab directory.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = super::kubectl_mesh(self.home());
        cmd.current_dir(self.home());
        cmd
    }

    /// `kubectl mesh ARGS` through kubectl's plugin discovery (the built binary first on PATH),
    /// in this lab's hermetic environment. Without kubectl the test fails, unless the user opted
    /// out of it (then `None`, said loudly).
    pub fn kubectl_mesh(&self, args: &[&str]) -> Option<std::process::Output> {
        let kubectl = super::require(&super::KUBECTL, which::which("kubectl").ok())?;
        let bin = assert_cmd::cargo::cargo_bin("kubectl-mesh");
        let path = format!(
            "{}:{}",
            bin.parent().expect("target dir").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new(kubectl)
            .arg("mesh")
            .args(args)
            .current_dir(self.home())
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", path)
            .env("KUBECONFIG", self.home().join("kubeconfig"))
            .output()
            .expect("kubectl runs");
        Some(out)
    }

    pub fn get(&self, cluster: &str, kind: &str, name: &str) -> Option<Value> {
        let api = match kind {
            "DaemonSet" | "Deployment" => "apps/v1",
            _ => "v1",
        };
        self.server(cluster)
            .get(api, kind, Some("kube-system"), name)
    }

    /// The Secrets `names` in `kubectl mesh render --cluster CLUSTER < base` with the lab's
    /// mesh file, as the next `helm upgrade` with the post-renderer would apply them.
    pub fn rendered_secrets(&self, base: &Path, cluster: &str, names: &[&str]) -> Vec<Value> {
        self.rendered(base, cluster, "Secret", names)
    }

    /// The objects of `kind` named `names` in `kubectl mesh render --cluster CLUSTER < base`
    /// with the lab's mesh file.
    pub fn rendered(&self, base: &Path, cluster: &str, kind: &str, names: &[&str]) -> Vec<Value> {
        let out = self
            .cmd()
            .args(["render", "--cluster", cluster])
            .pipe_stdin(base)
            .unwrap()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stream = String::from_utf8(out.stdout).unwrap();
        names
            .iter()
            .map(|name| {
                let doc = stream
                    .split("\n---")
                    .find(|d| {
                        d.contains(&format!("\nkind: {kind}\n"))
                            && d.contains(&format!("  name: {name}\n"))
                    })
                    .unwrap_or_else(|| panic!("render has no {kind} {name}"));
                serde_saphyr::from_str(doc.trim_start_matches("---")).unwrap()
            })
            .collect()
    }

    /// Replaces `cluster`'s `cilium-ca` with the CA in `dir` (`ca.crt`, `ca.key`).
    pub fn set_ca(&self, cluster: &str, dir: &Path) {
        use base64::Engine;
        let b64 = |f: &str| {
            base64::engine::general_purpose::STANDARD
                .encode(std::fs::read(dir.join(f)).expect("CA file"))
        };
        let mut secret = self.get(cluster, "Secret", "cilium-ca").expect("cilium-ca");
        secret["data"]["ca.crt"] = b64("ca.crt").into();
        secret["data"]["ca.key"] = b64("ca.key").into();
        self.server(cluster).seed_yaml(&secret.to_string());
    }

    /// A Secret's keys with their decoded text.
    pub fn secret(&self, cluster: &str, name: &str) -> Option<Vec<(String, String)>> {
        use base64::Engine;
        let s = self.get(cluster, "Secret", name)?;
        Some(
            s["data"]
                .as_object()?
                .iter()
                .map(|(k, v)| {
                    let text = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().unwrap_or_default())
                        .unwrap_or_default();
                    (k.clone(), String::from_utf8_lossy(&text).into_owned())
                })
                .collect(),
        )
    }

    /// The agents' host aliases as (ip, hostname) pairs.
    pub fn host_aliases(&self, cluster: &str) -> Vec<(String, String)> {
        let ds = self.get(cluster, "DaemonSet", "cilium").unwrap();
        ds["spec"]["template"]["spec"]["hostAliases"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| {
                let ip = a["ip"].as_str().unwrap_or_default().to_string();
                a["hostnames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |h| (ip.clone(), h.as_str().unwrap_or_default().to_string()))
            })
            .collect()
    }

    pub fn total_writes(&self) -> u64 {
        self.servers.iter().map(|s| s.write_count()).sum()
    }

    /// Seeds the seed lab's `webpod` in `cluster`, namespace `default`: its Deployment, its
    /// Service (port 80/TCP, selector app=webpod, with `annotations`) and one EndpointSlice
    /// with `ready` ready and `not_ready` unready endpoints, as the endpoint controller writes
    /// them. Seeding again replaces them (not counted as writes).
    pub fn seed_webpod(
        &self,
        cluster: &str,
        ready: usize,
        not_ready: usize,
        annotations: &[(&str, &str)],
    ) {
        let service = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "webpod", "namespace": "default", "labels": {"app": "webpod"},
                "annotations": annotations.iter().map(|(k, v)| (k.to_string(), json!(v)))
                    .collect::<serde_json::Map<String, Value>>()},
            "spec": {"type": "ClusterIP", "selector": {"app": "webpod"},
                "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}]},
        });
        self.server(cluster).seed_yaml(&service.to_string());
        self.seed_webpod_endpoints(cluster, ready, not_ready);
    }

    /// Replaces `webpod`'s EndpointSlice and Deployment status in `cluster` (a scale to
    /// `ready` ready pods, `not_ready` more starting or stopping).
    pub fn seed_webpod_endpoints(&self, cluster: &str, ready: usize, not_ready: usize) {
        let spec = self.spec(cluster);
        let total = ready + not_ready;
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "webpod", "namespace": "default"},
            "spec": {"replicas": total, "selector": {"matchLabels": {"app": "webpod"}},
                "template": {"metadata": {"labels": {"app": "webpod"}},
                    "spec": {"containers": [{"name": "webpod", "image": "traefik/whoami",
                        "ports": [{"containerPort": 80}]}]}}},
            "status": {"replicas": total, "readyReplicas": ready, "availableReplicas": ready},
        });
        let endpoints: Vec<Value> = (0..total)
            .map(|i| {
                let ip = spec.pod_cidr.replace(".0.0/16", &format!(".1.{}", 10 + i));
                json!({
                    "addresses": [ip],
                    "conditions": {"ready": i < ready, "serving": i < ready, "terminating": false},
                    "nodeName": format!("{}-worker", spec.name),
                    "targetRef": {"kind": "Pod", "namespace": "default",
                        "name": format!("webpod-697b545f57-{}{i}", spec.name)},
                })
            })
            .collect();
        let mut slice = json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "webpod-x7k2p", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "webpod",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
        });
        if !endpoints.is_empty() {
            slice["endpoints"] = json!(endpoints);
        }
        let server = self.server(cluster);
        server.seed_yaml(&format!("---\n{deployment}\n---\n{slice}\n"));
    }

    /// An object of any kind in any namespace (`ns` is ignored for cluster-scoped kinds).
    pub fn object(&self, cluster: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let api = match kind {
            "DaemonSet" | "Deployment" => "apps/v1",
            "EndpointSlice" => "discovery.k8s.io/v1",
            _ => "v1",
        };
        self.server(cluster).get(api, kind, Some(ns), name)
    }

    /// An object's annotations (empty when it has none or does not exist).
    pub fn annotations(
        &self,
        cluster: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> std::collections::BTreeMap<String, String> {
        self.object(cluster, kind, ns, name)
            .and_then(|o| o["metadata"]["annotations"].as_object().cloned())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect()
    }

    /// Sets a key of `cilium-config` in `cluster` (seeding: not counted as a write).
    pub fn set_cilium_config(&self, cluster: &str, key: &str, value: &str) {
        let mut config = self.get(cluster, "ConfigMap", "cilium-config").unwrap();
        config["data"][key] = json!(value);
        self.server(cluster).seed_yaml(&config.to_string());
    }

    /// The names of `cluster`'s agent pods (the cilium DaemonSet's), sorted.
    pub fn agent_pods(&self, cluster: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .server(cluster)
            .list("v1", "Pod", Some("kube-system"))
            .iter()
            .filter(|p| p["metadata"]["labels"]["k8s-app"] == "cilium")
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// The name of `cluster`'s clustermesh-apiserver pod.
    pub fn apiserver_pod(&self, cluster: &str) -> String {
        self.server(cluster)
            .list("v1", "Pod", Some("kube-system"))
            .iter()
            .find(|p| p["metadata"]["labels"]["k8s-app"] == "clustermesh-apiserver")
            .and_then(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .expect("the lab has a clustermesh-apiserver pod")
    }

    /// Scripts what `cilium-dbg status -o json` prints in agent `pod` of `cluster`.
    pub fn script_agent(&self, cluster: &str, pod: &str, stdout: &str) {
        self.server(cluster).script_exec(
            pod,
            "cilium-agent",
            &super::cilium::AGENT_STATUS,
            mesh_test_apiserver::exec::ExecScript::ok(stdout),
        );
    }

    /// Whether `cluster`'s clustermesh-apiserver runs KVStoreMesh (has a kvstoremesh container).
    pub fn has_kvstoremesh(&self, cluster: &str) -> bool {
        self.server(cluster)
            .list("v1", "Pod", Some("kube-system"))
            .iter()
            .filter(|p| p["metadata"]["labels"]["k8s-app"] == "clustermesh-apiserver")
            .flat_map(|p| {
                p["spec"]["containers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .any(|c| c["name"] == "kvstoremesh")
    }

    /// Scripts every agent of `cluster` to report each other cluster of the lab as `peer`
    /// says (the agents' Cilium version is the cluster's); with KVStoreMesh, KVStoreMesh reports
    /// them the same way and the agents see them through it.
    pub fn script_agents(&self, cluster: &str, peer: super::cilium::Peer) {
        let spec = self.spec(cluster).clone();
        let kvstoremesh = self.has_kvstoremesh(cluster);
        let remotes = |through_kvstoremesh: bool| -> Vec<Value> {
            self.specs
                .iter()
                .filter(|p| p.name != cluster)
                .map(|p| {
                    super::cilium::remote_cluster(
                        spec.version,
                        p.name,
                        p.id,
                        p.node_ips.len(),
                        peer,
                        through_kvstoremesh,
                    )
                })
                .collect()
        };
        let out = super::cilium::agent_status(remotes(kvstoremesh));
        for pod in self.agent_pods(cluster) {
            self.script_agent(cluster, &pod, &out);
        }
        if kvstoremesh {
            self.server(cluster).script_exec(
                &self.apiserver_pod(cluster),
                "kvstoremesh",
                &super::cilium::KVSTOREMESH_STATUS,
                mesh_test_apiserver::exec::ExecScript::ok(super::cilium::kvstoremesh_status(
                    remotes(false),
                )),
            );
        }
    }

    /// Every agent of every cluster reports every other cluster ready: a healthy mesh, from
    /// the agents' side too.
    pub fn script_agents_healthy(&self) {
        for s in &self.specs {
            self.script_agents(s.name, super::cilium::Peer::Ready);
        }
    }

    fn spec(&self, cluster: &str) -> &Spec {
        self.specs
            .iter()
            .find(|s| s.name == cluster)
            .expect("cluster in lab")
    }
}

/// The mesh file a user would write by hand (`with_ports`: the one render used to install).
pub fn mesh_yaml(specs: &[Spec], with_ports: bool) -> String {
    let mut s = String::from(
        "# The lab's mesh.\napiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n",
    );
    for spec in specs {
        s.push_str(&format!(
            "- name: {}   # {} cluster\n  id: {}\n  context: kind-{}\n  podCIDR: {}\n  serviceCIDR: {}\n",
            spec.name, spec.name, spec.id, spec.name, spec.pod_cidr, spec.service_cidr
        ));
        if with_ports && spec.node_port != 32379 {
            s.push_str(&format!("  apiserverNodePort: {}\n", spec.node_port));
        }
    }
    s
}

/// Nodes and kubeadm's ClusterConfiguration, as kind makes them.
fn extras(spec: &Spec) -> String {
    let mut docs = Vec::new();
    for (i, ip) in spec.node_ips.iter().enumerate() {
        let name = if i == 0 {
            format!("{}-control-plane", spec.name)
        } else {
            format!(
                "{}-worker{}",
                spec.name,
                if i == 1 { String::new() } else { i.to_string() }
            )
        };
        let third: u32 = i as u32;
        let node_cidr = spec.pod_cidr.replace(".0.0/16", &format!(".{third}.0/24"));
        docs.push(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": node_cidr, "podCIDRs": [node_cidr]},
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }));
    }
    let kubeadm = format!(
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nclusterName: {}\nnetworking:\n  dnsDomain: cluster.local\n  podSubnet: {}\n  serviceSubnet: {}\n",
        spec.name, spec.pod_cidr, spec.service_cidr
    );
    docs.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": kubeadm},
    }));
    docs.iter().map(|d| format!("---\n{d}\n")).collect()
}

/// Suffixes of the DaemonSet's pod names, one per node (as the controller names them: five
/// lowercase alphanumerics).
const POD_SUFFIXES: [&str; 6] = ["x7k2p", "m4q9z", "b8n3f", "t2w6r", "h5d1c", "q9v4l"];

/// The pods the kubelet would run: one Ready agent per node (the cilium DaemonSet's template)
/// and one Ready clustermesh-apiserver (its Deployment's template), with their containers.
fn seed_pods(server: &ApiServer) {
    let nodes = server.list("v1", "Node", None);
    let pod = |name: String, owner: (&str, &str, &Value), template: &Value, node: &str| {
        let containers: Vec<Value> = template["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| json!({"name": c["name"], "image": c["image"]}))
            .collect();
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system",
                "labels": template["metadata"]["labels"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner.0, "name": owner.1,
                    "uid": owner.2["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"nodeName": node, "containers": containers},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]},
        })
    };
    let mut docs = Vec::new();
    if let Some(ds) = server.get("apps/v1", "DaemonSet", Some("kube-system"), "cilium") {
        for (i, n) in nodes.iter().enumerate() {
            let node = n["metadata"]["name"].as_str().unwrap_or_default();
            docs.push(pod(
                format!("cilium-{}", POD_SUFFIXES[i % POD_SUFFIXES.len()]),
                ("DaemonSet", "cilium", &ds),
                &ds["spec"]["template"],
                node,
            ));
        }
    }
    if let Some(d) = server.get(
        "apps/v1",
        "Deployment",
        Some("kube-system"),
        "clustermesh-apiserver",
    ) {
        let node = nodes
            .last()
            .and_then(|n| n["metadata"]["name"].as_str())
            .unwrap_or_default();
        docs.push(pod(
            "clustermesh-apiserver-5cf45db9cc-j4ssr".to_string(),
            ("ReplicaSet", "clustermesh-apiserver-5cf45db9cc", &d),
            &d["spec"]["template"],
            node,
        ));
    }
    server.seed_yaml(
        &docs
            .iter()
            .map(|d| format!("---\n{d}\n"))
            .collect::<String>(),
    );
}

/// Gives the agents and the clustermesh-apiserver the status of a healthy cluster.
fn mark_ready(server: &ApiServer) {
    let nodes = server.list("v1", "Node", None).len() as i64;
    if let Some(mut ds) = server.get("apps/v1", "DaemonSet", Some("kube-system"), "cilium") {
        ds["status"] = json!({"desiredNumberScheduled": nodes, "numberReady": nodes,
            "currentNumberScheduled": nodes, "numberAvailable": nodes, "updatedNumberScheduled": nodes});
        server.seed_yaml(&ds.to_string());
    }
    if let Some(mut d) = server.get(
        "apps/v1",
        "Deployment",
        Some("kube-system"),
        "clustermesh-apiserver",
    ) {
        d["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1});
        server.seed_yaml(&d.to_string());
    }
}
