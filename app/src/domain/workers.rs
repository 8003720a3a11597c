//! The worker processes that share the database (issue 13): `bakeoff serve` with its worker,
//! `bakeoff worker` next to a GPU. What each takes from the queue, whether it is alive, and why a
//! queued run waits.

use serde::{Deserialize, Serialize};

/// Which command the worker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// The worker inside `bakeoff serve` (any endpoint, may start model servers).
    Serve,
    /// `bakeoff worker`: no web app; its endpoints and `--allow-launch` say what it takes.
    Worker,
    /// `bakeoff run`: measures the one run it queued, takes nothing from the queue.
    Run,
}

impl WorkerKind {
    /// The command, as people type it.
    pub fn label(self) -> &'static str {
        match self {
            WorkerKind::Serve => "bakeoff serve",
            WorkerKind::Worker => "bakeoff worker",
            WorkerKind::Run => "bakeoff run",
        }
    }
}

/// The endpoints a worker takes runs for. In JSON: `"any"`, or the list of names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Serves {
    Only(Vec<String>),
    Any(AnyEndpoint),
}

/// The word `"any"` (see [`Serves`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnyEndpoint {
    Any,
}

impl Serves {
    pub const ANY: Serves = Serves::Any(AnyEndpoint::Any);

    pub fn includes(&self, endpoint: &str) -> bool {
        match self {
            Serves::Any(_) => true,
            Serves::Only(names) => names.iter().any(|n| n == endpoint),
        }
    }

    /// "any endpoint", or "gpu-a, gpu-b".
    pub fn label(&self) -> String {
        match self {
            Serves::Any(_) => "any endpoint".into(),
            Serves::Only(names) if names.is_empty() => "none (its endpoints were deleted)".into(),
            Serves::Only(names) => names.join(", "),
        }
    }
}

/// Alive (beat within its lease), silent (stopped beating without a clean stop: it died, or its
/// machine or the database is unreachable), or stopped cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    Alive,
    Silent,
    Stopped,
}

impl Liveness {
    /// From the age of the last heartbeat and the worker's own lease (a worker renews every
    /// lease / 3 seconds, at most every 5 s: a beat older than the lease is missed three times).
    pub fn of(heartbeat_age_s: i64, lease_s: i64, stopped: bool) -> Liveness {
        if stopped {
            Liveness::Stopped
        } else if heartbeat_age_s <= lease_s.max(1) {
            Liveness::Alive
        } else {
            Liveness::Silent
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Liveness::Alive => "alive",
            Liveness::Silent => "silent",
            Liveness::Stopped => "stopped",
        }
    }
}

/// A run a worker holds now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRun {
    pub id: i64,
    pub name: String,
    /// The run's page.
    pub url: String,
}

/// A worker process as the Workers page and `GET /api/workers` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    /// `--name`, else its host name.
    pub name: String,
    pub kind: WorkerKind,
    pub host: String,
    pub pid: i64,
    pub endpoints: Serves,
    /// May start managed model servers (`--allow-launch`; `serve` always may).
    pub may_launch: bool,
    /// When it started (UTC, RFC 3339).
    pub started: String,
    /// Seconds since its last heartbeat, by the database's clock.
    pub heartbeat_age_s: i64,
    /// Its lease in seconds: silent for longer, it is no longer alive.
    pub lease_s: i64,
    pub state: Liveness,
    /// When it stopped cleanly (unix seconds).
    pub stopped_at_s: Option<i64>,
    /// The runs it measures now.
    pub runs: Vec<HeldRun>,
}

impl WorkerView {
    /// Would this worker take a queued run on `endpoint` (managed: Bakeoff starts its server)?
    pub fn takes(&self, endpoint: &str, managed: bool) -> bool {
        self.state == Liveness::Alive && self.kind != WorkerKind::Run && self.endpoints.includes(endpoint) && (self.may_launch || !managed)
    }
}

/// Why a queued run on `endpoint` waits, when no live worker would take it: said after
/// "queued: " on the run page. `None` when some live worker takes such runs (it waits its turn,
/// or for its GPU).
pub fn queue_wait(workers: &[WorkerView], endpoint: &str, managed: bool) -> Option<String> {
    let alive = workers
        .iter()
        .filter(|w| w.state == Liveness::Alive && w.kind != WorkerKind::Run)
        .count();
    if alive == 0 {
        return Some("waiting for a worker (none is alive)".into());
    }
    if workers.iter().any(|w| w.takes(endpoint, managed)) {
        return None;
    }
    let n = if alive == 1 {
        "1 worker is alive".to_string()
    } else {
        format!("{alive} workers are alive")
    };
    Some(if managed {
        format!(
            "waiting for a worker that takes runs on {endpoint} and may start its model server: {n}, none does \
             (start one with `bakeoff worker --allow-launch`)"
        )
    } else {
        format!("waiting for a worker that takes runs on {endpoint}: {n}, none does")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(endpoints: Serves, may_launch: bool, age: i64) -> WorkerView {
        WorkerView {
            name: "w".into(),
            kind: WorkerKind::Worker,
            host: "gpu-a".into(),
            pid: 7,
            endpoints,
            may_launch,
            started: "2025-03-01T00:00:00Z".into(),
            heartbeat_age_s: age,
            lease_s: 30,
            state: Liveness::of(age, 30, false),
            stopped_at_s: None,
            runs: vec![],
        }
    }

    #[test]
    fn a_worker_is_alive_within_its_lease_then_silent_and_a_clean_stop_says_so() {
        assert_eq!(Liveness::of(0, 30, false), Liveness::Alive);
        assert_eq!(Liveness::of(30, 30, false), Liveness::Alive);
        assert_eq!(Liveness::of(31, 30, false), Liveness::Silent);
        assert_eq!(Liveness::of(0, 30, true), Liveness::Stopped);
        assert_eq!(Liveness::of(1, 0, false), Liveness::Alive, "a lease is at least a second");
    }

    #[test]
    fn a_queued_run_with_no_live_worker_says_none_is_alive() {
        assert_eq!(queue_wait(&[], "a", false).as_deref(), Some("waiting for a worker (none is alive)"));
        let silent = worker(Serves::ANY, true, 90);
        assert_eq!(
            queue_wait(&[silent], "a", false).as_deref(),
            Some("waiting for a worker (none is alive)")
        );
    }

    #[test]
    fn a_run_some_live_worker_takes_has_no_note() {
        let w = worker(Serves::Only(vec!["a".into()]), false, 1);
        assert_eq!(queue_wait(&[w.clone()], "a", false), None);
        assert_eq!(queue_wait(&[worker(Serves::ANY, true, 1)], "a", true), None);
        assert!(queue_wait(&[w], "b", false).is_some_and(|m| m.contains("takes runs on b: 1 worker is alive, none does")));
    }

    #[test]
    fn a_managed_endpoint_waits_for_a_worker_allowed_to_launch() {
        let two = [worker(Serves::ANY, false, 1), worker(Serves::Only(vec!["m".into()]), false, 2)];
        let note = queue_wait(&two, "m", true).expect("nobody may launch");
        assert!(note.contains("--allow-launch") && note.contains("2 workers are alive"), "{note}");
    }

    #[test]
    fn endpoints_read_as_any_or_a_list_in_json() {
        assert_eq!(serde_json::to_value(Serves::ANY).expect("json"), serde_json::json!("any"));
        let only = Serves::Only(vec!["a".into(), "b".into()]);
        assert_eq!(serde_json::to_value(&only).expect("json"), serde_json::json!(["a", "b"]));
        for s in [Serves::ANY, only] {
            let back: Serves = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("back");
            assert_eq!(back, s);
        }
    }
}

crate::sql_text!(WorkerKind);
