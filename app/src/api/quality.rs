//! Quality figures of a run, from its stored answers.

#[cfg(feature = "ssr")]
use crate::domain::quality::RunQuality;

/// Automatic checks over a run's stored answers; `None` when it has none (e.g. an imported summary).
#[cfg(feature = "ssr")]
pub async fn run_quality(db: &crate::db::Db, run_id: i64) -> Result<Option<RunQuality>, crate::db::DbError> {
    let records = crate::db::records::for_run(db, run_id).await?;
    if records.iter().all(|r| r.response.is_empty()) {
        return Ok(None);
    }
    Ok(Some(crate::domain::quality::assess_run(&records, None)))
}
