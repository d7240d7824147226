//! `GET /healthz`.

/// Answers 200 while the server can serve requests.
pub(crate) async fn check() -> &'static str {
    "ok"
}
