//! Managed vLLM starts: run an endpoint's launch command (an admin's argument list, no shell)
//! with a run's engine settings, wait for /health, capture the log, and stop it afterwards so the
//! next run can load another model. The arguments come rendered from
//! `app::api::endpoints::command::render`: each placeholder is one whole argument.

use crate::client::Client;
use app::domain::startup::{classify_start_failure, StartFailure};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A started server: stop it with [`Started::stop`].
pub struct Started {
    child: Child,
    pub log: Arc<Mutex<String>>,
    pub load_time: Duration,
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
/// until `base_url` answers /health, the process exits, or `timeout` passes.
pub async fn start(args: &[String], base_url: &str, client: &Client, timeout: Duration) -> Result<Started, Failed> {
    let log = Arc::new(Mutex::new(String::new()));
    let Some((program, rest)) = args.split_first() else {
        return Err(Failed {
            kind: StartFailure::Other,
            log: String::new(),
            message: "the launch command is empty".into(),
        });
    };
    let mut child = Command::new(program)
        .args(rest)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failed {
            kind: StartFailure::Other,
            log: String::new(),
            message: format!("could not run the launch command's program '{program}': {e}"),
        })?;
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                keep(&log, &line);
            }
        });
    }
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Give the readers a moment to drain what the process printed last.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let text = log.lock().map(|l| l.clone()).unwrap_or_default();
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
                child,
                log,
                load_time: started.elapsed(),
            });
        }
        if started.elapsed() > timeout {
            let text = log.lock().map(|l| l.clone()).unwrap_or_default();
            let mut s = Started {
                child,
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

impl Started {
    /// SIGTERM to the whole process group, then SIGKILL after 10 s.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The child leads its own process group (process_group(0)), so -pid reaches vLLM's workers too.
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
                let _ = self.child.wait().await;
            }
        }
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
        let failed = start(&args, &format!("http://127.0.0.1:{port}"), &Client::new(), Duration::from_secs(10))
            .await
            .err()
            .expect("printf exits without serving /health");
        assert!(failed.log.contains(&format!("[{model}]")), "one argument, verbatim: {}", failed.log);
        assert!(!pwned.exists(), "no shell ran the model name");
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let args: Vec<String> = vec!["/nonexistent/vllm".into(), "serve".into()];
        let failed = start(&args, "http://127.0.0.1:9", &Client::new(), Duration::from_secs(5))
            .await
            .err()
            .expect("cannot run");
        assert!(failed.message.contains("/nonexistent/vllm"), "{}", failed.message);
    }
}
