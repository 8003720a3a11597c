//! Live progress across processes (issue 13): a run measured by one Bakeoff process is followed
//! live on a page another process serves, through the progress the first one stores in the
//! shared SQLite file.

mod common;

use futures::StreamExt;
use serde_json::{json, Value};
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");

/// A child process killed when dropped, so a failing test leaves nothing behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `bakeoff serve` in a process of its own on the database `db`, its log in `log`.
fn serve(db: &Path, log: &Path) -> Proc {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--sim-addr",
            "127.0.0.1:0",
            "--lease-s",
            "2",
            "--db",
        ])
        .arg(db)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("bakeoff serve");
    Proc(child)
}

type Body = Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Server-Sent Events read off a response body as they come.
struct Events {
    body: Body,
    buf: String,
}

impl Events {
    fn new(resp: reqwest::Response) -> Self {
        Events {
            body: Box::pin(resp.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event's data (JSON), or `None` when the stream has ended. Fails the test if
    /// neither comes before `deadline`.
    async fn next(&mut self, deadline: Instant, log: &Path) -> Option<Value> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim_start).collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(serde_json::from_str(&data.join("\n")).expect("event data is JSON"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.body.next()).await {
                Err(_) => panic!(
                    "no event and no end of the stream in time (left over: {:?}); the measuring process said:\n{}",
                    self.buf,
                    std::fs::read_to_string(log).unwrap_or_default()
                ),
                Ok(None) => return None,
                Ok(Some(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk.expect("stream chunk"))),
            }
        }
    }
}

fn field(e: &Value, name: &str) -> u64 {
    e[name].as_u64().unwrap_or_else(|| panic!("{name} in {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_served_by_one_process_follows_live_a_run_another_process_measures() {
    // B serves the page and measures nothing: its worker is stopped (the web app stays up). Its
    // simulator, alive, stays the built-in endpoint (3 ms a token: some seconds of running).
    let b = common::spawn(server::sim::SimConfig {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(3),
        ..server::sim::SimConfig::default()
    })
    .await;
    b.running.drain().await;
    let total = 200;
    let id = b
        .launch("sim-gemma-3-4b", json!({"requests": total, "concurrency": 4, "max_tokens": 64}))
        .await;

    // The page is opened before the run starts.
    let resp = b
        .http
        .get(b.url(&format!("/api/runs/{id}/events")))
        .send()
        .await
        .expect("GET events");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get("x-accel-buffering").and_then(|v| v.to_str().ok()), Some("no"));
    let log = b.dir.path().join("a.log");
    let mut events = Events::new(resp);
    let first = events
        .next(Instant::now() + Duration::from_secs(10), &log)
        .await
        .expect("a first event");
    assert_eq!(first["status"], "queued", "{first}");
    assert_eq!((field(&first, "done"), field(&first, "total")), (0, total));

    // A: another `bakeoff serve` process on the same SQLite file; its worker takes the run.
    let a = serve(&b.db, &log);

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = vec![first];
    loop {
        let e = events
            .next(deadline, &log)
            .await
            .unwrap_or_else(|| panic!("the stream ended before the run finished: {seen:?}"));
        let finished = !matches!(e["status"].as_str(), Some("queued" | "running"));
        seen.push(e);
        if finished {
            break;
        }
    }
    let until = Instant::now() + Duration::from_secs(10);
    assert_eq!(events.next(until, &log).await, None, "the stream ends after the finished event");

    let live: Vec<&Value> = seen
        .iter()
        .filter(|e| e["status"] == "running" && (1..total).contains(&field(e, "done")))
        .collect();
    assert!(!live.is_empty(), "no progress while the run went: {seen:?}");
    assert!(
        live.iter().any(|e| e["elapsed_s"].as_f64().is_some_and(|s| s > 0.0)),
        "the measuring process's pace came along: {live:?}"
    );
    let done: Vec<u64> = seen.iter().map(|e| field(e, "done")).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "progress only goes forward: {done:?}");
    let last = seen.last().expect("events");
    assert_eq!(last["status"], "completed", "{seen:?}");
    assert_eq!(field(last, "done"), total);

    // It was measured by A, not by B.
    let run = b.run(id).await;
    let worker = run.worker.expect("the run names its worker");
    assert!(
        worker.ends_with(&format!("(pid {})", a.0.id())),
        "measured by {worker}, not by pid {}",
        a.0.id()
    );
    drop(a);
}
