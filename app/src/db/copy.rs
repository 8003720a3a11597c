//! `bakeoff db copy --from FILE --to URL`: move a team's SQLite database into Postgres, table by
//! table in the order their references need, in one Postgres transaction, checked by counting
//! the rows of every table on both sides before it commits.

use super::error::{DbError, DbResult};
use super::pool::Backend;
use super::{Db, Flag};
use sqlx::{Row, ValueRef};
use std::collections::{BTreeMap, BTreeSet};

/// Rows read from SQLite per page (then written in statements of at most ~30,000 parameters).
const PAGE: i64 = 5_000;

/// One table copied: its rows on each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub source_rows: i64,
    pub target_rows: i64,
}

/// The tables of an SQLite database, each after the tables it references.
async fn tables_in_order(src: &mut sqlx::AnyConnection) -> DbResult<Vec<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *src)
    .await?;
    let mut refs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in &names {
        let parents: Vec<String> = sqlx::query_scalar(&format!("SELECT \"table\" FROM pragma_foreign_key_list('{t}')"))
            .fetch_all(&mut *src)
            .await?;
        refs.insert(t.clone(), parents.into_iter().filter(|p| p != t).collect());
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < names.len() {
        let ready: Vec<String> = names
            .iter()
            .filter(|t| !done.contains(*t) && refs[*t].iter().all(|p| done.contains(p) || !refs.contains_key(p)))
            .cloned()
            .collect();
        if ready.is_empty() {
            let left: Vec<&String> = names.iter().filter(|t| !done.contains(*t)).collect();
            return Err(DbError::Conflict(format!(
                "the tables {left:?} reference each other in a cycle: cannot order the copy"
            )));
        }
        for t in ready {
            done.insert(t.clone());
            order.push(t);
        }
    }
    Ok(order)
}

/// A value read from SQLite, as the Postgres column's type wants it.
enum Value {
    /// A NULL typed as its column (Postgres does not cast an untyped-as-text NULL to a number).
    Null(&'static str),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

fn read(row: &sqlx::any::AnyRow, i: usize, pg_type: &str) -> DbResult<Value> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null(match pg_type {
            "boolean" => "bool",
            "bigint" | "integer" | "smallint" => "int",
            "double precision" | "real" => "float",
            "bytea" => "bytes",
            _ => "text",
        }));
    }
    let kind = raw.type_info().kind();
    use sqlx::any::AnyTypeInfoKind as K;
    Ok(match pg_type {
        "boolean" => Value::Bool(row.try_get::<Flag, _>(i)?.0),
        "bigint" | "integer" | "smallint" => Value::Int(row.try_get::<i64, _>(i)?),
        "double precision" | "real" => match kind {
            K::BigInt | K::Integer | K::SmallInt => Value::Float(row.try_get::<i64, _>(i)? as f64),
            _ => Value::Float(row.try_get::<f64, _>(i)?),
        },
        "bytea" => match kind {
            K::Text => Value::Bytes(row.try_get::<String, _>(i)?.into_bytes()),
            _ => Value::Bytes(row.try_get::<Vec<u8>, _>(i)?),
        },
        _ => match kind {
            K::BigInt | K::Integer | K::SmallInt => Value::Text(row.try_get::<i64, _>(i)?.to_string()),
            K::Double | K::Real => Value::Text(row.try_get::<f64, _>(i)?.to_string()),
            K::Blob => Value::Text(String::from_utf8_lossy(&row.try_get::<Vec<u8>, _>(i)?).into_owned()),
            _ => Value::Text(row.try_get::<String, _>(i)?),
        },
    })
}

/// Copy every table of the SQLite database `src` into the Postgres database `dst`, which must
/// be empty (migrated, no rows). All or nothing: one transaction, committed only when every
/// table's row count matches.
pub async fn sqlite_to_postgres(src: &Db, dst: &Db, mut progress: impl FnMut(&str, i64)) -> DbResult<Vec<Copied>> {
    if Backend::of_pool(src) != Backend::Sqlite || Backend::of_pool(dst) != Backend::Postgres {
        return Err(DbError::Conflict(
            "copy goes from an SQLite file (--from) to a postgres:// URL (--to)".into(),
        ));
    }
    // Every read of the file in one read transaction: a snapshot (WAL), whatever writes to it
    // meanwhile, so the counts checked are those of the rows copied.
    let mut snap = src.acquire().await?;
    sqlx::query("BEGIN").execute(&mut *snap).await?;
    let tables = tables_in_order(&mut snap).await?;
    let mut tx = dst.begin().await?;
    for t in &tables {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1::BIGINT FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1")
                .bind(t)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(DbError::Conflict(format!(
                "table {t} is in the SQLite file but not in Postgres: run the same Bakeoff release on both"
            )));
        }
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(&mut *tx).await?;
        if rows > 0 {
            return Err(DbError::Conflict(format!(
                "the Postgres database is not empty (table {t} has {rows} rows): copy into a new, empty database"
            )));
        }
    }
    let mut out = Vec::new();
    for t in &tables {
        // The target's columns (its own `rowid` identity aside) and their types.
        let cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' AND identity_generation IS DISTINCT FROM 'ALWAYS' \
             ORDER BY ordinal_position",
        )
        .bind(t)
        .fetch_all(&mut *tx)
        .await?;
        let source_cols: BTreeSet<String> = sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .fetch_all(&mut *snap)
            .await?
            .into_iter()
            .collect();
        let cols: Vec<(String, String)> = cols.into_iter().filter(|(c, _)| source_cols.contains(c)).collect();
        let list = cols.iter().map(|(c, _)| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let per_statement = (30_000 / cols.len().max(1)).max(1);
        let mut after = i64::MIN;
        let mut copied = 0i64;
        loop {
            let page = sqlx::query(&format!(
                "SELECT rowid, {list} FROM {t} WHERE rowid > $1 ORDER BY rowid LIMIT {PAGE}"
            ))
            .bind(after)
            .fetch_all(&mut *snap)
            .await?;
            let Some(last) = page.last() else { break };
            after = last.try_get::<i64, _>(0)?;
            for chunk in page.chunks(per_statement) {
                let mut q = super::sql::Sql::new(format!("INSERT INTO {t} ({list})"));
                let mut values = Vec::with_capacity(chunk.len());
                for row in chunk {
                    let mut v = Vec::with_capacity(cols.len());
                    for (i, (_, ty)) in cols.iter().enumerate() {
                        v.push(read(row, i + 1, ty)?);
                    }
                    values.push(v);
                }
                q.push_values(values, |mut b, row| {
                    for v in row {
                        match v {
                            Value::Null("bool") => b.push_bind(Option::<bool>::None),
                            Value::Null("int") => b.push_bind(Option::<i64>::None),
                            Value::Null("float") => b.push_bind(Option::<f64>::None),
                            Value::Null("bytes") => b.push_bind(Option::<Vec<u8>>::None),
                            Value::Null(_) => b.push_bind(Option::<String>::None),
                            Value::Bool(x) => b.push_bind(x),
                            Value::Int(x) => b.push_bind(x),
                            Value::Float(x) => b.push_bind(x),
                            Value::Text(x) => b.push_bind(x),
                            Value::Bytes(x) => b.push_bind(x),
                        };
                    }
                });
                q.build().execute(&mut *tx).await?;
                copied += chunk.len() as i64;
            }
            progress(t, copied);
        }
        // Identity columns go on from the highest id copied.
        let identity: Option<String> = sqlx::query_scalar(
            "SELECT column_name::TEXT FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
             AND identity_generation = 'BY DEFAULT'",
        )
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(c) = identity {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE(MAX(\"{c}\"), 0) + 1, false) FROM {t}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        let source_rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
            .fetch_one(&mut *snap)
            .await?;
        let target_rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(&mut *tx).await?;
        if source_rows != target_rows {
            return Err(DbError::Conflict(format!(
                "table {t}: {source_rows} rows in the SQLite file but {target_rows} copied: nothing was committed"
            )));
        }
        out.push(Copied {
            table: t.clone(),
            source_rows,
            target_rows,
        });
    }
    tx.commit().await?;
    sqlx::query("COMMIT").execute(&mut *snap).await?;
    Ok(out)
}
