//! What a Cilium release does with a `service.cilium.io/affinity` value other than `local`,
//! `remote` or empty. Pure: versions in, verdicts out.
//!
//! Sources:
//! - cilium/cilium#46623 ("ClusterMesh: service.cilium.io/affinity: \"none\" drops all remote
//!   backends causing traffic blackhole"): `ServiceAffinityNone` is the empty string, and the
//!   backend selection of the load-balancer control plane that 1.18 made the only one
//!   (`pkg/clustermesh/selectbackends.go`, from cilium/cilium#38220) treats any other value it
//!   does not know, the documented literal `none` included, as "drop every remote backend". In
//!   1.17 and before every value but `local` and `remote` meant no preference (the maintainer's
//!   reading of the old code in that issue).
//! - cilium/cilium#46635 ("clustermesh: fix service affinity annotation \"none\" dropping remote
//!   backends"): `none` is read as the empty string again. Merged into main before 1.20.0 and
//!   marked for backport to 1.19 only; not to 1.18 (the maintainer on #46623: not a 1.18
//!   backport candidate by the backport criteria). Other unknown values still drop the remote
//!   backends.
//!
//! The 1.19 patch release that carries the backport could not be established from the release
//! notes available to kubectl-mesh, so [`FIX_IN_1_19`] is `None`: every 1.19.x counts as
//! *possibly* affected ([`Verdict::Maybe`]), predicted as the drop (the safe side) and reported
//! as such. Set it to the patch number once known, and 1.19 releases from it on are fixed.

use serde::{Deserialize, Serialize};

/// A Cilium release: major, minor and (when the image tag has one) patch.
pub type Release = (u32, u32, Option<u32>);

/// The first release whose backend selection drops remote backends for an unknown affinity.
pub const DROPS_SINCE: (u32, u32) = (1, 18);
/// The first minor release that reads a literal `none` as no preference again (#46635 in main).
pub const NONE_FIXED_IN_MINOR: (u32, u32) = (1, 20);
/// The 1.19 patch release carrying the backport of #46635, when known (see the module notes).
pub const FIX_IN_1_19: Option<u32> = None;

/// Whether a cluster's Cilium drops the remote backends of a global Service for its affinity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No: the value means no preference (or a known affinity).
    #[default]
    No,
    /// Yes: only the cluster's own backends are used, none at all when it has none.
    Yes,
    /// The release may or may not carry the fix: predicted as the drop.
    Maybe,
}

impl Verdict {
    pub fn is_no(&self) -> bool {
        *self == Verdict::No
    }
}

/// What `release` (unknown: `None`) does with the affinity value `value` (as written; Cilium
/// lower-cases it). `local`, `remote` and the empty string are never dropped.
pub fn drops_remote(value: &str, release: Option<Release>) -> Verdict {
    let v = value.to_lowercase();
    if v.is_empty() || v == "local" || v == "remote" {
        return Verdict::No;
    }
    let Some((major, minor, patch)) = release else {
        return Verdict::Maybe;
    };
    if (major, minor) < DROPS_SINCE {
        return Verdict::No;
    }
    if v != "none" || (major, minor) == DROPS_SINCE {
        return Verdict::Yes;
    }
    if (major, minor) >= NONE_FIXED_IN_MINOR {
        return Verdict::No;
    }
    // 1.19
    match (FIX_IN_1_19, patch) {
        (Some(fixed), Some(p)) if p >= fixed => Verdict::No,
        (Some(_), Some(_)) => Verdict::Yes,
        _ => Verdict::Maybe,
    }
}

/// The release as `1.19.6` (or `1.19` without a patch).
pub fn release_text(release: Option<Release>) -> String {
    match release {
        Some((a, b, Some(c))) => format!("{a}.{b}.{c}"),
        Some((a, b, None)) => format!("{a}.{b}"),
        None => "an unknown version".into(),
    }
}

/// Why the verdict, as a clause: `Cilium 1.18.12 drops every remote backend for it
/// (cilium/cilium#46623)`.
pub fn explain(value: &str, release: Option<Release>, verdict: Verdict) -> String {
    let r = release_text(release);
    match verdict {
        Verdict::No => format!("Cilium {r} reads {value:?} as no preference"),
        Verdict::Yes => format!(
            "Cilium {r} drops every remote backend for it (cilium/cilium#46623), so the cluster uses only its own backends and none at all when it has none"
        ),
        Verdict::Maybe if release.is_none() => {
            "Cilium of an unknown version may drop every remote backend for it (1.18.x and 1.19 before cilium/cilium#46635 do)".to_string()
        }
        Verdict::Maybe => format!(
            "Cilium {r} may drop every remote backend for it (1.19 releases before the backport of cilium/cilium#46635 do, and kubectl-mesh does not know which 1.19 patch carries it)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_none_by_release() {
        let at = |a, b, c| Some((a, b, Some(c)));
        assert_eq!(drops_remote("none", at(1, 17, 6)), Verdict::No);
        assert_eq!(drops_remote("none", at(1, 18, 0)), Verdict::Yes);
        assert_eq!(drops_remote("None", at(1, 18, 12)), Verdict::Yes);
        assert_eq!(drops_remote("none", at(1, 19, 0)), Verdict::Maybe);
        assert_eq!(drops_remote("none", at(1, 19, 6)), Verdict::Maybe);
        assert_eq!(drops_remote("none", Some((1, 19, None))), Verdict::Maybe);
        assert_eq!(drops_remote("none", at(1, 20, 0)), Verdict::No);
        assert_eq!(drops_remote("none", None), Verdict::Maybe);
    }

    #[test]
    fn known_values_are_never_dropped_and_unknown_ones_are_from_1_18() {
        for v in ["", "local", "Remote"] {
            for r in [None, Some((1, 18, Some(1))), Some((1, 20, Some(0)))] {
                assert_eq!(drops_remote(v, r), Verdict::No, "{v:?} {r:?}");
            }
        }
        assert_eq!(drops_remote("nearest", Some((1, 17, Some(6)))), Verdict::No);
        assert_eq!(
            drops_remote("nearest", Some((1, 20, Some(0)))),
            Verdict::Yes
        );
    }

    #[test]
    fn the_explanation_names_the_issue_and_the_release() {
        let r = Some((1, 18, Some(12)));
        let text = explain("none", r, drops_remote("none", r));
        assert!(
            text.contains("1.18.12") && text.contains("#46623"),
            "{text}"
        );
        let r = Some((1, 19, Some(6)));
        assert!(explain("none", r, Verdict::Maybe).contains("#46635"));
    }
}
