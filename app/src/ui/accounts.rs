use super::widgets::{use_me, ErrorBox, FieldMessage, FormMessage, IfAllowed, Me};
use crate::api::accounts::{delete_user, list_users, AddUser, ChangePassword, DeleteUser, Login, Logout, SetUserRole};
use crate::api::grading::{open_assignments, OpenAssignment};
use crate::api::runs::Removal;
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::accounts::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Rendered on the server only; the form is an island.
#[component]
pub fn LoginPage() -> impl IntoView {
    let next = use_query_map().read_untracked().get("next").unwrap_or_else(|| "/".into());
    view! {
        <h1>"Log in"</h1>
        <p class="lead">"Every page of Bakeoff needs a log-in. On a new installation, the first start prints a one-time password for the user admin."</p>
        <LoginForm next/>
    }
}

/// The log-in form: a refusal is shown at its field; a log-in loads `next` afresh, so everything
/// on it (the header, the controls the role may use) is for the new session.
#[island]
fn LoginForm(next: String) -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error: Signal<Option<AppError>> = Signal::derive(move || login.value().get().and_then(Result::err));
    let to = if crate::api::accounts::local_path(&next) {
        next.clone()
    } else {
        "/".to_string()
    };
    Effect::new(move |_| {
        if let Some(Ok(())) = login.value().get() {
            reload_at(&to);
        }
    });
    view! {
        <ActionForm action=login attr:class="login" attr:aria-label="Log in">
            <FormMessage error fields=vec!["password"]/>
            <input type="hidden" name="next" value=next/>
            <div class="field">
                <label for="login-name">"User name"</label>
                <input id="login-name" name="name" type="text" autocomplete="username" required/>
            </div>
            <div class="field">
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password" autocomplete="current-password" required/>
                <FieldMessage error field="password"/>
            </div>
            <button type="submit" class="primary">"Log in"</button>
        </ActionForm>
    }
}

/// Load `path` afresh (a full page load, not a client-side navigation).
fn reload_at(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// The user's name and role, and the log-out button, in the header (an island: the menu closes
/// on a click, and log-out loads the log-in page).
#[island]
pub fn UserBadge(user: crate::api::guard::Caller) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            reload_at("/login");
        }
    });
    // The account's pages in one menu under the user's name (the nav keeps to one line at
    // 1366 px); a click on one closes it.
    let menu = NodeRef::<leptos::html::Details>::new();
    let close = move |_| {
        if let Some(d) = menu.get() {
            let _ = d.remove_attribute("open");
        }
    };
    view! {
        <span class="me">
            <details class="menu" node_ref=menu>
                <summary>{format!("{} ({})", user.name, user.role.label())}</summary>
                <div class="menu-items" on:click=close>
                    <a href="/account">"Your account"</a>
                    <a href="/tokens">"API tokens"</a>
                    <a href="/workers">"Workers"</a>
                    {(user.role == Role::Admin).then(|| view! {
                        <a href="/users">"Users"</a>
                        <a href="/audit">"Audit log"</a>
                        <a href="/trash">"Trash"</a>
                    })}
                </div>
            </details>
            <ActionForm action=logout attr:class="inline">
                <button type="submit" class="link">"Log out"</button>
            </ActionForm>
        </span>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    // Rendered on the server only: who is logged in comes with the page; the form is an island.
    let user = use_me().and_then(Me::user);
    view! {
        <h1>"Your account"</h1>
        {user.map(|u| view! {
            <p>{format!("Logged in as {} ({}).", u.name, u.role.label())}</p>
            {u.must_change_password.then(|| view! { <p class="form-error" role="alert">"You logged in with a one-time password: choose your own before anything else."</p> })}
        })}
        <h2>"API tokens"</h2>
        <p>"Scripts call the REST API with a token of their own instead of your password: " <a href="/tokens">"make and revoke API tokens"</a> "."</p>
        <h2>"Change password"</h2>
        <ChangePasswordForm/>
    }
}

/// The change-password form (an island: each field's message, and the result, without a reload).
#[island]
fn ChangePasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error: Signal<Option<AppError>> = Signal::derive(move || change.value().get().and_then(Result::err));
    view! {
        <ActionForm action=change attr:aria-label="Change password">
            <FormMessage error fields=vec!["current", "new_password", "repeat"]/>
            <div class="field"><label for="pw-current">"Current password"</label><input id="pw-current" name="current" type="password" autocomplete="current-password"/><FieldMessage error field="current"/></div>
            <div class="field"><label for="pw-new">"New password (8 characters or more)"</label><input id="pw-new" name="new_password" type="password" autocomplete="new-password"/><FieldMessage error field="new_password"/></div>
            <div class="field"><label for="pw-repeat">"New password again"</label><input id="pw-repeat" name="repeat" type="password" autocomplete="new-password"/><FieldMessage error field="repeat"/></div>
            <button type="submit" class="primary">"Change password"</button>
            {move || change.value().get().and_then(Result::ok).map(|_| view! { <p class="ok" role="status">"Password changed. Your other sessions were closed."</p> })}
        </ActionForm>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let delete = ServerAction::<DeleteUser>::new();
    // "Delete…" asks the server what would go (nothing is deleted without `confirm`), and the
    // panel asks the admin again, naming it.
    let asked: RwSignal<Option<(i64, String)>> = RwSignal::new(None);
    let preview = Action::new(|id: &i64| delete_user(*id, false));
    let deleted: RwSignal<Option<String>> = RwSignal::new(None);
    Effect::new(move |_| {
        if let Some(Ok(r)) = delete.value().get() {
            asked.set(None);
            deleted.set(Some(format!("Deleted {}.", r.what)));
        }
    });
    let ask = move |id: i64, name: String| {
        deleted.set(None);
        delete.value().set(None);
        preview.value().set(None);
        preview.dispatch(id);
        asked.set(Some((id, name)));
    };
    // A role picked in the table waits here for the confirmation (the box says what the user
    // still has to judge in open queues); `changed` is what the last confirmed change was.
    let role_asked: RwSignal<Option<RoleChange>> = RwSignal::new(None);
    let assignments = Action::new(|id: &i64| open_assignments(*id));
    let changed: RwSignal<Option<(String, Role)>> = RwSignal::new(None);
    let ask_role = move |c: RoleChange| {
        deleted.set(None);
        changed.set(None);
        set_role.value().set(None);
        assignments.value().set(None);
        assignments.dispatch(c.id);
        role_asked.set(Some(c));
    };
    let users = Resource::new(
        move || (add.version().get(), set_role.version().get(), delete.version().get()),
        |_| list_users(),
    );
    let error: Signal<Option<AppError>> = Signal::derive(move || add.value().get().and_then(Result::err));
    let other_error = move || set_role.value().get().and_then(Result::err);
    view! {
        <h1>"Users"</h1>
        <p class="lead">"Roles: admin (everything, and users), runner (launch runs, change data), reviewer (grade), viewer (read only). From a terminal: " <code>"echo PASSWORD | bakeoff user add NAME --role reviewer"</code></p>
        {move || other_error().map(|e| view! { <ErrorBox error=e/> })}
        {move || deleted.get().map(|m| view! { <p class="ok" role="status">{m}</p> })}
        {move || match (set_role.value().get(), changed.get()) {
            (Some(Ok(())), Some((name, role))) => Some(view! { <p class="ok" role="status">{format!("{name} is now {}.", role_words(role))}</p> }),
            _ => None,
        }}
        {move || asked.get().map(|(id, name)| view! { <DeleteUserBox id name preview delete asked/> })}
        {move || role_asked.get().map(|c| view! { <RoleChangeBox change=c assignments set_role asked=role_asked changed/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! {
                        <table class="users">
                            <thead><tr><th>"Name"</th><th>"Role"</th><th>"Added"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| {
                                    let (id, name) = (u.id, u.name.clone());
                                    let (who, from) = (u.name.clone(), u.role);
                                    // What the select shows: set back to the stored role when
                                    // the change is not confirmed.
                                    let shown = RwSignal::new(u.role.label().to_string());
                                    view! {
                                        <tr>
                                            <td>{u.name.clone()} {u.must_change_password.then_some(" (one-time password)")}</td>
                                            <td>
                                                <select aria-label=format!("role of {}", u.name) prop:value=move || shown.get()
                                                    on:change=move |ev| {
                                                        if let Some(to) = Role::parse(&event_target_value(&ev)) {
                                                            ask_role(RoleChange { id, name: who.clone(), from, to, shown });
                                                        }
                                                    }>
                                                    {Role::ALL.into_iter().map(|r| view! { <option value=r.label() selected=r == u.role>{r.label()}</option> }).collect_view()}
                                                </select>
                                            </td>
                                            <td>{u.created_at.clone()}</td>
                                            <td><button type="button" class="small danger" aria-label=format!("Delete user {name}")
                                                on:click=move |_| ask(id, name.clone())>"Delete…"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
        <IfAllowed what=Permission::Admin otherwise="Admins manage users">
        <h2>"Add a user"</h2>
        <ActionForm action=add attr:aria-label="Add a user">
            <FormMessage error fields=vec!["name", "role", "password"]/>
            <div class="row">
                <div class="field"><label for="u-name">"Name"</label><input id="u-name" name="name" type="text"/><FieldMessage error field="name"/></div>
                <div class="field">
                    <label for="u-role">"Role (starts at viewer: read only)"</label>
                    <select id="u-role" name="role">{Role::ALL.into_iter().map(|r| view! { <option value=r.label() selected=r == Role::Viewer>{r.label()}</option> }).collect_view()}</select>
                    <FieldMessage error field="role"/>
                </div>
                <div class="field"><label for="u-password">"Password"</label><input id="u-password" name="password" type="password" autocomplete="new-password"/><FieldMessage error field="password"/></div>
            </div>
            <button type="submit" class="primary">"Add user"</button>
        </ActionForm>
        </IfAllowed>
    }
}

/// A role picked in the users table, not yet confirmed.
#[derive(Clone, Debug)]
struct RoleChange {
    id: i64,
    name: String,
    from: Role,
    to: Role,
    /// The row's select, set back to `from` if the admin keeps the role.
    shown: RwSignal<String>,
}

/// "a viewer (read only)": the role with what it may do.
fn role_words(r: Role) -> String {
    let what = match r {
        Role::Admin => "everything, and users",
        Role::Runner => "launch runs, change data",
        Role::Reviewer => "grade",
        Role::Viewer => "read only",
    };
    let article = if r == Role::Admin { "an" } else { "a" };
    format!("{article} {} ({what})", r.label())
}

/// What the user still has to judge, when their new role may not grade: the items stay dealt to
/// them until someone removes them from the queue. None when nothing is left or they still grade.
fn grading_warning(name: &str, to: Role, left: &[OpenAssignment]) -> Option<String> {
    if to.allows(Permission::Grade) || left.is_empty() {
        return None;
    }
    let items: i64 = left.iter().map(|a| a.remaining).sum();
    let queues = left
        .iter()
        .map(|a| format!("'{}' ({} left)", a.queue, a.remaining))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "{name} still has {items} item{} to judge in open queues: {queues}. As {} they cannot grade them, and nobody else gets them until the queue's maker or an admin removes {name} from the queue on its page (which deals them to its other reviewers).",
        if items == 1 { "" } else { "s" },
        role_words(to)
    ))
}

/// Confirm a change of role, warning when the user still has items to judge that their new role
/// may not grade.
#[component]
fn RoleChangeBox(
    change: RoleChange,
    assignments: Action<i64, Result<Vec<OpenAssignment>, AppError>>,
    set_role: ServerAction<SetUserRole>,
    asked: RwSignal<Option<RoleChange>>,
    changed: RwSignal<Option<(String, Role)>>,
) -> impl IntoView {
    let RoleChange { id, name, from, to, shown } = change;
    let title = format!("Make {name} {}?", role_words(to));
    let aria = format!("Change the role of {name}?");
    let keep = move || {
        shown.set(from.label().to_string());
        asked.set(None);
    };
    let warn_name = name.clone();
    let done_name = name.clone();
    view! {
        <div class="manage-panel" role="alertdialog" aria-label=aria
            on:keydown=move |ev| if ev.key() == "Escape" { keep() }>
            <h2>{title}</h2>
            <p>{format!("{name} is {} now; the change applies at their next request (their sessions and tokens stay, within the new role).", role_words(from))}</p>
            {move || match assignments.value().get() {
                None => Some(view! { <p class="note">"Looking at what they still have to judge…"</p> }.into_any()),
                Some(Err(e)) => Some(view! { <ErrorBox error=e/> }.into_any()),
                Some(Ok(left)) => grading_warning(&warn_name, to, &left).map(|w| view! { <p class="form-error" role="alert">{w}</p> }.into_any()),
            }}
            <button type="button" class="primary" disabled=move || assignments.pending().get() || set_role.pending().get()
                on:click=move |_| {
                    changed.set(Some((done_name.clone(), to)));
                    set_role.dispatch(SetUserRole { id, role: to.label().to_string() });
                    shown.set(to.label().to_string());
                    asked.set(None);
                }>{format!("Make them {}", to.label())}</button>
            " "
            <button type="button" on:click=move |_| keep()>{format!("Keep {}", from.label())}</button>
        </div>
    }
}

/// What deleting a user takes with them, the alternative (a change of role keeps their work),
/// and the confirmation.
#[component]
fn DeleteUserBox(
    id: i64,
    name: String,
    preview: Action<i64, Result<Removal, AppError>>,
    delete: ServerAction<DeleteUser>,
    asked: RwSignal<Option<(i64, String)>>,
) -> impl IntoView {
    let title = format!("Delete user {name}?");
    let aria = title.clone();
    let keep = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(el) = keep.get() {
            let _ = el.focus();
        }
    });
    view! {
        <div class="manage-panel" role="alertdialog" aria-label=aria
            on:keydown=move |ev| if ev.key() == "Escape" { asked.set(None) }>
            <h2>{title}</h2>
            {move || match preview.value().get() {
                None => view! { <p class="note">"Working out what goes with them…"</p> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(r)) => {
                    let name = name.clone();
                    view! {
                        <p class="consequences">{r.consequences()} " " {r.fate()}</p>
                        <p class="note">{format!(
                            "To keep {name}'s grades and votes but take away what they may do, change their role instead (viewer: read only); Bakeoff has no way to disable an account."
                        )}</p>
                        <button type="button" class="danger" disabled=move || delete.pending().get()
                            on:click=move |_| { delete.dispatch(DeleteUser { id, confirm: true }); }>{format!("Delete {name} and all of this")}</button>
                        " "
                    }
                    .into_any()
                }
            }}
            {move || delete.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
            <button type="button" node_ref=keep on:click=move |_| asked.set(None)>"Keep them"</button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{grading_warning, role_words, OpenAssignment, Role};

    #[test]
    fn a_reviewer_made_viewer_with_items_left_is_warned_about() {
        let left = vec![OpenAssignment {
            queue: "Team check".into(),
            remaining: 4,
        }];
        let w = grading_warning("rev3", Role::Viewer, &left).expect("a warning");
        assert!(
            w.starts_with("rev3 still has 4 items to judge in open queues: 'Team check' (4 left)."),
            "{w}"
        );
        assert!(w.contains("As a viewer (read only) they cannot grade them"), "{w}");
        assert_eq!(grading_warning("rev3", Role::Admin, &left), None, "admins still grade");
        assert_eq!(grading_warning("rev3", Role::Viewer, &[]), None, "nothing left to judge");
        assert_eq!(role_words(Role::Admin), "an admin (everything, and users)");
    }
}
