//! Pages and components. They render; the numbers come from `domain`.

pub mod app;
mod datasets;
mod endpoints;
mod launch;
mod live;
mod run;
mod runs;
mod summary;
mod widgets;
