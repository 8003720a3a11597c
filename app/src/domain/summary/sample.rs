//! How many requests a figure rests on, and when that is too few to show it as a measurement.
//! One rule for every page and the report: a run of fewer than [`SMOKE_TEST_BELOW`] measured
//! requests is a smoke test (the report lists it apart and ranks it nowhere); a percentile is
//! shown only over enough samples to have one beyond it (p90 from 10, p99 from 100: with fewer,
//! a p99 is only the largest sample, or a line drawn toward it).

use crate::domain::format;
use crate::domain::stats::Distribution;

/// Runs of fewer measured requests than this are smoke tests, not measurements.
pub const SMOKE_TEST_BELOW: u64 = 100;

/// A run of this many measured requests is a smoke test (none at all is no run to judge).
pub fn is_smoke_test(requests: u64) -> bool {
    requests > 0 && requests < SMOKE_TEST_BELOW
}

/// The note a smoke test carries wherever its figures are shown; `None` for a measurement.
pub fn small_sample_note(requests: u64) -> Option<String> {
    is_smoke_test(requests).then(|| format!("small sample ({requests} requests): a smoke test, not a measurement"))
}

/// The percentiles the pages show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pct {
    P50,
    P90,
    P99,
}

impl Pct {
    pub const ALL: [Pct; 3] = [Pct::P50, Pct::P90, Pct::P99];

    pub fn label(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
        }
    }

    /// The fewest samples this percentile is shown from: enough that at least one sample lies
    /// beyond it (1 / (1 - q): 2 for the median, which one sample still is, 10 for p90, 100 for
    /// p99, the smoke-test line).
    pub fn min_samples(self) -> u64 {
        match self {
            Pct::P50 => 1,
            Pct::P90 => 10,
            Pct::P99 => SMOKE_TEST_BELOW,
        }
    }

    /// The distribution's own figure.
    pub fn of(self, d: &Distribution) -> f64 {
        match self {
            Pct::P50 => d.p50,
            Pct::P90 => d.p90,
            Pct::P99 => d.p99,
        }
    }
}

/// A percentile as the pages show it: its figure, or why it is not shown ("too few requests for
/// a p99 (n = 40)", for the cell's title beside a "—").
pub fn percentile(d: &Distribution, p: Pct) -> Result<f64, String> {
    if d.count < p.min_samples() {
        Err(format!("too few requests for a {} (n = {})", p.label(), d.count))
    } else {
        Ok(p.of(d))
    }
}

/// A percentile's cell: (text, title). The figure (ms, one decimal), or "—" with why; the title
/// names n whenever the sample is small, so that every percentile shows what it rests on.
pub fn percentile_cell(d: Option<&Distribution>, p: Pct) -> (String, String) {
    let Some(d) = d else {
        return ("—".into(), String::new());
    };
    match percentile(d, p) {
        Ok(v) if d.count < SMOKE_TEST_BELOW => (format::dec(v, 1), format!("{} of n = {} requests", p.label(), d.count)),
        Ok(v) => (format::dec(v, 1), String::new()),
        Err(why) => ("—".into(), why),
    }
}

/// What a sweep's best setting rests on: its steps' measured requests ("from 10 requests per
/// step"), hedged when a step is a smoke test. `None` without finished steps.
pub fn per_step_basis(requests: &[u64]) -> Option<String> {
    let (lo, hi) = (requests.iter().copied().min()?, requests.iter().copied().max()?);
    let per = if lo == hi {
        format!("from {lo} requests per step")
    } else {
        format!("from {lo}-{hi} requests per step")
    };
    Some(if lo < SMOKE_TEST_BELOW {
        format!("{per}: too few to rank the settings (a smoke test, not a measurement); measure {SMOKE_TEST_BELOW} or more per step before choosing")
    } else {
        per
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_n(n: usize) -> Distribution {
        let samples: Vec<f64> = (1..=n).map(|i| i as f64).collect();
        Distribution::of(&samples).expect("samples")
    }

    #[test]
    fn a_run_under_a_hundred_requests_is_a_smoke_test_and_a_hundred_is_not() {
        assert!(is_smoke_test(2) && is_smoke_test(99));
        assert!(!is_smoke_test(100) && !is_smoke_test(5000));
        assert!(!is_smoke_test(0), "no request is no run to judge, not a small sample");
        assert_eq!(
            small_sample_note(40).as_deref(),
            Some("small sample (40 requests): a smoke test, not a measurement")
        );
        assert_eq!(small_sample_note(100), None);
    }

    #[test]
    fn p99_of_fewer_than_a_hundred_requests_is_not_shown_and_says_why() {
        assert_eq!(percentile(&of_n(40), Pct::P99), Err("too few requests for a p99 (n = 40)".into()));
        assert_eq!(
            percentile(&of_n(99), Pct::P99).map(|_| ()),
            Err("too few requests for a p99 (n = 99)".into())
        );
        let d = of_n(100);
        assert_eq!(percentile(&d, Pct::P99), Ok(d.p99));
    }

    #[test]
    fn p90_needs_ten_requests_and_p50_one() {
        assert_eq!(percentile(&of_n(9), Pct::P90), Err("too few requests for a p90 (n = 9)".into()));
        assert!(percentile(&of_n(10), Pct::P90).is_ok());
        assert_eq!(percentile(&of_n(1), Pct::P50), Ok(1.0));
    }

    #[test]
    fn the_smoke_test_line_is_the_p99_line() {
        assert_eq!(Pct::P99.min_samples(), SMOKE_TEST_BELOW);
        assert!(Pct::ALL.windows(2).all(|w| w[0].min_samples() <= w[1].min_samples()));
    }

    #[test]
    fn a_small_samples_cells_name_n_and_a_large_ones_do_not() {
        let small = of_n(40);
        assert_eq!(
            percentile_cell(Some(&small), Pct::P99),
            ("—".into(), "too few requests for a p99 (n = 40)".into())
        );
        let (text, title) = percentile_cell(Some(&small), Pct::P50);
        assert_eq!((text.as_str(), title.as_str()), ("20.5", "p50 of n = 40 requests"));
        assert_eq!(percentile_cell(Some(&of_n(200)), Pct::P99).1, "");
        assert_eq!(percentile_cell(None, Pct::P50), ("—".into(), String::new()));
    }

    #[test]
    fn a_sweeps_basis_names_its_requests_per_step_and_hedges_under_a_hundred() {
        let small = per_step_basis(&[10, 10, 10]).expect("basis");
        assert!(small.starts_with("from 10 requests per step: too few to rank"), "{small}");
        assert_eq!(per_step_basis(&[200, 250]).as_deref(), Some("from 200-250 requests per step"));
        assert!(per_step_basis(&[200, 50]).is_some_and(|s| s.contains("too few")));
        assert_eq!(per_step_basis(&[]), None);
    }
}
