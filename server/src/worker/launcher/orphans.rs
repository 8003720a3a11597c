//! Model servers whose worker died: found by their `model_servers` row, told from a later
//! process that reused the pid by the kernel's boot id and the leader's start time, and stopped
//! (their whole process group) before anything is relaunched. Linux `/proc` is read; elsewhere
//! the group's existence (`kill(-pgid, 0)`) is all there is to go on.

use super::Ledger;
use app::db::{self, leases::Holder, workers::ModelServer, Db, DbError};
use std::time::{Duration, Instant};

/// Write down a just-spawned process group.
pub(super) async fn write_down(l: &Ledger, pgid: i32, args: &[String]) -> Result<i64, DbError> {
    let entry = ModelServer {
        id: 0,
        run_id: l.run_id,
        boot_id: boot_id(),
        pgid: i64::from(pgid),
        start_ticks: proc_stat(pgid).map(|s| s.start_ticks),
        command: app::api::endpoints::command::display(args),
    };
    db::workers::add_model_server(&l.db, l.run_id, &l.host, &entry).await
}

/// Stop the model servers started on this host whose worker is gone (no live lease of another
/// worker holds their run), of one run or of all. Returns how many were still running.
pub async fn stop_orphans(db: &Db, me: &Holder, run_id: Option<i64>) -> usize {
    let rows = match db::workers::unstopped_model_servers(db, &me.host, &me.owner, run_id).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!("could not look for model servers left running: {e}");
            return 0;
        }
    };
    let boot = boot_id();
    let mut stopped = 0;
    for m in rows {
        if m.boot_id == boot && group_lives(m.pgid, m.start_ticks) {
            tracing::warn!(
                run = m.run_id,
                "stopping a model server left running by a worker that is gone: process group {} ({})",
                m.pgid,
                m.command
            );
            if let Ok(pgid) = i32::try_from(m.pgid) {
                // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
                unsafe {
                    libc::kill(-pgid, libc::SIGTERM);
                }
                terminate_group(pgid).await;
            }
            stopped += 1;
        }
        if let Err(e) = db::workers::model_server_stopped(db, m.id).await {
            tracing::warn!(run = m.run_id, "could not record that the model server stopped: {e}");
        }
    }
    stopped
}

/// Wait up to 10 s for every process of the group to exit (after a SIGTERM), then SIGKILL what
/// is left.
pub async fn terminate_group(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while members(pgid) > 0 {
        if Instant::now() >= deadline {
            // SAFETY: as above.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The recorded group still runs: some process is in it, and if its leader is alive it is the
/// process recorded (same start time). A group's id is not given to a new process while any
/// process of the group lives, so members without their leader are still the recorded group.
fn group_lives(pgid: i64, start_ticks: Option<i64>) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else { return false };
    if pgid <= 1 || members(pgid) == 0 {
        return false;
    }
    match proc_stat(pgid) {
        Some(s) if s.pgrp == pgid && s.state != 'Z' => start_ticks.is_none_or(|t| t == s.start_ticks),
        _ => true,
    }
}

/// Processes in the group that have not exited (zombies do not count).
fn members(pgid: i32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        // No /proc: whether the group exists at all.
        // SAFETY: signal 0 only checks that the group exists.
        return usize::from(unsafe { libc::kill(-pgid, 0) } == 0);
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(proc_stat)
        .filter(|s| s.pgrp == pgid && s.state != 'Z')
        .count()
}

struct ProcStat {
    state: char,
    pgrp: i32,
    start_ticks: i64,
}

/// Fields of `/proc/PID/stat` (proc(5)): state (3), pgrp (5), starttime (22).
fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// The kernel's boot id: a pid recorded under another boot is not a process of this one.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_from_proc_stat() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let s = proc_stat(me).expect("/proc/self/stat");
        assert!(s.start_ticks > 0);
        assert_ne!(s.state, 'Z');
        assert!(members(s.pgrp) >= 1);
    }

    #[tokio::test]
    async fn a_group_is_recognised_by_its_start_time_and_stopped_whole() {
        // A leader that starts a child in its group, both sleeping.
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60; wait"])
            .process_group(0)
            .spawn()
            .expect("sh");
        let pgid = i32::try_from(child.id().expect("pid")).expect("pid");
        let deadline = Instant::now() + Duration::from_secs(5);
        while members(pgid) < 3 {
            assert!(Instant::now() < deadline, "the group did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let ticks = proc_stat(pgid).expect("stat").start_ticks;
        assert!(group_lives(i64::from(pgid), Some(ticks)));
        assert!(
            !group_lives(i64::from(pgid), Some(ticks + 1)),
            "another process with that pid is not it"
        );
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let _ = child.wait().await;
        terminate_group(pgid).await;
        assert_eq!(members(pgid), 0, "every process of the group is gone");
        assert!(!group_lives(i64::from(pgid), Some(ticks)));
    }
}
