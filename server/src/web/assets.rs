//! The front end's files: hashed names, cache lifetimes, and files compressed at build time.
//!
//! cargo-leptos (`hash-files = true`) names the bundle `pkg/bakeoff.<hash>.{js,wasm,css}`, the
//! hash being the file's MD5 in 22 base64url characters, and lists the hashes in a `hash.txt`
//! that Leptos' `HydrationScripts` and `HashedStylesheet` read. A hashed file never changes, so
//! browsers keep it a year without asking again; pages are revalidated every time, so a new
//! build is picked up at the next page load. `scripts/precompress.mjs` writes `NAME.br` and
//! `NAME.gz` beside each file at build time; they are sent as they are to browsers that accept
//! them (no compression per request).

use app::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

/// Hashed files: a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Other static files (the favicon): kept, but revalidated (`If-Modified-Since`) before use.
pub const REVALIDATE: &str = "no-cache";
/// Pages: they depend on who is logged in, so no shared cache keeps them, and the browser asks
/// again each time (still allowing the back/forward cache, which `no-store` would turn off).
pub const PAGE: &str = "private, no-cache";

/// The hash file that describes the site at `site_root`, when its bundle has hashed names:
/// `<site_root>/hash.txt` (the build scripts have cargo-leptos write it there, so each site
/// carries its own), else the one cargo-leptos writes by default next to the executable. Either
/// is used only when the files it names are in this site, so a hash file left by another build
/// can never point the pages at missing files. `None`: plain names (`pkg/bakeoff.js`).
pub fn hash_file(site_root: &Path, output_name: &str, pkg_dir: &str) -> Option<PathBuf> {
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")));
    let candidates = std::iter::once(site_root.join("hash.txt")).chain(beside_exe);
    for candidate in candidates {
        let Ok(text) = std::fs::read_to_string(&candidate) else {
            continue;
        };
        let names = hashed_names(&text, output_name);
        if !names.is_empty() && names.iter().all(|n| site_root.join(pkg_dir).join(n).is_file()) {
            // Absolute, because Leptos joins it to the executable's directory.
            return std::path::absolute(&candidate).ok();
        }
        tracing::warn!(
            "{} does not describe the site in {} (its files are missing there): ignored",
            candidate.display(),
            site_root.display()
        );
    }
    None
}

/// The bundle's file names a hash file gives: `js: H` -> `bakeoff.H.js`, and so on for the
/// wasm and the stylesheet.
pub fn hashed_names(hash_file: &str, output_name: &str) -> Vec<String> {
    hash_file
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(ext, hash)| (ext.trim(), hash.trim()))
        .filter(|(ext, hash)| matches!(*ext, "js" | "wasm" | "css") && !hash.is_empty())
        .map(|(ext, hash)| format!("{output_name}.{hash}.{ext}"))
        .collect()
}

/// Whether a file name carries a cargo-leptos content hash (`name.<22 base64url chars>.ext`).
pub fn is_hashed(file_name: &str) -> bool {
    let parts: Vec<&str> = file_name.split('.').collect();
    parts.len() >= 3 && {
        let hash = parts[parts.len() - 2];
        hash.len() == 22 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// The router's fallback: a file of the site (the precompressed copy when the browser accepts
/// it, with its cache lifetime), else the 404 page.
pub async fn files_then_not_found(State(state): State<AppState>, req: Request) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let site_root = state.leptos_options.site_root.to_string();
        let mut probe = Request::new(Body::empty());
        *probe.method_mut() = req.method().clone();
        *probe.uri_mut() = req.uri().clone();
        *probe.headers_mut() = req.headers().clone();
        match static_file(&site_root, probe).await {
            Ok(Some(res)) => return res,
            Ok(None) => {}
            Err(e) => {
                tracing::error!("reading {} from the site {site_root}: {e}", req.uri().path());
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }
    let uri = req.uri().clone();
    leptos_axum::file_and_error_handler::<AppState, _>(app::shell)(uri, State(state), req).await
}

/// The file at the request's path under `site_root`, `None` when there is none. The request's
/// headers go along, so `Accept-Encoding` picks the `.br`/`.gz` copy and `If-Modified-Since`
/// can answer 304.
async fn static_file(site_root: &str, req: Request) -> std::io::Result<Option<Response>> {
    let path = req.uri().path().to_string();
    let res = ServeDir::new(site_root)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .try_call(req)
        .await?;
    if !(res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED) {
        return Ok(None);
    }
    let mut res = res.map(Body::new);
    let file_name = path.rsplit('/').next().unwrap_or_default();
    let cache = if path.starts_with("/pkg/") && is_hashed(file_name) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // The answer depends on Accept-Encoding (a .br, a .gz or the file itself).
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(Some(res))
}

/// Pages (HTML) are revalidated at each load and kept out of shared caches, unless the handler
/// chose otherwise.
pub async fn page_cache_control(mut res: Response) -> Response {
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(PAGE));
    }
    res
}

/// Pages and JSON answers are gzipped for browsers that accept it: they are made per request
/// and small (a run page is ~125 KB of HTML, ~15 KB gzipped), unlike the bundle, which is
/// compressed once at build time. Each chunk Leptos streams is flushed as it comes, so a page
/// still shows its parts as they are ready. Event streams, files and answers under 1 KB are
/// left as they are.
pub async fn gzip_dynamic(req: Request, next: Next) -> Response {
    let accepts_gzip = accepts(req.headers(), "gzip");
    let head = req.method() == Method::HEAD;
    let res = next.run(req).await;
    let compressible = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"));
    let small = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n < 1024);
    if !accepts_gzip || head || !compressible || small || res.headers().contains_key(header::CONTENT_ENCODING) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts.headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, Body::from_stream(gzip_stream(body)))
}

/// Whether `Accept-Encoding` lists `coding` with a weight above 0 (`gzip`, `gzip;q=0.5`).
pub fn accepts(headers: &axum::http::HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let named = parts.next().is_some_and(|c| c.eq_ignore_ascii_case(coding));
            let weight = parts
                .find_map(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            named && weight > 0.0
        })
}

/// The body gzipped chunk by chunk (a sync flush after each), then the gzip trailer.
fn gzip_stream(body: Body) -> impl futures::Stream<Item = Result<bytes::Bytes, axum::Error>> {
    use flate2::write::GzEncoder;
    use futures::StreamExt as _;
    use std::io::Write as _;
    let encoder = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    futures::stream::unfold((body.into_data_stream(), Some(encoder)), |(mut chunks, encoder)| async move {
        let mut encoder = encoder?;
        let out = match chunks.next().await {
            Some(Ok(chunk)) => encoder
                .write_all(&chunk)
                .and_then(|()| encoder.flush())
                .map(|()| std::mem::take(encoder.get_mut())),
            Some(Err(e)) => return Some((Err(e), (chunks, None))),
            None => return Some((encoder.finish().map(bytes::Bytes::from).map_err(axum::Error::new), (chunks, None))),
        };
        Some((out.map(bytes::Bytes::from).map_err(axum::Error::new), (chunks, Some(encoder))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_its_weight_is_zero() {
        let with = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).expect("value"));
            accepts(&h, "gzip")
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip;q=0.000, br"));
        assert!(!with("br, identity"));
        assert!(!accepts(&axum::http::HeaderMap::new(), "gzip"));
    }

    #[test]
    fn cargo_leptos_hashes_mark_a_file_as_hashed() {
        assert!(is_hashed("bakeoff.Ab3_-xYz0123456789abcd.wasm"));
        assert!(!is_hashed("bakeoff.wasm"));
        assert!(!is_hashed("favicon.svg"));
        assert!(!is_hashed("bakeoff.short.js"), "a hash is 22 characters");
        assert!(!is_hashed("bakeoff.Ab3_-xYz0123456789ab+d.js"), "base64url only");
    }

    #[test]
    fn a_hash_file_names_the_js_wasm_and_css() {
        let text =
            "js: AAAAAAAAAAAAAAAAAAAAAA\nwasm: BBBBBBBBBBBBBBBBBBBBBB\ncss: CCCCCCCCCCCCCCCCCCCCCC\nmanifest: DDDDDDDDDDDDDDDDDDDDDD\n";
        assert_eq!(
            hashed_names(text, "bakeoff"),
            [
                "bakeoff.AAAAAAAAAAAAAAAAAAAAAA.js",
                "bakeoff.BBBBBBBBBBBBBBBBBBBBBB.wasm",
                "bakeoff.CCCCCCCCCCCCCCCCCCCCCC.css"
            ]
        );
    }

    #[test]
    fn a_hash_file_whose_files_are_missing_is_not_used() {
        let site = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(site.path().join("pkg")).expect("pkg");
        std::fs::write(site.path().join("hash.txt"), "js: AAAAAAAAAAAAAAAAAAAAAA\n").expect("hash file");
        assert_eq!(hash_file(site.path(), "bakeoff", "pkg"), None);
        std::fs::write(site.path().join("pkg/bakeoff.AAAAAAAAAAAAAAAAAAAAAA.js"), "").expect("js");
        assert_eq!(
            hash_file(site.path(), "bakeoff", "pkg"),
            Some(std::path::absolute(site.path().join("hash.txt")).expect("absolute"))
        );
    }
}
