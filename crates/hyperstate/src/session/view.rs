//! Views: the app's declaration of one slice of session state.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// When a stored key is recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// Recovered on every request of the session: settings the user expects to
    /// stick across tabs, restarts and redeploys. The default.
    Session,
    /// Recovered only for requests carrying the page id that wrote it (the tab
    /// stays on the page, across server restarts and redeploys), and cleared when
    /// the view is loaded afresh ([`SessionView::fresh_load`](super::SessionView::fresh_load)).
    /// Right for in-progress drafts.
    Reconnect,
}

/// Converts data stored under an older `vsn` into the current shape.
pub type MigrateFn = dyn Fn(u32, Map<String, Value>) -> Map<String, Value> + Send + Sync;

/// Declares one view: its name, the version of its data's shape, how to migrate
/// older data, and the recovery policy of each key.
///
/// Build it once (a `static` via `LazyLock`, or app state) and reuse it; cloning
/// is cheap.
///
/// ```
/// use hyperstate::session::{Policy, View};
///
/// let view = View::new("settings")
///     .vsn(2)
///     .migrate(|old_vsn, mut data| {
///         if old_vsn < 2 {
///             // v1 stored `dark: bool`; v2 stores `theme: "dark" | "light"`.
///             let dark = data.remove("dark").and_then(|v| v.as_bool()).unwrap_or(false);
///             data.insert("theme".into(), (if dark { "dark" } else { "light" }).into());
///         }
///         data
///     })
///     .reconnect("draft");
/// assert_eq!(view.policy("draft"), Policy::Reconnect);
/// assert_eq!(view.policy("theme"), Policy::Session);
/// ```
#[derive(Clone)]
pub struct View {
    name: Arc<str>,
    vsn: u32,
    migrate: Option<Arc<MigrateFn>>,
    reconnect: Arc<BTreeSet<String>>,
}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("name", &self.name)
            .field("vsn", &self.vsn)
            .field("migrate", &self.migrate.is_some())
            .field("reconnect", &self.reconnect)
            .finish()
    }
}

impl View {
    /// A view named `name` (e.g. the route), at `vsn` 1, every key `Session`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        View {
            name: name.into(),
            vsn: 1,
            migrate: None,
            reconnect: Arc::default(),
        }
    }

    /// Sets the version of the data's shape. A write under a different `vsn` than
    /// the stored one replaces the slice wholesale (after [`View::migrate`], if
    /// set), so old- and new-shape keys are never mixed.
    pub fn vsn(mut self, vsn: u32) -> Self {
        self.vsn = vsn;
        self
    }

    /// Sets the migration from data stored under an older (or newer, during a
    /// rolling deploy) `vsn`. It receives the stored `Session`-policy values;
    /// `Reconnect` values are dropped on a version change. Without a migration,
    /// data of another `vsn` reads as empty and the next write discards it.
    ///
    /// It may run more than once for one write (after a conflict between nodes),
    /// so it must only compute, and it must not panic (it runs in the session's
    /// writer task and in request handlers).
    pub fn migrate(
        mut self,
        f: impl Fn(u32, Map<String, Value>) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Self {
        self.migrate = Some(Arc::new(f));
        self
    }

    /// Gives `key` the [`Policy::Reconnect`] policy.
    pub fn reconnect(mut self, key: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.reconnect).insert(key.into());
        self
    }

    /// The view's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The view's current `vsn`.
    pub fn version(&self) -> u32 {
        self.vsn
    }

    /// The recovery policy of `key`.
    pub fn policy(&self, key: &str) -> Policy {
        if self.reconnect.contains(key) {
            Policy::Reconnect
        } else {
            Policy::Session
        }
    }

    pub(crate) fn migrate_fn(&self) -> Option<&MigrateFn> {
        self.migrate.as_deref()
    }
}
