//! Records the git commit the binary is built from (`kubectl mesh version`), or "unknown"
//! outside a git checkout. Reruns only when HEAD or the branch it points to moves.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KUBECTL_MESH_COMMIT={commit}");
    // HEAD, the branch it names (a worktree keeps HEAD in its own git dir and the branch in the
    // common one; `--git-path` knows both), and packed-refs, where a branch may live instead.
    // Only files that exist: cargo reruns every build for a path that is missing.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        // `--path-format` is git 2.31+; older gits print the path relative to the checkout.
        let path = git(&["rev-parse", "--path-format=absolute", "--git-path", &name])
            .or_else(|| git(&["rev-parse", "--git-path", &name]))
            .map(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join(p));
        if let Some(path) = path.filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
