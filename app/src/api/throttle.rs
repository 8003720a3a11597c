//! Log-in back-off: after repeated failures for one user name or from one address, further
//! attempts wait, longer each time. An attempt is counted when it starts (so a burst of
//! simultaneous guesses cannot all slip past the check) and taken back when it succeeds; the
//! password hashing itself runs a few at a time, so a flood of log-ins cannot exhaust memory
//! (Argon2 takes ~19 MiB each). Kept in memory (one process serves the log-ins).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the back-off starts.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait for an address.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// The longest wait for a user name: short, so that anyone who knows a name cannot lock its
/// owner out for long from another address.
pub const MAX_NAME_WAIT: Duration = Duration::from_secs(60);
/// Password checks run at once (each holds ~19 MiB and a core for ~20 ms).
pub const HASHING_AT_ONCE: usize = 2;
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

#[derive(Debug)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
    /// Permits to hash a password.
    pub hashing: tokio::sync::Semaphore,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE),
        }
    }
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

    fn wait(map: &HashMap<Key, Failures>, keys: &[Key], now: Instant) -> Duration {
        keys.iter()
            .filter_map(|k| {
                let f = map.get(k)?;
                let cap = if matches!(k, Key::Name(_)) { MAX_NAME_WAIT } else { MAX_WAIT };
                Some((f.last + wait_after(f.count).min(cap)).saturating_duration_since(now))
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// How long this name or address must still wait before trying again (zero: go ahead).
    pub fn must_wait(&self, name: &str, addr: Option<IpAddr>, now: Instant) -> Duration {
        let Ok(map) = self.failures.lock() else { return Duration::ZERO };
        Self::wait(&map, &Self::keys(name, addr), now)
    }

    /// Start an attempt: `Err(wait)` when the name or address must wait, else the attempt is
    /// counted as a failure until [`LoginThrottle::succeeded`] takes it back.
    pub fn begin(&self, name: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Ok(mut map) = self.failures.lock() else { return Ok(()) };
        let keys = Self::keys(name, addr);
        let wait = Self::wait(&map, &keys, now);
        if !wait.is_zero() {
            return Err(wait);
        }
        map.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        for k in keys {
            let f = map.entry(k).or_insert(Failures { count: 0, last: now });
            f.count += 1;
            f.last = now;
        }
        Ok(())
    }

    /// A success clears the name's count and takes the attempt back from the address (which
    /// keeps its failures: one address guessing many names is still slowed).
    pub fn succeeded(&self, name: &str, addr: Option<IpAddr>) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&Key::Name(name.trim().to_lowercase()));
            if let Some(f) = addr.and_then(|a| map.get_mut(&Key::Addr(a))) {
                f.count = f.count.saturating_sub(1);
            }
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
            assert_eq!(t.begin("Ana", Some(addr), now), Ok(()));
        }
        assert_eq!(
            t.must_wait("ana", None, now),
            Duration::from_secs(1),
            "names compare case-insensitively"
        );
        assert_eq!(
            t.must_wait("bob", Some(addr), now),
            Duration::from_secs(1),
            "the address is throttled for any name"
        );
        assert_eq!(t.begin("bob", Some(addr), now), Err(Duration::from_secs(1)));
        assert_eq!(t.must_wait("bob", None, now), Duration::ZERO);
        assert_eq!(
            t.must_wait("ana", None, now + Duration::from_secs(2)),
            Duration::ZERO,
            "the wait runs out"
        );
        t.succeeded("ana", Some(addr));
        assert_eq!(t.must_wait("ana", None, now), Duration::ZERO);
    }

    #[test]
    fn simultaneous_attempts_are_counted_as_they_start() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let started = (0..100).filter(|_| t.begin("admin", None, now).is_ok()).count();
        assert_eq!(started as u32, FREE_FAILURES, "a burst gets only the free attempts");
    }

    #[test]
    fn a_name_waits_at_most_a_minute_an_address_longer() {
        let t = LoginThrottle::default();
        let mut now = Instant::now();
        let addr: IpAddr = "10.1.2.3".parse().expect("ip");
        for _ in 0..40 {
            now += t.must_wait("admin", Some(addr), now);
            let _ = t.begin("admin", Some(addr), now);
        }
        assert!(t.must_wait("admin", None, now) <= MAX_NAME_WAIT);
        assert!(t.must_wait("x", Some(addr), now) > MAX_NAME_WAIT);
        t.succeeded("admin", None);
        assert_eq!(t.must_wait("admin", None, now), Duration::ZERO);
    }
}
