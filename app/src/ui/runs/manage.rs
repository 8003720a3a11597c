//! Rename and delete, for runs, datasets, endpoints and grading queues. A row's buttons (plain
//! HTML, rendered on the server) say what is to change; one panel, an island outside the
//! (live-refreshed) table, asks for the new name, or shows what goes with a deletion (and that it
//! goes to the trash, for how long) and waits for the confirmation; then the page's `Live` parts
//! are read again. The server checks who may, and moves all or nothing.

use crate::api::runs::Removal;
use crate::api::AppError;
use crate::ui::widgets::ErrorBox;
use leptos::prelude::*;

/// What a row's buttons act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Run(i64),
    Dataset(i64),
    Endpoint(i64),
    Queue(i64),
}

impl Target {
    /// As a row's button carries it: `run:3`.
    pub fn key(self) -> String {
        let id = match self {
            Target::Run(id) | Target::Dataset(id) | Target::Endpoint(id) | Target::Queue(id) => id,
        };
        format!("{}:{id}", self.noun())
    }

    /// Read back from [`Target::key`].
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn parse(key: &str) -> Option<Target> {
        let (noun, id) = key.split_once(':')?;
        let id = id.parse().ok()?;
        Some(match noun {
            "run" => Target::Run(id),
            "dataset" => Target::Dataset(id),
            "endpoint" => Target::Endpoint(id),
            "queue" => Target::Queue(id),
            _ => return None,
        })
    }

    fn noun(self) -> &'static str {
        match self {
            Target::Run(_) => "run",
            Target::Dataset(_) => "dataset",
            Target::Endpoint(_) => "endpoint",
            Target::Queue(_) => "queue",
        }
    }
}

async fn rename(target: Target, name: String) -> Result<(), AppError> {
    match target {
        Target::Run(id) => crate::api::runs::rename_run(id, name).await,
        Target::Dataset(id) => crate::api::datasets::rename_dataset(id, name).await,
        Target::Endpoint(id) => crate::api::endpoints::rename_endpoint(id, name).await,
        Target::Queue(id) => crate::api::grading::rename_queue(id, name).await,
    }
}

async fn delete(target: Target, dry_run: bool) -> Result<Removal, AppError> {
    match target {
        Target::Run(id) => crate::api::runs::delete_run(id, dry_run).await,
        Target::Dataset(id) => crate::api::datasets::delete_dataset(id, dry_run).await,
        Target::Endpoint(id) => crate::api::endpoints::delete_endpoint(id, dry_run).await,
        Target::Queue(id) => crate::api::grading::delete_queue(id, dry_run).await,
    }
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Asked {
    Rename,
    Delete,
}

/// The change a row asked for, waiting in the panel.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    target: Target,
    /// How people name it: "run #3 'gemma'".
    label: String,
    name: String,
    asked: Asked,
}

/// The panel's state.
#[derive(Clone, Copy)]
struct Manage {
    pending: RwSignal<Option<Pending>>,
    /// What the last change did ("Deleted run #3 'gemma'.").
    done: RwSignal<Option<String>>,
    preview: Action<Target, Result<Removal, AppError>>,
    confirm: Action<Target, Result<Removal, AppError>>,
    renamed: Action<(Target, String), Result<(), AppError>>,
}

impl Manage {
    fn new() -> Self {
        let m = Manage {
            pending: RwSignal::new(None),
            done: RwSignal::new(None),
            preview: Action::new(|t: &Target| delete(*t, true)),
            confirm: Action::new(|t: &Target| delete(*t, false)),
            renamed: Action::new(|(t, name): &(Target, String)| rename(*t, name.clone())),
        };
        Effect::new(move |_| {
            if let Some(Ok(r)) = m.confirm.value().get() {
                m.finish(format!("Deleted {}. {}", r.what, r.fate()));
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(())) = m.renamed.value().get() {
                let label = m.pending.get_untracked().map(|p| p.label).unwrap_or_default();
                m.finish(format!("Renamed {label}."));
            }
        });
        m
    }

    fn finish(self, message: String) {
        self.pending.set(None);
        // A page whose list is a `Live` part reads it again; another loads afresh.
        if crate::ui::enhance::has_live_parts() {
            self.done.set(Some(message));
            crate::ui::enhance::refresh_live_parts();
        } else {
            crate::ui::enhance::reload_with(Some(message));
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn ask(self, target: Target, label: String, name: String, asked: Asked) {
        self.done.set(None);
        self.preview.value().set(None);
        self.confirm.value().set(None);
        self.renamed.value().set(None);
        if asked == Asked::Delete {
            self.preview.dispatch(target);
        }
        self.pending.set(Some(Pending {
            target,
            label,
            name,
            asked,
        }));
    }

    fn close(self) {
        self.pending.set(None);
    }
}

/// A row's "Rename" and "Delete…" buttons (`label` names the row for screen readers and the
/// panel: "run #3 'gemma'"). Plain HTML: the page's [`Panel`] answers their clicks.
#[component]
pub fn Buttons(target: Target, label: String, name: String) -> impl IntoView {
    let key = target.key();
    view! {
        <span class="manage">
            <button type="button" class="small" aria-label=format!("Rename {label}")
                data-manage="rename" data-target=key.clone() data-label=label.clone() data-name=name.clone()>"Rename"</button>
            <button type="button" class="small danger" aria-label=format!("Delete {label}")
                data-manage="delete" data-target=key data-label=label.clone() data-name=name>"Delete…"</button>
        </span>
    }
}

/// The rename field or the deletion's confirmation, over the page, for the row button last
/// clicked anywhere on the page; and what the last change did.
#[island]
pub fn Panel() -> impl IntoView {
    let manage = Manage::new();
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::click, move |ev| {
            #[cfg(feature = "hydrate")]
            {
                use wasm_bindgen::JsCast;
                let Some(button) = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .and_then(|el| el.closest("[data-manage]").ok().flatten())
                else {
                    return;
                };
                let attr = |name: &str| button.get_attribute(name).unwrap_or_default();
                let Some(target) = Target::parse(&attr("data-target")) else {
                    return;
                };
                let asked = if attr("data-manage") == "rename" {
                    Asked::Rename
                } else {
                    Asked::Delete
                };
                manage.ask(target, attr("data-label"), attr("data-name"), asked);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = ev;
        });
        on_cleanup(move || handle.remove());
    });
    view! {
        {move || manage.done.get().map(|m| view! { <p class="ok" role="status">{m}</p> })}
        {move || manage.pending.get().map(|p| match p.asked {
            Asked::Rename => view! { <RenameBox manage p/> }.into_any(),
            Asked::Delete => view! { <DeleteBox manage p/> }.into_any(),
        })}
    }
}

#[component]
fn RenameBox(manage: Manage, p: Pending) -> impl IntoView {
    let name = RwSignal::new(p.name.clone());
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
            el.select();
        }
    });
    let target = p.target;
    let save = move || {
        manage.renamed.dispatch((target, name.get_untracked()));
    };
    let title = format!("Rename {}", p.label);
    let aria = title.clone();
    view! {
        <div class="manage-panel" role="dialog" aria-label=aria
            on:keydown=move |ev| if ev.key() == "Escape" { manage.close() }>
            <h2>{title}</h2>
            <div class="field">
                <label for="new-name">{format!("New name of the {}", target.noun())}</label>
                <input id="new-name" type="text" node_ref=input prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                    on:keydown=move |ev| if ev.key() == "Enter" { ev.prevent_default(); save() }/>
                {move || manage.renamed.value().get().and_then(Result::err).map(|e| {
                    let text = e.for_field("name").unwrap_or_else(|| e.to_string());
                    view! { <p class="field-error" id="name-error" role="alert">{text}</p> }
                })}
            </div>
            <button type="button" class="primary" disabled=move || manage.renamed.pending().get() on:click=move |_| save()>"Save name"</button>
            " "
            <button type="button" on:click=move |_| manage.close()>"Cancel"</button>
        </div>
    }
}

#[component]
fn DeleteBox(manage: Manage, p: Pending) -> impl IntoView {
    let target = p.target;
    let title = format!("Delete {}?", p.label);
    let aria = title.clone();
    let keep = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(el) = keep.get() {
            let _ = el.focus();
        }
    });
    view! {
        <div class="manage-panel" role="alertdialog" aria-label=aria
            on:keydown=move |ev| if ev.key() == "Escape" { manage.close() }>
            <h2>{title}</h2>
            {move || match manage.preview.value().get() {
                None => view! { <p class="note">"Working out what goes with it…"</p> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(r)) => view! {
                    <p class="consequences">{r.consequences()} " " {r.fate()}</p>
                    <button type="button" class="danger" disabled=move || manage.confirm.pending().get()
                        on:click=move |_| { manage.confirm.dispatch(target); }>{format!("Delete the {}", target.noun())}</button>
                    " "
                }.into_any(),
            }}
            {move || manage.confirm.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
            <button type="button" node_ref=keep on:click=move |_| manage.close()>"Keep it"</button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn a_row_button_names_its_target_and_reads_back() {
        for t in [Target::Run(3), Target::Dataset(12), Target::Endpoint(1), Target::Queue(40)] {
            assert_eq!(Target::parse(&t.key()), Some(t));
        }
        assert_eq!(Target::Run(3).key(), "run:3");
        assert_eq!(Target::parse("run:x"), None);
        assert_eq!(Target::parse("user:3"), None);
        assert_eq!(Target::parse("3"), None);
    }
}
