//! The memory planner: recomputed as you type (the math is in `domain::planner`). Rendered on the
//! server only: the settings are a `data-live` form whose fields are the page's query, and the
//! plan, each setting's refusal and the planned test's fields are `Live` parts the `Enhance`
//! island reads again as you type.

use super::live_html::Live;
use super::widgets::{ErrorBox, IfAllowed};
use crate::api::datasets::list_datasets;
use crate::api::endpoints::list_endpoints;
use crate::api::planning::{list_models, AddModel, AddTest};
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::models::{ModelEntry, Quant};
use crate::domain::planner::{as_typed, check_settings, command, plan, recommend, whole, KvDtype, PlanInput, GIB};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The planner's settings as typed (the page's query), with the defaults of a first visit.
#[derive(Clone, Debug)]
struct Typed {
    model: usize,
    gpu: String,
    mem: String,
    util: String,
    len: String,
    seqs: String,
    eager: bool,
    fp8: bool,
}

impl Typed {
    /// A field emptied or not a number is planned as nothing (refused at the field), never as
    /// the number it held before.
    fn num(s: &str) -> f64 {
        s.trim().parse::<f64>().unwrap_or(f64::NAN)
    }

    fn input(&self, models: &[ModelEntry]) -> PlanInput {
        PlanInput {
            gpu_name: self.gpu.clone(),
            gpu_memory_gib: Self::num(&self.mem),
            model: models.get(self.model).cloned().unwrap_or_else(|| models[0].clone()),
            kv_dtype: if self.fp8 { KvDtype::Fp8 } else { KvDtype::Auto },
            // Whole numbers as typed: 0 or less is shown as refused, never quietly raised to 1.
            max_model_len: whole(Self::num(&self.len), u64::MAX as f64) as u64,
            max_num_seqs: whole(Self::num(&self.seqs), f64::from(u32::MAX)) as u32,
            max_num_batched_tokens: None,
            enforce_eager: self.eager,
            gpu_memory_utilization: Self::num(&self.util),
        }
    }
}

#[component]
pub fn PlannerPage() -> impl IntoView {
    let query = use_query_map();
    let typed = query.with_untracked(|q| {
        let text = |k: &str, default: &str| q.get(k).unwrap_or_else(|| default.to_string());
        Typed {
            model: q.get("model").and_then(|m| m.parse().ok()).unwrap_or(0),
            gpu: text("gpu", "RTX 4080 16 GB"),
            mem: text("mem", "16"),
            util: text("util", "0.9"),
            len: text("len", "4096"),
            seqs: text("seqs", "256"),
            eager: q.get("eager").is_some(),
            fp8: q.get("fp8").is_some(),
        }
    });
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
    view! {
        <h1>"GPU memory planner"</h1>
        <p class="lead">"Will a model fit the card, with how much KV cache, and which vLLM settings make it fit? Estimates follow vLLM's own accounting; every constant and its source is in the code (domain/planner.rs), calibrated on the seed's measured Gemma 3 4B start-up. Managed runs store what vLLM reports beside the plan."</p>
        <Suspense fallback=|| view! { <p>"Loading models…"</p> }>
            {move || {
                let typed = typed.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok((m, endpoints, datasets)) if !m.is_empty() => view! { <Planner models=m endpoints datasets typed/> }.into_any(),
                        Ok(_) => view! { <p class="empty">"No models: paste a config.json below."</p> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })
            }}
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

/// The settings, the plan from them, and the form that plans a test from it.
#[component]
fn Planner(models: Vec<ModelEntry>, endpoints: Vec<(i64, String)>, datasets: Vec<(i64, String)>, typed: Typed) -> impl IntoView {
    let i = typed.input(&models);
    let errs = check_settings(&i);
    // A setting vLLM would refuse, named beside its field with the range it takes (a whole
    // number quoted as typed, not as the 0 it is planned as).
    let refusal = |field: &'static str, as_typed_text: Option<&str>| {
        let m = errs.for_field(field).map(|m| match as_typed_text {
            Some(t) => as_typed(m, Typed::num(t)),
            None => m.to_string(),
        });
        view! {
            <Live id=format!("err-{field}") every_ms=0>
                {m.map(|m| view! { <p class="field-error" id=format!("{field}-error") role="alert">{m}</p> })}
            </Live>
        }
    };
    let result = if !errs.is_empty() {
        view! {
            <section aria-labelledby="plan-title" class="plan">
                <h2 id="plan-title">"Check the settings"</h2>
                <p class="note">"Some settings are outside what vLLM accepts (see the fields above): nothing is planned from them."</p>
            </section>
        }
        .into_any()
    } else {
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
                    }.into_any(),
                    None if p.weights_gib > i.gpu_memory_gib => view! { <p class="error">{format!("Nothing fits this card: the weights alone are {} over its memory. Choose a quantised variant or a bigger GPU.", gib(p.weights_gib - i.gpu_memory_gib))}</p> }.into_any(),
                    None => view! { <p class="error">"No setting the planner tries (eager mode, fewer sequences, utilisation 0.95, an fp8 KV cache, a shorter context) makes it fit this card. Choose a quantised variant or a bigger GPU."</p> }.into_any(),
                }}
                <p class="note">{format!("Model source: {}", model.source)}</p>
            </section>
        }
        .into_any()
    };
    let plan_json = recommend(&i)
        .map(|(r, _)| serde_json::to_string(&r).unwrap_or_default())
        .unwrap_or_default();
    let model_id = i.model.id.to_string();
    let serve_model = i.model.name.clone();
    let t = typed.clone();
    view! {
        <form method="get" action="/planner" data-live="" aria-label="Settings to plan">
            <div class="row controls">
                <div class="field">
                    <label for="p-model">"Model"</label>
                    <select id="p-model" name="model">
                        {models.iter().enumerate().map(|(n, m)| view! { <option value=n.to_string() selected=n == t.model>{format!("{} ({})", m.name, m.quant.label())}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field"><label for="p-gpu">"GPU"</label><input id="p-gpu" name="gpu" type="text" value=t.gpu.clone()/></div>
                <div class="field"><label for="p-mem">"GPU memory (GiB)"</label><input id="p-mem" name="mem" type="number" step="any" value=t.mem.clone() aria-describedby="gpu_memory_gib-error"/>{refusal("gpu_memory_gib", None)}</div>
            </div>
            <div class="row controls">
                <div class="field"><label for="p-util">"gpu_memory_utilization"</label><input id="p-util" name="util" type="number" step="0.01" value=t.util.clone() aria-describedby="gpu_memory_utilization-error"/>{refusal("gpu_memory_utilization", None)}</div>
                <div class="field"><label for="p-len">"max_model_len"</label><input id="p-len" name="len" type="number" value=t.len.clone() aria-describedby="max_model_len-error"/>{refusal("max_model_len", Some(&t.len))}</div>
                <div class="field"><label for="p-seqs">"max_num_seqs"</label><input id="p-seqs" name="seqs" type="number" value=t.seqs.clone() aria-describedby="max_num_seqs-error"/>{refusal("max_num_seqs", Some(&t.seqs))}</div>
                <div class="field checkbox"><input id="p-eager" name="eager" type="checkbox" value="1" checked=t.eager/><label for="p-eager">"enforce_eager"</label></div>
                <div class="field checkbox"><input id="p-fp8" name="fp8" type="checkbox" value="1" checked=t.fp8/><label for="p-fp8">"fp8 KV cache"</label></div>
                <button type="submit">"Plan"</button>
            </div>
        </form>
        <Live id="plan" every_ms=0>{result}</Live>
        <IfAllowed what=Permission::Run otherwise="Runners and admins plan tests">
        <h2>"Plan a test"</h2>
        <p id="test-added" class="ok" role="status" hidden>"Added. " <a href="/tests">"See pending tests"</a></p>
        <ActionForm action={ServerAction::<AddTest>::new()} attr:aria-label="Plan a test" attr:data-show="test-added">
            <div class="row">
                <div class="field"><label for="t-title">"Title"</label><input id="t-title" name="form[title]" type="text" placeholder="Gemma 3 12B QAT on the 4080"/></div>
                // The plan and the model follow the settings above (read again with the plan).
                <Live id="plan-fields" every_ms=0>
                    <input type="hidden" name="form[plan]" data-field="plan" value=plan_json.clone()/>
                    <input type="hidden" name="form[model_id]" value=model_id.clone()/>
                    <div class="field"><label for="t-serve">"Model name served"</label><input id="t-serve" name="form[serve_model]" type="text" value=serve_model.clone()/></div>
                </Live>
            </div>
            <div class="row">
                <div class="field"><label for="t-ep">"Endpoint"</label><select id="t-ep" name="form[endpoint_id]">{endpoints.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}</select></div>
                <div class="field"><label for="t-ds">"Dataset"</label><select id="t-ds" name="form[dataset_id]">{datasets.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}</select></div>
                <div class="field"><label for="t-req">"Requests"</label><input id="t-req" name="form[requests]" type="number" value="5000"/></div>
                <div class="field"><label for="t-conc">"Concurrency"</label><input id="t-conc" name="form[concurrency]" type="number" value="64"/></div>
            </div>
            <div class="field"><label for="t-exp">"Expected outcome"</label><input id="t-exp" name="form[expected]" type="text" placeholder="2-3x faster than Gemma, better than 1B"/></div>
            <button type="submit" class="primary">"Add to pending tests"</button>
        </ActionForm>
        </IfAllowed>
    }
}
