//! The starting price sheets Bakeoff ships, each with its source and date.

use super::cost::{PriceKind, PriceRow, PriceSheet, SelfHosted};

fn per_token(model_key: &str, kind: PriceKind, input: f64, output: f64, note: &str) -> PriceRow {
    PriceRow {
        id: 0,
        model_key: model_key.into(),
        kind,
        input_per_m: Some(input),
        output_per_m: Some(output),
        usd_per_hour: None,
        self_hosted: None,
        note: note.into(),
    }
}

pub const SEED_SHEET: &str = "Parasail (seed sheet, Oct 2025)";
pub const LATER_SHEET: &str = "Parasail (later listing)";
pub const SELF_HOSTED_SHEET: &str = "Self-hosted RTX 4080 16 GB";

pub fn starting_sheets() -> Vec<PriceSheet> {
    let later = |m: &str, i: f64, o: f64| per_token(m, PriceKind::Serverless, i, o, "");
    let half = |m: &str, i: f64, o: f64| per_token(m, PriceKind::Batch, i / 2.0, o / 2.0, "batch: 50 % off serverless");
    let tier = |t: &str, p: f64| per_token(t, PriceKind::Batch, p, p, "batch size tier, same price in and out");
    vec![
        PriceSheet {
            id: 0,
            name: SEED_SHEET.into(),
            provider: "Parasail".into(),
            source: "the seed team's benchmark report (benchmark-results.md, 'Production Cost Estimates (Parasail GPT-OSS 20B)')".into(),
            dated: "2025-10-28".into(),
            default_model_key: Some("gpt-oss-20b".into()),
            rows: vec![
                per_token(
                    "gpt-oss-20b",
                    PriceKind::Serverless,
                    0.04,
                    0.20,
                    "the seed priced every model at this rate",
                ),
                per_token("gemma3-27b-it", PriceKind::Serverless, 0.20, 0.50, ""),
                per_token("qwen3-14b", PriceKind::Serverless, 0.15, 0.30, ""),
                per_token("qwen3-30b-a3b", PriceKind::Serverless, 0.15, 0.65, ""),
            ],
        },
        PriceSheet {
            id: 0,
            name: LATER_SHEET.into(),
            provider: "Parasail".into(),
            source: "a later Parasail price listing, as given to the Bakeoff team".into(),
            dated: "after 2025-10-28 (exact date not recorded)".into(),
            default_model_key: None,
            rows: vec![
                later("gpt-oss-20b", 0.03, 0.15),
                later("gemma3-27b-it", 0.08, 0.45),
                later("llama-3.2-3b-instruct", 0.05, 0.33),
                half("gpt-oss-20b", 0.03, 0.15),
                half("gemma3-27b-it", 0.08, 0.45),
                half("llama-3.2-3b-instruct", 0.05, 0.33),
                tier("tier 0-4B FP8", 0.025),
                tier("tier 0-4B FP16", 0.033),
                tier("tier 4.1-8B FP8", 0.040),
                tier("tier 4.1-8B FP16", 0.052),
                tier("tier 8.1-16B FP8", 0.055),
                tier("tier 8.1-16B FP16", 0.072),
            ],
        },
        PriceSheet {
            id: 0,
            name: SELF_HOSTED_SHEET.into(),
            provider: "self-hosted".into(),
            source: "the seed system's assumption: a $1,200 card over 3 years, 320 W at $0.12/kWh, running 24/7".into(),
            dated: "2025-10-28".into(),
            default_model_key: Some("*".into()),
            rows: vec![PriceRow {
                id: 0,
                model_key: "*".into(),
                kind: PriceKind::SelfHosted,
                input_per_m: None,
                output_per_m: None,
                usd_per_hour: None,
                self_hosted: Some(SelfHosted {
                    hardware_usd: 1200.0,
                    years: 3.0,
                    watts: 320.0,
                    usd_per_kwh: 0.12,
                    hours_per_day: 24.0,
                }),
                note: "any model served on this card".into(),
            }],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_prices_are_half_the_serverless_ones() {
        let later = &starting_sheets()[1];
        let find = |k: PriceKind| {
            later
                .rows
                .iter()
                .find(|r| r.model_key == "gpt-oss-20b" && r.kind == k)
                .expect("row")
        };
        assert_eq!(find(PriceKind::Batch).input_per_m, Some(0.015));
        assert_eq!(find(PriceKind::Batch).output_per_m, Some(0.075));
        assert_eq!(find(PriceKind::Serverless).output_per_m, Some(0.15));
    }

    #[test]
    fn every_sheet_is_dated_and_sourced() {
        assert!(starting_sheets()
            .iter()
            .all(|s| !s.dated.is_empty() && !s.source.is_empty() && !s.rows.is_empty()));
    }
}
