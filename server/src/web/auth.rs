//! Every page and API needs a log-in. This middleware finds the caller from the session cookie
//! (or a bearer token for scripts: a session's from `POST /api/token`, or an API token `bk_...`)
//! and puts it in the request; without one, pages redirect to the log-in page and the API
//! answers 401.

use app::api::accounts::{now_secs, open_session, token_from_headers, token_hash};
use app::api::guard::{Caller, Site};
use app::api::AppError;
use app::db;
use app::domain::tokens::is_api_token;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;

/// Paths anyone may reach: the log-in page and what it needs.
pub fn public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/api/login" | "/api/token" | "/api/whoami" | "/healthz" | "/favicon.svg"
    ) || path.starts_with("/pkg/")
}

pub async fn require_login(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let idle_s = state.web.session_idle.as_secs() as i64;
    let caller = match token_from_headers(req.headers()) {
        // An API token (`bk_...`): no idle expiry; refused with the reason when revoked or expired.
        Some(token) if is_api_token(&token) => match api_token_caller(&state.db, &token).await {
            Ok(Ok(c)) => {
                req.extensions_mut().insert(app::api::guard::ViaApiToken);
                Some(c)
            }
            Ok(Err(_)) if public(&path) => None,
            Ok(Err(message)) => return refused(&message),
            Err(e) => return AppError::from(e).into_response(),
        },
        Some(token) => match db::users::session_user(&state.db, &token_hash(&token), now_secs(), idle_s).await {
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

/// The caller an API token stands for, acting with the lower of the token's role and its
/// owner's current role; its use noted (at most once a minute). `Ok(Err(message))`: refused,
/// saying why (revoked, expired, unknown, or beyond its owner's role now).
pub async fn api_token_caller(pool: &db::Db, token: &str) -> Result<Result<Caller, String>, db::DbError> {
    let now = now_secs();
    let Some(found) = db::tokens::by_hash(pool, &token_hash(token)).await? else {
        return Ok(Err(
            "unknown API token: check it was copied whole (it is shown once, when made); a deleted user's tokens stop working".into(),
        ));
    };
    let role = match found.check(now) {
        Ok(role) => role,
        Err(refusal) => return Ok(Err(refusal.message())),
    };
    db::tokens::touch(pool, found.id, now).await?;
    Ok(Ok(Caller {
        id: found.user_id,
        name: found.user_name,
        role,
        // A token is its own credential: the one-time password's state does not bind it (a
        // session with that password could not have made it; the command line may).
        must_change_password: false,
    }))
}

/// 401 with the reason, in the one error shape (this answer does not pass `error_status`).
fn refused(message: &str) -> Response {
    use axum::http::{header, StatusCode};
    let body = serde_json::json!({"error": "unauthorized", "message": message, "fields": []});
    let mut res = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    res
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

/// `POST /api/token {"name", "password"}`: a session token for scripts (send it as
/// `Authorization: Bearer TOKEN`); it ends like a browser session. Unattended scripts use API
/// tokens instead (`POST /api/tokens`, `bakeoff token create`), which do not idle out.
pub async fn token(
    State(state): State<AppState>,
    site: Option<axum::Extension<Site>>,
    Json(c): Json<Credentials>,
) -> Result<impl IntoResponse, Response> {
    let client = site.and_then(|s| s.0.client);
    let (token, user) = match open_session(&state, &c.name, &c.password, client).await {
        Ok(opened) => opened,
        // Wrong credentials are a 401 to a script (the log-in form shows the same words beside
        // its password field); the body keeps the one error shape.
        Err(AppError::Validation(fields)) => {
            let mut res = AppError::Validation(fields).into_response();
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return Err(res);
        }
        Err(e) => return Err(e.into_response()),
    };
    Ok(Json(serde_json::json!({"token": token, "user": user.name, "role": user.role})))
}

/// Delete expired and idle sessions now and then (they stop working at once anyway: this only
/// keeps the table small).
pub async fn purge_sessions_forever(state: AppState) {
    let idle_s = state.web.session_idle.as_secs() as i64;
    loop {
        match db::users::purge_sessions(&state.db, now_secs(), idle_s).await {
            Ok(n) if n > 0 => tracing::info!("{n} expired session(s) removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!("removing expired sessions: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    }
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

/// One error shape for API clients. Server functions answer every error with HTTP 500 (the
/// server_fn default): give each its real status from the typed error in the body (422 bad
/// input, 401, 403, 404, 409, 429). Errors that axum or a body limit answered in plain text (400,
/// 404, 405, 413, 415, ...) become `{"error", "message", "fields"}` JSON with their status.
/// Only /api/ answers are read.
pub async fn error_status(req: Request, next: Next) -> Response {
    use axum::http::{header, StatusCode};
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let json = ctype.starts_with("application/json");
    // A page (the HTML 404 of an unknown path) is not a message.
    let plain = ctype.is_empty() || ctype.starts_with("text/plain");
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return AppError::Internal.into_response();
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            parts.status = e.status();
        }
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    if json {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    // A plain-text (or empty) error: say it in the one shape, keeping the status.
    let text = if plain {
        String::from_utf8_lossy(&bytes).trim().chars().take(500).collect::<String>()
    } else {
        String::new()
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::NOT_FOUND, true) => "no such API route (see the README's REST table)".to_string(),
        (StatusCode::METHOD_NOT_ALLOWED, _) => "this route does not take that method (see the README's REST table)".to_string(),
        (StatusCode::PAYLOAD_TOO_LARGE, _) => format!(
            "the body is larger than this route takes ({} at most)",
            app::api::spool::size(app::api::spool::UploadLimits::default().max_bytes)
        ),
        (_, true) => status.canonical_reason().unwrap_or("error").to_string(),
        (_, false) => text,
    };
    let kind = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let body = serde_json::json!({"error": kind, "message": message, "fields": []});
    let mut out = (status, axum::Json(body)).into_response();
    for (k, v) in parts
        .headers
        .iter()
        .filter(|(k, _)| *k == header::RETRY_AFTER || *k == header::ALLOW)
    {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    out
}
