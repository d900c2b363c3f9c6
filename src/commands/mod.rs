//! One module per subcommand; `run` dispatches.

mod completion;
mod render;
mod validate;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::mesh::Mesh;

/// Exit code when the command itself could not do its job (bad input, unreachable, …).
pub const EXIT_ERROR: u8 = 2;
/// Exit code when the command ran but found problems (invalid mesh, unhealthy cluster, …).
pub const EXIT_PROBLEMS: u8 = 1;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render::run(args),
        Command::Validate(args) => validate::run(args),
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
    use std::io::Write;
    let text = match format {
        crate::cli::Output::Json => serde_json::to_string_pretty(value)? + "\n",
        crate::cli::Output::Yaml => crate::render::yaml::emit(value)?,
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
