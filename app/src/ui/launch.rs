use super::data_rules::CostPreviewView;
use super::live_html::Live;
use super::targets::SloFields;
use super::widgets::{ErrorBox, FieldMessage, IfAllowed};
use crate::api::data_rules::launch_preview;
use crate::api::datasets::list_datasets;
use crate::api::endpoints::list_endpoints;
use crate::api::runs::LaunchRun;
use crate::api::types::{DatasetView, EndpointView};
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::spec::RunKind;
use crate::domain::spend::CostPreview;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Rendered on the server only. The form is posted by the `Enhance` island (launched, the
/// browser goes to the run's page, a sweep's, or the runs list for several); it is `data-live`:
/// as its fields change they become the page's query, and the models of the endpoint chosen and
/// the cost preview (`Live` parts) are worked out here again.
#[component]
pub fn LaunchPage() -> impl IntoView {
    let query = use_query_map();
    // The form as typed (the page's query), over the defaults of a first visit.
    let typed = query.with_untracked(|q| {
        let v = |k: &str| q.get(&format!("form[{k}]"));
        let mut f = crate::domain::spec::LaunchForm {
            endpoint_id: v("endpoint_id").unwrap_or_default(),
            dataset_id: v("dataset_id").unwrap_or_default(),
            model: v("model").unwrap_or_default(),
            requests: v("requests").unwrap_or_else(|| "200".into()),
            concurrency: v("concurrency").unwrap_or_else(|| "16".into()),
            warmup: v("warmup").unwrap_or_default(),
            max_tokens: v("max_tokens").unwrap_or_default(),
            sweep: v("sweep").unwrap_or_default(),
            ..Default::default()
        };
        f.name = v("name").unwrap_or_default();
        f
    });
    let choices = Resource::new(
        move || (),
        move |_| {
            let mut form = typed.clone();
            async move {
                let (endpoints, datasets) = (list_endpoints().await?, list_datasets().await?);
                // The endpoint chosen (else the first), its models (the model chosen if it has
                // it, else its first), the dataset chosen (else the first).
                let endpoint = endpoints
                    .iter()
                    .find(|e| e.id.to_string() == form.endpoint_id)
                    .or(endpoints.first())
                    .cloned();
                if let Some(e) = &endpoint {
                    form.endpoint_id = e.id.to_string();
                    if !e.models.iter().any(|m| m.id == form.model) {
                        form.model = e.models.first().map(|m| m.id.clone()).unwrap_or_default();
                    }
                }
                if !datasets.iter().any(|d| d.id.to_string() == form.dataset_id) {
                    form.dataset_id = datasets.first().map(|d| d.id.to_string()).unwrap_or_default();
                }
                let preview = launch_preview(form.clone()).await;
                Ok::<_, AppError>((endpoints, datasets, form, preview))
            }
        },
    );
    view! {
        <h1>"New run"</h1>
        <p class="lead">"Send a dataset's requests to an endpoint and measure speed. The run is queued and starts as soon as the worker is free."</p>
        <IfAllowed what=Permission::Run otherwise="Runners and admins launch runs">
            <Suspense fallback=|| view! { <p>"Loading endpoints and datasets…"</p> }>
                {move || Suspend::new(async move {
                    match choices.await {
                        Ok((endpoints, datasets, _, _)) if endpoints.is_empty() || datasets.is_empty() => {
                            view! { <p class="empty">"Add an endpoint and a dataset first (Endpoints and Datasets pages)."</p> }.into_any()
                        }
                        Ok((endpoints, datasets, form, preview)) => view! { <LaunchForm endpoints datasets form preview/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </IfAllowed>
    }
}

/// The launch form, filled in as typed (`form`), with the preview worked out from it.
#[component]
fn LaunchForm(
    endpoints: Vec<EndpointView>,
    datasets: Vec<DatasetView>,
    form: crate::domain::spec::LaunchForm,
    preview: Result<CostPreview, AppError>,
) -> impl IntoView {
    let error: Signal<Option<AppError>> = Signal::derive(|| None);
    let models = endpoints
        .iter()
        .find(|e| e.id.to_string() == form.endpoint_id)
        .map(|e| e.models.clone())
        .unwrap_or_default();
    let f = form.clone();
    view! {
        <ActionForm action={ServerAction::<LaunchRun>::new()} attr:class="launch" attr:aria-label="Launch a run" attr:data-live=""
            attr:data-then="go:/sweeps/{sweep_id}|/runs/{run_ids}|/" attr:data-busy="Launching…">
            <KindField error/>
            <div class="field">
                <label for="endpoint_id">"Endpoint"</label>
                <select id="endpoint_id" name="form[endpoint_id]">
                    {endpoints
                        .iter()
                        .map(|e| {
                            let label = if e.simulated { format!("{} (simulated) — {}", e.name, e.base_url) } else { format!("{} — {}", e.name, e.base_url) };
                            view! { <option value=e.id.to_string() selected=e.id.to_string() == f.endpoint_id>{label}</option> }
                        })
                        .collect_view()}
                </select>
                <FieldMessage error field="endpoint_id"/>
            </div>
            // The models of the endpoint chosen, read again when it changes.
            <Live id="launch-models" every_ms=0>
            <div class="field">
                <label for="model">"Model"</label>
                <select id="model" name="form[model]">
                    {models
                        .iter()
                        .map(|m| {
                            let label = match m.max_model_len {
                                Some(len) => format!("{} (max_model_len {len})", m.id),
                                None => m.id.clone(),
                            };
                            view! { <option value=m.id.clone() selected=m.id == f.model>{label}</option> }
                        })
                        .collect_view()}
                </select>
                <FieldMessage error field="model"/>
            </div>
            </Live>
            <div class="field">
                <label for="dataset_id">"Dataset"</label>
                <select id="dataset_id" name="form[dataset_id]">
                    {datasets
                        .iter()
                        .map(|d| view! { <option value=d.id.to_string() selected=d.id.to_string() == f.dataset_id>{format!("{} ({} requests)", d.name, d.item_count)}</option> })
                        .collect_view()}
                </select>
                <FieldMessage error field="dataset_id"/>
            </div>
            <div class="row">
                <div class="field">
                    <label for="requests">"Requests"</label>
                    <input id="requests" name="form[requests]" type="number" value=f.requests.clone()/>
                    <FieldMessage error field="requests"/>
                </div>
                <div class="field">
                    <label for="concurrency">"Concurrency"</label>
                    <input id="concurrency" name="form[concurrency]" type="number" value=f.concurrency.clone()/>
                    <FieldMessage error field="concurrency"/>
                </div>
                <div class="field">
                    <label for="max_tokens">"Max tokens"</label>
                    <input id="max_tokens" name="form[max_tokens]" type="number" placeholder="from the dataset" value=f.max_tokens.clone()/>
                    <FieldMessage error field="max_tokens"/>
                </div>
            </div>
            <Live id="launch-preview" every_ms=0><CostPreviewView form=form.clone() answer=preview/></Live>
            <div class="field">
                <label for="name">"Name (optional)"</label>
                <input id="name" name="form[name]" type="text" placeholder="defaults to the model" value=f.name.clone()/>
                <FieldMessage error field="name"/>
            </div>
            <SloFields error/>
            <details>
                <summary>"Load shape, sampling and engine settings"</summary>
                <div class="row">
                    <div class="field">
                        <label for="rate">"Request rate (req/s, Poisson)"</label>
                        <input id="rate" name="form[rate]" type="text" placeholder="none: as fast as concurrency allows"/>
                        <FieldMessage error field="rate"/>
                    </div>
                    <div class="field">
                        <label for="warmup">"Warm-up requests"</label>
                        <input id="warmup" name="form[warmup]" type="number" placeholder="0" value=f.warmup.clone()/>
                        <FieldMessage error field="warmup"/>
                    </div>
                    <div class="field">
                        <label for="sweep">"Concurrency sweep"</label>
                        <input id="sweep" name="form[sweep]" type="text" value=f.sweep.clone() placeholder="e.g. 1,4,16,64, or auto" title="auto (or auto:N): raise the concurrency until throughput stops rising or the targets break, then run N evenly spaced request rates up to what that load served"/>
                        <FieldMessage error field="sweep"/>
                    </div>
                </div>
                <div class="row">
                    <div class="field">
                        <label for="max_duration_s">"Max duration (s)"</label>
                        <input id="max_duration_s" name="form[max_duration_s]" type="number"/>
                        <FieldMessage error field="max_duration_s"/>
                    </div>
                    <div class="field">
                        <label for="timeout_s">"Request timeout (s)"</label>
                        <input id="timeout_s" name="form[timeout_s]" type="number" placeholder="600"/>
                        <FieldMessage error field="timeout_s"/>
                    </div>
                    <div class="field">
                        <label for="seed">"Seed"</label>
                        <input id="seed" name="form[seed]" type="number" placeholder="0"/>
                        <FieldMessage error field="seed"/>
                    </div>
                    <div class="field">
                        <label for="temperature">"Temperature"</label>
                        <input id="temperature" name="form[temperature]" type="text" placeholder="from the dataset"/>
                        <FieldMessage error field="temperature"/>
                    </div>
                </div>
                <fieldset>
                    <legend>"vLLM engine settings the server runs with (recorded with the run)"</legend>
                    <div class="row">
                        <div class="field">
                            <label for="gpu_memory_utilization">"gpu_memory_utilization"</label>
                            <input id="gpu_memory_utilization" name="form[gpu_memory_utilization]" type="text" placeholder="e.g. 0.9"/>
                            <FieldMessage error field="gpu_memory_utilization"/>
                        </div>
                        <div class="field">
                            <label for="max_model_len">"max_model_len"</label>
                            <input id="max_model_len" name="form[max_model_len]" type="number"/>
                            <FieldMessage error field="max_model_len"/>
                        </div>
                        <div class="field checkbox">
                            <input id="enforce_eager" name="form[enforce_eager]" type="checkbox" value="true"/>
                            <label for="enforce_eager">"enforce_eager"</label>
                        </div>
                    </div>
                    <div class="field">
                        <label for="engine_other">"Other engine flags"</label>
                        <input id="engine_other" name="form[engine_other]" type="text" placeholder="e.g. --enable-prefix-caching"/>
                    </div>
                </fieldset>
                <div class="field">
                    <label for="notes">"Notes"</label>
                    <textarea id="notes" name="form[notes]" rows="2"></textarea>
                </div>
            </details>
            <button type="submit" class="primary">"Launch run"</button>
        </ActionForm>
    }
}

/// What the run is: a server load test (the default) or one of the batch jobs. A plain select
/// and a static hint (nothing appears or disappears with the choice: the server refuses, with a
/// message beside each, the fields a batch job has no use for).
#[component]
fn KindField(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <div class="field">
            <label for="kind">"Kind"</label>
            <select id="kind" name="form[kind]" aria-describedby="kind-hint">
                {KINDS
                    .into_iter()
                    .map(|(kind, label)| view! { <option value=kind.as_str() selected=kind == RunKind::Server>{label}</option> })
                    .collect_view()}
            </select>
            <p class="note" id="kind-hint">
                "Server load test: requests under the load below, each timed to the token. \
                 Offline batch: one vllm run-batch job on a managed endpoint whose admin-written launch list runs vllm run-batch ... {input} ... {output}. \
                 Provider Batch API: one job on the provider's /v1/batches, priced at the sheet's batch price. \
                 Batch kinds have no per-request timing (throughput is over the whole job) and take no rate, warm-up, sweep or targets."
            </p>
            <FieldMessage error field="kind"/>
        </div>
    }
}

/// The choices of the Kind select, in order (the first is the default).
const KINDS: [(RunKind, &str); 3] = [
    (RunKind::Server, "Server load test"),
    (RunKind::Offline, "Offline batch (vllm run-batch on a managed endpoint)"),
    (RunKind::ProviderBatch, "Provider Batch API (/v1/batches)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_select_offers_every_kind_once_server_first_and_the_server_reads_its_values() {
        assert_eq!(KINDS[0].0, RunKind::Server);
        let kinds: Vec<RunKind> = KINDS.iter().map(|k| k.0).collect();
        assert_eq!(kinds, RunKind::ALL.to_vec());
        for (kind, _) in KINDS {
            assert_eq!(RunKind::parse(kind.as_str()), Some(kind));
        }
    }
}
