//! Import the seed system's run summaries over HTTP, apply the seed's price sheet, and check the
//! report computes the seed's figures (and corrects the one it got wrong).

mod common;

use common::{fast_sim, spawn};
use serde_json::json;
use std::time::Duration;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/seed-metadata/");

async fn import(app: &common::TestApp, file: &str) -> (u16, serde_json::Value) {
    let body = std::fs::read_to_string(format!("{SEED}{file}")).expect("fixture");
    let r = app
        .http
        .post(app.url(&format!("/api/import?filename={file}")))
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_from_the_seed_summaries_reproduces_and_corrects_the_seed() {
    let app = spawn(fast_sim()).await;
    for f in [
        "vllm-native-gemma3-4b-5000-2025-10-28.json",
        "llama32-1b-5k-2025-10-28.json",
        "llama32-3b-5k-2025-10-28.json",
        "qwen3-4b-10-2025-10-28.json",
    ] {
        let (status, v) = import(&app, f).await;
        assert_eq!(status, 201, "{f}: {v}");
    }
    // The same summary again would count one measurement twice in every ranking: refused, naming
    // the run it is.
    let (status, v) = import(&app, "qwen3-4b-10-2025-10-28.json").await;
    assert_eq!(status, 409, "{v}");
    assert!(v.to_string().contains("is imported already, as run #4"), "{v}");
    // Under another file name it is the same measurement (its test id and time say so).
    let body = std::fs::read_to_string(format!("{SEED}qwen3-4b-10-2025-10-28.json")).expect("fixture");
    let r = app
        .http
        .post(app.url("/api/import?filename=renamed.json"))
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap_or_default());
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), Some(4));
    let (status, v) = import(&app, "synthetic_100.json").await;
    assert_eq!(status, 422);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("describes a dataset")), "{v}");

    let runs = app.get_json("/api/runs").await;
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["status"] == "imported" && r["provenance"].is_string()));

    // The page asks for its fragment with no options at all when opened from the menu (the
    // form encoding leaves an all-empty `options` out): the defaults apply.
    let (status, body) = common::call_fn(&app, &app.http, "report_text", "format=fragment&speed=SameLoad").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Total tok/s"), "the report itself: {}", &body[..body.len().min(300)]);

    let md = app
        .http
        .get(app.url("/api/report?format=md&sheet=Parasail%20(seed%20sheet,%20Oct%202025)"))
        .send()
        .await
        .expect("GET");
    assert_eq!(md.status(), 200);
    assert!(md.headers()["content-disposition"]
        .to_str()
        .expect("header")
        .contains("bakeoff-report.md"));
    let md = md.text().await.expect("md");
    for needle in [
        "| Total tok/s | 2,511 |",
        "| Total tok/s | 19,813 |",
        "$9.31",
        "| $3.66 |",
        // Gemma's max tokens is not recorded: unknown is not the same load, so no "faster" claim.
        "Load not recorded, not compared: google/gemma-3-4b-it (run #1, imported)",
    ] {
        assert!(md.contains(needle), "the report lacks {needle}:\n{md}");
    }
    assert!(
        !md.contains("**Fastest:**"),
        "no run is faster at a load not known to be the same:\n{md}"
    );
    assert!(md.contains("\"$4.05 per 100K\" for meta-llama/Llama-3.2-1B-Instruct: does not follow from its own token counts and prices: 308 + 121 tokens at $0.04/$0.2 per 1M give $3.65 ($3.66 from the exact counts)"), "{md}");
    assert!(md.contains("Model load times are shown apart"));

    let html = app
        .http
        .get(app.url("/api/report?format=html"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg") && html.contains("Pareto"));
    let bad = app.http.get(app.url("/api/report?format=pdf")).send().await.expect("GET");
    assert_eq!(bad.status(), 422);
    let bad = app.http.get(app.url("/api/report?sheet=Nope")).send().await.expect("GET");
    assert_eq!(bad.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_batch_output_imports_nothing() {
    let app = spawn(fast_sim()).await;
    let body = "{\"id\":\"1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}},\"error\":null}\n{\"id\":\"2\"}\n";
    let r = app
        .http
        .post(app.url("/api/import?filename=out.jsonl"))
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["fields"][0]["field"], "line 2");
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hybrid_recall_comes_from_both_runs_answers_on_the_same_items() {
    let app = spawn(fast_sim()).await;
    let judge = app.launch("sim-gemma-3-4b", json!({"requests": 120, "concurrency": 16})).await;
    let screen = app.launch("sim-llama-3.2-1b", json!({"requests": 120, "concurrency": 16})).await;
    app.wait_finished(judge, Duration::from_secs(60)).await;
    app.wait_finished(screen, Duration::from_secs(60)).await;
    let md = app
        .http
        .get(app.url(&format!("/api/report?format=md&screen={screen}&judge={judge}&judge_share=0.5")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("md");
    let line = md.lines().find(|l| l.contains("What the screen loses")).expect("hybrid section");
    assert!(
        line.contains("the judge rated Strong Yes") && line.contains("the top 50% keeps"),
        "{line}"
    );
    assert!(md.contains("**simulated**"), "simulated runs are labelled in the report");
    assert!(md.contains("hand the task back"), "the 1B profile's handbacks are counted: {md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_batch_output_streams_in_whole_and_a_summary_is_known_by_its_shape() {
    let app = spawn(fast_sim()).await;
    let line = |i: usize| {
        format!(
            "{{\"id\":\"b{i}\",\"custom_id\":\"c{i}\",\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"m\",\"choices\":[{{\"message\":{{\"content\":\"answer {i}\"}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":{}}}}}}},\"error\":null}}\n",
            i % 7 + 1
        )
    };
    let body: String = (0..3_000).map(line).collect();
    // Sent in small pieces, as a slow network would: lines are split across pieces.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = body.as_bytes().chunks(1_000).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .http
        .post(app.url("/api/import?filename=big-output.jsonl"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.expect("json")["run_id"].as_i64().expect("id");
    let run = app.run(id).await;
    let s = run.summary.expect("summary");
    assert_eq!(s.requests, 3_000);
    assert_eq!(s.completion_tokens, (0..3_000u64).map(|i| i % 7 + 1).sum::<u64>());
    let records = app.records(id).await;
    assert_eq!(records.len(), 3_000);
    assert_eq!(records[2_999]["response"], "answer 2999");

    // A run summary (one JSON document over many lines) is read whole whatever its name says.
    let text = std::fs::read_to_string(format!("{SEED}llama32-1b-5k-2025-10-28.json")).expect("fixture");
    let r = app
        .http
        .post(app.url("/api/import?filename=llama-summary.txt"))
        .body(text)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);

    // A line too long is named, with the limit, and nothing is stored.
    let before = app.get_json("/api/runs").await.as_array().map(Vec::len);
    let long = format!("{}{{\"custom_id\":\"x\",\"pad\":\"{}\"}}\n", line(0), "y".repeat(1024 * 1024 + 10));
    let r = app
        .http
        .post(app.url("/api/import?filename=long.jsonl"))
        .body(long)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["fields"][0]["field"], "line 2");
    assert!(
        v["fields"][0]["message"].as_str().is_some_and(|m| m.contains("longer than 1 MiB")),
        "{v}"
    );
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), before);
}

/// The demo dataset's name.
const DEMO: &str = "Demo: candidate evaluations (synthetic)";

async fn page(app: &common::TestApp, path: &str) -> String {
    let r = app.http.get(app.url(path)).send().await.expect("GET");
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("html")
}

/// QA (issue 18): runs at one load over different datasets were called "faster" than each other
/// and "at the same load" on compare; one run alone was "at the same load"; the costs page's
/// hybrid section paired two runs over different datasets and showed a 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_over_other_datasets_are_not_compared_and_the_hybrid_starts_over_one_dataset() {
    let app = spawn(fast_sim()).await;
    let other = common::distinct_prompts(&app, "other-prompts", 100, 24).await;
    let load = json!({"requests": 100, "concurrency": 4, "max_tokens": 64});
    let demo = app.launch("sim-gemma-3-4b", load.clone()).await;
    app.wait_finished(demo, Duration::from_secs(60)).await;
    let mut on_other = load.clone();
    on_other["dataset_id"] = json!(other);
    let synth = app.launch("sim-llama-3.2-1b", on_other).await;
    app.wait_finished(synth, Duration::from_secs(60)).await;

    let compare = page(&app, &format!("/compare?run={demo}&run={synth}")).await;
    assert!(compare.contains("<th>Dataset</th>"), "compare has a dataset column");
    assert!(compare.contains("other-prompts"), "with each run's dataset");
    assert!(
        compare.contains(&format!(
            "Not like for like: different datasets (#{demo} over {DEMO}; #{synth} over other-prompts)"
        )),
        "compare says the datasets differ: {}",
        compare
            .split("Not like for like")
            .nth(1)
            .unwrap_or(&compare)
            .chars()
            .take(400)
            .collect::<String>()
    );
    assert!(
        !compare.contains("measured at the same load"),
        "and not that the runs are like for like"
    );
    let one = page(&app, &format!("/compare?run={demo}")).await;
    assert!(!one.contains("same load"), "one run is compared with nothing");
    assert!(one.contains("One run: nothing to compare its load with"));

    let md = app
        .http
        .get(app.url("/api/report?format=md"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("md");
    assert!(
        !md.contains("**Fastest:**") && !md.contains("FASTEST"),
        "no faster claim across datasets:\n{md}"
    );
    let apart = md
        .lines()
        .find(|l| l.contains("**Not like for like:**"))
        .expect("the runs named apart");
    assert!(
        apart.contains(&format!("(run #{demo}, simulated) over {DEMO}"))
            && apart.contains(&format!("(run #{synth}, simulated) over other-prompts")),
        "{apart}"
    );

    // The hybrid: no two runs share a dataset, so none is picked and the page says what to do.
    let costs = page(&app, "/costs").await;
    assert!(
        costs.contains("Pick two runs over the same dataset"),
        "the costs page asks for two runs over one dataset"
    );
    assert!(!costs.contains("share no items"), "no pair of datasets that share nothing");

    // A second run over the demo: the pair is the two demo runs.
    let again = app.launch("sim-llama-3.2-1b", load).await;
    app.wait_finished(again, Duration::from_secs(60)).await;
    let costs = page(&app, "/costs").await;
    assert!(
        !costs.contains("Pick two runs over the same dataset"),
        "a pair over the demo is picked"
    );
    assert!(!costs.contains("share no items"));
    assert!(costs.contains("Strategy cost"), "and its split shown");
    // The report's hybrid pair is over one dataset too (the cheaper run over other prompts
    // neither screens nor judges).
    let md = app
        .http
        .get(app.url("/api/report?format=md"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("md");
    let plan = md.lines().find(|l| l.starts_with("- Screen all")).expect("a hybrid section");
    assert!(
        plan.contains(&format!("(run #{again})")) && plan.contains(&format!("(run #{demo})")),
        "{plan}"
    );
    assert!(!plan.contains(&format!("(run #{synth})")), "{plan}");
}
