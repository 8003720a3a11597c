//! The API tokens page: make a token (shown once, with a curl line to try it), list tokens with
//! their last use, revoke one (after a confirmation).

use super::widgets::{use_me, ErrorBox, FieldMessage, FormMessage, Me};
use crate::api::tokens::{list_tokens, CreateToken, RevokeToken};
use crate::api::AppError;
use crate::domain::accounts::Role;
use crate::domain::clock;
use crate::domain::tokens::{NewToken, TokenView};
use leptos::prelude::*;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let error: Signal<Option<AppError>> = Signal::derive(move || create.value().get().and_then(Result::err));
    // The token whose Revoke button was pressed, waiting for the confirmation.
    let confirming = RwSignal::new(None::<TokenView>);
    let me = use_me();
    view! {
        <h1>"API tokens"</h1>
        <p class="lead">
            "A token lets a script call Bakeoff's REST API as you, sent as "
            <code>"Authorization: Bearer TOKEN"</code>
            ". It may do at most what you may (and never more than your role is at the time), ends when you revoke it or when it expires, and is not ended by idleness as a browser session is. From a terminal on the server: "
            <code>"bakeoff token create NAME"</code> "."
        </p>
        {move || create.value().get().and_then(Result::ok).map(|t| view! { <Fresh token=t/> })}
        <h2>"Make a token"</h2>
        <ActionForm action=create attr:aria-label="Make an API token">
            <FormMessage error fields=vec!["name", "role", "expires_days"]/>
            <div class="row">
                <div class="field">
                    <label for="t-name">"Name (what uses it)"</label>
                    <input id="t-name" name="name" type="text" maxlength="64" placeholder="nightly benchmark" required/>
                    <FieldMessage error field="name"/>
                </div>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let mine = me.and_then(Me::user).map(|u| u.role);
                        // Only roles within the caller's own: a token may not do more. It starts
                        // at the least it may be given: viewer (read only) where the caller's role
                        // covers it, else the caller's own (a reviewer's: viewers read answers
                        // beside their models, reviewers never do).
                        let start = mine.map(token_default);
                        let label = match start {
                            Some(Role::Viewer) => "Role (starts at viewer: read only; pick more only if the script needs it)".to_string(),
                            Some(r) => format!("Role (yours, {}: the only one a token of yours may have)", r.label()),
                            None => "Role".to_string(),
                        };
                        view! {
                            <div class="field">
                                <label for="t-role">{label}</label>
                                <select id="t-role" name="role">
                                    {Role::ALL
                                        .into_iter()
                                        .filter(|r| mine.is_some_and(|m| r.within(m)))
                                        .map(|r| view! { <option value=r.label() selected=Some(r) == start>{r.label()}</option> })
                                        .collect_view()}
                                </select>
                                <FieldMessage error field="role"/>
                            </div>
                        }
                    })}
                </Suspense>
                <div class="field">
                    <label for="t-days">"Expires after (days; empty: never)"</label>
                    <input id="t-days" name="expires_days" type="number" min="1" max="3650" step="1"/>
                    <FieldMessage error field="expires_days"/>
                </div>
            </div>
            <button type="submit" class="primary">"Make token"</button>
        </ActionForm>
        <h2>"Tokens"</h2>
        {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
        {move || confirming.get().map(|t| {
            let id = t.id;
            view! {
                <div class="form-error" role="alertdialog" aria-label="Revoke the token?">
                    <p>{format!("Revoke '{}' ({}, of {})? Scripts using it get 401 \"this API token was revoked\" from now on; this cannot be undone.", t.name, t.hint, t.owner)}</p>
                    <button type="button" class="danger" on:click=move |_| { revoke.dispatch(RevokeToken { id }); confirming.set(None); }>"Revoke"</button>
                    " "
                    <button type="button" on:click=move |_| confirming.set(None)>"Keep it"</button>
                </div>
            }
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.tokens.is_empty() => view! { <p class="empty">"No tokens yet: make one above."</p> }.into_any(),
                    Ok(list) => {
                        let now = list.now;
                        view! {
                            <table class="tokens">
                                <thead><tr><th>"Name"</th><th>"Token"</th><th>"Owner"</th><th>"Role"</th><th>"Made"</th><th>"Last used"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                                <tbody>
                                    {list.tokens.into_iter().map(|t| {
                                        let state = t.state(now);
                                        let asked = t.clone();
                                        let when = |x: Option<i64>, none: &'static str| x.map_or(none.to_string(), clock::readable);
                                        view! {
                                            <tr class=format!("token-{state}")>
                                                <td>{t.name.clone()}</td>
                                                <td><code>{format!("{}…", t.hint)}</code></td>
                                                <td>{t.owner.clone()}</td>
                                                <td>{t.role.label()}</td>
                                                <td>{clock::readable(t.created_at)}</td>
                                                <td>{when(t.last_used_at, "never")}</td>
                                                <td>{when(t.expires_at, "never")}</td>
                                                <td>{match t.revoked_at { Some(at) => format!("revoked {}", clock::readable(at)), None => state.to_string() }}</td>
                                                <td>{(t.revoked_at.is_none()).then(|| view! {
                                                    <button type="button" class="danger" aria-label=format!("Revoke {}", t.name) on:click=move |_| confirming.set(Some(asked.clone()))>"Revoke…"</button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The role a new token starts at for a user of role `mine`: the least privilege, viewer, when
/// their role covers it, else their own.
fn token_default(mine: Role) -> Role {
    if Role::Viewer.within(mine) {
        Role::Viewer
    } else {
        mine
    }
}

/// A token just made: shown this once, with how to use it.
#[component]
fn Fresh(token: NewToken) -> impl IntoView {
    let curl = format!("curl -H \"Authorization: Bearer {}\" {}/api/runs", token.token, origin());
    let expiry = token
        .expires_at
        .map_or("It does not expire.".to_string(), |e| format!("It expires {}.", clock::readable(e)));
    view! {
        <div class="ok new-token" role="status">
            <p>{format!("Your new token '{}' ({}). Copy it now: it is shown only this once (select it and copy). {expiry}", token.name, token.role.label())}</p>
            <pre><code class="token">{token.token.clone()}</code></pre>
            <p>"Try it:"</p>
            <pre><code>{curl}</code></pre>
        </div>
    }
}

/// Where this page was loaded from (for the example), as the browser sees it.
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        if let Ok(o) = window().location().origin() {
            return o;
        }
    }
    "http://BAKEOFF-HOST:3000".to_string()
}

#[cfg(test)]
mod tests {
    use super::{token_default, Role};

    #[test]
    fn a_new_token_starts_at_viewer_or_at_the_only_role_it_may_have() {
        assert_eq!(token_default(Role::Admin), Role::Viewer);
        assert_eq!(token_default(Role::Runner), Role::Viewer);
        assert_eq!(token_default(Role::Viewer), Role::Viewer);
        assert_eq!(token_default(Role::Reviewer), Role::Reviewer);
    }
}
