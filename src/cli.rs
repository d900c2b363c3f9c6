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
    /// Helm values for one cluster (for Argo CD, Flux, or any tool that renders the chart
    /// itself): layered after your values files, the chart renders the cluster as `render` would.
    Values(ValuesArgs),
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
    /// Annotate a Service (or a namespace) the same way in every cluster of the mesh, after
    /// checking that the clusters agree on it.
    #[command(subcommand)]
    Annotate(AnnotateCommand),
    /// Global Services across the mesh: per cluster their annotations, ports, ready backends and
    /// the clusters whose backends each cluster will use.
    Services(ServicesArgs),
    /// Prove every path of the mesh from here: for every ordered pair of clusters, what the
    /// first one's agents use to reach the second, checked down to its etcd (DNS, TCP, TLS,
    /// certificates, CA, cluster config, heartbeat, sync), with what to run for each problem.
    Troubleshoot(TroubleshootArgs),
    /// Install or upgrade Cilium on every cluster of the mesh (or those named) through Helm,
    /// with kubectl-mesh as the post-renderer, one cluster after the other in mesh-file order.
    #[command(
        disable_version_flag = true,
        after_help = "Examples:\n  kubectl mesh upgrade --chart cilium/cilium --version 1.17.6 -f values.yaml --install\n  kubectl mesh upgrade east --chart cilium/cilium -f values.yaml --dry-run --diff\n  kubectl mesh upgrade --chart cilium/cilium -f values.yaml --parallel 4 --continue-on-error --wait"
    )]
    Upgrade(UpgradeArgs),
    /// Prove the data path the way the seed lab does: a probe client and a whoami server behind
    /// a global Service in every cluster, pod-to-pod ICMP and TCP to every other cluster, and N
    /// requests to the global Service from each cluster, whose answers are compared with what
    /// `services` predicts. Cleans up what it created (also on Ctrl-C) unless --keep.
    #[command(
        after_help = "Examples:\n  kubectl mesh connectivity\n  kubectl mesh connectivity --requests 50 -o json\n  kubectl mesh connectivity --service default/webpod\n  kubectl mesh connectivity --client-image registry.local/netshoot --server-image registry.local/whoami\n  kubectl mesh connectivity --dry-run"
    )]
    Connectivity(ConnectivityArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
    /// The version of this binary, the commit it was built from, and the Cilium chart versions
    /// render has been verified against.
    Version(VersionArgs),
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
    /// How many clusters to talk to at once (and, for `status`, how many agent execs run at
    /// once). The default covers the chart's largest mesh (255 clusters) in one go.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
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
    #[arg(long, short = 'n', value_parser = namespace_name)]
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
    /// Ask only N agents per cluster (spread over the Ready agents sorted by name) instead of
    /// every Ready agent: for large clusters.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub agents: Option<u16>,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Subcommand)]
pub enum AnnotateCommand {
    /// Make a Service global (or change how it is shared) in every cluster of the mesh.
    ///
    /// Checks every cluster first and changes nothing anywhere when a check fails: the Service
    /// exists everywhere, its ports (name, port, protocol) are the same, its namespace is global,
    /// and no annotation would change value without --overwrite. Touches no other annotation.
    #[command(
        after_help = "Examples:\n  kubectl mesh annotate service webpod -n default --global\n  kubectl mesh annotate service webpod -n default --affinity local\n  kubectl mesh annotate service webpod -n default --shared=false --clusters west\n  kubectl mesh annotate service webpod -n default --global=false"
    )]
    Service(AnnotateServiceArgs),
    /// Make a namespace global (`clustermesh.cilium.io/global`, Cilium 1.20+) in every cluster.
    ///
    /// Needed where Cilium runs with `clustermesh.defaultGlobalNamespace=false`: only Services
    /// in a global namespace can be global.
    Namespace(AnnotateNamespaceArgs),
}

/// Which Service annotation `--remove` drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKey {
    Global,
    Shared,
    Affinity,
}

/// `service.cilium.io/affinity`: which backends a global Service prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AffinityArg {
    /// Local backends; remote ones only when no local backend is ready.
    Local,
    /// Remote backends; local ones only when no remote backend is ready.
    Remote,
    /// All backends alike: removes the affinity annotation (no affinity means this on every
    /// Cilium release; see --literal-none).
    None,
}

#[derive(Debug, Args)]
pub struct AnnotateServiceArgs {
    /// The Service.
    #[arg(value_parser = service_name)]
    pub name: String,
    /// The Service's namespace.
    #[arg(long, short = 'n', default_value = "default", value_parser = namespace_name)]
    pub namespace: String,
    /// `--global` makes the Service global (`service.cilium.io/global: "true"`); `--global=false`
    /// removes that annotation (and its legacy alias), making it local again.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub global: Option<bool>,
    /// Which backends the Service prefers (`service.cilium.io/affinity`).
    #[arg(long, value_enum)]
    pub affinity: Option<AffinityArg>,
    /// With `--affinity none`: write the literal value `none` instead of removing the
    /// annotation. Cilium 1.18.x and 1.19 before the fix drop every remote backend for it
    /// (cilium/cilium#46623).
    #[arg(long, requires = "affinity")]
    pub literal_none: bool,
    /// `--shared=false` keeps this cluster's backends to itself (`service.cilium.io/shared`);
    /// `--shared` shares them (the default of a global Service).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub shared: Option<bool>,
    /// Remove these annotations (and their legacy `io.cilium/…` aliases): global, shared, affinity.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub remove: Vec<ServiceKey>,
    /// Only these clusters of the mesh (default: all of them).
    #[arg(long, value_delimiter = ',', value_name = "CLUSTER,...")]
    pub clusters: Vec<String>,
    /// Change an annotation that already has another value.
    #[arg(long)]
    pub overwrite: bool,
    /// Skip the clusters where the Service does not exist instead of refusing.
    #[arg(long)]
    pub allow_missing: bool,
    /// Annotate even though the ports differ between clusters or the namespace is not global.
    #[arg(long)]
    pub force: bool,
    /// Move legacy `io.cilium/…` annotations to their `service.cilium.io/…` keys.
    #[arg(long)]
    pub migrate_legacy: bool,
    /// Print, per cluster, the Service as it would be written, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub mesh: MeshArg,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args)]
pub struct AnnotateNamespaceArgs {
    /// The namespace.
    #[arg(value_parser = namespace_name)]
    pub name: String,
    /// `--global` sets `clustermesh.cilium.io/global: "true"`; `--global=false` sets "false"
    /// (the namespace's resources then stay in their cluster).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", required = true)]
    pub global: Option<bool>,
    /// Only these clusters of the mesh (default: all of them).
    #[arg(long, value_delimiter = ',', value_name = "CLUSTER,...")]
    pub clusters: Vec<String>,
    /// Change the annotation when it already has the other value.
    #[arg(long)]
    pub overwrite: bool,
    /// Skip the clusters where the namespace does not exist instead of refusing.
    #[arg(long)]
    pub allow_missing: bool,
    /// Print, per cluster, the namespace as it would be written, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub mesh: MeshArg,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Only this Service (shown even where it is not global).
    #[arg(value_parser = service_name)]
    pub name: Option<String>,
    /// The namespace to look in.
    #[arg(
        long,
        short = 'n',
        default_value = "default",
        conflicts_with = "all_namespaces",
        value_parser = namespace_name
    )]
    pub namespace: String,
    /// Look in every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// Also read the backends each cluster's agents actually use (`cilium-dbg service list` in
    /// one Ready agent per cluster; needs `create` on `pods/exec`) and report where they differ
    /// from the prediction.
    #[arg(long)]
    pub from_agents: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub mesh: MeshArg,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Debug, Args)]
pub struct TroubleshootArgs {
    /// Only the paths from or to these clusters (default: every ordered pair of the mesh).
    #[arg(value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// Vantage point: probe from this workstation, ask each cluster's agents (`cilium-dbg
    /// troubleshoot clustermesh` and `cilium-dbg status` in one Ready agent, or
    /// `kvstoremesh-dbg troubleshoot` with KVStoreMesh; needs `create` on `pods/exec`), or both.
    #[arg(long, value_enum, default_value = "both")]
    pub from: Vantage,
    #[command(flatten)]
    pub mesh: MeshArg,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Where `troubleshoot` looks at a path from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Vantage {
    Agents,
    Workstation,
    Both,
}

impl Vantage {
    pub fn workstation(self) -> bool {
        self != Vantage::Agents
    }
    pub fn agents(self) -> bool {
        self != Vantage::Workstation
    }
}

#[derive(Debug, Args)]
pub struct ConnectivityArgs {
    /// The namespace of the probe workload (made when missing, and then removed again; an
    /// existing namespace is left, only the probe's objects go).
    #[arg(long, short = 'n', default_value = crate::mesh::connectivity::NAME, value_parser = namespace_name)]
    pub namespace: String,
    /// The client image (needs sh, curl and ping; a mirror for air-gapped clusters).
    #[arg(long, alias = "image-client", default_value = crate::mesh::connectivity::DEFAULT_CLIENT_IMAGE, value_name = "IMAGE")]
    pub client_image: String,
    /// The server image (traefik/whoami or an image that runs like it: `--port`, `--name`).
    #[arg(long, alias = "image-server", default_value = crate::mesh::connectivity::DEFAULT_SERVER_IMAGE, value_name = "IMAGE", conflicts_with = "service")]
    pub server_image: String,
    /// Requests to the global Service from each cluster.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub requests: u32,
    /// Leave the probe workload in place (remove it later with `kubectl delete ns NAMESPACE`,
    /// or a run without --keep).
    #[arg(long)]
    pub keep: bool,
    /// Probe your own global Service (an HTTP service, best whoami-like) instead of deploying a
    /// server: only the client is deployed.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = service_ref)]
    pub service: Option<(String, String)>,
    /// How long to wait for the workload to become ready, and then for the mesh to route to it.
    #[arg(long, default_value = "2m", value_parser = crate::live::parse_timeout)]
    pub timeout: std::time::Duration,
    /// Print, per cluster, the objects it would create, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub mesh: MeshArg,
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
    /// The cluster to render for. Without it: the cluster whose `context` is $HELM_KUBECONTEXT;
    /// else refused (Helm does not pass its --kube-context to a post-renderer), unless
    /// --current-context.
    #[arg(long, short = 'c')]
    pub cluster: Option<String>,
    /// Without --cluster (and $HELM_KUBECONTEXT), render for the cluster whose `context` is the
    /// kubeconfig's current-context. Only when Helm installs into that same context.
    #[arg(long, conflicts_with = "cluster")]
    pub current_context: bool,
    /// Kubeconfig to read the current context from (only with --current-context).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Only these clusters of the mesh (default: all); they run in mesh-file order.
    #[arg(value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    #[command(flatten)]
    pub mesh: MeshArg,
    /// The chart: a repository chart (`cilium/cilium`), an OCI reference, a .tgz or a directory.
    #[arg(long, value_name = "REF")]
    pub chart: String,
    /// The chart version (Helm's --version).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// A values file with what every cluster shares (repeat; later files win). Values the mesh
    /// file owns (cluster.name/id, ipv4NativeRoutingCIDR, …) are refused when they disagree.
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Install the release where it does not exist yet (Helm's --install).
    #[arg(long)]
    pub install: bool,
    /// Keep the values the release was installed with (Helm's --reuse-values; -f files merge
    /// over them).
    #[arg(long)]
    pub reuse_values: bool,
    /// The Helm release name.
    #[arg(long, default_value = "cilium", value_parser = namespace_name)]
    pub release: String,
    /// Print, per cluster, the Helm command and Helm's own dry run (--dry-run=server) of the
    /// post-rendered release (Secret values hidden), and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Show, per cluster, what the release would change in the live objects (Secret values
    /// hidden); implies --dry-run.
    #[arg(long)]
    pub diff: bool,
    /// Show Secret values in --dry-run and --diff output.
    #[arg(long)]
    pub show_secrets: bool,
    /// How many clusters to upgrade at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Go on with the other clusters after one failed (default: stop at the first failure).
    #[arg(long)]
    pub continue_on_error: bool,
    /// The Helm binary (default: `helm` on PATH).
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
    /// How long one Helm run may take before it is killed: 10m, 90s; 0 waits forever.
    #[arg(long, default_value = "10m", value_parser = crate::live::parse_timeout)]
    pub timeout: std::time::Duration,
    /// Then wait until the mesh is healthy (the check of `status --wait`).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = crate::live::parse_timeout)]
    pub wait_timeout: std::time::Duration,
    /// Path to the kubeconfig file (given to Helm too; default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for each request to a cluster (--diff, --wait): 30s; 0 waits forever.
    #[arg(long, default_value = "30s", value_parser = crate::live::parse_timeout)]
    pub request_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ValuesArgs {
    #[command(flatten)]
    pub mesh: MeshArg,
    /// The cluster to make the values for.
    #[arg(long, short = 'c')]
    pub cluster: String,
    /// Your own values files, in the order Helm gets them: checked against the mesh file, and
    /// the lists the mesh extends (nonMasqueradeCIDRs, clustermesh.config.clusters) start with
    /// their entries (repeat for each file).
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Print the mesh CA's key (tls.ca.key) when the mesh file has a CA; without it (or
    /// --ca-in-cluster) such a mesh is refused: the chart has no value that refers to a Secret
    /// holding the CA.
    #[arg(long)]
    pub show_secrets: bool,
    /// Leave the mesh CA's key out: each cluster already holds the CA in Secret cilium-ca
    /// (`kubectl mesh ca sync`), which certgen reuses. Only when your values make the chart
    /// issue no certificates itself (tls.auto.method cronJob or certmanager).
    #[arg(long, conflicts_with = "show_secrets")]
    pub ca_in_cluster: bool,
    /// Output format (default yaml).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
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

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
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

/// A namespace name as Kubernetes (and kubectl) takes it: an RFC 1123 label.
pub fn namespace_name(s: &str) -> Result<String, String> {
    crate::mesh::names::dns1123_label(s).map(|()| s.to_string())
}

/// A Service name as Kubernetes takes it: an RFC 1035 label.
pub fn service_name(s: &str) -> Result<String, String> {
    crate::mesh::names::dns1035_label(s).map(|()| s.to_string())
}

/// `NAMESPACE/NAME` of a Service.
pub fn service_ref(s: &str) -> Result<(String, String), String> {
    let (ns, name) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not NAMESPACE/NAME (e.g. default/webpod)"))?;
    Ok((namespace_name(ns)?, service_name(name)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_interface_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
