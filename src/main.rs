//! kubectl-mesh: one mesh file for Cilium Cluster Mesh.

mod cli;
mod commands;
mod kubeconfig;
mod live;
mod mesh;
mod render;
mod yaml;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "error: {err:#}");
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}

/// A reader that closed the pipe (`kubectl mesh render … | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
    })
}
