//! The web side: the router and the pages (Leptos SSR), the REST API, log-in and sessions, live
//! progress events, uploads and downloads, static files and health.

pub mod assets;
pub mod audit;
pub mod auth;
pub mod download;
pub mod events;
pub mod health;
pub mod rest;
pub mod serve;
pub mod site;
pub mod upload;
