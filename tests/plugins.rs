//! The two ways users reach `render`: `kubectl mesh …` through kubectl's plugin discovery, and
//! `helm … --post-renderer mesh` through the Helm 4 plugin in `plugins/` (driven by the real Helm
//! v4 engine, `tests/support/helm_install.py`, on the chart in `tests/data/charts`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PATH holding only `kubectl-mesh` (the built binary) and the system directories.
fn path_with_binary(dir: &Path) -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-mesh"));
    std::fs::copy(&bin, dir.join("kubectl-mesh")).unwrap();
    format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
}

#[test]
fn kubectl_discovers_the_plugin_and_runs_render() {
    let Some(kubectl) = common::require(&common::KUBECTL, which::which("kubectl").ok()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let path = path_with_binary(&bin_dir);
    let kubectl_cmd = |args: &[&str]| {
        let mut c = Command::new(&kubectl);
        c.env_clear()
            .env("PATH", &path)
            .env("HOME", tmp.path())
            .env("KUBECONFIG", tmp.path().join("none"))
            .args(args);
        c
    };
    let list = kubectl_cmd(&["plugin", "list"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("kubectl-mesh"),
        "{list:?}"
    );
    let examples = common::repo().join("examples");
    let out = kubectl_cmd(&["mesh", "render", "--cluster", "east", "--mesh"])
        .arg(examples.join("mesh.yaml"))
        .stdin(std::fs::File::open(examples.join("cilium.yaml")).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("cluster-name: east")
            && text.contains("nonMasqueradeCIDRs")
            && text.contains("10.0.0.0/16")
    );
}

/// Helm 4 installs through `--post-renderer mesh`; the result must be what the chart renders
/// with east's own values.
#[test]
fn helm4_post_renderer_plugin_matches_the_chart() {
    let Some(py) = common::require(&common::PYTHON, common::python(true)) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let path = path_with_binary(tmp.path());
    let chart = common::data("charts/cilium-1.17.6.tgz");
    let shared_values = "ipam: {mode: kubernetes}\nkubeProxyReplacement: true\nroutingMode: native\nautoDirectNodeRoutes: true\n\
        k8sServiceHost: 172.18.0.4\nk8sServicePort: 6443\nclustermesh:\n  useAPIServer: true\n  apiserver:\n    service: {type: NodePort}\n    kvstoremesh: {enabled: false}\n";
    let east_values = "cluster: {name: east, id: 2}\nipv4NativeRoutingCIDR: 10.1.0.0/16\nipMasqAgent:\n  enabled: true\n  config: {nonMasqueradeCIDRs: [10.0.0.0/16]}\n\
        clustermesh:\n  apiserver:\n    service: {nodePort: 32380}\n";
    std::fs::write(tmp.path().join("shared.yaml"), shared_values).unwrap();
    std::fs::write(tmp.path().join("east.yaml"), east_values).unwrap();
    let helm = |extra: &[&str]| {
        let out = Command::new(&py)
            .env("PATH", &path)
            .env("HOME", tmp.path())
            .env("HELM_PLUGINS", common::repo().join("plugins"))
            .arg(common::repo().join("tests/support/helm_install.py"))
            .arg(&chart)
            .args(["-f", "shared.yaml"])
            .args(extra)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let mesh_arg = format!(
        "--post-renderer-arg=--mesh={}",
        common::repo().join("examples/mesh.yaml").display()
    );
    let rendered = helm(&[
        "--post-renderer",
        "mesh",
        &mesh_arg,
        "--post-renderer-arg=--cluster=east",
    ]);
    let expected = helm(&["-f", "east.yaml"]);
    let expected = String::from_utf8(expected).unwrap();
    let rendered = String::from_utf8(rendered).unwrap();
    assert!(rendered.contains("cluster-name: east"), "{rendered}");
    let result = common::equiv::equivalent(&expected, &rendered, None);
    assert!(
        result.is_ok(),
        "{}",
        common::equiv::report(&result.unwrap_err())
    );
}
