//! `bakeoff db backup FILE` and `bakeoff db check`: a consistent copy of an SQLite database while
//! `serve` runs and writes (Postgres: pg_dump), and a check of a database on either backend
//! (SQLite's own checks, or what Postgres offers; the migrations it has against this binary's,
//! references to nothing, rows per table). Restoring is copying a backup back (README,
//! "Backups").

use app::db::maintenance::{self, AppliedMigration};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Copy the database to FILE, consistently, even while `serve` runs and runs are writing.
    ///
    /// SQLite's VACUUM INTO: the copy holds what was committed when it began, and writers are not
    /// held up. To restore: stop serve, copy the backup over the database file, remove its -wal
    /// and -shm files, start serve.
    Backup {
        /// The copy to write; refused if it exists, unless --force.
        file: PathBuf,
        /// Replace FILE if it exists (the old copy stays until the new one is complete).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: ExistingDb,
    },
    /// Check a database: integrity, foreign keys, migrations, rows per table (status 1 on a problem).
    ///
    /// SQLite's integrity and foreign-key checks (on Postgres, which checks its own pages: every
    /// foreign key, and pg_amcheck named for a deeper check); the migrations applied against this
    /// binary's (newer than the binary is a problem; older says that `serve` will upgrade it); the
    /// rows in each table. Reads only: it never creates the database or changes its data.
    Check {
        #[command(flatten)]
        db: ExistingDb,
    },
    /// Copy an SQLite database into an empty Postgres database, checked table by table.
    ///
    /// Both are brought to this release's migrations first. Every table is copied in one
    /// Postgres transaction, in the order references need, and it commits only when each table
    /// has as many rows in Postgres as in the file. The file is left as it was (apart from the
    /// migrations). Stop `serve` first, so nothing is written to the file meanwhile.
    Copy {
        /// The SQLite database file.
        #[arg(long)]
        from: PathBuf,
        /// The Postgres database, as a postgres:// URL (it must be empty: a new database). From
        /// the environment, it stays off the command line and out of `ps`.
        #[arg(long, env = "BAKEOFF_COPY_TO", hide_env_values = true)]
        to: String,
    },
}

/// The database to read (never created here).
#[derive(Args, Debug, Clone)]
pub struct ExistingDb {
    /// The SQLite database file (it must exist), or for `db check` a postgres:// URL.
    #[arg(long = "db", env = "BAKEOFF_DB", hide_env_values = true, default_value = super::DEFAULT_DB)]
    pub path: PathBuf,
}

pub async fn dispatch(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Backup { db, .. } if is_postgres(&db.path) => anyhow::bail!(
            "{} is a Postgres database: back it up with pg_dump (for example `pg_dump --format=custom --file=bakeoff.dump URL`)",
            app::db::pool::redacted(&db.path.to_string_lossy())
        ),
        DbCommand::Backup { file, force, db } => backup(&db.path, &file, force).await,
        DbCommand::Check { db } => check(&db.path).await,
        DbCommand::Copy { from, to } => copy(&from, &to).await,
    }
}

fn is_postgres(path: &Path) -> bool {
    app::db::pool::Backend::of(&path.to_string_lossy()) == app::db::pool::Backend::Postgres
}

async fn copy(from: &Path, to: &str) -> anyhow::Result<()> {
    use app::db::pool::{redacted, Backend};
    anyhow::ensure!(
        Backend::of(to) == Backend::Postgres,
        "--to takes a postgres:// URL (the database to copy into), got '{}'",
        redacted(to)
    );
    anyhow::ensure!(
        !is_postgres(from) && from.is_file(),
        "--from takes the SQLite database file to copy; {} is not a file",
        from.display()
    );
    let started = Instant::now();
    let src = app::db::connect(from)
        .await
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", from.display()))?;
    let dst = app::db::connect(Path::new(to))
        .await
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", redacted(to)))?;
    let mut last = String::new();
    let copied = app::db::copy::sqlite_to_postgres(&src, &dst, |table, rows| {
        if table != last || rows % 100_000 == 0 {
            eprintln!("  {table}: {rows} rows");
            last = table.to_string();
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e} (nothing was committed to {})", redacted(to)))?;
    println!(
        "copied {} into {} in {:.1} s, checked:",
        from.display(),
        redacted(to),
        started.elapsed().as_secs_f64()
    );
    for c in &copied {
        println!(
            "  {:<24} {:>10} rows in the file, {:>10} in Postgres",
            c.table, c.source_rows, c.target_rows
        );
    }
    Ok(())
}

async fn open(path: &Path) -> anyhow::Result<app::db::Db> {
    maintenance::open_existing(path)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (give the database with --db PATH or BAKEOFF_DB)"))
}

async fn backup(src: &Path, file: &Path, force: bool) -> anyhow::Result<()> {
    if file.exists() && !force {
        anyhow::bail!("{} exists: give another file name, or --force to replace it", file.display());
    }
    if let (Ok(a), Ok(b)) = (src.canonicalize(), file.canonicalize()) {
        anyhow::ensure!(a != b, "{} is the database itself: give another file name", file.display());
    }
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    anyhow::ensure!(dir.is_dir(), "the directory {} does not exist: create it first", dir.display());
    let name = file
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", file.display()))?
        .to_string_lossy()
        .to_string();
    // Never over the database's own journal files (renaming over the live -wal loses commits).
    if let (Ok(db_path), Ok(d)) = (src.canonicalize(), dir.canonicalize()) {
        let target = d.join(&name);
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut own = db_path.clone().into_os_string();
            own.push(suffix);
            anyhow::ensure!(
                target.as_os_str() != own.as_os_str(),
                "{} is the database's own {suffix} file: give another file name",
                file.display()
            );
        }
    }
    // Written beside FILE under another name, then renamed: FILE is only ever a whole copy. The
    // partial file is made here first, new (never through a link someone left at that name) and
    // readable by its owner only (the copy holds password hashes and endpoint keys).
    let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let mut new_file = std::fs::OpenOptions::new();
    new_file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut new_file, 0o600);
    new_file
        .open(&partial)
        .map_err(|e| anyhow::anyhow!("could not create {}: {e} (remove it if a backup was cut short)", partial.display()))?;

    let db = open(src).await?;
    let started = Instant::now();
    let copied = maintenance::vacuum_into(&db, &partial).await;
    db.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        anyhow::bail!("backing up {} failed: {e}", src.display());
    }
    // VACUUM INTO does not flush the copy to disk: do it before the copy takes FILE's name.
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, file).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        anyhow::anyhow!("could not name the backup {}: {e}", file.display())
    })?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    let took = started.elapsed();

    // What the copy holds, read from the copy itself.
    let copy = open(file).await?;
    let counts = maintenance::table_counts(&copy).await?;
    let latest = maintenance::applied_migrations(&copy)
        .await?
        .and_then(|m| m.iter().map(|m| m.version).max());
    copy.close().await;
    let size = std::fs::metadata(file)?.len();
    println!(
        "backed up {} to {} in {:.1} s: {}, {} tables, migrations up to {}",
        src.display(),
        file.display(),
        took.as_secs_f64(),
        human_size(size),
        counts.len(),
        latest.map(|v| format!("{v:04}")).unwrap_or_else(|| "none".into())
    );
    print_counts(&counts);
    println!("check it with: bakeoff db check --db {}", file.display());
    Ok(())
}

/// What to do about a damaged SQLite file.
const RESTORE: &str = "restore the last backup (bakeoff db backup makes them; README, \"Backups\")";

/// SQLite's words for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB).
const DAMAGED: [&str; 2] = ["database disk image is malformed", "file is not a database"];

/// [`check_all`], and for a damaged file (SQLite cannot read it far enough to check it) the
/// integrity line anyway, and what to do.
async fn check(path: &Path) -> anyhow::Result<()> {
    let Err(e) = check_all(path).await else { return Ok(()) };
    let text = format!("{e:#}");
    match DAMAGED.into_iter().find(|d| text.contains(d)) {
        Some(said) => {
            println!("integrity: failed ({said})");
            anyhow::bail!("{} is damaged: {RESTORE}", app::db::pool::redacted(&path.to_string_lossy()))
        }
        None => Err(e),
    }
}

async fn check_all(path: &Path) -> anyhow::Result<()> {
    use app::db::pool::{redacted, Backend};
    let db = open(path).await?;
    let backend = Backend::of_pool(&db);
    let mut problems: Vec<String> = Vec::new();
    let shown = redacted(&path.to_string_lossy());

    match backend {
        Backend::Sqlite => {
            println!("database {shown} ({})", human_size(std::fs::metadata(path)?.len()));
            let integrity = maintenance::integrity_problems(&db).await?;
            if integrity.is_empty() {
                println!("integrity: ok");
            } else {
                println!("integrity: failed ({} finding(s))", integrity.len());
                for f in &integrity {
                    println!("  {f}");
                }
                problems.push(format!("SQLite's integrity check failed: {RESTORE}"));
            }
        }
        Backend::Postgres => {
            let (checksums, size) = maintenance::postgres_facts(&db).await?;
            println!("database {shown} (Postgres, {})", human_size(u64::try_from(size).unwrap_or(0)));
            println!(
                "integrity: Postgres checks its own pages as it reads them (data checksums {checksums}); \
                 for a deeper check of tables and indexes run pg_amcheck (for example `pg_amcheck --heapallindexed DBNAME`)"
            );
        }
    }

    let orphans = maintenance::orphans(&db).await?;
    if orphans.is_empty() {
        println!("foreign keys: ok");
    } else {
        let total: i64 = orphans.iter().map(|o| o.rows).sum();
        println!("foreign keys: {total} row(s) point at nothing");
        for o in &orphans {
            println!("  {} in {} refer to a missing row of {}", o.rows, o.table, o.parent);
        }
        problems.push(format!("{total} row(s) refer to rows that do not exist (foreign keys)"));
    }

    let known: Vec<Known> = backend
        .migrator()
        .iter()
        .map(|m| Known {
            version: m.version,
            description: m.description.to_string(),
            checksum: m.checksum.to_vec(),
        })
        .collect();
    match maintenance::applied_migrations(&db).await? {
        None => {
            println!("migrations: none (no _sqlx_migrations table)");
            problems.push("this is not a Bakeoff database: it has no migrations table".into());
        }
        Some(applied) => {
            let state = compare(&applied, &known);
            let backup_with = match backend {
                Backend::Sqlite => "bakeoff db backup FILE",
                Backend::Postgres => "pg_dump --format=custom --file=FILE DBNAME",
            };
            println!("migrations: {}", state.summary_with(backup_with));
            problems.extend(state.problems());
        }
    }

    let counts = maintenance::table_counts(&db).await?;
    println!("tables: {}", counts.len());
    print_counts(&counts);
    db.close().await;

    if problems.is_empty() {
        println!("no problems found");
        Ok(())
    } else {
        anyhow::bail!("{} problem(s) in {shown}:\n  {}", problems.len(), problems.join("\n  "))
    }
}

fn print_counts(counts: &[(String, i64)]) {
    let width = counts.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, n) in counts {
        println!("  {name:<width$}  {n}");
    }
}

fn human_size(bytes: u64) -> String {
    const MB: f64 = 1_000_000.0;
    if bytes >= 1_000_000_000 {
        format!("{:.2} GB", bytes as f64 / (MB * 1000.0))
    } else if bytes >= 100_000 {
        format!("{:.1} MB", bytes as f64 / MB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A migration this binary carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub version: i64,
    pub description: String,
    pub checksum: Vec<u8>,
}

/// The database's migrations against this binary's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationState {
    pub applied: usize,
    pub known: usize,
    /// This binary's migrations the database does not have yet: `serve` applies them.
    pub pending: Vec<(i64, String)>,
    /// Applied migrations this binary does not know: a newer Bakeoff wrote the database.
    pub unknown: Vec<(i64, String)>,
    /// Applied with another text than this binary's (checksums differ).
    pub changed: Vec<(i64, String)>,
    /// Started and not finished.
    pub failed: Vec<(i64, String)>,
}

/// Compare what a database has applied with what this binary carries.
pub fn compare(applied: &[AppliedMigration], known: &[Known]) -> MigrationState {
    let mut s = MigrationState {
        applied: applied.len(),
        known: known.len(),
        ..Default::default()
    };
    for a in applied {
        let label = (a.version, a.description.clone());
        match known.iter().find(|k| k.version == a.version) {
            None => s.unknown.push(label),
            Some(k) if !a.success => s.failed.push((k.version, k.description.clone())),
            Some(k) if k.checksum != a.checksum => s.changed.push((k.version, k.description.clone())),
            Some(_) => {}
        }
    }
    s.pending = known
        .iter()
        .filter(|k| !applied.iter().any(|a| a.version == k.version))
        .map(|k| (k.version, k.description.clone()))
        .collect();
    s
}

fn listed(items: &[(i64, String)]) -> String {
    items.iter().map(|(v, d)| format!("{v:04} {d}")).collect::<Vec<_>>().join(", ")
}

impl MigrationState {
    /// One line for the report (an SQLite file's: back up with `bakeoff db backup`).
    pub fn summary(&self) -> String {
        self.summary_with("bakeoff db backup FILE")
    }

    /// One line for the report, naming `backup` as the way to back up first.
    pub fn summary_with(&self, backup: &str) -> String {
        let mut line = format!("{} applied, this binary has {}", self.applied, self.known);
        if !self.unknown.is_empty() {
            line.push_str(&format!("; newer than this binary ({})", listed(&self.unknown)));
        } else if !self.pending.is_empty() {
            line.push_str(&format!(
                "; older than this binary: `bakeoff serve` will upgrade it when it starts, applying {} (back up first: {backup})",
                listed(&self.pending)
            ));
        } else if self.changed.is_empty() && self.failed.is_empty() {
            line.push_str(": up to date");
        }
        line
    }

    /// What is wrong, each in a sentence that says what to do.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.unknown.is_empty() {
            out.push(format!(
                "the database is newer than this binary: it has migration(s) {} that this Bakeoff does not know. \
                 A newer release wrote it: run that release (or a later one), not this binary, on it",
                listed(&self.unknown)
            ));
        }
        for (v, d) in &self.changed {
            out.push(format!(
                "migration {v:04} {d} was applied from another text than this binary's (its checksum differs): \
                 a released migration must never change; use the binary that applied it"
            ));
        }
        for (v, d) in &self.failed {
            out.push(format!(
                "migration {v:04} {d} failed part-way: restore the backup taken before the upgrade"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(v: i64) -> Known {
        Known {
            version: v,
            description: format!("m{v}"),
            checksum: vec![v as u8],
        }
    }

    fn applied(v: i64) -> AppliedMigration {
        AppliedMigration {
            version: v,
            description: format!("m{v}"),
            success: true,
            checksum: vec![v as u8],
        }
    }

    #[test]
    fn the_same_migrations_are_up_to_date() {
        let s = compare(&[applied(1), applied(2)], &[known(1), known(2)]);
        assert!(s.problems().is_empty() && s.pending.is_empty());
        assert!(s.summary().ends_with("up to date"), "{}", s.summary());
    }

    #[test]
    fn an_older_database_is_not_a_problem_and_says_serve_upgrades_it() {
        let s = compare(&[applied(1)], &[known(1), known(2), known(3)]);
        assert!(s.problems().is_empty());
        assert_eq!(s.pending, vec![(2, "m2".into()), (3, "m3".into())]);
        assert!(s.summary().contains("serve` will upgrade it"), "{}", s.summary());
    }

    #[test]
    fn a_newer_database_is_a_problem_that_names_its_unknown_migrations() {
        let s = compare(&[applied(1), applied(2), applied(3)], &[known(1), known(2)]);
        let p = s.problems();
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("newer than this binary") && p[0].contains("0003 m3"), "{p:?}");
        assert!(!s.summary().contains("up to date"));
    }

    #[test]
    fn a_changed_or_failed_migration_is_a_problem() {
        let mut changed = applied(2);
        changed.checksum = vec![99];
        let mut failed = applied(3);
        failed.success = false;
        let s = compare(&[applied(1), changed, failed], &[known(1), known(2), known(3)]);
        assert_eq!(s.changed, vec![(2, "m2".into())]);
        assert_eq!(s.failed, vec![(3, "m3".into())]);
        assert_eq!(s.problems().len(), 2);
    }
}
