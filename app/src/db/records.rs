use super::error::DbResult;
use super::Db;
use crate::domain::record::{Reasoning, RequestRecord, TokenSource, Tokens};
use crate::domain::status::Outcome;
use std::collections::HashSet;
use std::time::Duration;

/// Store finished requests in one transaction. A `custom_id` already stored for the run is
/// ignored, so a resumed run can never duplicate a record.
pub async fn insert_batch(db: &Db, run_id: i64, records: &[RequestRecord]) -> DbResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut tx = super::write_tx(db).await?;
    let inserted = insert_batch_tx(&mut tx, run_id, records).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Rows per INSERT statement: 21 bound values each, well under SQLite's 32,766 variables.
const ROWS_PER_INSERT: usize = 500;

/// Records as both databases store them: Postgres refuses U+0000 in text (a model streaming
/// garbage, or a hostile endpoint, can send one), so it becomes U+FFFD in the answer, the
/// reasoning and the error on either backend. Records without one are stored as they came (not
/// copied).
fn storable(records: &[RequestRecord]) -> std::borrow::Cow<'_, [RequestRecord]> {
    let nul = |s: &str| s.contains('\0');
    let has =
        |r: &RequestRecord| nul(&r.response) || r.error.as_deref().is_some_and(nul) || r.reasoning.as_ref().is_some_and(|x| nul(&x.text));
    if !records.iter().any(has) {
        return std::borrow::Cow::Borrowed(records);
    }
    let clean = |s: &str| s.replace('\0', "\u{FFFD}");
    std::borrow::Cow::Owned(
        records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.response = clean(&r.response);
                r.error = r.error.as_deref().map(clean);
                if let Some(x) = r.reasoning.as_mut() {
                    x.text = clean(&x.text);
                }
                r
            })
            .collect(),
    )
}

/// The same, inside a caller's transaction: one multi-row INSERT per 500 records (one round trip
/// to SQLite's thread instead of one per record).
pub async fn insert_batch_tx(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: i64, records: &[RequestRecord]) -> DbResult<u64> {
    super::checks::changed_tx(tx, run_id).await?;
    let records = storable(records);
    let backend = super::pool::Backend::of_conn(tx);
    let mut inserted = 0;
    for part in records.chunks(ROWS_PER_INSERT) {
        let mut q = super::sql::Sql::for_backend(
            backend,
            "INSERT INTO request_records (run_id, idx, custom_id, warmup, outcome, http_status, error, finish_reason, \
             prompt_tokens, completion_tokens, scheduled_us, sent_us, ttft_us, e2e_us, content_chunks, itl_us, response, \
             reasoning, reasoning_tokens, reasoning_tokens_source, answer_ttft_us) ",
        );
        q.push_values(part, |mut b, r| {
            let reasoning = r.reasoning.as_ref();
            b.push_bind(run_id)
                .push_bind(i64::from(r.idx))
                .push_bind(&r.custom_id)
                .push_bind(r.warmup)
                .push_bind(r.outcome)
                .push_bind(r.http_status.map(i64::from))
                .push_bind(&r.error)
                .push_bind(&r.finish_reason)
                .push_bind(r.prompt_tokens.map(|t| t.0 as i64))
                .push_bind(r.completion_tokens.map(|t| t.0 as i64))
                .push_bind(r.scheduled.map(micros))
                .push_bind(micros(r.sent))
                .push_bind(r.ttft.map(micros))
                .push_bind(micros(r.e2e))
                .push_bind(i64::from(r.content_chunks))
                .push_bind(encode_itl(&r.itl))
                .push_bind(&r.response)
                .push_bind(reasoning.map(|x| x.text.as_str()))
                .push_bind(reasoning.map(|x| x.tokens.0 as i64))
                .push_bind(reasoning.map(|x| x.tokens_source))
                .push_bind(reasoning.and_then(|x| x.answer_ttft).map(micros));
        });
        // A custom_id already stored for the run is kept as it was (never stored twice).
        q.push(" ON CONFLICT (run_id, custom_id) DO NOTHING");
        // Only full-size statements are kept prepared: each batch size is its own statement,
        // and a connection caching a hundred of them (hundreds of KB each) grew the worker by
        // ~100 MB over a long run.
        let full = part.len() == ROWS_PER_INSERT;
        inserted += q.build().persistent(full).execute(&mut **tx).await?.rows_affected();
    }
    Ok(inserted)
}

#[derive(sqlx::FromRow)]
struct Row {
    idx: i64,
    custom_id: String,
    #[sqlx(try_from = "crate::db::Flag")]
    warmup: bool,
    outcome: Outcome,
    http_status: Option<i64>,
    error: Option<String>,
    finish_reason: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    scheduled_us: Option<i64>,
    sent_us: i64,
    ttft_us: Option<i64>,
    e2e_us: i64,
    content_chunks: i64,
    itl_us: Vec<u8>,
    response: String,
    reasoning: Option<String>,
    reasoning_tokens: Option<i64>,
    reasoning_tokens_source: Option<TokenSource>,
    answer_ttft_us: Option<i64>,
}

impl From<Row> for RequestRecord {
    fn from(r: Row) -> Self {
        RequestRecord {
            idx: r.idx as u32,
            custom_id: r.custom_id,
            warmup: r.warmup,
            outcome: r.outcome,
            http_status: r.http_status.map(|s| s as u16),
            error: r.error,
            finish_reason: r.finish_reason,
            prompt_tokens: r.prompt_tokens.map(|t| Tokens(t as u64)),
            completion_tokens: r.completion_tokens.map(|t| Tokens(t as u64)),
            scheduled: r.scheduled_us.map(from_micros),
            sent: from_micros(r.sent_us),
            ttft: r.ttft_us.map(from_micros),
            e2e: from_micros(r.e2e_us),
            content_chunks: r.content_chunks as u32,
            itl: decode_itl(&r.itl_us),
            response: r.response,
            reasoning: r.reasoning_tokens_source.map(|source| Reasoning {
                answer_ttft: r.answer_ttft_us.map(from_micros),
                tokens: Tokens(r.reasoning_tokens.unwrap_or(0).max(0) as u64),
                tokens_source: source,
                text: r.reasoning.unwrap_or_default(),
            }),
        }
    }
}

const COLUMNS: &str = "idx, custom_id, warmup, outcome, http_status, error, finish_reason, prompt_tokens, completion_tokens, \
                       scheduled_us, sent_us, ttft_us, e2e_us, content_chunks, itl_us, response, \
                       reasoning, reasoning_tokens, reasoning_tokens_source, answer_ttft_us";

/// Every stored record of a run, in schedule order.
pub async fn for_run(db: &Db, run_id: i64) -> DbResult<Vec<RequestRecord>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM request_records WHERE run_id = $1 ORDER BY idx"))
        .bind(run_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Which columns a page of records carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Everything stored.
    Everything,
    /// Everything but the answer's and the reasoning's text (left empty): what the summary and
    /// the charts read.
    Timing,
    /// [`Read::Timing`] without the inter-token gaps either (a live chart spreads tokens evenly
    /// between the first token and the end instead).
    TimingNoGaps,
}

/// A run's records, read a page at a time in schedule order (keyset paging on the index, so
/// each page costs the same however far into a run of millions it is).
pub struct Pages {
    run_id: i64,
    read: Read,
    size: i64,
    after: Option<(i64, i64)>,
    done: bool,
}

pub const PAGE: i64 = 2_000;

impl Pages {
    pub fn new(run_id: i64, read: Read) -> Pages {
        Pages {
            run_id,
            read,
            size: PAGE,
            after: None,
            done: false,
        }
    }

    pub fn with_size(mut self, size: i64) -> Pages {
        self.size = size.max(1);
        self
    }

    /// The next page; `None` after the last.
    pub async fn next(&mut self, db: &Db) -> DbResult<Option<Vec<RequestRecord>>> {
        if self.done {
            return Ok(None);
        }
        let columns = match self.read {
            Read::Everything => COLUMNS.to_string(),
            Read::Timing => COLUMNS
                .replace("response,", "'' AS response,")
                .replace("reasoning,", "NULL AS reasoning,"),
            Read::TimingNoGaps => COLUMNS
                .replace("response,", "'' AS response,")
                .replace("reasoning,", "NULL AS reasoning,")
                .replace("itl_us,", "zeroblob(0) AS itl_us,"),
        };
        let (idx, rowid) = self.after.unwrap_or((i64::MIN, i64::MIN));
        let rows: Vec<PagedRow> = sqlx::query_as(&format!(
            "SELECT rowid AS row_id, {columns} FROM request_records WHERE run_id = $1 AND (idx, rowid) > ($2, $3) ORDER BY idx, rowid LIMIT $4"
        ))
        .bind(self.run_id)
        .bind(idx)
        .bind(rowid)
        .bind(self.size)
        .fetch_all(db)
        .await?;
        if (rows.len() as i64) < self.size {
            self.done = true;
        }
        if rows.is_empty() {
            return Ok(None);
        }
        self.after = rows.last().map(|r| (r.row.idx, r.row_id));
        Ok(Some(rows.into_iter().map(|r| r.row.into()).collect()))
    }
}

#[derive(sqlx::FromRow)]
struct PagedRow {
    row_id: i64,
    #[sqlx(flatten)]
    row: Row,
}

/// The `custom_id`s already stored for a run (what a resume skips).
pub async fn done_ids(db: &Db, run_id: i64) -> DbResult<HashSet<String>> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT custom_id FROM request_records WHERE run_id = $1")
        .bind(run_id)
        .fetch_all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// When the last stored request of a run ended, from the run's start (a resume continues there).
pub async fn last_finish(db: &Db, run_id: i64) -> DbResult<Duration> {
    let us: Option<i64> = sqlx::query_scalar("SELECT MAX(sent_us + e2e_us) FROM request_records WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(db)
        .await?;
    Ok(from_micros(us.unwrap_or(0)))
}

/// The first stored answer of a run (ok or truncated, non-empty), without loading the others.
pub async fn first_answer(db: &Db, run_id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT response FROM request_records WHERE run_id = $1 AND outcome IN ('ok', 'truncated') AND response <> '' ORDER BY idx LIMIT 1",
    )
    .bind(run_id)
    .fetch_optional(db)
    .await?)
}

/// The ids of a run's measured (not warm-up) requests, in schedule order.
pub async fn measured_ids(db: &Db, run_id: i64) -> DbResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT custom_id FROM request_records WHERE run_id = $1 AND warmup = FALSE ORDER BY idx")
            .bind(run_id)
            .fetch_all(db)
            .await?,
    )
}

/// How many of a run's records hold an answer's text.
pub async fn answered_count(db: &Db, run_id: i64) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM request_records WHERE run_id = $1 AND response <> ''")
            .bind(run_id)
            .fetch_one(db)
            .await?,
    )
}

/// One item's answer in a run, without loading the others.
pub async fn answer(db: &Db, run_id: i64, custom_id: &str) -> DbResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT response FROM request_records WHERE run_id = $1 AND custom_id = $2")
            .bind(run_id)
            .bind(custom_id)
            .fetch_optional(db)
            .await?,
    )
}

/// The length in bytes of one item's answer in a run (0 when it has none).
pub async fn answer_length(db: &Db, run_id: i64, custom_id: &str) -> DbResult<usize> {
    let n: Option<i64> = sqlx::query_scalar("SELECT octet_length(response) FROM request_records WHERE run_id = $1 AND custom_id = $2")
        .bind(run_id)
        .bind(custom_id)
        .fetch_optional(db)
        .await?;
    Ok(n.unwrap_or(0).max(0) as usize)
}

/// Forget a run's records (an offline batch job that starts again: what a worker that died while
/// storing the last job's output left must not mix with the new job's answers).
pub async fn clear(db: &Db, run_id: i64) -> DbResult<u64> {
    let mut tx = super::write_tx(db).await?;
    let gone = sqlx::query("DELETE FROM request_records WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    super::checks::changed_tx(&mut tx, run_id).await?;
    tx.commit().await?;
    Ok(gone)
}

pub async fn count(db: &Db, run_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM request_records WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(db)
        .await?)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn from_micros(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// Inter-token gaps as little-endian u32 microseconds (about 71 minutes at most per gap).
fn encode_itl(itl: &[Duration]) -> Vec<u8> {
    itl.iter()
        .flat_map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX).to_le_bytes())
        .collect()
}

fn decode_itl(bytes: &[u8]) -> Vec<Duration> {
    bytes
        .chunks_exact(4)
        .map(|c| Duration::from_micros(u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
        .collect()
}

/// How many of `ids` the run measured (warm-up left out).
pub async fn measured_among(db: &Db, run_id: i64, ids: &[String]) -> DbResult<usize> {
    let mut n = 0i64;
    for chunk in ids.chunks(500) {
        let text = format!(
            "SELECT COUNT(*) FROM request_records WHERE run_id = $1 AND warmup = FALSE AND custom_id IN ({})",
            (2..chunk.len() + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        );
        let mut q = sqlx::query_scalar::<_, i64>(&text).bind(run_id);
        for id in chunk {
            q = q.bind(id);
        }
        n += q.fetch_one(db).await?;
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itl_round_trips_at_microsecond_precision() {
        let gaps = vec![Duration::from_micros(1), Duration::from_millis(12), Duration::from_micros(999_999)];
        assert_eq!(decode_itl(&encode_itl(&gaps)), gaps);
    }
}
