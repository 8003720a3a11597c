//! `bakeoff db check` on the suite's backend: an SQLite file, or with BAKEOFF_TEST_PG a Postgres
//! database (scripts/test.sh runs this file on both). The binary, a real database: a sound one
//! passes and lists its migrations and rows; a migration from a newer release and rows that
//! point at nothing are problems (status 1) that say what is wrong. On Postgres, `db backup`
//! still points at pg_dump, and a database that does not exist is not created.

use app::db::pool::{self, Backend};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");

/// `bakeoff db check --db TARGET` (or another `db` subcommand): (success, stdout, stderr).
fn db_command(args: &[&str], target: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("db")
        .args(args)
        .arg("--db")
        .arg(target)
        .env_remove("BAKEOFF_DB")
        .output()
        .expect("run bakeoff");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A new database of the suite's backend, migrated, with one user: its `--db` value and pool.
async fn database(dir: &tempfile::TempDir) -> (PathBuf, app::db::Db) {
    let target = pool::test_target(dir.path(), "check.db").await.expect("a database");
    let db = app::db::connect(&target).await.expect("connect + migrate");
    app::db::users::create(&db, "ana", app::domain::accounts::Role::Reviewer, "hash", false)
        .await
        .expect("user");
    (target, db)
}

fn backend(target: &Path) -> Backend {
    Backend::of(&target.to_string_lossy())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_database_passes_with_its_migrations_and_rows_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, db) = database(&dir).await;
    db.close().await;
    let (ok, stdout, stderr) = db_command(&["check"], &target);
    assert!(ok, "db check of a sound database:\n{stdout}\n{stderr}");
    let n = backend(&target).migrator().iter().count();
    assert!(
        stdout.contains(&format!("migrations: {n} applied, this binary has {n}: up to date")),
        "{stdout}"
    );
    assert!(stdout.contains("foreign keys: ok"), "{stdout}");
    assert!(stdout.contains("no problems found"), "{stdout}");
    let count = |table: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    };
    assert_eq!(count("users").as_deref(), Some("1"), "{stdout}");
    assert_eq!(count("_sqlx_migrations"), Some(n.to_string()), "{stdout}");
    assert_eq!(count("request_records").as_deref(), Some("0"), "{stdout}");
    match backend(&target) {
        Backend::Sqlite => assert!(stdout.contains("integrity: ok"), "{stdout}"),
        Backend::Postgres => {
            assert!(
                stdout.contains("Postgres checks its own pages") && stdout.contains("pg_amcheck"),
                "says what Postgres checks and names the deeper check:\n{stdout}"
            );
            assert!(!stdout.contains("sqlite"), "{stdout}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_from_a_newer_release_is_a_problem_that_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, db) = database(&dir).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'from the future', $1, $2, 0)",
    )
    .bind(true)
    .bind(vec![0u8])
    .execute(&db)
    .await
    .expect("a later release's migration");
    db.close().await;
    let (ok, stdout, stderr) = db_command(&["check"], &target);
    assert!(!ok, "a newer database is a problem:\n{stdout}");
    assert!(
        stderr.contains("newer than this binary") && stderr.contains("9999 from the future"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_point_at_nothing_are_a_problem_counted_per_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, db) = database(&dir).await;
    let (off, on) = match backend(&target) {
        Backend::Sqlite => ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"),
        // Past Postgres's own checks, as a bad restore or a replica would be.
        Backend::Postgres => ("SET session_replication_role = replica", "SET session_replication_role = DEFAULT"),
    };
    {
        let mut c = db.acquire().await.expect("connection");
        sqlx::query(off).execute(&mut *c).await.expect("checks off");
        sqlx::query("INSERT INTO queue_reviewers (queue_id, user_id) VALUES (990, 991), (992, 991)")
            .execute(&mut *c)
            .await
            .expect("rows that point at nothing");
        sqlx::query(on).execute(&mut *c).await.expect("checks on");
    }
    db.close().await;
    let (ok, stdout, stderr) = db_command(&["check"], &target);
    assert!(!ok, "orphans are a problem:\n{stdout}");
    assert!(stdout.contains("foreign keys: 4 row(s) point at nothing"), "{stdout}");
    assert!(stdout.contains("2 in queue_reviewers refer to a missing row of queues"), "{stdout}");
    assert!(stdout.contains("2 in queue_reviewers refer to a missing row of users"), "{stdout}");
    assert!(stderr.contains("refer to rows that do not exist"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_backup_points_at_pg_dump_and_a_missing_database_is_not_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, db) = database(&dir).await;
    db.close().await;
    if backend(&target) != Backend::Postgres {
        // The SQLite side of both is in backup.rs.
        return;
    }
    let (ok, _, stderr) = db_command(&["backup", "out.dump"], &target);
    assert!(!ok && stderr.contains("pg_dump"), "{stderr}");
    let text = target.to_string_lossy();
    let cut = text.rfind('/').expect("a database name");
    let missing = PathBuf::from(format!("{}/bakeoff_never_made_{}", &text[..cut], std::process::id()));
    let (ok, _, stderr) = db_command(&["check"], &missing);
    assert!(!ok && stderr.contains("does not exist"), "{stderr}");
    let admin = app::db::maintenance::open_existing(&target).await.expect("open");
    let made: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'bakeoff_never_made_%'")
        .fetch_one(&admin)
        .await
        .expect("count");
    assert_eq!(made, 0, "db check creates no database");
}

/// `bakeoff ARGS` with its stdout a pipe whose reader is closed already (`| head -1` that has
/// read its line): (exit code, stderr).
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(BIN)
        .args(args)
        .env_remove("BAKEOFF_DB")
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .output()
        .expect("run bakeoff");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_a_command_quietly_with_status_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, db) = database(&dir).await;
    db.close().await;
    let target = target.to_string_lossy().into_owned();
    for args in [vec!["db", "check", "--db", &target], vec!["user", "list", "--db", &target]] {
        let (code, stderr) = with_closed_stdout(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_file_fails_its_integrity_check_and_says_to_restore_a_backup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, db) = database(&dir).await;
    if backend(&target) != Backend::Sqlite {
        return; // Postgres checks its own pages.
    }
    // Everything in the main file (none of it left in the write-ahead log).
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&db)
        .await
        .expect("checkpoint");
    db.close().await;
    // A damaged copy: every page after the first two overwritten.
    let mut bytes = std::fs::read(&target).expect("read");
    assert!(bytes.len() > 3 * 4096, "{} bytes", bytes.len());
    for b in &mut bytes[2 * 4096..] {
        *b = 0x5a;
    }
    let copy = dir.path().join("damaged.db");
    std::fs::write(&copy, &bytes).expect("write");
    let (ok, stdout, stderr) = db_command(&["check"], &copy);
    assert!(!ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("integrity: failed ("), "{stdout}\n{stderr}");
    assert!(stderr.contains("restore the last backup (bakeoff db backup"), "{stderr}");
}
