use super::live_html::Live;
use super::widgets::{use_me, ErrorBox, IfAllowed, Me};
use crate::api::accounts::{delete_user, list_users, AddUser, ChangePassword, DeleteUser, Login, Logout, SetUserRole};
use crate::api::grading::{open_assignments, OpenAssignment};
use crate::api::runs::Removal;
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::accounts::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Rendered on the server only, the form too.
#[component]
pub fn LoginPage() -> impl IntoView {
    let next = use_query_map().read_untracked().get("next").unwrap_or_else(|| "/".into());
    view! {
        <h1>"Log in"</h1>
        <p class="lead">"Every page of Bakeoff needs a log-in. On a new installation, the first start prints a one-time password for the user admin."</p>
        <LoginForm next/>
    }
}

/// The log-in form, posted by the `Enhance` island: a refusal is shown at its field; a log-in
/// loads `next` afresh, so everything on it (the header, the controls the role may use) is for
/// the new session.
#[component]
fn LoginForm(next: String) -> impl IntoView {
    let to = if crate::api::accounts::local_path(&next) {
        next.clone()
    } else {
        "/".to_string()
    };
    view! {
        <ActionForm action={ServerAction::<Login>::new()} attr:class="login" attr:aria-label="Log in" attr:data-go=to>
            <input type="hidden" name="next" value=next/>
            <div class="field">
                <label for="login-name">"User name"</label>
                <input id="login-name" name="name" type="text" autocomplete="username" required/>
            </div>
            <div class="field">
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password" autocomplete="current-password" required/>
            </div>
            <button type="submit" class="primary">"Log in"</button>
        </ActionForm>
    }
}

/// The user's name and role, the account's pages in one menu under it (the nav keeps to one line
/// at 1366 px), and the log-out button (posted by the `Enhance` island, which then loads the
/// log-in page).
#[component]
pub fn UserBadge(user: crate::api::guard::Caller) -> impl IntoView {
    view! {
        <span class="me">
            <details class="menu">
                <summary>{format!("{} ({})", user.name, user.role.label())}</summary>
                <div class="menu-items">
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
            <ActionForm action={ServerAction::<Logout>::new()} attr:class="inline" attr:data-then="go:/login">
                <button type="submit" class="link">"Log out"</button>
            </ActionForm>
        </span>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    // Rendered on the server only: who is logged in comes with the page.
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

/// The change-password form, posted by the `Enhance` island: each field's message, and the
/// result, without a reload.
#[component]
fn ChangePasswordForm() -> impl IntoView {
    view! {
        <ActionForm action={ServerAction::<ChangePassword>::new()} attr:aria-label="Change password" attr:data-reset="" attr:data-ok="Password changed. Your other sessions were closed.">
            <div class="field"><label for="pw-current">"Current password"</label><input id="pw-current" name="current" type="password" autocomplete="current-password"/></div>
            <div class="field"><label for="pw-new">"New password (8 characters or more)"</label><input id="pw-new" name="new_password" type="password" autocomplete="new-password"/></div>
            <div class="field"><label for="pw-repeat">"New password again"</label><input id="pw-repeat" name="repeat" type="password" autocomplete="new-password"/></div>
            <button type="submit" class="primary">"Change password"</button>
        </ActionForm>
    }
}

/// Rendered on the server only. Each row's role is a form sent as its select changes, after a
/// confirmation the `Enhance` island draws from the chosen option (what the user still has to
/// judge, worked out here for each role); Delete asks first too, saying what goes with them (the
/// server's own dry run). The table is a `Live` part, read again after each change.
#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new(
        || (),
        |_| async move {
            let list = list_users().await?;
            let mut rows = Vec::with_capacity(list.len());
            for u in list {
                let left = open_assignments(u.id).await?;
                // What deleting them takes (the server's dry run), or why they cannot be (yourself).
                let removal = delete_user(u.id, false).await.map_err(|e| e.to_string());
                rows.push((u, left, removal));
            }
            Ok::<_, AppError>(rows)
        },
    );
    view! {
        <h1>"Users"</h1>
        <p class="lead">"Roles: admin (everything, and users), runner (launch runs, change data), reviewer (grade), viewer (read only). From a terminal: " <code>"echo PASSWORD | bakeoff user add NAME --role reviewer"</code></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! {
                        <Live id="users" every_ms=0>
                        <table class="users">
                            <thead><tr><th>"Name"</th><th>"Role"</th><th>"Added"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|(u, left, removal)| view! { <UserRow u left removal/> }).collect_view()}
                            </tbody>
                        </table>
                        </Live>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <IfAllowed what=Permission::Admin otherwise="Admins manage users">
        <h2>"Add a user"</h2>
        <ActionForm action={ServerAction::<AddUser>::new()} attr:aria-label="Add a user" attr:data-reset="" attr:data-ok="User added.">
            <div class="row">
                <div class="field"><label for="u-name">"Name"</label><input id="u-name" name="name" type="text"/></div>
                <div class="field">
                    <label for="u-role">"Role (starts at viewer: read only)"</label>
                    <select id="u-role" name="role">{Role::ALL.into_iter().map(|r| view! { <option value=r.label() selected=r == Role::Viewer>{r.label()}</option> }).collect_view()}</select>
                </div>
                <div class="field"><label for="u-password">"Password"</label><input id="u-password" name="password" type="password" autocomplete="new-password"/></div>
            </div>
            <button type="submit" class="primary">"Add user"</button>
        </ActionForm>
        </IfAllowed>
    }
}

/// One user: their role (changed after a confirmation naming what they still have to judge) and
/// Delete (after one saying what goes with them).
#[component]
fn UserRow(u: crate::api::types::UserView, left: Vec<OpenAssignment>, removal: Result<Removal, String>) -> impl IntoView {
    let (id, name, from) = (u.id.to_string(), u.name.clone(), u.role);
    let options = Role::ALL
        .into_iter()
        .map(|to| {
            let mut confirm = format!(
                "Make {name} {}? {name} is {} now; the change applies at their next request (their sessions and tokens stay, within the new role).",
                role_words(to),
                role_words(from)
            );
            if let Some(w) = grading_warning(&name, to, &left) {
                confirm.push_str("\n\n");
                confirm.push_str(&w);
            }
            view! {
                <option value=to.label() selected=to == from data-confirm=confirm
                    data-confirm-yes=format!("Make them {}", to.label())
                    data-ok=format!("{name} is now {}.", role_words(to))>{to.label()}</option>
            }
        })
        .collect_view();
    let id2 = id.clone();
    let (role_label, delete_label) = (format!("role of {}", u.name), format!("Delete user {}", u.name));
    let delete = match removal {
        Err(why) => view! { <span class="note">{why}</span> }.into_any(),
        Ok(removal) => {
            let says = format!(
                "{} {}\n\nTo keep {name}'s grades and votes but take away what they may do, change their role instead (viewer: read only); Bakeoff has no way to disable an account.",
                removal.consequences(),
                removal.fate()
            );
            view! {
                <ActionForm action={ServerAction::<DeleteUser>::new()} attr:class="inline" attr:data-confirm=says
                    attr:data-confirm-title=format!("Delete user {name}?") attr:data-confirm-yes=format!("Delete {name} and all of this")
                    attr:data-confirm-no="Keep them" attr:data-ok="Deleted {what}.">
                    <input type="hidden" name="id" value=id2/>
                    <input type="hidden" name="confirm" value="true"/>
                    <button type="submit" class="small danger" aria-label=delete_label>"Delete…"</button>
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        <tr>
            <td>{u.name.clone()} {u.must_change_password.then_some(" (one-time password)")}</td>
            <td>
                <ActionForm action={ServerAction::<SetUserRole>::new()} attr:class="inline" attr:data-auto=""
                    attr:data-confirm-title=format!("Change the role of {name}?") attr:data-confirm-no=format!("Keep {}", from.label())>
                    <input type="hidden" name="id" value=id/>
                    <select name="role" aria-label=role_label>{options}</select>
                    <noscript><button type="submit">"Change"</button></noscript>
                </ActionForm>
            </td>
            <td>{u.created_at.clone()}</td>
            <td>{delete}</td>
        </tr>
    }
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
