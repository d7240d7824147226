//! Metrics and tracing for every store operation.
//!
//! Each operation of a scope handle runs in a `debug` span named
//! `hyperstate.op` with the scope, the operation and the backend, and counts
//! into `hyperstate_operations_total{scope, op, backend, outcome}`. Labels are
//! always from small fixed sets: ids never become labels (one series per page
//! would be a memory leak in the metrics system itself).
//!
//! Metrics go through the [`metrics`] facade: install any recorder (the demo
//! uses Prometheus) before building stores, so their cached handles attach to it.

use std::future::Future;

use tracing::Instrument;

use crate::{Error, Result};

/// A short, fixed name for the kind of an error, for the `outcome` label.
pub fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => error_kind(err),
    }
}

/// A short, fixed name for the kind of an error.
pub fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::MalformedId { .. } => "malformed_id",
        Error::InvalidKey { .. } | Error::InvalidRoomKey { .. } => "invalid_key",
        Error::ValueTooLarge { .. }
        | Error::TooManyKeys { .. }
        | Error::ScopeTooLarge { .. }
        | Error::TooManyMembers { .. }
        | Error::TooManyRooms { .. }
        | Error::TooManyViews { .. } => "limit",
        Error::AccessDenied { .. } => "access_denied",
        Error::PageIdRequired { .. } => "page_id_required",
        Error::SessionConflict { .. } => "conflict",
        Error::CorruptSession { .. } => "corrupt",
        Error::InvalidSecret { .. } => "invalid_secret",
        Error::WriterStopped => "writer_stopped",
        Error::StoreFull { .. } => "store_full",
        Error::Json { .. } => "json",
        Error::Backend { .. } => "backend",
        Error::ShuttingDown => "shutting_down",
    }
}

/// Runs one store operation inside its span and counts its outcome.
pub async fn operation<T>(
    scope: &'static str,
    op: &'static str,
    backend: &'static str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::debug_span!(
        "hyperstate.op",
        scope,
        op,
        backend,
        outcome = tracing::field::Empty
    );
    let result = work.instrument(span.clone()).await;
    let outcome = outcome(&result);
    span.record("outcome", outcome);
    metrics::counter!(
        "hyperstate_operations_total",
        "scope" => scope, "op" => op, "backend" => backend, "outcome" => outcome
    )
    .increment(1);
    if let Err(err) = &result {
        if !err.is_client_error() {
            tracing::warn!(scope, op, backend, error = %err, "state operation failed");
        }
    }
    result
}

/// The counter of lost compare-and-swaps, `hyperstate_cas_conflicts_total{scope,
/// backend}`: each one a write that found the value changed under it and was
/// retried (page and room updates on Redis, session commits). Getting the
/// handle registers the series, so it reads 0 before the first conflict.
pub fn cas_conflicts(scope: &'static str, backend: &'static str) -> metrics::Counter {
    metrics::counter!("hyperstate_cas_conflicts_total", "scope" => scope, "backend" => backend)
}

/// The histogram of how long one durable write (a session PUT, whatever its
/// outcome) took, `hyperstate_durable_write_seconds{backend}`.
pub fn durable_write_seconds(backend: &'static str) -> metrics::Histogram {
    metrics::histogram!("hyperstate_durable_write_seconds", "backend" => backend)
}
