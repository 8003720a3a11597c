//! Runs measured elsewhere, brought in with their provenance: the seed system's run summaries
//! (two shapes) and OpenAI Batch output files. Bad files are refused whole, with line numbers.

use super::errors::FieldErrors;
use super::record::{RequestRecord, Tokens};
use super::status::Outcome;
use super::summary::{OutcomeCounts, RunSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Where an imported run came from, and what Bakeoff had to decide to read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub file: String,
    pub format: String,
    pub test_id: Option<String>,
    pub timestamp: Option<String>,
    pub platform: Option<String>,
    /// Engine settings the file records (max_model_len, gpu_memory_utilization, ...).
    pub config: Option<Value>,
    /// Figures the file states itself, kept to compare with what Bakeoff computes.
    pub reported_total_tps: Option<f64>,
    pub reported_requests_per_s: Option<f64>,
    pub reported_total_time_s: Option<f64>,
    pub notes: Vec<String>,
    /// A Batch output's own identity: the ids of its first and last result lines (each unique to
    /// one provider request), its count and a digest of its lines, so the same file is not
    /// imported twice (whatever it is called).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ids: Option<String>,
}

/// A run ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedRun {
    pub name: String,
    pub model: String,
    pub summary: RunSummary,
    pub provenance: Provenance,
    pub records: Vec<RequestRecord>,
}

/// Read a seed-system run summary (`../shared/data/seed-metadata/*.json` shapes).
pub fn seed_summary(file: &str, text: &str) -> Result<ImportedRun, FieldErrors> {
    let v: Value = serde_json::from_str(text).map_err(|e| FieldErrors::one("file", format!("{file}: not valid JSON ({e})")))?;
    if v.get("dataset").is_some() && v.get("results").is_none() && v.get("model").is_none() {
        return Err(FieldErrors::one(
            "file",
            format!(
                "{file} describes a dataset ({}), not a run: it has no model and no results to import",
                v["dataset"]
            ),
        ));
    }
    if let Some(message) = bakeoff_export(file, &v) {
        return Err(FieldErrors::one("file", message));
    }
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldErrors::one("file", format!("{file}: field `model` is missing")))?;
    if v.get("results").is_some() {
        nested(file, &v, model)
    } else if v.get("batch_size").is_some() {
        flat(file, &v, model)
    } else {
        Err(FieldErrors::one(
            "file",
            format!("{file}: neither a seed run summary (`results`) nor the flat shape (`batch_size`)"),
        ))
    }
}

/// A run summary Bakeoff itself wrote (`bakeoff export`: `{run, summary, definitions}`): what it
/// is, and the file beside it to import instead (its records, as an OpenAI Batch output).
fn bakeoff_export(file: &str, v: &Value) -> Option<String> {
    let run = v.get("run").filter(|r| r.is_object())?;
    if v.get("model").is_some() || !(v.get("summary").is_some() || v.get("definitions").is_some()) {
        return None;
    }
    let output = match run.get("id").and_then(Value::as_i64) {
        Some(id) => format!("run-{id}-output.jsonl"),
        None => "the run-ID-output.jsonl written beside it".into(),
    };
    Some(format!(
        "{file} is a Bakeoff run summary (from bakeoff export), not an OpenAI Batch output file or a seed run summary: import {output} (the run's requests) instead"
    ))
}

fn num(v: &Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(v, |cur, k| cur.get(k))?.as_f64()
}

/// Decimal places in a number's shortest form (108.35 -> 2): how precise the file was.
fn decimals(x: f64) -> i32 {
    let s = format!("{x}");
    s.split_once('.').map(|(_, f)| f.len() as i32).unwrap_or(0)
}

/// The run's time from the file's own fields. A time rounded coarser than the file's throughput
/// figure loses precision the throughput kept (it was computed from the unrounded time): then the
/// time is recovered as tokens / throughput. Which was used goes in the notes.
fn wall_time(time: f64, time_field: &str, tokens: Option<u64>, reported_tps: Option<f64>, notes: &mut Vec<String>) -> f64 {
    let (Some(tokens), Some(tps)) = (tokens, reported_tps) else {
        return time;
    };
    if tokens == 0 || tps <= 0.0 || time <= 0.0 {
        return time;
    }
    let time_precision = 0.5 * 10f64.powi(-decimals(time)) / time;
    let tps_precision = 0.5 * 10f64.powi(-decimals(tps)) / tps;
    let from_tps = tokens as f64 / tps;
    let relative_gap = (from_tps - time).abs() / time;
    if tps_precision < time_precision && relative_gap < 1e-3 {
        notes.push(format!(
            "{time_field} is rounded to {} decimals ({time} s); the file's throughput ({tps}) keeps more precision, so the time used is tokens / throughput = {from_tps:.4} s",
            decimals(time)
        ));
        from_tps
    } else {
        if relative_gap >= 1e-3 {
            notes.push(format!(
                "the file's throughput ({tps} tok/s) does not follow from its own tokens and time ({:.1} tok/s): Bakeoff uses the time",
                tokens as f64 / time
            ));
        }
        time
    }
}

fn finish(
    model: &str,
    requests: u64,
    ok: u64,
    failed: u64,
    prompt: Option<u64>,
    completion: Option<u64>,
    total: Option<u64>,
    wall: f64,
    load: Option<f64>,
) -> RunSummary {
    let per_s = |x: f64| if wall > 0.0 { x / wall } else { 0.0 };
    let split = prompt.zip(completion);
    let total = split.map(|(p, c)| p + c).or(total);
    let answered = ok.max(1) as f64;
    let _ = model;
    RunSummary {
        requests,
        warmup_requests: 0,
        outcomes: OutcomeCounts {
            ok,
            unclassified: failed,
            ..Default::default()
        },
        success_rate: if requests > 0 { ok as f64 / requests as f64 } else { 0.0 },
        wall_time_s: wall,
        model_load_time_s: load,
        prompt_tokens: prompt.unwrap_or(0),
        completion_tokens: completion.unwrap_or(0),
        usage_unknown: 0,
        output_tokens_per_s: completion.map(|c| per_s(c as f64)).unwrap_or(0.0),
        total_tokens_per_s: total.map(|t| per_s(t as f64)).unwrap_or(0.0),
        requests_per_s: per_s(requests as f64),
        mean_prompt_tokens: prompt.map(|p| p as f64 / answered),
        mean_completion_tokens: completion.map(|c| c as f64 / answered),
        ttft_ms: None,
        answer_ttft_ms: None,
        tpot_ms: None,
        itl_ms: None,
        e2e_ms: None,
        chunks_per_token: None,
        reasoning_tokens: 0,
        reasoning_tokens_source: None,
        integrity: None,
        timing_known: wall > 0.0,
        total_tokens_only: if split.is_none() { total } else { None },
        goodput: None,
        job: None,
    }
}

/// `{test_id, model, config, test: {num_requests}, results: {...}}`.
fn nested(file: &str, v: &Value, model: &str) -> Result<ImportedRun, FieldErrors> {
    let r = &v["results"];
    let requests = num(v, "test.num_requests").or_else(|| Some(num(r, "success_count")? + num(r, "failure_count").unwrap_or(0.0)));
    let Some(requests) = requests else {
        return Err(FieldErrors::one(
            "file",
            format!("{file}: neither `test.num_requests` nor `results.success_count`"),
        ));
    };
    let ok = num(r, "success_count").unwrap_or(requests) as u64;
    let failed = num(r, "failure_count").unwrap_or(0.0) as u64;
    let prompt = num(r, "prompt_tokens").map(|x| x as u64);
    let completion = num(r, "completion_tokens").map(|x| x as u64);
    let total = num(r, "total_tokens")
        .map(|x| x as u64)
        .or(prompt.zip(completion).map(|(p, c)| p + c));
    let tps = num(r, "throughput_tokens_per_sec");
    let load = num(r, "model_load_time_seconds");
    let mut notes = Vec::new();
    let wall = if let Some(t) = num(r, "inference_time_seconds") {
        if let (Some(total_time), Some(l)) = (num(r, "total_time_seconds"), load) {
            notes.push(format!("total_time_seconds {total_time:.1} = model load {l:.1} + inference {t:.1}: Bakeoff's wall time is the inference part; the load is shown apart"));
        }
        wall_time(t, "inference_time_seconds", total, tps, &mut notes)
    } else if let (Some(t), Some(tps)) = (total, tps) {
        notes.push(format!(
            "the file gives no time: wall time derived as total tokens / its throughput = {:.2} s",
            t as f64 / tps
        ));
        t as f64 / tps
    } else {
        notes.push("the file gives no time: rates are unknown".into());
        0.0
    };
    if requests < 100.0 {
        notes.push(format!("a {requests:.0}-request smoke test, not a full run: compare with care"));
    }
    if prompt.is_none() {
        notes.push("the file gives only total tokens, not the prompt/completion split".into());
    }
    let summary = finish(model, requests as u64, ok, failed, prompt, completion, total, wall, load);
    Ok(ImportedRun {
        name: v.get("test_id").and_then(Value::as_str).unwrap_or(model).to_string(),
        model: model.to_string(),
        summary,
        provenance: Provenance {
            file: file.to_string(),
            format: "seed run summary".into(),
            test_id: v.get("test_id").and_then(Value::as_str).map(str::to_string),
            timestamp: v.get("timestamp").and_then(Value::as_str).map(str::to_string),
            platform: v.get("platform").and_then(Value::as_str).map(str::to_string),
            config: v.get("config").or_else(|| v.get("configuration")).cloned(),
            reported_total_tps: tps,
            reported_requests_per_s: num(r, "throughput_requests_per_sec"),
            reported_total_time_s: num(r, "total_time_seconds"),
            notes,
            batch_ids: None,
        },
        records: Vec::new(),
    })
}

/// `{model, batch_size, successful, failed, total_time_seconds, load_time_seconds, ...}`.
fn flat(file: &str, v: &Value, model: &str) -> Result<ImportedRun, FieldErrors> {
    let requests = num(v, "batch_size").unwrap_or(0.0) as u64;
    let ok = num(v, "successful").unwrap_or(requests as f64) as u64;
    let failed = num(v, "failed").unwrap_or(0.0) as u64;
    let prompt = num(v, "prompt_tokens").map(|x| x as u64);
    let completion = num(v, "completion_tokens").map(|x| x as u64);
    let total = num(v, "total_tokens").map(|x| x as u64);
    let tps = num(v, "throughput_tokens_per_second");
    let load = num(v, "load_time_seconds");
    let mut notes = Vec::new();
    let Some(t) = num(v, "total_time_seconds") else {
        return Err(FieldErrors::one("file", format!("{file}: field `total_time_seconds` is missing")));
    };
    if let Some(l) = load {
        notes.push(format!(
            "this shape's total_time_seconds ({t:.1} s) is what its own throughput divides by; the file does not say whether its load_time_seconds ({l:.1} s) is inside it, so Bakeoff uses it as the wall time and shows the load apart"
        ));
    }
    let wall = wall_time(t, "total_time_seconds", total, tps, &mut notes);
    let summary = finish(model, requests, ok, failed, prompt, completion, total, wall, load);
    Ok(ImportedRun {
        name: format!("{model} ({requests})"),
        model: model.to_string(),
        summary,
        provenance: Provenance {
            file: file.to_string(),
            format: "seed run summary (flat)".into(),
            test_id: None,
            timestamp: v.get("timestamp").and_then(Value::as_str).map(str::to_string),
            platform: None,
            config: v.get("configuration").cloned(),
            reported_total_tps: tps,
            reported_requests_per_s: None,
            reported_total_time_s: Some(t),
            notes,
            batch_ids: None,
        },
        records: Vec::new(),
    })
}

/// Read an OpenAI Batch output file: one `{id, custom_id, response: {status_code, body}, error}`
/// per line. Times are not in the format, so rates are unknown.
pub fn batch_output(file: &str, text: &str) -> Result<ImportedRun, FieldErrors> {
    let mut reader = BatchOutputReader::default();
    let mut records = Vec::new();
    for line in text.lines() {
        if let Some(r) = reader.line(line) {
            records.push(r);
        }
        if reader.gave_up() {
            break;
        }
    }
    let mut run = reader.finish(file)?;
    run.records = records;
    Ok(run)
}

/// A Batch output file read one line at a time (as an upload arrives): each good line becomes
/// a record; the summary, the model and the first problems are gathered on the way, never the
/// records themselves.
#[derive(Default)]
pub struct BatchOutputReader {
    errors: FieldErrors,
    lines: usize,
    records: u32,
    model: Option<String>,
    summary: super::summary::SummaryBuilder,
    bad_lines: usize,
    /// The provider's ids of the first and the last result line (`id`, else the response
    /// body's `id`), shown where every line has one.
    first_id: Option<String>,
    last_id: Option<String>,
    lines_without_id: bool,
    /// FNV-1a (64 bit) of the result lines' text: the same ids from another Bakeoff's export
    /// (its run #1 too) with other answers is another file.
    digest: Option<u64>,
}

/// FNV-1a, 64 bit: a stable digest (the same on every build), enough to tell files apart.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Problems listed before a reader stops looking.
const MAX_PROBLEMS: usize = 20;

impl BatchOutputReader {
    /// The next line of the file (numbered from 1 in messages): its record, or `None` for a
    /// blank or bad line (the problem is kept).
    pub fn line(&mut self, line: &str) -> Option<RequestRecord> {
        self.lines += 1;
        let at = format!("line {}", self.lines);
        if line.trim().is_empty() {
            return None;
        }
        let mut bad = |errors: &mut FieldErrors, message: String| {
            self.bad_lines += 1;
            if errors.0.len() < MAX_PROBLEMS {
                errors.push(&at, message);
            }
            None
        };
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                let leading = line.len() - line.trim_start().len();
                return bad(&mut self.errors, super::dataset::json_problem(&e, leading));
            }
        };
        let Some(custom_id) = v.get("custom_id").and_then(Value::as_str) else {
            return bad(&mut self.errors, "field `custom_id` is missing".into());
        };
        if v.get("body").is_some() && v.get("response").is_none() {
            return bad(
                &mut self.errors,
                "this is a Batch *input* line (it has `body`): import the output file, and give the input as --input".into(),
            );
        }
        let status = v.pointer("/response/status_code").and_then(Value::as_u64);
        let body = v.pointer("/response/body");
        let error = v.get("error").filter(|e| !e.is_null());
        if status.is_none() && error.is_none() {
            return bad(&mut self.errors, "neither `response.status_code` nor `error`".into());
        }
        if self.model.is_none() {
            self.model = body.and_then(|b| b.get("model")).and_then(Value::as_str).map(str::to_string);
        }
        let choice = body.and_then(|b| b.pointer("/choices/0"));
        let content = choice
            .and_then(|c| c.pointer("/message/content").or_else(|| c.get("text")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let finish_reason = choice
            .and_then(|c| c.get("finish_reason"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let outcome = match (status, error) {
            (Some(200), None) if finish_reason.as_deref() == Some("length") => Outcome::Truncated,
            (Some(200), None) => Outcome::Ok,
            (Some(_), _) => Outcome::HttpError,
            (None, _) => Outcome::ConnectionError,
        };
        let digest = self.digest.unwrap_or(0xcbf2_9ce4_8422_2325);
        self.digest = Some(fnv1a(digest, line.trim().as_bytes()) ^ u64::from(b'\n'));
        match v.get("id").or_else(|| body.and_then(|b| b.get("id"))).and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                if self.first_id.is_none() {
                    self.first_id = Some(id.to_string());
                }
                self.last_id = Some(id.to_string());
            }
            _ => self.lines_without_id = true,
        }
        let usage = body.and_then(|b| b.get("usage"));
        let record = RequestRecord {
            idx: self.records,
            custom_id: custom_id.to_string(),
            warmup: false,
            outcome,
            http_status: status.map(|s| s as u16),
            // OpenAI: `error: {code, message}`; vLLM's run-batch nests it: `error: {error: {message}}`.
            // A request the provider answered with an error status (`error: null`) says why in the
            // response's body (`response.body.error.message`), as OpenAI's error file has it.
            error: error
                .map(|e| {
                    e.get("message")
                        .or_else(|| e.pointer("/error/message"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())
                })
                .or_else(|| {
                    if outcome != Outcome::HttpError {
                        return None;
                    }
                    let why = body?
                        .pointer("/error/message")
                        .or_else(|| body?.get("error").filter(|e| e.is_string()))?;
                    Some(why.as_str().map(str::to_string).unwrap_or_else(|| why.to_string()))
                }),
            finish_reason,
            prompt_tokens: usage.and_then(|u| u.get("prompt_tokens")).and_then(Value::as_u64).map(Tokens),
            completion_tokens: usage.and_then(|u| u.get("completion_tokens")).and_then(Value::as_u64).map(Tokens),
            scheduled: None,
            sent: Duration::ZERO,
            ttft: None,
            e2e: Duration::ZERO,
            content_chunks: 0,
            itl: Vec::new(),
            response: content,
            // A reasoning model's count, where the usage details give one (its text where the
            // message carries it); the import has no times, so no answer TTFT.
            reasoning: usage
                .and_then(|u| u.pointer("/completion_tokens_details/reasoning_tokens"))
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
                .map(|n| super::record::Reasoning {
                    answer_ttft: None,
                    tokens: Tokens(n),
                    tokens_source: super::record::TokenSource::Usage,
                    text: body
                        .and_then(|b| {
                            b.pointer("/choices/0/message/reasoning_content")
                                .or_else(|| b.pointer("/choices/0/message/reasoning"))
                        })
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                }),
        };
        self.records += 1;
        self.summary.add(&record);
        Some(record)
    }

    /// A line that could not be read at all (too long, not UTF-8): counted as bad.
    pub fn unreadable_line(&mut self, message: String) {
        self.lines += 1;
        self.bad_lines += 1;
        if self.errors.0.len() < MAX_PROBLEMS {
            self.errors.push(format!("line {}", self.lines), message);
        }
    }

    /// Enough problems to stop reading.
    pub fn gave_up(&self) -> bool {
        self.errors.0.len() >= MAX_PROBLEMS
    }

    /// Lines with a problem so far.
    pub fn bad(&self) -> usize {
        self.bad_lines
    }

    /// Records read so far.
    pub fn records(&self) -> u32 {
        self.records
    }

    /// The run (without its records, which the caller kept or stored), or every problem found.
    pub fn finish(mut self, file: &str) -> Result<ImportedRun, FieldErrors> {
        if self.bad_lines > self.errors.0.len() {
            let more = self.bad_lines - self.errors.0.len();
            self.errors.push("file", format!("{more} more bad line(s) follow; fix these first"));
        }
        if self.errors.is_empty() && self.records == 0 {
            self.errors.push("file", format!("{file} has no result lines"));
        }
        let errors = std::mem::take(&mut self.errors);
        errors.into_result(())?;
        // The format has no times: the records hold 0 ms, which is no measurement.
        let summary = self.summary.finish().without_timing();
        let model = self.model.unwrap_or_else(|| "unknown model".into());
        let batch_ids = self.digest.map(|d| match (self.first_id, self.last_id, self.lines_without_id) {
            (Some(first), Some(last), false) => format!("{first} .. {last}, {} results, digest {d:016x}", self.records),
            _ => format!("{} results, digest {d:016x}", self.records),
        });
        Ok(ImportedRun {
            name: format!("{model} (batch output)"),
            model,
            summary,
            provenance: Provenance {
                file: file.to_string(),
                format: "OpenAI Batch output".into(),
                notes: vec!["the Batch output format has no timings: throughput and latency are unknown".into()],
                batch_ids,
                ..Default::default()
            },
            records: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEMMA: &str = include_str!("../../tests/fixtures/seed-metadata/vllm-native-gemma3-4b-5000-2025-10-28.json");
    const LLAMA1B: &str = include_str!("../../tests/fixtures/seed-metadata/llama32-1b-5k-2025-10-28.json");
    const LLAMA3B: &str = include_str!("../../tests/fixtures/seed-metadata/llama32-3b-5k-2025-10-28.json");
    const SMOKE: &str = include_str!("../../tests/fixtures/seed-metadata/batch-job-google-gemma-3-4b-it-10-2025-10-28.json");
    const DATASET: &str = include_str!("../../tests/fixtures/seed-metadata/synthetic_100.json");

    #[test]
    fn gemma_wall_time_is_inference_only_and_total_tps_is_2511() {
        let r = seed_summary("gemma.json", GEMMA).expect("imports");
        let s = &r.summary;
        assert_eq!(r.model, "google/gemma-3-4b-it");
        assert!((s.wall_time_s - 2183.026051044464).abs() < 1e-9);
        assert_eq!(s.model_load_time_s, Some(26.083271503448486));
        assert_eq!(crate::domain::format::int(s.total_tokens_per_s), "2,511");
        assert_eq!(s.requests, 5000);
        assert_eq!(s.prompt_tokens, 3_942_154);
    }

    #[test]
    fn llama_time_is_recovered_from_its_more_precise_throughput() {
        let r = seed_summary("llama.json", LLAMA1B).expect("imports");
        assert_eq!(crate::domain::format::int(r.summary.total_tokens_per_s), "19,813");
        assert!(
            r.provenance.notes.iter().any(|n| n.contains("rounded to 2 decimals")),
            "{:?}",
            r.provenance.notes
        );
        assert_eq!(r.summary.model_load_time_s, Some(210.2));
    }

    #[test]
    fn the_flat_shape_imports_with_a_note_about_its_load_time() {
        let r = seed_summary("llama3b.json", LLAMA3B).expect("imports");
        assert_eq!(r.summary.requests, 5000);
        assert_eq!(crate::domain::format::int(r.summary.total_tokens_per_s), "6,696");
        assert!(r.provenance.notes.iter().any(|n| n.contains("load_time_seconds")));
    }

    #[test]
    fn a_smoke_test_without_times_or_split_says_so() {
        let r = seed_summary("smoke.json", SMOKE).expect("imports");
        assert_eq!(r.summary.requests, 10);
        assert_eq!(r.summary.total_tokens(), 11452);
        assert!(r.summary.mean_prompt_tokens.is_none());
        assert!(r.provenance.notes.iter().any(|n| n.contains("smoke test")));
        assert!(r.provenance.notes.iter().any(|n| n.contains("derived")));
    }

    #[test]
    fn a_dataset_description_is_refused_not_guessed() {
        let e = seed_summary("synthetic_100.json", DATASET).expect_err("not a run");
        assert!(e.0[0].message.contains("describes a dataset"), "{e}");
    }

    #[test]
    fn a_bakeoff_export_summary_is_refused_naming_the_output_file_to_import() {
        let summary = crate::domain::summary::summarize(&[]);
        let text = serde_json::json!({"run": {"id": 20, "name": "x", "model": "m"}, "summary": summary, "definitions": {}}).to_string();
        let e = seed_summary("run-20-summary.json", &text).expect_err("not importable");
        let m = &e.0[0].message;
        assert!(m.contains("is a Bakeoff run summary (from bakeoff export)"), "{m}");
        assert!(m.contains("import run-20-output.jsonl"), "{m}");
        assert!(!m.contains("`model` is missing"), "{m}");
    }

    #[test]
    fn a_batch_outputs_reasoning_tokens_are_kept_from_its_usage() {
        let line = r#"{"id":"r1","custom_id":"a","response":{"status_code":200,"body":{"model":"m","choices":[{"message":{"content":"{}","reasoning_content":"Let me think."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":60,"completion_tokens_details":{"reasoning_tokens":48}}}},"error":null}"#;
        let r = batch_output("out.jsonl", line).expect("imports");
        let reasoning = r.records[0].reasoning.as_ref().expect("reasoning kept");
        assert_eq!(
            (reasoning.tokens, reasoning.tokens_source),
            (Tokens(48), crate::domain::record::TokenSource::Usage)
        );
        assert_eq!(reasoning.text, "Let me think.");
        assert_eq!(
            (r.summary.reasoning_tokens, r.summary.reasoning_tokens_source),
            (48, Some(crate::domain::record::TokenSource::Usage))
        );
    }

    #[test]
    fn batch_output_lines_become_records_and_bad_lines_are_numbered() {
        let ok = r#"{"id":"r1","custom_id":"a","response":{"status_code":200,"body":{"model":"m","choices":[{"message":{"content":"{}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}},"error":null}
{"id":"r2","custom_id":"b","response":{"status_code":500,"body":null},"error":{"message":"boom"}}"#;
        let r = batch_output("out.jsonl", ok).expect("imports");
        assert_eq!(r.model, "m");
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.summary.outcomes.ok, 1);
        assert_eq!(r.summary.outcomes.http_error, 1);
        assert!(!r.summary.timing_known);
        // No times in the format: no latency made of the records' zeros.
        assert_eq!((r.summary.e2e_ms, r.summary.ttft_ms, r.summary.tpot_ms), (None, None, None));
        assert!(r.summary.untimed());
        let bad = format!("{ok}\nnot json\n");
        let e = batch_output("out.jsonl", &bad).expect_err("bad line");
        assert_eq!(e.0[0].field, "line 3");
        // vLLM's run-batch nests the error (as its CPU build wrote it here).
        let nested = r#"{"id":"r3","custom_id":"c","response":{"status_code":400,"body":null},"error":{"error":{"message":"max_tokens is too large","type":"BadRequestError"}}}"#;
        let r = batch_output("out.jsonl", nested).expect("imports");
        assert_eq!(r.records[0].error.as_deref(), Some("max_tokens is too large"));
        // OpenAI's error file: `error` null, the reason in the response's body.
        let failed = r#"{"custom_id":"candidate-00005","error":null,"response":{"status_code":500,"body":{"error":{"message":"simulated failure of this request","type":"server_error"}}}}"#;
        let r = batch_output("errors.jsonl", failed).expect("imports");
        assert_eq!(r.records[0].outcome, Outcome::HttpError);
        assert_eq!(r.records[0].error.as_deref(), Some("simulated failure of this request"));
    }

    #[test]
    fn a_batch_output_is_named_by_its_ids_and_lines_not_its_file_name() {
        let line = |id: &str, text: &str| {
            format!(
                r#"{{"id":"{id}","custom_id":"c-{id}","response":{{"status_code":200,"body":{{"model":"m","choices":[{{"message":{{"content":"{text}"}},"finish_reason":"stop"}}]}}}},"error":null}}"#
            )
        };
        let file = format!("{}\n{}\n", line("batch_req_1", "x"), line("batch_req_2", "y"));
        let a = batch_output("a.jsonl", &file).expect("imports").provenance.batch_ids.expect("ids");
        assert!(a.starts_with("batch_req_1 .. batch_req_2, 2 results"), "{a}");
        // The same file under another name, with Windows line ends: the same identity.
        let renamed = batch_output("b.jsonl", &file.replace('\n', "\r\n"))
            .expect("imports")
            .provenance
            .batch_ids;
        assert_eq!(renamed.as_deref(), Some(a.as_str()));
        // The same ids with other answers (another Bakeoff's export of its run #1): another file.
        let other = format!("{}\n{}\n", line("batch_req_1", "x"), line("batch_req_2", "z"));
        assert_ne!(
            batch_output("a.jsonl", &other).expect("imports").provenance.batch_ids.as_deref(),
            Some(a.as_str())
        );
        // Lines without ids are still told apart by their text.
        let bare = r#"{"custom_id":"a","response":{"status_code":200,"body":{"choices":[]}},"error":null}"#;
        let ids = batch_output("x.jsonl", bare)
            .expect("imports")
            .provenance
            .batch_ids
            .expect("digest");
        assert!(ids.starts_with("1 results, digest "), "{ids}");
    }
}
