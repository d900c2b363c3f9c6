//! The probes run in the client Pod and what their output means.
//!
//! - ICMP: `ping -c 1 -W 2 IP` (iputils, as in nicolaka/netshoot and the seed lab). Its summary
//!   line `1 packets transmitted, 1 received, 0% packet loss, time 0ms` (iputils ping_common.c
//!   `finish`; `+N errors` between when ICMP errors came back) says whether the reply came; a
//!   socket the kernel refuses (`ping: socket: Operation not permitted`: no `CAP_NET_RAW` and
//!   the ping group range does not include the user) means ICMP cannot be tried from that Pod,
//!   which is reported as skipped, not failed.
//! - TCP: `curl -sS --connect-timeout 2 --max-time 5 http://IP:PORT/`: the body on stdout
//!   (whoami: `Name: <cluster>` when given a name, then `Hostname: <pod>`, traefik/whoami
//!   app.go `whoamiHandler`), curl's one-line error on stderr with its exit code
//!   (`curl: (28) Connection timed out after 2002 milliseconds`).
//! - The global Service: the seed lab's loop of `curl -s --connect-timeout 1 webpod`, run N times
//!   in one exec, each answer (curl's error folded into it with `2>&1`) followed by a marker
//!   line with curl's exit code.

use serde::Serialize;

/// Seconds `ping -W` waits for the reply, and curl for the connection.
pub const CONNECT_TIMEOUT_SECS: u32 = 2;
/// Seconds curl may take for a whole request.
pub const REQUEST_TIMEOUT_SECS: u32 = 5;
/// What the service loop prints after each answer, before curl's exit code.
pub const MARKER: &str = "--- kubectl-mesh-check exit=";

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    Ok {
        #[serde(skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
}

impl Outcome {
    /// `ok`, `failed: …`, `skipped: …` for the table.
    pub fn short(&self) -> String {
        match self {
            Outcome::Ok { .. } => "ok".into(),
            Outcome::Failed { error } => format!("failed: {error}"),
            Outcome::Skipped { reason } => format!("skipped: {reason}"),
        }
    }
}

/// `http://IP:PORT/`, with brackets around an IPv6 address.
pub fn url(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("http://[{host}]:{port}/")
    } else {
        format!("http://{host}:{port}/")
    }
}

pub fn ping_argv(ip: &str) -> Vec<String> {
    let w = CONNECT_TIMEOUT_SECS.to_string();
    ["ping", "-c", "1", "-W", &w, ip]
        .map(str::to_string)
        .to_vec()
}

fn curl(url: &str) -> Vec<String> {
    let (c, m) = (
        CONNECT_TIMEOUT_SECS.to_string(),
        REQUEST_TIMEOUT_SECS.to_string(),
    );
    [
        "curl",
        "-sS",
        "--connect-timeout",
        &c,
        "--max-time",
        &m,
        url,
    ]
    .map(str::to_string)
    .to_vec()
}

pub fn tcp_argv(ip: &str, port: u16) -> Vec<String> {
    curl(&url(ip, port))
}

/// `sh -c` running `requests` curls of `url` in a row, each followed by [`MARKER`] and curl's
/// exit code. `url` is built by this module from a checked Service name and a port, so it holds
/// no shell metacharacters.
pub fn service_argv(url: &str, requests: u32) -> Vec<String> {
    let curl = curl(url).join(" ");
    let script = format!(
        "i=0; while [ $i -lt {requests} ]; do {curl} 2>&1; echo \"{MARKER}$?\"; i=$((i+1)); done"
    );
    vec!["sh".into(), "-c".into(), script]
}

/// The last non-empty line of `text`, trimmed (curl's and ping's error lines).
fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// Whether a tool said the kernel refused it a raw or ICMP socket.
fn not_permitted(text: &str) -> bool {
    let t = text.to_lowercase();
    t.contains("operation not permitted") || t.contains("permission denied")
}

/// What `ping -c 1` printed (exit code `exit`) means.
pub fn judge_ping(stdout: &str, stderr: &str, exit: i32) -> Outcome {
    if let Some(summary) = stdout.lines().find(|l| l.contains("packets transmitted")) {
        let received = summary
            .split(',')
            .map(str::trim)
            .find_map(|part| part.strip_suffix(" received"))
            .and_then(|n| n.trim().parse::<u32>().ok());
        return match received {
            Some(n) if n > 0 => Outcome::Ok {
                detail: summary.trim().to_string(),
            },
            Some(_) => Outcome::Failed {
                error: format!("no ICMP echo reply ({})", summary.trim()),
            },
            None => Outcome::Failed {
                error: format!("cannot read ping's summary line {:?}", summary.trim()),
            },
        };
    }
    if not_permitted(stderr) || not_permitted(stdout) {
        return Outcome::Skipped {
            reason: format!(
                "ICMP not permitted in the client pod ({})",
                format!("{stderr}\n{stdout}")
                    .lines()
                    .map(str::trim)
                    .find(|l| not_permitted(l))
                    .unwrap_or_default()
            ),
        };
    }
    Outcome::Failed {
        error: match last_line(stderr).or(last_line(stdout)) {
            Some(line) => format!("ping exited {exit}: {line}"),
            None => format!("ping exited {exit} and printed nothing"),
        },
    }
}

/// A `Key: value` line of whoami's answer (`Name`, `Hostname`).
pub fn whoami_field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

/// What `curl http://IP:PORT/` to a server pod printed means. With `expect`, the answer must be
/// whoami's naming that cluster (an answer from elsewhere means the IP reached another pod).
pub fn judge_tcp(stdout: &str, stderr: &str, exit: i32, expect: Option<&str>) -> Outcome {
    if exit != 0 {
        return Outcome::Failed {
            error: match last_line(stderr) {
                Some(line) => line.to_string(),
                None => format!("curl exited {exit}"),
            },
        };
    }
    let Some(expect) = expect else {
        return Outcome::Ok {
            detail: String::new(),
        };
    };
    match whoami_field(stdout, "Name") {
        Some(name) if name == expect => Outcome::Ok {
            detail: whoami_field(stdout, "Hostname")
                .map(|h| format!("answered by {h}"))
                .unwrap_or_default(),
        },
        Some(name) => Outcome::Failed {
            error: format!("answered as cluster {name:?}, not {expect:?}"),
        },
        None => Outcome::Failed {
            error: "the answer has no whoami `Name:` line: something else answers on that address"
                .into(),
        },
    }
}

/// One answer of the service loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// curl's exit code.
    pub exit: i32,
    /// What curl printed (the body, or its error line).
    pub text: String,
}

/// The answers of the service loop's output, in order. Text after the last marker (a loop cut
/// off) is not an answer.
pub fn split_answers(stdout: &str) -> Vec<Answer> {
    let mut answers = Vec::new();
    let mut rest = stdout;
    while let Some(at) = rest.find(MARKER) {
        let text = rest[..at].to_string();
        let after = &rest[at + MARKER.len()..];
        let end = after.find('\n').unwrap_or(after.len());
        let exit = after[..end].trim().parse::<i32>().unwrap_or(-1);
        answers.push(Answer { exit, text });
        rest = &after[end..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    /// iputils 20240117 (nicolaka/netshoot), as in the seed lab.
    const PING_OK: &str = "PING 10.1.1.153 (10.1.1.153) 56(84) bytes of data.\n64 bytes from 10.1.1.153: icmp_seq=1 ttl=62 time=0.156 ms\n\n--- 10.1.1.153 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.156/0.156/0.156/0.000 ms\n";
    const PING_LOST: &str = "PING 10.1.1.153 (10.1.1.153) 56(84) bytes of data.\n\n--- 10.1.1.153 ping statistics ---\n1 packets transmitted, 0 received, 100% packet loss, time 0ms\n\n";
    const PING_UNREACHABLE: &str = "PING 10.1.1.153 (10.1.1.153) 56(84) bytes of data.\nFrom 10.0.1.1 icmp_seq=1 Destination Host Unreachable\n\n--- 10.1.1.153 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n\n";
    const PING_EPERM: &str = "ping: socktype: SOCK_RAW\nping: socket: Operation not permitted\nping: => missing cap_net_raw+p capability or setuid?\n";

    #[test]
    fn ping_outcomes() {
        assert_eq!(
            judge_ping(PING_OK, "", 0),
            Outcome::Ok {
                detail: "1 packets transmitted, 1 received, 0% packet loss, time 0ms".into()
            }
        );
        let lost = judge_ping(PING_LOST, "", 1);
        assert_eq!(
            lost.short(),
            "failed: no ICMP echo reply (1 packets transmitted, 0 received, 100% packet loss, time 0ms)"
        );
        assert!(matches!(
            judge_ping(PING_UNREACHABLE, "", 1),
            Outcome::Failed { .. }
        ));
        let skipped = judge_ping("", PING_EPERM, 2);
        assert!(
            matches!(&skipped, Outcome::Skipped { reason } if reason.contains("Operation not permitted")),
            "{skipped:?}"
        );
        assert_eq!(
            judge_ping("", "ping: unknown host\n", 2).short(),
            "failed: ping exited 2: ping: unknown host"
        );
    }

    const WHOAMI_EAST: &str = "Name: east\nHostname: kubectl-mesh-check-server-6d9f7c8b4-x2x7q\nIP: 127.0.0.1\nIP: 10.1.1.20\nRemoteAddr: 10.0.1.105:60758\nGET / HTTP/1.1\r\nHost: 10.1.1.20:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n";

    #[test]
    fn tcp_outcomes() {
        assert_eq!(judge_tcp(WHOAMI_EAST, "", 0, Some("east")).short(), "ok");
        assert_eq!(
            judge_tcp(WHOAMI_EAST, "", 0, Some("west")).short(),
            "failed: answered as cluster \"east\", not \"west\""
        );
        let timeout = "curl: (28) Connection timed out after 2002 milliseconds\n";
        assert_eq!(
            judge_tcp("", timeout, 28, Some("east")).short(),
            "failed: curl: (28) Connection timed out after 2002 milliseconds"
        );
        assert!(matches!(
            judge_tcp("<html>", "", 0, Some("east")),
            Outcome::Failed { .. }
        ));
        assert_eq!(judge_tcp("<html>", "", 0, None).short(), "ok");
    }

    #[test]
    fn argv_and_answers() {
        assert_eq!(
            ping_argv("10.1.1.20"),
            ["ping", "-c", "1", "-W", "2", "10.1.1.20"]
        );
        assert_eq!(
            tcp_argv("fd00::5", 8080).last().map(String::as_str),
            Some("http://[fd00::5]:8080/")
        );
        let argv = service_argv("http://kubectl-mesh-check.kubectl-mesh-check.svc:8080/", 3);
        assert_eq!(
            argv[2],
            "i=0; while [ $i -lt 3 ]; do curl -sS --connect-timeout 2 --max-time 5 http://kubectl-mesh-check.kubectl-mesh-check.svc:8080/ 2>&1; echo \"--- kubectl-mesh-check exit=$?\"; i=$((i+1)); done"
        );
        let out = format!(
            "{WHOAMI_EAST}{MARKER}0\ncurl: (7) Failed to connect to x port 8080 after 1 ms: Couldn't connect to server\n{MARKER}7\nName: west{MARKER}0\npartial"
        );
        let answers = split_answers(&out);
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].exit, 0);
        assert_eq!(whoami_field(&answers[0].text, "Name"), Some("east"));
        assert_eq!(answers[1].exit, 7);
        assert_eq!(whoami_field(&answers[2].text, "Name"), Some("west"));
        assert_eq!(
            whoami_field(WHOAMI_EAST, "Hostname"),
            Some("kubectl-mesh-check-server-6d9f7c8b4-x2x7q")
        );
    }
}
