//! Several reviewers per item over real HTTP: a queue asking for K = 2 grades per item from three
//! assigned reviewers deals each item to exactly two of them; each reviewer sees only their items
//! (and is refused another's), progress is counted per reviewer, agreement is computed over the
//! overlapping items only, and adding a reviewer later deals again only what nobody has judged.

mod common;

use common::post_form as call;

use app::api::grading::{ChangeReviewers, CreateQueue, GradingItem, QueueProgress, SaveGrade, SaveVote};
use common::{fast_sim, spawn, TestApp, PASSWORD};
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Make a queue as the admin; (status, body).
async fn make(app: &TestApp, kind: &str, runs: &[i64], size: usize, k: &str, reviewers: &[&str]) -> (u16, String) {
    let mut form = vec![
        ("form[name]".to_string(), format!("{kind} by several")),
        ("form[kind]".to_string(), kind.to_string()),
        ("form[sample_size]".to_string(), size.to_string()),
        ("form[seed]".to_string(), "17".to_string()),
        ("form[grades_per_item]".to_string(), k.to_string()),
    ];
    for (i, r) in runs.iter().enumerate() {
        form.push((format!("form[runs][{i}]"), r.to_string()));
    }
    for (i, r) in reviewers.iter().enumerate() {
        form.push((format!("form[reviewers][{i}]"), r.to_string()));
    }
    let r = app
        .http
        .post(app.url(CreateQueue::PATH))
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .expect("POST");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// Every item a reviewer is shown, walking from their first with `next`: position -> item id.
async fn walk(c: &reqwest::Client, app: &TestApp, queue: i64) -> BTreeMap<i64, String> {
    let mut seen = BTreeMap::new();
    let (status, body) = call(c, app, GradingItem::PATH, &[("queue_id", queue.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    let mut it: Value = serde_json::from_str(&body).expect("item");
    assert_eq!(it["ordinal"], 1, "the first of their items: {it}");
    loop {
        seen.insert(
            it["position"].as_i64().expect("position"),
            it["item_id"].as_str().expect("id").to_string(),
        );
        let Some(next) = it["next"].as_i64() else { break };
        let (status, body) = call(
            c,
            app,
            GradingItem::PATH,
            &[("queue_id", queue.to_string()), ("position", next.to_string())],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        it = serde_json::from_str(&body).expect("item");
        assert_eq!(it["ordinal"].as_i64(), Some(seen.len() as i64 + 1));
        assert_eq!(it["total"].as_i64(), Some(6), "each reviewer is shown their own count");
    }
    seen
}

async fn grade(c: &reqwest::Client, app: &TestApp, item_id: &str, overall: u8) -> (u16, String) {
    let g = json!({"grade": {"item_id": item_id, "overall": overall, "fields": {}, "comment": "", "gold": false}});
    let r = c.post(app.url(SaveGrade::PATH)).json(&g).send().await.expect("POST");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn progress(c: &reqwest::Client, app: &TestApp, queue: i64) -> Value {
    let (status, body) = call(c, app, QueueProgress::PATH, &[("queue_id", queue.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("progress")
}

/// (assigned, judged, remaining) of `name` in a progress answer.
fn row(p: &Value, name: &str) -> Option<(i64, i64, i64)> {
    p["reviewers"].as_array()?.iter().find(|r| r["name"] == name).map(|r| {
        (
            r["assigned"].as_i64().unwrap_or(-1),
            r["judged"].as_i64().unwrap_or(-1),
            r["remaining"].as_i64().unwrap_or(-1),
        )
    })
}

async fn one_run(app: &TestApp, model: &str) -> i64 {
    let run = app.launch(model, json!({"requests": 20, "concurrency": 8})).await;
    app.wait_finished(run, Duration::from_secs(60)).await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_reviewers_grade_each_item_and_agreement_counts_only_the_overlap() {
    let app = spawn(fast_sim()).await;
    app::api::accounts::create_user(&app.running.state.db, "rev3", "reviewer", PASSWORD)
        .await
        .expect("third reviewer");
    let run = one_run(&app, "sim-gemma-3-4b").await;

    // K > N is refused with what to do; a viewer cannot be a reviewer.
    let (status, body) = make(&app, "grade", &[run], 9, "3", &["rev", "rev2"]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("3 grades") && body.contains("assign at least 3"), "{body}");
    let (status, body) = make(&app, "grade", &[run], 9, "1", &["rev", "vic"]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("'vic' is a viewer"), "{body}");

    let (status, body) = make(&app, "grade", &[run], 9, "2", &["rev", "rev2", "rev3"]).await;
    assert_eq!(status, 200, "{body}");
    let q: i64 = body.trim().parse().expect("queue id");
    let clients = [
        ("rev", app.client_for("rev").await),
        ("rev2", app.client_for("rev2").await),
        ("rev3", app.client_for("rev3").await),
    ];

    // Each reviewer sees six items (9 x 2 / 3), and each item is shown to exactly two of them.
    let mut mine: BTreeMap<&str, BTreeMap<i64, String>> = BTreeMap::new();
    for (name, c) in &clients {
        mine.insert(name, walk(c, &app, q).await);
    }
    let mut shown: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (name, items) in &mine {
        assert_eq!(items.len(), 6, "{name}: {items:?}");
        for pos in items.keys() {
            shown.entry(*pos).or_default().push(name);
        }
    }
    assert_eq!(shown.len(), 9, "{shown:?}");
    assert!(shown.values().all(|who| who.len() == 2), "{shown:?}");

    // Another reviewer's item is refused, by position and by id, without its content.
    let (pos, other_id) = mine["rev2"]
        .iter()
        .find(|(p, _)| !mine["rev"].contains_key(p))
        .map(|(p, id)| (*p, id.clone()))
        .expect("an item of rev2 that rev lacks");
    let rev = &clients[0].1;
    let (status, body) = call(
        rev,
        &app,
        GradingItem::PATH,
        &[("queue_id", q.to_string()), ("position", pos.to_string())],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("dealt to other reviewers") && !body.contains("answer"), "{body}");
    let (status, body) = grade(rev, &app, &other_id, 3).await;
    assert_eq!(status, 403, "{body}");
    // Nobody else is in: the admin (who may grade) is not one of its reviewers.
    let (status, body) = call(&app.http, &app, GradingItem::PATH, &[("queue_id", q.to_string())]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not one of this queue's reviewers"), "{body}");

    // rev grades all six, rev2 three of theirs, rev3 none.
    // Grades by position, so two reviewers of an item give it the same grade.
    let by_position = |p: i64| 1 + (p % 5) as u8;
    for (p, id) in &mine["rev"] {
        let (status, body) = grade(rev, &app, id, by_position(*p)).await;
        assert_eq!(status, 200, "{body}");
    }
    // Six items each over nine, two per item: every pair of reviewers shares exactly three.
    let (shared, own): (Vec<_>, Vec<_>) = mine["rev2"]
        .iter()
        .map(|(p, id)| (*p, id.clone()))
        .partition(|(p, _)| mine["rev"].contains_key(p));
    assert_eq!((shared.len(), own.len()), (3, 3));
    // rev2 grades two items rev also has, and one rev does not.
    let rev2_graded: Vec<(i64, String)> = shared.iter().take(2).chain(own.iter().take(1)).cloned().collect();
    for (p, id) in &rev2_graded {
        let (status, body) = grade(&clients[1].1, &app, id, by_position(*p)).await;
        assert_eq!(status, 200, "{body}");
    }
    // The next item is the reviewer's own next one; after all six there is none.
    let (_, body) = call(rev, &app, GradingItem::PATH, &[("queue_id", q.to_string())]).await;
    assert_eq!(body.trim(), "null", "rev has judged all their items");

    // Progress per reviewer: the maker (the admin) sees everyone's.
    let p = progress(&app.http, &app, q).await;
    assert_eq!(row(&p, "rev"), Some((6, 6, 0)), "{p}");
    assert_eq!(row(&p, "rev2"), Some((6, 3, 3)), "{p}");
    assert_eq!(row(&p, "rev3"), Some((6, 0, 6)), "{p}");
    assert_eq!(
        (p["total"]["assigned"].as_i64(), p["total"]["judged"].as_i64()),
        (Some(18), Some(9))
    );
    // A reviewer sees their own row and the total, and (while the queue is open) no agreement.
    let p2 = progress(&clients[1].1, &app, q).await;
    assert_eq!(p2["reviewers"].as_array().map(Vec::len), Some(1), "{p2}");
    assert_eq!(row(&p2, "rev2"), Some((6, 3, 3)));
    assert_eq!(p2["total"]["judged"].as_i64(), Some(9));
    assert!(p2["agreement"].is_null(), "{p2}");

    // Agreement: only items graded by two reviewers count: the two rev2 shares with rev.
    let a = &p["agreement"];
    assert_eq!(a["overlapping"].as_u64(), Some(2), "{a}");
    let pairs = a["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 1, "only rev and rev2 share graded items: {a}");
    assert_eq!(pairs[0]["between"], "rev and rev2");
    assert_eq!(pairs[0]["n"].as_u64(), Some(2));
    // They agree on both: alpha and kappa are 1, but two items give no interval (a bootstrap of
    // two equal pairs has no spread, and would read "almost perfect").
    assert_eq!((a["alpha"].as_f64(), pairs[0]["kappa"].as_f64()), (Some(1.0), Some(1.0)), "{a}");
    assert!(a["alpha_interval"].is_null() && pairs[0]["interval"].is_null(), "{a}");

    // The assignment is in the audit log.
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'queue.assign' AND target = $1")
        .bind(format!("queue {q}"))
        .fetch_one(&app.running.state.db)
        .await
        .expect("audit");
    assert_eq!(audited, 1);

    // Only the maker or an admin changes reviewers: not a runner who did not make it, nor a reviewer.
    let rita = app.client_for("rita").await;
    let (status, _) = call(
        &rita,
        &app,
        ChangeReviewers::PATH,
        &[("queue_id", q.to_string()), ("add", "tester".into())],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        rev,
        &app,
        ChangeReviewers::PATH,
        &[("queue_id", q.to_string()), ("add", "tester".into())],
    )
    .await;
    assert_eq!(status, 403);

    // Adding a reviewer deals again only what nobody judged: every grade stays with its reviewer.
    let before: BTreeSet<(String, i64)> = assignments(&app, q).await;
    let (status, body) = call(
        &app.http,
        &app,
        ChangeReviewers::PATH,
        &[("queue_id", q.to_string()), ("add", "tester".into())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = assignments(&app, q).await;
    let graded: BTreeSet<(String, i64)> =
        sqlx::query_as("SELECT g.item_id, g.user_id FROM grades g JOIN queue_items i ON i.id = g.item_id WHERE i.queue_id = $1")
            .bind(q)
            .fetch_all(&app.running.state.db)
            .await
            .expect("grades")
            .into_iter()
            .collect();
    assert_eq!(graded.len(), 9);
    assert!(
        graded.iter().all(|g| before.contains(g) && after.contains(g)),
        "a graded assignment was taken away"
    );
    let mut per_item: BTreeMap<&str, usize> = BTreeMap::new();
    for (item, _) in &after {
        *per_item.entry(item.as_str()).or_default() += 1;
    }
    assert!(per_item.len() == 9 && per_item.values().all(|n| *n == 2), "{per_item:?}");
    let p = progress(&app.http, &app, q).await;
    assert_eq!(row(&p, "rev"), Some((6, 6, 0)), "rev keeps their six graded items: {p}");
    let tester = row(&p, "tester").expect("the new reviewer has a row");
    assert!(
        tester.0 >= 2 && tester.1 == 0,
        "the new reviewer takes a share of the ungraded: {p}"
    );
    assert_eq!(p["total"]["assigned"].as_i64(), Some(18));

    // Removing reviewers below K is refused, saying why.
    let (status, body) = call(
        &app.http,
        &app,
        ChangeReviewers::PATH,
        &[("queue_id", q.to_string()), ("remove", "rev2 rev3 tester".into())],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("2 grades") && body.contains("1 reviewer is assigned"), "{body}");
}

async fn assignments(app: &TestApp, queue: i64) -> BTreeSet<(String, i64)> {
    sqlx::query_as("SELECT item_id, user_id FROM queue_assignments WHERE queue_id = $1")
        .bind(queue)
        .fetch_all(&app.running.state.db)
        .await
        .expect("assignments")
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairwise_votes_are_dealt_the_same_way() {
    let app = spawn(fast_sim()).await;
    let a = one_run(&app, "sim-gemma-3-4b").await;
    let b = one_run(&app, "sim-llama-3.2-1b").await;
    // Four pairs, one vote each, from two reviewers: two pairs each.
    let (status, body) = make(&app, "pairwise", &[a, b], 4, "1", &["rev", "rev2"]).await;
    assert_eq!(status, 200, "{body}");
    let q: i64 = body.trim().parse().expect("queue id");
    let (rev, rev2) = (app.client_for("rev").await, app.client_for("rev2").await);
    let mut ids = BTreeMap::new();
    for (name, c) in [("rev", &rev), ("rev2", &rev2)] {
        let mut mine = Vec::new();
        loop {
            let (status, body) = call(c, &app, GradingItem::PATH, &[("queue_id", q.to_string())]).await;
            assert_eq!(status, 200, "{body}");
            let it: Value = serde_json::from_str(&body).expect("item");
            if it.is_null() {
                break;
            }
            assert_eq!(it["total"], 2, "{name}: {it}");
            let id = it["item_id"].as_str().expect("id").to_string();
            let (status, body) = call(c, &app, SaveVote::PATH, &[("item_id", id.clone()), ("choice", "a".into())]).await;
            assert_eq!(status, 200, "{body}");
            mine.push(id);
        }
        assert_eq!(mine.len(), 2, "{name}");
        ids.insert(name, mine);
    }
    assert!(ids["rev"].iter().all(|i| !ids["rev2"].contains(i)), "K = 1: no item twice");
    // A vote on the other reviewer's pair is refused.
    let (status, body) = call(
        &rev,
        &app,
        SaveVote::PATH,
        &[("item_id", ids["rev2"][0].clone()), ("choice", "b".into())],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let p = progress(&app.http, &app, q).await;
    assert_eq!((row(&p, "rev"), row(&p, "rev2")), (Some((2, 2, 0)), Some((2, 2, 0))), "{p}");
    assert_eq!(p["agreement"]["overlapping"], 0, "K = 1: nothing overlaps");
}

/// A queue whose maker's account was deleted: its reviewers are told admins see everyone's (not
/// "the queue's maker"). And the Users page's warning before a change of role: what a reviewer
/// still has to judge in open queues (admins only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_outlives_its_maker_and_a_reviewers_open_items_are_listed_for_the_users_page() {
    use app::api::grading::OpenAssignments;
    let app = spawn(fast_sim()).await;
    let db = &app.running.state.db;
    let maker_id = app::api::accounts::create_user(db, "mia", "runner", PASSWORD).await.expect("mia");
    let rev_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE name = 'rev'")
        .fetch_one(db)
        .await
        .expect("rev");
    let run = one_run(&app, "sim-gemma-3-4b").await;
    let mia = app.client_for("mia").await;
    let form = [
        ("form[name]", "mia's check".to_string()),
        ("form[kind]", "grade".into()),
        ("form[runs][0]", run.to_string()),
        ("form[sample_size]", "4".into()),
        ("form[seed]", "3".into()),
        ("form[grades_per_item]", "1".into()),
        ("form[reviewers][0]", "rev".into()),
        ("form[reviewers][1]", "rev2".into()),
    ];
    let (status, body) = call(&mia, &app, CreateQueue::PATH, &form).await;
    assert_eq!(status, 200, "{body}");
    let q: i64 = body.trim().parse().expect("queue id");

    let rev = app.client_for("rev").await;
    let p = progress(&rev, &app, q).await;
    assert_eq!(
        (p["sees_everyone"].as_bool(), p["maker_gone"].as_bool()),
        (Some(false), Some(false)),
        "{p}"
    );

    // rev has two items left in an open queue: listed for an admin, refused to anyone else.
    let (status, body) = call(&app.http, &app, OpenAssignments::PATH, &[("user_id", rev_id.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    let left: Value = serde_json::from_str(&body).expect("assignments");
    assert_eq!(left, json!([{"queue": "mia's check", "remaining": 2}]), "{body}");
    let (status, body) = call(&mia, &app, OpenAssignments::PATH, &[("user_id", rev_id.to_string())]).await;
    assert_eq!(status, 403, "{body}");

    // mia's account goes; her queue stays, and says who sees everyone's now.
    let (status, body) = call(
        &app.http,
        &app,
        app::api::accounts::DeleteUser::PATH,
        &[("id", maker_id.to_string()), ("confirm", "true".into())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let p = progress(&rev, &app, q).await;
    assert_eq!(
        (p["sees_everyone"].as_bool(), p["maker_gone"].as_bool()),
        (Some(false), Some(true)),
        "{p}"
    );
    let p = progress(&app.http, &app, q).await;
    assert_eq!(p["sees_everyone"].as_bool(), Some(true), "an admin sees everyone's: {p}");
}
