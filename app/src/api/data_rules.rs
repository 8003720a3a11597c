//! Data that must not leave the building, and money that must not run away: the internal-only
//! flag of datasets, the cost preview of a launch, and endpoints' monthly spend caps. The checks
//! here are made by every launch (form, REST, CLI, pending tests, sweeps: `runs::queue_runs`),
//! and again by the worker when it takes a queued run (the flag may have been set since).

use super::error::AppError;
use super::types::{DatasetView, EndpointView};
use crate::domain::spec::LaunchForm;
pub use crate::domain::spend::CostPreview;
use leptos::prelude::*;

/// Mark a dataset internal only (never sent to a hosted endpoint), or clear the mark.
#[server]
pub async fn set_dataset_internal_only(id: i64, internal_only: bool) -> Result<DatasetView, AppError> {
    use super::guard::{audit, authorize, state, Permission};
    let caller = authorize(Permission::Run).await?;
    may_clear(&caller, internal_only)?;
    let state = state()?;
    let (dataset, detail) = set_internal_only(&state.db, id, internal_only).await?;
    audit(&caller, "dataset.internal_only", &format!("dataset {id}"), &detail).await;
    Ok(dataset)
}

/// Any runner may mark a dataset internal only; only an admin lets it leave again.
pub fn may_clear(caller: &super::guard::Caller, internal_only: bool) -> Result<(), AppError> {
    if internal_only || caller.require(super::guard::Permission::Admin).is_ok() {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "only an admin may clear 'internal only' (it lets the dataset go to hosted endpoints): ask one".into(),
    ))
}

/// Set an endpoint's spend cap in dollars a month (empty: no cap).
#[server]
pub async fn set_spend_cap(id: i64, spend_cap: String) -> Result<EndpointView, AppError> {
    use super::guard::{audit, authorize, state, Permission};
    let caller = authorize(Permission::Run).await?;
    let state = state()?;
    let cap = crate::domain::spend::parse_cap(&spend_cap).map_err(|m| AppError::validation("spend_cap", m))?;
    let (endpoint, detail) = set_cap(&state.db, id, cap).await?;
    audit(&caller, "endpoint.spend_cap", &format!("endpoint {id}"), &detail).await;
    Ok(endpoint)
}

/// What a launch would send and cost, before it is launched (and whether it would be refused).
#[server]
pub async fn launch_preview(form: LaunchForm) -> Result<CostPreview, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    preview(&state()?.db, &form, me.require(Permission::Admin).is_ok()).await
}

/// Set the flag; returns the dataset and the audit line.
#[cfg(feature = "ssr")]
pub async fn set_internal_only(db: &crate::db::Db, id: i64, internal_only: bool) -> Result<(DatasetView, String), AppError> {
    let before = crate::db::datasets::get(db, id).await?;
    crate::db::data_rules::set_internal_only(db, id, internal_only).await?;
    let detail = format!(
        "dataset '{}' {}",
        before.name,
        match (before.internal_only, internal_only) {
            (false, true) => "marked internal only",
            (true, false) => "no longer internal only",
            (true, true) => "kept internal only",
            (false, false) => "kept not internal only",
        }
    );
    Ok((crate::db::datasets::get(db, id).await?, detail))
}

/// Set the cap of an endpoint (which must have a price sheet to count it with); returns the
/// endpoint and the audit line.
#[cfg(feature = "ssr")]
pub async fn set_cap(db: &crate::db::Db, id: i64, cap: Option<f64>) -> Result<(EndpointView, String), AppError> {
    let before = crate::db::endpoints::get(db, id).await?;
    if cap.is_some() && before.price_sheet_id.is_none() {
        return Err(AppError::validation(
            "spend_cap",
            format!(
                "endpoint '{}' has no price sheet: a cap is counted at its sheet's prices, so link one first (Change how an endpoint is reached)",
                before.name
            ),
        ));
    }
    store_cap(db, before, cap).await
}

/// Store the cap; returns the endpoint and the audit line.
#[cfg(feature = "ssr")]
async fn store_cap(db: &crate::db::Db, before: EndpointView, cap: Option<f64>) -> Result<(EndpointView, String), AppError> {
    use crate::domain::spend::money;
    let id = before.id;
    crate::db::data_rules::set_spend_cap(db, id, cap).await?;
    let says = |c: Option<f64>| c.map(|c| format!("{} a month", money(c))).unwrap_or_else(|| "none".into());
    let detail = format!(
        "endpoint '{}' spend cap: {} -> {}",
        before.name,
        says(before.spend_cap_usd),
        says(cap)
    );
    Ok((crate::db::endpoints::get(db, id).await?, detail))
}

/// The cap given with a new endpoint (none: nothing to do), audited. Not refused for want of a
/// price sheet (the endpoint exists already): launches say what is missing.
#[cfg(feature = "ssr")]
pub async fn initial_cap(db: &crate::db::Db, actor: &crate::db::audit::Actor, id: i64, cap: Option<f64>) -> Result<(), AppError> {
    if cap.is_some() {
        let before = crate::db::endpoints::get(db, id).await?;
        let (_, detail) = store_cap(db, before, cap).await?;
        crate::db::audit::record(db, actor, "endpoint.spend_cap", &format!("endpoint {id}"), &detail).await;
    }
    Ok(())
}

/// Does Bakeoff send this endpoint's requests out of the building? Hosted endpoints, and the
/// known providers' hosts whatever their flag says.
pub fn is_hosted(endpoint: &EndpointView) -> bool {
    endpoint.hosted
        || crate::domain::url::parse_base_url(&endpoint.base_url)
            .ok()
            .is_some_and(|u| crate::domain::access::known_provider(&u.host.to_string()).is_some())
}

/// Why `dataset` may not go to `endpoint`, if it may not, told to an admin (`admin`: "clear the
/// flag") or to anyone else ("ask an admin").
pub fn internal_only_refusal(endpoint: &EndpointView, dataset: &DatasetView, admin: bool) -> Option<String> {
    (dataset.internal_only && is_hosted(endpoint))
        .then(|| crate::domain::spend::internal_only_refusal(&dataset.name, &endpoint.name, admin))
}

/// [`internal_only_refusal`] for a run of `kind`: a provider batch uploads the whole dataset to
/// the provider's file storage, so an internal-only dataset never goes in one, whatever the
/// endpoint's hosted flag says (Bakeoff's own simulator excepted). The worker's refusal (read by
/// anyone on the run's page) tells them to ask an admin.
pub fn internal_only_refusal_for(endpoint: &EndpointView, dataset: &DatasetView, kind: crate::domain::spec::RunKind) -> Option<String> {
    internal_only_refusal_as(endpoint, dataset, kind, false)
}

/// [`internal_only_refusal_for`], told to an admin or not (see [`internal_only_refusal`]).
pub fn internal_only_refusal_as(
    endpoint: &EndpointView,
    dataset: &DatasetView,
    kind: crate::domain::spec::RunKind,
    admin: bool,
) -> Option<String> {
    internal_only_refusal(endpoint, dataset, admin).or_else(|| {
        (kind == crate::domain::spec::RunKind::ProviderBatch && dataset.internal_only && !endpoint.simulated).then(|| {
            format!(
                "dataset '{}' is marked internal only: a provider batch uploads the whole dataset to the file storage of '{}', so it may not go in one — {}",
                dataset.name,
                endpoint.name,
                crate::domain::spend::internal_only_remedy(admin)
            )
        })
    })
}

/// The endpoint's price sheet (by name) and the per-token row that prices `model` on it.
#[cfg(feature = "ssr")]
pub async fn price_for(
    db: &crate::db::Db,
    endpoint: &EndpointView,
    model: &str,
) -> Result<(Option<String>, Option<crate::domain::cost::PriceRow>), crate::db::DbError> {
    let Some(sheet_id) = endpoint.price_sheet_id else {
        return Ok((None, None));
    };
    let sheets = crate::db::prices::list(db).await?;
    let Some(sheet) = sheets.iter().find(|s| s.id == sheet_id) else {
        return Ok((None, None));
    };
    let row = crate::domain::spend::per_token_price(sheet, model).map(|(r, _)| r.clone());
    Ok((Some(sheet.name.clone()), row))
}

/// [`price_for`] for a run of `kind`: a provider's Batch API job is priced at the sheet's batch
/// row for the model when it has one (issue 14).
#[cfg(feature = "ssr")]
pub async fn price_for_kind(
    db: &crate::db::Db,
    endpoint: &EndpointView,
    model: &str,
    kind: crate::domain::spec::RunKind,
) -> Result<(Option<String>, Option<crate::domain::cost::PriceRow>), crate::db::DbError> {
    let (name, row) = price_for(db, endpoint, model).await?;
    let Some(charged) = crate::domain::modes::price_kind(kind) else {
        return Ok((name, row));
    };
    let sheets = crate::db::prices::list(db).await?;
    let batch = sheets
        .iter()
        .find(|s| Some(s.id) == endpoint.price_sheet_id)
        .and_then(|s| s.match_charged(model, Some(charged)))
        .filter(|m| m.fallback.is_none() && m.row.kind.per_token())
        .map(|m| m.row.clone());
    Ok((name, batch.or(row)))
}

/// Why the endpoint's cap stops a launch of `model` now, if it does: the cap is reached this
/// month, or what a run spends cannot be counted (no per-token price for the model).
#[cfg(feature = "ssr")]
pub async fn cap_refusal(db: &crate::db::Db, endpoint: &EndpointView, model: &str) -> Result<Option<String>, crate::db::DbError> {
    use crate::domain::spend::{cap_reached, cap_reached_refusal, cap_unpriced_refusal};
    let Some(cap) = endpoint.spend_cap_usd else {
        return Ok(None);
    };
    let (sheet, row) = price_for(db, endpoint, model).await?;
    if row.is_none() {
        return Ok(Some(cap_unpriced_refusal(&endpoint.name, cap, sheet.as_deref(), model)));
    }
    let spent = crate::db::data_rules::spent_this_month(db, endpoint.id, None).await?;
    Ok(cap_reached(spent, Some(cap)).then(|| cap_reached_refusal(&endpoint.name, cap, spent)))
}

/// Why a provider batch of `spec` may not be submitted under the endpoint's cap, if it may not
/// (its worst case must fit; see [`crate::domain::spend::batch_cap_refusal`]). Other kinds of
/// run, and endpoints without a cap: `None`.
#[cfg(feature = "ssr")]
pub async fn batch_cap_refusal(
    db: &crate::db::Db,
    endpoint: &EndpointView,
    spec: &crate::domain::spec::RunSpec,
) -> Result<Option<String>, crate::db::DbError> {
    let Some(Capped { cap, row, tokens }) = capped(db, endpoint, spec, crate::domain::spec::RunKind::ProviderBatch).await? else {
        return Ok(None);
    };
    let preview = crate::domain::spend::preview(&tokens, u64::from(spec.requests), spec.sampling.max_tokens, Some(&row));
    let spent = crate::db::data_rules::spent_this_month(db, endpoint.id, None).await?;
    Ok(crate::domain::spend::batch_cap_refusal(&endpoint.name, cap, spent, &preview))
}

/// The launch-time checks of this module (before anything is queued); `admin`: the launch is an
/// admin's (refusals say what they can do about them).
#[cfg(feature = "ssr")]
pub async fn check_launch(
    db: &crate::db::Db,
    endpoint: &EndpointView,
    dataset: &DatasetView,
    spec: &crate::domain::spec::RunSpec,
    admin: bool,
) -> Result<(), AppError> {
    if let Some(m) = internal_only_refusal(endpoint, dataset, admin) {
        return Err(AppError::validation("dataset_id", m));
    }
    if let Some(m) = cap_refusal(db, endpoint, &spec.model).await? {
        return Err(AppError::validation("endpoint_id", m));
    }
    if let Some(m) = batch_cap_refusal(db, endpoint, spec).await? {
        return Err(AppError::validation("max_tokens", m));
    }
    if let Some(m) = one_request_refusal(db, endpoint, spec).await? {
        return Err(AppError::validation("endpoint_id", m));
    }
    Ok(())
}

/// Why a server-mode run of `spec` would end at once under the endpoint's cap, if it would: not
/// even one request (at the dataset's mean prompt, as the worker counts a request's worst case)
/// fits in what the cap leaves this month. Unpriced models and a reached cap are `cap_refusal`'s.
#[cfg(feature = "ssr")]
pub async fn one_request_refusal(
    db: &crate::db::Db,
    endpoint: &EndpointView,
    spec: &crate::domain::spec::RunSpec,
) -> Result<Option<String>, crate::db::DbError> {
    let Some(Capped { cap, row, tokens }) = capped(db, endpoint, spec, crate::domain::spec::RunKind::Server).await? else {
        return Ok(None);
    };
    let Some(worst) = crate::domain::spend::mean_request_worst_case(&tokens, spec.sampling.max_tokens, &row) else {
        return Ok(None);
    };
    let spent = crate::db::data_rules::spent_this_month(db, endpoint.id, None).await?;
    Ok(crate::domain::spend::one_request_refusal(&endpoint.name, cap, spent, worst))
}

/// What a cap check of one kind of run needs: the endpoint's cap, the model's per-token row and
/// the dataset's token estimates.
#[cfg(feature = "ssr")]
struct Capped {
    cap: f64,
    row: crate::domain::cost::PriceRow,
    tokens: crate::domain::spend::DatasetTokens,
}

/// [`Capped`] for `spec` when it is a run of `kind` on an endpoint with a cap and a per-token
/// price for its model (`None` otherwise: unpriced models are refused by `cap_refusal`, with its
/// own message).
#[cfg(feature = "ssr")]
async fn capped(
    db: &crate::db::Db,
    endpoint: &EndpointView,
    spec: &crate::domain::spec::RunSpec,
    kind: crate::domain::spec::RunKind,
) -> Result<Option<Capped>, crate::db::DbError> {
    let Some(cap) = endpoint.spend_cap_usd else {
        return Ok(None);
    };
    if spec.kind != kind {
        return Ok(None);
    }
    let (_, row) = price_for_kind(db, endpoint, &spec.model, spec.kind).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let tokens = dataset_tokens(db, spec.dataset_id).await?;
    Ok(Some(Capped { cap, row, tokens }))
}

/// A dataset's token estimates: computed from its items the first time, then read back.
#[cfg(feature = "ssr")]
pub async fn dataset_tokens(db: &crate::db::Db, dataset_id: i64) -> Result<crate::domain::spend::DatasetTokens, crate::db::DbError> {
    if let Some(t) = crate::db::data_rules::dataset_tokens(db, dataset_id).await? {
        return Ok(t);
    }
    let items = crate::db::datasets::items(db, dataset_id).await?;
    let t = crate::domain::spend::DatasetTokens::of(&items);
    crate::db::data_rules::put_dataset_tokens(db, dataset_id, &t).await?;
    Ok(t)
}

/// The preview of a launch form: every field the launch needs for it is checked the same way
/// (concurrency, which costs nothing, may be left out); `admin`: asked by an admin (a refusal says
/// what they can do about it).
#[cfg(feature = "ssr")]
pub async fn preview(db: &crate::db::Db, form: &LaunchForm, admin: bool) -> Result<CostPreview, AppError> {
    use crate::db::{self, DbError};
    let mut form = form.clone();
    if form.concurrency.trim().is_empty() {
        form.concurrency = "1".into();
    }
    let spec = form.parse().map_err(AppError::Validation)?;
    let plan = form.sweep_plan().map_err(AppError::Validation)?;
    // Warm-up is sent once per launch (a sweep's first run warms the server for the rest); an
    // automatic sweep's steps are not known yet: previewed at the most it can run.
    let runs = match &plan {
        crate::domain::spec::SweepPlan::Levels(levels) => levels.len().max(1) as u64,
        crate::domain::spec::SweepPlan::Auto { steps } => u64::from(crate::domain::saturation::max_runs(*steps)),
        crate::domain::spec::SweepPlan::Single => 1,
    };
    // As the launch says it: a dataset or endpoint in the trash is named so.
    use super::trash::{why_missing, TrashKind};
    let endpoint = match db::endpoints::get(db, spec.endpoint_id).await {
        Err(DbError::NotFound(_)) => {
            let why = why_missing(
                db,
                TrashKind::Endpoint,
                spec.endpoint_id,
                format!("no endpoint {}", spec.endpoint_id),
            )
            .await;
            return Err(AppError::validation("endpoint_id", why));
        }
        other => other?,
    };
    let dataset = match db::datasets::get(db, spec.dataset_id).await {
        Err(DbError::NotFound(_)) => {
            let why = why_missing(db, TrashKind::Dataset, spec.dataset_id, format!("no dataset {}", spec.dataset_id)).await;
            return Err(AppError::validation("dataset_id", why));
        }
        other => other?,
    };
    let tokens = dataset_tokens(db, dataset.id).await?;
    let (sheet, row) = price_for_kind(db, &endpoint, &spec.model, spec.kind).await?;
    let requests = u64::from(spec.requests) * runs + u64::from(spec.warmup);
    let mut p = crate::domain::spend::preview(&tokens, requests, spec.sampling.max_tokens, row.as_ref());
    p.endpoint = endpoint.name.clone();
    p.hosted = is_hosted(&endpoint);
    p.dataset = dataset.name.clone();
    p.model = spec.model.clone();
    p.sheet = sheet;
    p.spend_cap_usd = endpoint.spend_cap_usd;
    p.spent_this_month_usd = endpoint.spent_this_month_usd;
    // Requests sent one by one, priced at a batch row for want of a serverless one.
    p.batch_row_for_server = spec.kind != crate::domain::spec::RunKind::ProviderBatch
        && row.as_ref().is_some_and(|r| r.kind == crate::domain::cost::PriceKind::Batch);
    p.refusal = match internal_only_refusal(&endpoint, &dataset, admin) {
        Some(m) => Some(m),
        None => match cap_refusal(db, &endpoint, &spec.model).await? {
            Some(m) => Some(m),
            None => match batch_cap_refusal(db, &endpoint, &spec).await? {
                Some(m) => Some(m),
                None => match one_request_refusal(db, &endpoint, &spec).await? {
                    Some(m) => Some(m),
                    // A max_tokens the model's context cannot hold (the launch refuses it too).
                    None => super::runs::context_refusal(db, &endpoint, &spec, &endpoint.models).await?,
                },
            },
        },
    };
    p.text = p.describe();
    if let crate::domain::spec::SweepPlan::Auto { steps } = plan {
        use crate::domain::saturation::{max_runs, MAX_SEARCH_STEPS};
        p.text.push_str(&format!(
            " An upper bound: an automatic sweep runs as many steps as it needs, and these figures are for the most it can run ({} steps of {} requests: {MAX_SEARCH_STEPS} to find saturation, {steps} request rates after it; warm-up once). Most sweeps stop well before.",
            max_runs(steps),
            spec.requests
        ));
    }
    Ok(p)
}

/// REST: the preview, setting the flag, setting the cap (the server's route table lists them).
#[cfg(feature = "ssr")]
pub mod rest;
