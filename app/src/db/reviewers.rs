//! The reviewers assigned to a queue and the items dealt to each. A queue with `grades_per_item`
//! (K) shows each reviewer only the items dealt to them; a queue without it (every queue made
//! before K existed) lets every reviewer judge every item.

use super::error::DbResult;
use super::Db;
use crate::domain::views::VoteChoice;
use std::collections::{BTreeMap, BTreeSet};

/// SQL: queue item `i` is for the user bound as `${u}` to judge (any item of a queue without K,
/// else one dealt to them), unless the user has seen who wrote that answer: they judged the same
/// answer (same request of the same run) in another queue that is closed, whose reveal named its
/// model. Judging it again would not be blind. (In a closed queue nothing is judged: its items
/// stay as they were, and a judgement there is refused as closed.)
pub(crate) fn mine(u: u8) -> String {
    format!(
        "((EXISTS (SELECT 1 FROM queues mq WHERE mq.id = i.queue_id AND mq.grades_per_item IS NULL) \
         OR EXISTS (SELECT 1 FROM queue_assignments a WHERE a.item_id = i.id AND a.user_id = ${u})) \
         AND NOT EXISTS (SELECT 1 FROM queue_items ri JOIN queues rq ON rq.id = ri.queue_id \
           WHERE {} AND EXISTS (SELECT 1 FROM queues oq WHERE oq.id = i.queue_id AND oq.closed_at IS NULL)))",
        seen_revealed(u)
    )
}

/// SQL: `ri` (in queue `rq`) is item `i`'s answer (same request, either run of either) in
/// another queue, closed and not in the trash, where the user bound as `${u}` judged it: that
/// queue's reveal showed them its model.
fn seen_revealed(u: u8) -> String {
    format!(
        "ri.queue_id <> i.queue_id AND {} AND rq.closed_at IS NOT NULL AND rq.deleted_at IS NULL \
         AND (EXISTS (SELECT 1 FROM grades rg WHERE rg.item_id = ri.id AND rg.user_id = ${u}) \
           OR EXISTS (SELECT 1 FROM votes rv WHERE rv.item_id = ri.id AND rv.user_id = ${u}))",
        same_answer("ri", "i")
    )
}

/// SQL: queue items `a` and `b` hold the same answer (the same request, `custom_id`, of a run
/// either of them names, on either side of a pair).
pub(super) fn same_answer(a: &str, b: &str) -> String {
    format!("{a}.custom_id = {b}.custom_id AND ({a}.run_id IN ({b}.run_id, {b}.run_b) OR {a}.run_b IN ({b}.run_id, {b}.run_b))")
}

/// The closed queue whose reveal showed the user who wrote the answer at `position` of queue
/// `queue_id` (see [`mine`]), if one did.
pub async fn revealed_in(db: &Db, queue_id: i64, position: i64, user_id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT MIN(rq.name) FROM queue_items i JOIN queue_items ri ON ri.custom_id = i.custom_id \
         JOIN queues rq ON rq.id = ri.queue_id WHERE i.queue_id = $1 AND i.position = $2 AND {}",
        seen_revealed(3)
    ))
    .bind(queue_id)
    .bind(position)
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// A queue's items as answers (custom_id, run, other run of a pair), in the order of [`judged`].
pub async fn answers(db: &Db, queue_id: i64) -> DbResult<Vec<(String, i64, Option<i64>)>> {
    Ok(
        sqlx::query_as("SELECT custom_id, run_id, run_b FROM queue_items WHERE queue_id = $1 ORDER BY position")
            .bind(queue_id)
            .fetch_all(db)
            .await?,
    )
}

/// Who has seen which answer's model: (custom_id, run, other run of a pair, user) for every item
/// of a closed queue (not in the trash) that the user judged, and so saw revealed.
pub async fn seen_answers(db: &Db) -> DbResult<Vec<(String, i64, Option<i64>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT i.custom_id, i.run_id, i.run_b, j.user_id FROM queue_items i JOIN queues q ON q.id = i.queue_id \
         JOIN (SELECT item_id, user_id FROM grades UNION SELECT item_id, user_id FROM votes) j ON j.item_id = i.id \
         WHERE q.closed_at IS NOT NULL AND q.deleted_at IS NULL",
    )
    .fetch_all(db)
    .await?)
}

/// Per item (custom_id, run, other run of a pair), the users of `seen` (from [`seen_answers`])
/// who have seen one of its answers revealed.
pub fn barred(items: &[(String, i64, Option<i64>)], seen: &[(String, i64, Option<i64>, i64)]) -> Vec<BTreeSet<i64>> {
    let mut by_id: BTreeMap<&str, Vec<(i64, Option<i64>, i64)>> = BTreeMap::new();
    for (c, a, b, u) in seen {
        by_id.entry(c.as_str()).or_default().push((*a, *b, *u));
    }
    items
        .iter()
        .map(|(c, a, b)| {
            let ours = [Some(*a), *b];
            by_id
                .get(c.as_str())
                .into_iter()
                .flatten()
                .filter(|(sa, sb, _)| [Some(*sa), *sb].iter().flatten().any(|r| ours.contains(&Some(*r))))
                .map(|(_, _, u)| *u)
                .collect()
        })
        .collect()
}

/// Store a new queue's reviewers and their items (inside the transaction that makes the queue).
pub(super) async fn insert_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    queue_id: i64,
    reviewers: &[i64],
    assignments: &[(String, i64)],
) -> DbResult<()> {
    for r in reviewers {
        sqlx::query("INSERT INTO queue_reviewers (queue_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(queue_id)
            .bind(r)
            .execute(&mut **tx)
            .await?;
    }
    for (item, user) in assignments {
        sqlx::query("INSERT INTO queue_assignments (item_id, user_id, queue_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(item)
            .bind(user)
            .bind(queue_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The item is the user's to judge (always, in a queue without K).
pub async fn is_mine(db: &Db, item_id: &str, user_id: i64) -> DbResult<bool> {
    Ok(
        sqlx::query_scalar::<_, super::Flag>(&format!("SELECT {} FROM queue_items i WHERE i.id = $1", mine(2)))
            .bind(item_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?
            .is_some_and(|f| f.0),
    )
}

/// The queue's assigned reviewers: (user id, name), by name.
pub async fn list(db: &Db, queue_id: i64) -> DbResult<Vec<(i64, String)>> {
    Ok(
        sqlx::query_as("SELECT u.id, u.name FROM queue_reviewers r JOIN users u ON u.id = r.user_id WHERE r.queue_id = $1 ORDER BY u.name")
            .bind(queue_id)
            .fetch_all(db)
            .await?,
    )
}

/// Every item of the queue in queue order, with the users who have judged it. Items of runs in
/// the trash too: they are dealt like the others, and come back dealt when the run is restored.
pub async fn judged(db: &Db, queue_id: i64) -> DbResult<Vec<(String, BTreeSet<i64>)>> {
    let items: Vec<String> = sqlx::query_scalar("SELECT id FROM queue_items WHERE queue_id = $1 ORDER BY position")
        .bind(queue_id)
        .fetch_all(db)
        .await?;
    let judges: Vec<(String, i64)> = sqlx::query_as(
        "SELECT g.item_id, g.user_id FROM grades g JOIN queue_items i ON i.id = g.item_id WHERE i.queue_id = $1 \
         UNION SELECT v.item_id, v.user_id FROM votes v JOIN queue_items i ON i.id = v.item_id WHERE i.queue_id = $1",
    )
    .bind(queue_id)
    .fetch_all(db)
    .await?;
    let mut by: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (item, user) in judges {
        by.entry(item).or_default().insert(user);
    }
    Ok(items
        .into_iter()
        .map(|id| {
            let who = by.remove(&id).unwrap_or_default();
            (id, who)
        })
        .collect())
}

/// Make `reviewers` the queue's reviewers and `assignments` the items they have to judge: every
/// assignment somebody has judged stays, every other one is replaced (one transaction).
pub async fn replace(db: &Db, queue_id: i64, reviewers: &[i64], assignments: &[(String, i64)]) -> DbResult<()> {
    let mut tx = super::write_tx(db).await?;
    sqlx::query("DELETE FROM queue_reviewers WHERE queue_id = $1")
        .bind(queue_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM queue_assignments WHERE queue_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM grades g WHERE g.item_id = queue_assignments.item_id AND g.user_id = queue_assignments.user_id) \
         AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.item_id = queue_assignments.item_id AND v.user_id = queue_assignments.user_id)",
    )
    .bind(queue_id)
    .execute(&mut *tx)
    .await?;
    insert_in(&mut tx, queue_id, reviewers, assignments).await?;
    tx.commit().await?;
    Ok(())
}

/// One reviewer's progress in a queue.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ProgressRow {
    pub user_id: i64,
    pub name: String,
    /// Items for them to judge (every item, in a queue without K).
    pub assigned: i64,
    /// Of those, judged.
    pub judged: i64,
    /// Still one of the queue's reviewers (false: removed, their judgements kept).
    #[sqlx(try_from = "crate::db::Flag")]
    pub current: bool,
}

/// Progress of everyone with items in the queue (its reviewers, and those removed who had
/// judged some), or in a queue without K of everyone who has judged an item; by name.
pub async fn progress(db: &Db, queue_id: i64, dealt: bool) -> DbResult<Vec<ProgressRow>> {
    let judged_by = |u: &str| {
        format!(
            "(EXISTS (SELECT 1 FROM grades g WHERE g.item_id = i.id AND g.user_id = {u}) OR EXISTS (SELECT 1 FROM votes v WHERE v.item_id = i.id AND v.user_id = {u}))"
        )
    };
    let sql = if dealt {
        format!(
            "SELECT u.id AS user_id, u.name, \
               (SELECT COUNT(*) FROM queue_assignments a JOIN queue_items i ON i.id = a.item_id WHERE a.queue_id = $1 AND a.user_id = u.id AND {live}) AS assigned, \
               (SELECT COUNT(*) FROM queue_assignments a JOIN queue_items i ON i.id = a.item_id WHERE a.queue_id = $1 AND a.user_id = u.id AND {live} AND {}) AS judged, \
               EXISTS (SELECT 1 FROM queue_reviewers r WHERE r.queue_id = $1 AND r.user_id = u.id) AS current \
             FROM users u WHERE u.id IN (SELECT user_id FROM queue_reviewers WHERE queue_id = $1 UNION SELECT user_id FROM queue_assignments WHERE queue_id = $1) \
             ORDER BY u.name",
            judged_by("u.id"),
            live = super::trash::LIVE_ITEM
        )
    } else {
        format!(
            "SELECT u.id AS user_id, u.name, (SELECT COUNT(*) FROM queue_items i WHERE i.queue_id = $1 AND {live}) AS assigned, \
               (SELECT COUNT(*) FROM queue_items i WHERE i.queue_id = $1 AND {live} AND {}) AS judged, TRUE AS current \
             FROM users u WHERE u.id IN (SELECT g.user_id FROM grades g JOIN queue_items i ON i.id = g.item_id WHERE i.queue_id = $1 \
               UNION SELECT v.user_id FROM votes v JOIN queue_items i ON i.id = v.item_id WHERE i.queue_id = $1) \
             ORDER BY u.name",
            judged_by("u.id"),
            live = super::trash::LIVE_ITEM
        )
    };
    Ok(sqlx::query_as(&sql).bind(queue_id).fetch_all(db).await?)
}

/// One judgement in a queue: a grade (its overall) or a vote.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Judgement {
    pub item_id: String,
    pub user_id: i64,
    pub overall: Option<i64>,
    pub choice: Option<VoteChoice>,
}

/// Every grade and vote in the queue.
pub async fn judgements(db: &Db, queue_id: i64) -> DbResult<Vec<Judgement>> {
    Ok(sqlx::query_as(&format!(
        "SELECT i.id AS item_id, g.user_id, g.overall, NULL AS choice FROM grades g JOIN queue_items i ON i.id = g.item_id WHERE i.queue_id = $1 AND {live} \
         UNION ALL SELECT i.id, v.user_id, NULL, v.choice FROM votes v JOIN queue_items i ON i.id = v.item_id WHERE i.queue_id = $1 AND {live}",
        live = super::trash::LIVE_ITEM
    ))
    .bind(queue_id)
    .fetch_all(db)
    .await?)
}

/// Where an item stands among the user's items of its queue.
#[derive(Clone, Copy, Debug, PartialEq, sqlx::FromRow)]
pub struct Around {
    /// 1-based place of the item among the user's items.
    pub ordinal: i64,
    /// How many items the user has in the queue.
    pub count: i64,
    /// The positions of the user's previous and next items.
    pub prev: Option<i64>,
    pub next: Option<i64>,
}

pub async fn around(db: &Db, queue_id: i64, user_id: i64, position: i64) -> DbResult<Around> {
    let m = mine(2);
    let live = super::trash::LIVE_ITEM;
    let of = |what: &str, cond: &str| format!("(SELECT {what} FROM queue_items i WHERE i.queue_id = $1 AND {m} AND {live}{cond})");
    let sql = format!(
        "SELECT {} AS ordinal, {} AS count, {} AS prev, {} AS next",
        of("COUNT(*)", " AND i.position <= $3"),
        of("COUNT(*)", ""),
        of("MAX(i.position)", " AND i.position < $3"),
        of("MIN(i.position)", " AND i.position > $3"),
    );
    Ok(sqlx::query_as(&sql)
        .bind(queue_id)
        .bind(user_id)
        .bind(position)
        .fetch_one(db)
        .await?)
}

#[cfg(test)]
mod tests;
