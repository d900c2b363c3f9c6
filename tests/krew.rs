//! The release as `kubectl krew install --manifest=krew/mesh.yaml --archive=dist/….tar.gz` sees
//! it: `scripts/dist` packs the built binary, and the manifest it writes is checked with krew's
//! own rules, no network and no krew needed. The rules are krew's, read in
//! kubernetes-sigs/krew (commit db921d5b457a5c1f2b3cfe0ea4fab9964450bb51):
//! - `internal/index/validation/validate.go` (`ValidatePlugin`, `validatePlatform`,
//!   `validateFiles`, `validateSelector`), with `pkg/constants/constants.go` (apiVersion, kind)
//!   and `internal/installation/semver/version.go` (a leading `v`, then k8s.io/apimachinery's
//!   `ParseSemantic`);
//! - `cmd/validate-krew-manifest/main.go` (what krew-index runs on a manifest: the name is the
//!   file name, each selector matches a platform krew supports, no two overlap, a LICENSE is
//!   installed);
//! - `internal/installation/platform.go` (the platform whose selector matches `os`/`arch`);
//! - `internal/download/{downloader.go,verifier.go}` (sha256 of the archive, gzip sniffed by its
//!   magic, tar entries: `pax_global_header` skipped, `..` and absolute names refused, only
//!   directories and regular files);
//! - `internal/installation/{install.go,move.go}` (`files` defaults to `*` → `.`, `to` must be a
//!   clean path, a direct move or a one-level glob, both ends inside their directories; `bin`
//!   inside the install directory and present; the link is `kubectl-` + name with `-` → `_`).

mod common;

#[path = "krew/install.rs"]
mod install;
#[path = "krew/validate.rs"]
mod validate;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use install::{krew_install, read_tar_gz};
use validate::{
    API_VERSION, host, is_safe_plugin_name, matching_platform, selector_matches, validate_plugin,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- the release ---------------------------------------------------------------------------

/// A copy of what `scripts/dist` reads and writes, so a run never touches the checkout.
fn release_tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "scripts/dist",
        "Cargo.toml",
        "LICENSE",
        "README.md",
        "krew/mesh.yaml",
        "plugins/mesh/plugin.yaml",
    ] {
        let to = tmp.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(f), &to).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    tmp
}

/// Runs `scripts/dist ARGS` in `tree`, packing the binary cargo built for these tests.
fn dist(tree: &Path, epoch: &str, args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(tree.join("scripts/dist"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", epoch)
        .output()
        .expect("bash runs")
}

fn dist_bin(tree: &Path, epoch: &str) -> std::process::Output {
    dist(tree, epoch, &["--bin", env!("CARGO_BIN_EXE_kubectl-mesh")])
}

fn ok(out: std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "scripts/dist failed: {stderr}");
    stderr
}

fn archive_path(tree: &Path, version: &str) -> PathBuf {
    let (os, arch) = host();
    tree.join(format!("dist/kubectl-mesh_v{version}_{os}_{arch}.tar.gz"))
}

#[test]
fn the_release_archive_installs_as_krew_would() {
    let tree = release_tree();
    let version = common::cargo_version(tree.path());
    let log = ok(dist_bin(tree.path(), "1700000000"));
    let manifest_path = tree.path().join("krew/mesh.yaml");
    let manifest = read_yaml(&manifest_path);

    // The name is the file name (validate-krew-manifest).
    let file_name = manifest_path.file_stem().unwrap().to_str().unwrap();
    validate_plugin(file_name, &manifest).unwrap_or_else(|e| panic!("krew/mesh.yaml: {e}"));
    assert_eq!(manifest["spec"]["version"], format!("v{version}"));
    let plugin_yaml = read_yaml(&tree.path().join("plugins/mesh/plugin.yaml"));
    assert_eq!(
        plugin_yaml["version"],
        version.as_str(),
        "plugins/mesh/plugin.yaml"
    );

    // Only this machine's archive was built in this run: the manifest lists exactly it.
    let platforms = manifest["spec"]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 1, "{log}");
    let (os, arch) = host();
    let platform = matching_platform(&manifest, os, arch)
        .unwrap_or_else(|| panic!("no platform of krew/mesh.yaml matches {os}/{arch}"));
    let archive = archive_path(tree.path(), &version);
    let uri = platform["uri"].as_str().unwrap();
    assert!(
        uri.ends_with(&format!(
            "/v{version}/{}",
            archive.file_name().unwrap().to_str().unwrap()
        )),
        "{uri}"
    );
    let sidecar = std::fs::read_to_string(archive.with_extension("gz.sha256")).unwrap();
    assert!(
        sidecar.starts_with(platform["sha256"].as_str().unwrap()),
        "{sidecar}"
    );

    let root = tempfile::tempdir().unwrap();
    let link = krew_install(&manifest, platform, &archive, root.path())
        .unwrap_or_else(|e| panic!("install: {e}"));
    assert_eq!(link.file_name().unwrap(), "kubectl-mesh");
    let target = std::fs::canonicalize(&link).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0, "{target:?} is not executable ({mode:o})");
    assert_eq!(target.file_name().unwrap(), "kubectl-mesh");

    // Running what krew linked prints the manifest's version.
    let out = Command::new(&link).arg("version").output().unwrap();
    assert!(out.status.success());
    let first = String::from_utf8(out.stdout).unwrap();
    let first = first.lines().next().unwrap_or("");
    let expected = format!(
        "kubectl-mesh {} (commit ",
        manifest["spec"]["version"].as_str().unwrap()
    );
    assert!(
        first.starts_with(&expected),
        "{first:?} does not start with {expected:?}"
    );
}

#[test]
fn archives_are_reproducible_and_flat() {
    let tree = release_tree();
    let version = common::cargo_version(tree.path());
    ok(dist_bin(tree.path(), "1700000000"));
    let archive = archive_path(tree.path(), &version);
    let first = std::fs::read(&archive).unwrap();
    ok(dist_bin(tree.path(), "1700000000"));
    assert!(
        first == std::fs::read(&archive).unwrap(),
        "the same build packed twice differs"
    );

    let entries = read_tar_gz(&first).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["LICENSE", "README.md", "kubectl-mesh"]);
    for e in &entries {
        assert_eq!(
            (e.uid, e.gid, e.mtime, e.typeflag),
            (0, 0, 1700000000, b'0'),
            "{}",
            e.name
        );
        let mode = if e.name == "kubectl-mesh" {
            0o755
        } else {
            0o644
        };
        assert_eq!(e.mode & 0o7777, mode, "{}", e.name);
    }
    let binary = std::fs::read(env!("CARGO_BIN_EXE_kubectl-mesh")).unwrap();
    assert!(
        entries[2].data == binary,
        "the archive's kubectl-mesh is not the built binary"
    );
    assert!(entries[0].data == std::fs::read(repo().join("LICENSE")).unwrap());

    // The time comes from SOURCE_DATE_EPOCH: another one gives another archive.
    ok(dist_bin(tree.path(), "1700000001"));
    assert!(first != std::fs::read(&archive).unwrap());
}

#[test]
fn the_committed_manifest_is_valid_and_of_this_version() {
    let manifest = read_yaml(&repo().join("krew/mesh.yaml"));
    validate_plugin("mesh", &manifest)
        .unwrap_or_else(|e| panic!("krew/mesh.yaml: {e} (run scripts/dist)"));
    let version = common::cargo_version(&repo());
    assert_eq!(
        manifest["spec"]["version"],
        format!("v{version}"),
        "krew/mesh.yaml: run scripts/dist"
    );
    for p in manifest["spec"]["platforms"].as_array().unwrap() {
        let sha = p["sha256"].as_str().unwrap();
        assert!(
            sha.chars().any(|c| c != '0'),
            "a placeholder sha256 in krew/mesh.yaml: run scripts/dist"
        );
        assert!(
            p["uri"]
                .as_str()
                .unwrap()
                .contains(&format!("/v{version}/kubectl-mesh_v{version}_"))
        );
    }
    let plugin_yaml = read_yaml(&repo().join("plugins/mesh/plugin.yaml"));
    assert_eq!(
        plugin_yaml["version"],
        version.as_str(),
        "plugins/mesh/plugin.yaml: run scripts/dist"
    );
}

#[test]
fn dist_refuses_a_binary_of_another_version_and_a_wrong_tag() {
    let tree = release_tree();
    let before = std::fs::read_to_string(tree.path().join("krew/mesh.yaml")).unwrap();

    let out = dist(
        tree.path(),
        "1700000000",
        &[
            "--bin",
            env!("CARGO_BIN_EXE_kubectl-mesh"),
            "--tag",
            "v0.0.0-not-this",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not Cargo.toml's version"));

    let cargo = tree.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&cargo).unwrap();
    let version = common::cargo_version(tree.path());
    std::fs::write(
        &cargo,
        text.replacen(
            &format!("version = \"{version}\""),
            "version = \"9.8.7\"",
            1,
        ),
    )
    .unwrap();
    let out = dist_bin(tree.path(), "1700000000");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cargo.toml's version is 9.8.7"), "{stderr}");
    assert!(!tree.path().join("dist").exists(), "an archive was written");
    assert_eq!(
        std::fs::read_to_string(tree.path().join("krew/mesh.yaml")).unwrap(),
        before
    );

    // Nothing of this version in dist/: no manifest without a platform.
    let out = dist(tree.path(), "1700000000", &["--manifest-only"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no archive of v9.8.7 in dist/"));
    assert_eq!(
        std::fs::read_to_string(tree.path().join("krew/mesh.yaml")).unwrap(),
        before
    );
}

// ---- the checker itself refuses what krew refuses ------------------------------------------

/// A change to a manifest (or one platform of it) that krew must refuse.
type Edit = fn(&mut Value);

/// What a refused install is made of: its name, the archive's entries, the change to the
/// platform, whether the manifest gets the archive's real sha256, and what the error says.
type Refusal = (&'static str, Vec<Vec<u8>>, Edit, bool, &'static str);

fn e(edit: Edit) -> Edit {
    edit
}

fn good_manifest() -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Plugin",
        "metadata": {"name": "mesh"},
        "spec": {
            "version": "v0.1.0",
            "shortDescription": "One mesh file",
            "platforms": [{
                "selector": {"matchLabels": {"os": "linux", "arch": "amd64"}},
                "uri": "https://example.org/a.tar.gz",
                "sha256": "a".repeat(64),
                "bin": "kubectl-mesh",
                "files": [{"from": "kubectl-mesh", "to": "."}, {"from": "LICENSE", "to": "."}],
            }],
        },
    })
}

#[test]
fn the_validator_refuses_what_krew_refuses() {
    validate_plugin("mesh", &good_manifest()).unwrap();
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "apiVersion",
            e(|m| m["apiVersion"] = json!("krew.googlecontainertools.github.com/v1alpha1")),
            "apiVersion",
        ),
        ("kind", e(|m| m["kind"] = json!("Plugins")), "kind"),
        (
            "name vs file",
            e(|m| m["metadata"]["name"] = json!("meshy")),
            "should be named",
        ),
        (
            "no short description",
            e(|m| m["spec"]["shortDescription"] = json!("")),
            "short description",
        ),
        (
            "line break",
            e(|m| m["spec"]["shortDescription"] = json!("a\nb")),
            "line breaks",
        ),
        (
            "no platforms",
            e(|m| m["spec"]["platforms"] = json!([])),
            "platform specified",
        ),
        (
            "no version",
            e(|m| m["spec"]["version"] = json!(null)),
            "version specified",
        ),
        (
            "no v",
            e(|m| m["spec"]["version"] = json!("0.1.0")),
            "not starting with 'v'",
        ),
        (
            "two components",
            e(|m| m["spec"]["version"] = json!("v0.1")),
            "illegal version",
        ),
        (
            "leading zero",
            e(|m| m["spec"]["version"] = json!("v0.01.0")),
            "zero-prefixed",
        ),
        (
            "bad pre-release",
            e(|m| m["spec"]["version"] = json!("v0.1.0-")),
            "pre-release",
        ),
        (
            "no uri",
            e(|m| m["spec"]["platforms"][0]["uri"] = json!("")),
            "`uri`",
        ),
        (
            "no sha256",
            e(|m| m["spec"]["platforms"][0]["sha256"] = json!(null)),
            "`sha256` sum",
        ),
        (
            "short sha256",
            e(|m| m["spec"]["platforms"][0]["sha256"] = json!("abc")),
            "not valid",
        ),
        (
            "upper-case sha256",
            e(|m| m["spec"]["platforms"][0]["sha256"] = json!("A".repeat(64))),
            "not valid",
        ),
        (
            "no bin",
            e(|m| m["spec"]["platforms"][0]["bin"] = json!("")),
            "`bin`",
        ),
        (
            "empty files",
            e(|m| m["spec"]["platforms"][0]["files"] = json!([])),
            "unspecified or non-empty",
        ),
        (
            "no from",
            e(|m| m["spec"]["platforms"][0]["files"][0]["from"] = json!("")),
            "`from`",
        ),
        (
            "no to",
            e(|m| m["spec"]["platforms"][0]["files"][1]["to"] = json!(null)),
            "`to`",
        ),
        (
            "no selector",
            e(|m| m["spec"]["platforms"][0]["selector"] = json!(null)),
            "nil selector",
        ),
        (
            "empty selector",
            e(|m| m["spec"]["platforms"][0]["selector"] = json!({})),
            "empty selector",
        ),
        (
            "other key",
            e(
                |m| {
                    m["spec"]["platforms"][0]["selector"]["matchLabels"]["distro"] = json!("debian")
                },
            ),
            "not supported",
        ),
        (
            "empty matchLabels",
            e(
                |m| m["spec"]["platforms"][0]["selector"] = json!({"matchLabels": {}, "matchExpressions": [{"key": "os", "operator": "In", "values": ["linux"]}]}),
            ),
            "specified but empty",
        ),
        (
            "unknown platform",
            e(|m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["os"] = json!("plan9")),
            "doesn't match any supported",
        ),
        (
            "overlap",
            e(|m| {
                let mut other = m["spec"]["platforms"][0].clone();
                other["selector"] = json!({"matchExpressions": [{"key": "os", "operator": "In", "values": ["linux"]}]});
                m["spec"]["platforms"].as_array_mut().unwrap().push(other);
            }),
            "overlapping",
        ),
    ];
    for (what, mutate, expected) in cases {
        let mut m = good_manifest();
        mutate(&mut m);
        let name = m["metadata"]["name"].as_str().unwrap_or("").to_string();
        let file_name = if what == "name vs file" {
            "mesh"
        } else {
            name.as_str()
        };
        match validate_plugin(file_name, &m) {
            Ok(()) => panic!("{what}: accepted"),
            Err(e) => assert!(
                e.contains(expected),
                "{what}: {e:?} does not say {expected:?}"
            ),
        }
    }
    assert!(
        !is_safe_plugin_name("Con") && !is_safe_plugin_name("me sh") && !is_safe_plugin_name("a/b")
    );
    assert!(is_safe_plugin_name("mesh") && is_safe_plugin_name("my_mesh-2"));
}

/// A ustar header + data for a hand-made archive (what `scripts/dist` would never write).
fn tar_entry(name: &str, typeflag: u8, mode: u32, data: &[u8], link: &str) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let put = |h: &mut [u8; 512], at: usize, width: usize, v: u64| {
        let s = format!("{v:0w$o}\0", w = width - 1);
        h[at..at + width].copy_from_slice(s.as_bytes());
    };
    put(&mut h, 100, 8, u64::from(mode));
    put(&mut h, 108, 8, 0);
    put(&mut h, 116, 8, 0);
    put(&mut h, 124, 12, data.len() as u64);
    put(&mut h, 136, 12, 0);
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-nc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip (apt-get install gzip)");
    child.stdin.take().unwrap().write_all(tar).unwrap();
    child.wait_with_output().unwrap().stdout
}

fn install_case(
    entries: &[Vec<u8>],
    platform_edit: impl Fn(&mut Value),
    sha_of_archive: bool,
) -> Result<PathBuf, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut tar: Vec<u8> = entries.concat();
    tar.extend_from_slice(&[0u8; 1024]);
    let archive = dir.path().join("a.tar.gz");
    std::fs::write(&archive, gzip(&tar)).unwrap();
    let mut m = good_manifest();
    if sha_of_archive {
        m["spec"]["platforms"][0]["sha256"] = json!(hex::encode(Sha256::digest(
            std::fs::read(&archive).unwrap()
        )));
    }
    platform_edit(&mut m["spec"]["platforms"][0]);
    validate_plugin("mesh", &m)?;
    let root = dir.path().join("krew");
    krew_install(&m, &m["spec"]["platforms"][0].clone(), &archive, &root).map(|l| {
        // Keep the result checkable after `dir` is dropped: only the name matters.
        PathBuf::from(l.file_name().unwrap())
    })
}

#[test]
fn the_installer_refuses_what_krew_refuses() {
    let bin = || tar_entry("kubectl-mesh", b'0', 0o755, b"#!/bin/sh\n", "");
    let license = || tar_entry("LICENSE", b'0', 0o644, b"Apache-2.0\n", "");
    assert_eq!(
        install_case(&[bin(), license()], |_| {}, true).unwrap(),
        PathBuf::from("kubectl-mesh")
    );
    // files unset: everything (`*` → `.`).
    install_case(&[bin(), license()], |p| p["files"] = json!(null), true).unwrap();

    let refused: Vec<Refusal> = vec![
        (
            "placeholder sha256",
            vec![bin(), license()],
            e(|p| p["sha256"] = json!("0".repeat(64))),
            false,
            "checksum does not match",
        ),
        (
            "dot-dot entry",
            vec![
                bin(),
                license(),
                tar_entry("x/../../evil", b'0', 0o644, b"", ""),
            ],
            e(|_| {}),
            true,
            "suspicious",
        ),
        (
            "absolute entry",
            vec![
                bin(),
                license(),
                tar_entry("/etc/evil", b'0', 0o644, b"", ""),
            ],
            e(|_| {}),
            true,
            "absolute",
        ),
        (
            "symlink entry",
            vec![
                tar_entry("kubectl-mesh", b'2', 0o777, b"", "/bin/sh"),
                license(),
            ],
            e(|_| {}),
            true,
            "unable to handle file type",
        ),
        (
            "bin outside",
            vec![bin(), license()],
            e(|p| p["bin"] = json!("../../kubectl-mesh")),
            true,
            "does not extend",
        ),
        (
            "bin absent",
            vec![bin(), license()],
            e(|p| p["bin"] = json!("kubectl-other")),
            true,
            "cannot be found",
        ),
        (
            "to not clean",
            vec![bin(), license()],
            e(|p| p["files"][0]["to"] = json!("./")),
            true,
            "not clean",
        ),
        (
            "from absent",
            vec![bin(), license()],
            e(|p| p["files"][0]["from"] = json!("kubectl-*x")),
            true,
            "matched the glob",
        ),
        (
            "no LICENSE installed",
            vec![bin(), license()],
            e(|p| p["files"] = json!([{"from": "kubectl-mesh", "to": "."}])),
            true,
            "LICENSE",
        ),
    ];
    for (what, entries, edit, sha, expected) in refused {
        match install_case(&entries, edit, sha) {
            Ok(_) => panic!("{what}: installed"),
            Err(e) => assert!(
                e.contains(expected),
                "{what}: {e:?} does not say {expected:?}"
            ),
        }
    }
    let plain = tempfile::tempdir().unwrap();
    let not_gzip = plain.path().join("a.tar.gz");
    std::fs::write(&not_gzip, b"plain text, not an archive").unwrap();
    let mut m = good_manifest();
    m["spec"]["platforms"][0]["sha256"] = json!(hex::encode(Sha256::digest(
        std::fs::read(&not_gzip).unwrap()
    )));
    let err = krew_install(
        &m,
        &m["spec"]["platforms"][0].clone(),
        &not_gzip,
        &plain.path().join("krew"),
    )
    .unwrap_err();
    assert!(err.contains("not a supported archive format"), "{err}");
}

#[test]
fn selectors_match_as_label_selectors_do() {
    let sel = |v: Value| v;
    assert!(selector_matches(
        &sel(json!({"matchLabels": {"os": "linux", "arch": "amd64"}})),
        "linux",
        "amd64"
    ));
    assert!(!selector_matches(
        &sel(json!({"matchLabels": {"os": "linux", "arch": "amd64"}})),
        "linux",
        "arm64"
    ));
    let exprs = json!({"matchExpressions": [{"key": "os", "operator": "In", "values": ["linux", "darwin"]}, {"key": "arch", "operator": "NotIn", "values": ["386"]}]});
    assert!(selector_matches(&exprs, "darwin", "arm64"));
    assert!(!selector_matches(&exprs, "linux", "386"));
    assert!(!selector_matches(&exprs, "windows", "amd64"));
    assert!(selector_matches(
        &json!({"matchExpressions": [{"key": "os", "operator": "Exists"}]}),
        "linux",
        "amd64"
    ));
}
