//! Benchmarks of the run engine (figures go to BENCHMARKS.md; nothing here passes or fails).
//!
//!   cargo bench -p server --bench engine -- throughput   # runner output tok/s and CPU per token
//!   cargo bench -p server --bench engine -- accuracy     # TTFT/E2E error vs the simulator's truth
//!
//! `throughput` runs the real worker (client, SQLite writes, progress) on ONE core (a
//! current-thread runtime; pin it with `taskset -c 0`) against `bakeoff sim` in another process
//! (pinned to core 1 when `taskset` exists) with zero token time, so the simulator's speed and
//! the client's cost are what is measured.

use app::domain::candidates::demo_dataset;
use app::domain::spec::{LaunchForm, Sampling};
use app::domain::stats::Distribution;
use server::client::{prepare_body, Client};
use server::serve::prepare;
use server::sim;
use server::worker::{PreflightPolicy, Worker};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let all = which.is_empty();
    if all || which.iter().any(|w| w == "throughput") {
        throughput();
    }
    if all || which.iter().any(|w| w == "accuracy") {
        accuracy();
    }
    if all || which.iter().any(|w| w == "decode") {
        decode();
    }
    if all || which.iter().any(|w| w == "ingest") {
        ingest();
    }
}

/// Records stored per second into a SQLite file on one core, by the writer's batch size: the
/// worker stores what arrived since its last write in one transaction (at least 64 records, or
/// whatever came within 100 ms; more when the client outpaces the writes).
fn ingest() {
    use app::domain::record::{RequestRecord, Tokens};
    use app::domain::status::Outcome;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let (state, _client) = prepare(
            &dir.path().join("bench.db"),
            std::path::Path::new("target/site"),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .await
        .expect("db");
        // Nothing is sent: the endpoint is only a row the runs point at.
        let endpoint_id = app::db::endpoints::insert(&state.db, "none", "http://127.0.0.1:9", false, &[])
            .await
            .expect("endpoint");
        let spec = LaunchForm {
            endpoint_id: endpoint_id.to_string(),
            dataset_id: "1".into(),
            model: "m".into(),
            requests: "1".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        // A record as the simulator's 64-token answers store it: ~300 bytes of answer, 63 gaps.
        let record = |i: u32| RequestRecord {
            idx: i,
            custom_id: format!("candidate-{:04}~{}", i % 100, i / 100),
            warmup: false,
            outcome: Outcome::Truncated,
            http_status: Some(200),
            error: None,
            finish_reason: Some("length".into()),
            prompt_tokens: Some(Tokens(700)),
            completion_tokens: Some(Tokens(64)),
            scheduled: None,
            sent: Duration::from_micros(u64::from(i) * 90),
            ttft: Some(Duration::from_micros(2_100)),
            e2e: Duration::from_micros(41_000),
            content_chunks: 64,
            itl: vec![Duration::from_micros(610); 63],
            response: "{\"candidate\": {\"name\": \"x\"}, \"analysis\": {\"educational_pedigree\": {\"rating\": \"high\", \"reasoning\": \""
                .to_string() + &"a".repeat(220),
            reasoning: None,
        };
        println!("ingest: records stored per second into SQLite (one core, 200,000 records per batch size)");
        println!("{:>10} {:>12} {:>10}", "batch", "records/s", "seconds");
        for batch in [64u32, 512, 2000] {
            let run_id = app::db::runs::insert(&state.db, &spec, true, None).await.expect("run");
            let n = 200_000u32;
            let records: Vec<RequestRecord> = (0..n).map(record).collect();
            let t = Instant::now();
            for part in records.chunks(batch as usize) {
                app::db::records::insert_batch(&state.db, run_id, part).await.expect("insert");
            }
            let s = t.elapsed().as_secs_f64();
            println!("{batch:>10} {:>12.0} {s:>10.2}", f64::from(n) / s);
        }
    });
}

/// Nanoseconds per chunk: the scanner against serde_json on the chunks servers send.
fn decode() {
    let chunks: [(&str, &[u8]); 3] = [
        (
            "vLLM chat token",
            br#"{"id":"chatcmpl-4f3a9c2b1e8d4a7f9b6c5d2e1f0a3b4c","object":"chat.completion.chunk","created":1795840013,"model":"google/gemma-3-4b-it","choices":[{"index":0,"delta":{"content":" result"},"logprobs":null,"finish_reason":null,"stop_reason":null,"token_ids":null}]}"#,
        ),
        (
            "simulator chat token",
            br#"{"choices":[{"delta":{"content":"resu"},"finish_reason":null,"index":0,"logprobs":null}],"created":1795840013,"id":"chatcmpl-1","model":"sim-gemma-3-4b","object":"chat.completion.chunk"}"#,
        ),
        (
            "escaped JSON token",
            br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\": \""},"logprobs":null,"finish_reason":null}]}"#,
        ),
    ];
    println!("decode: ns per chunk (1,000,000 decodes each)");
    println!("{:<22} {:>9} {:>11}", "chunk", "scanner", "serde_json");
    for (name, data) in chunks {
        let n = 1_000_000u32;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(server::chunk::scan(std::hint::black_box(data)).expect("scans"));
        }
        let fast = t.elapsed().as_nanos() as f64 / f64::from(n);
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(server::chunk::with_serde(std::hint::black_box(data)).expect("valid"));
        }
        let slow = t.elapsed().as_nanos() as f64 / f64::from(n);
        println!("{name:<22} {fast:>9.1} {slow:>11.1}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn throughput() {
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_bakeoff");
    let sim_args = [
        "sim",
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--ttft-ms",
        "0",
        "--tpot-ms",
        "0",
        "--max-concurrency",
        "4096",
    ];
    let pinned = Command::new("taskset").arg("--version").stdout(Stdio::null()).status().is_ok();
    let mut sim = if pinned {
        Command::new("taskset")
            .args(["-c", "1", bin])
            .args(sim_args)
            .stderr(Stdio::null())
            .spawn()
    } else {
        Command::new(bin).args(sim_args).stderr(Stdio::null()).spawn()
    }
    .expect("start bakeoff sim");
    let url = format!("http://127.0.0.1:{port}");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let (state, client) = prepare(
            &dir.path().join("bench.db"),
            std::path::Path::new("target/site"),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .await
        .expect("db");
        let (endpoint_id, _) = app::api::endpoints::register(&state, "sim", &url).await.expect("endpoint");
        let (leases, _shutdown) = server::worker::Leases::new(Default::default(), server::worker::AfterDrain::Interrupt, false);
        let worker = Worker::new(state.clone(), client, PreflightPolicy::default(), leases);
        println!(
            "throughput: real worker on one core (current-thread runtime) vs `bakeoff sim` (ttft 0, tpot 0){}",
            if pinned { ", sim pinned to core 1" } else { "" }
        );
        println!(
            "{:>11} {:>9} {:>14} {:>14} {:>16}",
            "concurrency", "requests", "output tok/s", "client CPU-s", "CPU-s per 1M tok"
        );
        for (concurrency, requests) in [(16u32, 2000u32), (64, 4000), (256, 4000)] {
            let form = LaunchForm {
                endpoint_id: endpoint_id.to_string(),
                dataset_id: "1".into(),
                model: "sim-gemma-3-4b".into(),
                requests: requests.to_string(),
                concurrency: concurrency.to_string(),
                ..Default::default()
            };
            let launched = app::api::runs::queue_runs(&state, &form).await.expect("queue");
            let id = launched.run_ids[0];
            let claimed = app::db::leases::claim(&state.db, id, &worker.leases.holder, 30)
                .await
                .expect("claim")
                .expect("queued");
            let cpu0 = server::cpu::process_cpu().unwrap_or_default();
            worker.execute(claimed).await;
            let cpu = server::cpu::process_cpu().unwrap_or_default() - cpu0;
            let run = app::db::runs::get(&state.db, id).await.expect("run");
            let s = run.summary.expect("summary");
            assert_eq!(s.outcomes.ok, u64::from(requests), "every request answered");
            println!(
                "{:>11} {:>9} {:>14.0} {:>14.2} {:>16.2}",
                concurrency,
                requests,
                s.output_tokens_per_s,
                cpu.as_secs_f64(),
                cpu.as_secs_f64() / (s.completion_tokens as f64 / 1e6)
            );
        }
    });
    let _ = sim.kill();
    let _ = sim.wait();
}

fn accuracy() {
    // The simulator in its own process (core 1), the client on one thread (core 0): the error
    // measured is the client's, not the two competing for a core.
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_bakeoff");
    let args = [
        "sim",
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--ttft-ms",
        "200",
        "--tpot-ms",
        "20",
        "--max-concurrency",
        "4096",
        "--batch-slowdown",
        "0",
        "--record-timing",
    ];
    let pinned = Command::new("taskset").arg("--version").stdout(Stdio::null()).status().is_ok();
    let mut sim = if pinned {
        Command::new("taskset")
            .args(["-c", "1", bin])
            .args(args)
            .stderr(Stdio::null())
            .spawn()
    } else {
        Command::new(bin).args(args).stderr(Stdio::null()).spawn()
    }
    .expect("start bakeoff sim");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let streams = 1000usize;
        let url = format!("{base}/v1/chat/completions");
        let client = Client::new();
        let items = demo_dataset(streams, 99);
        let sampling = Sampling { max_tokens: Some(100), temperature: None };
        // Instants of this process mapped onto the wall clock the simulator stamps with.
        let (wall0, inst0) = (sim::unix_us(), Instant::now());
        let to_us = |t: Instant| wall0 as f64 + t.duration_since(inst0).as_secs_f64() * 1e6;
        let mut tasks = tokio::task::JoinSet::new();
        for item in &items {
            let body = prepare_body(item, "sim-gemma-3-4b", &sampling);
            let (client, url, key) = (client.clone(), url.clone(), sim::prompt_key(&item.prompt_text()));
            tasks.spawn(async move { (key, client.send(&url, body, Duration::from_secs(120)).await) });
        }
        let mut results = Vec::new();
        while let Some(r) = tasks.join_next().await {
            results.push(r.expect("task"));
        }
        let truth: std::collections::HashMap<String, sim::Emitted> =
            reqwest::get(format!("{base}/sim/emitted")).await.expect("truth").json().await.expect("json");
        let stats: serde_json::Value = reqwest::get(format!("{base}/sim/stats")).await.expect("stats").json().await.expect("json");
        let (mut ttft_err, mut e2e_err) = (Vec::new(), Vec::new());
        for (key, m) in &results {
            let Some(t) = truth.get(key) else { continue };
            if let Some(ttft) = m.ttft {
                ttft_err.push((to_us(m.sent + ttft) - t.first_us as f64) / 1e3);
            }
            e2e_err.push((to_us(m.sent + m.e2e) - t.last_us as f64) / 1e3);
        }
        println!(
            "accuracy: {streams} streams (ttft 200 ms, 100 tokens at 20 ms), peak {} in flight, {} matched to the simulator's emission times",
            stats["peak_in_flight"], e2e_err.len()
        );
        println!("  error = client's timestamp - simulator's emission timestamp (both on the wall clock, separate processes{})", if pinned { ", pinned to cores 0 and 1" } else { "" });
        for (name, v) in [("TTFT", &ttft_err), ("E2E", &e2e_err)] {
            if let Some(d) = Distribution::of(v) {
                println!("  {name:<5} error ms: mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}", d.mean, d.p50, d.p90, d.p99, d.max);
            }
        }
    });
    let _ = sim.kill();
    let _ = sim.wait();
}
