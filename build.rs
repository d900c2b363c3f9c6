//! Records the git commit the binary is built from (`kubectl mesh version`), or "unknown"
//! outside a git checkout. Reruns only when HEAD or the branch it points to moves.
//!
//! Also lays out the binary's code: where the linker is LLD, the functions a render runs
//! (build/hot-functions.order, written by scripts/hot-functions) are placed side by side.

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

/// The release of the `rustc` cargo runs (`1.95.0` -> (1, 95)).
fn rustc_release() -> Option<(u32, u32)> {
    let rustc = std::env::var_os("RUSTC")?;
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let release = text.lines().find_map(|l| l.strip_prefix("release: "))?;
    let mut parts = release.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Code layout (issue 16): the kernel maps a binary's code 64 KiB at a time around each page
/// a process first runs (fault-around), so the ~1,200 functions a render runs, scattered
/// over 12 MB of code, kept ~6 MB of it resident. Listed in build/hot-functions.order, LLD
/// places them together (1.7 MB resident). Only where LLD is certain to be the
/// linker: rustc 1.90+ links x86_64-unknown-linux-gnu with its own LLD unless a linker is
/// chosen (cargo's `linker`, or linker flags in RUSTFLAGS). A list that no longer matches
/// the code (renamed functions) costs memory and time, never correctness: LLD orders the
/// names it finds and ignores the rest.
fn order_hot_functions() {
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("build/hot-functions.order");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let lld = target == "x86_64-unknown-linux-gnu"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !rustflags.contains("linker")
        && rustc_release().is_some_and(|release| release >= (1, 90));
    // One linker argument each (`-Xlinker`, not `-Wl,`, which would split a path at commas).
    if let Some(path) = order.to_str().filter(|_| lld && order.is_file()) {
        println!("cargo:rustc-link-arg-bins=-Xlinker");
        println!("cargo:rustc-link-arg-bins=--symbol-ordering-file={path}");
        println!("cargo:rustc-link-arg-bins=-Xlinker");
        println!("cargo:rustc-link-arg-bins=--no-warn-symbol-ordering");
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    order_hot_functions();
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
