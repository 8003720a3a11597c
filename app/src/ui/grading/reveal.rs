//! A closed queue: who wrote each answer the reviewer judged (the reveal).

use crate::api::grading::queue_reveal;
use crate::ui::widgets::ErrorBox;
use leptos::prelude::*;

/// After the queue is closed: which model wrote each answer the reviewer judged.
#[component]
pub(super) fn Reveal(queue_id: i64) -> impl IntoView {
    let rows = Resource::new(move || queue_id, queue_reveal);
    view! {
        <p class="note" role="status">"This queue is closed: grading has stopped. Here is who wrote the answers you judged."</p>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p class="empty">"You judged no item of this queue."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="reveal" aria-label="Who wrote what">
                            <thead><tr><th class="num">"Item"</th><th>"Your judgement"</th><th>"Written by"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr class:withheld=r.withheld>
                                        <td class="num">{r.position + 1}</td>
                                        <td>{match (r.grade, r.vote.clone()) {
                                            (Some(g), _) => format!("{g}/5"),
                                            (None, Some(v)) => vote_label(&v).to_string(),
                                            (None, None) => "—".to_string(),
                                        }}</td>
                                        <td>{match r.right.clone() {
                                            Some(right) => format!("A (left): {} · B (right): {}", r.left, right),
                                            None => r.left.clone(),
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

pub(super) fn vote_label(v: &str) -> &'static str {
    match v {
        "a" => "A is better",
        "b" => "B is better",
        "tie" => "tie",
        "both_bad" => "both bad",
        _ => "?",
    }
}
