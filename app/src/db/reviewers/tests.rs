//! Reviewers and their items on either backend (`BAKEOFF_TEST_PG` runs them on Postgres): who is
//! dealt what, who may judge what, and each reviewer's progress.

use super::*;
use crate::db::queues::{self, NewItem, Reviewing};
use crate::db::tests::{fresh, seed, spec};
use crate::db::{runs, users};
use crate::domain::accounts::Role;
use crate::domain::views::{Grade, QueueKind};

struct Queue {
    db: Db,
    id: i64,
    ana: i64,
    bo: i64,
    cy: i64,
}

fn id(n: usize) -> String {
    format!("item-{n}")
}

/// A queue of four items over one run, dealt two reviewers each (K = 2) among ana, bo and cy:
/// 0 to ana and bo, 1 to bo and cy, 2 to ana and cy, 3 to ana and bo. With `dealt` false, a
/// queue without K (everyone judges everything).
async fn queue(db: &Db, dealt: bool) -> Queue {
    let (e, d) = seed(db).await;
    let run = runs::insert(db, &spec(e, d), false, None).await.expect("run");
    let mut who = Vec::new();
    for name in ["cy", "ana", "bo", "admin"] {
        let role = if name == "admin" { Role::Admin } else { Role::Reviewer };
        who.push(users::create(db, name, role, "hash", false).await.expect("user"));
    }
    let (cy, ana, bo, admin) = (who[0], who[1], who[2], who[3]);
    let deal = [vec![ana, bo], vec![bo, cy], vec![ana, cy], vec![ana, bo]];
    let items: Vec<NewItem> = deal
        .iter()
        .enumerate()
        .map(|(n, judges)| NewItem {
            id: id(n),
            custom_id: format!("c{n}"),
            run_id: run,
            run_b: None,
            swap: false,
            judges: if dealt { judges.clone() } else { Vec::new() },
        })
        .collect();
    let reviewing = Reviewing {
        grades_per_item: 2,
        reviewers: vec![ana, bo, cy],
    };
    let id = queues::create(
        db,
        "q",
        QueueKind::Grade,
        true,
        Some(d),
        4,
        7,
        admin,
        &[run],
        &items,
        dealt.then_some(&reviewing),
    )
    .await
    .expect("queue");
    Queue {
        db: db.clone(),
        id,
        ana,
        bo,
        cy,
    }
}

impl Queue {
    async fn grade(&self, n: usize, user: i64, overall: u8) {
        let item = queues::item(&self.db, &id(n)).await.expect("item");
        let g = Grade {
            overall,
            fields: Default::default(),
            comment: String::new(),
            gold: false,
        };
        queues::save_grade(&self.db, &item, user, false, &g).await.expect("grade");
    }

    async fn mine(&self, n: usize, user: i64) -> bool {
        is_mine(&self.db, &id(n), user).await.expect("is_mine")
    }

    /// (name, assigned, judged, current) of each reviewer.
    async fn progress(&self, dealt: bool) -> Vec<(String, i64, i64, bool)> {
        progress(&self.db, self.id, dealt)
            .await
            .expect("progress")
            .into_iter()
            .map(|p| (p.name, p.assigned, p.judged, p.current))
            .collect()
    }
}

fn row(name: &str, assigned: i64, judged: i64, current: bool) -> (String, i64, i64, bool) {
    (name.to_string(), assigned, judged, current)
}

#[tokio::test]
async fn each_reviewer_may_judge_only_the_items_dealt_to_them() {
    let (_d, db) = fresh().await;
    let q = queue(&db, true).await;
    let names: Vec<String> = list(&db, q.id).await.expect("reviewers").into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["ana", "bo", "cy"], "the queue's reviewers, by name");
    let mut dealt = Vec::new();
    for n in 0..4 {
        dealt.push((q.mine(n, q.ana).await, q.mine(n, q.bo).await, q.mine(n, q.cy).await));
    }
    assert_eq!(
        dealt,
        [(true, true, false), (false, true, true), (true, false, true), (true, true, false)]
    );
    // Ana's items are 0, 2 and 3: at item 2 she is on her second of three.
    let at = around(&db, q.id, q.ana, 2).await.expect("around");
    assert_eq!(
        at,
        Around {
            ordinal: 2,
            count: 3,
            prev: Some(0),
            next: Some(3)
        }
    );
    let at = around(&db, q.id, q.cy, 1).await.expect("around");
    assert_eq!(
        at,
        Around {
            ordinal: 1,
            count: 2,
            prev: None,
            next: Some(2)
        }
    );
    assert_eq!(queues::next_open(&db, q.id, q.cy).await.expect("next"), Some(1));
    q.grade(1, q.cy, 4).await;
    assert_eq!(
        queues::next_open(&db, q.id, q.cy).await.expect("next"),
        Some(2),
        "her next own item"
    );
}

#[tokio::test]
async fn progress_counts_each_reviewers_own_items_and_judgements() {
    let (_d, db) = fresh().await;
    let q = queue(&db, true).await;
    assert_eq!(
        q.progress(true).await,
        [row("ana", 3, 0, true), row("bo", 3, 0, true), row("cy", 2, 0, true)]
    );
    q.grade(0, q.ana, 3).await;
    q.grade(0, q.bo, 5).await;
    q.grade(1, q.bo, 2).await;
    assert_eq!(
        q.progress(true).await,
        [row("ana", 3, 1, true), row("bo", 3, 2, true), row("cy", 2, 0, true)]
    );
    let judged_by: Vec<(String, Vec<i64>)> = judged(&db, q.id)
        .await
        .expect("judged")
        .into_iter()
        .map(|(item, who)| (item, who.into_iter().collect()))
        .collect();
    let mut both = vec![q.ana, q.bo];
    both.sort();
    assert_eq!(
        judged_by,
        [(id(0), both), (id(1), vec![q.bo]), (id(2), vec![]), (id(3), vec![])],
        "every item in queue order, with who judged it"
    );
    let mut all: Vec<(String, i64, Option<i64>)> = judgements(&db, q.id)
        .await
        .expect("judgements")
        .into_iter()
        .map(|j| (j.item_id, j.user_id, j.overall))
        .collect();
    all.sort();
    let mut want = vec![(id(0), q.ana, Some(3)), (id(0), q.bo, Some(5)), (id(1), q.bo, Some(2))];
    want.sort();
    assert_eq!(all, want);
}

#[tokio::test]
async fn a_removed_reviewer_keeps_what_they_judged_and_only_unjudged_items_are_dealt_again() {
    let (_d, db) = fresh().await;
    let q = queue(&db, true).await;
    q.grade(0, q.bo, 5).await;
    q.grade(1, q.bo, 2).await;
    // Bo leaves: his unjudged item 3 goes to cy; ana and cy keep theirs.
    let keep = [
        (id(0), q.ana),
        (id(1), q.cy),
        (id(2), q.ana),
        (id(2), q.cy),
        (id(3), q.ana),
        (id(3), q.cy),
    ];
    replace(&db, q.id, &[q.ana, q.cy], &keep).await.expect("replace");
    let names: Vec<String> = list(&db, q.id).await.expect("reviewers").into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["ana", "cy"]);
    assert!(!q.mine(3, q.bo).await, "no longer his");
    assert!(q.mine(3, q.cy).await, "dealt to cy");
    assert!(q.mine(0, q.bo).await, "what he judged stays his");
    assert_eq!(
        q.progress(true).await,
        [row("ana", 3, 0, true), row("bo", 2, 2, false), row("cy", 3, 0, true)]
    );
}

#[tokio::test]
async fn in_a_queue_without_k_everyone_judges_every_item() {
    let (_d, db) = fresh().await;
    let q = queue(&db, false).await;
    for n in 0..4 {
        assert!(q.mine(n, q.ana).await && q.mine(n, q.bo).await && q.mine(n, q.cy).await);
    }
    assert_eq!(list(&db, q.id).await.expect("reviewers"), vec![], "no assigned reviewers");
    assert_eq!(q.progress(false).await, vec![], "nobody has judged yet");
    q.grade(2, q.cy, 1).await;
    assert_eq!(q.progress(false).await, [row("cy", 4, 1, true)]);
    let at = around(&db, q.id, q.ana, 2).await.expect("around");
    assert_eq!(
        at,
        Around {
            ordinal: 3,
            count: 4,
            prev: Some(1),
            next: Some(3)
        }
    );
}
