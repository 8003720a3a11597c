//! The Trash page (admins): what deletes moved there, who deleted it and when, when it goes for
//! good, and what goes with it; Restore, or "Delete forever" after a confirmation.

use super::widgets::{ErrorBox, IfAllowed};
use crate::api::trash::{list_trash, purge_trashed, restore_trashed, TrashKind, TrashedItem};
use crate::api::types::Removal;
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::clock::readable;
use leptos::prelude::*;

/// The item waiting for "Delete forever" to be confirmed.
#[derive(Clone, Debug, PartialEq)]
struct Asked {
    kind: TrashKind,
    id: i64,
    label: String,
    goes: String,
}

#[component]
pub fn TrashPage() -> impl IntoView {
    let restore = Action::new(|(k, id): &(TrashKind, i64)| restore_trashed(*k, *id));
    let purge = Action::new(|(k, id): &(TrashKind, i64)| purge_trashed(*k, *id, false));
    let asked: RwSignal<Option<Asked>> = RwSignal::new(None);
    let items = Resource::new(move || (restore.version().get(), purge.version().get()), |_| list_trash());
    // What the last button did ("Restored run #3 'x'."), or why it could not.
    let last: RwSignal<Option<Result<String, AppError>>> = RwSignal::new(None);
    Effect::new(move |_| {
        if let Some(r) = restore.value().get() {
            last.set(Some(r.map(|r| format!("Restored {}.", r.what))));
        }
    });
    Effect::new(move |_| {
        if let Some(r) = purge.value().get() {
            asked.set(None);
            last.set(Some(r.map(|r| format!("Deleted {} for good.", r.what))));
        }
    });
    let outcome = move || {
        last.get().map(|r| match r {
            Ok(m) => view! { <p class="ok" role="status">{m}</p> }.into_any(),
            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
        })
    };
    view! {
        <h1>"Trash"</h1>
        <IfAllowed what=Permission::Admin otherwise="Only admins see and empty the trash">
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
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
                                view! { <TrashTable items=list.items restore asked/> }.into_any()
                            }}
                        }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Transition>
            {outcome}
            {move || asked.get().map(|a| view! { <ConfirmPurge a purge asked/> })}
        </IfAllowed>
    }
}

#[component]
fn TrashTable(
    items: Vec<TrashedItem>,
    restore: Action<(TrashKind, i64), Result<Removal, AppError>>,
    asked: RwSignal<Option<Asked>>,
) -> impl IntoView {
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
                    let pending = Asked { kind, id, label: t.label.clone(), goes: goes.clone() };
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
                                <button type="button" class="small" aria-label=format!("Restore {}", t.label)
                                    disabled=move || restore.pending().get()
                                    on:click=move |_| { restore.dispatch((kind, id)); }>"Restore"</button>
                                " "
                                <button type="button" class="small danger" aria-label=format!("Delete {} forever", t.label)
                                    on:click=move |_| asked.set(Some(pending.clone()))>"Delete forever…"</button>
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

#[component]
fn ConfirmPurge(a: Asked, purge: Action<(TrashKind, i64), Result<Removal, AppError>>, asked: RwSignal<Option<Asked>>) -> impl IntoView {
    let title = format!("Delete {} forever?", a.label);
    let aria = title.clone();
    let keep = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(el) = keep.get() {
            let _ = el.focus();
        }
    });
    let (kind, id) = (a.kind, a.id);
    view! {
        <div class="manage-panel" role="alertdialog" aria-label=aria
            on:keydown=move |ev| if ev.key() == "Escape" { asked.set(None) }>
            <h2>{title}</h2>
            <p class="consequences">{format!("With it go {}. This cannot be undone.", a.goes)}</p>
            <button type="button" class="danger" disabled=move || purge.pending().get()
                on:click=move |_| { purge.dispatch((kind, id)); }>"Delete forever"</button>
            " "
            <button type="button" node_ref=keep on:click=move |_| asked.set(None)>"Keep it"</button>
        </div>
    }
}
