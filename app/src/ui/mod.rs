//! Pages and components. They render; the numbers come from `domain`.

mod accounts;
mod answers;
pub mod app;
mod charts;
mod compare;
mod costs;
mod datasets;
mod endpoints;
mod grading;
mod import;
mod integrity;
mod launch;
mod launches;
mod live;
mod planner;
mod quality;
mod report;
mod run;
mod runs;
mod summary;
mod sweep;
mod tests;
mod widgets;
