//! The README's first code block is this crate's `src/main.rs`, word for word,
//! and the app it describes serves page and session state.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

// The app itself, compiled into this test: `app` is what the README's `main` serves.
#[allow(dead_code)]
#[path = "../src/main.rs"]
mod readme_app;

const README: &str = include_str!("../../../README.md");
const MAIN_RS: &str = include_str!("../src/main.rs");

/// The body of the README's first ```rust block.
fn first_rust_block(markdown: &str) -> &str {
    let start = markdown
        .find("```rust")
        .expect("the README has a rust code block");
    let body = &markdown[start..];
    let body = &body[body.find('\n').expect("a fence line") + 1..];
    &body[..body.find("\n```").expect("a closing fence") + 1]
}

#[test]
fn the_readme_shows_this_app() {
    assert!(
        first_rust_block(README) == MAIN_RS,
        "README.md's first ```rust block and examples/readme/src/main.rs differ: \
         copy one into the other"
    );
}

struct Answer {
    status: StatusCode,
    cookie: Option<String>,
    body: String,
}

async fn send(app: &axum::Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        cookie,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn page_id(html: &str) -> &str {
    let at = html
        .find(r#"name="hyperstate-page-id" content=""#)
        .expect("the page id is injected");
    let rest = &html[at + r#"name="hyperstate-page-id" content=""#.len()..];
    &rest[..rest.find('"').unwrap()]
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn htmx_post(path: &str, cookie: &str, page: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header("hx-request", "true")
        .header("x-page-id", page)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn the_app_keeps_a_counter_per_tab_and_a_theme_per_browser() {
    let data = tempfile::tempdir().unwrap();
    let state = hyperstate_axum::Hyperstate::builder()
        .data_dir(data.path())
        .build()
        .unwrap();
    let app = readme_app::app(&state);

    let first = send(&app, get("/", "")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains(r#"class="light""#), "{}", first.body);
    let cookie = first
        .cookie
        .expect("the page load binds the page to a browser");
    let tab = page_id(&first.body).to_owned();

    // Page state: the tab's counter counts; a new load of the page starts afresh.
    for expected in ["1", "2"] {
        let answer = send(&app, htmx_post("/count", &cookie, &tab, "")).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, expected)
        );
    }
    let reload = send(&app, get("/", &cookie)).await;
    assert!(
        reload.body.contains(r#"<b id="n">0</b>"#),
        "{}",
        reload.body
    );
    let tab = page_id(&reload.body).to_owned();
    let answer = send(&app, htmx_post("/count", &cookie, &tab, "")).await;
    assert_eq!(answer.body, "1");

    // Session state: the theme outlives the page; another browser has its own.
    let saved = send(&app, htmx_post("/theme", &cookie, &tab, "theme=dark")).await;
    assert_eq!(
        (saved.status, saved.body.as_str()),
        (StatusCode::OK, "dark")
    );
    let again = send(&app, get("/", &cookie)).await;
    assert!(again.body.contains(r#"class="dark""#), "{}", again.body);
    let stranger = send(&app, get("/", "")).await;
    assert!(
        stranger.body.contains(r#"class="light""#),
        "{}",
        stranger.body
    );

    // The htmx the page loads is served by the library.
    let htmx = send(&app, get(hyperstate_axum::assets::HTMX_2, "")).await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.body.contains("htmx"));
    state.shutdown().await;
}
