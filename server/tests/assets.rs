//! The front end's files over HTTP: hashed names in the pages, the build-time `.br`/`.gz` copies
//! sent with their `Content-Encoding`, a year's cache for hashed files, none for pages, and
//! pages gzipped per request.
//! The site is a small one built here (the real one is built after `cargo test`).

mod common;

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, IF_MODIFIED_SINCE, LAST_MODIFIED, VARY};
use reqwest::StatusCode;
use server::assets::{IMMUTABLE, PAGE, REVALIDATE};
use server::serve::{OnRestart, Running, ServeOptions};
use std::path::Path;

const JS: &str = "AAAAAAAAAAAAAAAAAAAAAA";
const WASM: &str = "BBBBBBBBBBBBBBBBBBBBBB";
const CSS: &str = "CCCCCCCCCCCCCCCCCCCCCC";

/// What cargo-leptos (hash-files) and scripts/precompress.mjs leave in a site root. The
/// compressed copies are recognisable bytes: the server must send them as they are.
fn build_site(root: &Path) {
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg dir");
    std::fs::write(root.join("hash.txt"), format!("js: {JS}\nwasm: {WASM}\ncss: {CSS}\n")).expect("hash file");
    std::fs::write(pkg.join(format!("bakeoff.{JS}.js")), "export default function init() {}").expect("js");
    std::fs::write(pkg.join(format!("bakeoff.{WASM}.wasm")), b"\0asm\x01\0\0\0 the raw module").expect("wasm");
    std::fs::write(pkg.join(format!("bakeoff.{WASM}.wasm.br")), b"brotli copy").expect("br");
    std::fs::write(pkg.join(format!("bakeoff.{WASM}.wasm.gz")), b"gzip copy").expect("gz");
    std::fs::write(pkg.join(format!("bakeoff.{CSS}.css")), "body { margin: 0 }").expect("css");
    std::fs::write(root.join("favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>").expect("favicon");
}

async fn serve(dir: &tempfile::TempDir) -> Running {
    let site = dir.path().join("site");
    build_site(&site);
    server::serve::start(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        db_path: dir.path().join("bakeoff.db"),
        site_root: site,
        sim: None,
        on_restart: OnRestart::Resume,
        preflight: Default::default(),
        lease: common::test_lease(),
        web: Default::default(),
    })
    .await
    .expect("app starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_goes_out_precompressed_and_cached_for_a_year() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = serve(&dir).await;
    let http = reqwest::Client::new();
    let url = format!("{}/pkg/bakeoff.{WASM}.wasm", running.base_url());

    for (accept, encoding, body) in [
        ("gzip, deflate, br, zstd", Some("br"), &b"brotli copy"[..]),
        ("gzip", Some("gzip"), &b"gzip copy"[..]),
        ("identity", None, &b"\0asm\x01\0\0\0 the raw module"[..]),
    ] {
        let r = http.get(&url).header(ACCEPT_ENCODING, accept).send().await.expect("GET wasm");
        assert_eq!(r.status(), StatusCode::OK, "Accept-Encoding: {accept}");
        let h = r.headers().clone();
        assert_eq!(
            h.get(CONTENT_ENCODING).map(|v| v.to_str().expect("ascii")),
            encoding,
            "Accept-Encoding: {accept}"
        );
        assert_eq!(h[CONTENT_TYPE], "application/wasm", "the type of the file, not of its copy");
        assert_eq!(h[CACHE_CONTROL], IMMUTABLE);
        assert_eq!(h[VARY], "accept-encoding");
        assert_eq!(&r.bytes().await.expect("body")[..], body, "Accept-Encoding: {accept}");
    }

    // A file without a hash in its name is revalidated, and revalidation answers 304.
    let favicon = format!("{}/favicon.svg", running.base_url());
    let r = http.get(&favicon).send().await.expect("GET favicon");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CACHE_CONTROL], REVALIDATE);
    let modified = r.headers()[LAST_MODIFIED].clone();
    let r = http
        .get(&favicon)
        .header(IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .expect("GET favicon again");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // A missing file is the 404 page, not a cached answer.
    let r = http
        .get(format!("{}/pkg/bakeoff.DDDDDDDDDDDDDDDDDDDDDD.wasm", running.base_url()))
        .send()
        .await
        .expect("GET missing");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_ne!(r.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()), Some(IMMUTABLE.as_bytes()));
    running.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_name_the_hashed_bundle_and_are_never_cached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = serve(&dir).await;
    app::api::accounts::create_user(&running.state.db, "tester", "admin", common::PASSWORD)
        .await
        .expect("user");
    let anonymous = reqwest::Client::new();
    let logged_in = common::bearer_client(&running.base_url(), "tester", common::PASSWORD).await;
    for (who, http, path) in [("anyone", &anonymous, "/login"), ("tester", &logged_in, "/")] {
        let r = http.get(format!("{}{path}", running.base_url())).send().await.expect("GET page");
        assert_eq!(r.status(), StatusCode::OK, "{who} {path}");
        assert!(r.headers()[CONTENT_TYPE].to_str().expect("ascii").starts_with("text/html"));
        assert_eq!(r.headers()[CACHE_CONTROL], PAGE, "{who} {path}");
        let html = r.text().await.expect("html");
        for file in [
            format!("bakeoff.{JS}.js"),
            format!("bakeoff.{WASM}.wasm"),
            format!("bakeoff.{CSS}.css"),
        ] {
            assert!(html.contains(&format!("/pkg/{file}")), "{path} loads {file}");
        }
        assert!(!html.contains("/pkg/bakeoff.js"), "no unhashed name left in {path}");

        // Gzipped for a browser that accepts it (pages are made per request, so per request).
        let r = http
            .get(format!("{}{path}", running.base_url()))
            .header(ACCEPT_ENCODING, "gzip, deflate, br, zstd")
            .send()
            .await
            .expect("GET page gzip");
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip", "{path}");
        assert_eq!(r.headers()[CACHE_CONTROL], PAGE, "{path}");
        let gz = r.bytes().await.expect("gzip body");
        let mut unzipped = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped).expect("valid gzip");
        assert!(unzipped.contains(&format!("/pkg/bakeoff.{WASM}.wasm")), "{path}: the same page");
        // Flushed as the page streams, so a small page shrinks less than a whole file would.
        assert!(
            gz.len() * 4 < html.len() * 3,
            "{path}: {} gzipped of {} bytes",
            gz.len(),
            html.len()
        );
    }
    running.drain().await;
}
