use super::accounts::{AccountPage, LoginPage, UserBadge, UsersPage};
use super::audit::AuditPage;
use super::compare::ComparePage;
use super::costs::CostsPage;
use super::datasets::DatasetsPage;
use super::endpoints::EndpointsPage;
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
use super::widgets::IfAllowed;
use super::workers::WorkersPage;
use crate::domain::accounts::Permission;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

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
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page as interactive once the wasm has hydrated (tests wait for it).
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title text="Bakeoff"/>
        <Router>
            <Frame/>
        </Router>
    }
}

/// The header and the pages, with the logged-in user in the context. It is read once per page
/// load: log-in and log-out load the next page afresh, and an expired session sends the browser
/// to the log-in page (so the header always shows who is logged in). Refetching it at every
/// navigation would re-render the outgoing page's role-dependent parts while it is torn down.
#[component]
fn Frame() -> impl IntoView {
    let me = Resource::new(|| (), |_| crate::api::accounts::whoami());
    provide_context(super::widgets::Me(me));
    // Another tab may have logged out, or in as someone else: when this tab is looked at again,
    // ask who is logged in, and load the page afresh if it is not who this page was made for
    // (its header and buttons would otherwise be the old user's).
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::focus, move |_| {
            let shown = me
                .get_untracked()
                .and_then(Result::ok)
                .map(|u| u.map(|u| (u.id, u.role, u.must_change_password)));
            let Some(shown) = shown else { return };
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
    view! {
            <header class="top">
                <nav aria-label="Main">
                    <A href="/" attr:class="brand">"Bakeoff"</A>
                    <A href="/">"Runs"</A>
                    <IfAllowed what=Permission::Run><A href="/launch">"New run"</A></IfAllowed>
                    <A href="/quality">"Quality"</A>
                    <A href="/grade">"Grade"</A>
                    <A href="/costs">"Costs"</A>
                    <A href="/planner">"Planner"</A>
                    <A href="/tests">"Pending tests"</A>
                    <A href="/report">"Report"</A>
                    <IfAllowed what=Permission::Run><A href="/import">"Import"</A></IfAllowed>
                    <A href="/endpoints">"Endpoints"</A>
                    <A href="/datasets">"Datasets"</A>
                    <span class="spacer"></span>
                    <UserBadge/>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <h1>"Page not found"</h1> }>
                    <Route path=path!("/") view=RunsPage/>
                    <Route path=path!("/launch") view=LaunchPage/>
                    <Route path=path!("/runs/:id") view=RunPage/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/account") view=AccountPage/>
                    <Route path=path!("/users") view=UsersPage/>
                    <Route path=path!("/tokens") view=TokensPage/>
                    <Route path=path!("/audit") view=AuditPage/>
                    <Route path=path!("/compare") view=ComparePage/>
                    <Route path=path!("/costs") view=CostsPage/>
                    <Route path=path!("/quality") view=QualityPage/>
                    <Route path=path!("/planner") view=PlannerPage/>
                    <Route path=path!("/tests") view=TestsPage/>
                    <Route path=path!("/grade") view=GradingPage/>
                    <Route path=path!("/grade/:id") view=GraderPage/>
                    <Route path=path!("/report") view=ReportPage/>
                    <Route path=path!("/import") view=ImportPage/>
                    <Route path=path!("/sweeps/:id") view=SweepPage/>
                    <Route path=path!("/endpoints") view=EndpointsPage/>
                    <Route path=path!("/datasets") view=DatasetsPage/>
                    <Route path=path!("/trash") view=TrashPage/>
                    <Route path=path!("/workers") view=WorkersPage/>
                </Routes>
            </main>
    }
}
