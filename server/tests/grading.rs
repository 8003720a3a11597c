//! Grading over real HTTP: roles, blindness (no response a reviewer can get pairs an answer's
//! text with its model, run, endpoint or custom_id), final grades, closing and the reveal, and
//! agreement statistics from two reviewers.

mod common;

use common::post_form;

use app::api::grading::{CloseQueue, CreateQueue, GradingItem, QueueReveal, SaveGrade, SaveVote};
use common::{fast_sim, spawn, TestApp};
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

async fn two_runs(app: &TestApp) -> (i64, i64) {
    let a = app.launch("sim-gemma-3-4b", json!({"requests": 40, "concurrency": 16})).await;
    let b = app.launch("sim-llama-3.2-1b", json!({"requests": 40, "concurrency": 16})).await;
    app.wait_finished(a, Duration::from_secs(60)).await;
    app.wait_finished(b, Duration::from_secs(60)).await;
    (a, b)
}

/// Close a queue as its maker (the admin who made it), which reveals it and lets its
/// judgements count.
async fn close_queue(app: &TestApp, queue: i64) {
    let r = app
        .http
        .post(app.url(CloseQueue::PATH))
        .form(&[("queue_id", queue.to_string())])
        .send()
        .await
        .expect("POST");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
}

async fn make_queue(app: &TestApp, kind: &str, runs: (i64, i64), size: usize) -> i64 {
    let r = app
        .http
        .post(app.url(CreateQueue::PATH))
        .form(&[
            ("form[name]", format!("{kind} queue")),
            ("form[kind]", kind.to_string()),
            ("form[runs][0]", runs.0.to_string()),
            ("form[runs][1]", runs.1.to_string()),
            ("form[sample_size]", size.to_string()),
            ("form[seed]", String::new()),
        ])
        .send()
        .await
        .expect("POST");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    r.json::<i64>().await.expect("queue id")
}

async fn item(c: &reqwest::Client, app: &TestApp, queue: i64) -> (u16, String) {
    post_form(c, app, GradingItem::PATH, &[("queue_id", queue.to_string())]).await
}

async fn item_at(c: &reqwest::Client, app: &TestApp, queue: i64, position: i64) -> Value {
    let (status, body) = post_form(
        c,
        app,
        GradingItem::PATH,
        &[("queue_id", queue.to_string()), ("position", position.to_string())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("item json")
}

async fn grade(c: &reqwest::Client, app: &TestApp, item_id: &str, overall: u8) -> (u16, String) {
    let g =
        json!({"grade": {"item_id": item_id, "overall": overall, "fields": {"recommendation": "correct"}, "comment": "", "gold": false}});
    let r = c.post(app.url(SaveGrade::PATH)).json(&g).send().await.expect("POST");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_grade_blind_and_only_reviewers_grade() {
    let app = spawn(fast_sim()).await;
    let runs = two_runs(&app).await;
    let q = make_queue(&app, "grade", runs, 5).await;
    let rev = app.client_for("rev").await;

    // Blind: neither the page nor the item's JSON names the model or the run.
    let html = rev
        .get(app.url(&format!("/grade/{q}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    let (status, body) = item(&rev, &app, q).await;
    assert_eq!(status, 200, "{body}");
    for text in [&html, &body] {
        assert!(
            !text.contains("sim-gemma") && !text.contains("sim-llama") && !text.contains("\"run_id\""),
            "model leaked: {text}"
        );
    }
    let it: Value = serde_json::from_str(&body).expect("item json");
    let item_id = it["item_id"].as_str().expect("id").to_string();
    assert_eq!(item_id.len(), 24, "an opaque token");
    assert_eq!(it["total"], 10, "5 items x 2 runs");
    assert!(it["rubric"].as_array().is_some_and(|r| r.len() == 5));

    // A viewer and a runner cannot grade.
    for who in ["vic", "rita"] {
        let c = app.client_for(who).await;
        let (status, body) = item(&c, &app, q).await;
        assert!(body.contains("may not grade"), "{who}: {body}");
        assert_eq!(status, 403, "{who}: a server function's refusal carries its real status");
    }

    // Saving reveals nothing in a blind queue.
    let (status, body) = grade(&rev, &app, &item_id, 4).await;
    assert_eq!(status, 200, "{body}");
    let saved: Value = serde_json::from_str(&body).expect("json");
    assert!(
        saved["reveal"].is_null() && !body.contains("sim-") && !body.contains("run #"),
        "{body}"
    );
    assert_eq!(saved["next_position"].as_i64().map(|p| p >= 0), Some(true));

    // An out-of-range grade says what to do.
    let bad = json!({"grade": {"item_id": it["item_id"], "overall": 9, "fields": {}, "comment": "", "gold": false}});
    let body = rev
        .post(app.url(SaveGrade::PATH))
        .json(&bad)
        .send()
        .await
        .expect("POST")
        .text()
        .await
        .expect("body");
    assert!(body.contains("from 1 (bad) to 5"), "{body}");

    // Rubric values must be the rubric's fields, judged on their scale, and a comment is bounded:
    // nothing else is stored (it was, as sent: 100 KB of a made-up field).
    for (fields, comment, says) in [
        (
            json!({"zzz_not_a_field": "a".repeat(100_000)}),
            String::new(),
            "is not a field of this dataset's rubric",
        ),
        (
            json!({"recommendation": "<img src=x onerror=alert(1)>"}),
            String::new(),
            "is not a judgement of it",
        ),
        (json!({}), "x".repeat(5_000), "at most 4000 characters"),
    ] {
        let g = json!({"grade": {"item_id": it["item_id"], "overall": 3, "fields": fields, "comment": comment, "gold": false}});
        let resp = rev.post(app.url(SaveGrade::PATH)).json(&g).send().await.expect("POST");
        let status = resp.status().as_u16();
        let body = resp.text().await.expect("body");
        assert_eq!(status, 422, "{body}");
        assert!(body.contains(says), "{says}: {body}");
    }
}

/// QA unblinded answers two ways: a reviewer graded in a queue that shows the model (hidden from
/// them, but their grade counted in the per-run figures at once, naming the model), and a
/// runner made a reviewer closed their own queue and read its reveal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_grades_blind_queues_only_and_a_maker_made_reviewer_cannot_reveal() {
    let app = spawn(fast_sim()).await;
    let runs = two_runs(&app).await;
    let r = app
        .http
        .post(app.url(CreateQueue::PATH))
        .form(&[
            ("form[name]", "with models".to_string()),
            ("form[kind]", "grade".to_string()),
            ("form[runs][0]", runs.0.to_string()),
            ("form[runs][1]", runs.1.to_string()),
            ("form[sample_size]", "3".to_string()),
            ("form[unblind]", "1".to_string()),
        ])
        .send()
        .await
        .expect("POST");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let shown: i64 = r.json().await.expect("queue id");
    let rev = app.client_for("rev").await;
    let (status, body) = item(&rev, &app, shown).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("reviewers grade blind queues only"), "{body}");
    // The admin, who may read answers with their models, grades it (and is told the model).
    let (status, body) = item(&app.http, &app, shown).await;
    assert_eq!(status, 200, "{body}");
    let it: Value = serde_json::from_str(&body).expect("item");
    let item_id = it["item_id"].as_str().expect("id").to_string();
    let (status, body) = grade(&rev, &app, &item_id, 1).await;
    assert_eq!(status, 403, "nor saved by id: {body}");
    let (status, body) = grade(&app.http, &app, &item_id, 4).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("That answer was from sim-"), "{body}");

    // Rita (runner) makes a blind queue, then is made a reviewer: she can no longer close it.
    let rita = app.client_for("rita").await;
    let (status, body) = common::call_fn(
        &app,
        &rita,
        "create_queue",
        &format!(
            "form[name]=ritas&form[kind]=grade&form[runs][0]={}&form[runs][1]={}&form[sample_size]=2",
            runs.0, runs.1
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ritas: i64 = body.trim().parse().expect("queue id");
    let rita_id = app::db::users::credentials(&app.running.state.db, "rita")
        .await
        .expect("query")
        .expect("user")
        .0
        .id;
    let (status, body) = common::call_fn(&app, &app.http, "set_user_role", &format!("id={rita_id}&role=reviewer")).await;
    assert_eq!(status, 200, "{body}");
    let rita = app.client_for("rita").await;
    let (status, body) = post_form(&rita, &app, CloseQueue::PATH, &[("queue_id", ritas.to_string())]).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_form(&rita, &app, QueueReveal::PATH, &[("queue_id", ritas.to_string())]).await;
    assert_eq!(status, 409, "still open, nothing revealed: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reviewers_give_agreement_and_votes_give_a_ranking() {
    let app = spawn(fast_sim()).await;
    let runs = two_runs(&app).await;
    let q = make_queue(&app, "grade", runs, 6).await;
    for who in ["rev", "rev2"] {
        let c = app.client_for(who).await;
        for k in 0..12 {
            let (_, body) = item(&c, &app, q).await;
            let it: Value = serde_json::from_str(&body).expect("item");
            if it.is_null() {
                break;
            }
            let overall = if who == "rev" { 1 + k % 5 } else { 1 + (k + 1) % 5 };
            let g = json!({"grade": {"item_id": it["item_id"], "overall": overall, "fields": {"recommendation": "correct"}, "comment": "", "gold": false}});
            assert!(c
                .post(app.url(SaveGrade::PATH))
                .json(&g)
                .send()
                .await
                .expect("POST")
                .status()
                .is_success());
        }
    }
    let p = make_queue(&app, "pairwise", runs, 8).await;
    let c = app.client_for("rev").await;
    let mut voted = 0;
    loop {
        let (_, body) = item(&c, &app, p).await;
        let it: Value = serde_json::from_str(&body).expect("item");
        if it.is_null() {
            break;
        }
        assert!(!body.contains("sim-"), "pairwise items are blind too");
        let r = c
            .post(app.url(SaveVote::PATH))
            .form(&[("item_id", it["item_id"].as_str().expect("id")), ("choice", "a")])
            .send()
            .await
            .expect("POST");
        assert!(r.status().is_success());
        voted += 1;
    }
    assert_eq!(voted, 8);
    // While the queues are open (and blind), their judgements count nowhere: a figure that moved
    // as a reviewer graded would tell them which model wrote the answer.
    let open = app::api::quality::overview(&app.running.state.db).await.expect("overview");
    assert!(open.bradley_terry.is_empty() && open.runs.iter().all(|r| r.quality.grades == 0));
    close_queue(&app, q).await;
    close_queue(&app, p).await;
    let overview = app::api::quality::overview(&app.running.state.db).await.expect("overview");
    assert_eq!(overview.bradley_terry.len(), 2);
    assert!(
        overview
            .reviewers
            .iter()
            .any(|k| k.between == "rev and rev2" && k.n == 12 && k.kappa.is_some()),
        "{:?}",
        overview.reviewers
    );
    assert!(!overview.model_vs_human.is_empty());
    let graded = overview.runs.iter().filter(|r| r.quality.grades > 0).count();
    assert_eq!(graded, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_item_reads_side_by_side_across_runs() {
    use app::api::quality::SideBySide;
    let app = spawn(fast_sim()).await;
    let (a, b) = two_runs(&app).await;
    let r = app
        .http
        .post(app.url(SideBySide::PATH))
        .form(&[
            ("run_ids[0]", a.to_string()),
            ("run_ids[1]", b.to_string()),
            ("custom_id", "candidate-0003".to_string()),
        ])
        .send()
        .await
        .expect("POST");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(40));
    let answers = v["answers"].as_array().expect("answers");
    assert_eq!(answers.len(), 2);
    assert!(answers[0][0].as_str().is_some_and(|l| l.contains("sim-gemma-3-4b")));
    assert_eq!(answers[0][2]["custom_id"], "candidate-0003");
    assert!(v["prompt"].as_str().is_some_and(|p| p.contains("**Name:**")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_labels_override_the_judge_in_the_hybrid_recall() {
    let app = spawn(fast_sim()).await;
    let (judge, screen) = two_runs(&app).await;
    let q = make_queue(&app, "grade", (judge, screen), 3).await;
    let rev = app.client_for("rev").await;
    let mut graded_as_top = Vec::new();
    loop {
        let (_, body) = item(&rev, &app, q).await;
        let it: Value = serde_json::from_str(&body).expect("item");
        if it.is_null() {
            break;
        }
        let item_id = it["item_id"].as_str().expect("id").to_string();
        let g =
            json!({"grade": {"item_id": item_id, "overall": 5, "fields": {"recommendation": "Strong Yes"}, "comment": "", "gold": false}});
        let r = rev.post(app.url(SaveGrade::PATH)).json(&g).send().await.expect("POST");
        assert!(r.status().is_success());
        // The reviewer is not told who wrote it; the server knows.
        let row = app::db::queues::item(&app.running.state.db, &item_id).await.expect("item");
        if row.run_id == judge {
            graded_as_top.push(row.custom_id);
        }
    }
    assert_eq!(graded_as_top.len(), 3);
    close_queue(&app, q).await;
    let h = app::api::cost::load_hybrid_data(&app.running.state.db, screen, judge)
        .await
        .expect("hybrid");
    assert!(
        h.positives_are.contains("by a reviewer for 3 graded item(s)"),
        "{}",
        h.positives_are
    );
    // Item by item (with the positives' ids), the same counts as the pages' counts made in SQL.
    let each = app::api::cost::load_hybrid_items(&app.running.state.db, screen, judge)
        .await
        .expect("hybrid, item by item");
    assert!(
        graded_as_top.iter().all(|c| each.positive_ids.contains(c)),
        "the reviewer's Strong Yes count as positives"
    );
    assert_eq!(each.groups, h.groups, "counted in SQL = counted item by item");
    assert_eq!((each.common_items, &each.positives_are), (h.common_items, &h.positives_are));
    let positives: usize = h.groups.iter().map(|g| g.positives).sum();
    assert_eq!(positives, each.positive_ids.len());
}

/// Pieces of answer text that survive any encoding a response may use (JSON, HTML, the pages'
/// hydration data): the runs of at least 25 characters between quotes, braces, escapes and
/// line breaks. They occur in answers only, so a response that contains one shows answer text.
fn answer_pieces(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|r| r["response"].as_str())
        .flat_map(|t| {
            t.split(|c: char| "\"\\\n\r\t<>&'{}[]:,`*".contains(c))
                .map(str::trim)
                .filter(|p| p.len() >= 25)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The first (answer piece, label) pair a body holds, if it holds both.
fn pairing<'a>(body: &str, pieces: &'a BTreeSet<String>, labels: &'a [String]) -> Option<(&'a str, &'a str)> {
    let piece = pieces.iter().find(|p| body.contains(p.as_str()))?;
    let label = labels.iter().find(|l| body.contains(l.as_str()))?;
    Some((piece, label))
}

/// Realistic arguments for each server function a reviewer might call, by name. `None`: not
/// called here (logging out ends the session this test uses; logging in opens another).
fn server_fn_args(name: &str, a: i64, b: i64, queue: i64, item_id: &str) -> Option<Result<String, Value>> {
    let form = |s: String| Some(Ok(s));
    match name {
        "login" | "logout" => None,
        "save_grade" => Some(Err(
            json!({"grade": {"item_id": item_id, "overall": 3, "fields": {}, "comment": "", "gold": false}}),
        )),
        "whoami" | "list_users" | "cost_data" | "list_datasets" | "list_endpoints" | "list_queues" | "list_models" | "list_tests"
        | "quality_overview" | "list_runs" => form(String::new()),
        "change_password" => form("current=wrong+password&new_password=x&repeat=y".into()),
        "add_user" => form("name=x&role=admin&password=short".into()),
        "set_user_role" => form("id=1&role=viewer".into()),
        "delete_user" => form("id=999999".into()),
        "hybrid_data" => form(format!("screen_id={b}&judge_id={a}")),
        "save_price" => form("form[sheet_id]=1&form[model_key]=x&form[kind]=serverless".into()),
        "delete_price" => form("id=999999".into()),
        "add_sheet" => form("name=&provider=&source=&dated=".into()),
        "add_endpoint" => form("name=x&base_url=http%3A%2F%2F127.0.0.1%3A9".into()),
        "recheck_endpoint" => form("id=1".into()),
        "set_endpoint_access" => form("id=999999".into()),
        "create_queue" => form(format!(
            "form[name]=mine&form[kind]=grade&form[runs][0]={a}&form[runs][1]={b}&form[sample_size]=1"
        )),
        "grading_item" => form(format!("queue_id={queue}&position=1")),
        "save_vote" => form(format!("item_id={item_id}&choice=a")),
        "close_queue" | "queue_reveal" | "queue_progress" => form(format!("queue_id={queue}")),
        "reviewer_choices" => form(String::new()),
        "change_reviewers" => form(format!("queue_id={queue}&add=rev")),
        "add_model" => form("name=&config=&quant=bf16&weights_gb=".into()),
        "add_test" => form("form[title]=".into()),
        "move_test" | "delete_test" | "launch_tests" => form("id=999999&delta=1".into()),
        "set_launch_template" => form("endpoint_id=1&template=".into()),
        "run_launches" | "run_plan" | "run_quality_summary" => form(format!("run_id={a}")),
        "run_answers" => form(format!("run_id={a}&recommendation=&problem=&page=0")),
        "side_by_side" => form(format!("run_ids[0]={a}&run_ids[1]={b}")),
        "report_text" => form("options[volume]=1000&format=md".into()),
        "get_run" | "cancel_run" | "run_series" => form(format!("id={a}")),
        "launch_run" => form("form[model]=sim-gemma-3-4b&form[endpoint_id]=1&form[dataset_id]=1".into()),
        "compare_runs" => form(format!("ids[0]={a}&ids[1]={b}")),
        "compare_modes" => form(format!("ids[0]={a}&ids[1]={b}")),
        "compare_missing" => form(format!("ids[0]={a}&ids[1]={b}")),
        "sweep_runs" => form(format!("sweep_id={a}")),
        "sweep_trashed" => form(format!("sweep_id={a}")),
        "list_runs_page" => form(String::new()),
        "delete_run" => form(format!("id={a}&dry_run=true")),
        "rename_run" => form(format!("id={a}&name=renamed")),
        "delete_dataset" | "delete_endpoint" => form("id=1&dry_run=true".into()),
        "rename_dataset" | "rename_endpoint" => form("id=1&name=renamed".into()),
        "delete_queue" => form(format!("queue_id={queue}&dry_run=true")),
        "rename_queue" => form(format!("queue_id={queue}&name=renamed")),
        "list_trash" => form(String::new()),
        "restore_trashed" | "purge_trashed" => form("kind=run&id=999999&dry_run=true".into()),
        "set_dataset_internal_only" => form("id=999999&internal_only=true".into()),
        "set_spend_cap" => form("id=999999&spend_cap=".into()),
        "set_shared_gpu" => form("id=999999&with=".into()),
        "launch_preview" => form("form[endpoint_id]=1&form[dataset_id]=1&form[model]=sim-gemma-3-4b&form[requests]=4".into()),
        "list_tokens" | "audit_entries" => form(String::new()),
        "create_token" => form("name=reviewer+script&role=reviewer&expires_days=1".into()),
        "revoke_token" => form("id=999999".into()),
        "list_workers" => form(String::new()),
        "run_waiting" => form(format!("run_id={a}")),
        "open_assignments" => form("user_id=1".into()),
        other => panic!("server function '{other}' is not in the blindness test: give it realistic arguments here"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_never_gets_an_answer_beside_its_model_run_endpoint_or_custom_id() {
    let app = spawn(fast_sim()).await;
    let (a, b) = two_runs(&app).await;
    let q = make_queue(&app, "grade", (a, b), 3).await;
    let (rev, vic) = (app.client_for("rev").await, app.client_for("vic").await);

    // What must never meet answer text: the models, the run labels, the endpoint, the items' ids.
    let mut records = app.records(a).await;
    records.extend(app.records(b).await);
    let pieces = answer_pieces(&records);
    assert!(pieces.len() > 10, "answers to look for: {pieces:?}");
    let mut labels: Vec<String> = vec![
        "sim-gemma-3-4b".into(),
        "sim-llama-3.2-1b".into(),
        format!("run #{a}"),
        format!("run #{b}"),
    ];
    labels.extend(
        app.get_json("/api/endpoints")
            .await
            .as_array()
            .expect("endpoints")
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_string)),
    );
    labels.extend(
        records
            .iter()
            .filter_map(|r| r["custom_id"].as_str().map(str::to_string))
            .collect::<BTreeSet<_>>(),
    );

    // The detector works: a viewer reads answers beside their models.
    let (status, body) = post_form(
        &vic,
        &app,
        app::api::quality::SideBySide::PATH,
        &[("run_ids[0]", a.to_string()), ("run_ids[1]", b.to_string())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        pairing(&body, &pieces, &labels).is_some(),
        "a viewer's side by side names the models"
    );
    let r = vic.get(app.url(&format!("/api/runs/{a}/records"))).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    // ... and a reviewer may not.
    let (status, _) = post_form(&rev, &app, app::api::quality::SideBySide::PATH, &[("run_ids[0]", a.to_string())]).await;
    assert_eq!(status, 403);
    let r = rev.get(app.url(&format!("/api/runs/{a}/records"))).send().await.expect("GET");
    assert_eq!(r.status(), 403);

    let first = item_at(&rev, &app, q, 0).await;
    let item_id = first["item_id"].as_str().expect("id").to_string();
    assert!(first.get("custom_id").is_none() && first["locked"] == false, "{first}");

    // A model server's log that holds answers (vLLM's output logging) next to run a's model.
    let logged = pieces.iter().next().expect("an answer").clone();
    app::db::planning::add_launch(
        &app.running.state.db,
        &app::domain::views::LaunchView {
            run_id: a,
            attempt: 1,
            command: "vllm serve sim-gemma-3-4b --enable-log-outputs".into(),
            settings: Default::default(),
            outcome: app::domain::views::LaunchOutcome::Ready,
            load_time_s: Some(1.0),
            log: format!("INFO Generated response for sim-gemma-3-4b: output: {logged:?}"),
            measured: None,
        },
    )
    .await
    .expect("launch row");
    let (status, body) = post_form(&vic, &app, app::api::planning::RunLaunches::PATH, &[("run_id", a.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(logged.as_str()), "a viewer reads the model server's log: {body}");
    let (status, body) = post_form(&rev, &app, app::api::planning::RunLaunches::PATH, &[("run_id", a.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains(logged.as_str()) && body.contains("hidden from reviewers"),
        "a reviewer does not: {body}"
    );

    // Every page, REST route and server function, as the reviewer, while the queue is open.
    let mut leaks = Vec::new();
    let mut with_answers = Vec::new();
    let fn_paths: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p.to_string()).collect();
    for (method, path) in server::serve::route_list() {
        let fn_args = if fn_paths.contains(&path) {
            let name = path.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit());
            match server_fn_args(name, a, b, q, &item_id) {
                Some(args) => Some(args),
                None => continue,
            }
        } else {
            None
        };
        let mut urls = Vec::new();
        if path.contains("{id}") {
            let ids: Vec<i64> = if path.starts_with("/grade/") { vec![q] } else { vec![a, b] };
            urls.extend(ids.iter().map(|id| path.replace("{id}", &id.to_string())));
        } else {
            urls.push(path.clone());
        }
        match path.as_str() {
            "/compare" => urls.push(format!("/compare?run={a}&run={b}")),
            "/grade/{id}" => urls.push(format!("/grade/{q}?at=1")),
            "/report" => urls.push(format!("/report?screen={b}&judge={a}")),
            "/api/report" => urls.push("/api/report?format=html".into()),
            _ => {}
        }
        for url in urls {
            let req = rev.request(method.clone(), app.url(&url)).header("accept", "application/json");
            let req = match &fn_args {
                Some(Ok(form)) => req.header("content-type", "application/x-www-form-urlencoded").body(form.clone()),
                Some(Err(json)) => req.json(json),
                None if method == reqwest::Method::POST => req.json(&json!({})),
                None => req,
            };
            let resp = tokio::time::timeout(Duration::from_secs(20), req.send())
                .await
                .unwrap_or_else(|_| panic!("{method} {url} did not answer"))
                .expect("request");
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if pieces.iter().any(|p| body.contains(p.as_str())) {
                with_answers.push(url.clone());
            }
            if let Some((piece, label)) = pairing(&body, &pieces, &labels) {
                leaks.push(format!("{method} {url} ({status}): answer text '{piece}' beside '{label}'"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "a reviewer got answers beside their origin:\n{}",
        leaks.join("\n")
    );
    // The sweep did reach answers (the grader page and the item), so it could have failed.
    assert!(with_answers.iter().any(|u| u.starts_with("/grade/")), "{with_answers:?}");
    assert!(with_answers.iter().any(|u| u.contains("grading_item")), "{with_answers:?}");

    // The sweep graded the first item (save_grade) and it is still the most recent: amendable.
    let (status, body) = grade(&rev, &app, &item_id, 5).await;
    assert_eq!(status, 200, "{body}");
    let second = item_at(&rev, &app, q, 1).await;
    let (status, body) = grade(&rev, &app, second["item_id"].as_str().expect("id"), 2).await;
    assert_eq!(status, 200, "{body}");
    // Moved on: the first grade is final.
    let (status, body) = grade(&rev, &app, &item_id, 1).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("final once you move on"), "{body}");
    assert_eq!(item_at(&rev, &app, q, 0).await["locked"], true);
    assert_eq!(item_at(&rev, &app, q, 1).await["locked"], false);

    // Only the maker (or an admin) closes; the reveal waits for it.
    let (status, _) = post_form(&rev, &app, QueueReveal::PATH, &[("queue_id", q.to_string())]).await;
    assert_eq!(status, 409, "no reveal while the queue is open");
    let (status, _) = post_form(&rev, &app, CloseQueue::PATH, &[("queue_id", q.to_string())]).await;
    assert_eq!(status, 403, "a reviewer may not close someone else's queue");
    let (status, body) = post_form(&app.http, &app, CloseQueue::PATH, &[("queue_id", q.to_string())]).await;
    assert_eq!(status, 200, "{body}");

    // Closed: no more grading, and the reviewer sees who wrote what they judged.
    let (status, body) = grade(&rev, &app, second["item_id"].as_str().expect("id"), 3).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("closed"), "{body}");
    let (status, body) = post_form(&rev, &app, QueueReveal::PATH, &[("queue_id", q.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<Value> = serde_json::from_str(&body).expect("rows");
    assert_eq!(
        rows.iter().map(|r| r["position"].as_i64()).collect::<Vec<_>>(),
        vec![Some(0), Some(1)]
    );
    assert!(
        rows.iter()
            .all(|r| r["left"].as_str().is_some_and(|l| l.contains("sim-") && l.contains("(run #"))),
        "{body}"
    );
    let page = rev
        .get(app.url(&format!("/grade/{q}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(page.contains("(run #"), "the grading page shows the reveal once closed");
    assert!(
        pairing(&page, &pieces, &labels).is_none(),
        "the reveal names models, not beside answers"
    );
    let (_, list) = post_form(&rev, &app, app::api::grading::ListQueues::PATH, &[]).await;
    let list: Value = serde_json::from_str(&list).expect("queues");
    let mine = list
        .as_array()
        .and_then(|qs| qs.iter().find(|x| x["id"] == q))
        .expect("the queue is listed");
    assert_eq!(mine["closed"], true);
    assert!(mine.get("seed").is_none(), "the seed stays on the server");
}
