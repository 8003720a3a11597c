//! The one place every server function and REST handler asks "may this caller do this?".
//! The login middleware puts the session's user in the request as a [`Caller`]; this checks its
//! role.

use super::error::AppError;
pub use crate::domain::accounts::Permission;
use crate::domain::accounts::Role;
use serde::{Deserialize, Serialize};

/// Who is calling: set by the login middleware from the session cookie or bearer token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub must_change_password: bool,
}

impl Caller {
    /// Whether the caller may do `what` (what `require` checks, as a yes or no for the pages).
    pub fn allows(&self, what: Permission) -> bool {
        self.require(what).is_ok()
    }

    /// Ok when the caller's role allows `what` (and a one-time password has been changed).
    pub fn require(&self, what: Permission) -> Result<(), AppError> {
        if self.must_change_password {
            return Err(AppError::Forbidden("change your one-time password first (Account page)".into()));
        }
        if self.role.allows(what) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("{} may not {}", self.role.label(), what.describe())))
        }
    }
}

/// Put in the request beside the [`Caller`] when the caller came with an API token (`bk_...`),
/// not a password session: such a caller may not make more tokens (a leaked token could
/// otherwise make itself a twin that outlives its revocation or expiry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViaApiToken;

/// Refused when the current server function's caller came with an API token.
#[cfg(feature = "ssr")]
pub fn refuse_api_token(what: &str) -> Result<(), AppError> {
    let via = leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|p| p.extensions.get::<ViaApiToken>().is_some());
    if via {
        return Err(api_token_refusal(what));
    }
    Ok(())
}

/// Why an API token may not do `what`.
pub fn api_token_refusal(what: &str) -> AppError {
    AppError::Forbidden(format!(
        "an API token may not {what} (a leaked token could make itself a twin that outlives it): log in with your password (the API tokens page, or a session from POST /api/token)"
    ))
}

/// How a request reached the server, worked out once by the web edge (see the server's
/// `site` module) and put in the request: the client's address, whether the browser is on
/// https, and Bakeoff's own origin as the browser sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub client: Option<std::net::IpAddr>,
    pub https: bool,
    /// `scheme://host[:port]`, lower case, as a browser would send it in `Origin`.
    pub origin: String,
}

/// The current server function's request site (None outside a request).
#[cfg(feature = "ssr")]
pub fn site() -> Option<Site> {
    leptos::prelude::use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<Site>().cloned())
}

/// The caller of the current server function, checked for `what`.
#[cfg(feature = "ssr")]
pub async fn authorize(what: Permission) -> Result<Caller, AppError> {
    let caller = caller()?;
    caller.require(what)?;
    Ok(caller)
}

/// The caller of the current server function, unchecked (for the account page itself).
#[cfg(feature = "ssr")]
pub fn caller() -> Result<Caller, AppError> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Caller>().cloned())
        .ok_or(AppError::Unauthorized)
}

/// The server's shared state, from the request context.
#[cfg(feature = "ssr")]
pub fn state() -> Result<crate::state::AppState, AppError> {
    leptos::prelude::use_context::<crate::state::AppState>()
        .ok_or_else(|| AppError::internal("server function", "AppState missing from context"))
}

/// Write an audit entry for the current server function or REST handler's caller (with the
/// client's address when known). Never fails the action.
#[cfg(feature = "ssr")]
pub async fn audit(caller: &Caller, action: &str, target: &str, detail: &str) {
    let Ok(state) = state() else { return };
    let actor = crate::db::audit::Actor::user(caller.id, caller.name.clone()).from(site().and_then(|s| s.client));
    crate::db::audit::record(&state.db, &actor, action, target, detail).await;
}
