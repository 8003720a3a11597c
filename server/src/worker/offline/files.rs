//! The job's files: the batch input written from the run's plan, the output read back into
//! records, both in a private temporary directory of the job's own.

use super::RunError;
use app::db;
use app::domain::batch::JobTiming;
use app::domain::dataset::{base_id, pass_id, DatasetItem};
use app::domain::import::BatchOutputReader;
use app::domain::record::RequestRecord;
use app::domain::schedule::plan_iter;
use app::domain::spec::{RunSpec, Sampling};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Records per transaction when the output is stored.
const STORE_AT: usize = 1_000;

/// A request's body for the batch file: the item's, with the run's model and sampling, and no
/// streaming (a batch answer is written whole).
pub(super) fn batch_body(item: &DatasetItem, model: &str, sampling: &Sampling) -> Value {
    let mut body = item.body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), Value::from(model));
        obj.remove("stream");
        obj.remove("stream_options");
        if let Some(m) = sampling.max_tokens {
            obj.remove("max_completion_tokens");
            obj.insert("max_tokens".into(), Value::from(m));
        }
        if let Some(t) = sampling.temperature {
            obj.insert("temperature".into(), Value::from(t));
        }
    }
    body
}

/// One line of the batch input (OpenAI's Batch format, which `vllm run-batch` reads).
pub(super) fn input_line(custom_id: &str, item: &DatasetItem, model: &str, sampling: &Sampling) -> String {
    json!({"custom_id": custom_id, "method": "POST", "url": item.url, "body": batch_body(item, model, sampling)}).to_string()
}

/// Write the run's planned requests (cycling the dataset as a server run does, `~k` ids for later
/// passes); returns how many lines.
pub(super) async fn write_input(path: &Path, items: &[DatasetItem], spec: &RunSpec) -> std::io::Result<u64> {
    let ids: Vec<String> = items.iter().map(|i| i.custom_id.clone()).collect();
    let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
    let mut n = 0;
    for p in plan_iter(&ids, 0, spec.requests) {
        let mut line = input_line(&p.custom_id, &items[p.item], &spec.model, &spec.sampling);
        line.push('\n');
        out.write_all(line.as_bytes()).await?;
        n += 1;
    }
    out.flush().await?;
    Ok(n)
}

/// The position in the run of a planned request's `custom_id` (`a~3` is the third pass of `a`);
/// `None` for an id the run did not plan.
pub(super) fn plan_index(custom_id: &str, positions: &HashMap<&str, usize>, requests: u32) -> Option<u32> {
    let base = base_id(custom_id);
    let pos = *positions.get(base)?;
    let pass = match custom_id[base.len()..].strip_prefix(app::domain::dataset::PASS_MARK) {
        None if custom_id.len() == base.len() => 0,
        Some(k) => k.parse::<usize>().ok()?.checked_sub(1).filter(|p| *p >= 1)?,
        None => return None,
    };
    if pass_id(base, pass) != custom_id {
        return None;
    }
    let idx = pass.checked_mul(positions.len())?.checked_add(pos)?;
    u32::try_from(idx).ok().filter(|i| *i < requests)
}

/// What storing the output found.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Stored {
    /// Records stored (answered or failed).
    pub(super) stored: u64,
    pub(super) failed: u64,
    /// Lines whose `custom_id` the run did not plan.
    pub(super) unknown: u64,
    /// Lines that could not be read, and the first problems.
    pub(super) bad: u64,
    pub(super) problems: Option<String>,
    /// Planned requests.
    pub(super) total: u64,
}

impl Stored {
    /// What a reader of the figures should know.
    pub(super) fn note(&self, job: &mut JobTiming) {
        if self.stored < self.total {
            job.notes.push(format!(
                "{} of the {} requests have no line in the output file: not stored (the summary counts what was answered)",
                self.total - self.stored,
                self.total
            ));
        }
        if self.bad > 0 {
            job.notes.push(format!(
                "{} output line(s) could not be read: {}",
                self.bad,
                self.problems.as_deref().unwrap_or("")
            ));
        }
        if self.unknown > 0 {
            job.notes.push(format!(
                "{} output line(s) answer requests this run did not send: left out",
                self.unknown
            ));
        }
    }
}

/// Store every line of the output file as a record, [`STORE_AT`] per transaction.
pub(super) async fn store_output(
    db: &db::Db,
    run_id: i64,
    output: &Path,
    items: &[DatasetItem],
    requests: u32,
) -> Result<Stored, RunError> {
    let positions: HashMap<&str, usize> = items.iter().enumerate().map(|(i, it)| (it.custom_id.as_str(), i)).collect();
    let mut counts = Stored {
        total: u64::from(requests),
        ..Default::default()
    };
    let file = match tokio::fs::File::open(output).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(counts),
        Err(e) => {
            return Err(RunError::Launch(format!(
                "could not read the batch output {}: {e}",
                output.display()
            )))
        }
    };
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut reader = BatchOutputReader::default();
    let mut buf: Vec<RequestRecord> = Vec::with_capacity(STORE_AT);
    loop {
        let line = match lines.next_line().await {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                reader.unreadable_line(format!("not readable: {e}"));
                break;
            }
        };
        let Some(mut r) = reader.line(&line) else { continue };
        let Some(idx) = plan_index(&r.custom_id, &positions, requests) else {
            counts.unknown += 1;
            continue;
        };
        r.idx = idx;
        if !r.outcome.answered() {
            counts.failed += 1;
        }
        buf.push(r);
        if buf.len() >= STORE_AT {
            counts.stored += db::records::insert_batch(db, run_id, &buf).await?;
            buf.clear();
        }
    }
    counts.stored += db::records::insert_batch(db, run_id, &buf).await?;
    counts.bad = reader.bad() as u64;
    if counts.bad > 0 {
        counts.problems = reader.finish("the batch output").err().map(|e| e.to_string());
    }
    Ok(counts)
}

/// Counts the lines of a file as it grows (reads only what was added since the last count).
pub(super) struct LineCounter {
    path: PathBuf,
    offset: u64,
    lines: u64,
}

impl LineCounter {
    pub(super) fn new(path: &Path) -> LineCounter {
        LineCounter {
            path: path.to_path_buf(),
            offset: 0,
            lines: 0,
        }
    }

    pub(super) async fn count(&mut self) -> u64 {
        let Ok(mut f) = tokio::fs::File::open(&self.path).await else {
            return self.lines;
        };
        if f.seek(std::io::SeekFrom::Start(self.offset)).await.is_err() {
            return self.lines;
        }
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = f.read(&mut buf).await {
            if n == 0 {
                break;
            }
            self.lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            self.offset += n as u64;
        }
        self.lines
    }
}

/// A fresh private directory for one job's files, removed with everything in it when dropped.
pub(super) struct JobDir(pub(super) PathBuf);

impl JobDir {
    pub(super) fn create(run_id: i64) -> std::io::Result<JobDir> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("bakeoff-offline-{run_id}-{}-{nanos:09}", std::process::id()));
        // Fails if it exists: never a directory someone else prepared.
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(JobDir(path))
    }
}

/// Remove the job directories a killed process left behind (`kill -9`, a power cut: no `Drop`
/// ran): those under `root` named by a process that no longer exists and owned by this user.
/// They hold a dataset's prompts (perhaps internal-only data) and vLLM's answers. A directory of
/// a live process, or another user's, is left alone. Returns how many were removed.
pub(crate) fn sweep_orphans(root: &std::path::Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = std::fs::metadata("/proc/self") else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("bakeoff-offline-")) else {
            continue;
        };
        // bakeoff-offline-{run}-{pid}-{nanos}
        let Some(pid) = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me.uid() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => {
                tracing::info!("removed {}, left behind by process {pid}, which is gone", entry.path().display());
                removed += 1;
            }
            Err(e) => tracing::warn!("could not remove {}: {e}", entry.path().display()),
        }
    }
    removed
}

impl Drop for JobDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("could not remove the batch job's directory {}: {e}", self.0.display());
        }
    }
}

#[cfg(test)]
mod sweep_tests {
    #[test]
    fn directories_of_dead_processes_are_removed_and_live_ones_kept() {
        let root = tempfile::tempdir().expect("root");
        // A process that has exited: its pid names no live process (until reused, when the
        // directory is merely kept).
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let orphan = root.path().join(format!("bakeoff-offline-7-{dead}-000000001"));
        let live = root.path().join(format!("bakeoff-offline-8-{}-000000002", std::process::id()));
        let other = root.path().join(format!("something-else-{dead}"));
        for d in [&orphan, &live, &other] {
            std::fs::create_dir(d).expect("dir");
            std::fs::write(d.join("input.jsonl"), "{}\n").expect("file");
        }
        assert_eq!(super::sweep_orphans(root.path()), 1);
        assert!(!orphan.exists(), "the dead process's job directory is gone");
        assert!(live.exists(), "a live process's directory is kept");
        assert!(other.exists(), "a directory not Bakeoff's is kept");
    }
}
