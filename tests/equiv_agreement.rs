//! The Rust equivalence check (`common::equiv`) and the project's Python checker
//! (`../shared/tools/mesh_equiv.py`) give the same verdict on the same pairs: chart vs render for
//! a sample of scenarios (equivalent), and renders with one thing changed (some must still be
//! equivalent, most must not).
//!
//! With `../shared` and a Python with pyyaml and cryptography, both checkers run and the Python
//! verdicts must also equal the ones recorded in `tests/data/agreement/<test>.txt`
//! (`KUBECTL_MESH_RECORD_AGREEMENT=1` rewrites them). Without them (a clone on its own), the Rust
//! checker is held to the recorded Python verdicts, and the test says so.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::equiv::equivalent;
use common::pki::{self, Ca};
use rcgen::ExtendedKeyUsagePurpose as Eku;
use serde_json::Value;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Runs `mesh_equiv.py EXPECTED ACTUAL [--ca CA]`: `Ok` when it says "equivalent", `Err` with
/// its report when it lists differences; anything else (a crash) fails the test.
fn python_verdict(
    py: &Path,
    script: &Path,
    dir: &Path,
    exp: &str,
    act: &str,
    ca: Option<&str>,
) -> Result<(), String> {
    let (e, a, c) = (
        dir.join("expected.yaml"),
        dir.join("actual.yaml"),
        dir.join("ca.crt"),
    );
    std::fs::write(&e, exp).unwrap();
    std::fs::write(&a, act).unwrap();
    let mut cmd = Command::new(py);
    cmd.arg(script).arg(&e).arg(&a);
    if let Some(ca) = ca {
        std::fs::write(&c, ca).unwrap();
        cmd.arg("--ca").arg(&c);
    }
    let out = cmd.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = stdout.lines().last().unwrap_or_default();
    match out.status.code() {
        Some(0) if last == "equivalent" => Ok(()),
        Some(1) if last.ends_with("difference(s)") => Err(stdout),
        _ => panic!(
            "mesh_equiv.py gave no verdict: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

struct Oracle {
    /// The Python checker, when `../shared` and the Python are here.
    live: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Recorded Python verdicts (`case` → equivalent?), and where they are kept.
    recorded: std::collections::BTreeMap<String, bool>,
    record_file: std::path::PathBuf,
    seen: std::collections::BTreeMap<String, bool>,
    tmp: tempfile::TempDir,
    disagreements: Vec<String>,
    pairs: usize,
}

const RECORD: &str = "KUBECTL_MESH_RECORD_AGREEMENT";

impl Oracle {
    fn new(test: &str) -> Oracle {
        let record_file = common::repo().join(format!("tests/data/agreement/{test}.txt"));
        let recorded = std::fs::read_to_string(&record_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.rsplit_once('\t'))
            .map(|(case, v)| (case.to_string(), v == "equivalent"))
            .collect();
        let live = match (common::shared(), common::python(false)) {
            (Some(shared), Some(py)) => Some((py, shared.join("tools/mesh_equiv.py"))),
            _ => {
                eprintln!(
                    "{test}: ../shared or the Python checker is not here: the Rust checker is held to the Python verdicts recorded in {}",
                    record_file.display()
                );
                None
            }
        };
        Oracle {
            live,
            recorded,
            record_file,
            seen: Default::default(),
            tmp: tempfile::tempdir().unwrap(),
            disagreements: Vec::new(),
            pairs: 0,
        }
    }

    /// The Python verdict: run, or as recorded.
    fn python(&self, case: &str, exp: &str, act: &str, ca: Option<&str>) -> Result<(), String> {
        match &self.live {
            Some((py, script)) => python_verdict(py, script, self.tmp.path(), exp, act, ca),
            None => match self.recorded.get(case) {
                Some(true) => Ok(()),
                Some(false) => Err("(recorded: different)".into()),
                None => panic!(
                    "no recorded Python verdict for {case:?} in {}: run this test once with ../shared beside the repository and {RECORD}=1",
                    self.record_file.display()
                ),
            },
        }
    }

    /// Both checkers on one pair; both must say `want_equal`.
    fn check(&mut self, case: &str, exp: &str, act: &str, ca: Option<&str>, want_equal: bool) {
        self.pairs += 1;
        let rust = equivalent(exp, act, ca);
        let python = self.python(case, exp, act, ca);
        self.seen.insert(case.to_string(), python.is_ok());
        let say = |ok: bool| if ok { "equivalent" } else { "different" };
        if rust.is_ok() != python.is_ok() || rust.is_ok() != want_equal {
            self.disagreements.push(format!(
                "{case}: must be {}; Rust says {}, Python says {}\n  Rust: {}\n  Python: {}",
                say(want_equal),
                say(rust.is_ok()),
                say(python.is_ok()),
                rust.err()
                    .map(|p| common::equiv::report(&p))
                    .unwrap_or_default(),
                python
                    .err()
                    .unwrap_or_default()
                    .trim_end()
                    .replace('\n', "\n    ")
            ));
        }
    }

    fn finish(mut self) {
        if self.live.is_some() {
            if std::env::var_os(RECORD).is_some() {
                let text: String = self
                    .seen
                    .iter()
                    .map(|(case, eq)| {
                        let v = if *eq { "equivalent" } else { "different" };
                        format!("{case}\t{v}\n")
                    })
                    .collect();
                std::fs::create_dir_all(self.record_file.parent().unwrap()).unwrap();
                std::fs::write(&self.record_file, text).unwrap();
            } else if self.seen != self.recorded {
                self.disagreements.push(format!(
                    "the Python verdicts differ from those recorded in {}: rerun with {RECORD}=1 and commit the file",
                    self.record_file.display()
                ));
            }
        }
        eprintln!(
            "{} pairs, {} disagreements",
            self.pairs,
            self.disagreements.len()
        );
        assert!(
            self.disagreements.is_empty(),
            "{}",
            self.disagreements.join("\n")
        );
    }
}

fn render(dir: &Path, cluster: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = common::kubectl_mesh(home.path())
        .args(["render", "--mesh"])
        .arg(dir.join("mesh.yaml"))
        .args(["--cluster", cluster])
        .pipe_stdin(dir.join("base.yaml"))
        .unwrap()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn agreement_on_chart_and_render_pairs_of_a_sample_of_scenarios() {
    let mut oracle = Oracle::new("chart_and_render_pairs");
    let mut dirs = Vec::new();
    for s in [
        "apiserver-nodeport-1.17.6",
        "connect-1.17.6",
        "hubble-clustermesh-1.17.6",
        "seed-1.17.6",
        "shared-ca-1.17.6",
    ] {
        dirs.push(common::data(&format!("fixtures/{s}")));
    }
    for s in [
        "connect-kvstoremesh-address-1.20.0",
        "three-511-1.19.6",
        "shared-ca-1.16.19",
        "cronjob-certgen-shared-ca-1.20.0",
        "tunnel-1.18.12",
        "user-nonmasq-1.17.6",
        "apiserver-nodeport-connect-1.16.19",
    ] {
        dirs.push(common::data(&format!("refcases/{s}")));
    }
    for dir in dirs {
        let ca = std::fs::read_to_string(dir.join("ca.crt")).ok();
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut expected: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("expected-"))
            .collect();
        expected.sort();
        assert!(
            !expected.is_empty(),
            "{scenario}: no expected-<cluster>.yaml"
        );
        for file in expected {
            let cluster = file
                .trim_start_matches("expected-")
                .trim_end_matches(".yaml");
            let exp = read(&dir.join(&file));
            let act = render(&dir, cluster);
            oracle.check(
                &format!("{scenario}/{cluster}"),
                &exp,
                &act,
                ca.as_deref(),
                true,
            );
        }
    }
    oracle.finish();
}

// Mutations of a render, one document at a time.

/// The stream's documents, each with the `---` line that opens it.
fn documents(stream: &str) -> Vec<String> {
    let mut docs: Vec<String> = vec![String::new()];
    for line in stream.split_inclusive('\n') {
        if line.trim_end() == "---" && !docs.last().unwrap().is_empty() {
            docs.push(String::new());
        }
        docs.last_mut().unwrap().push_str(line);
    }
    docs
}

fn parse(doc: &str) -> Value {
    serde_saphyr::from_multiple::<Value>(doc)
        .unwrap()
        .into_iter()
        .next()
        .unwrap_or(Value::Null)
}

fn is(v: &Value, kind: &str, name: &str) -> bool {
    v["kind"] == kind && v["metadata"]["name"] == name
}

/// The object `kind`/`name` of `stream`, changed by `f` and written back as JSON (which is YAML).
fn edit(stream: &str, kind: &str, name: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut f = Some(f);
    let out: String = documents(stream)
        .into_iter()
        .map(|d| {
            let mut v = parse(&d);
            if is(&v, kind, name) {
                (f.take().unwrap())(&mut v);
                format!("---\n{}\n", serde_json::to_string_pretty(&v).unwrap())
            } else {
                d
            }
        })
        .collect();
    assert!(f.is_none(), "no {kind} {name} in the stream");
    out
}

fn drop_object(stream: &str, kind: &str, name: &str) -> String {
    let docs = documents(stream);
    let n = docs.len();
    let out: String = docs
        .into_iter()
        .filter(|d| !is(&parse(d), kind, name))
        .collect();
    assert_eq!(documents(&out).len(), n - 1);
    out
}

fn secret_value(stream: &str, name: &str, key: &str) -> String {
    let doc = documents(stream)
        .into_iter()
        .map(|d| parse(&d))
        .find(|v| is(v, "Secret", name))
        .unwrap();
    let b = base64::engine::general_purpose::STANDARD
        .decode(doc["data"][key].as_str().unwrap())
        .unwrap();
    String::from_utf8(b).unwrap()
}

fn set_secret(stream: &str, name: &str, values: &[(&str, &str)]) -> String {
    edit(stream, "Secret", name, |v| {
        for (k, val) in values {
            v["data"][*k] = b64(val).into();
        }
    })
}

/// A certificate with `cert_pem`'s names and usages (its CN replaced by `cn` when given), signed
/// by `ca_cert`/`ca_key`.
fn reissue(cert_pem: &str, ca_cert: &str, ca_key: &str, cn: Option<&str>) -> pki::Pair {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let der = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .unwrap()
        .1
        .contents;
    let cert = X509Certificate::from_der(&der).unwrap().1;
    let mut params = rcgen::CertificateParams::default();
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn.unwrap_or(&subject_cn));
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => params
                    .subject_alt_names
                    .push(rcgen::SanType::DnsName((*d).try_into().unwrap())),
                GeneralName::IPAddress(b) if b.len() == 4 => params.subject_alt_names.push(
                    rcgen::SanType::IpAddress(<[u8; 4]>::try_from(*b).unwrap().into()),
                ),
                _ => {}
            }
        }
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        if eku.value.server_auth {
            params.extended_key_usages.push(Eku::ServerAuth);
        }
        if eku.value.client_auth {
            params.extended_key_usages.push(Eku::ClientAuth);
        }
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365);
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(ca_cert, rcgen::KeyPair::from_pem(ca_key).unwrap())
            .unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    pki::Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

#[test]
fn agreement_on_pairs_that_must_differ_and_edits_that_must_not_matter() {
    let mut o = Oracle::new("pairs_that_must_differ");
    let dir = common::data("fixtures/hubble-clustermesh-1.17.6");
    let exp = read(&dir.join("expected-west.yaml"));
    let act = render(&dir, "west");
    o.check(
        "hubble-clustermesh/west: the render",
        &exp,
        &act,
        None,
        true,
    );
    o.check(
        "hubble-clustermesh/west: the chart without the cluster's values",
        &exp,
        &read(&dir.join("base.yaml")),
        None,
        false,
    );

    // Values.
    let cidr = edit(&act, "ConfigMap", "cilium-config", |v| {
        v["data"]["ipv4-native-routing-cidr"] = "10.9.0.0/16".into()
    });
    o.check("a native-routing CIDR changed", &exp, &cidr, None, false);
    let masq = edit(&act, "ConfigMap", "ip-masq-agent", |v| {
        v["data"]["config"] = r#"{"nonMasqueradeCIDRs":["10.7.0.0/16"]}"#.into();
    });
    o.check(
        "ip-masq-agent's nonMasqueradeCIDRs changed",
        &exp,
        &masq,
        None,
        false,
    );
    let typed = edit(&act, "ConfigMap", "cilium-config", |v| {
        v["data"]["cluster-id"] = 1.into()
    });
    o.check("a string value made a number", &exp, &typed, None, false);
    o.check(
        "a document dropped",
        &exp,
        &drop_object(&act, "ConfigMap", "cilium-config"),
        None,
        false,
    );
    o.check(
        "an object added",
        &drop_object(&exp, "ConfigMap", "ip-masq-agent"),
        &act,
        None,
        false,
    );
    o.check(
        "an octal mode written in decimal",
        &exp,
        &act.replace("defaultMode: 0400", "defaultMode: 256"),
        None,
        true,
    );

    // Lists.
    let reordered = edit(&act, "DaemonSet", "cilium", |v| {
        let c = &mut v["spec"]["template"]["spec"]["containers"][0];
        c["env"].as_array_mut().unwrap().reverse();
        c["volumeMounts"].as_array_mut().unwrap().reverse();
        v["spec"]["template"]["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .reverse();
    });
    o.check("named lists reordered", &exp, &reordered, None, true);
    let args = edit(&act, "DaemonSet", "cilium", |v| {
        v["spec"]["template"]["spec"]["containers"][0]["args"] =
            serde_json::json!(["--config-dir=/tmp/cilium/config-map", "--debug"]);
    });
    o.check("an unnamed list changed", &exp, &args, None, false);
    let env = edit(&act, "DaemonSet", "cilium", |v| {
        v["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "x".into();
    });
    o.check(
        "an env value in a named list changed",
        &exp,
        &env,
        None,
        false,
    );

    // Certificates.
    let ca_crt = secret_value(&act, "cilium-ca", "ca.crt");
    let ca_key = secret_value(&act, "cilium-ca", "ca.key");
    let tls = secret_value(&act, "hubble-server-certs", "tls.crt");
    let same = reissue(&tls, &ca_crt, &ca_key, None);
    let renewed = set_secret(
        &act,
        "hubble-server-certs",
        &[("tls.crt", &same.cert), ("tls.key", &same.key)],
    );
    o.check(
        "a certificate re-issued the same by the stream's CA",
        &exp,
        &renewed,
        None,
        true,
    );
    let cn = reissue(&tls, &ca_crt, &ca_key, Some("*.east.hubble-grpc.cilium.io"));
    let other_cn = set_secret(
        &act,
        "hubble-server-certs",
        &[("tls.crt", &cn.cert), ("tls.key", &cn.key)],
    );
    o.check(
        "a certificate re-issued with another CN",
        &exp,
        &other_cn,
        None,
        false,
    );
    let foreign_ca = Ca::new("Cilium CA");
    let foreign = reissue(&tls, &foreign_ca.pair.cert, &foreign_ca.pair.key, None);
    let signed = set_secret(
        &act,
        "hubble-server-certs",
        &[("tls.crt", &foreign.cert), ("tls.key", &foreign.key)],
    );
    o.check(
        "a certificate signed by another CA",
        &exp,
        &signed,
        None,
        false,
    );
    let key = set_secret(&act, "hubble-server-certs", &[("tls.key", &same.key)]);
    o.check(
        "a private key of another certificate",
        &exp,
        &key,
        None,
        false,
    );
    let bundle = set_secret(
        &act,
        "hubble-server-certs",
        &[("ca.crt", &foreign_ca.pair.cert)],
    );
    o.check(
        "a ca.crt that is not the cilium-ca",
        &exp,
        &bundle,
        None,
        false,
    );
    let ca_pair = set_secret(&act, "cilium-ca", &[("ca.key", &foreign_ca.pair.key)]);
    o.check(
        "a cilium-ca whose key is not its certificate's",
        &exp,
        &ca_pair,
        None,
        false,
    );

    // A mesh CA (--ca).
    let dir = common::data("refcases/shared-ca-1.17.6");
    let (exp, act, ca) = (
        read(&dir.join("expected-east.yaml")),
        render(&dir, "east"),
        read(&dir.join("ca.crt")),
    );
    o.check(
        "shared-ca/east with its mesh CA",
        &exp,
        &act,
        Some(&ca),
        true,
    );
    o.check(
        "shared-ca/east with another CA as the mesh CA",
        &exp,
        &act,
        Some(&foreign_ca.pair.cert),
        false,
    );

    // Peers: Secret data compared decoded and parsed.
    let dir = common::data("refcases/three-511-1.17.6");
    let (exp, act) = (read(&dir.join("expected-west.yaml")), render(&dir, "west"));
    o.check("three-511/west", &exp, &act, None, true);
    let masq = edit(&act, "ConfigMap", "ip-masq-agent", |v| {
        let mut c: Value = serde_json::from_str(v["data"]["config"].as_str().unwrap()).unwrap();
        c["nonMasqueradeCIDRs"].as_array_mut().unwrap().reverse();
        v["data"]["config"] = c.to_string().into();
    });
    o.check("nonMasqueradeCIDRs reordered", &exp, &masq, None, true);
    let peers = secret_value(&act, "cilium-clustermesh", "north");
    let moved = set_secret(
        &act,
        "cilium-clustermesh",
        &[("north", &peers.replace("https://", "http://"))],
    );
    o.check("a peer's etcd endpoint changed", &exp, &moved, None, false);
    o.finish();
}
