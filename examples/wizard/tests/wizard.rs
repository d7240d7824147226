//! The wizard over HTTP: each step advances the tab's page state, a bad or
//! stale step is refused with 422 and writes nothing, and tabs are separate.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
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

/// The page id hyperstate injected into the full page.
fn page_id(html: &str) -> String {
    let marker = r#"name="hyperstate-page-id" content=""#;
    let rest = &html[html.find(marker).expect("the page id is injected") + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// A full page load: returns the browser's cookie and the tab's page id.
async fn open_tab(app: &axum::Router, cookie: Option<&str>) -> (String, String) {
    let mut request = Request::get("/");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let (status, minted, body) = send(app, request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Step 1 of 3"), "{body}");
    let cookie = cookie.map(str::to_owned).or(minted).expect("a cookie");
    (cookie, page_id(&body))
}

/// What htmx sends when the step's form is submitted.
async fn post_step(
    app: &axum::Router,
    (cookie, page): &(String, String),
    form: &str,
) -> (StatusCode, String) {
    let request = Request::post("/next")
        .header(header::COOKIE, cookie)
        .header("hx-request", "true")
        .header("x-page-id", page)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let (status, _, body) = send(app, request).await;
    (status, body)
}

#[tokio::test]
async fn the_wizard_walks_its_steps_and_refuses_bad_ones() {
    let state = hyperstate_axum::Hyperstate::builder()
        .without_sessions()
        .build()
        .unwrap();
    let app = hyperstate_example_wizard::app(&state);
    let tab = open_tab(&app, None).await;

    // Validation: an empty name is refused, and the wizard stays at step 1.
    let (status, body) = post_step(&app, &tab, "step=0&value=+").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "a name is required")
    );
    // A step that is not the current one (a hand-made skip ahead) is refused too.
    let (status, body) = post_step(&app, &tab, "step=2&value=").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("this wizard is at step 0"), "{body}");

    let (status, body) = post_step(&app, &tab, "step=0&value=Ada+%3Cb%3E").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Step 2 of 3"), "{body}");
    // Replaying step 0 (a double submit) does not overwrite the name.
    let (status, _) = post_step(&app, &tab, "step=0&value=Eve").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = post_step(&app, &tab, "step=1&value=nope").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "an email needs an @")
    );
    let (status, body) = post_step(&app, &tab, "step=1&value=ada%40example.org").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Confirm: Ada &lt;b&gt; &lt;ada@example.org&gt;"),
        "{body}"
    );
    let (status, body) = post_step(&app, &tab, "step=2").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "<p>Done: welcome, Ada &lt;b&gt;.</p>")
    );

    // Another tab of the same browser has a wizard of its own, at step 1.
    let other = open_tab(&app, Some(&tab.0)).await;
    let (status, body) = post_step(&app, &other, "step=1&value=a%40b").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post_step(&app, &other, "step=0&value=Bob").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Step 2 of 3"), "{body}");
    state.shutdown().await;
}

#[tokio::test]
async fn a_step_without_a_page_id_is_a_400() {
    let state = hyperstate_axum::Hyperstate::builder()
        .without_sessions()
        .build()
        .unwrap();
    let app = hyperstate_example_wizard::app(&state);
    let request = Request::post("/next")
        .header("hx-request", "true")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("step=0&value=Ada"))
        .unwrap();
    let (status, _, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    state.shutdown().await;
}
