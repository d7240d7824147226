//! `Hyperstate::builder()` with no call: sessions are on, on the file system
//! under the data directory, with a development secret kept there; every
//! builder setting holds whatever the order of the calls; rooms made by the
//! handle end their streams without the app touching the supervisor; the
//! library serves htmx and its SSE extension.

mod kv;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use http_body_util::BodyExt;
use hyperstate::fs::{DEV_SECRET_FILE, SESSION_SECRET_ENV};
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::room::{Principal, RoomInit, RoomKey};
use hyperstate::session::{DocumentStore, SessionOptions, SessionSecret};
use hyperstate_axum::{BuildError, Error, Hyperstate, assets};
use kv::{get_one, set};
use tower::ServiceExt;

fn app(state: &Hyperstate) -> Router {
    Router::new()
        .route("/kv/{key}", post(set).get(get_one))
        .layer(state.layer())
        .merge(assets::routes())
}

/// Status, the `name=value` of the cookie set (if any), `Max-Age` line, body.
async fn call(app: &Router, method: &str, uri: &str, cookie: &str, body: &str) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        set_cookie,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn cookie(&self) -> String {
        let set = self.set_cookie.as_deref().expect("a cookie was set");
        set.split(';').next().unwrap().to_owned()
    }
}

#[tokio::test]
async fn by_default_sessions_are_kept_in_the_data_dir_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let first = Hyperstate::builder().data_dir(data.path()).build().unwrap();
    let written = call(&app(&first), "POST", "/kv/theme", "", "dark").await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.body);
    let cookie = written.cookie();
    first.shutdown().await;
    if std::env::var_os(SESSION_SECRET_ENV).is_none() {
        assert!(data.path().join(DEV_SECRET_FILE).is_file());
    }
    assert!(data.path().join("sessions").is_dir());

    // The next start finds the same secret and the same documents.
    let second = Hyperstate::builder().data_dir(data.path()).build().unwrap();
    let read = call(&app(&second), "GET", "/kv/theme", &cookie, "").await;
    assert_eq!((read.status, read.body.as_str()), (StatusCode::OK, "dark"));
    second.shutdown().await;
}

#[tokio::test]
async fn session_options_set_before_the_store_take_effect() {
    let store: Arc<dyn DocumentStore> = Arc::new(MemoryDocumentStore::default());
    let week = Duration::from_secs(7 * 24 * 60 * 60);
    let state = Hyperstate::builder()
        .session_options(SessionOptions::default().ttl(week))
        .sessions(store, SessionSecret::from_bytes([5u8; 32]).unwrap())
        .build()
        .unwrap();
    let written = call(&app(&state), "POST", "/kv/theme", "", "dark").await;
    let set = written.set_cookie.expect("the first write sets the cookie");
    assert!(
        set.contains("Max-Age=604800"),
        "the 7-day TTL was dropped: {set}"
    );
    state.shutdown().await;
}

#[tokio::test]
async fn without_sessions_the_session_extractor_answers_500_and_nothing_is_written() {
    let data = tempfile::tempdir().unwrap();
    let state = Hyperstate::builder()
        .data_dir(data.path())
        .without_sessions()
        .build()
        .unwrap();
    let written = call(&app(&state), "POST", "/kv/theme", "", "dark").await;
    assert_eq!(written.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(state.sessions().is_none());
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
    state.shutdown().await;
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_a_build_error() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let built = Hyperstate::builder().data_dir(&file).build();
    assert!(
        matches!(built, Err(BuildError::SessionStore { .. })),
        "{built:?}"
    );
}

#[tokio::test]
async fn rooms_of_the_handle_end_their_streams_on_end_streams() {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    let rooms = state.rooms(|_: &RoomKey| RoomInit::new().value("n", &0));
    let room = rooms.room("lobby").unwrap();
    let mut subscription = room.attach(&Principal::app("alice"), None).await.unwrap();
    assert!(
        subscription.next().await.is_some(),
        "the first event: the state"
    );
    state.end_streams();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while subscription.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end");
    state.shutdown().await;
}

#[tokio::test]
async fn the_library_serves_htmx_and_its_sse_extensions() {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    let app = app(&state);
    for path in [
        assets::HTMX_2,
        assets::HTMX_4,
        assets::HTMX_2_SSE,
        assets::HTMX_4_SSE,
    ] {
        let answer = call(&app, "GET", path, "", "").await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(
            answer
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("text/javascript")),
            "{path}"
        );
        assert!(answer.body.len() > 1000, "{path}");
    }
    let missing = call(&app, "GET", "/_hyperstate/nothing.js", "", "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    state.shutdown().await;
}

// The prelude names what an app uses; this compiles only if it does.
#[allow(dead_code)]
async fn prelude_is_enough(
    page: hyperstate_axum::prelude::Page,
    session: hyperstate_axum::prelude::Session,
) -> Result<String, Error> {
    use hyperstate_axum::prelude::*;
    static V: View = View::new("v");
    let n: u64 = page.get_or("n", 0).await?;
    let t: String = session.view(&V).get_or("t", String::new()).await?;
    let _ = HttpConfig::default();
    Ok(format!("{n}{t}"))
}
