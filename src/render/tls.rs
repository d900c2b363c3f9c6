//! The chart's certificates: re-issued for the cluster by the right CA (the mesh CA, or the one
//! the chart put in the stream) with the chart's subject, SANs and usages, and certgen's
//! certificate list (`tls.auto.method=cronJob`) edited as the chart writes it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use time::Duration;

use super::certs::{self, Ca, Leaf};
use super::cilium::containers;
use super::derived;
use super::objects::Objects;
use super::{RenderError, Target};

/// Certificates expiring sooner than this are re-issued.
const RENEW_BEFORE: Duration = Duration::days(30);

/// A name of a chart-made certificate for the new cluster name (see
/// [`derived::rename_name`]).
fn rename_cert_name(name: &str, old: &str, new: &str) -> String {
    derived::rename_name(name, old, new).unwrap_or_else(|| name.to_string())
}

/// The chart's certificates: with the mesh CA, `cilium-ca` carries it and every chart-made
/// certificate is issued by it; otherwise certificates naming the cluster are re-issued by the
/// stream's own CA. Certificates already right and valid for 30 more days are kept.
pub(super) fn certificates(
    objects: &mut Objects,
    ns: &str,
    old_name: &str,
    version: Option<(u32, u32)>,
    t: &Target,
) -> Result<(), RenderError> {
    let ca_doc = objects.find("Secret", ns, "cilium-ca");
    // The CA the chart put in the stream: it tells chart-made certificates from the user's, and
    // without a mesh CA it issues their replacements. One that cannot be read (not base64 PEM,
    // a key missing) is refused rather than leaving certificates behind; without a mesh CA it
    // must also be valid now.
    let stream_ca = match ca_doc {
        Some(id) => {
            let d = &objects.get(id)["data"];
            let present = |k: &str| d.get(k).is_some_and(|v| !v.is_null());
            let invalid = |message: String| RenderError::Invalid {
                object: objects.describe(id),
                message,
            };
            match (secret_text(d, "ca.crt"), secret_text(d, "ca.key")) {
                (Some(c), Some(k)) => {
                    let ca = Ca::from_pem(&c, &k).map_err(|source| RenderError::Certificate {
                        object: objects.describe(id),
                        source,
                    })?;
                    if t.mesh_ca.is_none() {
                        ca.usable_at(t.now)
                            .map_err(|source| RenderError::Certificate {
                                object: objects.describe(id),
                                source,
                            })?;
                    }
                    Some(ca)
                }
                _ if !present("ca.crt") && !present("ca.key") => None,
                (crt, _) => {
                    let bad = if crt.is_none() { "ca.crt" } else { "ca.key" };
                    return Err(invalid(format!(
                        "data.{bad} is missing or not base64-encoded PEM text, so the chart's certificates cannot be told from yours or re-issued: fix the Secret (or the tls.ca values it came from)"
                    )));
                }
            }
        }
        None => None,
    };
    // A cluster of a mesh of several CAs whose key the mesh file does not give: its
    // certificates stay the chart's, so the chart's CA must be the one the bundles carry.
    if let (Some(bundle), None, Some(id), Some(ca)) = (t.bundle, t.mesh_ca, ca_doc, &stream_ca)
        && !ca.same_cert(&bundle.own)
    {
        return Err(RenderError::Invalid {
            object: objects.describe(id),
            message: format!(
                "is not cluster {:?}'s CA as the mesh file names it (its ca.cert), and without its ca.key render cannot issue with that CA: under `helm upgrade` the chart reuses the live Secret cilium-ca (its lookup), so make sure the cluster's cilium-ca is that CA, or give ca.key in the mesh file",
                t.cluster.name
            ),
        });
    }
    match (t.mesh_ca, ca_doc) {
        (Some(mesh_ca), Some(id)) => {
            let s = objects.get_mut(id);
            s["data"]["ca.crt"] = Value::String(B64.encode(&mesh_ca.cert_pem));
            s["data"]["ca.key"] = Value::String(B64.encode(&mesh_ca.key_pem));
        }
        // The chart renders cilium-ca whenever `tls.ca.cert/key` are set (e.g. certgen's cronJob
        // method, which otherwise makes its own CA at run time).
        (Some(mesh_ca), None) => {
            let mut secret = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "cilium-ca", "namespace": ns},
                "data": {"ca.crt": B64.encode(&mesh_ca.cert_pem), "ca.key": B64.encode(&mesh_ca.key_pem)},
            });
            if version.is_some_and(|v| v >= (1, 19)) {
                secret["metadata"]["labels"] =
                    json!({"cilium.io/helm-template-non-idempotent": "true"});
            }
            let config = objects.find("ConfigMap", ns, "cilium-config").unwrap_or(0);
            objects.add_after(config, "cilium-ca-secret.yaml", secret);
        }
        (None, _) => {}
    }
    // The chart copies `tls.ca.cert` into the `ca.crt` of Secrets made of certificates the user
    // provides (`tls-provided/`); the certificates themselves are the user's.
    if let Some(mesh_ca) = t.mesh_ca {
        for id in objects.chart_made(&["Secret"]) {
            let provided = objects
                .template(id)
                .is_some_and(|p| p.contains("tls-provided/"));
            if provided && objects.get(id)["data"].get("ca.crt").is_some() {
                let pem = B64.encode(&mesh_ca.cert_pem);
                if objects.get(id)["data"]["ca.crt"] != pem.as_str() {
                    objects.get_mut(id)["data"]["ca.crt"] = Value::String(pem);
                }
            }
        }
    }
    let target_ca = t.mesh_ca.or(stream_ca.as_ref());
    for id in objects.of_kinds(&["Secret"], ns) {
        if objects
            .template(id)
            .is_some_and(|p| p.contains("tls-provided/"))
        {
            continue; // the user's certificate: kept as given
        }
        let Some(crt) = secret_text(&objects.get(id)["data"], "tls.crt") else {
            continue;
        };
        let by_stream = stream_ca.as_ref().is_some_and(|ca| ca.signed(&crt));
        // Without a mesh CA the target is the stream's CA: one signature check serves both.
        let by_target = match t.mesh_ca {
            Some(ca) => ca.signed(&crt),
            None => by_stream,
        };
        if !by_stream && !by_target {
            continue; // not made by the chart: the user's own certificate (even garbage), left alone
        }
        let object = objects.describe(id);
        let leaf = Leaf::read(&crt).map_err(|source| RenderError::Certificate {
            object: object.clone(),
            source,
        })?;
        let wanted = leaf.renamed(|n| rename_cert_name(n, old_name, &t.cluster.name));
        let fresh = leaf.not_after > t.now + RENEW_BEFORE && leaf.not_before <= t.now;
        let Some(ca) = target_ca else { continue };
        let data = &mut objects.get_mut(id)["data"];
        if by_target && fresh && leaf.same_identity(&wanted) {
            if secret_text(data, "ca.crt").is_some_and(|c| !ca.same_cert(&c)) {
                data["ca.crt"] = Value::String(B64.encode(&ca.cert_pem));
            }
            continue;
        }
        let issued = certs::issue(&wanted, ca, t.now)
            .map_err(|source| RenderError::Certificate { object, source })?;
        data["tls.crt"] = Value::String(B64.encode(&issued.cert_pem));
        data["tls.key"] = Value::String(B64.encode(&issued.key_pem));
        if data.get("ca.crt").is_some() {
            data["ca.crt"] = Value::String(B64.encode(&ca.cert_pem));
        }
    }
    Ok(())
}

/// The env var through which the chart hands certgen its certificate list.
const CERTGEN_CONFIG_ENV: &str = "CILIUM_CERTGEN_CONFIG";

/// certgen (`tls.auto.method=cronJob`): the certificate names in its CronJobs and Jobs (Helm
/// hooks up to 1.18). The text is edited in place so the document keeps its exact form; a Job
/// named after the hash of its spec (1.19+: `hubble-generate-certs-<sha256[:10]>`) is renamed
/// with the hash of the edited spec, as the chart would name it.
pub(super) fn certgen(
    objects: &mut Objects,
    ns: &str,
    old: &str,
    t: &Target,
) -> Result<(), RenderError> {
    for id in objects.of_kinds(&["Job", "CronJob"], ns) {
        let mut renames: Vec<(String, String)> = Vec::new();
        for (_, container) in containers(objects.get(id)) {
            for env in container["env"].as_array().into_iter().flatten() {
                let Some(text) = env["value"]
                    .as_str()
                    .filter(|_| env["name"] == CERTGEN_CONFIG_ENV)
                else {
                    continue;
                };
                let config = crate::yaml::parse(text).map_err(|e| RenderError::Invalid {
                    object: objects.describe(id),
                    message: format!("{CERTGEN_CONFIG_ENV}: {}", e.message),
                })?;
                for cert in config["certs"].as_array().into_iter().flatten() {
                    let hosts = cert["hosts"].as_array().into_iter().flatten();
                    for name in std::iter::once(&cert["commonName"])
                        .chain(hosts)
                        .filter_map(Value::as_str)
                    {
                        let renamed = rename_cert_name(name, old, &t.cluster.name);
                        if renamed != name && !renames.iter().any(|(from, _)| from == name) {
                            renames.push((name.to_string(), renamed));
                        }
                    }
                }
            }
        }
        if renames.is_empty() {
            continue;
        }
        let mut text = objects.raw(id).to_string();
        for (from, to) in &renames {
            text = replace_token(&text, from, to);
        }
        if objects.get(id)["kind"] == "Job"
            && let Some(name) = objects.get(id)["metadata"]["name"].as_str()
            && let Some((prefix, hash)) = name.rsplit_once('-')
            && hash.len() == 10
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && let Some(new_hash) = spec_hash(&text)
        {
            text = text.replacen(
                &format!("name: {name}"),
                &format!("name: {prefix}-{new_hash}"),
                1,
            );
        }
        objects.set_raw(id, text)?;
    }
    Ok(())
}

/// The chart's `$jobSpec | sha256sum | trunc 10`: the text from the `spec:` line to the end.
fn spec_hash(doc: &str) -> Option<String> {
    use sha2::Digest;
    let start = if doc.starts_with("spec:\n") {
        0
    } else {
        doc.find("\nspec:\n")? + 1
    };
    let digest = sha2::Sha256::digest(doc[start..].trim_end_matches('\n').as_bytes());
    Some(hex::encode(digest)[..10].to_string())
}

/// Replaces `from` where it stands as a whole name (not inside a longer name).
fn replace_token(text: &str, from: &str, to: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(is_name) || after.is_some_and(is_name) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// A base64 `data` entry of a Secret, decoded as text.
fn secret_text(data: &Value, key: &str) -> Option<String> {
    let raw = data.get(key)?.as_str()?;
    let bytes = B64
        .decode(raw.split_whitespace().collect::<String>())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// A mesh of several CAs (`trust: bundle`): the chart's CA bundle (`tls.caBundle`) holds every
/// mesh CA. The chart must have been rendered with the bundle on — it is what the agents, the
/// clustermesh-apiserver's etcd and (1.18+) KVStoreMesh mount instead of the cluster's own
/// `ca.crt` (see `crate::mesh::trust`) — and render writes the bundle's object: the chart's
/// (`tls.caBundle.content` set) or a new one where the chart expects it to exist already.
pub(super) fn ca_bundle(
    objects: &mut Objects,
    ns: &str,
    version: Option<(u32, u32)>,
    t: &Target,
) -> Result<(), RenderError> {
    use crate::mesh::trust::{as_bundle, projected_source};
    let Some(bundle) = t.bundle else {
        return Ok(());
    };
    let agents = objects.find("DaemonSet", ns, "cilium");
    let apiserver = objects.find("Deployment", ns, "clustermesh-apiserver");
    let (reader, source) = match (agents, apiserver) {
        (Some(id), _) => (
            id,
            projected_source(
                objects.get(id),
                "clustermesh-secrets",
                "common-etcd-client-ca.crt",
            ),
        ),
        (None, Some(id)) => (
            id,
            projected_source(objects.get(id), "etcd-server-secrets", "ca.crt"),
        ),
        (None, None) => {
            return Err(RenderError::Invalid {
                object: format!("the stream (namespace {ns})"),
                message: "has neither the agents' DaemonSet cilium nor the clustermesh-apiserver Deployment, so render cannot tell where the chart mounts its CA bundle (tls.caBundle), which a mesh of several CAs (trust: bundle) needs".into(),
            });
        }
    };
    let Some(r) = source.and_then(as_bundle) else {
        return Err(RenderError::Invalid {
            object: objects.describe(reader),
            message: "mounts the cluster's own CA (ca.crt of its certificate Secret), not the chart's CA bundle: a mesh of several CAs (trust: bundle) needs `tls.caBundle.enabled: true` in your values (render then writes every mesh CA into the bundle)".into(),
        });
    };
    if let Some(id) = apiserver {
        let d = objects.get(id);
        let kvstoremesh = containers(d)
            .iter()
            .any(|(_, c)| c["name"] == "kvstoremesh");
        let by_bundle = projected_source(d, "kvstoremesh-secrets", "common-etcd-client-ca.crt")
            .and_then(as_bundle)
            .is_some();
        if kvstoremesh && !by_bundle {
            let v = version.map_or("this version".to_string(), |(a, b)| format!("{a}.{b}"));
            return Err(RenderError::Invalid {
                object: objects.describe(id),
                message: format!(
                    "runs KVStoreMesh, which on the Cilium chart {v} reads the peers' CA from Secret clustermesh-apiserver-remote-cert (ca.crt), not from the CA bundle (the chart mounts the bundle for KVStoreMesh from 1.18 on): a mesh of several CAs cannot connect it. Disable KVStoreMesh (clustermesh.apiserver.kvstoremesh.enabled: false), upgrade Cilium to 1.18 or later, or use one CA (`kubectl mesh ca sync`)"
                ),
            });
        }
    }
    let content = bundle.content();
    let field = if r.secret { "stringData" } else { "data" };
    match objects.find(r.kind(), ns, &r.name) {
        Some(id) => {
            let existing = {
                let o = objects.get(id);
                o[field][r.key.as_str()]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| secret_text(&o["data"], &r.key).filter(|_| r.secret))
                    .unwrap_or_default()
            };
            let foreign: Vec<String> = certs::pem_blocks(&existing)
                .iter()
                .filter(|b| !bundle.cas.iter().any(|c| certs::same_cert_pem(c, b)))
                .map(|b| {
                    crate::mesh::trust::pem_ders(b)
                        .first()
                        .map_or_else(String::new, |d| crate::mesh::trust::label(d))
                })
                .collect();
            if !foreign.is_empty() {
                return Err(RenderError::Invalid {
                    object: objects.describe(id),
                    message: format!(
                        "{field}.{} holds a CA that is no cluster's in the mesh file ({}): the mesh file owns the CA bundle of a mesh of several CAs; remove tls.caBundle.content from your values (or give that cluster's CA in the mesh file)",
                        r.key,
                        foreign.join("; ")
                    ),
                });
            }
            if existing != content {
                let o = objects.get_mut(id);
                if r.secret && o["data"].get(r.key.as_str()).is_some() {
                    o["data"][r.key.as_str()] = Value::String(B64.encode(&content));
                } else {
                    o[field][r.key.as_str()] = Value::String(content);
                }
            }
        }
        None => {
            let mut object = json!({
                "apiVersion": "v1",
                "kind": r.kind(),
                "metadata": {"name": r.name, "namespace": ns},
            });
            object[field] = json!({ r.key.as_str(): content });
            let config = objects.find("ConfigMap", ns, "cilium-config").unwrap_or(0);
            objects.add_after(config, "cilium-ca-bundle-configmap.yaml", object);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::mesh::Mesh;
    use crate::render::{Bundle, Target, certs, render};

    const MESH: &str = "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: tunnel\ntrust: bundle\nclusters:\n- {name: west, id: 1, context: a, podCIDR: 10.0.0.0/16, ca: {cert: w}}\n- {name: east, id: 2, context: b, podCIDR: 10.1.0.0/16, ca: {cert: e}}\n";

    /// The chart's objects the bundle concerns (cilium-agent/daemonset.yaml and
    /// clustermesh-apiserver/deployment.yaml, reduced): the agents' source of the peers' CA,
    /// and the apiserver with KVStoreMesh and its own source.
    fn stream(agents_ca: &str, kvstoremesh_ca: &str) -> String {
        format!(
            "---\n# Source: cilium/templates/cilium-configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-config\n  namespace: kube-system\ndata:\n  cluster-name: default\n  cluster-id: \"0\"\n---\n# Source: cilium/templates/cilium-agent/daemonset.yaml\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: cilium\n  namespace: kube-system\nspec:\n  template:\n    spec:\n      containers:\n      - name: cilium-agent\n        image: quay.io/cilium/cilium:v1.17.6\n      volumes:\n      - name: clustermesh-secrets\n        projected:\n          sources:\n          - {agents_ca}\n---\n# Source: cilium/templates/clustermesh-apiserver/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: clustermesh-apiserver\n  namespace: kube-system\nspec:\n  template:\n    spec:\n      containers:\n      - name: kvstoremesh\n        image: quay.io/cilium/clustermesh-apiserver:v1.17.6\n      volumes:\n      - name: kvstoremesh-secrets\n        projected:\n          sources:\n          - {kvstoremesh_ca}\n"
        )
    }

    const BUNDLE: &str = "configMap: {name: cilium-root-ca.crt, items: [{key: ca.crt, path: common-etcd-client-ca.crt}]}";
    const OWN: &str = "secret: {name: clustermesh-apiserver-remote-cert, items: [{key: ca.crt, path: common-etcd-client-ca.crt}]}";

    fn run(stream: &str) -> Result<String, String> {
        let mesh = Mesh::parse(MESH).unwrap();
        let (w, e) = (certs::tests::test_ca("west"), certs::tests::test_ca("east"));
        let bundle = Bundle {
            cas: vec![w.cert_pem.trim().to_string(), e.cert_pem.trim().to_string()],
            own: w.cert_pem.trim().to_string(),
        };
        let t = Target {
            mesh: &mesh,
            cluster: &mesh.clusters[0],
            mesh_ca: Some(&w),
            now: time::OffsetDateTime::now_utc(),
            bundle: Some(&bundle),
        };
        render(stream, &t)
            .map(|r| r.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_bundle_needs_the_chart_to_mount_it() {
        let err = run(&stream(OWN, BUNDLE)).unwrap_err();
        assert!(
            err.contains("DaemonSet kube-system/cilium")
                && err.contains("tls.caBundle.enabled: true"),
            "{err}"
        );
    }

    #[test]
    fn kvstoremesh_without_the_bundle_is_refused_naming_the_version() {
        let err = run(&stream(BUNDLE, OWN)).unwrap_err();
        assert!(
            err.contains("KVStoreMesh") && err.contains("chart 1.17") && err.contains("1.18"),
            "{err}"
        );
    }

    #[test]
    fn the_bundle_object_holds_every_mesh_ca() {
        let out = run(&stream(BUNDLE, BUNDLE)).unwrap();
        let doc = out
            .split("\n---")
            .find(|d| d.contains("name: cilium-root-ca.crt\n") && d.contains("kind: ConfigMap"))
            .unwrap_or_else(|| panic!("no bundle in {out}"));
        assert_eq!(doc.matches("BEGIN CERTIFICATE").count(), 2, "{doc}");
        // A bundle the values filled with another CA is refused: the mesh file owns it.
        let foreign = certs::tests::test_ca("stale");
        let pem = foreign.cert_pem.trim().replace('\n', "\n    ");
        let with = format!(
            "{}---\n# Source: cilium/templates/cilium-ca-bundle-configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-root-ca.crt\n  namespace: kube-system\ndata:\n  ca.crt: |\n    {pem}\n",
            stream(BUNDLE, BUNDLE)
        );
        let err = run(&with).unwrap_err();
        assert!(err.contains("no cluster's in the mesh file"), "{err}");
    }
}
