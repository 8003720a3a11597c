//! Price sheets refuse nonsense through the server functions the costs page calls (real HTTP, a
//! real SQLite file): a figure beyond its range, a self-hosted GPU used 0 hours a day, a rented
//! one at $0 an hour, or a sheet dated `banana` gets a 422 naming each field and the range
//! allowed, and nothing is stored. A price stored before these checks shows as `1e300` on the
//! costs page, never as 300 digits.

mod common;

use common::{call_fn, fast_sim, spawn, TestApp};
use serde_json::Value;

/// Every price row of every sheet, as `GET /api/prices` lists them.
async fn rows(app: &TestApp) -> usize {
    let sheets = app.get_json("/api/prices").await;
    sheets
        .as_array()
        .expect("sheets")
        .iter()
        .map(|s| s["rows"].as_array().map_or(0, Vec::len))
        .sum()
}

async fn sheet_count(app: &TestApp) -> usize {
    app.get_json("/api/prices").await.as_array().expect("sheets").len()
}

/// A refused call: 422 and the message at each field.
async fn refused(app: &TestApp, name: &str, form: &str) -> Value {
    let rita = app.client_for("rita").await;
    let (status, body) = call_fn(app, &rita, name, form).await;
    assert_eq!(status, 422, "{name}: {body}");
    let v: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(v["error"], "validation", "{v}");
    v
}

fn at(v: &Value, field: &str) -> String {
    v["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["field"] == field))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no message at {field}: {v}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsense_prices_and_dates_are_refused_with_the_range_allowed_and_nothing_is_stored() {
    let app = spawn(fast_sim()).await;
    let rita = app.client_for("rita").await;
    let (sheets_before, rows_before) = (sheet_count(&app).await, rows(&app).await);

    // A sheet dated banana.
    let v = refused(&app, "add_sheet", "name=Odd&provider=acme&source=acme.example&dated=banana").await;
    assert_eq!(
        at(&v, "dated"),
        "write the date the prices were true as YYYY-MM-DD or YYYY-MM (e.g. 2025-10-28), got 'banana'"
    );
    assert_eq!(sheet_count(&app).await, sheets_before, "a refused sheet is not stored");

    // A month is a date; so is a day.
    let (status, body) = call_fn(
        &app,
        &rita,
        "add_sheet",
        "name=Acme&provider=acme&source=acme.example&dated=2025-10",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sheet: i64 = body.trim().parse().expect("sheet id");

    // Per token: 5,000,000 in and 1e300 out.
    let v = refused(
        &app,
        "save_price",
        &format!("form[sheet_id]={sheet}&form[model_key]=m&form[kind]=serverless&form[input_per_m]=5000000&form[output_per_m]=1e300"),
    )
    .await;
    assert_eq!(at(&v, "input_per_m"), "must be from 0 to 10,000 ($ per 1M tokens), got '5000000'");
    assert_eq!(at(&v, "output_per_m"), "must be from 0 to 10,000 ($ per 1M tokens), got '1e300'");

    // The QA's form: -1 and abc.
    let v = refused(
        &app,
        "save_price",
        &format!("form[sheet_id]={sheet}&form[model_key]=m&form[kind]=serverless&form[input_per_m]=-1&form[output_per_m]=abc"),
    )
    .await;
    assert_eq!(at(&v, "input_per_m"), "must be from 0 to 10,000 ($ per 1M tokens), got '-1'");
    assert_eq!(
        at(&v, "output_per_m"),
        "must be a number from 0 to 10,000 ($ per 1M tokens), got 'abc'"
    );

    // A rented GPU at $0 an hour.
    let v = refused(
        &app,
        "save_price",
        &format!("form[sheet_id]={sheet}&form[model_key]=*&form[kind]=dedicated&form[usd_per_hour]=0"),
    )
    .await;
    assert_eq!(
        at(&v, "usd_per_hour"),
        "must be more than 0 and at most 1,000 ($ per GPU-hour), got '0'"
    );

    // An owned GPU used 0 hours a day (its hardware would have cost $0 an hour).
    let owned = |hours: &str| {
        format!(
            "form[sheet_id]={sheet}&form[model_key]=*&form[kind]=self_hosted&form[hardware_usd]=30000&form[years]=3&form[watts]=700&form[usd_per_kwh]=0.12&form[hours_per_day]={hours}"
        )
    };
    let v = refused(&app, "save_price", &owned("0")).await;
    assert_eq!(at(&v, "hours_per_day"), "must be from 1 to 24 (hours a day), got '0'");
    assert_eq!(rows(&app).await, rows_before, "no refused row is stored");

    // Sane figures are stored.
    let (status, body) = call_fn(&app, &rita, "save_price", &owned("8")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call_fn(
        &app,
        &rita,
        "save_price",
        &format!("form[sheet_id]={sheet}&form[model_key]=m&form[kind]=serverless&form[input_per_m]=$0.5&form[output_per_m]=10000"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(rows(&app).await, rows_before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_stored_before_the_checks_shows_as_1e300_not_300_digits() {
    use app::domain::cost::{PriceKind, PriceRow, PriceSheet};
    let app = spawn(fast_sim()).await;
    let db = &app.running.state.db;
    // As a sheet stored before the checks could hold it.
    let sheet = PriceSheet {
        id: 0,
        name: "Old nonsense".into(),
        provider: "acme".into(),
        source: "acme.example".into(),
        dated: "banana".into(),
        default_model_key: None,
        rows: vec![],
    };
    let id = app::db::prices::insert(db, &sheet, false).await.expect("sheet");
    let row = PriceRow {
        id: 0,
        model_key: "m".into(),
        kind: PriceKind::Serverless,
        input_per_m: Some(5_000_000.0),
        output_per_m: Some(1e300),
        usd_per_hour: None,
        self_hosted: None,
        note: String::new(),
    };
    app::db::prices::add_row(db, id, &row).await.expect("row");
    let page = app
        .http
        .get(app.url("/costs"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Old nonsense"), "the sheet is on the page");
    assert!(page.contains("1e300"), "the price as 1e300");
    let longest = page.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0);
    assert!(longest < 30, "a number of {longest} digits on the costs page");
}
