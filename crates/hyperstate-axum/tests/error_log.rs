//! A flood of identical 503s writes a few log lines, not two per request: the
//! first failure of a kind is logged in full, the rest of the interval only
//! counted, and the count reported with the next one after it.
//!
//! Its own test binary: the limiters are per process.

mod kv;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::SessionSecret;
use hyperstate_axum::Hyperstate;
use hyperstate_conformance::faults::{Fault, FaultyStore};
use kv::set;
use tower::ServiceExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Counts WARN and ERROR events, and those reporting suppressed repeats.
#[derive(Debug, Default)]
struct Counter {
    loud: AtomicUsize,
    summaries: AtomicUsize,
    next_span: AtomicUsize,
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Counter {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) as u64 + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() <= Level::WARN {
            self.loud.fetch_add(1, Ordering::Relaxed);
            let mut message = Message(String::new());
            event.record(&mut message);
            if message.0.contains("similar errors suppressed") {
                self.summaries.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_identical_failures_logs_a_few_lines() {
    const BURST: usize = 200;
    let counter = Arc::new(Counter::default());
    // The runtime has one thread: the handlers and the writer tasks all log here.
    let _guard = tracing::subscriber::set_default(counter.clone());
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let state = Hyperstate::builder()
        .sessions(
            faulty.clone(),
            SessionSecret::from_bytes([7u8; 32]).unwrap(),
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/kv/{key}", post(set))
        .layer(state.layer());
    faulty.set(Fault::Fail);
    let fail = |app: Router| async move {
        let request = Request::post("/kv/theme")
            .header(header::COOKIE, "a=b")
            .body(Body::from("dark"))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    };
    for _ in 0..BURST {
        fail(app.clone()).await;
    }
    let loud = counter.loud.load(Ordering::Relaxed);
    // One WARN from the operation and one ERROR from the response, in full.
    assert!(
        (1..=4).contains(&loud),
        "{loud} WARN/ERROR lines for {BURST} identical failures"
    );
    assert_eq!(counter.summaries.load(Ordering::Relaxed), 0);

    // After the interval, the next failure first says how many were left out.
    tokio::time::advance(hyperstate::log_limit::INTERVAL).await;
    fail(app.clone()).await;
    assert!(
        counter.summaries.load(Ordering::Relaxed) >= 1,
        "the suppressed failures were never counted in the log"
    );
    assert!(counter.loud.load(Ordering::Relaxed) <= 2 * loud + 2);
    state.shutdown().await;
}
