//! HTTP-level tests of the in-memory API server.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mesh_test_apiserver::ApiServer;
use serde_json::{Value, json};

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, data: Value) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
        .to_string()
}

#[test]
fn discovery_documents() {
    let s = ApiServer::start();
    let u = s.url();
    assert_eq!(get(&u, "/version").json()["major"], "1");
    assert_eq!(get(&u, "/api").json()["versions"], json!(["v1"]));
    let groups = get(&u, "/apis").json();
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "batch",
        "discovery.k8s.io",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "policy",
        "networking.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "cilium.io",
    ] {
        assert!(names.contains(&g), "{g} missing from {names:?}");
    }
    let core = get(&u, "/api/v1").json();
    let svc = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "services")
        .unwrap()
        .clone();
    assert_eq!(svc["shortNames"], json!(["svc"]));
    assert_eq!(svc["namespaced"], true);
    assert_eq!(svc["singularName"], "service");
    let ns = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap()
        .clone();
    assert_eq!(ns["namespaced"], false);
    let apps = get(&u, "/apis/apps/v1").json();
    let names: Vec<&str> = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"deployments/status") && names.contains(&"daemonsets/status"));
    assert_eq!(
        get(&u, "/apis/apps").json()["preferredVersion"]["groupVersion"],
        "apps/v1"
    );
    assert_eq!(get(&u, "/apis/nope/v1").status, 404);

    let agg = try_request(
        &u,
        "GET",
        "/apis",
        &[(
            "Accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )],
        b"",
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(
        agg.header("content-type")
            .unwrap()
            .contains("as=APIGroupDiscoveryList")
    );
    let doc = agg.json();
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    let apps = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "apps")
        .unwrap();
    let ds = apps["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "daemonsets")
        .unwrap();
    assert_eq!(ds["scope"], "Namespaced");
    assert_eq!(ds["shortNames"], json!(["ds"]));
    assert_eq!(ds["subresources"][0]["subresource"], "status");

    let unknown = get(&u, "/api/v1/widgets").json();
    assert_eq!(
        unknown["message"],
        "the server could not find the requested resource"
    );
    assert_eq!(get(&u, "/openapi/v2").status, 404);
    assert!(
        get(&u, "/openapi/v3").json()["paths"]["apis/apps/v1"]["serverRelativeURL"].is_string()
    );
}

#[test]
fn crud_and_errors() {
    let s = ApiServer::start();
    let u = s.url();
    let r = post(&u, CM, &cm("x", json!({"k": "v"})));
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["metadata"]["namespace"], "default");
    assert!(created["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let dup = post(&u, CM, &cm("x", json!({})));
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "configmaps \"x\" already exists", "reason": "AlreadyExists",
               "details": {"name": "x", "kind": "configmaps"}, "code": 409})
    );

    let got = get(&u, &format!("{CM}/x")).json();
    assert_eq!(got["data"]["k"], "v");
    assert_eq!(got["kind"], "ConfigMap");

    // PUT with the current resourceVersion succeeds, with a stale one conflicts.
    let mut body = got.clone();
    body["data"]["k"] = json!("w");
    let r = put(&u, &format!("{CM}/x"), &body.to_string());
    assert_eq!(r.status, 200);
    let new_rv = r.json()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_rv, rv);
    body["metadata"]["resourceVersion"] = json!(rv);
    let r = put(&u, &format!("{CM}/x"), &body.to_string());
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert_eq!(
        r.json()["message"],
        "Operation cannot be fulfilled on configmaps \"x\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // PUT without a resourceVersion is unconditional.
    body["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    body["data"]["k"] = json!("z");
    assert_eq!(put(&u, &format!("{CM}/x"), &body.to_string()).status, 200);
    // PUT of a missing object, and a mismatched name.
    let r = put(&u, &format!("{CM}/missing"), &cm("missing", json!({})));
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (404, json!("NotFound"))
    );
    assert_eq!(put(&u, &format!("{CM}/x"), &cm("y", json!({}))).status, 400);

    // Deployment errors name the group.
    let r = get(&u, "/apis/apps/v1/namespaces/default/deployments/nope").json();
    assert_eq!(r["message"], "deployments.apps \"nope\" not found");
    assert_eq!(
        r["details"],
        json!({"name": "nope", "group": "apps", "kind": "deployments"})
    );

    let r = delete(&u, &format!("{CM}/x"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["name"], "x");
    let r = delete(&u, &format!("{CM}/x"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "configmaps \"x\" not found");
    assert_eq!(s.write_count(), 4);

    // Validation and namespace existence.
    let r = post(&u, CM, &cm("Bad_Name", json!({})));
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (422, json!("Invalid"))
    );
    let r = post(
        &u,
        "/api/v1/namespaces/nope/configmaps",
        &cm("a", json!({})),
    );
    assert_eq!(r.json()["message"], "namespaces \"nope\" not found");
    let r = post(&u, CM, &cm("a", json!({"port": 80})));
    assert_eq!(r.status, 400, "non-string ConfigMap data is a decode error");
    let r = post(
        &u,
        CM,
        &json!({"metadata": {"generateName": "gen-"}}).to_string(),
    );
    assert_eq!(r.status, 201);
    let name = r.json()["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    assert_eq!(
        post(&u, "/api/v1/configmaps", &cm("a", json!({}))).status,
        405
    );
    assert_eq!(post(&u, CM, "{not json").status, 400);
}

#[test]
fn lists_and_selectors() {
    let s = ApiServer::start_with(
        r#"
apiVersion: v1
kind: Service
metadata: {name: a, namespace: default, labels: {app: web, tier: fe}}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: kube-system, labels: {app: db}}
spec: {ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: default}
spec: {type: NodePort, ports: [{port: 443}]}
"#,
    );
    let u = s.url();
    let names = |path: &str| -> Vec<String> {
        let l = get(&u, path).json();
        assert_eq!(l["kind"], "ServiceList", "{l}");
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("/api/v1/services"), ["a", "c", "b"]);
    assert_eq!(names("/api/v1/namespaces/default/services"), ["a", "c"]);
    assert_eq!(names("/api/v1/services?labelSelector=app%3Dweb"), ["a"]);
    assert_eq!(
        names("/api/v1/services?labelSelector=app!%3Dweb"),
        ["c", "b"]
    );
    assert_eq!(
        names("/api/v1/services?labelSelector=app+in+(web,db)"),
        ["a", "b"]
    );
    assert_eq!(
        names("/api/v1/services?labelSelector=app%20notin%20(web)"),
        ["c", "b"]
    );
    assert_eq!(names("/api/v1/services?labelSelector=app"), ["a", "b"]);
    assert_eq!(names("/api/v1/services?labelSelector=!app"), ["c"]);
    assert_eq!(
        names("/api/v1/services?labelSelector=app%3Dweb,tier%3Dfe"),
        ["a"]
    );
    assert_eq!(
        names("/api/v1/services?fieldSelector=metadata.name%3Db"),
        ["b"]
    );
    assert_eq!(
        names("/api/v1/services?fieldSelector=metadata.namespace%3Ddefault"),
        ["a", "c"]
    );
    assert_eq!(
        names("/api/v1/services?fieldSelector=metadata.namespace!%3Ddefault"),
        ["b"]
    );
    assert_eq!(
        get(&u, "/api/v1/services?labelSelector=app+in+web").status,
        400
    );
    assert_eq!(
        get(&u, "/api/v1/services?fieldSelector=spec.type%3DNodePort").status,
        400
    );

    let l = get(&u, "/api/v1/services").json();
    assert_eq!(l["apiVersion"], "v1");
    assert_eq!(
        l["metadata"]["resourceVersion"],
        s.resource_version().to_string()
    );
    assert!(
        l["items"][0].get("kind").is_none(),
        "built-in list items carry no kind, like the real server"
    );

    // Defaulting: cluster IPs, protocol/targetPort, node ports.
    let c = s.get("v1", "Service", Some("default"), "c").unwrap();
    assert!(
        c["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96.")
    );
    assert_eq!(c["spec"]["ports"][0]["protocol"], "TCP");
    assert_eq!(c["spec"]["ports"][0]["targetPort"], 443);
    assert!(c["spec"]["ports"][0]["nodePort"].as_u64().unwrap() >= 30000);

    // Pagination.
    let p1 = get(&u, "/api/v1/services?limit=2").json();
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let cont = p1["metadata"]["continue"].as_str().unwrap();
    let p2 = get(&u, &format!("/api/v1/services?limit=2&continue={cont}")).json();
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert_eq!(p2["items"][0]["metadata"]["name"], "b");
    assert!(p2["metadata"].get("continue").is_none());

    // Library API.
    assert_eq!(s.list("v1", "Service", None).len(), 3);
    assert_eq!(s.list("v1", "Service", Some("kube-system")).len(), 1);
    assert_eq!(s.list("v1", "Namespace", None).len(), 4);
    assert_eq!(
        s.get("v1", "Service", Some("kube-system"), "b").unwrap()["kind"],
        "Service"
    );
}

#[test]
fn patch_types() {
    let s = ApiServer::start_with(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: "app:1", env: [{name: A, value: "1"}]}
      - {name: side, image: "side:1"}
status: {readyReplicas: 1}
"#,
    );
    let u = s.url();
    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let gen0 = s.get("apps/v1", "Deployment", None, "web").unwrap()["metadata"]["generation"]
        .as_i64()
        .unwrap();

    let r = patch(
        &u,
        path,
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"x":"1","app":null}},"spec":{"replicas":3}}"#,
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    let d = r.json();
    assert_eq!(d["metadata"]["labels"], json!({"x": "1"}));
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["generation"].as_i64().unwrap(), gen0 + 1);
    assert_eq!(
        d["status"]["readyReplicas"], 1,
        "status survives main-resource writes"
    );

    let r = patch(
        &u,
        path,
        "application/json-patch+json",
        r#"[{"op":"replace","path":"/spec/replicas","value":5},{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}]"#,
    );
    assert_eq!(r.json()["spec"]["replicas"], 5);
    assert_eq!(r.json()["metadata"]["annotations"]["a"], "b");
    let r = patch(
        &u,
        path,
        "application/json-patch+json",
        r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
    );
    assert_eq!(r.status, 422);

    let r = patch(
        &u,
        path,
        "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:2","env":[{"name":"B","value":"2"}]},{"name":"side","$patch":"delete"}]}}}}"#,
    );
    assert_eq!(r.status, 200);
    let containers = r.json()["spec"]["template"]["spec"]["containers"].clone();
    assert_eq!(
        containers,
        json!([{"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}])
    );

    // Stale resourceVersion inside a patch is a precondition.
    let r = patch(
        &u,
        path,
        "application/merge-patch+json",
        r#"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":1}}"#,
    );
    assert_eq!(r.status, 409);

    // Status subresource.
    let r = patch(
        &u,
        &format!("{path}/status"),
        "application/merge-patch+json",
        r#"{"status":{"readyReplicas":5},"spec":{"replicas":100}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"]["readyReplicas"], 5);
    assert_eq!(r.json()["spec"]["replicas"], 5, "status writes ignore spec");
    let mut st = get(&u, &format!("{path}/status")).json();
    st["status"]["readyReplicas"] = json!(2);
    assert_eq!(
        put(&u, &format!("{path}/status"), &st.to_string()).json()["status"]["readyReplicas"],
        2
    );
    assert_eq!(
        get(&u, "/apis/apps/v1/namespaces/default/deployments/web/scale").status,
        404
    );

    // Missing object and unsupported content type.
    assert_eq!(
        patch(
            &u,
            "/apis/apps/v1/namespaces/default/deployments/nope",
            "application/merge-patch+json",
            "{}"
        )
        .status,
        404
    );
    assert_eq!(patch(&u, path, "application/json", "{}").status, 415);
    // Custom resources do not take strategic merge patches.
    s.seed_yaml("apiVersion: cilium.io/v2\nkind: CiliumNode\nmetadata: {name: n1}\nspec: {a: 1}\n");
    let r = patch(
        &u,
        "/apis/cilium.io/v2/ciliumnodes/n1",
        "application/strategic-merge-patch+json",
        r#"{"spec":{"a":2}}"#,
    );
    assert_eq!(r.status, 415);
    let r = patch(
        &u,
        "/apis/cilium.io/v2/ciliumnodes/n1",
        "application/merge-patch+json",
        r#"{"spec":{"a":2}}"#,
    );
    assert_eq!(r.json()["spec"]["a"], 2);
}

#[test]
fn server_side_apply() {
    let s = ApiServer::start();
    let u = s.url();
    let path = "/api/v1/namespaces/kube-system/configmaps/mesh";
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mesh\n  namespace: kube-system\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    let ssa = "application/apply-patch+yaml";
    assert_eq!(
        patch(&u, path, ssa, yaml).status,
        422,
        "fieldManager is required"
    );
    let r = patch(&u, &format!("{path}?fieldManager=mesh"), ssa, yaml);
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["data"], json!({"a": "1", "b": "2"}));
    // Another writer adds a key; the manager drops "b" and changes "a".
    patch(
        &u,
        path,
        "application/merge-patch+json",
        r#"{"data":{"other":"x"}}"#,
    );
    let yaml2 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mesh, namespace: kube-system}\ndata: {a: \"9\"}\n";
    let r = patch(
        &u,
        &format!("{path}?fieldManager=mesh&force=true"),
        ssa,
        yaml2,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], json!({"a": "9", "other": "x"}));
    // Re-applying the same configuration is a no-op (no new resourceVersion).
    let rv = s.resource_version();
    assert_eq!(
        patch(&u, &format!("{path}?fieldManager=mesh"), ssa, yaml2).status,
        200
    );
    assert_eq!(s.resource_version(), rv);
    // JSON bodies are YAML too; kind mismatches are rejected.
    let r = patch(
        &u,
        &format!("{path}?fieldManager=mesh"),
        ssa,
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"mesh"}}"#,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn dry_run_changes_nothing() {
    let s = ApiServer::start_with(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {k: v}\n",
    );
    let u = s.url();
    let rv = s.resource_version();
    let r = post(
        &u,
        &format!("{CM}?dryRun=All"),
        &cm("new", json!({"a": "b"})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["data"]["a"], "b");
    let r = patch(
        &u,
        &format!("{CM}/keep?dryRun=All"),
        "application/merge-patch+json",
        r#"{"data":{"k":"changed"}}"#,
    );
    assert_eq!(r.json()["data"]["k"], "changed");
    let r = patch(
        &u,
        &format!("{CM}/applied?dryRun=All&fieldManager=m"),
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\n",
    );
    assert_eq!(r.status, 201);
    let r = req(
        &u,
        "DELETE",
        &format!("{CM}/keep"),
        "application/json",
        r#"{"dryRun":["All"]}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(delete(&u, &format!("{CM}/keep?dryRun=All")).status, 200);
    assert_eq!(s.write_count(), 0);
    assert_eq!(s.resource_version(), rv);
    assert_eq!(
        s.get("v1", "ConfigMap", None, "keep").unwrap()["data"]["k"],
        "v"
    );
    assert!(s.get("v1", "ConfigMap", None, "new").is_none());
    assert!(s.get("v1", "ConfigMap", None, "applied").is_none());
}

#[test]
fn watch_streams_events_and_times_out() {
    let s = ApiServer::start_with("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n");
    let u = s.url();
    let start = Instant::now();
    let writer = {
        let u = u.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            post(&u, CM, &cm("two", json!({})));
            patch(
                &u,
                &format!("{CM}/two"),
                "application/merge-patch+json",
                r#"{"data":{"x":"y"}}"#,
            );
            delete(&u, &format!("{CM}/one"));
            // Another kind must not show up.
            post(
                &u,
                "/api/v1/namespaces/default/secrets",
                r#"{"metadata":{"name":"s"}}"#,
            );
        })
    };
    let r = get(&u, &format!("{CM}?watch=true&timeoutSeconds=1"));
    writer.join().unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let events: Vec<(String, String)> = r
        .lines()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("ADDED", "one"),
        ("ADDED", "two"),
        ("MODIFIED", "two"),
        ("DELETED", "one"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, want);
    assert_eq!(r.lines()[0]["object"]["kind"], "ConfigMap");

    // Replay from a resourceVersion; selectors turn leaving objects into DELETED.
    let rv = s.resource_version();
    post(
        &u,
        CM,
        &json!({"metadata": {"name": "l", "labels": {"a": "1"}}}).to_string(),
    );
    patch(
        &u,
        &format!("{CM}/l"),
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"a":"2"}}}"#,
    );
    let r = get(
        &u,
        &format!("{CM}?watch=1&resourceVersion={rv}&timeoutSeconds=1&labelSelector=a%3D1"),
    );
    let types: Vec<Value> = r.lines().iter().map(|e| e["type"].clone()).collect();
    assert_eq!(types, [json!("ADDED"), json!("DELETED")]);
    // A watch of a single object by field selector, starting now: no events.
    let r = get(
        &u,
        &format!(
            "{CM}?watch=true&fieldSelector=metadata.name%3Dl&resourceVersion={}&timeoutSeconds=1",
            s.resource_version()
        ),
    );
    assert!(r.lines().is_empty());
}

#[test]
fn fault_injection() {
    let s = ApiServer::start();
    let u = s.url();
    s.fail_next_writes(2, 409);
    let r = post(&u, CM, &cm("a", json!({})));
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (409, json!("Conflict"))
    );
    assert_eq!(
        get(&u, &format!("{CM}/a")).status,
        404,
        "reads are not affected and nothing was stored"
    );
    assert_eq!(post(&u, CM, &cm("a", json!({}))).status, 409);
    assert_eq!(post(&u, CM, &cm("a", json!({}))).status, 201);
    s.fail_next_writes(1, 500);
    let r = delete(&u, &format!("{CM}/a"));
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (500, json!("InternalError"))
    );
    assert_eq!(delete(&u, &format!("{CM}/a")).status, 200);
    assert_eq!(s.write_count(), 2);
}

#[test]
fn hang_and_latency() {
    let s = ApiServer::start();
    let u = s.url();
    s.set_hang(true);
    let r = try_request(&u, "GET", "/version", &[], b"", Duration::from_millis(300));
    assert!(r.is_err(), "a hung server must not answer");
    s.set_hang(false);
    assert_eq!(get(&u, "/version").status, 200);

    s.set_latency(Duration::from_millis(200));
    let t = Instant::now();
    assert_eq!(get(&u, "/api").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    s.set_latency(Duration::ZERO);
    // Dropping a server with a hung request in flight must not block.
    s.set_hang(true);
    let u2 = u.clone();
    let t = std::thread::spawn(move || {
        try_request(&u2, "GET", "/version", &[], b"", Duration::from_secs(5))
    });
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    assert!(t.join().unwrap().is_err());
}

#[test]
fn seeding_rules() {
    let s = ApiServer::start();
    let objs = s
        .try_seed_yaml(
            r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: Secret
  metadata: {name: s, namespace: cilium}
  stringData: {token: abc}
---
apiVersion: example.io/v1
kind: MeshPolicy
metadata: {name: p, namespace: default}
spec: {x: 1}
---
apiVersion: example.io/v1
kind: GlobalThing
metadata: {name: g}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.acme.io}
spec:
  group: acme.io
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, subresources: {status: {}}}]
"#,
        )
        .unwrap();
    assert_eq!(objs.len(), 5);
    assert_eq!(objs[0]["metadata"]["namespace"], "default");
    let u = s.url();
    assert_eq!(
        get(&u, "/api/v1/namespaces/cilium").status,
        200,
        "missing namespaces are created"
    );
    let secret = s.get("v1", "Secret", Some("cilium"), "s").unwrap();
    assert_eq!(secret["data"]["token"], "YWJj");
    assert!(secret.get("stringData").is_none());
    assert_eq!(
        get(&u, "/apis/example.io/v1/namespaces/default/meshpolicies/p").json()["spec"]["x"],
        1
    );
    assert_eq!(get(&u, "/apis/example.io/v1/globalthings/g").status, 200);
    let r = post(
        &u,
        "/apis/acme.io/v1/namespaces/default/widgets",
        r#"{"apiVersion":"acme.io/v1","kind":"Widget","metadata":{"name":"w"}}"#,
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["metadata"]["generation"], 1);
    let l = get(&u, "/apis/acme.io/v1/widgets").json();
    assert_eq!(l["kind"], "WidgetList");
    assert_eq!(
        l["items"][0]["kind"], "Widget",
        "custom resources keep kind in lists"
    );
    // Re-seeding replaces.
    s.seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: \"2\"}\n");
    assert_eq!(
        s.get("v1", "ConfigMap", None, "a").unwrap()["data"]["v"],
        "2"
    );
    assert!(s.try_seed_yaml("kind: ConfigMap\n").is_err());
}

#[test]
fn namespace_delete_cascades_and_finalizers() {
    let s = ApiServer::start_with(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: gone}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: f, finalizers: [x/y]}\n",
    );
    let u = s.url();
    assert_eq!(delete(&u, "/api/v1/namespaces/gone").status, 200);
    assert!(s.get("v1", "ConfigMap", Some("gone"), "a").is_none());
    // Finalizers hold the object until removed.
    let r = delete(&u, &format!("{CM}/f")).json();
    assert!(r["metadata"]["deletionTimestamp"].is_string());
    assert!(s.get("v1", "ConfigMap", None, "f").is_some());
    patch(
        &u,
        &format!("{CM}/f"),
        "application/merge-patch+json",
        r#"{"metadata":{"finalizers":null}}"#,
    );
    assert!(s.get("v1", "ConfigMap", None, "f").is_none());
}

#[test]
fn parallel_clients() {
    let s = ApiServer::start();
    let u = s.url();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let u = u.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let r = post(&u, CM, &cm(&format!("c-{t}-{i}"), json!({})));
                    assert_eq!(r.status, 201);
                    assert_eq!(get(&u, "/api/v1/configmaps?limit=5").status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.list("v1", "ConfigMap", None).len(), 200);
    assert_eq!(s.write_count(), 200);
    let reqs = s.requests();
    assert_eq!(reqs.iter().filter(|r| r.method == "POST").count(), 200);
    assert_eq!(reqs[0].content_type, "application/json");
}

#[test]
fn tables_streaming_lists_and_protobuf() {
    let s = ApiServer::start_with(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: \"1\"}\n",
    );
    let u = s.url();
    let t = try_request(
        &u,
        "GET",
        CM,
        &[(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )],
        b"",
        Duration::from_secs(5),
    )
    .unwrap()
    .json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["columnDefinitions"][1]["name"], "Data");
    assert_eq!(t["rows"][0]["cells"][0], "a");
    assert_eq!(t["rows"][0]["cells"][1], 1);
    assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");

    // sendInitialEvents: ADDED for existing objects, then the end-of-initial-events bookmark.
    let r = get(
        &u,
        &format!(
            "{CM}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
        ),
    );
    let ev = r.lines();
    assert_eq!(ev[0]["type"], "ADDED");
    assert_eq!(ev[1]["type"], "BOOKMARK");
    assert_eq!(
        ev[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );

    // A protobuf body (as sent by `kubectl create namespace foo`).
    let hex = "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a0032003800420012001a020a001a002200";
    let body: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let r = try_request(
        &u,
        "POST",
        "/api/v1/namespaces",
        &[("Content-Type", "application/vnd.kubernetes.protobuf")],
        &body,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["status"]["phase"], "Active");
    assert!(s.get("v1", "Namespace", None, "foo").is_some());
}
