//! Pending tests: planned runs in priority order, reordered by buttons or keys, launched one at
//! a time or all; and a "next steps" list like the seed's.

use super::widgets::{can, ErrorBox};
use crate::api::planning::{list_models, list_tests, DeleteTest, LaunchTests, MoveTest};
use crate::domain::accounts::Permission;
use crate::domain::planner::{command, plan};
use leptos::prelude::*;

#[component]
pub fn TestsPage() -> impl IntoView {
    let mv = ServerAction::<MoveTest>::new();
    let can_run = can(Permission::Run);
    let del = ServerAction::<DeleteTest>::new();
    let launch = ServerAction::<LaunchTests>::new();
    let tests = Resource::new(
        move || (mv.version().get(), del.version().get(), launch.version().get()),
        |_| list_tests(),
    );
    let models = Resource::new(|| (), |_| list_models());
    let selected = RwSignal::new(0usize);
    // Keys: j/k select, J/K (shift) move the selected test down/up, Enter launches it.
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev: leptos::web_sys::KeyboardEvent| {
            use leptos::wasm_bindgen::JsCast;
            let tag = ev
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                .map(|e| e.tag_name())
                .unwrap_or_default();
            if matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT") {
                return;
            }
            let Some(Ok(list)) = tests.get_untracked() else { return };
            let pending: Vec<_> = list
                .into_iter()
                .filter(|t| t.status == crate::domain::views::TestStatus::Planned)
                .collect();
            let i = selected.get_untracked().min(pending.len().saturating_sub(1));
            match ev.key().as_str() {
                "j" => selected.set((i + 1).min(pending.len().saturating_sub(1))),
                "k" => selected.set(i.saturating_sub(1)),
                "J" => {
                    if let Some(t) = pending.get(i) {
                        mv.dispatch(MoveTest { id: t.id, delta: 1 });
                        selected.set((i + 1).min(pending.len().saturating_sub(1)));
                    }
                }
                "K" => {
                    if let Some(t) = pending.get(i) {
                        mv.dispatch(MoveTest { id: t.id, delta: -1 });
                        selected.set(i.saturating_sub(1));
                    }
                }
                "Enter" => {
                    if let Some(t) = pending.get(i) {
                        launch.dispatch(LaunchTests { id: Some(t.id) });
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    });
    view! {
        <h1>"Pending tests"</h1>
        <p class="lead">"Runs planned for later, highest priority first. Keys: j / k select, Shift+J / Shift+K move, Enter launches. The worker runs one at a time, so a GPU endpoint serves one model at a time. " <a href="/planner">"Plan a test"</a></p>
        {move || launch.value().get().map(|r| match r {
            Ok(ids) => view! { <p class="ok" role="status">{format!("Queued {} run(s).", ids.len())}</p> }.into_any(),
            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let models = models.await.unwrap_or_default();
                match tests.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) => {
                        let pending: Vec<_> = list.iter().filter(|t| t.status == crate::domain::views::TestStatus::Planned).cloned().collect();
                        let done: Vec<_> = list.iter().filter(|t| t.status != crate::domain::views::TestStatus::Planned).cloned().collect();
                        let steps: Vec<String> = pending.iter().enumerate().map(|(n, t)| {
                            let fit = t.plan.as_ref().map(|p| { let r = plan(p); if r.fits { format!("fits: {:.1} GiB KV cache, {:.1}x concurrency at {} tokens", r.kv_cache_gib, r.max_concurrency, p.max_model_len) } else { format!("does not fit: {}", r.problems.join("; ")) } }).unwrap_or("not planned".into());
                            format!("{}. {} — expected: {} ({fit})", n + 1, t.title, if t.expected.is_empty() { "—" } else { &t.expected })
                        }).collect();
                        view! {
                            <table class="tests">
                                <thead><tr><th>"Priority"</th><th>"Test"</th><th>"Model"</th><th>"Expected"</th><th>"Plan"</th><th></th></tr></thead>
                                <tbody>
                                    {pending.into_iter().enumerate().map(|(i, t)| {
                                        let id = t.id;
                                        let model = t.model_id.and_then(|m| models.iter().find(|x| x.id == m)).map(|m| m.name.clone()).unwrap_or(t.serve_model.clone());
                                        let plan_text = t.plan.as_ref().map(|p| { let r = plan(p); format!("{} · {}", if r.fits { "fits" } else { "does not fit" }, command(p)) }).unwrap_or_default();
                                        view! {
                                            <tr class:selected=move || selected.get() == i>
                                                <td>{i + 1}</td>
                                                <td>{t.title.clone()} <br/> <small>{format!("{} requests at concurrency {}", t.requests, t.concurrency)}</small></td>
                                                <td>{model}</td>
                                                <td>{t.expected.clone()}</td>
                                                <td><code class="small">{plan_text}</code></td>
                                                <td class="actions">
                                                    <Show when=move || can_run.get()>
                                                    <button aria-label=format!("move {} up", t.title) on:click=move |_| { mv.dispatch(MoveTest { id, delta: -1 }); }>"↑"</button>
                                                    <button aria-label=format!("move {} down", t.title) on:click=move |_| { mv.dispatch(MoveTest { id, delta: 1 }); }>"↓"</button>
                                                    <button class="primary" on:click=move |_| { launch.dispatch(LaunchTests { id: Some(id) }); }>"Launch"</button>
                                                    <button class="danger" on:click=move |_| { del.dispatch(DeleteTest { id }); }>"Remove"</button>
                                                    </Show>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Show when=move || can_run.get()>
                                <button class="primary" on:click=move |_| { launch.dispatch(LaunchTests { id: None }); }>"Launch the whole queue"</button>
                            </Show>
                            <h2>"Next steps"</h2>
                            {if steps.is_empty() { view! { <p class="empty">"Nothing planned."</p> }.into_any() } else { view! { <ol class="steps">{steps.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ol> }.into_any() }}
                            <h2>"Launched"</h2>
                            <ul>{done.into_iter().map(|t| view! { <li>{t.title.clone()} " — " {t.run_id.map(|r| view! { <a href=format!("/runs/{r}")>{format!("run #{r}")}</a> })}</li> }).collect_view()}</ul>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
