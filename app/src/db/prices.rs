use super::error::{json, to_json, DbError, DbResult};
use super::Db;
use crate::domain::cost::{PriceKind, PriceRow, PriceSheet, SelfHosted};

#[derive(sqlx::FromRow)]
struct SheetRow {
    id: i64,
    name: String,
    provider: String,
    source: String,
    dated: String,
    default_model_key: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    sheet_id: i64,
    model_key: String,
    kind: PriceKind,
    input_per_m: Option<f64>,
    output_per_m: Option<f64>,
    usd_per_hour: Option<f64>,
    self_hosted: Option<String>,
    note: String,
}

pub async fn list(db: &Db) -> DbResult<Vec<PriceSheet>> {
    let sheets: Vec<SheetRow> =
        sqlx::query_as("SELECT id, name, provider, source, dated, default_model_key FROM price_sheets ORDER BY builtin DESC, id")
            .fetch_all(db)
            .await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, sheet_id, model_key, kind, input_per_m, output_per_m, usd_per_hour, self_hosted, note FROM price_rows ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::new();
    for s in sheets {
        let mut prices = Vec::new();
        for r in rows.iter().filter(|r| r.sheet_id == s.id) {
            prices.push(PriceRow {
                id: r.id,
                model_key: r.model_key.clone(),
                kind: r.kind,
                input_per_m: r.input_per_m,
                output_per_m: r.output_per_m,
                usd_per_hour: r.usd_per_hour,
                self_hosted: r
                    .self_hosted
                    .as_deref()
                    .map(|t| json::<SelfHosted>("self-hosted costs", t))
                    .transpose()?,
                note: r.note.clone(),
            });
        }
        out.push(PriceSheet {
            id: s.id,
            name: s.name,
            provider: s.provider,
            source: s.source,
            dated: s.dated,
            default_model_key: s.default_model_key,
            rows: prices,
        });
    }
    Ok(out)
}

pub async fn by_name(db: &Db, name: &str) -> DbResult<PriceSheet> {
    list(db)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| DbError::NotFound(format!("price sheet '{name}'")))
}

/// Store a sheet with its rows (all or nothing). A sheet name already used is a conflict.
pub async fn insert(db: &Db, sheet: &PriceSheet, builtin: bool) -> DbResult<i64> {
    let mut tx = super::write_tx(db).await?;
    let res = sqlx::query_scalar::<_, i64>(
        "INSERT INTO price_sheets (name, provider, source, dated, default_model_key, builtin) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&sheet.name)
    .bind(&sheet.provider)
    .bind(&sheet.source)
    .bind(&sheet.dated)
    .bind(&sheet.default_model_key)
    .bind(builtin)
    .fetch_one(&mut *tx)
    .await;
    let id = match res {
        Ok(r) => r,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(DbError::Conflict(format!("a price sheet named '{}' exists", sheet.name)))
        }
        Err(e) => return Err(e.into()),
    };
    for r in &sheet.rows {
        insert_row_tx(&mut tx, id, r).await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn insert_row_tx(tx: &mut sqlx::Transaction<'_, sqlx::Any>, sheet_id: i64, r: &PriceRow) -> DbResult<i64> {
    let res = sqlx::query_scalar::<_, i64>(
        "INSERT INTO price_rows (sheet_id, model_key, kind, input_per_m, output_per_m, usd_per_hour, self_hosted, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(sheet_id)
    .bind(&r.model_key)
    .bind(r.kind)
    .bind(r.input_per_m)
    .bind(r.output_per_m)
    .bind(r.usd_per_hour)
    .bind(r.self_hosted.as_ref().map(to_json))
    .bind(&r.note)
    .fetch_one(&mut **tx)
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DbError::Conflict(format!(
            "the sheet already has a {} price for '{}'",
            r.kind.label(),
            r.model_key
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Add a row to a sheet.
pub async fn add_row(db: &Db, sheet_id: i64, r: &PriceRow) -> DbResult<i64> {
    let mut tx = super::write_tx(db).await?;
    let id = insert_row_tx(&mut tx, sheet_id, r).await?;
    tx.commit().await?;
    Ok(id)
}

/// Change a row's figures (the user can change every figure).
pub async fn update_row(db: &Db, r: &PriceRow) -> DbResult<()> {
    let res = sqlx::query(
        "UPDATE price_rows SET model_key = $1, input_per_m = $2, output_per_m = $3, usd_per_hour = $4, self_hosted = $5, note = $6 WHERE id = $7",
    )
    .bind(&r.model_key)
    .bind(r.input_per_m)
    .bind(r.output_per_m)
    .bind(r.usd_per_hour)
    .bind(r.self_hosted.as_ref().map(to_json))
    .bind(&r.note)
    .bind(r.id)
    .execute(db)
    .await?;
    if res.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("price row {}", r.id)));
    }
    Ok(())
}

pub async fn delete_row(db: &Db, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM price_rows WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

/// Ship the starting sheets once (a fresh database, or one from before they existed).
pub async fn ensure_starting_sheets(db: &Db) -> DbResult<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM price_sheets WHERE builtin = TRUE")
        .fetch_one(db)
        .await?;
    if n == 0 {
        for s in crate::domain::prices::starting_sheets() {
            insert(db, &s, true).await?;
        }
    }
    Ok(())
}

/// The newest sheet of `provider` (case-insensitive) that lists per-token prices: what a hosted
/// endpoint of a known provider is priced by unless another sheet is chosen.
pub async fn latest_of_provider(db: &Db, provider: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT s.id FROM price_sheets s WHERE s.provider = $1 COLLATE NOCASE \
         AND EXISTS (SELECT 1 FROM price_rows r WHERE r.sheet_id = s.id AND r.kind IN ('serverless', 'batch')) \
         ORDER BY s.id DESC LIMIT 1",
    )
    .bind(provider)
    .fetch_optional(db)
    .await?)
}

/// Does sheet `id` exist?
pub async fn sheet_exists(db: &Db, id: i64) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM price_sheets WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}
