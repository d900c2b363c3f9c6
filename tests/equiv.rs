//! The equivalence check the reference tests use (`common::equiv`): each rule on small
//! hand-made pairs that must be equal and must differ. (`equiv_agreement.rs` runs it against the
//! project's Python checker on real pairs.)

mod common;

use base64::Engine;
use common::equiv::equivalent;
use common::pki::{self, Ca, Leaf};
use rcgen::ExtendedKeyUsagePurpose as Eku;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[track_caller]
fn assert_equal(expected: &str, actual: &str) {
    if let Err(p) = equivalent(expected, actual, None) {
        panic!("must be equivalent:\n{}", common::equiv::report(&p));
    }
}

/// The differences, which must mention `needle`.
#[track_caller]
fn assert_differ(expected: &str, actual: &str, ca: Option<&str>, needle: &str) {
    match equivalent(expected, actual, ca) {
        Ok(()) => panic!("must differ ({needle}):\n--- expected\n{expected}\n--- actual\n{actual}"),
        Err(p) => assert!(
            p.iter().any(|l| l.contains(needle)),
            "the report must mention {needle:?}:\n{}",
            common::equiv::report(&p)
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Objects

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kube-system}\ndata: {x: \"1\"}\n";
const SA: &str =
    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: kube-system}\n";

#[test]
fn objects_are_matched_by_kind_namespace_and_name_in_any_order() {
    assert_equal(
        &format!("---\n{CM}---\n{SA}"),
        &format!("# Source: x\n---\n{SA}---\n# only a comment\n---\n{CM}---\n"),
    );
    assert_differ(
        &format!("{CM}---\n{SA}"),
        CM,
        None,
        "missing object ServiceAccount/kube-system/a",
    );
    assert_differ(
        CM,
        &format!("{CM}---\n{SA}"),
        None,
        "unexpected object ServiceAccount/kube-system/a",
    );
    let other_ns = CM.replace("namespace: kube-system", "namespace: default");
    assert_differ(
        CM,
        &other_ns,
        None,
        "missing object ConfigMap/kube-system/a",
    );
}

#[test]
fn a_stream_with_an_object_twice_or_a_non_object_is_an_error() {
    assert_differ(
        CM,
        &format!("{CM}---\n{CM}"),
        None,
        "actual stream: duplicate object ConfigMap/kube-system/a",
    );
    assert_differ(
        &format!("{CM}---\n- a list\n"),
        CM,
        None,
        "expected stream: a document is not a Kubernetes object",
    );
    assert_differ(CM, "kind: [unclosed\n", None, "actual stream: not YAML");
}

#[test]
fn yaml_1_1_scalars_are_read_as_helm_reads_them() {
    let doc = |v: &str| format!("kind: X\nmetadata: {{name: a}}\nspec: {v}\n");
    assert_equal(&doc("{a: true, m: 256}"), &doc("{a: on, m: 0400}"));
    assert_equal(&doc("{a: false}"), &doc("{a: no}"));
    assert_differ(
        &doc("{a: true}"),
        &doc("{a: \"on\"}"),
        None,
        "/spec/a: \"on\", expected true",
    );
    assert_differ(&doc("{m: 256}"), &doc("{m: \"0400\"}"), None, "/spec/m");
}

#[test]
fn values_differ_with_their_path() {
    let a = CM.replace("x: \"1\"", "x: \"1\", y: \"2\"");
    assert_differ(
        CM,
        &CM.replace("\"1\"", "\"2\""),
        None,
        "ConfigMap/kube-system/a: /data/x: \"2\", expected \"1\"",
    );
    assert_differ(&a, CM, None, "/data/y: missing (expected \"2\")");
    assert_differ(CM, &a, None, "/data/y: unexpected \"2\"");
}

// ---------------------------------------------------------------------------------------------
// Lists

fn pod(containers: &str, args: &str) -> String {
    format!(
        "kind: DaemonSet\nmetadata: {{name: cilium}}\nspec:\n  containers: {containers}\n  args: {args}\n"
    )
}

#[test]
fn lists_of_named_items_compare_as_sets_other_lists_in_order() {
    let c = "[{name: a, image: x}, {name: b, image: y}]";
    let c_reordered = "[{name: b, image: y}, {name: a, image: x}]";
    assert_equal(
        &pod(c, "[--one, --two]"),
        &pod(c_reordered, "[--one, --two]"),
    );
    assert_differ(
        &pod(c, "[--one, --two]"),
        &pod(c, "[--two, --one]"),
        None,
        "/spec/args[0]",
    );
    assert_differ(
        &pod(c, "[]"),
        &pod("[{name: b, image: y}, {name: a, image: z}]", "[]"),
        None,
        "/spec/containers[name=a]/image: \"z\", expected \"x\"",
    );
    assert_differ(
        &pod(c, "[]"),
        &pod("[{name: a, image: x}]", "[]"),
        None,
        "/spec/containers[name=b]: missing",
    );
}

// ---------------------------------------------------------------------------------------------
// Embedded documents

fn config(text: &str) -> String {
    format!(
        "kind: ConfigMap\nmetadata: {{name: ip-masq-agent}}\ndata:\n  config: {}\n",
        serde_json::to_string(text).unwrap()
    )
}

#[test]
fn embedded_json_and_yaml_compare_parsed_and_non_masquerade_cidrs_as_a_set() {
    let json = r#"{"nonMasqueradeCIDRs":["10.1.0.0/16","10.4.0.0/16"],"masqLinkLocal":false}"#;
    let yaml = "masqLinkLocal: false\nnonMasqueradeCIDRs:\n- 10.4.0.0/16\n- 10.1.0.0/16\n";
    assert_equal(&config(json), &config(yaml));
    assert_differ(
        &config(json),
        &config(&json.replace("10.4.0.0/16", "10.5.0.0/16")),
        None,
        "/data/config/nonMasqueradeCIDRs",
    );
    // Other lists inside keep their order; plain strings with a colon stay strings.
    assert_differ(
        &config("{\"a\": [1, 2]}"),
        &config("{\"a\": [2, 1]}"),
        None,
        "/data/config/a[0]",
    );
    assert_equal(
        &config("quay.io/cilium/cilium:v1.17.6"),
        &config("quay.io/cilium/cilium:v1.17.6"),
    );
    assert_differ(
        &config("image: a:1"),
        &config("image: a:2"),
        None,
        "/data/config/image",
    );
}

fn secret(data: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: kube-system}\ndata:\n",
    );
    for (k, v) in data {
        s.push_str(&format!("  {k}: {}\n", b64(v)));
    }
    s
}

#[test]
fn secret_data_compares_decoded_and_parsed() {
    let a = "endpoints:\n- https://east.mesh.cilium.io:2379\ntrusted-ca-file: /var/lib/x/ca.crt\n";
    let b = "{\"trusted-ca-file\": \"/var/lib/x/ca.crt\", \"endpoints\": [\"https://east.mesh.cilium.io:2379\"]}";
    assert_equal(&secret(&[("east", a)]), &secret(&[("east", b)]));
    assert_differ(
        &secret(&[("east", a)]),
        &secret(&[("east", &a.replace("2379", "32380"))]),
        None,
        "Secret/kube-system/s: /data/east/endpoints[0]",
    );
    assert_differ(
        &secret(&[("token", "x")]),
        &secret(&[("token", "y")]),
        None,
        "/data/token: \"y\", expected \"x\"",
    );
}

// ---------------------------------------------------------------------------------------------
// TLS material

const HUBBLE: Leaf = Leaf {
    cn: "*.west.hubble-grpc.cilium.io",
    dns: &["*.west.hubble-grpc.cilium.io"],
    ips: &[],
    usages: &[Eku::ServerAuth, Eku::ClientAuth],
};

/// A stream with `cilium-ca` (`ca`, its key `ca_key`) and a TLS Secret holding `ca.crt`,
/// `tls.crt`, `tls.key`.
fn tls_stream(ca: &pki::Pair, ca_key: &str, server_ca: &str, leaf: &pki::Pair) -> String {
    let enc = |s: &str| b64(s);
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: cilium-ca, namespace: kube-system}}\ndata:\n  ca.crt: {}\n  ca.key: {}\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata: {{name: hubble-server-certs, namespace: kube-system}}\ntype: kubernetes.io/tls\n\
         data:\n  ca.crt: {}\n  tls.crt: {}\n  tls.key: {}\n",
        enc(&ca.cert),
        enc(ca_key),
        enc(server_ca),
        enc(&leaf.cert),
        enc(&leaf.key)
    )
}

fn ok_stream(ca: &Ca, leaf: &Leaf) -> String {
    tls_stream(&ca.pair, &ca.pair.key, &ca.pair.cert, &ca.issue_valid(leaf))
}

const NAME: &str = "Secret/kube-system/hubble-server-certs tls.crt";

#[test]
fn certificates_compare_by_names_and_usages_not_bytes() {
    let (chart, ours) = (Ca::new("Cilium CA"), Ca::new("Cilium CA"));
    let expected = ok_stream(&chart, &HUBBLE);
    assert_equal(&expected, &ok_stream(&ours, &HUBBLE));
    for (leaf, what) in [
        (
            Leaf {
                cn: "*.east.hubble-grpc.cilium.io",
                ..HUBBLE
            },
            "*.east.hubble-grpc.cilium.io",
        ),
        (
            Leaf {
                dns: &["*.west.hubble-grpc.cilium.io", "extra.example"],
                ..HUBBLE
            },
            "DNS:extra.example",
        ),
        (
            Leaf {
                ips: &["10.0.0.1"],
                ..HUBBLE
            },
            "IP:10.0.0.1",
        ),
        (
            Leaf {
                usages: &[Eku::ServerAuth],
                ..HUBBLE
            },
            "extended key usages",
        ),
    ] {
        assert_differ(&expected, &ok_stream(&ours, &leaf), None, what);
    }
}

#[test]
fn certificates_must_be_valid_now_signed_by_the_stream_ca_and_match_their_key() {
    let (chart, ours, other) = (
        Ca::new("Cilium CA"),
        Ca::new("Cilium CA"),
        Ca::new("Cilium CA"),
    );
    let expected = ok_stream(&chart, &HUBBLE);
    let p = &ours.pair;
    // Signed by another CA than the stream's cilium-ca.
    let foreign = other.issue_valid(&HUBBLE);
    assert_differ(
        &expected,
        &tls_stream(p, &p.key, &p.cert, &foreign),
        None,
        &format!("{NAME}: not signed by the cilium-ca"),
    );
    // Expired, and not yet valid.
    use time::Duration;
    let expired = ours.issue(&HUBBLE, Duration::days(-30), Duration::days(-1));
    assert_differ(
        &expected,
        &tls_stream(p, &p.key, &p.cert, &expired),
        None,
        "not valid now",
    );
    let future = ours.issue(&HUBBLE, Duration::days(1), Duration::days(30));
    assert_differ(
        &expected,
        &tls_stream(p, &p.key, &p.cert, &future),
        None,
        "not valid now",
    );
    // A private key of another certificate.
    let mut mismatched = ours.issue_valid(&HUBBLE);
    mismatched.key = ours.issue_valid(&HUBBLE).key;
    assert_differ(
        &expected,
        &tls_stream(p, &p.key, &p.cert, &mismatched),
        None,
        "private key tls.key does not match",
    );
    // A ca.crt that is not the cilium-ca.
    let leaf = ours.issue_valid(&HUBBLE);
    assert_differ(
        &expected,
        &tls_stream(p, &p.key, &other.pair.cert, &leaf),
        None,
        "ca.crt differs from the cilium-ca",
    );
    // The cilium-ca's key is not its certificate's.
    assert_differ(
        &expected,
        &tls_stream(p, &other.pair.key, &p.cert, &leaf),
        None,
        "cilium-ca: ca.key does not match ca.crt",
    );
    // No cilium-ca to check the issuer against.
    let alone = ok_stream(&ours, &HUBBLE);
    let alone = alone.split("---\n").nth(1).unwrap();
    let exp_alone = expected.split("---\n").nth(1).unwrap();
    assert_differ(
        exp_alone,
        alone,
        None,
        "no Secret kube-system/cilium-ca in the stream",
    );
}

#[test]
fn tls_key_names_must_be_the_same() {
    let (chart, ours) = (Ca::new("Cilium CA"), Ca::new("Cilium CA"));
    let expected = ok_stream(&chart, &HUBBLE);
    let actual = ok_stream(&ours, &HUBBLE);
    let cut: String = actual
        .lines()
        .filter(|l| !l.trim_start().starts_with("tls.key:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_differ(
        &expected,
        &cut,
        None,
        "TLS keys [\"ca.crt\", \"tls.crt\"], expected [\"ca.crt\", \"tls.crt\", \"tls.key\"]",
    );
}

#[test]
fn with_a_mesh_ca_the_stream_must_carry_exactly_that_ca() {
    let (chart, ours, other) = (
        Ca::new("Cilium CA"),
        Ca::new("Cilium CA"),
        Ca::new("Cilium CA"),
    );
    let expected = ok_stream(&chart, &HUBBLE);
    let actual = ok_stream(&ours, &HUBBLE);
    assert!(equivalent(&expected, &actual, Some(&ours.pair.cert)).is_ok());
    assert_differ(
        &expected,
        &actual,
        Some(&other.pair.cert),
        "does not hold the mesh CA given with --ca",
    );
    // The expected stream's CA is not the mesh CA (the chart's is random): only the actual counts.
    assert!(equivalent(&expected, &actual, Some(&chart.pair.cert)).is_err());
    assert_differ(
        &expected,
        &actual,
        Some("not a certificate"),
        "--ca: not a PEM certificate",
    );
}
