//! The data rules on the pages: the internal-only badge and switch of datasets, endpoints' spend
//! caps, and the launch form's cost preview. They render; the figures come from the server
//! (`api::data_rules`, computed by `domain::spend`).

use super::widgets::{can, FieldMessage, FormMessage};
use crate::api::data_rules::{launch_preview, SetDatasetInternalOnly, SetSpendCap};
use crate::api::types::EndpointView;
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::spec::LaunchForm;
use crate::domain::spend::money;
use crate::domain::spend::CostPreview;
use leptos::prelude::*;

/// "internal only", beside a dataset's name.
pub fn internal_badge(internal_only: bool) -> impl IntoView {
    internal_only.then(|| {
        view! {
            <span class="badge badge-internal" title="Never sent to a hosted endpoint">"internal only"</span>
        }
    })
}

/// Set or clear a dataset's internal-only flag (one button). Any runner may set it; only an admin
/// clears it (`api::data_rules::may_clear`), so others see who can instead of a button that
/// would be refused.
#[component]
pub fn InternalOnlyToggle(id: i64, internal_only: bool, action: ServerAction<SetDatasetInternalOnly>) -> impl IntoView {
    let (label, title) = if internal_only {
        (
            "Allow hosted",
            "Clear the internal-only flag: the dataset may then be sent to hosted endpoints",
        )
    } else {
        ("Internal only", "Mark internal only: never sent to a hosted endpoint")
    };
    let admin = can(Permission::Admin);
    view! {
        <Show
            when=move || !internal_only || admin.get()
            fallback=|| view! {
                <span class="note" title="Only an admin may let an internal-only dataset go to hosted endpoints">"an admin can allow hosted"</span>
            }
        >
            <ActionForm action attr:class="inline" attr:aria-label=format!("{title} (dataset {id})")>
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="internal_only" value=(!internal_only).to_string()/>
                <button type="submit" class="small" title=title>{label}</button>
            </ActionForm>
        </Show>
    }
}

/// The upload form's checkbox.
#[component]
pub fn InternalOnlyField() -> impl IntoView {
    view! {
        <div class="field">
            <label><input id="ds-internal" name="internal_only" type="checkbox" value="true"/>
                " Internal only: personal or confidential data, never sent to a hosted endpoint"</label>
        </div>
    }
}

/// What the endpoints table says of an endpoint's spend (empty when nothing is capped or spent).
pub fn spend_cell(e: &EndpointView) -> String {
    match (e.spend_cap_usd, e.spent_this_month_usd) {
        (Some(cap), spent) => format!("cap {} a month · {} spent this month", money(cap), money(spent)),
        (None, spent) if spent > 0.0 => format!("{} spent this month (no cap)", money(spent)),
        (None, _) => "—".into(),
    }
}

/// The add form's cap field.
#[component]
pub fn SpendCapField(#[prop(into)] error: Signal<Option<AppError>>, prefix: &'static str) -> impl IntoView {
    let id = format!("{prefix}-cap");
    view! {
        <div class="field">
            <label for=id.clone()>"Spend cap, US dollars a month (optional)"</label>
            <input id=id name="spend_cap" type="text" inputmode="decimal" placeholder="e.g. 5.00"/>
            <p class="note">"Counted from the usage of each finished request at the linked price sheet; a run stops sending when the month's spend reaches it."</p>
            <FieldMessage error field="spend_cap"/>
        </div>
    }
}

/// Change an endpoint's cap.
#[component]
pub fn SpendCapForm(eps: Vec<EndpointView>, action: ServerAction<SetSpendCap>) -> impl IntoView {
    let error: Signal<Option<AppError>> = Signal::derive(move || action.value().get().and_then(Result::err));
    if eps.is_empty() {
        return ().into_any();
    }
    view! {
        <h2>"Spend caps"</h2>
        <p class="note">
            "A cap stops a run on the endpoint once what its runs spent this month (UTC) reaches it: no new requests are sent, those in flight finish, "
            "and the run ends cancelled with the reason. Launches are refused while the cap is reached."
        </p>
        <ActionForm action attr:class="spend-cap" attr:aria-label="Set a spend cap">
            <FormMessage error fields=vec!["spend_cap"]/>
            <div class="row">
                <div class="field">
                    <label for="cap-endpoint">"Endpoint"</label>
                    <select id="cap-endpoint" name="id">
                        {eps.into_iter().map(|e| view! { <option value=e.id.to_string()>{format!("{} ({})", e.name, spend_cell(&e))}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="cap-usd">"Cap, US dollars a month (empty: no cap)"</label>
                    <input id="cap-usd" name="spend_cap" type="text" inputmode="decimal" placeholder="e.g. 5.00"/>
                    <FieldMessage error field="spend_cap"/>
                </div>
            </div>
            <button type="submit">"Save cap"</button>
            {move || action.value().get().and_then(Result::ok).map(|e| view! { <p class="ok" role="status">{format!("{}: {}", e.name, spend_cell(&e))}</p> })}
        </ActionForm>
    }
    .into_any()
}

/// The launch form's values as typed, for the preview: each input and select of the form writes
/// its value here by its name (`form[requests]` -> `requests`).
pub fn track_field(fields: RwSignal<LaunchForm>, ev: &leptos::ev::Event) {
    let Some(name) = event_target::<leptos::web_sys::Element>(ev).get_attribute("name") else {
        return;
    };
    let value = event_target_value(ev);
    let key = name.trim_start_matches("form[").trim_end_matches(']').to_string();
    fields.update(|f| match key.as_str() {
        "endpoint_id" => f.endpoint_id = value,
        "dataset_id" => f.dataset_id = value,
        "model" => f.model = value,
        "requests" => f.requests = value,
        "warmup" => f.warmup = value,
        "max_tokens" => f.max_tokens = value,
        "sweep" => f.sweep = value,
        _ => {}
    });
}

/// What the launch will send and cost at most, recomputed as the choices change; and, before
/// launching, whether it would be refused.
#[component]
pub fn CostPreviewBox(fields: RwSignal<LaunchForm>) -> impl IntoView {
    // Asked from the browser only, as the choices change (the server renders "Estimating…", and
    // so does the browser until the first answer: nothing to hydrate differently). A later answer
    // to an older question is dropped.
    let preview: RwSignal<Option<Result<CostPreview, AppError>>> = RwSignal::new(None);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let form = fields.get();
        let n = asked.get_value() + 1;
        asked.set_value(n);
        leptos::task::spawn_local(async move {
            let answer = launch_preview(form).await;
            if asked.get_value() == n {
                preview.set(Some(answer));
            }
        });
    });
    view! {
        <section class="cost-preview" aria-label="Cost preview" aria-live="polite">
            {move || match preview.get() {
                None => view! { <p class="note">"Estimating…"</p> }.into_any(),
                Some(Ok(p)) => view! {
                    <p class="note">
                        <strong>{if p.hosted { "Hosted endpoint — cost preview: " } else { "Cost preview: " }}</strong>
                        {p.text.clone()}
                    </p>
                    {p.refusal.clone().map(|m| view! { <p class="form-error" role="alert">{format!("This launch would be refused: {m}")}</p> })}
                }
                .into_any(),
                // A field still being typed: the launch itself names what to fix.
                Some(Err(_)) => view! { <p class="note">"Cost preview: fill in the endpoint, dataset, model and requests."</p> }.into_any(),
            }}
        </section>
    }
}
