use super::error::{DbError, DbResult};
use super::Db;
use crate::domain::accounts::Role;
pub use crate::domain::views::UserView as User;

pub async fn count(db: &Db) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(db).await?)
}

pub async fn create(db: &Db, name: &str, role: Role, password_hash: &str, must_change: bool) -> DbResult<i64> {
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (name, role, password_hash, must_change_password) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(password_hash)
    .bind(must_change)
    .fetch_one(db)
    .await;
    match r {
        Ok(r) => Ok(r),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DbError::Conflict(format!("a user named '{name}' exists"))),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(db: &Db) -> DbResult<Vec<User>> {
    Ok(
        sqlx::query_as("SELECT id, name, role, must_change_password, created_at FROM users ORDER BY name")
            .fetch_all(db)
            .await?,
    )
}

/// The user and their password hash, by name.
pub async fn credentials(db: &Db, name: &str) -> DbResult<Option<(User, String)>> {
    let row: Option<(i64, String, Role, super::Flag, String, String)> =
        sqlx::query_as("SELECT id, name, role, must_change_password, created_at, password_hash FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id, name, role, must_change_password, created_at, hash)| {
        (
            User {
                id,
                name,
                role,
                must_change_password: must_change_password.0,
                created_at,
            },
            hash,
        )
    }))
}

pub async fn set_password(db: &Db, id: i64, password_hash: &str, must_change: bool) -> DbResult<()> {
    let r = sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(must_change)
        .bind(id)
        .execute(db)
        .await?;
    if r.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("user {id}")));
    }
    // Other sessions of the user end with the old password.
    Ok(())
}

pub async fn set_role(db: &Db, id: i64, role: Role) -> DbResult<()> {
    let r = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role)
        .bind(id)
        .execute(db)
        .await?;
    if r.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("user {id}")));
    }
    Ok(())
}

/// Delete a user (their grades, votes, sessions and tokens go with them); grading queues they
/// made stay, without a maker: admins manage them from then on.
pub async fn delete(db: &Db, id: i64) -> DbResult<()> {
    let mut tx = crate::db::write_tx(db).await?;
    sqlx::query("UPDATE queues SET created_by = NULL WHERE created_by = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Admins left (a change must not leave none).
pub async fn admins(db: &Db) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(db)
        .await?)
}

pub async fn create_session(db: &Db, token_hash: &str, user_id: i64, expires_at: i64, now: i64) -> DbResult<()> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at, last_seen) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// How often a session's last request is written down (a write per request would be wasteful;
/// idle limits are minutes to hours).
pub const TOUCH_EVERY_S: i64 = 60;

/// The user a live session belongs to: not past its lifetime, and used within `idle_s`. Notes
/// the use (at most once a minute).
pub async fn session_user(db: &Db, token_hash: &str, now: i64, idle_s: i64) -> DbResult<Option<User>> {
    let user: Option<User> = sqlx::query_as(
        "SELECT u.id, u.name, u.role, u.must_change_password, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen > $3",
    )
    .bind(token_hash)
    .bind(now)
    .bind(now - idle_s)
    .fetch_optional(db)
    .await?;
    if user.is_some() {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2 AND last_seen < $3")
            .bind(now)
            .bind(token_hash)
            .bind(now - TOUCH_EVERY_S)
            .execute(db)
            .await?;
    }
    Ok(user)
}

/// Delete sessions past their lifetime or idle for longer than `idle_s`; how many went.
pub async fn purge_sessions(db: &Db, now: i64, idle_s: i64) -> DbResult<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2")
        .bind(now)
        .bind(now - idle_s)
        .execute(db)
        .await?
        .rows_affected())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete_sessions_of(db: &Db, user_id: i64, except: Option<&str>) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(except.unwrap_or(""))
        .execute(db)
        .await?;
    Ok(())
}
