//! What the pages and the REST API receive, and the database returns: plain serialisable views
//! of stored rows (shared by `db` and `api`, so neither imports the other's types).

use crate::domain::spec::RunSpec;
use crate::domain::status::RunStatus;
use crate::domain::summary::RunSummary;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServedModel {
    pub id: String,
    pub max_model_len: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: i64,
    pub name: String,
    pub base_url: String,
    pub simulated: bool,
    pub builtin: bool,
    pub models: Vec<ServedModel>,
    pub checked_at: Option<String>,
    /// Managed launches: the admin-written command Bakeoff runs (no shell) to start the model
    /// server for each run, one argument per entry (`None`: not managed).
    #[serde(default)]
    pub launch_args: Option<Vec<String>>,
    /// The models a managed endpoint may be started with.
    #[serde(default)]
    pub launch_models: Vec<String>,
    /// A shell command stored before commands became admin-only argument lists: never run; an
    /// admin must enter it again as an argument list.
    #[serde(default)]
    pub legacy_launch_template: Option<String>,
    /// An API key is stored for it. The key itself is write-only: no view, API or export holds it.
    #[serde(default)]
    pub has_api_key: bool,
    /// The names of the extra headers sent with every request (their values are write-only too).
    #[serde(default)]
    pub header_names: Vec<String>,
    /// A CA certificate (or the server's pinned self-signed certificate) is given for https.
    #[serde(default)]
    pub has_ca_cert: bool,
    /// A hosted provider: no /health, /metrics or /tokenize expected; its runs are priced by
    /// `price_sheet`.
    #[serde(default)]
    pub hosted: bool,
    /// The price sheet linked to the endpoint (its runs' cost comes from it).
    #[serde(default)]
    pub price_sheet_id: Option<i64>,
    #[serde(default)]
    pub price_sheet: Option<String>,
    /// What happens to rate-limited (429) and unavailable (503) answers.
    #[serde(default)]
    pub retry: super::access::RetryPolicy,
    /// Spend cap in US dollars per calendar month (None: no cap), and what its runs spent this
    /// month at its price sheet.
    #[serde(default)]
    pub spend_cap_usd: Option<f64>,
    #[serde(default)]
    pub spent_this_month_usd: f64,
    /// The name of the user who added it (None: before ownership was recorded, or the CLI).
    #[serde(default)]
    pub created_by: Option<String>,
    /// The GPU its measured runs take the lock of (one measured run at a time on a GPU): its
    /// host name, or that of the endpoint it shares a GPU with; `None` for hosted providers.
    #[serde(default)]
    pub gpu: Option<String>,
    /// The endpoint it was said to share a GPU with.
    #[serde(default)]
    pub shares_gpu_with: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub source: String,
    pub builtin: bool,
    pub item_count: i64,
    pub has_schema: bool,
    /// Never sent to a hosted endpoint (personal or confidential data).
    #[serde(default)]
    pub internal_only: bool,
    pub created_at: String,
    /// The name of the user who uploaded it (None: before ownership was recorded, or the CLI).
    #[serde(default)]
    pub created_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub id: i64,
    pub name: String,
    pub status: RunStatus,
    pub model: String,
    pub endpoint_name: String,
    pub dataset_name: String,
    pub simulated: bool,
    pub sweep_id: Option<i64>,
    pub spec: Option<RunSpec>,
    pub total_requests: i64,
    pub done_requests: i64,
    pub error: Option<String>,
    pub summary: Option<RunSummary>,
    pub provenance: Option<String>,
    pub resumed: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The worker that holds (or last held) the run's lease: "host (pid N)".
    #[serde(default)]
    pub worker: Option<String>,
    /// How many times a worker took the run over after its holder's lease expired.
    #[serde(default)]
    pub takeovers: i64,
    /// The last take-over: when and from whom.
    #[serde(default)]
    pub takeover_note: Option<String>,
    /// The name of the user who launched or imported it (None: before ownership was recorded,
    /// or the CLI).
    #[serde(default)]
    pub created_by: Option<String>,
    /// What the endpoint said about itself when the run started (and its prefix-cache use over
    /// the run): `None` for hosted endpoints, imports and older runs.
    #[serde(default)]
    pub conditions: Option<super::conditions::Conditions>,
    /// A batch job's state as it goes (offline `vllm run-batch` or a provider's Batch API): times,
    /// line counts, the provider's batch id. `None` for server-mode runs.
    #[serde(default)]
    pub job: Option<super::batch::JobTiming>,
}

impl RunView {
    /// An import of a run's summary alone (a seed run's totals): no request records, so no
    /// progress of its own and no charts; its requests are counted in its summary.
    pub fn summary_only(&self) -> bool {
        self.status == super::status::RunStatus::Imported && self.done_requests == 0
    }

    /// Server mode, offline batch or provider batch (imports: server mode).
    pub fn kind(&self) -> super::spec::RunKind {
        self.spec.as_ref().map(|s| s.kind).unwrap_or_default()
    }

    /// "simulated" / "imported" / "" — shown wherever the run's figures appear.
    pub fn origin_label(&self) -> &'static str {
        if self.provenance.is_some() {
            "imported"
        } else if self.simulated {
            "simulated"
        } else {
            ""
        }
    }
}

/// What a launch created: one run, or several grouped as a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Launched {
    pub run_ids: Vec<i64>,
    pub sweep_id: Option<i64>,
}

/// A user as pages see them (never the password hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub role: crate::domain::accounts::Role,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::db::Flag"))]
    pub must_change_password: bool,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    pub id: i64,
    pub name: String,
    pub kind: QueueKind,
    pub blind: bool,
    pub items: i64,
    /// Items the asking user has graded or voted on.
    pub done_by_me: i64,
    /// Grades (or votes) by everyone.
    pub judgements: i64,
    pub created_at: String,
    /// Closed by its owner: no more grading, and each reviewer sees which model wrote what they
    /// judged. (The queue's runs and seed stay on the server.)
    pub closed: bool,
    /// The asking user made this queue (and so may close it).
    pub made_by_me: bool,
    /// K: judgements per item from the assigned reviewers (None: every reviewer judges every
    /// item).
    #[serde(default)]
    pub grades_per_item: Option<i64>,
    /// Items the asking user is to judge (every item when there is no K).
    #[serde(default)]
    pub mine: i64,
}

/// A grade as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    pub overall: u8,
    /// Per rubric path: "correct", "incorrect", or the reviewer's own value.
    pub fields: std::collections::BTreeMap<String, String>,
    pub comment: String,
    pub gold: bool,
}

/// A run planned for later, in priority order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedTest {
    pub id: i64,
    pub position: i64,
    pub title: String,
    pub model_id: Option<i64>,
    pub endpoint_id: Option<i64>,
    pub dataset_id: Option<i64>,
    /// The model name the endpoint serves.
    pub serve_model: String,
    pub requests: i64,
    pub concurrency: i64,
    /// What the team expects, in words ("2-3x faster than Gemma, better than 1B").
    pub expected: String,
    pub plan: Option<crate::domain::planner::PlanInput>,
    pub status: TestStatus,
    pub run_id: Option<i64>,
}

/// The engine settings of one managed vLLM start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchSettings {
    pub gpu_memory_utilization: f64,
    pub max_model_len: u64,
    pub max_num_seqs: u32,
    pub enforce_eager: bool,
}

/// One attempt at starting vLLM for a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchView {
    pub run_id: i64,
    pub attempt: i64,
    pub command: String,
    pub settings: LaunchSettings,
    pub outcome: LaunchOutcome,
    pub load_time_s: Option<f64>,
    pub log: String,
    pub measured: Option<crate::domain::startup::Measured>,
}

/// Where a run's figures come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Measured by Bakeoff against a real endpoint.
    Real,
    /// Measured against the built-in simulator.
    Simulated,
    /// Brought in from another tool's files.
    Imported,
}

impl Origin {
    pub const ALL: [Origin; 3] = [Origin::Real, Origin::Simulated, Origin::Imported];
    pub fn label(self) -> &'static str {
        match self {
            Origin::Real => "real",
            Origin::Simulated => "simulated",
            Origin::Imported => "imported",
        }
    }
    pub fn parse(s: &str) -> Option<Origin> {
        Origin::ALL.into_iter().find(|o| o.label() == s)
    }
}

/// Every run status, in the order the filter offers them.
pub const STATUSES: [crate::domain::status::RunStatus; 7] = {
    use crate::domain::status::RunStatus::*;
    [Queued, Running, Completed, Failed, Cancelled, Interrupted, Imported]
};

/// Which runs the runs list shows: every part optional, matched in SQL.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunFilter {
    #[serde(default)]
    pub status: Option<crate::domain::status::RunStatus>,
    /// Part of the run's name or model, any case.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub origin: Option<Origin>,
    /// 1-based (0 is read as 1).
    #[serde(default)]
    pub page: u32,
}

impl RunFilter {
    /// The filter from the page's query (`?status=&q=&origin=&page=`); unknown values are ignored.
    pub fn from_query(status: &str, text: &str, origin: &str, page: &str) -> Self {
        RunFilter {
            status: STATUSES.into_iter().find(|s| s.label() == status),
            text: text.to_string(),
            origin: Origin::parse(origin),
            page: page.parse().unwrap_or(1).max(1),
        }
    }
    /// The runs list's address with this filter at `page` (for the pager's links).
    pub fn query(&self, page: u32) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.label()));
        }
        if !self.text.is_empty() {
            parts.push(format!("q={}", crate::domain::format::percent_encode(&self.text)));
        }
        if let Some(o) = self.origin {
            parts.push(format!("origin={}", o.label()));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/".into()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.text.trim().is_empty() && self.origin.is_none()
    }
}

/// What a deletion takes with it: shown before it is confirmed, and returned once done.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Removal {
    /// What is deleted, as people name it: "run #12 'gemma @ 16'".
    pub what: String,
    /// What is deleted with it, counted ("4,000 request records"); nothing counted zero.
    pub with: Vec<String>,
    /// What stays but loses its link to it ("2 pending tests").
    pub unlinked: Vec<String>,
    /// Deleted (false: this is what a deletion would do).
    pub done: bool,
    /// It goes (or went) to the trash for this many days, restorable until then; `None`: it is
    /// deleted for good (`--trash-days 0`, or purged from the trash).
    #[serde(default)]
    pub trash_days: Option<u32>,
}

impl Removal {
    pub fn new(what: String) -> Self {
        Removal {
            what,
            ..Default::default()
        }
    }
    /// Note `n` of `noun` (singular; the plural is made for several) going with it.
    pub fn counted(&mut self, n: i64, noun: &str) {
        if n > 0 {
            self.with.push(counted(n, noun));
        }
    }
    /// Note `n` of `noun` that stay, without the link.
    pub fn unlinked(&mut self, n: i64, noun: &str) {
        if n > 0 {
            self.unlinked.push(counted(n, noun));
        }
    }
    /// Where it goes, in a sentence (said after [`Removal::consequences`]).
    pub fn fate(&self) -> String {
        use crate::domain::trash::days_label;
        match (self.trash_days, self.done) {
            (Some(d), false) => format!(
                "It goes to the trash for {}: until then an admin can restore it, with all of this.",
                days_label(d)
            ),
            (Some(d), true) => format!("It is in the trash for {}: an admin can restore it until then.", days_label(d)),
            (None, false) => "This cannot be undone.".into(),
            (None, true) => "It is deleted for good.".into(),
        }
    }
    /// What goes with it, in a sentence.
    pub fn consequences(&self) -> String {
        let mut s = if self.with.is_empty() {
            "Nothing else is stored with it.".to_string()
        } else {
            format!("With it go {}.", self.with.join(", "))
        };
        if !self.unlinked.is_empty() {
            s.push_str(&format!(" Kept, without the link: {}.", self.unlinked.join(", ")));
        }
        s
    }
}

/// "1 grade", "4,000 request records", "2 grading items in 'q'": the noun's last word before
/// any " in ..." takes the plural.
fn counted(n: i64, noun: &str) -> String {
    let (head, tail) = match noun.find(" in ") {
        Some(at) => noun.split_at(at),
        None => (noun, ""),
    };
    let plural = if n == 1 {
        head.to_string()
    } else if ["s", "sh", "ch", "x"].iter().any(|e| head.ends_with(e)) {
        format!("{head}es")
    } else {
        format!("{head}s")
    };
    format!("{} {plural}{tail}", crate::domain::format::int(n as f64))
}

/// How one managed start of a model server ended (stored as its snake_case name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchOutcome {
    /// The server answered its health check: the run measured it.
    Ready,
    OutOfMemory,
    NoKvMemory,
    ContextTooLong,
    /// Any other failure (a wrong flag, a missing model).
    Other,
}

impl From<crate::domain::startup::StartFailure> for LaunchOutcome {
    fn from(f: crate::domain::startup::StartFailure) -> Self {
        use crate::domain::startup::StartFailure as F;
        match f {
            F::OutOfMemory => LaunchOutcome::OutOfMemory,
            F::NoKvMemory => LaunchOutcome::NoKvMemory,
            F::ContextTooLong => LaunchOutcome::ContextTooLong,
            F::Other => LaunchOutcome::Other,
        }
    }
}

impl LaunchOutcome {
    pub fn label(self) -> &'static str {
        match self {
            LaunchOutcome::Ready => "ready",
            LaunchOutcome::OutOfMemory => "out of memory",
            LaunchOutcome::NoKvMemory => "no memory for the KV cache",
            LaunchOutcome::ContextTooLong => "max_model_len too large for the KV cache",
            LaunchOutcome::Other => "failed",
        }
    }
}

/// What reviewers do in a grading queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// Grade each answer on the dataset's rubric.
    #[default]
    Grade,
    /// Blind A/B votes between two runs' answers to the same item.
    Pairwise,
}

impl QueueKind {
    pub fn parse(text: &str) -> Option<QueueKind> {
        match text {
            "grade" | "" => Some(QueueKind::Grade),
            "pairwise" => Some(QueueKind::Pairwise),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Grade => "grade",
            QueueKind::Pairwise => "pairwise",
        }
    }
}

/// A pairwise vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteChoice {
    A,
    B,
    Tie,
    BothBad,
}

impl VoteChoice {
    pub fn parse(text: &str) -> Option<VoteChoice> {
        match text {
            "a" => Some(VoteChoice::A),
            "b" => Some(VoteChoice::B),
            "tie" => Some(VoteChoice::Tie),
            "both_bad" => Some(VoteChoice::BothBad),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            VoteChoice::A => "a",
            VoteChoice::B => "b",
            VoteChoice::Tie => "tie",
            VoteChoice::BothBad => "both_bad",
        }
    }
    /// The left answer's score (1 won, 0 lost, 0.5 tie); `None` when both were bad.
    pub fn score_a(self) -> Option<f64> {
        match self {
            VoteChoice::A => Some(1.0),
            VoteChoice::B => Some(0.0),
            VoteChoice::Tie => Some(0.5),
            VoteChoice::BothBad => None,
        }
    }
}

/// Where a planned test stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    #[default]
    Planned,
    Launched,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows stored before these were enums hold these words: they must read back the same.
    #[test]
    fn the_enums_keep_the_words_stored_before_them() {
        let word = |v: serde_json::Value| v.as_str().map(str::to_string).unwrap_or_default();
        let kinds = [QueueKind::Grade, QueueKind::Pairwise].map(|k| word(serde_json::json!(k)));
        assert_eq!(kinds, ["grade", "pairwise"]);
        for k in [QueueKind::Grade, QueueKind::Pairwise] {
            assert_eq!(QueueKind::parse(k.as_str()), Some(k));
        }
        let votes = [VoteChoice::A, VoteChoice::B, VoteChoice::Tie, VoteChoice::BothBad];
        assert_eq!(votes.map(|v| word(serde_json::json!(v))), ["a", "b", "tie", "both_bad"]);
        assert!(votes.iter().all(|v| VoteChoice::parse(v.as_str()) == Some(*v)));
        assert_eq!(VoteChoice::parse("left"), None);
        assert_eq!(
            [TestStatus::Planned, TestStatus::Launched].map(|s| word(serde_json::json!(s))),
            ["planned", "launched"]
        );
        let outcomes = [
            LaunchOutcome::Ready,
            LaunchOutcome::OutOfMemory,
            LaunchOutcome::NoKvMemory,
            LaunchOutcome::ContextTooLong,
            LaunchOutcome::Other,
        ];
        assert_eq!(
            outcomes.map(|o| word(serde_json::json!(o))),
            ["ready", "out_of_memory", "no_kv_memory", "context_too_long", "other"]
        );
        // A failure's kind, as the launcher reads it from the log, names the same outcome.
        use crate::domain::startup::StartFailure;
        assert_eq!(LaunchOutcome::from(StartFailure::OutOfMemory), LaunchOutcome::OutOfMemory);
        assert_eq!(
            word(serde_json::json!(StartFailure::NoKvMemory)),
            word(serde_json::json!(LaunchOutcome::NoKvMemory))
        );
    }
}

crate::sql_text!(LaunchOutcome);

crate::sql_text!(QueueKind);

crate::sql_text!(VoteChoice);

crate::sql_text!(TestStatus);
