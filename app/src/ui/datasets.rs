use super::widgets::{ErrorBox, IfAllowed, QueryFieldError};
use crate::api::datasets::list_datasets;
use crate::domain::accounts::Permission;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn DatasetsPage() -> impl IntoView {
    let datasets = Resource::new(|| (), |_| list_datasets());
    let query = use_query_map();
    let uploaded = move || query.read().get("uploaded");
    view! {
        <h1>"Datasets"</h1>
        <p class="lead">
            "Requests in the OpenAI Batch input format: one JSON object per line, "
            <code>"{\"custom_id\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {...}}"</code> "."
        </p>
        {move || uploaded().map(|id| view! { <p class="ok" role="status">{format!("Dataset {id} stored.")}</p> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match datasets.await {
                    Ok(ds) => view! {
                        <table class="datasets">
                            <thead>
                                <tr><th>"#"</th><th>"Name"</th><th class="num">"Requests"</th><th>"Answer schema"</th><th>"Source"</th><th>"Added"</th></tr>
                            </thead>
                            <tbody>
                                {ds.into_iter().map(|d| view! {
                                    <tr>
                                        <td>{d.id}</td>
                                        <td>{d.name.clone()} <br/> <small>{d.description.clone()}</small></td>
                                        <td class="num">{d.item_count}</td>
                                        <td>{if d.has_schema { "yes" } else { "—" }}</td>
                                        <td>{d.source.clone()}</td>
                                        <td>{d.created_at.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <IfAllowed what=Permission::Run otherwise="Runners and admins upload datasets">
        <h2>"Upload a dataset"</h2>
        <form class="upload" method="post" action="/datasets/upload" enctype="multipart/form-data" aria-label="Upload a dataset">
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
            <button type="submit" class="primary">"Upload"</button>
        </form>
        </IfAllowed>
    }
}
