//! UTC calendar dates from unix seconds and back, without a date crate (Howard Hinnant's
//! `days_from_civil` / `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>,
//! exact for every date of the proleptic Gregorian calendar).

/// Days since 1970-01-01 of a (year, month 1-12, day 1-31).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2025-03-01T14:05:09Z` (RFC 3339, UTC, whole seconds).
pub fn rfc3339(secs: i64) -> String {
    let (date, (h, mi, s)) = split(secs);
    format!("{date}T{h:02}:{mi:02}:{s:02}Z")
}

/// `2025-03-01 14:05 UTC`, for people.
pub fn readable(secs: i64) -> String {
    let (date, (h, mi, _)) = split(secs);
    format!("{date} {h:02}:{mi:02} UTC")
}

/// `2025-03-01`.
pub fn date(secs: i64) -> String {
    split(secs).0
}

fn split(secs: i64) -> (String, (i64, i64, i64)) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (format!("{y:04}-{m:02}-{d:02}"), (rem / 3600, rem % 3600 / 60, rem % 60))
}

/// Which end of a day a bare date stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayEnd {
    /// `2025-03-01` is 2025-03-01T00:00:00Z (a "from" bound, inclusive).
    Start,
    /// `2025-03-01` is up to 2025-03-02T00:00:00Z (a "to" bound: the whole day counts).
    End,
}

/// A moment as people and scripts write it: a date `2025-03-01` (see [`DayEnd`]), a UTC date and
/// time `2025-03-01T14:05[:09][Z]` (also with a space), or unix seconds. For `DayEnd::End` the
/// answer is an exclusive bound (the second after a time, the midnight after a date).
pub fn parse_moment(s: &str, end: DayEnd) -> Result<i64, String> {
    let t = s.trim();
    let bad = || format!("'{t}' is not a date: write 2025-03-01, 2025-03-01T14:05:00Z or unix seconds");
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse::<i64>().map(|x| x + i64::from(end == DayEnd::End)).map_err(|_| bad());
    }
    let (day, time) = match t.split_once(['T', ' ']) {
        Some((d, rest)) => (d, Some(rest.trim_end_matches('Z').trim_end_matches("+00:00"))),
        None => (t, None),
    };
    let mut parts = day.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (y, m, d) = match (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) {
        (Ok(y), Ok(m), Ok(d)) if y.to_string().len() == 4 && (1..=12).contains(&m) && (1..=31).contains(&d) => (y, m, d),
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return Err(format!("{day} is not a day of the calendar"));
    }
    let midnight = days * 86_400;
    let Some(time) = time else {
        return Ok(midnight + if end == DayEnd::End { 86_400 } else { 0 });
    };
    let nums: Vec<Option<i64>> = time.split(':').map(|p| p.parse::<i64>().ok()).collect();
    let (h, mi, sec) = match nums.as_slice() {
        [Some(h), Some(mi)] => (*h, *mi, 0),
        [Some(h), Some(mi), Some(s)] => (*h, *mi, *s),
        _ => return Err(bad()),
    };
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..61).contains(&sec) {
        return Err(bad());
    }
    Ok(midnight + h * 3600 + mi * 60 + sec + i64::from(end == DayEnd::End))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_and_a_leap_day_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        let leap = days_from_civil(2024, 2, 29);
        assert_eq!(civil_from_days(leap), (2024, 2, 29));
        assert_eq!(civil_from_days(leap + 1), (2024, 3, 1));
        for d in [-800_000, -1, 1, 19_000, 20_000, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d, "{d}");
        }
    }

    #[test]
    fn rfc3339_is_utc_with_whole_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_109), "2024-02-29T23:58:29Z");
        assert_eq!(readable(1_709_251_109), "2024-02-29 23:58 UTC");
        assert_eq!(date(1_709_251_109), "2024-02-29");
    }

    #[test]
    fn a_date_is_its_whole_day_at_either_end() {
        let start = parse_moment("2024-02-29", DayEnd::Start).expect("date");
        assert_eq!(rfc3339(start), "2024-02-29T00:00:00Z");
        assert_eq!(parse_moment("2024-02-29", DayEnd::End), Ok(start + 86_400));
        assert_eq!(parse_moment("2024-02-29T23:58:29Z", DayEnd::Start), Ok(1_709_251_109));
        assert_eq!(parse_moment("2024-02-29 23:58:29", DayEnd::End), Ok(1_709_251_110));
        assert_eq!(parse_moment("2024-02-29T23:58", DayEnd::Start), Ok(1_709_251_080));
        assert_eq!(parse_moment("1709251109", DayEnd::Start), Ok(1_709_251_109));
    }

    #[test]
    fn impossible_dates_are_refused_with_what_to_write() {
        for bad in [
            "",
            "yesterday",
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024-01-01T25:00",
            "2024-01-01-01",
        ] {
            let e = parse_moment(bad, DayEnd::Start).expect_err(bad);
            assert!(e.contains("2025-03-01") || e.contains("not a day"), "{bad}: {e}");
        }
    }
}
