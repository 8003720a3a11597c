//! The views pages and the REST API receive (defined in `domain::views`, shared with `db`).

pub use crate::domain::views::*;
