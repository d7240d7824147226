//! Read-modify-write of one key of a session view: the closure runs inside
//! the commit, on the freshest document, so no concurrent write is lost.
//!
//! The committer holds the session's turn on this node, so no other write of
//! this node interleaves; another node's write makes the compare-and-swap
//! fail, and the closure runs again on the document reloaded.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::SessionOptions;
use super::change::apply_update;
use super::commit::Pending;
use super::doc::SessionDoc;
use super::view::View;
use crate::value::{decode, encode};
use crate::{Error, Key, Limits, Result};

/// The untyped step of an update: the new JSON value from the one a request
/// may recover now (`None`: nothing stored for it).
pub(crate) type UpdateFn<'a> = dyn FnMut(Option<&Value>) -> Result<Value> + Send + 'a;

/// An update waiting for its commit. It borrows its closure from the caller,
/// so it is committed from the caller's task (never queued on a writer).
pub(crate) struct Update<'a, 'f> {
    pub(crate) view: View,
    pub(crate) key: &'a str,
    /// The writing page for a `Reconnect` key, `None` for a `Session` key.
    pub(crate) page: Option<&'a str>,
    pub(crate) f: &'a mut UpdateFn<'f>,
    /// Where the commit's answer is left for the caller.
    pub(crate) answer: &'a mut Option<Result<()>>,
}

impl Pending for Update<'_, '_> {
    fn apply(&mut self, doc: &mut SessionDoc, options: &SessionOptions) -> Result<()> {
        apply_update(doc, &self.view, self.key, self.page, self.f, options)
    }

    fn finish(self, result: Result<()>) {
        *self.answer = Some(result);
    }
}

/// The typed closure of `try_update` as an [`UpdateFn`]: decodes the current
/// value (or the key's default), applies `f`, and encodes the result within
/// the limits. Each run leaves what `f` returned in `produced`, so once the
/// commit is done it holds the outcome of the run that counted: the value
/// stored, or the error `f` declined with (then the step fails with
/// [`Error::UpdateDeclined`] and nothing is written).
pub(crate) fn typed_step<'a, T, E, F>(
    key: &'a Key<T>,
    limits: Limits,
    f: &'a mut F,
    produced: &'a mut Option<Result<T, E>>,
) -> impl FnMut(Option<&Value>) -> Result<Value> + Send + 'a
where
    T: Serialize + DeserializeOwned + Send,
    E: Send,
    F: FnMut(T) -> Result<T, E> + Send,
{
    let name = key.name();
    move |current| {
        // A failed run must not leave an earlier run's outcome behind.
        *produced = None;
        let value = match current {
            Some(json) => T::deserialize(json).map_err(|source| Error::Json {
                key: name.to_owned(),
                direction: "deserialized",
                source,
            })?,
            None => key.default_value(),
        };
        match f(value) {
            Ok(value) => {
                // Through bytes, as a `put` does: the size limit is on the encoding.
                let json = decode(name, &encode(name, &value, &limits)?)?;
                *produced = Some(Ok(value));
                Ok(json)
            }
            Err(declined) => {
                *produced = Some(Err(declined));
                Err(Error::UpdateDeclined)
            }
        }
    }
}

/// What a typed update returns, from how its commit ended and what its
/// closure produced on the last run. `None` when the commit succeeded without
/// a value from the closure, which a commit never does (it applies the
/// closure first); the caller then reads the stored value.
pub(crate) fn outcome<T, E>(
    stored: Result<()>,
    produced: Option<Result<T, E>>,
) -> Option<Result<Result<T, E>>> {
    match (stored, produced) {
        (Ok(()), Some(Ok(value))) => Some(Ok(Ok(value))),
        (Err(Error::UpdateDeclined), Some(Err(declined))) => Some(Ok(Err(declined))),
        (Err(err), _) => Some(Err(err)),
        (Ok(()), _) => None,
    }
}
