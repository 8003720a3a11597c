//! The Workers page: every worker process seen in the last day (`bakeoff serve` with its worker,
//! `bakeoff worker` next to a GPU), what it takes from the queue, whether it is alive, and the
//! runs it measures now. Rendered on the server; its table is read again every few seconds while
//! the page is shown (a `Live` part).

use super::live_html::Live;
use super::widgets::ErrorBox;
use crate::api::workers::{list_workers, Liveness, WorkerView};
use crate::domain::clock::readable;
use leptos::prelude::*;

/// How often the page reads the workers again, in milliseconds.
const REFRESH_MS: u32 = 5_000;

/// Rendered on the server only; the table is read again every few seconds (a `Live` part).
#[component]
pub fn WorkersPage() -> impl IntoView {
    let workers = Resource::new(|| (), |_| list_workers());
    view! {
        <h1>"Workers"</h1>
        <p class="lead">
            "The processes that measure runs: the worker inside " <code>"bakeoff serve"</code> " (unless started with "
            <code>"--no-worker"</code> "), and each " <code>"bakeoff worker"</code>
            " started next to a GPU. A worker is alive while it renews its heartbeat within its lease; a queued run waits until a live worker that takes its endpoint is free."
        </p>
        <Live id="workers" every_ms=REFRESH_MS>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match workers.await {
                        Ok(list) => view! { <WorkersBody list/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </Live>
    }
}

/// The workers' table, or why there is none.
#[component]
fn WorkersBody(list: Vec<WorkerView>) -> impl IntoView {
    if list.is_empty() {
        view! {
            <p class="note" role="status">
                "No worker was seen in the last day: queued runs wait. Start one with "
                <code>"bakeoff worker --db PATH"</code> " (or " <code>"bakeoff serve"</code> " without " <code>"--no-worker"</code> ")."
            </p>
        }
        .into_any()
    } else {
        view! { <WorkersTable list/> }.into_any()
    }
}

#[component]
fn WorkersTable(list: Vec<WorkerView>) -> impl IntoView {
    view! {
        <table class="workers">
            <thead>
                <tr>
                    <th>"Name"</th><th>"Kind"</th><th>"Host"</th><th>"Endpoints"</th><th>"Starts model servers"</th>
                    <th>"Started"</th><th>"Heartbeat"</th><th>"Measuring now"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|w| view! { <WorkerRow w/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn WorkerRow(w: WorkerView) -> impl IntoView {
    // Colours of the run states: alive as completed, silent as failed, stopped as queued.
    let class = match w.state {
        Liveness::Alive => "status status-completed",
        Liveness::Silent => "status status-failed",
        Liveness::Stopped => "status status-queued",
    };
    let heartbeat = heartbeat_text(&w);
    let launch = if w.may_launch { "yes" } else { "no (--allow-launch not given)" };
    view! {
        <tr data-worker=w.name.clone()>
            <td>{w.name.clone()}</td>
            <td><code>{w.kind.label()}</code></td>
            <td>{format!("{} (pid {})", w.host, w.pid)}</td>
            <td>{w.endpoints.label()}</td>
            <td>{launch}</td>
            <td>{w.started.clone()}</td>
            <td><span class=class>{w.state.label()}</span> " " <span class="note">{heartbeat}</span></td>
            <td>
                {if w.runs.is_empty() {
                    view! { <span class="note">"—"</span> }.into_any()
                } else {
                    w.runs.into_iter().map(|r| view! {
                        <a href=r.url.clone()>{format!("#{} {}", r.id, r.name)}</a> " "
                    }).collect_view().into_any()
                }}
            </td>
        </tr>
    }
}

/// "beat 2 s ago (lease 30 s)", "stopped 2025-03-01 14:05 UTC".
fn heartbeat_text(w: &WorkerView) -> String {
    match (w.state, w.stopped_at_s) {
        (Liveness::Stopped, Some(at)) => format!("at {}", readable(at)),
        _ => format!("beat {} s ago (lease {} s)", w.heartbeat_age_s.max(0), w.lease_s),
    }
}
