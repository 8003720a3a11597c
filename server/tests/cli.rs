//! The headless CLI: `bakeoff run --json` against a `bakeoff sim` process, then `bakeoff export`.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim() -> (Killed, String) {
    start_sim_with(&[])
}

fn start_sim_with(extra: &[&str]) -> (Killed, String) {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["sim", "--addr", &format!("127.0.0.1:{port}"), "--ttft-ms", "2", "--tpot-ms", "0.2"])
        .args(extra)
        .stderr(Stdio::null())
        .spawn()
        .expect("sim");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sim did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Killed(child), url)
}

#[test]
fn run_prints_a_json_summary_and_export_writes_batch_output() {
    let (_sim, url) = start_sim();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("cli.db");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let out = Command::new(BIN)
        .args([
            "run",
            "--endpoint",
            &url,
            "--model",
            "sim-gemma-3-4b",
            "--dataset",
            dataset,
            "--requests",
            "30",
            "--concurrency",
            "6",
            "--json",
            "--db",
        ])
        .arg(&db)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON summary");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["simulated"], true);
    assert_eq!(v["summary"]["requests"], 30);
    assert_eq!(v["summary"]["outcomes"]["ok"], 30);
    assert!(v["definitions"]["output_tokens_per_s"]
        .as_str()
        .is_some_and(|d| d.contains("completion tokens")));
    let run_id = v["run_id"].as_i64().expect("id");

    let out = Command::new(BIN)
        .args(["export", &run_id.to_string(), "--out"])
        .arg(dir.path())
        .arg("--db")
        .arg(&db)
        .output()
        .expect("export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = std::fs::read_to_string(dir.path().join(format!("run-{run_id}-output.jsonl"))).expect("output file");
    let lines: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 30);
    assert!(lines
        .iter()
        .all(|l| l["response"]["status_code"] == 200 && l["custom_id"].as_str().is_some_and(|c| c.starts_with("candidate-"))));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(format!("run-{run_id}-summary.json"))).expect("summary"))
            .expect("json");
    assert_eq!(summary["summary"]["requests"], 30);
    assert_eq!(summary["client_bottleneck"], false);
}

#[test]
fn a_rate_with_a_concurrency_cap_runs_as_vllm_bench_serve_does() {
    let (_sim, url) = start_sim();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("cli.db");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let out = Command::new(BIN)
        .args(["run", "--endpoint", &url, "--model", "sim-gemma-3-4b", "--dataset", dataset])
        .args(["--requests", "12", "--rate", "200", "--concurrency", "3", "--json", "--db"])
        .arg(&db)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON summary");
    assert_eq!(v["summary"]["outcomes"]["ok"], 12, "{v}");
    assert_eq!(
        (v["load"]["concurrency"].as_u64(), v["load"]["rate"].as_f64()),
        (Some(3), Some(200.0)),
        "{v}"
    );
}

#[test]
fn run_json_reports_both_ttfts_and_reasoning_tokens_of_a_reasoning_model() {
    let (_sim, url) = start_sim_with(&[
        "--reasoning",
        "reasoning_content",
        "--reasoning-tokens",
        "50",
        "--no-reasoning-usage",
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let out = Command::new(BIN)
        .args(["run", "--endpoint", &url, "--model", "sim-gemma-3-4b", "--dataset", dataset])
        .args(["--requests", "10", "--concurrency", "5", "--json", "--db"])
        .arg(dir.path().join("r.db"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON summary");
    let s = &v["summary"];
    assert_eq!(s["requests"], 10);
    // Every model reasons 50 tokens (--reasoning); no usage details, so the chunks are counted.
    assert_eq!(s["reasoning_tokens"], 500);
    assert_eq!(s["reasoning_tokens_source"], "counted");
    assert!(s["completion_tokens"].as_u64().is_some_and(|c| c > 500));
    let mean = |k: &str| s[k]["mean"].as_f64().unwrap_or_else(|| panic!("{k}: {s}"));
    assert!(mean("ttft_ms") < mean("answer_ttft_ms"), "{s}");
    assert!(s["answer_ttft_ms"]["p99"].is_number());
    for key in ["ttft", "answer_ttft", "reasoning_tokens"] {
        assert!(v["definitions"][key].is_string(), "{key}");
    }
    assert!(v["definitions"]["ttft"].as_str().is_some_and(|d| d.contains("reasoning")));
}

#[test]
fn a_bad_dataset_file_exits_non_zero_naming_the_line() {
    let (_sim, url) = start_sim();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.jsonl");
    std::fs::write(
        &file,
        "{\"custom_id\": \"a\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"messages\": []}}\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["run", "--endpoint", &url, "--model", "sim-gemma-3-4b", "--dataset"])
        .arg(&file)
        .arg("--db")
        .arg(dir.path().join("x.db"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("body.messages"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
}

#[test]
fn import_and_report_from_the_terminal() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("r.db");
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/seed-metadata/");
    for f in ["vllm-native-gemma3-4b-5000-2025-10-28.json", "llama32-1b-5k-2025-10-28.json"] {
        let out = Command::new(BIN)
            .arg("import")
            .arg(format!("{seed}{f}"))
            .arg("--db")
            .arg(&db)
            .output()
            .expect("import");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new(BIN)
        .arg("import")
        .arg(format!("{seed}synthetic_100.json"))
        .arg("--db")
        .arg(&db)
        .output()
        .expect("import");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("describes a dataset"));
    let out = Command::new(BIN)
        .args(["report", "--format", "html", "--db"])
        .arg(&db)
        .output()
        .expect("report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg") && html.contains("19,813"));
    let out = Command::new(BIN)
        .args(["report", "--sheet", "No such sheet", "--db"])
        .arg(&db)
        .output()
        .expect("report");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no price sheet 'No such sheet'"));
}

#[test]
fn batch_runs_a_provider_batch_job_and_prints_its_job_level_summary() {
    let (_sim, url) = start_sim_with(&["--batch-turnaround-ms", "300", "--batch-fail-rate", "0.2"]);
    let dir = tempfile::tempdir().expect("tmp");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let out = Command::new(BIN)
        .args(["batch", "--endpoint", &url, "--model", "sim-gemma-3-4b", "--dataset", dataset])
        .args(["--max-tokens", "32", "--poll-s", "1", "--json", "--db"])
        .arg(dir.path().join("b.db"))
        .output()
        .expect("batch");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON summary");
    assert_eq!(v["status"], "completed");
    let job = &v["summary"]["job"];
    assert_eq!(job["kind"], "provider-batch");
    // Every line of the dataset once, by default.
    assert_eq!(job["total"], 100);
    assert_eq!(v["summary"]["requests"], 100);
    let failed = job["failed"].as_u64().expect("failed");
    assert!(failed > 0 && failed < 100, "a 20 % failure rate: {job}");
    assert_eq!(job["completed"].as_u64().expect("completed") + failed, 100);
    assert!(v["summary"]["ttft_ms"].is_null(), "no per-request timing");

    // An offline batch names a managed endpoint: an unknown name says so.
    let out = Command::new(BIN)
        .args([
            "batch",
            "--offline",
            "--endpoint",
            "gpu-box-batch",
            "--model",
            "m",
            "--dataset",
            dataset,
            "--db",
        ])
        .arg(dir.path().join("b.db"))
        .output()
        .expect("batch");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gpu-box-batch") && err.contains("vllm run-batch"), "{err}");
}

/// A refused `bakeoff run` (QA: a model the endpoint does not serve, concurrency 0, a bad target)
/// exits non-zero and leaves no dataset behind; the same file given again later is stored then.
#[test]
fn a_refused_run_stores_no_dataset() {
    let (_sim, url) = start_sim();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("cli.db");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    for (model, extra) in [("nope", vec![]), ("sim-gemma-3-4b", vec!["--concurrency", "0"])] {
        let out = Command::new(BIN)
            .args(["run", "--endpoint", &url, "--model", model, "--dataset", dataset, "--requests", "5"])
            .args(extra)
            .arg("--db")
            .arg(&db)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{model}: refused");
    }
    let names = tokio::runtime::Runtime::new().expect("rt").block_on(async {
        let pool = app::db::pool::connect(&db).await.expect("db");
        app::db::datasets::list(&pool)
            .await
            .expect("list")
            .into_iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
    });
    assert!(!names.iter().any(|n| n.starts_with("synthetic_100")), "{names:?}");
}
