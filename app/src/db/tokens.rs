//! API tokens (migration 0015): stored as hashes, listed without the token, revoked in place.

use super::error::{DbError, DbResult};
use super::Db;
use crate::domain::accounts::Role;
pub use crate::domain::tokens::{TokenUse, TokenView};

/// How often a token's last use is written down (a write per request would be wasteful).
pub const TOUCH_EVERY_S: i64 = 60;

/// What a new token is stored with.
pub struct NewTokenRow<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub hint: &'a str,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

pub async fn insert(db: &Db, t: &NewTokenRow<'_>) -> DbResult<i64> {
    let r =
        sqlx::query_scalar::<_, i64>("INSERT INTO api_tokens (user_id, name, role, token_hash, hint, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(t.user_id)
            .bind(t.name)
            .bind(t.role)
            .bind(t.token_hash)
            .bind(t.hint)
            .bind(t.created_at)
            .bind(t.expires_at)
            .fetch_one(db)
            .await;
    match r {
        Ok(r) => Ok(r),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DbError::Conflict(format!(
            "you already have a token named '{}': revoke it first, or choose another name",
            t.name
        ))),
        Err(e) => Err(e.into()),
    }
}

const VIEW: &str =
    "SELECT t.id, t.name, t.role, t.user_id, u.name AS owner, t.hint, t.created_at, t.last_used_at, t.expires_at, t.revoked_at \
                    FROM api_tokens t JOIN users u ON u.id = t.user_id";

/// Tokens of one user (`Some(id)`) or of everyone, newest first.
pub async fn list(db: &Db, user_id: Option<i64>) -> DbResult<Vec<TokenView>> {
    Ok(
        sqlx::query_as(&format!("{VIEW} WHERE ($1 IS NULL OR t.user_id = $1) ORDER BY t.id DESC"))
            .bind(user_id)
            .fetch_all(db)
            .await?,
    )
}

pub async fn get(db: &Db, id: i64) -> DbResult<TokenView> {
    sqlx::query_as(&format!("{VIEW} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| DbError::NotFound(format!("API token {id}")))
}

/// The token with this hash and its owner as they are now (None: no such token, or its user
/// was deleted).
pub async fn by_hash(db: &Db, token_hash: &str) -> DbResult<Option<TokenUse>> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.role, t.expires_at, t.revoked_at, t.last_used_at, t.user_id, u.name AS user_name, u.role AS user_role \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?)
}

/// Note a use at `now`, at most once a minute per token.
pub async fn touch(db: &Db, id: i64, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)")
        .bind(now)
        .bind(id)
        .bind(now - TOUCH_EVERY_S)
        .execute(db)
        .await?;
    Ok(())
}

/// Revoke a token at `now`; false when it already was (it keeps its first revocation time).
pub async fn revoke(db: &Db, id: i64, now: i64) -> DbResult<bool> {
    let r = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        (dir, db)
    }

    fn row<'a>(user_id: i64, name: &'a str, hash: &'a str) -> NewTokenRow<'a> {
        NewTokenRow {
            user_id,
            name,
            role: Role::Runner,
            token_hash: hash,
            hint: "bk_abcd",
            created_at: 1_000,
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn a_token_is_found_by_its_hash_with_its_owner_until_the_owner_goes() {
        let (_dir, db) = fresh().await;
        let ana = super::super::users::create(&db, "ana", Role::Admin, "x", false)
            .await
            .expect("user");
        let id = insert(&db, &row(ana, "ci", "h1")).await.expect("token");
        let found = by_hash(&db, "h1").await.expect("query").expect("found");
        assert_eq!(
            (found.id, found.role, found.user_role, found.user_name.as_str()),
            (id, Role::Runner, Role::Admin, "ana")
        );
        assert!(by_hash(&db, "h2").await.expect("query").is_none());
        super::super::users::delete(&db, ana).await.expect("delete user");
        assert!(by_hash(&db, "h1").await.expect("query").is_none(), "the token went with its user");
    }

    #[tokio::test]
    async fn last_use_is_written_at_most_once_a_minute() {
        let (_dir, db) = fresh().await;
        let ana = super::super::users::create(&db, "ana", Role::Admin, "x", false)
            .await
            .expect("user");
        let id = insert(&db, &row(ana, "ci", "h1")).await.expect("token");
        touch(&db, id, 2_000).await.expect("touch");
        touch(&db, id, 2_030).await.expect("touch");
        assert_eq!(get(&db, id).await.expect("get").last_used_at, Some(2_000));
        touch(&db, id, 2_060).await.expect("touch");
        assert_eq!(get(&db, id).await.expect("get").last_used_at, Some(2_060));
    }

    #[tokio::test]
    async fn names_are_unique_among_live_tokens_and_revocation_keeps_its_time() {
        let (_dir, db) = fresh().await;
        let ana = super::super::users::create(&db, "ana", Role::Admin, "x", false)
            .await
            .expect("user");
        let bob = super::super::users::create(&db, "bob", Role::Viewer, "x", false)
            .await
            .expect("user");
        let id = insert(&db, &row(ana, "ci", "h1")).await.expect("token");
        insert(&db, &row(bob, "ci", "h2"))
            .await
            .expect("another user's token may share the name");
        assert!(matches!(insert(&db, &row(ana, "ci", "h3")).await, Err(DbError::Conflict(m)) if m.contains("revoke it first")));
        assert!(revoke(&db, id, 5_000).await.expect("revoke"));
        assert!(!revoke(&db, id, 6_000).await.expect("again"));
        assert_eq!(get(&db, id).await.expect("get").revoked_at, Some(5_000));
        insert(&db, &row(ana, "ci", "h3")).await.expect("the name is free again");
        assert_eq!(list(&db, Some(ana)).await.expect("list").len(), 2);
        assert_eq!(list(&db, None).await.expect("list").len(), 3);
    }
}
