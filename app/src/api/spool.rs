//! Uploads as they arrive: a dataset's lines are checked one by one while the body streams into
//! an anonymous temporary file (the spool), so memory stays that of one line whatever the file's
//! size; only a file with no bad line is then stored, in batches, from the spool. At most
//! `parallel` uploads are read at once; the rest wait a little, then get 429.

use super::error::AppError;
use crate::domain::dataset::{parse_line, BatchParser, DatasetItem};
use crate::domain::lines::{Line, LineSplitter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What an upload may be: set once from `bakeoff serve` (tests shrink them).
#[derive(Clone, Debug)]
pub struct UploadLimits {
    /// The largest file accepted.
    pub max_bytes: u64,
    /// The longest line of a JSONL file.
    pub max_line: usize,
    /// Uploads read at once.
    pub parallel: usize,
    /// How long an upload waits for its turn before 429.
    pub wait: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 256 * 1024 * 1024,
            max_line: 1024 * 1024,
            parallel: 2,
            wait: Duration::from_secs(10),
        }
    }
}

/// `1 MiB`, `256 MiB`, `512 KiB`, `300 bytes`: a limit as a message says it.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b >= KIB * KIB && b % (KIB * KIB) == 0 => format!("{} MiB", b / (KIB * KIB)),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

/// The turns: a semaphore of `parallel` permits, and how many uploads hold one (for tests).
pub struct UploadGate {
    limits: UploadLimits,
    slots: Arc<Semaphore>,
    reading: AtomicUsize,
    peak: AtomicUsize,
}

/// One upload's turn; the next waiting upload goes when it is dropped.
pub struct Slot {
    gate: Arc<UploadGate>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.reading.fetch_sub(1, Ordering::SeqCst);
    }
}

impl UploadGate {
    pub fn new(limits: UploadLimits) -> Arc<Self> {
        Arc::new(UploadGate {
            slots: Arc::new(Semaphore::new(limits.parallel.max(1))),
            limits,
            reading: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }
    pub fn limits(&self) -> &UploadLimits {
        &self.limits
    }
    /// Uploads being read now.
    pub fn reading(&self) -> usize {
        self.reading.load(Ordering::SeqCst)
    }
    /// The most uploads read at once since start.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
    /// Wait for a turn (up to `wait`), else 429 with Retry-After.
    pub async fn enter(self: &Arc<Self>) -> Result<Slot, AppError> {
        let permit = match tokio::time::timeout(self.limits.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(AppError::internal("upload slots", e)),
            Err(_) => {
                return Err(AppError::TooManyRequests {
                    message: format!(
                        "{} uploads are being read already; try again in a few seconds",
                        self.limits.parallel
                    ),
                    retry_after_s: self.limits.wait.as_secs().max(1),
                })
            }
        };
        let now = self.reading.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Ok(Slot {
            gate: self.clone(),
            _permit: permit,
        })
    }
}

fn io(e: std::io::Error) -> AppError {
    AppError::internal("upload spool", e)
}

fn too_big(limits: &UploadLimits) -> AppError {
    AppError::validation(
        "file",
        format!("the file is larger than {}, the most an upload may be", size(limits.max_bytes)),
    )
}

/// A dataset file being received: each line checked as it completes, the bytes written to the
/// spool while no line is bad.
pub struct DatasetSpool {
    slot: Slot,
    lines: LineSplitter,
    parser: BatchParser,
    file: tokio::fs::File,
    bytes: u64,
    over: bool,
}

impl DatasetSpool {
    pub fn new(slot: Slot) -> Result<Self, AppError> {
        let file = tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?);
        Ok(DatasetSpool {
            lines: LineSplitter::new(slot.gate.limits.max_line),
            slot,
            parser: BatchParser::default(),
            file,
            bytes: 0,
            over: false,
        })
    }

    /// The next chunk of the file. `false`: the file is over the size limit, stop sending.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<bool, AppError> {
        if self.bytes == 0 {
            if let Some(why) = not_a_text_file(chunk) {
                return Err(AppError::validation("file", why));
            }
        }
        self.bytes += chunk.len() as u64;
        if self.over || self.bytes > self.slot.gate.limits.max_bytes {
            self.over = true;
            return Ok(false);
        }
        let (parser, max_line) = (&mut self.parser, self.slot.gate.limits.max_line as u64);
        self.lines.push(chunk, |line| check(parser, line, max_line));
        if self.parser.bad() == 0 {
            self.file.write_all(chunk).await.map_err(io)?;
        }
        Ok(true)
    }

    /// The file ended: its requests, ready to be stored, or every problem found.
    pub async fn finish(mut self) -> Result<Spooled, AppError> {
        if self.over {
            return Err(too_big(&self.slot.gate.limits));
        }
        let (parser, max_line) = (&mut self.parser, self.slot.gate.limits.max_line as u64);
        self.lines.finish(|line| check(parser, line, max_line));
        let count = self.parser.finish().map_err(AppError::Validation)?;
        self.file.flush().await.map_err(io)?;
        self.file.rewind().await.map_err(io)?;
        Ok(Spooled {
            _slot: self.slot,
            reader: BufReader::new(self.file),
            line: Vec::new(),
            count,
        })
    }
}

/// A file sent as something else than its JSONL text, told from its first bytes: compressed, or
/// wrapped in a multipart form (each line would otherwise be "not UTF-8" or "not JSON").
pub fn not_a_text_file(start: &[u8]) -> Option<&'static str> {
    if start.starts_with(&[0x1f, 0x8b]) {
        return Some("the file is gzip-compressed: send the .jsonl uncompressed (gunzip it first, and no Content-Encoding: gzip)");
    }
    if start.starts_with(b"PK\x03\x04") {
        return Some("the file is a zip archive: send the .jsonl inside it");
    }
    let head = &start[..start.len().min(1024)];
    if head.starts_with(b"--") && memchr::memmem::find(&head.to_ascii_lowercase(), b"content-disposition: form-data").is_some() {
        return Some("this is a multipart form: send the file itself as the body (curl --data-binary @file.jsonl), or upload it on the Datasets page");
    }
    None
}

fn check(parser: &mut BatchParser, line: Line<'_>, max_line: u64) {
    match line {
        Line::TooLong => parser.unreadable_line(format!("the line is longer than {}, the most a line may hold", size(max_line))),
        Line::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => {
                parser.line(text);
            }
            Err(e) => parser.unreadable_line(format!("not UTF-8 text ({e})")),
        },
    }
}

/// A checked dataset file in its spool, read back in batches. Holds the upload's turn until
/// stored (or dropped); the spool file vanishes with it.
pub struct Spooled {
    _slot: Slot,
    reader: BufReader<tokio::fs::File>,
    line: Vec<u8>,
    /// Requests in the file.
    pub count: usize,
}

impl Spooled {
    /// Up to `n` next requests (none: the file is done).
    pub async fn next_batch(&mut self, n: usize) -> Result<Vec<DatasetItem>, AppError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line).await.map_err(io)? == 0 {
                break;
            }
            // Checked on the way in: a failure here is the spool's, not the file's.
            let text = std::str::from_utf8(&self.line).map_err(|e| AppError::internal("upload spool", e))?;
            if let Some(item) = parse_line(text).map_err(|e| AppError::internal("upload spool", e))? {
                out.push(item);
            }
        }
        Ok(out)
    }
}

/// A run summary is one JSON document: kept whole up to this size, never streamed.
pub const MAX_SUMMARY: usize = 16 * 1024 * 1024;

/// A file to import being received: read as a Batch output, each line checked as it completes
/// while the bytes go to the spool; the first [`MAX_SUMMARY`] bytes are kept too, in case the
/// file is a run summary (one JSON document over many lines).
pub struct ImportSpool {
    name: String,
    limits: UploadLimits,
    lines: LineSplitter,
    reader: crate::domain::import::BatchOutputReader,
    file: tokio::fs::File,
    head: Vec<u8>,
    bytes: u64,
    over: bool,
}

/// What an import file turned out to be.
pub enum ImportFile {
    /// A run summary, whole.
    Summary { name: String, text: String },
    /// A Batch output whose every line is good: the run (without records) and the records,
    /// read back from the spool in batches.
    BatchOutput(Box<crate::domain::import::ImportedRun>, SpooledOutput),
}

impl ImportSpool {
    pub fn new(name: &str, limits: &UploadLimits) -> Result<Self, AppError> {
        Ok(ImportSpool {
            name: name.to_string(),
            limits: limits.clone(),
            lines: LineSplitter::new(limits.max_line),
            reader: Default::default(),
            file: tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?),
            head: Vec::new(),
            bytes: 0,
            over: false,
        })
    }

    /// The next chunk of the file. `false`: the file is over the size limit, stop sending.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<bool, AppError> {
        if self.bytes == 0 {
            if let Some(why) = not_a_text_file(chunk) {
                return Err(AppError::validation("file", why));
            }
        }
        self.bytes += chunk.len() as u64;
        if self.over || self.bytes > self.limits.max_bytes {
            self.over = true;
            return Ok(false);
        }
        if self.head.len() < MAX_SUMMARY {
            let room = MAX_SUMMARY - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        let (reader, max_line) = (&mut self.reader, self.limits.max_line as u64);
        if !reader.gave_up() {
            self.lines.push(chunk, |line| read_output_line(reader, line, max_line));
        }
        if self.reader.bad() == 0 {
            self.file.write_all(chunk).await.map_err(io)?;
        }
        Ok(true)
    }

    /// The file ended: a run summary, a Batch output ready to store, or every problem found.
    pub async fn finish(mut self) -> Result<ImportFile, AppError> {
        if self.over {
            return Err(AppError::validation(
                "file",
                format!(
                    "{} is larger than {}, the most an upload may be",
                    self.name,
                    size(self.limits.max_bytes)
                ),
            ));
        }
        let whole = self.bytes as usize <= MAX_SUMMARY;
        if self.name.ends_with(".json") {
            let text = take_text(&mut self.head).filter(|_| whole).ok_or_else(|| {
                AppError::validation(
                    "file",
                    format!(
                        "{} is not a run summary: not UTF-8 text of at most {}",
                        self.name,
                        size(MAX_SUMMARY as u64)
                    ),
                )
            })?;
            return Ok(ImportFile::Summary { name: self.name, text });
        }
        let (reader, max_line) = (&mut self.reader, self.limits.max_line as u64);
        if !reader.gave_up() {
            self.lines.finish(|line| read_output_line(reader, line, max_line));
        }
        if self.reader.bad() > 0 && whole {
            // Not a Batch output: a run summary spread over lines, perhaps.
            if let Some(text) = take_text(&mut self.head)
                .filter(|t| t.trim_start().starts_with('{') && serde_json::from_str::<serde_json::Value>(t).is_ok())
            {
                return Ok(ImportFile::Summary { name: self.name, text });
            }
        }
        let count = self.reader.records();
        let run = self.reader.finish(&self.name).map_err(AppError::Validation)?;
        self.file.flush().await.map_err(io)?;
        self.file.rewind().await.map_err(io)?;
        Ok(ImportFile::BatchOutput(
            Box::new(run),
            SpooledOutput {
                reader: BufReader::new(self.file),
                line: Vec::new(),
                again: Default::default(),
                count,
            },
        ))
    }
}

fn take_text(head: &mut Vec<u8>) -> Option<String> {
    String::from_utf8(std::mem::take(head)).ok()
}

fn read_output_line(reader: &mut crate::domain::import::BatchOutputReader, line: Line<'_>, max_line: u64) {
    match line {
        Line::TooLong => reader.unreadable_line(format!("the line is longer than {}, the most a line may hold", size(max_line))),
        Line::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => {
                reader.line(text);
            }
            Err(e) => reader.unreadable_line(format!("not UTF-8 text ({e})")),
        },
    }
}

/// A checked Batch output in its spool, read back as records in batches (the spool file
/// vanishes with it).
pub struct SpooledOutput {
    reader: BufReader<tokio::fs::File>,
    line: Vec<u8>,
    again: crate::domain::import::BatchOutputReader,
    /// Records in the file.
    pub count: u32,
}

impl SpooledOutput {
    /// Up to `n` next records (none: the file is done).
    pub async fn next_batch(&mut self, n: usize) -> Result<Vec<crate::domain::record::RequestRecord>, AppError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line).await.map_err(io)? == 0 {
                break;
            }
            // Checked on the way in: every line reads again the same way.
            let text = std::str::from_utf8(&self.line).map_err(|e| AppError::internal("import spool", e))?;
            if let Some(r) = self.again.line(text.trim_end_matches(['\n', '\r'])) {
                out.push(r);
            }
        }
        Ok(out)
    }
}

/// A small file taken whole (a run summary or Batch output to import), bounded by the size
/// limit; read while its caller holds the upload's [`Slot`].
pub struct TextSpool {
    max_bytes: u64,
    bytes: Vec<u8>,
    over: bool,
}

impl TextSpool {
    pub fn new(limits: &UploadLimits) -> Self {
        TextSpool {
            max_bytes: limits.max_bytes,
            bytes: Vec::new(),
            over: false,
        }
    }
    /// The next chunk. `false`: the file is over the size limit, stop sending.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        if self.over || (self.bytes.len() + chunk.len()) as u64 > self.max_bytes {
            self.over = true;
            self.bytes = Vec::new();
            return false;
        }
        self.bytes.extend_from_slice(chunk);
        true
    }
    /// The file as text; `what` names it in a message.
    pub fn finish(self, field: &str, what: &str) -> Result<String, AppError> {
        if self.over {
            return Err(AppError::validation(
                field,
                format!("{what} is larger than {}, the most an upload may be", size(self.max_bytes)),
            ));
        }
        String::from_utf8(self.bytes).map_err(|e| AppError::validation(field, format!("{what} is not UTF-8 text ({e})")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_compressed_or_multipart_file_is_named_as_such() {
        use super::not_a_text_file;
        assert!(not_a_text_file(&[0x1f, 0x8b, 8, 0]).is_some_and(|m| m.contains("gzip")));
        assert!(not_a_text_file(b"PK\x03\x04rest").is_some_and(|m| m.contains("zip archive")));
        let form = b"--------------------------abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n";
        assert!(not_a_text_file(form).is_some_and(|m| m.contains("--data-binary")));
        assert_eq!(not_a_text_file(b"{\"custom_id\": \"a\"}"), None);
        assert_eq!(not_a_text_file(b"--not a form"), None);
    }

    use super::*;

    const LINE: &str = "{\"custom_id\":\"ID\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"x\"}}\n";

    fn gate(max_bytes: u64, max_line: usize) -> Arc<UploadGate> {
        UploadGate::new(UploadLimits {
            max_bytes,
            max_line,
            parallel: 1,
            wait: Duration::from_millis(20),
        })
    }

    #[test]
    fn limits_are_said_in_round_units() {
        assert_eq!(size(1024 * 1024), "1 MiB");
        assert_eq!(size(256 * 1024 * 1024), "256 MiB");
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }

    #[tokio::test]
    async fn a_file_split_anywhere_comes_back_in_batches() {
        let text: String = (0..7).map(|i| LINE.replace("ID", &format!("r{i}"))).collect();
        let g = gate(1 << 20, 1 << 10);
        let mut spool = DatasetSpool::new(g.enter().await.expect("turn")).expect("spool");
        for chunk in text.as_bytes().chunks(13) {
            assert!(spool.push(chunk).await.expect("push"));
        }
        let mut spooled = spool.finish().await.expect("good");
        assert_eq!(spooled.count, 7);
        let sizes = [
            spooled.next_batch(3).await.expect("b").len(),
            spooled.next_batch(3).await.expect("b").len(),
            spooled.next_batch(3).await.expect("b").len(),
            spooled.next_batch(3).await.expect("b").len(),
        ];
        assert_eq!(sizes, [3, 3, 1, 0]);
    }

    #[tokio::test]
    async fn a_second_upload_waits_its_turn_then_is_told_to_come_back() {
        let g = gate(1 << 20, 1 << 10);
        let first = g.enter().await.expect("turn");
        let Err(AppError::TooManyRequests { retry_after_s, .. }) = g.enter().await else {
            panic!("the one slot is taken");
        };
        assert!(retry_after_s >= 1);
        drop(first);
        assert!(g.enter().await.is_ok());
        assert_eq!(g.peak(), 1);
    }

    #[tokio::test]
    async fn limits_are_named_in_the_messages() {
        let g = gate(100, 1 << 20);
        let mut spool = DatasetSpool::new(g.enter().await.expect("turn")).expect("spool");
        assert!(!spool.push(&[b' '; 101]).await.expect("push"));
        let msg = spool.finish().await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("larger than 100 bytes"), "{msg}");

        let g = gate(1 << 20, 64);
        let mut spool = DatasetSpool::new(g.enter().await.expect("turn")).expect("spool");
        let text = format!("{}{}\n", LINE.replace("ID", "a"), "x".repeat(65));
        spool.push(text.as_bytes()).await.expect("push");
        let msg = spool.finish().await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("line 2: the line is longer than 64 bytes"), "{msg}");
    }
}
