//! "Screen cheap, judge expensive": screen all N items with one model, send the top p % by the
//! screener's score to a better (dearer) model. What it costs, what it saves against judging
//! everything, and what the screen loses: of the items the judge (or a person) rates best, how
//! many the screen passes on.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// One item as the screen saw it: a score (higher = more promising), or `None` when the screen
/// gave no usable answer (ranked last).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Screened {
    pub custom_id: String,
    pub score: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridInput {
    /// Items a month (or any volume) the strategy is priced for.
    pub volume: f64,
    pub screen_cost_per_request: f64,
    pub judge_cost_per_request: f64,
    pub screened: Vec<Screened>,
    /// Items the judge or a person rated best (e.g. Strong Yes).
    pub positives: HashSet<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridPoint {
    /// Fraction sent to the judge, 0..=1.
    pub p: f64,
    /// Screen everything + judge the top p: volume x (screen + p x judge).
    pub screen_then_judge: f64,
    pub judge_only: f64,
    /// What the strategy costs: the cheaper of the two (judging everything needs no screen).
    pub cost: f64,
    /// 1 - cost / judge-only (never negative).
    pub savings: f64,
    /// Share of the positives the screen passes to the judge (expected, ties split evenly).
    pub recall: Option<f64>,
    pub positives: usize,
}

/// The strategy at one `p`.
pub fn hybrid_at(input: &HybridInput, p: f64) -> HybridPoint {
    let p = p.clamp(0.0, 1.0);
    let judge_only = input.volume * input.judge_cost_per_request;
    let screen_then_judge = input.volume * (input.screen_cost_per_request + p * input.judge_cost_per_request);
    let cost = if p >= 1.0 { judge_only } else { screen_then_judge.min(judge_only) };
    let savings = if judge_only > 0.0 {
        (1.0 - cost / judge_only).max(0.0)
    } else {
        0.0
    };
    let positives = input.screened.iter().filter(|s| input.positives.contains(&s.custom_id)).count();
    HybridPoint {
        p,
        screen_then_judge,
        judge_only,
        cost,
        savings,
        recall: recall_at(input, p),
        positives,
    }
}

/// Points at p = 0, 1/steps, ..., 1.
pub fn hybrid_curve(input: &HybridInput, steps: usize) -> Vec<HybridPoint> {
    let steps = steps.max(1);
    (0..=steps).map(|i| hybrid_at(input, i as f64 / steps as f64)).collect()
}

/// Expected share of positives among the top `p` of items by score. Items tied with the cut
/// are taken in proportion, as a random tie-break would on average.
fn recall_at(input: &HybridInput, p: f64) -> Option<f64> {
    let total_pos = input.screened.iter().filter(|s| input.positives.contains(&s.custom_id)).count();
    if total_pos == 0 || input.screened.is_empty() {
        return None;
    }
    let n = input.screened.len();
    let slots = (p * n as f64).round() as usize;
    // Group by score, best first; unscored last.
    let mut groups: HashMap<Option<i64>, (usize, usize)> = HashMap::new();
    for s in &input.screened {
        let key = s.score.map(|x| (x * 1e6).round() as i64);
        let e = groups.entry(key).or_default();
        e.0 += 1;
        if input.positives.contains(&s.custom_id) {
            e.1 += 1;
        }
    }
    let mut ordered: Vec<(Option<i64>, (usize, usize))> = groups.into_iter().collect();
    ordered.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut left = slots;
    let mut kept = 0.0;
    for (_, (size, pos)) in ordered {
        if left == 0 {
            break;
        }
        let take = left.min(size);
        kept += pos as f64 * take as f64 / size as f64;
        left -= take;
    }
    Some(kept / total_pos as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(scores: &[(&str, Option<f64>)], positives: &[&str], screen: f64, judge: f64) -> HybridInput {
        HybridInput {
            volume: 100_000.0,
            screen_cost_per_request: screen,
            judge_cost_per_request: judge,
            screened: scores
                .iter()
                .map(|(c, s)| Screened {
                    custom_id: c.to_string(),
                    score: *s,
                })
                .collect(),
            positives: positives.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_seed_split_screen_100k_judge_20k() {
        // Seed sheet: Llama $3.66 per 100K, Gemma $9.31 per 100K; judge the top 20 %.
        let i = input(&[], &[], 3.66e-5, 9.31e-5);
        let h = hybrid_at(&i, 0.2);
        assert!((h.screen_then_judge - (3.66 + 0.2 * 9.31)).abs() < 1e-9);
        assert!((h.judge_only - 9.31).abs() < 1e-9);
        assert!((h.savings - (1.0 - 5.522 / 9.31)).abs() < 1e-9);
    }

    #[test]
    fn recall_counts_positives_in_the_top_and_splits_ties() {
        // Scores: a=4 (pos), b=3, c=3 (pos), d=1, e=unscored (pos). Top 40 % = 2 slots: a + half of {b,c}.
        let i = input(
            &[("a", Some(4.0)), ("b", Some(3.0)), ("c", Some(3.0)), ("d", Some(1.0)), ("e", None)],
            &["a", "c", "e"],
            1.0,
            2.0,
        );
        let h = hybrid_at(&i, 0.4);
        assert!((h.recall.expect("recall") - 1.5 / 3.0).abs() < 1e-12);
        assert_eq!(hybrid_at(&i, 1.0).recall, Some(1.0));
        assert_eq!(hybrid_at(&i, 0.0).recall, Some(0.0));
        assert_eq!(h.positives, 3);
    }

    #[test]
    fn without_positives_recall_is_unknown() {
        let i = input(&[("a", Some(1.0))], &[], 1.0, 2.0);
        assert_eq!(hybrid_at(&i, 0.5).recall, None);
    }

    proptest! {
        #[test]
        fn judging_everything_costs_judge_only_and_savings_are_never_negative(s in 0.0f64..1.0, j in 0.0f64..1.0, p in 0.0f64..1.0) {
            let i = input(&[], &[], s, j);
            let all = hybrid_at(&i, 1.0);
            prop_assert!((all.cost - all.judge_only).abs() < 1e-9);
            prop_assert!(hybrid_at(&i, 0.0).savings >= 0.0);
            prop_assert!(hybrid_at(&i, p).savings >= 0.0);
            prop_assert!(hybrid_at(&i, p).cost <= all.judge_only + 1e-9);
        }

        #[test]
        fn recall_never_falls_as_p_grows(scores in proptest::collection::vec(proptest::option::of(0u8..5), 1..40), a in 0.0f64..1.0, b in 0.0f64..1.0) {
            let items: Vec<(String, Option<f64>)> = scores.iter().enumerate().map(|(k, s)| (format!("i{k}"), s.map(f64::from))).collect();
            let refs: Vec<(&str, Option<f64>)> = items.iter().map(|(c, s)| (c.as_str(), *s)).collect();
            let pos: Vec<&str> = items.iter().step_by(2).map(|(c, _)| c.as_str()).collect();
            let i = input(&refs, &pos, 1.0, 2.0);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(hybrid_at(&i, lo).recall.unwrap_or(0.0) <= hybrid_at(&i, hi).recall.unwrap_or(0.0) + 1e-9);
        }
    }
}
