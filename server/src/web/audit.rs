//! `GET /api/audit?actor=&action=&since=&until=&before=&limit=`: the audit log as JSON lines
//! (admins only), newest first, streamed a page at a time (a year of entries in flat memory).
//! The Audit page links here to download what it shows filtered.

use app::api::guard::{Caller, Permission};
use app::api::AppError;
use app::db;
use app::domain::audit::{AuditFilter, AuditQuery};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use bytes::Bytes;
use futures::stream;

/// Entries read per query.
const PAGE: u32 = 1000;

pub async fn entries(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<AuditQuery>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::Audit)?;
    let filter = q.parse().map_err(AppError::Validation)?;
    let body = Body::from_stream(lines(s.db.clone(), filter));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"bakeoff-audit.jsonl\""),
        ],
        body,
    ))
}

/// The entries as JSON lines, one piece per page; a database error aborts the response (a cut
/// download is never taken for a whole one).
fn lines(db: db::Db, filter: AuditFilter) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    // What is left to send (None: no limit) and where the next page starts.
    let left = filter.limit;
    stream::unfold((db, filter, left, false), |(db, mut filter, left, done)| async move {
        if done || left == Some(0) {
            return None;
        }
        filter.limit = left;
        match db::audit::list(&db, &filter, PAGE).await {
            Ok(page) if page.is_empty() => None,
            Ok(page) => {
                let mut out = String::new();
                for e in &page {
                    out.push_str(&e.to_json().to_string());
                    out.push('\n');
                }
                let last = page.len() < PAGE as usize;
                filter.before = page.last().map(|e| e.id);
                let left = left.map(|n| n.saturating_sub(page.len() as u32));
                Some((Ok(Bytes::from(out)), (db, filter, left, last)))
            }
            Err(e) => {
                tracing::error!("reading the audit log: {e}");
                Some((
                    Err(std::io::Error::other("the audit log could not be read")),
                    (db, filter, left, true),
                ))
            }
        }
    })
}
