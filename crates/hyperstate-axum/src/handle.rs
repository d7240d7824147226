//! The application's handle as axum sees it: the framework-neutral
//! [`hyperstate_http::Hyperstate`], plus the layer that installs it on a
//! router.

use std::ops::Deref;

use crate::HyperstateLayer;

/// Builds a [`Hyperstate`]: the framework-neutral builder
/// ([`hyperstate_http::HyperstateBuilder`]), whose `build` gives this crate's
/// handle. See [`Hyperstate::builder`].
pub type HyperstateBuilder = hyperstate_http::HyperstateBuilder<Hyperstate>;

/// Everything hyperstate needs at run time: the backends of each scope, the HTTP
/// settings and the supervisor of the background tasks (the page sweeper, ...).
///
/// Build one at start-up, install [`Hyperstate::layer`] on the router, and call
/// `shutdown` after the server has stopped. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{Router, routing::get};
/// use hyperstate_axum::{Hyperstate, Page};
///
/// async fn counter(page: Page) -> Result<String, hyperstate_axum::Error> {
///     let n = page.update_or("n", 0u64, |n| n + 1).await?;
///     Ok(format!("{n}"))
/// }
///
/// # let dir = tempfile::tempdir().unwrap();
/// let state = Hyperstate::builder().data_dir(dir.path()).build().unwrap();
/// let app: Router = Router::new().route("/count", get(counter)).layer(state.layer());
/// # state.shutdown().await;
/// # }
/// ```
///
/// The rest of its methods (`rooms`, `sessions`, `check_health`,
/// `end_streams`, `shutdown`, ...) are the framework-neutral handle's, which
/// this one dereferences to. [`serve`](crate::serve) with
/// [`Server::hyperstate`](crate::Server::hyperstate) ends room streams when
/// shutdown begins; with `axum::serve`, call `end_streams` yourself:
///
/// ```no_run
/// # async fn run(app: axum::Router, state: hyperstate_axum::Hyperstate) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let ending = state.clone();
/// axum::serve(listener, app)
///     .with_graceful_shutdown(async move {
///         hyperstate_axum::shutdown_signal().await;
///         ending.end_streams();
///     })
///     .await?;
/// state.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Hyperstate(pub hyperstate_http::Hyperstate);

impl Hyperstate {
    /// Starts building; every part defaults to the embedded, zero-setup choice:
    /// pages and rooms in memory, sessions on the file system under `./data`
    /// (see [`HyperstateBuilder`]).
    pub fn builder() -> HyperstateBuilder {
        HyperstateBuilder::default()
    }

    /// The layer that gives handlers their state; add it to the router.
    pub fn layer(&self) -> HyperstateLayer {
        HyperstateLayer::new(self.clone())
    }
}

impl Deref for Hyperstate {
    type Target = hyperstate_http::Hyperstate;
    fn deref(&self) -> &hyperstate_http::Hyperstate {
        &self.0
    }
}

impl From<hyperstate_http::Hyperstate> for Hyperstate {
    fn from(core: hyperstate_http::Hyperstate) -> Self {
        Hyperstate(core)
    }
}
