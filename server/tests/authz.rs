//! The authorization table: every route the router answers (REST, forms, pages, server
//! functions, listed by `serve::route_list`, so a new one cannot be forgotten) x every role and
//! no session, with the status each must get. A route missing from the table fails the test.

mod common;

use common::{fast_sim, spawn, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in user.
    LoggedIn,
    View,
    /// Answers beside their models: everyone but reviewers.
    ReadAnswers,
    Run,
    Grade,
    Admin,
}

impl Need {
    fn allows(self, role: &str) -> bool {
        match self {
            Need::Public | Need::LoggedIn | Need::View => true,
            Need::ReadAnswers => role != "reviewer",
            Need::Run => matches!(role, "admin" | "runner"),
            Need::Grade => matches!(role, "admin" | "reviewer"),
            Need::Admin => role == "admin",
        }
    }
}

#[derive(Clone)]
enum Body {
    Empty,
    Form(String),
    Json(Value),
    Multipart,
}

struct Row {
    need: Need,
    body: Body,
    /// Rows run in this order (0 first): later ones change what the others see (close a
    /// queue, then log out).
    order: u8,
    /// Appended to the path (query parameters the route needs).
    query: &'static str,
}

fn row(need: Need, body: Body) -> Row {
    Row {
        need,
        body,
        order: 0,
        query: "",
    }
}

fn form(s: impl Into<String>) -> Body {
    Body::Form(s.into())
}

/// Server functions by name (the path is `/api/NAME` plus, for most, a hash).
fn server_fns(run: i64, queue: i64, item: &str, sim: &str) -> BTreeMap<&'static str, Row> {
    use Need::*;
    let mut m = BTreeMap::new();
    m.insert("login", row(Public, form("name=vic&password=wrong+password&next=%2F")));
    m.insert(
        "logout",
        Row {
            order: 2,
            ..row(LoggedIn, Body::Empty)
        },
    );
    m.insert("whoami", row(Public, Body::Empty));
    m.insert("change_password", row(LoggedIn, form("current=wrong&new_password=x&repeat=y")));
    m.insert("list_users", row(Admin, Body::Empty));
    m.insert("add_user", row(Admin, form("name=&role=viewer&password=short")));
    m.insert("set_user_role", row(Admin, form("id=999999&role=viewer")));
    m.insert("delete_user", row(Admin, form("id=999999")));
    m.insert("cost_data", row(View, Body::Empty));
    m.insert("hybrid_data", row(ReadAnswers, form(format!("screen_id={run}&judge_id={run}"))));
    m.insert(
        "save_price",
        row(Run, form("form[sheet_id]=999999&form[model_key]=x&form[kind]=serverless")),
    );
    m.insert("delete_price", row(Run, form("id=999999")));
    m.insert("add_sheet", row(Run, form("name=&provider=&source=&dated=")));
    m.insert("list_datasets", row(View, Body::Empty));
    m.insert("list_endpoints", row(View, Body::Empty));
    m.insert("add_endpoint", row(Run, form(format!("name=authz&base_url={}", urlencode(sim)))));
    m.insert("recheck_endpoint", row(Run, form("id=1")));
    m.insert("set_endpoint_access", row(Run, form("id=999999")));
    m.insert("list_queues", row(View, Body::Empty));
    m.insert(
        "create_queue",
        row(
            Run,
            form(format!("form[name]=q&form[kind]=grade&form[runs][0]={run}&form[sample_size]=2")),
        ),
    );
    m.insert("grading_item", row(Grade, form(format!("queue_id={queue}"))));
    m.insert(
        "save_grade",
        row(
            Grade,
            Body::Json(json!({"grade": {"item_id": item, "overall": 9, "fields": {}, "comment": "", "gold": false}})),
        ),
    );
    m.insert("save_vote", row(Grade, form(format!("item_id={item}&choice=nonsense"))));
    m.insert(
        "close_queue",
        Row {
            order: 1,
            ..row(Admin, form(format!("queue_id={queue}")))
        },
    );
    m.insert("queue_reveal", row(View, form(format!("queue_id={queue}"))));
    // Several reviewers per item: choices for the maker, changes by the maker or an admin
    // (runners get past the role check to "no such queue"), progress for everyone.
    m.insert("reviewer_choices", row(Run, Body::Empty));
    m.insert("change_reviewers", row(Run, form("queue_id=999999&add=rev")));
    m.insert("queue_progress", row(View, form(format!("queue_id={queue}"))));
    // What a user still has to judge in open queues (the Users page, before a change of role).
    m.insert("open_assignments", row(Admin, form("user_id=999999")));
    m.insert("list_models", row(View, Body::Empty));
    m.insert("add_model", row(Run, form("name=&config=&quant=bf16&weights_gb=")));
    m.insert("list_tests", row(View, Body::Empty));
    m.insert("add_test", row(Run, form("form[title]=")));
    m.insert("move_test", row(Run, form("id=999999&delta=1")));
    m.insert("delete_test", row(Run, form("id=999999")));
    m.insert("launch_tests", row(Run, form("id=999999")));
    m.insert("set_launch_template", row(Admin, form("endpoint_id=999999&template=")));
    m.insert("run_launches", row(View, form(format!("run_id={run}"))));
    m.insert("run_plan", row(View, form(format!("run_id={run}"))));
    m.insert("quality_overview", row(View, Body::Empty));
    m.insert(
        "run_answers",
        row(ReadAnswers, form(format!("run_id={run}&recommendation=&problem=&page=0"))),
    );
    m.insert("run_quality_summary", row(View, form(format!("run_id={run}"))));
    m.insert("side_by_side", row(ReadAnswers, form(format!("run_ids[0]={run}"))));
    m.insert("report_text", row(View, form("options[volume]=1000&format=md")));
    m.insert("list_runs", row(View, Body::Empty));
    m.insert("get_run", row(View, form(format!("id={run}"))));
    m.insert("launch_run", row(Run, form("form[model]=")));
    m.insert("cancel_run", row(Run, form("id=999999")));
    m.insert("run_series", row(View, form(format!("id={run}"))));
    m.insert("compare_runs", row(View, form(format!("ids[0]={run}"))));
    m.insert("compare_modes", row(View, form(format!("ids[0]={run}"))));
    m.insert("compare_missing", row(View, form(format!("ids[0]={run}"))));
    m.insert("sweep_runs", row(View, form("sweep_id=999999")));
    m.insert("sweep_trashed", row(View, form("sweep_id=999999")));
    m.insert("list_runs_page", row(View, Body::Empty));
    // Deletions only say what would go (dry_run); renames are refused for an empty name.
    // The run's answers are in the one queue (made by the admin): a runner who did not make it
    // may not delete the run, which would take items out of that queue.
    m.insert("delete_run", row(Admin, form(format!("id={run}&dry_run=true"))));
    m.insert("rename_run", row(Run, form(format!("id={run}&name="))));
    m.insert("delete_dataset", row(Run, form("id=1&dry_run=true")));
    m.insert("rename_dataset", row(Run, form("id=999999&name=x")));
    m.insert("delete_endpoint", row(Run, form("id=999999&dry_run=true")));
    m.insert("rename_endpoint", row(Run, form("id=999999&name=x")));
    // The queue's maker or an admin: runners get past the role check to "no such queue".
    m.insert("delete_queue", row(Run, form("queue_id=999999&dry_run=true")));
    m.insert("rename_queue", row(Run, form("queue_id=999999&name=x")));
    // API tokens: anyone logged in, for themselves (a nameless token is refused, an unknown one
    // not found); the audit log: admins.
    m.insert("list_tokens", row(View, Body::Empty));
    m.insert("create_token", row(View, form("name=&role=&expires_days=")));
    m.insert("revoke_token", row(View, form("id=999999")));
    m.insert("audit_entries", row(Admin, Body::Empty));
    // The trash (admins): nothing of that kind and id is in it.
    m.insert("list_trash", row(Admin, Body::Empty));
    m.insert("restore_trashed", row(Admin, form("kind=run&id=999999")));
    m.insert("purge_trashed", row(Admin, form("kind=run&id=999999&dry_run=true")));
    // Data rules (issue 17, item 6).
    m.insert("set_dataset_internal_only", row(Run, form("id=999999&internal_only=true")));
    m.insert("set_spend_cap", row(Run, form("id=999999&spend_cap=")));
    m.insert("set_shared_gpu", row(Run, form("id=999999&with=")));
    m.insert("launch_preview", row(View, form("form[model]=")));
    // Workers (issue 13): everyone who may view sees them, and why a queued run waits.
    m.insert("list_workers", row(View, Body::Empty));
    m.insert("run_waiting", row(View, form(format!("run_id={run}"))));
    m
}

/// REST, forms and pages by (method, route as the router spells it).
fn routes(sim: &str) -> BTreeMap<(&'static str, &'static str), Row> {
    use Need::*;
    let launch = json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 1, "concurrency": 1});
    let mut m = BTreeMap::new();
    m.insert(("GET", "/api/runs"), row(View, Body::Empty));
    m.insert(("POST", "/api/runs"), row(Run, Body::Json(launch)));
    m.insert(("GET", "/api/runs/{id}"), row(View, Body::Empty));
    m.insert(("GET", "/api/runs/{id}/records"), row(ReadAnswers, Body::Empty));
    m.insert(("POST", "/api/runs/{id}/cancel"), row(Run, Body::Empty));
    m.insert(("GET", "/api/runs/{id}/metrics"), row(View, Body::Empty));
    m.insert(("GET", "/api/runs/{id}/events"), row(View, Body::Empty));
    // {id} is the run's id: no sweep has it (404 for every role that may look).
    m.insert(("GET", "/api/sweeps/{id}"), row(View, Body::Empty));
    m.insert(("GET", "/api/endpoints"), row(View, Body::Empty));
    m.insert(
        ("POST", "/api/endpoints"),
        row(Run, Body::Json(json!({"name": "authz-rest", "base_url": sim}))),
    );
    m.insert(("GET", "/api/prices"), row(View, Body::Empty));
    m.insert(
        ("POST", "/api/import"),
        Row {
            query: "?filename=authz.json",
            ..row(Run, Body::Empty)
        },
    );
    m.insert(("GET", "/api/report"), row(View, Body::Empty));
    m.insert(("GET", "/api/datasets"), row(View, Body::Empty));
    m.insert(
        ("POST", "/api/datasets"),
        Row {
            query: "?name=authz",
            ..row(Run, Body::Empty)
        },
    );
    let dry_run = |need| Row {
        query: "?dry_run=true",
        ..row(need, Body::Empty)
    };
    let no_name = |need| row(need, Body::Json(json!({"name": ""})));
    // The run is in the admin's queue (see delete_run): only the queue's maker or an admin.
    m.insert(("DELETE", "/api/runs/{id}"), dry_run(Admin));
    m.insert(("PATCH", "/api/runs/{id}"), no_name(Run));
    m.insert(("DELETE", "/api/datasets/{id}"), dry_run(Run));
    m.insert(("PATCH", "/api/datasets/{id}"), no_name(Run));
    m.insert(("DELETE", "/api/endpoints/{id}"), dry_run(Run));
    m.insert(("PATCH", "/api/endpoints/{id}"), no_name(Run));
    // {id} is the run's id, which is also the one queue's (made by the admin): a runner who did
    // not make it may not change it.
    m.insert(("DELETE", "/api/queues/{id}"), dry_run(Admin));
    m.insert(("PATCH", "/api/queues/{id}"), no_name(Admin));
    m.insert(("GET", "/api/trash"), row(Admin, Body::Empty));
    m.insert(("POST", "/api/trash/{kind}/{id}/restore"), row(Admin, Body::Empty));
    m.insert(("DELETE", "/api/trash/{kind}/{id}"), dry_run(Admin));
    m.insert(("GET", "/api/tokens"), row(View, Body::Empty));
    m.insert(("POST", "/api/tokens"), row(View, Body::Json(json!({"name": ""}))));
    m.insert(("DELETE", "/api/tokens/{id}"), row(View, Body::Empty));
    m.insert(("GET", "/api/audit"), row(Admin, Body::Empty));
    m.insert(("GET", "/api/workers"), row(View, Body::Empty));
    m.insert(("POST", "/datasets/upload"), row(Run, Body::Multipart));
    m.insert(("POST", "/import/upload"), row(Run, Body::Multipart));
    m.insert(
        // Without a password: bad input (422) shows the route is open to anyone (a wrong
        // password is a 401 of its own, tests/auth.rs).
        ("POST", "/api/token"),
        row(Public, Body::Json(json!({"name": "vic"}))),
    );
    for page in [
        "/",
        "/launch",
        "/runs/{id}",
        "/account",
        "/users",
        "/tokens",
        "/audit",
        "/compare",
        "/costs",
        "/quality",
        "/planner",
        "/tests",
        "/grade",
        "/grade/{id}",
        "/report",
        "/import",
        "/sweeps/{id}",
        "/endpoints",
        "/datasets",
        "/trash",
        "/workers",
    ] {
        m.insert(("GET", page), row(View, Body::Empty));
    }
    // Data rules (issue 17, item 6): the flag is set on the dataset it already has; a bad cap changes nothing.
    m.insert(("GET", "/api/launch/preview"), row(View, Body::Empty));
    m.insert(
        ("PUT", "/api/datasets/{id}/internal_only"),
        row(Run, Body::Json(json!({"internal_only": true}))),
    );
    m.insert(
        ("PUT", "/api/endpoints/{id}/spend_cap"),
        row(Run, Body::Json(json!({"spend_cap_usd": "nonsense"}))),
    );
    m.insert(
        ("PUT", "/api/endpoints/{id}/shares_gpu_with"),
        row(Run, Body::Json(json!({"endpoint": ["nonsense"]}))),
    );
    m.insert(("GET", "/login"), row(Public, Body::Empty));
    m.insert(("GET", "/healthz"), row(Public, Body::Empty));
    m
}

fn urlencode(s: &str) -> String {
    app::domain::format::percent_encode(s)
}

/// The name of a server function from its path: `/api/list_runs1234` -> `list_runs`.
fn fn_name(path: &str) -> &str {
    path.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit())
}

async fn call(c: &reqwest::Client, app: &TestApp, method: &Method, path: &str, body: &Body) -> u16 {
    let mut req = c.request(method.clone(), app.url(path));
    req = match body {
        Body::Empty => req,
        Body::Form(f) => req.header("content-type", "application/x-www-form-urlencoded").body(f.clone()),
        Body::Json(v) => req.json(v),
        Body::Multipart => req.multipart(reqwest::multipart::Form::new().text("name", "authz")),
    };
    // Server functions answer a script in JSON, not with a redirect.
    let resp = tokio::time::timeout(Duration::from_secs(20), req.header("accept", "application/json").send())
        .await
        .unwrap_or_else(|_| panic!("{method} {path} did not answer"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_the_table_says() {
    let app = spawn(fast_sim()).await;
    let sim = app.sim_url();
    let run = app.launch("sim-llama-3.2-1b", json!({"requests": 4})).await;
    app.wait_finished(run, Duration::from_secs(60)).await;
    let queue = app::api::grading::make_queue(
        &app.running.state.db,
        1,
        true,
        &app::api::grading::QueueForm {
            name: "authz".into(),
            kind: "grade".into(),
            runs: vec![run.to_string()],
            sample_size: "2".into(),
            ..Default::default()
        },
    )
    .await
    .expect("queue");
    let item: String = sqlx::query_scalar("SELECT id FROM queue_items WHERE queue_id = ? ORDER BY position LIMIT 1")
        .bind(queue)
        .fetch_one(&app.running.state.db)
        .await
        .expect("an item");

    let mut fns = server_fns(run, queue, &item, &sim);
    let mut rest = routes(&sim);
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut clients = vec![("none", anon)];
    for (role, user) in [("admin", "tester"), ("runner", "rita"), ("reviewer", "rev"), ("viewer", "vic")] {
        clients.push((role, app.client_for(user).await));
    }

    // Every listed route, with its row; unknown routes fail here.
    let mut plan: Vec<(Method, String, Row, bool)> = Vec::new();
    let mut missing = Vec::new();
    for (method, path) in server::serve::route_list() {
        let is_fn = path.starts_with("/api/") && !rest.contains_key(&(method.as_str(), path.as_str()));
        let found = if is_fn {
            fns.remove(fn_name(&path)).map(|r| (r, true))
        } else {
            let key = rest.keys().find(|(m, p)| *m == method.as_str() && *p == path).copied();
            key.and_then(|k| rest.remove(&k)).map(|r| (r, false))
        };
        match found {
            Some((r, is_fn)) => {
                let id = if path.starts_with("/grade/") { queue } else { run };
                let concrete = format!("{}{}", path.replace("{id}", &id.to_string()), r.query);
                plan.push((method, concrete, r, is_fn));
            }
            None => missing.push(format!("{method} {path}")),
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a row in the authorization table (add one): {missing:?}"
    );
    let stale: Vec<_> = fns
        .keys()
        .map(|k| k.to_string())
        .chain(rest.keys().map(|(m, p)| format!("{m} {p}")))
        .collect();
    assert!(stale.is_empty(), "rows for routes the router does not have: {stale:?}");
    plan.sort_by_key(|(_, _, r, _)| r.order);

    let mut wrong = Vec::new();
    for (method, path, r, is_fn) in &plan {
        // Pages and forms send a browser without a session to the log-in page.
        let page = !is_fn && !path.starts_with("/api/");
        for (role, client) in &clients {
            let status = call(client, &app, method, path, &r.body).await;
            let ok = if *role == "none" {
                match r.need {
                    Need::Public => status != 401 && status != 403 && status < 500,
                    _ if page => status == 303,
                    _ => status == 401,
                }
            } else if r.need.allows(role) {
                status != 401 && status != 403 && status < 500
            } else {
                status == 403
            };
            if !ok {
                wrong.push(format!("{method} {path} as {role}: {status} (needs {:?})", r.need));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
