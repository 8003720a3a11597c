//! Which requests a run sends, in what order, and when (the arrival schedule). One request loop
//! in the worker is driven by this; load shapes differ only here.

use super::rng::SplitMix64;
use std::time::Duration;

/// One request of a run's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// Position in the run (0-based), warm-up first.
    pub idx: u32,
    /// Which dataset item it sends.
    pub item: usize,
    /// The item's `custom_id`, suffixed `~k` on the k-th pass when the run cycles the dataset.
    pub custom_id: String,
    pub warmup: bool,
}

/// `warmup` warm-up requests, then `requests` measured ones, cycling over the dataset's items.
pub fn plan(item_ids: &[String], warmup: u32, requests: u32) -> Vec<Planned> {
    plan_iter(item_ids, warmup, requests).collect()
}

/// [`plan`], one request at a time (a run of a million requests is never held in memory).
pub fn plan_iter(item_ids: &[String], warmup: u32, requests: u32) -> impl Iterator<Item = Planned> + Send + '_ {
    let n = item_ids.len();
    let total = if n == 0 { 0 } else { warmup + requests };
    (0..total).map(move |i| {
        let i = i as usize;
        let pass = i / n;
        let base = &item_ids[i % n];
        Planned {
            idx: i as u32,
            item: i % n,
            custom_id: super::dataset::pass_id(base, pass),
            warmup: i < warmup as usize,
        }
    })
}

/// Send times of requests arriving as a Poisson process at `rate` per second (exponential gaps,
/// seeded), as offsets from the start, one at a time; the first arrives after one gap.
pub struct PoissonArrivals {
    g: SplitMix64,
    mean: f64,
    t: f64,
}

impl PoissonArrivals {
    pub fn new(rate: f64, seed: u64) -> PoissonArrivals {
        PoissonArrivals {
            g: SplitMix64::new(seed ^ 0x5eed_a771_7a15),
            mean: 1.0 / rate.max(1e-9),
            t: 0.0,
        }
    }
}

impl Iterator for PoissonArrivals {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        self.t += self.g.exponential(self.mean);
        Some(Duration::from_secs_f64(self.t))
    }
}

/// The first `n` of [`PoissonArrivals`].
pub fn poisson_arrivals(n: usize, rate: f64, seed: u64) -> Vec<Duration> {
    PoissonArrivals::new(rate, seed).take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn a_run_longer_than_the_dataset_cycles_with_unique_ids() {
        let p = plan(&ids(3), 1, 6);
        assert_eq!(p.len(), 7);
        assert!(p[0].warmup && !p[1].warmup);
        let got: Vec<&str> = p.iter().map(|x| x.custom_id.as_str()).collect();
        assert_eq!(got, vec!["c0", "c1", "c2", "c0~2", "c1~2", "c2~2", "c0~3"]);
    }

    #[test]
    fn an_empty_dataset_plans_nothing() {
        assert!(plan(&[], 0, 10).is_empty());
    }

    #[test]
    fn poisson_arrivals_have_the_requested_mean_rate() {
        let a = poisson_arrivals(20_000, 50.0, 1);
        let rate = a.len() as f64 / a[a.len() - 1].as_secs_f64();
        assert!((rate - 50.0).abs() < 1.5, "{rate}");
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(poisson_arrivals(5, 2.0, 9), poisson_arrivals(5, 2.0, 9));
    }
}
