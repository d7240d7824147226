//! The HTTP status each kind of core error answers with.

use http::StatusCode;
use hyperstate::ErrorKind;

/// The HTTP status of each kind of core error. Exhaustive on purpose: a new
/// kind does not compile until it says how it answers.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::MalformedId
        | ErrorKind::InvalidKey
        | ErrorKind::RoomFull
        | ErrorKind::Json
        | ErrorKind::PageIdRequired
        | ErrorKind::Declined => StatusCode::BAD_REQUEST,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::AccessDenied => StatusCode::FORBIDDEN,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        // Transient: a retry may well succeed (`Retry-After` is set).
        ErrorKind::TooManyRooms
        | ErrorKind::StoreFull
        | ErrorKind::Backend
        | ErrorKind::BackendUnavailable
        | ErrorKind::ShuttingDown
        | ErrorKind::Conflict
        | ErrorKind::WriterStopped => StatusCode::SERVICE_UNAVAILABLE,
        // The server's own data or configuration: nothing the client can fix.
        ErrorKind::Corrupt | ErrorKind::InvalidSecret => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_kind_maps_to_a_status_of_its_class() {
        for kind in ErrorKind::ALL {
            let status = status_of(kind);
            assert_eq!(
                status.is_client_error(),
                kind.is_client_error(),
                "{kind:?} answers {status}"
            );
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{kind:?} answers {status}"
            );
        }
        let too_many_views = hyperstate::Error::TooManyViews { limit: 1 };
        assert_eq!(
            status_of(too_many_views.kind()),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let too_many_members = hyperstate::Error::TooManyMembers { limit: 1 };
        assert_eq!(status_of(too_many_members.kind()), StatusCode::BAD_REQUEST);
    }
}
