//! Agreement statistics for grades and votes.
//!
//! Cohen's kappa (Cohen 1960): kappa = (p_o - p_e) / (1 - p_e) over items rated by two raters.
//! Weighted kappa (Cohen 1968) for ordered scales: kappa_w = 1 - sum(w_ij o_ij) / sum(w_ij e_ij)
//! with disagreement weights w_ij = |i-j|/(k-1) (linear) or (|i-j|/(k-1))^2 (quadratic), o the
//! observed and e the expected (product of marginals) proportions.

use super::rng::SplitMix64;
use super::stats::{mean_interval, percentile_sorted, Interval};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Weights {
    /// Unweighted: every disagreement counts fully (nominal scales).
    None,
    Linear,
    Quadratic,
}

/// Kappa for pairs of ratings given as category indexes in 0..k. `None` with no pairs, or
/// when chance agreement is total (both raters used one and the same category throughout).
pub fn cohen_kappa(pairs: &[(usize, usize)], k: usize, weights: Weights) -> Option<f64> {
    if pairs.is_empty() || k < 2 {
        return None;
    }
    let n = pairs.len() as f64;
    let mut obs = vec![vec![0.0; k]; k];
    let (mut row, mut col) = (vec![0.0; k], vec![0.0; k]);
    for &(a, b) in pairs {
        if a >= k || b >= k {
            return None;
        }
        obs[a][b] += 1.0 / n;
        row[a] += 1.0 / n;
        col[b] += 1.0 / n;
    }
    let w = |i: usize, j: usize| -> f64 {
        let d = (i as f64 - j as f64).abs() / (k - 1) as f64;
        match weights {
            Weights::None => {
                if i == j {
                    0.0
                } else {
                    1.0
                }
            }
            Weights::Linear => d,
            Weights::Quadratic => d * d,
        }
    };
    let (mut o, mut e) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            o += w(i, j) * obs[i][j];
            e += w(i, j) * row[i] * col[j];
        }
    }
    (e > 1e-12).then(|| 1.0 - o / e)
}

/// Landis & Koch's (1977) words for a kappa.
pub fn describe_kappa(k: f64) -> &'static str {
    match k {
        k if k < 0.0 => "worse than chance",
        k if k <= 0.20 => "slight",
        k if k <= 0.40 => "fair",
        k if k <= 0.60 => "moderate",
        k if k <= 0.80 => "substantial",
        _ => "almost perfect",
    }
}

/// Landis & Koch's word for a kappa only when its whole interval lies in that band; otherwise
/// the items are too few to put it in words (5 items can give a kappa of 0.85 whose interval
/// runs from "slight" to "almost perfect").
pub fn kappa_words(interval: Option<&Interval>) -> &'static str {
    match interval {
        Some(i) if describe_kappa(i.low) == describe_kappa(i.high) => describe_kappa(i.estimate),
        _ => "too few items to say",
    }
}

/// Kappa with a 95 % bootstrap interval: the items (pairs) resampled with replacement
/// `resamples` times from a fixed seed (same data, same interval), the 2.5th and 97.5th
/// percentiles of the kappas that are defined. `None` when the kappa itself is undefined or
/// there are fewer than 2 items.
pub fn kappa_interval(pairs: &[(usize, usize)], k: usize, weights: Weights, resamples: usize, seed: u64) -> Option<Interval> {
    let estimate = cohen_kappa(pairs, k, weights)?;
    if pairs.len() < 2 {
        return None;
    }
    let mut g = SplitMix64::new(seed);
    let mut kappas: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let sample: Vec<(usize, usize)> = (0..pairs.len()).map(|_| pairs[g.below(pairs.len() as u64) as usize]).collect();
            cohen_kappa(&sample, k, weights)
        })
        .collect();
    if kappas.len() < resamples / 2 {
        // Most resamples had no defined kappa (e.g. one category throughout): no interval.
        return None;
    }
    kappas.sort_by(f64::total_cmp);
    Some(Interval {
        estimate,
        low: percentile_sorted(&kappas, 0.025).min(estimate),
        high: percentile_sorted(&kappas, 0.975).max(estimate),
        n: pairs.len() as u64,
    })
}

/// Resamples and seed of the kappa intervals Bakeoff shows.
pub const KAPPA_RESAMPLES: usize = 1000;
pub const KAPPA_SEED: u64 = 1977;

/// Mean and 95 % half-width of grades: Student's t with n - 1 degrees of freedom (t s / sqrt(n));
/// the half-width is 0 when it is unknown (one grade, or all equal): show such a mean with
/// [`super::stats::describe_mean`], which says so, never as "+/- 0".
pub fn mean_ci(xs: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    Some((mean, mean_interval(xs).map(|i| i.high - i.estimate).unwrap_or(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unweighted_kappa_matches_a_hand_computed_table() {
        // 2x2: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 (n = 50).
        // p_o = 35/50 = 0.7; A yes 25/50, B yes 30/50; p_e = .5*.6 + .5*.4 = 0.5; kappa = 0.4.
        let mut pairs = vec![(0, 0); 20];
        pairs.extend(vec![(0, 1); 5]);
        pairs.extend(vec![(1, 0); 10]);
        pairs.extend(vec![(1, 1); 15]);
        let k = cohen_kappa(&pairs, 2, Weights::None).expect("kappa");
        assert!((k - 0.4).abs() < 1e-12, "{k}");
    }

    #[test]
    fn quadratic_weights_forgive_near_misses() {
        // Three items on a 3-point scale: (0,0), (1,2), (2,2).
        // o: w(1,2) = .25 x 1/3; rows (1/3 each), cols (1/3, 0, 2/3).
        // e = sum w_ij r_i c_j = 1/3 x [ (0x1/3 + .25x0 + 1x2/3) + (.25x1/3 + 0 + .25x2/3) + (1x1/3 + .25x0 + 0) ]
        //   = 1/3 x [0.6667 + 0.25 + 0.3333] = 0.41667; kappa = 1 - 0.08333/0.41667 = 0.8
        let k = cohen_kappa(&[(0, 0), (1, 2), (2, 2)], 3, Weights::Quadratic).expect("kappa");
        assert!((k - 0.8).abs() < 1e-9, "{k}");
        let unweighted = cohen_kappa(&[(0, 0), (1, 2), (2, 2)], 3, Weights::None).expect("kappa");
        assert!(unweighted < k);
    }

    #[test]
    fn perfect_agreement_is_one_and_no_pairs_is_unknown() {
        assert_eq!(cohen_kappa(&[(0, 0), (1, 1), (2, 2)], 3, Weights::Linear), Some(1.0));
        assert_eq!(cohen_kappa(&[], 3, Weights::None), None);
        assert_eq!(cohen_kappa(&[(1, 1), (1, 1)], 3, Weights::None), None, "chance agreement is total");
    }

    #[test]
    fn mean_ci_of_constant_grades_is_tight() {
        let (m, h) = mean_ci(&[4.0, 4.0, 4.0]).expect("ci");
        assert_eq!((m, h), (4.0, 0.0));
        // Two grades: t(1) = 12.706, s = sqrt 8, half = 12.706 x sqrt(8) / sqrt(2) = 25.41.
        let (m, h) = mean_ci(&[1.0, 5.0]).expect("ci");
        assert!((m - 3.0).abs() < 1e-12 && (h - 12.706 * 2.0).abs() < 1e-9, "{h}");
    }

    #[test]
    fn almost_perfect_on_five_items_is_too_few_to_say() {
        // 5 items, 4 agree exactly, one near miss: kappa is high, but 5 items cannot carry it.
        let pairs = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 3)];
        let k = cohen_kappa(&pairs, 5, Weights::Quadratic).expect("kappa");
        assert!(k > 0.8, "{k}");
        let i = kappa_interval(&pairs, 5, Weights::Quadratic, KAPPA_RESAMPLES, KAPPA_SEED).expect("interval");
        assert!(i.low <= k && k <= i.high && i.n == 5);
        assert!(describe_kappa(i.low) != "almost perfect", "{i:?}");
        assert_eq!(kappa_words(Some(&i)), "too few items to say");
        assert_eq!(kappa_words(None), "too few items to say");
    }

    #[test]
    fn many_agreeing_items_earn_their_words_and_the_interval_is_seeded() {
        let mut pairs = Vec::new();
        for i in 0..200 {
            let a = i % 5;
            pairs.push((a, if i % 20 == 0 { (a + 1) % 5 } else { a }));
        }
        let i = kappa_interval(&pairs, 5, Weights::Quadratic, KAPPA_RESAMPLES, KAPPA_SEED).expect("interval");
        assert_eq!(Some(i), kappa_interval(&pairs, 5, Weights::Quadratic, KAPPA_RESAMPLES, KAPPA_SEED));
        assert!(i.low > 0.8, "{i:?}");
        assert_eq!(kappa_words(Some(&i)), "almost perfect");
        let band = Interval {
            estimate: 0.5,
            low: 0.45,
            high: 0.55,
            n: 100,
        };
        assert_eq!(kappa_words(Some(&band)), "moderate");
    }
}
