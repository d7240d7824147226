//! Rejections: every failure maps to an HTTP status and a short plain-text body
//! that an htmx swap can show as it is.

use axum::response::{IntoResponse, Response};
use axum_htmx::HX_REFRESH;
use http::{HeaderValue, StatusCode, header};
use hyperstate::ErrorKind;
use hyperstate::log_limit::RepeatedErrors;
use hyperstate_http::{SseRefused, status_of};

/// An error of the axum integration, or of the core crate, ready to answer with.
///
/// Handlers return `Result<_, hyperstate_axum::Error>` and use `?` on every
/// hyperstate call: a broken limit becomes a 413, a malformed id a 400, a room
/// access denial a 403, a failed backend a 503, each with a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request that needs page state carried no page id.
    #[error(
        "this request carries no page id: send the X-Page-Id header (hyperstate injects the \
         script that does it into full-page HTML) or a `_page_id` form field"
    )]
    MissingPageId,

    /// The page's state expired and the app asked for a reload instead of an
    /// empty page (see `ExpiredPage::Refresh`). Answered with `HX-Refresh: true`.
    #[error("this page's state has expired; reloading")]
    PageExpired,

    /// The `HyperstateLayer` is not installed around the route.
    #[error("hyperstate is not configured for this route: add `Hyperstate::layer()` to the router")]
    LayerMissing,

    /// The [`Session`](crate::Session) extractor was used, but the
    /// [`Hyperstate`](crate::Hyperstate) was built without a session store.
    #[error("session state is not configured: build Hyperstate with `.sessions(...)`")]
    SessionsNotConfigured,

    /// A state-changing request came from another site.
    #[error("{0}")]
    CrossSite(&'static str),

    /// A form body was too large to look for the page id in.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit: usize,
    },

    /// The request body could not be read.
    #[error("request body could not be read")]
    Body(#[source] axum::Error),

    /// The server has as many event streams open as it may
    /// ([`HttpConfig::max_sse_streams`](crate::HttpConfig::max_sse_streams)).
    #[error("this server has too many open event streams; retry later")]
    TooManyStreams,

    /// This client has as many event streams open as it may
    /// ([`HttpConfig::max_sse_streams_per_client`](crate::HttpConfig::max_sse_streams_per_client)).
    #[error(
        "too many open event streams from this client (at most {limit}): close a tab, or retry later"
    )]
    TooManyClientStreams {
        /// The configured cap.
        limit: usize,
    },

    /// An event stream's `since` query parameter is not a room version.
    #[error("the `since` query parameter must be a room version (a whole number)")]
    BadSince,

    /// An error of the core crate.
    #[error(transparent)]
    State(#[from] hyperstate::Error),
}

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::MissingPageId | Error::Body(_) | Error::BadSince => StatusCode::BAD_REQUEST,
            Error::CrossSite(_) => StatusCode::FORBIDDEN,
            Error::PageExpired => StatusCode::OK,
            Error::LayerMissing | Error::SessionsNotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyStreams => StatusCode::SERVICE_UNAVAILABLE,
            Error::TooManyClientStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::State(err) => status_of(err.kind()),
        }
    }
}

impl From<SseRefused> for Error {
    fn from(refused: SseRefused) -> Self {
        match refused {
            SseRefused::TooManyStreams => Error::TooManyStreams,
            SseRefused::TooManyClientStreams { limit } => Error::TooManyClientStreams { limit },
        }
    }
}

/// A backend that is down fails every request alike: one ERROR per kind per
/// interval, then a count of the rest (see [`hyperstate::log_limit`]).
static FAILED_REQUESTS: RepeatedErrors = RepeatedErrors::new(hyperstate::log_limit::INTERVAL);

impl Error {
    /// A short, fixed name for the kind of the error (for grouping repeats).
    fn kind(&self) -> &'static str {
        match self {
            Error::MissingPageId => "missing_page_id",
            Error::PageExpired => "page_expired",
            Error::LayerMissing => "layer_missing",
            Error::SessionsNotConfigured => "sessions_not_configured",
            Error::CrossSite(_) => "cross_site",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::Body(_) => "body",
            Error::TooManyStreams => "too_many_streams",
            Error::TooManyClientStreams { .. } => "too_many_client_streams",
            Error::BadSince => "bad_since",
            Error::State(err) => err.kind().as_str(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        // A request failed fast by an open circuit breaker is not an error
        // of its own: the breaker logged the outage when it opened, and a
        // line per rejection would flood the log at the rate it answers.
        let failed_fast =
            matches!(&self, Error::State(err) if err.kind() == ErrorKind::BackendUnavailable);
        if status.is_server_error() && !failed_fast {
            let kind = [
                "response",
                status.canonical_reason().unwrap_or("server error"),
                self.kind(),
                "",
            ];
            if FAILED_REQUESTS.should_log(kind) {
                tracing::error!(error = %self, source = ?std::error::Error::source(&self), "request failed");
            }
        } else {
            tracing::debug!(error = %self, "request rejected");
        }
        let mut response = (status, self.to_string()).into_response();
        if matches!(self, Error::PageExpired) {
            response
                .headers_mut()
                .insert(HX_REFRESH, HeaderValue::from_static("true"));
        }
        let wait = match &self {
            Error::State(err) => err.retry_after(),
            _ => None,
        };
        if let Some(wait) = wait {
            // Rounded up: a client that comes back on time finds the limit
            // refilled or the breaker ready to probe, not still closed to it.
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_answer_with_the_status_of_their_kind() {
        let err = Error::from(hyperstate::Error::TooManyViews { limit: 1 });
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let err = Error::from(hyperstate::Error::TooManyMembers { limit: 1 });
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    /// The server's stream cap is the server's limit (503), a client's its
    /// own (429, with the cap in the message).
    #[test]
    fn refused_streams_answer_with_whose_limit_it_is() {
        let full = Error::from(SseRefused::TooManyStreams);
        assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
        let greedy = Error::from(SseRefused::TooManyClientStreams { limit: 16 });
        assert_eq!(greedy.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(greedy.to_string().contains("16"), "{greedy}");
    }
}
