//! Bakeoff: choose an LLM for a batch job by measuring speed, quality and cost.
//!
//! One Leptos crate: `domain` and `charts` are pure and compile everywhere; `db` and `state` are
//! server-only (`ssr`); `api` holds server functions; `ui` renders pages.

pub mod api;
pub mod charts;
#[cfg(feature = "ssr")]
pub mod db;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod state;
pub mod ui;

pub use ui::app::{shell, App};

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
