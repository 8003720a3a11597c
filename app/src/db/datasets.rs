use super::error::{json, to_json, DbError, DbResult};
use super::Db;
use crate::api::types::DatasetView;
use crate::domain::dataset::DatasetItem;
use serde_json::Value;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    description: String,
    source: String,
    builtin: bool,
    has_schema: bool,
    item_count: i64,
    created_at: String,
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
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str = "id, name, description, source, builtin, answer_schema IS NOT NULL AS has_schema, item_count, created_at";

pub async fn list(db: &Db) -> DbResult<Vec<DatasetView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM datasets ORDER BY builtin DESC, id DESC"))
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(db: &Db, id: i64) -> DbResult<DatasetView> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM datasets WHERE id = ?"))
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

/// Store a dataset and all its items in one transaction: all or nothing.
pub async fn insert(db: &Db, d: NewDataset<'_>) -> DbResult<i64> {
    let mut tx = db.begin().await?;
    let res = sqlx::query(
        "INSERT INTO datasets (name, description, source, builtin, answer_schema, rubric, item_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(d.name)
    .bind(d.description)
    .bind(d.source)
    .bind(d.builtin)
    .bind(d.answer_schema.map(to_json))
    .bind(d.rubric.map(to_json))
    .bind(d.items.len() as i64)
    .execute(&mut *tx)
    .await;
    let id = match res {
        Ok(r) => r.last_insert_rowid(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(DbError::Conflict(format!(
                "a dataset named '{}' already exists; choose another name",
                d.name
            )))
        }
        Err(e) => return Err(e.into()),
    };
    for (idx, item) in d.items.iter().enumerate() {
        sqlx::query("INSERT INTO dataset_items (dataset_id, idx, custom_id, url, body) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(idx as i64)
            .bind(&item.custom_id)
            .bind(&item.url)
            .bind(to_json(&item.body))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    custom_id: String,
    url: String,
    body: String,
}

/// All items of a dataset, in order.
pub async fn items(db: &Db, dataset_id: i64) -> DbResult<Vec<DatasetItem>> {
    let rows: Vec<ItemRow> = sqlx::query_as("SELECT custom_id, url, body FROM dataset_items WHERE dataset_id = ? ORDER BY idx")
        .bind(dataset_id)
        .fetch_all(db)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(DatasetItem {
                custom_id: r.custom_id,
                url: r.url,
                body: json("dataset item", &r.body)?,
            })
        })
        .collect()
}

/// The dataset's answer schema, if it carries one.
pub async fn answer_schema(db: &Db, dataset_id: i64) -> DbResult<Option<Value>> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT answer_schema FROM datasets WHERE id = ?")
        .bind(dataset_id)
        .fetch_optional(db)
        .await?;
    match text {
        None => Err(DbError::NotFound(format!("dataset {dataset_id}"))),
        Some(None) => Ok(None),
        Some(Some(t)) => Ok(Some(json("answer schema", &t)?)),
    }
}

pub async fn id_by_name(db: &Db, name: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM datasets WHERE name = ?")
        .bind(name)
        .fetch_optional(db)
        .await?)
}

pub async fn builtin_id(db: &Db) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM datasets WHERE builtin = 1 ORDER BY id LIMIT 1")
        .fetch_optional(db)
        .await?)
}
