use super::error::{json, to_json, DbError, DbResult};
use super::Db;
use crate::domain::dataset::DatasetItem;
use crate::domain::views::DatasetView;
use serde_json::Value;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    description: String,
    source: String,
    #[sqlx(try_from = "crate::db::Flag")]
    builtin: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    has_schema: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    internal_only: bool,
    item_count: i64,
    created_at: String,
    created_by: Option<String>,
}

impl From<Row> for DatasetView {
    fn from(r: Row) -> Self {
        DatasetView {
            id: r.id,
            name: r.name,
            description: r.description,
            source: r.source,
            builtin: r.builtin,
            item_count: r.item_count,
            has_schema: r.has_schema,
            internal_only: r.internal_only,
            created_at: r.created_at,
            created_by: r.created_by,
        }
    }
}

const COLUMNS: &str =
    "id, name, description, source, builtin, answer_schema IS NOT NULL AS has_schema, internal_only, item_count, created_at, \
    (SELECT u.name FROM users u WHERE u.id = datasets.created_by) AS created_by";

pub async fn list(db: &Db) -> DbResult<Vec<DatasetView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM datasets WHERE complete = TRUE AND deleted_at IS NULL ORDER BY builtin DESC, id DESC"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(db: &Db, id: i64) -> DbResult<DatasetView> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM datasets WHERE id = $1 AND complete = TRUE AND deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(Into::into).ok_or_else(|| DbError::NotFound(format!("dataset {id}")))
}

/// What a new dataset is made of.
pub struct NewDataset<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub source: &'a str,
    pub builtin: bool,
    pub answer_schema: Option<&'a Value>,
    pub rubric: Option<&'a Value>,
    pub items: &'a [DatasetItem],
}

/// Store a dataset and all its items in one transaction: all or nothing. For datasets held in
/// memory (the demo, the CLI); uploads go in batches ([`begin_upload`]).
pub async fn insert(db: &Db, d: NewDataset<'_>) -> DbResult<i64> {
    let mut tx = super::write_tx(db).await?;
    let id = insert_row(&mut tx, &d, true).await?;
    insert_items(&mut tx, id, 0, d.items).await?;
    tx.commit().await?;
    Ok(id)
}

/// Start an upload: the dataset's row, hidden from every list and look-up until
/// [`finish_upload`]. Its items go in with [`add_items`], one short transaction per batch, so a
/// running run's writes never wait long. A leftover of a crashed upload holding the same name
/// (not touched for a minute) is removed first.
pub async fn begin_upload(db: &Db, d: NewDataset<'_>) -> DbResult<i64> {
    let mut tx = super::write_tx(db).await?;
    sqlx::query(&format!("DELETE FROM datasets WHERE name = $1 AND {STALE}"))
        .bind(d.name)
        .execute(&mut *tx)
        .await?;
    let id = insert_row(&mut tx, &d, false).await?;
    tx.commit().await?;
    Ok(id)
}

/// Items `first..` of an upload under way, in one transaction.
pub async fn add_items(db: &Db, id: i64, first: usize, items: &[DatasetItem]) -> DbResult<()> {
    let mut tx = super::write_tx(db).await?;
    let touched = sqlx::query("UPDATE datasets SET touched_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $1 AND complete = FALSE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if touched.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("upload of dataset {id} (it was cleaned up)")));
    }
    insert_items(&mut tx, id, first, items).await?;
    tx.commit().await?;
    Ok(())
}

/// The upload's last item is in: the dataset becomes visible, with its count.
pub async fn finish_upload(db: &Db, id: i64, item_count: usize) -> DbResult<()> {
    let done = sqlx::query("UPDATE datasets SET complete = TRUE, touched_at = NULL, item_count = $1 WHERE id = $2 AND complete = FALSE")
        .bind(item_count as i64)
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("upload of dataset {id} (it was cleaned up)")));
    }
    Ok(())
}

/// A dataset stored for a launch that was then refused (`bakeoff run` with a bad setting):
/// removed again with its items, as long as no run or queue refers to it.
pub async fn remove_unused(db: &Db, id: i64) -> DbResult<()> {
    sqlx::query(
        "DELETE FROM datasets WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM runs WHERE dataset_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM queues WHERE dataset_id = $1)",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// An upload that will not finish: remove what it stored.
pub async fn discard_upload(db: &Db, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM datasets WHERE id = $1 AND complete = FALSE")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// At start-up: remove what crashed uploads left (hidden datasets no upload has touched for a
/// minute; another process's upload under way touches its dataset with every batch). Returns
/// how many.
pub async fn clean_abandoned_uploads(db: &Db) -> DbResult<u64> {
    Ok(sqlx::query(&format!("DELETE FROM datasets WHERE {STALE}"))
        .execute(db)
        .await?
        .rows_affected())
}

/// A hidden dataset whose upload stopped (a minute without a batch).
const STALE: &str = "complete = FALSE AND COALESCE(touched_at, created_at) < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-60 seconds')";

async fn insert_row(tx: &mut sqlx::AnyConnection, d: &NewDataset<'_>, complete: bool) -> DbResult<i64> {
    // A savepoint: after a failed statement Postgres refuses every other one in the transaction
    // until it is rolled back to here (the name check below needs one).
    sqlx::query("SAVEPOINT insert_dataset").execute(&mut *tx).await?;
    let res = sqlx::query_scalar::<_, i64>(
        "INSERT INTO datasets (name, description, source, builtin, answer_schema, rubric, item_count, complete, touched_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now') END) RETURNING id",
    )
    .bind(d.name)
    .bind(d.description)
    .bind(d.source)
    .bind(d.builtin)
    .bind(d.answer_schema.map(to_json))
    .bind(d.rubric.map(to_json))
    .bind(d.items.len() as i64)
    .bind(complete)
    .bind(complete)
    .fetch_one(&mut *tx)
    .await;
    match res {
        Ok(r) => {
            sqlx::query("RELEASE SAVEPOINT insert_dataset").execute(&mut *tx).await?;
            Ok(r)
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            sqlx::query("ROLLBACK TO SAVEPOINT insert_dataset").execute(&mut *tx).await?;
            let trashed: Option<super::Flag> = sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM datasets WHERE name = $1")
                .bind(d.name)
                .fetch_optional(&mut *tx)
                .await?;
            Err(DbError::Conflict(if trashed == Some(super::Flag(true)) {
                format!(
                    "a dataset named '{}' is in the trash: an admin can restore it or delete it forever on the Trash page; or choose another name",
                    d.name
                )
            } else {
                format!(
                    "a dataset named '{}' already exists (or is being uploaded); choose another name",
                    d.name
                )
            }))
        }
        Err(e) => Err(e.into()),
    }
}

async fn insert_items(tx: &mut sqlx::AnyConnection, id: i64, first: usize, items: &[DatasetItem]) -> DbResult<()> {
    for (i, item) in items.iter().enumerate() {
        sqlx::query("INSERT INTO dataset_items (dataset_id, idx, custom_id, url, body) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind((first + i) as i64)
            .bind(&item.custom_id)
            .bind(&item.url)
            .bind(to_json(&item.body))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    custom_id: String,
    url: String,
    body: String,
}

impl ItemRow {
    fn item(self) -> DbResult<DatasetItem> {
        Ok(DatasetItem {
            custom_id: self.custom_id,
            url: self.url,
            body: json("dataset item", &self.body)?,
        })
    }
}

/// One item of a dataset by its id, without reading the others.
pub async fn item(db: &Db, dataset_id: i64, custom_id: &str) -> DbResult<Option<DatasetItem>> {
    let row: Option<ItemRow> = sqlx::query_as("SELECT custom_id, url, body FROM dataset_items WHERE dataset_id = $1 AND custom_id = $2")
        .bind(dataset_id)
        .bind(custom_id)
        .fetch_optional(db)
        .await?;
    row.map(ItemRow::item).transpose()
}

/// All items of a dataset, in order.
pub async fn items(db: &Db, dataset_id: i64) -> DbResult<Vec<DatasetItem>> {
    let rows: Vec<ItemRow> = sqlx::query_as("SELECT custom_id, url, body FROM dataset_items WHERE dataset_id = $1 ORDER BY idx")
        .bind(dataset_id)
        .fetch_all(db)
        .await?;
    rows.into_iter().map(ItemRow::item).collect()
}

/// The dataset's answer schema, if it carries one.
pub async fn answer_schema(db: &Db, dataset_id: i64) -> DbResult<Option<Value>> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT answer_schema FROM datasets WHERE id = $1 AND complete = TRUE")
        .bind(dataset_id)
        .fetch_optional(db)
        .await?;
    match text {
        None => Err(DbError::NotFound(format!("dataset {dataset_id}"))),
        Some(None) => Ok(None),
        Some(Some(t)) => Ok(Some(json("answer schema", &t)?)),
    }
}

/// A dataset's grading rubric (the default one when it has none or it does not read).
pub async fn rubric(db: &Db, dataset_id: i64) -> DbResult<crate::domain::rubric::Rubric> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT rubric FROM datasets WHERE id = $1")
        .bind(dataset_id)
        .fetch_optional(db)
        .await?;
    Ok(text
        .flatten()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| crate::domain::rubric::Rubric::from_value(&v))
        .unwrap_or_default())
}

pub async fn id_by_name(db: &Db, name: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM datasets WHERE name = $1 AND complete = TRUE")
        .bind(name)
        .fetch_optional(db)
        .await?)
}

pub async fn builtin_id(db: &Db) -> DbResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM datasets WHERE builtin = TRUE ORDER BY id LIMIT 1")
            .fetch_optional(db)
            .await?,
    )
}

/// Give a dataset another name (names are unique).
pub async fn rename(db: &Db, id: i64, name: &str) -> DbResult<()> {
    let res = sqlx::query("UPDATE datasets SET name = $1 WHERE id = $2 AND complete = TRUE AND deleted_at IS NULL")
        .bind(name)
        .bind(id)
        .execute(db)
        .await;
    match res {
        Ok(r) if r.rows_affected() == 0 => Err(DbError::NotFound(format!("dataset {id}"))),
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DbError::Conflict(format!(
            "a dataset named '{}' already exists; choose another name",
            crate::domain::dataset::clip(name)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What deleting dataset `id` takes with it (its requests, and the runs and grading queues in
/// the trash that use it, which are purged with it; pending tests lose their link only when it
/// is purged). With `deleting`, it is refused while runs or grading queues not in the trash use
/// it, naming them: their records need the dataset's prompts. The dataset may be in the trash.
pub(crate) async fn removal(c: &mut sqlx::AnyConnection, id: i64, deleting: bool) -> DbResult<crate::domain::views::Removal> {
    use super::runs::{count, users_of};
    use crate::domain::dataset::clip;
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM datasets WHERE id = $1 AND complete = TRUE")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    let Some(name) = name else {
        return Err(DbError::NotFound(format!("dataset {id}")));
    };
    if deleting {
        if let Some((n, runs)) = users_of(c, "dataset_id", id).await? {
            return Err(DbError::Conflict(format!(
                "dataset '{}' is used by {} run{}: {runs}. Delete {} first (with {} records and grades), or keep the dataset.",
                clip(&name),
                n,
                if n == 1 { "" } else { "s" },
                if n == 1 { "that run" } else { "those runs" },
                if n == 1 { "its" } else { "their" },
            )));
        }
        let queues: Vec<String> = sqlx::query_scalar("SELECT name FROM queues WHERE dataset_id = $1 AND deleted_at IS NULL ORDER BY id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
        if !queues.is_empty() {
            let named = queues.iter().map(|q| format!("'{}'", clip(q))).collect::<Vec<_>>().join(", ");
            return Err(DbError::Conflict(format!(
                "dataset '{}' is the rubric of grading queue(s) {named}: delete them first (Grade page), or keep the dataset.",
                clip(&name)
            )));
        }
    }
    let mut r = crate::domain::views::Removal::new(format!("dataset '{}'", clip(&name)));
    r.counted(
        count(c, "SELECT COUNT(*) FROM dataset_items WHERE dataset_id = $1", id).await?,
        "request",
    );
    r.counted(
        count(c, "SELECT COUNT(*) FROM runs WHERE dataset_id = $1 AND deleted_at IS NOT NULL", id).await?,
        "run in the trash",
    );
    r.counted(
        count(
            c,
            "SELECT COUNT(*) FROM queues WHERE dataset_id = $1 AND deleted_at IS NOT NULL",
            id,
        )
        .await?,
        "grading queue in the trash",
    );
    r.unlinked(
        count(c, "SELECT COUNT(*) FROM planned_tests WHERE dataset_id = $1", id).await?,
        "pending test",
    );
    Ok(r)
}
