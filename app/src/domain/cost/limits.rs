//! What a price may be: the ranges a price row's figures and a sheet's date are checked against,
//! and money written for a page. Beyond the ranges a figure is a typing mistake, not a price (the
//! dearest hosted models list a few hundred dollars per 1M tokens, the dearest rented GPUs tens of
//! dollars an hour), and a mistyped `1e300` must not become a 300-digit cost on every page.

use super::super::format;

/// An allowed range of one figure, with its unit for the message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    /// `min` itself is refused (a rented GPU at $0 an hour is no price).
    pub above_min: bool,
    pub max: f64,
    pub unit: &'static str,
}

/// $ per 1M input or output tokens.
pub const PER_M_TOKENS: Range = Range::closed(0.0, 10_000.0, "$ per 1M tokens");
/// $ per GPU-hour, rented (dedicated).
pub const PER_HOUR: Range = Range::above(0.0, 1_000.0, "$ per GPU-hour");
/// What the owned hardware cost.
pub const HARDWARE_USD: Range = Range::closed(0.0, 10_000_000.0, "$");
/// The owned hardware's life.
pub const YEARS: Range = Range::above(0.0, 30.0, "years");
/// Power drawn by the owned GPU (a full 8-GPU server draws about 10 kW).
pub const WATTS: Range = Range::closed(0.0, 100_000.0, "W");
/// Electricity price.
pub const USD_PER_KWH: Range = Range::closed(0.0, 10.0, "$ per kWh");
/// Hours a day the owned GPU is used (its hardware is paid for either way).
pub const HOURS_PER_DAY: Range = Range::closed(1.0, 24.0, "hours a day");

impl Range {
    /// From `min` to `max`, both allowed.
    pub const fn closed(min: f64, max: f64, unit: &'static str) -> Range {
        Range {
            min,
            above_min: false,
            max,
            unit,
        }
    }

    /// More than `min`, up to `max`.
    pub const fn above(min: f64, max: f64, unit: &'static str) -> Range {
        Range {
            min,
            above_min: true,
            max,
            unit,
        }
    }

    /// "from 0 to 10,000 ($ per 1M tokens)", "more than 0 and at most 1,000 ($ per GPU-hour)".
    pub fn describe(&self) -> String {
        let (min, max) = (number(self.min), number(self.max));
        if self.above_min {
            format!("more than {min} and at most {max} ({})", self.unit)
        } else {
            format!("from {min} to {max} ({})", self.unit)
        }
    }

    pub fn contains(&self, v: f64) -> bool {
        v.is_finite() && (if self.above_min { v > self.min } else { v >= self.min }) && v <= self.max
    }

    /// `v` when it is in range, else the message a person acts on (what they typed, shortened).
    pub fn check(&self, v: f64, typed: &str) -> Result<f64, String> {
        if self.contains(v) {
            Ok(v)
        } else {
            Err(format!("must be {}, got '{}'", self.describe(), shortened(typed)))
        }
    }
}

/// A bound as people write it: "10,000", "0.5".
fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format::int(x)
    } else {
        x.to_string()
    }
}

/// What was typed, cut to 24 characters (a message never repeats 300 digits).
pub fn shortened(typed: &str) -> String {
    let t = typed.trim();
    match t.char_indices().nth(24) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// A sheet's date: `YYYY-MM-DD` or `YYYY-MM` (a real day of a real month, year 2000 to 2100).
pub fn check_dated(typed: &str) -> Result<(), String> {
    let t = typed.trim();
    let bad = || {
        Err(format!(
            "write the date the prices were true as YYYY-MM-DD or YYYY-MM (e.g. 2025-10-28), got '{}'",
            shortened(t)
        ))
    };
    let parts: Vec<&str> = t.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (year, month, day) = match parts.as_slice() {
        [y, m] if digits(y, 4) && digits(m, 2) => (y, m, None),
        [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => (y, m, Some(d)),
        _ => return bad(),
    };
    let (Ok(year), Ok(month)) = (year.parse::<u32>(), month.parse::<u32>()) else {
        return bad();
    };
    if !(2000..=2100).contains(&year) || !(1..=12).contains(&month) {
        return bad();
    }
    if let Some(day) = day {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if !day.parse::<u32>().is_ok_and(|d| (1..=days).contains(&d)) {
            return bad();
        }
    }
    Ok(())
}

/// Beyond this many dollars a figure is written in scientific notation.
const HUGE_USD: f64 = 1e12;

/// Dollars for a page: "$1,234.56" (`places` decimals); beyond a trillion (only a mistyped
/// price or volume gets there) "$1.00e300", never hundreds of digits.
pub fn usd_text(x: f64, places: usize) -> String {
    if x.is_finite() && x.abs() >= HUGE_USD {
        format!("${x:.2e}")
    } else if x.is_finite() && x != 0.0 && x.abs() < 0.5 * 10f64.powi(-(places as i32)) {
        // Too small for `places` (a fast GPU's cost per request): two significant digits, never
        // "$0.000000" for a cost that is not 0.
        let places = ((-x.abs().log10()).ceil() as usize + 1).min(15);
        format!("${x:.places$}")
    } else {
        format!("${}", format::dec(x, places))
    }
}

/// A price as typed ("0.15", "2500"); beyond ten million, "1e300".
pub fn price_text(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e7 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// $ per hour with 4 decimals ("0.0841"); beyond ten million, "1e300".
pub fn hourly_text(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e7 {
        format!("{x:e}")
    } else {
        format!("{x:.4}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tiny_cost_keeps_two_significant_digits() {
        assert_eq!(super::usd_text(3.2e-8, 6), "$0.000000032");
        assert_eq!(super::usd_text(0.000123, 6), "$0.000123");
        assert_eq!(super::usd_text(0.0, 6), "$0.000000");
    }

    use super::*;

    #[test]
    fn a_price_per_million_tokens_goes_from_0_to_10_000() {
        assert_eq!(PER_M_TOKENS.check(0.0, "0"), Ok(0.0));
        assert_eq!(PER_M_TOKENS.check(10_000.0, "10000"), Ok(10_000.0));
        let e = PER_M_TOKENS.check(5_000_000.0, "5000000").expect_err("too dear");
        assert_eq!(e, "must be from 0 to 10,000 ($ per 1M tokens), got '5000000'");
        assert!(PER_M_TOKENS.check(-0.01, "-0.01").is_err());
        assert!(PER_M_TOKENS.check(f64::NAN, "NaN").is_err());
    }

    #[test]
    fn a_rented_gpu_costs_more_than_0_and_at_most_1_000_an_hour() {
        let e = PER_HOUR.check(0.0, "0").expect_err("free GPU");
        assert_eq!(e, "must be more than 0 and at most 1,000 ($ per GPU-hour), got '0'");
        assert_eq!(PER_HOUR.check(2.5, "2.5"), Ok(2.5));
        assert!(PER_HOUR.check(1000.01, "1000.01").is_err());
    }

    #[test]
    fn hours_a_day_go_from_1_to_24() {
        assert!(HOURS_PER_DAY
            .check(0.0, "0")
            .expect_err("no hours")
            .contains("from 1 to 24 (hours a day)"));
        assert!(HOURS_PER_DAY.check(25.0, "25").is_err());
        assert_eq!(HOURS_PER_DAY.check(8.0, "8"), Ok(8.0));
    }

    #[test]
    fn a_message_never_repeats_300_digits() {
        let typed = format!("1{}", "0".repeat(300));
        let e = PER_M_TOKENS.check(1e300, &typed).expect_err("too dear");
        assert!(e.len() < 100, "{e}");
        assert!(e.ends_with(&format!("got '1{}…'", "0".repeat(23))), "{e}");
    }

    #[test]
    fn a_sheet_is_dated_as_a_day_or_a_month() {
        for ok in ["2025-10-28", "2025-10", " 2024-02-29 ", "2100-12-31"] {
            assert_eq!(check_dated(ok), Ok(()), "{ok}");
        }
        for bad in [
            "banana",
            "",
            "2025",
            "2025-13",
            "2025-00-10",
            "2025-02-29",
            "2025-04-31",
            "25-10-28",
            "2025/10/28",
            "1999-01-01",
            "2025-1-5",
        ] {
            let e = check_dated(bad).expect_err(bad);
            assert!(e.contains("YYYY-MM-DD or YYYY-MM"), "{e}");
        }
    }

    #[test]
    fn money_is_never_written_with_hundreds_of_digits() {
        assert_eq!(usd_text(1234.5, 2), "$1,234.50");
        assert_eq!(usd_text(1e300, 2), "$1.00e300");
        assert!(usd_text(-3e15, 2).len() < 20);
        assert_eq!(usd_text(f64::INFINITY, 2), "$—");
        assert_eq!(price_text(0.15), "0.15");
        assert_eq!(price_text(2500.0), "2500");
        assert_eq!(price_text(1e300), "1e300");
        assert_eq!(hourly_text(0.0840625), "0.0841");
        assert_eq!(hourly_text(1e300), "1e300");
    }
}
