//! The apps under comparison, driven in process through `oneshot`.
//!
//! Every app answers the same routes, so the drivers treat them alike:
//!
//! - `POST /count`: read-modify-write of one session key (a counter);
//! - `POST /kv/{key}`: sets `key` to the request body;
//! - `POST /kv-then-io/{key}`: the same, then awaits 1 ms of other work, as a
//!   handler that also calls a database would;
//! - `GET /kv/{key}`: the value of `key`, empty when absent.
//!
//! The bare app has no session: its counter is a process-wide atomic, so it
//! measures what axum and the request plumbing cost without any session layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use http_body_util::BodyExt;
use hyperstate::fs::FsDocumentStore;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{DocumentStore, SessionCoherence, SessionSecret, View};
use hyperstate_axum::{Error, Hyperstate, Session};
use tower::ServiceExt;
use tower_sessions::{MemoryStore, SessionManagerLayer};

/// One app and what must outlive it (its data directory, its background tasks).
pub(crate) struct App {
    pub(crate) name: &'static str,
    router: Router,
    hyperstate: Option<Hyperstate>,
    _dir: Option<tempfile::TempDir>,
}

impl App {
    /// No session at all: the baseline the overheads are measured against.
    pub(crate) fn bare() -> App {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        async fn count() -> String {
            (COUNTER.fetch_add(1, Ordering::Relaxed) + 1).to_string()
        }
        App {
            name: "bare handler (no session)",
            router: Router::new().route("/count", post(count)),
            hyperstate: None,
            _dir: None,
        }
    }

    /// tower-sessions with its memory store, default settings.
    pub(crate) fn tower_sessions() -> App {
        let router = Router::new()
            .route("/count", post(tower_app::count))
            .route("/kv/{key}", post(tower_app::set).get(tower_app::get_one))
            .route(
                "/kv-then-io/{key}",
                post(tower_app::set).layer(from_fn(then_other_io)),
            )
            .layer(SessionManagerLayer::new(MemoryStore::default()));
        App {
            name: "tower-sessions (memory store)",
            router,
            hyperstate: None,
            _dir: None,
        }
    }

    /// hyperstate's `Session` on the in-memory document store.
    pub(crate) fn hyperstate_memory() -> App {
        Self::hyperstate(
            "hyperstate memory store",
            Arc::new(MemoryDocumentStore::default()),
            None,
        )
    }

    /// hyperstate's `Session` on the filesystem store, the embedded default.
    pub(crate) fn hyperstate_fs(sync: bool) -> App {
        // In the target directory rather than /tmp, which may be a tmpfs where
        // fsync is free and the durable row would flatter us.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
        let store = FsDocumentStore::open(dir.path())
            .expect("filesystem store")
            .sync(sync);
        let name = if sync {
            "hyperstate filesystem store (fsync on, the default)"
        } else {
            "hyperstate filesystem store (fsync off)"
        };
        Self::hyperstate(name, Arc::new(store), Some(dir))
    }

    fn hyperstate(
        name: &'static str,
        store: Arc<dyn DocumentStore>,
        dir: Option<tempfile::TempDir>,
    ) -> App {
        let state = Hyperstate::builder()
            .sessions(store, SessionSecret::from_bytes([7u8; 32]).expect("secret"))
            // One process owns the store here, as tower-sessions' does.
            .session_coherence(SessionCoherence::SingleNode)
            .build()
            .expect("build hyperstate");
        let router = Router::new()
            .route("/count", post(hyperstate_app::count))
            .route(
                "/kv/{key}",
                post(hyperstate_app::set).get(hyperstate_app::get_one),
            )
            .route(
                "/kv-then-io/{key}",
                post(hyperstate_app::set).layer(from_fn(then_other_io)),
            )
            .layer(state.layer());
        App {
            name,
            router,
            hyperstate: Some(state),
            _dir: dir,
        }
    }

    /// Sends one request with the browser's cookie; the status and body text.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&HeaderValue>,
        body: String,
    ) -> (StatusCode, String) {
        let (status, _, body) = self.send_full(method, uri, cookie, body).await;
        (status, body)
    }

    /// A new browser: one write without a cookie creates its session; the
    /// cookie to send from then on (`None` for the bare app, which sets none).
    pub(crate) async fn new_browser(&self) -> Option<HeaderValue> {
        let (status, set_cookie, _) = self
            .send_full(Method::POST, "/kv/first", None, "x".into())
            .await;
        let set_cookie = set_cookie?;
        assert_eq!(status, StatusCode::OK, "{}: first write", self.name);
        let pair = set_cookie.to_str().ok()?.split(';').next()?.to_owned();
        HeaderValue::from_str(&pair).ok()
    }

    async fn send_full(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&HeaderValue>,
        body: String,
    ) -> (StatusCode, Option<HeaderValue>, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = request.body(Body::from(body)).expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (
            parts.status,
            parts.headers.get(header::SET_COOKIE).cloned(),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Stops hyperstate's background tasks (the writer tasks commit first).
    pub(crate) async fn shutdown(&self) {
        if let Some(state) = &self.hyperstate {
            state.shutdown().await;
        }
    }
}

/// Runs the handler, then spends what a handler that also talks to a
/// database would after its session write: the request stays in flight while
/// the rest of the runtime runs. Inside the session layers, so tower-sessions
/// saves only after it.
async fn then_other_io(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    response
}

/// The handlers on tower-sessions: the record is loaded on first access and
/// saved whole by the layer once the handler has returned.
mod tower_app {
    use super::*;

    fn internal(_: tower_sessions::session::Error) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    pub(super) async fn count(session: tower_sessions::Session) -> Result<String, StatusCode> {
        let n = session
            .get::<u64>("n")
            .await
            .map_err(internal)?
            .unwrap_or(0)
            + 1;
        session.insert("n", n).await.map_err(internal)?;
        Ok(n.to_string())
    }

    pub(super) async fn set(
        session: tower_sessions::Session,
        Path(key): Path<String>,
        body: String,
    ) -> Result<&'static str, StatusCode> {
        session.insert(&key, body).await.map_err(internal)?;
        Ok("ok")
    }

    pub(super) async fn get_one(
        session: tower_sessions::Session,
        Path(key): Path<String>,
    ) -> Result<String, StatusCode> {
        let value = session.get::<String>(&key).await.map_err(internal)?;
        Ok(value.unwrap_or_default())
    }
}

/// The same handlers on hyperstate: each write is one per-key change, durable
/// when `put` returns.
mod hyperstate_app {
    use super::*;

    static VIEW: View = View::new("bench");

    pub(super) async fn count(session: Session) -> Result<String, Error> {
        let view = session.view(&VIEW);
        let n = view.get_or("n", 0u64).await? + 1;
        view.put("n", &n).await?;
        Ok(n.to_string())
    }

    pub(super) async fn set(
        session: Session,
        Path(key): Path<String>,
        body: String,
    ) -> Result<&'static str, Error> {
        session.view(&VIEW).put(&key, &body).await?;
        Ok("ok")
    }

    pub(super) async fn get_one(
        session: Session,
        Path(key): Path<String>,
    ) -> Result<String, Error> {
        Ok(session.view(&VIEW).get_or(&key, String::new()).await?)
    }
}
