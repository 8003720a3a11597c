//! Cost of a run's work under a price sheet, per request, per 100K and per month.
//!
//! Cost of a request = prompt tokens x input price + completion tokens x output price, with
//! prices per million tokens. Self-hosted cost of a request = $ per GPU-hour / requests per hour
//! measured. "The model that produced the tokens" and "the price applied" stay apart: a price row
//! names the model it was listed for, and a run may be priced at another model's row.

use serde::{Deserialize, Serialize};

/// US dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Usd(pub f64);

/// How a price is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    /// Per token, on demand.
    Serverless,
    /// Per token, asynchronous batch.
    Batch,
    /// Per GPU-hour, rented.
    Dedicated,
    /// Per GPU-hour, owned: hardware over its life plus power.
    SelfHosted,
}

impl PriceKind {
    pub fn per_token(self) -> bool {
        matches!(self, PriceKind::Serverless | PriceKind::Batch)
    }
    pub fn label(self) -> &'static str {
        match self {
            PriceKind::Serverless => "serverless per token",
            PriceKind::Batch => "batch per token",
            PriceKind::Dedicated => "dedicated per GPU-hour",
            PriceKind::SelfHosted => "self-hosted per GPU-hour",
        }
    }
}

/// What owning a GPU costs per hour: its price spread over its life, plus power.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelfHosted {
    pub hardware_usd: f64,
    pub years: f64,
    pub watts: f64,
    pub usd_per_kwh: f64,
    /// Hours a day it runs (24 = around the clock); the hardware is paid for either way.
    pub hours_per_day: f64,
}

impl SelfHosted {
    /// $ per hour of use: hardware / (years x 365 x hours a day) + kW x $ per kWh.
    pub fn usd_per_hour(&self) -> f64 {
        let hours = self.years * 365.0 * self.hours_per_day;
        let hardware = if hours > 0.0 { self.hardware_usd / hours } else { 0.0 };
        hardware + self.watts / 1000.0 * self.usd_per_kwh
    }
}

/// One priced line of a sheet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceRow {
    pub id: i64,
    /// The model the price was listed for (or a size tier, e.g. `tier 0-4B FP8`).
    pub model_key: String,
    pub kind: PriceKind,
    pub input_per_m: Option<f64>,
    pub output_per_m: Option<f64>,
    pub usd_per_hour: Option<f64>,
    pub self_hosted: Option<SelfHosted>,
    pub note: String,
}

impl PriceRow {
    /// $ per hour for hourly rows.
    pub fn hourly(&self) -> Option<f64> {
        self.self_hosted.as_ref().map(SelfHosted::usd_per_hour).or(self.usd_per_hour)
    }
    pub fn describe(&self) -> String {
        match (self.kind.per_token(), self.input_per_m, self.output_per_m, self.hourly()) {
            (true, Some(i), Some(o), _) => format!("{}: ${i} in / ${o} out per 1M tokens ({})", self.model_key, self.kind.label()),
            (false, _, _, Some(h)) => format!("{}: ${h:.4} per hour ({})", self.model_key, self.kind.label()),
            _ => format!("{} ({})", self.model_key, self.kind.label()),
        }
    }
}

/// A dated, sourced list of prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceSheet {
    pub id: i64,
    pub name: String,
    pub provider: String,
    pub source: String,
    /// When the prices were true (free text: a date, or what is known of it).
    pub dated: String,
    /// The row applied to a model the sheet does not list (the seed priced everything at
    /// gpt-oss-20b's rate); `None`: such models are not priced by this sheet.
    pub default_model_key: Option<String>,
    pub rows: Vec<PriceRow>,
}

impl PriceSheet {
    /// The row that prices `model`: its own row if the sheet lists it (names compared loosely),
    /// else the sheet's default row. Per-token and hourly rows are looked up apart.
    pub fn row_for(&self, model: &str) -> Option<&PriceRow> {
        let m = normalize(model);
        self.rows
            .iter()
            .find(|r| !r.model_key.starts_with("tier ") && (normalize(&r.model_key) == m || m.ends_with(&normalize(&r.model_key))))
            .or_else(|| {
                self.default_model_key
                    .as_ref()
                    .and_then(|k| self.rows.iter().find(|r| &r.model_key == k))
            })
            .or_else(|| self.rows.iter().find(|r| !r.kind.per_token() && r.model_key == "*"))
    }
}

/// Lower-case, without an organisation prefix and punctuation: `google/gemma-3-4b-it` -> `gemma34bit`.
fn normalize(s: &str) -> String {
    let s = s.rsplit('/').next().unwrap_or(s);
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What a run's work costs under one price row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCost {
    pub per_request: Usd,
    pub per_100k: Usd,
    pub per_month: Usd,
    pub monthly_volume: f64,
    /// How it was computed, in words (shown beside the figure).
    pub basis: String,
}

/// The token usage a cost is computed from (totals, for exact means).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Requests per second measured (for hourly prices).
    pub requests_per_s: f64,
}

impl Usage {
    /// From a run's summary (its exact token totals). `None` without a prompt/completion split.
    pub fn from_summary(s: &super::summary::RunSummary) -> Option<Usage> {
        let mean_p = s.mean_prompt_tokens?;
        let mean_c = s.mean_completion_tokens?;
        // Requests whose tokens are in the totals.
        let n = if mean_p + mean_c > 0.0 {
            ((s.prompt_tokens + s.completion_tokens) as f64 / (mean_p + mean_c)).round() as u64
        } else {
            0
        };
        Some(Usage {
            requests: n.max(1),
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.completion_tokens,
            requests_per_s: s.requests_per_s,
        })
    }
}

/// Price `usage` with `row`. `None` when the row lacks what its kind needs, or nothing was measured.
pub fn cost(usage: &Usage, row: &PriceRow, monthly_volume: f64) -> Option<RunCost> {
    if usage.requests == 0 {
        return None;
    }
    let n = usage.requests as f64;
    let (per_request, basis) = if row.kind.per_token() {
        let (i, o) = (row.input_per_m?, row.output_per_m?);
        let mean_p = usage.prompt_tokens as f64 / n;
        let mean_c = usage.completion_tokens as f64 / n;
        (
            (mean_p * i + mean_c * o) / 1e6,
            format!("{mean_p:.1} prompt x ${i}/1M + {mean_c:.1} completion x ${o}/1M"),
        )
    } else {
        let hourly = row.hourly()?;
        if usage.requests_per_s <= 0.0 {
            return None;
        }
        let per_hour = usage.requests_per_s * 3600.0;
        (hourly / per_hour, format!("${hourly:.4}/h / {per_hour:.0} requests/h measured"))
    };
    Some(RunCost {
        per_request: Usd(per_request),
        per_100k: Usd(per_request * 1e5),
        per_month: Usd(per_request * monthly_volume),
        monthly_volume,
        basis,
    })
}

/// How much cheaper `a` is than `b`, as a fraction of `b` (negative: dearer).
pub fn cheaper_by(a: Usd, b: Usd) -> Option<f64> {
    (b.0 > 0.0).then(|| (b.0 - a.0) / b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seed_row() -> PriceRow {
        PriceRow {
            id: 1,
            model_key: "gpt-oss-20b".into(),
            kind: PriceKind::Serverless,
            input_per_m: Some(0.04),
            output_per_m: Some(0.20),
            usd_per_hour: None,
            self_hosted: None,
            note: String::new(),
        }
    }

    #[test]
    fn gemma_at_the_seed_price_is_9_31_per_100k() {
        let u = Usage {
            requests: 5000,
            prompt_tokens: 3_942_154,
            completion_tokens: 1_540_218,
            requests_per_s: 2.29,
        };
        let c = cost(&u, &seed_row(), 1e6).expect("priced");
        assert!((c.per_100k.0 - 9.3146).abs() < 1e-3, "{}", c.per_100k.0);
        assert!((c.per_month.0 - 93.146).abs() < 1e-2);
    }

    #[test]
    fn llama_at_the_seed_price_is_3_66_not_4_05() {
        let exact = Usage {
            requests: 5000,
            prompt_tokens: 1_540_000,
            completion_tokens: 606_875,
            requests_per_s: 46.15,
        };
        let c = cost(&exact, &seed_row(), 1e6).expect("priced");
        assert_eq!(format!("{:.2}", c.per_100k.0), "3.66");
        // From the seed's rounded means (308 + 121) the same price gives 3.65.
        let rounded = Usage {
            requests: 1,
            prompt_tokens: 308,
            completion_tokens: 121,
            requests_per_s: 1.0,
        };
        assert_eq!(
            format!("{:.2}", cost(&rounded, &seed_row(), 1e6).expect("priced").per_100k.0),
            "3.65"
        );
    }

    #[test]
    fn the_seed_gpu_costs_about_8_cents_an_hour() {
        let s = SelfHosted {
            hardware_usd: 1200.0,
            years: 3.0,
            watts: 320.0,
            usd_per_kwh: 0.12,
            hours_per_day: 24.0,
        };
        // 1200 / 26280 h + 0.32 kW x 0.12 = 0.04566 + 0.0384
        assert!((s.usd_per_hour() - 0.084063).abs() < 1e-5, "{}", s.usd_per_hour());
    }

    #[test]
    fn self_hosted_cost_divides_the_hour_by_measured_requests() {
        let row = PriceRow {
            kind: PriceKind::Dedicated,
            usd_per_hour: Some(3.6),
            input_per_m: None,
            output_per_m: None,
            ..seed_row()
        };
        let u = Usage {
            requests: 10,
            prompt_tokens: 0,
            completion_tokens: 0,
            requests_per_s: 1.0,
        };
        let c = cost(&u, &row, 1000.0).expect("priced");
        assert!((c.per_request.0 - 0.001).abs() < 1e-12);
    }

    #[test]
    fn a_sheet_prices_listed_models_by_their_row_and_others_by_its_default() {
        let mut gemma = seed_row();
        gemma.model_key = "gemma3-27b-it".into();
        gemma.id = 2;
        let sheet = PriceSheet {
            id: 1,
            name: "s".into(),
            provider: "p".into(),
            source: "x".into(),
            dated: "d".into(),
            default_model_key: Some("gpt-oss-20b".into()),
            rows: vec![seed_row(), gemma],
        };
        assert_eq!(sheet.row_for("google/gemma3-27b-it").map(|r| r.id), Some(2));
        assert_eq!(sheet.row_for("meta-llama/Llama-3.2-1B-Instruct").map(|r| r.id), Some(1));
    }

    proptest! {
        #[test]
        fn costs_are_never_negative(p in 0u64..10_000_000, c in 0u64..10_000_000, n in 1u64..100_000, i in 0.0f64..10.0, o in 0.0f64..10.0) {
            let row = PriceRow { input_per_m: Some(i), output_per_m: Some(o), ..seed_row() };
            let cst = cost(&Usage { requests: n, prompt_tokens: p, completion_tokens: c, requests_per_s: 1.0 }, &row, 1e6).expect("priced");
            prop_assert!(cst.per_request.0 >= 0.0 && cst.per_100k.0 >= 0.0 && cst.per_month.0 >= 0.0);
        }
    }
}
