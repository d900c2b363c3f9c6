//! `kubectl mesh values` against the real Cilium chart: for every scenario the repository
//! carries (the shared fixtures in `tests/data/fixtures`, the reference cases in
//! `tests/data/refcases`), the chart rendered with the scenario's shared `values.yaml` and then
//! the command's output for a cluster (Helm's `-f values.yaml -f mesh-values.yaml`) must be
//! equivalent to `expected-<cluster>.yaml` (`common::equiv`), exactly as `render`'s output must.
//! The renders run in one Python process per core (`tests/support/helm_batch.py`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenarios(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("mesh.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no scenario in {}", root.display());
    dirs
}

fn clusters(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some(
                name.strip_prefix("expected-")?
                    .strip_suffix(".yaml")?
                    .to_string(),
            )
        })
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "{}: no expected-<cluster>.yaml",
        dir.display()
    );
    names
}

/// The chart a scenario was rendered from: its name ends in the chart version.
fn chart_of(dir: &Path) -> PathBuf {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let version = name.rsplit('-').next().unwrap();
    let chart = common::data("charts").join(format!("cilium-{version}.tgz"));
    assert!(chart.is_file(), "{name}: no chart {}", chart.display());
    chart
}

struct Job {
    name: String,
    dir: PathBuf,
    cluster: String,
    chart: PathBuf,
    values: PathBuf,
    out: PathBuf,
}

/// Runs `values` for every cluster of every scenario under the roots; the Helm renders are
/// left to [`render_all`].
fn values_jobs(roots: &[PathBuf], tmp: &Path) -> (Vec<Job>, Vec<String>) {
    let mut jobs = Vec::new();
    let mut failures = Vec::new();
    for root in roots {
        for dir in scenarios(root) {
            let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
            let chart = chart_of(&dir);
            for cluster in clusters(&dir) {
                let name = format!("{scenario}/{cluster}");
                let mut cmd = common::kubectl_mesh(tmp);
                cmd.args(["values", "--mesh"])
                    .arg(dir.join("mesh.yaml"))
                    .args(["--cluster", &cluster, "-f"])
                    .arg(dir.join("values.yaml"));
                if dir.join("ca.crt").exists() || dir.join(format!("ca-{cluster}.key")).exists() {
                    cmd.arg("--show-secrets");
                }
                let out = cmd.output().unwrap();
                if !out.status.success() {
                    failures.push(format!(
                        "{name}: values failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                    continue;
                }
                let values = tmp.join(format!("{scenario}-{cluster}.values.yaml"));
                std::fs::write(&values, &out.stdout).unwrap();
                jobs.push(Job {
                    out: tmp.join(format!("{scenario}-{cluster}.rendered.yaml")),
                    name,
                    dir: dir.clone(),
                    cluster,
                    chart: chart.clone(),
                    values,
                });
            }
        }
    }
    (jobs, failures)
}

/// Renders every job with the real chart, two Python processes at a time.
fn render_all(py: &Path, jobs: &[Job], tmp: &Path) {
    let script = common::repo().join("tests/support/helm_batch.py");
    let halves: Vec<&[Job]> = jobs.chunks(jobs.len().div_ceil(2).max(1)).collect();
    let children: Vec<_> = halves
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let list: Vec<serde_json::Value> = part
                .iter()
                .map(|j| {
                    serde_json::json!({
                        "chart": j.chart,
                        "values": [j.dir.join("values.yaml"), j.values.clone()],
                        "out": j.out,
                    })
                })
                .collect();
            let input = tmp.join(format!("jobs-{i}.json"));
            std::fs::write(&input, serde_json::to_string(&list).unwrap()).unwrap();
            Command::new(py)
                .arg(&script)
                .stdin(std::fs::File::open(&input).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{} failed: {status}", script.display());
    }
}

fn check(roots: &[PathBuf], what: &str) {
    let Some(py) = common::require(&common::PYTHON, common::python(true)) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (jobs, mut failures) = values_jobs(roots, tmp.path());
    render_all(&py, &jobs, tmp.path());
    for job in &jobs {
        let Ok(actual) = std::fs::read_to_string(&job.out) else {
            let err = std::fs::read_to_string(job.out.with_extension("yaml.err"))
                .unwrap_or_else(|_| "no output".into());
            failures.push(format!("{}: the chart refused the values: {err}", job.name));
            continue;
        };
        let expected =
            std::fs::read_to_string(job.dir.join(format!("expected-{}.yaml", job.cluster)))
                .unwrap();
        let ca = std::fs::read_to_string(job.dir.join(format!("ca-{}.crt", job.cluster)))
            .or_else(|_| std::fs::read_to_string(job.dir.join("ca.crt")))
            .ok();
        if let Err(problems) = common::equiv::equivalent(&expected, &actual, ca.as_deref()) {
            failures.push(format!(
                "{}:\n{}",
                job.name,
                common::equiv::report(&problems)
            ));
        }
    }
    let checked = jobs.len()
        + failures
            .iter()
            .filter(|f| f.contains("values failed"))
            .count();
    eprintln!(
        "{what}: {checked} clusters' values rendered by the chart and checked in {:.1?}, {} not equivalent",
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} are not equivalent to the chart:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_shared_fixture_renders_equivalent_with_the_values() {
    check(&[common::data("fixtures")], "shared fixture");
}

#[test]
fn every_reference_case_renders_equivalent_with_the_values() {
    check(&[common::data("refcases")], "reference case");
}

/// A scenario copied into a temporary folder, so that tests can change its files.
fn scenario_copy(name: &str, tmp: &Path) -> PathBuf {
    let src = common::data("refcases").join(name);
    let dst = tmp.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in ["mesh.yaml", "values.yaml", "ca.crt", "ca.key"] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), dst.join(f)).unwrap();
        }
    }
    dst
}

fn run(tmp: &Path, args: &[&str]) -> std::process::Output {
    common::kubectl_mesh(tmp).args(args).output().unwrap()
}

#[test]
fn the_ca_key_is_printed_only_with_show_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scenario_copy("shared-ca-1.17.6", tmp.path());
    let mesh = dir.join("mesh.yaml");
    let mesh = mesh.to_str().unwrap();
    let out = run(tmp.path(), &["values", "--mesh", mesh, "--cluster", "west"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing printed on refusal");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--show-secrets") && err.contains("has a CA"),
        "{err}"
    );
    let out = run(
        tmp.path(),
        &[
            "values",
            "--mesh",
            mesh,
            "--cluster",
            "west",
            "--show-secrets",
            "-o",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(v["tls"]["ca"]["key"].as_str().unwrap()).unwrap();
    assert_eq!(key, std::fs::read(dir.join("ca.key")).unwrap());
    let cert = b64
        .decode(v["tls"]["ca"]["cert"].as_str().unwrap())
        .unwrap();
    assert_eq!(cert, std::fs::read(dir.join("ca.crt")).unwrap());
}

#[test]
fn values_files_that_conflict_with_the_mesh_file_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scenario_copy("connect-1.17.6", tmp.path());
    let mesh = dir.join("mesh.yaml");
    let shared = dir.join("values.yaml");
    for (text, want) in [
        ("cluster:\n  name: north\n", "cluster.name is \"north\""),
        ("cluster:\n  id: 7\n", "cluster.id is 7"),
        (
            "ipv4NativeRoutingCIDR: 10.9.0.0/16\n",
            "ipv4NativeRoutingCIDR",
        ),
        (
            "clustermesh:\n  config:\n    clusters:\n    - {name: east, address: x.example.org, port: 2379}\n",
            "clustermesh.config.clusters",
        ),
        ("routingMode: tunnel\n", "routingMode"),
    ] {
        let extra = tmp.path().join("extra.yaml");
        std::fs::write(&extra, text).unwrap();
        let out = common::kubectl_mesh(tmp.path())
            .args(["values", "--cluster", "west", "--mesh"])
            .arg(&mesh)
            .arg("-f")
            .arg(&shared)
            .arg("-f")
            .arg(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(out.stdout.is_empty(), "{text}: nothing printed");
        assert!(
            err.contains(&extra.display().to_string()) && err.contains(want),
            "{text}: {err}"
        );
    }
    // A values file that is not YAML, or missing, is named.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "a: [\n").unwrap();
    for f in [bad, tmp.path().join("missing.yaml")] {
        let out = common::kubectl_mesh(tmp.path())
            .args(["values", "--cluster", "west", "--mesh"])
            .arg(&mesh)
            .arg("-f")
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&f.display().to_string()), "{err}");
    }
}

#[test]
fn the_users_list_entries_come_first_and_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scenario_copy("user-nonmasq-1.18.12", tmp.path());
    let out = common::kubectl_mesh(tmp.path())
        .args(["values", "--cluster", "west", "-o", "json", "--mesh"])
        .arg(dir.join("mesh.yaml"))
        .arg("-f")
        .arg(dir.join("values.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["ipMasqAgent"]["config"]["nonMasqueradeCIDRs"],
        serde_json::json!(["192.168.0.0/16", "10.1.0.0/16"])
    );
    // Without the values file the mesh's entries alone, and a note saying what was not checked.
    let out = common::kubectl_mesh(tmp.path())
        .args(["values", "--cluster", "west", "--mesh"])
        .arg(dir.join("mesh.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no values files given"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# kubectl mesh values --cluster west"),
        "{text}"
    );
    assert!(!text.contains("192.168.0.0/16"), "{text}");
}

/// `--ca-in-cluster`: with certgen (`tls.auto.method=cronJob`) the CA stays in each cluster's
/// Secret `cilium-ca` (certgen reuses it): the values carry only the certificate, and the chart
/// renders what it renders with the CA in the values, less that Secret. With Helm issuing the
/// certificates (the default) the chart would make a CA of its own: refused.
#[test]
fn the_ca_can_stay_in_the_cluster_with_certgen() {
    let Some(py) = common::require(&common::PYTHON, common::python(true)) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    for scenario in [
        "cronjob-certgen-shared-ca-1.17.6",
        "cronjob-certgen-shared-ca-1.20.0",
    ] {
        let dir = common::data("refcases").join(scenario);
        for cluster in clusters(&dir) {
            let out = common::kubectl_mesh(tmp.path())
                .args(["values", "--ca-in-cluster", "--cluster", &cluster, "--mesh"])
                .arg(dir.join("mesh.yaml"))
                .arg("-f")
                .arg(dir.join("values.yaml"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(text.contains("cert: ") && !text.contains("key:"), "{text}");
            let values = tmp.path().join(format!("{scenario}-{cluster}.values.yaml"));
            std::fs::write(&values, &text).unwrap();
            jobs.push(Job {
                name: format!("{scenario}/{cluster}"),
                out: tmp
                    .path()
                    .join(format!("{scenario}-{cluster}.rendered.yaml")),
                chart: chart_of(&dir),
                dir: dir.clone(),
                cluster,
                values,
            });
        }
    }
    render_all(&py, &jobs, tmp.path());
    for job in &jobs {
        let actual = std::fs::read_to_string(&job.out).unwrap();
        let expected =
            std::fs::read_to_string(job.dir.join(format!("expected-{}.yaml", job.cluster)))
                .unwrap();
        // The expected stream, rendered with the key in the values, has the chart's cilium-ca.
        let docs: Vec<&str> = expected.split("\n---").collect();
        let kept: Vec<&str> = docs
            .iter()
            .copied()
            .filter(|d| !(d.contains("\nkind: Secret") && d.contains("\n  name: cilium-ca\n")))
            .collect();
        assert_eq!(
            kept.len() + 1,
            docs.len(),
            "{}: one cilium-ca in the expected stream",
            job.name
        );
        assert!(
            !actual.contains("name: cilium-ca\n  namespace"),
            "{}: the chart made a cilium-ca",
            job.name
        );
        if let Err(problems) = common::equiv::equivalent(&kept.join("\n---"), &actual, None) {
            panic!("{}:\n{}", job.name, common::equiv::report(&problems));
        }
    }
    // Helm-issued certificates (the default method) would come with the chart's own CA.
    let dir = common::data("refcases").join("shared-ca-1.17.6");
    let out = common::kubectl_mesh(tmp.path())
        .args(["values", "--ca-in-cluster", "--cluster", "west", "--mesh"])
        .arg(dir.join("mesh.yaml"))
        .arg("-f")
        .arg(dir.join("values.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("hubble.tls.auto.method") && err.contains("cronJob"),
        "{err}"
    );
}
