//! The Audit page (admins): who did what and when, newest first, filtered by who, which
//! actions and when, 50 a page (keyset on the entry id), and the filtered entries as JSON lines.
//! Rendered on the server only (a GET form and links).

use super::widgets::{ErrorBox, IfAllowed};
use crate::api::audit::audit_entries;
use crate::domain::accounts::Permission;
use crate::domain::audit::{AuditEntry, AuditQuery};
use crate::domain::clock;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// Action words to pick from (the filter takes any prefix).
const ACTIONS: [&str; 14] = [
    "login",
    "login.failed",
    "logout",
    "token",
    "user",
    "run",
    "run.launch",
    "run.cancel",
    "dataset",
    "endpoint",
    "endpoint.launch_command",
    "queue",
    "queue.reveal",
    "price",
];

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <h1>"Audit log"</h1>
        <p class="lead">"Who did what and when: log-ins (and failed ones), API tokens, users and roles, launches and cancels, uploads and imports, renames and deletes, endpoints and their launch commands, grading queues and their reveals, prices. Kept in the database; newest first; times in UTC."</p>
        <IfAllowed what=Permission::Audit otherwise="Only admins read the audit log">
            <Entries/>
        </IfAllowed>
    }
}

/// The filter's address holds only what was given: a plain GET form sends its empty fields too
/// (`actor=&since=`), so a query with an empty or unnamed field is sent on to the same page
/// without them. `None` when the query is clean.
#[cfg(any(feature = "ssr", test))]
pub fn cleaned_query(query: &str) -> Option<String> {
    let given: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            !name.is_empty() && !value.replace('+', "").replace("%20", "").is_empty()
        })
        .collect();
    let cleaned = given.join("&");
    (cleaned != query).then_some(cleaned)
}

/// On the server: send a filter with empty fields on to its clean address.
fn redirect_to_clean_filter() {
    #[cfg(feature = "ssr")]
    {
        let query = use_context::<axum::http::request::Parts>().and_then(|p| p.uri.query().map(str::to_string));
        if let Some(clean) = query.as_deref().and_then(cleaned_query) {
            let to = if clean.is_empty() {
                "/audit".to_string()
            } else {
                format!("/audit?{clean}")
            };
            leptos_axum::redirect(&to);
        }
    }
}

#[component]
fn Entries() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditQuery {
            actor: get("actor"),
            action: get("action"),
            since: get("since"),
            until: get("until"),
            before: get("before"),
            limit: String::new(),
        }
    });
    redirect_to_clean_filter();
    let page = Resource::new(move || filter.get(), audit_entries);
    view! {
        <form method="get" action="/audit" class="filter" aria-label="Filter the audit log">
            <div class="field">
                <label for="a-actor">"User (exactly)"</label>
                <input id="a-actor" name="actor" type="search" value=move || filter.read().actor.clone()/>
            </div>
            <div class="field">
                <label for="a-action">"Action starts with"</label>
                <input id="a-action" name="action" type="search" list="a-actions" value=move || filter.read().action.clone()/>
                <datalist id="a-actions">{ACTIONS.into_iter().map(|a| view! { <option value=a></option> }).collect_view()}</datalist>
            </div>
            <div class="field">
                <label for="a-since">"From (UTC)"</label>
                <input id="a-since" name="since" type="date" value=move || filter.read().since.clone()/>
            </div>
            <div class="field">
                <label for="a-until">"To (UTC, the whole day)"</label>
                <input id="a-until" name="until" type="date" value=move || filter.read().until.clone()/>
            </div>
            <button type="submit">"Filter"</button>
            {move || (filter.read() != AuditQuery::default()).then(|| view! { <A href="/audit">"Clear"</A> })}
        </form>
        <p>
            {move || {
                // Every entry the filter matches (not only this page).
                let all = AuditQuery { before: String::new(), ..filter.get() };
                let q = all.query_string();
                let href = if q.is_empty() { "/api/audit".to_string() } else { format!("/api/audit?{q}") };
                view! { <a href=href download="bakeoff-audit.jsonl">"Download these entries (JSON lines)"</a> }
            }}
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) if p.entries.is_empty() => view! { <p class="empty">"No entry matches."</p> }.into_any(),
                    Ok(p) => {
                        let older = p.older.map(|id| {
                            let q = AuditQuery { before: id.to_string(), ..filter.get_untracked() }.query_string();
                            view! { <A href=format!("/audit?{q}")>"Older entries →"</A> }
                        });
                        let newest = (!filter.get_untracked().before.is_empty()).then(|| {
                            let q = AuditQuery { before: String::new(), ..filter.get_untracked() }.query_string();
                            let href = if q.is_empty() { "/audit".to_string() } else { format!("/audit?{q}") };
                            view! { <A href=href>"← Newest"</A> " " }
                        });
                        view! {
                            <table class="audit">
                                <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Detail"</th><th>"From"</th></tr></thead>
                                <tbody>{p.entries.into_iter().map(|e| view! { <Row e/> }).collect_view()}</tbody>
                            </table>
                            <p class="pager">{newest}{older}</p>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Row(e: AuditEntry) -> impl IntoView {
    let who = match e.actor_id {
        Some(_) => e.actor_name.clone(),
        // Not a logged-in user: the command line, or the name a failed log-in tried.
        None => format!("{} (not logged in)", e.actor_name),
    };
    view! {
        <tr>
            <td>{clock::rfc3339(e.at).replace('T', " ").replace('Z', "")}</td>
            <td>{who}</td>
            <td><code>{e.action.clone()}</code></td>
            <td>{e.target.clone()}</td>
            <td>{e.detail.clone()}</td>
            <td>{e.client.clone().unwrap_or_default()}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::cleaned_query;

    #[test]
    fn a_filter_keeps_only_the_fields_given() {
        assert_eq!(cleaned_query("actor=&action=login&since=&until="), Some("action=login".into()));
        assert_eq!(cleaned_query("action=login&="), Some("action=login".into()));
        assert_eq!(cleaned_query("actor=+&action="), Some(String::new()));
        assert_eq!(cleaned_query("action=login&before=42"), None);
        assert_eq!(cleaned_query("action=run.launch"), None);
    }
}
