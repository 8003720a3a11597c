//! Agreement statistics for grades and votes.
//!
//! Cohen's kappa (Cohen 1960): kappa = (p_o - p_e) / (1 - p_e) over items rated by two raters.
//! Weighted kappa (Cohen 1968) for ordered scales: kappa_w = 1 - sum(w_ij o_ij) / sum(w_ij e_ij)
//! with disagreement weights w_ij = |i-j|/(k-1) (linear) or (|i-j|/(k-1))^2 (quadratic), o the
//! observed and e the expected (product of marginals) proportions.

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

/// Mean and 95 % half-width (normal approximation: 1.96 s / sqrt(n)) of grades.
pub fn mean_ci(xs: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some((mean, 0.0));
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, 1.96 * (var / n as f64).sqrt()))
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
        let (m, h) = mean_ci(&[1.0, 5.0]).expect("ci");
        assert!((m - 3.0).abs() < 1e-12 && (h - 1.96 * (8.0f64 / 2.0).sqrt()).abs() < 1e-9);
    }
}
