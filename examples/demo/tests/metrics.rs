//! `/metrics` lists every metric the docs promise, after the demo has done one
//! of each kind of work: a page write, a durable session write and a room
//! attach. The room-subscriber gauge follows the SSE stream: 1 while it is
//! open, 0 once the client has gone.
//!
//! A process has one global metrics recorder, so this binary holds this one
//! test, and it installs the recorder before building any store.

mod common;
mod tcp;

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use hyperstate_axum::HttpConfig;
use hyperstate_demo::DemoConfig;
use tcp::{SseStream, browser_cookie, send, serve, text};

/// Every metric DEPLOYMENT.md documents that this setup (memory pages and
/// rooms, file sessions) reports.
const DOCUMENTED: [&str; 15] = [
    "hyperstate_operations_total",
    "hyperstate_live_pages",
    "hyperstate_live_rooms",
    "hyperstate_memory_bytes",
    "hyperstate_evictions_total",
    "hyperstate_durable_write_seconds",
    "hyperstate_cas_conflicts_total",
    "hyperstate_session_commits_total",
    "hyperstate_session_batch_size",
    "hyperstate_session_cache_hits_total",
    "hyperstate_session_cache_misses_total",
    "hyperstate_session_cache_evictions_total",
    "hyperstate_session_register_errors_total",
    "hyperstate_room_subscribers",
    "hyperstate_room_resyncs_total",
];

async fn get(addr: std::net::SocketAddr, path: &str, cookie: &str) -> (StatusCode, String) {
    let headers = [(header::COOKIE.as_str(), cookie.to_owned())];
    let (status, _, body) = send(addr, "GET", path, &headers, None).await;
    (status, text(body).await)
}

async fn htmx_post(addr: std::net::SocketAddr, path: &str, headers: &[(&str, String)], form: &str) {
    let mut all = vec![
        (
            header::CONTENT_TYPE.as_str(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("hx-request", "true".to_owned()),
    ];
    all.extend_from_slice(headers);
    let (status, _, body) = send(addr, "POST", path, &all, Some(form.to_owned())).await;
    assert_eq!(status, StatusCode::OK, "{path}: {}", text(body).await);
}

/// The value of the one sample of `series` (name and labels, as rendered).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_lists_every_documented_metric() {
    hyperstate_demo::install_metrics();
    let data = tempfile::tempdir().unwrap();
    let config = DemoConfig::new(data.path()).http(HttpConfig::default().secure_cookie(false));
    let state = hyperstate_demo::hyperstate(&config).unwrap();
    let addr = serve(hyperstate_demo::router(&state)).await;

    // A page write.
    let (_, headers, body) = send(addr, "GET", "/cart", &[], None).await;
    let cookie = browser_cookie(&headers).expect("the cart page sets the browser cookie");
    let page = common::Reply {
        status: StatusCode::OK,
        headers,
        body: text(body).await,
    }
    .page_id()
    .expect("a page id");
    let with_page = [
        (header::COOKIE.as_str(), cookie.clone()),
        ("x-page-id", page),
    ];
    htmx_post(addr, "/cart/items", &with_page, "name=apple").await;
    // A durable session write.
    let with_cookie = [(header::COOKIE.as_str(), cookie.clone())];
    htmx_post(addr, "/settings/theme", &with_cookie, "theme=dark").await;
    // A session read the cache answers (this node wrote the document).
    let (status, _) = get(addr, "/settings", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    // A room attach, held open while /metrics is read.
    get(addr, "/rooms/lobby", &cookie).await;
    let sse = [
        (header::COOKIE.as_str(), cookie.clone()),
        (header::ACCEPT.as_str(), "text/event-stream".to_owned()),
    ];
    let (status, _, body) = send(addr, "GET", "/rooms/lobby/events", &sse, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut stream = SseStream::new(body);
    stream.next().await;

    let (status, metrics) = get(addr, "/metrics", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    let missing: Vec<_> = DOCUMENTED
        .iter()
        .filter(|name| !metrics.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from /metrics: {missing:?}\n{metrics}"
    );
    assert!(
        metrics.contains("hyperstate_durable_write_seconds_bucket{"),
        "durable write latency must be a histogram:\n{metrics}"
    );
    let hits = sample(
        &metrics,
        r#"hyperstate_session_cache_hits_total{backend="fs"}"#,
    );
    assert!(hits.is_some_and(|hits| hits >= 1.0), "{metrics}");
    let subscribers = r#"hyperstate_room_subscribers{backend="memory"}"#;
    assert_eq!(sample(&metrics, subscribers), Some(1.0), "{metrics}");

    // The client goes; its subscription ends when the server notices.
    drop(stream);
    let deadline = Instant::now() + tcp::DELIVERY;
    loop {
        let (_, metrics) = get(addr, "/metrics", &cookie).await;
        if sample(&metrics, subscribers) == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscriber gauge stayed up:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state.shutdown().await;
}
