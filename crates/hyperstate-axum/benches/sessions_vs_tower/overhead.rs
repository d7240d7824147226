//! Per-request cost of a read-modify-write of one session key (`POST /count`),
//! for each app, with the same browser cookie on every request.
//!
//! Requests are sent one at a time from a task on the runtime, as a handler
//! runs, and timed from building the request to the last byte of the body.
//! The apps take turns in chunks, so a burst of load from the neighbours'
//! builds lands on all of them rather than on whichever ran at that moment.

use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method, StatusCode};
use hyperstate_bench_report::{Better, Record, record};

use crate::apps::App;

const COMPARISON: &str = "Sessions: read-modify-write per request";

/// Requests per app before each switches to the next.
const CHUNK: usize = 100;

/// How many requests each kind of app gets: the durable stores are slower
/// per request, so they get fewer to keep the run within its time budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) warm_up: usize,
    pub(crate) memory: usize,
    pub(crate) fs_no_sync: usize,
    pub(crate) fs_sync: usize,
}

/// Median and 99th percentile of one app's requests, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Timing {
    p50: f64,
    p99: f64,
}

struct Subject {
    app: App,
    cookie: Option<HeaderValue>,
    wanted: usize,
    sent: usize,
    samples: Vec<Duration>,
}

impl Subject {
    async fn new(app: App, wanted: usize) -> Subject {
        let cookie = app.new_browser().await;
        Subject {
            app,
            cookie,
            wanted,
            sent: 0,
            samples: Vec::with_capacity(wanted),
        }
    }

    /// One read-modify-write; checks the counter so a session silently not
    /// found (a broken cookie) cannot pass for a fast one.
    async fn count(&mut self) -> Duration {
        let start = Instant::now();
        let (status, body) = self
            .app
            .send(Method::POST, "/count", self.cookie.as_ref(), String::new())
            .await;
        let elapsed = start.elapsed();
        self.sent += 1;
        assert_eq!(status, StatusCode::OK, "{}: {body}", self.app.name);
        assert_eq!(body, self.sent.to_string(), "{}: counter", self.app.name);
        elapsed
    }

    fn timing(&self) -> Timing {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let at = |p: f64| {
            let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
            sorted[rank].as_secs_f64() * 1e6
        };
        Timing {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Measures every app, prints a table and records hyperstate's rows against
/// tower-sessions.
pub(crate) async fn run(plan: Plan) {
    let mut subjects = vec![
        Subject::new(App::bare(), plan.memory).await,
        Subject::new(App::tower_sessions(), plan.memory).await,
        Subject::new(App::hyperstate_memory(), plan.memory).await,
        Subject::new(App::hyperstate_fs(true), plan.fs_sync).await,
        Subject::new(App::hyperstate_fs(false), plan.fs_no_sync).await,
    ];
    for subject in &mut subjects {
        for _ in 0..plan.warm_up {
            subject.count().await;
        }
    }
    while subjects.iter().any(|s| s.samples.len() < s.wanted) {
        for subject in &mut subjects {
            let chunk = CHUNK.min(subject.wanted - subject.samples.len());
            for _ in 0..chunk {
                let elapsed = subject.count().await;
                subject.samples.push(elapsed);
            }
        }
    }

    let timings: Vec<Timing> = subjects.iter().map(Subject::timing).collect();
    let (bare, tower) = (timings[0], timings[1]);
    println!("read-modify-write per request (µs):");
    for (subject, timing) in subjects.iter().zip(&timings) {
        println!(
            "  {:<52} p50 {:>8.2}  p99 {:>8.2}  p50 overhead {:>8.2}  ({} requests)",
            subject.app.name,
            timing.p50,
            timing.p99,
            timing.p50 - bare.p50,
            subject.samples.len()
        );
    }
    let tower_name = subjects[1].app.name;
    for (subject, ours) in subjects.iter().zip(&timings).skip(2) {
        let name = subject.app.name;
        let row = |case: &str, ours: f64, theirs: f64| {
            record(
                &Record::new(
                    COMPARISON,
                    format!("{name}, {case}"),
                    "µs",
                    Better::Lower,
                    ours,
                )
                .reference(tower_name, theirs),
            );
        };
        row("p50", ours.p50, tower.p50);
        row("p99", ours.p99, tower.p99);
        row(
            "p50 overhead over a bare handler",
            ours.p50 - bare.p50,
            tower.p50 - bare.p50,
        );
    }
    for subject in subjects {
        subject.app.shutdown().await;
    }
}
