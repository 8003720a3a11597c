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

