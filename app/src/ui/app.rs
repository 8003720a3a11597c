use super::accounts::{AccountPage, LoginPage, UserBadge, UsersPage};
use super::audit::AuditPage;
use super::compare::ComparePage;
use super::costs::CostsPage;
use super::datasets::DatasetsPage;
use super::endpoints::EndpointsPage;
use super::enhance::Enhance;
use super::grading::{GraderPage, GradingPage};
use super::import::ImportPage;
use super::launch::LaunchPage;
use super::planner::PlannerPage;
use super::quality::QualityPage;
use super::report::ReportPage;
use super::run::RunPage;
use super::runs::RunsPage;
use super::sweep::SweepPage;
use super::tests::TestsPage;
use super::tokens::TokensPage;
use super::trash::TrashPage;
use super::workers::WorkersPage;
use crate::api::guard::Caller;
use crate::domain::accounts::Permission;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app (server-rendered, then hydrated).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                // Hashed names (cargo-leptos hash-files) when the site has them: cached for a year.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The page: the header and the pages are rendered on the server only; small islands in them
/// are hydrated in the browser.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Hydration ids (of resources and `Suspense`s) are numbered on the server in the order the
    // browser numbers them: only inside islands. Nothing outside an island makes one (the header
    // reads the logged-in user from the request, not from a resource), and everything inside
    // one, including the pages' parts that resolve later, is made with hydration on.
    if let Some(sc) = Owner::current_shared_context() {
        sc.set_is_hydrating(true);
    }
    let header = Owner::with_no_hydration(move || view! { <Header user=current_user()/> });
    // One `Enhance` island around the header and the page: it posts their forms (log out in the
    // header, the page's own) and keeps the page's `Live` parts up to date.
    view! {
        <Title text="Bakeoff"/>
        <Enhance>
        {header}
        <Router>
        <main>
            <Routes fallback=|| view! { <h1>"Page not found"</h1> }>
                <Route path=path!("/") view=|| view! { <PageFor kind=PageKind::Runs id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/launch") view=|| view! { <PageFor kind=PageKind::Launch id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/runs/:id") view=|| view! { <PageFor kind=PageKind::Run id=param_id()/> } ssr=SsrMode::Async/>
                <Route path=path!("/login") view=|| view! { <PageFor kind=PageKind::Login id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/account") view=|| view! { <PageFor kind=PageKind::Account id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/users") view=|| view! { <PageFor kind=PageKind::Users id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/tokens") view=|| view! { <PageFor kind=PageKind::Tokens id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/audit") view=|| view! { <PageFor kind=PageKind::Audit id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/compare") view=|| view! { <PageFor kind=PageKind::Compare id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/costs") view=|| view! { <PageFor kind=PageKind::Costs id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/quality") view=|| view! { <PageFor kind=PageKind::Quality id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/planner") view=|| view! { <PageFor kind=PageKind::Planner id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/tests") view=|| view! { <PageFor kind=PageKind::Tests id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/grade") view=|| view! { <PageFor kind=PageKind::Grading id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/grade/:id") view=|| view! { <PageFor kind=PageKind::Grader id=param_id()/> } ssr=SsrMode::Async/>
                <Route path=path!("/report") view=|| view! { <PageFor kind=PageKind::Report id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/import") view=|| view! { <PageFor kind=PageKind::Import id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/sweeps/:id") view=|| view! { <PageFor kind=PageKind::Sweep id=param_id()/> } ssr=SsrMode::Async/>
                <Route path=path!("/endpoints") view=|| view! { <PageFor kind=PageKind::Endpoints id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/datasets") view=|| view! { <PageFor kind=PageKind::Datasets id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/trash") view=|| view! { <PageFor kind=PageKind::Trash id=0/> } ssr=SsrMode::Async/>
                <Route path=path!("/workers") view=|| view! { <PageFor kind=PageKind::Workers id=0/> } ssr=SsrMode::Async/>
            </Routes>
        </main>
        </Router>
        </Enhance>
        <Ready shown=current_user().map(|u| (u.id, u.role, u.must_change_password))/>
    }
}

/// The navigation bar, for the logged-in user (links a role may not use are left out).
#[component]
fn Header(user: Option<Caller>) -> impl IntoView {
    let may_run = user.as_ref().is_some_and(|u| u.allows(Permission::Run));
    // The link to the page shown is marked as the current one.
    let here = current_path();
    let link = move |href: &'static str, text: &'static str| {
        let current = (here == href).then_some("page");
        view! { <a href=href aria-current=current>{text}</a> }
    };
    view! {
        <header class="top">
            <nav aria-label="Main">
                <a href="/" class="brand">"Bakeoff"</a>
                {link("/", "Runs")}
                {may_run.then(|| link("/launch", "New run"))}
                {link("/quality", "Quality")}
                {link("/grade", "Grade")}
                {link("/costs", "Costs")}
                {link("/planner", "Planner")}
                {link("/tests", "Pending tests")}
                {link("/report", "Report")}
                {may_run.then(|| link("/import", "Import"))}
                {link("/endpoints", "Endpoints")}
                {link("/datasets", "Datasets")}
                <span class="spacer"></span>
                {user.map(|user| view! { <UserBadge user/> })}
            </nav>
        </header>
    }
}

/// The path of the page being rendered (on the server; empty elsewhere).
fn current_path() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .map(|p| p.uri.path().to_string())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        String::new()
    }
}

/// The pages (`page`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    Runs,
    Launch,
    Run,
    Login,
    Account,
    Users,
    Tokens,
    Audit,
    Compare,
    Costs,
    Quality,
    Planner,
    Tests,
    Grading,
    Grader,
    Report,
    Import,
    Sweep,
    Endpoints,
    Datasets,
    Trash,
    Workers,
}

/// The id in a page's address (`/runs/:id`, `/grade/:id`, `/sweeps/:id`), for its page.
#[derive(Clone, Copy)]
pub struct RouteId(pub i64);

/// The id in the address of the page being rendered on the server (0 when it has none).
fn param_id() -> i64 {
    leptos_router::hooks::use_params_map()
        .read_untracked()
        .get("id")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The logged-in user of the request being rendered (on the server; the login middleware puts
/// it there). None elsewhere, and on the log-in page.
fn current_user() -> Option<Caller> {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<Caller>().cloned())
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// A page, rendered on the server only, inside the `Enhance` island (which posts its forms and
/// keeps its `Live` parts up to date: see `App`), with the logged-in user in the context.
#[component]
fn PageFor(kind: PageKind, id: i64) -> impl IntoView {
    let user = current_user();
    provide_context(RouteId(id));
    provide_context(super::widgets::Me(StoredValue::new(user)));
    // No hydration ids: no island reads a server-rendered page's data.
    Owner::with_no_hydration(move || page(kind))
}

/// The pages. Each is rendered on the server only: nothing on it runs in the browser but the
/// `Enhance` island around it and small islands of its own (the launch form, the planner, the
/// grader, a new queue's form, a run's progress, the log-in form), so the pages' code is not in
/// the wasm.
fn page(kind: PageKind) -> AnyView {
    match kind {
        PageKind::Runs => view! { <RunsPage/> }.into_any(),
        PageKind::Run => view! { <RunPage/> }.into_any(),
        PageKind::Datasets => view! { <DatasetsPage/> }.into_any(),
        PageKind::Endpoints => view! { <EndpointsPage/> }.into_any(),
        PageKind::Quality => view! { <QualityPage/> }.into_any(),
        PageKind::Report => view! { <ReportPage/> }.into_any(),
        PageKind::Import => view! { <ImportPage/> }.into_any(),
        PageKind::Workers => view! { <WorkersPage/> }.into_any(),
        PageKind::Audit => view! { <AuditPage/> }.into_any(),
        PageKind::Account => view! { <AccountPage/> }.into_any(),
        PageKind::Login => view! { <LoginPage/> }.into_any(),
        PageKind::Sweep => view! { <SweepPage/> }.into_any(),
        PageKind::Compare => view! { <ComparePage/> }.into_any(),
        PageKind::Costs => view! { <CostsPage/> }.into_any(),
        PageKind::Trash => view! { <TrashPage/> }.into_any(),
        PageKind::Tokens => view! { <TokensPage/> }.into_any(),
        PageKind::Tests => view! { <TestsPage/> }.into_any(),
        PageKind::Users => view! { <UsersPage/> }.into_any(),
        PageKind::Launch => view! { <LaunchPage/> }.into_any(),
        PageKind::Planner => view! { <PlannerPage/> }.into_any(),
        PageKind::Grading => view! { <GradingPage/> }.into_any(),
        PageKind::Grader => view! { <GraderPage/> }.into_any(),
    }
}

/// Marks the page as interactive once the wasm has hydrated its islands (tests wait for it; it
/// is the last island), and watches who is logged in: another tab may have logged out, or in as
/// someone else; when this tab is looked at again, it asks, and loads the page afresh if it is
/// not who this page was made for (its header and buttons would otherwise be the old user's).
#[island]
fn Ready(shown: Option<(i64, crate::domain::accounts::Role, bool)>) -> impl IntoView {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::focus, move |_| {
            leptos::task::spawn_local(async move {
                if let Ok(now) = crate::api::accounts::whoami().await {
                    if now.map(|u| (u.id, u.role, u.must_change_password)) != shown {
                        let _ = window().location().reload();
                    }
                }
            });
        });
        on_cleanup(move || handle.remove());
    });
}
