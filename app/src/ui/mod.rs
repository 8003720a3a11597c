//! Pages and components. They render; the numbers come from `domain`.

pub mod app;
mod charts;
mod compare;
mod datasets;
mod endpoints;
mod integrity;
mod launch;
mod live;
mod run;
mod runs;
mod summary;
mod sweep;
mod widgets;
