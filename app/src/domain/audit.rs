//! The audit log as pages and scripts read it: an entry, and the filter of the Audit page and
//! `GET /api/audit` (who, which actions, from and to when, and keyset paging on the entry's id).

use super::clock::{self, DayEnd};
use super::errors::FieldErrors;
use serde::{Deserialize, Serialize};

/// Entries on one page of the Audit page.
pub const PAGE: u32 = 50;

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// The user (None: nobody logged in, e.g. a failed log-in, or the command line).
    pub actor_id: Option<i64>,
    /// The name as it was then (a user's, "cli", or the name a failed log-in tried).
    pub actor_name: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client: Option<String>,
}

impl AuditEntry {
    /// One JSON line of `GET /api/audit`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "at": clock::rfc3339(self.at),
            "actor": self.actor_name,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "client": self.client,
        })
    }
}

/// The filter as typed (a form or a query string): every field optional, checked by [`parse`].
///
/// [`parse`]: AuditQuery::parse
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Exactly this actor name.
    #[serde(default)]
    pub actor: String,
    /// Actions starting with this ("run" finds run.launch and run.cancel).
    #[serde(default)]
    pub action: String,
    /// From this date or moment (inclusive).
    #[serde(default)]
    pub since: String,
    /// Up to this date (the whole day) or moment (inclusive).
    #[serde(default)]
    pub until: String,
    /// Entries older than this id (the next page).
    #[serde(default)]
    pub before: String,
    #[serde(default)]
    pub limit: String,
}

/// The filter, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Entry ids below this.
    pub before: Option<i64>,
    /// At most this many entries (None: all).
    pub limit: Option<u32>,
}

impl AuditQuery {
    pub fn parse(&self) -> Result<AuditFilter, FieldErrors> {
        let mut errs = FieldErrors::default();
        let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let mut moment =
            |field: &str, s: &str, end: DayEnd| given(s).and_then(|s| clock::parse_moment(&s, end).map_err(|m| errs.push(field, m)).ok());
        let since = moment("since", &self.since, DayEnd::Start);
        let until = moment("until", &self.until, DayEnd::End);
        let mut number = |field: &str, s: &str, what: &str| {
            given(s).and_then(|s| match s.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errs.push(field, format!("{what} is a whole number above 0, got '{s}'"));
                    None
                }
            })
        };
        let before = number("before", &self.before, "before (an entry id)").map(i64::from);
        let limit = number("limit", &self.limit, "limit");
        if let (Some(s), Some(u)) = (since, until) {
            if u <= s {
                errs.push("until", "the end of the period comes before its start");
            }
        }
        errs.into_result(AuditFilter {
            actor: given(&self.actor),
            action: given(&self.action),
            since,
            until,
            before,
            limit,
        })
    }

    /// The query string of this filter (empty fields left out), for links to the next page and
    /// to the download.
    pub fn query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("since", &self.since),
            ("until", &self.until),
            ("before", &self.before),
            ("limit", &self.limit),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", super::format::percent_encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// A LIKE pattern matching strings that start with `prefix` (with `\` as the escape: action
/// names hold `_`, which LIKE would read as "any character").
pub fn like_prefix(prefix: &str) -> String {
    let mut p = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of the Audit page: its entries, newest first, and the id to ask for the next.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// `before` for the next (older) page, when there is one.
    pub older: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_filters_nothing() {
        assert_eq!(AuditQuery::default().parse(), Ok(AuditFilter::default()));
    }

    #[test]
    fn a_day_range_covers_both_whole_days() {
        let f = AuditQuery {
            actor: " ana ".into(),
            action: "run".into(),
            since: "2024-02-28".into(),
            until: "2024-02-29".into(),
            before: "10".into(),
            limit: "5".into(),
        }
        .parse()
        .expect("good filter");
        assert_eq!(f.actor.as_deref(), Some("ana"));
        assert_eq!(f.until.zip(f.since).map(|(u, s)| u - s), Some(2 * 86_400));
        assert_eq!((f.before, f.limit), (Some(10), Some(5)));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = AuditQuery {
            since: "last week".into(),
            before: "x".into(),
            limit: "0".into(),
            ..Default::default()
        }
        .parse()
        .expect_err("three problems");
        assert!(
            e.for_field("since").is_some() && e.for_field("before").is_some() && e.for_field("limit").is_some(),
            "{e}"
        );
        let e = AuditQuery {
            since: "2024-03-01".into(),
            until: "2024-02-01".into(),
            ..Default::default()
        }
        .parse()
        .expect_err("backwards");
        assert!(e.for_field("until").is_some());
    }

    #[test]
    fn prefixes_match_underscores_literally() {
        assert_eq!(like_prefix("endpoint.launch_c"), "endpoint.launch\\_c%");
        assert_eq!(like_prefix("50%"), "50\\%%");
    }

    #[test]
    fn the_query_string_keeps_only_what_is_given() {
        let q = AuditQuery {
            actor: "ana b".into(),
            since: "2024-02-28".into(),
            ..Default::default()
        };
        assert_eq!(q.query_string(), "actor=ana%20b&since=2024-02-28");
    }

    #[test]
    fn an_entry_is_a_json_line_with_an_rfc3339_time() {
        let e = AuditEntry {
            id: 3,
            at: 0,
            actor_id: None,
            actor_name: "cli".into(),
            action: "run.import".into(),
            target: "run 4".into(),
            detail: String::new(),
            client: None,
        };
        let j = e.to_json();
        assert_eq!(j["at"], "1970-01-01T00:00:00Z");
        assert_eq!(j["actor"], "cli");
        assert!(j["client"].is_null());
    }
}
