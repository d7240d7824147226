//! Sessions vs tower-sessions: what a read-modify-write of one session key
//! costs per request, and how many keys survive 100 concurrent requests of one
//! browser.
//!
//! ```text
//! cargo bench -p hyperstate-axum --bench sessions_vs_tower            # full run
//! cargo bench -p hyperstate-axum --bench sessions_vs_tower -- --quick # smoke run (--test too)
//! cargo bench -p hyperstate-axum --bench sessions_vs_tower -- --current-thread
//! ```
//!
//! Every app is an axum router driven in process through `oneshot`: no
//! sockets, so the figures are what the session layers cost, not loopback
//! noise. The runtime has two workers, like the machine, so hyperstate's
//! writer tasks and concurrent requests really run in parallel.
//! `--current-thread` runs everything on one thread instead, to see what that
//! parallelism costs and causes (its records carry the same names: an
//! exploration, not a row for `BENCHMARKS.md`).

mod apps;
mod lost_keys;
mod overhead;

use std::time::Instant;

use overhead::Plan;

fn main() {
    // `scripts/bench --quick` passes `--test`; `--quick` is the name people type.
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|arg| arg == "--test" || arg == "--quick");
    let current_thread = args.iter().any(|arg| arg == "--current-thread");
    let (plan, rounds) = if quick {
        let plan = Plan {
            warm_up: 10,
            memory: 200,
            fs_no_sync: 50,
            fs_sync: 20,
        };
        (plan, 2)
    } else {
        let plan = Plan {
            warm_up: 500,
            memory: 100_000,
            fs_no_sync: 5_000,
            fs_sync: 2_000,
        };
        (plan, 50)
    };
    let mut builder = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    };
    let runtime = builder.enable_all().build().expect("tokio runtime");
    let start = Instant::now();
    runtime.block_on(async {
        overhead::run(plan).await;
        lost_keys::run(rounds).await;
    });
    println!("sessions_vs_tower: {:.1} s", start.elapsed().as_secs_f64());
}
