//! The data rules on the pages: the internal-only badge and switch of datasets, endpoints' spend
//! caps, and the launch form's cost preview. They render; the figures come from the server
//! (`api::data_rules`, computed by `domain::spend`).

use super::widgets::{can, FieldMessage, FormMessage};
use crate::api::data_rules::{SetDatasetInternalOnly, SetSpendCap};
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
        <ActionForm action attr:class="spend-cap" attr:aria-label="Set a spend cap" attr:data-then="reload" attr:data-ok="{name}: spend cap saved.">
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
        </ActionForm>
    }
    .into_any()
}

/// Why the preview could not be computed: the fields still empty, named, and whatever else is
/// wrong in the form's own words (an invalid sweep, a request count out of range, ...).
fn preview_error(form: &LaunchForm, e: &AppError) -> String {
    let empty: Vec<(&str, &str)> = [
        ("endpoint_id", "the endpoint", &form.endpoint_id),
        ("dataset_id", "the dataset", &form.dataset_id),
        ("model", "the model", &form.model),
        ("requests", "the requests", &form.requests),
    ]
    .into_iter()
    .filter(|(_, _, v)| v.trim().is_empty())
    .map(|(field, name, _)| (field, name))
    .collect();
    let problems: Vec<String> = match e {
        AppError::Validation(f) => {
            f.0.iter()
                .filter(|fe| !empty.iter().any(|(field, _)| *field == fe.field))
                .map(|fe| fe.message.clone())
                .collect()
        }
        other => vec![other.to_string()],
    };
    let mut parts = Vec::new();
    if !problems.is_empty() {
        parts.push(format!("Cost preview not computed: {}.", problems.join("; ").trim_end_matches('.')));
    }
    if !empty.is_empty() {
        let names: Vec<&str> = empty.iter().map(|(_, n)| *n).collect();
        parts.push(format!("Cost preview: fill in {}.", names.join(", ")));
    }
    if parts.is_empty() {
        parts.push(format!("Cost preview not computed: {e}."));
    }
    parts.join(" ")
}

/// What the launch will send and cost at most, worked out on the server from the form as typed
/// (`answer`, for `form`); and, before launching, whether it would be refused.
#[component]
pub fn CostPreviewView(form: LaunchForm, answer: Result<CostPreview, AppError>) -> impl IntoView {
    view! {
        <section class="cost-preview" aria-label="Cost preview" aria-live="polite">
            {match answer {
                Ok(p) => view! {
                    <p class="note">
                        <strong>{if p.hosted { "Hosted endpoint — cost preview: " } else { "Cost preview: " }}</strong>
                        {p.text.clone()}
                    </p>
                    {p.refusal.clone().map(|m| view! { <p class="form-error" role="alert">{format!("This launch would be refused: {m}")}</p> })}
                }
                .into_any(),
                // What keeps the preview from being computed, as the launch would say it.
                Err(e) => {
                    let text = preview_error(&form, &e);
                    view! { <p class="note preview-error">{text}</p> }.into_any()
                }
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::FieldErrors;

    fn form() -> LaunchForm {
        LaunchForm {
            endpoint_id: "1".into(),
            dataset_id: "1".into(),
            model: "sim-gemma-3-4b".into(),
            requests: "200".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_preview_shows_the_forms_real_error_not_a_generic_fill_in() {
        let mut f = form();
        f.sweep = "auto:1".into();
        let msg = crate::domain::saturation::parse_auto("auto:1")
            .and_then(Result::err)
            .expect("auto:1 is refused");
        let e = AppError::Validation(FieldErrors::one("sweep", msg.clone()));
        let text = preview_error(&f, &e);
        assert!(text.contains(&msg) && !text.contains("fill in"), "{text}");
        // A request count out of range, in its own words.
        let e = AppError::validation("requests", "Request count must be at least 1, got 0");
        assert_eq!(
            preview_error(&form(), &e),
            "Cost preview not computed: Request count must be at least 1, got 0."
        );
    }

    #[test]
    fn an_empty_field_is_named_and_other_errors_still_show() {
        let mut f = form();
        f.requests = String::new();
        f.sweep = "auto:1".into();
        let mut errs = FieldErrors::one("requests", "Request count is required");
        errs.push("sweep", "An automatic sweep is 'auto' or 'auto:N'");
        let text = preview_error(&f, &AppError::Validation(errs));
        assert_eq!(
            text,
            "Cost preview not computed: An automatic sweep is 'auto' or 'auto:N'. Cost preview: fill in the requests."
        );
    }
}
