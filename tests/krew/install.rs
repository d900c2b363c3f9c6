//! krew's install from a local archive: `internal/download/{downloader.go,verifier.go}`,
//! `internal/installation/{install.go,move.go}`, `internal/pathutil/pathutil.go`.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Lexical `filepath.Clean`.
fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// `pathutil.IsSubPath`: `filepath.Rel(base, sub)` does not start with `..`.
fn is_sub_path(base: &Path, sub: &Path) -> bool {
    let (base, sub) = (clean(base), clean(sub));
    sub.strip_prefix(&base)
        .is_ok_and(|rel| !rel.to_string_lossy().starts_with(".."))
}

/// One tar entry as krew's extractor reads it.
pub struct Entry {
    pub name: String,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(text.trim(), 8).unwrap_or_else(|_| panic!("bad octal field {text:?}"))
}

/// A gzipped tar, decompressed by gzip(1), read as ustar. Extensions Go would fold into the next
/// header (pax `x`, GNU `L`/`K`) are refused here: `scripts/dist` writes plain ustar.
pub fn read_tar_gz(archive: &[u8]) -> Result<Vec<Entry>, String> {
    // http.DetectContentType: gzip is sniffed by its magic.
    if !archive.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Err("mime type for archive file is not a supported archive format".into());
    }
    let tar = gunzip(archive)?;
    let mut entries = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        if sum != octal(&h[148..156]) {
            return Err(format!(
                "tar extraction error: bad header checksum at offset {at}"
            ));
        }
        let field = |r: std::ops::Range<usize>| {
            String::from_utf8_lossy(&h[r])
                .trim_end_matches('\0')
                .to_string()
        };
        let mut name = field(0..100);
        if &h[257..262] == b"ustar" {
            let prefix = field(345..500);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let size = octal(&h[124..136]) as usize;
        let start = at + 512;
        let data = tar
            .get(start..start + size)
            .ok_or("tar extraction error: unexpected EOF")?
            .to_vec();
        let typeflag = match h[156] {
            b'x' | b'L' | b'K' => {
                return Err(format!(
                    "tar header type {:?} is not read by this checker",
                    h[156] as char
                ));
            }
            0 if name.ends_with('/') => b'5',
            0 => b'0',
            t => t,
        };
        entries.push(Entry {
            name,
            typeflag,
            mode: octal(&h[100..108]) as u32,
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            mtime: octal(&h[136..148]),
            data,
        });
        at = start + size.div_ceil(512) * 512;
    }
    Ok(entries)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e} (apt-get install gzip)"))?;
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer.join().unwrap();
    if !out.status.success() {
        return Err("failed to create gzip reader".into());
    }
    Ok(out.stdout)
}

/// `extractTARGZ`: regular files (with their mode) and directories; anything else refused.
fn extract(entries: &[Entry], dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    for e in entries {
        if e.name == "pax_global_header" {
            continue;
        }
        if e.name.contains("..") {
            return Err(format!(
                "refusing to unpack archive with suspicious entry {:?}",
                e.name
            ));
        }
        if e.name.starts_with('/') || e.name.starts_with('\\') {
            return Err(format!(
                "refusing to unpack archive with absolute entry {:?}",
                e.name
            ));
        }
        let path = dir.join(&e.name);
        match e.typeflag {
            b'5' => std::fs::create_dir_all(&path).map_err(|e| e.to_string())?,
            b'0' => {
                std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .mode(e.mode & 0o7777)
                    .open(&path)
                    .map_err(|err| format!("failed to create file {:?}: {err}", e.name))?;
                std::io::Write::write_all(&mut f, &e.data).map_err(|e| e.to_string())?;
            }
            t => {
                return Err(format!(
                    "unable to handle file type {} for {:?} in tar",
                    t as char, e.name
                ));
            }
        }
    }
    Ok(())
}

/// `*` and `?` within one path element (`filepath.Match` without classes).
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// `findMoveTargets` for one file operation: (from, to) pairs.
fn move_targets(
    from_dir: &Path,
    to_dir: &Path,
    from: &str,
    to: &str,
) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    if clean(Path::new(to)).to_str() != Some(to) {
        return Err(format!(
            "the provided path is not clean, {to:?} should be {:?}",
            clean(Path::new(to))
        ));
    }
    let allowed = |f: &Path, t: &Path| is_sub_path(from_dir, f) && is_sub_path(to_dir, t);
    // getDirectMove: `from` names an existing path.
    let direct = clean(&from_dir.join(from));
    if direct.exists() {
        let to_path = if clean(Path::new(to)) == Path::new(".") {
            to_dir.join(direct.file_name().ok_or("no file name")?)
        } else {
            clean(&to_dir.join(to))
        };
        if !allowed(&direct, &to_path) {
            return Err(format!(
                "can't move, move target {direct:?} -> {to_path:?} is out of bounds"
            ));
        }
        return Ok(vec![(direct, to_path)]);
    }
    // Glob, one level (what a release archive flat at its root needs).
    let pattern = Path::new(from);
    let (dir, last) = (
        pattern.parent().unwrap_or(Path::new("")),
        pattern.file_name().ok_or("empty `from`")?,
    );
    if dir.to_string_lossy().contains(['*', '?', '[']) || last.to_string_lossy().contains('[') {
        return Err(format!("glob {from:?} is beyond this checker"));
    }
    let new_dir = clean(&to_dir.join(to));
    let mut moves = Vec::new();
    if let Ok(list) = std::fs::read_dir(from_dir.join(dir)) {
        let mut names: Vec<_> = list.filter_map(Result::ok).map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            if glob_match(last.as_encoded_bytes(), n.as_encoded_bytes()) {
                let f = clean(&from_dir.join(dir).join(&n));
                let t = new_dir.join(&n);
                if !allowed(&f, &t) {
                    return Err(format!(
                        "can't move, move target {f:?} -> {t:?} is not a subpath"
                    ));
                }
                moves.push((f, t));
            }
        }
    }
    if moves.is_empty() {
        return Err(format!(
            "no files in the plugin archive matched the glob pattern={from}"
        ));
    }
    Ok(moves)
}

/// `Install` for one platform from a local archive (`--archive`): checksum, extract, move the
/// `files`, check `bin`, link it into `root/bin`. Returns the link.
pub fn krew_install(
    plugin: &Value,
    platform: &Value,
    archive: &Path,
    root: &Path,
) -> Result<PathBuf, String> {
    let bytes = std::fs::read(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let got = hex::encode(Sha256::digest(&bytes));
    let want = platform["sha256"].as_str().unwrap_or("");
    if got != want {
        return Err(format!("checksum does not match, want: {want}, got {got}"));
    }
    let staging = root.join("downloads");
    std::fs::create_dir_all(&staging).unwrap();
    extract(&read_tar_gz(&bytes)?, &staging)?;

    let name = plugin["metadata"]["name"].as_str().unwrap();
    let version = plugin["spec"]["version"].as_str().unwrap();
    let install_dir = root.join("store").join(name).join(version);
    let tmp = root.join("move-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let default_ops = json!([{"from": "*", "to": "."}]);
    let ops = if platform["files"].is_null() {
        &default_ops
    } else {
        &platform["files"]
    };
    for op in ops.as_array().unwrap() {
        for (from, to) in move_targets(
            &staging,
            &tmp,
            op["from"].as_str().unwrap(),
            op["to"].as_str().unwrap(),
        )? {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::rename(&from, &to)
                .map_err(|e| format!("could not rename {from:?} to {to:?}: {e}"))?;
        }
    }
    std::fs::create_dir_all(install_dir.parent().unwrap()).unwrap();
    std::fs::rename(&tmp, &install_dir).unwrap();

    let bin = install_dir.join(platform["bin"].as_str().unwrap());
    if !is_sub_path(&install_dir, &bin) {
        return Err(format!(
            "the fullPath {bin:?} does not extend the sub-fullPath {install_dir:?}"
        ));
    }
    if !bin.exists() {
        return Err(format!(
            "can't create symbolic link, source binary ({bin:?}) cannot be found in extracted archive"
        ));
    }
    let bin_dir = root.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let link = bin_dir.join(format!("kubectl-{}", name.replace('-', "_")));
    std::os::unix::fs::symlink(&bin, &link).unwrap();

    // validate-krew-manifest: a LICENSE (or alike) among the installed files.
    let licensed = std::fs::read_dir(&install_dir)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            let n = e.file_name().to_string_lossy().to_lowercase();
            e.path().is_file()
                && [
                    "license",
                    "license.txt",
                    "license.md",
                    "licenses",
                    "copying",
                    "copying.txt",
                ]
                .contains(&n.as_str())
        });
    if !licensed {
        return Err(
            "LICENSE (or alike) file is not extracted from the archive as part of installation"
                .into(),
        );
    }
    Ok(link)
}
