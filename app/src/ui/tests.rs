//! Pending tests: planned runs in priority order, reordered by buttons or keys, launched one at
//! a time or all; and a "next steps" list like the seed's.

use super::live_html::Live;
use super::widgets::{allowed, use_me, ErrorBox};
use crate::api::planning::{list_models, list_tests, DeleteTest, LaunchTests, MoveTest};
use crate::domain::accounts::Permission;
use crate::domain::planner::{command, plan};
use crate::domain::views::TestStatus;
use leptos::prelude::*;

/// Rendered on the server only: every button is a form the `Enhance` island posts, then the
/// list (a `Live` part) is read again. The keys are the island's too (`data-row-keys`): j / k
/// select a row, and a key a row's form names (`data-key`) sends that form.
#[component]
pub fn TestsPage() -> impl IntoView {
    let can_run = allowed(use_me(), Permission::Run);
    let tests = Resource::new(|| (), |_| list_tests());
    let models = Resource::new(|| (), |_| list_models());
    view! {
        <h1>"Pending tests"</h1>
        <p class="lead">"Runs planned for later, highest priority first. Keys: j / k select, Shift+J / Shift+K move, Enter launches. The worker runs one at a time, so a GPU endpoint serves one model at a time. " <a href="/planner">"Plan a test"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let models = models.await.unwrap_or_default();
                match tests.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) => {
                        let pending: Vec<_> = list.iter().filter(|t| t.status == TestStatus::Planned).cloned().collect();
                        let done: Vec<_> = list.iter().filter(|t| t.status != TestStatus::Planned).cloned().collect();
                        let steps: Vec<String> = pending.iter().enumerate().map(|(n, t)| {
                            let fit = t.plan.as_ref().map(|p| { let r = plan(p); if r.fits { format!("fits: {:.1} GiB KV cache, {:.1}x concurrency at {} tokens", r.kv_cache_gib, r.max_concurrency, p.max_model_len) } else { format!("does not fit: {}", r.problems.join("; ")) } }).unwrap_or("not planned".into());
                            format!("{}. {} — expected: {} ({fit})", n + 1, t.title, if t.expected.is_empty() { "—" } else { &t.expected })
                        }).collect();
                        let any = !pending.is_empty();
                        view! {
                            <Live id="tests" every_ms=0>
                            <table class="tests" data-row-keys="">
                                <thead><tr><th>"Priority"</th><th>"Test"</th><th>"Model"</th><th>"Expected"</th><th>"Plan"</th><th></th></tr></thead>
                                <tbody>
                                    {pending.into_iter().enumerate().map(|(i, t)| {
                                        let id = t.id.to_string();
                                        let [id1, id2, id3, id4] = [(); 4].map(|_| id.clone());
                                        let model = t.model_id.and_then(|m| models.iter().find(|x| x.id == m)).map(|m| m.name.clone()).unwrap_or(t.serve_model.clone());
                                        let plan_text = t.plan.as_ref().map(|p| { let r = plan(p); format!("{} · {}", if r.fits { "fits" } else { "does not fit" }, command(p)) }).unwrap_or_default();
                                        let (up, down) = (format!("move {} up", t.title), format!("move {} down", t.title));
                                        view! {
                                            <tr>
                                                <td>{i + 1}</td>
                                                <td>{t.title.clone()} <br/> <small>{format!("{} requests at concurrency {}", t.requests, t.concurrency)}</small></td>
                                                <td>{model}</td>
                                                <td>{t.expected.clone()}</td>
                                                <td><code class="small">{plan_text}</code></td>
                                                <td class="actions">
                                                    {can_run.then(|| view! {
                                                        <span class="manage">
                                                            <ActionForm action={ServerAction::<MoveTest>::new()} attr:class="inline" attr:data-key="K" attr:data-key-step="-1">
                                                                <input type="hidden" name="id" value=id1/><input type="hidden" name="delta" value="-1"/>
                                                                <button type="submit" aria-label=up>"↑"</button>
                                                            </ActionForm>
                                                            <ActionForm action={ServerAction::<MoveTest>::new()} attr:class="inline" attr:data-key="J" attr:data-key-step="1">
                                                                <input type="hidden" name="id" value=id2/><input type="hidden" name="delta" value="1"/>
                                                                <button type="submit" aria-label=down>"↓"</button>
                                                            </ActionForm>
                                                            <ActionForm action={ServerAction::<LaunchTests>::new()} attr:class="inline" attr:data-key="Enter" attr:data-ok="Queued run {}.">
                                                                <input type="hidden" name="id" value=id3/>
                                                                <button type="submit" class="primary">"Launch"</button>
                                                            </ActionForm>
                                                            <ActionForm action={ServerAction::<DeleteTest>::new()} attr:class="inline" attr:data-ok="Test removed.">
                                                                <input type="hidden" name="id" value=id4/>
                                                                <button type="submit" class="danger">"Remove"</button>
                                                            </ActionForm>
                                                        </span>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {(can_run && any).then(|| view! {
                                <ActionForm action={ServerAction::<LaunchTests>::new()} attr:data-ok="Queued run(s) {}.">
                                    <button type="submit" class="primary">"Launch the whole queue"</button>
                                </ActionForm>
                            })}
                            <h2>"Next steps"</h2>
                            {if steps.is_empty() { view! { <p class="empty">"Nothing planned."</p> }.into_any() } else { view! { <ol class="steps">{steps.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ol> }.into_any() }}
                            <h2>"Launched"</h2>
                            <ul>{done.into_iter().map(|t| view! { <li>{t.title.clone()} " — " {t.run_id.map(|r| view! { <a href=format!("/runs/{r}")>{format!("run #{r}")}</a> })}</li> }).collect_view()}</ul>
                            </Live>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
