//! A batch job on the run page (issue 14): an offline `vllm run-batch` job or a provider's Batch
//! API job, timed as a whole. The section reads the job as the database has it, again every few
//! seconds while the run goes (times, line counts, the provider's batch id).

use crate::domain::batch::JobTiming;
use crate::domain::clock;
use crate::domain::format;
use crate::domain::spec::RunKind;
use crate::domain::summary::RunSummary;
use leptos::prelude::*;

/// Said wherever per-request figures (TTFT, TPOT, ITL, E2E, their charts) would be.
pub const NO_PER_REQUEST_TIMING: &str = "No per-request timing: a batch job is timed as a whole (see Batch job)";

/// The "Batch job" section: what the job is, its times, lines and outcome, and what its speed
/// figures mean (read again with the page's `Live` parts as the job goes).
#[component]
pub fn BatchJob(job: Option<JobTiming>, kind: RunKind, running: bool) -> impl IntoView {
    // Before the worker writes the job (a queued run) the section says what it will be.
    let current = job.unwrap_or_else(|| JobTiming {
        kind,
        ..Default::default()
    });
    let notes = current.notes.clone();
    view! {
        <section class="job" aria-label="Batch job">
            <h2>"Batch job"</h2>
            <dl class="facts">
                {job_facts(&current, running)
                    .into_iter()
                    .map(|(name, value)| view! { <dt>{name}</dt> <dd>{value}</dd> })
                    .collect_view()}
            </dl>
            {(!notes.is_empty()).then(|| view! {
                <ul class="notes" aria-label="Notes on the job">
                    {notes.into_iter().map(|n| view! { <li class="note">{n}</li> }).collect_view()}
                </ul>
            })}
            <p class="definition">{current.definition()}</p>
        </section>
    }
}

/// The section's facts, in order: (name, value). `running`: the run has not ended, so what is
/// missing is "not yet" rather than unknown.
pub fn job_facts(job: &JobTiming, running: bool) -> Vec<(&'static str, String)> {
    let missing = if running { "not yet" } else { "unknown" };
    let when = |t: Option<f64>| t.map(utc).unwrap_or_else(|| missing.to_string());
    let span = |s: Option<f64>| s.map(format::seconds).unwrap_or_else(|| missing.to_string());
    let offline = job.kind == RunKind::Offline;
    let mut facts = vec![
        ("Kind", job.kind.label().to_string()),
        ("Submitted", when(job.submitted_at)),
        (if offline { "Started (model loaded)" } else { "Started" }, when(job.started_at)),
        ("Completed", when(job.completed_at)),
        ("Turnaround", span(job.turnaround_s())),
    ];
    if offline {
        let load = match job.load_time_s {
            Some(s) => format::seconds(s),
            None if running => "not yet".into(),
            None if job.completed_at.is_some() => "not in vLLM's log (counted in the job time)".into(),
            None => "unknown".into(),
        };
        facts.push(("Model load", load));
    } else {
        facts.push(("Queued", span(job.queued_s())));
    }
    facts.push(("Job time (speed figures)", span(job.job_time_s())));
    facts.push(("Lines", lines(job, running)));
    let reference = job.reference.clone().unwrap_or_else(|| missing.to_string());
    facts.push((if offline { "Command" } else { "Provider batch id" }, reference));
    let status = match &job.final_status {
        Some(s) => s.clone(),
        None if running => "not yet".into(),
        None => "unknown".into(),
    };
    facts.push(("Final status", status));
    facts
}

/// "1,000 total · 450 completed · 3 failed", with how far the job is while it runs.
pub fn lines(job: &JobTiming, running: bool) -> String {
    let mut text = format!(
        "{} total · {} completed · {} failed",
        format::int(job.total as f64),
        format::int(job.completed as f64),
        format::int(job.failed as f64)
    );
    if running {
        if job.total > 0 {
            let done = (job.completed + job.failed).min(job.total);
            text.push_str(&format!(" ({} done)", format::percent(done as f64 / job.total as f64)));
        } else {
            text.push_str(" (not counted yet)");
        }
    }
    text
}

/// Unix seconds as the page's other times are written (`2025-03-01T14:05:09Z`).
pub fn utc(secs: f64) -> String {
    clock::rfc3339(secs.round() as i64)
}

/// One row of the summary table: (name, value, definition).
pub type Row = (&'static str, String, &'static str);

/// A batch run's speed rows for the summary: over the job's time, each with what it means.
pub fn speed_rows(s: &RunSummary, job: &JobTiming) -> Vec<Row> {
    let known = s.timing_known && s.wall_time_s > 0.0;
    let or_unknown = |v: String| {
        if known {
            v
        } else {
            "unknown (the job has no time yet)".to_string()
        }
    };
    vec![
        (
            "Job time",
            or_unknown(format::seconds(s.wall_time_s)),
            job_time_definition(job.kind),
        ),
        (
            "Output tokens/s",
            or_unknown(format::dec(s.output_tokens_per_s, 1)),
            "sum of completion tokens (usage in the job's output) / job time",
        ),
        (
            "Total tokens/s",
            or_unknown(format::dec(s.total_tokens_per_s, 1)),
            "sum of prompt + completion tokens (usage in the job's output) / job time",
        ),
        (
            "Requests/s",
            or_unknown(format::dec(s.requests_per_s, 2)),
            "lines of the job (any outcome) / job time",
        ),
    ]
}

/// What a batch job's time is.
pub fn job_time_definition(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Offline => "vllm run-batch started -> exited, minus the model load read from vLLM's log",
        RunKind::ProviderBatch => "turnaround: submitted -> completed on the provider's clock, queueing included",
        RunKind::Server => crate::domain::definitions::WALL_TIME,
    }
}

/// The small tag the runs list shows beside a batch run's name ("offline batch", "provider
/// batch"); none for server runs.
pub fn kind_tag(kind: RunKind) -> Option<&'static str> {
    match kind {
        RunKind::Server => None,
        RunKind::Offline => Some("offline batch"),
        RunKind::ProviderBatch => Some("provider batch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> JobTiming {
        JobTiming {
            kind: RunKind::ProviderBatch,
            submitted_at: Some(1_709_251_109.0),
            started_at: Some(1_709_251_139.4),
            completed_at: Some(1_709_251_209.0),
            total: 1000,
            completed: 990,
            failed: 10,
            reference: Some("batch_abc".into()),
            final_status: Some("completed".into()),
            ..Default::default()
        }
    }

    fn fact<'a>(facts: &'a [(&'static str, String)], name: &str) -> &'a str {
        facts
            .iter()
            .find(|f| f.0 == name)
            .map(|f| f.1.as_str())
            .unwrap_or_else(|| panic!("no fact {name} in {facts:?}"))
    }

    #[test]
    fn a_finished_provider_batch_shows_its_times_queue_and_id() {
        let facts = job_facts(&provider(), false);
        assert_eq!(fact(&facts, "Kind"), "provider Batch API");
        assert_eq!(fact(&facts, "Submitted"), "2024-02-29T23:58:29Z");
        assert_eq!(fact(&facts, "Started"), "2024-02-29T23:58:59Z");
        assert_eq!(fact(&facts, "Completed"), "2024-03-01T00:00:09Z");
        assert_eq!(fact(&facts, "Turnaround"), "100.0 s");
        assert_eq!(fact(&facts, "Queued"), "30.4 s");
        assert_eq!(fact(&facts, "Job time (speed figures)"), "100.0 s");
        assert_eq!(fact(&facts, "Lines"), "1,000 total · 990 completed · 10 failed");
        assert_eq!(fact(&facts, "Provider batch id"), "batch_abc");
        assert_eq!(fact(&facts, "Final status"), "completed");
        assert!(facts.iter().all(|f| f.0 != "Model load" && f.0 != "Command"));
    }

    #[test]
    fn an_offline_job_shows_its_model_load_apart_and_its_command() {
        let job = JobTiming {
            kind: RunKind::Offline,
            submitted_at: Some(1000.0),
            started_at: Some(1026.0),
            completed_at: Some(1100.0),
            load_time_s: Some(26.08),
            reference: Some("vllm run-batch -i in.jsonl -o out.jsonl --model m".into()),
            final_status: Some("exit 0".into()),
            ..Default::default()
        };
        let facts = job_facts(&job, false);
        assert_eq!(fact(&facts, "Model load"), "26.1 s");
        assert_eq!(fact(&facts, "Turnaround"), "100.0 s");
        assert_eq!(fact(&facts, "Job time (speed figures)"), "73.9 s");
        assert_eq!(fact(&facts, "Command"), "vllm run-batch -i in.jsonl -o out.jsonl --model m");
        assert_eq!(fact(&facts, "Started (model loaded)"), "1970-01-01T00:17:06Z");
        assert!(facts.iter().all(|f| f.0 != "Queued"));
        let unlogged = JobTiming { load_time_s: None, ..job };
        assert!(fact(&job_facts(&unlogged, false), "Model load").starts_with("not in vLLM's log"));
        let never_ran = JobTiming {
            completed_at: None,
            ..unlogged
        };
        assert_eq!(fact(&job_facts(&never_ran, false), "Model load"), "unknown");
    }

    #[test]
    fn a_running_job_says_not_yet_and_how_far_it_is() {
        let job = JobTiming {
            completed_at: None,
            completed: 440,
            failed: 10,
            final_status: None,
            ..provider()
        };
        let facts = job_facts(&job, true);
        assert_eq!(fact(&facts, "Completed"), "not yet");
        assert_eq!(fact(&facts, "Turnaround"), "not yet");
        assert_eq!(fact(&facts, "Final status"), "not yet");
        assert_eq!(fact(&facts, "Lines"), "1,000 total · 440 completed · 10 failed (45% done)");
        let uncounted = JobTiming {
            total: 0,
            ..JobTiming::default()
        };
        assert!(lines(&uncounted, true).ends_with("(not counted yet)"));
        // A job that ended without a time says unknown, not "not yet".
        assert_eq!(fact(&job_facts(&job, false), "Completed"), "unknown");
    }

    #[test]
    fn speed_rows_are_over_the_job_time_or_unknown() {
        let mut s = RunSummary {
            requests: 100,
            prompt_tokens: 80_000,
            completion_tokens: 20_000,
            ..Default::default()
        };
        crate::domain::batch::apply_job(&mut s, &provider());
        let rows = speed_rows(&s, &provider());
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ["Job time", "Output tokens/s", "Total tokens/s", "Requests/s"]
        );
        assert_eq!(rows[0].1, "100.0 s");
        assert_eq!(rows[1].1, "200.0");
        assert_eq!(rows[2].1, "1,000.0");
        assert_eq!(rows[3].1, "1.00");
        assert!(rows[0].2.contains("turnaround"));
        let unfinished = JobTiming {
            completed_at: None,
            ..provider()
        };
        crate::domain::batch::apply_job(&mut s, &unfinished);
        assert!(speed_rows(&s, &unfinished).iter().all(|r| r.1.starts_with("unknown")));
    }

    #[test]
    fn only_batch_runs_get_a_tag() {
        assert_eq!(kind_tag(RunKind::Server), None);
        assert_eq!(kind_tag(RunKind::Offline), Some("offline batch"));
        assert_eq!(kind_tag(RunKind::ProviderBatch), Some("provider batch"));
    }
}
