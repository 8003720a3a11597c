use crate::api::AppError;
use leptos::prelude::*;

/// The message for one form field, shown beside it, from the last submission's error.
#[component]
pub fn FieldMessage(#[prop(into)] error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    let id = format!("{field}-error");
    move || {
        error.get().and_then(|e| e.for_field(field)).map(|m| {
            view! { <p class="field-error" id=id.clone() role="alert">{m}</p> }
        })
    }
}

/// Errors that belong to no single field (or to fields this form does not show).
#[component]
pub fn FormMessage(#[prop(into)] error: Signal<Option<AppError>>, #[prop(into)] fields: Vec<&'static str>) -> impl IntoView {
    move || {
        error.get().and_then(|e| match e {
            AppError::Validation(errs) => {
                let rest: Vec<String> = errs
                    .0
                    .iter()
                    .filter(|f| !fields.contains(&f.field.as_str()))
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect();
                (!rest.is_empty()).then(|| {
                    view! { <div class="form-error" role="alert">{rest.into_iter().map(|m| view! { <p>{m}</p> }).collect_view()}</div> }
                        .into_any()
                })
            }
            other => Some(view! { <div class="form-error" role="alert"><p>{other.to_string()}</p></div> }.into_any()),
        })
    }
}

/// "simulated" / "imported" badge: results from the simulator are never shown unlabelled.
#[component]
pub fn OriginBadge(label: &'static str) -> impl IntoView {
    (!label.is_empty()).then(|| view! { <span class=format!("badge badge-{label}") title=badge_title(label)>{label}</span> })
}

fn badge_title(label: &str) -> &'static str {
    match label {
        "simulated" => "Measured against Bakeoff's built-in vLLM simulator, not a real model on a GPU",
        "imported" => "Imported from another tool's files, not measured by Bakeoff",
        _ => "",
    }
}

#[component]
pub fn StatusBadge(status: crate::domain::status::RunStatus) -> impl IntoView {
    view! { <span class=format!("status status-{}", status.label())>{status.label()}</span> }
}

/// A server error shown in place of content.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

/// For plain (multipart) forms that redirect back with `?error_field=F&error=...`: the message
/// for `field`, one line per problem.
#[component]
pub fn QueryFieldError(field: &'static str) -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    move || {
        let q = query.read();
        (q.get("error_field").as_deref() == Some(field)).then(|| {
            let text = q.get("error").unwrap_or_default();
            view! {
                <div class="field-error" id=format!("{field}-error") role="alert">
                    {text.lines().map(|l| view! { <p>{l.to_string()}</p> }).collect_view()}
                </div>
            }
        })
    }
}

/// A JSON value as a tree, rubric fields highlighted.
pub fn tree(v: &serde_json::Value, path: &str, highlight: &[String]) -> AnyView {
    match v {
        serde_json::Value::Object(m) => view! {
            <dl class="tree">
                {m.iter().map(|(k, child)| {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    let hl = highlight.contains(&p);
                    view! { <dt class:hl=hl>{k.clone()}</dt> <dd class:hl=hl>{tree(child, &p, highlight)}</dd> }
                }).collect_view()}
            </dl>
        }
        .into_any(),
        serde_json::Value::Array(a) => {
            view! { <ol class="tree">{a.iter().map(|x| view! { <li>{tree(x, path, highlight)}</li> }).collect_view()}</ol> }.into_any()
        }
        serde_json::Value::String(s) => view! { <span class="str">{s.clone()}</span> }.into_any(),
        other => view! { <span class="val">{other.to_string()}</span> }.into_any(),
    }
}

/// Who is logged in, as the server found it when it rendered the page (every page load asks:
/// log-in and log-out load the next page afresh, and an expired session sends the browser to
/// the log-in page). Provided by each page's island (`ui::app::Page`).
#[derive(Clone, Copy)]
pub struct Me(pub StoredValue<Option<crate::api::guard::Caller>>);

impl Me {
    /// The logged-in user, if any.
    pub fn user(self) -> Option<crate::api::guard::Caller> {
        self.0.get_value()
    }
}

/// The logged-in user, from the `Me` context (None while loading, logged out, or outside `App`).
pub fn use_me() -> Option<Me> {
    use_context::<Me>()
}

/// Shows its children only when the logged-in user's role allows `what`. The server checks every
/// call anyway; this keeps controls a role may not use off its pages.
/// `otherwise`: a note shown instead (e.g. who may use the form), when there is one.
#[component]
pub fn IfAllowed(
    what: crate::domain::accounts::Permission,
    #[prop(optional)] otherwise: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    let user = use_me().and_then(Me::user);
    if user.as_ref().is_some_and(|u| u.allows(what)) {
        children().into_any()
    } else {
        otherwise
            .map(|note| {
                let role = user.map(|u| u.role.label()).unwrap_or("your role");
                view! { <p class="note role-note">{format!("{note} (you are {role}).")}</p> }
            })
            .into_any()
    }
}

/// Whether the logged-in user's role allows `what`, as a signal (for controls inside a table
/// that is already inside a `Suspense`; elsewhere use `IfAllowed`).
pub fn can(what: crate::domain::accounts::Permission) -> Signal<bool> {
    Signal::stored(allowed(use_me(), what))
}

/// Whether the logged-in user's role allows `what` (`use_me()`, taken outside any async block).
pub fn allowed(me: Option<Me>, what: crate::domain::accounts::Permission) -> bool {
    me.and_then(Me::user).is_some_and(|u| u.allows(what))
}
