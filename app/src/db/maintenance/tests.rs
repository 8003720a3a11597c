//! `db check`'s queries on either backend (`BAKEOFF_TEST_PG` runs them on Postgres).

use super::*;
use crate::db::tests::fresh;
use crate::domain::accounts::Role;

/// The database `fresh` made, opened again as `bakeoff db check` opens it.
async fn reopened(dir: &tempfile::TempDir, db: &Db) -> Db {
    let target = match Backend::of_pool(db) {
        Backend::Sqlite => dir.path().join("t.db"),
        Backend::Postgres => std::path::PathBuf::from(db.connect_options().database_url.to_string()),
    };
    open_existing(&target).await.expect("open as it is")
}

#[tokio::test]
async fn a_migrated_database_has_each_migration_of_its_backend_its_tables_counted_and_no_orphans() {
    let (dir, migrated) = fresh().await;
    let db = reopened(&dir, &migrated).await;
    let known: Vec<_> = Backend::of_pool(&db).migrator().iter().collect();
    let applied = applied_migrations(&db).await.expect("query").expect("a migrations table");
    assert_eq!(applied.len(), known.len());
    for (a, k) in applied.iter().zip(&known) {
        assert_eq!((a.version, a.success), (k.version, true));
        assert_eq!(a.checksum, k.checksum.to_vec(), "migration {} as this binary has it", k.version);
    }
    crate::db::users::create(&db, "ana", Role::Reviewer, "hash", false)
        .await
        .expect("user");
    let counts = table_counts(&db).await.expect("counts");
    let names: Vec<&str> = counts.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    let count = |t: &str| counts.iter().find(|(n, _)| n == t).map(|(_, c)| *c);
    assert_eq!(count("_sqlx_migrations"), Some(known.len() as i64));
    assert_eq!(count("users"), Some(1));
    assert_eq!(count("request_records"), Some(0));
    assert!(counts.len() > 20, "every table: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("sqlite_") || n.starts_with("pg_")), "{names:?}");
    assert_eq!(orphans(&db).await.expect("orphans"), vec![]);
}

#[tokio::test]
async fn references_to_nothing_are_counted_per_table_and_parent() {
    let (dir, migrated) = fresh().await;
    let db = reopened(&dir, &migrated).await;
    let (off, on) = match Backend::of_pool(&db) {
        Backend::Sqlite => ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"),
        // Postgres checks its foreign keys on every write: only a superuser gets past them, as a
        // bad restore or a replica would.
        Backend::Postgres => ("SET session_replication_role = replica", "SET session_replication_role = DEFAULT"),
    };
    {
        let mut c = db.acquire().await.expect("connection");
        sqlx::query(off).execute(&mut *c).await.expect("checks off");
        for queue in [990_i64, 992] {
            sqlx::query("INSERT INTO queue_reviewers (queue_id, user_id) VALUES ($1, 991)")
                .bind(queue)
                .execute(&mut *c)
                .await
                .expect("a row that points at nothing");
        }
        sqlx::query(on).execute(&mut *c).await.expect("checks on");
    }
    let found = orphans(&db).await.expect("orphans");
    let o = |parent: &str| Orphans {
        table: "queue_reviewers".into(),
        parent: parent.into(),
        rows: 2,
    };
    assert_eq!(found, vec![o("queues"), o("users")]);
}

#[tokio::test]
async fn a_database_bakeoff_never_opened_has_no_migrations_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = crate::db::pool::test_target(dir.path(), "empty.db").await.expect("target");
    if Backend::of(&target.to_string_lossy()) == Backend::Sqlite {
        // An SQLite file that exists (open_existing never creates one).
        std::fs::write(&target, b"").expect("empty file");
    }
    let db = open_existing(&target).await.expect("open");
    assert_eq!(applied_migrations(&db).await.expect("query"), None);
    assert_eq!(table_counts(&db).await.expect("counts"), vec![]);
}
