//! Decoding of the Kubernetes protobuf envelope for the few kinds that
//! `kubectl create namespace|configmap|secret|serviceaccount` send as
//! protobuf (`application/vnd.kubernetes.protobuf`). Responses stay JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

/// One protobuf field value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(buf, &mut pos)?),
            1 => {
                pos += 8;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|e| e.to_string())?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or("truncated field")?;
                let b = &buf[pos..end];
                pos = end;
                Wire::Bytes(b)
            }
            5 => {
                pos += 4;
                Wire::Fixed
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        out.push((key >> 3, wire));
    }
    Ok(out)
}

fn string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `map<string, X>` entry as (key, raw value bytes).
fn map_entry(b: &[u8]) -> Result<(String, Vec<u8>), String> {
    let mut k = String::new();
    let mut v = Vec::new();
    for (f, w) in fields(b)? {
        match (f, w) {
            (1, Wire::Bytes(x)) => k = string(x),
            (2, Wire::Bytes(x)) => v = x.to_vec(),
            _ => {}
        }
    }
    Ok((k, v))
}

fn insert_nonempty(m: &mut Map<String, Value>, k: &str, v: String) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for (f, w) in fields(b)? {
        let Wire::Bytes(x) = w else { continue };
        match f {
            1 => insert_nonempty(&mut m, "name", string(x)),
            2 => insert_nonempty(&mut m, "generateName", string(x)),
            3 => insert_nonempty(&mut m, "namespace", string(x)),
            6 => insert_nonempty(&mut m, "resourceVersion", string(x)),
            11 => {
                let (k, v) = map_entry(x)?;
                labels.insert(k, json!(string(&v)));
            }
            12 => {
                let (k, v) = map_entry(x)?;
                annotations.insert(k, json!(string(&v)));
            }
            14 => finalizers.push(json!(string(x))),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(m))
}

/// Decodes a `k8s\0`-prefixed protobuf body into the JSON form of the object.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let raw_env = body
        .strip_prefix(b"k8s\0")
        .ok_or("missing protobuf envelope magic")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (f, w) in fields(raw_env)? {
        match (f, w) {
            (1, Wire::Bytes(tm)) => {
                for (tf, tw) in fields(tm)? {
                    match (tf, tw) {
                        (1, Wire::Bytes(x)) => api_version = string(x),
                        (2, Wire::Bytes(x)) => kind = string(x),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    let mut data = Map::new();
    let mut binary = Map::new();
    let mut string_data = Map::new();
    for (f, w) in fields(raw)? {
        match (kind.as_str(), f, w) {
            (_, 1, Wire::Bytes(x)) => {
                obj.insert("metadata".into(), object_meta(x)?);
            }
            ("ConfigMap", 2, Wire::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                data.insert(k, json!(string(&v)));
            }
            ("ConfigMap", 3, Wire::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                binary.insert(k, json!(B64.encode(v)));
            }
            ("ConfigMap", 4, Wire::Varint(v)) | ("Secret", 5, Wire::Varint(v)) => {
                obj.insert("immutable".into(), json!(v != 0));
            }
            ("Secret", 2, Wire::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                data.insert(k, json!(B64.encode(v)));
            }
            ("Secret", 3, Wire::Bytes(x)) => insert_nonempty(&mut obj, "type", string(x)),
            ("Secret", 4, Wire::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                string_data.insert(k, json!(string(&v)));
            }
            ("Namespace", 2, Wire::Bytes(x)) => {
                let finalizers: Vec<Value> = fields(x)?
                    .into_iter()
                    .filter_map(|(f, w)| match (f, w) {
                        (1, Wire::Bytes(s)) => Some(json!(string(s))),
                        _ => None,
                    })
                    .collect();
                if !finalizers.is_empty() {
                    obj.insert("spec".into(), json!({"finalizers": finalizers}));
                }
            }
            ("ServiceAccount", 3, Wire::Bytes(x)) => {
                let name = fields(x)?.into_iter().find_map(|(f, w)| match (f, w) {
                    (1, Wire::Bytes(s)) => Some(string(s)),
                    _ => None,
                });
                let list = obj.entry("imagePullSecrets").or_insert_with(|| json!([]));
                if let (Some(n), Some(a)) = (name, list.as_array_mut()) {
                    a.push(json!({"name": n}));
                }
            }
            ("ServiceAccount", 4, Wire::Varint(v)) => {
                obj.insert("automountServiceAccountToken".into(), json!(v != 0));
            }
            ("Namespace" | "ConfigMap" | "Secret" | "ServiceAccount", _, _) => {}
            (other, _, _) => {
                return Err(format!(
                    "protobuf bodies are only decoded for Namespace, ConfigMap, Secret and ServiceAccount, not {other}; send JSON"
                ));
            }
        }
    }
    for (k, m) in [
        ("data", data),
        ("binaryData", binary),
        ("stringData", string_data),
    ] {
        if !m.is_empty() {
            obj.insert(k.into(), Value::Object(m));
        }
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_kubectl_create_bodies() {
        // Captured from `kubectl create configmap cmx --from-literal=k1=v1 --from-literal=k2=v2`.
        let cm = decode(&unhex("6b3873000a0f0a0276311209436f6e6669674d617012290a130a03636d7812001a0022002a0032003800420012080a026b311202763112080a026b32120276321a002200")).unwrap();
        assert_eq!(
            cm,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cmx"}, "data": {"k1": "v1", "k2": "v2"}})
        );
        // `kubectl create secret generic sx --from-literal=s1=abc --type=mytype`.
        let s = decode(&unhex("6b3873000a0c0a027631120653656372657412270a120a02737812001a0022002a0032003800420012090a02733112036162631a066d79747970651a002200")).unwrap();
        assert_eq!(s["data"], json!({"s1": "YWJj"}));
        assert_eq!(s["type"], "mytype");
        // `kubectl create namespace foo`.
        let ns = decode(&unhex("6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a0032003800420012001a020a001a002200")).unwrap();
        assert_eq!(
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}})
        );
        assert!(decode(b"{}").is_err());
    }
}
