use super::data_rules::{internal_badge, InternalOnlyField, InternalOnlyToggle};
use super::live_html::Live;
use super::runs::manage::{Buttons, Panel, Target};
use super::widgets::{allowed, use_me, ErrorBox, IfAllowed, QueryFieldError};
use crate::api::data_rules::SetDatasetInternalOnly;
use crate::api::datasets::list_datasets;
use crate::api::types::DatasetView;
use crate::domain::accounts::Permission;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Rendered on the server only: the table is a `Live` part (read again after a change), its
/// buttons answered by the rename-and-delete `Panel` island; the upload is sent in the
/// background (`data-upload`), so a refusal leaves the form as it was.
#[component]
pub fn DatasetsPage() -> impl IntoView {
    let datasets = Resource::new(|| (), |_| list_datasets());
    let uploaded = use_query_map().read_untracked().get("uploaded");
    view! {
        <h1>"Datasets"</h1>
        <p class="lead">
            "Requests in the OpenAI Batch input format: one JSON object per line, "
            <code>"{\"custom_id\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {...}}"</code> "."
        </p>
        {uploaded.map(|id| view! { <p class="ok" role="status">{format!("Dataset {id} stored.")}</p> })}
        <Panel/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match datasets.await {
                    Ok(ds) => view! { <Live id="datasets" every_ms=0><DatasetsTable ds/></Live> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <IfAllowed what=Permission::Run otherwise="Runners and admins upload datasets">
        <h2>"Upload a dataset"</h2>
        // Sent in the background once the page is interactive (`data-upload`): a refused upload
        // leaves the name and the chosen file as they were, beside the error. Without
        // JavaScript it is a plain form post, refused back to this page with the error.
        <form method="post" action="/datasets/upload" enctype="multipart/form-data" class="upload" aria-label="Upload a dataset"
            data-upload="" data-busy=" Uploading and checking every line…">
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
            <button type="submit" class="primary">"Upload"</button>
        </form>
        </IfAllowed>
    }
}

#[component]
fn DatasetsTable(ds: Vec<DatasetView>) -> impl IntoView {
    let may_change = allowed(use_me(), Permission::Run);
    // The switch's form, posted by the page's `Enhance` island (its action is only its address
    // here, on the server).
    let flag = ServerAction::<SetDatasetInternalOnly>::new();
    view! {
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
                            <td class="actions"><Buttons target=Target::Dataset(d.id) label=label.clone() name=name.clone()/>
                                <InternalOnlyToggle id=d.id internal_only=d.internal_only action=flag/></td>
                        })}
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
}
