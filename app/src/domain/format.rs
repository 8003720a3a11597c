//! Number formatting shared by pages and reports (so "2,511 tok/s" reads the same everywhere).

/// Thousands separators: 19813 -> "19,813". Rounds to the nearest whole number.
/// A number as a message quotes it back: as Rust prints it, but in scientific notation when it
/// is huge or tiny (`1e308`, not 309 digits).
pub fn quoted(x: f64) -> String {
    if x.is_nan() {
        return "nothing (not a number)".into();
    }
    if x.is_finite() && x != 0.0 && !(1e-6..1e12).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

pub fn int(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg && out != "0" {
        format!("-{out}")
    } else {
        out
    }
}

/// Fixed decimals with thousands separators on the whole part: 1234.5 -> "1,234.50".
pub fn dec(x: f64, places: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.*}", places, x.abs());
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    let whole = int(whole.parse::<f64>().unwrap_or(0.0));
    let sign = if x < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

/// A duration in seconds as "1.8 min", "36.4 s", "2.1 h".
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        "—".into()
    } else if s >= 7200.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Milliseconds with sensible precision.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 100.0 {
        format!("{} ms", int(x))
    } else {
        format!("{x:.1} ms")
    }
}

pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "—".into();
    }
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

pub fn usd(x: f64) -> String {
    format!("${}", dec(x, 2))
}

/// Percent-encode everything but RFC 3986's unreserved characters (for a query value).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_quoted_number_stays_short() {
        assert_eq!(super::quoted(1e308), "1e308");
        assert_eq!(super::quoted(-2.5e-9), "-2.5e-9");
        assert_eq!(super::quoted(2.5), "2.5");
        assert_eq!(super::quoted(1_000_000.0), "1000000");
        assert_eq!(super::quoted(0.0), "0");
        assert_eq!(super::quoted(f64::NAN), "nothing (not a number)");
    }

    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(int(19813.2), "19,813");
        assert_eq!(int(999.0), "999");
        assert_eq!(int(1_000_000.0), "1,000,000");
        assert_eq!(int(-2511.0), "-2,511");
        assert_eq!(dec(9.3149, 2), "9.31");
        assert_eq!(dec(12345.678, 1), "12,345.7");
    }

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(seconds(108.35), "108.3 s");
        assert_eq!(seconds(2183.0), "36.4 min");
        assert_eq!(seconds(7300.0), "2.0 h");
    }

    #[test]
    fn percents_drop_needless_decimals() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.565), "56.5%");
    }
}
