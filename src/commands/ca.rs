//! `kubectl mesh ca sync`: one CA for the whole mesh. Makes Secret `cilium-ca` identical in
//! every cluster, optionally writes it out as the mesh file's `ca:`, and lists the certificates
//! that must be re-issued (a `helm upgrade` with the post-renderer does it).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{EXIT_PROBLEMS, Reached, block_on, dry_run_yaml, load_mesh, load_mesh_ca, reach_all};
use crate::cli::CaSyncArgs;
use crate::live::Kind;
use crate::mesh::state::{Live, secret_text};
use crate::mesh::{Cluster, Mesh};
use crate::render::Ca;

const SECRET: &str = "cilium-ca";

pub fn sync(args: CaSyncArgs) -> anyhow::Result<ExitCode> {
    let path = &args.mesh.mesh;
    let mesh = load_mesh(path)?;
    if mesh.is_bundle() {
        bail!(
            "{} is a mesh of several CAs (trust: bundle, or clusters with a ca: of their own): each cluster keeps its CA and the CA bundles carry them all, so there is no one CA to sync. To make it a mesh of one CA, remove `trust: bundle` and the clusters' `ca:` first",
            path.display()
        );
    }
    let opts = args.kube.options();
    let reached = block_on(reach_all(&mesh, &opts))??;
    let ca = source_ca(&mesh, path, &reached, args.from.as_deref())?;

    if args.dry_run {
        for (c, r) in mesh.clusters.iter().zip(&reached) {
            let live = r.live.as_ref().map_err(|e| anyhow!("{e:#}"))?;
            let objects = wanted_secret(&mesh, live, &ca)
                .into_iter()
                .collect::<Vec<_>>();
            let hidden = (!args.show_secrets).then_some("<hidden: pass --show-secrets>");
            let shown = objects;
            outln!(
                "# cluster {} (context {}): {} object(s) to write",
                c.name,
                c.context,
                shown.len()
            );
            out!("{}", dry_run_yaml(&shown, hidden)?);
        }
        if let Some(dir) = &args.write_files {
            outln!(
                "# would write {0}/ca.crt and {0}/ca.key (mode 0600) and record them as `ca:` in {1}",
                dir.display(),
                path.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    // Everything is written before anything is reported: a reader that goes away (closed
    // stdout) must not stop the command halfway.
    let files_note = match &args.write_files {
        Some(dir) => Some(write_files(dir, path, &ca)?),
        None => None,
    };
    let results = block_on(crate::live::for_each(
        mesh.clusters.iter().zip(&reached).collect(),
        opts.parallel,
        |(c, r): (&Cluster, &Reached)| {
            let (mesh, ca) = (&mesh, &ca);
            async move {
                let client = r.client.as_ref().ok_or_else(|| {
                    anyhow!(
                        "{}",
                        r.live
                            .as_ref()
                            .err()
                            .map(|e| format!("{e:#}"))
                            .unwrap_or_default()
                    )
                })?;
                let written = client
                    .converge(|live| Ok(wanted_secret(mesh, live, ca).into_iter().collect()))
                    .await?;
                let stale = stale_certificates(client, ca).await?;
                Ok::<_, anyhow::Error>((c, written, stale))
            }
        },
    ))?;
    if let Some(note) = files_note {
        outln!("{note}");
    }
    let mut failed = false;
    let mut reissue = false;
    for (c, result) in mesh.clusters.iter().zip(results) {
        match result {
            Ok((_, written, stale)) => {
                outln!(
                    "{}: {}",
                    c.name,
                    if written.is_empty() {
                        "cilium-ca already the mesh CA"
                    } else {
                        "wrote Secret cilium-ca"
                    }
                );
                if !stale.is_empty() {
                    reissue = true;
                    outln!("{}: must re-issue {}", c.name, stale.join(", "));
                }
            }
            Err(e) => {
                failed = true;
                outln!("{}: failed: {e:#}", c.name);
            }
        }
    }
    if reissue {
        outln!(
            "re-issue them with `kubectl mesh upgrade --chart cilium/cilium --reuse-values` (helm upgrade with the post-renderer on every cluster, which issues certificates from the mesh CA)"
        );
    }
    if failed {
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

/// The CA to spread: `--from` a cluster's `cilium-ca`, else the mesh file's `ca:`.
fn source_ca(
    mesh: &Mesh,
    path: &Path,
    reached: &[Reached],
    from: Option<&str>,
) -> anyhow::Result<Ca> {
    let file_ca = load_mesh_ca(mesh, path)?;
    let Some(from) = from else {
        return file_ca.ok_or_else(|| {
            anyhow!(
                "no CA to sync: pass --from CLUSTER (one of {}) or set `ca:` in {}",
                mesh.cluster_names().join(", "),
                path.display()
            )
        });
    };
    let index = mesh
        .clusters
        .iter()
        .position(|c| c.name == from)
        .ok_or_else(|| {
            anyhow!(
                "--from: {}",
                mesh.cluster(from)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            )
        })?;
    let live = reached[index]
        .live
        .as_ref()
        .map_err(|e| anyhow!("--from {from}: {e:#}"))?;
    let secret = live.ca.as_ref().ok_or_else(|| {
        anyhow!(
            "--from {from}: cluster {from} has no Secret {}/{SECRET}",
            mesh.namespace()
        )
    })?;
    let (Some(cert), Some(key)) = (secret_text(secret, "ca.crt"), secret_text(secret, "ca.key"))
    else {
        bail!(
            "--from {from}: Secret {}/{SECRET} lacks ca.crt or ca.key",
            mesh.namespace()
        );
    };
    let ca = Ca::from_pem(&cert, &key)
        .and_then(|ca| ca.usable_at(time::OffsetDateTime::now_utc()).map(|()| ca))
        .with_context(|| format!("--from {from}: Secret {SECRET}"))?;
    if let Some(file_ca) = file_ca
        && !file_ca.same_cert(&ca.cert_pem)
    {
        bail!(
            "--from {from}: the mesh file's `ca:` is a different CA, and render would issue from it: drop --from, or pass --write-files DIR to make {from}'s CA the mesh file's"
        );
    }
    Ok(ca)
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Whether `secret`'s last-applied-configuration annotation (left by `kubectl apply`) holds a
/// CA key other than `ca`'s: key material a sync must not leave behind.
fn stale_last_applied(secret: &Value, ca: &Ca) -> bool {
    let Some(text) = secret["metadata"]["annotations"][LAST_APPLIED].as_str() else {
        return false;
    };
    let Ok(applied) = serde_json::from_str::<Value>(text) else {
        // Unreadable: it may hold anything; it goes.
        return true;
    };
    let data_key = applied["data"]["ca.key"]
        .as_str()
        .and_then(|k| B64.decode(k.trim()).ok())
        .map(|k| String::from_utf8_lossy(&k).into_owned());
    let string_key = applied["stringData"]["ca.key"].as_str().map(str::to_string);
    [data_key, string_key]
        .into_iter()
        .flatten()
        .any(|k| k.trim() != ca.key_pem.trim())
}

/// Secret `cilium-ca` holding `ca`, when the cluster's differs (or is missing, or keeps an old
/// key in its last-applied-configuration annotation, which is then dropped).
fn wanted_secret(mesh: &Mesh, live: &Live, ca: &Ca) -> Option<Value> {
    let (cert, key) = (B64.encode(&ca.cert_pem), B64.encode(&ca.key_pem));
    match &live.ca {
        Some(s)
            if secret_text(s, "ca.crt").is_some_and(|c| ca.same_cert(&c))
                && secret_text(s, "ca.key").as_deref().map(str::trim)
                    == Some(ca.key_pem.trim())
                && !stale_last_applied(s, ca) =>
        {
            None
        }
        Some(s) => {
            let mut s = s.clone();
            s["data"]["ca.crt"] = json!(cert);
            s["data"]["ca.key"] = json!(key);
            if stale_last_applied(&s, ca)
                && let Some(a) = s["metadata"]["annotations"].as_object_mut()
            {
                a.remove(LAST_APPLIED);
            }
            Some(s)
        }
        None => {
            let mut s = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": SECRET, "namespace": mesh.namespace()},
                "data": {"ca.crt": cert, "ca.key": key}});
            if let Some(config) = &live.config {
                crate::render::adopt(&mut s, config);
            }
            Some(s)
        }
    }
}

/// TLS Secrets in Cilium's namespace whose certificate the CA did not sign.
async fn stale_certificates(
    client: &crate::live::ClusterClient,
    ca: &Ca,
) -> anyhow::Result<Vec<String>> {
    let secrets = client.list(Kind::Secret).await?;
    Ok(secrets
        .iter()
        .filter(|s| s["metadata"]["name"] != SECRET)
        .filter_map(|s| {
            let cert = secret_text(s, "tls.crt")?;
            (!ca.signed(&cert)).then(|| s["metadata"]["name"].as_str().unwrap_or("?").to_string())
        })
        .collect())
}

/// Writes ca.crt and ca.key (0600) into `dir` and points the mesh file's `ca:` at them; says
/// what it wrote.
fn write_files(dir: &Path, mesh_path: &Path, ca: &Ca) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    super::write_atomic(&dir.join("ca.crt"), &ca.cert_pem, Some(0o600))?;
    super::write_atomic(&dir.join("ca.key"), &ca.key_pem, Some(0o600))?;
    // Relative to the real mesh file's folder (a symlinked mesh file resolves `ca:` there).
    let base = super::mesh_dir(mesh_path);
    let base = std::fs::canonicalize(&base)
        .with_context(|| format!("cannot resolve {}", base.display()))?;
    let rel = |f: &str| -> anyhow::Result<String> {
        let full = std::fs::canonicalize(dir.join(f))
            .with_context(|| format!("cannot resolve {}", dir.join(f).display()))?;
        Ok(full
            .strip_prefix(&base)
            .unwrap_or(&full)
            .display()
            .to_string())
    };
    let text = super::read_text(mesh_path, 16 << 20)
        .with_context(|| format!("cannot read {}", mesh_path.display()))?;
    let (cert, key) = (rel("ca.crt")?, rel("ca.key")?);
    let text =
        crate::mesh::edit::set_top_level(&text, "ca", &format!("{{cert: {cert:?}, key: {key:?}}}"))
            .with_context(|| format!("cannot record `ca:` in {}", mesh_path.display()))?;
    let check = Mesh::parse(&text)
        .map_err(|e| anyhow!("recording `ca:` broke {}: {e}", mesh_path.display()))?;
    if check.ca.as_ref().map(|c| (c.cert.as_str(), c.key.as_str()))
        != Some((cert.as_str(), key.as_str()))
    {
        bail!(
            "cannot record `ca:` in {}: edit it by hand (ca: {{cert: {cert}, key: {key}}})",
            mesh_path.display()
        );
    }
    super::write_atomic(mesh_path, &text, None)?;
    Ok(format!(
        "wrote {0}/ca.crt and {0}/ca.key (mode 0600); {1} now has `ca:`",
        dir.display(),
        mesh_path.display()
    ))
}

/// The CAs of the mesh file, loaded: one mesh CA (`ca:`), or in a mesh of several CAs
/// (`trust: bundle`) each cluster's own.
pub struct Trust {
    /// The top-level `ca:` (one CA for the mesh, or the CA of the clusters without their own).
    pub mesh_ca: Option<Ca>,
    /// A mesh of several CAs: every cluster's CA, in mesh-file order; empty otherwise.
    pub clusters: Vec<ClusterCa>,
}

/// One cluster's CA in a mesh of several CAs.
pub struct ClusterCa {
    pub cluster: String,
    /// The CA certificate (PEM, trimmed).
    pub cert_pem: String,
    /// The CA with its key, when the mesh file gives the key.
    pub ca: Option<Ca>,
}

impl Trust {
    pub fn is_bundle(&self) -> bool {
        !self.clusters.is_empty()
    }

    fn of(&self, cluster: &str) -> Option<&ClusterCa> {
        self.clusters.iter().find(|c| c.cluster == cluster)
    }

    /// The CA that issues `cluster`'s certificates: its own (with a key), or the mesh CA.
    pub fn signing_ca(&self, cluster: &str) -> Option<&Ca> {
        if self.is_bundle() {
            self.of(cluster)?.ca.as_ref()
        } else {
            self.mesh_ca.as_ref()
        }
    }

    /// The CA bundle `cluster`'s chart must carry (a mesh of several CAs only).
    pub fn bundle(&self, cluster: &str) -> Option<crate::render::Bundle> {
        let own = self.of(cluster)?;
        let mut cas: Vec<String> = Vec::new();
        for c in &self.clusters {
            if !cas
                .iter()
                .any(|p| crate::render::certs::same_cert_pem(p, &c.cert_pem))
            {
                cas.push(c.cert_pem.clone());
            }
        }
        Some(crate::render::Bundle {
            cas,
            own: own.cert_pem.clone(),
        })
    }

    /// What the live checks compare with: one CA (PEM) or each cluster's (PEM by cluster).
    pub fn expected(&self) -> crate::mesh::trust::ExpectedCas {
        if self.is_bundle() {
            crate::mesh::trust::ExpectedCas::Bundle(
                self.clusters
                    .iter()
                    .map(|c| (c.cluster.clone(), c.cert_pem.clone()))
                    .collect(),
            )
        } else {
            crate::mesh::trust::ExpectedCas::Shared(
                self.mesh_ca.as_ref().map(|c| c.cert_pem.clone()),
            )
        }
    }
}

/// Loads the mesh file's CAs, paths relative to the (real) mesh file: the top-level `ca:` as
/// [`load_mesh_ca`] does, and in a mesh of several CAs every cluster's (`ca:` of the cluster, or
/// the top-level one). A CA that cannot be used is refused, naming the cluster and field.
pub fn load_trust(mesh: &Mesh, mesh_path: &Path) -> anyhow::Result<Trust> {
    let mesh_ca = load_mesh_ca(mesh, mesh_path)?;
    let mut clusters = Vec::new();
    if mesh.is_bundle() {
        let dir = super::mesh_dir(mesh_path);
        let now = time::OffsetDateTime::now_utc();
        for c in &mesh.clusters {
            let Some(files) = &c.ca else {
                // Validation guarantees a top-level `ca:` here.
                let ca = mesh_ca.as_ref().ok_or_else(|| {
                    anyhow!(
                        "cluster {:?} has no `ca:` and the mesh file none either",
                        c.name
                    )
                })?;
                clusters.push(ClusterCa {
                    cluster: c.name.clone(),
                    cert_pem: ca.cert_pem.trim().to_string(),
                    ca: Some(Ca::from_pem(&ca.cert_pem, &ca.key_pem)?),
                });
                continue;
            };
            let what = |field: &str, p: &Path| {
                format!(
                    "cluster {:?}, ca.{field} {} (in {})",
                    c.name,
                    p.display(),
                    mesh_path.display()
                )
            };
            let cert_path = dir.join(&files.cert);
            let cert = super::read_text(&cert_path, super::MAX_PEM_FILE)
                .with_context(|| format!("cannot read {}", what("cert", &cert_path)))?;
            let ca = match &files.key {
                Some(key) => {
                    let key_path = dir.join(key);
                    let key = super::read_text(&key_path, super::MAX_PEM_FILE)
                        .with_context(|| format!("cannot read {}", what("key", &key_path)))?;
                    let ca = Ca::from_pem(&cert, &key)
                        .and_then(|ca| ca.usable_at(now).map(|()| ca))
                        .with_context(|| what("cert/key", &cert_path))?;
                    Some(ca)
                }
                None => {
                    crate::render::certs::check_ca_cert(&cert, now)
                        .with_context(|| what("cert", &cert_path))?;
                    None
                }
            };
            let blocks = crate::render::certs::pem_blocks(&cert);
            if blocks.len() != 1 {
                bail!(
                    "{}: holds {} certificates; give exactly one CA certificate per cluster",
                    what("cert", &cert_path),
                    blocks.len()
                );
            }
            clusters.push(ClusterCa {
                cluster: c.name.clone(),
                cert_pem: blocks[0].clone(),
                ca,
            });
        }
    }
    Ok(Trust { mesh_ca, clusters })
}
