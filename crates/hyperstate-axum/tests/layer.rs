//! The layer's behaviour at its edges: expired pages, missing layer, large forms.

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use hyperstate::PageId;
use hyperstate::page::PageStatus;
use hyperstate_axum::{ExpiredPage, HttpConfig, Hyperstate, Page};
use tower::ServiceExt;

async fn status(page: Page) -> String {
    format!("{:?}", page.status())
}

fn app(config: HttpConfig) -> Router {
    let state = Hyperstate::builder()
        .config(config)
        .without_sessions()
        .build()
        .unwrap();
    Router::new()
        .route("/status", get(status).post(status))
        .route(
            "/json",
            get(|| async { axum::Json(serde_json::json!({"a": 1})) }),
        )
        .layer(state.layer())
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn htmx_get(id: PageId) -> Request<Body> {
    Request::get("/status")
        .header("hx-request", "true")
        .header("x-page-id", id.to_string())
        .body(Body::empty())
        .unwrap()
}

fn two_hours_ago() -> PageId {
    PageId::generate_at(SystemTime::now() - Duration::from_secs(2 * 60 * 60))
}

#[tokio::test]
async fn unknown_page_is_empty_and_expired_page_is_told_apart() {
    let app = app(HttpConfig::default());
    let (status, _, body) = call(&app, htmx_get(PageId::generate())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Unknown"));
    let (status, headers, body) = call(&app, htmx_get(two_hours_ago())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Expired"));
    assert!(
        headers.get("hx-refresh").is_none(),
        "Empty is the default policy"
    );
}

#[tokio::test]
async fn expired_page_can_answer_hx_refresh() {
    let app = app(HttpConfig::default().expired_page(ExpiredPage::Refresh));
    let (status, headers, _) = call(&app, htmx_get(two_hours_ago())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["hx-refresh"], "true");
    // A page that is merely new (never written, younger than the TTL) is not refreshed.
    let (_, headers, body) = call(&app, htmx_get(PageId::generate())).await;
    assert!(headers.get("hx-refresh").is_none());
    assert_eq!(body, format!("{:?}", PageStatus::Unknown));
}

#[tokio::test]
async fn a_document_load_gets_a_fresh_page_but_json_is_not_touched() {
    let app = app(HttpConfig::default());
    let (_, _, body) = call(&app, Request::get("/status").body(Body::empty()).unwrap()).await;
    assert_eq!(body, "Fresh");
    let (_, headers, body) = call(&app, Request::get("/json").body(Body::empty()).unwrap()).await;
    assert_eq!(body, r#"{"a":1}"#);
    assert!(headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn oversized_form_is_a_413() {
    let app = app(HttpConfig::default().form_body_limit(1024));
    let request = Request::post("/status")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("x={}", "a".repeat(4096))))
        .unwrap();
    let (status, _, body) = call(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("1024"), "{body}");
}

#[tokio::test]
async fn malformed_header_and_cookie() {
    let app = app(HttpConfig::default());
    let request = Request::get("/status")
        .header(
            "x-page-id",
            axum::http::HeaderValue::from_bytes(b"\xffbad").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, request).await.0, StatusCode::BAD_REQUEST);
    // A mangled cookie is ignored (a new browser id is minted), never a 5xx.
    let request = Request::get("/status")
        .header(header::COOKIE, "hs_bid=%%%; ;;=")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_some());
}

#[tokio::test]
async fn extractor_without_the_layer_says_so() {
    let app: Router = Router::new().route("/status", get(status));
    let (status, _, body) = call(&app, Request::get("/status").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("layer"), "{body}");
}
