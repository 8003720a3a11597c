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
        Actor { id: Some(id), name: name.into(), client: None }
    }
    /// Not a logged-in user: "cli", "server", or the name a failed log-in tried.
    pub fn named(name: impl Into<String>) -> Self {
        Actor { id: None, name: name.into(), client: None }
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
        "INSERT INTO audit_log (actor_id, actor_name, action, target, detail, client) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
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
