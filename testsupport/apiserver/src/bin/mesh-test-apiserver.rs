//! Starts in-memory API servers from YAML seed files and prints their URLs.
//!
//! ```text
//! mesh-test-apiserver [--seed FILE]... [--context NAME=FILE]... [--empty NAME]...
//!                     [--latency-ms N] [--kubeconfig PATH]
//! ```
//!
//! Each `--seed` starts one server named `c0`, `c1`, … (in order); each
//! `--context NAME=FILE` starts one named NAME; `--empty NAME` starts an
//! unseeded one. With no server requested, one empty `c0` starts. Prints
//! `NAME URL` per line, optionally writes a kubeconfig whose current context
//! is the first server, then runs until killed.

use std::path::PathBuf;
use std::time::Duration;

use mesh_test_apiserver::{ApiServer, write_kubeconfig};

const USAGE: &str = "usage: mesh-test-apiserver [--seed FILE]... [--context NAME=FILE]... [--empty NAME]... [--latency-ms N] [--kubeconfig PATH]";

fn fail(msg: &str) -> ! {
    eprintln!("mesh-test-apiserver: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn die(msg: &str) -> ! {
    eprintln!("mesh-test-apiserver: {msg}");
    std::process::exit(1)
}

fn main() {
    let mut servers: Vec<(String, Option<PathBuf>)> = Vec::new();
    let mut latency = Duration::ZERO;
    let mut kubeconfig: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--seed" => {
                let v = value();
                servers.push((format!("c{}", servers.len()), Some(v.into())));
            }
            "--context" => {
                let v = value();
                let (name, file) = v
                    .split_once('=')
                    .unwrap_or_else(|| fail("--context takes NAME=FILE"));
                servers.push((name.to_string(), Some(file.into())));
            }
            "--empty" => servers.push((value(), None)),
            "--latency-ms" => {
                let ms = value()
                    .parse()
                    .unwrap_or_else(|_| fail("--latency-ms takes a number"));
                latency = Duration::from_millis(ms);
            }
            "--kubeconfig" => kubeconfig = Some(value().into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => fail(&format!("unknown argument {other}")),
        }
    }
    if servers.is_empty() {
        servers.push(("c0".into(), None));
    }
    let mut running = Vec::new();
    for (name, seed) in &servers {
        let s = ApiServer::start();
        s.set_latency(latency);
        if let Some(path) = seed {
            let yaml = std::fs::read_to_string(path)
                .unwrap_or_else(|e| die(&format!("reading {}: {e}", path.display())));
            if let Err(e) = s.try_seed_yaml(&yaml) {
                die(&format!("seeding {name} from {}: {e}", path.display()));
            }
        }
        println!("{name} {}", s.url());
        running.push((name.clone(), s));
    }
    if let Some(path) = kubeconfig {
        let urls: Vec<(String, String)> =
            running.iter().map(|(n, s)| (n.clone(), s.url())).collect();
        let ctx: Vec<(&str, &str)> = urls.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
        write_kubeconfig(&path, &ctx, Some(ctx[0].0));
        eprintln!("kubeconfig written to {}", path.display());
    }
    loop {
        std::thread::park();
    }
}
