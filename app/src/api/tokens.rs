//! API tokens for scripts: made on the API tokens page, by `POST /api/tokens` or by `bakeoff
//! token create`; shown once; listed with their last use; revoked. The log-in middleware
//! (server `web/auth.rs`) accepts them as `Authorization: Bearer bk_...`.

use super::error::AppError;
use crate::domain::tokens::{NewToken, TokenList, TokenView};
use leptos::prelude::*;

/// Your tokens (an admin: everyone's), newest first.
#[server]
pub async fn list_tokens() -> Result<TokenList, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    Ok(TokenList {
        now: super::accounts::now_secs(),
        tokens: listed(&state()?.db, &me).await?,
    })
}

/// A new token for yourself, with a role within your own (empty: yours) and an optional expiry
/// in days. The answer holds the token: the only time it is shown.
#[server]
pub async fn create_token(name: String, role: Option<String>, expires_days: Option<String>) -> Result<NewToken, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    super::guard::refuse_api_token("make API tokens")?;
    let actor = super::audit::actor_here(&me);
    create(
        &state()?.db,
        (me.id, &me.name),
        me.role,
        &actor,
        &name,
        role.as_deref(),
        expires_days.as_deref(),
    )
    .await
}

/// Revoke one of your tokens (an admin: anyone's). Scripts using it get 401 "this API token was
/// revoked" from then on.
#[server]
pub async fn revoke_token(id: i64) -> Result<TokenView, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    let actor = super::audit::actor_here(&me);
    revoke(&state()?.db, &me, &actor, id).await
}

/// The tokens `me` may see: their own, or everyone's for an admin.
#[cfg(feature = "ssr")]
pub async fn listed(db: &crate::db::Db, me: &super::guard::Caller) -> Result<Vec<TokenView>, AppError> {
    let all = me.require(super::guard::Permission::Admin).is_ok();
    Ok(crate::db::tokens::list(db, (!all).then_some(me.id)).await?)
}

/// Make a token for `owner` (id, name) with a role within `may`, write the audit entry, and
/// return it with the token (shown once). Shared by the page, REST and the CLI.
#[cfg(feature = "ssr")]
pub async fn create(
    db: &crate::db::Db,
    owner: (i64, &str),
    may: crate::domain::accounts::Role,
    actor: &crate::db::audit::Actor,
    name: &str,
    role: Option<&str>,
    expires_days: Option<&str>,
) -> Result<NewToken, AppError> {
    use crate::domain::{clock, tokens};
    let (name, role, days) = tokens::check_new(name, role, expires_days, may).map_err(AppError::Validation)?;
    let (secret, _) = super::accounts::new_token();
    let token = format!("{}{secret}", tokens::PREFIX);
    let now = super::accounts::now_secs();
    let expires_at = days.map(|d| now + i64::from(d) * 86_400);
    let id = crate::db::tokens::insert(
        db,
        &crate::db::tokens::NewTokenRow {
            user_id: owner.0,
            name: &name,
            role,
            token_hash: &super::accounts::token_hash(&token),
            hint: &tokens::hint(&token),
            created_at: now,
            expires_at,
        },
    )
    .await?;
    let expiry = expires_at.map_or("no expiry".to_string(), |e| format!("expires {}", clock::readable(e)));
    crate::db::audit::record(
        db,
        actor,
        "token.create",
        &format!("token {id} ({name}) of {}", owner.1),
        &format!("role {}, {expiry}", role.label()),
    )
    .await;
    Ok(NewToken {
        id,
        token,
        name,
        role,
        expires_at,
        expiry: expires_at.map_or("It does not expire.".to_string(), |e| format!("It expires {}.", clock::readable(e))),
    })
}

/// Revoke token `id` if `me` may (its owner, or an admin); another user's token is "not found"
/// to a non-admin. Revoking a revoked token changes nothing.
#[cfg(feature = "ssr")]
pub async fn revoke(
    db: &crate::db::Db,
    me: &super::guard::Caller,
    actor: &crate::db::audit::Actor,
    id: i64,
) -> Result<TokenView, AppError> {
    let t = crate::db::tokens::get(db, id).await?;
    if t.user_id != me.id && me.require(super::guard::Permission::Admin).is_err() {
        // The same answer as for an id that does not exist.
        return Err(AppError::NotFound(format!("API token {id}")));
    }
    revoke_any(db, actor, t).await
}

/// Revoke a token (the caller has been checked, or is the command line).
#[cfg(feature = "ssr")]
pub async fn revoke_any(db: &crate::db::Db, actor: &crate::db::audit::Actor, t: TokenView) -> Result<TokenView, AppError> {
    if crate::db::tokens::revoke(db, t.id, super::accounts::now_secs()).await? {
        crate::db::audit::record(
            db,
            actor,
            "token.revoke",
            &format!("token {} ({}) of {}", t.id, t.name, t.owner),
            &format!("role {}", t.role.label()),
        )
        .await;
    }
    Ok(crate::db::tokens::get(db, t.id).await?)
}

/// `GET/POST /api/tokens`, `DELETE /api/tokens/{id}` (the server's route table lists them).
#[cfg(feature = "ssr")]
pub mod rest {
    use crate::api::guard::{Caller, Permission, Site};
    use crate::api::AppError;
    use crate::state::AppState;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::{Extension, Json};
    use serde_json::Value;

    /// Your tokens (an admin: everyone's, with their owner), times in RFC 3339.
    pub async fn list(State(s): State<AppState>, Extension(me): Extension<Caller>) -> Result<Json<Value>, AppError> {
        me.require(Permission::View)?;
        let now = crate::api::accounts::now_secs();
        let list = super::listed(&s.db, &me).await?;
        Ok(Json(Value::Array(list.iter().map(|t| t.to_json(now)).collect())))
    }

    /// `{"name", "role"?, "expires_days"?}` -> 201 `{"id", "token", "name", "role", "expires_at"}`.
    /// Not with an API token: a password session (the page, or `POST /api/token`) makes tokens.
    pub async fn create(
        State(s): State<AppState>,
        Extension(me): Extension<Caller>,
        via: Option<Extension<crate::api::guard::ViaApiToken>>,
        site: Option<Extension<Site>>,
        Json(body): Json<Value>,
    ) -> Result<(StatusCode, Json<Value>), AppError> {
        me.require(Permission::View)?;
        if via.is_some() {
            return Err(crate::api::guard::api_token_refusal("make API tokens"));
        }
        let Some(obj) = body.as_object() else {
            return Err(AppError::validation(
                "body",
                "expected {\"name\": \"...\", \"role\": \"viewer\", \"expires_days\": 30}",
            ));
        };
        let text = |k: &str| match obj.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let actor = crate::api::audit::actor_at(&me, site.as_ref().map(|e| &e.0));
        let made = super::create(
            &s.db,
            (me.id, &me.name),
            me.role,
            &actor,
            &text("name").unwrap_or_default(),
            text("role").as_deref(),
            text("expires_days").as_deref(),
        )
        .await?;
        Ok((StatusCode::CREATED, Json(made.to_json())))
    }

    /// Revoke your token (an admin: anyone's).
    pub async fn revoke(
        State(s): State<AppState>,
        Extension(me): Extension<Caller>,
        site: Option<Extension<Site>>,
        Path(id): Path<i64>,
    ) -> Result<Json<Value>, AppError> {
        me.require(Permission::View)?;
        let actor = crate::api::audit::actor_at(&me, site.as_ref().map(|e| &e.0));
        let t = super::revoke(&s.db, &me, &actor, id).await?;
        Ok(Json(t.to_json(crate::api::accounts::now_secs())))
    }
}
