//! Figures a hand-written report claimed, checked against what Bakeoff computes from the same
//! data. Shipped with the seed team's report (benchmark-results.md, 2025-10-28).

use super::format;
use super::summary::RunSummary;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// "Total Time" in minutes.
    TotalTimeMin,
    TotalTokensPerS,
    AvgPrompt,
    AvgCompletion,
    AvgTotal,
    CostPer100k,
    MonthlyPer1M,
    /// "N.Nx faster than" another model.
    FasterThan(&'static str),
    /// "NN % cheaper than" another model.
    CheaperThan(&'static str),
    /// A throughput compared with another model's throughput of another kind.
    OutputVsTotal(&'static str),
    /// A hybrid plan: screen everything with this model, judge this share with another. The
    /// judge's part of the cost per 100K.
    HybridJudgePart {
        judge: &'static str,
        share: f64,
    },
    /// The plan's total per 100K (screen all + judge the share).
    HybridTotal {
        judge: &'static str,
        share: f64,
    },
    /// The plan's saving against judging everything, in percent.
    HybridSavings {
        judge: &'static str,
        share: f64,
    },
}

pub struct Claim {
    /// Matched against a run's model name (case-insensitive, contained).
    pub model: &'static str,
    pub metric: Metric,
    pub claimed: f64,
    pub text: &'static str,
}

/// The seed report's figures.
pub const SEED_REPORT: &[Claim] = &[
    Claim {
        model: "gemma-3-4b",
        metric: Metric::TotalTimeMin,
        claimed: 36.8,
        text: "Total Time 36.8 minutes",
    },
    Claim {
        model: "gemma-3-4b",
        metric: Metric::TotalTokensPerS,
        claimed: 2511.0,
        text: "Throughput 2,511 tokens/second",
    },
    Claim {
        model: "gemma-3-4b",
        metric: Metric::AvgPrompt,
        claimed: 788.0,
        text: "Avg Prompt Tokens 788",
    },
    Claim {
        model: "gemma-3-4b",
        metric: Metric::AvgCompletion,
        claimed: 308.0,
        text: "Avg Completion Tokens 308",
    },
    Claim {
        model: "gemma-3-4b",
        metric: Metric::AvgTotal,
        claimed: 1096.0,
        text: "Avg Total Tokens 1,096",
    },
    Claim {
        model: "gemma-3-4b",
        metric: Metric::CostPer100k,
        claimed: 9.31,
        text: "$9.31 per 100K",
    },
    Claim {
        model: "gemma-3-4b",
        metric: Metric::MonthlyPer1M,
        claimed: 93.10,
        text: "Monthly (1M) $93.10",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::TotalTimeMin,
        claimed: 1.8,
        text: "Total Time 1.8 minutes",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::TotalTokensPerS,
        claimed: 19813.0,
        text: "Throughput 19,813 tokens/second",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::AvgPrompt,
        claimed: 308.0,
        text: "Avg Prompt Tokens 308",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::AvgCompletion,
        claimed: 121.0,
        text: "Avg Completion Tokens 121",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::AvgTotal,
        claimed: 429.0,
        text: "Avg Total Tokens 429",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::CostPer100k,
        claimed: 4.05,
        text: "$4.05 per 100K",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::MonthlyPer1M,
        claimed: 40.50,
        text: "Monthly (1M) $40.50",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::FasterThan("gemma-3-4b"),
        claimed: 7.9,
        text: "7.9x faster than Gemma 3 4B",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::CheaperThan("gemma-3-4b"),
        claimed: 56.0,
        text: "56% cheaper on Parasail ($4.05 vs $9.31 per 100K)",
    },
    Claim {
        model: "qwen3-4b",
        metric: Metric::OutputVsTotal("gemma-3-4b"),
        claimed: 740.0,
        text: "Slower than Gemma 3 4B (740 vs 2,511 tok/s; \"3.4x slower\")",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::HybridJudgePart {
            judge: "gemma-3-4b",
            share: 0.2,
        },
        claimed: 1.86,
        text: "Hybrid: evaluate the top 20K of 100K with Gemma 3 4B: $1.86",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::HybridTotal {
            judge: "gemma-3-4b",
            share: 0.2,
        },
        claimed: 5.91,
        text: "Hybrid total $5.91 (vs $9.31 for Gemma only)",
    },
    Claim {
        model: "llama-3.2-1b",
        metric: Metric::HybridSavings {
            judge: "gemma-3-4b",
            share: 0.2,
        },
        claimed: 37.0,
        text: "Hybrid savings 37%",
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Matches,
    Differs,
    NotComparable,
    /// The arithmetic holds, but the runs compared did not do the same work (different prompts,
    /// or loads): the claim does not follow.
    NotLikeForLike,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    pub model: String,
    pub claim: String,
    pub computed: String,
    pub verdict: Verdict,
    pub why: String,
}

/// A run as the checker sees it: its model, summary, and its cost per 100K under the sheet applied.
pub struct Subject<'a> {
    pub model: &'a str,
    pub summary: &'a RunSummary,
    pub cost_per_100k: Option<f64>,
    /// The per-token prices ($ per 1M in, out) the cost used, to show the arithmetic.
    pub prices: Option<(f64, f64)>,
}

fn find<'a>(subjects: &'a [Subject<'a>], key: &str) -> Option<&'a Subject<'a>> {
    subjects
        .iter()
        .find(|s| s.model.to_lowercase().contains(key) && s.summary.requests >= 100)
}

/// [`find`], or failing that a smoke test of the model (a claim about how two figures were
/// compared holds whatever the run's size).
fn find_any<'a>(subjects: &'a [Subject<'a>], key: &str) -> Option<&'a Subject<'a>> {
    find(subjects, key).or_else(|| subjects.iter().find(|s| s.model.to_lowercase().contains(key)))
}

/// Whether two runs sent different prompts (mean prompt tokens more than 10% apart).
fn prompts_differ(a: &RunSummary, b: &RunSummary) -> bool {
    match (a.mean_prompt_tokens, b.mean_prompt_tokens) {
        (Some(a), Some(b)) => (a - b).abs() / b.max(1.0) > 0.1,
        _ => false,
    }
}

/// Check every claim whose model has a run among `subjects`.
pub fn check(claims: &[Claim], subjects: &[Subject]) -> Vec<Checked> {
    let mut out = Vec::new();
    for c in claims {
        let subject = match c.metric {
            Metric::OutputVsTotal(_) => find_any(subjects, c.model),
            _ => find(subjects, c.model),
        };
        let Some(s) = subject else { continue };
        let sum = s.summary;
        let close = |computed: f64, decimals: i32| (computed - c.claimed).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-9;
        let row = |computed: String, verdict: Verdict, why: String| Checked {
            model: s.model.to_string(),
            claim: c.text.to_string(),
            computed,
            verdict,
            why,
        };
        let checked = match c.metric {
            Metric::TotalTimeMin => {
                let wall = sum.wall_time_s / 60.0;
                let load = sum.model_load_time_s.unwrap_or(0.0);
                let with_load = wall + load / 60.0;
                let computed = format!("wall {} + model load {}", format::seconds(sum.wall_time_s), format::seconds(load));
                if close(wall, 1) {
                    row(
                        computed,
                        Verdict::Matches,
                        format!(
                            "the generation time alone; this run's {} model load is not in it",
                            format::seconds(load)
                        ),
                    )
                } else if close(with_load, 1) {
                    row(
                        computed,
                        Verdict::NotComparable,
                        format!(
                            "only with the {} model load included; the generation alone took {:.1} min",
                            format::seconds(load),
                            wall
                        ),
                    )
                } else {
                    row(
                        computed,
                        Verdict::Differs,
                        format!("neither the wall time ({wall:.1} min) nor wall + load ({with_load:.1} min)"),
                    )
                }
            }
            Metric::TotalTokensPerS => {
                let v = sum.total_tokens_per_s;
                let verdict = if close(v, 0) || (v - c.claimed).abs() < 1.0 {
                    Verdict::Matches
                } else {
                    Verdict::Differs
                };
                row(
                    format!("{} total tok/s", format::int(v)),
                    verdict,
                    "total tokens (prompt + completion) / wall time".into(),
                )
            }
            Metric::AvgPrompt | Metric::AvgCompletion | Metric::AvgTotal => {
                let v = match c.metric {
                    Metric::AvgPrompt => sum.mean_prompt_tokens,
                    Metric::AvgCompletion => sum.mean_completion_tokens,
                    _ => sum.mean_total_tokens(),
                };
                match v {
                    Some(v) => row(
                        format::dec(v, 2),
                        if close(v, 0) { Verdict::Matches } else { Verdict::Differs },
                        "server usage / requests".into(),
                    ),
                    None => row(
                        "unknown".into(),
                        Verdict::NotComparable,
                        "the file has no prompt/completion split".into(),
                    ),
                }
            }
            Metric::CostPer100k | Metric::MonthlyPer1M => match s.cost_per_100k {
                Some(per) => {
                    let v = if c.metric == Metric::MonthlyPer1M { per * 10.0 } else { per };
                    let scale = if c.metric == Metric::MonthlyPer1M { 1e6 } else { 1e5 };
                    // A monthly figure written as the per-100K figure rounded to cents, x 10.
                    let from_rounded = c.metric == Metric::MonthlyPer1M && ((per * 100.0).round() / 100.0 * 10.0 - c.claimed).abs() < 0.005;
                    let why = if close(v, 2) {
                        "from the exact token counts and the sheet's prices".to_string()
                    } else if from_rounded {
                        format!("the per-100K figure rounded to cents, x 10 (exactly: {})", format::usd(v))
                    } else if let Some((i, o)) = s.prices {
                        let p = sum.mean_prompt_tokens.unwrap_or(0.0).round();
                        let q = sum.mean_completion_tokens.unwrap_or(0.0).round();
                        let rounded = (p * i + q * o) / 1e6 * scale;
                        format!(
                            "does not follow from its own token counts and prices: {p:.0} + {q:.0} tokens at ${i}/${o} per 1M give {} ({} from the exact counts)",
                            format::usd(rounded),
                            format::usd(v)
                        )
                    } else {
                        format!("does not follow from its token counts and the sheet's prices ({})", format::usd(v))
                    };
                    row(
                        format::usd(v),
                        if close(v, 2) || from_rounded {
                            Verdict::Matches
                        } else {
                            Verdict::Differs
                        },
                        why,
                    )
                }
                None => row("not priced".into(), Verdict::NotComparable, "no price row applies".into()),
            },
            Metric::FasterThan(other) => match find(subjects, other) {
                Some(o) if o.summary.total_tokens_per_s > 0.0 => {
                    let x = sum.total_tokens_per_s / o.summary.total_tokens_per_s;
                    let unlike = prompts_differ(sum, o.summary);
                    let (verdict, why) = match (close(x, 1), unlike) {
                        (true, true) => (
                            Verdict::NotLikeForLike,
                            format!(
                                "the ratio of total tok/s is {x:.1}x, but the runs sent different prompts (mean {} vs {} prompt tokens): a longer prompt makes a larger total, so this is no speed claim",
                                format::int(sum.mean_prompt_tokens.unwrap_or(0.0)),
                                format::int(o.summary.mean_prompt_tokens.unwrap_or(0.0))
                            ),
                        ),
                        (true, false) => (Verdict::Matches, "ratio of total tok/s".to_string()),
                        (false, _) => (Verdict::Differs, "ratio of total tok/s".to_string()),
                    };
                    row(format!("{x:.1}x"), verdict, why)
                }
                _ => continue,
            },
            Metric::CheaperThan(other) => match (s.cost_per_100k, find(subjects, other).and_then(|o| o.cost_per_100k)) {
                (Some(a), Some(b)) if b > 0.0 => {
                    let pct = (b - a) / b * 100.0;
                    let unlike = find(subjects, other).is_some_and(|o| prompts_differ(sum, o.summary));
                    let mut why = if close(pct, 0) {
                        "from the recomputed costs".to_string()
                    } else {
                        "the claim rests on a cost that does not follow from the data (above)".to_string()
                    };
                    if unlike {
                        why.push_str("; and the runs sent different prompts, so the two costs are for different work");
                    }
                    let verdict = match (close(pct, 0), unlike) {
                        (false, _) => Verdict::Differs,
                        (true, true) => Verdict::NotLikeForLike,
                        (true, false) => Verdict::Matches,
                    };
                    row(
                        format!("{pct:.0}% ({} vs {} per 100K)", format::usd(a), format::usd(b)),
                        verdict,
                        why,
                    )
                }
                _ => continue,
            },
            Metric::OutputVsTotal(other) => {
                let o = find(subjects, other);
                let smoke = if sum.requests < 100 {
                    format!(" (a {}-request smoke test)", sum.requests)
                } else {
                    String::new()
                };
                row(
                    format!(
                        "{} output tok/s here{smoke} vs {} output tok/s for {other}",
                        format::int(sum.output_tokens_per_s),
                        o.map(|o| format::int(o.summary.output_tokens_per_s)).unwrap_or("?".into())
                    ),
                    Verdict::NotComparable,
                    "compares one model's output tok/s with another's total tok/s".into(),
                )
            }
            Metric::HybridJudgePart { judge, share } | Metric::HybridTotal { judge, share } | Metric::HybridSavings { judge, share } => {
                let Some(j) = find(subjects, judge) else { continue };
                let (Some(screen), Some(judged)) = (s.cost_per_100k, j.cost_per_100k) else {
                    continue;
                };
                let part = share * judged;
                let total = screen + part;
                let unlike = prompts_differ(sum, j.summary);
                let (computed, v, places) = match c.metric {
                    Metric::HybridJudgePart { .. } => (format::usd(part), part, 2),
                    Metric::HybridTotal { .. } => (
                        format!("{} ({} + {})", format::usd(total), format::usd(screen), format::usd(part)),
                        total,
                        2,
                    ),
                    _ => {
                        let pct = (1.0 - total / judged) * 100.0;
                        (format!("{pct:.1}% ({} vs {})", format::usd(total), format::usd(judged)), pct, 0)
                    }
                };
                let holds = close(v, places);
                let mut why = match c.metric {
                    Metric::HybridJudgePart { .. } => format!("{:.0}% of the judge's {} per 100K", share * 100.0, format::usd(judged)),
                    _ if holds => "screen all at the screen's cost, judge the share at the judge's".to_string(),
                    _ => format!(
                        "rests on the screen's cost per 100K, which does not follow from the data (above): {} from its token counts",
                        format::usd(screen)
                    ),
                };
                if unlike && !matches!(c.metric, Metric::HybridJudgePart { .. }) {
                    why.push_str(
                        "; the two runs sent different prompts, and no item was answered by both, so what the screen loses is unknown",
                    );
                }
                let verdict = match (holds, unlike && matches!(c.metric, Metric::HybridSavings { .. })) {
                    (false, _) => Verdict::Differs,
                    (true, true) => Verdict::NotLikeForLike,
                    (true, false) => Verdict::Matches,
                };
                row(computed, verdict, why)
            }
        };
        out.push(checked);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::seed_summary;

    #[test]
    fn the_seed_claims_are_checked_against_its_own_files() {
        let g = seed_summary(
            "g",
            include_str!("../../tests/fixtures/seed-metadata/vllm-native-gemma3-4b-5000-2025-10-28.json"),
        )
        .expect("gemma");
        let l = seed_summary(
            "l",
            include_str!("../../tests/fixtures/seed-metadata/llama32-1b-5k-2025-10-28.json"),
        )
        .expect("llama");
        let subjects = [
            Subject {
                model: &g.model,
                summary: &g.summary,
                cost_per_100k: Some(9.3146),
                prices: Some((0.04, 0.20)),
            },
            Subject {
                model: &l.model,
                summary: &l.summary,
                cost_per_100k: Some(3.6595),
                prices: Some((0.04, 0.20)),
            },
        ];
        let checked = check(SEED_REPORT, &subjects);
        let verdict = |claim: &str| checked.iter().find(|c| c.claim.starts_with(claim)).map(|c| c.verdict);
        assert_eq!(verdict("$9.31"), Some(Verdict::Matches));
        assert_eq!(verdict("$4.05"), Some(Verdict::Differs));
        assert_eq!(verdict("56%"), Some(Verdict::Differs));
        assert_eq!(
            verdict("7.9x"),
            Some(Verdict::NotLikeForLike),
            "308 vs 788 prompt tokens: the ratio holds, the claim does not"
        );
        assert_eq!(verdict("Hybrid: evaluate"), Some(Verdict::Matches), "20% of $9.31");
        let total = checked.iter().find(|c| c.claim.starts_with("Hybrid total")).expect("hybrid total");
        assert_eq!(
            (total.verdict, total.computed.as_str()),
            (Verdict::Differs, "$5.52 ($3.66 + $1.86)")
        );
        let savings = checked.iter().find(|c| c.claim.starts_with("Hybrid savings")).expect("savings");
        assert_eq!(savings.verdict, Verdict::Differs);
        assert!(savings.computed.starts_with("40.7%"), "{}", savings.computed);
        assert_eq!(verdict("Throughput 19,813"), Some(Verdict::Matches));
        assert_eq!(
            verdict("Total Time 36.8"),
            Some(Verdict::NotComparable),
            "Gemma's 36.8 min includes the load"
        );
        assert_eq!(verdict("Total Time 1.8"), Some(Verdict::Matches));
        let llama_cost = checked.iter().find(|c| c.claim.starts_with("$4.05")).expect("claim");
        assert_eq!(llama_cost.computed, "$3.66");
        assert!(
            llama_cost
                .why
                .contains("308 + 121 tokens at $0.04/$0.2 per 1M give $3.65 ($3.66 from the exact counts)"),
            "{}",
            llama_cost.why
        );
    }
}
