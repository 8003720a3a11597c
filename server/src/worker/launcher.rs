//! Managed vLLM starts: run an endpoint's launch command (an admin's argument list, no shell)
//! with a run's engine settings, wait for /health, capture the log, and stop it afterwards so the
//! next run can load another model. The arguments come rendered from
//! `app::api::endpoints::command::render`: each placeholder is one whole argument.
//!
//! The server runs in its own process group, stopped as a whole (vLLM's engine and workers are
//! child processes). It is written down when spawned (`model_servers`), so that if this process
//! dies, the next worker on this host stops it before anything is relaunched ([`stop_orphans`]).
//! An offline batch job ([`spawn_job`]: `vllm run-batch`) is spawned, written down and stopped the
//! same way, and runs to its end instead of serving.

mod job;
mod orphans;

pub use job::{spawn_job, Job};
pub use orphans::{stop_orphans, terminate_group};

use crate::client::Client;
use app::db::{self, Db};
use app::domain::startup::{classify_start_failure, StartFailure};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A started server: stop it with [`Started::stop`]. Dropped without a stop (the run was
/// abandoned mid-start on shutdown), it still stops its process group, without waiting.
pub struct Started {
    group: Group,
    pub log: Arc<Mutex<String>>,
    pub load_time: Duration,
}

/// Where a model server is written down when spawned: the run it serves and this host.
pub struct Ledger {
    pub db: Db,
    pub run_id: i64,
    pub host: String,
}

/// The spawned process, leader of its own group, and its `model_servers` row.
struct Group {
    child: Child,
    pgid: Option<i32>,
    record: Option<(Db, i64)>,
}

impl Group {
    /// SIGTERM to the whole group, SIGKILL after 10 s; then the row says stopped.
    async fn stop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                let _ = self.child.wait().await;
            }
            // The leader is gone; whatever of its group outlived it goes too.
            terminate_group(pgid).await;
        }
        if let Some((db, id)) = self.record.take() {
            if let Err(e) = db::workers::model_server_stopped(&db, id).await {
                tracing::warn!("could not record that the model server stopped: {e}");
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let Some(pgid) = self.pgid.take() else { return };
        // Not stopped: the start or the run was abandoned. Stop the group without blocking.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let record = self.record.take();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                terminate_group(pgid).await;
                if let Some((db, id)) = record {
                    let _ = db::workers::model_server_stopped(&db, id).await;
                }
            });
        }
    }
}

#[derive(Debug)]
pub struct Failed {
    pub kind: StartFailure,
    pub log: String,
    pub message: String,
}

const LOG_LIMIT: usize = 200_000;

fn keep(log: &Arc<Mutex<String>>, line: &str) {
    if let Ok(mut l) = log.lock() {
        if l.len() < LOG_LIMIT {
            l.push_str(line);
            l.push('\n');
        }
    }
}

/// Run `args` (the program, then its arguments: no shell, in its own process group) and wait
/// until `base_url` answers /health, the process exits, or `timeout` passes. With a `ledger`,
/// the process group is written down as soon as it is spawned.
pub async fn start(
    args: &[String],
    base_url: &str,
    client: &Client,
    timeout: Duration,
    ledger: Option<&Ledger>,
) -> Result<Started, Failed> {
    let log = Arc::new(Mutex::new(String::new()));
    let mut child = spawn_child(args)?;
    for stream in outputs(&mut child) {
        let log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                keep(&log, &line);
            }
        });
    }
    let mut group = write_down(child, ledger, args).await;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = group.child.try_wait() {
            // Give the readers a moment to drain what the process printed last.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let text = log.lock().map(|l| l.clone()).unwrap_or_default();
            group.stop().await;
            let kind = classify_start_failure(&text);
            let tail: Vec<&str> = text.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(Failed {
                kind,
                message: format!("the launch command exited ({status}) before /health answered: {}", tail.join(" / ")),
                log: text,
            });
        }
        if client.health(base_url).await.is_ok() {
            return Ok(Started {
                group,
                log,
                load_time: started.elapsed(),
            });
        }
        if started.elapsed() > timeout {
            let text = log.lock().map(|l| l.clone()).unwrap_or_default();
            let mut s = Started {
                group,
                log,
                load_time: started.elapsed(),
            };
            s.stop().await;
            return Err(Failed {
                kind: classify_start_failure(&text),
                message: format!("/health did not answer within {} s", timeout.as_secs()),
                log: text,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

type Output = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// Spawn `args` (the program, then its arguments: no shell) in a process group of its own, its
/// output piped, nothing on its input.
fn spawn_child(args: &[String]) -> Result<Child, Failed> {
    let Some((program, rest)) = args.split_first() else {
        return Err(Failed {
            kind: StartFailure::Other,
            log: String::new(),
            message: "the launch command is empty".into(),
        });
    };
    Command::new(program)
        .args(rest)
        // A key `bakeoff run` / `bakeoff batch` read from the environment is for the endpoint,
        // not for the model server's process (which logs its environment on some errors).
        .env_remove("BAKEOFF_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| Failed {
            kind: StartFailure::Other,
            log: String::new(),
            message: format!("could not run the launch command's program '{program}': {e}"),
        })
}

/// The child's stdout and stderr, to be read.
fn outputs(child: &mut Child) -> impl Iterator<Item = Output> {
    [
        child.stdout.take().map(|s| Box::new(s) as Output),
        child.stderr.take().map(|s| Box::new(s) as Output),
    ]
    .into_iter()
    .flatten()
}

/// The spawned child as a group, written down in the run's ledger (when given) at once.
async fn write_down(child: Child, ledger: Option<&Ledger>, args: &[String]) -> Group {
    let pgid = child.id().and_then(|p| i32::try_from(p).ok());
    let mut group = Group { child, pgid, record: None };
    if let (Some(l), Some(pgid)) = (ledger, pgid) {
        match orphans::write_down(l, pgid, args).await {
            Ok(id) => group.record = Some((l.db.clone(), id)),
            Err(e) => tracing::warn!(run = l.run_id, "could not write down the model server's process group: {e}"),
        }
    }
    group
}

impl Started {
    /// SIGTERM to the whole process group (the child leads it, so vLLM's workers get it too),
    /// then SIGKILL after 10 s.
    pub async fn stop(&mut self) {
        self.group.stop().await;
    }

    /// The process group (the leader's pid).
    pub fn pgid(&self) -> Option<i32> {
        self.group.pgid
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arguments_reach_the_program_verbatim_and_no_shell_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pwned = dir.path().join("pwned");
        let model = format!("x & touch {} & wait", pwned.display());
        let args: Vec<String> = vec!["printf".into(), "[%s]\\n".into(), model.clone()];
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let failed = start(
            &args,
            &format!("http://127.0.0.1:{port}"),
            &Client::new(),
            Duration::from_secs(10),
            None,
        )
        .await
        .err()
        .expect("printf exits without serving /health");
        assert!(failed.log.contains(&format!("[{model}]")), "one argument, verbatim: {}", failed.log);
        assert!(!pwned.exists(), "no shell ran the model name");
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let args: Vec<String> = vec!["/nonexistent/vllm".into(), "serve".into()];
        let failed = start(&args, "http://127.0.0.1:9", &Client::new(), Duration::from_secs(5), None)
            .await
            .err()
            .expect("cannot run");
        assert!(failed.message.contains("/nonexistent/vllm"), "{}", failed.message);
    }
}
