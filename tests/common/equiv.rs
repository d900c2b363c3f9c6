//! Are two Kubernetes manifest streams the same for a cluster, as Helm would apply them? The
//! reference tests' check that `kubectl mesh render` gives what the chart gives with that
//! cluster's own values. It follows the rules of the project's reference checker
//! (`../shared/tools/mesh_equiv.py`; `tests/equiv_agreement.rs` runs both on the same pairs):
//!
//! - documents are parsed as Helm parses YAML (1.1 scalars: `on`/`no` booleans, `0755` octal)
//!   and keyed by kind/namespace/name; empty and comment-only documents are ignored; both
//!   streams must hold the same set of objects, and a stream holding one twice is an error;
//! - lists whose items all carry a `name` (containers, env, volumes, ports…) compare as sets;
//! - a string holding a JSON or YAML mapping or list compares parsed; the ip-masq-agent's
//!   `nonMasqueradeCIDRs` compare as a set;
//! - Secret `data` values compare base64-decoded (then parsed, as above);
//! - TLS material (Secret keys ending `.crt`, `.key`, `.pem`) is random per render, so it is
//!   compared by what it says: the same key names; each certificate (`*.crt` but `ca.crt`) with
//!   the expected one's subject CN, SANs (all types) and extended key usages, valid now, signed
//!   by the CA in the same stream's Secret `kube-system/cilium-ca`, and matching its private key;
//!   a `ca.crt` equal to that CA; the CA's own key matching it; with a mesh CA (`--ca`), the
//!   stream's `cilium-ca` holding exactly that certificate.
//!
//! Stricter than the Python checker in one place: a certificate or `ca.crt` in a stream without
//! a `cilium-ca` to check it against is a difference (Python skips that check).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine;
use serde_json::{Map, Value};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Differences shown per object before the rest is summed up.
const DIFF_LIMIT: usize = 12;
/// How much of a value a difference line shows.
const VALUE_LIMIT: usize = 200;

/// kind, namespace, name.
type Key = (String, String, String);

/// Secret keys (file names) holding TLS material.
const CRYPTO_SUFFIXES: [&str; 3] = [".crt", ".key", ".pem"];

/// `Ok` when `actual` is equivalent to `expected`; else every difference, one readable line
/// each (object, path, actual vs expected). `ca_pem`: the mesh CA the actual stream's
/// `cilium-ca` must hold (the expected stream's CA is random and not checked).
pub fn equivalent(expected: &str, actual: &str, ca_pem: Option<&str>) -> Result<(), Vec<String>> {
    let (exp, act) = match (load(expected, "expected"), load(actual, "actual")) {
        (Ok(e), Ok(a)) => (e, a),
        (e, a) => {
            return Err(e.err().into_iter().chain(a.err()).flatten().collect());
        }
    };
    let mut problems = Vec::new();
    for k in exp.keys().filter(|k| !act.contains_key(*k)) {
        problems.push(format!("missing object {}", show_key(k)));
    }
    for k in act.keys().filter(|k| !exp.contains_key(*k)) {
        problems.push(format!("unexpected object {}", show_key(k)));
    }

    let ca = stream_ca(&act, &mut problems);
    if let Some(want) = ca_pem {
        match pem_der(want.as_bytes()) {
            Err(e) => problems.push(format!("--ca: {e}")),
            Ok(want) if ca.as_deref() != Some(&want[..]) => problems.push(
                "Secret/kube-system/cilium-ca does not hold the mesh CA given with --ca".into(),
            ),
            Ok(_) => {}
        }
    }

    for (k, e) in &exp {
        let Some(a) = act.get(k) else { continue };
        let name = show_key(k);
        let (e, e_tls) = split_secret(e, &name, "expected", &mut problems);
        let (a, a_tls) = split_secret(a, &name, "actual", &mut problems);
        let (e, a) = (normalize(&e), normalize(&a));
        if e != a {
            let mut lines = Vec::new();
            diff(&e, &a, "", &mut lines);
            let more = lines.len().saturating_sub(DIFF_LIMIT);
            problems.extend(
                lines
                    .into_iter()
                    .take(DIFF_LIMIT)
                    .map(|l| format!("{name}: {l}")),
            );
            if more > 0 {
                problems.push(format!("{name}: … and {more} more difference(s)"));
            }
        }
        if !e_tls.is_empty() || !a_tls.is_empty() {
            check_tls(&name, &e_tls, &a_tls, ca.as_deref(), &mut problems);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Parses YAML as Helm does (YAML 1.1 scalars), configured like the binary's `src/yaml.rs`.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        strict_booleans: false,
        budget: None,
        with_snippet: false,
    }
}

fn show_key(k: &Key) -> String {
    format!("{}/{}/{}", k.0, k.1, k.2)
}

/// A value as a short JSON text, for a difference line.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > VALUE_LIMIT {
        let cut: String = s.chars().take(VALUE_LIMIT).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The stream's objects by kind/namespace/name.
fn load(text: &str, side: &str) -> Result<BTreeMap<Key, Value>, Vec<String>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|e| vec![format!("{side} stream: not YAML: {e}")])?;
    let mut objects = BTreeMap::new();
    let mut errors = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let Some(kind) = doc.get("kind") else {
            errors.push(format!(
                "{side} stream: a document is not a Kubernetes object: {}",
                show(&doc)
            ));
            continue;
        };
        let meta = doc.get("metadata");
        let key = (
            text_of(Some(kind)),
            text_of(meta.and_then(|m| m.get("namespace"))),
            text_of(meta.and_then(|m| m.get("name"))),
        );
        if objects.contains_key(&key) {
            errors.push(format!(
                "{side} stream: duplicate object {}",
                show_key(&key)
            ));
            continue;
        }
        objects.insert(key, doc);
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(errors)
    }
}

/// A canonical text for sorting set-like lists.
fn sort_key(v: &Value) -> String {
    v.to_string()
}

fn is_named_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|x| x.as_object().is_some_and(|o| o.contains_key("name")))
}

/// The value with embedded JSON/YAML parsed, named lists and `nonMasqueradeCIDRs` sorted.
/// (Mappings compare regardless of key order already.)
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> =
                m.iter().map(|(k, x)| (k.clone(), normalize(x))).collect();
            if let Some(Value::Array(cidrs)) = out.get_mut("nonMasqueradeCIDRs") {
                cidrs.sort_by_key(sort_key);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalize).collect();
            if is_named_list(&items) {
                items.sort_by_key(|x| sort_key(&x["name"]));
            }
            Value::Array(items)
        }
        Value::String(s) => match embedded(s) {
            Some(parsed) => normalize(&parsed),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// A string holding a JSON or YAML mapping or list, parsed (JSON first, as it is YAML too).
fn embedded(s: &str) -> Option<Value> {
    let t = s.trim();
    if t.is_empty() || (!t.starts_with(['{', '[']) && !t.contains(':')) {
        return None;
    }
    let parsed = match serde_json::from_str::<Value>(t) {
        Ok(v) => v,
        Err(_) => serde_saphyr::from_str_with_options::<Value>(t, yaml_options()).ok()?,
    };
    (parsed.is_object() || parsed.is_array()).then_some(parsed)
}

/// Difference lines between two normalized values: `path: actual, expected …`.
fn diff(e: &Value, a: &Value, path: &str, out: &mut Vec<String>) {
    match (e, a) {
        (Value::Object(em), Value::Object(am)) => {
            for (k, ev) in em {
                let p = format!("{path}/{k}");
                match am.get(k) {
                    None => out.push(format!("{p}: missing (expected {})", show(ev))),
                    Some(av) if av != ev => diff(ev, av, &p, out),
                    Some(_) => {}
                }
            }
            for (k, av) in am.iter().filter(|(k, _)| !em.contains_key(*k)) {
                out.push(format!("{path}/{k}: unexpected {}", show(av)));
            }
        }
        (Value::Array(el), Value::Array(al)) if is_named_list(el) && is_named_list(al) => {
            let by_name = |l: &[Value]| -> BTreeMap<String, Value> {
                l.iter()
                    .map(|x| (text_of(x.get("name")), x.clone()))
                    .collect()
            };
            let (en, an) = (by_name(el), by_name(al));
            if en.len() != el.len() || an.len() != al.len() {
                // The same name twice: no item to match by name, show the whole lists.
                out.push(format!("{path}: {}, expected {}", show(a), show(e)));
                return;
            }
            for (n, ev) in &en {
                let p = format!("{path}[name={n}]");
                match an.get(n) {
                    None => out.push(format!("{p}: missing (expected {})", show(ev))),
                    Some(av) if av != ev => diff(ev, av, &p, out),
                    Some(_) => {}
                }
            }
            for (n, av) in an.iter().filter(|(n, _)| !en.contains_key(*n)) {
                out.push(format!("{path}[name={n}]: unexpected {}", show(av)));
            }
        }
        (Value::Array(el), Value::Array(al)) if el.len() == al.len() => {
            for (i, (ev, av)) in el.iter().zip(al).enumerate() {
                if ev != av {
                    diff(ev, av, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {
            let p = if path.is_empty() { "/" } else { path };
            out.push(format!("{p}: {}, expected {}", show(a), show(e)));
        }
    }
}

/// TLS material by Secret key name.
type Tls = BTreeMap<String, Vec<u8>>;

/// A Secret without its TLS material (returned apart) and with its other `data` values
/// base64-decoded; other objects as they are.
fn split_secret(obj: &Value, name: &str, side: &str, problems: &mut Vec<String>) -> (Value, Tls) {
    let mut tls = Tls::new();
    if obj.get("kind").and_then(Value::as_str) != Some("Secret") {
        return (obj.clone(), tls);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut obj = obj.clone();
    for field in ["data", "stringData"] {
        let Some(Value::Object(data)) = obj.get_mut(field) else {
            continue;
        };
        let keys: Vec<String> = data
            .keys()
            .filter(|k| CRYPTO_SUFFIXES.iter().any(|s| k.ends_with(s)))
            .cloned()
            .collect();
        for k in keys {
            let raw = text_of(data.shift_remove(&k).as_ref());
            let bytes = if field == "data" {
                b64.decode(raw.as_bytes()).unwrap_or_else(|e| {
                    problems.push(format!("{name} {k}: the {side} value is not base64 ({e})"));
                    raw.into_bytes()
                })
            } else {
                raw.into_bytes()
            };
            tls.insert(k, bytes);
        }
    }
    if let Some(Value::Object(data)) = obj.get_mut("data") {
        for v in data.values_mut() {
            let decoded = v
                .as_str()
                .and_then(|s| b64.decode(s).ok())
                .and_then(|b| String::from_utf8(b).ok());
            if let Some(text) = decoded {
                *v = Value::String(text);
            }
        }
    }
    (obj, tls)
}

fn pem_der(pem: &[u8]) -> Result<Vec<u8>, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| format!("not a PEM certificate ({e})"))?;
    X509Certificate::from_der(&pem.contents)
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    Ok(pem.contents)
}

fn parse_cert(der: &[u8]) -> X509Certificate<'_> {
    // Only DER that `pem_der` accepted gets here.
    X509Certificate::from_der(der)
        .expect("checked by pem_der")
        .1
}

/// The CA in the stream's Secret `kube-system/cilium-ca` (DER), after checking its key.
fn stream_ca(objects: &BTreeMap<Key, Value>, problems: &mut Vec<String>) -> Option<Vec<u8>> {
    let key = (
        "Secret".to_string(),
        "kube-system".to_string(),
        "cilium-ca".to_string(),
    );
    let name = show_key(&key);
    let (_, tls) = split_secret(objects.get(&key)?, &name, "actual", problems);
    let crt = tls.get("ca.crt")?;
    let der = match pem_der(crt) {
        Ok(der) => der,
        Err(e) => {
            problems.push(format!("{name} ca.crt: {e}"));
            return None;
        }
    };
    if let Some(key_pem) = tls.get("ca.key") {
        match key_matches(&der, key_pem) {
            Ok(true) => {}
            Ok(false) => problems.push(format!("{name}: ca.key does not match ca.crt")),
            Err(e) => problems.push(format!("{name} ca.key: {e}")),
        }
    }
    Some(der)
}

/// Whether the private key (PEM: PKCS#8, PKCS#1 RSA or SEC1) is the certificate's.
fn key_matches(cert_der: &[u8], key_pem: &[u8]) -> Result<bool, String> {
    let text = std::str::from_utf8(key_pem).map_err(|_| "not a PEM private key".to_string())?;
    let key = rcgen::KeyPair::from_pem(text).map_err(|e| format!("not a private key ({e})"))?;
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
    Ok(parse_cert(cert_der).public_key().raw == spki.as_slice())
}

/// What a certificate says, as far as its users check it.
#[derive(Debug, PartialEq, Eq)]
struct Facts {
    common_names: Vec<String>,
    sans: BTreeSet<String>,
    extended_key_usages: BTreeSet<String>,
}

impl std::fmt::Display for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CN {:?}, SANs {:?}, extended key usages {:?}",
            self.common_names, self.sans, self.extended_key_usages
        )
    }
}

fn facts(cert: &X509Certificate<'_>) -> Facts {
    let common_names = cert
        .subject()
        .iter_common_name()
        .map(|cn| {
            cn.as_str()
                .map_or_else(|_| format!("{:?}", cn.as_slice()), str::to_string)
        })
        .collect();
    let mut sans = BTreeSet::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            sans.insert(match n {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => format!(
                        "IP:{}",
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap())
                    ),
                    16 => format!(
                        "IP:{}",
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap())
                    ),
                    _ => format!("IP:{b:02x?}"),
                },
                GeneralName::RFC822Name(m) => format!("email:{m}"),
                GeneralName::URI(u) => format!("URI:{u}"),
                GeneralName::DirectoryName(d) => format!("dirName:{d}"),
                GeneralName::RegisteredID(o) => format!("RID:{}", o.to_id_string()),
                other => format!("{other:?}"),
            });
        }
    }
    let mut extended_key_usages = BTreeSet::new();
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        for (on, oid) in [
            (e.any, "2.5.29.37.0"),
            (e.server_auth, "1.3.6.1.5.5.7.3.1"),
            (e.client_auth, "1.3.6.1.5.5.7.3.2"),
            (e.code_signing, "1.3.6.1.5.5.7.3.3"),
            (e.email_protection, "1.3.6.1.5.5.7.3.4"),
            (e.time_stamping, "1.3.6.1.5.5.7.3.8"),
            (e.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
        ] {
            if on {
                extended_key_usages.insert(oid.to_string());
            }
        }
        extended_key_usages.extend(e.other.iter().map(|o| o.to_id_string()));
    }
    Facts {
        common_names,
        sans,
        extended_key_usages,
    }
}

/// The TLS material of one object: same key names, and every certificate right by its facts.
fn check_tls(name: &str, exp: &Tls, act: &Tls, ca: Option<&[u8]>, problems: &mut Vec<String>) {
    if exp.keys().ne(act.keys()) {
        problems.push(format!(
            "{name}: TLS keys {:?}, expected {:?}",
            act.keys().collect::<Vec<_>>(),
            exp.keys().collect::<Vec<_>>()
        ));
        return;
    }
    for (k, a_pem) in act {
        if !k.ends_with(".crt") || k == "ca.crt" {
            continue;
        }
        let (e_der, a_der) = match (pem_der(&exp[k]), pem_der(a_pem)) {
            (Ok(e), Ok(a)) => (e, a),
            (e, a) => {
                if let Err(e) = e {
                    problems.push(format!("{name} {k}: expected value: {e}"));
                }
                if let Err(e) = a {
                    problems.push(format!("{name} {k}: {e}"));
                }
                continue;
            }
        };
        let cert = parse_cert(&a_der);
        let (want, got) = (facts(&parse_cert(&e_der)), facts(&cert));
        if want != got {
            problems.push(format!("{name} {k}: certificate {got}, expected {want}"));
        }
        if !cert.validity().is_valid() {
            let v = cert.validity();
            problems.push(format!(
                "{name} {k}: certificate not valid now (valid {} to {})",
                v.not_before, v.not_after
            ));
        }
        match ca {
            None => problems.push(format!(
                "{name} {k}: no Secret kube-system/cilium-ca in the stream to check its issuer"
            )),
            Some(ca) => {
                if cert
                    .verify_signature(Some(parse_cert(ca).public_key()))
                    .is_err()
                {
                    problems.push(format!(
                        "{name} {k}: not signed by the cilium-ca in the same stream"
                    ));
                }
            }
        }
        let key_name = format!("{}.key", k.trim_end_matches(".crt"));
        if let Some(key_pem) = act.get(&key_name) {
            match key_matches(&a_der, key_pem) {
                Ok(true) => {}
                Ok(false) => {
                    problems.push(format!("{name} {k}: private key {key_name} does not match"))
                }
                Err(e) => problems.push(format!("{name} {key_name}: {e}")),
            }
        }
    }
    if let Some(ca_crt) = act.get("ca.crt") {
        match (pem_der(ca_crt), ca) {
            (Err(e), _) => problems.push(format!("{name} ca.crt: {e}")),
            (Ok(_), None) => problems.push(format!(
                "{name} ca.crt: no Secret kube-system/cilium-ca in the stream to compare with"
            )),
            (Ok(der), Some(ca)) if der != ca => problems.push(format!(
                "{name}: ca.crt differs from the cilium-ca certificate"
            )),
            _ => {}
        }
    }
}

/// The report as one text, for assertion messages.
pub fn report(problems: &[String]) -> String {
    let mut s = String::new();
    for p in problems {
        let _ = writeln!(s, "  {p}");
    }
    let _ = write!(s, "{} difference(s)", problems.len());
    s
}
