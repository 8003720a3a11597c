//! The web edge's first layer: where a request comes from (client address, https or not,
//! Bakeoff's own origin as the browser sees it), the one check that refuses cross-site state
//! changes, and the headers every answer carries.
//!
//! Own origin (scheme + host): https when this process terminates TLS or a trusted proxy says so
//! in `X-Forwarded-Proto`; the host is `Host` (or a trusted proxy's `X-Forwarded-Host`);
//! `--public-url` overrides both. A state-changing request that a browser authenticated with the
//! session cookie must carry an `Origin` equal to it (or, without `Origin`, `Sec-Fetch-Site:
//! same-origin`); a request with neither and no cookie is a script and passes; bearer-token
//! requests pass (a browser never adds that header across sites).

use app::api::guard::Site;
use app::api::AppError;
use app::state::{AppState, WebConfig};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// Work out the request's site from the connection and its headers.
pub fn site_of(cfg: &WebConfig, peer: Option<IpAddr>, headers: &HeaderMap, authority: Option<&str>) -> Site {
    let trusted = |ip: &IpAddr| cfg.trusted_proxies.iter().any(|n| n.contains(ip));
    let via_proxy = peer.as_ref().is_some_and(trusted);
    let forwarded = |name: &str| -> Option<String> {
        if !via_proxy {
            return None;
        }
        let v = headers.get(name)?.to_str().ok()?;
        // The first value is what the client sent to the outermost proxy.
        let first = v.split(',').next()?.trim();
        (!first.is_empty()).then(|| first.to_string())
    };
    // X-Forwarded-For: "client, proxy1, proxy2": the client is the right-most address that is
    // not one of our trusted proxies.
    let client = if via_proxy {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .find(|ip| !trusted(ip))
            .or(peer)
    } else {
        peer
    };
    let scheme = if cfg.tls || forwarded("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")) {
        "https"
    } else {
        "http"
    };
    let host = forwarded("x-forwarded-host")
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string))
        .or_else(|| authority.map(str::to_string))
        .unwrap_or_default();
    let origin = match &cfg.public_origin {
        Some(o) => o.clone(),
        None => format!("{scheme}://{}", host.to_ascii_lowercase()),
    };
    Site {
        client,
        https: origin.starts_with("https://"),
        origin: default_port_dropped(&origin),
    }
}

/// `http://h:80` and `https://h:443` are the origins `http://h` and `https://h`.
fn default_port_dropped(origin: &str) -> String {
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        if origin.starts_with(scheme) {
            if let Some(o) = origin.strip_suffix(port) {
                return o.to_string();
            }
        }
    }
    origin.to_string()
}

/// Why a request must be refused as cross-site, or None when it may go on.
pub fn cross_site_refusal(method: &Method, headers: &HeaderMap, site: &Site) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if bearer {
        return None;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("").trim().to_ascii_lowercase();
        if default_port_dropped(&origin) == site.origin {
            return None;
        }
        // The origin is the own one with a port the own one lacks: a proxy that passed the host
        // name without its port (nginx's `$host`).
        let without_port = |o: &str| -> String {
            match o.rsplit_once(':') {
                Some((head, port)) if head.contains("://") && !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
                    head.to_string()
                }
                _ => o.to_string(),
            }
        };
        let hint = if without_port(&default_port_dropped(&origin)) == site.origin {
            "the proxy passed the host name without its port: set `proxy_set_header Host $http_host;` and `proxy_set_header X-Forwarded-Host $http_host;` in nginx (not $host), or start Bakeoff with --public-url"
        } else {
            "Use Bakeoff's own pages; behind a proxy, start Bakeoff with --trusted-proxy (or --public-url)"
        };
        return Some(format!(
            "cross-site request refused: it came from {} but Bakeoff's own pages are at {}. {hint}",
            if origin.is_empty() { "an unreadable origin" } else { &origin },
            site.origin
        ));
    }
    if let Some(fetch_site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if fetch_site == "same-origin" || fetch_site == "none" {
            return None;
        }
        return Some(format!("cross-site request refused (Sec-Fetch-Site: {fetch_site})"));
    }
    let cookie = headers.contains_key(header::COOKIE);
    cookie.then(|| "a request with the session cookie must say where it came from (Origin): send it from Bakeoff's pages, or use a bearer token (POST /api/token) in scripts".to_string())
}

/// The first layer: record the site in the request, refuse cross-site state changes, and add
/// the headers every answer carries.
pub async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let site = site_of(&state.web, peer, req.headers(), req.uri().authority().map(|a| a.as_str()));
    if let Some(why) = cross_site_refusal(req.method(), req.headers(), &site) {
        tracing::warn!("refused {} {} from {:?}: {why}", req.method(), req.uri().path(), site.client);
        return with_headers(AppError::Forbidden(why).into_response(), &site);
    }
    req.extensions_mut().insert(site.clone());
    with_headers(next.run(req).await, &site)
}

fn with_headers(mut res: Response, site: &Site) -> Response {
    let h = res.headers_mut();
    // Bakeoff's pages are never framed by another site (click-jacking).
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if site.https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn proxied() -> WebConfig {
        WebConfig {
            trusted_proxies: vec!["127.0.0.1/32".parse().expect("net")],
            ..Default::default()
        }
    }

    #[test]
    fn plain_http_on_a_lan_host_is_http_at_that_host() {
        let s = site_of(
            &WebConfig::default(),
            Some("10.0.0.5".parse().expect("ip")),
            &headers(&[("host", "Bakeoff.LAN:3000")]),
            None,
        );
        assert_eq!(s.origin, "http://bakeoff.lan:3000");
        assert!(!s.https);
        assert_eq!(s.client, Some("10.0.0.5".parse().expect("ip")));
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "bakeoff.example.lan"),
            ("x-forwarded-for", "6.6.6.6, 10.1.2.3"),
        ]);
        let s = site_of(&proxied(), Some("127.0.0.1".parse().expect("ip")), &h, None);
        assert_eq!(s.origin, "https://bakeoff.example.lan");
        assert!(s.https);
        assert_eq!(s.client, Some("10.1.2.3".parse().expect("ip")), "the right-most untrusted address");
        let s = site_of(&proxied(), Some("10.9.9.9".parse().expect("ip")), &h, None);
        assert_eq!(
            s.origin, "http://127.0.0.1:3000",
            "an untrusted peer's forwarded headers are ignored"
        );
        assert_eq!(s.client, Some("10.9.9.9".parse().expect("ip")));
    }

    #[test]
    fn the_public_url_overrides_scheme_and_host() {
        let cfg = WebConfig {
            public_origin: Some("https://bakeoff.example.lan".into()),
            ..Default::default()
        };
        let s = site_of(&cfg, None, &headers(&[("host", "internal:3000")]), None);
        assert_eq!(s.origin, "https://bakeoff.example.lan");
        assert!(s.https);
        let tls = WebConfig {
            tls: true,
            ..Default::default()
        };
        assert_eq!(site_of(&tls, None, &headers(&[("host", "box:443")]), None).origin, "https://box");
    }

    #[test]
    fn cross_site_posts_with_a_cookie_are_refused_and_scripts_pass() {
        let site = site_of(&WebConfig::default(), None, &headers(&[("host", "box:3000")]), None);
        let post = Method::POST;
        let own = headers(&[("origin", "http://box:3000"), ("cookie", "bakeoff_session=x")]);
        assert_eq!(cross_site_refusal(&post, &own, &site), None);
        let evil = headers(&[("origin", "http://evil.example"), ("cookie", "bakeoff_session=x")]);
        assert!(cross_site_refusal(&post, &evil, &site).expect("refused").contains("evil.example"));
        let other_port = headers(&[("origin", "http://box:8080")]);
        assert!(
            cross_site_refusal(&post, &other_port, &site).is_some(),
            "another port is another origin"
        );
        let sfs = headers(&[("sec-fetch-site", "same-site"), ("cookie", "bakeoff_session=x")]);
        assert!(cross_site_refusal(&post, &sfs, &site).is_some());
        let same = headers(&[("sec-fetch-site", "same-origin"), ("cookie", "bakeoff_session=x")]);
        assert_eq!(cross_site_refusal(&post, &same, &site), None);
        let bare_cookie = headers(&[("cookie", "bakeoff_session=x")]);
        assert!(cross_site_refusal(&post, &bare_cookie, &site).is_some());
        assert_eq!(
            cross_site_refusal(&post, &HeaderMap::new(), &site),
            None,
            "a script without a cookie"
        );
        let bearer = headers(&[("authorization", "Bearer t"), ("origin", "http://evil.example")]);
        assert_eq!(cross_site_refusal(&post, &bearer, &site), None);
        assert_eq!(cross_site_refusal(&Method::GET, &evil, &site), None, "reads change nothing");
        assert!(!cross_site_refusal(&post, &other_port, &site)
            .expect("refused")
            .contains("$http_host"));
        // Behind nginx with `$host`, the host name comes without the browser's port: the refusal
        // says what to set.
        let dropped = site_of(
            &proxied(),
            Some("127.0.0.1".parse().expect("ip")),
            &headers(&[("host", "127.0.0.1:3000"), ("x-forwarded-host", "bakeoff.lan")]),
            None,
        );
        let browser = headers(&[("origin", "http://bakeoff.lan:8443"), ("cookie", "bakeoff_session=x")]);
        let why = cross_site_refusal(&post, &browser, &dropped).expect("refused");
        assert!(why.contains("proxy_set_header Host $http_host"), "{why}");
        let null = headers(&[("origin", "null"), ("cookie", "bakeoff_session=x")]);
        assert!(cross_site_refusal(&post, &null, &site).is_some());
    }
}
