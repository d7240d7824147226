//! The application-wide handle: backends, settings and background tasks.

use std::fmt;
use std::sync::Arc;

use hyperstate::Supervisor;
use hyperstate::memory::MemoryPageStore;
use hyperstate::page::PageStore;

use crate::{HttpConfig, HyperstateLayer};

/// Everything hyperstate needs at run time: the backends of each scope, the HTTP
/// settings and the supervisor of the background tasks (the page sweeper, ...).
///
/// Build one at start-up, install [`Hyperstate::layer`] on the router, and call
/// [`Hyperstate::shutdown`] after the server has stopped. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{Router, routing::get};
/// use hyperstate_axum::{Hyperstate, Page};
///
/// async fn counter(page: Page) -> Result<String, hyperstate_axum::Error> {
///     let n = page.update("n", 0u64, |n| n + 1).await?;
///     Ok(format!("{n}"))
/// }
///
/// let state = Hyperstate::builder().build();
/// let app: Router = Router::new().route("/count", get(counter)).layer(state.layer());
/// # state.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Hyperstate {
    inner: Arc<Inner>,
}

struct Inner {
    pages: Arc<dyn PageStore>,
    config: HttpConfig,
    supervisor: Supervisor,
}

impl fmt::Debug for Hyperstate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hyperstate")
            .field("pages", &self.inner.pages.backend_name())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Hyperstate {
    /// Starts building; every part defaults to the embedded, zero-setup choice.
    pub fn builder() -> HyperstateBuilder {
        HyperstateBuilder::default()
    }

    /// The layer that gives handlers their state; add it to the router.
    pub fn layer(&self) -> HyperstateLayer {
        HyperstateLayer::new(self.clone())
    }

    /// The page-state backend.
    pub fn pages(&self) -> &Arc<dyn PageStore> {
        &self.inner.pages
    }

    /// The HTTP settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The supervisor of the background tasks.
    pub fn supervisor(&self) -> &Supervisor {
        &self.inner.supervisor
    }

    /// Stops the background tasks and waits for them. Call it after the server
    /// has stopped accepting requests.
    pub async fn shutdown(&self) {
        self.inner.supervisor.shutdown().await;
    }
}

/// Builds a [`Hyperstate`]. See [`Hyperstate::builder`].
#[derive(Debug, Default)]
pub struct HyperstateBuilder {
    pages: Option<Arc<dyn PageStore>>,
    config: HttpConfig,
}

impl HyperstateBuilder {
    /// The page-state backend. Default: a [`MemoryPageStore`] with default options.
    pub fn pages(mut self, store: Arc<dyn PageStore>) -> Self {
        self.pages = Some(store);
        self
    }

    /// The HTTP settings. Default: [`HttpConfig::default`].
    pub fn config(mut self, config: HttpConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds the handle and starts its background tasks. Must run inside a tokio
    /// runtime.
    pub fn build(self) -> Hyperstate {
        let pages = self
            .pages
            .unwrap_or_else(|| Arc::new(MemoryPageStore::default()));
        let supervisor = Supervisor::new();
        supervisor.spawn_page_sweeper(pages.clone(), self.config.sweep_interval);
        Hyperstate {
            inner: Arc::new(Inner {
                pages,
                config: self.config,
                supervisor,
            }),
        }
    }
}
