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

mod agent_exec;
mod agents;
mod annotate;
mod ca;
mod completion;
mod connect;
mod connectivity;
mod disconnect;
mod init;
mod peering;
mod render;
mod services;
mod status;
mod troubleshoot;
mod upgrade;
mod validate;
mod values;
mod version;

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
        Command::Values(args) => values::run(args),
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
        Command::Upgrade(args) => upgrade::run(args),
        Command::Connectivity(args) => connectivity::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Version(args) => version::run(args),
    }
}

/// Reads and validates the mesh file. Warnings are `validate`'s business: a post-renderer that
/// talks on every `helm upgrade` trains users to ignore it.
pub fn load_mesh(path: &Path) -> anyhow::Result<Mesh> {
    let text = read_text(path, MAX_MESH_FILE)
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

/// Whether stdout was already closed when the process started (`kubectl mesh render >&-`).
/// Rust's runtime reopens a closed stdout on /dev/null before `main` (std's
/// `sanitize_standard_fds`), after which every write "succeeds"; an ELF/Mach-O constructor runs
/// before that and looks first.
pub mod stdout_at_start {
    use std::sync::atomic::{AtomicBool, Ordering};

    static CLOSED: AtomicBool = AtomicBool::new(false);

    extern "C" fn look() {
        // SAFETY: F_GETFD on a descriptor number only reads the process's descriptor table.
        if unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1 {
            CLOSED.store(true, Ordering::Relaxed);
        }
    }

    #[cfg(target_os = "linux")]
    #[used]
    #[unsafe(link_section = ".init_array")]
    static LOOK: extern "C" fn() = look;

    #[cfg(target_vendor = "apple")]
    #[used]
    #[unsafe(link_section = "__DATA,__mod_init_func")]
    static LOOK: extern "C" fn() = look;

    pub fn closed() -> bool {
        CLOSED.load(Ordering::Relaxed)
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`, a closed pipe) is not an error:
/// the rest of the output is dropped and the command carries on to its real exit code (a
/// health check still exits 1, a write command still writes). Any other write error is one.
pub fn out(text: &str) -> anyhow::Result<()> {
    out_with(|w| std::io::Write::write_all(w, text.as_bytes()))
}

/// Writes to stdout through `write`, buffered (a big report streamed out, never built whole in
/// memory), as [`out`] does: a reader that went away is not an error, any other write error is.
pub fn out_with(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) || stdout_at_start::closed() {
        return Ok(());
    }
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
    }
}

/// The most a mesh file may hold.
const MAX_MESH_FILE: u64 = 16 << 20;
/// The most a CA certificate or key file may hold (a PEM CA is a few KB).
pub const MAX_PEM_FILE: u64 = 1 << 20;

/// A text file, refused past `cap` bytes (`ca.cert: /dev/zero` must not read forever), or when
/// it is not a regular file's text.
pub fn read_text(path: &Path, cap: u64) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "it holds more than {} KiB, more than such a file ever does",
            cap >> 10
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not text (DER or another binary format? PEM is expected)",
        )
    })
}

/// The file a path names, through symlinks (a dotfiles or GitOps layout links the mesh file);
/// the path itself when it does not exist yet.
pub fn real_path(path: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The folder `ca:` paths are relative to: the real mesh file's, not the link's.
pub fn mesh_dir(mesh_path: &Path) -> std::path::PathBuf {
    let real = real_path(mesh_path);
    real.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// The mesh's own CA (`ca:`), paths relative to the (real) mesh file; refused when it cannot
/// sign now (not a CA, expired, key missing or not its own).
pub fn load_mesh_ca(mesh: &Mesh, mesh_path: &Path) -> anyhow::Result<Option<Ca>> {
    let Some(files) = &mesh.ca else {
        return Ok(None);
    };
    let dir = mesh_dir(mesh_path);
    let cert_path = dir.join(&files.cert);
    let key_path = dir.join(&files.key);
    let cert = read_text(&cert_path, MAX_PEM_FILE).with_context(|| {
        format!(
            "cannot read the mesh CA certificate {} (ca.cert in {})",
            cert_path.display(),
            mesh_path.display()
        )
    })?;
    let key = read_text(&key_path, MAX_PEM_FILE).with_context(|| {
        format!(
            "cannot read the mesh CA key {} (ca.key in {})",
            key_path.display(),
            mesh_path.display()
        )
    })?;
    let ca = Ca::from_pem(&cert, &key)
        .and_then(|ca| ca.usable_at(time::OffsetDateTime::now_utc()).map(|()| ca))
        .with_context(|| {
            format!(
                "mesh CA {} / {} (ca: in {})",
                cert_path.display(),
                key_path.display(),
                mesh_path.display()
            )
        })?;
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

/// What `--dry-run` shows in place of a Secret value (`None`: the values, `--show-secrets`).
pub const HIDDEN: Option<&str> = Some("<hidden>");

/// Prints objects as a YAML stream, for `--dry-run`; server-side bookkeeping is left out. With
/// `hidden`, every Secret's `data`/`stringData` value and every object's
/// `kubectl.kubernetes.io/last-applied-configuration` (a copy of what was applied, Secret values
/// included) are replaced by it.
pub fn dry_run_yaml(objects: &[serde_json::Value], hidden: Option<&str>) -> anyhow::Result<String> {
    let mut out = String::new();
    for o in objects {
        let mut o = o.clone();
        if let Some(hidden) = hidden {
            redact(&mut o, hidden);
        }
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

/// Hides what `object` carries of key material (see [`dry_run_yaml`]).
pub fn redact(object: &mut serde_json::Value, hidden: &str) {
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
    // `get_mut`, not `[]`: indexing a mapping mutably adds the key (as null) when it is missing.
    if let Some(v) = object
        .pointer_mut("/metadata/annotations")
        .and_then(|a| a.get_mut(LAST_APPLIED))
    {
        *v = serde_json::Value::String(hidden.to_string());
    }
    if object["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(map) = object.get_mut(field).and_then(|v| v.as_object_mut()) {
                for v in map.values_mut() {
                    *v = serde_json::Value::String(hidden.to_string());
                }
            }
        }
    }
}

/// Writes `text` to `path` atomically (a temporary file beside it, then rename), keeping the
/// file's permissions; `mode` sets them for a new file (key material: 0600). A symlink is
/// written through: the file it points to is replaced (the temporary file beside it), the link
/// stays.
pub fn write_atomic(path: &Path, text: &str, mode: Option<u32>) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let real = real_path(path);
    let path = real.as_path();
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn redaction_hides_key_material_and_adds_nothing() {
        let mut secret = json!({"kind": "Secret", "metadata": {"name": "s", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"ca.key\":\"K\"}}", "a": "b"}},
            "data": {"ca.key": "Sw=="}});
        super::redact(&mut secret, "<hidden>");
        assert_eq!(
            secret,
            json!({"kind": "Secret", "metadata": {"name": "s", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "<hidden>", "a": "b"}},
                "data": {"ca.key": "<hidden>"}})
        );
        let plain = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
        let mut redacted = plain.clone();
        super::redact(&mut redacted, "<hidden>");
        assert_eq!(redacted, plain);
        let mut bare = json!({"kind": "Secret", "metadata": {"name": "s"}});
        super::redact(&mut bare, "<hidden>");
        assert_eq!(bare, json!({"kind": "Secret", "metadata": {"name": "s"}}));
    }
}
