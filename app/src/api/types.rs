//! What the pages and the REST API receive: plain serialisable views of stored rows.

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
    pub retry: super::endpoints::access::RetryPolicy,
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
    pub created_at: String,
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
}

impl RunView {
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
    pub must_change_password: bool,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    pub id: i64,
    pub name: String,
    /// "grade" or "pairwise".
    pub kind: String,
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
    /// planned, launched.
    pub status: String,
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
    /// ready, failed, oom, no_kv_memory, context_too_long.
    pub outcome: String,
    pub load_time_s: Option<f64>,
    pub log: String,
    pub measured: Option<crate::domain::startup::Measured>,
}
