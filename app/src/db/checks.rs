use super::error::{json, to_json, DbResult};
use super::Db;
use crate::domain::quality::{AnswerCheck, JsonForm, RunQuality};

/// Replace a run's checks (one transaction).
pub async fn replace(db: &Db, run_id: i64, checks: &[AnswerCheck]) -> DbResult<()> {
    let mut tx = super::write_tx(db).await?;
    sqlx::query("DELETE FROM checks WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    insert_tx(&mut tx, run_id, checks).await?;
    sqlx::query("DELETE FROM check_counts WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Forget a run's checks (before checking it afresh, a page at a time).
pub async fn clear(db: &Db, run_id: i64) -> DbResult<()> {
    let mut tx = super::write_tx(db).await?;
    sqlx::query("DELETE FROM checks WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    changed_tx(&mut tx, run_id).await?;
    sqlx::query("DELETE FROM check_counts WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

type Counts = (i64, i64, i64, i64, i64, i64);

/// Count a run's checks once (answered, JSON found, schema checked, schema valid, hand-backs,
/// truncated) and keep the counts, which pages read from then on.
pub async fn roll_up(db: &Db, run_id: i64) -> DbResult<Counts> {
    let c: Counts = sqlx::query_as(
        "SELECT COUNT(*), COUNT(json_form), COUNT(schema_valid), COALESCE(SUM(CASE WHEN schema_valid THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN handback THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN truncated THEN 1 ELSE 0 END), 0) FROM checks WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(db)
    .await?;
    let recs: Vec<(String, i64)> =
        sqlx::query_as("SELECT COALESCE(recommendation, '(none)'), COUNT(*) FROM checks WHERE run_id = $1 GROUP BY 1 ORDER BY 1")
            .bind(run_id)
            .fetch_all(db)
            .await?;
    sqlx::query(
        "INSERT INTO check_counts (run_id, answered, json_found, schema_checked, schema_valid, handback, truncated, recommendations) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (run_id) DO UPDATE SET answered = excluded.answered, json_found = excluded.json_found, schema_checked = excluded.schema_checked, schema_valid = excluded.schema_valid, handback = excluded.handback, truncated = excluded.truncated, recommendations = excluded.recommendations",
    )
    .bind(run_id)
    .bind(c.0)
    .bind(c.1)
    .bind(c.2)
    .bind(c.3)
    .bind(c.4)
    .bind(c.5)
    .bind(to_json(&recs))
    .execute(db)
    .await?;
    Ok(c)
}

async fn stored_counts(db: &Db, run_id: i64) -> DbResult<Option<Counts>> {
    Ok(
        sqlx::query_as(
            "SELECT answered, json_found, schema_checked, schema_valid, handback, truncated FROM check_counts WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_optional(db)
        .await?,
    )
}

/// How often each recommendation was extracted from a run's answers ("(none)" without one).
pub async fn recommendations(db: &Db, run_id: i64) -> DbResult<Vec<(String, u64)>> {
    let stored: Option<String> = sqlx::query_scalar("SELECT recommendations FROM check_counts WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(db)
        .await?;
    let text = match stored {
        Some(t) => t,
        None => {
            roll_up(db, run_id).await?;
            sqlx::query_scalar("SELECT recommendations FROM check_counts WHERE run_id = $1")
                .bind(run_id)
                .fetch_one(db)
                .await?
        }
    };
    json("recommendation counts", &text)
}

/// The extracted recommendation of every answer a reviewer was given to grade:
/// ((run, item), recommendation).
pub async fn graded_recommendations(db: &Db) -> DbResult<Vec<((i64, String), String)>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT DISTINCT c.run_id, c.custom_id, c.recommendation FROM queue_items i \
         JOIN checks c ON c.run_id = i.run_id AND c.custom_id = i.custom_id WHERE c.recommendation IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(r, c, rec)| ((r, c), rec)).collect())
}

/// The recommendation each checked answer of a run gave (`None`: none found), by item.
pub async fn recommendation_by_item(db: &Db, run_id: i64) -> DbResult<std::collections::HashMap<String, Option<String>>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT custom_id, recommendation FROM checks WHERE run_id = $1")
        .bind(run_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// One item's check in a run.
pub async fn get(db: &Db, run_id: i64, custom_id: &str) -> DbResult<Option<AnswerCheck>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT custom_id, json_form, schema_valid, schema_errors, handback, truncated, recommendation, fields FROM checks WHERE run_id = $1 AND custom_id = $2",
    )
    .bind(run_id)
    .bind(custom_id)
    .fetch_optional(db)
    .await?;
    row.map(from_row).transpose()
}

/// The items (by id) whose answers every one of `runs` has checked: the first `limit`.
pub async fn common_items(db: &Db, runs: &[i64], limit: u32) -> DbResult<Vec<String>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    // Walk the first run's items in order, each looked up in the others by key, until `limit`
    // are found (never a whole run's items per run).
    let mut q = super::sql::Sql::new("SELECT c.custom_id FROM checks c WHERE c.run_id = ");
    q.push_bind(runs[0]);
    for r in &runs[1..] {
        q.push(" AND EXISTS (SELECT 1 FROM checks o WHERE o.run_id = ")
            .push_bind(*r)
            .push(" AND o.custom_id = c.custom_id)");
    }
    q.push(" ORDER BY c.custom_id LIMIT ").push_bind(i64::from(limit));
    Ok(q.build_query_scalar().fetch_all(db).await?)
}

/// Whether every one of `runs` checked an answer for `custom_id`.
pub async fn common_items_include(db: &Db, runs: &[i64], custom_id: &str) -> DbResult<bool> {
    for r in runs {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM checks WHERE run_id = $1 AND custom_id = $2")
            .bind(r)
            .bind(custom_id)
            .fetch_one(db)
            .await?;
        if n == 0 {
            return Ok(false);
        }
    }
    Ok(!runs.is_empty())
}

/// Whether a run's answers have been checked (counts kept, or checks stored before counts were).
pub async fn checked(db: &Db, run_id: i64) -> DbResult<bool> {
    Ok(stored_counts(db, run_id).await?.is_some() || count(db, run_id).await? > 0)
}

/// Add checks of a run (one short transaction; a check already stored is replaced).
pub async fn append(db: &Db, run_id: i64, checks: &[AnswerCheck]) -> DbResult<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let mut tx = super::write_tx(db).await?;
    insert_tx(&mut tx, run_id, checks).await?;
    tx.commit().await?;
    Ok(())
}

/// A run's records or checks changed (in the transaction that changes them): a hybrid split
/// stored with the run's previous version no longer counts.
pub(super) async fn changed_tx(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE runs SET checks_version = checks_version + 1 WHERE id = $1")
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_tx(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: i64, checks: &[AnswerCheck]) -> DbResult<()> {
    changed_tx(tx, run_id).await?;
    // One multi-row INSERT per 1,000 checks (9 values each).
    let backend = super::pool::Backend::of_conn(tx);
    for part in checks.chunks(1000) {
        let mut q = super::sql::Sql::for_backend(
            backend,
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
        q.push(" ON CONFLICT (run_id, custom_id) DO UPDATE SET json_form = excluded.json_form, schema_valid = excluded.schema_valid, schema_errors = excluded.schema_errors, handback = excluded.handback, truncated = excluded.truncated, recommendation = excluded.recommendation, fields = excluded.fields");
        // Only full-size statements stay prepared (each size is its own statement).
        let full = part.len() == 1000;
        q.build().persistent(full).execute(&mut **tx).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    custom_id: String,
    json_form: Option<String>,
    #[sqlx(try_from = "crate::db::OptFlag")]
    schema_valid: Option<bool>,
    schema_errors: String,
    #[sqlx(try_from = "crate::db::Flag")]
    handback: bool,
    #[sqlx(try_from = "crate::db::Flag")]
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
        "SELECT custom_id, json_form, schema_valid, schema_errors, handback, truncated, recommendation, fields FROM checks WHERE run_id = $1 ORDER BY custom_id",
    )
    .bind(run_id)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(from_row).collect()
}

/// One page of a run's checks (by item id), filtered in the database by the extracted
/// recommendation ("" any, "(none)" none) and a problem ("no_json", "invalid", "handback",
/// "truncated", "" any), with how many match in all.
pub async fn page(db: &Db, run_id: i64, recommendation: &str, problem: &str, limit: u32, offset: u64) -> DbResult<(Vec<AnswerCheck>, u64)> {
    let filter = |q: &mut super::sql::Sql<'_>| {
        q.push(" FROM checks WHERE run_id = ").push_bind(run_id);
        match recommendation {
            "" => {}
            "(none)" => {
                q.push(" AND recommendation IS NULL");
            }
            r => {
                q.push(" AND recommendation = ").push_bind(r.to_string());
            }
        }
        q.push(match problem {
            "no_json" => " AND json_form IS NULL",
            "invalid" => " AND schema_valid = FALSE",
            "handback" => " AND handback = TRUE",
            "truncated" => " AND truncated = TRUE",
            _ => "",
        });
    };
    let mut q =
        super::sql::Sql::new("SELECT custom_id, json_form, schema_valid, schema_errors, handback, truncated, recommendation, fields");
    filter(&mut q);
    q.push(" ORDER BY custom_id LIMIT ")
        .push_bind(i64::from(limit))
        .push(" OFFSET ")
        .push_bind(offset as i64);
    let rows: Vec<Row> = q.build_query_as().fetch_all(db).await?;
    let mut c = super::sql::Sql::new("SELECT COUNT(*)");
    filter(&mut c);
    let total: i64 = c.build_query_scalar().fetch_one(db).await?;
    Ok((rows.into_iter().map(from_row).collect::<DbResult<_>>()?, total.max(0) as u64))
}

pub async fn count(db: &Db, run_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM checks WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(db)
        .await?)
}

/// Counts over a run's checks, with the reviewers' grades of its answers. Grades in a blind
/// queue count once the queue is closed: a figure that moved as a reviewer graded would tell them
/// which model wrote the answer.
pub async fn summary(db: &Db, run_id: i64) -> DbResult<RunQuality> {
    let (answered, json_found, schema_checked, schema_valid, handback, truncated) = match stored_counts(db, run_id).await? {
        Some(c) => c,
        None => roll_up(db, run_id).await?,
    };
    let grades: Vec<i64> = sqlx::query_scalar(
        "SELECT g.overall FROM grades g JOIN queue_items i ON i.id = g.item_id JOIN queues q ON q.id = i.queue_id \
         WHERE i.run_id = $1 AND i.run_b IS NULL AND (q.blind = FALSE OR q.closed_at IS NOT NULL) AND q.deleted_at IS NULL",
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

/// The items both runs measured (warm-up left out), counted by the screen's and the judge's
/// extracted recommendation (NULL: no check or none extracted): a few dozen rows whatever the
/// runs' size, counted by key lookups in SQL rather than every item sent to Rust.
pub async fn hybrid_counts(db: &Db, screen: i64, judge: i64) -> DbResult<Vec<(Option<String>, Option<String>, i64)>> {
    Ok(sqlx::query_as(&format!(
        "SELECT cs.recommendation, cj.recommendation, COUNT(*) {HYBRID_FROM} GROUP BY 1, 2"
    ))
    .bind(screen)
    .bind(judge)
    .fetch_all(db)
    .await?)
}

/// [`hybrid_counts`], stored once for two finished runs and read back while neither run's
/// records or checks have changed since (their `checks_version`); counted afresh otherwise.
pub async fn hybrid_counts_stored(db: &Db, screen: i64, judge: i64) -> DbResult<Vec<(Option<String>, Option<String>, i64)>> {
    use crate::domain::status::RunStatus;
    let runs: Vec<(i64, i64, RunStatus)> = sqlx::query_as("SELECT id, checks_version, status FROM runs WHERE id IN ($1, $2)")
        .bind(screen)
        .bind(judge)
        .fetch_all(db)
        .await?;
    let version = |id: i64| runs.iter().find(|r| r.0 == id && r.2.is_finished()).map(|r| r.1);
    let (Some(sv), Some(jv)) = (version(screen), version(judge)) else {
        return hybrid_counts(db, screen, judge).await;
    };
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT counts FROM hybrid_splits WHERE screen_id = $1 AND judge_id = $2 AND screen_version = $3 AND judge_version = $4",
    )
    .bind(screen)
    .bind(judge)
    .bind(sv)
    .bind(jv)
    .fetch_optional(db)
    .await?;
    if let Some(text) = stored {
        return json("stored hybrid split", &text);
    }
    // Stored under the versions read before counting: a write meanwhile moves a version on, and
    // this split is then never read.
    let counts = hybrid_counts(db, screen, judge).await?;
    sqlx::query(
        "INSERT INTO hybrid_splits (screen_id, judge_id, screen_version, judge_version, counts) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (screen_id, judge_id) DO UPDATE SET screen_version = excluded.screen_version, judge_version = excluded.judge_version, counts = excluded.counts",
    )
    .bind(screen)
    .bind(judge)
    .bind(sv)
    .bind(jv)
    .bind(to_json(&counts))
    .execute(db)
    .await?;
    Ok(counts)
}

/// The same items one by one (custom_id, screen's, judge's recommendation); `only`: just these
/// items (the few a reviewer graded).
pub async fn hybrid_items(
    db: &Db,
    screen: i64,
    judge: i64,
    only: Option<&[String]>,
) -> DbResult<Vec<(String, Option<String>, Option<String>)>> {
    let mut rows = Vec::new();
    let sql = format!("SELECT s.custom_id, cs.recommendation, cj.recommendation {HYBRID_FROM}");
    match only {
        None => {
            rows = sqlx::query_as(&sql).bind(screen).bind(judge).fetch_all(db).await?;
        }
        Some(ids) => {
            for chunk in ids.chunks(500) {
                // Numbered like the pair's ?1 and ?2 (sqlx counts a bare `?` from 1 whatever
                // numbers came before it).
                let marks = (3..3 + chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
                let text = format!("{sql} AND s.custom_id IN ({marks})");
                let mut q = sqlx::query_as(&text).bind(screen).bind(judge);
                for id in chunk {
                    q = q.bind(id);
                }
                rows.extend(q.fetch_all(db).await?);
            }
        }
    }
    Ok(rows)
}

const HYBRID_FROM: &str = "FROM request_records s \
     JOIN request_records j ON j.run_id = $2 AND j.custom_id = s.custom_id AND j.warmup = FALSE \
     LEFT JOIN checks cs ON cs.run_id = $1 AND cs.custom_id = s.custom_id \
     LEFT JOIN checks cj ON cj.run_id = $2 AND cj.custom_id = s.custom_id \
     WHERE s.run_id = $1 AND s.warmup = FALSE";
