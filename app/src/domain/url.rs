//! Endpoint URLs as people type them, made canonical.

/// Accept `http(s)://host[:port][/v1][/]` and return `http(s)://host[:port]` (no trailing slash,
/// no `/v1`: Bakeoff adds the paths). The error says what to fix.
pub fn normalize_base_url(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("URL is required, e.g. http://gpu-box:8000".into());
    }
    let rest = if let Some(r) = s.strip_prefix("http://") {
        r
    } else if s.starts_with("https://") {
        return Err(format!(
            "'{s}': this build of Bakeoff talks plain HTTP, as `vllm serve` does by default; use the server's http:// address"
        ));
    } else {
        return Err(format!("URL must start with http:// (got '{s}'), e.g. http://gpu-box:8000"));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(format!("'{s}' has no host name, e.g. http://gpu-box:8000"));
    }
    let mut url = s.trim_end_matches('/').to_string();
    for suffix in ["/v1/chat/completions", "/v1/completions", "/v1/models", "/v1"] {
        if let Some(stripped) = url.strip_suffix(suffix) {
            url = stripped.to_string();
            break;
        }
    }
    if let Some((_, port)) = url.rsplit_once(':').filter(|(h, _)| h.contains("//")) {
        if !port.contains('/') && port.parse::<u16>().is_err() {
            return Err(format!("port '{port}' is not a number from 1 to 65535"));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_slashes_are_trimmed() {
        assert_eq!(normalize_base_url(" http://gpu:8000/v1/ ").as_deref(), Ok("http://gpu:8000"));
        assert!(normalize_base_url("https://x.example").expect_err("no TLS").contains("plain HTTP"));
    }

    #[test]
    fn bad_urls_say_what_to_fix() {
        assert!(normalize_base_url("gpu:8000").expect_err("no scheme").contains("http://"));
        assert!(normalize_base_url("http://").expect_err("no host").contains("host"));
        assert!(normalize_base_url("http://gpu:80x0").expect_err("bad port").contains("port"));
        assert!(normalize_base_url("").is_err());
    }
}
