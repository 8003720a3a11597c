//! Pages and components. They render; the numbers come from `domain`.

mod accounts;
pub mod app;
mod charts;
mod compare;
mod costs;
mod datasets;
mod endpoints;
mod import;
mod integrity;
mod launch;
mod live;
mod report;
mod run;
mod runs;
mod summary;
mod sweep;
mod widgets;
