//! The one error type at the web boundary. Server functions and REST handlers return it; the
//! browser sees a message it can show (never internal details, which go to the log).

use crate::domain::errors::FieldErrors;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AppError {
    NotFound(String),
    /// Bad input: what to fix, field by field.
    Validation(FieldErrors),
    Conflict(String),
    Unauthorized,
    Forbidden(String),
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
            AppError::Internal => write!(f, "internal error (the server log has the details)"),
            AppError::Transport(m) => write!(f, "could not reach the server: {m}"),
        }
    }
}

impl std::error::Error for AppError {}

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
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let body = match &self {
            AppError::Validation(e) => serde_json::json!({"error": "validation", "message": e.to_string(), "fields": e.0}),
            other => {
                serde_json::json!({"error": format!("{other:?}").split('(').next().unwrap_or("error").to_lowercase(), "message": other.to_string()})
            }
        };
        (self.status(), axum::Json(body)).into_response()
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
