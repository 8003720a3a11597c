//! Goodput: how much of a run's work met the service-level targets a team sets (TTFT, TPOT, E2E
//! at a percentile). A request counts when its own TTFT, TPOT and E2E are each at or under their
//! target, as `vllm bench serve --goodput ttft:2000 tpot:50` counts it
//! (`vllm/benchmarks/serve.py`, `calculate_metrics`); goodput is those requests (and their
//! completion tokens) divided by the run's wall time, exactly like throughput. Beside it, the run
//! as a whole "met the targets at p90" when each metric's p90 is at or under its target.

use super::errors::FieldErrors;
use super::record::RequestRecord;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The percentile a run's targets are checked at when none is given (vLLM reports p99 by
/// default; teams usually state p90).
pub const DEFAULT_PERCENTILE: f64 = 90.0;
/// The largest target accepted, in ms (a day).
const MAX_TARGET_MS: f64 = 86_400_000.0;
/// What a percentile may be, in the same words wherever one is typed (REST, CLI, form).
pub const PERCENTILE_RULE: &str = "a number from 1 to 100 (both included; decimals allowed, e.g. 99.9)";

/// The one message for a percentile outside [`PERCENTILE_RULE`]; `got` as typed.
pub fn percentile_error(got: impl std::fmt::Display) -> String {
    format!("the percentile must be {PERCENTILE_RULE}, got {got}")
}

/// A percentile within [`PERCENTILE_RULE`], or the message saying what to write.
pub fn check_percentile(p: f64) -> Result<f64, String> {
    if p.is_finite() && (1.0..=100.0).contains(&p) {
        Ok(p)
    } else {
        Err(percentile_error(p))
    }
}

/// A second value for one target (or for the percentile) is refused, not silently preferred.
fn given_twice(name: &str) -> String {
    format!("{name} given twice: give each target once (e.g. ttft:2000 tpot:50)")
}

/// Service-level targets, in milliseconds; `None`: no target on that metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    #[serde(default)]
    pub ttft_ms: Option<f64>,
    #[serde(default)]
    pub tpot_ms: Option<f64>,
    #[serde(default)]
    pub e2e_ms: Option<f64>,
    /// The percentile (1..=100) the run as a whole is checked at.
    #[serde(default = "default_percentile")]
    pub percentile: f64,
}

fn default_percentile() -> f64 {
    DEFAULT_PERCENTILE
}

/// One of the metrics a target may be set on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloMetric {
    Ttft,
    Tpot,
    E2e,
}

impl SloMetric {
    pub const ALL: [SloMetric; 3] = [SloMetric::Ttft, SloMetric::Tpot, SloMetric::E2e];
    /// The name in `--slo NAME:MS` and REST (`ttft_ms`, ...).
    pub fn key(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tpot => "tpot",
            SloMetric::E2e => "e2e",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SloMetric::Ttft => "TTFT",
            SloMetric::Tpot => "TPOT",
            SloMetric::E2e => "E2E",
        }
    }
    fn parse(name: &str) -> Option<SloMetric> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ttft" | "ttft_ms" => Some(SloMetric::Ttft),
            "tpot" | "tpot_ms" => Some(SloMetric::Tpot),
            // vLLM names end-to-end latency "e2el".
            "e2e" | "e2el" | "e2e_ms" => Some(SloMetric::E2e),
            _ => None,
        }
    }
}

impl Slo {
    pub fn target(&self, m: SloMetric) -> Option<f64> {
        match m {
            SloMetric::Ttft => self.ttft_ms,
            SloMetric::Tpot => self.tpot_ms,
            SloMetric::E2e => self.e2e_ms,
        }
    }
    fn target_mut(&mut self, m: SloMetric) -> &mut Option<f64> {
        match m {
            SloMetric::Ttft => &mut self.ttft_ms,
            SloMetric::Tpot => &mut self.tpot_ms,
            SloMetric::E2e => &mut self.e2e_ms,
        }
    }

    /// The targets set, in order.
    pub fn targets(&self) -> Vec<(SloMetric, f64)> {
        SloMetric::ALL.iter().filter_map(|m| Some((*m, self.target(*m)?))).collect()
    }

    /// "TTFT ≤ 2,000 ms, TPOT ≤ 50.0 ms": the per-request targets, without the percentile
    /// (goodput checks each request against them; the percentile belongs to the run-as-a-whole
    /// check, [`Goodput::checks_text`]).
    pub fn describe(&self) -> String {
        let t: Vec<String> = self
            .targets()
            .iter()
            .map(|(m, v)| format!("{} ≤ {}", m.label(), super::format::ms(*v)))
            .collect();
        t.join(", ")
    }

    /// Did this request meet every target? Only answered requests can: a failure never counts.
    /// TTFT and E2E are the request's own; its TPOT is (E2E − TTFT) / (tokens − 1), 0 for a
    /// one-token answer (vLLM feeds 0 to goodput then), and unknown without server usage, which
    /// then cannot show a TPOT target was met.
    pub fn met_by(&self, r: &RequestRecord) -> bool {
        if !r.outcome.answered() {
            return false;
        }
        let within = |value: Option<Duration>, target: Option<f64>| match target {
            None => true,
            Some(t) => value.is_some_and(|v| v.as_nanos() as f64 / 1e6 <= t),
        };
        let tpot = match (r.ttft, r.completion_tokens) {
            (Some(_), Some(n)) if n.0 < 2 => Some(Duration::ZERO),
            _ => r.tpot(),
        };
        within(r.ttft, self.ttft_ms) && within(tpot, self.tpot_ms) && within(Some(r.e2e), self.e2e_ms)
    }

    /// Parse targets written as vLLM writes them, `ttft:2000 tpot:50 e2e:10000` (spaces or
    /// commas between), or as a JSON object `{"ttft_ms": 2000, "tpot_ms": 50, "e2e_ms": null,
    /// "percentile": 90}` (the REST field). Empty text: no targets. A target (or the percentile)
    /// given twice is refused: which one was meant cannot be told.
    pub fn parse(text: &str, field: &str) -> Result<Option<Slo>, FieldErrors> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let mut slo = Slo {
            ttft_ms: None,
            tpot_ms: None,
            e2e_ms: None,
            percentile: DEFAULT_PERCENTILE,
        };
        let mut errors = FieldErrors::default();
        let mut seen: Vec<SloMetric> = Vec::new();
        let mut seen_percentile = false;
        if text.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                FieldErrors::one(
                    field,
                    format!("targets must be a JSON object like {{\"ttft_ms\": 2000, \"tpot_ms\": 50, \"percentile\": 90}} ({e})"),
                )
            })?;
            let Some(obj) = v.as_object() else {
                return Err(FieldErrors::one(field, "targets must be a JSON object"));
            };
            for (k, val) in obj {
                if k == "percentile" {
                    match val.as_f64() {
                        Some(p) => slo.percentile = p,
                        None if val.is_null() => {}
                        None => errors.push(field, percentile_error(val)),
                    }
                    continue;
                }
                let Some(m) = SloMetric::parse(k) else {
                    errors.push(field, format!("unknown target '{k}': use ttft_ms, tpot_ms, e2e_ms and percentile"));
                    continue;
                };
                // "ttft" and "ttft_ms" name one target.
                if seen.contains(&m) {
                    errors.push(field, given_twice(m.key()));
                    continue;
                }
                seen.push(m);
                match val {
                    serde_json::Value::Null => {}
                    v => match v.as_f64() {
                        Some(x) => *slo.target_mut(m) = Some(x),
                        None => errors.push(field, format!("{k} must be a number of milliseconds, got {v}")),
                    },
                }
            }
        } else {
            for part in text.split([' ', ',', '\n', '\t']).filter(|p| !p.is_empty()) {
                let Some((name, value)) = part.split_once(':').or_else(|| part.split_once('=')) else {
                    errors.push(field, format!("'{part}' is not NAME:MS (e.g. ttft:2000 tpot:50 e2e:10000)"));
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("percentile") || name.trim().eq_ignore_ascii_case("p") {
                    if seen_percentile {
                        errors.push(field, given_twice("percentile"));
                        continue;
                    }
                    seen_percentile = true;
                    match value.trim().trim_start_matches(['p', 'P']).parse::<f64>() {
                        Ok(p) => slo.percentile = p,
                        Err(_) => errors.push(field, percentile_error(format!("'{value}'"))),
                    }
                    continue;
                }
                let Some(m) = SloMetric::parse(name) else {
                    errors.push(field, format!("unknown target '{name}': use ttft, tpot or e2e (e.g. ttft:2000)"));
                    continue;
                };
                if seen.contains(&m) {
                    errors.push(field, given_twice(m.key()));
                    continue;
                }
                seen.push(m);
                match value.trim().trim_end_matches("ms").parse::<f64>() {
                    Ok(x) => *slo.target_mut(m) = Some(x),
                    Err(_) => errors.push(field, format!("{name} must be a number of milliseconds, got '{value}'")),
                }
            }
        }
        errors.into_result(())?;
        slo.checked(field).map(Some)
    }

    /// Every target positive and finite, the percentile 1..=100, at least one target.
    pub fn checked(self, field: &str) -> Result<Slo, FieldErrors> {
        let mut errors = FieldErrors::default();
        for (m, v) in self.targets() {
            if !(v.is_finite() && v > 0.0 && v <= MAX_TARGET_MS) {
                errors.push(
                    field,
                    format!(
                        "the {} target must be more than 0 and at most {MAX_TARGET_MS} ms, got {}",
                        m.label(),
                        super::format::quoted(v)
                    ),
                );
            }
        }
        if let Err(m) = check_percentile(self.percentile) {
            errors.push(field, m);
        }
        if self.targets().is_empty() {
            errors.push(field, "give at least one target: ttft, tpot or e2e in ms (e.g. ttft:2000 tpot:50)");
        }
        errors.into_result(self)
    }
}

/// "p90", "p99.9".
pub fn percentile_name(p: f64) -> String {
    let s = format!("{p:.3}");
    format!("p{}", s.trim_end_matches('0').trim_end_matches('.'))
}

/// One target against the run's percentile of that metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PercentileCheck {
    pub metric: SloMetric,
    pub target_ms: f64,
    /// The metric's percentile over the answered requests; `None` when none measured it.
    pub observed_ms: Option<f64>,
    pub met: bool,
}

/// Goodput and the targets it was measured against, kept in the run summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    pub targets: Slo,
    /// Measured requests answered within every per-request target.
    pub good_requests: u64,
    /// `good_requests` / measured requests (0 without requests).
    pub good_share: f64,
    /// `good_requests` / wall time.
    pub requests_per_s: f64,
    /// Completion tokens (server usage) of the good requests / wall time.
    pub output_tokens_per_s: f64,
    /// Each target against its metric's percentile over the answered requests.
    pub at_percentile: Vec<PercentileCheck>,
    /// Every check in `at_percentile` met.
    pub met: bool,
}

impl Goodput {
    /// "p90 TTFT 1.7 s ≤ 2 s, p90 TPOT 41.0 ms ≤ 50 ms" (or "> ..." where it broke).
    pub fn checks_text(&self) -> String {
        let p = percentile_name(self.targets.percentile);
        self.at_percentile
            .iter()
            .map(|c| match c.observed_ms {
                Some(v) => format!(
                    "{p} {} {} {} {}",
                    c.metric.label(),
                    short_ms(v),
                    if c.met { "≤" } else { ">" },
                    short_ms(c.target_ms)
                ),
                None => format!("{p} {}: not measured", c.metric.label()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// "1.7 s" from 1 s up, else "41.0 ms" / "350 ms".
pub fn short_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        let s = format!("{:.2}", ms / 1000.0);
        format!("{} s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        super::format::ms(ms)
    }
}

/// Goodput gathered one record at a time, in the summary's own pass.
#[derive(Clone, Debug, Default)]
pub struct GoodputCounter {
    good: u64,
    good_completion_tokens: u64,
}

impl GoodputCounter {
    /// Count a measured record (warm-up records are never passed in).
    pub fn add(&mut self, slo: &Slo, r: &RequestRecord) {
        if slo.met_by(r) {
            self.good += 1;
            self.good_completion_tokens += r.completion_tokens.map(|t| t.0).unwrap_or(0);
        }
    }

    /// The figures, given the run's measured requests, wall time and each metric's samples over
    /// the answered requests (ms, any order).
    pub fn finish(&self, slo: &Slo, measured: u64, wall: Duration, samples: impl Fn(SloMetric) -> Option<f64>) -> Goodput {
        let per_s = |x: f64| if wall.is_zero() { 0.0 } else { x / wall.as_secs_f64() };
        let at_percentile: Vec<PercentileCheck> = slo
            .targets()
            .into_iter()
            .map(|(metric, target_ms)| {
                let observed_ms = samples(metric);
                PercentileCheck {
                    metric,
                    target_ms,
                    observed_ms,
                    met: observed_ms.is_some_and(|v| v <= target_ms),
                }
            })
            .collect();
        Goodput {
            targets: slo.clone(),
            good_requests: self.good,
            good_share: if measured == 0 { 0.0 } else { self.good as f64 / measured as f64 },
            requests_per_s: per_s(self.good as f64),
            output_tokens_per_s: per_s(self.good_completion_tokens as f64),
            met: at_percentile.iter().all(|c| c.met),
            at_percentile,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vllm_style_targets_parse_with_a_default_percentile() {
        let s = Slo::parse("ttft:2000 tpot:50", "slo").expect("valid").expect("some");
        assert_eq!(
            (s.ttft_ms, s.tpot_ms, s.e2e_ms, s.percentile),
            (Some(2000.0), Some(50.0), None, 90.0)
        );
        let s = Slo::parse("ttft:2000,e2el:10000, percentile:99", "slo")
            .expect("valid")
            .expect("some");
        assert_eq!((s.e2e_ms, s.percentile), (Some(10000.0), 99.0));
        assert_eq!(Slo::parse("  ", "slo").expect("empty"), None);
    }

    #[test]
    fn the_rest_object_parses_with_nulls_left_out() {
        let s = Slo::parse(r#"{"ttft_ms":2000,"tpot_ms":50,"e2e_ms":null,"percentile":95}"#, "slo")
            .expect("valid")
            .expect("some");
        assert_eq!(
            (s.ttft_ms, s.tpot_ms, s.e2e_ms, s.percentile),
            (Some(2000.0), Some(50.0), None, 95.0)
        );
        // The per-request targets alone: the percentile is the run-as-a-whole check's.
        assert_eq!(s.describe(), "TTFT ≤ 2,000 ms, TPOT ≤ 50.0 ms");
    }

    #[test]
    fn bad_targets_say_what_to_write() {
        let e = Slo::parse("itl:5", "slo").expect_err("unknown");
        assert_eq!(
            e.for_field("slo"),
            Some("unknown target 'itl': use ttft, tpot or e2e (e.g. ttft:2000)")
        );
        let e = Slo::parse("ttft:-3", "slo").expect_err("negative");
        assert!(e.for_field("slo").is_some_and(|m| m.contains("more than 0")), "{e}");
        let e = Slo::parse("percentile:90", "slo").expect_err("no target");
        assert!(e.for_field("slo").is_some_and(|m| m.starts_with("give at least one target")), "{e}");
        let e = Slo::parse("ttft:2000 percentile:0", "slo").expect_err("percentile");
        assert!(e.for_field("slo").is_some_and(|m| m.contains("from 1 to 100")), "{e}");
        assert!(Slo::parse("ttft=fast", "slo").is_err());
    }

    #[test]
    fn a_target_given_twice_is_refused_not_overwritten() {
        let e = Slo::parse("ttft:2000 ttft:100", "slo").expect_err("twice");
        assert_eq!(
            e.for_field("slo"),
            Some("ttft given twice: give each target once (e.g. ttft:2000 tpot:50)")
        );
        // Under another of its names, and in the JSON object.
        assert!(Slo::parse("e2e:900, e2el:800", "slo").is_err_and(|e| e.to_string().contains("e2e given twice")));
        let e = Slo::parse(r#"{"ttft_ms": 2000, "ttft": 100}"#, "slo").expect_err("twice");
        assert!(e.to_string().contains("ttft given twice"), "{e}");
        let e = Slo::parse("ttft:2000 percentile:90 p:99", "slo").expect_err("twice");
        assert!(e.to_string().contains("percentile given twice"), "{e}");
        // Each once is fine.
        assert!(Slo::parse("ttft:2000 tpot:50 e2e:9000 percentile:95", "slo").is_ok());
    }

    #[test]
    fn the_percentile_rule_is_one_sentence_everywhere() {
        let rule = "the percentile must be a number from 1 to 100 (both included; decimals allowed, e.g. 99.9)";
        for (text, got) in [
            ("ttft:2000 percentile:0", "0"),
            ("ttft:2000 percentile:100.5", "100.5"),
            ("ttft:2000 percentile:high", "'high'"),
            (r#"{"ttft_ms": 2000, "percentile": "high"}"#, "\"high\""),
        ] {
            let e = Slo::parse(text, "slo").expect_err(text);
            assert_eq!(e.for_field("slo"), Some(format!("{rule}, got {got}").as_str()), "{text}");
        }
        assert_eq!(check_percentile(1.0), Ok(1.0));
        assert_eq!(check_percentile(100.0), Ok(100.0));
        assert_eq!(check_percentile(99.9), Ok(99.9));
        assert!(check_percentile(0.5).is_err());
    }

    #[test]
    fn percentile_names_drop_trailing_zeros() {
        assert_eq!(percentile_name(90.0), "p90");
        assert_eq!(percentile_name(99.9), "p99.9");
        assert_eq!(short_ms(1700.0), "1.7 s");
        assert_eq!(short_ms(2000.0), "2 s");
        assert_eq!(short_ms(41.0), "41.0 ms");
    }

    use crate::domain::record::Tokens;
    use crate::domain::status::Outcome;
    use crate::domain::summary::{summarize, summarize_with};

    /// A request sent at `sent_ms` with its own TTFT, E2E and completion tokens.
    fn req(idx: u32, outcome: Outcome, sent_ms: u64, ttft_ms: u64, e2e_ms: u64, tokens: Option<u64>) -> RequestRecord {
        RequestRecord {
            idx,
            custom_id: format!("c{idx}"),
            warmup: false,
            outcome,
            http_status: Some(200),
            error: None,
            finish_reason: None,
            prompt_tokens: tokens.map(|_| Tokens(10)),
            completion_tokens: tokens.map(Tokens),
            scheduled: None,
            sent: Duration::from_millis(sent_ms),
            ttft: outcome.answered().then(|| Duration::from_millis(ttft_ms)),
            e2e: Duration::from_millis(e2e_ms),
            content_chunks: tokens.unwrap_or(0) as u32,
            itl: vec![],
            response: String::new(),
            reasoning: None,
        }
    }

    fn slo(ttft: Option<f64>, tpot: Option<f64>, e2e: Option<f64>) -> Slo {
        Slo {
            ttft_ms: ttft,
            tpot_ms: tpot,
            e2e_ms: e2e,
            percentile: 90.0,
        }
    }

    /// Ten requests over a 10 s window (the last ends at 10,000 ms), with known latencies:
    /// TTFT (ms), E2E (ms), completion tokens -> TPOT = (E2E − TTFT) / (tokens − 1).
    fn ten() -> Vec<RequestRecord> {
        vec![
            req(0, Outcome::Ok, 0, 100, 1_000, Some(10)),            // TPOT 100
            req(1, Outcome::Ok, 0, 200, 2_000, Some(19)),            // TPOT 100
            req(2, Outcome::Ok, 1_000, 300, 1_200, Some(10)),        // TPOT 100
            req(3, Outcome::Ok, 1_000, 2_500, 3_000, Some(11)),      // TTFT over 2 s; TPOT 50
            req(4, Outcome::Truncated, 2_000, 400, 4_400, Some(21)), // TPOT 200
            req(5, Outcome::Ok, 2_000, 150, 150, Some(1)),           // one token: TPOT 0
            req(6, Outcome::Ok, 3_000, 500, 1_400, None),            // no usage: TPOT unknown
            req(7, Outcome::HttpError, 3_000, 0, 5, None),           // failed: never good
            req(8, Outcome::Timeout, 4_000, 0, 6_000, None),         // failed, ends the window at 10 s
            req(9, Outcome::Ok, 5_000, 1_900, 2_800, Some(10)),      // TPOT 100
        ]
    }

    #[test]
    fn goodput_counts_exactly_the_requests_within_every_target() {
        // TTFT ≤ 2 s and TPOT ≤ 100 ms: #0, #1, #2, #5 (one token), #9 -> 5 good.
        // Out: #3 (TTFT), #4 (TPOT 200), #6 (TPOT unknown), #7 and #8 (failed).
        let s = summarize_with(&ten(), Some(slo(Some(2000.0), Some(100.0), None)));
        let g = s.goodput.expect("goodput");
        assert_eq!(g.good_requests, 5);
        assert!((s.wall_time_s - 10.0).abs() < 1e-9);
        assert!((g.good_share - 0.5).abs() < 1e-12);
        assert!((g.requests_per_s - 0.5).abs() < 1e-12, "5 good / 10 s");
        // Tokens of the good ones: 10 + 19 + 10 + 1 + 10 = 50 over 10 s.
        assert!((g.output_tokens_per_s - 5.0).abs() < 1e-12);
        // Throughput over the same window counts every answered request's tokens.
        assert!((s.output_tokens_per_s - (10 + 19 + 10 + 11 + 21 + 1 + 10) as f64 / 10.0).abs() < 1e-12);
    }

    #[test]
    fn tpot_unknown_only_matters_when_a_tpot_target_is_set() {
        // TTFT alone: #6 (no usage) now counts; #3 does not: 0, 1, 2, 4, 5, 6, 9 -> 7.
        let g = summarize_with(&ten(), Some(slo(Some(2000.0), None, None)))
            .goodput
            .expect("goodput");
        assert_eq!(g.good_requests, 7);
        // E2E ≤ 1,200 ms only: #0 (1,000), #2 (1,200, on the target), #5 (150) -> 3.
        let g = summarize_with(&ten(), Some(slo(None, None, Some(1200.0))))
            .goodput
            .expect("goodput");
        assert_eq!(g.good_requests, 3);
    }

    #[test]
    fn the_run_meets_its_targets_when_each_percentile_is_within() {
        // Answered TTFTs (ms): 100, 200, 300, 2500, 400, 150, 500, 1900 -> sorted
        // 100 150 200 300 400 500 1900 2500; p90: h = 7 x 0.9 = 6.3 -> 1900 + 0.3 x 600 = 2080.
        let s = summarize_with(&ten(), Some(slo(Some(2000.0), None, None)));
        let g = s.goodput.expect("goodput");
        let c = &g.at_percentile[0];
        assert_eq!(c.metric, SloMetric::Ttft);
        assert!((c.observed_ms.expect("p90") - 2080.0).abs() < 1e-9, "{c:?}");
        assert!(!c.met && !g.met);
        assert_eq!(c.observed_ms, s.ttft_ms.map(|d| d.p90), "the same p90 as the summary's");
        assert_eq!(g.checks_text(), "p90 TTFT 2.08 s > 2 s");
        // At p50 (h = 3.5 -> 300 + 0.5 x 100 = 350) the same targets are met.
        let mut at50 = slo(Some(2000.0), None, None);
        at50.percentile = 50.0;
        let g = summarize_with(&ten(), Some(at50)).goodput.expect("goodput");
        assert!(g.met);
        assert!((g.at_percentile[0].observed_ms.expect("p50") - 350.0).abs() < 1e-9);
        // p80 is computed from the samples by the same rule: h = 5.6 -> 500 + 0.6 x 1400 = 1340.
        let mut at80 = slo(Some(2000.0), None, None);
        at80.percentile = 80.0;
        let g = summarize_with(&ten(), Some(at80)).goodput.expect("goodput");
        assert!((g.at_percentile[0].observed_ms.expect("p80") - 1340.0).abs() < 1e-9);
    }

    #[test]
    fn warm_up_is_not_counted_and_a_run_without_targets_has_no_goodput() {
        let mut rs = ten();
        rs[0].warmup = true;
        let g = summarize_with(&rs, Some(slo(Some(2000.0), Some(100.0), None)))
            .goodput
            .expect("goodput");
        assert_eq!(g.good_requests, 4);
        assert_eq!(summarize(&ten()).goodput, None);
    }

    #[test]
    fn summaries_stored_before_goodput_existed_still_read() {
        let mut v = serde_json::to_value(summarize(&ten())).expect("json");
        v.as_object_mut().expect("object").remove("goodput");
        let back: crate::domain::summary::RunSummary = serde_json::from_value(v).expect("old shape");
        assert_eq!(back.goodput, None);
    }

    proptest::proptest! {
        /// The single streaming pass counts exactly what a filter over all records counts.
        #[test]
        fn the_streaming_count_equals_a_count_over_every_record(
            reqs in proptest::collection::vec((0u64..3_000, 0u64..5_000, proptest::option::of(0u64..40), 0u8..4, proptest::bool::ANY), 0..80),
            ttft in 1u64..3_000, tpot in 1u64..200,
        ) {
            let records: Vec<RequestRecord> = reqs.iter().enumerate().map(|(i, &(t, extra, tokens, o, warm))| {
                let outcome = [Outcome::Ok, Outcome::Truncated, Outcome::Timeout, Outcome::Ok][o as usize];
                RequestRecord { warmup: warm && i % 5 == 0, ..req(i as u32, outcome, i as u64 * 10, t, t + extra, tokens) }
            }).collect();
            let target = slo(Some(ttft as f64), Some(tpot as f64), None);
            let by_hand = records.iter().filter(|r| !r.warmup && target.met_by(r)).count() as u64;
            let g = summarize_with(&records, Some(target)).goodput.expect("goodput");
            proptest::prop_assert_eq!(g.good_requests, by_hand);
        }
    }
}
