//! Views: the app's declaration of one slice of session state.

use std::fmt;

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

/// Converts data stored under an older `vsn` into the current shape. A closure
/// that captures nothing is one, so a migration can be written in place.
pub type MigrateFn = fn(u32, Map<String, Value>) -> Map<String, Value>;

/// Declares one view: its name, the version of its data's shape, how to migrate
/// older data, and the recovery policy of each key.
///
/// Every part is fixed when the app is built, and every builder method is a
/// `const fn`: declare a view once as a `static` or `const` item next to the
/// handlers that use it. It is plain data (`Copy`), so handing it around costs
/// nothing.
///
/// ```
/// use hyperstate::Key;
/// use hyperstate::session::{Policy, View};
///
/// const DRAFT: Key<String> = Key::or_default("draft");
///
/// static SETTINGS: View = View::new("settings")
///     .vsn(2)
///     .migrate(|old_vsn, mut data| {
///         if old_vsn < 2 {
///             // v1 stored `dark: bool`; v2 stores `theme: "dark" | "light"`.
///             let dark = data.remove("dark").and_then(|v| v.as_bool()).unwrap_or(false);
///             data.insert("theme".into(), (if dark { "dark" } else { "light" }).into());
///         }
///         data
///     })
///     .reconnect(&[DRAFT.name()]);
///
/// assert_eq!(SETTINGS.version(), 2);
/// assert_eq!(SETTINGS.policy("draft"), Policy::Reconnect);
/// assert_eq!(SETTINGS.policy("theme"), Policy::Session);
/// ```
#[derive(Clone, Copy)]
pub struct View {
    name: &'static str,
    vsn: u32,
    migrate: Option<MigrateFn>,
    reconnect: &'static [&'static str],
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
    pub const fn new(name: &'static str) -> Self {
        View {
            name,
            vsn: 1,
            migrate: None,
            reconnect: &[],
        }
    }

    /// Sets the version of the data's shape. A write under a different `vsn` than
    /// the stored one replaces the slice wholesale (after [`View::migrate`], if
    /// set), so old- and new-shape keys are never mixed.
    pub const fn vsn(mut self, vsn: u32) -> Self {
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
    pub const fn migrate(mut self, f: MigrateFn) -> Self {
        self.migrate = Some(f);
        self
    }

    /// Gives each of `keys` the [`Policy::Reconnect`] policy; every other key
    /// has [`Policy::Session`]. The list is the view's whole set of
    /// `Reconnect` keys: a later call replaces it.
    pub const fn reconnect(mut self, keys: &'static [&'static str]) -> Self {
        self.reconnect = keys;
        self
    }

    /// The view's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The view's current `vsn`.
    pub const fn version(&self) -> u32 {
        self.vsn
    }

    /// The recovery policy of `key`.
    pub fn policy(&self, key: &str) -> Policy {
        // A linear scan: a view has a handful of `Reconnect` keys at most.
        if self.reconnect.contains(&key) {
            Policy::Reconnect
        } else {
            Policy::Session
        }
    }

    pub(crate) fn migrate_fn(&self) -> Option<MigrateFn> {
        self.migrate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The point of these items: a whole view, builder calls included, is a
    // constant expression.
    static PREFS: View = View::new("prefs").vsn(2);
    const FORM: View = View::new("form")
        .reconnect(&["draft", "step"])
        .migrate(|_, data| data)
        .vsn(3);

    #[test]
    fn views_are_built_in_const_items() {
        assert_eq!((PREFS.name(), PREFS.version()), ("prefs", 2));
        assert!(PREFS.migrate_fn().is_none());
        assert_eq!(PREFS.policy("draft"), Policy::Session);
        assert_eq!((FORM.name(), FORM.version()), ("form", 3));
        assert_eq!(FORM.policy("draft"), Policy::Reconnect);
        assert_eq!(FORM.policy("step"), Policy::Reconnect);
        assert_eq!(FORM.policy("theme"), Policy::Session);
        let migrate = FORM.migrate_fn().expect("a migration");
        let mut data = Map::new();
        data.insert("k".into(), Value::from(1));
        assert_eq!(migrate(1, data.clone()), data);
        // A later `reconnect` replaces the list.
        let replaced = FORM.reconnect(&["other"]);
        assert_eq!(replaced.policy("draft"), Policy::Session);
        assert_eq!(replaced.policy("other"), Policy::Reconnect);
    }
}
