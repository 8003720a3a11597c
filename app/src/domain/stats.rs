//! Descriptive statistics over measured samples.
//!
//! Percentiles use linear interpolation between closest ranks (Hyndman & Fan 1996, definition 7;
//! the default of NumPy's `percentile` and of R's `quantile`): for sorted samples `x[0..n]` and a
//! fraction `q`, `h = (n - 1) q`, and the result is `x[floor h] + (h - floor h)(x[ceil h] - x[floor h])`.
//! It is exact (no bucketing): Bakeoff keeps every sample, so there is no need to approximate.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Mean and the percentiles Bakeoff reports for one measured quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Distribution {
    /// Summarise samples (any order). `None` when there are none: an empty run has no p50.
    pub fn of(samples: &[f64]) -> Option<Distribution> {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let sum: f64 = sorted.iter().sum();
        Some(Distribution {
            count: sorted.len() as u64,
            mean: sum / sorted.len() as f64,
            min: sorted[0],
            p50: percentile_sorted(&sorted, 0.50),
            p90: percentile_sorted(&sorted, 0.90),
            p99: percentile_sorted(&sorted, 0.99),
            max: sorted[sorted.len() - 1],
        })
    }

    /// Summarise durations, in milliseconds.
    pub fn of_durations_ms(samples: impl IntoIterator<Item = Duration>) -> Option<Distribution> {
        let ms: Vec<f64> = samples.into_iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Distribution::of(&ms)
    }
}

/// Percentile `q` (0..=1) of samples already sorted ascending; see the module doc for the rule.
/// Panics never: an empty slice gives NaN, `q` is clamped to 0..=1.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = h.ceil() as usize;
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Empirical CDF points `(value, fraction <= value)` of the samples, at most `max_points` of them
/// (evenly spaced in rank), for charts.
pub fn ecdf(samples: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 || max_points == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(max_points).max(1);
    let mut out: Vec<(f64, f64)> = (0..n).step_by(step).map(|i| (sorted[i], (i + 1) as f64 / n as f64)).collect();
    if out.last().map(|p| p.1) != Some(1.0) {
        out.push((sorted[n - 1], 1.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn p99_of_one_sample_is_that_sample() {
        let d = Distribution::of(&[42.0]).expect("one sample");
        assert_eq!((d.p50, d.p90, d.p99, d.mean), (42.0, 42.0, 42.0, 42.0));
    }

    #[test]
    fn no_samples_means_no_distribution() {
        assert!(Distribution::of(&[]).is_none());
        assert!(Distribution::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn percentiles_interpolate_between_ranks_like_numpy() {
        // numpy.percentile([1,2,3,4,5,6,7,8,9,10], [50, 90, 99]) == [5.5, 9.1, 9.91]
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let d = Distribution::of(&xs).expect("samples");
        assert!((d.p50 - 5.5).abs() < 1e-9);
        assert!((d.p90 - 9.1).abs() < 1e-9);
        assert!((d.p99 - 9.91).abs() < 1e-9);
        assert!((d.mean - 5.5).abs() < 1e-9);
    }

    #[test]
    fn order_of_samples_does_not_matter() {
        let a = Distribution::of(&[3.0, 1.0, 2.0]).expect("samples");
        let b = Distribution::of(&[1.0, 2.0, 3.0]).expect("samples");
        assert_eq!(a, b);
    }

    #[test]
    fn ecdf_ends_at_one_and_is_capped() {
        let xs: Vec<f64> = (0..1000).map(f64::from).collect();
        let c = ecdf(&xs, 50);
        assert!(c.len() <= 51);
        assert_eq!(c.last().map(|p| p.1), Some(1.0));
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    proptest! {
        #[test]
        fn percentiles_are_monotone_and_bounded(xs in proptest::collection::vec(-1e6f64..1e6, 1..200)) {
            let d = Distribution::of(&xs).expect("non-empty");
            prop_assert!(d.min <= d.p50 + 1e-9);
            prop_assert!(d.p50 <= d.p90 + 1e-9);
            prop_assert!(d.p90 <= d.p99 + 1e-9);
            prop_assert!(d.p99 <= d.max + 1e-9);
            prop_assert!(d.min <= d.mean + 1e-6 && d.mean <= d.max + 1e-6);
        }
    }
}
