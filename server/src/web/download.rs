//! A run's records as a download, written as they are read from the database a page at a time:
//! the server's memory stays flat whatever the run's size, and the first bytes leave before the
//! last record is read.

use app::db::records::{Pages, Read};
use app::db::Db;
use app::domain::export::{batch_output_line, record_csv, record_json, CSV_HEADER};
use bytes::Bytes;
use futures::stream::{self, Stream};

/// What a records download holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Every measured field, one JSON object per line (times in ms).
    JsonLines,
    /// The same columns as CSV (without the gaps and the reasoning's text).
    Csv,
    /// OpenAI Batch output lines (`{id, custom_id, response, error}`).
    BatchOutput,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "" | "jsonl" | "ndjson" => Some(Format::JsonLines),
            "csv" => Some(Format::Csv),
            "batch" | "openai-batch" => Some(Format::BatchOutput),
            _ => None,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines | Format::BatchOutput => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
    pub fn file_name(self, run_id: i64) -> String {
        match self {
            Format::JsonLines => format!("run-{run_id}-records.jsonl"),
            Format::Csv => format!("run-{run_id}-records.csv"),
            Format::BatchOutput => format!("run-{run_id}-output.jsonl"),
        }
    }
}

/// The download's bytes, one piece per page of `page` records (`model` names the model in
/// Batch output bodies). A database error ends the stream with an error, which aborts the
/// response, so a cut download is never mistaken for a whole one.
pub fn records(db: Db, run_id: i64, format: Format, model: String, page: i64) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    struct State {
        db: Db,
        pages: Pages,
        header: bool,
        model: String,
        failed: bool,
    }
    let state = State {
        db,
        pages: Pages::new(run_id, Read::Everything).with_size(page),
        header: format == Format::Csv,
        model,
        failed: false,
    };
    stream::unfold(state, move |mut st| async move {
        if st.failed {
            return None;
        }
        let mut out = String::new();
        if std::mem::take(&mut st.header) {
            out.push_str(CSV_HEADER);
        }
        match st.pages.next(&st.db).await {
            Ok(Some(records)) => {
                for r in &records {
                    match format {
                        Format::JsonLines => {
                            out.push_str(&record_json(r).to_string());
                            out.push('\n');
                        }
                        Format::Csv => out.push_str(&record_csv(r)),
                        Format::BatchOutput => {
                            out.push_str(&batch_output_line(run_id, r, &st.model).to_string());
                            out.push('\n');
                        }
                    }
                }
                Some((Ok(Bytes::from(out)), st))
            }
            Ok(None) if !out.is_empty() => Some((Ok(Bytes::from(out)), st)),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(run = run_id, "records download cut short: {e}");
                st.failed = true;
                Some((Err(std::io::Error::other(e.to_string())), st))
            }
        }
    })
}
