//! The backend's name, and how a failed statement becomes a hyperstate error.

use hyperstate::Error;

/// The backend's name in errors, logs and metrics.
pub(crate) const BACKEND: &str = "postgres";

/// A backend error of PostgreSQL for `operation`: the caller answers 503, and
/// the driver's own message is kept for the log.
pub(crate) fn backend_error(operation: &'static str, err: sqlx::Error) -> Error {
    Error::backend(BACKEND, operation, err)
}
