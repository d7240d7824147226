//! The demo's error type: hyperstate's errors plus bad form input.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyperstate_axum::hyperstate;

/// Why a demo request failed; answered with a status and a short message that
/// the page shows in its error box.
#[derive(Debug)]
pub enum AppError {
    /// A form field was missing or unacceptable.
    BadInput(&'static str),
    /// hyperstate refused or failed.
    State(hyperstate_axum::Error),
}

impl From<hyperstate_axum::Error> for AppError {
    fn from(err: hyperstate_axum::Error) -> Self {
        AppError::State(err)
    }
}

impl From<hyperstate::Error> for AppError {
    fn from(err: hyperstate::Error) -> Self {
        AppError::State(err.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::BadInput(message) => (StatusCode::BAD_REQUEST, message).into_response(),
            AppError::State(err) => err.into_response(),
        }
    }
}
