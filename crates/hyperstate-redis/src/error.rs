//! How a failed Redis command becomes a hyperstate error.

use hyperstate::Error;

/// A backend error of Redis for `operation`: the caller answers 503, and
/// the command's own message is kept for the log.
pub(crate) fn backend_error(operation: &'static str, err: redis::RedisError) -> Error {
    Error::backend("redis", operation, err)
}
