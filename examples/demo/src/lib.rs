//! The hyperstate demo: each scope of hyperstate in a small htmx app.
//!
//! - `/` — an index linking the scopes;
//! - `/cart` — page scope: a cart per tab, empty again after a refresh;
//! - `/healthz` — health check.
//!
//! `?htmx=4` on any page loads htmx 4.x instead of 2.x; both work.

mod assets;
mod error;
mod layout;
mod routes;

use std::path::PathBuf;

use axum::Router;
use hyperstate_axum::Hyperstate;

pub use error::AppError;

/// Settings of the demo app.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DemoConfig {
    /// Where durable state lives (sessions).
    pub data_dir: PathBuf,
}

impl DemoConfig {
    /// Settings with state under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DemoConfig {
            data_dir: data_dir.into(),
        }
    }
}

/// The demo's routes, with hyperstate's layer installed.
pub fn router(state: &Hyperstate) -> Router {
    routes::routes().layer(state.layer())
}
