//! The audit log: who did what and when. Writing an entry never fails the action it records
//! (a failure to write is logged), so callers use [`record`] and move on.

use super::error::DbResult;
use super::Db;

/// Who did it: a user (id and name as they were), or a named non-user (the CLI, the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
    /// The client's address when the action came over HTTP.
    pub client: Option<String>,
}

impl Actor {
    pub fn user(id: i64, name: impl Into<String>) -> Self {
        Actor {
            id: Some(id),
            name: name.into(),
            client: None,
        }
    }
    /// Not a logged-in user: "cli", "server", or the name a failed log-in tried.
    pub fn named(name: impl Into<String>) -> Self {
        Actor {
            id: None,
            name: name.into(),
            client: None,
        }
    }
    pub fn from(mut self, client: Option<std::net::IpAddr>) -> Self {
        self.client = client.map(|c| c.to_string());
        self
    }
}

/// Write one entry; errors are logged, never returned (an action is not undone because its
/// audit line could not be written).
pub async fn record(db: &Db, actor: &Actor, action: &str, target: &str, detail: &str) {
    if let Err(e) = insert(db, actor, action, target, detail).await {
        tracing::warn!(action, target, "audit entry not written: {e}");
    }
}

/// Write one entry, returning the error (for tests and callers that must know).
pub async fn insert(db: &Db, actor: &Actor, action: &str, target: &str, detail: &str) -> DbResult<i64> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO audit_log (actor_id, actor_name, action, target, detail, client) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(actor.id)
    .bind(&actor.name)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(&actor.client)
    .fetch_one(db)
    .await?;
    Ok(id)
}

pub use crate::domain::audit::{AuditEntry, AuditFilter};

/// Entries matching `filter`, newest first: by actor name (exactly), action prefix, time
/// (`since` inclusive, `until` exclusive), below the id `before` (keyset paging), at most
/// `filter.limit` (else `page`).
pub async fn list(db: &Db, filter: &AuditFilter, page: u32) -> DbResult<Vec<AuditEntry>> {
    let limit = filter.limit.unwrap_or(page).min(page);
    Ok(sqlx::query_as(
        "SELECT id, at, actor_id, actor_name, action, target, detail, client FROM audit_log \
         WHERE ($1 IS NULL OR actor_name = $1) \
           AND ($2 IS NULL OR LOWER(action) LIKE LOWER($2) ESCAPE '\\') \
           AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) \
           AND ($5 IS NULL OR id < $5) \
         ORDER BY id DESC LIMIT $6",
    )
    .bind(&filter.actor)
    .bind(filter.action.as_deref().map(crate::domain::audit::like_prefix))
    .bind(filter.since)
    .bind(filter.until)
    .bind(filter.before)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_filter_by_actor_action_prefix_time_and_page_by_id() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        let ana = Actor::user(1, "ana").from("10.0.0.7".parse().ok());
        let cli = Actor::named("cli");
        let mut ids = Vec::new();
        for (who, action) in [
            (&ana, "login"),
            (&ana, "run.launch"),
            (&cli, "run.import"),
            (&ana, "endpoint.launch_command"),
            (&ana, "endpointXlaunchYcommand"),
        ] {
            ids.push(insert(&db, who, action, "t", "d").await.expect("entry"));
        }
        sqlx::query("UPDATE audit_log SET at = 1000 * id")
            .execute(&db)
            .await
            .expect("times");
        let all = list(&db, &AuditFilter::default(), 100).await.expect("list");
        assert_eq!(
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            ids.iter().rev().copied().collect::<Vec<_>>()
        );
        assert_eq!(all.last().and_then(|e| e.client.clone()).as_deref(), Some("10.0.0.7"));
        let f = |actor: Option<&str>, action: Option<&str>| AuditFilter {
            actor: actor.map(str::to_string),
            action: action.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(list(&db, &f(Some("cli"), None), 100).await.expect("list").len(), 1);
        assert_eq!(list(&db, &f(None, Some("run")), 100).await.expect("list").len(), 2);
        // `_` is a letter here, not LIKE's "any character".
        assert_eq!(list(&db, &f(None, Some("endpoint.launch_")), 100).await.expect("list").len(), 1);
        let window = AuditFilter {
            since: Some(2000),
            until: Some(4000),
            ..Default::default()
        };
        assert_eq!(
            list(&db, &window, 100)
                .await
                .expect("list")
                .iter()
                .map(|e| e.at)
                .collect::<Vec<_>>(),
            vec![3000, 2000]
        );
        let first = list(&db, &AuditFilter::default(), 2).await.expect("page 1");
        let next = AuditFilter {
            before: first.last().map(|e| e.id),
            ..Default::default()
        };
        let second = list(&db, &next, 2).await.expect("page 2");
        assert_eq!(second.first().map(|e| e.id), Some(ids[2]));
        let limited = AuditFilter {
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(list(&db, &limited, 100).await.expect("list").len(), 1);
    }
}
