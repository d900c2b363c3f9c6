//! krew's manifest rules: `internal/index/validation/validate.go`, `pkg/constants/constants.go`,
//! `internal/installation/semver/version.go` (+ k8s.io/apimachinery `ParseSemantic`),
//! `cmd/validate-krew-manifest/main.go` and `internal/installation/platform.go`.

use serde_json::Value;

pub const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";

/// `ValidatePlugin(name, p)` plus validate-krew-manifest's platform checks.
pub fn validate_plugin(name: &str, p: &Value) -> Result<(), String> {
    if p["apiVersion"] != API_VERSION {
        return Err(format!(
            "plugin manifest has apiVersion={}, not supported",
            p["apiVersion"]
        ));
    }
    if p["kind"] != "Plugin" {
        return Err(format!(
            "plugin manifest has kind={}, but only \"Plugin\" is supported",
            p["kind"]
        ));
    }
    if !is_safe_plugin_name(name) {
        return Err(format!(
            "the plugin name {name:?} is not allowed, must match ^[\\w-]+$"
        ));
    }
    if p["metadata"]["name"] != name {
        return Err(format!(
            "plugin should be named {name:?}, not {}",
            p["metadata"]["name"]
        ));
    }
    let spec = &p["spec"];
    let short = string(&spec["shortDescription"], "shortDescription")?;
    if short.is_empty() {
        return Err("should have a short description".into());
    }
    if short.contains(['\r', '\n']) {
        return Err("should not have line breaks in short description".into());
    }
    let platforms = match &spec["platforms"] {
        Value::Array(a) if !a.is_empty() => a,
        Value::Null | Value::Array(_) => return Err("should have a platform specified".into()),
        other => return Err(format!("platforms is not a list: {other}")),
    };
    let version = string(&spec["version"], "version")?;
    if version.is_empty() {
        return Err("should have a version specified".into());
    }
    parse_krew_semver(version).map_err(|e| format!("failed to parse plugin version: {e}"))?;
    for (i, pl) in platforms.iter().enumerate() {
        validate_platform(pl).map_err(|e| format!("platform {i} is badly constructed: {e}"))?;
    }
    // cmd/validate-krew-manifest: every platform is used, none overlaps another.
    for (i, pl) in platforms.iter().enumerate() {
        if !SUPPORTED
            .iter()
            .any(|(os, arch)| selector_matches(&pl["selector"], os, arch))
        {
            return Err(format!(
                "spec.platform[{i}]'s selector doesn't match any supported platforms"
            ));
        }
    }
    for (os, arch) in SUPPORTED {
        let hits: Vec<usize> = (0..platforms.len())
            .filter(|&i| selector_matches(&platforms[i]["selector"], os, arch))
            .collect();
        if hits.len() > 1 {
            return Err(format!(
                "multiple spec.platforms (at indexes {hits:?}) have overlapping selectors that select {os}/{arch}"
            ));
        }
    }
    Ok(())
}

/// `allPlatforms()` of cmd/validate-krew-manifest.
const SUPPORTED: [(&str, &str); 11] = [
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str, String> {
    match v {
        Value::Null => Ok(""),
        Value::String(s) => Ok(s),
        other => Err(format!("{field} is not a string: {other}")),
    }
}

/// `IsSafePluginName`: `^[\w-]+$` and not a Windows device name.
pub fn is_safe_plugin_name(name: &str) -> bool {
    const FORBIDDEN: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// krew's `semver.Parse`: a leading `v`, then `ParseSemantic`: three numeric components without
/// leading zeros, then optional `-pre.release` and `+build` of `[0-9A-Za-z-]` dot-separated parts.
fn parse_krew_semver(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix('v')
        .ok_or_else(|| format!("version string {s:?} not starting with 'v'"))?;
    let numbers_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (numbers, extra) = rest.split_at(numbers_end);
    let components: Vec<&str> = numbers.split('.').collect();
    if components.len() != 3 || components.iter().any(|c| c.is_empty()) {
        return Err(format!("illegal version string {s:?}"));
    }
    for c in &components {
        if c.len() > 1 && c.starts_with('0') {
            return Err(format!(
                "illegal zero-prefixed version component {c:?} in {s:?}"
            ));
        }
    }
    let ident_ok = |part: &str| {
        part.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    let (pre, build) = match extra.split_once('+') {
        Some((pre, build)) => (pre, Some(build)),
        None => (extra, None),
    };
    let pre = match pre {
        "" => None,
        p => Some(p.strip_prefix('-').ok_or_else(|| {
            format!("could not parse pre-release/metadata ({extra}) in version {s:?}")
        })?),
    };
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return Err(format!(
            "could not parse pre-release/metadata ({extra}) in version {s:?}"
        ));
    }
    for c in pre.unwrap_or("").split('.') {
        if c.len() > 1 && c.starts_with('0') && c.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "illegal zero-prefixed version component {c:?} in {s:?}"
            ));
        }
    }
    Ok(())
}

/// `validatePlatform`.
fn validate_platform(p: &Value) -> Result<(), String> {
    if string(&p["uri"], "uri")?.is_empty() {
        return Err("`uri` has to be set".into());
    }
    let sha = string(&p["sha256"], "sha256")?;
    if sha.is_empty() {
        return Err("`sha256` sum has to be set".into());
    }
    if sha.len() != 64 || !sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(format!(
            "`sha256` value {sha} is not valid, must match pattern ^[a-f0-9]{{64}}$"
        ));
    }
    if string(&p["bin"], "bin")?.is_empty() {
        return Err("`bin` has to be set".into());
    }
    match &p["files"] {
        Value::Null => {}
        Value::Array(ops) if ops.is_empty() => {
            return Err("`files` is invalid: `files` has to be unspecified or non-empty".into());
        }
        Value::Array(ops) => {
            for op in ops {
                if string(&op["from"], "from")?.is_empty() {
                    return Err("`files` is invalid: `from` field has to be set".into());
                }
                if string(&op["to"], "to")?.is_empty() {
                    return Err("`files` is invalid: `to` field has to be set".into());
                }
            }
        }
        other => return Err(format!("`files` is not a list: {other}")),
    }
    validate_selector(&p["selector"]).map_err(|e| format!("invalid platform selector: {e}"))
}

/// `validateSelector`: only `os` and `arch`, not empty.
fn validate_selector(sel: &Value) -> Result<(), String> {
    if sel.is_null() {
        return Err("nil selector is not supported".into());
    }
    let labels = &sel["matchLabels"];
    let exprs = &sel["matchExpressions"];
    let exprs_len = exprs.as_array().map_or(0, Vec::len);
    if labels.is_null() && exprs_len == 0 {
        return Err("empty selector is not supported".into());
    }
    let mut keys: Vec<&str> = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    keys.extend(
        exprs
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["key"].as_str().unwrap_or("")),
    );
    if let Some(k) = keys.iter().find(|k| **k != "os" && **k != "arch") {
        return Err(format!("key {k:?} not supported"));
    }
    if labels.as_object().is_some_and(|m| m.is_empty()) {
        return Err("`matchLabels` specified but empty".into());
    }
    if exprs.as_array().is_some_and(|a| a.is_empty()) {
        return Err("`matchExpressions` specified but empty".into());
    }
    Ok(())
}

/// `metav1.LabelSelectorAsSelector(sel).Matches({os, arch})`.
pub fn selector_matches(sel: &Value, os: &str, arch: &str) -> bool {
    let label = |k: &str| match k {
        "os" => Some(os),
        "arch" => Some(arch),
        _ => None,
    };
    let labels_ok = sel["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k).is_some_and(|l| v.as_str() == Some(l)));
    let exprs_ok = sel["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let have = label(e["key"].as_str().unwrap_or(""));
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str() {
                Some("In") => have.is_some_and(|h| values.contains(&h)),
                Some("NotIn") => !have.is_some_and(|h| values.contains(&h)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                _ => false,
            }
        });
    labels_ok && exprs_ok
}

/// This machine as krew names it (Go's GOOS/GOARCH).
pub fn host() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    (os, arch)
}

/// `matchPlatform`: the first platform whose selector matches.
pub fn matching_platform<'a>(p: &'a Value, os: &str, arch: &str) -> Option<&'a Value> {
    p["spec"]["platforms"]
        .as_array()?
        .iter()
        .find(|pl| selector_matches(&pl["selector"], os, arch))
}
