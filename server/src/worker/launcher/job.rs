//! A process run to its end (an offline `vllm run-batch` job): spawned like a model server (its
//! own process group, no shell, written down in the run's ledger so [`super::stop_orphans`]
//! finds it if this worker dies), its output kept as it comes, progress bars redrawn with `\r`
//! included (a log read while the job runs shows its latest bar), and stopped as a whole.

use super::{outputs, spawn_child, write_down, Failed, Group, Ledger, LOG_LIMIT};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

/// Where a long log is cut: its beginning (the engine's start) and its end (the latest progress)
/// are kept, the middle goes.
const CUT: &str = "\n[... the middle of the log was dropped to keep it short ...]\n";

/// How long the last of the output may take to arrive once the process has exited.
const DRAIN_OUTPUT: Duration = Duration::from_secs(2);

/// A running job: wait for it with [`Job::wait`], then [`Job::finish`]; or [`Job::stop`] it.
/// Dropped without either, it still stops its process group, without waiting.
pub struct Job {
    group: Group,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// When the output first held each marker, in the order given.
    markers: Arc<Mutex<Vec<Option<Instant>>>>,
    /// When it was spawned (monotonic, and on the wall clock).
    pub spawned: Instant,
    pub spawned_at: SystemTime,
}

/// Run `args` (the program, then its arguments: no shell, in its own process group). With a
/// `ledger`, the group is written down as soon as it is spawned; for each of `markers`, the
/// moment the output first holds it is kept ([`Job::marker_seen`], [`Job::marker_seen_at`]).
pub async fn spawn_job(args: &[String], ledger: Option<&Ledger>, markers: &[&str]) -> Result<Job, Failed> {
    let mut child = spawn_child(args)?;
    let spawned = Instant::now();
    let spawned_at = SystemTime::now();
    let log = Arc::new(Mutex::new(String::new()));
    let seen = Arc::new(Mutex::new(vec![None; markers.len()]));
    let wanted: Arc<[String]> = markers.iter().map(|m| m.to_string()).collect();
    let readers = outputs(&mut child)
        .map(|stream| {
            let (log, seen, wanted) = (log.clone(), seen.clone(), wanted.clone());
            tokio::spawn(read_raw(stream, log, seen, wanted))
        })
        .collect();
    let group = write_down(child, ledger, args).await;
    Ok(Job {
        group,
        log,
        readers,
        markers: seen,
        spawned,
        spawned_at,
    })
}

impl Job {
    /// The process group (the leader's pid).
    pub fn pgid(&self) -> Option<i32> {
        self.group.pgid
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// When the output first held the first marker.
    pub fn marker_seen(&self) -> Option<Instant> {
        self.marker_seen_at(0)
    }

    /// When the output first held the `i`-th marker.
    pub fn marker_seen_at(&self, i: usize) -> Option<Instant> {
        self.markers.lock().ok().and_then(|m| m.get(i).copied().flatten())
    }

    /// Wait until the process exits (cancel safe: a `select!` may drop it and call it again).
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.group.child.wait().await
    }

    /// After the process exited: stop whatever of its group outlived it, record it stopped, and
    /// let the readers take in the last of its output.
    pub async fn finish(&mut self) {
        self.group.stop().await;
        for r in self.readers.drain(..) {
            if tokio::time::timeout(DRAIN_OUTPUT, r).await.is_err() {
                tracing::warn!("the job's output did not close within {DRAIN_OUTPUT:?}");
            }
        }
    }

    /// Stop the job now: SIGTERM to the whole group, SIGKILL after 10 s.
    pub async fn stop(&mut self) {
        self.finish().await;
    }
}

/// Read one of the process's outputs as it comes (not line by line: a progress bar redrawn with
/// `\r` has no line end until the job is over).
async fn read_raw(mut stream: super::Output, log: Arc<Mutex<String>>, seen: Arc<Mutex<Vec<Option<Instant>>>>, markers: Arc<[String]>) {
    let mut buf = vec![0u8; 16 * 1024];
    // Bytes of a character split between two reads.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        carry.extend_from_slice(&buf[..n]);
        let text = take_text(&mut carry);
        let Ok(mut l) = log.lock() else { return };
        let from = l.len();
        l.push_str(&text);
        for (i, m) in markers.iter().enumerate() {
            let mut start = from.saturating_sub(m.len());
            while !l.is_char_boundary(start) {
                start -= 1;
            }
            if l[start..].contains(m.as_str()) {
                if let Ok(mut s) = seen.lock() {
                    if let Some(at) = s.get_mut(i) {
                        at.get_or_insert_with(Instant::now);
                    }
                }
            }
        }
        cut_middle(&mut l, LOG_LIMIT);
    }
    if !carry.is_empty() {
        if let Ok(mut l) = log.lock() {
            l.push_str(&String::from_utf8_lossy(&carry));
        }
    }
}

/// The text in `bytes` up to a character cut short at its end (left in `bytes` for the next
/// read); bytes that are not UTF-8 become U+FFFD.
fn take_text(bytes: &mut Vec<u8>) -> String {
    let whole = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        // An incomplete character at the very end: keep it for the next read.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => bytes.len(),
    };
    let text = String::from_utf8_lossy(&bytes[..whole]).into_owned();
    bytes.drain(..whole);
    text
}

/// Keep `log` under `limit` bytes: its first half stays, then a note, then its latest part.
fn cut_middle(log: &mut String, limit: usize) {
    if log.len() <= limit {
        return;
    }
    let head = match log.find(CUT) {
        Some(p) => p + CUT.len(),
        None => {
            let mut h = limit / 2;
            while !log.is_char_boundary(h) {
                h -= 1;
            }
            log.insert_str(h, CUT);
            h + CUT.len()
        }
    };
    // Drop an eighth more than needed, so the string is not moved on every read.
    let mut end = (head + (log.len() - limit) + limit / 8).min(log.len());
    while !log.is_char_boundary(end) {
        end += 1;
    }
    log.replace_range(head..end, "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_log_keeps_its_start_and_its_latest_part() {
        let mut log = String::new();
        for i in 0..2_000 {
            log.push_str(&format!("line {i} é\n"));
            cut_middle(&mut log, 4_000);
            assert!(log.len() <= 4_000 + CUT.len());
        }
        assert!(log.starts_with("line 0 é\n"));
        assert!(log.ends_with("line 1999 é\n"));
        assert_eq!(log.matches(CUT).count(), 1);
    }

    #[test]
    fn a_character_split_between_reads_is_kept_whole() {
        let bytes = "aé".as_bytes();
        let mut carry = bytes[..2].to_vec();
        assert_eq!(take_text(&mut carry), "a");
        carry.extend_from_slice(&bytes[2..]);
        assert_eq!(take_text(&mut carry), "é");
        assert!(carry.is_empty());
        let mut bad = vec![b'x', 0xff, b'y'];
        assert_eq!(take_text(&mut bad), "x\u{fffd}y");
    }

    #[tokio::test]
    async fn a_job_runs_to_its_end_with_its_output_and_the_marker_moment() {
        let args: Vec<String> = [
            "sh",
            "-c",
            "printf 'loading\\n'; sleep 0.3; printf 'Running batch 1/2\\r'; printf 'Running batch 2/2\\n' >&2; exit 3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut job = spawn_job(&args, None, &["Running batch"]).await.expect("spawned");
        let status = job.wait().await.expect("exit");
        job.finish().await;
        assert_eq!(status.code(), Some(3));
        let log = job.log_text();
        assert!(
            log.contains("loading\n") && log.contains("Running batch 1/2\r") && log.contains("2/2"),
            "{log}"
        );
        let seen = job.marker_seen().expect("marker seen").duration_since(job.spawned);
        assert!(seen >= Duration::from_millis(250), "seen when printed, after the sleep: {seen:?}");
    }

    #[tokio::test]
    async fn a_stopped_job_leaves_no_process_of_its_group() {
        let args: Vec<String> = ["sh", "-c", "sleep 60 & sleep 60; wait"].iter().map(|s| s.to_string()).collect();
        let mut job = spawn_job(&args, None, &[]).await.expect("spawned");
        let pgid = job.pgid().expect("group");
        job.stop().await;
        assert_eq!(live_members(pgid), 0, "the whole group is gone");
    }

    /// Processes of the group that have not exited (`/proc/PID/stat`: state is field 3, pgrp 5).
    fn live_members(pgid: i32) -> usize {
        std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                let rest = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.first() != Some(&"Z") && f.get(2).and_then(|p| p.parse::<i32>().ok()) == Some(pgid)
            })
            .count()
    }
}
