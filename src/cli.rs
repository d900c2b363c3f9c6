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
    /// Write a mesh file from live clusters (names, ids, CIDRs, routing mode).
    Init(InitArgs),
    /// The mesh's shared CA.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Connect every cluster of the mesh file to every other, live (and record the endpoints).
    Connect(ConnectArgs),
    /// Take one cluster out of the mesh, live (and drop its endpoint from the mesh file).
    Disconnect(DisconnectArgs),
    /// Health of the mesh, per cluster: agents, apiserver, identity, peers, host aliases, CA.
    Status(StatusArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

/// How to reach the clusters: the usual kubectl flags.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for each request to a cluster: 30s, 500ms, 2m; 0 waits forever.
    #[arg(long, default_value = "30s", value_parser = crate::live::parse_timeout)]
    pub request_timeout: std::time::Duration,
    /// How many clusters to talk to at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// A kubeconfig context of a cluster to put in the mesh (repeat for each cluster).
    #[arg(long = "context", required = true)]
    pub contexts: Vec<String>,
    /// Write the mesh file here (default: print it).
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Cilium's namespace, when it is not kube-system.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Print the mesh file and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Make Secret cilium-ca identical in every cluster.
    Sync(CaSyncArgs),
}

#[derive(Debug, Args)]
pub struct CaSyncArgs {
    #[command(flatten)]
    pub mesh: MeshArg,
    /// Take the CA from this cluster (default: the mesh file's `ca:`, else the first cluster).
    #[arg(long)]
    pub from: Option<String>,
    /// Also write the CA as files (mode 0600) and record them as the mesh file's `ca:`:
    /// the directory to write ca.crt and ca.key into.
    #[arg(long, value_name = "DIR")]
    pub write_files: Option<PathBuf>,
    /// Print key material in --dry-run output (hidden otherwise).
    #[arg(long)]
    pub show_secrets: bool,
    /// Print the Secrets it would write, per cluster, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub mesh: MeshArg,
    /// Accept a ClusterIP clustermesh-apiserver Service (only if the clusters route each
    /// other's service networks).
    #[arg(long)]
    pub allow_cluster_ip: bool,
    /// Discover every endpoint again, replacing the ones recorded in the mesh file (after nodes
    /// changed; see `status`'s host-aliases check).
    #[arg(long)]
    pub rediscover: bool,
    /// Print the objects it would write, per cluster, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Then wait until the mesh is healthy (see `status --wait`).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = crate::live::parse_timeout)]
    pub timeout: std::time::Duration,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// The cluster to take out of the mesh.
    pub cluster: String,
    #[command(flatten)]
    pub mesh: MeshArg,
    /// Print the objects it would write, per cluster, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub mesh: MeshArg,
    /// Wait until the whole mesh is healthy, showing progress per cluster.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = crate::live::parse_timeout)]
    pub timeout: std::time::Duration,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub kube: KubeArgs,
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

impl KubeArgs {
    pub fn options(&self) -> crate::live::KubeOptions {
        crate::live::KubeOptions {
            kubeconfig: self.kubeconfig.clone(),
            request_timeout: (!self.request_timeout.is_zero()).then_some(self.request_timeout),
            parallel: usize::from(self.parallel),
        }
    }
}
