//! The trash: what a delete moved there, and when it goes for good. Runs, datasets, endpoints and
//! grading queues stay there, with everything stored for them, for `--trash-days` days
//! (default 30); an admin restores them or deletes them forever before that.

use serde::{Deserialize, Serialize};

/// Days a deleted thing stays in the trash when `serve` is not told otherwise.
pub const DEFAULT_TRASH_DAYS: u32 = 30;

/// Seconds in a day (purge times are whole days after the delete).
pub const DAY_S: i64 = 86_400;

/// What can be in the trash (one table each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrashKind {
    Run,
    Dataset,
    Endpoint,
    Queue,
}

impl TrashKind {
    pub const ALL: [TrashKind; 4] = [TrashKind::Run, TrashKind::Dataset, TrashKind::Endpoint, TrashKind::Queue];

    /// The word in routes and audit actions: "run", "dataset", "endpoint", "queue".
    pub fn word(self) -> &'static str {
        match self {
            TrashKind::Run => "run",
            TrashKind::Dataset => "dataset",
            TrashKind::Endpoint => "endpoint",
            TrashKind::Queue => "queue",
        }
    }

    /// As people name it on the pages.
    pub fn noun(self) -> &'static str {
        match self {
            TrashKind::Queue => "grading queue",
            other => other.word(),
        }
    }

    /// "run", "runs", "Run" (any case, singular or plural) as in `/api/trash/{kind}/{id}`.
    pub fn parse(s: &str) -> Result<TrashKind, String> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_suffix('s').unwrap_or(&t);
        TrashKind::ALL.into_iter().find(|k| k.word() == t).ok_or_else(|| {
            format!(
                "the kind is one of run, dataset, endpoint or queue; got '{}'",
                crate::domain::dataset::clip(s)
            )
        })
    }

    /// The audit action for `verb` ("delete", "restore", "purge"): "run.delete".
    pub fn action(self, verb: &str) -> String {
        format!("{}.{verb}", self.word())
    }

    /// The audit target: "run 12 (gemma @ 16)".
    pub fn target(self, id: i64, name: &str) -> String {
        format!("{} {id} ({})", self.word(), crate::domain::dataset::clip(name))
    }
}

impl std::fmt::Display for TrashKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// One thing in the trash, as the Trash page and `GET /api/trash` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrashedItem {
    pub kind: TrashKind,
    pub id: i64,
    /// Its own name ("gemma @ 16").
    pub name: String,
    /// As people name it: "run #12 'gemma @ 16'".
    pub label: String,
    /// Who deleted it (None: a user since deleted).
    pub deleted_by: Option<String>,
    /// When, in unix seconds (the database's clock), and as RFC 3339 UTC.
    pub deleted_at_s: i64,
    pub deleted_at: String,
    /// When it goes for good, the same two ways.
    pub purge_at_s: i64,
    pub purge_at: String,
    /// What is stored with it and goes with it when it is purged ("4,000 request records").
    pub with: Vec<String>,
    /// What stays, without its link, when it is purged ("2 pending tests").
    pub unlinked: Vec<String>,
    /// Why it cannot be restored as things stand ("restore dataset 'x' first"), if so.
    pub blocked: Option<String>,
}

/// The Trash page: what is in the trash, oldest first, and for how long things stay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrashList {
    pub days: u32,
    pub items: Vec<TrashedItem>,
}

/// When something deleted at `deleted_at_s` (unix seconds) is purged: `days` whole days later.
pub fn purge_at(deleted_at_s: i64, days: u32) -> i64 {
    deleted_at_s.saturating_add(i64::from(days).saturating_mul(DAY_S))
}

/// The latest delete time that is due for purging at `now_s`: everything deleted at or before it
/// has been in the trash `days` days.
pub fn due_before(now_s: i64, days: u32) -> i64 {
    now_s.saturating_sub(i64::from(days).saturating_mul(DAY_S))
}

/// What a page, REST call or launch says of something it looked for in vain because it is in the
/// trash: "run 4 is in the trash (deleted by rob): an admin can restore it" (without "deleted
/// by" when nobody is named: the server, or a user deleted since).
pub fn in_trash_message(kind: TrashKind, id: i64, deleted_by: Option<&str>) -> String {
    let by = deleted_by.map(|n| format!(" (deleted by {n})")).unwrap_or_default();
    format!("{} {id} is in the trash{by}: an admin can restore it", kind.noun())
}

/// "30 days", "1 day".
pub fn days_label(days: u32) -> String {
    if days == 1 {
        "1 day".into()
    } else {
        format!("{days} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_thing_in_the_trash_says_who_deleted_it_and_who_can_restore_it() {
        assert_eq!(
            in_trash_message(TrashKind::Run, 1, Some("rob")),
            "run 1 is in the trash (deleted by rob): an admin can restore it"
        );
        assert_eq!(
            in_trash_message(TrashKind::Dataset, 3, None),
            "dataset 3 is in the trash: an admin can restore it"
        );
    }

    #[test]
    fn kinds_parse_from_their_words_in_any_case_and_number() {
        assert_eq!(TrashKind::parse("run"), Ok(TrashKind::Run));
        assert_eq!(TrashKind::parse("Datasets"), Ok(TrashKind::Dataset));
        assert_eq!(TrashKind::parse(" endpoint "), Ok(TrashKind::Endpoint));
        assert_eq!(TrashKind::parse("queues"), Ok(TrashKind::Queue));
        let e = TrashKind::parse("user").expect_err("not a kind");
        assert!(e.contains("run, dataset, endpoint or queue") && e.contains("'user'"), "{e}");
    }

    #[test]
    fn audit_words_name_the_kind_and_the_thing() {
        assert_eq!(TrashKind::Queue.action("restore"), "queue.restore");
        assert_eq!(TrashKind::Run.target(12, "gemma @ 16"), "run 12 (gemma @ 16)");
        assert_eq!(TrashKind::Queue.noun(), "grading queue");
    }

    #[test]
    fn a_thing_is_purged_whole_days_after_its_delete_and_zero_days_means_at_once() {
        assert_eq!(purge_at(1_000, 30), 1_000 + 30 * DAY_S);
        assert_eq!(purge_at(1_000, 0), 1_000);
        assert_eq!(due_before(1_000 + 30 * DAY_S, 30), 1_000, "due exactly N days after");
        assert_eq!(due_before(5, 0), 5);
        assert_eq!(purge_at(i64::MAX - 1, u32::MAX), i64::MAX, "saturates");
    }

    #[test]
    fn a_delete_says_it_goes_to_the_trash_and_for_how_long_or_that_it_is_final() {
        use crate::domain::views::Removal;
        let mut r = Removal::new("run #3 'gemma'".into());
        r.trash_days = Some(30);
        assert_eq!(
            r.fate(),
            "It goes to the trash for 30 days: until then an admin can restore it, with all of this."
        );
        r.done = true;
        assert_eq!(r.fate(), "It is in the trash for 30 days: an admin can restore it until then.");
        r.trash_days = None;
        assert_eq!(r.fate(), "It is deleted for good.");
        r.done = false;
        assert_eq!(r.fate(), "This cannot be undone.", "--trash-days 0: as before the trash");
    }

    #[test]
    fn day_counts_read_as_words() {
        assert_eq!(days_label(1), "1 day");
        assert_eq!(days_label(30), "30 days");
    }
}
