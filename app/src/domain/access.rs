//! How Bakeoff reaches an endpoint besides its URL: an API key (sent as `Authorization: Bearer`),
//! extra headers, a CA certificate for a private or self-signed server, whether it is a hosted
//! provider, and the retry policy for rate-limited answers. Pure checks of what people type; the
//! server builds its TLS configuration and request headers from the checked values.
//!
//! A key is write-only: stored, sent to the endpoint, never shown back by any page, API or
//! export, and never logged ([`ApiKey`] has no `Serialize`, and its `Debug` hides it). Extra
//! header values are treated the same way (a gateway's `x-api-key` is a key too): only their
//! names are shown.

use crate::domain::errors::FieldErrors;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest key, header value or CA text accepted.
pub const MAX_KEY_LEN: usize = 4096;
pub const MAX_HEADERS: usize = 20;
pub const MAX_CA_PEM: usize = 64 * 1024;
/// The most retries a policy may ask for.
pub const MAX_RETRIES: u32 = 10;
/// The longest wait between retries unless the policy says otherwise (a `Retry-After` asking
/// for more ends the retries).
pub const DEFAULT_MAX_WAIT_S: u32 = 60;

/// An API key. Never serialised, never shown: `Debug` and messages say only that there is one.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key as typed or pasted: trimmed, a pasted `Bearer ` prefix dropped; visible ASCII only
    /// (it goes into an HTTP header). Empty: no key. The message never repeats the key.
    pub fn parse(raw: &str) -> Result<Option<ApiKey>, String> {
        let t = raw.trim();
        let t = t
            .strip_prefix("Bearer ")
            .or_else(|| t.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or(t);
        if t.is_empty() {
            return Ok(None);
        }
        if t.len() > MAX_KEY_LEN {
            return Err(format!("the API key is longer than {MAX_KEY_LEN} characters"));
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the API key holds spaces, control or non-ASCII characters: paste the key alone".into());
        }
        Ok(Some(ApiKey(t.to_string())))
    }

    /// The key itself, for the `Authorization` header (and the database column that stores it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(hidden)")
    }
}

/// An extra header sent with every request to the endpoint. Its value is write-only like a key.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// Lower-cased.
    pub name: String,
    pub value: String,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Header({}: hidden)", self.name)
    }
}

/// Headers Bakeoff sets itself (or that would change how the stream is framed or where it goes).
const RESERVED: [&str; 14] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "accept",
    "accept-encoding",
    "authorization",
    "proxy-authorization",
];

impl Header {
    /// A header name (an HTTP token, 1 to 64 characters, not one Bakeoff sets) and value (visible
    /// characters and spaces). Messages name the header, never its value.
    pub fn new(name: &str, value: &str) -> Result<Header, String> {
        let name = name.trim();
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || name.len() > 64 || !name.bytes().all(token) {
            return Err(format!(
                "'{}' is not a header name (letters, digits and - _ . …, at most 64)",
                name.chars().take(64).collect::<String>()
            ));
        }
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            return Err("give the API key in the key field: Bakeoff sends it as `Authorization: Bearer KEY`".into());
        }
        if RESERVED.contains(&lower.as_str()) {
            return Err(format!("{name} is set by Bakeoff itself"));
        }
        let value = value.trim();
        if value.len() > MAX_KEY_LEN || !value.bytes().all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()) {
            return Err(format!(
                "the value of {name} holds control or non-ASCII characters, or is longer than {MAX_KEY_LEN}"
            ));
        }
        Ok(Header {
            name: lower,
            value: value.to_string(),
        })
    }
}

/// Extra headers as typed: one `Name: value` per line (empty lines skipped).
pub fn parse_headers(text: &str) -> Result<Vec<Header>, String> {
    let mut out: Vec<Header> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: write each header as `Name: value`", i + 1))?;
        let h = Header::new(name, value).map_err(|m| format!("line {}: {m}", i + 1))?;
        if out.iter().any(|o| o.name == h.name) {
            return Err(format!("line {}: {} is given twice", i + 1, h.name));
        }
        out.push(h);
    }
    if out.len() > MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} extra headers"));
    }
    Ok(out)
}

/// A CA certificate (or the server's own self-signed certificate, to pin it), PEM. Empty: none.
/// Only its shape is checked here; the server parses it when it checks the endpoint.
pub fn check_ca_pem(text: &str) -> Result<Option<String>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() > MAX_CA_PEM {
        return Err(format!("the CA certificate text is longer than {} KiB", MAX_CA_PEM / 1024));
    }
    if !t.contains("-----BEGIN CERTIFICATE-----") {
        return Err(
            "paste the CA certificate in PEM form (-----BEGIN CERTIFICATE----- …), or the server's own self-signed certificate".into(),
        );
    }
    if t.contains("PRIVATE KEY-----") {
        return Err("this holds a private key: give only the certificate (never the key)".into());
    }
    Ok(Some(format!("{t}\n")))
}

/// What to do with an answer that says "too many requests" (429) or "unavailable" (503): by
/// default nothing (it is counted as it came); with retries, wait its `Retry-After` (or 1, 2, 4 …
/// s without one) and send again, up to `max_retries` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// A `Retry-After` longer than this ends the retries (the answer is counted as it came).
    pub max_wait_s: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 0,
            max_wait_s: DEFAULT_MAX_WAIT_S,
        }
    }
}

impl RetryPolicy {
    pub fn retries(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            ..Default::default()
        }
    }

    pub fn is_off(&self) -> bool {
        self.max_retries == 0
    }

    /// In words, for pages and reports.
    pub fn describe(&self) -> String {
        if self.is_off() {
            "no retries (429 and 503 answers are counted as they came)".into()
        } else {
            format!(
                "429/503 answers retried up to {} times, after their Retry-After (at most {} s) or 1, 2, 4 … s",
                self.max_retries, self.max_wait_s
            )
        }
    }

    /// The retry count as typed (empty: none).
    pub fn parse(raw: &str) -> Result<RetryPolicy, String> {
        let t = raw.trim();
        if t.is_empty() {
            return Ok(RetryPolicy::default());
        }
        match t.parse::<u32>() {
            Ok(n) if n <= MAX_RETRIES => Ok(RetryPolicy::retries(n)),
            _ => Err(format!("retries must be a whole number from 0 to {MAX_RETRIES}, got '{t}'")),
        }
    }
}

/// Everything about reaching one endpoint but its URL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointAccess {
    pub api_key: Option<ApiKey>,
    pub headers: Vec<Header>,
    pub ca_pem: Option<String>,
    /// A hosted provider (Parasail, OpenAI …): no `/health`, `/metrics` or `/tokenize` expected.
    pub hosted: bool,
    pub retry: RetryPolicy,
}

impl EndpointAccess {
    /// `self` with what `over` sets put over it (a CLI run's key, headers and CA, held only in
    /// memory, over what is stored).
    pub fn overlaid(&self, over: &EndpointAccess) -> EndpointAccess {
        let mut headers = self.headers.clone();
        for h in &over.headers {
            headers.retain(|x| x.name != h.name);
            headers.push(h.clone());
        }
        EndpointAccess {
            api_key: over.api_key.clone().or_else(|| self.api_key.clone()),
            headers,
            ca_pem: over.ca_pem.clone().or_else(|| self.ca_pem.clone()),
            hosted: self.hosted || over.hosted,
            retry: if over.retry.is_off() { self.retry } else { over.retry },
        }
    }
}

/// The access fields of the endpoint forms and the REST API, as typed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessForm {
    #[serde(default)]
    pub api_key: Option<String>,
    /// One `Name: value` per line.
    #[serde(default)]
    pub headers: Option<String>,
    #[serde(default)]
    pub ca_cert: Option<String>,
    /// A checkbox: present (any value but "false"/"off"/"0") when ticked.
    #[serde(default)]
    pub hosted: Option<String>,
    #[serde(default)]
    pub price_sheet_id: Option<String>,
    #[serde(default)]
    pub retries: Option<String>,
}

/// What [`AccessForm`] holds, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckedAccess {
    pub access: EndpointAccess,
    pub price_sheet_id: Option<i64>,
}

impl AccessForm {
    /// Check every field; all problems are named at their fields, without repeating a key.
    pub fn parse(&self) -> Result<CheckedAccess, FieldErrors> {
        let mut errs = FieldErrors::default();
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        let api_key = ApiKey::parse(&text(&self.api_key)).unwrap_or_else(|m| {
            errs.push("api_key", m);
            None
        });
        let headers = parse_headers(&text(&self.headers)).unwrap_or_else(|m| {
            errs.push("headers", m);
            Vec::new()
        });
        let ca_pem = check_ca_pem(&text(&self.ca_cert)).unwrap_or_else(|m| {
            errs.push("ca_cert", m);
            None
        });
        let retry = RetryPolicy::parse(&text(&self.retries)).unwrap_or_else(|m| {
            errs.push("retries", m);
            RetryPolicy::default()
        });
        let hosted = self
            .hosted
            .as_deref()
            .is_some_and(|h| !matches!(h.trim(), "" | "false" | "off" | "0"));
        let price_sheet_id = match self.price_sheet_id.as_deref().map(str::trim).unwrap_or("") {
            "" => None,
            raw => match raw.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    errs.push("price_sheet_id", "choose a price sheet from the list");
                    None
                }
            },
        };
        errs.into_result(CheckedAccess {
            access: EndpointAccess {
                api_key,
                headers,
                ca_pem,
                hosted,
                retry,
            },
            price_sheet_id,
        })
    }
}

/// How a run reached its endpoint, recorded as it started: hosted or not, the price sheet its
/// cost comes from, the retry policy and what the policy did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunAccess {
    pub hosted: bool,
    pub price_sheet_id: Option<i64>,
    pub price_sheet: Option<String>,
    /// The sheet's provider (e.g. Parasail).
    pub provider: Option<String>,
    pub retry: RetryPolicy,
    /// Requests sent again under the policy.
    pub retries_made: u64,
    /// 429 answers that were retried (so not among the run's records).
    pub rate_limited: u64,
}

/// Hosted providers Bakeoff knows by host name: an endpoint there is hosted without being told,
/// and is priced by the provider's latest sheet unless another is chosen.
pub const KNOWN_PROVIDERS: [(&str, &str); 1] = [("api.parasail.io", "Parasail")];

/// The provider known to serve at `host`, if any.
pub fn known_provider(host: &str) -> Option<&'static str> {
    KNOWN_PROVIDERS.iter().find(|(h, _)| *h == host).map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_trimmed_and_a_pasted_bearer_prefix_dropped() {
        assert_eq!(
            ApiKey::parse("  Bearer sk-abc  ").expect("ok").map(|k| k.expose().to_string()),
            Some("sk-abc".into())
        );
        assert_eq!(ApiKey::parse("").expect("empty"), None);
        let e = ApiKey::parse("sk-secret with-space").expect_err("space");
        assert!(!e.contains("secret"), "the key is not echoed: {e}");
        assert!(ApiKey::parse("sk-é").is_err());
    }

    #[test]
    fn debug_output_never_shows_a_key_or_header_value() {
        let access = EndpointAccess {
            api_key: ApiKey::parse("sk-topsecret").expect("key"),
            headers: parse_headers("X-Api-Key: hidden-value").expect("header"),
            ..Default::default()
        };
        let shown = format!("{access:?}");
        assert!(!shown.contains("topsecret") && !shown.contains("hidden-value"), "{shown}");
        assert!(shown.contains("x-api-key"), "names are shown: {shown}");
    }

    #[test]
    fn headers_are_name_value_lines_without_the_ones_bakeoff_sets() {
        let h = parse_headers("X-Org: team-a\n\nOpenAI-Project: p1\n").expect("two");
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].name.as_str(), h[0].value.as_str()), ("x-org", "team-a"));
        assert!(parse_headers("no colon").expect_err("shape").contains("line 1"));
        assert!(parse_headers("Host: evil").expect_err("reserved").contains("Bakeoff"));
        assert!(parse_headers("Authorization: Bearer x").expect_err("key").contains("key field"));
        assert!(parse_headers("X-A: 1\nx-a: 2").expect_err("twice").contains("twice"));
        let e = parse_headers("X-A: bad\u{7}value-SECRET").expect_err("control");
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn a_ca_must_be_a_pem_certificate_and_never_a_key() {
        assert_eq!(check_ca_pem(" ").expect("empty"), None);
        assert!(check_ca_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
            .expect("pem")
            .is_some());
        assert!(check_ca_pem("MIIB").is_err());
        assert!(check_ca_pem("-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----")
            .expect_err("key")
            .contains("private key"));
    }

    #[test]
    fn retries_are_off_unless_asked_for() {
        assert!(RetryPolicy::parse("").expect("empty").is_off());
        assert_eq!(RetryPolicy::parse("3").expect("3").max_retries, 3);
        assert!(RetryPolicy::parse("11").is_err());
        assert!(RetryPolicy::parse("-1").is_err());
        assert!(RetryPolicy::default().describe().contains("no retries"));
    }

    #[test]
    fn the_form_names_each_bad_field() {
        let form = AccessForm {
            api_key: Some("bad key".into()),
            headers: Some("Host: x".into()),
            ca_cert: Some("nope".into()),
            hosted: Some("on".into()),
            price_sheet_id: Some("x".into()),
            retries: Some("99".into()),
        };
        let e = form.parse().expect_err("all bad");
        for f in ["api_key", "headers", "ca_cert", "price_sheet_id", "retries"] {
            assert!(e.for_field(f).is_some(), "{f}: {e}");
        }
        let ok = AccessForm {
            hosted: Some("on".into()),
            price_sheet_id: Some("2".into()),
            ..Default::default()
        }
        .parse()
        .expect("ok");
        assert!(ok.access.hosted);
        assert_eq!(ok.price_sheet_id, Some(2));
    }

    #[test]
    fn what_a_cli_run_holds_in_memory_goes_over_what_is_stored() {
        let stored = EndpointAccess {
            api_key: ApiKey::parse("stored").expect("key"),
            headers: parse_headers("X-A: 1\nX-B: 2").expect("h"),
            retry: RetryPolicy::retries(2),
            ..Default::default()
        };
        let cli = EndpointAccess {
            api_key: ApiKey::parse("from-env").expect("key"),
            headers: parse_headers("X-B: 3").expect("h"),
            ..Default::default()
        };
        let both = stored.overlaid(&cli);
        assert_eq!(both.api_key.as_ref().map(ApiKey::expose), Some("from-env"));
        assert_eq!(both.headers.iter().map(|h| h.value.as_str()).collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(both.retry.max_retries, 2);
        assert_eq!(stored.overlaid(&EndpointAccess::default()), stored);
    }

    #[test]
    fn parasail_is_a_known_provider() {
        assert_eq!(known_provider("api.parasail.io"), Some("Parasail"));
        assert_eq!(known_provider("gpu-box.lan"), None);
    }
}
