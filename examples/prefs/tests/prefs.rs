//! Preferences over HTTP: saved in one commit, read back on a reload, kept by
//! the data directory across a restart, separate per browser, validated.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyperstate_axum::Hyperstate;
use tower::ServiceExt;

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, String::from_utf8(bytes.to_vec()).unwrap())
}

fn page_id(html: &str) -> String {
    let marker = r#"name="hyperstate-page-id" content=""#;
    let rest = &html[html.find(marker).expect("the page id is injected") + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn load(app: &axum::Router, cookie: &str) -> (Option<String>, String) {
    let request = Request::get("/")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let (status, minted, body) = send(app, request).await;
    assert_eq!(status, StatusCode::OK);
    (minted, body)
}

async fn post(
    app: &axum::Router,
    path: &str,
    cookie: &str,
    page: &str,
    form: &str,
) -> (StatusCode, Option<String>, String) {
    let request = Request::post(path)
        .header(header::COOKIE, cookie)
        .header("hx-request", "true")
        .header("x-page-id", page)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    send(app, request).await
}

#[tokio::test]
async fn preferences_follow_the_browser_and_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let state = Hyperstate::builder().data_dir(data.path()).build().unwrap();
    let app = hyperstate_example_prefs::app(&state);

    // A new browser sees the keys' defaults; its page load binds a cookie.
    let (cookie, body) = load(&app, "").await;
    let cookie = cookie.expect("the page load binds the page to a browser");
    assert!(
        body.contains(r#"style="font-size: 16px" data-theme="light" lang="en""#),
        "{body}"
    );
    let page = page_id(&body);

    // Bad values are refused and nothing is written.
    let (status, _, body) = post(
        &app,
        "/prefs",
        &cookie,
        &page,
        "theme=dark&text_size=99&language=fr",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "text size must be 10 to 32"
        )
    );
    let (status, _, _) = post(
        &app,
        "/prefs",
        &cookie,
        &page,
        "theme=purple&text_size=20&language=fr",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, body) = load(&app, &cookie).await;
    assert!(body.contains(r#"data-theme="light" lang="en""#), "{body}");

    // One save, three keys; a reload (another tab) reads them all.
    let (status, _, body) = post(
        &app,
        "/prefs",
        &cookie,
        &page,
        "theme=dark&text_size=20&language=fr",
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "saved"));
    let (_, body) = load(&app, &cookie).await;
    assert!(
        body.contains(r#"style="font-size: 20px" data-theme="dark" lang="fr""#),
        "{body}"
    );
    let (_, stranger) = load(&app, "").await;
    assert!(
        stranger.contains(r#"data-theme="light" lang="en""#),
        "{stranger}"
    );
    state.shutdown().await;

    // A restart on the same data directory (same generated secret) keeps them.
    let state = Hyperstate::builder().data_dir(data.path()).build().unwrap();
    let app = hyperstate_example_prefs::app(&state);
    let (_, body) = load(&app, &cookie).await;
    assert!(
        body.contains(r#"style="font-size: 20px" data-theme="dark" lang="fr""#),
        "{body}"
    );

    let (status, _, _) = post(&app, "/prefs/reset", &cookie, &page_id(&body), "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = load(&app, &cookie).await;
    assert!(
        body.contains(r#"style="font-size: 16px" data-theme="light" lang="en""#),
        "{body}"
    );
    state.shutdown().await;
}
