//! `kubectl mesh completion bash|zsh|fish`.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::{Shell as CompleteShell, generate};

use crate::cli::{Cli, CompletionArgs, Shell};

pub fn run(args: CompletionArgs) -> anyhow::Result<ExitCode> {
    let shell = match args.shell {
        Shell::Bash => CompleteShell::Bash,
        Shell::Zsh => CompleteShell::Zsh,
        Shell::Fish => CompleteShell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    generate(shell, &mut cmd, "kubectl-mesh", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}
