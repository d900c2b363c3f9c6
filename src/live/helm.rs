//! Running Helm: finding it, reading its version and plugin directories, and one bounded run of
//! it (a deadline for the whole process, which is killed at it; its output captured up to a
//! cap). What the arguments are is the command's business (`commands/upgrade`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

/// The most of Helm's stdout kept (a dry run prints the whole release manifest: the Cilium
/// chart is about 1 MiB; an umbrella chart can be much more).
pub const MAX_STDOUT: usize = 64 << 20;
/// The most of Helm's stderr kept: its end, where Helm writes its error.
pub const MAX_STDERR_TAIL: usize = 64 << 10;

/// A Helm binary and its major version.
#[derive(Debug, Clone)]
pub struct Helm {
    pub path: PathBuf,
    /// 3 or 4.
    pub major: u8,
    /// `helm version --short` as Helm printed it (`v3.19.0+g3d8990f`).
    pub version: String,
}

/// What one Helm run gave.
#[derive(Debug)]
pub struct Outcome {
    pub success: bool,
    /// `exit status: 1`, `killed after 10m (--timeout)`, …
    pub status: String,
    pub stdout: String,
    /// More than [`MAX_STDOUT`] was printed: `stdout` holds the start only.
    pub stdout_truncated: bool,
    /// The end of stderr (at most [`MAX_STDERR_TAIL`] bytes).
    pub stderr_tail: String,
}

impl Outcome {
    /// The last `n` non-empty lines of stderr (where Helm says what went wrong), else of stdout.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let pick = |text: &str| -> Vec<String> {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(n)..]
                .iter()
                .map(|l| l.to_string())
                .collect()
        };
        let err = pick(&self.stderr_tail);
        if err.is_empty() {
            pick(&self.stdout)
        } else {
            err
        }
    }
}

/// `--helm PATH`, else `helm` on `PATH`.
pub fn find(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(p) => {
            let found = if p.components().count() > 1 {
                std::fs::metadata(p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|_| p.to_path_buf())
            } else {
                which::which(p).ok()
            };
            found.with_context(|| {
                format!(
                    "--helm {}: no such executable file; pass the path of a Helm 3 or 4 binary",
                    p.display()
                )
            })
        }
        None => which::which("helm").map_err(|_| {
            anyhow!(
                "helm is not on PATH: install Helm 3 or 4 (https://helm.sh/docs/intro/install/) or pass --helm PATH"
            )
        }),
    }
}

/// Reads the major version from `helm version --short`.
pub async fn version(path: &Path, timeout: Duration) -> anyhow::Result<Helm> {
    let out = run(
        path,
        &[OsString::from("version"), OsString::from("--short")],
        timeout,
    )
    .await
    .with_context(|| format!("cannot run {} version --short", path.display()))?;
    if !out.success {
        bail!(
            "{} version --short failed ({}): {}",
            path.display(),
            out.status,
            out.last_lines(3).join(" / ")
        );
    }
    let text = out.stdout.trim().to_string();
    let major = parse_major(&text).with_context(|| {
        format!(
            "{} version --short printed {:?}, not a Helm version (v3.x or v4.x)",
            path.display(),
            truncate(&text, 80)
        )
    })?;
    if major != 3 && major != 4 {
        bail!(
            "{} is Helm {text}: kubectl mesh upgrade drives Helm 3 and 4 only",
            path.display()
        );
    }
    Ok(Helm {
        path: path.to_path_buf(),
        major,
        version: text,
    })
}

/// `v3.19.0+g3d8990f` → 3.
fn parse_major(text: &str) -> Option<u8> {
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix('v')?;
    let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if major.is_empty() || !rest[major.len()..].starts_with('.') {
        return None;
    }
    major.parse().ok()
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The directories Helm looks for plugins in (`helm env HELM_PLUGINS`, a path list in Helm 4).
pub async fn plugin_dirs(helm: &Helm, timeout: Duration) -> anyhow::Result<Vec<PathBuf>> {
    let out = run(&helm.path, &["env".into(), "HELM_PLUGINS".into()], timeout).await?;
    if !out.success {
        bail!(
            "{} env HELM_PLUGINS failed ({}): {}",
            helm.path.display(),
            out.status,
            out.last_lines(3).join(" / ")
        );
    }
    Ok(std::env::split_paths(out.stdout.trim())
        .filter(|p| !p.as_os_str().is_empty())
        .collect())
}

/// Runs Helm with `args`, its stdin closed, killed when `timeout` passes (0: no deadline).
pub async fn run(path: &Path, args: &[OsString], timeout: Duration) -> anyhow::Result<Outcome> {
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new(path)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", path.display()))?;
    let mut stdout = child.stdout.take().context("no stdout pipe")?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;
    let read_out = async move {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = stdout.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            let room = MAX_STDOUT.saturating_sub(kept.len());
            if n > room {
                truncated = true;
            }
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        std::io::Result::Ok((kept, truncated))
    };
    let read_err = async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            let n = stderr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > MAX_STDERR_TAIL {
                tail.drain(..tail.len() - MAX_STDERR_TAIL);
            }
        }
        std::io::Result::Ok(tail)
    };
    // The child moves into the future: when the deadline drops it, kill_on_drop ends Helm.
    let all = async move {
        let (out, err, status) = tokio::join!(read_out, read_err, child.wait());
        (out, err, status)
    };
    let result = if timeout.is_zero() {
        Some(all.await)
    } else {
        tokio::time::timeout(timeout, all).await.ok()
    };
    let Some((out, err, status)) = result else {
        let limit = crate::live::probe::show(timeout);
        return Ok(Outcome {
            success: false,
            status: format!("killed after {limit} (--timeout)"),
            stdout: String::new(),
            stdout_truncated: false,
            stderr_tail: format!(
                "helm did not finish within {limit}: killed (raise --timeout for a slow cluster)"
            ),
        });
    };
    let (stdout, stdout_truncated) = out.context("cannot read helm's output")?;
    let tail = err.context("cannot read helm's error output")?;
    let status = status.context("cannot wait for helm")?;
    Ok(Outcome {
        success: status.success(),
        status: status.to_string(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stdout_truncated,
        stderr_tail: String::from_utf8_lossy(&tail).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(parse_major("v3.19.0+g3d8990f\n"), Some(3));
        assert_eq!(parse_major("v4.0.1+g12345"), Some(4));
        assert_eq!(parse_major("v10.1.0"), Some(10));
        assert_eq!(parse_major("3.19.0"), None);
        assert_eq!(parse_major("version.BuildInfo{Version:\"v3\"}"), None);
        assert_eq!(parse_major("v3"), None);
        assert_eq!(parse_major(""), None);
    }

    #[test]
    fn last_lines_prefer_stderr() {
        let o = Outcome {
            success: false,
            status: "exit status: 1".into(),
            stdout: "a\nb\n".into(),
            stdout_truncated: false,
            stderr_tail: "x\n\ny\nError: UPGRADE FAILED: boom\n".into(),
        };
        assert_eq!(o.last_lines(2), vec!["y", "Error: UPGRADE FAILED: boom"]);
        let o = Outcome {
            stderr_tail: String::new(),
            ..o
        };
        assert_eq!(o.last_lines(5), vec!["a", "b"]);
    }
}
