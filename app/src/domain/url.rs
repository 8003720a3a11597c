//! Endpoint URLs as people type them, made canonical. The one parser of endpoint URLs: the
//! server's checks, its allow policy, the measured streams' HTTP/1.1 client and the managed
//! launcher's port all read its [`BaseUrl`].
//!
//! A base URL is a scheme (`http` or `https`), a host (a name, an IPv4 address or a bracketed
//! IPv6 address), an optional port and an optional path prefix (`https://gw.lan/vllm`). Nothing
//! else: no user name or password (an API key goes in the endpoint's key field, never in the
//! URL), no query, no fragment (a `?` or `#` would turn Bakeoff's `/health` into a query).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How a URL is reached: plain HTTP or HTTP over TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 for http, 443 for https.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The host part of a base URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower-cased.
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// A parsed, canonical URL (see [`parse_base_url`] and [`parse_request_url`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    pub scheme: Scheme,
    pub host: Host,
    /// As typed (`None`: the scheme's default).
    pub port: Option<u16>,
    /// A base URL's path prefix without a trailing slash (`""` or e.g. `/vllm`); a request URL's
    /// whole path (e.g. `/vllm/v1/chat/completions`).
    pub path: String,
}

impl BaseUrl {
    /// The port connections go to (the scheme's default when none is given).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// `host:port` to connect to, the port always given (`[::1]:443` for IPv6).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port_or_default())
    }

    /// The `Host` header: the host, and the port only when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        match self.port.filter(|p| *p != self.scheme.default_port()) {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(&self.path)
    }
}

const EXAMPLE: &str = "e.g. http://gpu-box:8000 or https://api.example.com/v1";

/// Accept `http[s]://host[:port][/prefix][/v1][/]` and return it canonical:
/// `http[s]://host[:port][/prefix]` (scheme and host lower-cased, no trailing slash, no `/v1`:
/// Bakeoff adds the paths). The error says what to fix.
pub fn normalize_base_url(raw: &str) -> Result<String, String> {
    parse_base_url(raw).map(|u| u.to_string())
}

/// Parse a base URL (see the module's documentation). Messages never repeat a password typed
/// into the URL.
pub fn parse_base_url(raw: &str) -> Result<BaseUrl, String> {
    let (mut url, s) = parse_parts(raw)?;
    url.path = base_path(&url.path).map_err(|m| format!("'{s}': {m}"))?;
    Ok(url)
}

/// Parse the URL of one request (a base URL and the API path, e.g.
/// `https://gw.lan/vllm/v1/chat/completions`): the same rules, with the path kept whole.
pub fn parse_request_url(raw: &str) -> Result<BaseUrl, String> {
    let (mut url, _) = parse_parts(raw)?;
    if url.path.is_empty() {
        url.path = "/".into();
    }
    Ok(url)
}

/// Scheme, host, port and the checked (untrimmed) path; also the trimmed input for messages.
fn parse_parts(raw: &str) -> Result<(BaseUrl, &str), String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(format!("URL is required, {EXAMPLE}"));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the URL contains spaces or control characters: type it without them".into());
    }
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("http://") {
        (Scheme::Http, &s["http://".len()..])
    } else if lower.starts_with("https://") {
        (Scheme::Https, &s["https://".len()..])
    } else {
        return Err(format!(
            "URL must start with http:// or https:// (got '{}'), {EXAMPLE}",
            no_userinfo(s)
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(
            "a user name or password in the URL (user:password@host) is not accepted: give only scheme://host:port, and an API key in the endpoint's key field"
                .into(),
        );
    }
    if s.contains('?') {
        return Err(format!("'{s}' has a query ('?…'): a base URL is scheme://host:port[/path] only"));
    }
    if s.contains('#') {
        return Err(format!("'{s}' has a fragment ('#…'): a base URL is scheme://host:port[/path] only"));
    }
    if authority.is_empty() {
        return Err(format!("'{s}' has no host name, {EXAMPLE}"));
    }
    let (host, port) = split_host_port(authority).map_err(|m| format!("'{s}': {m}"))?;
    check_path(path).map_err(|m| format!("'{s}': {m}"))?;
    Ok((
        BaseUrl {
            scheme,
            host,
            port,
            path: path.to_string(),
        },
        s,
    ))
}

/// The input with anything up to an `@` replaced, so a password typed there is not echoed.
fn no_userinfo(s: &str) -> String {
    match s.rfind('@') {
        Some(i) => format!("…{}", &s[i..]),
        None => s.to_string(),
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(Host, Option<u16>), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']', e.g. http://[::1]:8000")?;
        let ip: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IPv6 address (zone ids such as %eth0 are not supported)"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("after ']' only ':port' may follow")?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        if authority.matches(':').count() > 1 {
            return Err("an IPv6 address goes in brackets, e.g. http://[::1]:8000".into());
        }
        let (name, port) = match authority.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (authority, None),
        };
        (parse_host_name(name)?, port)
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(format!("port '{p}' is not a number from 1 to 65535")),
        },
    };
    Ok((host, port))
}

/// A DNS name (letters, digits, '-', '_' and dots) or a dotted IPv4 address.
fn parse_host_name(name: &str) -> Result<Host, String> {
    if name.is_empty() {
        return Err(format!("no host name, {EXAMPLE}"));
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return name
            .parse::<Ipv4Addr>()
            .map(|a| Host::Ip(IpAddr::V4(a)))
            .map_err(|_| format!("'{name}' is not an IPv4 address (four numbers 0-255, e.g. 10.0.0.7)"));
    }
    let ok_label = |l: &str| {
        !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 || !trimmed.split('.').all(ok_label) {
        return Err(format!("'{name}' is not a host name (letters, digits, '-' and dots), {EXAMPLE}"));
    }
    Ok(Host::Name(trimmed.to_ascii_lowercase()))
}

/// A path prefix without a trailing `/v1` (or a `/v1/...` API path), which Bakeoff adds itself,
/// and without a trailing slash.
fn base_path(path: &str) -> Result<String, String> {
    let mut path = path.trim_end_matches('/').to_string();
    for suffix in ["/v1/chat/completions", "/v1/completions", "/v1/models", "/v1"] {
        if let Some(stripped) = path.strip_suffix(suffix) {
            path = stripped.trim_end_matches('/').to_string();
            break;
        }
    }
    check_path(&path)?;
    Ok(path)
}

/// Segments of URL-safe characters, without `.`/`..` or empty segments (one trailing slash is
/// allowed).
fn check_path(path: &str) -> Result<(), String> {
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Ok(());
    }
    for seg in path[1..].split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err("the path has an empty, '.' or '..' part: give the prefix as /name/name".into());
        }
        let bytes = seg.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' && bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                i += 3;
                continue;
            }
            if !(b.is_ascii_alphanumeric() || b"-._~+".contains(&b)) {
                return Err(format!(
                    "the path may hold letters, digits and - . _ ~ + (and %XX escapes), not '{}'",
                    b as char
                ));
            }
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_slashes_are_trimmed() {
        assert_eq!(normalize_base_url(" http://gpu:8000/v1/ ").as_deref(), Ok("http://gpu:8000"));
        assert_eq!(
            normalize_base_url("http://gpu:8000/v1/chat/completions").as_deref(),
            Ok("http://gpu:8000")
        );
    }

    #[test]
    fn https_urls_keep_their_scheme_and_default_to_port_443() {
        assert_eq!(
            normalize_base_url("HTTPS://api.parasail.io/v1").as_deref(),
            Ok("https://api.parasail.io")
        );
        let u = parse_base_url("https://api.parasail.io/v1/").expect("https");
        assert_eq!((u.scheme, u.port_or_default()), (Scheme::Https, 443));
        assert_eq!(u.authority(), "api.parasail.io:443");
        assert_eq!(u.host_header(), "api.parasail.io");
        assert!(u.is_tls());
        let p = parse_base_url("https://gw.lan:8443/vllm").expect("port");
        assert_eq!((p.port_or_default(), p.host_header()), (8443, "gw.lan:8443".to_string()));
        assert_eq!(parse_base_url("http://gw.lan").expect("http").port_or_default(), 80);
        assert!(normalize_base_url("ftp://gw.lan").expect_err("ftp").contains("https://"));
    }

    #[test]
    fn a_request_url_keeps_its_whole_path() {
        let u = parse_request_url("https://[::1]:8443/vllm/v1/chat/completions").expect("request");
        assert_eq!(u.path, "/vllm/v1/chat/completions");
        assert_eq!(u.authority(), "[::1]:8443");
        assert_eq!(u.host_header(), "[::1]:8443");
        let bare = parse_request_url("http://[fd00::7]").expect("no path");
        assert_eq!((bare.path.as_str(), bare.authority()), ("/", "[fd00::7]:80".to_string()));
        assert_eq!(parse_request_url("http://[::1]/health").expect("v6").host_header(), "[::1]");
        for bad in [
            "http://u:pw@gpu:8000/v1/models",
            "http://gpu/v1?x=1",
            "http://gpu/../v1",
            "gpu:8000/v1",
        ] {
            assert!(parse_request_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_urls_say_what_to_fix() {
        assert!(normalize_base_url("gpu:8000").expect_err("no scheme").contains("http://"));
        assert!(normalize_base_url("http://").expect_err("no host").contains("host"));
        assert!(normalize_base_url("http://gpu:80x0").expect_err("bad port").contains("port"));
        assert!(normalize_base_url("http://gpu:0").expect_err("port 0").contains("port"));
        assert!(normalize_base_url("http://gpu:65536").expect_err("too big").contains("port"));
        assert!(normalize_base_url("").is_err());
    }

    #[test]
    fn ipv6_literals_are_accepted_in_brackets() {
        assert_eq!(normalize_base_url("http://[::1]:8000").as_deref(), Ok("http://[::1]:8000"));
        assert_eq!(
            normalize_base_url("http://[FD00:0:0::7]/v1").as_deref(),
            Ok("http://[fd00::7]"),
            "canonical form"
        );
        let u = parse_base_url("http://[::1]:8000").expect("v6");
        assert_eq!(u.host, Host::Ip("::1".parse().expect("ip")));
        assert_eq!(u.port_or_default(), 8000);
        assert!(normalize_base_url("http://::1:8000").expect_err("no brackets").contains("brackets"));
        assert!(normalize_base_url("http://[::1:8000").expect_err("unclosed").contains("]"));
        assert!(normalize_base_url("http://[fe80::1%25eth0]:8000").is_err());
    }

    #[test]
    fn a_user_name_or_password_is_refused_without_repeating_it() {
        let e = normalize_base_url("http://user:hunter2@gpu:8000").expect_err("userinfo");
        assert!(e.contains("password"), "{e}");
        assert!(!e.contains("hunter2"), "the password is not echoed: {e}");
        assert!(normalize_base_url("http://@gpu").is_err());
        let e = normalize_base_url("https://key:sk-hunter2@api.example.com/v1").expect_err("https userinfo");
        assert!(!e.contains("hunter2") && e.contains("key field"), "{e}");
        let e = normalize_base_url("htp://u:hunter2@gpu").expect_err("bad scheme");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_query_or_fragment_is_refused() {
        assert!(normalize_base_url("http://gpu:8000/?x=1").expect_err("query").contains("query"));
        assert!(normalize_base_url("http://gpu:8000?").expect_err("query").contains("query"));
        assert!(normalize_base_url("http://gpu:8000#top")
            .expect_err("fragment")
            .contains("fragment"));
        assert!(normalize_base_url("http://evil.example#@gpu:8000").is_err());
    }

    #[test]
    fn whitespace_and_control_characters_are_refused() {
        assert!(normalize_base_url("http://gpu box:8000").is_err());
        assert!(normalize_base_url("http://gpu:8000/a\tb").is_err());
        assert!(normalize_base_url("http://gpu:8000/\u{0}").is_err());
    }

    #[test]
    fn a_path_prefix_is_kept() {
        assert_eq!(normalize_base_url("http://gw.lan/vllm").as_deref(), Ok("http://gw.lan/vllm"));
        assert_eq!(normalize_base_url("http://GW.lan/vllm/v1/").as_deref(), Ok("http://gw.lan/vllm"));
        let u = parse_base_url("http://gw.lan/a/b%20c").expect("prefix");
        assert_eq!(u.path, "/a/b%20c");
        assert_eq!(u.port_or_default(), 80);
        assert!(normalize_base_url("http://gw.lan/../admin").is_err());
        assert!(normalize_base_url("http://gw.lan//x").is_err());
        assert!(normalize_base_url("http://gw.lan/a%zz").is_err());
        assert!(normalize_base_url("http://gw.lan/a;b").is_err());
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        assert_eq!(
            parse_base_url("http://10.0.0.7:8000").expect("v4").host,
            Host::Ip("10.0.0.7".parse().expect("ip"))
        );
        assert!(normalize_base_url("http://127.1:8000").expect_err("short v4").contains("IPv4"));
        assert!(normalize_base_url("http://gpu_box.lan:8000").is_ok());
        assert!(normalize_base_url("http://-gpu:8000").is_err());
        assert!(normalize_base_url("http://gpu!:8000").is_err());
    }
}
