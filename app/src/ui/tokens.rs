//! The API tokens page: make a token (shown once, with a curl line to try it), list tokens with
//! their last use, revoke one (after a confirmation).

use super::live_html::Live;
use super::widgets::{use_me, ErrorBox, Me};
use crate::api::tokens::{list_tokens, CreateToken, RevokeToken};
use crate::domain::accounts::Role;
use crate::domain::clock;
use leptos::prelude::*;

/// Rendered on the server only: the `Enhance` island posts the forms. A token made is shown in
/// the hidden block below the form (`data-show`), this once; the list is a `Live` part, read
/// again after each change; Revoke asks first.
#[component]
pub fn TokensPage() -> impl IntoView {
    let tokens = Resource::new(|| (), |_| list_tokens());
    let me = use_me();
    // Only roles within the caller's own: a token may not do more. It starts at the least it
    // may be given: viewer (read only) where the caller's role covers it, else the caller's own
    // (a reviewer's: viewers read answers beside their models, reviewers never do).
    let mine = me.and_then(Me::user).map(|u| u.role);
    let start = mine.map(token_default);
    let role_label = match start {
        Some(Role::Viewer) => "Role (starts at viewer: read only; pick more only if the script needs it)".to_string(),
        Some(r) => format!("Role (yours, {}: the only one a token of yours may have)", r.label()),
        None => "Role".to_string(),
    };
    view! {
        <h1>"API tokens"</h1>
        <p class="lead">
            "A token lets a script call Bakeoff's REST API as you, sent as "
            <code>"Authorization: Bearer TOKEN"</code>
            ". It may do at most what you may (and never more than your role is at the time), ends when you revoke it or when it expires, and is not ended by idleness as a browser session is. From a terminal on the server: "
            <code>"bakeoff token create NAME"</code> "."
        </p>
        <Fresh/>
        <h2>"Make a token"</h2>
        <ActionForm action={ServerAction::<CreateToken>::new()} attr:aria-label="Make an API token" attr:data-show="fresh-token" attr:data-reset="">
            <div class="row">
                <div class="field">
                    <label for="t-name">"Name (what uses it)"</label>
                    <input id="t-name" name="name" type="text" maxlength="64" placeholder="nightly benchmark" required/>
                </div>
                <div class="field">
                    <label for="t-role">{role_label}</label>
                    <select id="t-role" name="role">
                        {Role::ALL
                            .into_iter()
                            .filter(|r| mine.is_some_and(|m| r.within(m)))
                            .map(|r| view! { <option value=r.label() selected=Some(r) == start>{r.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="t-days">"Expires after (days; empty: never)"</label>
                    <input id="t-days" name="expires_days" type="number" min="1" max="3650" step="1"/>
                </div>
            </div>
            <button type="submit" class="primary">"Make token"</button>
        </ActionForm>
        <h2>"Tokens"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.tokens.is_empty() => view! { <Live id="tokens" every_ms=0><p class="empty">"No tokens yet: make one above."</p></Live> }.into_any(),
                    Ok(list) => {
                        let now = list.now;
                        view! {
                            <Live id="tokens" every_ms=0>
                            <table class="tokens">
                                <thead><tr><th>"Name"</th><th>"Token"</th><th>"Owner"</th><th>"Role"</th><th>"Made"</th><th>"Last used"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                                <tbody>
                                    {list.tokens.into_iter().map(|t| {
                                        let state = t.state(now);
                                        let when = |x: Option<i64>, none: &'static str| x.map_or(none.to_string(), clock::readable);
                                        let consequences = format!("'{}' ({}, of {}): scripts using it get 401 \"this API token was revoked\" from now on; this cannot be undone.", t.name, t.hint, t.owner);
                                        let (label, id) = (format!("Revoke {}", t.name), t.id.to_string());
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
                                                    <ActionForm action={ServerAction::<RevokeToken>::new()} attr:class="inline" attr:data-confirm=consequences attr:data-confirm-title="Revoke the token?">
                                                        <input type="hidden" name="id" value=id/>
                                                        <button type="submit" class="danger" aria-label=label>"Revoke…"</button>
                                                    </ActionForm>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </Live>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
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

/// A token just made, shown this once with how to use it: hidden until the form's answer fills
/// it in (`data-show`; `{origin}` is the page's own).
#[component]
fn Fresh() -> impl IntoView {
    view! {
        <div id="fresh-token" class="ok new-token" role="status" hidden>
            <p>"Your new token '" <span data-fill="name"></span> "' (" <span data-fill="role"></span> "). Copy it now: it is shown only this once (select it and copy). " <span data-fill="expiry"></span></p>
            <pre><code class="token" data-fill="token"></code></pre>
            <p>"Try it:"</p>
            <pre><code>"curl -H \"Authorization: Bearer " <span data-fill="token"></span> "\" " <span data-fill="origin"></span> "/api/runs"</code></pre>
        </div>
    }
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
