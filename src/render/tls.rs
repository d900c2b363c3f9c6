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
