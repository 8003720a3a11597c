//! Undoable deletes over real HTTP and a real SQLite file: a delete moves a run (dataset,
//! endpoint, queue) to the trash, out of every list, page, figure and launch; an admin restores
//! it with every record and grade, or deletes it for good (rows counted in the database); with
//! `--trash-days 0` a delete is final at once. Who made what is shown by name.

mod common;

use common::post_form as server_fn;

use app::api::grading::{CreateQueue, ListQueues, SaveGrade};
use common::{fast_sim, spawn, spawn_web, TestApp};
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::time::Duration;

/// POST JSON as `c`; (status, body).
async fn post(c: &reqwest::Client, app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = c.post(app.url(path)).json(&body).send().await.expect("POST");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A request as `c`; (status, body as text).
async fn call(c: &reqwest::Client, app: &TestApp, method: reqwest::Method, path: &str) -> (u16, String) {
    let r = c
        .request(method, app.url(path))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn json_of(c: &reqwest::Client, app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let (status, body) = call(c, app, method, path).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn count(app: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.running.state.db)
        .await
        .expect("count")
}

/// A finished run launched by `c` on the demo dataset and the built-in simulator.
async fn finished_run(app: &TestApp, c: &reqwest::Client, name: &str, requests: u32) -> i64 {
    let (status, v) = post(
        c,
        app,
        "/api/runs",
        json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": requests, "concurrency": 4, "name": name}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["run_ids"][0].as_i64().expect("run id");
    app.wait_finished(id, Duration::from_secs(60)).await;
    id
}

/// The queues as the admin sees them: (items, judgements) of `queue`.
async fn queue_counts(app: &TestApp, queue: i64) -> Option<(i64, i64)> {
    let (status, body) = server_fn(&app.http, app, ListQueues::PATH, &[]).await;
    assert_eq!(status, 200, "{body}");
    let queues: Vec<Value> = serde_json::from_str(&body).expect("queues");
    queues
        .iter()
        .find(|q| q["id"] == queue)
        .map(|q| (q["items"].as_i64().unwrap_or(-1), q["judgements"].as_i64().unwrap_or(-1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_run_leaves_every_page_then_comes_back_whole_or_goes_for_good() {
    let app = spawn(fast_sim()).await;
    let (rita, vic) = (app.client_for("rita").await, app.client_for("vic").await);
    let gone = finished_run(&app, &rita, "trash-me", 8).await;
    let kept = finished_run(&app, &rita, "keep-me", 8).await;
    let records = count(&app, "SELECT COUNT(*) FROM request_records WHERE run_id = $1", gone).await;
    assert!(records >= 8, "{records}");

    // Who launched it is shown by name, in the API and on the run page.
    let (_, run) = json_of(&app.http, &app, reqwest::Method::GET, &format!("/api/runs/{gone}")).await;
    assert_eq!(run["run"]["created_by"], "rita", "{run}");
    let (_, page) = call(&app.http, &app, reqwest::Method::GET, &format!("/runs/{gone}")).await;
    assert!(page.contains("by rita"), "the run page names who launched it");

    // A grading queue over it, with one grade: rita's (only the queue's maker or an admin may
    // delete a run whose answers are in a queue).
    let (status, body) = server_fn(
        &rita,
        &app,
        CreateQueue::PATH,
        &[
            ("form[name]", "trash queue".into()),
            ("form[kind]", "grade".into()),
            ("form[runs][0]", gone.to_string()),
            ("form[sample_size]", "3".into()),
            ("form[seed]", "5".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let queue: i64 = serde_json::from_str(&body).expect("queue id");
    let graded: String = sqlx::query_scalar("SELECT id FROM queue_items WHERE queue_id = $1 ORDER BY position LIMIT 1")
        .bind(queue)
        .fetch_one(&app.running.state.db)
        .await
        .expect("item");
    let g = json!({"grade": {"item_id": graded, "overall": 4, "fields": {}, "comment": "", "gold": false}});
    let r = app.http.post(app.url(SaveGrade::PATH)).json(&g).send().await.expect("grade");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    assert_eq!(queue_counts(&app, queue).await, Some((3, 1)));

    // The confirmation says what goes with it and that it goes to the trash; nothing moves yet.
    let (status, preview) = json_of(&rita, &app, reqwest::Method::DELETE, &format!("/api/runs/{gone}?dry_run=true")).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["done"], false);
    assert_eq!(preview["trash_days"], 30);
    let with = preview["with"].to_string();
    assert!(
        with.contains("request records") && with.contains("grading items in 'trash queue'") && with.contains("1 grade"),
        "{with}"
    );
    assert_eq!(
        json_of(&app.http, &app, reqwest::Method::GET, &format!("/api/runs/{gone}")).await.0,
        200
    );

    // A viewer may not delete; the runner who launched it may.
    assert_eq!(call(&vic, &app, reqwest::Method::DELETE, &format!("/api/runs/{gone}")).await.0, 403);
    let (status, done) = json_of(&rita, &app, reqwest::Method::DELETE, &format!("/api/runs/{gone}")).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((done["done"].clone(), done["trash_days"].clone()), (json!(true), json!(30)));

    // Gone from every list, page, download, comparison and figure; its queue items with it.
    for path in [
        format!("/api/runs/{gone}"),
        format!("/api/runs/{gone}/records"),
        format!("/api/runs/{gone}/metrics"),
    ] {
        assert_eq!(call(&app.http, &app, reqwest::Method::GET, &path).await.0, 404, "{path}");
    }
    let (_, list) = json_of(&app.http, &app, reqwest::Method::GET, "/api/runs").await;
    let ids: Vec<i64> = list.as_array().expect("runs").iter().filter_map(|r| r["id"].as_i64()).collect();
    assert!(!ids.contains(&gone) && ids.contains(&kept), "{ids:?}");
    for path in ["/", "/api/report", "/costs", "/quality", "/grade"] {
        let (status, body) = call(&app.http, &app, reqwest::Method::GET, path).await;
        assert!(status < 400, "{path}: {status}");
        assert!(!body.contains("trash-me"), "{path} still shows the deleted run");
        if path == "/" {
            assert!(body.contains("keep-me"), "the runs list shows the other run");
        }
    }
    // Compare leaves it out and names it (an old link over it still shows the other runs).
    let (status, body) = server_fn(&app.http, &app, app::api::runs::CompareRuns::PATH, &[("ids[0]", gone.to_string())]).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, body) = server_fn(
        &app.http,
        &app,
        app::api::runs::CompareMissing::PATH,
        &[("ids[0]", gone.to_string())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("run {gone} is in the trash (deleted by rita)")), "{body}");
    assert_eq!(queue_counts(&app, queue).await, Some((0, 0)), "its grading items left with it");
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor_name, target, detail FROM audit_log WHERE action = 'run.delete'")
            .fetch_all(&app.running.state.db)
            .await
            .expect("audit");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        (audit[0].0.as_str(), audit[0].1.clone()),
        ("rita", format!("run {gone} (trash-me)"))
    );
    assert!(
        audit[0].2.contains("request records") && audit[0].2.contains("trash for 30 days"),
        "{}",
        audit[0].2
    );

    // The trash: admins only.
    for c in [&rita, &vic] {
        assert_eq!(call(c, &app, reqwest::Method::GET, "/api/trash").await.0, 403);
        assert_eq!(
            call(c, &app, reqwest::Method::POST, &format!("/api/trash/run/{gone}/restore"))
                .await
                .0,
            403
        );
        assert_eq!(
            call(c, &app, reqwest::Method::DELETE, &format!("/api/trash/run/{gone}")).await.0,
            403
        );
    }
    let (status, trash) = json_of(&app.http, &app, reqwest::Method::GET, "/api/trash").await;
    assert_eq!(status, 200, "{trash}");
    assert_eq!(trash["days"], 30);
    let item = &trash["items"][0];
    assert_eq!((item["kind"].clone(), item["id"].clone()), (json!("run"), json!(gone)), "{trash}");
    assert_eq!(item["deleted_by"], "rita");
    assert!(item["with"].to_string().contains("request records"), "{item}");
    assert_eq!(
        item["purge_at_s"].as_i64().expect("purge at") - item["deleted_at_s"].as_i64().expect("deleted at"),
        30 * 86_400
    );
    let (_, page) = call(&app.http, &app, reqwest::Method::GET, "/trash").await;
    assert!(
        page.contains("trash-me") && page.contains("Delete forever") && page.contains("Restore"),
        "the Trash page lists it"
    );
    let (_, page) = call(&rita, &app, reqwest::Method::GET, "/trash").await;
    assert!(!page.contains("trash-me"), "a runner's Trash page lists nothing");

    // Restore: back with every record and grade.
    let (status, back) = json_of(&app.http, &app, reqwest::Method::POST, &format!("/api/trash/run/{gone}/restore")).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(app.records(gone).await.len() as i64, records);
    assert_eq!(queue_counts(&app, queue).await, Some((3, 1)), "its items and grade are back");
    let (_, page) = call(&app.http, &app, reqwest::Method::GET, "/").await;
    assert!(page.contains("trash-me"));
    let (_, trash) = json_of(&app.http, &app, reqwest::Method::GET, "/api/trash").await;
    assert_eq!(trash["items"], json!([]));

    // Delete again, then for good: every row stored for it goes, the other run keeps its own.
    assert_eq!(
        call(&rita, &app, reqwest::Method::DELETE, &format!("/api/runs/{gone}")).await.0,
        200
    );
    let (status, preview) = json_of(
        &app.http,
        &app,
        reqwest::Method::DELETE,
        &format!("/api/trash/run/{gone}?dry_run=true"),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["done"], false);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM request_records WHERE run_id = $1", gone).await,
        records
    );
    let (status, purged) = json_of(&app.http, &app, reqwest::Method::DELETE, &format!("/api/trash/run/{gone}")).await;
    assert_eq!(status, 200, "{purged}");
    for sql in [
        "SELECT COUNT(*) FROM runs WHERE id = $1",
        "SELECT COUNT(*) FROM request_records WHERE run_id = $1",
        "SELECT COUNT(*) FROM checks WHERE run_id = $1",
        "SELECT COUNT(*) FROM queue_items WHERE run_id = $1",
        "SELECT COUNT(*) FROM run_charts WHERE run_id = $1",
    ] {
        assert_eq!(count(&app, sql, gone).await, 0, "{sql}");
    }
    let grades: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grades WHERE item_id = $1")
        .bind(&graded)
        .fetch_one(&app.running.state.db)
        .await
        .expect("grades");
    assert_eq!(grades, 0, "its grade went with it");
    assert!(count(&app, "SELECT COUNT(*) FROM request_records WHERE run_id = $1", kept).await >= 8);
    assert_eq!(
        call(&app.http, &app, reqwest::Method::POST, &format!("/api/trash/run/{gone}/restore"))
            .await
            .0,
        404,
        "nothing left to restore"
    );
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE target = $1 ORDER BY id")
        .bind(format!("run {gone} (trash-me)"))
        .fetch_all(&app.running.state.db)
        .await
        .expect("audit");
    assert_eq!(actions, ["run.launch", "run.delete", "run.restore", "run.delete", "run.purge"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_or_endpoint_in_the_trash_cannot_be_launched_against_and_says_where_it_is() {
    let app = spawn(fast_sim()).await;
    let rita = app.client_for("rita").await;
    // A dataset and an endpoint of rita's, shown with her name.
    let r = rita
        .post(app.url("/api/datasets?name=rita-prompts"))
        .body("{\"custom_id\": \"a\", \"method\": \"POST\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"hi\", \"max_tokens\": 4}}\n")
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 201);
    let dataset = r.json::<Value>().await.expect("json")["id"].as_i64().expect("id");
    let url = app.sim_url().replace("127.0.0.1", "localhost");
    let (status, v) = post(&rita, &app, "/api/endpoints", json!({"name": "rita-box", "base_url": url})).await;
    assert_eq!(status, 201, "{v}");
    let endpoint = v["id"].as_i64().expect("id");
    let (_, datasets) = json_of(&app.http, &app, reqwest::Method::GET, "/api/datasets").await;
    let d = datasets
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["id"] == dataset)
        .cloned()
        .expect("listed");
    assert_eq!(d["created_by"], "rita");
    let (_, endpoints) = json_of(&app.http, &app, reqwest::Method::GET, "/api/endpoints").await;
    let e = endpoints
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["id"] == endpoint)
        .cloned()
        .expect("listed");
    assert_eq!(e["created_by"], "rita");
    let (_, page) = call(&app.http, &app, reqwest::Method::GET, "/datasets").await;
    assert!(page.contains("by rita"), "the datasets page names who uploaded");

    // The demo dataset is used by a run: refused, naming it. Rita's are used by none.
    finished_run(&app, &rita, "on rita's data", 1).await;
    let (status, body) = call(&rita, &app, reqwest::Method::DELETE, "/api/datasets/1?dry_run=true").await;
    assert_eq!(status, 409, "the demo dataset is used by a run: {body}");
    assert!(body.contains("on rita's data"), "{body}");
    for (kind, id) in [("datasets", dataset), ("endpoints", endpoint)] {
        let (status, body) = json_of(&rita, &app, reqwest::Method::DELETE, &format!("/api/{kind}/{id}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, datasets) = json_of(&app.http, &app, reqwest::Method::GET, "/api/datasets").await;
    assert!(
        !datasets.to_string().contains("rita-prompts"),
        "gone from the list (and the launch form)"
    );
    let (_, page) = call(&app.http, &app, reqwest::Method::GET, "/launch").await;
    assert!(
        !page.contains("rita-prompts") && !page.contains("rita-box"),
        "the launch form does not offer them"
    );

    // Launching against them says they are in the trash.
    let launch = |e: i64, d: i64| json!({"endpoint_id": e, "dataset_id": d, "model": "sim-llama-3.2-1b", "requests": 1, "concurrency": 1});
    // So does the launch form's preview (REST and the form's server function).
    let in_trash = |kind: &str, id: i64| format!("{kind} {id} is in the trash (deleted by rita): an admin can restore it");
    let (status, v) = post(&rita, &app, "/api/runs", launch(1, dataset)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains(&in_trash("dataset", dataset)), "{v}");
    let (status, v) = post(&rita, &app, "/api/runs", launch(endpoint, 1)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains(&in_trash("endpoint", endpoint)), "{v}");
    for (e, d, says) in [
        (1, dataset, in_trash("dataset", dataset)),
        (endpoint, 1, in_trash("endpoint", endpoint)),
    ] {
        let query = format!("endpoint_id={e}&dataset_id={d}&model=sim-llama-3.2-1b&requests=1");
        let (status, body) = call(&app.http, &app, reqwest::Method::GET, &format!("/api/launch/preview?{query}")).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains(&says), "the preview: {body}");
        let form = [
            ("form[endpoint_id]", e.to_string()),
            ("form[dataset_id]", d.to_string()),
            ("form[model]", "sim-llama-3.2-1b".to_string()),
            ("form[requests]", "1".to_string()),
        ];
        let (status, body) = server_fn(&rita, &app, app::api::data_rules::LaunchPreview::PATH, &form).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains(&says), "the form's preview: {body}");
    }
    // Its URL stays reserved while it is in the trash; its name does not.
    let (status, v) = post(&rita, &app, "/api/endpoints", json!({"name": "rita-box", "base_url": url})).await;
    assert_eq!(status, 409, "{v}");
    assert!(v.to_string().contains("in the trash"), "{v}");
    // Uploading a dataset under a name held in the trash says so.
    let r = rita
        .post(app.url("/api/datasets?name=rita-prompts"))
        .body("{\"custom_id\": \"a\", \"method\": \"POST\", \"url\": \"/v1/completions\", \"body\": {\"prompt\": \"hi\"}}\n")
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.expect("body").contains("in the trash"));

    // Restored, they launch again.
    for (kind, id) in [("dataset", dataset), ("endpoint", endpoint)] {
        let (status, body) = call(&app.http, &app, reqwest::Method::POST, &format!("/api/trash/{kind}/{id}/restore")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, v) = post(&rita, &app, "/api/runs", launch(endpoint, dataset)).await;
    assert_eq!(status, 201, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_run_is_not_deleted_and_a_queued_one_is_never_taken_from_the_trash() {
    let app = spawn(fast_sim()).await;
    let long = app
        .launch("sim-llama-3.2-1b", json!({"requests": 400, "concurrency": 1, "name": "long"}))
        .await;
    let (status, body) = call(&app.http, &app, reqwest::Method::DELETE, &format!("/api/runs/{long}")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("cancel it first"), "{body}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM runs WHERE id = $1 AND deleted_at IS NULL", long).await,
        1
    );
    assert_eq!(
        call(&app.http, &app, reqwest::Method::POST, &format!("/api/runs/{long}/cancel"))
            .await
            .0,
        200
    );
    app.wait_finished(long, Duration::from_secs(30)).await;

    // A queued run in the trash (put there by hand: deletes refuse queued runs) is not claimed,
    // by the server's worker or by anyone.
    let db = &app.running.state.db;
    let queued = app.launch("sim-llama-3.2-1b", json!({"requests": 1, "concurrency": 1})).await;
    app.wait_finished(queued, Duration::from_secs(30)).await;
    sqlx::query("UPDATE runs SET status = 'queued', lease_owner = NULL, deleted_at = 1 WHERE id = $1")
        .bind(queued)
        .execute(db)
        .await
        .expect("trash it");
    let holder = app::db::leases::Holder {
        owner: "test".into(),
        host: "test".into(),
        pid: 1,
    };
    assert!(
        app::db::leases::claim(db, queued, &holder, 30).await.expect("claim").is_none(),
        "a run in the trash is not claimed"
    );
    assert!(app::db::leases::claim_next(db, &holder, 30, true).await.expect("claim").is_none());
    let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
        .bind(queued)
        .fetch_one(db)
        .await
        .expect("status");
    assert_eq!(status, "queued", "the server's worker did not take it either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_trash_days_zero_a_delete_is_final_at_once() {
    let app = spawn_web(server::serve::WebOptions {
        web: app::state::WebConfig {
            trash_days: 0,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let id = app.launch("sim-llama-3.2-1b", json!({"requests": 3, "concurrency": 1})).await;
    app.wait_finished(id, Duration::from_secs(60)).await;
    let (_, preview) = json_of(&app.http, &app, reqwest::Method::DELETE, &format!("/api/runs/{id}?dry_run=true")).await;
    assert_eq!(preview["trash_days"], Value::Null, "{preview}");
    let (status, done) = json_of(&app.http, &app, reqwest::Method::DELETE, &format!("/api/runs/{id}")).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM runs WHERE id = $1", id).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM request_records WHERE run_id = $1", id).await, 0);
    let (_, trash) = json_of(&app.http, &app, reqwest::Method::GET, "/api/trash").await;
    assert_eq!((trash["days"].clone(), trash["items"].clone()), (json!(0), json!([])));
}

#[test]
fn serve_takes_trash_days() {
    use clap::Parser;
    use server::cli::{Cli, Command};
    let days = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
        Ok(Some(Command::Serve(s))) => Ok(s.team.options().web.trash_days),
        Ok(other) => panic!("not serve: {other:?}"),
        Err(e) => Err(e.to_string()),
    };
    assert_eq!(days(&["bakeoff", "serve"]), Ok(30));
    assert_eq!(days(&["bakeoff", "serve", "--trash-days", "0"]), Ok(0));
    assert_eq!(days(&["bakeoff", "serve", "--trash-days", "7"]), Ok(7));
    let e = days(&["bakeoff", "serve", "--trash-days", "a week"]).expect_err("not a number");
    assert!(e.contains("--trash-days"), "{e}");
}

/// A run whose answers are in a grading queue made by someone else: deleting it would take items
/// and grades out of that queue, which only the queue's maker or an admin may change. Refused
/// (403, naming the queue and who may) in the dry run the confirmation shows and in the delete,
/// on the page's server function and on REST; nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_may_not_delete_a_run_whose_answers_are_in_someone_elses_queue() {
    use app::api::runs::DeleteRun;
    let app = spawn(fast_sim()).await;
    app::api::accounts::create_user(&app.running.state.db, "rob", "runner", common::PASSWORD)
        .await
        .expect("rob");
    let (rita, rob) = (app.client_for("rita").await, app.client_for("rob").await);
    let run = finished_run(&app, &rob, "rob's run", 8).await;
    let (status, body) = server_fn(
        &rita,
        &app,
        CreateQueue::PATH,
        &[
            ("form[name]", "Team check".into()),
            ("form[kind]", "grade".into()),
            ("form[runs][0]", run.to_string()),
            ("form[sample_size]", "4".into()),
            ("form[seed]", "5".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let queue: i64 = serde_json::from_str(&body).expect("queue id");
    assert_eq!(queue_counts(&app, queue).await, Some((4, 0)));

    // rob launched the run but did not make the queue: refused, dry run and delete, page and REST.
    let path = format!("/api/runs/{run}");
    for query in ["?dry_run=true", ""] {
        let (status, body) = call(&rob, &app, reqwest::Method::DELETE, &format!("{path}{query}")).await;
        assert_eq!(status, 403, "DELETE {path}{query}: {body}");
        assert!(
            body.contains("'Team check' (made by rita)") && body.contains("only rita or an admin may delete it"),
            "names the queue and who may: {body}"
        );
    }
    for dry in ["true", "false"] {
        let (status, body) = server_fn(&rob, &app, DeleteRun::PATH, &[("id", run.to_string()), ("dry_run", dry.into())]).await;
        assert_eq!(status, 403, "delete_run dry_run={dry}: {body}");
        assert!(body.contains("'Team check' (made by rita)"), "{body}");
    }
    assert_eq!(queue_counts(&app, queue).await, Some((4, 0)), "the queue kept its items");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM runs WHERE id = $1 AND deleted_at IS NULL", run).await,
        1
    );

    // The queue's maker and an admin may (the dry run says what goes); rita deletes it.
    for (who, c) in [("tester", &app.http), ("rita", &rita)] {
        let (status, body) = call(c, &app, reqwest::Method::DELETE, &format!("{path}?dry_run=true")).await;
        assert_eq!(status, 200, "{who}: {body}");
        assert!(body.contains("grading items in 'Team check'"), "{who}: {body}");
    }
    let (status, body) = call(&rita, &app, reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(queue_counts(&app, queue).await, Some((0, 0)));

    // A run in no queue of someone else's stays rob's to delete.
    let own = finished_run(&app, &rob, "rob's other run", 4).await;
    let (status, body) = call(&rob, &app, reqwest::Method::DELETE, &format!("/api/runs/{own}")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_the_trash_says_so_and_who_deleted_it_to_everyone() {
    let app = spawn(fast_sim()).await;
    let (rita, vic) = (app.client_for("rita").await, app.client_for("vic").await);
    let gone = finished_run(&app, &rita, "trash-me", 2).await;
    let (status, body) = json_of(&rita, &app, reqwest::Method::DELETE, &format!("/api/runs/{gone}")).await;
    assert_eq!(status, 200, "{body}");
    // Its REST routes, its page and its server functions say where it is and who put it there,
    // to an admin and a viewer alike (404 still), not "not found: run N".
    let says = format!("run {gone} is in the trash (deleted by rita): an admin can restore it");
    for c in [&app.http, &vic] {
        for path in [
            format!("/api/runs/{gone}"),
            format!("/api/runs/{gone}/records"),
            format!("/api/runs/{gone}/metrics"),
        ] {
            let (status, body) = call(c, &app, reqwest::Method::GET, &path).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert!(body.contains(&says), "{path}: {body}");
        }
        let (_, page) = call(c, &app, reqwest::Method::GET, &format!("/runs/{gone}")).await;
        assert!(page.contains(&says), "the run's page: {page}");
        for path in [app::api::runs::GetRun::PATH, app::api::runs::RunSeries::PATH] {
            let (status, body) = server_fn(c, &app, path, &[("id", gone.to_string())]).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert!(body.contains(&says), "{path}: {body}");
        }
    }
    // A run that never was is still just not found.
    let (status, body) = call(&app.http, &app, reqwest::Method::GET, "/api/runs/999").await;
    assert_eq!(status, 404);
    assert!(!body.contains("trash"), "{body}");
    // The trash itself: admins only, and the refusal says that (not "manage users").
    for c in [&rita, &vic] {
        let (status, body) = call(c, &app, reqwest::Method::GET, "/api/trash").await;
        assert_eq!(status, 403, "{body}");
        assert!(
            body.contains("only admins see and restore the trash") && !body.contains("manage users"),
            "{body}"
        );
    }
}

/// QA's old compare link over a run since deleted showed only "not found": the other runs are
/// compared, and the deleted one is named with where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_shows_the_runs_left_and_names_the_one_in_the_trash() {
    let app = spawn(fast_sim()).await;
    let gone = finished_run(&app, &app.http, "gone", 4).await;
    let kept = finished_run(&app, &app.http, "kept", 4).await;
    let (status, body) = call(&app.http, &app, reqwest::Method::DELETE, &format!("/api/runs/{gone}")).await;
    assert_eq!(status, 200, "{body}");
    let (status, page) = call(&app.http, &app, reqwest::Method::GET, &format!("/compare?run={gone}&run={kept}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Not compared: run {gone} is in the trash")), "{page}");
    assert!(page.contains(&format!("#{kept} kept")), "the run left is compared: {page}");
    let (_, page) = call(&app.http, &app, reqwest::Method::GET, &format!("/compare?run={kept}&run=999")).await;
    assert!(page.contains("Not compared: run 999 does not exist."), "{page}");
}
