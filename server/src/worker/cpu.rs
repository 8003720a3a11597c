//! CPU time used by this process (user + system), for the client's own cost per token.

use std::time::Duration;

/// Clock ticks per second of /proc times: USER_HZ, 100 on every mainstream Linux (man 5 proc).
const USER_HZ: f64 = 100.0;

/// CPU time of this process so far, from /proc/self/stat (fields 14 utime and 15 stime).
/// `None` where /proc is not available.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after it follow the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / USER_HZ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows_with_work() {
        let a = super::process_cpu().expect("linux /proc");
        let mut x: u64 = 0;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(120) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let b = super::process_cpu().expect("linux /proc");
        assert!(b > a, "{a:?} -> {b:?}");
    }
}
