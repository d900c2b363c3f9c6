//! Planning annotation writes: which keys of a Service (or namespace) to set and remove so that
//! Cilium reads the requested values, touching nothing else. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{
    AFFINITY, CURRENT_KEYS_SINCE, GLOBAL, LEGACY_AFFINITY, LEGACY_GLOBAL, LEGACY_SHARED, SHARED,
};

/// One Cilium Service annotation, known under its current key and its legacy alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Global,
    Shared,
    Affinity,
}

impl Field {
    pub const ALL: [Field; 3] = [Field::Global, Field::Shared, Field::Affinity];

    pub fn current(self) -> &'static str {
        match self {
            Field::Global => GLOBAL,
            Field::Shared => SHARED,
            Field::Affinity => AFFINITY,
        }
    }

    pub fn legacy(self) -> &'static str {
        match self {
            Field::Global => LEGACY_GLOBAL,
            Field::Shared => LEGACY_SHARED,
            Field::Affinity => LEGACY_AFFINITY,
        }
    }
}

/// Which annotation keys a cluster's Cilium reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// `service.cilium.io/…` (and the legacy aliases, which they take precedence over).
    Current,
    /// Only `io.cilium/…` (Cilium before 1.13).
    Legacy,
}

impl Keys {
    /// The keys of a Cilium version; an unknown version gets the current ones.
    pub fn for_version(version: Option<(u32, u32)>) -> Keys {
        match version {
            Some(v) if v < CURRENT_KEYS_SINCE => Keys::Legacy,
            _ => Keys::Current,
        }
    }

    pub fn key(self, field: Field) -> &'static str {
        match self {
            Keys::Current => field.current(),
            Keys::Legacy => field.legacy(),
        }
    }
}

/// Service annotation changes: per field the value to set, or `None` to remove the field
/// (current key and legacy alias).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub fields: Vec<(Field, Option<String>)>,
    /// Move legacy aliases to their current keys.
    pub migrate_legacy: bool,
    /// Allow changing a value that is set to something else.
    pub overwrite: bool,
    /// Write affinity `none` as the literal value instead of removing the affinity (which
    /// means the same on every release, where the literal drops remote backends on some:
    /// [`drops_remote`]).
    pub literal_none: bool,
}

/// Annotation keys to set and to remove on one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    pub set: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

impl Edit {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// The edit between two sets of annotations.
    fn between(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Edit {
        Edit {
            set: (after.iter())
                .filter(|(k, v)| before.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            remove: (before.keys())
                .filter(|k| !after.contains_key(*k))
                .cloned()
                .collect(),
        }
    }

    /// The annotations after the edit.
    pub fn apply(&self, annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = annotations.clone();
        out.retain(|k, _| !self.remove.contains(k));
        out.extend(self.set.clone());
        out
    }

    /// A JSON merge patch of only the changed annotations; with `resource_version` it applies
    /// only to that version of the object (a conflict otherwise).
    pub fn merge_patch(&self, resource_version: Option<&str>) -> Value {
        let mut annotations = serde_json::Map::new();
        for (k, v) in &self.set {
            annotations.insert(k.clone(), json!(v));
        }
        for k in &self.remove {
            annotations.insert(k.clone(), Value::Null);
        }
        let mut patch = json!({"metadata": {"annotations": annotations}});
        if let Some(rv) = resource_version {
            patch["metadata"]["resourceVersion"] = json!(rv);
        }
        patch
    }

    /// `key=value` for what is set, `key-` for what is removed, like `kubectl annotate`.
    pub fn describe(&self) -> String {
        let mut items: Vec<(&str, String)> = (self.set.iter())
            .map(|(k, v)| (k.as_str(), format!("{k}={v}")))
            .chain(self.remove.iter().map(|k| (k.as_str(), format!("{k}-"))))
            .collect();
        items.sort();
        let items: Vec<String> = items.into_iter().map(|(_, t)| t).collect();
        items.join(", ")
    }
}

/// What to change on a Service's `annotations` for `req` in a cluster reading `keys`. Values
/// are compared as Cilium reads them (case-insensitively); a value that already means the
/// requested one is left as it is, so a second run changes nothing. Setting a field whose
/// effective value differs needs `req.overwrite`; removing never does. Errors are sentences,
/// one per refused change.
pub fn plan_service(
    annotations: &BTreeMap<String, String>,
    req: &Request,
    keys: Keys,
) -> Result<Edit, Vec<String>> {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let mut after = annotations.clone();
    let mut errors = Vec::new();
    for (field, value) in &req.fields {
        let (current, legacy) = (field.current(), field.legacy());
        let Some(value) = value else {
            after.remove(current);
            after.remove(legacy);
            continue;
        };
        let effective = match keys {
            Keys::Current => (after.get_key_value(current)).or(after.get_key_value(legacy)),
            Keys::Legacy => after.get_key_value(legacy),
        };
        if *field == Field::Affinity && same(value, "none") && !req.literal_none {
            // No affinity is what `none` means; the absence says it on every release.
            match effective {
                Some((key, old))
                    if !same(old, "none") && !old.trim().is_empty() && !req.overwrite =>
                {
                    errors.push(format!(
                        "{key} is already {old:?}: pass --overwrite to remove it (affinity none)"
                    ));
                }
                _ => {
                    after.remove(current);
                    after.remove(legacy);
                }
            }
            continue;
        }
        match effective {
            Some((_, old)) if same(old, value) => continue,
            Some((key, old)) if !req.overwrite => {
                errors.push(format!(
                    "{key} is already {old:?}: pass --overwrite to change it to {value:?}"
                ));
                continue;
            }
            _ => {}
        }
        after.insert(keys.key(*field).to_string(), value.clone());
        // A legacy alias that says otherwise would take over again once the key is removed.
        if keys == Keys::Current && after.get(legacy).is_some_and(|old| !same(old, value)) {
            after.remove(legacy);
        }
    }
    if req.migrate_legacy {
        let present: Vec<Field> = (Field::ALL.into_iter())
            .filter(|f| after.contains_key(f.legacy()))
            .collect();
        if keys == Keys::Legacy && !present.is_empty() {
            errors.push(format!(
                "this cluster's Cilium reads only the legacy io.cilium/… keys (before {}.{}): upgrade it before --migrate-legacy",
                CURRENT_KEYS_SINCE.0, CURRENT_KEYS_SINCE.1
            ));
        } else {
            for f in present {
                if let Some(old) = after.remove(f.legacy()) {
                    // The current key, when present, already takes precedence.
                    after.entry(f.current().to_string()).or_insert(old);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(Edit::between(annotations, &after))
    } else {
        Err(errors)
    }
}

/// What to change to give `key` the value `value`: nothing when it already means that
/// (case-insensitively), an error when it holds another value and `overwrite` is false.
pub fn plan_key(
    annotations: &BTreeMap<String, String>,
    key: &str,
    value: &str,
    overwrite: bool,
) -> Result<Edit, String> {
    match annotations.get(key) {
        Some(old) if old.trim().eq_ignore_ascii_case(value) => Ok(Edit::default()),
        Some(old) if !overwrite => Err(format!(
            "{key} is already {old:?}: pass --overwrite to change it to {value:?}"
        )),
        _ => Ok(Edit {
            set: BTreeMap::from([(key.to_string(), value.to_string())]),
            remove: BTreeSet::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::services::GLOBAL_NAMESPACE;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn request(fields: &[(Field, Option<&str>)]) -> Request {
        Request {
            fields: fields
                .iter()
                .map(|(f, v)| (*f, v.map(str::to_string)))
                .collect(),
            ..Request::default()
        }
    }

    #[test]
    fn plans_only_what_changes_and_keeps_other_annotations() {
        let before = map(&[("team", "web"), (GLOBAL, "True")]);
        let req = request(&[
            (Field::Global, Some("true")),
            (Field::Affinity, Some("local")),
        ]);
        let edit = plan_service(&before, &req, Keys::Current).unwrap();
        assert_eq!(edit.describe(), "service.cilium.io/affinity=local");
        let after = edit.apply(&before);
        assert_eq!(after["team"], "web");
        assert_eq!(
            edit.merge_patch(Some("7")),
            json!({"metadata": {"annotations": {AFFINITY: "local"}, "resourceVersion": "7"}})
        );
        // A second run changes nothing.
        assert!(
            plan_service(&after, &req, Keys::Current)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn changing_a_value_needs_overwrite_removing_does_not() {
        let before = map(&[(GLOBAL, "true"), (AFFINITY, "remote")]);
        let mut req = request(&[(Field::Affinity, Some("local"))]);
        let errors = plan_service(&before, &req, Keys::Current).unwrap_err();
        assert_eq!(
            errors,
            [
                "service.cilium.io/affinity is already \"remote\": pass --overwrite to change it to \"local\""
            ]
        );
        req.overwrite = true;
        let edit = plan_service(&before, &req, Keys::Current).unwrap();
        assert_eq!(edit.describe(), "service.cilium.io/affinity=local");
        let req = request(&[(Field::Global, None), (Field::Affinity, None)]);
        let edit = plan_service(&before, &req, Keys::Current).unwrap();
        assert_eq!(
            edit.describe(),
            "service.cilium.io/affinity-, service.cilium.io/global-"
        );
        assert_eq!(
            edit.merge_patch(None),
            json!({"metadata": {"annotations": {AFFINITY: null, GLOBAL: null}}})
        );
    }

    #[test]
    fn legacy_aliases_count_go_with_their_field_and_migrate() {
        // The legacy alias already says global: nothing to do unless migrating.
        let before = map(&[(LEGACY_GLOBAL, "true"), (LEGACY_AFFINITY, "remote")]);
        let req = request(&[(Field::Global, Some("true"))]);
        assert!(
            plan_service(&before, &req, Keys::Current)
                .unwrap()
                .is_empty()
        );
        let mut migrate = req.clone();
        migrate.migrate_legacy = true;
        let edit = plan_service(&before, &migrate, Keys::Current).unwrap();
        assert_eq!(
            edit.describe(),
            "io.cilium/global-service-, io.cilium/service-affinity-, service.cilium.io/affinity=remote, service.cilium.io/global=true"
        );
        // Removing a field removes its alias too, or Cilium would keep reading it.
        let edit = plan_service(&before, &request(&[(Field::Global, None)]), Keys::Current);
        assert_eq!(edit.unwrap().describe(), "io.cilium/global-service-");
        // A legacy alias that disagrees needs --overwrite, and goes once overwritten.
        let mut req = request(&[(Field::Affinity, Some("local"))]);
        assert!(plan_service(&before, &req, Keys::Current).is_err());
        req.overwrite = true;
        let edit = plan_service(&before, &req, Keys::Current).unwrap();
        assert_eq!(
            edit.describe(),
            "io.cilium/service-affinity-, service.cilium.io/affinity=local"
        );
        // Old Cilium reads only the aliases: they are what is written, and never migrated.
        let edit = plan_service(
            &BTreeMap::new(),
            &request(&[(Field::Shared, Some("false"))]),
            Keys::Legacy,
        );
        assert_eq!(edit.unwrap().describe(), "io.cilium/shared-service=false");
        assert!(plan_service(&before, &migrate, Keys::Legacy).is_err());
        assert_eq!(Keys::for_version(Some((1, 12))), Keys::Legacy);
        assert_eq!(Keys::for_version(Some((1, 13))), Keys::Current);
        assert_eq!(Keys::for_version(None), Keys::Current);
    }

    #[test]
    fn single_keys_for_namespaces() {
        let ns = map(&[(GLOBAL_NAMESPACE, "false")]);
        assert!(plan_key(&ns, GLOBAL_NAMESPACE, "true", false).is_err());
        let edit = plan_key(&ns, GLOBAL_NAMESPACE, "true", true).unwrap();
        assert_eq!(edit.describe(), "clustermesh.cilium.io/global=true");
        assert!(
            plan_key(&ns, GLOBAL_NAMESPACE, "false", false)
                .unwrap()
                .is_empty()
        );
        assert!(
            !plan_key(&BTreeMap::new(), GLOBAL_NAMESPACE, "true", false)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn affinity_none_removes_the_annotation_unless_literal() {
        let req = |literal_none, overwrite| Request {
            fields: vec![(Field::Affinity, Some("none".into()))],
            literal_none,
            overwrite,
            ..Request::default()
        };
        let literal = map(&[
            (GLOBAL, "true"),
            (AFFINITY, "none"),
            (LEGACY_AFFINITY, "None"),
        ]);
        let edit = plan_service(&literal, &req(false, false), Keys::Current).unwrap();
        assert_eq!(
            edit.describe(),
            "io.cilium/service-affinity-, service.cilium.io/affinity-"
        );
        assert!(
            plan_service(&literal, &req(true, false), Keys::Current)
                .unwrap()
                .is_empty()
        );
        let unset = map(&[(GLOBAL, "true")]);
        assert!(
            plan_service(&unset, &req(false, false), Keys::Current)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            plan_service(&unset, &req(true, false), Keys::Current)
                .unwrap()
                .describe(),
            "service.cilium.io/affinity=none"
        );
        let local = map(&[(AFFINITY, "local")]);
        let err = plan_service(&local, &req(false, false), Keys::Current).unwrap_err();
        assert!(err[0].contains("--overwrite"), "{err:?}");
        assert_eq!(
            plan_service(&local, &req(false, true), Keys::Current)
                .unwrap()
                .describe(),
            "service.cilium.io/affinity-"
        );
    }
}
