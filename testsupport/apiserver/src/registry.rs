//! Resource registry: which kinds the server knows, their plural names,
//! scope, short names and subresources. Feeds routing and discovery.

use serde_json::{Value, json};

/// One served resource (a group/version/plural triple).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version inside the group, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `ConfigMap`.
    pub kind: String,
    /// Plural resource name used in URLs, e.g. `configmaps`.
    pub plural: String,
    /// Singular resource name, e.g. `configmap`.
    pub singular: String,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// Short names for kubectl, e.g. `cm`.
    pub short_names: Vec<String>,
    /// Discovery categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Whether a `status` subresource exists.
    pub status: bool,
    /// Custom resource (CRD-defined, Cilium or generic): no strategic merge
    /// patch, list items keep `apiVersion`/`kind`, lists are atomic in apply.
    pub custom: bool,
}

impl ResourceType {
    /// `apiVersion` string: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Resource qualified by group as used in error messages: `services`,
    /// `deployments.apps`.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `metadata.generation` is maintained (non-core kinds with a spec,
    /// and all custom resources).
    pub fn tracks_generation(&self) -> bool {
        self.custom || !self.group.is_empty()
    }

    /// A kind not otherwise known, named by the generic plural rule.
    pub fn generic(api_version: &str, kind: &str, namespaced: bool) -> ResourceType {
        let (group, version) = split_api_version(api_version);
        let singular = kind.to_ascii_lowercase();
        ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: pluralize(&singular),
            singular,
            namespaced,
            short_names: vec![],
            categories: vec![],
            status: true,
            custom: true,
        }
    }

    /// Verbs advertised in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// English-ish plural of a lower-case kind, as the generic rule for unknown kinds.
pub fn pluralize(s: &str) -> String {
    let b = s.as_bytes();
    if s.ends_with('y') && b.len() >= 2 && !b"aeiou".contains(&b[b.len() - 2]) {
        format!("{}ies", &s[..s.len() - 1])
    } else if s.ends_with('s')
        || s.ends_with('x')
        || s.ends_with('z')
        || s.ends_with("ch")
        || s.ends_with("sh")
    {
        format!("{s}es")
    } else {
        format!("{s}s")
    }
}

/// The set of resources an instance serves; grows when CRDs or unknown kinds are created.
#[derive(Clone, Debug)]
pub struct Registry {
    types: Vec<ResourceType>,
}

struct Builtin {
    gv: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    all: bool,
}

const fn b(
    gv: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    all: bool,
) -> Builtin {
    Builtin {
        gv,
        kind,
        plural,
        namespaced,
        short,
        status,
        all,
    }
}

const BUILTINS: &[Builtin] = &[
    b("v1", "Namespace", "namespaces", false, &["ns"], true, false),
    b("v1", "Node", "nodes", false, &["no"], true, false),
    b("v1", "Pod", "pods", true, &["po"], true, true),
    b("v1", "Service", "services", true, &["svc"], true, true),
    b("v1", "ConfigMap", "configmaps", true, &["cm"], false, false),
    b("v1", "Secret", "secrets", true, &[], false, false),
    b("v1", "Endpoints", "endpoints", true, &["ep"], false, false),
    b(
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        false,
        false,
    ),
    b("v1", "Event", "events", true, &["ev"], false, false),
    b(
        "apps/v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        true,
        true,
    ),
    b(
        "apps/v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        true,
        true,
    ),
    b(
        "apps/v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        true,
        true,
    ),
    b(
        "apps/v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        true,
        true,
    ),
    b("batch/v1", "Job", "jobs", true, &[], true, true),
    b("batch/v1", "CronJob", "cronjobs", true, &["cj"], true, true),
    b(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io/v1",
        "Role",
        "roles",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        false,
        false,
    ),
    b(
        "coordination.k8s.io/v1",
        "Lease",
        "leases",
        true,
        &[],
        false,
        false,
    ),
    b(
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        true,
        false,
    ),
    b(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        false,
        false,
    ),
    b(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
        false,
        false,
    ),
    b(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
        false,
        false,
    ),
    b(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        true,
        false,
    ),
];

/// Cilium custom resources served as if their CRDs were installed.
const CILIUM: &[Builtin] = &[
    b(
        "cilium.io/v2",
        "CiliumNetworkPolicy",
        "ciliumnetworkpolicies",
        true,
        &["cnp", "ciliumnp"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumClusterwideNetworkPolicy",
        "ciliumclusterwidenetworkpolicies",
        false,
        &["ccnp"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumEndpoint",
        "ciliumendpoints",
        true,
        &["cep", "ciliumep"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumNode",
        "ciliumnodes",
        false,
        &["cn", "ciliumn"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumIdentity",
        "ciliumidentities",
        false,
        &["ciliumid"],
        false,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumExternalWorkload",
        "ciliumexternalworkloads",
        false,
        &["cew"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumLocalRedirectPolicy",
        "ciliumlocalredirectpolicies",
        true,
        &["clrp"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumEgressGatewayPolicy",
        "ciliumegressgatewaypolicies",
        false,
        &["cegp"],
        false,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumEnvoyConfig",
        "ciliumenvoyconfigs",
        true,
        &["cec"],
        false,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumClusterwideEnvoyConfig",
        "ciliumclusterwideenvoyconfigs",
        false,
        &["ccec"],
        false,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumLoadBalancerIPPool",
        "ciliumloadbalancerippools",
        false,
        &["ippools", "ippool", "lbippool", "lbippools"],
        true,
        false,
    ),
    b(
        "cilium.io/v2",
        "CiliumNodeConfig",
        "ciliumnodeconfigs",
        true,
        &[],
        false,
        false,
    ),
];

impl Registry {
    /// Built-in Kubernetes kinds plus the common Cilium custom resources.
    pub fn builtin() -> Registry {
        let mut types = Vec::new();
        for (list, custom) in [(BUILTINS, false), (CILIUM, true)] {
            for t in list {
                let (group, version) = split_api_version(t.gv);
                types.push(ResourceType {
                    group: group.into(),
                    version: version.into(),
                    kind: t.kind.into(),
                    plural: t.plural.into(),
                    singular: t.kind.to_ascii_lowercase(),
                    namespaced: t.namespaced,
                    short_names: t.short.iter().map(|s| s.to_string()).collect(),
                    categories: if t.all { vec!["all".into()] } else { vec![] },
                    status: t.status,
                    custom,
                });
            }
        }
        Registry { types }
    }

    /// All served resources, in registration order.
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// Looks up by URL coordinates.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Looks up by `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// Adds or replaces (same group/version/plural) a resource.
    pub fn register(&mut self, rt: ResourceType) {
        if let Some(existing) = self
            .types
            .iter_mut()
            .find(|t| t.group == rt.group && t.version == rt.version && t.plural == rt.plural)
        {
            *existing = rt;
        } else {
            self.types.push(rt);
        }
    }

    /// Groups in first-seen order, each with its versions in first-seen order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone())
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }

    /// Resource types defined by a CustomResourceDefinition object.
    pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
        let spec = &crd["spec"];
        let names = &spec["names"];
        let (Some(group), Some(kind), Some(plural)) = (
            spec["group"].as_str(),
            names["kind"].as_str(),
            names["plural"].as_str(),
        ) else {
            return vec![];
        };
        let singular = names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase());
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"] == json!(false) {
                continue;
            }
            let Some(version) = v["name"].as_str() else {
                continue;
            };
            out.push(ResourceType {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: singular.clone(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status: v["subresources"].get("status").is_some(),
                custom: true,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(pluralize("policy"), "policies");
        assert_eq!(pluralize("gateway"), "gateways");
        assert_eq!(pluralize("ingress"), "ingresses");
        assert_eq!(pluralize("box"), "boxes");
        assert_eq!(pluralize("mesh"), "meshes");
        assert_eq!(pluralize("widget"), "widgets");
    }

    #[test]
    fn lookups() {
        let r = Registry::builtin();
        assert_eq!(
            r.by_kind("apps/v1", "Deployment").unwrap().plural,
            "deployments"
        );
        assert!(!r.by_plural("", "v1", "namespaces").unwrap().namespaced);
        assert_eq!(
            r.by_plural("apps", "v1", "deployments")
                .unwrap()
                .group_resource(),
            "deployments.apps"
        );
    }
}
