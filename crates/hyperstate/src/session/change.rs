//! Per-key changes and how they merge into a session document.
//!
//! A write is never "here is the whole session" (the flaw of whole-record
//! last-write-wins stores): it is one [`Change`] to one key of one view. The
//! writer applies changes to the freshest document it has, and after losing a
//! compare-and-swap it re-applies the same changes to the document it reloads.
//! So two tabs (or two nodes) writing different keys never clobber each other,
//! and writes to one key are ordered by the commits that carry them.

use serde_json::Value;

use super::SessionOptions;
use super::doc::{SessionDoc, ViewSlice};
use super::view::{Policy, View};
use crate::{Error, Result};

/// What one change does.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Sets `key`; `page` is the writing page for `Reconnect` keys.
    Set {
        key: String,
        value: Value,
        page: Option<String>,
    },
    /// Removes `key`.
    Remove { key: String },
    /// Drops the whole slice.
    ClearView,
    /// Drops every `Reconnect` value of the view (a fresh load of the view).
    ClearReconnect,
    /// Changes nothing but `last_seen_at` (which every commit refreshes).
    Touch,
    /// Several operations on one view, applied in order as one unit: all of
    /// them are committed, in one durable write, or none.
    Batch(Vec<Op>),
}

/// One change to one view of a session.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) view: Option<View>,
    pub(crate) op: Op,
}

/// The slice of `view` as its current code sees it.
///
/// A slice stored under another `vsn` is migrated (its `Reconnect` values
/// dropped), or read as empty without a migration: the caller never sees
/// old- and new-shape keys mixed.
pub(crate) fn current_slice(doc: &SessionDoc, view: &View) -> ViewSlice {
    let Some(stored) = doc.views.get(view.name()) else {
        return ViewSlice {
            vsn: view.version(),
            ..Default::default()
        };
    };
    if stored.vsn == view.version() {
        return stored.clone();
    }
    let data = match view.migrate_fn() {
        Some(migrate) => {
            let mut data = stored.data.clone();
            data.retain(|key, _| !stored.pages.contains_key(key));
            migrate(stored.vsn, data)
        }
        None => Default::default(),
    };
    ViewSlice {
        vsn: view.version(),
        data,
        pages: Default::default(),
    }
}

/// The value of `key` that a request on `page` may recover.
pub(crate) fn recover<'a>(
    slice: &'a ViewSlice,
    view: &View,
    key: &str,
    page: Option<&str>,
) -> Option<&'a Value> {
    let value = slice.data.get(key)?;
    match view.policy(key) {
        Policy::Session => Some(value),
        Policy::Reconnect => {
            let writer = slice.pages.get(key).map(String::as_str);
            (writer.is_some() && writer == page).then_some(value)
        }
    }
}

impl Change {
    /// Applies the change to `doc`, or fails (changing nothing) when it would
    /// break a limit.
    pub(crate) fn apply(&self, doc: &mut SessionDoc, options: &SessionOptions) -> Result<()> {
        let Some(view) = &self.view else {
            return Ok(());
        };
        change_slice(doc, view, |slice, doc| {
            apply_op(&self.op, slice, doc, view, options)
        })
    }
}

/// Applies an update of `key` in `view` to `doc`: `f` computes the new value
/// from the one a request may recover now (`None`: nothing to recover), and
/// it is stored as [`Op::Set`] would (`page` is the writing page for a
/// `Reconnect` key, `None` for a `Session` key). Fails, changing nothing, when
/// `f` fails or the write would break a limit.
///
/// Run inside the commit, on the freshest document (again after a lost
/// compare-and-swap), so that no concurrent write of the key is lost.
pub(crate) fn apply_update(
    doc: &mut SessionDoc,
    view: &View,
    key: &str,
    page: Option<&str>,
    f: &mut (dyn FnMut(Option<&Value>) -> Result<Value> + Send),
    options: &SessionOptions,
) -> Result<()> {
    change_slice(doc, view, |slice, doc| {
        let value = f(recover(slice, view, key, page))?;
        let set = Op::Set {
            key: key.to_owned(),
            value,
            page: page.map(str::to_owned),
        };
        apply_op(&set, slice, doc, view, options)
    })
}

/// Runs `change` on a copy of `view`'s current slice, which replaces the
/// stored one only if `change` succeeds (an empty slice is removed).
fn change_slice(
    doc: &mut SessionDoc,
    view: &View,
    change: impl FnOnce(&mut ViewSlice, &SessionDoc) -> Result<()>,
) -> Result<()> {
    let mut slice = current_slice(doc, view);
    change(&mut slice, doc)?;
    if slice.data.is_empty() {
        doc.views.remove(view.name());
    } else {
        doc.views.insert(view.name().to_owned(), slice);
    }
    Ok(())
}

/// Applies `op` to `slice` (of `view` in `doc`), or fails when it would break
/// a limit.
fn apply_op(
    op: &Op,
    slice: &mut ViewSlice,
    doc: &SessionDoc,
    view: &View,
    options: &SessionOptions,
) -> Result<()> {
    match op {
        Op::Set { key, value, page } => {
            let limits = &options.limits;
            if !slice.data.contains_key(key) && slice.data.len() >= limits.max_keys {
                return Err(Error::TooManyKeys {
                    scope: "session view",
                    limit: limits.max_keys,
                });
            }
            slice.data.insert(key.clone(), value.clone());
            match page {
                Some(page) => slice.pages.insert(key.clone(), page.clone()),
                None => slice.pages.remove(key),
            };
            let size = slice.size();
            if size > limits.max_bytes {
                return Err(Error::ScopeTooLarge {
                    scope: "session view",
                    size,
                    limit: limits.max_bytes,
                });
            }
            if !doc.views.contains_key(view.name()) && doc.views.len() >= options.max_views {
                return Err(Error::TooManyViews {
                    limit: options.max_views,
                });
            }
        }
        Op::Remove { key } => {
            slice.data.remove(key);
            slice.pages.remove(key);
        }
        Op::ClearView => slice.data.clear(),
        Op::ClearReconnect => {
            for key in std::mem::take(&mut slice.pages).into_keys() {
                slice.data.remove(&key);
            }
        }
        Op::Touch => {}
        Op::Batch(ops) => {
            for op in ops {
                apply_op(op, slice, doc, view, options)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use serde_json::json;

    fn set(view: &View, key: &str, value: Value, page: Option<&str>) -> Change {
        Change {
            view: Some(*view),
            op: Op::Set {
                key: key.into(),
                value,
                page: page.map(Into::into),
            },
        }
    }

    #[test]
    fn keys_merge_and_a_new_vsn_replaces_the_slice() {
        let options = SessionOptions::default();
        let v1 = View::new("v");
        let mut doc = SessionDoc::default();
        set(&v1, "a", json!(1), None)
            .apply(&mut doc, &options)
            .unwrap();
        set(&v1, "b", json!(2), None)
            .apply(&mut doc, &options)
            .unwrap();
        assert_eq!(doc.views["v"].data.len(), 2);

        // No migration: the old shape is discarded, never mixed in.
        let v2 = View::new("v").vsn(2);
        assert!(current_slice(&doc, &v2).data.is_empty());
        set(&v2, "c", json!(3), None)
            .apply(&mut doc, &options)
            .unwrap();
        assert_eq!(doc.views["v"].vsn, 2);
        assert_eq!(
            doc.views["v"].data,
            json!({"c": 3}).as_object().unwrap().clone()
        );
    }

    #[test]
    fn migration_sees_session_values_only() {
        let options = SessionOptions::default();
        let v1 = View::new("v").reconnect(&["draft"]);
        let mut doc = SessionDoc::default();
        set(&v1, "n", json!(1), None)
            .apply(&mut doc, &options)
            .unwrap();
        set(&v1, "draft", json!("x"), Some("p"))
            .apply(&mut doc, &options)
            .unwrap();
        let v2 = View::new("v").vsn(2).migrate(|old, mut data| {
            assert_eq!(old, 1);
            assert!(!data.contains_key("draft"));
            let n = data.remove("n").and_then(|n| n.as_i64()).unwrap_or(0);
            data.insert("count".into(), json!(n * 10));
            data
        });
        assert_eq!(current_slice(&doc, &v2).data["count"], json!(10));
        Change {
            view: Some(v2),
            op: Op::Touch,
        }
        .apply(&mut doc, &options)
        .unwrap();
        assert_eq!(doc.views["v"].vsn, 2);
        assert!(doc.views["v"].pages.is_empty());
    }

    #[test]
    fn reconnect_values_belong_to_their_page() {
        let options = SessionOptions::default();
        let view = View::new("v").reconnect(&["draft"]);
        let mut doc = SessionDoc::default();
        set(&view, "draft", json!("hi"), Some("p1"))
            .apply(&mut doc, &options)
            .unwrap();
        set(&view, "theme", json!("dark"), None)
            .apply(&mut doc, &options)
            .unwrap();
        let slice = current_slice(&doc, &view);
        assert_eq!(
            recover(&slice, &view, "draft", Some("p1")),
            Some(&json!("hi"))
        );
        assert_eq!(recover(&slice, &view, "draft", Some("p2")), None);
        assert_eq!(recover(&slice, &view, "draft", None), None);
        assert_eq!(recover(&slice, &view, "theme", None), Some(&json!("dark")));
        Change {
            view: Some(view),
            op: Op::ClearReconnect,
        }
        .apply(&mut doc, &options)
        .unwrap();
        let slice = current_slice(&doc, &view);
        assert_eq!(recover(&slice, &view, "draft", Some("p1")), None);
        assert_eq!(recover(&slice, &view, "theme", None), Some(&json!("dark")));
    }

    #[test]
    fn a_batch_applies_whole_or_not_at_all() {
        let options = SessionOptions::default().limits(Limits::default().max_keys(2));
        let view = View::new("v");
        let set_op = |key: &str, n: i64| Op::Set {
            key: key.into(),
            value: json!(n),
            page: None,
        };
        let batch = |ops: Vec<Op>| Change {
            view: Some(view),
            op: Op::Batch(ops),
        };
        let mut doc = SessionDoc::default();
        batch(vec![set_op("a", 1), set_op("b", 2)])
            .apply(&mut doc, &options)
            .unwrap();
        assert_eq!(
            doc.views["v"].data,
            *json!({"a": 1, "b": 2}).as_object().unwrap()
        );
        // The third key breaks the limit: the change to `a` before it is not kept.
        let before = doc.clone();
        let err = batch(vec![set_op("a", 10), set_op("c", 3)])
            .apply(&mut doc, &options)
            .unwrap_err();
        assert!(
            matches!(err, Error::TooManyKeys { limit: 2, .. }),
            "{err:?}"
        );
        assert_eq!(doc, before);
        batch(vec![Op::Remove { key: "a".into() }, set_op("c", 3)])
            .apply(&mut doc, &options)
            .unwrap();
        assert_eq!(
            doc.views["v"].data,
            *json!({"b": 2, "c": 3}).as_object().unwrap()
        );
    }

    #[test]
    fn limits_fail_without_changing_anything() {
        let options = SessionOptions::default()
            .limits(Limits::default().max_keys(2).max_bytes(20))
            .max_views(1);
        let view = View::new("v");
        let mut doc = SessionDoc::default();
        set(&view, "a", json!(1), None)
            .apply(&mut doc, &options)
            .unwrap();
        set(&view, "b", json!(2), None)
            .apply(&mut doc, &options)
            .unwrap();
        let before = doc.clone();
        let err = set(&view, "c", json!(3), None)
            .apply(&mut doc, &options)
            .unwrap_err();
        assert!(
            matches!(err, Error::TooManyKeys { limit: 2, .. }),
            "{err:?}"
        );
        let err = set(&view, "a", json!("x".repeat(30)), None)
            .apply(&mut doc, &options)
            .unwrap_err();
        assert!(
            matches!(err, Error::ScopeTooLarge { limit: 20, .. }),
            "{err:?}"
        );
        let err = set(&View::new("w"), "a", json!(1), None)
            .apply(&mut doc, &options)
            .unwrap_err();
        assert!(matches!(err, Error::TooManyViews { limit: 1 }), "{err:?}");
        assert_eq!(doc, before);
    }
}
