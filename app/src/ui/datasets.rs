use super::data_rules::{internal_badge, InternalOnlyField, InternalOnlyToggle};
use super::runs::manage::{Buttons, Manage, Panel, Target};
use super::widgets::{allowed, use_me, ErrorBox, IfAllowed, QueryFieldError};
use crate::api::data_rules::SetDatasetInternalOnly;
use crate::api::datasets::list_datasets;
use crate::domain::accounts::Permission;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;
use std::sync::Arc;

#[component]
pub fn DatasetsPage() -> impl IntoView {
    let manage = Manage::new();
    let flag = ServerAction::<SetDatasetInternalOnly>::new();
    // Moves after each upload the page sends itself (the form posts in the background).
    let sent = RwSignal::new(0usize);
    let datasets = Resource::new(
        move || (manage.version.get(), sent.get(), flag.version().get()),
        |_| list_datasets(),
    );
    let query = use_query_map();
    let uploaded = move || query.read().get("uploaded");
    // Read inside the Suspend below once the user has loaded, the same on the server and in the
    // browser (a signal read there could differ between them and break hydration).
    let me = use_me();
    let uploading = RwSignal::new(false);
    // The upload could not be sent at all (the network, the server gone).
    let unsent: RwSignal<Option<Box<dyn std::error::Error + Send + Sync>>> = RwSignal::new(None);
    Effect::new(move |_| {
        if unsent.read().is_some() {
            uploading.set(false);
        }
    });
    view! {
        <h1>"Datasets"</h1>
        <p class="lead">
            "Requests in the OpenAI Batch input format: one JSON object per line, "
            <code>"{\"custom_id\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {...}}"</code> "."
        </p>
        {move || uploaded().map(|id| view! { <p class="ok" role="status">{format!("Dataset {id} stored.")}</p> })}
        <Panel manage/>
        {move || flag.value().get().and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let may_change = allowed(me, Permission::Run).await;
                match datasets.await {
                    Ok(ds) => view! {
                        <table class="datasets">
                            <thead>
                                <tr><th>"#"</th><th>"Name"</th><th class="num">"Requests"</th><th>"Answer schema"</th><th>"Source"</th><th>"Added"</th>
                                    {may_change.then(|| view! { <th><span class="sr-only">"Change"</span></th> })}</tr>
                            </thead>
                            <tbody>
                                {ds.into_iter().map(|d| {
                                    let label = format!("dataset '{}'", d.name);
                                    let name = d.name.clone();
                                    view! {
                                    <tr>
                                        <td>{d.id}</td>
                                        <td>{d.name.clone()} " " {internal_badge(d.internal_only)} <br/> <small>{d.description.clone()}</small></td>
                                        <td class="num">{d.item_count}</td>
                                        <td>{if d.has_schema { "yes" } else { "—" }}</td>
                                        <td>{d.source.clone()}</td>
                                        <td class="when">{d.created_at.clone()} {d.created_by.clone().map(|u| view! { <br/><small class="by">{format!("by {u}")}</small> })}</td>
                                        {may_change.then(|| view! {
                                            <td class="actions"><Buttons manage target=Target::Dataset(d.id) label=label.clone() name=name.clone()/>
                                                <InternalOnlyToggle id=d.id internal_only=d.internal_only action=flag/></td>
                                        })}
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
        <IfAllowed what=Permission::Run otherwise="Runners and admins upload datasets">
        <h2>"Upload a dataset"</h2>
        // Sent in the background once the page is interactive: a refused upload comes back to
        // this same page, so the name and the chosen file stay as they were, beside the error.
        // Without JavaScript it is a plain form post.
        <Form method="post" action="/datasets/upload" enctype="multipart/form-data".to_string() version=sent noscroll=true replace=true
            error=unsent
            on_form_data=Arc::new(move |_: &leptos::web_sys::FormData| uploading.set(true))
            on_response=Arc::new(move |_: &leptos::web_sys::Response| uploading.set(false))
            attr:class="upload" attr:aria-label="Upload a dataset">
            {move || unsent.read().as_ref().map(|e| view! { <p class="form-error" role="alert">{format!("The upload did not reach the server ({e}); try again.")}</p> })}
            <QueryFieldError field="form"/>
            <div class="field">
                <label for="ds-name">"Name"</label>
                <input id="ds-name" name="name" type="text" required/>
                <QueryFieldError field="name"/>
            </div>
            <div class="field">
                <label for="ds-description">"Description"</label>
                <input id="ds-description" name="description" type="text"/>
            </div>
            <div class="field">
                <label for="ds-schema">"Answer JSON Schema (optional)"</label>
                <textarea id="ds-schema" name="schema" rows="3" placeholder="{\"type\": \"object\", \"required\": [\"recommendation\"], ...}"></textarea>
                <QueryFieldError field="schema"/>
            </div>
            <div class="field">
                <label for="ds-rubric">"Grading rubric (optional)"</label>
                <textarea id="ds-rubric" name="rubric" rows="3" placeholder="{\"fields\": [{\"path\": \"recommendation\", \"label\": \"Recommendation\", \"scale\": [\"Yes\", \"No\"], \"ordered\": true}]}"></textarea>
                <QueryFieldError field="rubric"/>
            </div>
            <div class="field">
                <label for="ds-file">"OpenAI Batch JSONL file"</label>
                <input id="ds-file" name="file" type="file" accept=".jsonl,.json,.txt"/>
                <QueryFieldError field="file"/>
            </div>
            <InternalOnlyField/>
            <button type="submit" class="primary" disabled=move || uploading.get()>"Upload"</button>
            {move || uploading.get().then(|| view! { <span class="note" role="status">" Uploading and checking every line…"</span> })}
        </Form>
        </IfAllowed>
    }
}
