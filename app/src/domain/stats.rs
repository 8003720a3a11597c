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

/// Below this many samples an estimate is shown with its interval and n, never bare.
pub const SMALL_SAMPLE: u64 = 30;

/// A 95 % interval around an estimate, with the n it rests on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub n: u64,
}

impl Interval {
    /// The two intervals share no value.
    pub fn clear_of(&self, other: &Interval) -> bool {
        self.low > other.high || self.high < other.low
    }
}

/// Two-sided 95 % critical value of Student's t with `df` degrees of freedom: the exact table
/// for 1..=30, above that the Cornish-Fisher expansion around z = 1.959964 (Abramowitz & Stegun
/// 26.7.5), within 0.001 of the exact value.
pub fn t_critical_95(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
        2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df as usize - 1],
        _ => {
            let (z, v) = (1.959_964f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * v) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    }
}

/// 95 % t-interval of a mean: mean +/- t(n-1) s / sqrt(n). `None` with fewer than two samples
/// or no spread at all (every sample equal): the data then say nothing about the uncertainty,
/// and "+/- 0.00" would claim certainty that is not there.
pub fn mean_interval(xs: &[f64]) -> Option<Interval> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    if var <= 1e-12 {
        return None;
    }
    let half = t_critical_95(n as u64 - 1) * (var / n as f64).sqrt();
    Some(Interval {
        estimate: mean,
        low: mean - half,
        high: mean + half,
        n: n as u64,
    })
}

/// The interval of a stored mean grade and half-width (as `RunQuality` keeps them), within the
/// grades' scale (1 to 5: a t-interval from 3 grades can reach past it, "1.52-6.48", and no mean
/// grade can be 6.48): `None` when the half-width is unknown or zero (one grade, or all equal)
/// or n < 2.
pub fn mean_interval_from(mean: f64, half: Option<f64>, n: u64) -> Option<Interval> {
    let half = half.filter(|h| h.is_finite() && *h > 1e-12)?;
    (n >= 2).then_some(Interval {
        estimate: mean,
        low: (mean - half).max(GRADE_MIN),
        high: (mean + half).min(GRADE_MAX),
        n,
    })
}

/// The grades' scale.
pub const GRADE_MIN: f64 = 1.0;
pub const GRADE_MAX: f64 = 5.0;

/// 95 % Wilson score interval of a proportion `k` of `n` (Wilson 1927): unlike the normal
/// approximation it stays inside 0..=1 and is not zero-width at 0 % or 100 %.
/// center = (p + z^2/2n) / (1 + z^2/n), half = z / (1 + z^2/n) sqrt(p(1-p)/n + z^2/4n^2).
pub fn wilson(k: u64, n: u64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let (z, nf) = (1.959_964f64, n as f64);
    let p = k as f64 / nf;
    let d = 1.0 + z * z / nf;
    let center = (p + z * z / (2.0 * nf)) / d;
    let half = z / d * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt();
    Some(Interval {
        estimate: p,
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
        n,
    })
}

/// A proportion in words: "80% (8/10; 95% CI 49%-94%)", the interval given below
/// [`SMALL_SAMPLE`] answers, plain "80% (800/1,000)" above.
pub fn describe_share(k: u64, n: u64) -> String {
    match wilson(k, n) {
        None => "unknown (n=0)".into(),
        Some(w) if n < SMALL_SAMPLE => format!(
            "{:.0}% ({k}/{n}; 95% CI {:.0}%–{:.0}%)",
            w.estimate * 100.0,
            w.low * 100.0,
            w.high * 100.0
        ),
        Some(w) => format!("{} ({k}/{})", super::format::percent(w.estimate), super::format::int(n as f64)),
    }
}

/// A mean with its interval: "3.40 (95% CI 2.61–4.19, n=5)", or why there is none:
/// "3.00 (n=2, all equal: too few to give an interval)".
pub fn describe_mean(mean: f64, interval: Option<&Interval>, n: u64) -> String {
    match interval {
        Some(i) => format!("{mean:.2} (95% CI {:.2}–{:.2}, n={n})", i.low, i.high),
        None if n < 2 => format!("{mean:.2} (n={n}: too few to give an interval)"),
        None => format!("{mean:.2} (n={n}, no spread: interval unknown)"),
    }
}

/// The index of the clear winner: the highest estimate whose interval lies wholly above every
/// other's. `None` with fewer than two candidates, any interval unknown, or overlapping intervals
/// (then "best" is not supported by the data).
pub fn clearly_best(candidates: &[Option<Interval>]) -> Option<usize> {
    if candidates.len() < 2 {
        return None;
    }
    let known: Vec<Interval> = candidates.iter().copied().collect::<Option<Vec<_>>>()?;
    let best = (0..known.len()).max_by(|&a, &b| known[a].estimate.total_cmp(&known[b].estimate))?;
    known
        .iter()
        .enumerate()
        .all(|(i, o)| i == best || known[best].low > o.high)
        .then_some(best)
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

    #[test]
    fn t_critical_values_match_the_table_and_approach_z() {
        assert_eq!(t_critical_95(1), 12.706);
        assert_eq!(t_critical_95(4), 2.776);
        assert!((t_critical_95(60) - 2.000).abs() < 1e-3, "{}", t_critical_95(60));
        assert!((t_critical_95(120) - 1.980).abs() < 1e-3);
        assert!(t_critical_95(100_000) > 1.959 && t_critical_95(100_000) < 1.961);
    }

    #[test]
    fn a_mean_of_five_grades_gets_a_t_interval() {
        // 2,3,4,4,5: mean 3.6, s = 1.1402, t(4) = 2.776: half = 2.776 x 1.1402 / sqrt 5 = 1.4156.
        let i = mean_interval(&[2.0, 3.0, 4.0, 4.0, 5.0]).expect("interval");
        assert!((i.estimate - 3.6).abs() < 1e-12);
        assert!((i.high - i.estimate - 1.4156).abs() < 1e-3, "{i:?}");
        assert_eq!(i.n, 5);
    }

    #[test]
    fn two_equal_grades_have_no_interval_and_never_read_plus_minus_zero() {
        assert_eq!(mean_interval(&[3.0, 3.0]), None);
        assert_eq!(mean_interval(&[3.0]), None);
        let clamped = mean_interval_from(4.0, Some(2.48), 3).expect("interval");
        assert!(
            (clamped.low - 1.52).abs() < 1e-9 && clamped.high == 5.0,
            "no mean grade is above 5: {clamped:?}"
        );
        assert_eq!(describe_mean(4.0, Some(&clamped), 3), "4.00 (95% CI 1.52–5.00, n=3)");
        let words = describe_mean(3.0, None, 2);
        assert!(
            !words.contains("0.00") && words.contains("n=2") && words.contains("interval unknown"),
            "{words}"
        );
        assert!(describe_mean(3.0, None, 1).contains("too few"));
    }

    #[test]
    fn wilson_matches_a_published_example_and_stays_in_range() {
        // Wilson (1927) / Newcombe (1998) example: 81 of 263 -> 0.2553 to 0.3662.
        let w = wilson(81, 263).expect("interval");
        assert!((w.low - 0.2553).abs() < 1e-3 && (w.high - 0.3662).abs() < 1e-3, "{w:?}");
        // All 5 of 5: the interval is not zero-width at 100 %.
        let all = wilson(5, 5).expect("interval");
        assert_eq!(all.high, 1.0);
        assert!((all.low - 0.5655).abs() < 1e-3, "{all:?}");
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn small_shares_carry_their_interval_and_n_large_ones_do_not_need_it() {
        assert_eq!(describe_share(8, 10), "80% (8/10; 95% CI 49%–94%)");
        assert_eq!(describe_share(800, 1000), "80% (800/1,000)");
    }

    #[test]
    fn best_only_when_the_intervals_do_not_overlap() {
        let iv = |e: f64, h: f64| {
            Some(Interval {
                estimate: e,
                low: e - h,
                high: e + h,
                n: 10,
            })
        };
        assert_eq!(clearly_best(&[iv(4.5, 0.2), iv(3.0, 0.5)]), Some(0));
        assert_eq!(clearly_best(&[iv(3.0, 0.5), iv(3.4, 0.6)]), None, "overlap: no winner");
        assert_eq!(clearly_best(&[iv(4.5, 0.2), None]), None, "an unknown interval decides nothing");
        assert_eq!(clearly_best(&[iv(4.5, 0.2)]), None, "one run is not the best of several");
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
