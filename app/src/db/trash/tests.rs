//! The trash against a fresh migrated SQLite file: what a delete hides, what a restore brings
//! back, what a purge removes (rows counted), parents and children, and the purge by clock.

use super::super::{datasets, endpoints, queues, runs, Db, DbError};
use super::*;
use crate::domain::accounts::Role;
use crate::domain::trash::DAY_S;

async fn fresh() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
    (dir, db)
}

/// What a test works on: a user, an endpoint, a dataset of 3 requests, two finished runs with
/// `records` records each (and a check per record), and a grading queue over the first run
/// with a grade on its first item.
struct Seeded {
    user: i64,
    endpoint: i64,
    dataset: i64,
    runs: [i64; 2],
    queue: i64,
}

async fn seed(db: &Db, records: i64) -> Seeded {
    let user = super::super::users::create(db, "ana", Role::Admin, "x", false).await.expect("user");
    let endpoint = endpoints::insert(db, "gpu", "http://gpu:1", false, &[]).await.expect("endpoint");
    let items: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| crate::domain::dataset::DatasetItem {
            custom_id: id.to_string(),
            url: "/v1/completions".into(),
            body: serde_json::json!({"prompt": id}),
        })
        .collect();
    let dataset = datasets::insert(
        db,
        datasets::NewDataset {
            name: "prompts",
            description: "",
            source: "test",
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await
    .expect("dataset");
    let mut ids = [0; 2];
    for (slot, model) in ids.iter_mut().zip(["gemma", "llama"]) {
        let spec = crate::domain::spec::LaunchForm {
            endpoint_id: endpoint.to_string(),
            dataset_id: dataset.to_string(),
            model: model.into(),
            requests: "3".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        let id = runs::insert(db, &spec, true, None).await.expect("run");
        // `records` rows in one statement (a recursive count), and a check for each.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2) \
             INSERT INTO request_records (run_id, idx, custom_id, warmup, outcome, sent_us, e2e_us, content_chunks, itl_us, response) \
             SELECT $1, i, 'item-' || i, FALSE, 'ok', 0, 1000, 1, zeroblob(0), 'answer' FROM n",
        )
        .bind(id)
        .bind(records)
        .execute(db)
        .await
        .expect("records");
        sqlx::query(
            "INSERT INTO checks (run_id, custom_id, handback, truncated) SELECT run_id, custom_id, FALSE, FALSE FROM request_records WHERE run_id = $1",
        )
        .bind(id)
        .execute(db)
        .await
        .expect("checks");
        sqlx::query("UPDATE runs SET status = 'completed' WHERE id = $1")
            .bind(id)
            .execute(db)
            .await
            .expect("done");
        *slot = id;
    }
    let queue = sqlx::query_scalar::<_, i64>(
        "INSERT INTO queues (name, kind, blind, dataset_id, sample_size, seed, created_by) VALUES ('q', 'grade', FALSE, $1, 2, 7, $2) RETURNING id",
    )
    .bind(dataset)
    .bind(user)
    .fetch_one(db)
    .await
    .expect("queue");
    for (pos, item) in ["item-0", "item-1"].iter().enumerate() {
        sqlx::query("INSERT INTO queue_items (id, queue_id, position, custom_id, run_id) VALUES ($1, $2, $3, $4, $5)")
            .bind(format!("tok{pos}"))
            .bind(queue)
            .bind(pos as i64)
            .bind(item)
            .bind(ids[0])
            .execute(db)
            .await
            .expect("item");
    }
    sqlx::query("INSERT INTO grades (item_id, user_id, overall) VALUES ('tok0', $1, 4)")
        .bind(user)
        .execute(db)
        .await
        .expect("grade");
    Seeded {
        user,
        endpoint,
        dataset,
        runs: ids,
        queue,
    }
}

async fn rows(db: &Db, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(db).await.expect("count")
}

async fn records(db: &Db, run: i64) -> i64 {
    rows(db, "SELECT COUNT(*) FROM request_records WHERE run_id = $1", run).await
}

#[tokio::test]
async fn a_run_in_the_trash_leaves_every_list_and_comes_back_with_every_record_and_grade() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 3).await;
    let [run, other] = s.runs;
    let r = put(&db, TrashKind::Run, run, Some(s.user)).await.expect("to the trash");
    assert!(r.with.contains(&"3 request records".to_string()), "{:?}", r.with);
    assert!(r.with.iter().any(|w| w == "2 grading items in 'q'"), "{:?}", r.with);

    assert!(matches!(runs::get(&db, run).await, Err(DbError::NotFound(_))));
    assert_eq!(
        runs::list(&db).await.expect("list").iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![other]
    );
    let (page, total) = runs::page(&db, &Default::default(), 50).await.expect("page");
    assert_eq!((page.len(), total), (1, 1), "the runs list and its count leave it out");
    let q = queues::get(&db, s.queue, s.user).await.expect("queue");
    assert_eq!((q.items, q.judgements), (0, 0), "its grading items left the queue with it");
    assert!(queues::item_at(&db, s.queue, 0).await.expect("item").is_none());
    assert!(queues::all_grades(&db).await.expect("grades").is_empty());
    assert_eq!(records(&db, run).await, 3, "nothing stored for it is touched");
    assert!(
        matches!(put(&db, TrashKind::Run, run, None).await, Err(DbError::NotFound(_))),
        "not deleted twice"
    );

    let listed = list(&db, 30).await.expect("trash");
    assert_eq!(listed.len(), 1);
    let t = &listed[0];
    assert_eq!((t.kind, t.id, t.deleted_by.as_deref()), (TrashKind::Run, run, Some("ana")));
    assert_eq!(t.purge_at_s - t.deleted_at_s, 30 * DAY_S);
    assert!(t.with.contains(&"3 automatic answer checks".to_string()), "{:?}", t.with);
    assert_eq!(t.blocked, None);

    let back = restore(&db, TrashKind::Run, run).await.expect("restore");
    assert!(back.done && back.what.contains("gemma"));
    assert_eq!(runs::get(&db, run).await.expect("back").done_requests, 3);
    let q = queues::get(&db, s.queue, s.user).await.expect("queue");
    assert_eq!((q.items, q.judgements), (2, 1), "its items and grade are back in the queue");
    assert_eq!(queues::all_grades(&db).await.expect("grades").len(), 1);
    assert!(list(&db, 30).await.expect("trash").is_empty());
}

#[tokio::test]
async fn a_purge_deletes_in_batches_everything_stored_for_it_and_nothing_else() {
    let (_d, db) = fresh().await;
    let n = PURGE_BATCH * 2 + 7;
    let s = seed(&db, n).await;
    let [run, other] = s.runs;
    assert!(
        matches!(purge(&db, TrashKind::Run, run).await, Err(DbError::NotFound(_))),
        "only what is in the trash is purged"
    );
    put(&db, TrashKind::Run, run, None).await.expect("to the trash");
    let gone = purge(&db, TrashKind::Run, run).await.expect("purge");
    assert!(
        gone.with
            .contains(&format!("{} request records", crate::domain::format::int(n as f64))),
        "{:?}",
        gone.with
    );
    assert_eq!(records(&db, run).await, 0);
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM checks WHERE run_id = $1", run).await, 0);
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM runs WHERE id = $1", run).await, 0);
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM queue_items WHERE queue_id = $1", s.queue).await, 0);
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM grades WHERE user_id = $1", s.user).await, 0);
    assert_eq!(records(&db, other).await, n, "the other run keeps its records");
    assert!(matches!(restore(&db, TrashKind::Run, run).await, Err(DbError::NotFound(_))));
}

#[tokio::test]
async fn a_run_waits_for_its_dataset_and_purging_the_dataset_takes_its_runs_in_the_trash() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 2).await;
    let e = put(&db, TrashKind::Dataset, s.dataset, None).await.expect_err("runs use it");
    assert!(matches!(&e, DbError::Conflict(m) if m.contains("used by 2 runs")), "{e}");
    for run in s.runs {
        put(&db, TrashKind::Run, run, None).await.expect("run to the trash");
    }
    let e = put(&db, TrashKind::Dataset, s.dataset, None).await.expect_err("the queue uses it");
    assert!(matches!(&e, DbError::Conflict(m) if m.contains("grading queue")), "{e}");
    put(&db, TrashKind::Queue, s.queue, None).await.expect("queue to the trash");
    let d = put(&db, TrashKind::Dataset, s.dataset, None).await.expect("dataset to the trash");
    assert!(d.with.contains(&"2 runs in the trash".to_string()), "{:?}", d.with);
    assert!(datasets::list(&db).await.expect("datasets").is_empty());

    let e = restore(&db, TrashKind::Run, s.runs[0])
        .await
        .expect_err("its dataset is in the trash");
    assert!(
        matches!(&e, DbError::Conflict(m) if m.contains("dataset 'prompts'") && m.contains("restore it first")),
        "{e}"
    );
    let listed = list(&db, 30).await.expect("trash");
    assert!(listed.iter().filter(|t| t.kind == TrashKind::Run).all(|t| t.blocked.is_some()));

    purge(&db, TrashKind::Dataset, s.dataset).await.expect("purge the dataset");
    for run in s.runs {
        assert_eq!(
            rows(&db, "SELECT COUNT(*) FROM runs WHERE id = $1", run).await,
            0,
            "its runs went with it"
        );
        assert_eq!(records(&db, run).await, 0);
    }
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM queues WHERE id = $1", s.queue).await, 0);
    assert_eq!(
        rows(&db, "SELECT COUNT(*) FROM dataset_items WHERE dataset_id = $1", s.dataset).await,
        0
    );
    assert!(list(&db, 30).await.expect("trash").is_empty());
    assert_eq!(
        rows(&db, "SELECT COUNT(*) FROM endpoints WHERE id = $1", s.endpoint).await,
        1,
        "the endpoint was not in the trash: it stays"
    );
}

#[tokio::test]
async fn an_endpoint_name_taken_meanwhile_blocks_its_restore_and_its_url_stays_reserved() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 1).await;
    for run in s.runs {
        put(&db, TrashKind::Run, run, None).await.expect("run to the trash");
    }
    put(&db, TrashKind::Endpoint, s.endpoint, None)
        .await
        .expect("endpoint to the trash");
    assert!(endpoints::list(&db).await.expect("list").is_empty());
    let e = endpoints::insert(&db, "other", "http://gpu:1", false, &[])
        .await
        .expect_err("url kept");
    assert!(matches!(&e, DbError::Conflict(m) if m.contains("is in the trash")), "{e}");
    let new = endpoints::insert(&db, "GPU", "http://gpu:2", false, &[])
        .await
        .expect("the name is free");
    let e = restore(&db, TrashKind::Endpoint, s.endpoint).await.expect_err("name taken");
    assert!(
        matches!(&e, DbError::Conflict(m) if m.contains("'GPU'") && m.contains("rename")),
        "{e}"
    );
    endpoints::rename(&db, new, "gpu box 2").await.expect("rename the new one");
    restore(&db, TrashKind::Endpoint, s.endpoint).await.expect("restored");
    assert_eq!(endpoints::get(&db, s.endpoint).await.expect("back").name, "gpu");
}

#[tokio::test]
async fn what_has_been_in_the_trash_long_enough_is_purged_by_the_clock() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 2).await;
    let [run, other] = s.runs;
    put(&db, TrashKind::Run, run, None).await.expect("to the trash");
    let deleted = list(&db, 30).await.expect("trash")[0].deleted_at_s;
    let now = super::now(&db).await.expect("now");
    assert!((now - deleted).abs() <= 2, "written with the database's clock");

    let early = crate::api::trash::purge_due(&db, deleted + 30 * DAY_S - 1, 30)
        .await
        .expect("purge");
    assert!(early.is_empty(), "a second short of 30 days, it stays");
    assert_eq!(records(&db, run).await, 2);
    let due = crate::api::trash::purge_due(&db, deleted + 30 * DAY_S, 30).await.expect("purge");
    assert_eq!(due, vec![(TrashKind::Run, run)]);
    assert_eq!(rows(&db, "SELECT COUNT(*) FROM runs WHERE id = $1", run).await, 0);
    assert_eq!(records(&db, other).await, 2);
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor_name, action, target FROM audit_log WHERE action = 'run.purge'")
            .fetch_all(&db)
            .await
            .expect("audit");
    assert_eq!(audit, vec![("server".into(), "run.purge".into(), format!("run {run} (gemma)"))]);

    put(&db, TrashKind::Run, other, None).await.expect("to the trash");
    let at_once = crate::api::trash::purge_due(&db, now, 0).await.expect("purge");
    assert_eq!(at_once, vec![(TrashKind::Run, other)], "0 days: everything in the trash goes");
}

#[tokio::test]
async fn a_queue_in_the_trash_is_hidden_from_reviewers_and_figures() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 2).await;
    put(&db, TrashKind::Queue, s.queue, Some(s.user)).await.expect("to the trash");
    assert!(queues::list(&db, s.user).await.expect("queues").is_empty());
    assert!(matches!(queues::rules(&db, s.queue).await, Err(DbError::NotFound(_))));
    assert!(queues::all_grades(&db).await.expect("grades").is_empty());
    assert_eq!(
        super::super::checks::summary(&db, s.runs[0]).await.expect("quality").grades,
        0,
        "its grades leave the run's figures"
    );
    restore(&db, TrashKind::Queue, s.queue).await.expect("restore");
    assert_eq!(queues::all_grades(&db).await.expect("grades").len(), 1);
}

#[tokio::test]
async fn ownership_is_recorded_and_shown_by_name() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 1).await;
    assert_eq!(runs::get(&db, s.runs[0]).await.expect("run").created_by, None, "no owner yet");
    set_created_by(&db, TrashKind::Run, &s.runs, s.user).await.expect("runs");
    set_created_by(&db, TrashKind::Dataset, &[s.dataset], s.user)
        .await
        .expect("dataset");
    set_created_by(&db, TrashKind::Endpoint, &[s.endpoint], s.user)
        .await
        .expect("endpoint");
    assert_eq!(runs::get(&db, s.runs[1]).await.expect("run").created_by.as_deref(), Some("ana"));
    assert_eq!(runs::list(&db).await.expect("runs")[0].created_by.as_deref(), Some("ana"));
    assert_eq!(
        datasets::get(&db, s.dataset).await.expect("dataset").created_by.as_deref(),
        Some("ana")
    );
    assert_eq!(
        endpoints::get(&db, s.endpoint).await.expect("endpoint").created_by.as_deref(),
        Some("ana")
    );
}

#[tokio::test]
async fn a_run_being_purged_is_not_restored_in_part() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 10).await;
    let [run, _] = s.runs;
    put(&db, TrashKind::Run, run, None).await.expect("to the trash");
    // A purge has begun (marked, some records gone) when an admin presses Restore.
    mark_purging(&db, TrashKind::Run, run).await.expect("mark");
    sqlx::query("DELETE FROM request_records WHERE run_id = $1 AND idx < 5")
        .bind(run)
        .execute(&db)
        .await
        .expect("part of the records");
    match restore(&db, TrashKind::Run, run).await {
        Err(DbError::Conflict(m)) => assert!(m.contains("being deleted for good"), "{m}"),
        other => panic!("a run half purged came back: {other:?}"),
    }
    assert!(runs::get(&db, run).await.is_err(), "still not listed");
    // The purge cut short is finished by the next one (its delete time, 0, is long past).
    assert!(due(&db, 1).await.expect("due").contains(&(TrashKind::Run, run)));
    purge(&db, TrashKind::Run, run).await.expect("finish the purge");
    assert_eq!(records(&db, run).await, 0);
}

/// The built-in simulator moved to an address someone registered an endpoint at: that endpoint
/// goes to the trash (no run used it), restorable with everything but its address, and the
/// audit log says so; nothing is deleted.
#[tokio::test]
async fn an_unused_endpoint_at_the_simulators_new_address_goes_to_the_trash_not_away() {
    let (_d, db) = fresh().await;
    let builtin = endpoints::upsert_builtin(&db, "Built-in simulator", "http://127.0.0.1:8011", &[])
        .await
        .expect("builtin");
    let old = endpoints::insert(&db, "old sim", "http://127.0.0.1:9000", false, &[])
        .await
        .expect("endpoint");
    let moved = endpoints::upsert_builtin(&db, "Built-in simulator", "http://127.0.0.1:9000", &[])
        .await
        .expect("the simulator moves");
    assert_eq!(moved, builtin, "one built-in row");
    assert_eq!(
        endpoints::get(&db, builtin).await.expect("builtin").base_url,
        "http://127.0.0.1:9000"
    );
    let aside = format!("http://127.0.0.1:9000/moved-aside-{old}");
    let (url, in_trash): (String, crate::db::Flag) = sqlx::query_as("SELECT base_url, deleted_at IS NOT NULL FROM endpoints WHERE id = $1")
        .bind(old)
        .fetch_one(&db)
        .await
        .expect("still there");
    assert_eq!((url.as_str(), in_trash.0), (aside.as_str(), true));
    let trashed = list(&db, 30).await.expect("trash");
    assert!(
        trashed
            .iter()
            .any(|t| t.kind == TrashKind::Endpoint && t.id == old && t.name == "old sim"),
        "{trashed:?}"
    );
    let audit: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT actor_name, action, target, detail FROM audit_log ORDER BY id")
            .fetch_all(&db)
            .await
            .expect("audit");
    assert_eq!(audit.len(), 1, "{audit:?}");
    let (actor, action, target, detail) = &audit[0];
    assert_eq!(
        (actor.as_str(), action.as_str(), target.clone()),
        ("server", "endpoint.delete", format!("endpoint {old} (old sim)"))
    );
    assert!(
        detail.contains("listens at http://127.0.0.1:9000") && detail.contains(&aside),
        "{detail}"
    );
    // The simulator moving on again leaves it be; an admin may restore it.
    endpoints::upsert_builtin(&db, "Built-in simulator", "http://127.0.0.1:8011", &[])
        .await
        .expect("moves back");
    restore(&db, TrashKind::Endpoint, old).await.expect("restore");
    let back = endpoints::get(&db, old).await.expect("live again");
    assert_eq!((back.name.as_str(), back.base_url.as_str()), ("old sim", aside.as_str()));
}

/// An endpoint with runs at the simulator's new address is never touched: the move is refused,
/// naming it, and the built-in endpoint stays where it was.
#[tokio::test]
async fn an_endpoint_with_runs_at_the_simulators_new_address_stays_and_the_move_is_refused() {
    let (_d, db) = fresh().await;
    let s = seed(&db, 1).await;
    let builtin = endpoints::upsert_builtin(&db, "Built-in simulator", "http://127.0.0.1:8011", &[])
        .await
        .expect("builtin");
    let refused = endpoints::upsert_builtin(&db, "Built-in simulator", "http://gpu:1", &[]).await;
    assert!(
        matches!(&refused, Err(DbError::Conflict(m)) if m.contains("'gpu'") && m.contains("2 run(s)") && m.contains("--sim-addr")),
        "{refused:?}"
    );
    assert_eq!(endpoints::get(&db, s.endpoint).await.expect("kept").base_url, "http://gpu:1");
    assert_eq!(
        endpoints::get(&db, builtin).await.expect("builtin").base_url,
        "http://127.0.0.1:8011"
    );
    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&db)
        .await
        .expect("audit");
    assert_eq!(audit, 0);
}
