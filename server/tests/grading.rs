//! Grading over real HTTP: roles, blindness (no model name reaches a reviewer before the grade is
//! saved), and agreement statistics from two reviewers.

mod common;

use app::api::grading::{CreateQueue, GradingItem, SaveGrade, SaveVote};
use common::{fast_sim, spawn, TestApp};
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::time::Duration;

async fn two_runs(app: &TestApp) -> (i64, i64) {
    let a = app.launch("sim-gemma-3-4b", json!({"requests": 40, "concurrency": 16})).await;
    let b = app.launch("sim-llama-3.2-1b", json!({"requests": 40, "concurrency": 16})).await;
    app.wait_finished(a, Duration::from_secs(60)).await;
    app.wait_finished(b, Duration::from_secs(60)).await;
    (a, b)
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
            ("form[seed]", "3".to_string()),
        ])
        .send()
        .await
        .expect("POST");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    r.json::<i64>().await.expect("queue id")
}

async fn item(c: &reqwest::Client, app: &TestApp, queue: i64) -> (u16, String) {
    let r = c
        .post(app.url(GradingItem::PATH))
        .form(&[("queue_id", queue.to_string())])
        .send()
        .await
        .expect("POST");
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

    // Saving reveals the model.
    let grade =
        json!({"grade": {"item_id": item_id, "overall": 4, "fields": {"recommendation": "correct"}, "comment": "fine", "gold": false}});
    let r = rev.post(app.url(SaveGrade::PATH)).json(&grade).send().await.expect("POST");
    let revealed: Value = r.json().await.expect("json");
    assert!(revealed["text"].as_str().is_some_and(|t| t.contains("sim-")), "{revealed}");
    assert_eq!(revealed["next_position"].as_i64().map(|p| p >= 0), Some(true));

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
        let g = json!({"grade": {"item_id": it["item_id"], "overall": 5, "fields": {"recommendation": "Strong Yes"}, "comment": "", "gold": false}});
        let revealed: Value = rev
            .post(app.url(SaveGrade::PATH))
            .json(&g)
            .send()
            .await
            .expect("POST")
            .json()
            .await
            .expect("json");
        if revealed["text"].as_str().is_some_and(|t| t.contains("sim-gemma")) {
            graded_as_top.push(it["custom_id"].as_str().expect("id").to_string());
        }
    }
    assert_eq!(graded_as_top.len(), 3);
    let h = app::api::cost::load_hybrid_data(&app.running.state.db, screen, judge)
        .await
        .expect("hybrid");
    assert!(
        h.positives_are.contains("by a reviewer for 3 graded item(s)"),
        "{}",
        h.positives_are
    );
    assert!(
        graded_as_top.iter().all(|c| h.positives.contains(c)),
        "the reviewer's Strong Yes count as positives"
    );
}
