use super::widgets::{ErrorBox, FieldMessage, FormMessage};
use crate::api::endpoints::{list_endpoints, AddEndpoint};
use crate::api::AppError;
use leptos::prelude::*;

#[component]
pub fn EndpointsPage() -> impl IntoView {
    let add = ServerAction::<AddEndpoint>::new();
    let endpoints = Resource::new(move || add.version().get(), |_| list_endpoints());
    let error: Signal<Option<AppError>> = Signal::derive(move || add.value().get().and_then(Result::err));
    view! {
        <h1>"Endpoints"</h1>
        <p class="lead">
            "OpenAI-compatible servers to benchmark: vLLM on your GPU ("
            <code>"vllm serve MODEL --port 8000"</code>
            "), or Bakeoff's built-in simulator. Each is checked ("
            <code>"/health"</code> ", " <code>"/v1/models"</code> ") when added and before every run."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match endpoints.await {
                    Ok(eps) => view! {
                        <table class="endpoints">
                            <thead>
                                <tr><th>"Name"</th><th>"URL"</th><th>"Models (max_model_len)"</th><th>"Checked"</th><th>"Managed launch"</th></tr>
                            </thead>
                            <tbody>
                                {eps.into_iter().map(|e| view! {
                                    <tr>
                                        <td>{e.name.clone()} " " {e.simulated.then(|| view! { <span class="badge badge-simulated">"simulated"</span> })}</td>
                                        <td><code>{e.base_url.clone()}</code></td>
                                        <td>{e.models.iter().map(|m| format!("{} ({})", m.id, m.max_model_len.map(|l| l.to_string()).unwrap_or("?".into()))).collect::<Vec<_>>().join(", ")}</td>
                                        <td>{e.checked_at.clone().unwrap_or_default()}</td>
                                        <td><code class="small">{e.launch_template.clone().unwrap_or_default()}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
        <h2>"Add an endpoint"</h2>
        <ActionForm action=add attr:class="add-endpoint" attr:aria-label="Add an endpoint">
            <FormMessage error fields=vec!["name", "base_url", "launch_template"]/>
            <div class="field">
                <label for="ep-name">"Name"</label>
                <input id="ep-name" name="name" type="text" placeholder="e.g. RTX 4080 box"/>
                <FieldMessage error field="name"/>
            </div>
            <div class="field">
                <label for="ep-url">"Base URL"</label>
                <input id="ep-url" name="base_url" type="text" placeholder="http://gpu-box:8000"/>
                <FieldMessage error field="base_url"/>
            </div>
            <div class="field">
                <label for="ep-launch">"Launch command (optional: Bakeoff starts and stops the server for each run)"</label>
                <input id="ep-launch" name="launch_template" type="text" placeholder="vllm serve {model} --port {port} --gpu-memory-utilization {util} --max-model-len {max_model_len} --max-num-seqs {max_num_seqs} {eager}"/>
                <FieldMessage error field="launch_template"/>
            </div>
            <button type="submit" class="primary">"Check and add"</button>
            {move || add.value().get().and_then(Result::ok).map(|id| view! { <p class="ok" role="status">{format!("Endpoint {id} added.")}</p> })}
        </ActionForm>
    }
}
