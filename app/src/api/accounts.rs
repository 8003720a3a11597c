//! Log-in, sessions and user management. Passwords are hashed with Argon2id (off the async
//! runtime); sessions are random tokens in HttpOnly, SameSite=Strict cookies (Secure whenever the
//! browser is on https), stored only as hashes, ended by a fixed lifetime or by idleness.

use super::error::AppError;
use super::types::UserView;
use leptos::prelude::*;

pub const COOKIE: &str = "bakeoff_session";
pub const SESSION_DAYS: i64 = 14;

#[cfg(feature = "ssr")]
pub fn hash_password(password: &str) -> Result<String, AppError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal("hashing a password", e))
}

#[cfg(feature = "ssr")]
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new random token (256 bits, hex) and the hash that is stored.
#[cfg(feature = "ssr")]
pub fn new_token() -> (String, String) {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hash = token_hash(&token);
    (token, hash)
}

#[cfg(feature = "ssr")]
pub fn token_hash(token: &str) -> String {
    use blake2::{Blake2s256, Digest};
    Blake2s256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "ssr")]
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random readable password (for the first admin).
#[cfg(feature = "ssr")]
pub fn random_password() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16)
        .map(|_| ALPHABET[(OsRng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A hash of a password nobody has, checked when the name is unknown so that an unknown name
/// costs the same work as a known one (the answer time does not tell which names exist).
#[cfg(feature = "ssr")]
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_password()).unwrap_or_default())
}

/// Compute the dummy hash now (at start-up), not during somebody's first log-in.
#[cfg(feature = "ssr")]
pub async fn warm_up_login() {
    let _ = tokio::task::spawn_blocking(dummy_hash).await;
}

/// Check a name and password, with the back-off for repeated failures (per name and per client
/// address) and the hashing on a blocking thread; on success a new session token.
#[cfg(feature = "ssr")]
pub async fn open_session(
    state: &crate::state::AppState,
    name: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<(String, UserView), AppError> {
    use crate::db::audit::{record, Actor};
    let db = &state.db;
    let name = name.trim();
    if let Err(wait) = state.logins.begin(name, client, std::time::Instant::now()) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Err(AppError::TooManyRequests {
            message: format!("too many failed log-ins for this name or from this address: try again in {secs} s"),
            retry_after_s: secs,
        });
    }
    // Failures are written with the name as tried, bounded (anyone may send anything here). Tries
    // the back-off turns away unchecked are not: they cost an attacker nothing and would fill
    // the log; the failures before them show the attack.
    let tried_name: String = name.chars().take(100).collect();
    let tried = || Actor::named(tried_name.clone()).from(client);
    let found = crate::db::users::credentials(db, name).await?;
    let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(|| dummy_hash().to_string());
    let pw = password.to_string();
    let permit = state
        .logins
        .hashing
        .acquire()
        .await
        .map_err(|e| AppError::internal("waiting to check a password", e))?;
    let matches = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::internal("checking a password", e))?;
    drop(permit);
    // The same answer whether the name or the password is wrong.
    let known = found.is_some();
    let Some((user, _)) = found.filter(|_| matches) else {
        // A name that is no user is not kept: it may be a password typed in the wrong box.
        let (actor, target, detail) = if known {
            (tried(), format!("user {tried_name}"), "wrong password")
        } else {
            (
                Actor::named("(unknown name)").from(client),
                "an unknown user name".to_string(),
                "no user has the name given",
            )
        };
        record(db, &actor, "login.failed", &target, detail).await;
        return Err(AppError::validation("password", "wrong user name or password"));
    };
    state.logins.succeeded(name, client);
    let (token, token_hash) = new_token();
    let now = now_secs();
    crate::db::users::create_session(db, &token_hash, user.id, now + SESSION_DAYS * 86_400, now).await?;
    let who = Actor::user(user.id, user.name.clone()).from(client);
    record(db, &who, "login", &format!("user {}", user.name), "").await;
    Ok((token, user))
}

/// The session cookie: HttpOnly and SameSite=Strict always, Secure when the browser is on https
/// (over plain http a browser drops a Secure cookie, and nobody could log in on a LAN).
#[cfg(feature = "ssr")]
pub fn session_cookie(token: &str, max_age_s: i64, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
}

/// A path on this site to go back to after log-in: `/` then anything but a second `/` or `\`
/// (browsers read `//host` and `/\host` as another site), without control characters.
pub fn local_path(next: &str) -> bool {
    let mut chars = next.chars();
    chars.next() == Some('/') && !matches!(chars.next(), Some('/' | '\\')) && !next.chars().any(|c| c.is_control() || c == '\\')
}

/// Log in from the form; sets the session cookie and goes to `next`.
#[server(endpoint = "login")]
pub async fn login(name: String, password: String, next: String) -> Result<(), AppError> {
    use super::guard::{site, state};
    let site = site();
    let (token, _) = open_session(&state()?, &name, &password, site.as_ref().and_then(|s| s.client)).await?;
    let https = site.is_some_and(|s| s.https);
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&session_cookie(&token, SESSION_DAYS * 86_400, https)) {
            res.insert_header(axum::http::header::SET_COOKIE, v);
        }
    }
    let next = if local_path(&next) { next } else { "/".into() };
    leptos_axum::redirect(&next);
    Ok(())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::guard::{site, state};
    let https = site().is_some_and(|s| s.https);
    if let Some(token) = use_context::<axum::http::request::Parts>().and_then(|p| super::accounts::token_from_headers(&p.headers)) {
        crate::db::users::delete_session(&state()?.db, &token_hash(&token)).await?;
        // An API token is no session: nothing was logged out.
        let session = !crate::domain::tokens::is_api_token(&token);
        if let Some(me) = super::guard::caller().ok().filter(|_| session) {
            super::guard::audit(&me, "logout", &format!("user {}", me.name), "").await;
        }
    }
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&session_cookie("", 0, https)) {
            res.insert_header(axum::http::header::SET_COOKIE, v);
        }
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// The session token from the cookie, or from `Authorization: Bearer` (scripts).
#[cfg(feature = "ssr")]
pub fn token_from_headers(h: &axum::http::HeaderMap) -> Option<String> {
    if let Some(t) = h
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_string());
    }
    h.get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE && !v.is_empty()).then(|| v.to_string())
        })
}

/// Who is logged in (None on the log-in page). Anyone may ask (the log-in page does).
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<UserView>, AppError> {
    use super::guard::{caller, state};
    let Ok(c) = caller() else { return Ok(None) };
    Ok(crate::db::users::list(&state()?.db).await?.into_iter().find(|u| u.id == c.id))
}

#[server]
pub async fn change_password(current: String, new_password: String, repeat: String) -> Result<(), AppError> {
    use super::guard::{caller, state};
    let c = caller()?;
    let db = &state()?.db;
    let Some((_, hash)) = crate::db::users::credentials(db, &c.name).await? else {
        return Err(AppError::Unauthorized);
    };
    let matches = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
        .await
        .map_err(|e| AppError::internal("checking a password", e))?;
    if !matches {
        return Err(AppError::validation("current", "that is not your current password"));
    }
    crate::domain::accounts::valid_password(&new_password).map_err(|m| AppError::validation("new_password", m))?;
    if new_password != repeat {
        return Err(AppError::validation("repeat", "the two new passwords differ"));
    }
    let new_hash = tokio::task::spawn_blocking(move || hash_password(&new_password))
        .await
        .map_err(|e| AppError::internal("hashing a password", e))??;
    crate::db::users::set_password(db, c.id, &new_hash, false).await?;
    let keep = use_context::<axum::http::request::Parts>()
        .and_then(|p| token_from_headers(&p.headers))
        .map(|t| token_hash(&t));
    crate::db::users::delete_sessions_of(db, c.id, keep.as_deref()).await?;
    super::guard::audit(
        &c,
        "user.password_change",
        &format!("user {}", c.name),
        "changed their own password; their other sessions were closed",
    )
    .await;
    Ok(())
}

#[server]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Admin).await?;
    Ok(crate::db::users::list(&state()?.db).await?)
}

/// Create a user (admins only). Shared with `bakeoff user add`.
#[cfg(feature = "ssr")]
pub async fn create_user(db: &crate::db::Db, name: &str, role: &str, password: &str) -> Result<i64, AppError> {
    use crate::domain::accounts::{valid_password, valid_user_name, Role};
    let mut errs = crate::domain::errors::FieldErrors::default();
    if let Err(m) = valid_user_name(name.trim()) {
        errs.push("name", m);
    }
    let role = Role::parse(role);
    if role.is_none() {
        errs.push("role", "choose admin, runner, reviewer or viewer");
    }
    if let Err(m) = valid_password(password) {
        errs.push("password", m);
    }
    errs.into_result(()).map_err(AppError::Validation)?;
    let Some(role) = role else {
        return Err(AppError::validation("role", "unknown role"));
    };
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| AppError::internal("hashing a password", e))??;
    Ok(crate::db::users::create(db, name.trim(), role, &hash, false).await?)
}

#[server]
pub async fn add_user(name: String, role: String, password: String) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Admin).await?;
    let id = create_user(&state()?.db, &name, &role, &password).await?;
    super::guard::audit(
        &me,
        "user.create",
        &format!("user {}", name.trim()),
        &format!("role {}", role.trim()),
    )
    .await;
    Ok(id)
}

#[server]
pub async fn set_user_role(id: i64, role: String) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    use crate::domain::accounts::Role;
    let me = authorize(Permission::Admin).await?;
    let role = Role::parse(&role).ok_or_else(|| AppError::validation("role", "choose admin, runner, reviewer or viewer"))?;
    let db = &state()?.db;
    if me.id == id && role != Role::Admin && crate::db::users::admins(db).await? <= 1 {
        return Err(AppError::Conflict("you are the last admin: make someone else admin first".into()));
    }
    let before = crate::db::users::list(db).await?.into_iter().find(|u| u.id == id);
    crate::db::users::set_role(db, id, role).await?;
    if let Some(u) = before {
        let detail = format!("{} -> {}", u.role.label(), role.label());
        super::guard::audit(&me, "user.role", &format!("user {}", u.name), &detail).await;
    }
    Ok(())
}

/// Delete a user for good, with their grades and votes, sessions and API tokens (nothing of it
/// can be restored). Without `confirm` nothing is deleted: the answer says what would go (the
/// page shows it, with the alternative of changing their role, before asking again with
/// `confirm`), so a call without it cannot delete anybody by accident.
#[server]
pub async fn delete_user(id: i64, #[server(default)] confirm: bool) -> Result<super::runs::Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Admin).await?;
    if me.id == id {
        return Err(AppError::Conflict("you cannot delete yourself".into()));
    }
    let db = state()?.db;
    let (user, mut removal) = user_removal(&db, id).await?;
    if !confirm {
        return Ok(removal);
    }
    crate::db::users::delete(&db, id).await?;
    removal.done = true;
    let with = if removal.with.is_empty() {
        "nothing else".to_string()
    } else {
        removal.with.join(", ")
    };
    let detail = format!("was {}; with them went {with}", user.role.label());
    super::guard::audit(&me, "user.delete", &format!("user {}", user.name), &detail).await;
    Ok(removal)
}

/// What deleting user `id` takes with it (their grades and votes, API tokens and sessions) and
/// what stays without its "added by" (runs, datasets, endpoints, and grading queues, which admins
/// manage from then on).
#[cfg(feature = "ssr")]
pub async fn user_removal(db: &crate::db::Db, id: i64) -> Result<(UserView, super::runs::Removal), AppError> {
    use crate::domain::views::QueueKind;
    let user = crate::db::users::list(db)
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| AppError::NotFound(format!("user {id}")))?;
    let queues = crate::db::queues::list(db, id).await?;
    let made = queues.iter().filter(|q| q.made_by_me).count() as i64;
    let judged = |kind: QueueKind| queues.iter().filter(|q| q.kind == kind).map(|q| q.done_by_me).sum::<i64>();
    let tokens = crate::db::tokens::list(db, Some(id)).await?.len() as i64;
    let mut r = super::runs::Removal::new(format!("user '{}' ({})", user.name, user.role.label()));
    r.counted(judged(QueueKind::Grade), "grade");
    r.counted(judged(QueueKind::Pairwise), "vote");
    r.counted(tokens, "API token");
    r.with.push("their sessions (logged out everywhere)".into());
    let theirs = |by: &Option<String>| by.as_deref() == Some(user.name.as_str());
    let runs = crate::db::runs::list(db).await?.iter().filter(|x| theirs(&x.created_by)).count() as i64;
    let datasets = crate::db::datasets::list(db)
        .await?
        .iter()
        .filter(|x| theirs(&x.created_by))
        .count() as i64;
    let endpoints = crate::db::endpoints::list(db)
        .await?
        .iter()
        .filter(|x| theirs(&x.created_by))
        .count() as i64;
    r.unlinked(runs, "run");
    r.unlinked(datasets, "dataset");
    r.unlinked(endpoints, "endpoint");
    r.unlinked(made, "grading queue in admins' hands");
    Ok((user, r))
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_site_are_gone_back_to() {
        for ok in ["/", "/costs", "/runs/3?tab=x", "/login?next=%2F"] {
            assert!(local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "evil",
            "/a\\b",
            "/x\ny",
        ] {
            assert!(!local_path(bad), "{bad:?}");
        }
    }
}
