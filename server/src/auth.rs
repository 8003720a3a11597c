//! Every page and API needs a log-in. This middleware finds the caller from the session cookie
//! (or a bearer token for scripts) and puts it in the request; without one, pages redirect to
//! the log-in page and the API answers 401.

use app::api::accounts::{now_secs, open_session, token_from_headers, token_hash};
use app::api::guard::Caller;
use app::api::AppError;
use app::db;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;

/// Paths anyone may reach: the log-in page and what it needs.
fn public(path: &str) -> bool {
    path == "/login" || path == "/api/login" || path == "/api/token" || path.starts_with("/pkg/") || path == "/favicon.svg"
}

pub async fn require_login(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let caller = match token_from_headers(req.headers()) {
        Some(token) => match db::users::session_user(&state.db, &token_hash(&token), now_secs()).await {
            Ok(Some(u)) => Some(Caller {
                id: u.id,
                name: u.name,
                role: u.role,
                must_change_password: u.must_change_password,
            }),
            Ok(None) => None,
            Err(e) => return AppError::from(e).into_response(),
        },
        None => None,
    };
    match caller {
        Some(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        None if public(&path) => next.run(req).await,
        None if path.starts_with("/api/") => AppError::Unauthorized.into_response(),
        None => {
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            Redirect::to(&format!("/login?next={}", crate::upload::encode(&next_path))).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

/// `POST /api/token {"name", "password"}`: a session token for scripts (send it as
/// `Authorization: Bearer TOKEN`).
pub async fn token(State(state): State<AppState>, Json(c): Json<Credentials>) -> Result<impl IntoResponse, AppError> {
    let (token, user) = open_session(&state.db, &c.name, &c.password).await?;
    Ok(Json(serde_json::json!({"token": token, "user": user.name, "role": user.role})))
}

/// On a database without users, create `admin` with a one-time password and say where it is.
pub async fn first_admin(pool: &db::Db) -> anyhow::Result<Option<String>> {
    if db::users::count(pool).await? > 0 {
        return Ok(None);
    }
    let password = app::api::accounts::random_password();
    let hash = app::api::accounts::hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    db::users::create(pool, "admin", app::domain::accounts::Role::Admin, &hash, true).await?;
    Ok(Some(password))
}

/// Server functions answer every error with HTTP 500 (the server_fn default). Give each its real
/// status from the typed error in the body (422 bad input, 401, 403, 404, 409), so scripts and
/// logs see what the pages already show. Only /api/ answers with status 500 are read.
pub async fn error_status(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !api || res.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = e.status();
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
