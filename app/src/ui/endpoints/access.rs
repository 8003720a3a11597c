//! How an endpoint is reached, on the endpoints page: the access fields of the add form (API
//! key, extra headers, CA certificate, hosted, price sheet, retries) and the form that changes
//! them. Keys and header values are write-only: no field is ever filled with one, so an empty
//! field in the change form keeps what is stored.

use super::super::widgets::{FieldMessage, FormMessage};
use crate::api::cost::cost_data;
use crate::api::endpoints::SetEndpointAccess;
use crate::api::types::EndpointView;
use crate::api::AppError;
use leptos::prelude::*;

/// Every price sheet's id and name, for the selects.
pub fn price_sheets() -> Resource<Vec<(i64, String)>> {
    Resource::new(
        || (),
        |_| async move {
            cost_data()
                .await
                .map(|d| d.sheets.into_iter().map(|s| (s.id, s.name)).collect())
                .unwrap_or_default()
        },
    )
}

/// One line about how an endpoint is reached (never a key or a header value).
pub fn describe(e: &EndpointView) -> String {
    let mut parts = Vec::new();
    if e.base_url.starts_with("https://") {
        parts.push("https".to_string());
    }
    if e.has_ca_cert {
        parts.push("own CA certificate".into());
    }
    if e.has_api_key {
        parts.push("API key set".into());
    }
    if !e.header_names.is_empty() {
        parts.push(format!("headers: {}", e.header_names.join(", ")));
    }
    if e.hosted {
        parts.push("hosted".into());
    }
    if let Some(s) = &e.price_sheet {
        parts.push(format!("priced by {s}"));
    }
    if !e.retry.is_off() {
        parts.push(format!("429/503 retried up to {}x", e.retry.max_retries));
    }
    parts.join(" · ")
}

/// The price sheet select: `keep` adds "keep as it is" and "none" choices (the change form).
#[component]
fn SheetSelect(id: String, sheets: Resource<Vec<(i64, String)>>, keep: bool) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {
                let id = id.clone();
                move || {
                    let id = id.clone();
                    Suspend::new(async move {
                        let list = sheets.await;
                        view! {
                            <select id=id name="price_sheet_id">
                                {keep.then(|| view! { <option value="">"(keep as it is)"</option> })}
                                <option value=if keep { "none" } else { "" }>"none"</option>
                                {list.into_iter().map(|(sid, name)| view! { <option value=sid.to_string()>{name}</option> }).collect_view()}
                            </select>
                        }
                    })
                }
            }
        </Transition>
    }
}

/// The access fields. `keep`: the change form, where empty fields keep what is stored.
#[component]
pub fn AccessFields(
    #[prop(into)] error: Signal<Option<AppError>>,
    prefix: &'static str,
    sheets: Resource<Vec<(i64, String)>>,
    keep: bool,
) -> impl IntoView {
    let id = |f: &str| format!("{prefix}-{f}");
    let keep_note = if keep { " (empty: keep what is stored)" } else { "" };
    view! {
        <fieldset class="access">
            <legend>"How Bakeoff reaches it (optional)"</legend>
            <div class="field">
                <label for=id("key")>{format!("API key, sent as Authorization: Bearer{keep_note}")}</label>
                <input id=id("key") name="api_key" type="password" autocomplete="new-password" placeholder="vllm serve --api-key …, or the provider's key"/>
                <p class="note">"Write-only: stored and sent to this endpoint, never shown again by any page, API or export."</p>
                <FieldMessage error field="api_key"/>
                {keep.then(|| view! { <label><input type="checkbox" name="clear_api_key" value="on"/>" remove the stored key"</label> })}
            </div>
            <div class="field">
                <label for=id("headers")>{format!("Extra headers, one Name: value per line{keep_note}")}</label>
                <textarea id=id("headers") name="headers" rows="2" placeholder="X-Org: team-a"></textarea>
                <p class="note">"Their values are write-only too: only the names are shown."</p>
                <FieldMessage error field="headers"/>
                {keep.then(|| view! { <label><input type="checkbox" name="clear_headers" value="on"/>" remove the stored headers"</label> })}
            </div>
            <div class="field">
                <label for=id("ca")>{format!("CA certificate for https (PEM){keep_note}")}</label>
                <textarea id=id("ca") name="ca_cert" rows="3" placeholder="-----BEGIN CERTIFICATE-----"></textarea>
                <p class="note">"A private CA, or the server's own self-signed certificate (pinned). Without it, the system's CAs are trusted."</p>
                <FieldMessage error field="ca_cert"/>
                {keep.then(|| view! { <label><input type="checkbox" name="clear_ca_cert" value="on"/>" remove the stored certificate"</label> })}
            </div>
            {if keep {
                view! {
                    <div class="field">
                        <label for=id("hosted")>"Hosted provider"</label>
                        <select id=id("hosted") name="hosted">
                            <option value="">"(keep as it is)"</option>
                            <option value="yes">"hosted: no /health, /metrics, /tokenize"</option>
                            <option value="no">"self-hosted"</option>
                        </select>
                        <FieldMessage error field="hosted"/>
                    </div>
                }
                .into_any()
            } else {
                view! {
                    <div class="field">
                        <label><input id=id("hosted") type="checkbox" name="hosted" value="on"/>" Hosted provider (no /health, /metrics, /tokenize; Parasail's host is known)"</label>
                    </div>
                }
                .into_any()
            }}
            <div class="field">
                <label for=id("sheet")>"Price sheet its runs are priced by"</label>
                <SheetSelect id=id("sheet") sheets keep/>
                <FieldMessage error field="price_sheet_id"/>
            </div>
            <div class="field">
                <label for=id("retries")>{format!("Retries of 429/503 answers, after their Retry-After (0: off){keep_note}")}</label>
                <input id=id("retries") name="retries" type="number" min="0" max="10" placeholder="0"/>
                <FieldMessage error field="retries"/>
            </div>
        </fieldset>
    }
}

/// Change an endpoint's URL, key, headers, certificate, hosted flag, price sheet or retries. The
/// endpoint is checked with the new settings before they are stored; a failed check is shown at
/// the endpoint (or at the new URL).
#[component]
pub fn ChangeAccess(
    eps: Vec<EndpointView>,
    change: ServerAction<SetEndpointAccess>,
    sheets: Resource<Vec<(i64, String)>>,
) -> impl IntoView {
    let error: Signal<Option<AppError>> = Signal::derive(move || change.value().get().and_then(Result::err));
    let choices: Vec<EndpointView> = eps.into_iter().filter(|e| !e.builtin).collect();
    if choices.is_empty() {
        return ().into_any();
    }
    view! {
        <h2>"Change how an endpoint is reached"</h2>
        <ActionForm action=change attr:class="endpoint-access" attr:aria-label="Change how an endpoint is reached" attr:data-then="reload" attr:data-ok="{name} ({base_url}) saved.">
            <FormMessage error fields=vec!["endpoint", "base_url", "api_key", "headers", "ca_cert", "hosted", "price_sheet_id", "retries"]/>
            <div class="field">
                <label for="acc-endpoint">"Endpoint"</label>
                <select id="acc-endpoint" name="id" data-field="endpoint">
                    {choices.into_iter().map(|e| view! { <option value=e.id.to_string()>{format!("{} ({})", e.name, e.base_url)}</option> }).collect_view()}
                </select>
                // What the check of the endpoint found (refused, timed out, HTTP 401, TLS...): the
                // message says what to fix.
                <FieldMessage error field="endpoint"/>
            </div>
            <div class="field">
                <label for="acc-url">"New base URL (empty: keep it; e.g. the server moved to another port)"</label>
                <input id="acc-url" name="base_url" type="text" placeholder="http://gpu-box:8001"/>
                <p class="note">"Checked like a new endpoint's before it is stored; runs measured at the old URL keep their figures, and the audit log keeps the old URL."</p>
                <FieldMessage error field="base_url"/>
            </div>
            <AccessFields error prefix="acc" sheets keep=true/>
            <button type="submit">"Check and save"</button>
        </ActionForm>
    }
    .into_any()
}
