//! Values the chart derives from a cluster's identity — names built from `cluster.name`
//! (`remote-<name>`, `*.<name>.hubble-grpc.cilium.io`, `cluster = "<name>"`), and config keys
//! that carry the name, the id or `maxConnectedClusters` — in one place: the transforms rename
//! them with [`rename_name`] and [`rename_in_text`], and [`check`] refuses a stream that still
//! carries one after every transform ran (a chart option nobody audited yet), instead of letting
//! a release out with two identities in it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::RenderError;
use super::certs::Leaf;

/// The identity the stream was rendered with (`old`) and the one it must carry (`new`), as the
/// chart writes them (`max` is `clustermesh.maxConnectedClusters`).
#[derive(Debug, Clone)]
pub struct Identity {
    pub old_name: String,
    pub new_name: String,
    pub old_id: String,
    pub new_id: String,
    pub old_max: String,
    pub new_max: String,
}

/// Characters of a name token (DNS names, user names, wildcards).
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '_')
}

/// The cluster-name form of one name, if `name` is derived from `old`:
/// - `<role>-<old>` (the clustermesh-apiserver users `admin-`, `local-`, `remote-<name>`);
/// - a DNS name of three or more labels with `old` as a label before the last two
///   (`*.<name>.hubble-grpc.cilium.io`, `<name>.hubble-metrics.cilium.io`), but not a Service
///   name (`x.<namespace>.svc…`), where the label is a namespace.
pub fn rename_name(name: &str, old: &str, new: &str) -> Option<String> {
    if old == new {
        return None;
    }
    if let Some(role) = name.strip_suffix(old).and_then(|r| r.strip_suffix('-'))
        && !role.is_empty()
        && role.bytes().all(|b| b.is_ascii_lowercase())
    {
        return Some(format!("{role}-{new}"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() >= 3
        && !labels.iter().any(|l| matches!(*l, "svc" | "local"))
        && labels[..labels.len() - 2].contains(&old)
    {
        let renamed: Vec<&str> = labels
            .iter()
            .map(|l| if *l == old { new } else { l })
            .collect();
        return Some(renamed.join("."));
    }
    None
}

/// One derived value found in a text: its byte range and what it should read.
struct Hit {
    start: usize,
    end: usize,
    wanted: String,
}

/// Every derived value in `text`: names (see [`rename_name`]), a quoted name used as a block
/// key (`"<name>" = {`, SPIRE's cluster list), and `key: value` / `key=value` / `key = "value"`
/// pairs whose key names the cluster (`cluster-name`, `cluster`, `--cluster-id`,
/// `max-connected-clusters`, …) and whose value is the old one.
fn hits(text: &str, id: &Identity) -> Vec<Hit> {
    let mut out = Vec::new();
    if id.old_name != id.new_name && !id.old_name.is_empty() {
        for i in memchr::memmem::find_iter(text.as_bytes(), id.old_name.as_bytes()) {
            let start = text[..i].rfind(|c: char| !name_char(c)).map_or(0, |p| {
                p + text[p..].chars().next().map_or(1, char::len_utf8)
            });
            let end = text[i..]
                .find(|c: char| !name_char(c))
                .map_or(text.len(), |p| i + p);
            let token = &text[start..end];
            if let Some(wanted) = rename_name(token, &id.old_name, &id.new_name) {
                out.push(Hit { start, end, wanted });
            } else if token == id.old_name && quoted_block_key(text, start, end) {
                out.push(Hit {
                    start,
                    end,
                    wanted: id.new_name.clone(),
                });
            }
        }
    }
    let keys = [
        ("clustername", &id.old_name, &id.new_name),
        ("clusterid", &id.old_id, &id.new_id),
        ("maxconnectedclusters", &id.old_max, &id.new_max),
    ];
    for i in memchr::memmem::find_iter(text.as_bytes(), b"luster") {
        let Some((start, end, key)) = key_value_at(text, i) else {
            continue;
        };
        let value = &text[start..end];
        for (suffix, old, new) in keys {
            let names_it = key.ends_with(suffix) || (suffix == "clustername" && key == "cluster");
            if names_it && old != new && value == old.as_str() {
                out.push(Hit {
                    start,
                    end,
                    wanted: new.clone(),
                });
            }
        }
    }
    out.sort_by_key(|h| h.start);
    out.dedup_by_key(|h| h.start);
    out
}

/// `"<token>" = {`: a quoted name that opens a block (HCL).
fn quoted_block_key(text: &str, start: usize, end: usize) -> bool {
    text[..start].ends_with('"')
        && text[end..]
            .strip_prefix('"')
            .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with("= {"))
}

/// For the word around byte `i` (inside a key such as `cluster-name`, `--cluster-id`,
/// `"max-connected-clusters"`), followed on the same line by `:` or `=` and a value: the value's
/// byte range and the key, lower-cased, without `-`/`_`.
fn key_value_at(text: &str, i: usize) -> Option<(usize, usize, String)> {
    let key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    let kstart = text[..i].rfind(|c: char| !key_char(c)).map_or(0, |p| p + 1);
    let kend = text[i..]
        .find(|c: char| !key_char(c))
        .map_or(text.len(), |p| i + p);
    let key: String = text[kstart..kend]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    let rest = &text[kend..];
    let after_quote = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
    let sep = after_quote.trim_start_matches([' ', '\t']);
    let value = sep.strip_prefix([':', '='])?;
    let trimmed = value.trim_start_matches([' ', '\t']);
    let unquoted = trimmed.strip_prefix(['"', '\'']).unwrap_or(trimmed);
    let vstart = text.len() - unquoted.len();
    let vlen = unquoted
        .find(['"', '\'', ',', '}', ']', '\n', '\r', ' ', '\t'])
        .unwrap_or(unquoted.len());
    (vlen > 0).then(|| (vstart, vstart + vlen, key))
}

/// `text` with every derived value (see [`hits`]) given the new identity's value.
pub fn rename_in_text(text: &str, id: &Identity) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hits(text, id) {
        if h.start < at {
            continue;
        }
        out.push_str(&text[at..h.start]);
        out.push_str(&h.wanted);
        at = h.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where a derived value was left: a line excerpt of `text` around the first hit.
fn first_hit(text: &str, id: &Identity) -> Option<(usize, String, String)> {
    let h = hits(text, id).into_iter().next()?;
    let line = text[..h.start].matches('\n').count() + 1;
    Some((line, text[h.start..h.end].to_string(), h.wanted))
}

/// Fails closed: refuses `object` (a document the chart made, as it will be written) when it
/// still carries a value derived from the old identity — in its text, in a Secret's decoded
/// data, or in the names of a certificate it holds.
pub fn check(object: &Value, text: &str, id: &Identity) -> Result<(), RenderError> {
    let describe = || super::objects::describe(object);
    let unhandled = |place: String, found: String, wanted: String| RenderError::Unhandled {
        object: describe(),
        place,
        found,
        wanted,
        old: id.old_name.clone(),
    };
    if let Some((line, found, wanted)) = first_hit(text, id) {
        return Err(unhandled(
            format!("line {line} of the document"),
            found,
            wanted,
        ));
    }
    if object["kind"] != "Secret" {
        return Ok(());
    }
    for (key, raw) in object["data"].as_object().into_iter().flatten() {
        let Some(bytes) = raw
            .as_str()
            .and_then(|r| B64.decode(r.split_whitespace().collect::<String>()).ok())
        else {
            continue;
        };
        let Ok(decoded) = String::from_utf8(bytes) else {
            continue;
        };
        if let Some((line, found, wanted)) = first_hit(&decoded, id) {
            return Err(unhandled(
                format!("data.{key} (line {line})"),
                found,
                wanted,
            ));
        }
        for pem in pem_certificates(&decoded) {
            let Ok(leaf) = Leaf::read(pem) else { continue };
            let names = leaf.common_name.iter().chain(&leaf.dns_names);
            for name in names {
                if let Some(wanted) = rename_name(name, &id.old_name, &id.new_name) {
                    return Err(unhandled(
                        format!("the certificate in data.{key}"),
                        name.clone(),
                        wanted,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The PEM certificate blocks of a text.
fn pem_certificates(text: &str) -> impl Iterator<Item = &str> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    text.match_indices(BEGIN).filter_map(move |(i, _)| {
        let end = text[i..].find(END)? + i + END.len();
        Some(&text[i..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            old_name: "default".into(),
            new_name: "west".into(),
            old_id: "0".into(),
            new_id: "1".into(),
            old_max: "255".into(),
            new_max: "511".into(),
        }
    }

    #[test]
    fn names_built_from_the_cluster_name_are_renamed() {
        let r = |n| rename_name(n, "default", "west");
        assert_eq!(r("remote-default").as_deref(), Some("remote-west"));
        assert_eq!(r("admin-default").as_deref(), Some("admin-west"));
        assert_eq!(
            r("*.default.hubble-grpc.cilium.io").as_deref(),
            Some("*.west.hubble-grpc.cilium.io")
        );
        assert_eq!(
            r("default.hubble-metrics.cilium.io").as_deref(),
            Some("west.hubble-metrics.cilium.io")
        );
        // Not derived: the namespace, Service names, other words.
        for n in [
            "default",
            "hubble-peer.default.svc",
            "x.default.svc.cluster.local",
            "default.conf",
            "enable-non-default-deny-policies",
            "defaultMode",
            "remote",
        ] {
            assert_eq!(r(n), None, "{n}");
        }
    }

    #[test]
    fn config_text_is_renamed_where_it_names_the_cluster_only() {
        let spire_server = "clusters = {\n  \"default\" = {\n    use_token_review_api_validation = true\n  }\n}\nnamespace = \"default\"\n";
        let out = rename_in_text(spire_server, &id());
        assert!(out.contains("\"west\" = {"), "{out}");
        assert!(out.contains("namespace = \"default\""), "{out}");
        let agent = "plugin_data {\n  cluster = \"default\"\n}\n";
        assert_eq!(
            rename_in_text(agent, &id()),
            "plugin_data {\n  cluster = \"west\"\n}\n"
        );
        let config = "cluster-name: default\ncluster-id: \"0\"\nmax-connected-clusters: \"255\"\nnamespace: default\nenable-policy: \"default\"\n";
        assert_eq!(
            rename_in_text(config, &id()),
            "cluster-name: west\ncluster-id: \"1\"\nmax-connected-clusters: \"511\"\nnamespace: default\nenable-policy: \"default\"\n"
        );
        let args = "- --cluster-name=default\n- --etcd-cluster-name=clustermesh-apiserver\n- --cluster-id=0\n";
        assert_eq!(
            rename_in_text(args, &id()),
            "- --cluster-name=west\n- --etcd-cluster-name=clustermesh-apiserver\n- --cluster-id=1\n"
        );
        let users = "users:\n- name: remote-default\n  role: remote\n";
        assert!(rename_in_text(users, &id()).contains("remote-west"));
    }

    #[test]
    fn check_refuses_what_is_left_and_passes_the_rest() {
        let cm = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"}});
        let clean = "kind: ConfigMap\nmetadata:\n  namespace: default\ndata:\n  a: \"defaultMode\"\n  cluster-name: west\n";
        assert!(check(&cm, clean, &id()).is_ok());
        let left = "data:\n  tls: \"*.default.hubble-grpc.cilium.io\"\n";
        let err = check(&cm, left, &id()).unwrap_err().to_string();
        assert!(err.contains("ConfigMap kube-system/x"), "{err}");
        assert!(err.contains("*.default.hubble-grpc.cilium.io"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        // Same identity: nothing to look for.
        let same = Identity {
            new_name: "default".into(),
            new_id: "0".into(),
            new_max: "255".into(),
            ..id()
        };
        assert!(check(&cm, left, &same).is_ok());
    }

    #[test]
    fn check_reads_secret_data_and_certificate_names() {
        let ca = super::super::certs::tests::test_ca("ca");
        let now = time::OffsetDateTime::now_utc();
        let mut shape = Leaf::read(&ca.cert_pem).unwrap();
        shape.common_name = Some("remote-default".into());
        shape.dns_names = vec![];
        let issued = super::super::certs::issue(&shape, &ca, now).unwrap();
        let secret = serde_json::json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "kube-system"},
            "data": {"tls.crt": B64.encode(&issued.cert_pem)}});
        let err = check(&secret, "kind: Secret\n", &id())
            .unwrap_err()
            .to_string();
        assert!(err.contains("remote-default"), "{err}");
        assert!(err.contains("data.tls.crt"), "{err}");
        let config = serde_json::json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "kube-system"},
            "data": {"users.yaml": B64.encode("users:\n- name: remote-default\n")}});
        assert!(check(&config, "kind: Secret\n", &id()).is_err());
    }
}
