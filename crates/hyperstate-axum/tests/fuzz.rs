//! Property tests: no input — page-id header, cookie, form body, state key or
//! JSON value — makes the layer or the page API panic or answer 5xx. Every input
//! is either accepted or rejected with a 4xx / a typed client error.
//!
//! The case count is bounded (PROPTEST_CASES, default 256 per property) so that
//! `./scripts/test` stays quick; raise it for a longer hunt.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::routing::post;
use hyperstate::memory::MemoryPageStore;
use hyperstate::page::Page as CorePage;
use hyperstate::{BrowserId, PageId};
use hyperstate_axum::{Error, Hyperstate, Page};
use proptest::prelude::*;
use tower::ServiceExt;

async fn write(page: Page) -> Result<String, Error> {
    let n = page.update_or("n", 0u64, |n| n + 1).await?;
    Ok(n.to_string())
}

fn app() -> Router {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    Router::new().route("/w", post(write)).layer(state.layer())
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Bytes that may appear in an HTTP header value (visible ASCII, space, tab and
/// obs-text), so the request itself can be built.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..80)
}

/// Sends one request to a fresh app (built inside the runtime its sweeper needs).
fn status_of(request: Request<Body>) -> StatusCode {
    run(async { app().oneshot(request).await.unwrap().status() })
}

fn assert_not_server_error(status: StatusCode) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "answered {status}");
    Ok(())
}

proptest! {
    // Failures are reported with their minimal input; nothing is written to disk.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_page_id_header_is_accepted_or_a_400(bytes in header_bytes()) {
        let value = HeaderValue::from_bytes(&bytes).unwrap();
        let parses = std::str::from_utf8(&bytes).ok().and_then(|t| PageId::parse(t).ok()).is_some();
        let request = Request::post("/w").header("hx-request", "true").header("x-page-id", value)
            .body(Body::empty()).unwrap();
        let status = status_of(request);
        if parses {
            prop_assert_eq!(status, StatusCode::OK);
        } else {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn any_cookie_header_is_harmless(bytes in header_bytes()) {
        let request = Request::post("/w")
            .header("hx-request", "true")
            .header("x-page-id", PageId::generate().to_string())
            .header(header::COOKIE, HeaderValue::from_bytes(&bytes).unwrap())
            .body(Body::empty()).unwrap();
        // A bad cookie is no cookie: the request still works.
        prop_assert_eq!(status_of(request), StatusCode::OK);
    }

    #[test]
    fn any_form_body_is_accepted_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..300), with_id in any::<bool>()) {
        let mut body = body;
        if with_id {
            body.extend_from_slice(format!("&_page_id={}", PageId::generate()).as_bytes());
        }
        let request = Request::post("/w")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body)).unwrap();
        let status = status_of(request);
        assert_not_server_error(status)?;
        if with_id {
            // The field may be shadowed by an earlier malformed `_page_id` in the
            // random prefix; that is a 400, never a 5xx.
            prop_assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{status}");
        }
    }

    #[test]
    fn any_key_and_json_value_round_trip_or_fail_typed(key in ".{0,200}", value in arb_json()) {
        run(async {
            let store = Arc::new(MemoryPageStore::default());
            let page = CorePage::open(store, &BrowserId::generate(), PageId::generate()).await.unwrap();
            match page.put(&key, &value).await {
                Ok(()) => {
                    let back: serde_json::Value = page.get_or(&key, serde_json::Value::Null).await.unwrap();
                    prop_assert_eq!(back, value);
                }
                Err(err) => prop_assert!(err.kind().is_client_error(), "{err:?} is not a client error"),
            }
            Ok(())
        })?;
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        // Finite floats only: JSON has no NaN or infinity.
        (-1e300f64..1e300).prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,10}", inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
