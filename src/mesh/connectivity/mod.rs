//! `kubectl mesh connectivity`, the pure part: the probe workload every cluster gets
//! ([`objects`]), the probes' command lines and what their output means ([`probes`]), and the
//! report with its judgement ([`report`]). No I/O.
//!
//! The workload repeats the seed lab's data-path check with restricted Pods: a client Pod
//! (nicolaka/netshoot, like the lab's `curl-pod`) and a server Deployment (traefik/whoami, like
//! the lab's `webpod`, told its cluster's name so every answer says where it came from) behind a
//! global Service.

pub mod probes;
pub mod report;

use serde_json::{Value, json};

use crate::mesh::services::GLOBAL;

/// The default namespace, and the name of the global Service.
pub const NAME: &str = "kubectl-mesh-check";
/// The client Pod.
pub const CLIENT: &str = "kubectl-mesh-check-client";
/// The client Pod's container (the one the probes run in).
pub const CLIENT_CONTAINER: &str = "client";
/// The server Deployment.
pub const SERVER: &str = "kubectl-mesh-check-server";
/// The port whoami listens on: unprivileged, so it runs as a non-root user without
/// `NET_BIND_SERVICE`.
pub const SERVER_PORT: u16 = 8080;
pub const DEFAULT_CLIENT_IMAGE: &str = "nicolaka/netshoot";
pub const DEFAULT_SERVER_IMAGE: &str = "traefik/whoami";

pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const MANAGED_BY: &str = "kubectl-mesh";

/// The uid and gid the probe containers run as (`nobody`: both images would run as root).
const RUN_AS: i64 = 65534;

/// What to deploy.
#[derive(Debug, Clone)]
pub struct Workload {
    pub namespace: String,
    pub client_image: String,
    pub server_image: String,
    /// Deploy the server Deployment and global Service (false with `--service`).
    pub server: bool,
}

/// `app.kubernetes.io/name=kubectl-mesh-check,app.kubernetes.io/managed-by=kubectl-mesh`: the
/// labels of everything the command creates.
pub fn selector() -> String {
    format!("{NAME_LABEL}={NAME},{MANAGED_BY_LABEL}={MANAGED_BY}")
}

/// The server pods' label selector.
pub fn server_selector() -> String {
    format!("{NAME_LABEL}={NAME},{COMPONENT_LABEL}=server")
}

/// Whether `object` carries the labels of the probe workload (so the command may replace or
/// delete it).
pub fn is_ours(object: &Value) -> bool {
    let labels = &object["metadata"]["labels"];
    labels[NAME_LABEL] == NAME && labels[MANAGED_BY_LABEL] == MANAGED_BY
}

fn labels(component: Option<&str>) -> Value {
    let mut l = json!({NAME_LABEL: NAME, MANAGED_BY_LABEL: MANAGED_BY});
    if let Some(c) = component {
        l[COMPONENT_LABEL] = json!(c);
    }
    l
}

/// The Pod security context of the restricted Pod Security Standard (non-root, RuntimeDefault
/// seccomp), plus the namespaced "safe" sysctl that lets a non-root process open ICMP echo
/// sockets, so `ping` works without `CAP_NET_RAW` (kubernetes.io/docs/tasks/administer-cluster/
/// sysctl-cluster: `net.ipv4.ping_group_range` is in the safe set since 1.18).
fn pod_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
        "sysctls": [{"name": "net.ipv4.ping_group_range", "value": "0 2147483647"}],
    })
}

/// The container security context of the restricted standard: no privilege escalation, every
/// capability dropped, a read-only root file system.
fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
    })
}

/// The objects to create in cluster `cluster`, in creation order: the Namespace (when
/// `create_namespace`), then (with a server) the global Service and the server Deployment, then
/// the client Pod.
pub fn objects(w: &Workload, cluster: &str, create_namespace: bool) -> Vec<Value> {
    let ns = w.namespace.as_str();
    let mut out = Vec::new();
    if create_namespace {
        out.push(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels(None)},
        }));
    }
    if w.server {
        let selector = json!({NAME_LABEL: NAME, COMPONENT_LABEL: "server"});
        out.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": ns, "labels": labels(Some("server")),
                "annotations": {GLOBAL: "true"}},
            "spec": {"type": "ClusterIP", "selector": selector,
                "ports": [{"name": "http", "protocol": "TCP", "port": SERVER_PORT,
                    "targetPort": SERVER_PORT}]},
        }));
        out.push(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": SERVER, "namespace": ns, "labels": labels(Some("server"))},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels(Some("server"))},
                    "spec": {
                        "automountServiceAccountToken": false,
                        "terminationGracePeriodSeconds": 0,
                        "securityContext": pod_security(),
                        "containers": [{
                            "name": "server",
                            "image": w.server_image,
                            // whoami prints `Name: <cluster>` first when given a name.
                            "args": ["--port", SERVER_PORT.to_string(), "--name", cluster],
                            "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
                            "readinessProbe": {"tcpSocket": {"port": SERVER_PORT}, "periodSeconds": 2},
                            "securityContext": container_security(),
                        }],
                    },
                },
            },
        }));
    }
    out.push(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": CLIENT, "namespace": ns, "labels": labels(Some("client"))},
        "spec": {
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 0,
            "securityContext": pod_security(),
            "containers": [{
                "name": CLIENT_CONTAINER,
                "image": w.client_image,
                "command": ["tail", "-f", "/dev/null"],
                "securityContext": container_security(),
            }],
        },
    }));
    out
}

/// A pod as the probes need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyPod {
    pub name: String,
    pub ip: String,
}

/// Whether a Pod is Ready (its Ready condition True, not being deleted) with an IP.
pub fn ready_pod(pod: &Value) -> Option<ReadyPod> {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let ready = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    let ip = pod["status"]["podIP"]
        .as_str()
        .filter(|ip| !ip.is_empty())?;
    ready.then(|| ReadyPod {
        name: pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        ip: ip.to_string(),
    })
}

/// Why a Pod is not Ready yet, for the progress line and the timeout message: the waiting
/// reason of a container (`ImagePullBackOff: …`), else its phase.
pub fn not_ready_reason(pod: &Value) -> String {
    let waiting = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|c| {
            let w = &c["state"]["waiting"];
            let reason = w["reason"].as_str()?;
            Some(match w["message"].as_str().filter(|m| !m.is_empty()) {
                Some(m) => format!("{reason}: {m}"),
                None => reason.to_string(),
            })
        });
    waiting.unwrap_or_else(|| match pod["status"]["phase"].as_str() {
        Some(phase) => format!("{phase}, not Ready"),
        None => "not scheduled yet".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(server: bool) -> Workload {
        Workload {
            namespace: NAME.into(),
            client_image: DEFAULT_CLIENT_IMAGE.into(),
            server_image: DEFAULT_SERVER_IMAGE.into(),
            server,
        }
    }

    #[test]
    fn objects_are_labelled_restricted_and_in_order() {
        let objects = objects(&workload(true), "west", true);
        let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(kinds, ["Namespace", "Service", "Deployment", "Pod"]);
        assert!(objects.iter().all(is_ours), "{objects:#?}");
        let service = &objects[1];
        assert_eq!(service["metadata"]["annotations"][GLOBAL], "true");
        let deployment = &objects[2];
        let template = &deployment["spec"]["template"];
        assert_eq!(
            deployment["spec"]["selector"]["matchLabels"],
            service["spec"]["selector"]
        );
        assert_eq!(
            template["spec"]["containers"][0]["args"],
            json!(["--port", "8080", "--name", "west"])
        );
        for pod in [&template["spec"], &objects[3]["spec"]] {
            let sc = &pod["securityContext"];
            assert_eq!(sc["runAsNonRoot"], true);
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
            let c = &pod["containers"][0]["securityContext"];
            assert_eq!(c["allowPrivilegeEscalation"], false);
            assert_eq!(c["capabilities"]["drop"], json!(["ALL"]));
        }
        // Without a server (`--service`) and in an existing namespace: only the client.
        let only = super::objects(&workload(false), "east", false);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0]["metadata"]["name"], CLIENT);
    }

    #[test]
    fn ours_only_with_both_labels() {
        let o = |labels: Value| json!({"metadata": {"labels": labels}});
        assert!(is_ours(&o(
            json!({NAME_LABEL: NAME, MANAGED_BY_LABEL: MANAGED_BY})
        )));
        assert!(!is_ours(&o(json!({NAME_LABEL: NAME}))));
        assert!(!is_ours(&json!({"metadata": {}})));
    }

    #[test]
    fn readiness_needs_the_condition_and_an_ip() {
        let pod = |ready: &str, ip: Option<&str>| {
            let mut p = json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": ready}]}});
            if let Some(ip) = ip {
                p["status"]["podIP"] = json!(ip);
            }
            p
        };
        assert_eq!(
            ready_pod(&pod("True", Some("10.0.1.5"))),
            Some(ReadyPod {
                name: "p".into(),
                ip: "10.0.1.5".into()
            })
        );
        assert_eq!(ready_pod(&pod("True", None)), None);
        assert_eq!(ready_pod(&pod("False", Some("10.0.1.5"))), None);
        let pulling = json!({"status": {"phase": "Pending", "containerStatuses": [{"state":
            {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}]}});
        assert_eq!(
            not_ready_reason(&pulling),
            "ImagePullBackOff: Back-off pulling image \"x\""
        );
        assert_eq!(not_ready_reason(&json!({})), "not scheduled yet");
    }
}
