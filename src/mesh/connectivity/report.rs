//! The connectivity report and its judgement: every pod-to-pod path from → to, and per cluster
//! which clusters answered the global Service beside the clusters `services` predicts
//! (`crate::mesh::services::uses_of`). Any failed path, failed or unattributable answer, answer
//! from a cluster that should not answer, or predicted cluster that stayed silent when chance
//! cannot explain it, is a problem.

use std::collections::BTreeMap;

use serde::Serialize;

use super::probes::{Answer, Outcome, whoami_field};
use crate::mesh::services::Use;

/// Below this probability, a predicted cluster that never answered is a problem, not luck.
pub const LUCK: f64 = 1e-3;

/// One pod-to-pod path: from a cluster's client to a pod of another cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Path {
    pub from: String,
    pub to: String,
    pub pod: String,
    pub ip: String,
    pub icmp: Outcome,
    pub tcp: Outcome,
}

/// How many answers one cluster gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub cluster: String,
    pub answers: u32,
}

/// Which clusters answered the global Service for the client of one cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Distribution {
    /// The cluster the requests came from.
    pub cluster: String,
    pub requests: u32,
    /// Answers per answering cluster, in mesh order.
    pub answered: Vec<Count>,
    /// Answers that named no known cluster or pod.
    pub unknown: u32,
    /// Requests that got no answer (curl failed, or the loop was cut off).
    pub failed: u32,
    /// curl's distinct errors, at most three.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The clusters whose backends this cluster uses, as `services` predicts from the
    /// annotations and ready backends; `None` when the Service is not in this cluster.
    pub predicted: Option<Vec<Use>>,
    pub matches: bool,
    pub problems: Vec<String>,
}

/// The whole report (`-o json|yaml`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub ok: bool,
    /// The global Service probed, `namespace/name`.
    pub service: String,
    pub requests: u32,
    pub paths: Vec<Path>,
    pub distributions: Vec<Distribution>,
    pub problems: Vec<String>,
}

/// Who answered: the whoami `Name:` when it is a cluster of the mesh, else the cluster whose
/// backend pod has the answer's `Hostname:` (`pods`: pod name → the clusters that have a pod of
/// that name; a name in two clusters tells nothing).
pub fn attribute(
    text: &str,
    clusters: &[String],
    pods: &BTreeMap<String, Vec<String>>,
) -> Option<String> {
    if let Some(name) = whoami_field(text, "Name")
        && clusters.iter().any(|c| c == name)
    {
        return Some(name.to_string());
    }
    let host = whoami_field(text, "Hostname")?;
    match pods.get(host).map(Vec::as_slice) {
        Some([one]) => Some(one.clone()),
        _ => None,
    }
}

/// The distribution of `answers` for requests from `from`, judged against `predicted`.
pub fn distribution(
    from: &str,
    requests: u32,
    answers: &[Answer],
    clusters: &[String],
    pods: &BTreeMap<String, Vec<String>>,
    predicted: Option<&[Use]>,
) -> Distribution {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    let (mut unknown, mut failed) = (0u32, 0u32);
    let mut errors: Vec<String> = Vec::new();
    for a in answers.iter().take(requests as usize) {
        if a.exit != 0 {
            failed += 1;
            let e = a
                .text
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .map_or_else(|| format!("curl exited {}", a.exit), str::to_string);
            if errors.len() < 3 && !errors.contains(&e) {
                errors.push(e);
            }
            continue;
        }
        match attribute(&a.text, clusters, pods) {
            Some(c) => match clusters.iter().find(|n| **n == c) {
                Some(n) => *counts.entry(n.as_str()).or_default() += 1,
                None => unknown += 1,
            },
            None => unknown += 1,
        }
    }
    let cut_off = requests.saturating_sub(answers.len() as u32);
    failed += cut_off;
    let answered: Vec<Count> = clusters
        .iter()
        .filter_map(|c| {
            counts.get(c.as_str()).map(|&n| Count {
                cluster: c.clone(),
                answers: n,
            })
        })
        .collect();
    let mut problems = Vec::new();
    if cut_off > 0 {
        problems.push(format!(
            "only {} of {requests} requests came back (the request loop was cut off)",
            answers.len()
        ));
    }
    if failed > cut_off {
        problems.push(format!(
            "{} of {requests} requests failed: {}",
            failed - cut_off,
            errors.join("; ")
        ));
    }
    if unknown > 0 {
        problems.push(format!(
            "{unknown} of {requests} answers name no cluster of the mesh and no backend pod (no whoami `Name:`/`Hostname:` line that says where it came from): the distribution cannot be checked"
        ));
    }
    match predicted {
        None => problems.push(
            "the Service is not in this cluster: `services` predicts nothing for it".to_string(),
        ),
        Some(uses) => problems.extend(judge(uses, &answered)),
    }
    Distribution {
        cluster: from.to_string(),
        requests,
        answered,
        unknown,
        failed,
        errors,
        predicted: predicted.map(<[Use]>::to_vec),
        matches: problems.is_empty(),
        problems,
    }
}

/// What contradicts the prediction: answers from a cluster whose backends are not used, and a
/// used cluster that never answered although, with its share of the backends, staying silent
/// for that many answers is less likely than [`LUCK`].
pub fn judge(uses: &[Use], answered: &[Count]) -> Vec<String> {
    let mut out = Vec::new();
    let predicted = if uses.is_empty() {
        "no cluster's".to_string()
    } else {
        let names: Vec<&str> = uses.iter().map(|u| u.cluster.as_str()).collect();
        format!("only {}'s", names.join(", "))
    };
    let total: u32 = answered.iter().map(|c| c.answers).sum();
    for c in answered {
        if !uses.iter().any(|u| u.cluster == c.cluster) {
            out.push(format!(
                "{} of {total} answers came from {}, but `services` predicts {predicted} backends (see its annotations)",
                c.answers, c.cluster
            ));
        }
    }
    let backends: u32 = uses.iter().map(|u| u.backends).sum();
    for u in uses {
        if answered.iter().any(|c| c.cluster == u.cluster) || total == 0 || backends == 0 {
            continue;
        }
        let share = f64::from(u.backends) / f64::from(backends);
        let chance = (1.0 - share).powi(i32::try_from(total).unwrap_or(i32::MAX));
        if chance < LUCK {
            out.push(format!(
                "no answer from {} among {total}, though `services` predicts its {} of the {backends} backend(s) used here (silence by chance: {})",
                u.cluster,
                u.backends,
                odds(chance)
            ));
        }
    }
    out
}

/// `1 in 1048576` for a probability.
fn odds(p: f64) -> String {
    if p <= 0.0 {
        "none".into()
    } else {
        format!("1 in {:.0}", 1.0 / p)
    }
}

/// Problems of the paths, one per failed probe.
pub fn path_problems(paths: &[Path]) -> Vec<String> {
    let mut out = Vec::new();
    for p in paths {
        for (proto, o) in [("ICMP", &p.icmp), ("TCP", &p.tcp)] {
            if let Outcome::Failed { error } = o {
                out.push(format!(
                    "{} → {} ({} {}): {proto} failed: {error}",
                    p.from, p.to, p.pod, p.ip
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["west".into(), "east".into()]
    }

    fn whoami(name: &str) -> Answer {
        Answer {
            exit: 0,
            text: format!("Name: {name}\nHostname: kubectl-mesh-check-server-{name}\n"),
        }
    }

    fn uses(spec: &[(&str, u32)]) -> Vec<Use> {
        spec.iter()
            .map(|(c, b)| Use {
                cluster: c.to_string(),
                backends: *b,
            })
            .collect()
    }

    #[test]
    fn balanced_answers_match_the_prediction() {
        let answers: Vec<Answer> = (0..20)
            .map(|i| whoami(if i % 2 == 0 { "west" } else { "east" }))
            .collect();
        let predicted = uses(&[("west", 1), ("east", 1)]);
        let d = distribution(
            "west",
            20,
            &answers,
            &names(),
            &BTreeMap::new(),
            Some(&predicted),
        );
        assert!(d.matches, "{:?}", d.problems);
        assert_eq!(
            d.answered,
            [
                Count {
                    cluster: "west".into(),
                    answers: 10
                },
                Count {
                    cluster: "east".into(),
                    answers: 10
                }
            ]
        );
    }

    #[test]
    fn all_local_under_affinity_remote_contradicts() {
        // affinity=remote: west should use east's two backends only.
        let answers: Vec<Answer> = (0..20).map(|_| whoami("west")).collect();
        let d = distribution(
            "west",
            20,
            &answers,
            &names(),
            &BTreeMap::new(),
            Some(&uses(&[("east", 2)])),
        );
        assert!(!d.matches);
        assert_eq!(
            d.problems,
            [
                "20 of 20 answers came from west, but `services` predicts only east's backends (see its annotations)",
                "no answer from east among 20, though `services` predicts its 2 of the 2 backend(s) used here (silence by chance: none)",
            ]
        );
    }

    #[test]
    fn silence_is_luck_only_for_few_answers() {
        let few: Vec<Count> = vec![Count {
            cluster: "west".into(),
            answers: 3,
        }];
        assert!(judge(&uses(&[("west", 1), ("east", 1)]), &few).is_empty());
        let many: Vec<Count> = vec![Count {
            cluster: "west".into(),
            answers: 20,
        }];
        let p = judge(&uses(&[("west", 1), ("east", 1)]), &many);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("1 in 1048576"), "{p:?}");
    }

    #[test]
    fn failures_unknowns_and_cut_offs_are_problems() {
        let answers = vec![
            whoami("west"),
            Answer {
                exit: 28,
                text: "curl: (28) Connection timed out after 2001 milliseconds\n".into(),
            },
            Answer {
                exit: 0,
                text: "Hostname: webpod-697b545f57-xdg89\n".into(),
            },
            Answer {
                exit: 0,
                text: "<html>\n".into(),
            },
        ];
        let pods = BTreeMap::from([("webpod-697b545f57-xdg89".to_string(), vec!["east".into()])]);
        let d = distribution(
            "west",
            5,
            &answers,
            &names(),
            &pods,
            Some(&uses(&[("west", 1), ("east", 1)])),
        );
        assert_eq!((d.failed, d.unknown), (2, 1));
        assert_eq!(d.answered.len(), 2);
        assert_eq!(
            d.problems,
            [
                "only 4 of 5 requests came back (the request loop was cut off)",
                "1 of 5 requests failed: curl: (28) Connection timed out after 2001 milliseconds",
                "1 of 5 answers name no cluster of the mesh and no backend pod (no whoami `Name:`/`Hostname:` line that says where it came from): the distribution cannot be checked",
            ]
        );
    }

    #[test]
    fn a_pod_name_in_two_clusters_tells_nothing() {
        let pods = BTreeMap::from([("p".to_string(), vec!["west".into(), "east".into()])]);
        assert_eq!(attribute("Hostname: p\n", &names(), &pods), None);
        assert_eq!(
            attribute("Name: north\nHostname: p\n", &names(), &pods),
            None
        );
        assert_eq!(
            attribute("Name: east\n", &names(), &pods).as_deref(),
            Some("east")
        );
    }
}
