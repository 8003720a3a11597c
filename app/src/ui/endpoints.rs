mod access;

use super::data_rules::{spend_cell, SpendCapField, SpendCapForm};
use super::runs::manage::{Buttons, Panel, Target};
use super::widgets::{allowed, use_me, ErrorBox, FieldMessage, FormMessage, IfAllowed};
use crate::api::data_rules::SetSpendCap;
use crate::api::endpoints::command::{display, EXAMPLE};
use crate::api::endpoints::gpu::SetSharedGpu;
use crate::api::endpoints::{list_endpoints, AddEndpoint, SetEndpointAccess};
use crate::api::planning::SetLaunchTemplate;
use crate::api::types::EndpointView;
use crate::api::AppError;
use crate::domain::accounts::Permission;
use leptos::prelude::*;

/// Rendered on the server only: its forms are posted by the page's `Enhance` island, which
/// loads the page again after a change (with what changed said above), and leaves a refused form
/// as it was, with the reason at its field.
#[component]
pub fn EndpointsPage() -> impl IntoView {
    let add = ServerAction::<AddEndpoint>::new();
    let set = ServerAction::<SetLaunchTemplate>::new();
    let change = ServerAction::<SetEndpointAccess>::new();
    let cap = ServerAction::<SetSpendCap>::new();
    let shared = ServerAction::<SetSharedGpu>::new();
    let me = use_me();
    let endpoints = Resource::new(|| (), |_| list_endpoints());
    let sheets = access::price_sheets();
    let error: Signal<Option<AppError>> = Signal::derive(move || add.value().get().and_then(Result::err));
    view! {
        <h1>"Endpoints"</h1>
        <p class="lead">
            "OpenAI-compatible servers to benchmark: vLLM on your GPU ("
            <code>"vllm serve MODEL --port 8000"</code>
            "), a gateway in front of it (http or https, with an API key), a hosted provider such as Parasail ("
            <code>"https://api.parasail.io/v1"</code>
            "), or Bakeoff's built-in simulator. Each is checked ("
            <code>"/health"</code> ", " <code>"/v1/models"</code> ") when added and before every run. "
            "API keys and header values are write-only: stored and sent, never shown again."
        </p>
        <Panel/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let may_change = allowed(me, Permission::Run);
                match endpoints.await {
                    Ok(eps) => {
                        let (for_access, for_launch, for_cap, for_gpu) = (eps.clone(), eps.clone(), eps.clone(), eps.clone());
                        view! {
                            <EndpointTable eps may_change/>
                            <IfAllowed what=Permission::Run>
                                <access::ChangeAccess eps=for_access.clone() change sheets/>
                                <SpendCapForm eps=for_cap.clone() action=cap/>
                                <SharedGpuForm eps=for_gpu.clone() action=shared/>
                            </IfAllowed>
                            <IfAllowed what=Permission::Admin>
                                <LaunchCommands eps=for_launch.clone() set/>
                            </IfAllowed>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <IfAllowed what=Permission::Run otherwise="Runners and admins add endpoints.">
        <h2>"Add an endpoint"</h2>
        <ActionForm action=add attr:class="add-endpoint" attr:aria-label="Add an endpoint" attr:data-then="reload" attr:data-ok="Endpoint {} added.">
            <FormMessage error fields=vec!["name", "base_url", "launch_template", "launch_models", "api_key", "headers", "ca_cert", "price_sheet_id", "retries", "spend_cap"]/>
            <div class="field">
                <label for="ep-name">"Name (unique)"</label>
                <input id="ep-name" name="name" type="text" required placeholder="e.g. RTX 4080 box"/>
                <FieldMessage error field="name"/>
            </div>
            <div class="field">
                <label for="ep-url">"Base URL"</label>
                <input id="ep-url" name="base_url" type="text" placeholder="http://gpu-box:8000 or https://api.parasail.io/v1"/>
                <FieldMessage error field="base_url"/>
            </div>
            <access::AccessFields error prefix="ep" sheets keep=false/>
            <SpendCapField error prefix="ep"/>
            <IfAllowed what=Permission::Admin>
                <LaunchFields error prefix="ep"/>
            </IfAllowed>
            <button type="submit" class="primary">"Check and add"</button>
        </ActionForm>
        </IfAllowed>
    }
}

/// The lock an endpoint's measured runs take: "GPU lock: gpu-box (shared with 'a')".
fn gpu_cell(e: &EndpointView) -> String {
    match (&e.gpu, &e.shares_gpu_with) {
        (None, _) => "no GPU lock (hosted: runs go in parallel)".into(),
        (Some(g), Some(p)) => format!("GPU lock: {g} (shares a GPU with '{p}')"),
        (Some(g), None) => format!("GPU lock: {g}"),
    }
}

/// Say that two endpoints reach one GPU (two ports, a proxy's path): their runs take turns.
#[component]
fn SharedGpuForm(eps: Vec<EndpointView>, action: ServerAction<SetSharedGpu>) -> impl IntoView {
    let own: Vec<EndpointView> = eps.into_iter().filter(|e| !e.hosted).collect();
    if own.len() < 2 {
        return ().into_any();
    }
    let error: Signal<Option<AppError>> = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <h2>"Endpoints that share a GPU"</h2>
        <p class="note">
            "One measured run at a time per GPU: endpoints on one host name take turns (localhost and 127.0.0.1 are one host). "
            "Two endpoints that reach one GPU under different names (a second port, a proxy's path) take turns once one names the other here."
        </p>
        <ActionForm action attr:class="shared-gpu" attr:aria-label="Share a GPU" attr:data-then="reload" attr:data-ok="{name}: GPU link saved.">
            <FormMessage error fields=vec!["with"]/>
            <div class="row">
                <div class="field">
                    <label for="gpu-endpoint">"Endpoint"</label>
                    <select id="gpu-endpoint" name="id">
                        {own.iter().map(|e| view! { <option value=e.id.to_string()>{format!("{} ({})", e.name, gpu_cell(e))}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="gpu-with">"Shares a GPU with"</label>
                    <select id="gpu-with" name="with">
                        <option value="">"only endpoints on its own host"</option>
                        {own.iter().map(|e| view! { <option value=e.name.clone()>{e.name.clone()}</option> }).collect_view()}
                    </select>
                    <FieldMessage error field="with"/>
                </div>
            </div>
            <button type="submit">"Save"</button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn EndpointTable(eps: Vec<EndpointView>, may_change: bool) -> impl IntoView {
    view! {
        <table class="endpoints">
            <thead>
                <tr><th>"Name"</th><th>"URL"</th><th>"Access"</th><th>"Models (max_model_len)"</th><th>"Spend"</th><th>"Checked"</th><th>"Managed launch"</th>
                    {may_change.then(|| view! { <th><span class="sr-only">"Change"</span></th> })}</tr>
            </thead>
            <tbody>
                {eps.into_iter().map(|e| {
                    let label = format!("endpoint '{}'", e.name);
                    let (name, id, builtin) = (e.name.clone(), e.id, e.builtin);
                    view! {
                    <tr>
                        <td>
                            {e.name.clone()} " " {e.simulated.then(|| view! { <span class="badge badge-simulated">"simulated"</span> })}
                            {e.created_by.clone().map(|u| view! { <br/><small class="by">{format!("added by {u}")}</small> })}
                        </td>
                        <td><code>{e.base_url.clone()}</code><br/><small class="gpu">{gpu_cell(&e)}</small></td>
                        <td class="small">{access::describe(&e)}</td>
                        <td>{e.models.iter().map(|m| format!("{} ({})", m.id, m.max_model_len.map(|l| l.to_string()).unwrap_or("?".into()))).collect::<Vec<_>>().join(", ")}</td>
                        <td class="small">{spend_cell(&e)}</td>
                        <td>{e.checked_at.clone().unwrap_or_default()}</td>
                        <td>{managed_cell(&e)}</td>
                        {may_change.then(|| view! {
                            <td class="actions">
                                {if builtin {
                                    view! { <span class="note">"built in"</span> }.into_any()
                                } else {
                                    view! { <Buttons target=Target::Endpoint(id) label=label.clone() name=name.clone()/> }.into_any()
                                }}
                            </td>
                        })}
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
}

fn managed_cell(e: &EndpointView) -> AnyView {
    match (&e.launch_args, &e.legacy_launch_template) {
        (Some(args), _) => view! { <code class="small">{display(args)}</code> }.into_any(),
        (None, Some(_)) => view! {
            <span class="badge error">"old launch command: not run until an admin enters it again"</span>
        }
        .into_any(),
        (None, None) => ().into_any(),
    }
}

/// The launch command and its models (admins only): no shell ever sees them.
#[component]
fn LaunchFields(#[prop(into)] error: Signal<Option<AppError>>, prefix: &'static str) -> impl IntoView {
    let cmd_id = format!("{prefix}-launch");
    let models_id = format!("{prefix}-models");
    view! {
        <div class="field">
            <label for=cmd_id.clone()>"Launch command (optional: Bakeoff starts and stops the server for each run)"</label>
            <input id=cmd_id name="launch_template" type="text" placeholder=EXAMPLE/>
            <p class="note">
                "Run directly, without a shell: arguments are separated by spaces, and each placeholder ("
                <code>"{model}"</code> ", " <code>"{port}"</code> ", " <code>"{util}"</code> ", "
                <code>"{max_model_len}"</code> ", " <code>"{max_num_seqs}"</code> ", " <code>"{eager}"</code>
                ") is an argument of its own: " <code>"--port {port}"</code> ", not " <code>"--port={port}"</code> ". "
                "For offline batch runs, a command with " <code>"{input}"</code> " and " <code>"{output}"</code>
                " (the job's files; no " <code>"{port}"</code> "), e.g. " <code>{crate::api::endpoints::command::BATCH_EXAMPLE}</code>
                ": such an endpoint runs only offline batch jobs."
            </p>
            <FieldMessage error field="launch_template"/>
        </div>
        <div class="field">
            <label for=models_id.clone()>"Models it may start (one per line; runs may use only these)"</label>
            <textarea id=models_id name="launch_models" rows="3" placeholder="google/gemma-3-4b-it"></textarea>
            <FieldMessage error field="launch_models"/>
        </div>
    }
}

/// Set, replace or clear managed endpoints' launch commands (admins only).
#[component]
fn LaunchCommands(eps: Vec<EndpointView>, set: ServerAction<SetLaunchTemplate>) -> impl IntoView {
    let error: Signal<Option<AppError>> = Signal::derive(move || set.value().get().and_then(Result::err));
    let legacy: Vec<EndpointView> = eps.iter().filter(|e| e.legacy_launch_template.is_some()).cloned().collect();
    let choices: Vec<EndpointView> = eps.into_iter().filter(|e| !e.builtin).collect();
    view! {
        <h2>"Launch commands"</h2>
        {(!legacy.is_empty()).then(|| view! {
            <div class="form-error" role="note">
                <p>"These commands were stored as shell lines, which Bakeoff no longer runs. Enter each again below, as arguments, with the models it may start:"</p>
                <ul>
                    {legacy.into_iter().map(|e| view! {
                        <li>{e.name.clone()} ": " <code class="small">{e.legacy_launch_template.clone().unwrap_or_default()}</code></li>
                    }).collect_view()}
                </ul>
            </div>
        })}
        <ActionForm action=set attr:class="launch-command" attr:aria-label="Set a launch command" attr:data-then="reload" attr:data-ok="Launch command saved.">
            <FormMessage error fields=vec!["endpoint_id", "template", "launch_template", "launch_models"]/>
            <div class="field">
                <label for="lc-endpoint">"Endpoint"</label>
                <select id="lc-endpoint" name="endpoint_id">
                    {choices.into_iter().map(|e| view! { <option value=e.id.to_string()>{format!("{} ({})", e.name, e.base_url)}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="lc-command">"Launch command (empty: no longer managed)"</label>
                <input id="lc-command" name="template" data-field="launch_template" type="text" placeholder=EXAMPLE/>
                <FieldMessage error field="launch_template"/>
            </div>
            <div class="field">
                <label for="lc-models">"Models it may start (one per line)"</label>
                <textarea id="lc-models" name="models" data-field="launch_models" rows="3" placeholder="google/gemma-3-4b-it"></textarea>
                <FieldMessage error field="launch_models"/>
            </div>
            <button type="submit">"Save launch command"</button>
        </ActionForm>
    }
}
