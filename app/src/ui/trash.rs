//! The Trash page (admins): what deletes moved there, who deleted it and when, when it goes for
//! good, and what goes with it; Restore, or "Delete forever" after a confirmation.

use super::widgets::{ErrorBox, IfAllowed};
use crate::api::trash::{list_trash, PurgeTrashed, RestoreTrashed, TrashedItem};
use crate::domain::accounts::Permission;
use crate::domain::clock::readable;
use leptos::prelude::*;

/// Rendered on the server only: Restore and "Delete forever" are forms the page's `Enhance`
/// island posts (the second after a confirmation that says what goes with it), then the page is
/// loaded again with what was done said above.
#[component]
pub fn TrashPage() -> impl IntoView {
    let items = Resource::new(|| (), |_| list_trash());
    view! {
        <h1>"Trash"</h1>
        <IfAllowed what=Permission::Admin otherwise="Only admins see and empty the trash">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match items.await {
                        Ok(list) => view! {
                            <p class="lead">{format!(
                                "Deleted runs, datasets, endpoints and grading queues stay here for {}, with everything stored for them, then go for good. Restore one to bring it back as it was.",
                                crate::domain::trash::days_label(list.days)
                            )}</p>
                            {if list.items.is_empty() {
                                view! { <p class="note">"The trash is empty."</p> }.into_any()
                            } else {
                                view! { <TrashTable items=list.items/> }.into_any()
                            }}
                        }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </IfAllowed>
    }
}

#[component]
fn TrashTable(items: Vec<TrashedItem>) -> impl IntoView {
    view! {
        <table class="trash">
            <thead>
                <tr><th>"Kind"</th><th>"Name"</th><th>"Deleted by"</th><th>"Deleted"</th><th>"Goes for good"</th><th>"What goes with it"</th>
                    <th><span class="sr-only">"Restore or delete"</span></th></tr>
            </thead>
            <tbody>
                {items.into_iter().map(|t| {
                    let (kind, id) = (t.kind, t.id);
                    let goes = goes_with(&t);
                    let hidden = move || view! {
                        <input type="hidden" name="kind" value=kind.word()/>
                        <input type="hidden" name="id" value=id.to_string()/>
                    };
                    let confirm = format!("With it go {goes}. This cannot be undone.");
                    let (restore_label, purge_label) = (format!("Restore {}", t.label), format!("Delete {} forever", t.label));
                    let title = format!("{purge_label}?");
                    view! {
                        <tr data-trash=format!("{kind}-{id}")>
                            <td>{kind.noun()}</td>
                            <td>{t.label.clone()}</td>
                            <td>{t.deleted_by.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{readable(t.deleted_at_s)}</td>
                            <td>{readable(t.purge_at_s)}</td>
                            <td class="small">{goes}</td>
                            <td class="actions">
                                {t.blocked.clone().map(|why| view! { <p class="note">{format!("Restore: {why}.")}</p> })}
                                <ActionForm action={ServerAction::<RestoreTrashed>::new()} attr:class="inline" attr:data-then="reload" attr:data-ok="Restored {what}.">
                                    {hidden()}
                                    <button type="submit" class="small" aria-label=restore_label>"Restore"</button>
                                </ActionForm>
                                " "
                                <ActionForm action={ServerAction::<PurgeTrashed>::new()} attr:class="inline" attr:data-confirm=confirm attr:data-confirm-title=title attr:data-then="reload" attr:data-ok="Deleted {what} for good.">
                                    {hidden()}
                                    <button type="submit" class="small danger" aria-label=purge_label>"Delete forever…"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "4 request records, 1 grade; kept without the link: 2 pending tests".
fn goes_with(t: &TrashedItem) -> String {
    let mut s = if t.with.is_empty() {
        "nothing else".to_string()
    } else {
        t.with.join(", ")
    };
    if !t.unlinked.is_empty() {
        s.push_str(&format!("; kept without the link: {}", t.unlinked.join(", ")));
    }
    s
}
