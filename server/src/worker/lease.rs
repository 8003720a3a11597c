//! The worker's side of leases (the queries are in `app::db::leases`): who this process is, how
//! long its leases last, and the keeper that renews one run's lease while this process measures
//! it and tells the request loop to stop when the process drains or the lease is lost.

use super::drive::Stop;
use super::RunError;
use app::db::{self, leases::Holder, Db};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// `--lease-s` and `--drain-timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// A lease not renewed for this long expires, and another worker may take the run over.
    pub lease: Duration,
    /// On SIGTERM/SIGINT, how long requests in flight may take to finish before they are aborted
    /// (an aborted request is not stored: the run's resumer sends it again).
    pub drain_timeout: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings {
            lease: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl LeaseSettings {
    /// Renewals: every 5 s, or three per lease for short leases.
    pub fn heartbeat(&self) -> Duration {
        (self.lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The lease in whole seconds (the database's clock counts seconds), at least 1.
    pub fn seconds(&self) -> i64 {
        (self.lease.as_secs() as i64).max(1)
    }
}

/// What a drained run becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterDrain {
    /// Back to `queued`, lease released: any worker resumes it (`serve` on SIGTERM/SIGINT).
    Requeue,
    /// `interrupted`, kept as it is; no worker adopts it (Ctrl-C on `bakeoff run`).
    Interrupt,
}

/// Why a run's request loop must stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Halt {
    /// The process is shutting down: finish what is in flight (up to the drain timeout).
    Drain,
    /// Another worker holds the run now: stop at once, store nothing more.
    LeaseLost,
}

/// This process's leases: its identity, their length, and its shutdown signal.
#[derive(Clone)]
pub struct Leases {
    pub holder: Arc<Holder>,
    pub settings: LeaseSettings,
    pub after_drain: AfterDrain,
    /// Take over runs whose lease expired (`--on-restart resume`).
    pub takeover: bool,
    shutdown: watch::Receiver<bool>,
}

/// Starts a drain of every run this process holds.
pub struct Shutdown(watch::Sender<bool>);

impl Shutdown {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Leases {
    pub fn new(settings: LeaseSettings, after_drain: AfterDrain, takeover: bool) -> (Leases, Shutdown) {
        let (tx, rx) = watch::channel(false);
        let host = host_name();
        let pid = std::process::id();
        let leases = Leases {
            holder: Arc::new(Holder {
                owner: format!("{host}/{pid}/{:016x}", random_u64()),
                host,
                pid,
            }),
            settings,
            after_drain,
            takeover,
            shutdown: rx,
        };
        (leases, Shutdown(tx))
    }

    pub fn owner(&self) -> &str {
        &self.holder.owner
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves once a shutdown was triggered (never, if the trigger is gone without firing).
    pub async fn shutdown_requested(&self) {
        let mut rx = self.shutdown.clone();
        if rx.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Keep the lease of a claimed run alive while this process executes it.
    pub fn keep(&self, db: Db, run_id: i64) -> RunLease {
        let (tx, halt) = watch::channel(None);
        let me = self.clone();
        let keeper = tokio::spawn(async move {
            let mut last_ok = Instant::now();
            let mut draining = false;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(me.settings.heartbeat()) => {
                        match db::leases::renew(&db, run_id, me.owner(), me.settings.seconds()).await {
                            Ok(true) => last_ok = Instant::now(),
                            Ok(false) => {
                                tracing::warn!(run = run_id, "lost the run's lease (another worker took it over): stopping at once");
                                tx.send_replace(Some(Halt::LeaseLost));
                                return;
                            }
                            Err(e) if last_ok.elapsed() >= me.settings.lease => {
                                tracing::error!(run = run_id, "could not renew the run's lease for {:?} ({e}): stopping", me.settings.lease);
                                tx.send_replace(Some(Halt::LeaseLost));
                                return;
                            }
                            Err(e) => tracing::warn!(run = run_id, "could not renew the run's lease: {e}"),
                        }
                    }
                    _ = me.shutdown_requested(), if !draining => {
                        draining = true;
                        tx.send_replace(Some(Halt::Drain));
                    }
                }
            }
        });
        RunLease {
            halt,
            measuring: AtomicBool::new(false),
            drain_timeout: self.settings.drain_timeout,
            keeper,
        }
    }
}

/// One run's lease while this process executes it (renewed until this is dropped).
pub struct RunLease {
    halt: watch::Receiver<Option<Halt>>,
    measuring: AtomicBool,
    pub drain_timeout: Duration,
    keeper: tokio::task::JoinHandle<()>,
}

impl RunLease {
    pub fn halt(&self) -> watch::Receiver<Option<Halt>> {
        self.halt.clone()
    }

    /// The request loop starts: from now on it stops by itself on a halt (draining, storing
    /// what finished); before, a halt abandons the run's preparation outright.
    pub fn start_measuring(&self) {
        self.measuring.store(true, Ordering::SeqCst);
    }

    pub fn measuring(&self) -> bool {
        self.measuring.load(Ordering::SeqCst)
    }
}

impl Drop for RunLease {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// Wait for a halt at least as strong as `above` (`None`: any). Never resolves if the keeper is
/// gone without one.
pub async fn halted(rx: &mut watch::Receiver<Option<Halt>>, above: Option<Halt>) -> Halt {
    let seen = rx.wait_for(|h| h.is_some() && *h > above).await.map(|h| *h).ok().flatten();
    match seen {
        Some(h) => h,
        None => std::future::pending().await,
    }
}

/// Run `inner` (a run's preparation, then its measurement) until it ends or, during the
/// preparation (pre-flight, a model server loading), until a halt: then it is dropped, which
/// stops a model server being started (its process group). Once measuring, the request loop
/// handles a halt itself (drain, store, stop the model server), so it is awaited to its end.
pub(super) async fn until_halted(inner: impl Future<Output = Result<Stop, RunError>>, lease: &RunLease) -> Result<Stop, RunError> {
    let mut halt = lease.halt();
    tokio::pin!(inner);
    let mut seen = None;
    loop {
        tokio::select! {
            r = &mut inner => return r,
            h = halted(&mut halt, seen), if seen.is_none() => {
                if !lease.measuring() {
                    return Ok(h.into());
                }
                seen = Some(h);
            }
        }
    }
}

/// This machine's name (the lease's host; model servers are stopped only by a worker on it).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname(2) writes at most `len` bytes into the buffer it is given.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if r == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".into(),
    }
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_leases_renew_three_times_per_lease_and_long_ones_every_five_seconds() {
        let s = |secs| LeaseSettings {
            lease: Duration::from_secs(secs),
            drain_timeout: Duration::from_secs(1),
        };
        assert_eq!(s(30).heartbeat(), Duration::from_secs(5));
        assert_eq!(s(3).heartbeat(), Duration::from_secs(1));
        assert_eq!(s(0).seconds(), 1);
    }

    #[tokio::test]
    async fn a_halt_wakes_the_waiter_once_per_level() {
        let (tx, mut rx) = watch::channel(None);
        tx.send_replace(Some(Halt::Drain));
        assert_eq!(halted(&mut rx, None).await, Halt::Drain);
        let waiting = tokio::spawn(async move { halted(&mut rx, Some(Halt::Drain)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a drain already seen does not wake it again");
        tx.send_replace(Some(Halt::LeaseLost));
        assert_eq!(waiting.await.expect("join"), Halt::LeaseLost);
    }
}
