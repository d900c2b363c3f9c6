//! `kubectl mesh upgrade` driving Helm: (a) a recording `helm` stand-in on PATH that checks its
//! arguments and runs the post-renderer on a chart stream the way Helm does (Helm 3: the
//! executable with Helm's own environment and the arguments, helm/helm v3
//! `pkg/postrender/exec.go`; Helm 4: the `postrenderer/v1` plugin found in $HELM_PLUGINS, run
//! with HELM_PLUGIN_DIR/HELM_PLUGIN_NAME added, `internal/plugin/runtime_subprocess.go`
//! `runPostrenderer`), stdin to stdout; (b) the real Helm v4 engine
//! (`tests/support/helm_install.py`, helm-python-sdk) behind the same stand-in, so each
//! cluster's release is checked against the chart rendered with that cluster's own values.

mod common;

use std::path::Path;

use predicates::prelude::*;

/// The stand-in. Its environment (set by the test, inherited through kubectl-mesh):
/// STANDIN_VERSION (`helm version --short`), STANDIN_LOG (each call's arguments, one per line,
/// then `--end--`), STANDIN_STREAM (the chart stream fed to the post-renderer), STANDIN_OUT
/// (the post-renderer's output is written to `$STANDIN_OUT/<kube-context>.yaml`), STANDIN_FAIL
/// (kube contexts whose upgrade fails), STANDIN_SLEEP (seconds an upgrade takes),
/// STANDIN_ENGINE (a Python with helm-python-sdk: render with the real Helm v4 engine instead).
const STANDIN: &str = r#"#!/bin/bash
set -u
export PATH="$PATH:/usr/bin:/bin"
{ printf '%s\n' "$@"; echo "--end--"; } >> "$STANDIN_LOG"
case "${1:-}" in
  version) echo "$STANDIN_VERSION"; exit 0 ;;
  env) [ "${2:-}" = HELM_PLUGINS ] && echo "${HELM_PLUGINS:-$HOME/.local/share/helm/plugins}"; exit 0 ;;
  upgrade) ;;
  *) echo "Error: unknown command \"$1\" for \"helm\"" >&2; exit 1 ;;
esac
release="$2"; chart="$3"; shift 3
ctx=""; ns=""; pr=""; dry=""; prargs=(); values=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kube-context) ctx="$2"; shift ;;
    --namespace) ns="$2"; shift ;;
    --values) values+=("$2"); shift ;;
    --post-renderer) pr="$2"; shift ;;
    --post-renderer-args=*) prargs+=("${1#--post-renderer-args=}") ;;
    --dry-run=*) dry="${1#--dry-run=}" ;;
    --install) ;;
    --version|--kubeconfig) shift ;;
    *) echo "Error: unknown flag: $1" >&2; exit 1 ;;
  esac
  shift
done
[ -n "$ctx" ] && [ -n "$ns" ] && [ -n "$pr" ] || { echo "Error: missing --kube-context, --namespace or --post-renderer" >&2; exit 1; }
case ",${STANDIN_FAIL:-}," in *",$ctx,"*)
  echo "Error: UPGRADE FAILED: context $ctx: the server is on fire" >&2; exit 1 ;;
esac
if [ -n "${STANDIN_SLEEP:-}" ]; then
  echo "start $ctx" >> "$STANDIN_LOG.events"; sleep "$STANDIN_SLEEP"; echo "end $ctx" >> "$STANDIN_LOG.events"
fi
out="$STANDIN_OUT/$ctx.yaml"
if [ -n "${STANDIN_ENGINE:-}" ]; then
  # The real Helm v4 engine, through the plugin named by --post-renderer.
  fargs=(); for v in "${values[@]}"; do fargs+=(-f "$v"); done
  pargs=(); for a in "${prargs[@]}"; do pargs+=("--post-renderer-arg=$a"); done
  "$STANDIN_ENGINE" "$STANDIN_HELM_INSTALL" "$chart" "${fargs[@]}" --post-renderer "$pr" "${pargs[@]}" > "$out" || exit 1
else
  case "$STANDIN_VERSION" in
    v3.*)
      # Helm 3: exec the binary with Helm's environment and the arguments.
      case "$pr" in /*) ;; *) echo "Error: post-renderer $pr is not an absolute path" >&2; exit 1 ;; esac
      if ! "$pr" "${prargs[@]}" < "$STANDIN_STREAM" > "$out" 2> "$out.err"; then
        { echo "Error: error while running post render on files: error while running command $pr. error output:"; cat "$out.err"; } >&2
        exit 1
      fi
      ;;
    v4.*)
      dir=""
      IFS=: read -r -a pdirs <<< "${HELM_PLUGINS:-}"
      for d in "${pdirs[@]}"; do
        for p in "$d"/*/plugin.yaml; do
          [ -f "$p" ] && grep -q "^name: $pr\$" "$p" && grep -q '^type: postrenderer/v1$' "$p" && dir="$(dirname "$p")"
        done
      done
      [ -n "$dir" ] || { echo "Error: plugin: \"$pr\" not found" >&2; exit 1; }
      cmd="$(sed -n 's/^ *- command: *//p' "$dir/plugin.yaml" | head -1)"
      cmd="${cmd//\$\{HELM_PLUGIN_DIR\}/$dir}"
      if ! HELM_PLUGIN_NAME="$pr" HELM_PLUGIN_DIR="$dir" "$cmd" "${prargs[@]}" < "$STANDIN_STREAM" > "$out" 2> "$out.err"; then
        echo "Error: failed to invoke post-renderer plugin \"$pr\": $(cat "$out.err")" >&2
        exit 1
      fi
      ;;
  esac
fi
[ -s "$out" ] || { echo "Error: post-renderer produced empty output" >&2; exit 1; }
echo "Release \"$release\" has been upgraded. Happy Helming!"
echo "NAME: $release"
echo "NAMESPACE: $ns"
if [ -n "$dry" ]; then
  echo "STATUS: pending-upgrade"; echo "REVISION: 2"; echo "DESCRIPTION: Dry run complete"
  echo "HOOKS:"; echo "MANIFEST:"; cat "$out"; echo; echo "NOTES:"; echo "You have successfully installed Cilium."
  rm -f "$out"
else
  echo "STATUS: deployed"; echo "REVISION: 2"
fi
"#;

struct Rig {
    dir: tempfile::TempDir,
    path: String,
}

impl Rig {
    /// A home with the stand-in `helm` and `kubectl-mesh` (the built binary) in `bin/`, a
    /// kubeconfig whose current context is `kind-east`, and the example mesh file.
    fn new(version: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        write_exec(&bin.join("helm"), STANDIN);
        std::fs::copy(env!("CARGO_BIN_EXE_kubectl-mesh"), bin.join("kubectl-mesh")).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        std::fs::write(
            dir.path().join("kubeconfig"),
            "apiVersion: v1\nkind: Config\ncurrent-context: kind-east\n",
        )
        .unwrap();
        std::fs::copy(
            common::repo().join("examples/mesh.yaml"),
            dir.path().join("mesh.yaml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("values.yaml"), "ipam: {mode: kubernetes}\n").unwrap();
        std::fs::write(dir.path().join("version"), version).unwrap();
        Rig {
            path: format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
            dir,
        }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, version: &str) -> assert_cmd::Command {
        let mut c = common::kubectl_mesh(self.home());
        c.current_dir(self.home())
            .env("PATH", &self.path)
            .env("STANDIN_VERSION", version)
            .env("STANDIN_LOG", self.home().join("log"))
            .env(
                "STANDIN_STREAM",
                common::repo().join("examples/cilium.yaml"),
            )
            .env("STANDIN_OUT", self.home().join("out"))
            .args(["upgrade", "-f", "values.yaml"]);
        c
    }

    /// `upgrade --chart cilium/cilium -f values.yaml` with the stand-in answering `version`.
    fn up(&self, version: &str) -> assert_cmd::Command {
        let mut c = self.cmd(version);
        c.args(["--chart", "cilium/cilium"]);
        c
    }

    /// Every recorded call's arguments.
    fn calls(&self) -> Vec<Vec<String>> {
        let log = std::fs::read_to_string(self.home().join("log")).unwrap_or_default();
        let mut calls = Vec::new();
        let mut cur = Vec::new();
        for line in log.lines() {
            if line == "--end--" {
                calls.push(std::mem::take(&mut cur));
            } else {
                cur.push(line.to_string());
            }
        }
        calls
    }

    fn upgrades(&self) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c.first().is_some_and(|a| a == "upgrade"))
            .collect()
    }

    fn rendered(&self, context: &str) -> String {
        std::fs::read_to_string(self.home().join("out").join(format!("{context}.yaml")))
            .unwrap_or_else(|e| panic!("no release rendered for {context}: {e}"))
    }

    fn mesh_abs(&self) -> String {
        std::path::absolute(self.home().join("mesh.yaml"))
            .unwrap()
            .display()
            .to_string()
    }
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The summary table's row of `cluster`.
fn row<'a>(stdout: &'a str, cluster: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{cluster} ")))
        .unwrap_or_else(|| panic!("no row for {cluster} in:\n{stdout}"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Helm 3: kubectl-mesh itself is the post-renderer, told its cluster with `--cluster`. The
/// kubeconfig's current context is east: each release still gets its own cluster (the
/// wrong-cluster case README's old Helm 3 example had).
#[test]
fn helm3_gets_the_executable_post_renderer_with_each_cluster() {
    let rig = Rig::new("v3");
    let out = rig
        .up("v3.19.0+g3d8990f")
        .arg("--install")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The post-renderer is the very binary that runs (its absolute path, as Helm 3 wants it).
    let me = std::fs::canonicalize(env!("CARGO_BIN_EXE_kubectl-mesh"))
        .unwrap()
        .display()
        .to_string();
    let mesh = rig.mesh_abs();
    let upgrades = rig.upgrades();
    assert_eq!(upgrades.len(), 2, "{upgrades:?}");
    for (call, (name, ctx)) in upgrades
        .iter()
        .zip([("west", "kind-west"), ("east", "kind-east")])
    {
        assert_eq!(
            call,
            &strings(&[
                "upgrade",
                "cilium",
                "cilium/cilium",
                "--install",
                "--namespace",
                "kube-system",
                "--kube-context",
                ctx,
                "--values",
                "values.yaml",
                "--post-renderer",
                &me,
                "--post-renderer-args=render",
                &format!("--post-renderer-args=--cluster={name}"),
                &format!("--post-renderer-args=--mesh={mesh}"),
            ])
        );
        let rendered = rig.rendered(ctx);
        assert!(
            rendered.contains(&format!("cluster-name: {name}")),
            "{ctx}: {rendered:.2000}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CLUSTER"), "{stdout}");
    assert!(
        row(&stdout, "west").contains("kind-west   upgraded"),
        "{stdout}"
    );
    assert!(row(&stdout, "east").contains("upgraded"), "{stdout}");
    assert!(stdout.contains("deployed, revision 2"), "{stdout}");
}

/// Helm 4: the `mesh` plugin (from plugins/, found through HELM_PLUGINS) with `--cluster`.
#[test]
fn helm4_gets_the_mesh_plugin_with_each_cluster() {
    let rig = Rig::new("v4");
    let out = rig
        .up("v4.0.1+g12500dd")
        .env("HELM_PLUGINS", common::repo().join("plugins"))
        .args(["east", "--release", "mesh-cilium", "--version", "1.17.6"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let upgrades = rig.upgrades();
    assert_eq!(
        upgrades,
        vec![strings(&[
            "upgrade",
            "mesh-cilium",
            "cilium/cilium",
            "--namespace",
            "kube-system",
            "--kube-context",
            "kind-east",
            "--version",
            "1.17.6",
            "--values",
            "values.yaml",
            "--post-renderer",
            "mesh",
            "--post-renderer-args=--cluster=east",
            &format!("--post-renderer-args=--mesh={}", rig.mesh_abs()),
        ])]
    );
    assert!(rig.rendered("kind-east").contains("cluster-name: east"));
    // Without the plugin: refused before any upgrade.
    let rig = Rig::new("v4");
    let empty = rig.home().join("no-plugins");
    std::fs::create_dir(&empty).unwrap();
    rig.up("v4.0.1+g12500dd")
        .env("HELM_PLUGINS", &empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no `mesh` post-renderer plugin"))
        .stderr(predicate::str::contains("helm plugin install"));
    assert!(rig.upgrades().is_empty(), "{:?}", rig.calls());
}

fn three_cluster_mesh(rig: &Rig) {
    std::fs::write(
        rig.home().join("mesh.yaml"),
        "apiVersion: kubectl-mesh/v1alpha1\nkind: Mesh\nroutingMode: native\nclusters:\n\
         - {name: west, id: 1, context: kind-west, podCIDR: 10.0.0.0/16}\n\
         - {name: east, id: 2, context: kind-east, podCIDR: 10.1.0.0/16}\n\
         - {name: south, id: 3, context: kind-south, podCIDR: 10.4.0.0/16}\n",
    )
    .unwrap();
}

fn contexts(upgrades: &[Vec<String>]) -> Vec<String> {
    upgrades
        .iter()
        .map(|c| {
            let i = c.iter().position(|a| a == "--kube-context").unwrap();
            c[i + 1].clone()
        })
        .collect()
}

#[test]
fn the_first_failure_stops_the_rest_unless_continue_on_error() {
    let rig = Rig::new("v3");
    three_cluster_mesh(&rig);
    let out = rig
        .up("v3.19.0")
        .env("STANDIN_FAIL", "kind-east")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(contexts(&rig.upgrades()), ["kind-west", "kind-east"]);
    assert!(
        stderr.contains("error: east: helm failed (exit status: 1):")
            && stderr.contains("  Error: UPGRADE FAILED: context kind-east: the server is on fire")
            && stderr.contains("not run: south")
            && stderr.contains("error: helm failed on east"),
        "{stderr}"
    );
    assert!(row(&stdout, "west").contains("upgraded"), "{stdout}");
    assert!(row(&stdout, "east").contains("FAILED"), "{stdout}");
    assert!(row(&stdout, "south").contains("skipped"), "{stdout}");

    // --continue-on-error: the others run, the exit code still says one failed.
    let rig = Rig::new("v3");
    three_cluster_mesh(&rig);
    let out = rig
        .up("v3.19.0")
        .env("STANDIN_FAIL", "kind-west,kind-south")
        .arg("--continue-on-error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        contexts(&rig.upgrades()),
        ["kind-west", "kind-east", "kind-south"]
    );
    assert!(
        stderr.contains("error: helm failed on west, south"),
        "{stderr}"
    );
    assert!(rig.rendered("kind-east").contains("cluster-name: east"));
}

/// --parallel runs clusters at once: with 3, every upgrade starts before the first ends; with
/// the default 1, each ends before the next starts.
#[test]
fn parallel_runs_clusters_at_once_and_timeout_kills_helm() {
    let events = |rig: &Rig| -> Vec<String> {
        std::fs::read_to_string(rig.home().join("log.events"))
            .unwrap()
            .lines()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    let rig = Rig::new("v3");
    three_cluster_mesh(&rig);
    let out = rig
        .up("v3.19.0")
        .env("STANDIN_SLEEP", "2")
        .args(["--parallel", "3"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rig.upgrades().len(), 3);
    assert_eq!(
        events(&rig),
        ["start", "start", "start", "end", "end", "end"]
    );
    let rig = Rig::new("v3");
    three_cluster_mesh(&rig);
    rig.up("v3.19.0")
        .env("STANDIN_SLEEP", "0.2")
        .assert()
        .success();
    assert_eq!(
        events(&rig),
        ["start", "end", "start", "end", "start", "end"]
    );
    // A Helm that hangs is killed at --timeout and reported.
    let rig = Rig::new("v3");
    let out = rig
        .up("v3.19.0")
        .env("STANDIN_SLEEP", "30")
        .args(["--timeout", "1s", "west"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("killed after 1s (--timeout)"), "{stderr}");
}

/// --dry-run: the exact Helm command per cluster and Helm's own dry run through the
/// post-renderer, Secret values hidden; every Helm call is a dry run.
#[test]
fn dry_run_prints_the_commands_and_the_release_and_writes_nothing() {
    let rig = Rig::new("v3");
    let before = std::fs::read_to_string(rig.home().join("mesh.yaml")).unwrap();
    let out = rig.up("v3.19.0").arg("--dry-run").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let upgrades = rig.upgrades();
    assert_eq!(upgrades.len(), 2);
    assert!(
        upgrades
            .iter()
            .all(|c| c.contains(&"--dry-run=server".to_string())),
        "{upgrades:?}"
    );
    let helm = rig.home().join("bin/helm");
    let line = format!(
        "# west (context kind-west): {} upgrade cilium cilium/cilium --namespace kube-system --kube-context kind-west --values values.yaml --dry-run=server --post-renderer ",
        helm.display()
    );
    assert!(stdout.contains(&line), "{line}\n{stdout:.3000}");
    assert!(stdout.contains("cluster-name: west") && stdout.contains("cluster-name: east"));
    // The example stream's Secrets (the CA and the certificates render re-issues) are hidden.
    assert!(stdout.contains("kind: Secret"), "{stdout:.3000}");
    assert!(stdout.contains("ca.key: <hidden>") || stdout.contains("tls.key: <hidden>"));
    assert!(!stdout.contains("-----BEGIN") && !stdout.contains("LS0tLS1CRUdJTi"));
    assert!(stdout.contains("dry-run ok"), "{stdout:.3000}");
    assert_eq!(
        std::fs::read_to_string(rig.home().join("mesh.yaml")).unwrap(),
        before
    );
}

/// A values file that sets what the mesh file owns is refused before Helm runs at all.
#[test]
fn a_conflicting_values_file_is_refused_before_any_cluster_is_touched() {
    let rig = Rig::new("v3");
    std::fs::write(
        rig.home().join("east.yaml"),
        "cluster:\n  name: east\n  id: 2\nclustermesh:\n  apiserver:\n    service:\n      nodePort: 32380\n",
    )
    .unwrap();
    let out = rig
        .up("v3.19.0")
        .args(["-f", "east.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no cluster was touched")
            && stderr.contains("east.yaml: cluster.name is \"east\", but the mesh file says \"west\" for cluster \"west\"")
            && !stderr.contains("for cluster \"east\""),
        "{stderr}"
    );
    assert!(rig.calls().is_empty(), "helm ran: {:?}", rig.calls());
    assert!(out.stdout.is_empty());
    // The same file for east alone agrees with the mesh file.
    let out = rig
        .up("v3.19.0")
        .args(["-f", "east.yaml", "east"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_invocations_are_refused_with_the_fix() {
    let rig = Rig::new("v3");
    // An unknown cluster.
    rig.up("v3.19.0")
        .arg("north")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("north"));
    // No helm on PATH (an empty folder is all of it).
    let empty = rig.home().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    rig.up("v3.19.0")
        .env("PATH", &empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("helm is not on PATH"))
        .stderr(predicate::str::contains("--helm"));
    // --helm names the binary: the stand-in off PATH.
    rig.up("v3.19.0")
        .env("PATH", &empty)
        .arg("--helm")
        .arg(rig.home().join("bin/helm"))
        .args(["--dry-run", "west"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cluster-name: west"));
    rig.up("v3.19.0")
        .args(["--helm", "/nonexistent/helm"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--helm /nonexistent/helm: no such executable file",
        ));
    let before = rig.upgrades().len();
    // Helm 2 or something else.
    rig.up("v2.17.0")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Helm 3 and 4 only"));
    rig.up("not a version")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a Helm version"));
    // A values file that is not there.
    rig.up("v3.19.0")
        .args(["-f", "missing.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.yaml"));
    assert_eq!(rig.upgrades().len(), before, "{:?}", rig.calls());
}

/// (b) The real Helm v4 engine behind the stand-in, through the `mesh` plugin: each cluster's
/// release is equivalent to the chart rendered with that cluster's own values.
#[test]
fn the_real_helm4_engine_renders_each_cluster_as_its_own_values_would() {
    let Some(py) = common::require(&common::PYTHON, common::python(true)) else {
        return;
    };
    let rig = Rig::new("v4");
    let chart = common::data("charts/cilium-1.17.6.tgz");
    let shared = "ipam: {mode: kubernetes}\nkubeProxyReplacement: true\nroutingMode: native\nautoDirectNodeRoutes: true\n\
        k8sServiceHost: 172.18.0.4\nk8sServicePort: 6443\nclustermesh:\n  useAPIServer: true\n  apiserver:\n    service: {type: NodePort}\n    kvstoremesh: {enabled: false}\n";
    std::fs::write(rig.home().join("shared.yaml"), shared).unwrap();
    let install = common::repo().join("tests/support/helm_install.py");
    let out = rig
        .cmd("v4.0.1")
        .env("HELM_PLUGINS", common::repo().join("plugins"))
        .env("STANDIN_ENGINE", &py)
        .env("STANDIN_HELM_INSTALL", &install)
        .args(["-f", "shared.yaml", "--chart"])
        .arg(&chart)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, id, cidr, peer, port) in [
        ("west", 1, "10.0.0.0/16", "10.1.0.0/16", 32379),
        ("east", 2, "10.1.0.0/16", "10.0.0.0/16", 32380),
    ] {
        let own = rig.home().join(format!("{name}-own.yaml"));
        std::fs::write(
            &own,
            format!(
                "cluster: {{name: {name}, id: {id}}}\nipv4NativeRoutingCIDR: {cidr}\nipMasqAgent:\n  enabled: true\n  config: {{nonMasqueradeCIDRs: [{peer}]}}\n\
                 clustermesh:\n  apiserver:\n    service: {{nodePort: {port}}}\n"
            ),
        )
        .unwrap();
        let expected = std::process::Command::new(&py)
            .arg(&install)
            .arg(&chart)
            .args(["-f", "values.yaml", "-f", "shared.yaml", "-f"])
            .arg(&own)
            .current_dir(rig.home())
            .output()
            .unwrap();
        assert!(
            expected.status.success(),
            "{}",
            String::from_utf8_lossy(&expected.stderr)
        );
        let expected = String::from_utf8(expected.stdout).unwrap();
        let rendered = rig.rendered(&format!("kind-{name}"));
        assert!(rendered.contains(&format!("cluster-name: {name}")));
        let result = common::equiv::equivalent(&expected, &rendered, None);
        assert!(
            result.is_ok(),
            "{name}: {}",
            common::equiv::report(&result.unwrap_err())
        );
    }
}

/// A lab cluster's kubeconfig and the stand-in, for --diff and --wait.
fn lab_rig(lab: &common::lab::Lab) -> Rig {
    let rig = Rig::new("v3");
    std::fs::copy(lab.home().join("kubeconfig"), rig.home().join("kubeconfig")).unwrap();
    std::fs::copy(lab.mesh(), rig.home().join("mesh.yaml")).unwrap();
    rig
}

/// --diff reads the live objects (the lab's API servers) and shows what the release would
/// change: the lab's mesh file has no apiserverNodePort, but east was installed with 32380.
#[test]
fn diff_shows_what_the_release_changes_in_the_live_objects() {
    use common::lab::{Lab, Spec};
    let lab = Lab::start(&[Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)]);
    let rig = lab_rig(&lab);
    let base = common::data("fixtures/hubble-clustermesh-1.17.6/base.yaml");
    let writes = lab.total_writes();
    let out = rig
        .up("v3.19.0")
        .env("STANDIN_STREAM", &base)
        .arg("--diff")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    assert_eq!(lab.total_writes(), writes, "--diff wrote");
    let east = stdout.split("# east (context kind-east)").nth(1).unwrap();
    let west = stdout.split("# east (context kind-east)").next().unwrap();
    assert!(
        east.contains("~ Service kube-system/clustermesh-apiserver\n    spec.ports[0].nodePort: 32380 -> 32379\n"),
        "{east}"
    );
    assert!(
        !west.contains("~ Service kube-system/clustermesh-apiserver"),
        "{west}"
    );
    assert!(west.contains("object(s) unchanged"), "{west}");
    assert!(
        !stdout.contains("-----BEGIN") && !stdout.contains("LS0tLS1CRUdJTi"),
        "{stdout}"
    );
    // Only the diff: no manifest without --dry-run.
    assert!(!stdout.contains("kind: DaemonSet"), "{stdout:.2000}");

    // A cluster that cannot be read: named, the others still shown, exit 1.
    lab.write_kubeconfig(&[("east", "http://127.0.0.1:1".to_string())]);
    std::fs::copy(lab.home().join("kubeconfig"), rig.home().join("kubeconfig")).unwrap();
    let out = rig
        .up("v3.19.0")
        .env("STANDIN_STREAM", &base)
        .args(["--diff", "--request-timeout", "5s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    assert!(stdout.contains("# west: "), "{stdout}");
    assert!(
        stderr.contains("error: east: --diff:")
            && stderr.contains("--diff could not read the live objects of east"),
        "{stderr}"
    );
}

/// --wait runs `status --wait`'s health check after the upgrade: the lab's clusters are not
/// connected, so it times out saying what is missing.
#[test]
fn wait_runs_the_status_health_check() {
    use common::lab::{Lab, Spec};
    let lab = Lab::start(&[Spec::new("west", 1, 32379), Spec::new("east", 2, 32380)]);
    let rig = lab_rig(&lab);
    let out = rig
        .up("v3.19.0")
        .env(
            "STANDIN_STREAM",
            common::data("fixtures/hubble-clustermesh-1.17.6/base.yaml"),
        )
        .args(["--wait", "--wait-timeout", "1s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    assert_eq!(rig.upgrades().len(), 2);
    assert!(
        stderr.contains("timed out after 1s; still missing:"),
        "{stderr}"
    );
    assert!(stdout.contains("HEALTHY"), "{stdout}");
}
