//! The one place every server function and REST handler asks "may this caller do this?".
//! Accounts arrive later: then this reads the session and its role; callers do not change.

#[cfg(feature = "ssr")]
use super::error::AppError;

/// What a caller wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Read runs, charts, datasets, endpoints.
    View,
    /// Launch and cancel runs; upload datasets; add endpoints.
    Run,
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
}

/// Check the caller may do `what`. Until accounts exist, everyone on this server may do anything.
#[cfg(feature = "ssr")]
pub async fn authorize(what: Permission) -> Result<Caller, AppError> {
    let _ = what;
    Ok(Caller { name: "local".into() })
}

/// The server's shared state, from the request context.
#[cfg(feature = "ssr")]
pub fn state() -> Result<crate::state::AppState, AppError> {
    leptos::prelude::use_context::<crate::state::AppState>()
        .ok_or_else(|| AppError::internal("server function", "AppState missing from context"))
}
