//! Correctness under concurrency: one browser sends 100 requests at once, each
//! setting its own key; afterwards, how many of the 100 keys does its session
//! still hold?
//!
//! tower-sessions loads the whole record on a request's first access and saves
//! it whole after the handler returns, so a request whose load came before
//! another's save writes back a record without that other key. hyperstate
//! sends each write to the session's writer task as a per-key change, merged
//! into the freshest document, so no write can erase another.
//!
//! Two handlers: one that returns right after its write, and one that then
//! awaits 1 ms of other work. The first leaves tower-sessions a window of a
//! few microseconds between load and save, so its losses depend on whether the
//! two workers happen to run requests side by side; the second keeps every
//! request's window open for a millisecond, as a handler that also queries a
//! database does.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use hyperstate_bench_report::{Better, Record, record};

use crate::apps::App;

const COMPARISON: &str = "Sessions: keys kept, 100 concurrent requests of one browser";
const REQUESTS: usize = 100;

/// The handlers compared: a description for the tables and the route.
const HANDLERS: [(&str, &str); 2] = [
    ("handler returns after its write", "/kv"),
    (
        "handler awaits 1 ms of other work after its write",
        "/kv-then-io",
    ),
];

/// Keys lost per round by one app with one handler.
struct Losses {
    name: &'static str,
    handler: &'static str,
    per_round: Vec<usize>,
}

impl Losses {
    fn min(&self) -> usize {
        self.per_round.iter().copied().min().unwrap_or(0)
    }

    fn max(&self) -> usize {
        self.per_round.iter().copied().max().unwrap_or(0)
    }

    fn mean(&self) -> f64 {
        self.per_round.iter().sum::<usize>() as f64 / self.per_round.len().max(1) as f64
    }
}

/// One round: a fresh browser, `REQUESTS` concurrent writes through `route`,
/// then a read of every key. Returns how many keys were lost.
async fn round(app: &Arc<App>, route: &'static str) -> usize {
    let cookie = app.new_browser().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let (app, cookie) = (app.clone(), cookie.clone());
        tasks.spawn(async move {
            let uri = format!("{route}/key{i}");
            app.send(Method::POST, &uri, cookie.as_ref(), format!("value{i}"))
                .await
        });
    }
    for (status, body) in tasks.join_all().await {
        // Every request was acknowledged: a lost key is a silent loss.
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.name);
    }
    let mut lost = 0;
    for i in 0..REQUESTS {
        let uri = format!("/kv/key{i}");
        let (_, body) = app
            .send(Method::GET, &uri, cookie.as_ref(), String::new())
            .await;
        if body != format!("value{i}") {
            lost += 1;
        }
    }
    lost
}

/// Every handler's rounds on one app.
async fn measure(app: App, rounds: usize) -> Vec<Losses> {
    let app = Arc::new(app);
    let mut all = Vec::new();
    for (handler, route) in HANDLERS {
        let mut per_round = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            per_round.push(round(&app, route).await);
        }
        all.push(Losses {
            name: app.name,
            handler,
            per_round,
        });
    }
    app.shutdown().await;
    all
}

/// Runs `rounds` rounds per app, prints min/mean/max and records hyperstate's
/// rows against tower-sessions.
pub(crate) async fn run(rounds: usize) {
    let tower = measure(App::tower_sessions(), rounds).await;
    let mut ours = measure(App::hyperstate_memory(), rounds).await;
    ours.extend(measure(App::hyperstate_fs(true), rounds).await);
    println!("keys lost of {REQUESTS}, {rounds} rounds (min / mean / max):");
    for losses in tower.iter().chain(&ours) {
        println!(
            "  {}, {}: {} / {:.1} / {}\n    per round: {:?}",
            losses.name,
            losses.handler,
            losses.min(),
            losses.mean(),
            losses.max(),
            losses.per_round
        );
    }
    let unit = format!("keys lost of {REQUESTS}");
    for losses in &ours {
        let theirs = tower
            .iter()
            .find(|t| t.handler == losses.handler)
            .expect("tower-sessions ran every handler");
        let row = |case: &str, figure: f64, reference: f64| {
            record(
                &Record::new(
                    COMPARISON,
                    format!(
                        "{}, {}, {case} of {rounds} rounds",
                        losses.name, losses.handler
                    ),
                    &unit,
                    Better::Lower,
                    figure,
                )
                .reference(theirs.name, reference)
                .target("0 lost"),
            );
        };
        row("mean", losses.mean(), theirs.mean());
        row("max", losses.max() as f64, theirs.max() as f64);
    }
}
