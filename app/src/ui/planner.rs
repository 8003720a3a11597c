//! The memory planner: recomputed in the browser as you type (the math is in `domain::planner`).

use super::widgets::{allowed, use_me, ErrorBox, FieldMessage, FormMessage, IfAllowed};
use crate::api::datasets::list_datasets;
use crate::api::endpoints::list_endpoints;
use crate::api::planning::{list_models, AddModel, AddTest};
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::models::{ModelEntry, Quant};
use crate::domain::planner::{as_typed, check_settings, command, plan, recommend, whole, KvDtype, PlanInput, GIB};
use leptos::prelude::*;

/// Rendered on the server; the planner itself is an island (`PlannerForm`: it recomputes as you
/// type), and the `Enhance` island posts the model form.
#[component]
pub fn PlannerPage() -> impl IntoView {
    let data = Resource::new(
        || (),
        |_| async move {
            let models = list_models().await?;
            let endpoints: Vec<(i64, String)> = list_endpoints()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.id, e.name))
                .collect();
            let datasets: Vec<(i64, String)> = list_datasets()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect();
            Ok::<_, AppError>((models, endpoints, datasets))
        },
    );
    let can_run = allowed(use_me(), Permission::Run);
    view! {
        <h1>"GPU memory planner"</h1>
        <p class="lead">"Will a model fit the card, with how much KV cache, and which vLLM settings make it fit? Estimates follow vLLM's own accounting; every constant and its source is in the code (domain/planner.rs), calibrated on the seed's measured Gemma 3 4B start-up. Managed runs store what vLLM reports beside the plan."</p>
        <Suspense fallback=|| view! { <p>"Loading models…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((m, endpoints, datasets)) if !m.is_empty() => view! { <PlannerForm models=m endpoints datasets can_run/> }.into_any(),
                    Ok(_) => view! { <p class="empty">"No models: paste a config.json below."</p> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <IfAllowed what=Permission::Run>
        <h2>"Add a model from its config.json"</h2>
        <ActionForm action={ServerAction::<AddModel>::new()} attr:aria-label="Add a model" attr:data-then="reload" attr:data-ok="Model added: choose it above.">
            <div class="row">
                <div class="field"><label for="m-name">"Model name"</label><input id="m-name" name="name" type="text" placeholder="org/model"/></div>
                <div class="field">
                    <label for="m-quant">"Weights"</label>
                    <select id="m-quant" name="quant">
                        {Quant::ALL.into_iter().map(|q| view! { <option value=serde_json::to_value(q).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()>{q.label()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field"><label for="m-gb">"Weights on disk, GB (optional)"</label><input id="m-gb" name="weights_gb" type="text"/></div>
            </div>
            <div class="field"><label for="m-config">"config.json"</label><textarea id="m-config" name="config" rows="6"></textarea></div>
            <button type="submit" class="primary">"Add model"</button>
        </ActionForm>
        </IfAllowed>
    }
}

/// The planner, recomputed in the browser as you type (the math is in `domain::planner`), and the
/// form that plans a test from it (runners and admins: `can_run`).
#[island]
fn PlannerForm(models: Vec<ModelEntry>, endpoints: Vec<(i64, String)>, datasets: Vec<(i64, String)>, can_run: bool) -> impl IntoView {
    let models = StoredValue::new(models);
    let model_ix = RwSignal::new(0usize);
    let gpu_name = RwSignal::new("RTX 4080 16 GB".to_string());
    let gpu_gib = RwSignal::new(16.0f64);
    let util = RwSignal::new(0.9f64);
    // As typed (a whole number from 1 is planned; -5 or 2.5 is refused as typed).
    let max_len_typed = RwSignal::new(4096f64);
    let seqs_typed = RwSignal::new(256f64);
    let max_len = Signal::derive(move || whole(max_len_typed.get(), u64::MAX as f64) as u64);
    let seqs = Signal::derive(move || whole(seqs_typed.get(), f64::from(u32::MAX)) as u32);
    let eager = RwSignal::new(false);
    let kv_fp8 = RwSignal::new(false);
    let input = move || PlanInput {
        gpu_name: gpu_name.get(),
        gpu_memory_gib: gpu_gib.get(),
        model: models.with_value(|m| m.get(model_ix.get()).cloned().unwrap_or_else(|| m[0].clone())),
        kv_dtype: if kv_fp8.get() { KvDtype::Fp8 } else { KvDtype::Auto },
        max_model_len: max_len.get(),
        max_num_seqs: seqs.get(),
        max_num_batched_tokens: None,
        enforce_eager: eager.get(),
        gpu_memory_utilization: util.get(),
    };
    // A field emptied or not a number is planned as nothing (refused at the field), never as the
    // number it held before.
    let num = |s: String| Some(s.trim().parse::<f64>().unwrap_or(f64::NAN));
    let add_test = ServerAction::<AddTest>::new();
    let test_error: Signal<Option<AppError>> = Signal::derive(move || add_test.value().get().and_then(Result::err));
    view! {
        <div class="row controls">
            <div class="field">
                <label for="p-model">"Model"</label>
                <select id="p-model" on:change=move |ev| model_ix.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {models.with_value(|m| m.iter().enumerate().map(|(i, m)| view! { <option value=i.to_string()>{format!("{} ({})", m.name, m.quant.label())}</option> }).collect_view())}
                </select>
            </div>
            <div class="field"><label for="p-gpu">"GPU"</label><input id="p-gpu" type="text" prop:value=move || gpu_name.get() on:input=move |ev| gpu_name.set(event_target_value(&ev))/></div>
            <div class="field"><label for="p-mem">"GPU memory (GiB)"</label><input id="p-mem" type="number" step="any" value="16" aria-describedby="gpu_memory_gib-error" on:input=move |ev| { if let Some(v) = num(event_target_value(&ev)) { gpu_gib.set(v) } }/><SettingError input field="gpu_memory_gib"/></div>
        </div>
        <div class="row controls">
            <div class="field"><label for="p-util">"gpu_memory_utilization"</label><input id="p-util" type="number" step="0.01" value="0.9" aria-describedby="gpu_memory_utilization-error" on:input=move |ev| { if let Some(v) = num(event_target_value(&ev)) { util.set(v) } }/><SettingError input field="gpu_memory_utilization"/></div>
            // Whole numbers as typed: 0 or less is shown as refused, never quietly raised to 1.
            <div class="field"><label for="p-len">"max_model_len"</label><input id="p-len" type="number" value="4096" aria-describedby="max_model_len-error" on:input=move |ev| { if let Some(v) = num(event_target_value(&ev)) { max_len_typed.set(v) } }/><SettingError input field="max_model_len" typed=max_len_typed/></div>
            <div class="field"><label for="p-seqs">"max_num_seqs"</label><input id="p-seqs" type="number" value="256" aria-describedby="max_num_seqs-error" on:input=move |ev| { if let Some(v) = num(event_target_value(&ev)) { seqs_typed.set(v) } }/><SettingError input field="max_num_seqs" typed=seqs_typed/></div>
            <div class="field checkbox"><input id="p-eager" type="checkbox" on:change=move |ev| eager.set(event_target_checked(&ev))/><label for="p-eager">"enforce_eager"</label></div>
            <div class="field checkbox"><input id="p-fp8" type="checkbox" on:change=move |ev| kv_fp8.set(event_target_checked(&ev))/><label for="p-fp8">"fp8 KV cache"</label></div>
        </div>
        {move || {
            let i = input();
            if !check_settings(&i).is_empty() {
                return view! {
                    <section aria-labelledby="plan-title" class="plan">
                        <h2 id="plan-title">"Check the settings"</h2>
                        <p class="note">"Some settings are outside what vLLM accepts (see the fields above): nothing is planned from them."</p>
                    </section>
                }.into_any();
            }
            let p = plan(&i);
            let gib = |x: f64| format!("{x:.2} GiB");
            let model = i.model.clone();
            let rec = recommend(&i);
            view! {
                <section aria-labelledby="plan-title" class="plan">
                    <h2 id="plan-title">{if p.fits { "It fits" } else { "It does not fit" }}</h2>
                    {p.problems.iter().map(|m| view! { <p class="form-error" role="alert">{m.clone()}</p> }).collect_view()}
                    <table class="figures">
                        <tbody>
                            <tr><th scope="row">"Budget"</th><td class="num">{gib(p.budget_gib)}</td><td class="definition">"gpu_memory_utilization x GPU memory"</td></tr>
                            <tr><th scope="row">"Weights"</th><td class="num">{gib(p.weights_gib)}</td><td class="definition">{format!("{} parameters at {}{}", crate::domain::format::int(model.arch.params as f64), model.quant.label(), model.weights_gb.map(|g| format!(" (file size {g} GB)")).unwrap_or_default())}</td></tr>
                            <tr><th scope="row">"Activations (profiling peak)"</th><td class="num">{gib(p.activation_gib)}</td><td class="definition">"batched tokens x hidden x 2 B x 24, sampler logits, vision encoder for multimodal models"</td></tr>
                            <tr><th scope="row">"Non-torch memory"</th><td class="num">{gib(p.non_torch_gib)}</td><td class="definition">"CUDA context and library workspaces"</td></tr>
                            <tr><th scope="row">"CUDA graphs"</th><td class="num">{gib(p.cuda_graphs_gib)}</td><td class="definition">"0 with enforce_eager"</td></tr>
                            <tr><th scope="row">"KV cache"</th>
                                {if p.shortfall_gib > 0.0 {
                                    view! { <td class="num error">"none"</td><td class="definition">{format!("nothing is left: {} short of what the parts above need", gib(p.shortfall_gib))}</td> }.into_any()
                                } else {
                                    view! { <td class="num">{gib(p.kv_cache_gib)}</td><td class="definition">"what is left"</td> }.into_any()
                                }}
                            </tr>
                            <tr><th scope="row">"KV bytes per token"</th><td class="num">{crate::domain::format::int(p.kv_bytes_per_token)}</td><td class="definition">{format!("2 x {} layers x {} KV heads x {} head dim x {} B", model.arch.layers, model.arch.kv_heads, model.arch.head_dim, i.kv_dtype.bytes())}</td></tr>
                            <tr><th scope="row">"KV tokens"</th><td class="num">{crate::domain::format::int(p.kv_tokens as f64)}</td><td class="definition">"vLLM's \"GPU KV cache size\""</td></tr>
                            <tr><th scope="row">"Max concurrency at max_model_len"</th><td class="num">{format!("{:.2}x", p.max_concurrency)}</td><td class="definition">{format!("one sequence of {} tokens needs {}{}", i.max_model_len, gib(p.kv_bytes_per_sequence / GIB), model.arch.sliding_window.map(|w| format!(" (sliding window {w} on {} of {} layers)", model.arch.layers - model.arch.full_attention_layers, model.arch.layers)).unwrap_or_default())}</td></tr>
                        </tbody>
                    </table>
                    <h3>"Recommended"</h3>
                    {match rec {
                        Some((r, rp)) => view! {
                            <p>{format!("KV cache {}, {:.1} sequences of {} tokens at once.", gib(rp.kv_cache_gib), rp.max_concurrency, r.max_model_len)}</p>
                            <pre class="command">{command(&r)}</pre>
                            <input type="hidden" id="plan-json" value=serde_json::to_string(&r).unwrap_or_default()/>
                        }.into_any(),
                        None if p.weights_gib > i.gpu_memory_gib => view! { <p class="error">{format!("Nothing fits this card: the weights alone are {} over its memory. Choose a quantised variant or a bigger GPU.", gib(p.weights_gib - i.gpu_memory_gib))}</p> }.into_any(),
                        None => view! { <p class="error">"No setting the planner tries (eager mode, fewer sequences, utilisation 0.95, an fp8 KV cache, a shorter context) makes it fit this card. Choose a quantised variant or a bigger GPU."</p> }.into_any(),
                    }}
                    <p class="note">{format!("Model source: {}", model.source)}</p>
                </section>
            }.into_any()
        }}
        {(!can_run).then(|| view! { <p class="note role-note">"Runners and admins plan tests"</p> })}
        {can_run.then(|| view! {
        <h2>"Plan a test"</h2>
        <ActionForm action=add_test attr:aria-label="Plan a test">
            <FormMessage error=test_error fields=vec!["title", "requests", "concurrency", "serve_model", "plan"]/>
            <input type="hidden" name="form[plan]" prop:value=move || recommend(&input()).map(|(r, _)| serde_json::to_string(&r).unwrap_or_default()).unwrap_or_default()/>
            <input type="hidden" name="form[model_id]" prop:value=move || input().model.id.to_string()/>
            <div class="row">
                <div class="field"><label for="t-title">"Title"</label><input id="t-title" name="form[title]" type="text" placeholder="Gemma 3 12B QAT on the 4080"/><FieldMessage error=test_error field="title"/></div>
                <div class="field"><label for="t-serve">"Model name served"</label><input id="t-serve" name="form[serve_model]" type="text" prop:value=move || input().model.name/><FieldMessage error=test_error field="serve_model"/></div>
            </div>
            <div class="row">
                <div class="field"><label for="t-ep">"Endpoint"</label><select id="t-ep" name="form[endpoint_id]">{endpoints.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}</select></div>
                <div class="field"><label for="t-ds">"Dataset"</label><select id="t-ds" name="form[dataset_id]">{datasets.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}</select></div>
                <div class="field"><label for="t-req">"Requests"</label><input id="t-req" name="form[requests]" type="number" value="5000"/><FieldMessage error=test_error field="requests"/></div>
                <div class="field"><label for="t-conc">"Concurrency"</label><input id="t-conc" name="form[concurrency]" type="number" value="64"/><FieldMessage error=test_error field="concurrency"/></div>
            </div>
            <div class="field"><label for="t-exp">"Expected outcome"</label><input id="t-exp" name="form[expected]" type="text" placeholder="2-3x faster than Gemma, better than 1B"/></div>
            <button type="submit" class="primary">"Add to pending tests"</button>
            {move || add_test.value().get().and_then(Result::ok).map(|_| view! { <p class="ok" role="status">"Added. " <a href="/tests">"See pending tests"</a></p> })}
        </ActionForm>
        })}
    }
}

/// A planner setting vLLM would refuse, named beside its field with the range it takes.
#[component]
fn SettingError<F>(
    input: F,
    field: &'static str,
    /// The number as typed, for a whole-number field (planned as 0 when below 1).
    #[prop(optional)]
    typed: Option<RwSignal<f64>>,
) -> impl IntoView
where
    F: Fn() -> PlanInput + Send + Sync + 'static,
{
    move || {
        let errs = check_settings(&input());
        errs.for_field(field).map(|m| {
            let m = match typed {
                Some(t) => as_typed(m, t.get()),
                None => m.to_string(),
            };
            view! { <p class="field-error" id=format!("{field}-error") role="alert">{m}</p> }
        })
    }
}
