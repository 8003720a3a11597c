//! Ownership and the trash. A delete sets `deleted_at`/`deleted_by` on the run, dataset, endpoint
//! or grading queue; every list and look-up leaves such rows out, and nothing stored with them is
//! touched until they are purged, a batch at a time (a run may hold a million records), by an
//! admin or once they have been in the trash `--trash-days` days.
//!
//! Parents and children: a dataset or endpoint goes to the trash only when no run outside the
//! trash uses it (and a dataset, no queue), so whatever uses a trashed one is in the trash too.
//! Restoring such a child waits for its parent ("restore dataset 'x' first"); purging a parent
//! purges the children in the trash with it. A trashed run takes its grading items out of their
//! queues until it is restored.

use super::error::{DbError, DbResult};
use super::leases::NOW;
use super::Db;
use crate::domain::dataset::clip;
use crate::domain::trash::{purge_at, TrashKind, TrashedItem};
use crate::domain::views::Removal;

/// SQL: grading item `i` shows no run in the trash (its answers left with the run).
pub(crate) const LIVE_ITEM: &str = "NOT EXISTS (SELECT 1 FROM runs t WHERE t.id IN (i.run_id, i.run_b) AND t.deleted_at IS NOT NULL)";

/// Rows deleted per statement when purging: each batch is its own short transaction, so a run's
/// writes (or anyone's) never wait long behind a purge of a million records.
pub const PURGE_BATCH: i64 = 5_000;

fn table(kind: TrashKind) -> &'static str {
    match kind {
        TrashKind::Run => "runs",
        TrashKind::Dataset => "datasets",
        TrashKind::Endpoint => "endpoints",
        TrashKind::Queue => "queues",
    }
}

/// Record who created these rows (after they were inserted; queues record it as they are made).
pub async fn set_created_by(db: &Db, kind: TrashKind, ids: &[i64], user_id: i64) -> DbResult<()> {
    for id in ids {
        sqlx::query(&format!("UPDATE {} SET created_by = $1 WHERE id = $2", table(kind)))
            .bind(user_id)
            .bind(id)
            .execute(db)
            .await?;
    }
    Ok(())
}

/// Whether `kind` `id` is in the trash (`None`: there is no such thing; a dataset still being
/// uploaded is not one yet).
async fn in_trash(c: &mut sqlx::AnyConnection, kind: TrashKind, id: i64) -> DbResult<Option<bool>> {
    let complete = if kind == TrashKind::Dataset { " AND complete = TRUE" } else { "" };
    Ok(sqlx::query_scalar::<_, super::Flag>(&format!(
        "SELECT deleted_at IS NOT NULL FROM {} WHERE id = $1{complete}",
        table(kind)
    ))
    .bind(id)
    .fetch_optional(c)
    .await?
    .map(bool::from))
}

/// What deleting (or purging) it takes with it; with `deleting`, the kind's refusals apply (a
/// run still going, a dataset or endpoint in use, the built-in simulator).
async fn removal(c: &mut sqlx::AnyConnection, kind: TrashKind, id: i64, deleting: bool) -> DbResult<Removal> {
    match kind {
        TrashKind::Run => super::runs::removal(c, id, deleting).await,
        TrashKind::Dataset => super::datasets::removal(c, id, deleting).await,
        TrashKind::Endpoint => super::endpoints::removal(c, id, deleting).await,
        TrashKind::Queue => super::queues::removal(c, id).await,
    }
}

fn not_found(kind: TrashKind, id: i64) -> DbError {
    DbError::NotFound(format!("{} {id}", kind.word()))
}

/// What deleting `kind` `id` would take with it (it must not be in the trash). Refused, with
/// the reason, when it may not be deleted now.
pub async fn preview(db: &Db, kind: TrashKind, id: i64) -> DbResult<Removal> {
    let mut c = db.acquire().await?;
    match in_trash(&mut c, kind, id).await? {
        Some(false) => removal(&mut c, kind, id, true).await,
        _ => Err(not_found(kind, id)),
    }
}

/// Move `kind` `id` to the trash (by user `by`), saying what goes with it: checked and moved in
/// one transaction, so a run that started meanwhile is not moved.
pub async fn put(db: &Db, kind: TrashKind, id: i64, by: Option<i64>) -> DbResult<Removal> {
    let mut tx = super::write_tx(db).await?;
    if in_trash(&mut tx, kind, id).await? != Some(false) {
        return Err(not_found(kind, id));
    }
    let mut r = removal(&mut tx, kind, id, true).await?;
    let still = if kind == TrashKind::Run {
        " AND status NOT IN ('queued', 'running')"
    } else {
        ""
    };
    let moved = sqlx::query(&format!(
        "UPDATE {} SET deleted_at = {NOW}, deleted_by = $1 WHERE id = $2 AND deleted_at IS NULL{still}",
        table(kind)
    ))
    .bind(by)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(DbError::Conflict(format!("{} changed meanwhile (it started?): try again", r.what)));
    }
    tx.commit().await?;
    r.done = true;
    Ok(r)
}

/// Why `kind` `id` (in the trash) cannot be restored as things stand: a parent in the trash, or
/// (endpoints) a name another endpoint took since.
async fn blocked(c: &mut sqlx::AnyConnection, kind: TrashKind, id: i64) -> DbResult<Option<String>> {
    let parents: Vec<(String, String)> = match kind {
        TrashKind::Run => {
            sqlx::query_as(
                "SELECT 'endpoint', e.name FROM runs r JOIN endpoints e ON e.id = r.endpoint_id WHERE r.id = $1 AND e.deleted_at IS NOT NULL \
                 UNION ALL SELECT 'dataset', d.name FROM runs r JOIN datasets d ON d.id = r.dataset_id WHERE r.id = $1 AND d.deleted_at IS NOT NULL",
            )
            .bind(id)
            .fetch_all(&mut *c)
            .await?
        }
        TrashKind::Queue => {
            sqlx::query_as(
                "SELECT 'dataset', d.name FROM queues q JOIN datasets d ON d.id = q.dataset_id WHERE q.id = $1 AND d.deleted_at IS NOT NULL",
            )
            .bind(id)
            .fetch_all(&mut *c)
            .await?
        }
        TrashKind::Endpoint => {
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT o.name FROM endpoints e JOIN endpoints o ON o.name = e.name COLLATE NOCASE AND o.id <> e.id \
                 WHERE e.id = $1 AND o.deleted_at IS NULL",
            )
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
            return Ok(taken.map(|name| {
                format!(
                    "an endpoint named '{}' was added since: rename that one (Endpoints page), or delete this one forever",
                    clip(&name)
                )
            }));
        }
        TrashKind::Dataset => Vec::new(),
    };
    if parents.is_empty() {
        return Ok(None);
    }
    let named: Vec<String> = parents.iter().map(|(k, n)| format!("{k} '{}'", clip(n))).collect();
    Ok(Some(format!(
        "it uses {}, in the trash too: restore {} first",
        named.join(" and "),
        if parents.len() == 1 { "it" } else { "them" }
    )))
}

/// Take `kind` `id` out of the trash, with everything stored for it. Refused, saying why, while
/// a parent is in the trash or (endpoints) its name was taken meanwhile.
pub async fn restore(db: &Db, kind: TrashKind, id: i64) -> DbResult<Removal> {
    let mut tx = super::write_tx(db).await?;
    if in_trash(&mut tx, kind, id).await? != Some(true) {
        return Err(DbError::NotFound(format!("{} {id} in the trash", kind.word())));
    }
    let mut r = removal(&mut tx, kind, id, false).await?;
    let being_purged: Option<i64> = sqlx::query_scalar(&format!("SELECT deleted_at FROM {} WHERE id = $1", table(kind)))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    if being_purged == Some(0) {
        return Err(DbError::Conflict(format!(
            "{} is being deleted for good: it cannot be restored",
            r.what
        )));
    }
    if let Some(why) = blocked(&mut tx, kind, id).await? {
        return Err(DbError::Conflict(format!("{} cannot be restored yet: {why}", r.what)));
    }
    let res = sqlx::query(&format!(
        "UPDATE {} SET deleted_at = NULL, deleted_by = NULL WHERE id = $1 AND deleted_at IS NOT NULL AND deleted_at <> 0",
        table(kind)
    ))
    .bind(id)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(DbError::Conflict(format!(
            "{} cannot be restored yet: another endpoint has its name now; rename that one (Endpoints page), or delete this one forever",
            r.what
        )))
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    r.done = true;
    Ok(r)
}

/// Delete `kind` `id` (in the trash) for good, with everything stored for it, and the runs and
/// queues in the trash that use it; a batch at a time. Returns what went.
pub async fn purge(db: &Db, kind: TrashKind, id: i64) -> DbResult<Removal> {
    let mut r = {
        let mut c = db.acquire().await?;
        if in_trash(&mut c, kind, id).await? != Some(true) {
            return Err(DbError::NotFound(format!("{} {id} in the trash", kind.word())));
        }
        removal(&mut c, kind, id, false).await?
    };
    match kind {
        TrashKind::Run => {
            mark_purging(db, kind, id).await?;
            purge_run(db, id).await?
        }
        TrashKind::Queue => {
            mark_purging(db, kind, id).await?;
            purge_row(db, TrashKind::Queue, id).await?
        }
        TrashKind::Dataset | TrashKind::Endpoint => {
            let column = if kind == TrashKind::Dataset { "dataset_id" } else { "endpoint_id" };
            let live: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM runs WHERE {column} = $1 AND deleted_at IS NULL"))
                .bind(id)
                .fetch_one(db)
                .await?;
            if live > 0 {
                return Err(DbError::Conflict(format!(
                    "{} is used by {live} run(s) not in the trash: delete them first",
                    r.what
                )));
            }
            mark_purging(db, kind, id).await?;
            let runs: Vec<i64> = sqlx::query_scalar(&format!("SELECT id FROM runs WHERE {column} = $1 ORDER BY id"))
                .bind(id)
                .fetch_all(db)
                .await?;
            for run in runs {
                purge_run(db, run).await?;
            }
            if kind == TrashKind::Dataset {
                let queues: Vec<i64> = sqlx::query_scalar("SELECT id FROM queues WHERE dataset_id = $1 AND deleted_at IS NOT NULL")
                    .bind(id)
                    .fetch_all(db)
                    .await?;
                for q in queues {
                    purge_row(db, TrashKind::Queue, q).await?;
                }
                in_batches(db, "dataset_items", "dataset_id", id).await?;
            }
            purge_row(db, kind, id).await?;
        }
    }
    r.done = true;
    Ok(r)
}

/// Say `kind` `id` is being deleted for good (its delete time becomes 0), so that a restore
/// started meanwhile is refused instead of bringing back a part of it; a purge cut short is
/// finished by the next periodic purge (0 is long past).
async fn mark_purging(db: &Db, kind: TrashKind, id: i64) -> DbResult<()> {
    let marked = sqlx::query(&format!(
        "UPDATE {} SET deleted_at = 0 WHERE id = $1 AND deleted_at IS NOT NULL",
        table(kind)
    ))
    .bind(id)
    .execute(db)
    .await?
    .rows_affected();
    if marked == 0 {
        return Err(DbError::NotFound(format!(
            "{} {id} in the trash (restored meanwhile?)",
            kind.word()
        )));
    }
    Ok(())
}

/// A run's records and checks a batch at a time, then the run with the rest (server metrics,
/// launches, charts, its grading items with their grades and votes: ON DELETE CASCADE).
async fn purge_run(db: &Db, id: i64) -> DbResult<()> {
    in_batches(db, "request_records", "run_id", id).await?;
    in_batches(db, "checks", "run_id", id).await?;
    purge_row(db, TrashKind::Run, id).await
}

async fn in_batches(db: &Db, table: &str, column: &str, id: i64) -> DbResult<()> {
    let sql = format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} = $1 LIMIT {PURGE_BATCH})");
    loop {
        let n = sqlx::query(&sql).bind(id).execute(db).await?.rows_affected();
        if n < PURGE_BATCH as u64 {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

async fn purge_row(db: &Db, kind: TrashKind, id: i64) -> DbResult<()> {
    let res = sqlx::query(&format!("DELETE FROM {} WHERE id = $1 AND deleted_at IS NOT NULL", table(kind)))
        .bind(id)
        .execute(db)
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(DbError::Conflict(format!(
            "{} {id} is still used by something outside the trash: {}",
            kind.word(),
            e.message()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Everything in the trash, oldest delete first, with what goes with each and when (purged
/// `days` days after its delete).
pub async fn list(db: &Db, days: u32) -> DbResult<Vec<TrashedItem>> {
    let mut c = db.acquire().await?;
    let mut out = Vec::new();
    for kind in TrashKind::ALL {
        let rows: Vec<(i64, String, i64, Option<String>)> = sqlx::query_as(&format!(
            "SELECT t.id, t.name, t.deleted_at, u.name FROM {} t LEFT JOIN users u ON u.id = t.deleted_by \
             WHERE t.deleted_at IS NOT NULL ORDER BY t.deleted_at, t.id",
            table(kind)
        ))
        .fetch_all(&mut *c)
        .await?;
        for (id, name, deleted_at_s, deleted_by) in rows {
            let r = removal(&mut c, kind, id, false).await?;
            let blocked = blocked(&mut c, kind, id).await?;
            let purge_at_s = purge_at(deleted_at_s, days);
            out.push(TrashedItem {
                kind,
                id,
                name,
                label: r.what,
                deleted_by,
                deleted_at_s,
                deleted_at: crate::domain::clock::rfc3339(deleted_at_s),
                purge_at_s,
                purge_at: crate::domain::clock::rfc3339(purge_at_s),
                with: r.with,
                unlinked: r.unlinked,
                blocked,
            });
        }
    }
    out.sort_by_key(|t| (t.deleted_at_s, t.kind, t.id));
    Ok(out)
}

/// What has been in the trash since `deleted_before` (unix seconds) or earlier: due for
/// purging. Queues and runs first, then what they use.
pub async fn due(db: &Db, deleted_before: i64) -> DbResult<Vec<(TrashKind, i64)>> {
    let mut out = Vec::new();
    for kind in [TrashKind::Queue, TrashKind::Run, TrashKind::Dataset, TrashKind::Endpoint] {
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM {} WHERE deleted_at IS NOT NULL AND deleted_at <= $1 ORDER BY deleted_at, id",
            table(kind)
        ))
        .bind(deleted_before)
        .fetch_all(db)
        .await?;
        out.extend(ids.into_iter().map(|id| (kind, id)));
    }
    Ok(out)
}

/// Now, in unix seconds, by the database's clock (the clock `deleted_at` is written with).
pub async fn now(db: &Db) -> DbResult<i64> {
    Ok(sqlx::query_scalar(&format!("SELECT {NOW}")).fetch_one(db).await?)
}

/// The name of `kind` `id` when it is in the trash.
pub async fn trashed_name(db: &Db, kind: TrashKind, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT name FROM {} WHERE id = $1 AND deleted_at IS NOT NULL",
        table(kind)
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Whether `kind` `id` is in the trash, and who moved it there: `None` when it is not (or does
/// not exist); `Some(None)` when nobody is named (the server, or a user deleted since).
pub async fn trashed_by(db: &Db, kind: TrashKind, id: i64) -> DbResult<Option<Option<String>>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(&format!(
        "SELECT u.name FROM {} t LEFT JOIN users u ON u.id = t.deleted_by WHERE t.id = $1 AND t.deleted_at IS NOT NULL",
        table(kind)
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(by,)| by))
}

/// What a look-up of `kind` `id` that found nothing answers: "run 4 is in the trash (deleted by
/// rob): an admin can restore it" when it is there (the same for everyone), else "run 4".
pub async fn missing(db: &Db, kind: TrashKind, id: i64) -> DbError {
    match trashed_by(db, kind, id).await {
        Ok(Some(by)) => DbError::NotFound(crate::domain::trash::in_trash_message(kind, id, by.as_deref())),
        _ => not_found(kind, id),
    }
}

/// The name of `kind` `id`, in the trash or not (for audit entries).
pub async fn name(db: &Db, kind: TrashKind, id: i64) -> DbResult<String> {
    sqlx::query_scalar(&format!("SELECT name FROM {} WHERE id = $1", table(kind)))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| not_found(kind, id))
}

#[cfg(test)]
mod tests;
