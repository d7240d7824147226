//! Keys and JSON-normalized values.
//!
//! Values are stored as compact JSON bytes. Serializing on write and deserializing
//! on read means what an app reads back is exactly what every backend would give
//! it: a value that round-trips in development round-trips through Redis or S3 in
//! production, and types that do not survive JSON fail at the write, not later.

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Limits, Result};

/// Checks a state key against the limits: non-empty, not too long, no control
/// characters (they would be invisible in logs and break some backends' key syntax).
pub(crate) fn validate_key(key: &str, limits: &Limits) -> Result<()> {
    let reason = if key.is_empty() {
        "must not be empty"
    } else if key.len() > limits.max_key_bytes {
        "is longer than the key limit"
    } else if key.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidKey {
        key: key.chars().take(64).collect(),
        reason,
    })
}

/// Serializes `value` to compact JSON, enforcing the value-size limit.
pub(crate) fn encode<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    limits: &Limits,
) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(value).map_err(|source| Error::Json {
        key: key.to_owned(),
        direction: "serialized",
        source,
    })?;
    if bytes.len() > limits.max_value_bytes {
        return Err(Error::ValueTooLarge {
            size: bytes.len(),
            limit: limits.max_value_bytes,
        });
    }
    Ok(bytes)
}

/// Deserializes stored JSON as `T`.
pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json {
        key: key.to_owned(),
        direction: "deserialized",
        source,
    })
}

/// The byte-level closure a backend applies atomically for a typed `update`
/// or `try_update`: decodes the current JSON (or `default`, already encoded),
/// applies `f`, and encodes the result within the limits. Backends may call it
/// again after a conflict; each run leaves what `f` returned in `produced`, so
/// after the backend returns, `produced` holds the outcome of the last run:
/// the value whose bytes were stored, or the error `f` declined with. The typed
/// updates return that value instead of decoding the stored bytes a second
/// time (on the request path, that decode was about a dozen allocations for a
/// short list of strings).
///
/// When `f` declines, the closure fails with [`Error::UpdateDeclined`], which
/// every backend passes back unchanged without writing (the
/// [`PageStore::update`](crate::page::PageStore::update) contract); the caller
/// then returns `f`'s own error from `produced`.
pub(crate) fn byte_updater<'a, T, E, F>(
    key: &'a str,
    default: &'a [u8],
    mut f: F,
    limits: Limits,
    produced: &'a mut Option<Result<T, E>>,
) -> impl FnMut(Option<&[u8]>) -> Result<Vec<u8>> + Send + 'a
where
    T: Serialize + DeserializeOwned + Send,
    E: Send,
    F: FnMut(T) -> Result<T, E> + Send + 'a,
{
    move |current| {
        // A failed run must not leave an earlier run's outcome behind.
        *produced = None;
        match f(decode(key, current.unwrap_or(default))?) {
            Ok(value) => {
                let bytes = encode(key, &value, &limits)?;
                *produced = Some(Ok(value));
                Ok(bytes)
            }
            Err(declined) => {
                *produced = Some(Err(declined));
                Err(Error::UpdateDeclined)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        let limits = Limits::default().max_key_bytes(4);
        assert!(validate_key("cart", &limits).is_ok());
        assert!(matches!(
            validate_key("", &limits),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            validate_key("carts", &limits),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            validate_key("a\nb", &limits),
            Err(Error::InvalidKey { .. })
        ));
    }

    #[test]
    fn values_are_size_checked() {
        let limits = Limits::default().max_value_bytes(8);
        assert_eq!(encode("k", &[1, 2], &limits).unwrap(), b"[1,2]");
        let err = encode("k", "a long string", &limits).unwrap_err();
        assert!(matches!(err, Error::ValueTooLarge { size: 15, limit: 8 }));
    }

    #[test]
    fn decode_reports_the_key() {
        let err = decode::<u32>("count", b"\"x\"").unwrap_err();
        assert!(err.to_string().contains("count"), "{err}");
    }
}
