//! Queries against a fresh, migrated SQLite file per test.

use super::*;
use crate::domain::dataset::DatasetItem;
use crate::domain::record::{Reasoning, RequestRecord, TokenSource, Tokens};
use crate::domain::spec::LaunchForm;
use crate::domain::status::{Outcome, RunStatus};
use std::time::Duration;

pub(crate) async fn fresh() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
    (dir, db)
}

fn item(id: &str) -> DatasetItem {
    DatasetItem {
        custom_id: id.into(),
        url: "/v1/completions".into(),
        body: serde_json::json!({"prompt": id}),
    }
}

pub(crate) async fn seed(db: &Db) -> (i64, i64) {
    let e = endpoints::insert(db, "e", "http://x:1", false, &[]).await.expect("endpoint");
    let items = vec![item("a"), item("b")];
    let d = datasets::insert(
        db,
        datasets::NewDataset {
            name: "d",
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
    (e, d)
}

pub(crate) fn spec(e: i64, d: i64) -> crate::domain::spec::RunSpec {
    LaunchForm {
        endpoint_id: e.to_string(),
        dataset_id: d.to_string(),
        model: "m".into(),
        requests: "4".into(),
        concurrency: "1".into(),
        ..Default::default()
    }
    .parse()
    .expect("spec")
}

fn record(id: &str, idx: u32) -> RequestRecord {
    RequestRecord {
        idx,
        custom_id: id.into(),
        warmup: false,
        outcome: Outcome::Ok,
        http_status: Some(200),
        error: None,
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(Tokens(3)),
        completion_tokens: Some(Tokens(4)),
        scheduled: None,
        sent: Duration::from_millis(idx as u64),
        ttft: Some(Duration::from_micros(1500)),
        e2e: Duration::from_millis(20),
        content_chunks: 4,
        itl: vec![Duration::from_micros(10); 3],
        response: "text".into(),
        // The second record reasoned first: its reasoning is stored apart and read back.
        reasoning: (idx == 1).then(|| Reasoning {
            answer_ttft: Some(Duration::from_millis(9)),
            tokens: Tokens(2),
            tokens_source: TokenSource::Usage,
            text: "hmm".into(),
        }),
    }
}

fn holder(name: &str) -> leases::Holder {
    leases::Holder {
        owner: format!("{name}/1/x"),
        host: name.into(),
        pid: 1,
    }
}

#[tokio::test]
async fn the_worker_claims_the_oldest_queued_run_once() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let other = endpoints::insert(&db, "other", "http://other-gpu:1", false, &[])
        .await
        .expect("endpoint");
    let first = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    let second = runs::insert(&db, &spec(other, d), false, None).await.expect("run");
    let w = holder("w");
    assert_eq!(
        leases::claim_next(&db, &w, 30, true).await.expect("claim").map(|c| c.id),
        Some(first)
    );
    assert_eq!(
        leases::claim_next(&db, &w, 30, true).await.expect("claim").map(|c| c.id),
        Some(second)
    );
    assert!(leases::claim_next(&db, &w, 30, true).await.expect("claim").is_none());
    assert_eq!(runs::status(&db, first).await.expect("status"), RunStatus::Running);
}

#[tokio::test]
async fn a_hybrid_split_of_finished_runs_is_stored_once_and_counted_again_after_a_change() {
    let (_d, db) = fresh().await;
    let (a, b, _, _) = answered(&db, 6).await;
    for r in [a, b] {
        crate::api::quality::check_run(&db, r).await.expect("check");
    }
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM hybrid_splits")
            .fetch_one(&db)
            .await
            .expect("count")
    };
    // While a run is not finished its split is counted each time, never stored.
    let live = checks::hybrid_counts_stored(&db, a, b).await.expect("split");
    assert_eq!(live, checks::hybrid_counts(&db, a, b).await.expect("split"));
    assert_eq!(live.iter().map(|c| c.2).sum::<i64>(), 6, "{live:?}");
    assert_eq!(stored().await, 0);
    for r in [a, b] {
        sqlx::query("UPDATE runs SET status = 'completed' WHERE id = $1")
            .bind(r)
            .execute(&db)
            .await
            .expect("done");
    }
    assert_eq!(checks::hybrid_counts_stored(&db, a, b).await.expect("split"), live);
    assert_eq!(stored().await, 1);
    // Read back as stored (a stored split altered by hand is what comes back).
    sqlx::query("UPDATE hybrid_splits SET counts = '[[\"Yes\",\"Yes\",99]]'")
        .execute(&db)
        .await
        .expect("alter");
    assert_eq!(
        checks::hybrid_counts_stored(&db, a, b).await.expect("split"),
        vec![(Some("Yes".to_string()), Some("Yes".to_string()), 99)]
    );
    // A check of the judge changed: its version moved, the split is counted again.
    let mut c = checks::get(&db, b, "c000").await.expect("get").expect("a check");
    c.recommendation = Some("No".into());
    checks::append(&db, b, &[c]).await.expect("append");
    let again = checks::hybrid_counts_stored(&db, a, b).await.expect("split");
    assert_eq!(again, checks::hybrid_counts(&db, a, b).await.expect("split"));
    assert!(again.iter().any(|(_, j, n)| j.as_deref() == Some("No") && *n == 1), "{again:?}");
    // So does a record of the screen (a run started again stores new ones).
    sqlx::query("UPDATE hybrid_splits SET counts = '[]'")
        .execute(&db)
        .await
        .expect("alter");
    records::insert_batch(&db, a, &[record("extra", 99)]).await.expect("insert");
    assert_eq!(checks::hybrid_counts_stored(&db, a, b).await.expect("split"), again);
}

#[tokio::test]
async fn one_dataset_item_is_read_by_its_id() {
    let (_d, db) = fresh().await;
    let (_, d) = seed(&db).await;
    let b = datasets::item(&db, d, "b").await.expect("read").expect("item b");
    assert_eq!((b.custom_id.as_str(), &b.body), ("b", &serde_json::json!({"prompt": "b"})));
    assert!(datasets::item(&db, d, "zz").await.expect("read").is_none());
    assert!(datasets::item(&db, d + 1, "b").await.expect("read").is_none(), "another dataset's");
}

#[tokio::test]
async fn records_round_trip_and_a_custom_id_is_never_stored_twice() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    let recs = vec![record("a", 0), record("b", 1)];
    assert_eq!(records::insert_batch(&db, run, &recs).await.expect("insert"), 2);
    assert_eq!(records::insert_batch(&db, run, &recs[..1]).await.expect("insert again"), 0);
    let back = records::for_run(&db, run).await.expect("load");
    assert_eq!(back, recs);
    assert_eq!(records::last_finish(&db, run).await.expect("last"), Duration::from_millis(21));
    assert_eq!(records::done_ids(&db, run).await.expect("ids").len(), 2);
}

#[tokio::test]
async fn cancelling_a_queued_run_is_immediate_and_a_finished_one_is_a_conflict() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    assert_eq!(runs::request_cancel(&db, run).await.expect("cancel"), RunStatus::Cancelled);
    assert!(matches!(runs::request_cancel(&db, run).await, Err(DbError::Conflict(_))));
    assert!(matches!(runs::request_cancel(&db, 999).await, Err(DbError::NotFound(_))));
}

#[tokio::test]
async fn runs_whose_lease_expired_are_taken_over_or_marked_interrupted() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let a = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    // A lease of -1 s: expired as soon as it is written (its holder died).
    leases::claim_next(&db, &holder("dead"), -1, true).await.expect("claim");
    let taken = leases::claim_next(&db, &holder("w"), 30, true)
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!(taken.id, a);
    assert!(taken.resumed);
    assert!(
        taken.taken_over.as_deref().is_some_and(|n| n.contains("from dead (pid 1)")),
        "{:?}",
        taken.taken_over
    );
    assert!(
        leases::interrupt_expired(&db).await.expect("mark").is_empty(),
        "a live lease is kept"
    );
    sqlx::query("UPDATE runs SET lease_expires_at = 0")
        .execute(&db)
        .await
        .expect("expire");
    assert_eq!(leases::interrupt_expired(&db).await.expect("mark"), vec![a]);
    assert_eq!(runs::status(&db, a).await.expect("status"), RunStatus::Interrupted);
}

#[tokio::test]
async fn a_dataset_is_stored_whole_or_not_at_all() {
    let (_d, db) = fresh().await;
    // Two items with one custom_id violate the unique key half-way through the insert.
    let items = vec![item("a"), item("b"), item("a")];
    let r = datasets::insert(
        &db,
        datasets::NewDataset {
            name: "dup",
            description: "",
            source: "t",
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await;
    assert!(r.is_err());
    assert!(datasets::list(&db).await.expect("list").is_empty());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dataset_items")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(n, 0, "no orphan items");
}

#[tokio::test]
async fn a_second_dataset_with_the_same_name_is_a_conflict() {
    let (_d, db) = fresh().await;
    seed(&db).await;
    let items = vec![item("z")];
    let r = datasets::insert(
        &db,
        datasets::NewDataset {
            name: "d",
            description: "",
            source: "t",
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await;
    assert!(matches!(r, Err(DbError::Conflict(m)) if m.contains("already exists")));
}

#[tokio::test]
async fn a_sweep_is_queued_as_one_group() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let ids = runs::insert_sweep(&db, &[spec(e, d), spec(e, d), spec(e, d)], true)
        .await
        .expect("sweep");
    let views = runs::list(&db).await.expect("list");
    assert_eq!(views.len(), 3);
    assert!(views.iter().all(|v| v.sweep_id == Some(ids[0]) && v.simulated));
}

// Blind grading: seeds, the amend rule, closing.

use crate::api::grading::{make_queue, shut_queue, store_grade, store_vote, GradeInput, QueueForm};
use crate::api::AppError;
use crate::domain::accounts::Role;

/// A dataset of `n` items, two runs of different models that answered all of them, and a
/// reviewer and an admin.
async fn answered(db: &Db, n: usize) -> (i64, i64, i64, i64) {
    let e = endpoints::insert(db, "e", "http://x:1", false, &[]).await.expect("endpoint");
    let ids: Vec<String> = (0..n).map(|i| format!("c{i:03}")).collect();
    let items: Vec<DatasetItem> = ids.iter().map(|id| item(id)).collect();
    let d = datasets::insert(
        db,
        datasets::NewDataset {
            name: "graded",
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
    let mut runs_made = Vec::new();
    for model in ["model-a", "model-b"] {
        let mut s = spec(e, d);
        s.model = model.into();
        let run = runs::insert(db, &s, false, None).await.expect("run");
        let recs: Vec<RequestRecord> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| RequestRecord {
                response: format!("{{\"recommendation\": \"Yes\", \"n\": {i}}}"),
                ..record(id, i as u32)
            })
            .collect();
        records::insert_batch(db, run, &recs).await.expect("records");
        runs_made.push(run);
    }
    let rev = users::create(db, "rev", Role::Reviewer, "x", false).await.expect("user");
    let admin = users::create(db, "boss", Role::Admin, "x", false).await.expect("user");
    (runs_made[0], runs_made[1], rev, admin)
}

fn form(kind: &str, runs: &[i64], size: usize, seed: &str) -> QueueForm {
    QueueForm {
        name: "q".into(),
        kind: kind.into(),
        runs: runs.iter().map(|r| r.to_string()).collect(),
        sample_size: size.to_string(),
        seed: seed.into(),
        unblind: None,
        ..Default::default()
    }
}

/// The queue's items in order: (custom_id, run).
async fn order(db: &Db, queue: i64) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(it) = queues::item_at(db, queue, pos).await.expect("item") {
        out.push((it.custom_id, it.run_id));
        pos += 1;
    }
    out
}

async fn item_id(db: &Db, queue: i64, pos: i64) -> String {
    queues::item_at(db, queue, pos).await.expect("item").expect("an item there").id
}

fn grade(item_id: &str, overall: u8) -> GradeInput {
    GradeInput {
        item_id: item_id.into(),
        overall,
        ..Default::default()
    }
}

fn is_conflict(r: Result<crate::api::grading::Saved, AppError>, says: &str) -> bool {
    matches!(r, Err(AppError::Conflict(m)) if m.contains(says))
}

#[tokio::test]
async fn queues_made_without_a_seed_get_their_own_random_order() {
    let (_d, db) = fresh().await;
    let (a, b, rev, _) = answered(&db, 20).await;
    let q1 = make_queue(&db, rev, false, &form("grade", &[a, b], 20, "")).await.expect("queue");
    let q2 = make_queue(&db, rev, false, &form("grade", &[a, b], 20, " ")).await.expect("queue");
    let (s1, s2) = (
        queues::rules(&db, q1).await.expect("rules").seed,
        queues::rules(&db, q2).await.expect("rules").seed,
    );
    assert_ne!(s1, s2, "seeds come from the OS, not a default");
    assert_ne!(s1, 1);
    let (o1, o2) = (order(&db, q1).await, order(&db, q2).await);
    assert_eq!(o1.len(), 40);
    assert_ne!(o1, o2, "40 items in the same order by chance: 1 in 40!");
    // A given seed still reproduces its order.
    let q3 = make_queue(&db, rev, false, &form("grade", &[a, b], 20, "7")).await.expect("queue");
    let q4 = make_queue(&db, rev, false, &form("grade", &[a, b], 20, "7")).await.expect("queue");
    assert_eq!(order(&db, q3).await, order(&db, q4).await);
    let bad = make_queue(&db, rev, false, &form("grade", &[a, b], 20, "seven")).await;
    assert!(matches!(bad, Err(e) if e.for_field("seed").is_some()));
}

#[tokio::test]
async fn reviewers_make_only_blind_queues_over_two_models() {
    let (_d, db) = fresh().await;
    let (a, b, rev, admin) = answered(&db, 4).await;
    let unblind = QueueForm {
        unblind: Some("1".into()),
        ..form("grade", &[a, b], 4, "")
    };
    assert!(matches!(make_queue(&db, rev, false, &unblind).await, Err(AppError::Forbidden(_))));
    let one = make_queue(&db, rev, false, &form("grade", &[a], 4, "")).await;
    assert!(matches!(one, Err(e) if e.for_field("runs").is_some_and(|m| m.contains("two different models"))));
    assert!(make_queue(&db, admin, true, &unblind).await.is_ok(), "an admin may");
}

#[tokio::test]
async fn a_blind_grade_may_be_amended_only_until_the_reviewer_moves_on() {
    let (_d, db) = fresh().await;
    let (a, b, rev, _) = answered(&db, 4).await;
    let q = make_queue(&db, rev, false, &form("grade", &[a, b], 4, "")).await.expect("queue");
    let (first, second) = (item_id(&db, q, 0).await, item_id(&db, q, 1).await);
    let saved = store_grade(&db, rev, false, &grade(&first, 2)).await.expect("grade");
    assert_eq!(saved.reveal, None, "saving reveals nothing in a blind queue");
    assert_eq!(saved.next_position, Some(1));
    store_grade(&db, rev, false, &grade(&first, 3))
        .await
        .expect("still the most recent: amend");
    store_grade(&db, rev, false, &grade(&second, 4)).await.expect("next item");
    assert!(is_conflict(
        store_grade(&db, rev, false, &grade(&first, 5)).await,
        "final once you move on"
    ));
    assert_eq!(queues::my_grade(&db, &first, rev).await.expect("grade").map(|g| g.overall), Some(3));
    store_grade(&db, rev, false, &grade(&second, 1))
        .await
        .expect("the most recent one can change");
    let (one, two) = (
        queues::item(&db, &first).await.expect("item"),
        queues::item(&db, &second).await.expect("item"),
    );
    assert!(queues::moved_on_from(&db, &one, rev).await.expect("moved"));
    assert!(!queues::moved_on_from(&db, &two, rev).await.expect("moved"));
}

#[tokio::test]
async fn grades_in_a_queue_that_is_not_blind_stay_upserts_and_reveal_to_those_who_may_read_answers() {
    let (_d, db) = fresh().await;
    let (a, b, _, admin) = answered(&db, 4).await;
    let unblind = QueueForm {
        unblind: Some("1".into()),
        ..form("grade", &[a, b], 4, "")
    };
    let q = make_queue(&db, admin, true, &unblind).await.expect("queue");
    let (first, second) = (item_id(&db, q, 0).await, item_id(&db, q, 1).await);
    let saved = store_grade(&db, admin, true, &grade(&first, 2)).await.expect("grade");
    assert!(saved.reveal.is_some_and(|t| t.contains("model-")));
    store_grade(&db, admin, true, &grade(&second, 4)).await.expect("next");
    store_grade(&db, admin, true, &grade(&first, 5))
        .await
        .expect("amend after moving on");
    // A reviewer grades blind only: here a grade would count in the figures at once, naming the
    // model of the answer they just judged.
    assert!(
        matches!(store_grade(&db, admin, false, &grade(&second, 4)).await, Err(AppError::Forbidden(m)) if m.contains("reviewers grade blind queues only")),
        "no grade from a role that may not read answers"
    );
}

#[tokio::test]
async fn a_closed_queue_takes_no_more_judgements_and_only_its_maker_or_an_admin_closes_it() {
    let (_d, db) = fresh().await;
    let (a, b, rev, admin) = answered(&db, 4).await;
    let other = users::create(&db, "rev2", Role::Reviewer, "x", false).await.expect("user");
    let q = make_queue(&db, rev, false, &form("grade", &[a, b], 4, "")).await.expect("queue");
    let p = make_queue(&db, rev, false, &form("pairwise", &[a, b], 4, "")).await.expect("queue");
    let first = item_id(&db, q, 0).await;
    store_grade(&db, rev, false, &grade(&first, 2)).await.expect("grade");
    // The vote comes before the grade's queue closes: after its reveal, a pair holding that
    // same answer is no longer the reviewer's to judge blind.
    let pair = item_id(&db, p, 0).await;
    store_vote(&db, rev, false, &pair, "a").await.expect("vote");
    assert!(matches!(shut_queue(&db, other, false, q).await, Err(AppError::Forbidden(_))));
    assert!(
        matches!(crate::api::grading::reveal(&db, rev, q).await, Err(AppError::Conflict(_))),
        "no reveal while open"
    );
    shut_queue(&db, rev, false, q).await.expect("the maker closes");
    assert!(matches!(shut_queue(&db, admin, true, q).await, Err(AppError::Conflict(m)) if m.contains("already closed")));
    assert!(is_conflict(store_grade(&db, rev, false, &grade(&first, 3)).await, "closed"));
    assert!(is_conflict(store_grade(&db, other, false, &grade(&first, 3)).await, "closed"));
    assert!(matches!(
        crate::api::grading::load_item(&db, rev, q, None).await,
        Err(AppError::Conflict(_))
    ));
    let shown = crate::api::grading::reveal(&db, rev, q).await.expect("reveal");
    assert_eq!(shown.len(), 1, "only what this reviewer judged");
    // The pairwise queue, still open, holds the same answer: its model waits for that queue.
    assert!(
        shown[0].withheld && !shown[0].left.contains("model-") && shown[0].grade == Some(2),
        "{:?}",
        shown[0]
    );
    assert!(crate::api::grading::reveal(&db, other, q).await.expect("reveal").is_empty());
    // Votes follow the same rules; an admin may close someone else's queue.
    shut_queue(&db, admin, true, p).await.expect("an admin closes");
    assert!(is_conflict(store_vote(&db, rev, false, &pair, "b").await, "closed"));
    let v = crate::api::grading::reveal(&db, rev, p).await.expect("reveal");
    assert!(v[0].right.is_some() && v[0].vote.as_deref() == Some("a"));
    let shown = crate::api::grading::reveal(&db, rev, q).await.expect("reveal");
    assert!(!shown[0].withheld && shown[0].left.contains("model-"), "{:?}", shown[0]);
}

#[tokio::test]
async fn a_reveal_withholds_an_answer_still_graded_blind_in_another_open_queue() {
    let (_d, db) = fresh().await;
    let (a, b, rev, admin) = answered(&db, 6).await;
    // Two queues over the same runs with the same seed hold the same answers.
    let mut f1 = form("grade", &[a, b], 4, "7");
    f1.name = "first".into();
    let mut f2 = form("grade", &[a, b], 4, "7");
    f2.name = "second".into();
    let q1 = make_queue(&db, admin, true, &f1).await.expect("queue");
    let q2 = make_queue(&db, admin, true, &f2).await.expect("queue");
    let first = item_id(&db, q1, 0).await;
    store_grade(&db, rev, false, &grade(&first, 4)).await.expect("grade");
    shut_queue(&db, admin, true, q1).await.expect("close");
    let shown = crate::api::grading::reveal(&db, rev, q1).await.expect("reveal");
    assert_eq!(shown.len(), 1);
    assert!(shown[0].withheld, "the same answer is still graded blind in queue 'second'");
    assert!(
        shown[0].left.contains("'second'") && !shown[0].left.contains("model-"),
        "{}",
        shown[0].left
    );
    assert_eq!(shown[0].grade, Some(4), "the reviewer still sees their own judgement");
    // Once the other queue closes, the model shows.
    shut_queue(&db, admin, true, q2).await.expect("close");
    let shown = crate::api::grading::reveal(&db, rev, q1).await.expect("reveal");
    assert!(!shown[0].withheld && shown[0].left.contains("model-"), "{:?}", shown[0]);

    // A queue made later with the same answers: the reviewer who saw that answer's model in the
    // reveal does not judge it again (it is not theirs); another reviewer does.
    let other = users::create(&db, "rev2", Role::Reviewer, "x", false).await.expect("user");
    let mut f3 = form("grade", &[a, b], 4, "7");
    f3.name = "third".into();
    let q3 = make_queue(&db, admin, true, &f3).await.expect("queue");
    let seen = item_id(&db, q3, 0).await;
    assert!(!reviewers::is_mine(&db, &seen, rev).await.expect("mine"));
    assert!(reviewers::is_mine(&db, &seen, other).await.expect("mine"));
    assert_eq!(
        queues::next_open(&db, q3, rev).await.expect("next"),
        Some(1),
        "skips the answer seen"
    );
    assert_eq!(queues::next_open(&db, q3, other).await.expect("next"), Some(0));
    let counts = |list: Vec<crate::domain::views::QueueView>| list.into_iter().find(|q| q.id == q3).map(|q| q.mine);
    // 4 requests from each of the two runs: 8 items, one of them seen by `rev`.
    assert_eq!(counts(queues::list(&db, rev).await.expect("list")), Some(7));
    assert_eq!(counts(queues::list(&db, other).await.expect("list")), Some(8));
    assert!(
        matches!(store_grade(&db, rev, false, &grade(&seen, 5)).await, Err(AppError::Forbidden(m)) if m.contains("'first'") && m.contains("same answer")),
        "refused, saying why"
    );
    assert!(matches!(
        crate::api::grading::load_item(&db, rev, q3, Some(0)).await,
        Err(AppError::Forbidden(m)) if m.contains("same answer")
    ));
    store_grade(&db, other, false, &grade(&seen, 5))
        .await
        .expect("the other reviewer grades it");

    // A queue with one grade per item deals that answer to the reviewer who has not seen it.
    let mut f4 = form("grade", &[a, b], 4, "7");
    f4.name = "fourth".into();
    f4.grades_per_item = "1".into();
    f4.reviewers = vec!["rev".into(), "rev2".into()];
    let q4 = make_queue(&db, admin, true, &f4).await.expect("queue");
    let dealt = item_id(&db, q4, 0).await;
    assert!(!reviewers::is_mine(&db, &dealt, rev).await.expect("mine"));
    assert!(
        reviewers::is_mine(&db, &dealt, other).await.expect("mine"),
        "dealt to the reviewer who may"
    );
}

#[tokio::test]
async fn an_upload_is_hidden_until_its_last_batch_and_a_stopped_one_is_removed() {
    let (_dir, db) = fresh().await;
    let new = |name: &'static str| datasets::NewDataset {
        name,
        description: "",
        source: "upload: t.jsonl",
        builtin: false,
        answer_schema: None,
        rubric: None,
        items: &[],
    };
    let before = datasets::list(&db).await.expect("list").len();
    let id = datasets::begin_upload(&db, new("up")).await.expect("begin");
    datasets::add_items(&db, id, 0, &[item("a"), item("b")]).await.expect("batch 1");
    assert_eq!(datasets::list(&db).await.expect("list").len(), before, "not listed while under way");
    assert!(datasets::get(&db, id).await.is_err(), "nor found by id");
    assert_eq!(datasets::id_by_name(&db, "up").await.expect("by name"), None);
    assert!(
        matches!(datasets::begin_upload(&db, new("up")).await, Err(DbError::Conflict(_))),
        "its name is held while it is under way"
    );
    datasets::add_items(&db, id, 2, &[item("c")]).await.expect("batch 2");
    datasets::finish_upload(&db, id, 3).await.expect("finish");
    let got = datasets::get(&db, id).await.expect("visible");
    assert_eq!(got.item_count, 3);
    assert_eq!(datasets::items(&db, id).await.expect("items").len(), 3);

    // A crash leaves a hidden dataset no upload touches: start-up removes it, items and all.
    let left = datasets::begin_upload(&db, new("left")).await.expect("begin");
    datasets::add_items(&db, left, 0, &[item("a")]).await.expect("batch");
    assert_eq!(datasets::clean_abandoned_uploads(&db).await.expect("clean"), 0, "touched just now");
    sqlx::query("UPDATE datasets SET touched_at = '2000-01-01T00:00:00Z' WHERE id = $1")
        .bind(left)
        .execute(&db)
        .await
        .expect("age it");
    assert_eq!(datasets::clean_abandoned_uploads(&db).await.expect("clean"), 1);
    let items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dataset_items WHERE dataset_id = $1")
        .bind(left)
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(items, 0);
    assert!(
        datasets::add_items(&db, left, 1, &[item("b")]).await.is_err(),
        "a removed upload cannot go on"
    );
}

#[tokio::test]
async fn records_page_in_schedule_order_and_the_timing_reads_leave_the_text_out() {
    let (_dir, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    // Stored out of order, two sharing an index (an import may): every one comes back once.
    let mut recs: Vec<RequestRecord> = (0..7u32).rev().map(|i| record(&format!("r{i}"), i)).collect();
    recs.push(record("r3-again", 3));
    for r in &mut recs {
        r.response = format!("answer of {}", r.custom_id);
        r.itl = vec![Duration::from_micros(700); 3];
    }
    records::insert_batch(&db, run, &recs).await.expect("insert");
    let mut pages = records::Pages::new(run, records::Read::Everything).with_size(3);
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next(&db).await.expect("page") {
        sizes.push(page.len());
        seen.extend(page);
    }
    assert_eq!(sizes, vec![3, 3, 2]);
    let idx: Vec<u32> = seen.iter().map(|r| r.idx).collect();
    assert_eq!(idx, vec![0, 1, 2, 3, 3, 4, 5, 6]);
    assert!(seen
        .iter()
        .all(|r| r.response == format!("answer of {}", r.custom_id) && r.itl.len() == 3));

    let timing = records::Pages::new(run, records::Read::Timing)
        .next(&db)
        .await
        .expect("page")
        .expect("records");
    assert!(
        timing.iter().all(|r| r.response.is_empty() && r.itl.len() == 3),
        "timing keeps the gaps"
    );
    let bare = records::Pages::new(run, records::Read::TimingNoGaps)
        .next(&db)
        .await
        .expect("page")
        .expect("records");
    assert!(bare.iter().all(|r| r.response.is_empty() && r.itl.is_empty()));
    assert_eq!(bare.len(), 8);
}

#[tokio::test]
async fn a_finished_run_reads_its_record_count_from_its_chart_data_and_a_running_one_counts() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    let w = holder("w");
    leases::claim_next(&db, &w, 30, true).await.expect("claim").expect("claimed");
    records::insert_batch(&db, run, &[record("a", 0), record("b", 1)])
        .await
        .expect("insert");
    // Running: counted live.
    assert_eq!(runs::get(&db, run).await.expect("get").done_requests, 2);
    assert!(runs::finish(&db, run, &w.owner, RunStatus::Completed, None, None)
        .await
        .expect("finish"));
    // Finished without chart data yet: still counted.
    assert_eq!(runs::get(&db, run).await.expect("get").done_requests, 2);
    // Finished with chart data: the count stored with it (a different number shows which is read).
    charts::put(&db, run, 7, &crate::domain::series::RunCharts::default())
        .await
        .expect("charts");
    assert_eq!(runs::get(&db, run).await.expect("get").done_requests, 7);
    let listed = runs::list(&db).await.expect("list");
    assert_eq!(listed.iter().find(|r| r.id == run).map(|r| r.done_requests), Some(7));
}

/// Postgres refuses U+0000 in text; an answer holding one (a model streaming garbage) is stored
/// on either backend, the NUL as U+FFFD, and nothing else changes.
#[tokio::test]
async fn an_answer_with_a_nul_character_is_stored_on_either_backend() {
    let (_dir, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    let mut r = record("a", 0);
    r.response = "bad\0answer".into();
    r.error = Some("oops\0".into());
    let clean = record("b", 1);
    assert_eq!(records::insert_batch(&db, run, &[r, clean.clone()]).await.expect("stored"), 2);
    let back = records::for_run(&db, run).await.expect("read");
    assert_eq!(back[0].response, "bad\u{FFFD}answer");
    assert_eq!(back[0].error.as_deref(), Some("oops\u{FFFD}"));
    assert_eq!(back[1].response, clean.response);
}
