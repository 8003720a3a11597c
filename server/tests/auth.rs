//! Log-in and roles: nobody unauthenticated sees anything; each role does only its part.

mod common;

use common::{fast_sim, spawn, PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_unauthenticated_sees_anything() {
    let app = spawn(fast_sim()).await;
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for page in ["/", "/runs/1", "/launch", "/costs", "/report", "/datasets", "/grade"] {
        let r = anon.get(app.url(page)).send().await.expect("GET");
        assert_eq!(r.status(), 303, "{page}");
        assert!(
            r.headers()["location"].to_str().expect("location").starts_with("/login?next="),
            "{page}"
        );
    }
    for api in [
        "/api/runs",
        "/api/datasets",
        "/api/endpoints",
        "/api/report",
        "/api/runs/1/events",
        "/api/prices",
    ] {
        let r = anon.get(app.url(api)).send().await.expect("GET");
        assert_eq!(r.status(), 401, "{api}");
        assert!(!r.text().await.expect("body").contains("sim-"), "{api} leaks nothing");
    }
    let r = anon.post(app.url("/api/runs")).json(&json!({})).send().await.expect("POST");
    assert_eq!(r.status(), 401);
    let r = anon.get(app.url("/login")).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("Log in") && !html.contains("Built-in simulator"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_in_form_sets_an_http_only_strict_cookie() {
    let app = spawn(fast_sim()).await;
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = anon
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .form(&[("name", "vic"), ("password", PASSWORD), ("next", "/costs")])
        .send()
        .await
        .expect("POST");
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/costs");
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie").to_string();
    for flag in ["bakeoff_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    // Over plain http: Secure only over https (tests/team.rs).
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session = cookie.split(';').next().expect("pair").to_string();
    let r = anon.get(app.url("/api/runs")).header("cookie", session).send().await.expect("GET");
    assert_eq!(r.status(), 200, "the cookie logs the browser in");

    let wrong = anon
        .post(app.url("/api/token"))
        .json(&json!({"name": "vic", "password": "nope nope nope"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status(), 401, "wrong credentials are a 401 to a script");
    let v: serde_json::Value = wrong.json().await.expect("json");
    assert_eq!(v["message"], "password: wrong user name or password");
    // A request missing its password is still bad input, not a wrong password.
    let missing = anon
        .post(app.url("/api/token"))
        .json(&json!({"name": "vic"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(missing.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_only_its_part() {
    let app = spawn(fast_sim()).await;
    let launch = json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 3, "concurrency": 1});
    for (who, expect) in [("vic", 403), ("rev", 403), ("rita", 201)] {
        let c = app.client_for(who).await;
        let r = c.post(app.url("/api/runs")).json(&launch).send().await.expect("POST");
        assert_eq!(r.status(), expect, "{who} launching");
        if expect == 403 {
            let v: serde_json::Value = r.json().await.expect("json");
            assert!(v["message"].as_str().is_some_and(|m| m.contains("may not launch runs")), "{v}");
        }
        assert_eq!(
            c.get(app.url("/api/runs")).send().await.expect("GET").status(),
            200,
            "{who} may view"
        );
    }
    let vic = app.client_for("vic").await;
    let r = vic.post(app.url("/api/datasets?name=x")).body("").send().await.expect("POST");
    assert_eq!(r.status(), 403, "a viewer cannot upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_creates_an_admin_who_must_choose_a_password() {
    let app = spawn(fast_sim()).await;
    let (admin, _) = app::db::users::credentials(&app.running.state.db, "admin")
        .await
        .expect("db")
        .expect("admin exists");
    assert_eq!(admin.role, app::domain::accounts::Role::Admin);
    assert!(admin.must_change_password);
}
