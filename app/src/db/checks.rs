use super::error::{json, to_json, DbResult};
use super::Db;
use crate::domain::quality::{AnswerCheck, JsonForm, RunQuality};

/// Replace a run's checks (one transaction).
pub async fn replace(db: &Db, run_id: i64, checks: &[AnswerCheck]) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM checks WHERE run_id = ?")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    // One multi-row INSERT per 1,000 checks (9 values each).
    for part in checks.chunks(1000) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO checks (run_id, custom_id, json_form, schema_valid, schema_errors, handback, truncated, recommendation, fields) ",
        );
        q.push_values(part, |mut b, c| {
            b.push_bind(run_id)
                .push_bind(&c.custom_id)
                .push_bind(c.json_form.map(|f| to_json(&f).trim_matches('"').to_string()))
                .push_bind(c.schema_valid)
                .push_bind(to_json(&c.schema_errors))
                .push_bind(c.handback)
                .push_bind(c.truncated)
                .push_bind(&c.recommendation)
                .push_bind(to_json(&c.fields));
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    custom_id: String,
    json_form: Option<String>,
    schema_valid: Option<bool>,
    schema_errors: String,
    handback: bool,
    truncated: bool,
    recommendation: Option<String>,
    fields: String,
}

fn from_row(r: Row) -> DbResult<AnswerCheck> {
    Ok(AnswerCheck {
        custom_id: r.custom_id,
        json_form: r
            .json_form
            .map(|f| json::<JsonForm>("json form", &format!("\"{f}\"")))
            .transpose()?,
        schema_valid: r.schema_valid,
        schema_errors: json("schema errors", &r.schema_errors)?,
        handback: r.handback,
        truncated: r.truncated,
        recommendation: r.recommendation,
        fields: json("fields", &r.fields)?,
    })
}

/// A run's checks, optionally only those with a given recommendation / problem.
pub async fn for_run(db: &Db, run_id: i64) -> DbResult<Vec<AnswerCheck>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT custom_id, json_form, schema_valid, schema_errors, handback, truncated, recommendation, fields FROM checks WHERE run_id = ? ORDER BY custom_id",
    )
    .bind(run_id)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn count(db: &Db, run_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM checks WHERE run_id = ?")
        .bind(run_id)
        .fetch_one(db)
        .await?)
}

/// Counts over a run's checks, with the reviewers' grades of its answers. Grades in a blind
/// queue count once the queue is closed: a figure that moved as a reviewer graded would tell them
/// which model wrote the answer.
pub async fn summary(db: &Db, run_id: i64) -> DbResult<RunQuality> {
    let (answered, json_found, schema_checked, schema_valid, handback, truncated): (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(json_form), COUNT(schema_valid), COALESCE(SUM(schema_valid), 0), COALESCE(SUM(handback), 0), COALESCE(SUM(truncated), 0) FROM checks WHERE run_id = ?",
    )
    .bind(run_id)
    .fetch_one(db)
    .await?;
    let grades: Vec<i64> = sqlx::query_scalar(
        "SELECT g.overall FROM grades g JOIN queue_items i ON i.id = g.item_id JOIN queues q ON q.id = i.queue_id \
         WHERE i.run_id = ? AND i.run_b IS NULL AND (q.blind = 0 OR q.closed_at IS NOT NULL)",
    )
    .bind(run_id)
    .fetch_all(db)
    .await?;
    let g: Vec<f64> = grades.iter().map(|x| *x as f64).collect();
    let ci = crate::domain::agreement::mean_ci(&g);
    Ok(RunQuality {
        answered: answered as u64,
        json_found: json_found as u64,
        schema_valid: (schema_checked > 0).then_some(schema_valid as u64),
        handback: handback as u64,
        truncated: truncated as u64,
        mean_grade: ci.map(|c| c.0),
        grades: g.len() as u64,
        grade_ci: ci.map(|c| c.1),
    })
}
