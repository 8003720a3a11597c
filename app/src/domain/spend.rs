//! Data that must not leave the building, and money that must not run away: the internal-only
//! rule, the cost preview before a launch on a priced endpoint, and the per-endpoint spend cap.
//!
//! Estimates:
//! - Prompt tokens of a request = ceil(UTF-8 bytes of its text / 4) + 4 per message: about four
//!   characters of English per token, plus the chat template's few tokens per message. It is the
//!   count Bakeoff's simulator answers with, so on the simulator the estimate is exact; on a real
//!   tokenizer it is an estimate, and every page says so.
//! - A run's input tokens = its requests (warm-up included) x the dataset's mean estimate (exact
//!   when the run sends every item the same number of times).
//! - Its output tokens are bounded by max_tokens x requests (the launch form's max tokens, else
//!   each item's own); with neither, the output has no bound and neither has the cost.
//!
//! Money: a request costs prompt tokens x input price + completion tokens x output price (per
//! million tokens, from the endpoint's price sheet, the serverless row preferred). The cap is per
//! endpoint and per calendar month (UTC), counted from the usage the endpoint reported for each
//! finished request (estimated where it reported none: `counted_usage`; a run that crosses
//! midnight at a month's end counts in the month it started). A run sends its next request only
//! when it fits under the cap at its worst case beside the worst case of those in flight (`admit`).

use super::cost::{Applied, PriceKind, PriceRow, PriceSheet};
use super::dataset::{prompt_text, DatasetItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Estimated prompt tokens of one request body (see the module's definition).
pub fn estimate_prompt_tokens(body: &Value) -> u64 {
    let messages = body.get("messages").and_then(Value::as_array).map(Vec::len).unwrap_or(1);
    (prompt_text(body).len() as u64).div_ceil(4) + 4 * messages as u64
}

/// What a dataset holds, for the estimates: computed once per dataset (datasets do not change).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetTokens {
    pub items: u64,
    /// Estimated prompt tokens over every item.
    pub prompt_tokens: u64,
    /// The items' own max_tokens (or max_completion_tokens), summed over the items that set one.
    pub max_tokens: u64,
    /// Items that set no max_tokens of their own.
    pub without_max: u64,
}

impl DatasetTokens {
    pub fn of(items: &[DatasetItem]) -> DatasetTokens {
        let mut t = DatasetTokens::default();
        for item in items {
            t.add(item);
        }
        t
    }

    pub fn add(&mut self, item: &DatasetItem) {
        self.items += 1;
        self.prompt_tokens += estimate_prompt_tokens(&item.body);
        match item.max_tokens() {
            Some(m) => self.max_tokens += u64::from(m),
            None => self.without_max += 1,
        }
    }

    /// Estimated input tokens of `requests` requests cycling through the items.
    pub fn input_for(&self, requests: u64) -> u64 {
        if self.items == 0 {
            return 0;
        }
        (self.prompt_tokens as f64 * requests as f64 / self.items as f64).round() as u64
    }

    /// Most output tokens of `requests` requests: `max_tokens` each when given, else the items'
    /// own (`None` when some item sets none: no bound).
    pub fn output_bound(&self, requests: u64, max_tokens: Option<u32>) -> Option<u64> {
        match max_tokens {
            Some(m) => Some(u64::from(m) * requests),
            None if self.without_max > 0 || self.items == 0 => None,
            None => Some((self.max_tokens as f64 * requests as f64 / self.items as f64).ceil() as u64),
        }
    }
}

/// The per-token row that prices `model` on `sheet`: the serverless row first (what an API call
/// is charged), else a batch row; `None` when the sheet prices it only by the hour, or not at all.
pub fn per_token_price<'a>(sheet: &'a PriceSheet, model: &str) -> Option<(&'a PriceRow, Applied)> {
    [PriceKind::Serverless, PriceKind::Batch].into_iter().find_map(|kind| {
        let of_kind = || sheet.rows.iter().filter(move |r| r.kind == kind);
        let only = PriceSheet {
            rows: of_kind().cloned().collect(),
            ..sheet.clone()
        };
        let (at, applied) = {
            let (found, applied) = only.match_for(model)?;
            (only.rows.iter().position(|r| std::ptr::eq(r, found))?, applied)
        };
        let row = of_kind().nth(at)?;
        (row.input_per_m.is_some() && row.output_per_m.is_some()).then_some((row, applied))
    })
}

/// Dollars for `prompt` input and `completion` output tokens at a per-token row (0 for a row
/// without per-token prices).
pub fn tokens_cost(prompt: u64, completion: u64, row: &PriceRow) -> f64 {
    let i = row.input_per_m.unwrap_or(0.0).max(0.0);
    let o = row.output_per_m.unwrap_or(0.0).max(0.0);
    (prompt as f64 * i + completion as f64 * o) / 1e6
}

/// What a launch will cost at most, shown before it is launched.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostPreview {
    pub endpoint: String,
    pub hosted: bool,
    pub dataset: String,
    pub model: String,
    /// Requests sent, warm-up included, over every run of a sweep.
    pub requests: u64,
    /// Estimated input tokens (see the module's definition).
    pub input_tokens: u64,
    /// Most output tokens: max tokens x requests (`None`: unbounded).
    pub output_tokens_max: Option<u64>,
    /// The price sheet linked to the endpoint, and the row that prices the model.
    pub sheet: Option<String>,
    pub price: Option<String>,
    pub input_usd: Option<f64>,
    pub output_usd_max: Option<f64>,
    pub total_usd_max: Option<f64>,
    /// The endpoint's monthly cap and what it spent this month.
    pub spend_cap_usd: Option<f64>,
    pub spent_this_month_usd: f64,
    /// Why this launch would be refused (internal-only dataset, cap reached), if it would.
    pub refusal: Option<String>,
    /// Requests sent one by one (not a provider batch) priced at a batch row, because the sheet
    /// has no serverless price for the model: the provider may charge them more.
    #[serde(default)]
    pub batch_row_for_server: bool,
    /// The preview in one or two sentences.
    pub text: String,
}

/// The figures of a preview for `requests` requests (the caller fills in names, cap and refusal).
pub fn preview(tokens: &DatasetTokens, requests: u64, max_tokens: Option<u32>, price: Option<&PriceRow>) -> CostPreview {
    let input_tokens = tokens.input_for(requests);
    let output_tokens_max = tokens.output_bound(requests, max_tokens);
    let input_usd = price.map(|r| tokens_cost(input_tokens, 0, r));
    let output_usd_max = price.and_then(|r| output_tokens_max.map(|o| tokens_cost(0, o, r)));
    let total_usd_max = match (input_usd, output_usd_max) {
        (Some(i), Some(o)) => Some(i + o),
        _ => None,
    };
    CostPreview {
        requests,
        input_tokens,
        output_tokens_max,
        price: price.map(PriceRow::describe),
        input_usd,
        output_usd_max,
        total_usd_max,
        ..Default::default()
    }
}

impl CostPreview {
    /// "at most $X (input ~$a + output up to $b)", or what is missing for it.
    pub fn describe(&self) -> String {
        use super::format::int;
        let tokens = format!(
            "{} requests: ~{} input tokens (estimated: ~4 characters a token), {}",
            int(self.requests as f64),
            int(self.input_tokens as f64),
            match self.output_tokens_max {
                Some(o) => format!("at most {} output tokens", int(o as f64)),
                None => "output unbounded (no max tokens in the form or in every request)".into(),
            }
        );
        let cost = match (&self.sheet, &self.price, self.input_usd, self.output_usd_max, self.total_usd_max) {
            (None, _, _, _, _) if !self.hosted => {
                "Self-hosted, with no price sheet linked: no per-token charge (the GPU's time is costed on the Costs page)".to_string()
            }
            (None, _, _, _, _) => {
                "No price sheet is linked to this endpoint, so no cost can be shown (link one on the Endpoints page)".to_string()
            }
            (Some(s), None, _, _, _) => format!("Its price sheet '{s}' has no per-token price for {}", self.model),
            (Some(_), Some(_), Some(i), Some(o), Some(t)) => {
                format!("Cost: at most {} (input ~{} + output up to {})", money(t), money(i), money(o))
            }
            (Some(_), Some(_), Some(i), _, _) => format!(
                "Cost: input ~{}; the output is unbounded, so the total has no upper bound",
                money(i)
            ),
            _ => String::new(),
        };
        let mut out = format!("{tokens}. {cost}.");
        if let Some(p) = &self.price {
            out.push_str(&format!(" Priced at {p}."));
            if self.batch_row_for_server {
                out.push_str(&format!(" {}.", BATCH_ROW_NOTE.replace("{model}", &self.model)));
            }
        }
        if let Some(cap) = self.spend_cap_usd {
            out.push_str(&format!(
                " Spend cap {} a month; {} spent this month.",
                money(cap),
                money(self.spent_this_month_usd)
            ));
            if self.batch_row_for_server && self.price.is_some() {
                out.push_str(" The cap counts this run at the sheet's batch row too, so it stops the run late if the provider charges server requests more.");
            }
        }
        out
    }
}

/// Said of requests sent one by one that are priced at a batch row (see
/// [`CostPreview::batch_row_for_server`]); `{model}` is the model's name.
pub const BATCH_ROW_NOTE: &str =
    "The sheet has no serverless price for {model}, so it is priced at the sheet's batch row: the provider may charge server requests more; add a serverless row";

/// The most one request of a dataset with `tokens` may cost when sent with `run_max_tokens`, at
/// its mean estimated prompt: [`request_worst_case`]'s count (prompt + the run's max tokens, else
/// the items' own, here their mean; without any, nothing seen yet, so 0) for a request of the mean
/// prompt. `None` for an empty dataset.
pub fn mean_request_worst_case(tokens: &DatasetTokens, run_max_tokens: Option<u32>, row: &PriceRow) -> Option<f64> {
    if tokens.items == 0 {
        return None;
    }
    let prompt = tokens.prompt_tokens.div_ceil(tokens.items);
    let completion = match run_max_tokens {
        Some(m) => u64::from(m),
        None if tokens.without_max == 0 => tokens.max_tokens.div_ceil(tokens.items),
        None => 0,
    };
    Some(tokens_cost(prompt, completion, row))
}

/// Why a run sending requests one by one would end at once under the endpoint's cap: not even one
/// request (`worst`, from [`mean_request_worst_case`]) fits in what the cap leaves this month, so
/// the run would stop before its first request. `None` when one fits, or the cap is reached
/// already ([`cap_reached_refusal`] says that).
pub fn one_request_refusal(endpoint: &str, cap: f64, spent: f64, worst: f64) -> Option<String> {
    let left = cap - spent;
    (left > 0.0 && worst > left).then(|| {
        format!(
            "not even one request fits under endpoint '{endpoint}''s spend cap of {} a month: {} spent this month leaves {}, \
             and a request may cost up to {} (the dataset's mean estimated prompt + max tokens), so the run would stop before its first request: \
             raise the cap on the Endpoints page or lower max tokens",
            money(cap),
            money(spent),
            money(left),
            money(worst)
        )
    })
}

/// Dollars as people read them: cents from a dollar up, else three significant digits
/// (`$0.000421`), never a bare `$0.00` for a small but real amount.
pub fn money(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    if x == 0.0 || x.abs() >= 1.0 {
        return super::format::usd(x);
    }
    let digits = (2 - x.abs().log10().floor() as i32).clamp(2, 12) as usize;
    format!("${:.*}", digits, x)
}

/// A cap as typed (dollars; empty: no cap).
pub fn parse_cap(raw: &str) -> Result<Option<f64>, String> {
    let t = raw.trim().trim_start_matches('$').trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(Some(v)),
        Ok(_) => Err(format!(
            "a spend cap is a positive amount of dollars (at most 1,000,000,000), got '{t}'"
        )),
        Err(_) => Err(format!("a spend cap is an amount of dollars such as 5 or 12.50, got '{t}'")),
    }
}

/// The cap is reached once what was spent is at least the cap.
pub fn cap_reached(spent: f64, cap: Option<f64>) -> bool {
    cap.is_some_and(|c| spent >= c)
}

/// Why an internal-only dataset may not go to a hosted endpoint (the launch, the worker), told to
/// an admin (who may clear the flag) or to anyone else (who must ask one).
pub fn internal_only_refusal(dataset: &str, endpoint: &str, admin: bool) -> String {
    format!(
        "dataset '{dataset}' is marked internal only: it may not be sent to hosted endpoint '{endpoint}' — {}",
        internal_only_remedy(admin)
    )
}

/// What someone refused by the internal-only flag can do: only an admin clears it.
pub fn internal_only_remedy(admin: bool) -> &'static str {
    if admin {
        "clear the flag on the Datasets page if it may leave"
    } else {
        "ask an admin to clear the flag if it may leave (only admins clear it)"
    }
}

/// Why a launch is refused on an endpoint whose cap is reached this month.
pub fn cap_reached_refusal(endpoint: &str, cap: f64, spent: f64) -> String {
    format!(
        "endpoint '{endpoint}' has reached its spend cap of {} for this month ({} spent): raise or clear the cap on the Endpoints page",
        money(cap),
        money(spent)
    )
}

/// Why a launch is refused when a cap is set but the run's spend cannot be counted.
pub fn cap_unpriced_refusal(endpoint: &str, cap: f64, sheet: Option<&str>, model: &str) -> String {
    match sheet {
        None => format!(
            "endpoint '{endpoint}' has a spend cap of {} but no price sheet, so what a run spends cannot be counted: link a sheet or clear the cap on the Endpoints page",
            money(cap)
        ),
        Some(s) => format!(
            "endpoint '{endpoint}' has a spend cap of {} but its price sheet '{s}' has no per-token price for {model}, so what a run spends cannot be counted: add the price or clear the cap",
            money(cap)
        ),
    }
}

/// Why a provider batch may not be submitted under the endpoint's cap, if it may not. A batch
/// is submitted whole and cannot be stopped part-way at the cap, as a server run is, so its worst
/// case (`preview`: estimated input + max tokens of output, at the batch price) must fit in what
/// the cap leaves this month, and an unbounded output (no max tokens) is refused.
pub fn batch_cap_refusal(endpoint: &str, cap: f64, spent: f64, preview: &CostPreview) -> Option<String> {
    let left = (cap - spent).max(0.0);
    match preview.total_usd_max {
        None => Some(format!(
            "endpoint '{endpoint}' has a spend cap of {} a month, and a provider batch cannot be stopped part-way at the cap: \
             its cost must be bounded before it is submitted, so set max tokens (the launch form's, or every request's own)",
            money(cap)
        )),
        Some(worst) if worst > left => Some(format!(
            "this provider batch may cost up to {} ({} requests: ~{} input tokens + up to {} output tokens at the batch price), \
             more than the {} left under endpoint '{endpoint}''s spend cap of {} a month ({} spent); a batch cannot be stopped \
             part-way at the cap: send fewer requests, lower max tokens, or raise the cap on the Endpoints page",
            money(worst),
            super::format::int(preview.requests as f64),
            super::format::int(preview.input_tokens as f64),
            super::format::int(preview.output_tokens_max.unwrap_or(0) as f64),
            money(left),
            money(cap),
            money(spent)
        )),
        Some(_) => None,
    }
}

/// The stop reason a run stopped at the cap records; `next` is the most the request it did not
/// send could have cost.
pub fn cap_stop_reason(endpoint: &str, cap: f64, spent: f64, next: Option<f64>) -> String {
    let next = match next {
        Some(n) if spent < cap => format!(
            ": the next request could have cost up to {}, more than the {} left",
            money(n),
            money(cap - spent)
        ),
        _ => String::new(),
    };
    format!(
        "stopped at the spend cap of {} a month for endpoint '{endpoint}' ({} spent this month{next})",
        money(cap),
        money(spent)
    )
}

/// What the request loop does with its next request on an endpoint with a spend cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Send,
    /// It does not fit beside the worst case of the requests in flight: wait for one of them to
    /// finish (what it really cost is usually less) and ask again.
    Wait,
    /// It does not fit, and nothing is in flight: the cap is reached.
    Stop,
}

/// The cap rule: the next request is sent only when what was spent, the worst case of every
/// request in flight and its own worst case all fit under the cap. So a run stops with less than
/// one request's worst case left under the cap, and passes the cap only by what the estimates
/// missed (a prompt tokenized longer than estimated).
pub fn admit(spent: f64, held: f64, in_flight: u32, next_worst: f64, cap: Option<f64>) -> Admit {
    let Some(cap) = cap else { return Admit::Send };
    if spent + held + next_worst <= cap {
        Admit::Send
    } else if in_flight > 0 {
        Admit::Wait
    } else {
        Admit::Stop
    }
}

/// The most one request may cost: its estimated prompt tokens plus `max_tokens` (the run's, else
/// the request's own) at the row's prices. Without any max tokens the output has no bound, and
/// `longest_seen` (the longest answer of the run so far, in tokens) stands in for it.
pub fn request_worst_case(item: &DatasetItem, run_max_tokens: Option<u32>, longest_seen: u64, row: &PriceRow) -> f64 {
    let completion = run_max_tokens.or_else(|| item.max_tokens()).map_or(longest_seen, u64::from);
    tokens_cost(estimate_prompt_tokens(&item.body), completion, row)
}

/// The tokens a finished request is counted at: the usage the endpoint reported; where it reported
/// none (a provider that ignores `include_usage`, a stream cut part-way), the prompt's estimate
/// (`prompt_estimate`, from `estimate_prompt_tokens`) and the larger of the chunks that carried
/// tokens and the text's bytes / 4. A request refused without an answer (no 2xx status, nothing
/// generated) costs nothing.
pub fn counted_usage(
    prompt: Option<u64>,
    completion: Option<u64>,
    prompt_estimate: u64,
    accepted: bool,
    token_chunks: u32,
    text_bytes: usize,
) -> (u64, u64) {
    if prompt.is_none() && completion.is_none() && !accepted && token_chunks == 0 {
        return (0, 0);
    }
    let prompt = prompt.unwrap_or(prompt_estimate);
    let completion = completion.unwrap_or_else(|| u64::from(token_chunks).max((text_bytes as u64).div_ceil(4)));
    (prompt, completion)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_batch_must_fit_its_worst_case_under_the_cap() {
        let row = PriceRow {
            id: 0,
            model_key: "m".into(),
            kind: PriceKind::Serverless,
            input_per_m: Some(1.0),
            output_per_m: Some(2.0),
            usd_per_hour: None,
            self_hosted: None,
            note: String::new(),
        };
        let tokens = DatasetTokens {
            items: 1,
            prompt_tokens: 1_000_000,
            max_tokens: 0,
            without_max: 1,
        };
        // 2 requests: $2 of input + 2 x 500,000 output tokens at $2/M = $2: worst case $4.
        let bounded = preview(&tokens, 2, Some(500_000), Some(&row));
        assert_eq!(bounded.total_usd_max, Some(4.0));
        assert_eq!(batch_cap_refusal("e", 5.0, 0.0, &bounded), None, "fits under $5");
        let over = batch_cap_refusal("e", 5.0, 1.5, &bounded).expect("$3.50 left: refused");
        assert!(over.contains("up to $4.00") && over.contains("$3.50 left"), "{over}");
        let unbounded = preview(&tokens, 2, None, Some(&row));
        let why = batch_cap_refusal("e", 5.0, 0.0, &unbounded).expect("no bound: refused");
        assert!(why.contains("set max tokens"), "{why}");
    }
    use super::*;
    use serde_json::json;

    fn item(id: &str, text: &str, max: Option<u32>) -> DatasetItem {
        let mut body = json!({"messages": [{"role": "user", "content": text}]});
        if let Some(m) = max {
            body["max_tokens"] = json!(m);
        }
        DatasetItem {
            custom_id: id.into(),
            url: super::super::dataset::CHAT_URL.into(),
            body,
        }
    }

    fn row(input: f64, output: f64, kind: PriceKind, key: &str) -> PriceRow {
        PriceRow {
            id: 1,
            model_key: key.into(),
            kind,
            input_per_m: Some(input),
            output_per_m: Some(output),
            usd_per_hour: None,
            self_hosted: None,
            note: String::new(),
        }
    }

    #[test]
    fn a_prompt_is_a_token_per_four_bytes_plus_four_per_message() {
        // "abcdefg" + the newline after the message = 8 bytes -> 2, plus 4 for the message.
        assert_eq!(estimate_prompt_tokens(&item("a", "abcdefg", None).body), 6);
        // 9 bytes round up to 3.
        assert_eq!(estimate_prompt_tokens(&item("a", "abcdefgh", None).body), 7);
        assert_eq!(estimate_prompt_tokens(&json!({"prompt": "abcd"})), 1 + 4);
        let two = json!({"messages": [{"role": "system", "content": "ab"}, {"role": "user", "content": "c"}]});
        // "ab\nc\n" = 5 bytes -> 2, plus 8.
        assert_eq!(estimate_prompt_tokens(&two), 10);
    }

    #[test]
    fn a_run_that_cycles_the_items_whole_gets_the_exact_sum() {
        let t = DatasetTokens::of(&[item("a", "abcdefg", Some(10)), item("b", "abcdefgh", Some(30))]);
        assert_eq!((t.items, t.prompt_tokens, t.max_tokens, t.without_max), (2, 13, 40, 0));
        assert_eq!(t.input_for(4), 26);
        assert_eq!(t.input_for(0), 0);
        assert_eq!(t.output_bound(4, None), Some(80));
        assert_eq!(t.output_bound(4, Some(5)), Some(20), "the form's max tokens wins");
    }

    #[test]
    fn output_is_unbounded_when_an_item_sets_no_max_tokens() {
        let t = DatasetTokens::of(&[item("a", "x", Some(10)), item("b", "y", None)]);
        assert_eq!(t.output_bound(10, None), None);
        assert_eq!(t.output_bound(10, Some(7)), Some(70));
        assert_eq!(DatasetTokens::default().output_bound(3, None), None);
    }

    #[test]
    fn the_preview_is_input_plus_the_most_output_at_the_sheet_prices() {
        let t = DatasetTokens {
            items: 10,
            prompt_tokens: 2_000,
            max_tokens: 0,
            without_max: 10,
        };
        let r = row(0.5, 2.0, PriceKind::Serverless, "m");
        let mut p = preview(&t, 100, Some(50), Some(&r));
        // 20,000 input tokens x $0.5/1M = $0.01; 5,000 output x $2/1M = $0.01.
        assert_eq!(p.input_tokens, 20_000);
        assert_eq!(p.output_tokens_max, Some(5_000));
        assert!((p.input_usd.expect("input") - 0.01).abs() < 1e-12);
        assert!((p.output_usd_max.expect("output") - 0.01).abs() < 1e-12);
        assert!((p.total_usd_max.expect("total") - 0.02).abs() < 1e-12);
        p.sheet = Some("S".into());
        assert!(
            p.describe().contains("at most $0.0200 (input ~$0.0100 + output up to $0.0100)"),
            "{}",
            p.describe()
        );
        assert!(p.describe().contains("estimated"), "the estimate says it is one");
    }

    #[test]
    fn a_server_run_priced_at_a_batch_row_says_so_in_the_price_and_the_cap() {
        let t = DatasetTokens {
            items: 1,
            prompt_tokens: 10,
            max_tokens: 0,
            without_max: 1,
        };
        let mut p = preview(&t, 1, Some(5), Some(&row(0.033, 0.033, PriceKind::Batch, "tier 0-4B FP16")));
        p.model = "m".into();
        p.sheet = Some("S".into());
        p.spend_cap_usd = Some(5.0);
        assert!(!p.describe().contains("batch row"), "{}", p.describe());
        p.batch_row_for_server = true;
        let text = p.describe();
        assert!(
            text.contains("no serverless price for m, so it is priced at the sheet's batch row: the provider may charge server requests more; add a serverless row"),
            "{text}"
        );
        assert!(text.contains("The cap counts this run at the sheet's batch row too"), "{text}");
    }

    #[test]
    fn a_run_ends_at_once_when_not_even_one_request_fits_under_what_the_cap_leaves() {
        let t = DatasetTokens {
            items: 2,
            prompt_tokens: 300,
            max_tokens: 0,
            without_max: 2,
        };
        let r = row(1.0, 2.0, PriceKind::Serverless, "m");
        // 150 prompt tokens at $1/1M + 100 max tokens at $2/1M = $0.00035.
        let worst = mean_request_worst_case(&t, Some(100), &r).expect("items");
        assert!((worst - 0.000_35).abs() < 1e-12, "{worst}");
        // Without max tokens, nothing is seen yet: the prompt alone (as the worker counts it).
        assert!((mean_request_worst_case(&t, None, &r).expect("items") - 0.000_15).abs() < 1e-12);
        assert_eq!(mean_request_worst_case(&DatasetTokens::default(), Some(1), &r), None);
        let why = one_request_refusal("e", 0.0005, 0.000_489, worst).expect("$0.000011 left: nothing fits");
        assert!(
            why.contains("not even one request fits") && why.contains("up to $0.000350") && why.contains("leaves $0.0000110"),
            "{why}"
        );
        assert_eq!(one_request_refusal("e", 0.0005, 0.0001, worst), None, "one fits");
        assert_eq!(one_request_refusal("e", 0.0005, 0.0006, worst), None, "reached: said elsewhere");
    }

    #[test]
    fn without_a_sheet_the_preview_says_so() {
        let mut p = preview(&DatasetTokens::default(), 5, Some(5), None);
        assert_eq!(p.total_usd_max, None);
        assert!(p.describe().contains("Self-hosted, with no price sheet linked"), "{}", p.describe());
        p.hosted = true;
        assert!(p.describe().contains("No price sheet is linked"), "{}", p.describe());
        let unbounded = preview(
            &DatasetTokens {
                items: 1,
                prompt_tokens: 10,
                max_tokens: 0,
                without_max: 1,
            },
            5,
            None,
            Some(&row(1.0, 1.0, PriceKind::Serverless, "m")),
        );
        assert!(unbounded.total_usd_max.is_none() && unbounded.input_usd.is_some());
    }

    #[test]
    fn the_serverless_row_prices_an_api_call_before_a_batch_row() {
        let sheet = PriceSheet {
            id: 1,
            name: "s".into(),
            provider: "p".into(),
            source: "x".into(),
            dated: "d".into(),
            default_model_key: None,
            rows: vec![
                PriceRow {
                    id: 1,
                    ..row(0.1, 0.1, PriceKind::Batch, "m")
                },
                PriceRow {
                    id: 2,
                    ..row(0.2, 0.4, PriceKind::Serverless, "m")
                },
            ],
        };
        assert_eq!(per_token_price(&sheet, "org/m").map(|(r, _)| r.id), Some(2));
        let batch_only = PriceSheet {
            rows: vec![sheet.rows[0].clone()],
            ..sheet.clone()
        };
        assert_eq!(per_token_price(&batch_only, "m").map(|(r, _)| r.id), Some(1));
        let hourly = super::super::prices::starting_sheets().remove(2);
        assert!(per_token_price(&hourly, "m").is_none(), "an hourly sheet has no per-token price");
    }

    #[test]
    fn a_request_costs_its_tokens_at_the_row_prices() {
        let r = row(0.05, 0.33, PriceKind::Serverless, "m");
        assert!((tokens_cost(1_000_000, 1_000_000, &r) - 0.38).abs() < 1e-12);
        assert_eq!(tokens_cost(0, 0, &r), 0.0);
    }

    #[test]
    fn the_cap_is_reached_at_the_cap_not_after() {
        assert!(!cap_reached(4.99, Some(5.0)));
        assert!(cap_reached(5.0, Some(5.0)));
        assert!(cap_reached(5.02, Some(5.0)));
        assert!(!cap_reached(1e9, None), "no cap, never reached");
    }

    #[test]
    fn caps_are_read_as_dollars_and_bad_ones_say_what_to_type() {
        assert_eq!(parse_cap(""), Ok(None));
        assert_eq!(parse_cap(" $5 "), Ok(Some(5.0)));
        assert_eq!(parse_cap("12.50"), Ok(Some(12.5)));
        assert!(parse_cap("0").expect_err("zero").contains("positive"));
        assert!(parse_cap("-3").is_err());
        assert!(parse_cap("five").expect_err("words").contains("such as 5"));
        assert!(parse_cap("inf").is_err());
    }

    #[test]
    fn small_amounts_keep_their_digits() {
        assert_eq!(money(5.0), "$5.00");
        assert_eq!(money(1234.5), "$1,234.50");
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(0.02), "$0.0200");
        assert_eq!(money(0.000_421_3), "$0.000421");
        assert_eq!(money(0.25), "$0.250");
    }

    #[test]
    fn the_messages_name_the_flag_the_endpoint_and_the_amounts() {
        let m = internal_only_refusal("candidates", "parasail", true);
        assert!(m.contains("dataset 'candidates' is marked internal only") && m.contains("hosted endpoint 'parasail'"));
        assert!(m.contains("clear the flag on the Datasets page"), "{m}");
        // Only admins clear the flag: anyone else is told to ask one.
        let m = internal_only_refusal("candidates", "parasail", false);
        assert!(
            m.contains("ask an admin to clear the flag") && !m.contains("on the Datasets page"),
            "{m}"
        );
        let s = cap_stop_reason("parasail", 5.0, 5.02, None);
        assert!(s.starts_with("stopped at the spend cap of $5.00") && s.contains("'parasail'") && s.contains("$5.02 spent"));
        let s = cap_stop_reason("parasail", 5.0, 4.5, Some(0.75));
        assert!(
            s.contains("($4.50 spent this month: the next request could have cost up to $0.750, more than the $0.500 left)"),
            "{s}"
        );
        assert!(cap_reached_refusal("p", 5.0, 5.5).contains("reached its spend cap of $5.00"));
        assert!(cap_unpriced_refusal("p", 1.0, None, "m").contains("no price sheet"));
    }

    #[test]
    fn the_next_request_is_sent_only_if_its_worst_case_fits_beside_those_in_flight() {
        let cap = Some(1.0);
        assert_eq!(admit(0.5, 0.3, 3, 0.2, cap), Admit::Send, "exactly at the cap fits");
        assert_eq!(
            admit(0.5, 0.3, 3, 0.21, cap),
            Admit::Wait,
            "in flight may cost less than their worst"
        );
        assert_eq!(admit(0.85, 0.0, 0, 0.2, cap), Admit::Stop, "nothing in flight: reached");
        assert_eq!(admit(0.85, 0.0, 0, 0.15, cap), Admit::Send);
        assert_eq!(admit(5.0, 9.0, 0, 9.0, None), Admit::Send, "no cap, no limit");
    }

    #[test]
    fn a_request_costs_at_most_its_prompt_and_max_tokens() {
        let row = PriceRow {
            id: 0,
            model_key: "m".into(),
            kind: PriceKind::Serverless,
            input_per_m: Some(1.0),
            output_per_m: Some(10.0),
            usd_per_hour: None,
            self_hosted: None,
            note: String::new(),
        };
        let it = item("a", "0123456789abcdef", Some(100));
        let p = estimate_prompt_tokens(&it.body);
        let per = |c: u64| (p as f64 * 1.0 + c as f64 * 10.0) / 1e6;
        assert_eq!(request_worst_case(&it, None, 7, &row), per(100), "the request's own max tokens");
        assert_eq!(request_worst_case(&it, Some(20), 7, &row), per(20), "the run's max tokens first");
        let free = item("b", "0123456789abcdef", None);
        assert_eq!(
            request_worst_case(&free, None, 7, &row),
            per(7),
            "no bound: the longest answer so far"
        );
    }

    #[test]
    fn a_request_without_usage_is_counted_from_its_stream() {
        assert_eq!(counted_usage(Some(30), Some(5), 8, true, 99, 999), (30, 5), "reported usage wins");
        assert_eq!(counted_usage(None, None, 8, true, 12, 20), (8, 12), "a chunk per token");
        assert_eq!(counted_usage(None, None, 8, true, 3, 400), (8, 100), "several tokens per chunk");
        assert_eq!(
            counted_usage(None, None, 8, false, 3, 12),
            (8, 3),
            "cut part-way: what came is billed"
        );
        assert_eq!(counted_usage(Some(30), None, 8, true, 0, 0), (30, 0), "nothing generated");
        assert_eq!(counted_usage(None, None, 8, true, 0, 0), (8, 0), "accepted: the prompt was read");
        assert_eq!(counted_usage(None, None, 8, false, 0, 0), (0, 0), "refused: nothing to pay");
    }
}
