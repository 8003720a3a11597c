//! Data that must not leave the building, and spend caps (issue 17, item 6), over real HTTP with
//! a real SQLite file: the built-in simulator registered a second time, as a *hosted* endpoint
//! (under `localhost`, so its URL differs from the built-in one's `127.0.0.1`), with a price
//! sheet and a small cap.

mod common;

use app::domain::cost::{PriceKind, PriceRow, PriceSheet};
use app::domain::status::RunStatus;
use common::{fast_sim, spawn, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const MODEL: &str = "sim-llama-3.2-1b";
const HOSTED: &str = "parasail-sim";

/// The simulator's URL under another host name (a URL is registered once).
fn other_url(app: &TestApp) -> String {
    app.sim_url().replace("127.0.0.1", "localhost")
}

/// A price sheet that prices the simulated model per token.
async fn sheet(app: &TestApp, name: &str, input_per_m: f64, output_per_m: f64) {
    let sheet = PriceSheet {
        id: 0,
        name: name.into(),
        provider: "test".into(),
        source: "the data rules test".into(),
        dated: "2026-01-01".into(),
        default_model_key: None,
        rows: vec![PriceRow {
            id: 0,
            model_key: MODEL.into(),
            kind: PriceKind::Serverless,
            input_per_m: Some(input_per_m),
            output_per_m: Some(output_per_m),
            usd_per_hour: None,
            self_hosted: None,
            note: String::new(),
        }],
    };
    app::db::prices::insert(&app.running.state.db, &sheet, false).await.expect("sheet");
}

/// Register an endpoint over REST; returns its id.
async fn add_endpoint(app: &TestApp, body: Value) -> i64 {
    let (status, v) = app.post_json("/api/endpoints", body).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_i64().expect("id")
}

/// Upload a small dataset over REST (`query`: extra query parameters); returns its id.
async fn upload(app: &TestApp, name: &str, prompts: &[&str], query: &str) -> i64 {
    let body: String = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}\n",
                json!({"custom_id": format!("r{i}"), "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "x", "messages": [{"role": "user", "content": p}]}})
            )
        })
        .collect();
    let r = app
        .http
        .post(app.url(&format!("/api/datasets?name={name}{query}")))
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 201);
    r.json::<Value>().await.expect("json")["id"].as_i64().expect("id")
}

async fn launch(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_json("/api/runs", body).await
}

async fn put(app: &TestApp, client: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
    let r = client.put(app.url(path)).json(&body).send().await.expect("PUT");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A server function's path (`/api/NAME` plus its hash).
fn server_fn(name: &str) -> String {
    server::serve::route_list()
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| p.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit()) == name)
        .unwrap_or_else(|| panic!("no server function {name}"))
}

async fn audit(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(&app.running.state.db)
        .await
        .expect("audit")
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_only_dataset_is_refused_on_a_hosted_endpoint_in_every_launch_path() {
    let app = spawn(fast_sim()).await;
    // The demo's candidate profiles are internal only from the start.
    let datasets = app.get_json("/api/datasets").await;
    let demo = datasets
        .as_array()
        .and_then(|l| l.iter().find(|d| d["id"] == 1))
        .expect("demo dataset");
    assert_eq!(demo["internal_only"], true, "{demo}");
    let hosted = add_endpoint(&app, json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true})).await;

    // REST launch, a sweep, and the launch form's server function: refused, naming the flag.
    let one = json!({"endpoint_id": hosted, "dataset_id": 1, "model": MODEL, "requests": 4, "concurrency": 2});
    let (status, v) = launch(&app, one.clone()).await;
    assert_eq!(status, 422, "{v}");
    let m = message(&v);
    assert!(
        m.contains("is marked internal only") && m.contains(&format!("hosted endpoint '{HOSTED}'")) && m.contains("clear the flag"),
        "{v}"
    );
    let (status, v) = launch(
        &app,
        json!({"endpoint_id": hosted, "dataset_id": 1, "model": MODEL, "requests": 4, "concurrency": 1, "sweep": "1,2"}),
    )
    .await;
    assert_eq!(status, 422, "a sweep is refused too: {v}");
    let r = app
        .http
        .post(app.url(&server_fn("launch_run")))
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "form[endpoint_id]={hosted}&form[dataset_id]=1&form[model]={MODEL}&form[requests]=4&form[concurrency]=2"
        ))
        .send()
        .await
        .expect("server fn");
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().await.expect("json");
    assert!(message(&v).contains("is marked internal only"), "{v}");
    let preview = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={hosted}&dataset_id=1&model={MODEL}&requests=4"
        ))
        .await;
    assert!(
        preview["refusal"].as_str().is_some_and(|r| r.contains("internal only")),
        "{preview}"
    );
    let runs = app.get_json("/api/runs").await;
    assert!(runs.as_array().is_some_and(|r| r.is_empty()), "nothing was queued: {runs}");

    // The same dataset on the self-hosted simulator is fine.
    let run = app.launch(MODEL, json!({"requests": 4})).await;
    assert_eq!(app.wait_finished(run, Duration::from_secs(60)).await.status, RunStatus::Completed);

    // Runners and admins set the flag; only an admin clears it, which lets the launch through,
    // audited.
    let viewer = app.client_for("vic").await;
    let (status, _) = put(&app, &viewer, "/api/datasets/1/internal_only", json!({"internal_only": false})).await;
    assert_eq!(status, 403);
    let runner = app.client_for("rita").await;
    let (status, v) = put(&app, &runner, "/api/datasets/1/internal_only", json!({"internal_only": false})).await;
    assert_eq!(status, 403, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("only an admin may clear")), "{v}");
    let (status, v) = put(&app, &runner, "/api/datasets/1/internal_only", json!({"internal_only": true})).await;
    assert_eq!(status, 200, "a runner may set it: {v}");
    let (status, v) = put(&app, &app.http, "/api/datasets/1/internal_only", json!({"internal_only": false})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["internal_only"], false);
    let (status, v) = launch(&app, one).await;
    assert_eq!(status, 201, "{v}");
    let run = v["run_ids"][0].as_i64().expect("run");
    assert_eq!(app.wait_finished(run, Duration::from_secs(60)).await.status, RunStatus::Completed);
    let entries = audit(&app, "dataset.internal_only").await;
    assert!(entries.iter().any(|d| d.contains("no longer internal only")), "{entries:?}");

    // Set at upload: REST `internal_only=true`.
    let id = upload(&app, "secret", &["hello"], "&internal_only=true").await;
    let datasets = app.get_json("/api/datasets").await;
    let d = datasets
        .as_array()
        .and_then(|l| l.iter().find(|d| d["id"] == id))
        .expect("uploaded");
    assert_eq!(d["internal_only"], true, "{d}");
    let (status, v) = launch(
        &app,
        json!({"endpoint_id": hosted, "dataset_id": id, "model": MODEL, "requests": 1, "concurrency": 1}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains("dataset 'secret' is marked internal only"), "{v}");

    // And on the upload form: its checkbox.
    let line = json!({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "hi"}]}});
    let form = reqwest::multipart::Form::new()
        .text("name", "by form")
        .text("internal_only", "true")
        .part("file", reqwest::multipart::Part::text(format!("{line}\n")).file_name("f.jsonl"));
    let r = app
        .http
        .post(app.url("/datasets/upload"))
        .multipart(form)
        .send()
        .await
        .expect("form");
    let to = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(to.starts_with("/datasets?uploaded="), "{} {to}", r.status());
    let datasets = app.get_json("/api/datasets").await;
    let d = datasets
        .as_array()
        .and_then(|l| l.iter().find(|d| d["name"] == "by form"))
        .expect("uploaded by form");
    assert_eq!(d["internal_only"], true, "{d}");
    let page = app
        .http
        .get(app.url("/datasets"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("badge-internal"), "the datasets page shows the badge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_refuses_a_queued_run_whose_dataset_was_flagged_after_queueing() {
    let app = spawn(fast_sim()).await;
    let db = &app.running.state.db;
    // Self-hosted at first: its runs take the GPU lock of host `127.0.0.1` (its name `localhost` is the same host), one at a time.
    let ep = add_endpoint(&app, json!({"name": "box", "base_url": other_url(&app)})).await;
    let data = upload(&app, "profiles", &["a profile", "another profile"], "").await;
    let (status, v) = launch(
        &app,
        json!({"endpoint_id": ep, "dataset_id": 1, "model": MODEL, "requests": 100000, "concurrency": 1}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let busy = v["run_ids"][0].as_i64().expect("run");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.run(busy).await.status != RunStatus::Running {
        assert!(std::time::Instant::now() < deadline, "the first run did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, v) = launch(
        &app,
        json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": 2, "concurrency": 1}),
    )
    .await;
    assert_eq!(status, 201, "allowed when queued: {v}");
    let queued = v["run_ids"][0].as_i64().expect("run");
    assert_eq!(app.run(queued).await.status, RunStatus::Queued, "it waits for the GPU");

    // Then the dataset is marked internal only, and the endpoint turns out to be hosted (which
    // also frees it from the GPU lock, so the worker takes the queued run at once).
    let (status, _) = put(
        &app,
        &app.http,
        &format!("/api/datasets/{data}/internal_only"),
        json!({"internal_only": true}),
    )
    .await;
    assert_eq!(status, 200);
    let hosted = app::db::endpoints::AccessUpdate {
        hosted: Some(true),
        ..Default::default()
    };
    app::db::endpoints::set_access(db, ep, &hosted).await.expect("hosted");
    let refused = app.wait_finished(queued, Duration::from_secs(60)).await;
    assert_eq!(refused.status, RunStatus::Failed);
    let error = refused.error.clone().unwrap_or_default();
    assert!(
        error.contains("dataset 'profiles' is marked internal only") && error.contains("hosted endpoint 'box'"),
        "{error}"
    );
    assert_eq!(app::db::records::count(db, queued).await.expect("count"), 0, "nothing was sent");
    let (status, _) = app.post_json(&format!("/api/runs/{busy}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    app.wait_finished(busy, Duration::from_secs(60)).await;
}

const PROMPT: &str = "What is the capital of France? Answer in one word.";

/// A capped hosted run at concurrency 4 (max tokens 24): it stops under the cap, with less than
/// one request's worst case left, whether or not the endpoint reports usage. Returns the app, the
/// endpoint, the dataset, the run, what it spent and that run's record.
async fn run_into_the_cap(no_usage: bool) -> (TestApp, i64, i64, i64, f64, app::api::types::RunView) {
    let app = spawn(server::sim::SimConfig { no_usage, ..fast_sim() }).await;
    sheet(&app, "dear", IN, OUT).await;
    let ep = add_endpoint(
        &app,
        json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true, "price_sheet": "dear", "spend_cap_usd": CAP}),
    )
    .await;
    let eps = app.get_json("/api/endpoints").await;
    let listed = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == ep)).expect("listed");
    assert_eq!(listed["spend_cap_usd"], CAP, "{listed}");
    let data = upload(&app, "public", &[PROMPT], "").await;

    let (status, v) = launch(
        &app,
        json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": 500, "concurrency": CONCURRENCY, "max_tokens": MAX_TOKENS}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["run_ids"][0].as_i64().expect("run");
    let run = app.wait_finished(id, Duration::from_secs(120)).await;
    assert_eq!(run.status, RunStatus::Cancelled, "{:?}", run.error);

    // What was really generated, from the simulator's own count; the prompt's tokens are the
    // estimate (the simulator counts prompts the same way).
    let stats = app.sim_stats().await;
    let sent = stats["requests"].as_u64().expect("sim requests");
    let generated = stats["generation_tokens_total"].as_f64().expect("generated");
    let body = json!({"messages": [{"role": "user", "content": PROMPT}]});
    let prompt = app::domain::spend::estimate_prompt_tokens(&body) as f64;
    let spent = (sent as f64 * prompt * IN + generated * OUT) / 1e6;
    let worst = (prompt * IN + f64::from(MAX_TOKENS) * OUT) / 1e6;

    let records = app.records(id).await;
    assert_eq!(records.len() as u64, sent, "every request sent was stored");
    assert!(records.len() < 500, "the run stopped early");
    if !no_usage {
        let from_usage: f64 = records
            .iter()
            .map(|r| (r["prompt_tokens"].as_f64().expect("usage") * IN + r["completion_tokens"].as_f64().expect("usage") * OUT) / 1e6)
            .sum();
        assert!((from_usage - spent).abs() < 1e-9, "usage {from_usage} vs generated {spent}");
    }
    // Never past the cap (the worst cases are exact bounds here), and stopped with less than one
    // request's worst case left.
    assert!(spent <= CAP + 1e-9, "past the cap: {spent}");
    assert!(spent > CAP - worst, "stopped {} early: {spent} of {CAP}", CAP - spent);
    // What the meter counted (stored on the endpoint) is what was spent, usage reported or not.
    let eps = app.get_json("/api/endpoints").await;
    let listed = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == ep)).expect("listed");
    let counted = listed["spent_this_month_usd"].as_f64().expect("spent");
    assert!((counted - spent).abs() < 1e-9, "counted {counted}, spent {spent}");
    let reason = run.error.clone().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "the next request could have cost up to {}",
            app::domain::spend::money(worst)
        )),
        "{reason}"
    );
    (app, ep, data, id, spent, run)
}

const CAP: f64 = 0.25;
const CONCURRENCY: u64 = 4;
const IN: f64 = 100.0;
const OUT: f64 = 1000.0;
const MAX_TOKENS: u32 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spend_cap_counts_a_provider_that_reports_no_usage() {
    run_into_the_cap(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spend_cap_stops_a_hosted_run_within_one_request_of_the_cap() {
    let (app, ep, data, id, spent, run) = run_into_the_cap(false).await;

    // The reason is recorded on the run (REST JSON, run page) and in the audit log.
    let reason = run.error.clone().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("stopped at the spend cap of {} a month", app::domain::spend::money(CAP)))
            && reason.contains(&format!("endpoint '{HOSTED}'")),
        "{reason}"
    );
    assert!(
        reason.contains(&app::domain::spend::money(spent)),
        "the reason says what was spent ({spent}): {reason}"
    );
    let page = app
        .http
        .get(app.url(&format!("/runs/{id}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("stopped at the spend cap"), "the run page shows the reason");
    let entries = audit(&app, "run.spend_cap_stop").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].contains("stopped at the spend cap"));

    // The endpoint shows what it spent this month; a new launch is refused at once.
    let eps = app.get_json("/api/endpoints").await;
    let listed = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == ep)).expect("listed");
    assert!(
        (listed["spent_this_month_usd"].as_f64().expect("spent") - spent).abs() < 1e-9,
        "{listed} vs {spent}"
    );
    // Once the cap is reached (here: lowered below what was spent, audited), a new launch is
    // refused at once.
    let (status, v) = put(
        &app,
        &app.http,
        &format!("/api/endpoints/{ep}/spend_cap"),
        json!({"spend_cap_usd": 0.1}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = launch(
        &app,
        json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": 1, "concurrency": 1}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        message(&v).contains(&format!("reached its spend cap of {}", app::domain::spend::money(0.1))),
        "{v}"
    );

    // Raising the cap (audited) lets runs through again.
    let (status, v) = put(
        &app,
        &app.http,
        &format!("/api/endpoints/{ep}/spend_cap"),
        json!({"spend_cap_usd": 100}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = put(
        &app,
        &app.http,
        &format!("/api/endpoints/{ep}/spend_cap"),
        json!({"spend_cap_usd": "lots"}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains("such as 5"), "{v}");
    let (status, v) = put(&app, &app.http, "/api/endpoints/1/spend_cap", json!({"spend_cap_usd": 5})).await;
    assert_eq!(status, 422, "no sheet, nothing to count a cap with: {v}");
    assert!(message(&v).contains("has no price sheet"), "{v}");
    let entries = audit(&app, "endpoint.spend_cap").await;
    assert_eq!(entries.len(), 3, "set at creation, lowered, then raised: {entries:?}");
    assert!(entries[1].contains("$0.250 a month -> $0.100 a month"), "{entries:?}");
    assert!(entries[2].contains("$0.100 a month -> $100.00 a month"), "{entries:?}");
    let (status, v) = launch(
        &app,
        json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": 1, "concurrency": 1}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
}

/// Two runs on one capped hosted endpoint at once (hosted endpoints take no GPU lock): each
/// sends only within the room the database granted it against the cap and the other's
/// reservation, so together they stay under the cap. Before, each read the other's spend when it
/// started (nothing yet) and both could spend up to the whole cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_on_one_capped_endpoint_stay_under_the_cap_together() {
    // About a second a request: the runs certainly overlap.
    let app = spawn(server::sim::SimConfig {
        ttft: Duration::from_millis(50),
        tpot: Duration::from_millis(40),
        ..server::sim::SimConfig::default()
    })
    .await;
    sheet(&app, "dear", IN, OUT).await;
    let ep = add_endpoint(
        &app,
        json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true, "price_sheet": "dear", "spend_cap_usd": CAP}),
    )
    .await;
    let data = upload(&app, "public", &[PROMPT], "").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, v) = launch(
            &app,
            json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": 500, "concurrency": CONCURRENCY, "max_tokens": MAX_TOKENS}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["run_ids"][0].as_i64().expect("run"));
    }
    let mut records = 0;
    for id in &ids {
        let run = app.wait_finished(*id, Duration::from_secs(120)).await;
        assert_eq!(run.status, RunStatus::Cancelled, "stopped at the cap: {:?}", run.error);
        let n = app.records(*id).await.len();
        assert!(n > 0, "run {id} sent nothing: the runs did not overlap, the test proves nothing");
        records += n;
    }
    let stats = app.sim_stats().await;
    let sent = stats["requests"].as_u64().expect("sim requests");
    assert_eq!(sent, records as u64, "every request sent was stored");
    let generated = stats["generation_tokens_total"].as_f64().expect("generated");
    let body = json!({"messages": [{"role": "user", "content": PROMPT}]});
    let prompt = app::domain::spend::estimate_prompt_tokens(&body) as f64;
    let spent = (sent as f64 * prompt * IN + generated * OUT) / 1e6;
    let worst = (prompt * IN + f64::from(MAX_TOKENS) * OUT) / 1e6;
    assert!(spent <= CAP + 1e-9, "together past the cap: {spent} of {CAP}");
    assert!(spent > CAP - 2.0 * worst, "stopped {} early: {spent} of {CAP}", CAP - spent);
    // Neither holds anything once stopped: the endpoint's whole spend is what was spent.
    let eps = app.get_json("/api/endpoints").await;
    let listed = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == ep)).expect("listed");
    let counted = listed["spent_this_month_usd"].as_f64().expect("spent");
    assert!((counted - spent).abs() < 1e-9, "counted {counted}, spent {spent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_gives_a_known_datasets_tokens_and_price() {
    let app = spawn(fast_sim()).await;
    sheet(&app, "preview", 2.0, 10.0).await;
    let ep = add_endpoint(
        &app,
        json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true, "price_sheet": "preview"}),
    )
    .await;
    let bare = 1; // the built-in simulator: no sheet linked
                  // Text + the newline after each message, 4 bytes a token (rounded up), + 4 for the message.
    let prompts = ["abcdefg", "a much longer prompt than the first one", "x", "twelve chars"];
    let per_item: Vec<u64> = prompts.iter().map(|p| (p.len() as u64 + 1).div_ceil(4) + 4).collect();
    let data = upload(&app, "known", &prompts, "").await;

    // 8 requests cycle the 4 items twice.
    let p = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=8&max_tokens=50"
        ))
        .await;
    let input: u64 = 2 * per_item.iter().sum::<u64>();
    assert_eq!(p["requests"], 8);
    assert_eq!(p["input_tokens"], input, "{p}");
    assert_eq!(p["output_tokens_max"], 400);
    let (in_usd, out_usd) = (input as f64 * 2.0 / 1e6, 400.0 * 10.0 / 1e6);
    assert!((p["input_usd"].as_f64().expect("input $") - in_usd).abs() < 1e-12, "{p}");
    assert!((p["output_usd_max"].as_f64().expect("output $") - out_usd).abs() < 1e-12, "{p}");
    assert!(
        (p["total_usd_max"].as_f64().expect("total $") - (in_usd + out_usd)).abs() < 1e-12,
        "{p}"
    );
    assert_eq!(p["hosted"], true);
    let text = p["text"].as_str().expect("text");
    let expected = format!(
        "at most {} (input ~{} + output up to {})",
        app::domain::spend::money(in_usd + out_usd),
        app::domain::spend::money(in_usd),
        app::domain::spend::money(out_usd)
    );
    assert!(text.contains(&expected) && text.contains("estimated"), "{text}");
    assert!(p["refusal"].is_null());

    // A sweep sends the requests once per level, and the warm-up once (in its first level): 3 x 8 + 4.
    let sweep = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=8&warmup=4&max_tokens=50&sweep=1,2,4"
        ))
        .await;
    assert_eq!(sweep["requests"], 28, "{sweep}");
    assert_eq!(sweep["output_tokens_max"], 28 * 50, "{sweep}");
    // 12 requests at the first level and 8 at each other: the 4 items 7 times over.
    assert_eq!(sweep["input_tokens"], 7 * per_item.iter().sum::<u64>(), "{sweep}");
    // An automatic sweep at its worst: every search step (concurrency 1 to 1024: 11) and the
    // 3 rates after it, 8 requests each, warm-up once; said to be an upper bound.
    let auto = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=8&warmup=4&max_tokens=50&sweep=auto:3"
        ))
        .await;
    assert_eq!(auto["requests"], 14 * 8 + 4, "{auto}");
    let text = auto["text"].as_str().expect("text");
    assert!(
        text.contains("An upper bound") && text.contains("14 steps of 8 requests: 11 to find saturation, 3 request rates"),
        "{text}"
    );
    // No max tokens anywhere: the output, and so the total, has no bound.
    let open = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=8"
        ))
        .await;
    assert!(open["total_usd_max"].is_null() && open["output_tokens_max"].is_null(), "{open}");
    assert!(open["text"].as_str().is_some_and(|t| t.contains("output unbounded")), "{open}");
    // No sheet linked: said so.
    let none = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={bare}&dataset_id={data}&model={MODEL}&requests=8&max_tokens=5"
        ))
        .await;
    assert!(none["text"].as_str().is_some_and(|t| t.contains("no price sheet linked")), "{none}");
    // Bad input is named at its field.
    let r = app
        .http
        .get(app.url(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=zero"
        )))
        .send()
        .await
        .expect("preview");
    assert_eq!(r.status().as_u16(), 422);

    // The estimate is the simulator's own count: a run of the same 8 requests reports it exactly.
    let run = app
        .launch(MODEL, json!({"dataset_id": data, "requests": 8, "concurrency": 2, "max_tokens": 5}))
        .await;
    app.wait_finished(run, Duration::from_secs(60)).await;
    let sent: u64 = app
        .records(run)
        .await
        .iter()
        .map(|r| r["prompt_tokens"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(sent, input);
}

/// `bakeoff run --internal-only` marks the file's dataset; a hosted endpoint is then refused, by
/// that run and by a later one with the same file (a dataset from the database), while a
/// self-hosted one takes it.
#[test]
fn the_cli_refuses_an_internal_only_dataset_on_a_hosted_endpoint() {
    const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _sim = Killed(
        std::process::Command::new(BIN)
            .args(["sim", "--addr", &format!("127.0.0.1:{port}"), "--ttft-ms", "2", "--tpot-ms", "0.2"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sim"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "sim did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("cli.db");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let run = |url: &str, extra: &[&str]| {
        std::process::Command::new(BIN)
            .args([
                "run",
                "--endpoint",
                url,
                "--model",
                MODEL,
                "--dataset",
                dataset,
                "--requests",
                "3",
                "--db",
            ])
            .arg(&db)
            .args(extra)
            .output()
            .expect("run")
    };
    let hosted = format!("http://127.0.0.1:{port}");
    let out = run(&hosted, &["--hosted", "--internal-only"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--dataset: dataset 'synthetic_100 [") && err.contains("is marked internal only"),
        "{err}"
    );
    let out = run(&hosted, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("is marked internal only"),
        "the mark stays: {err}"
    );
    let out = run(&format!("http://localhost:{port}"), &[]);
    assert!(out.status.success(), "self-hosted: {}", String::from_utf8_lossy(&out.stderr));
}

/// A provider batch is submitted whole and cannot be stopped part-way at the cap, as a server run
/// is: its worst case (estimated input + max tokens of output) must fit in what the cap leaves,
/// and a batch with no max tokens is refused on a capped endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_batch_whose_worst_case_passes_the_cap_is_refused_before_it_is_submitted() {
    const CAP: f64 = 0.25;
    const IN: f64 = 100.0;
    const OUT: f64 = 1000.0;
    const PROMPT: &str = "What is the capital of France? Answer in one word.";
    let app = spawn(fast_sim()).await;
    sheet(&app, "dear", IN, OUT).await;
    let ep = add_endpoint(
        &app,
        json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true, "price_sheet": "dear", "spend_cap_usd": CAP}),
    )
    .await;
    let data = upload(&app, "public", &[PROMPT], "").await;
    // Worst case of one request: its estimated prompt (text + newline, 4 bytes a token, + 4)
    // and 24 output tokens.
    let per_request = (((PROMPT.len() as u64 + 1).div_ceil(4) + 4) as f64 * IN + 24.0 * OUT) / 1e6;
    let fits = (CAP / per_request).floor() as u32;
    assert!(fits >= 2, "the test needs room for a small batch: {fits}");
    let batch = |requests: u32, max_tokens: Option<u32>| {
        let mut body = json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": requests, "kind": "provider-batch"});
        if let Some(m) = max_tokens {
            body["max_tokens"] = json!(m);
        }
        body
    };

    // No max tokens: the cost has no bound.
    let (status, v) = launch(&app, batch(2, None)).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        message(&v).contains("cannot be stopped part-way") && message(&v).contains("set max tokens"),
        "{v}"
    );
    // One request more than fits: refused, with the worst case and what to change.
    let (status, v) = launch(&app, batch(fits + 1, Some(24))).await;
    assert_eq!(status, 422, "{v}");
    let m = message(&v);
    assert!(
        m.contains(&format!(
            "may cost up to {}",
            app::domain::spend::money(per_request * f64::from(fits + 1))
        )) && m.contains("send fewer requests"),
        "{m}"
    );
    // The preview says the same before anyone presses Launch.
    let p = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests={}&max_tokens=24&kind=provider-batch",
            fits + 1
        ))
        .await;
    assert!(p["refusal"].as_str().is_some_and(|r| r.contains("may cost up to")), "{p}");
    // A batch that fits runs, and what it spent is counted against the cap.
    let (status, v) = launch(&app, batch(fits, Some(24))).await;
    assert_eq!(status, 201, "{v}");
    let id = v["run_ids"][0].as_i64().expect("run");
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let eps = app.get_json("/api/endpoints").await;
    let listed = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == ep)).expect("listed");
    let spent = listed["spent_this_month_usd"].as_f64().expect("spent");
    assert!(spent > 0.0 && spent <= per_request * f64::from(fits) + 1e-12, "{spent}");
}

/// A price sheet whose only row for the simulated model is a batch row.
async fn batch_only_sheet(app: &TestApp, name: &str, per_m: f64) {
    let sheet = PriceSheet {
        id: 0,
        name: name.into(),
        provider: "test".into(),
        source: "the data rules test".into(),
        dated: "2026-01-01".into(),
        default_model_key: None,
        rows: vec![PriceRow {
            id: 0,
            model_key: MODEL.into(),
            kind: PriceKind::Batch,
            input_per_m: Some(per_m),
            output_per_m: Some(per_m),
            usd_per_hour: None,
            self_hosted: None,
            note: String::new(),
        }],
    };
    app::db::prices::insert(&app.running.state.db, &sheet, false).await.expect("sheet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_only_refusal_tells_a_runner_to_ask_an_admin_and_an_admin_to_clear_it() {
    let app = spawn(fast_sim()).await;
    let hosted = add_endpoint(&app, json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true})).await;
    let rita = app.client_for("rita").await;
    let one = json!({"endpoint_id": hosted, "dataset_id": 1, "model": MODEL, "requests": 1, "concurrency": 1});
    let preview = format!("/api/launch/preview?endpoint_id={hosted}&dataset_id=1&model={MODEL}&requests=1");
    // The runner may not clear the flag: told to ask an admin (launch, preview, the form's server function).
    let r = rita.post(app.url("/api/runs")).json(&one).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 422);
    let m = message(&r.json().await.expect("json"));
    assert!(
        m.contains("ask an admin to clear the flag") && !m.contains("on the Datasets page"),
        "{m}"
    );
    let p: Value = rita
        .get(app.url(&preview))
        .send()
        .await
        .expect("preview")
        .json()
        .await
        .expect("json");
    let refusal = p["refusal"].as_str().unwrap_or_default();
    assert!(refusal.contains("ask an admin to clear the flag"), "{p}");
    let (status, body) = common::post_form(
        &rita,
        &app,
        &server_fn("launch_run"),
        &[
            ("form[endpoint_id]", hosted.to_string()),
            ("form[dataset_id]", "1".into()),
            ("form[model]", MODEL.into()),
            ("form[requests]", "1".into()),
            ("form[concurrency]", "1".into()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("ask an admin to clear the flag"), "{body}");
    // An admin may: told where.
    let (status, v) = launch(&app, one).await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains("clear the flag on the Datasets page if it may leave"), "{v}");
    let p = app.get_json(&preview).await;
    assert!(
        p["refusal"]
            .as_str()
            .is_some_and(|r| r.contains("clear the flag on the Datasets page")),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_run_priced_at_a_batch_row_is_said_so_in_the_preview_and_its_cap_note() {
    let app = spawn(fast_sim()).await;
    batch_only_sheet(&app, "batch only", 0.033).await;
    let ep = add_endpoint(
        &app,
        json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true, "price_sheet": "batch only", "spend_cap_usd": 5.0}),
    )
    .await;
    let data = upload(&app, "public", &["hello there"], "").await;
    let p = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=4&max_tokens=8"
        ))
        .await;
    let text = p["text"].as_str().expect("text");
    assert!(
        text.contains("priced at the sheet's batch row: the provider may charge server requests more; add a serverless row"),
        "{text}"
    );
    assert!(text.contains("The cap counts this run at the sheet's batch row too"), "{text}");
    assert_eq!(p["batch_row_for_server"], true, "{p}");
    // A provider batch is meant to be priced at the batch row: nothing to say.
    let batch = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=4&max_tokens=8&kind=provider-batch"
        ))
        .await;
    assert!(!batch["text"].as_str().unwrap_or_default().contains("batch row"), "{batch}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_is_refused_when_not_even_one_request_fits_under_what_the_cap_leaves() {
    let app = spawn(fast_sim()).await;
    // $1,000 per 1M tokens either way: a request of 50 max tokens costs about $0.06 at worst,
    // one of 1 max token under $0.01.
    sheet(&app, "dear", 1000.0, 1000.0).await;
    let ep = add_endpoint(
        &app,
        json!({"name": HOSTED, "base_url": other_url(&app), "hosted": true, "price_sheet": "dear", "spend_cap_usd": 0.02}),
    )
    .await;
    let data = upload(&app, "public", &["hello there"], "").await;
    let query = |max: u32| format!("/api/launch/preview?endpoint_id={ep}&dataset_id={data}&model={MODEL}&requests=10&max_tokens={max}");
    let body =
        |max: u32| json!({"endpoint_id": ep, "dataset_id": data, "model": MODEL, "requests": 10, "concurrency": 1, "max_tokens": max});

    let p = app.get_json(&query(50)).await;
    let refusal = p["refusal"].as_str().unwrap_or_default().to_string();
    assert!(
        refusal.contains("not even one request fits under endpoint") && refusal.contains("$0.0200"),
        "{p}"
    );
    let (status, v) = launch(&app, body(50)).await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains(&refusal), "the launch says what the preview said: {v}");
    assert!(
        app.get_json("/api/runs").await.as_array().is_some_and(|r| r.is_empty()),
        "nothing queued"
    );

    // One request fits: previewed without a refusal, and launched.
    let p = app.get_json(&query(1)).await;
    assert!(p["refusal"].is_null(), "{p}");
    let (status, v) = launch(&app, body(1)).await;
    assert_eq!(status, 201, "{v}");
    let run = v["run_ids"][0].as_i64().expect("run");
    let done = app.wait_finished(run, Duration::from_secs(60)).await;
    assert!(done.done_requests > 0, "it sent what fitted: {done:?}");
}

/// Endpoints that share a GPU (issue 16): `localhost` and `127.0.0.1` are one host, and an
/// endpoint may name another it shares a GPU with (`PUT /api/endpoints/{id}/shares_gpu_with`),
/// checked and audited; hosted endpoints take no lock and cannot be linked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_names_the_one_it_shares_a_gpu_with() {
    let app = spawn(fast_sim()).await;
    let builtin = app.get_json("/api/endpoints").await[0].clone();
    assert_eq!(builtin["gpu"], "127.0.0.1", "{builtin}");
    let by_name = add_endpoint(&app, json!({"name": "by name", "base_url": other_url(&app)})).await;
    // A hosted provider (stored as is: its URL need not answer here).
    let db = &app.running.state.db;
    let hosted = app::db::endpoints::insert(db, HOSTED, "https://api.example.com/v1", false, &[])
        .await
        .expect("endpoint");
    sqlx::query("UPDATE endpoints SET hosted = TRUE WHERE id = $1")
        .bind(hosted)
        .execute(db)
        .await
        .expect("hosted");
    let path = format!("/api/endpoints/{by_name}/shares_gpu_with");
    let (status, v) = put(&app, &app.http, &path, json!({"endpoint": builtin["name"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["gpu"].as_str(), v["shares_gpu_with"].as_str()),
        (Some("127.0.0.1"), builtin["name"].as_str())
    );
    for (body, says) in [
        (json!({"endpoint": "by name"}), "with itself"),
        (json!({"endpoint": HOSTED}), "hosted endpoints take no GPU lock"),
        (json!({"endpoint": "no such box"}), "no endpoint is named 'no such box'"),
        (json!({"endpoint": ["x"]}), "give the name of the endpoint"),
    ] {
        let (status, v) = put(&app, &app.http, &path, body).await;
        assert_eq!(status, 422, "{v}");
        assert!(v.to_string().contains(says), "{says}: {v}");
    }
    let (status, v) = put(
        &app,
        &app.http,
        &format!("/api/endpoints/{hosted}/shares_gpu_with"),
        json!({"endpoint": "by name"}),
    )
    .await;
    assert_eq!(status, 422, "a hosted endpoint takes no lock: {v}");
    let (status, v) = put(&app, &app.http, &path, json!({"endpoint": null})).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["shares_gpu_with"].is_null(), "{v}");
    let entries = audit(&app, "endpoint.shares_gpu").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries[0].contains("shares a GPU with") && entries[1].contains("only with endpoints on its host"),
        "{entries:?}"
    );
}
