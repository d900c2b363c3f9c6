//! One module per subcommand; `run` dispatches.

/// `print!` for the commands: a write that returns its error (`?` inside) instead of panicking;
/// a closed stdout is not an error (see [`out`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::commands::out(&format!($($arg)*))? };
}

/// `println!` for the commands, as [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::commands::out(&format!("{}\n", format_args!($($arg)*)))? };
}

/// `eprintln!` that never panics: a closed stderr loses the message, nothing else.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod annotate;
mod ca;
mod completion;
mod connect;
mod disconnect;
mod init;
mod render;
mod services;
mod status;
mod troubleshoot;
mod validate;

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use std::os::unix::fs::OpenOptionsExt;

use anyhow::Context;

use crate::cli::{AnnotateCommand, Cli, Command};
use crate::live::{ClusterClient, KubeOptions};
use crate::mesh::Mesh;
use crate::mesh::state::Live;
use crate::render::Ca;

/// Exit code when the command itself could not do its job (bad input, unreachable, …).
pub const EXIT_ERROR: u8 = 2;
/// Exit code when the command ran but found problems (invalid mesh, unhealthy cluster, …).
pub const EXIT_PROBLEMS: u8 = 1;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Init(args) => init::run(args),
        Command::Ca(crate::cli::CaCommand::Sync(args)) => ca::sync(args),
        Command::Connect(args) => connect::run(args),
        Command::Disconnect(args) => disconnect::run(args),
        Command::Status(args) => status::run(args),
        Command::Annotate(AnnotateCommand::Service(args)) => annotate::service(args),
        Command::Annotate(AnnotateCommand::Namespace(args)) => annotate::namespace(args),
        Command::Services(args) => services::run(args),
        Command::Troubleshoot(args) => troubleshoot::run(args),
        Command::Completion(args) => completion::run(args),
    }
}

/// Reads and validates the mesh file. Warnings are `validate`'s business: a post-renderer that
/// talks on every `helm upgrade` trains users to ignore it.
pub fn load_mesh(path: &Path) -> anyhow::Result<Mesh> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mesh file {}", path.display()))?;
    let (mesh, _warnings) =
        Mesh::load(&text).with_context(|| format!("mesh file {}", path.display()))?;
    Ok(mesh)
}

/// Prints a value as JSON or YAML for `-o json|yaml`.
pub fn print_structured(
    format: crate::cli::Output,
    value: &serde_json::Value,
) -> anyhow::Result<()> {
    let text = match format {
        crate::cli::Output::Json => serde_json::to_string_pretty(value)? + "\n",
        crate::cli::Output::Yaml => crate::yaml::emit(value)?,
    };
    out(&text)
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes `text` to stdout. A reader that went away (`| head`, a closed pipe) is not an error:
/// the rest of the output is dropped and the command carries on to its real exit code (a
/// health check still exits 1, a write command still writes). Any other write error is one.
pub fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

/// The mesh's own CA (`ca:`), paths relative to the mesh file.
pub fn load_mesh_ca(mesh: &Mesh, mesh_path: &Path) -> anyhow::Result<Option<Ca>> {
    let Some(files) = &mesh.ca else {
        return Ok(None);
    };
    let dir = mesh_path.parent().unwrap_or(Path::new("."));
    let cert_path = dir.join(&files.cert);
    let key_path = dir.join(&files.key);
    let cert = std::fs::read_to_string(&cert_path).with_context(|| {
        format!(
            "cannot read the mesh CA certificate {} (ca.cert in {})",
            cert_path.display(),
            mesh_path.display()
        )
    })?;
    let key = std::fs::read_to_string(&key_path).with_context(|| {
        format!(
            "cannot read the mesh CA key {} (ca.key in {})",
            key_path.display(),
            mesh_path.display()
        )
    })?;
    let ca = Ca::from_pem(&cert, &key)
        .with_context(|| format!("mesh CA {} / {}", cert_path.display(), key_path.display()))?;
    Ok(Some(ca))
}

/// Runs the async part of a command. One runtime serves the whole process: a kube client's
/// connection worker lives on the runtime that made it.
pub fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    static RUNTIME: std::sync::OnceLock<std::io::Result<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    });
    match runtime {
        Ok(rt) => Ok(rt.block_on(future)),
        Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
    }
}

/// One cluster of the mesh as the live commands see it: its client and what it holds, or why
/// it could not be read.
pub struct Reached {
    pub client: Option<ClusterClient>,
    pub live: anyhow::Result<Live>,
}

/// Reads every cluster of `mesh` concurrently (at most `--parallel` at once); an unreachable
/// cluster is an error in its slot, never a reason to skip the others.
pub async fn reach_all(mesh: &Mesh, opts: &KubeOptions) -> anyhow::Result<Vec<Reached>> {
    let kubeconfig = crate::live::load_kubeconfig(opts)?;
    let ns = mesh.namespace();
    Ok(
        crate::live::for_each(mesh.clusters.iter().collect(), opts.parallel, |c| {
            let kubeconfig = &kubeconfig;
            async move {
                match ClusterClient::new(kubeconfig, &c.context, ns, opts).await {
                    Ok(client) => {
                        let live = client.read_live().await;
                        Reached {
                            client: Some(client),
                            live,
                        }
                    }
                    Err(e) => Reached {
                        client: None,
                        live: Err(e),
                    },
                }
            }
        })
        .await,
    )
}

/// Prints objects as a YAML stream, for `--dry-run`; server-side bookkeeping is left out.
pub fn dry_run_yaml(objects: &[serde_json::Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for o in objects {
        let mut o = o.clone();
        if let Some(meta) = o["metadata"].as_object_mut() {
            for key in [
                "managedFields",
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
            ] {
                meta.remove(key);
            }
        }
        if let Some(top) = o.as_object_mut() {
            top.remove("status");
        }
        out.push_str("---\n");
        out.push_str(&crate::yaml::emit(&o)?);
    }
    Ok(out)
}

/// Writes `text` to `path` atomically (a temporary file beside it, then rename), keeping the
/// file's permissions; `mode` sets them for a new file (key material: 0600).
pub fn write_atomic(path: &Path, text: &str, mode: Option<u32>) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("mesh");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.unwrap_or(0o644))
            .open(&tmp)?;
        match (mode, std::fs::metadata(path)) {
            (Some(mode), _) => file.set_permissions(std::fs::Permissions::from_mode(mode))?,
            (None, Ok(meta)) => file.set_permissions(meta.permissions())?,
            (None, Err(_)) => {}
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Rows as a `kubectl get`-style table: columns padded to their widest cell, three spaces apart.
pub fn format_table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// `Secret cilium-clustermesh, DaemonSet cilium` for messages.
pub fn object_names(objects: &[serde_json::Value]) -> String {
    objects
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
