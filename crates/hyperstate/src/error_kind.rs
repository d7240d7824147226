//! What kind of failure an [`Error`] is: the one classification of errors.
//!
//! Everything that branches on errors derives from [`Error::kind`]: the
//! `outcome` label of the operation metrics ([`ErrorKind::as_str`]), whether
//! the caller or the server is at fault ([`ErrorKind::is_client_error`]), and in
//! the web integration the HTTP status. Each of those is an exhaustive `match`
//! on [`ErrorKind`] without a catch-all arm, so a new kind does not compile
//! until every one of them says what it means. (The enum is deliberately not
//! `#[non_exhaustive]`, so that integrations in other crates can match it
//! exhaustively too.)

use crate::Error;

/// The kind of an [`Error`]: what a caller, a metric or a status code needs to
/// know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A page id or browser id was malformed ([`Error::MalformedId`]). HTTP 400.
    MalformedId,
    /// A state or room key was rejected ([`Error::InvalidKey`],
    /// [`Error::InvalidRoomKey`]). HTTP 400.
    InvalidKey,
    /// A write would break a size limit: value, keys or bytes per scope, views
    /// per session. HTTP 413.
    TooLarge,
    /// A room has as many members as it may ([`Error::TooManyMembers`]). HTTP 400.
    RoomFull,
    /// As many rooms are live as may be ([`Error::TooManyRooms`]): a retry
    /// may succeed once idle ones expire. HTTP 503.
    TooManyRooms,
    /// A value could not be (de)serialized as JSON ([`Error::Json`]). HTTP 400.
    Json,
    /// The room's ACL denied the caller ([`Error::AccessDenied`]). HTTP 403.
    AccessDenied,
    /// A `Reconnect` key was written without a page id ([`Error::PageIdRequired`]). HTTP 400.
    PageIdRequired,
    /// The client asked for something rate-limited too fast ([`Error::RateLimited`]). HTTP 429.
    RateLimited,
    /// The memory backend's budget is spent ([`Error::StoreFull`]). HTTP 503.
    StoreFull,
    /// A backend failed ([`Error::Backend`]). HTTP 503.
    Backend,
    /// A backend's circuit breaker is open ([`Error::BackendUnavailable`]). HTTP 503.
    BackendUnavailable,
    /// The service is shutting down ([`Error::ShuttingDown`]). HTTP 503.
    ShuttingDown,
    /// A session write kept losing its compare-and-swap ([`Error::SessionConflict`]). HTTP 503.
    Conflict,
    /// The session writer stopped before acknowledging ([`Error::WriterStopped`]). HTTP 503.
    WriterStopped,
    /// A stored session document could not be read ([`Error::CorruptSession`]). HTTP 500.
    Corrupt,
    /// A session secret was rejected ([`Error::InvalidSecret`]): a
    /// configuration error. HTTP 500.
    InvalidSecret,
    /// The closure of a `try_update` declined ([`Error::UpdateDeclined`]);
    /// nothing was written. HTTP 400.
    Declined,
}

impl ErrorKind {
    /// Every kind, for tests and tables that must cover them all.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::MalformedId,
        ErrorKind::InvalidKey,
        ErrorKind::TooLarge,
        ErrorKind::RoomFull,
        ErrorKind::TooManyRooms,
        ErrorKind::Json,
        ErrorKind::AccessDenied,
        ErrorKind::PageIdRequired,
        ErrorKind::RateLimited,
        ErrorKind::StoreFull,
        ErrorKind::Backend,
        ErrorKind::BackendUnavailable,
        ErrorKind::ShuttingDown,
        ErrorKind::Conflict,
        ErrorKind::WriterStopped,
        ErrorKind::Corrupt,
        ErrorKind::InvalidSecret,
        ErrorKind::Declined,
    ];

    /// A short, fixed name: the `outcome` label of the operation metrics. The
    /// size and capacity kinds share `"limit"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedId => "malformed_id",
            ErrorKind::InvalidKey => "invalid_key",
            ErrorKind::TooLarge | ErrorKind::RoomFull | ErrorKind::TooManyRooms => "limit",
            ErrorKind::Json => "json",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::PageIdRequired => "page_id_required",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::StoreFull => "store_full",
            ErrorKind::Backend => "backend",
            ErrorKind::BackendUnavailable => "backend_unavailable",
            ErrorKind::ShuttingDown => "shutting_down",
            ErrorKind::Conflict => "conflict",
            ErrorKind::WriterStopped => "writer_stopped",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::InvalidSecret => "invalid_secret",
            ErrorKind::Declined => "declined",
        }
    }

    /// True when the caller's input caused the error (a 4xx in HTTP terms),
    /// false when the server or a backend is at fault (a 5xx).
    pub fn is_client_error(self) -> bool {
        match self {
            ErrorKind::MalformedId
            | ErrorKind::InvalidKey
            | ErrorKind::TooLarge
            | ErrorKind::RoomFull
            | ErrorKind::Json
            | ErrorKind::AccessDenied
            | ErrorKind::PageIdRequired
            | ErrorKind::RateLimited
            | ErrorKind::Declined => true,
            ErrorKind::TooManyRooms
            | ErrorKind::StoreFull
            | ErrorKind::Backend
            | ErrorKind::BackendUnavailable
            | ErrorKind::ShuttingDown
            | ErrorKind::Conflict
            | ErrorKind::WriterStopped
            | ErrorKind::Corrupt
            | ErrorKind::InvalidSecret => false,
        }
    }
}

impl Error {
    /// The kind of this error, from which its metric outcome, its fault and
    /// (in the web integration) its HTTP status are derived.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::MalformedId { .. } => ErrorKind::MalformedId,
            Error::InvalidKey { .. } | Error::InvalidRoomKey { .. } => ErrorKind::InvalidKey,
            Error::ValueTooLarge { .. }
            | Error::TooManyKeys { .. }
            | Error::ScopeTooLarge { .. }
            | Error::TooManyViews { .. } => ErrorKind::TooLarge,
            Error::TooManyMembers { .. } => ErrorKind::RoomFull,
            Error::TooManyRooms { .. } => ErrorKind::TooManyRooms,
            Error::Json { .. } => ErrorKind::Json,
            Error::AccessDenied { .. } => ErrorKind::AccessDenied,
            Error::PageIdRequired { .. } => ErrorKind::PageIdRequired,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::StoreFull { .. } => ErrorKind::StoreFull,
            Error::Backend { .. } => ErrorKind::Backend,
            Error::BackendUnavailable { .. } => ErrorKind::BackendUnavailable,
            Error::ShuttingDown => ErrorKind::ShuttingDown,
            Error::SessionConflict { .. } => ErrorKind::Conflict,
            Error::WriterStopped => ErrorKind::WriterStopped,
            Error::CorruptSession { .. } => ErrorKind::Corrupt,
            Error::InvalidSecret { .. } => ErrorKind::InvalidSecret,
            Error::UpdateDeclined => ErrorKind::Declined,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;

    #[test]
    fn all_lists_every_kind_once() {
        let kinds: HashSet<ErrorKind> = ErrorKind::ALL.into_iter().collect();
        assert_eq!(kinds.len(), ErrorKind::ALL.len());
        // Each label is a short snake_case word, fit for a metric label.
        for kind in ErrorKind::ALL {
            let label = kind.as_str();
            assert!(
                !label.is_empty() && label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{kind:?}: {label:?}"
            );
        }
    }

    #[test]
    fn errors_classify_by_their_kind() {
        let cases = [
            (
                Error::ValueTooLarge { size: 2, limit: 1 },
                ErrorKind::TooLarge,
            ),
            (Error::TooManyViews { limit: 1 }, ErrorKind::TooLarge),
            (Error::TooManyMembers { limit: 1 }, ErrorKind::RoomFull),
            (Error::TooManyRooms { limit: 1 }, ErrorKind::TooManyRooms),
            (
                Error::RateLimited {
                    what: "x",
                    retry_after: Duration::from_secs(1),
                },
                ErrorKind::RateLimited,
            ),
            (Error::ShuttingDown, ErrorKind::ShuttingDown),
            (Error::UpdateDeclined, ErrorKind::Declined),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err:?}");
        }
        assert!(ErrorKind::TooLarge.is_client_error());
        assert!(!ErrorKind::ShuttingDown.is_client_error());
    }
}
