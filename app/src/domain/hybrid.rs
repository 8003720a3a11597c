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

/// The items the screen gave one score: how many, and how many of them are positives (the
/// judge or a person rated them best). Recall depends on nothing else, so a run of 100,000 items
/// travels to the browser as a handful of these, not as 100,000 ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreGroup {
    /// `None`: no usable answer (ranked last).
    pub score: Option<f64>,
    pub items: usize,
    pub positives: usize,
}

/// The screened items grouped by score, best first, unscored last.
pub fn group(screened: &[Screened], positives: &HashSet<String>) -> Vec<ScoreGroup> {
    group_counts(screened.iter().map(|s| (s.score, positives.contains(&s.custom_id), 1)))
}

/// The same from counts already made: (score, positive, items) in any order and any number of
/// pieces per score.
pub fn group_counts(cells: impl IntoIterator<Item = (Option<f64>, bool, usize)>) -> Vec<ScoreGroup> {
    let mut groups: HashMap<Option<i64>, (Option<f64>, usize, usize)> = HashMap::new();
    for (score, positive, n) in cells {
        if n == 0 {
            continue;
        }
        let key = score.map(|x| (x * 1e6).round() as i64);
        let e = groups.entry(key).or_insert((score, 0, 0));
        e.1 += n;
        if positive {
            e.2 += n;
        }
    }
    let mut ordered: Vec<(Option<i64>, (Option<f64>, usize, usize))> = groups.into_iter().collect();
    ordered.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    ordered
        .into_iter()
        .map(|(_, (score, items, positives))| ScoreGroup { score, items, positives })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridInput {
    /// Items a month (or any volume) the strategy is priced for.
    pub volume: f64,
    pub screen_cost_per_request: f64,
    pub judge_cost_per_request: f64,
    /// The items both runs answered, grouped by the screen's score (see [`group`]).
    pub groups: Vec<ScoreGroup>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridPoint {
    /// Fraction sent to the judge, 0..=1.
    pub p: f64,
    /// Screen everything + judge the top p: volume x (screen + p x judge).
    pub screen_then_judge: f64,
    pub judge_only: f64,
    /// What the strategy costs: screen + judge the top p (at p = 100 % nothing is left to
    /// screen out, so it is judge-only). Never silently replaced by the cheaper plan.
    pub cost: f64,
    /// 1 - cost / judge-only: negative when screening first costs more than judging all.
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
    let cost = if p >= 1.0 { judge_only } else { screen_then_judge };
    let savings = if judge_only > 0.0 { 1.0 - cost / judge_only } else { 0.0 };
    let positives = input.groups.iter().map(|g| g.positives).sum();
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

impl HybridPoint {
    /// The saving in words, a negative one said as such: "saves 40.7% against judging all
    /// with X" or "costs 1.3% more than judging all with X".
    pub fn savings_words(&self, judge: &str) -> String {
        let pct = |x: f64| {
            let p = x * 100.0;
            if p.abs() < 0.05 {
                "0%".to_string()
            } else {
                format!("{p:.1}%")
            }
        };
        if self.judge_only <= 0.0 {
            format!("judging all with {judge} costs nothing here, so there is nothing to save")
        } else if self.savings < -0.0005 {
            format!("costs {} more than judging all with {judge}", pct(-self.savings))
        } else if self.savings > 0.0005 {
            format!("saves {} against judging all with {judge}", pct(self.savings))
        } else {
            format!("costs the same as judging all with {judge}")
        }
    }

    /// Screening first costs more than judging everything.
    pub fn screening_costs_more(&self) -> bool {
        self.cost > self.judge_only + 1e-12
    }
}

/// The default pair for the strategy: the cheapest run screens, and the best-quality run of a
/// *different model* judges (screening and judging with one model is no strategy). Runs are
/// (id, model, cost per request, quality score); `None` when fewer than two models are priced.
pub fn default_pair(runs: &[(i64, String, f64, Option<f64>)]) -> Option<(i64, i64)> {
    let same_model = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let screen = runs.iter().filter(|r| r.2.is_finite()).min_by(|a, b| a.2.total_cmp(&b.2))?;
    let judge = runs
        .iter()
        .filter(|r| r.2.is_finite() && !same_model(&r.1, &screen.1))
        .max_by(|a, b| a.3.unwrap_or(-1.0).total_cmp(&b.3.unwrap_or(-1.0)).then(a.2.total_cmp(&b.2)))?;
    Some((screen.0, judge.0))
}

/// Points at p = 0, 1/steps, ..., 1.
pub fn hybrid_curve(input: &HybridInput, steps: usize) -> Vec<HybridPoint> {
    let steps = steps.max(1);
    (0..=steps).map(|i| hybrid_at(input, i as f64 / steps as f64)).collect()
}

/// Expected share of positives among the top `p` of items by score. Items tied with the cut
/// are taken in proportion, as a random tie-break would on average.
fn recall_at(input: &HybridInput, p: f64) -> Option<f64> {
    let total_pos: usize = input.groups.iter().map(|g| g.positives).sum();
    let n: usize = input.groups.iter().map(|g| g.items).sum();
    if total_pos == 0 || n == 0 {
        return None;
    }
    let slots = (p * n as f64).round() as usize;
    // The groups are best first, unscored last ([`group`]).
    let mut left = slots;
    let mut kept = 0.0;
    for g in input.groups.iter().filter(|g| g.items > 0) {
        if left == 0 {
            break;
        }
        let take = left.min(g.items);
        kept += g.positives as f64 * take as f64 / g.items as f64;
        left -= take;
    }
    Some(kept / total_pos as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(scores: &[(&str, Option<f64>)], positives: &[&str], screen: f64, judge: f64) -> HybridInput {
        let screened: Vec<Screened> = scores
            .iter()
            .map(|(c, s)| Screened {
                custom_id: c.to_string(),
                score: *s,
            })
            .collect();
        let positives: HashSet<String> = positives.iter().map(|s| s.to_string()).collect();
        HybridInput {
            volume: 100_000.0,
            screen_cost_per_request: screen,
            judge_cost_per_request: judge,
            groups: group(&screened, &positives),
        }
    }

    #[test]
    fn items_group_by_score_best_first_and_unscored_last() {
        let screened: Vec<Screened> = [("a", Some(1.0)), ("b", None), ("c", Some(4.0)), ("d", Some(1.0))]
            .iter()
            .map(|(c, s)| Screened {
                custom_id: c.to_string(),
                score: *s,
            })
            .collect();
        let pos: HashSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let g = group(&screened, &pos);
        let shape: Vec<(Option<f64>, usize, usize)> = g.iter().map(|g| (g.score, g.items, g.positives)).collect();
        assert_eq!(shape, vec![(Some(4.0), 1, 0), (Some(1.0), 2, 1), (None, 1, 1)]);
    }

    #[test]
    fn the_seed_split_screen_100k_judge_20k() {
        // Seed sheet: Llama $3.66 per 100K, Gemma $9.31 per 100K; judge the top 20 %.
        let i = input(&[], &[], 3.66e-5, 9.31e-5);
        let h = hybrid_at(&i, 0.2);
        assert!((h.screen_then_judge - (3.66 + 0.2 * 9.31)).abs() < 1e-9);
        assert!((h.judge_only - 9.31).abs() < 1e-9);
        assert!((h.savings - (1.0 - 5.522 / 9.31)).abs() < 1e-9);
        assert_eq!(h.savings_words("Gemma"), "saves 40.7% against judging all with Gemma");
    }

    #[test]
    fn a_screen_that_costs_more_is_shown_as_a_loss_not_zero_savings() {
        // Screening at $89.22-worth per 1M... the case: $90.40 for screen + 20 % judge
        // against $89.22 judge-only.
        let i = input(&[], &[], 90.40e-6 - 0.2 * 89.22e-6, 89.22e-6);
        let h = hybrid_at(&i, 0.2);
        assert!((h.cost - 9.040).abs() < 1e-9, "the strategy's own cost is reported: {}", h.cost);
        assert!(h.savings < 0.0 && h.screening_costs_more());
        assert_eq!(h.savings_words("X"), "costs 1.3% more than judging all with X");
        assert!(!h.savings_words("X").contains("Savings 0%"));
    }

    #[test]
    fn the_default_pair_never_screens_and_judges_with_the_same_model() {
        let runs = vec![
            (1, "llama-1b".to_string(), 1e-5, Some(0.2)),
            (2, "llama-1b".to_string(), 1.1e-5, Some(0.9)),
            (3, "gemma-4b".to_string(), 5e-5, Some(0.6)),
        ];
        assert_eq!(default_pair(&runs), Some((1, 3)));
        assert_eq!(default_pair(&runs[..2]), None, "one model only: no pair");
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
        fn judging_everything_costs_judge_only_and_the_strategy_cost_is_screen_plus_judge(s in 0.0f64..1.0, j in 0.001f64..1.0, p in 0.0f64..0.999) {
            let i = input(&[], &[], s, j);
            let all = hybrid_at(&i, 1.0);
            prop_assert!((all.cost - all.judge_only).abs() < 1e-9);
            prop_assert!(all.savings.abs() < 1e-12);
            let h = hybrid_at(&i, p);
            prop_assert!((h.cost - h.screen_then_judge).abs() < 1e-9);
            prop_assert!((h.savings - (1.0 - h.cost / h.judge_only)).abs() < 1e-9);
            prop_assert_eq!(h.savings < -0.0005, h.savings_words("J").starts_with("costs") && h.savings_words("J").contains("more"));
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
