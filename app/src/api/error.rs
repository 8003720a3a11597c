//! The one error type at the web boundary. Server functions and REST handlers return it; the
//! browser sees a message it can show (never internal details, which go to the log).

use crate::domain::errors::FieldErrors;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The one error shape on the wire, for REST, forms and server functions alike:
/// `{"error": kind, "message": text to show, "fields": [{"field", "message"}]}` (plus the
/// variant's own text in `detail`, so the browser gets the very same `AppError` back).
#[derive(Serialize, Deserialize)]
struct Wire {
    error: String,
    message: String,
    #[serde(default)]
    fields: Vec<crate::domain::errors::FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// Seconds to wait before trying again (too many requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_s: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AppError {
    NotFound(String),
    /// Bad input: what to fix, field by field.
    Validation(FieldErrors),
    Conflict(String),
    Unauthorized,
    Forbidden(String),
    /// Too many attempts (log-in back-off): try again after this many seconds.
    TooManyRequests {
        message: String,
        retry_after_s: u64,
    },
    /// Something broke on the server; the details are in its log.
    Internal,
    /// The request never got a proper answer (network, encoding).
    Transport(String),
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(FieldErrors::one(field, message))
    }
    /// The message for `field`, when this is a validation error about it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Validation(e) => e.for_field(field).map(str::to_string),
            _ => None,
        }
    }
    /// Log an internal error and return the opaque variant for the browser.
    #[cfg(feature = "ssr")]
    pub fn internal(context: &str, err: impl fmt::Display) -> Self {
        tracing::error!("{context}: {err}");
        AppError::Internal
    }
    #[cfg(feature = "ssr")]
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::NotFound(what) => write!(f, "not found: {what}"),
            AppError::Validation(e) => write!(f, "{e}"),
            AppError::Conflict(m) => write!(f, "{m}"),
            AppError::Unauthorized => write!(f, "please log in"),
            AppError::Forbidden(m) => write!(f, "not allowed: {m}"),
            AppError::TooManyRequests { message, .. } => write!(f, "{message}"),
            AppError::Internal => write!(f, "internal error (the server log has the details)"),
            AppError::Transport(m) => write!(f, "could not reach the server: {m}"),
        }
    }
}

impl std::error::Error for AppError {}

impl AppError {
    fn kind(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "not_found",
            AppError::Validation(_) => "validation",
            AppError::Conflict(_) => "conflict",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Internal => "internal",
            AppError::Transport(_) => "transport",
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (fields, detail, retry_after_s) = match self {
            AppError::Validation(e) => (e.0.clone(), None, None),
            AppError::NotFound(d) | AppError::Conflict(d) | AppError::Forbidden(d) | AppError::Transport(d) => {
                (Vec::new(), Some(d.clone()), None)
            }
            AppError::TooManyRequests { retry_after_s, .. } => (Vec::new(), None, Some(*retry_after_s)),
            AppError::Unauthorized | AppError::Internal => (Vec::new(), None, None),
        };
        Wire {
            error: self.kind().into(),
            message: self.to_string(),
            fields,
            detail,
            retry_after_s,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AppError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let detail = w.detail.unwrap_or_else(|| w.message.clone());
        Ok(match w.error.as_str() {
            "not_found" => AppError::NotFound(detail),
            "validation" => AppError::Validation(crate::domain::errors::FieldErrors(w.fields)),
            "conflict" => AppError::Conflict(detail),
            "unauthorized" => AppError::Unauthorized,
            "forbidden" => AppError::Forbidden(detail),
            "too_many_requests" => AppError::TooManyRequests {
                message: w.message,
                retry_after_s: w.retry_after_s.unwrap_or(0),
            },
            "internal" => AppError::Internal,
            "transport" => AppError::Transport(detail),
            _ => AppError::Transport(w.message),
        })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::Deserialization(m) => {
                AppError::validation("form", format!("could not read the submitted form: {m}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }

    /// Read an error answer. In the browser, "please log in" (a session that expired or was
    /// closed) goes to the log-in page, which comes back here afterwards.
    fn de(data: leptos::server_fn::Bytes) -> Self {
        use leptos::server_fn::Decodes;
        let e = JsonEncoding::decode(data).unwrap_or_else(|e| AppError::Transport(format!("unreadable error answer ({e})")));
        #[cfg(feature = "hydrate")]
        if e == AppError::Unauthorized {
            to_login();
        }
        e
    }
}

/// Send the browser to /login?next=(this page), unless it is there already.
/// Sends the browser to the log-in page, back here after it.
#[cfg(feature = "hydrate")]
pub(crate) fn to_login() {
    let location = leptos::prelude::window().location();
    let path = location.pathname().unwrap_or_default();
    if path == "/login" {
        return;
    }
    let here = format!("{path}{}", location.search().unwrap_or_default());
    let next = crate::domain::format::percent_encode(&here);
    let _ = location.set_href(&format!("/login?next={next}"));
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let mut res = (self.status(), axum::Json(&self)).into_response();
        if let AppError::TooManyRequests { retry_after_s, .. } = &self {
            if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_s.to_string()) {
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        res
    }
}

#[cfg(feature = "ssr")]
impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::NotFound(what) => AppError::NotFound(what),
            crate::db::DbError::Conflict(m) => AppError::Conflict(m),
            other => AppError::internal("database", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_comes_back_from_its_wire_shape_unchanged() {
        let all = [
            AppError::NotFound("run 7".into()),
            AppError::validation("concurrency", "must be 1 or more"),
            AppError::Conflict("already running".into()),
            AppError::Unauthorized,
            AppError::Forbidden("viewer may not launch".into()),
            AppError::TooManyRequests {
                message: "try again in 4 s".into(),
                retry_after_s: 4,
            },
            AppError::Internal,
            AppError::Transport("offline".into()),
        ];
        for e in all {
            let v = serde_json::to_value(&e).expect("serialises");
            assert!(v["message"].is_string() && v["fields"].is_array() && v["error"].is_string(), "{v}");
            let back: AppError = serde_json::from_value(v).expect("reads back");
            assert_eq!(back, e);
        }
    }

    #[test]
    fn a_validation_error_carries_its_fields() {
        let v = serde_json::to_value(AppError::validation("name", "name it")).expect("json");
        assert_eq!(v["error"], "validation");
        assert_eq!(v["fields"][0]["field"], "name");
        assert_eq!(v["fields"][0]["message"], "name it");
    }
}
