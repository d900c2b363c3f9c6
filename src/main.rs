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
            let _ = writeln!(std::io::stderr().lock(), "error: {}", message(&err));
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}

/// The error and its causes on one line, each said once: a cause whose text an outer message
/// already carries is not repeated.
fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// A reader that closed the pipe (`kubectl mesh render … | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
    })
}
