//! Command-line interface: `kubectl mesh <command>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// One mesh file for Cilium Cluster Mesh: render each cluster's Cilium install from it
/// (as a Helm post-renderer) and check it.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-mesh",
    bin_name = "kubectl mesh",
    version,
    about,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Helm post-renderer: read a rendered Cilium chart stream on stdin, write this cluster's
    /// stream on stdout (identity, routing CIDR, ip-masq-agent, certificates, peers).
    Render(RenderArgs),
    /// Check the mesh file: every problem at once, each with its cluster and field.
    Validate(ValidateArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

/// Where the mesh file is.
#[derive(Debug, Args)]
pub struct MeshArg {
    /// The mesh file.
    #[arg(
        long,
        short = 'm',
        env = "KUBECTL_MESH_FILE",
        default_value = "mesh.yaml"
    )]
    pub mesh: PathBuf,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub mesh: MeshArg,
    /// The cluster to render for. Default: the cluster whose `context` is the current kube
    /// context ($HELM_KUBECONTEXT, then the kubeconfig's current-context).
    #[arg(long, short = 'c')]
    pub cluster: Option<String>,
    /// Kubeconfig to read the current context from (only when --cluster is not given).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub mesh: MeshArg,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Machine-readable output of read commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
    Yaml,
}
