use super::widgets::{IfAllowed, QueryFieldError};
use crate::domain::accounts::Permission;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Import runs measured elsewhere (works without JavaScript: a plain multipart form).
#[component]
pub fn ImportPage() -> impl IntoView {
    let query = use_query_map();
    view! {
        <h1>"Import runs"</h1>
        <p class="lead">
            "Bring in runs measured elsewhere, marked imported with their provenance: the seed system's run summaries (.json), or an OpenAI Batch output file (.jsonl) with, optionally, its input file for the prompts. A bad file imports nothing."
        </p>
        {move || query.read().get("run").map(|id| view! { <p class="ok" role="status">"Imported as " <a href=format!("/runs/{id}")>{format!("run #{id}")}</a> "."</p> })}
        <IfAllowed what=Permission::Run otherwise="Runners and admins import runs">
        <form class="upload" method="post" action="/import/upload" enctype="multipart/form-data" aria-label="Import a run">
            <QueryFieldError field="form"/>
            <div class="field">
                <label for="imp-file">"Run summary (.json) or Batch output (.jsonl)"</label>
                <input id="imp-file" name="file" type="file" accept=".json,.jsonl"/>
                <QueryFieldError field="file"/>
            </div>
            <div class="field">
                <label for="imp-input">"Batch input file (.jsonl, optional)"</label>
                <input id="imp-input" name="input" type="file" accept=".jsonl"/>
                <QueryFieldError field="input"/>
            </div>
            <button type="submit" class="primary">"Import"</button>
        </form>
        </IfAllowed>
    }
}
