use super::error::{json, to_json, DbError, DbResult};
use super::Db;

pub use crate::domain::views::{Grade, QueueView};

pub struct NewItem {
    pub id: String,
    pub custom_id: String,
    pub run_id: i64,
    pub run_b: Option<i64>,
    pub swap: bool,
    /// The reviewers dealt this item (empty in a queue without K).
    pub judges: Vec<i64>,
}

/// K judgements per item from these reviewers (a queue without it: everyone judges everything).
pub struct Reviewing {
    pub grades_per_item: i64,
    pub reviewers: Vec<i64>,
}

/// Store a queue with its runs, items, and reviewers with their items (one transaction).
pub async fn create(
    db: &Db,
    name: &str,
    kind: crate::domain::views::QueueKind,
    blind: bool,
    dataset_id: Option<i64>,
    sample_size: usize,
    seed: u64,
    created_by: i64,
    runs: &[i64],
    items: &[NewItem],
    reviewing: Option<&Reviewing>,
) -> DbResult<i64> {
    let mut tx = super::write_tx(db).await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO queues (name, kind, blind, dataset_id, sample_size, seed, created_by, grades_per_item) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
        .bind(name)
        .bind(kind)
        .bind(blind)
        .bind(dataset_id)
        .bind(sample_size as i64)
        .bind(seed as i64)
        .bind(created_by)
        .bind(reviewing.map(|r| r.grades_per_item))
        .fetch_one(&mut *tx)
        .await?;
    for r in runs {
        sqlx::query("INSERT INTO queue_runs (queue_id, run_id) VALUES ($1, $2)")
            .bind(id)
            .bind(r)
            .execute(&mut *tx)
            .await?;
    }
    for (pos, it) in items.iter().enumerate() {
        sqlx::query("INSERT INTO queue_items (id, queue_id, position, custom_id, run_id, run_b, swap) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&it.id)
            .bind(id)
            .bind(pos as i64)
            .bind(&it.custom_id)
            .bind(it.run_id)
            .bind(it.run_b)
            .bind(it.swap)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(r) = reviewing {
        let dealt: Vec<(String, i64)> = items.iter().flat_map(|it| it.judges.iter().map(|u| (it.id.clone(), *u))).collect();
        super::reviewers::insert_in(&mut tx, id, &r.reviewers, &dealt).await?;
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn list(db: &Db, user_id: i64) -> DbResult<Vec<QueueView>> {
    type Row = (
        i64,
        String,
        crate::domain::views::QueueKind,
        super::Flag,
        i64,
        i64,
        i64,
        String,
        super::Flag,
        super::Flag,
        Option<i64>,
        i64,
    );
    Ok(sqlx::query_as::<_, Row>(&format!(
        "SELECT q.id, q.name, q.kind, q.blind, \
           (SELECT COUNT(*) FROM queue_items i WHERE i.queue_id = q.id AND {live}), \
           (SELECT COUNT(*) FROM queue_items i WHERE i.queue_id = q.id AND {live} AND (EXISTS (SELECT 1 FROM grades g WHERE g.item_id = i.id AND g.user_id = $1) OR EXISTS (SELECT 1 FROM votes v WHERE v.item_id = i.id AND v.user_id = $1))), \
           (SELECT COUNT(*) FROM queue_items i JOIN grades g ON g.item_id = i.id WHERE i.queue_id = q.id AND {live}) + (SELECT COUNT(*) FROM queue_items i JOIN votes v ON v.item_id = i.id WHERE i.queue_id = q.id AND {live}), \
           q.created_at, q.closed_at IS NOT NULL, COALESCE(q.created_by = $1, FALSE), q.grades_per_item, \
           (SELECT COUNT(*) FROM queue_items i WHERE i.queue_id = q.id AND {live} AND {mine}) \
           FROM queues q WHERE q.deleted_at IS NULL ORDER BY q.id DESC",
        live = super::trash::LIVE_ITEM,
        mine = super::reviewers::mine(1),
    ))
    .bind(user_id)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|(id, name, kind, blind, items, done_by_me, judgements, created_at, closed, made_by_me, grades_per_item, mine)| QueueView {
        id,
        name,
        kind,
        blind: blind.0,
        items,
        done_by_me,
        judgements,
        created_at,
        closed: closed.0,
        made_by_me: made_by_me.0,
        grades_per_item,
        mine,
    })
    .collect())
}

pub async fn get(db: &Db, id: i64, user_id: i64) -> DbResult<QueueView> {
    list(db, user_id)
        .await?
        .into_iter()
        .find(|q| q.id == id)
        .ok_or_else(|| DbError::NotFound(format!("queue {id}")))
}

/// What the server decides with and never sends to reviewers.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueueRules {
    #[sqlx(try_from = "crate::db::Flag")]
    pub blind: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    pub closed: bool,
    pub created_by: Option<i64>,
    pub dataset_id: Option<i64>,
    pub seed: i64,
    /// K: judgements per item from the assigned reviewers (None: everyone judges everything).
    pub grades_per_item: Option<i64>,
}

pub async fn rules(db: &Db, id: i64) -> DbResult<QueueRules> {
    sqlx::query_as("SELECT blind, closed_at IS NOT NULL AS closed, created_by, dataset_id, seed, grades_per_item FROM queues WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| DbError::NotFound(format!("queue {id}")))
}

/// A queue (not in the trash) holding answers of a run, with its maker.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct QueueOfRun {
    pub id: i64,
    pub name: String,
    pub created_by: Option<i64>,
    /// The maker's name (None: made by an account since deleted).
    pub maker: Option<String>,
}

/// The queues (not in the trash) with grading items from run `run_id`, by id.
pub async fn holding_run(db: &Db, run_id: i64) -> DbResult<Vec<QueueOfRun>> {
    Ok(sqlx::query_as(
        "SELECT q.id, q.name, q.created_by, u.name AS maker FROM queues q LEFT JOIN users u ON u.id = q.created_by \
         WHERE q.deleted_at IS NULL AND (q.id IN (SELECT queue_id FROM queue_items WHERE run_id = $1 OR run_b = $1) \
         OR q.id IN (SELECT queue_id FROM queue_runs WHERE run_id = $1)) ORDER BY q.id",
    )
    .bind(run_id)
    .fetch_all(db)
    .await?)
}

/// Close a queue (once): grading stops and the reveal opens.
pub async fn close(db: &Db, id: i64) -> DbResult<()> {
    let done = sqlx::query("UPDATE queues SET closed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $1 AND closed_at IS NULL")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    if done == 0 {
        rules(db, id).await?;
        return Err(DbError::Conflict(format!("queue {id} is already closed")));
    }
    Ok(())
}

/// An item with what only the server may know (its runs).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ItemRow {
    pub id: String,
    pub queue_id: i64,
    pub position: i64,
    pub custom_id: String,
    pub run_id: i64,
    pub run_b: Option<i64>,
    #[sqlx(try_from = "crate::db::Flag")]
    pub swap: bool,
}

pub async fn item_at(db: &Db, queue_id: i64, position: i64) -> DbResult<Option<ItemRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, queue_id, position, custom_id, run_id, run_b, swap FROM queue_items i WHERE queue_id = $1 AND position = $2 AND {}",
        super::trash::LIVE_ITEM
    ))
    .bind(queue_id)
    .bind(position)
    .fetch_optional(db)
    .await?)
}

pub async fn item(db: &Db, id: &str) -> DbResult<ItemRow> {
    sqlx::query_as(&format!(
        "SELECT id, queue_id, position, custom_id, run_id, run_b, swap FROM queue_items i WHERE id = $1 AND {}",
        super::trash::LIVE_ITEM
    ))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| DbError::NotFound("grading item".into()))
}

/// The first position of the user's items (see [`super::reviewers::mine`]) not judged yet.
pub async fn next_open(db: &Db, queue_id: i64, user_id: i64) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT MIN(i.position) FROM queue_items i WHERE i.queue_id = $1 AND {} AND {} AND NOT EXISTS (SELECT 1 FROM grades g WHERE g.item_id = i.id AND g.user_id = $2) AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.item_id = i.id AND v.user_id = $2)",
        super::reviewers::mine(2),
        super::trash::LIVE_ITEM
    ))
    .bind(queue_id)
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// Why a judgement was not stored.
pub const CLOSED: &str = "this queue is closed: grading has stopped (its owner closed it to reveal the models)";
pub const FINAL: &str = "grades in a blind queue are final once you move on: only your most recent judgement can still be changed";

/// The SQL guarding a judgement, for the parameters `${q}` (the queue) and `${b}` (blind): an
/// insert only while the queue is open, and in a blind queue an update only of the user's most
/// recent judgement there.
fn guards(q: u8, b: u8) -> (String, String) {
    (
        format!("WHERE NOT EXISTS (SELECT 1 FROM queues WHERE id = ${q} AND closed_at IS NOT NULL)"),
        format!(
            "WHERE NOT ${b} OR EXISTS (SELECT 1 FROM last_judgements l WHERE l.queue_id = ${q} AND l.user_id = excluded.user_id AND l.item_id = excluded.item_id)"
        ),
    )
}

/// Store a grade, or amend it where the rules allow (see [`guards`]); then it is the
/// user's most recent judgement in the queue. Refused (Conflict) when the queue is closed or the
/// grade is final.
pub async fn save_grade(db: &Db, item: &ItemRow, user_id: i64, blind: bool, g: &Grade) -> DbResult<()> {
    let (insert_if, update_if) = guards(7, 8);
    let sql = format!(
        "INSERT INTO grades (item_id, user_id, overall, fields, comment, gold) SELECT $1, $2, $3, $4, $5, $6 {insert_if} \
         ON CONFLICT (item_id, user_id) DO UPDATE SET overall = excluded.overall, fields = excluded.fields, comment = excluded.comment, gold = excluded.gold, created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') {update_if}"
    );
    let mut tx = super::write_tx(db).await?;
    let stored = sqlx::query(&sql)
        .bind(&item.id)
        .bind(user_id)
        .bind(i64::from(g.overall))
        .bind(to_json(&g.fields))
        .bind(&g.comment)
        .bind(g.gold)
        .bind(item.queue_id)
        .bind(blind)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    judged(&mut tx, item, user_id, stored).await?;
    tx.commit().await?;
    Ok(())
}

/// After the guarded write: refuse with the reason, or note the judgement as the most recent.
async fn judged(tx: &mut sqlx::Transaction<'_, sqlx::Any>, item: &ItemRow, user_id: i64, stored: u64) -> DbResult<()> {
    if stored == 0 {
        let closed: super::Flag = sqlx::query_scalar("SELECT closed_at IS NOT NULL FROM queues WHERE id = $1")
            .bind(item.queue_id)
            .fetch_one(&mut **tx)
            .await?;
        return Err(DbError::Conflict(if closed.0 { CLOSED } else { FINAL }.into()));
    }
    sqlx::query(
        "INSERT INTO last_judgements (queue_id, user_id, item_id) VALUES ($1, $2, $3) \
         ON CONFLICT (queue_id, user_id) DO UPDATE SET item_id = excluded.item_id",
    )
    .bind(item.queue_id)
    .bind(user_id)
    .bind(&item.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The user judged this item, and it is no longer their most recent judgement in its queue.
pub async fn moved_on_from(db: &Db, item: &ItemRow, user_id: i64) -> DbResult<bool> {
    Ok(sqlx::query_scalar::<_, super::Flag>(
        "SELECT (EXISTS (SELECT 1 FROM grades WHERE item_id = $1 AND user_id = $2) OR EXISTS (SELECT 1 FROM votes WHERE item_id = $1 AND user_id = $2)) \
           AND NOT EXISTS (SELECT 1 FROM last_judgements WHERE queue_id = $3 AND user_id = $2 AND item_id = $1)",
    )
    .bind(&item.id)
    .bind(user_id)
    .bind(item.queue_id)
    .fetch_one(db)
    .await?
    .0)
}

pub async fn my_grade(db: &Db, item_id: &str, user_id: i64) -> DbResult<Option<Grade>> {
    let row: Option<(i64, String, String, super::Flag)> =
        sqlx::query_as("SELECT overall, fields, comment, gold FROM grades WHERE item_id = $1 AND user_id = $2")
            .bind(item_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    row.map(|(overall, fields, comment, gold)| {
        Ok(Grade {
            overall: overall as u8,
            fields: json("grade fields", &fields)?,
            comment,
            gold: gold.0,
        })
    })
    .transpose()
}

/// Store a vote, under the same rules as [`save_grade`].
pub async fn save_vote(db: &Db, item: &ItemRow, user_id: i64, blind: bool, choice: crate::domain::views::VoteChoice) -> DbResult<()> {
    let (insert_if, update_if) = guards(4, 5);
    let sql = format!(
        "INSERT INTO votes (item_id, user_id, choice) SELECT $1, $2, $3 {insert_if} \
         ON CONFLICT (item_id, user_id) DO UPDATE SET choice = excluded.choice, created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') {update_if}"
    );
    let mut tx = super::write_tx(db).await?;
    let stored = sqlx::query(&sql)
        .bind(&item.id)
        .bind(user_id)
        .bind(choice)
        .bind(item.queue_id)
        .bind(blind)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    judged(&mut tx, item, user_id, stored).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn my_vote(db: &Db, item_id: &str, user_id: i64) -> DbResult<Option<crate::domain::views::VoteChoice>> {
    Ok(sqlx::query_scalar("SELECT choice FROM votes WHERE item_id = $1 AND user_id = $2")
        .bind(item_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?)
}

/// Every grade with its item and reviewer: (custom_id, run_id, user_id, grade), from queues
/// that are closed or not blind (an open blind queue's grades would unblind it as they move).
pub async fn all_grades(db: &Db) -> DbResult<Vec<(String, i64, i64, Grade)>> {
    let rows: Vec<(String, i64, i64, i64, String, String, super::Flag)> = sqlx::query_as(&format!(
        "SELECT i.custom_id, i.run_id, g.user_id, g.overall, g.fields, g.comment, g.gold FROM grades g JOIN queue_items i ON i.id = g.item_id \
         JOIN queues q ON q.id = i.queue_id WHERE i.run_b IS NULL AND (q.blind = FALSE OR q.closed_at IS NOT NULL) \
         AND q.deleted_at IS NULL AND {}",
        super::trash::LIVE_ITEM
    ))
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(c, r, u, overall, fields, comment, gold)| {
            Ok((
                c,
                r,
                u,
                Grade {
                    overall: overall as u8,
                    fields: json("grade fields", &fields)?,
                    comment,
                    gold: gold.0,
                },
            ))
        })
        .collect()
}

/// Every pairwise vote: (custom_id, the stored run_id, run_b, swap, choice), from queues that are
/// closed or not blind.
pub async fn all_votes(db: &Db) -> DbResult<Vec<(String, i64, i64, bool, crate::domain::views::VoteChoice)>> {
    let rows: Vec<(String, i64, i64, super::Flag, crate::domain::views::VoteChoice)> = sqlx::query_as(&format!(
        "SELECT i.custom_id, i.run_id, i.run_b, i.swap, v.choice FROM votes v JOIN queue_items i ON i.id = v.item_id \
         JOIN queues q ON q.id = i.queue_id WHERE i.run_b IS NOT NULL AND (q.blind = FALSE OR q.closed_at IS NOT NULL) \
         AND q.deleted_at IS NULL AND {}",
        super::trash::LIVE_ITEM
    ))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, a, b, swap, choice)| (id, a, b, swap.0, choice))
        .collect())
}

/// One item a user judged, with its runs (for the reveal after the queue is closed).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Judged {
    pub position: i64,
    pub run_id: i64,
    pub run_b: Option<i64>,
    #[sqlx(try_from = "crate::db::Flag")]
    pub swap: bool,
    /// The user's overall grade, or their vote.
    pub overall: Option<i64>,
    pub choice: Option<crate::domain::views::VoteChoice>,
    /// The name of another blind queue, still open, that holds the same answer (same request of
    /// the same run): revealing this item's model would unblind that answer there.
    pub held_by: Option<String>,
}

/// Another open blind queue (not in the trash) holding an answer of item `i`: its name, or NULL.
fn held_by() -> String {
    format!(
        "(SELECT MIN(q2.name) FROM queue_items i2 JOIN queues q2 ON q2.id = i2.queue_id \
         WHERE q2.id <> i.queue_id AND q2.closed_at IS NULL AND q2.deleted_at IS NULL AND q2.blind = TRUE AND {}) AS held_by",
        super::reviewers::same_answer("i2", "i")
    )
}

pub async fn judged_by(db: &Db, queue_id: i64, user_id: i64) -> DbResult<Vec<Judged>> {
    Ok(sqlx::query_as(&format!(
        "SELECT i.position, i.run_id, i.run_b, i.swap, g.overall, v.choice, {} FROM queue_items i \
         LEFT JOIN grades g ON g.item_id = i.id AND g.user_id = $2 LEFT JOIN votes v ON v.item_id = i.id AND v.user_id = $2 \
         WHERE i.queue_id = $1 AND (g.item_id IS NOT NULL OR v.item_id IS NOT NULL) AND {} ORDER BY i.position",
        held_by(),
        super::trash::LIVE_ITEM
    ))
    .bind(queue_id)
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// Give a queue another name.
pub async fn rename(db: &Db, id: i64, name: &str) -> DbResult<()> {
    let done = sqlx::query("UPDATE queues SET name = $1 WHERE id = $2 AND deleted_at IS NULL")
        .bind(name)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(DbError::NotFound(format!("queue {id}")));
    }
    Ok(())
}

/// What deleting queue `id` takes with it: its items, and every reviewer's grades and votes on
/// them. The runs stay. The queue may be in the trash.
pub(crate) async fn removal(c: &mut sqlx::AnyConnection, id: i64) -> DbResult<crate::domain::views::Removal> {
    use super::runs::count;
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM queues WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    let Some(name) = name else {
        return Err(DbError::NotFound(format!("queue {id}")));
    };
    let mut r = crate::domain::views::Removal::new(format!("grading queue '{}'", crate::domain::dataset::clip(&name)));
    let items = "SELECT id FROM queue_items WHERE queue_id = $1";
    r.counted(count(c, "SELECT COUNT(*) FROM queue_items WHERE queue_id = $1", id).await?, "item");
    r.counted(
        count(c, &format!("SELECT COUNT(*) FROM grades WHERE item_id IN ({items})"), id).await?,
        "grade",
    );
    r.counted(
        count(c, &format!("SELECT COUNT(*) FROM votes WHERE item_id IN ({items})"), id).await?,
        "pairwise vote",
    );
    let reviewers = count(
        c,
        &format!("SELECT COUNT(DISTINCT user_id) FROM (SELECT user_id FROM grades WHERE item_id IN ({items}) UNION ALL SELECT user_id FROM votes WHERE item_id IN ({items})) AS t"),
        id,
    )
    .await?;
    if reviewers > 0 {
        r.with.push(format!(
            "the judgements of {reviewers} reviewer{}",
            if reviewers == 1 { "" } else { "s" }
        ));
    }
    Ok(r)
}
