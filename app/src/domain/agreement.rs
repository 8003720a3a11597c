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

/// What counts as a disagreement in Krippendorff's alpha.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlphaMetric {
    /// Categories: any two different values disagree fully (votes).
    Nominal,
    /// Numbers: the squared difference (grades 1-5; the analogue of quadratic weights).
    Interval,
}

/// Krippendorff's alpha (Krippendorff 2004, "Content Analysis", ch. 11; 2011, "Computing
/// Krippendorff's alpha-reliability"): alpha = 1 - D_o / D_e over the units (items) with two or
/// more values, any number of raters per unit and raters missing freely. With n the pairable
/// values and m_u the values in unit u:
/// D_o = (1/n) sum_u 1/(m_u - 1) sum_{i != j in u} delta(v_i, v_j),
/// D_e = 1/(n (n - 1)) sum_{i != j over all pairable values} delta(v_i, v_j).
/// `None` with no unit of two values, or when every value is the same (D_e = 0).
pub fn krippendorff_alpha(units: &[Vec<f64>], metric: AlphaMetric) -> Option<f64> {
    let pairable: Vec<&Vec<f64>> = units.iter().filter(|u| u.len() >= 2).collect();
    let n: usize = pairable.iter().map(|u| u.len()).sum();
    if n < 2 {
        return None;
    }
    // Sum of delta over the ordered pairs (i != j) of a set of values.
    let pair_sum = |values: &mut dyn Iterator<Item = f64>| -> f64 {
        match metric {
            AlphaMetric::Interval => {
                let (mut count, mut sum, mut squares) = (0.0, 0.0, 0.0);
                for v in values {
                    count += 1.0;
                    sum += v;
                    squares += v * v;
                }
                // sum_{i != j} (v_i - v_j)^2 = 2 (n sum v^2 - (sum v)^2)
                2.0 * (count * squares - sum * sum)
            }
            AlphaMetric::Nominal => {
                let mut counts: std::collections::BTreeMap<u64, f64> = std::collections::BTreeMap::new();
                let mut count = 0.0;
                for v in values {
                    count += 1.0;
                    *counts.entry(v.to_bits()).or_default() += 1.0;
                }
                count * count - counts.values().map(|c| c * c).sum::<f64>()
            }
        }
    };
    let observed: f64 = pairable
        .iter()
        .map(|u| pair_sum(&mut u.iter().copied()) / (u.len() - 1) as f64)
        .sum::<f64>()
        / n as f64;
    let expected = pair_sum(&mut pairable.iter().flat_map(|u| u.iter().copied())) / (n * (n - 1)) as f64;
    (expected > 1e-12).then(|| 1.0 - observed / expected)
}

/// Alpha with a 95 % bootstrap interval: the units with two or more values resampled with
/// replacement `resamples` times from a fixed seed, the 2.5th and 97.5th percentiles of the
/// alphas that are defined; `n` is the number of such units. `None` when alpha is undefined or
/// there are fewer than 2 units, or most resamples have no alpha.
pub fn alpha_interval(units: &[Vec<f64>], metric: AlphaMetric, resamples: usize, seed: u64) -> Option<Interval> {
    let estimate = krippendorff_alpha(units, metric)?;
    let pairable: Vec<Vec<f64>> = units.iter().filter(|u| u.len() >= 2).cloned().collect();
    if pairable.len() < 2 {
        return None;
    }
    let mut g = SplitMix64::new(seed);
    let mut alphas: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let sample: Vec<Vec<f64>> = (0..pairable.len())
                .map(|_| pairable[g.below(pairable.len() as u64) as usize].clone())
                .collect();
            krippendorff_alpha(&sample, metric)
        })
        .collect();
    if alphas.len() < resamples / 2 {
        return None;
    }
    alphas.sort_by(f64::total_cmp);
    spread(Interval {
        estimate,
        low: percentile_sorted(&alphas, 0.025).min(estimate),
        high: percentile_sorted(&alphas, 0.975).max(estimate),
        n: pairable.len() as u64,
    })
}

/// No interval rather than one of zero width: a bootstrap of a few identical items never varies,
/// and "1.00 - 1.00" would claim a certainty two items cannot give (as [`mean_interval`] does for
/// grades without spread).
fn spread(i: Interval) -> Option<Interval> {
    (i.high - i.low > 1e-12).then_some(i)
}

/// The share of pairs on which two raters gave the same category.
pub fn exact_agreement(pairs: &[(usize, usize)]) -> Option<f64> {
    (!pairs.is_empty()).then(|| pairs.iter().filter(|(a, b)| a == b).count() as f64 / pairs.len() as f64)
}

/// Agreement between two raters over the items both rated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairAgreement {
    pub a: i64,
    pub b: i64,
    /// Items both rated.
    pub n: usize,
    /// Share of those items with the same category.
    pub exact: Option<f64>,
    pub kappa: Option<f64>,
    /// 95 % bootstrap interval of kappa (None with too few items).
    pub interval: Option<Interval>,
}

/// Agreement where items overlap: Krippendorff's alpha over the items rated two or more times,
/// and Cohen's kappa for each pair of raters over the items both rated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    /// Items rated by two or more raters.
    pub items: usize,
    pub alpha: Option<f64>,
    pub alpha_interval: Option<Interval>,
    /// Each pair of raters who share at least one item, in rater order.
    pub pairs: Vec<PairAgreement>,
}

/// Agreement among `ratings` (item, rater, category in 0..categories; one rating per item and
/// rater, a later one replacing an earlier), kappa with `weights` and alpha with `metric`.
pub fn overlap(ratings: &[(String, i64, usize)], categories: usize, weights: Weights, metric: AlphaMetric) -> Overlap {
    use std::collections::BTreeMap;
    let mut by_item: BTreeMap<&str, BTreeMap<i64, usize>> = BTreeMap::new();
    for (item, rater, c) in ratings {
        by_item.entry(item.as_str()).or_default().insert(*rater, *c);
    }
    let shared: Vec<&BTreeMap<i64, usize>> = by_item.values().filter(|r| r.len() >= 2).collect();
    let units: Vec<Vec<f64>> = shared.iter().map(|r| r.values().map(|c| *c as f64).collect()).collect();
    let mut raters: Vec<i64> = shared.iter().flat_map(|r| r.keys().copied()).collect();
    raters.sort_unstable();
    raters.dedup();
    let mut pairs = Vec::new();
    for (i, a) in raters.iter().enumerate() {
        for b in &raters[i + 1..] {
            let both: Vec<(usize, usize)> = shared.iter().filter_map(|r| Some((*r.get(a)?, *r.get(b)?))).collect();
            if both.is_empty() {
                continue;
            }
            pairs.push(PairAgreement {
                a: *a,
                b: *b,
                n: both.len(),
                exact: exact_agreement(&both),
                kappa: cohen_kappa(&both, categories, weights),
                interval: kappa_interval(&both, categories, weights, KAPPA_RESAMPLES, KAPPA_SEED).and_then(spread),
            });
        }
    }
    Overlap {
        items: shared.len(),
        alpha: krippendorff_alpha(&units, metric),
        alpha_interval: alpha_interval(&units, metric, KAPPA_RESAMPLES, KAPPA_SEED),
        pairs,
    }
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
    /// Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the worked example:
    /// four observers, twelve units (unit 12 has one value and is not pairable).
    fn krippendorff_example() -> Vec<Vec<f64>> {
        vec![
            vec![1.0, 1.0, 1.0],
            vec![2.0, 2.0, 3.0, 2.0],
            vec![3.0, 3.0, 3.0, 3.0],
            vec![3.0, 3.0, 3.0, 3.0],
            vec![2.0, 2.0, 2.0, 2.0],
            vec![1.0, 2.0, 3.0, 4.0],
            vec![4.0, 4.0, 4.0, 4.0],
            vec![1.0, 1.0, 2.0, 1.0],
            vec![2.0, 2.0, 2.0, 2.0],
            vec![5.0, 5.0, 5.0],
            vec![1.0, 1.0],
            vec![3.0],
        ]
    }

    #[test]
    fn alpha_matches_krippendorffs_worked_example() {
        let units = krippendorff_example();
        let nominal = krippendorff_alpha(&units, AlphaMetric::Nominal).expect("alpha");
        let interval = krippendorff_alpha(&units, AlphaMetric::Interval).expect("alpha");
        assert!((nominal - 0.743).abs() < 0.0005, "{nominal}");
        assert!((interval - 0.849).abs() < 0.0005, "{interval}");
    }

    #[test]
    fn alpha_of_two_raters_on_full_data_is_close_to_their_kappa() {
        // Two raters, no missing values: alpha is kappa with a small-sample correction.
        let pairs = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 3), (2, 1), (0, 1), (4, 4)];
        let units: Vec<Vec<f64>> = pairs.iter().map(|&(a, b)| vec![a as f64, b as f64]).collect();
        let alpha = krippendorff_alpha(&units, AlphaMetric::Interval).expect("alpha");
        let kappa = cohen_kappa(&pairs, 5, Weights::Quadratic).expect("kappa");
        assert!((alpha - kappa).abs() < 0.1, "{alpha} vs {kappa}");
        let perfect: Vec<Vec<f64>> = (0..5).map(|v| vec![v as f64; 3]).collect();
        assert_eq!(krippendorff_alpha(&perfect, AlphaMetric::Nominal), Some(1.0));
    }

    #[test]
    fn alpha_needs_two_values_in_a_unit_and_some_spread() {
        assert_eq!(krippendorff_alpha(&[vec![1.0], vec![2.0]], AlphaMetric::Interval), None);
        assert_eq!(krippendorff_alpha(&[vec![3.0, 3.0], vec![3.0, 3.0]], AlphaMetric::Nominal), None);
        assert_eq!(alpha_interval(&[vec![1.0, 2.0]], AlphaMetric::Interval, 100, 1), None, "one unit");
    }

    #[test]
    fn alpha_interval_rests_on_the_pairable_units_and_is_seeded() {
        let units = krippendorff_example();
        let i = alpha_interval(&units, AlphaMetric::Interval, KAPPA_RESAMPLES, KAPPA_SEED).expect("interval");
        assert_eq!(i.n, 11, "unit 12 has one value");
        assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
        assert_eq!(Some(i), alpha_interval(&units, AlphaMetric::Interval, KAPPA_RESAMPLES, KAPPA_SEED));
        assert_eq!(kappa_words(Some(&i)), "too few items to say", "11 items cannot carry a word");
    }

    #[test]
    fn a_few_identical_items_give_no_interval_rather_than_a_point() {
        let units = vec![vec![4.0, 4.0], vec![2.0, 2.0]];
        assert_eq!(krippendorff_alpha(&units, AlphaMetric::Interval), Some(1.0));
        assert_eq!(alpha_interval(&units, AlphaMetric::Interval, KAPPA_RESAMPLES, KAPPA_SEED), None);
        let ratings = vec![
            ("i".to_string(), 1, 3),
            ("i".to_string(), 2, 3),
            ("j".to_string(), 1, 1),
            ("j".to_string(), 2, 1),
        ];
        let o = overlap(&ratings, 5, Weights::Quadratic, AlphaMetric::Interval);
        assert_eq!((o.pairs[0].kappa, o.pairs[0].interval), (Some(1.0), None));
        assert_eq!(kappa_words(o.pairs[0].interval.as_ref()), "too few items to say");
    }

    #[test]
    fn exact_agreement_counts_equal_pairs() {
        assert_eq!(exact_agreement(&[(1, 1), (2, 3), (4, 4), (0, 0)]), Some(0.75));
        assert_eq!(exact_agreement(&[]), None);
    }
    #[test]
    fn overlap_counts_only_items_rated_twice_and_pairs_only_shared_items() {
        let r = |item: &str, rater: i64, c: usize| (item.to_string(), rater, c);
        let ratings = vec![
            r("i1", 1, 4),
            r("i1", 2, 4),
            r("i2", 1, 2),
            r("i2", 3, 1),
            r("i3", 2, 0),
            r("i3", 3, 0),
            r("i4", 1, 3),
            r("i4", 2, 1),
            r("i4", 3, 3),
            r("i5", 1, 0),
            r("i6", 2, 2),
            r("i6", 2, 3), // a later rating replaces the earlier
        ];
        let o = overlap(&ratings, 5, Weights::Quadratic, AlphaMetric::Interval);
        assert_eq!(o.items, 4, "i5 and i6 have one rater each");
        let n_of = |a, b| o.pairs.iter().find(|p| p.a == a && p.b == b).map(|p| p.n);
        assert_eq!((n_of(1, 2), n_of(1, 3), n_of(2, 3)), (Some(2), Some(2), Some(2)));
        let p12 = o.pairs.iter().find(|p| p.a == 1 && p.b == 2).expect("pair");
        assert_eq!(p12.exact, Some(0.5));
        assert!(o.alpha.is_some_and(|a| a > -1.0 && a < 1.0), "{o:?}");
        assert!(overlap(&ratings[..1], 5, Weights::Quadratic, AlphaMetric::Interval)
            .pairs
            .is_empty());
    }
}
