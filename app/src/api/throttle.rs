//! Log-in back-off: after repeated failures for one user name or from one address, further
//! attempts wait, longer each time. Kept in memory (one process serves the log-ins).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the back-off starts.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A key's failures are forgotten after this long without one.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Name(String),
    Addr(IpAddr),
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

/// The wait after `count` failures: none for the first [`FREE_FAILURES`], then 1 s doubling up to
/// [`MAX_WAIT`].
pub fn wait_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_WAIT)
}

impl LoginThrottle {
    fn keys(name: &str, addr: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::Name(name.trim().to_lowercase())];
        keys.extend(addr.map(Key::Addr));
        keys
    }

    /// How long this name or address must still wait before trying again (zero: go ahead).
    pub fn must_wait(&self, name: &str, addr: Option<IpAddr>, now: Instant) -> Duration {
        let Ok(map) = self.failures.lock() else { return Duration::ZERO };
        Self::keys(name, addr)
            .iter()
            .filter_map(|k| map.get(k))
            .map(|f| (f.last + wait_after(f.count)).saturating_duration_since(now))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub fn failed(&self, name: &str, addr: Option<IpAddr>, now: Instant) {
        let Ok(mut map) = self.failures.lock() else { return };
        map.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        for k in Self::keys(name, addr) {
            let f = map.entry(k).or_insert(Failures { count: 0, last: now });
            f.count += 1;
            f.last = now;
        }
    }

    /// A success clears the name's count (the address keeps its own: one address guessing many
    /// names is still slowed).
    pub fn succeeded(&self, name: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&Key::Name(name.trim().to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_are_free_then_the_wait_doubles_to_a_cap() {
        assert_eq!(wait_after(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(wait_after(FREE_FAILURES), Duration::from_secs(1));
        assert_eq!(wait_after(FREE_FAILURES + 3), Duration::from_secs(8));
        assert_eq!(wait_after(1000), MAX_WAIT);
    }

    #[test]
    fn a_name_and_an_address_are_throttled_apart() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let addr: IpAddr = "10.1.2.3".parse().expect("ip");
        for _ in 0..FREE_FAILURES {
            t.failed("Ana", Some(addr), now);
        }
        assert_eq!(t.must_wait("ana", None, now), Duration::from_secs(1), "names compare case-insensitively");
        assert_eq!(t.must_wait("bob", Some(addr), now), Duration::from_secs(1), "the address is throttled for any name");
        assert_eq!(t.must_wait("bob", None, now), Duration::ZERO);
        assert_eq!(t.must_wait("ana", None, now + Duration::from_secs(2)), Duration::ZERO, "the wait runs out");
        t.succeeded("ana");
        assert_eq!(t.must_wait("ana", None, now), Duration::ZERO);
        assert_eq!(t.must_wait("x", Some(addr), now), Duration::from_secs(1));
    }
}
