//! API errors rendered as `meta/v1 Status` objects, worded like the real API server.

use crate::registry::ResourceType;
use serde_json::{Value, json};

/// An error answered to a client as a `Status` object.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details` (may be `null`).
    pub details: Value,
}

fn details(rt: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name});
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d["kind"] = json!(rt.plural);
    d
}

impl ApiError {
    /// 404 for a missing object: `services "x" not found`.
    pub fn not_found(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", rt.group_resource()),
            details: details(rt, name),
        }
    }

    /// 404 for a missing namespace.
    pub fn namespace_not_found(ns: &str) -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("namespaces \"{ns}\" not found"),
            details: json!({"name": ns, "kind": "namespaces"}),
        }
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: json!({}),
        }
    }

    /// 409 `configmaps "x" already exists`.
    pub fn already_exists(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", rt.group_resource()),
            details: details(rt, name),
        }
    }

    /// 409 `Operation cannot be fulfilled on configmaps "x": <why>`.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.group_resource()
            ),
            details: details(rt, name),
        }
    }

    /// The standard optimistic-concurrency conflict.
    pub fn stale(rt: &ResourceType, name: &str) -> ApiError {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 400 BadRequest with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: Value::Null,
        }
    }

    /// 400 for a body that does not decode as the kind.
    pub fn decode(rt: &ResourceType, what: &str) -> ApiError {
        Self::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: {what}",
            kind = rt.kind,
            v = rt.version
        ))
    }

    /// 422 Invalid for one field.
    pub fn invalid(rt: &ResourceType, name: &str, field: &str, value: &str, why: &str) -> ApiError {
        let detail = if value.is_empty() && why.starts_with("Required") {
            why.to_string()
        } else {
            format!("Invalid value: \"{value}\": {why}")
        };
        let mut d = json!({"name": name});
        if !rt.group.is_empty() {
            d["group"] = json!(rt.group);
        }
        d["kind"] = json!(rt.kind);
        d["causes"] = json!([{
            "reason": if why.starts_with("Required") { "FieldValueRequired" } else { "FieldValueInvalid" },
            "message": detail,
            "field": field,
        }]);
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("{} \"{name}\" is invalid: {field}: {detail}", rt.kind),
            details: d,
        }
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> ApiError {
        ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: json!({}),
        }
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: message.into(),
            details: Value::Null,
        }
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 500,
            reason: "InternalError",
            message: format!("Internal error occurred: {}", message.into()),
            details: Value::Null,
        }
    }

    /// An injected failure (see `ApiServer::fail_next_writes`).
    pub fn injected(code: u16, rt: Option<&ResourceType>, name: &str) -> ApiError {
        let (reason, message) = match code {
            409 => (
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    rt.map(ResourceType::group_resource).unwrap_or_default()
                ),
            ),
            400 => ("BadRequest", "injected bad request".into()),
            403 => ("Forbidden", "injected forbidden".into()),
            404 => ("NotFound", "injected not found".into()),
            422 => ("Invalid", "injected invalid".into()),
            429 => ("TooManyRequests", "injected too many requests".into()),
            503 => ("ServiceUnavailable", "injected service unavailable".into()),
            504 => ("Timeout", "injected timeout".into()),
            _ => (
                "InternalError",
                "Internal error occurred: injected failure".into(),
            ),
        };
        ApiError {
            code,
            reason,
            message,
            details: rt.map(|rt| details(rt, name)).unwrap_or(Value::Null),
        }
    }

    /// Renders the `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s["code"] = json!(self.code);
        s
    }
}
