use super::answers::RunAnswers;
use super::charts::RunCharts;
use super::integrity::IntegrityPanel;
use super::job::BatchJob;
use super::launches::RunLaunches;
use super::live;
use super::live_html::Live;
use super::summary::SummaryTable;
use super::targets::ConditionsPanel;
use super::widgets::{allowed, use_me, ErrorBox, OriginBadge, StatusBadge};
use crate::api::runs::{get_run, run_series, CancelRun};
use crate::api::types::RunView;
use crate::api::workers::run_waiting;
use crate::domain::accounts::Permission;
use crate::domain::format;
use crate::domain::progress::Progress;
use crate::domain::spec::RunKind;
use crate::domain::status::RunStatus;
use leptos::prelude::*;

/// Rendered on the server only. The run's details, charts and answers are `Live` parts; while
/// the run goes, the `RunLive` island follows its progress events, moves the progress bar, and
/// has the parts read again when they change (a second into the run, then every five seconds,
/// when it starts measuring, and at its end).
#[component]
pub fn RunPage() -> impl IntoView {
    let id = expect_context::<super::app::RouteId>().0;
    let run = Resource::new(move || id, get_run);
    let series = Resource::new(move || id, run_series);
    // A queued run that no live worker takes says so ("waiting for a worker (none is alive)").
    let waiting = Resource::new(move || id, run_waiting);
    let me = use_me();
    let answers = super::answers::AnswerQuery::from_page();
    view! {
        <Suspense fallback=|| view! { <p>"Loading run…"</p> }>
            {move || Suspend::new(async move {
                let waiting = waiting.await.ok().flatten();
                let may_run = allowed(me, Permission::Run);
                match run.await {
                    Ok(r) => {
                        let live = (!r.status.is_finished() && r.status != RunStatus::Imported)
                            .then(|| view! { <RunLive run_id=r.id kind=r.kind() waiting=waiting.clone()/> });
                        view! {
                            {live}
                            <Live id="run" every_ms=0><RunDetail run=r waiting may_run/></Live>
                        }.into_any()
                    }
                    Err(e) => view! { <h1>"Run"</h1> <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <Live id="charts" every_ms=0>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    // A batch job's records have no per-request times, nor an import's without times:
                    // the charts section says so.
                    let r = run.await;
                    let batch = r.as_ref().is_ok_and(|r| r.kind().is_batch());
                    let untimed = r.as_ref().ok().and_then(|r| r.summary.as_ref()).is_some_and(|s| s.untimed());
                    let summary_only = r.as_ref().is_ok_and(RunView::summary_only);
                    series.await.ok().map(|s| view! { <RunCharts series=s batch untimed summary_only/> })
                })}
            </Suspense>
        </Live>
        <RunLaunches run_id=id/>
        <Live id="answers" every_ms=0><RunAnswers run_id=id query=answers/></Live>
    }
}

/// Follows a running run's progress events (Server-Sent Events): moves the progress bar with
/// each, and has the page's `Live` parts read again a second into the run, then every five
/// seconds, when the run starts or measures its first request, and at its end.
#[island]
fn RunLive(run_id: i64, kind: RunKind, waiting: Option<String>) -> impl IntoView {
    Effect::new(move |_| {
        let last_refresh = StoredValue::new(None::<f64>);
        let before = StoredValue::new(None::<Progress>);
        let waiting = waiting.clone();
        live::subscribe(run_id, move |p| {
            let finished = p.status.is_finished();
            let due = match last_refresh.get_value() {
                None => p.done > 0 && p.elapsed_s >= 1.0,
                Some(t) => p.elapsed_s - t >= 5.0,
            };
            let started = run_changed(before.get_value().as_ref(), &p);
            before.set_value(Some(p.clone()));
            show_progress(&p, kind, waiting.as_deref());
            if due {
                last_refresh.set_value(Some(p.elapsed_s));
            }
            if finished || started || due {
                super::enhance::refresh_live_parts();
            }
        });
    });
}

/// The progress bar and its line, as `p` says (browser only).
fn show_progress(p: &Progress, kind: RunKind, waiting: Option<&str>) {
    #[cfg(feature = "hydrate")]
    {
        let pct = format!("{:.0}", p.percent());
        if let Ok(Some(bar)) = document().query_selector("[role=progressbar][aria-label='Run progress']") {
            let _ = bar.set_attribute("aria-valuenow", &pct);
            if let Ok(Some(fill)) = bar.query_selector(".bar") {
                let _ = fill.set_attribute("style", &format!("width: {:.1}%", p.percent()));
            }
        }
        if let Ok(Some(text)) = document().query_selector(".progress-text") {
            text.set_text_content(Some(&progress_text(p, kind, waiting)));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (p, kind, waiting);
}

#[component]
fn RunDetail(
    run: RunView,
    waiting: Option<String>,
    /// The logged-in user may launch and cancel runs.
    may_run: bool,
) -> impl IntoView {
    let origin = run.origin_label();
    let spec = run.spec.clone();
    // Posted by the page's `Enhance` island.
    let cancel = ServerAction::<CancelRun>::new();
    let id = run.id;
    let can_cancel = may_run && matches!(run.status, RunStatus::Queued | RunStatus::Running);
    let kind = run.kind();
    view! {
        <h1>
            {format!("Run #{}: {}", run.id, run.name)} " " <OriginBadge label=origin/>
        </h1>
        <dl class="facts">
            <dt>"Model"</dt>
            <dd>{run.model.clone()}</dd>
            <dt>"Endpoint"</dt>
            <dd>{run.endpoint_name.clone()}</dd>
            <dt>"Dataset"</dt>
            <dd>{run.dataset_name.clone()}</dd>
            <dt>"Status"</dt>
            <dd>
                <StatusBadge status=run.status/>
            </dd>
            {run.worker.clone().map(|w| view! { <dt>"Measured by"</dt> <dd>{w}</dd> })}
            {spec.map(|s| {
                // A batch job has no load of its own: the engine or the provider schedules it.
                let (load, requests) = if kind.is_batch() {
                    (format!("{}: one job", kind.label()), format!("{} lines", s.requests))
                } else {
                    (s.load_label(), format!("{} measured + {} warm-up", s.requests, s.warmup))
                };
                view! {
                    <dt>"Load"</dt>
                    <dd>{load}</dd>
                    <dt>"Requests"</dt>
                    <dd>{requests}</dd>
                    <dt>"Max tokens"</dt>
                    <dd>{s.sampling.max_tokens.map(|m| m.to_string()).unwrap_or("from the dataset".into())}</dd>
                }
            })}
            {run.sweep_id.map(|s| view! { <dt>"Sweep"</dt> <dd><a href=format!("/sweeps/{s}")>{format!("sweep #{s}: all its steps")}</a></dd> })}
            <dt>"Created"</dt>
            <dd>{run.created_at.clone()} {run.created_by.clone().map(|u| format!(" by {u}"))}</dd>
        </dl>
        {(origin == "simulated").then(|| view! {
            <p class="note simulated-note">
                "These results come from Bakeoff's built-in vLLM simulator, not from a model on a GPU."
            </p>
        })}
        // How an import was read: its file, and what Bakeoff had to decide (the report's notes).
        {run.provenance.as_deref().and_then(|p| serde_json::from_str::<crate::domain::import::Provenance>(p).ok()).map(|p| view! {
            <div class="note import-notes">
                <p>{format!("Imported from {} ({}).", p.file, p.format)}</p>
                {(!p.notes.is_empty()).then(|| view! { <ul>{p.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul> })}
            </div>
        })}
        {run.resumed.then(|| view! { <p class="note">"This run was interrupted and resumed; the outage is not counted in its wall time."</p> })}
        {run.takeover_note.clone().map(|n| {
            let times = if run.takeovers == 1 { "once".to_string() } else { format!("{} times", run.takeovers) };
            view! { <p class="note" role="status">{format!("A worker stopped renewing its lease; the run was taken over {times}. Last: {n}.")}</p> }
        })}
        // An import has no progress of its own: it arrived whole.
        {(run.status != RunStatus::Imported).then(|| view! { <ProgressBar run=run.clone() waiting/> })}
        {kind.is_batch().then(|| {
            let running = !run.status.is_finished();
            view! { <BatchJob job=run.job.clone() kind running/> }
        })}
        {can_cancel.then(|| view! {
            <ActionForm action=cancel attr:class="inline" attr:data-ok="Cancel requested (status: {}).">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" class="danger">"Cancel run"</button>
            </ActionForm>
        })}
        {run.error.clone().map(|e| view! { <p class="error" role="alert">{e}</p> })}

        {run.summary.clone().map(|s| {
            let integrity = s.integrity.clone();
            view! {
                <SummaryTable summary=s origin/>
                {integrity.map(|i| view! { <IntegrityPanel integrity=i/> })}
            }
        })}
        <ConditionsPanel
            conditions=run.conditions.clone()
            imported=run.provenance.is_some()
            pending=matches!(run.status, RunStatus::Queued) || (run.status == RunStatus::Running && run.done_requests == 0)
        />
    }
}

#[component]
fn ProgressBar(run: RunView, waiting: Option<String>) -> impl IntoView {
    // A batch job's lines are counted by the job (its answers are stored when it ends).
    let (done, total, errors) = match &run.job {
        Some(j) if j.total > 0 => ((j.completed + j.failed).min(j.total), j.total, j.failed),
        _ => (run.done_requests.max(0) as u64, run.total_requests.max(0) as u64, 0),
    };
    let current = Progress {
        run_id: run.id,
        status: run.status,
        done,
        total,
        errors,
        elapsed_s: 0.0,
        tokens_per_s: 0.0,
        eta_s: None,
        message: None,
    };
    let pct = current.percent();
    let kind = run.kind();
    view! {
        <section class="live" aria-labelledby="progress-title">
            <h2 id="progress-title">"Progress"</h2>
            <div
                class="progress"
                role="progressbar"
                aria-label="Run progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=format!("{pct:.0}")
            >
                <div class="bar" style=format!("width: {pct:.1}%")></div>
            </div>
            <p class="progress-text" aria-live="polite">{progress_text(&current, kind, waiting.as_deref())}</p>
        </section>
    }
}

/// Whether the run's details changed under the page, seen from its progress: its status changed
/// (queued -> running: a worker took it), or its first request finished (the endpoint's
/// conditions are stored before the first request is sent). A page opened on a run already
/// under way (no progress seen before) reads nothing again.
fn run_changed(before: Option<&Progress>, now: &Progress) -> bool {
    let Some(b) = before else { return false };
    b.run_id == now.run_id && (b.status != now.status || (b.done == 0 && now.done > 0))
}

/// The line under the progress bar. A batch job counts lines, and has no per-request rate. A
/// queued run says why it waits when no live worker takes it (`waiting`).
fn progress_text(p: &Progress, kind: RunKind, waiting: Option<&str>) -> String {
    let unit = if kind.is_batch() { "lines" } else { "requests" };
    let mut parts = vec![format!("{}/{} {unit} ({:.0}%)", p.done, p.total, p.percent())];
    if p.status == RunStatus::Running {
        if !kind.is_batch() {
            parts.push(format!("{} output tok/s (last 5 s)", format::int(p.tokens_per_s)));
        }
        if let Some(eta) = p.eta_s {
            parts.push(format!("ETA {}", format::seconds(eta)));
        }
    }
    if p.errors > 0 {
        parts.push(format!("{} failed", p.errors));
    }
    parts.push(match waiting {
        Some(w) if p.status == RunStatus::Queued => format!("{}: {w}", p.status.label()),
        _ => p.status.label().to_string(),
    });
    if let Some(m) = &p.message {
        parts.push(m.clone());
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(status: RunStatus) -> Progress {
        Progress {
            run_id: 1,
            status,
            done: 450,
            total: 1000,
            errors: 3,
            elapsed_s: 10.0,
            tokens_per_s: 1234.0,
            eta_s: Some(12.0),
            message: None,
        }
    }

    #[test]
    fn a_server_run_counts_requests_and_its_rate() {
        assert_eq!(
            progress_text(&progress(RunStatus::Running), RunKind::Server, None),
            "450/1000 requests (45%) · 1,234 output tok/s (last 5 s) · ETA 12.0 s · 3 failed · running"
        );
    }

    #[test]
    fn a_batch_job_counts_lines_without_a_per_request_rate() {
        let text = progress_text(&progress(RunStatus::Running), RunKind::ProviderBatch, None);
        assert_eq!(text, "450/1000 lines (45%) · ETA 12.0 s · 3 failed · running");
        let done = progress_text(&progress(RunStatus::Completed), RunKind::Offline, None);
        assert!(done.starts_with("450/1000 lines (45%)") && !done.contains("tok/s"), "{done}");
    }

    #[test]
    fn the_run_is_read_again_when_it_starts_and_when_its_first_request_is_done() {
        let at = |status, done| Progress { done, ..progress(status) };
        let queued = at(RunStatus::Queued, 0);
        let claimed = at(RunStatus::Running, 0);
        let measuring = at(RunStatus::Running, 1);
        assert!(run_changed(Some(&queued), &claimed), "a worker took it");
        assert!(run_changed(Some(&claimed), &measuring), "its conditions are stored by now");
        assert!(run_changed(Some(&queued), &measuring), "both at once");
        assert!(!run_changed(Some(&measuring), &at(RunStatus::Running, 40)), "not on every event");
        assert!(!run_changed(None, &measuring), "the first event of a page opened mid-run");
    }

    #[test]
    fn a_queued_run_no_worker_takes_says_why_it_waits() {
        let p = Progress {
            done: 0,
            errors: 0,
            eta_s: None,
            ..progress(RunStatus::Queued)
        };
        let note = Some("waiting for a worker (none is alive)");
        assert_eq!(
            progress_text(&p, RunKind::Server, note),
            "0/1000 requests (0%) · queued: waiting for a worker (none is alive)"
        );
        let running = progress_text(&progress(RunStatus::Running), RunKind::Server, note);
        assert!(running.ends_with("· running"), "the note goes once the run starts: {running}");
    }
}
