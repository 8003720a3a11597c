//! Cost of a run's work under a price sheet, per request, per 100K and per month.
//!
//! Cost of a request = prompt tokens x input price + completion tokens x output price, with
//! prices per million tokens. Self-hosted cost of a request = $ per GPU-hour / requests per hour
//! measured. "The model that produced the tokens" and "the price applied" stay apart: a price row
//! names the model it was listed for, and a run may be priced at another model's row.

use serde::{Deserialize, Serialize};

pub mod limits;

/// US dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Usd(pub f64);

/// How a price is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// $ per hour of use: hardware / (years x 365 x hours a day) + kW x $ per kWh. `None` when
    /// the GPU is used no hours at all (0 years, or 0 hours a day): its hardware is paid for
    /// anyway, so an hour of use has no finite price (never a silent $0 of hardware).
    pub fn usd_per_hour(&self) -> Option<f64> {
        let hours = self.years * 365.0 * self.hours_per_day;
        if hours.is_nan() || hours <= 0.0 {
            return None;
        }
        Some(self.hardware_usd / hours + self.watts / 1000.0 * self.usd_per_kwh)
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
        self.self_hosted.as_ref().map_or(self.usd_per_hour, SelfHosted::usd_per_hour)
    }
    pub fn describe(&self) -> String {
        match (self.kind.per_token(), self.input_per_m, self.output_per_m, self.hourly()) {
            (true, Some(i), Some(o), _) => format!(
                "{}: ${} in / ${} out per 1M tokens ({})",
                self.model_key,
                limits::price_text(i),
                limits::price_text(o),
                self.kind.label()
            ),
            (false, _, _, Some(h)) => format!("{}: ${} per hour ({})", self.model_key, limits::hourly_text(h), self.kind.label()),
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

/// Why a row applies to a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Applied {
    /// The sheet lists the model.
    Listed,
    /// A size tier (`tier 0-4B FP8`): the model's parameters read from its name, the precision
    /// from its name (`fp8`), else 16-bit weights assumed.
    Tier {
        params_b: f64,
        precision: String,
        precision_assumed: bool,
    },
    /// The sheet's rate for models it does not list.
    SheetDefault,
    /// An hourly row for any model (`*`): the GPU costs the same whatever runs on it.
    AnyModel,
}

impl Applied {
    /// What to say beside the row's description.
    pub fn note(&self) -> Option<String> {
        match self {
            Applied::Listed | Applied::AnyModel => None,
            Applied::Tier {
                params_b,
                precision,
                precision_assumed,
            } => Some(format!(
                "size tier: {}B parameters read from the model's name, {precision}{}",
                super::format::dec(*params_b, if params_b.fract() == 0.0 { 0 } else { 1 }),
                if *precision_assumed { " assumed (no FP8 in the name)" } else { "" }
            )),
            Applied::SheetDefault => Some("the sheet's rate for models it does not list".into()),
        }
    }
}

impl PriceSheet {
    /// The row that prices `model`: its own row if the sheet lists it (names compared loosely),
    /// else the size tier its parameter count falls in, else the sheet's default row, else an
    /// hourly row for any model.
    pub fn row_for(&self, model: &str) -> Option<&PriceRow> {
        self.match_for(model).map(|m| m.0)
    }

    /// [`PriceSheet::row_for`] with the reason the row applies.
    pub fn match_for(&self, model: &str) -> Option<(&PriceRow, Applied)> {
        self.match_among(model, |_| true)
    }

    /// The row that prices `model` for a job charged as `kind` (a provider's Batch API job:
    /// [`PriceKind::Batch`]): the sheet's rows of that kind first (listed, size tier, default),
    /// else the usual [`PriceSheet::match_for`], with a note that the sheet has no such price for
    /// the model, so the figure is the other kind's price, said so.
    pub fn match_preferring(&self, model: &str, kind: PriceKind) -> Option<KindMatch<'_>> {
        if let Some((row, applied)) = self.match_among(model, |r| r.kind == kind) {
            return Some(KindMatch {
                row,
                applied,
                fallback: None,
            });
        }
        let (row, applied) = self.match_for(model)?;
        let fallback = format!(
            "{} has no {} price for {model}: this is its {} price, not what the job is charged",
            self.name,
            kind_word(kind),
            kind_word(row.kind)
        );
        Some(KindMatch {
            row,
            applied,
            fallback: Some(fallback),
        })
    }

    /// [`PriceSheet::match_preferring`] when the job is charged as a kind of its own (a provider
    /// batch: [`PriceKind::Batch`]), else [`PriceSheet::match_for`].
    pub fn match_charged(&self, model: &str, charged: Option<PriceKind>) -> Option<KindMatch<'_>> {
        match charged {
            Some(kind) => self.match_preferring(model, kind),
            None => self.match_for(model).map(|(row, applied)| KindMatch {
                row,
                applied,
                fallback: None,
            }),
        }
    }

    /// [`PriceSheet::match_for`] over the rows `keep` accepts.
    fn match_among(&self, model: &str, keep: impl Fn(&PriceRow) -> bool) -> Option<(&PriceRow, Applied)> {
        let m = normalize(model);
        let rows = || self.rows.iter().filter(|r| keep(r));
        if let Some(r) = rows().find(|r| {
            tier_of(&r.model_key).is_none() && r.model_key != "*" && (normalize(&r.model_key) == m || m.ends_with(&normalize(&r.model_key)))
        }) {
            return Some((r, Applied::Listed));
        }
        if let Some(found) = self.tier_row(model, &keep) {
            return Some(found);
        }
        if let Some(r) = self.default_model_key.as_ref().and_then(|k| rows().find(|r| &r.model_key == k)) {
            return Some((
                r,
                if r.model_key == "*" && !r.kind.per_token() {
                    Applied::AnyModel
                } else {
                    Applied::SheetDefault
                },
            ));
        }
        rows()
            .find(|r| !r.kind.per_token() && r.model_key == "*")
            .map(|r| (r, Applied::AnyModel))
    }

    /// The size tier a model falls in, by the parameter count in its name.
    fn tier_row(&self, model: &str, keep: &impl Fn(&PriceRow) -> bool) -> Option<(&PriceRow, Applied)> {
        let params = params_in_name(model)?;
        let lower = model.to_ascii_lowercase();
        let fp8 = lower.contains("fp8") || lower.contains("w8a8");
        let want = if fp8 { "FP8" } else { "FP16" };
        let tiers: Vec<(&PriceRow, Tier)> = self
            .rows
            .iter()
            .filter(|r| keep(r))
            .filter_map(|r| Some((r, tier_of(&r.model_key)?)))
            .collect();
        // The smallest tier whose upper bound holds the model (a model of 4.05B between the
        // 0-4B and 4.1-8B tiers goes up, never down), in the precision wanted where listed.
        let fits = |t: &Tier| params <= t.high_b + 1e-9;
        let best = |precision: Option<&str>| {
            tiers
                .iter()
                .filter(|(_, t)| fits(t) && precision.is_none_or(|p| t.precision.eq_ignore_ascii_case(p)))
                .min_by(|a, b| a.1.high_b.total_cmp(&b.1.high_b))
        };
        let (row, tier) = best(Some(want)).or_else(|| best(None))?;
        Some((
            row,
            Applied::Tier {
                params_b: params,
                precision: tier.precision.clone(),
                precision_assumed: !fp8 && tier.precision.eq_ignore_ascii_case("FP16"),
            },
        ))
    }
}

/// A row found for a kind of price, and whether the sheet had to fall back to another kind.
#[derive(Clone, Debug, PartialEq)]
pub struct KindMatch<'a> {
    pub row: &'a PriceRow,
    pub applied: Applied,
    /// Set when the sheet has no row of the kind wanted for the model: what was used instead.
    pub fallback: Option<String>,
}

impl KindMatch<'_> {
    /// The row described, with why it applies and any fallback.
    pub fn describe(&self) -> String {
        let mut notes: Vec<String> = self.applied.note().into_iter().collect();
        notes.extend(self.fallback.clone());
        if notes.is_empty() {
            self.row.describe()
        } else {
            format!("{} ({})", self.row.describe(), notes.join("; "))
        }
    }
}

/// "batch", "serverless", "dedicated", "self-hosted".
fn kind_word(kind: PriceKind) -> &'static str {
    match kind {
        PriceKind::Serverless => "serverless",
        PriceKind::Batch => "batch",
        PriceKind::Dedicated => "dedicated",
        PriceKind::SelfHosted => "self-hosted",
    }
}

/// A size tier named by a row's key: `tier 0-4B FP8` -> 0..=4 B parameters at FP8.
#[derive(Clone, Debug, PartialEq)]
struct Tier {
    high_b: f64,
    precision: String,
}

fn tier_of(key: &str) -> Option<Tier> {
    let rest = key.trim().strip_prefix("tier ")?;
    let mut words = rest.split_whitespace();
    let range = words.next()?.trim_end_matches(['B', 'b']);
    let (lo, hi) = range.split_once('-')?;
    lo.trim().parse::<f64>().ok()?;
    Some(Tier {
        high_b: hi.trim().parse().ok()?,
        precision: words.next().unwrap_or("").to_string(),
    })
}

/// Billions of parameters named in a model's name: `meta-llama/Llama-3.2-1B-Instruct` -> 1,
/// `Qwen3-30B-A3B` -> 30 (the total, not the active experts), `SmolLM2-360M` -> 0.36.
pub fn params_in_name(model: &str) -> Option<f64> {
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    name.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).find_map(|word| {
        let (num, scale) = if let Some(n) = word.strip_suffix('b') {
            (n, 1.0)
        } else if let Some(n) = word.strip_suffix('m') {
            (n, 1e-3)
        } else {
            return None;
        };
        if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        num.parse::<f64>().ok().filter(|v| *v > 0.0).map(|v| v * scale)
    })
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
    /// Per request x the monthly volume (for hourly rows: the GPU hours the job needs).
    pub per_month: Usd,
    pub monthly_volume: f64,
    /// How it was computed, in words (shown beside the figure).
    pub basis: String,
    /// Hourly rows: the month both ways (the GPU kept around the clock, and the hours the job needs).
    #[serde(default)]
    pub gpu_month: Option<GpuMonth>,
}

/// A GPU paid by the hour, over a month, both ways: kept all month (a fixed cost, whatever the
/// volume: the hardware is paid for and the card is on), and only the hours the month's volume
/// needs at the measured rate (what the work itself uses; the rest of the time is idle or
/// serves something else).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuMonth {
    pub usd_per_hour: f64,
    /// Hours a month the GPU is kept: hours a day x 365 / 12 (24 h a day for rented GPUs).
    pub kept_hours: f64,
    /// GPUs needed to do the volume within the kept hours (at least 1).
    pub gpus: u32,
    /// $ per hour x kept hours x GPUs: independent of the volume.
    pub around_the_clock: Usd,
    /// Volume / (requests per hour measured).
    pub job_hours: f64,
    /// $ per hour x job hours (= per request x volume).
    pub job_cost: Usd,
}

/// Average days in a month (365 / 12).
pub const DAYS_PER_MONTH: f64 = 365.0 / 12.0;

impl GpuMonth {
    pub fn new(usd_per_hour: f64, hours_per_day: f64, requests_per_s: f64, volume: f64) -> Option<GpuMonth> {
        if requests_per_s <= 0.0 || hours_per_day.is_nan() || hours_per_day <= 0.0 {
            return None;
        }
        let kept_hours = hours_per_day.min(24.0) * DAYS_PER_MONTH;
        let job_hours = volume / (requests_per_s * 3600.0);
        let gpus = ((job_hours / kept_hours).ceil() as u32).max(1);
        Some(GpuMonth {
            usd_per_hour,
            kept_hours,
            gpus,
            around_the_clock: Usd(usd_per_hour * kept_hours * f64::from(gpus)),
            job_hours,
            job_cost: Usd(usd_per_hour * job_hours),
        })
    }

    /// Both figures in words.
    pub fn describe(&self) -> String {
        let kept = if (self.kept_hours - 24.0 * DAYS_PER_MONTH).abs() < 1e-6 {
            "around the clock".to_string()
        } else {
            format!("{:.0} h a month", self.kept_hours)
        };
        format!(
            "{} a month for {} GPU{} kept {kept} (fixed, whatever the volume); {} for the {} GPU-hours the job needs at the measured rate",
            super::format::usd(self.around_the_clock.0),
            self.gpus,
            if self.gpus == 1 { "" } else { "s" },
            super::format::usd(self.job_cost.0),
            super::format::dec(self.job_hours, if self.job_hours < 10.0 { 2 } else { 0 })
        )
    }
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
    let mut gpu_month = None;
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
        let hours_per_day = row.self_hosted.as_ref().map(|h| h.hours_per_day).unwrap_or(24.0);
        gpu_month = GpuMonth::new(hourly, hours_per_day, usage.requests_per_s, monthly_volume);
        (hourly / per_hour, format!("${hourly:.4}/h / {per_hour:.0} requests/h measured"))
    };
    Some(RunCost {
        per_request: Usd(per_request),
        per_100k: Usd(per_request * 1e5),
        per_month: Usd(per_request * monthly_volume),
        monthly_volume,
        basis,
        gpu_month,
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
        let h = s.usd_per_hour().expect("priced");
        assert!((h - 0.084063).abs() < 1e-5, "{h}");
    }

    #[test]
    fn a_gpu_used_no_hours_a_day_has_no_price_per_hour_not_a_free_one() {
        let s = SelfHosted {
            hardware_usd: 30_000.0,
            years: 3.0,
            watts: 700.0,
            usd_per_kwh: 0.12,
            hours_per_day: 0.0,
        };
        assert_eq!(s.usd_per_hour(), None);
        let row = PriceRow {
            kind: PriceKind::SelfHosted,
            input_per_m: None,
            output_per_m: None,
            self_hosted: Some(s),
            ..seed_row()
        };
        assert_eq!(row.hourly(), None);
        let u = Usage {
            requests: 10,
            prompt_tokens: 0,
            completion_tokens: 0,
            requests_per_s: 1.0,
        };
        assert!(cost(&u, &row, 1000.0).is_none(), "priced at hardware $0");
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

    fn later_sheet() -> PriceSheet {
        super::super::prices::starting_sheets().remove(1)
    }

    #[test]
    fn small_models_are_priced_by_the_later_listings_0_4b_tier() {
        let sheet = later_sheet();
        for model in [
            "meta-llama/Llama-3.2-1B-Instruct",
            "google/gemma-3-4b-it",
            "Qwen/Qwen3-4B",
            "sim-llama-3.2-3b",
        ] {
            let (row, applied) = sheet.match_for(model).unwrap_or_else(|| panic!("{model} is not priced"));
            assert_eq!(row.model_key, "tier 0-4B FP16", "{model}");
            assert!(
                matches!(
                    applied,
                    Applied::Tier {
                        precision_assumed: true,
                        ..
                    }
                ),
                "{model}: {applied:?}"
            );
        }
        let (row, _) = sheet.match_for("RedHatAI/Llama-3.2-3B-Instruct-FP8").expect("priced");
        assert_eq!(row.model_key, "tier 0-4B FP8");
        assert_eq!(
            sheet
                .match_for("Qwen/Qwen2.5-7B-Instruct")
                .map(|m| m.0.model_key.clone())
                .as_deref(),
            Some("tier 4.1-8B FP16")
        );
        assert_eq!(
            sheet.match_for("qwen3-14b").map(|m| m.0.model_key.clone()).as_deref(),
            Some("tier 8.1-16B FP16")
        );
        // Listed models keep their own row; a 27B model has no tier and no default: not priced.
        assert_eq!(sheet.match_for("google/gemma3-27b-it").map(|m| m.1), Some(Applied::Listed));
        assert!(sheet.match_for("Qwen/Qwen3-30B-A3B").is_none());
        let (row, applied) = sheet.match_for("meta-llama/Llama-3.2-1B-Instruct").expect("priced");
        assert!(applied.note().expect("note").contains("1B parameters"), "{:?}", applied.note());
        assert_eq!(row.input_per_m, Some(0.033));
    }

    #[test]
    fn parameters_are_read_from_model_names() {
        assert_eq!(params_in_name("meta-llama/Llama-3.2-1B-Instruct"), Some(1.0));
        assert_eq!(params_in_name("Qwen3-30B-A3B"), Some(30.0));
        assert_eq!(params_in_name("gpt-oss-20b"), Some(20.0));
        assert_eq!(params_in_name("HuggingFaceTB/SmolLM2-360M-Instruct"), Some(0.36));
        assert_eq!(params_in_name("Qwen2.5-0.5B"), Some(0.5));
        assert_eq!(params_in_name("mistral-large"), None);
    }

    #[test]
    fn a_self_hosted_month_is_shown_both_ways_and_the_fixed_way_ignores_volume() {
        let row = PriceRow {
            kind: PriceKind::SelfHosted,
            input_per_m: None,
            output_per_m: None,
            self_hosted: Some(SelfHosted {
                hardware_usd: 1200.0,
                years: 3.0,
                watts: 320.0,
                usd_per_kwh: 0.12,
                hours_per_day: 24.0,
            }),
            ..seed_row()
        };
        let u = Usage {
            requests: 5000,
            prompt_tokens: 0,
            completion_tokens: 0,
            requests_per_s: 46.15,
        };
        let small = cost(&u, &row, 250_000.0).expect("priced").gpu_month.expect("hourly");
        let big = cost(&u, &row, 25_000_000.0).expect("priced").gpu_month.expect("hourly");
        // 0.084063 $/h x 730 h = $61.37 a month, for 250K requests as for 25M.
        assert!((small.around_the_clock.0 - 61.366).abs() < 0.01, "{small:?}");
        assert_eq!(small.around_the_clock, big.around_the_clock);
        // 250K / (46.15 x 3600) = 1.505 GPU-hours, at $0.084 = $0.13.
        assert!(
            (small.job_hours - 1.5048).abs() < 1e-3 && (small.job_cost.0 - 0.1265).abs() < 1e-3,
            "{small:?}"
        );
        assert!((big.job_cost.0 / small.job_cost.0 - 100.0).abs() < 1e-9);
        assert!(
            small.describe().contains("$61.37 a month for 1 GPU kept around the clock"),
            "{}",
            small.describe()
        );
    }

    #[test]
    fn a_volume_beyond_one_gpu_month_needs_more_gpus() {
        // 1 request/s: 2,628,000 requests fill 730 h; 5M need 2 GPUs all month.
        let m = GpuMonth::new(1.0, 24.0, 1.0, 5_000_000.0).expect("month");
        assert_eq!(m.gpus, 2);
        assert!((m.around_the_clock.0 - 2.0 * 730.0).abs() < 1e-9);
        assert!(GpuMonth::new(1.0, 24.0, 0.0, 1.0).is_none());
        let per_token = cost(
            &Usage {
                requests: 1,
                prompt_tokens: 1,
                completion_tokens: 1,
                requests_per_s: 1.0,
            },
            &seed_row(),
            1.0,
        )
        .expect("priced");
        assert!(per_token.gpu_month.is_none(), "per-token prices have no GPU month");
    }

    fn gemma_usage() -> Usage {
        Usage {
            requests: 5000,
            prompt_tokens: 3_942_154,
            completion_tokens: 1_540_218,
            requests_per_s: 2.29,
        }
    }

    #[test]
    fn a_batch_job_is_priced_at_the_sheets_batch_row_half_the_serverless_one() {
        let sheet = later_sheet();
        let server = sheet.match_for("openai/gpt-oss-20b").expect("priced");
        assert_eq!(server.0.kind, PriceKind::Serverless);
        let batch = sheet.match_preferring("openai/gpt-oss-20b", PriceKind::Batch).expect("priced");
        assert_eq!(batch.row.kind, PriceKind::Batch);
        assert_eq!(batch.fallback, None);
        let u = gemma_usage();
        let (s, b) = (
            cost(&u, server.0, 1e6).expect("server cost"),
            cost(&u, batch.row, 1e6).expect("batch cost"),
        );
        assert!(
            (b.per_100k.0 * 2.0 - s.per_100k.0).abs() < 1e-9,
            "{} vs {}",
            b.per_100k.0,
            s.per_100k.0
        );
        assert!(batch.describe().contains("batch per token"), "{}", batch.describe());
    }

    #[test]
    fn a_batch_job_of_an_unlisted_model_is_priced_by_its_batch_size_tier() {
        let sheet = later_sheet();
        let m = sheet
            .match_preferring("Qwen/Qwen2.5-7B-Instruct", PriceKind::Batch)
            .expect("priced");
        assert_eq!(m.row.model_key, "tier 4.1-8B FP16");
        assert_eq!(m.row.input_per_m, Some(0.052));
        assert!(m.fallback.is_none());
        assert!(
            m.describe().contains("7B parameters read from the model's name"),
            "{}",
            m.describe()
        );
        let fp8 = sheet
            .match_preferring("RedHatAI/Llama-3.1-8B-Instruct-FP8", PriceKind::Batch)
            .expect("priced");
        assert_eq!(fp8.row.model_key, "tier 4.1-8B FP8");
        // A listed model keeps its own batch row before any tier.
        let listed = sheet
            .match_preferring("meta-llama/Llama-3.2-3B-Instruct", PriceKind::Batch)
            .expect("priced");
        assert_eq!(
            (listed.row.model_key.as_str(), listed.row.input_per_m),
            ("llama-3.2-3b-instruct", Some(0.025))
        );
        // 1,000 requests of 800 prompt + 200 completion tokens at the 7B tier: $0.052 per 1M either way.
        let u = Usage {
            requests: 1000,
            prompt_tokens: 800_000,
            completion_tokens: 200_000,
            requests_per_s: 1.0,
        };
        let c = cost(&u, m.row, 1e6).expect("priced");
        assert!((c.per_100k.0 - 100_000.0 * 1000.0 * 0.052 / 1e6).abs() < 1e-9, "{}", c.per_100k.0);
    }

    #[test]
    fn a_sheet_without_batch_prices_falls_back_to_its_serverless_price_and_says_so() {
        let seed = super::super::prices::starting_sheets().remove(0);
        let m = seed.match_preferring("google/gemma-3-4b-it", PriceKind::Batch).expect("priced");
        assert_eq!((m.row.kind, m.row.model_key.as_str()), (PriceKind::Serverless, "gpt-oss-20b"));
        let note = m.fallback.clone().expect("a fallback note");
        assert!(
            note.contains("has no batch price for google/gemma-3-4b-it") && note.contains("its serverless price"),
            "{note}"
        );
        assert!(m.describe().contains(&note), "{}", m.describe());
        // Nothing at all: no row of any kind.
        assert!(later_sheet().match_preferring("Qwen/Qwen3-30B-A3B", PriceKind::Batch).is_none());
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

crate::sql_text!(PriceKind);
