//! Two nodes on one PostgreSQL: a browser whose requests alternate between
//! them keeps one page, one session and one shared room. Skips loudly without
//! `HYPERSTATE_POSTGRES_URL` (fails under `CI=true`).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyperstate_axum::prelude::SessionSecret;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_moving_between_nodes_keeps_its_state() {
    let Some(url) = hyperstate_conformance::services::postgres_url() else {
        return;
    };
    let secret = SessionSecret::generate();
    let one = hyperstate_example_two_node::node(&url, secret.clone())
        .await
        .unwrap();
    let two = hyperstate_example_two_node::node(&url, secret)
        .await
        .unwrap();
    let (a, b) = (
        hyperstate_example_two_node::app(&one),
        hyperstate_example_two_node::app(&two),
    );

    // The page is loaded from node one; its counter counts on both.
    let (status, cookie, body) = send(&a, get("/", "")).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("the page load binds the page to a browser");
    let tab = page_id(&body);
    for (node, expected) in [(&b, "1"), (&a, "2"), (&b, "3")] {
        let (status, _, body) = send(node, htmx_post("/count", &cookie, &tab, "")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, expected));
    }

    // A name saved through node two greets the browser on node one.
    let (status, _, _) = send(&b, htmx_post("/name", &cookie, &tab, "name=Ada")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = send(&a, get("/", &cookie)).await;
    assert!(body.contains(r#"<span id="name">Ada</span>"#), "{body}");

    // Votes on either node add up in one room (a name unique to this run).
    let poll = format!("/polls/{}", page_id(&body));
    let (status, _, body) = send(&a, htmx_post(&format!("{poll}/vote"), &cookie, &tab, "")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let (_, _, body) = send(&b, htmx_post(&format!("{poll}/vote"), &cookie, &tab, "")).await;
    assert_eq!(body, "2");
    let (_, _, body) = send(&a, get(&poll, &cookie)).await;
    assert_eq!(body, "2");

    one.state.shutdown().await;
    two.state.shutdown().await;
}
