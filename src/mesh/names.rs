//! Object names as the Kubernetes API validates them (apimachinery's `IsDNS1123Label`,
//! `IsDNS1035Label`), checked before any request so a name can never address another path.

/// A YAML parser's error for a user: where and what, without the excerpt of the input it quotes
/// (a kubeconfig's or mesh file's neighbouring lines may hold a password or a key) and without
/// hints about the parser's own options.
pub fn parse_error(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // serde-saphyr appends advice for its API ("set DuplicateKeyPolicy in Options", …).
    let first = match first
        .find(" (set ")
        .or_else(|| first.find("; set "))
        .or_else(|| first.find(", set "))
    {
        Some(i) => &first[..i],
        None => first,
    };
    first.trim_end_matches(['.', ',', ';', ' ']).to_string()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (namespaces, most labels).
pub fn dns1123_label(name: &str) -> Result<(), String> {
    label(name, false).map_err(|why| {
        format!(
            "invalid name {name:?}: {why}; a lowercase RFC 1123 label consists of lower case alphanumeric characters or '-', starts and ends with an alphanumeric character and has at most 63 characters (e.g. 'my-name', or '123-abc')"
        )
    })
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (Service names).
pub fn dns1035_label(name: &str) -> Result<(), String> {
    label(name, true).map_err(|why| {
        format!(
            "invalid name {name:?}: {why}; a DNS-1035 label consists of lower case alphanumeric characters or '-', starts with an alphabetic character, ends with an alphanumeric character and has at most 63 characters (e.g. 'my-name', or 'abc-123')"
        )
    })
}

fn label(name: &str, letter_first: bool) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err("it is empty");
    };
    if bytes.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Err("it has a character other than a-z, 0-9 and '-'");
    }
    if letter_first && !first.is_ascii_lowercase() {
        return Err("it does not start with a letter");
    }
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("it starts or ends with '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_keep_where_and_what_only() {
        let e = "error: line 3 column 1: duplicate mapping key: kind, set DuplicateKeyPolicy in Options if acceptable\n --> <input>:3:1\n  |\n2 | password: x\n";
        assert_eq!(
            parse_error(&e),
            "line 3 column 1: duplicate mapping key: kind"
        );
    }

    #[test]
    fn names_are_checked_like_the_api_server() {
        assert!(dns1123_label("kube-system").is_ok());
        assert!(dns1123_label("123-abc").is_ok());
        assert!(dns1035_label("webpod").is_ok());
        for bad in [
            "",
            "x/../../configmaps/cilium-config",
            "..",
            "Web",
            "a_b",
            "-a",
            "a-",
            "a.b",
        ] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
            assert!(dns1035_label(bad).is_err(), "{bad}");
        }
        assert!(dns1035_label("1abc").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
    }
}
