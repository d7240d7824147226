//! `hyperstate-attack`: a bounded black-box attack on a running hyperstate demo,
//! from one loopback address, while a probe on another loopback address must
//! keep being served. `scripts/attack` starts the release demo under an
//! open-file limit of 1024 and runs this against it.
//!
//! Attacks, in order: slowloris connections, idle SSE connections, distinct
//! room GETs, cookie-less room joins, cookie-less session writes. For each it
//! prints the requests sent, what the attacker got, the probe's share of
//! health requests answered 2xx within 2 s and their p99, whether the probe
//! could still fill a cart, post in a room and write its session, and the
//! server's peak RSS and open files. It exits non-zero when the probe was
//! served less than 95% in time, a probe action failed, or RSS passed the bound.

mod attacks;
mod http;
mod probe;
mod server_stats;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::Full;
use tokio::sync::{oneshot, watch};

use crate::attacks::Outcome;
use crate::probe::{ProbeStats, Visitor};
use crate::server_stats::Peaks;

#[derive(Debug, Parser)]
#[command(
    about = "A bounded attack on a hyperstate demo, with a probe that must keep being served"
)]
struct Args {
    /// The demo's address.
    #[arg(long)]
    target: SocketAddr,
    /// The demo's process id, for its RSS and open files.
    #[arg(long)]
    pid: u32,
    /// The attacker's source address.
    #[arg(long, default_value = "127.0.0.1")]
    attacker: IpAddr,
    /// The probe's source address.
    #[arg(long, default_value = "127.0.0.2")]
    probe: IpAddr,
    /// The attacks to run (default: all, in order).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Attack>,
    /// Connections of each connection attack.
    #[arg(long, default_value_t = 1100)]
    connections: usize,
    /// How long the connection attacks hold their connections, in seconds.
    #[arg(long, default_value_t = 8)]
    hold_secs: u64,
    /// Distinct room GETs.
    #[arg(long, default_value_t = 25_000)]
    room_gets: usize,
    /// Cookie-less joins of one room.
    #[arg(long, default_value_t = 10_050)]
    joins: usize,
    /// Cookie-less session writes.
    #[arg(long, default_value_t = 20_000)]
    writes: usize,
    /// Keep-alive connections of each request flood.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Longest a request flood may run, in seconds (it stops early then).
    #[arg(long, default_value_t = 40)]
    flood_secs: u64,
    /// The server's RSS must stay under this many MiB.
    #[arg(long, default_value_t = 512)]
    max_rss_mib: u64,
    /// Report only: exit 0 whatever the probe saw (to measure a server known to fail).
    #[arg(long)]
    report_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Attack {
    Slowloris,
    IdleSse,
    RoomGets,
    Joins,
    SessionWrites,
}

impl Attack {
    const ALL: [Attack; 5] = [
        Attack::Slowloris,
        Attack::IdleSse,
        Attack::RoomGets,
        Attack::Joins,
        Attack::SessionWrites,
    ];

    fn label(self, args: &Args) -> String {
        match self {
            Attack::Slowloris => format!("{} slowloris connections", args.connections),
            Attack::IdleSse => format!("{} idle SSE connections", args.connections),
            Attack::RoomGets => format!("{} distinct room GETs (one browser)", args.room_gets),
            Attack::Joins => format!("{} cookie-less joins", args.joins),
            Attack::SessionWrites => format!("{} cookie-less session writes", args.writes),
        }
    }
}

/// One attack's row of the report.
struct Row {
    label: String,
    attacker: Outcome,
    probe: ProbeStats,
    actions: Vec<(&'static str, Result<(), String>)>,
    peaks: Peaks,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let attacks: Vec<Attack> = if args.only.is_empty() {
        Attack::ALL.to_vec()
    } else {
        args.only.clone()
    };
    let mut rows = Vec::new();
    for (n, attack) in attacks.into_iter().enumerate() {
        eprintln!("attack: {}", attack.label(&args));
        rows.push(run(&args, attack, n).await);
        // Let connections close before the next attack.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let failures = report(&args, &rows);
    if failures == 0 || args.report_only {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!("attack: {failures} criteria failed");
        std::process::ExitCode::FAILURE
    }
}

async fn run(args: &Args, attack: Attack, round: usize) -> Row {
    let (stop, stopped) = watch::channel(false);
    let probe = tokio::spawn(probe::health_loop(args.probe, args.target, stopped.clone()));
    let sampler = tokio::spawn(server_stats::sample(args.pid, stopped));
    let (attacker, actions) = match attack {
        Attack::Slowloris | Attack::IdleSse => {
            let (ready, is_ready) = oneshot::channel();
            let hold = Duration::from_secs(args.hold_secs);
            let (attacker, target, n) = (args.attacker, args.target, args.connections);
            let task = tokio::spawn(async move {
                match attack {
                    Attack::Slowloris => attacks::slowloris(attacker, target, n, hold, ready).await,
                    _ => attacks::idle_sse(attacker, target, n, hold, ready).await,
                }
            });
            let _ = is_ready.await;
            // The connections are open (or refused): now a real visitor comes.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let actions = visit(args, round).await;
            (task.await.unwrap_or_default(), actions)
        }
        Attack::RoomGets | Attack::Joins | Attack::SessionWrites => {
            let outcome = flood(args, attack).await;
            (outcome, visit(args, round).await)
        }
    };
    let _ = stop.send(true);
    Row {
        label: attack.label(args),
        attacker,
        probe: probe.await.unwrap_or_default(),
        actions,
        peaks: sampler.await.unwrap_or_default(),
    }
}

/// Makes the flood's `i`-th request.
type MakeRequest = dyn Fn(usize) -> ::http::Request<Full<Bytes>> + Send + Sync;

async fn flood(args: &Args, attack: Attack) -> Outcome {
    let target = args.target;
    // The room views come from one browser the server issued a cookie to, so
    // what they cost is the room store's, not the browser-id limit's.
    let cookie = if attack == Attack::RoomGets {
        let mut browser = Visitor::new(args.attacker, target);
        let _ = browser.cart("attacker").await;
        browser.cookie().map(str::to_owned)
    } else {
        None
    };
    let (total, make): (usize, Box<MakeRequest>) = match attack {
        Attack::RoomGets => (
            args.room_gets,
            Box::new(move |i| {
                let request = http::request("GET", target, &format!("/rooms/flood-{i}"));
                body(
                    match &cookie {
                        Some(cookie) => request.header(::http::header::COOKIE, cookie.as_str()),
                        None => request,
                    },
                    "",
                )
            }),
        ),
        Attack::Joins => (
            args.joins,
            Box::new(move |_| body(http::form(target, "/rooms/lobby/join", String::new()), "")),
        ),
        _ => (
            args.writes,
            Box::new(move |i| {
                let form = format!("theme=t{i}");
                body(http::form(target, "/settings/theme", form.clone()), &form)
            }),
        ),
    };
    attacks::flood(
        args.attacker,
        target,
        total,
        args.concurrency,
        Duration::from_secs(args.flood_secs),
        make,
    )
    .await
}

fn body(builder: ::http::request::Builder, text: &str) -> ::http::Request<Full<Bytes>> {
    builder
        .body(Full::new(Bytes::from(text.to_owned())))
        .expect("the attack's requests are well-formed")
}

/// A fresh browser on the probe's address fills a cart, posts in the lobby and
/// writes its session.
async fn visit(args: &Args, round: usize) -> Vec<(&'static str, Result<(), String>)> {
    let mut visitor = Visitor::new(args.probe, args.target);
    let cart = visitor.cart(&format!("probe{round}")).await;
    let room = visitor.room_post("lobby", &format!("probe{round}")).await;
    let session = visitor.session_write(&format!("probe{round}")).await;
    vec![
        ("cart", cart),
        ("room post", room),
        ("session write", session),
    ]
}

/// Prints the table; returns how many criteria failed.
fn report(args: &Args, rows: &[Row]) -> usize {
    let mut failures = 0;
    println!(
        "| attack | sent | attacker got | probe answered ≤ 2 s | probe p99 | probe cart / room post / session write | peak RSS | peak open fds |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        let rate = row.probe.success_rate();
        if rate < 0.95 {
            failures += 1;
        }
        let actions: Vec<String> = row
            .actions
            .iter()
            .map(|(what, result)| match result {
                Ok(()) => "ok".to_owned(),
                Err(err) => {
                    failures += 1;
                    format!("{what} FAILED ({err})")
                }
            })
            .collect();
        let rss_mib = row.peaks.rss_kib as f64 / 1024.0;
        if rss_mib > args.max_rss_mib as f64 {
            failures += 1;
        }
        println!(
            "| {} | {} | {} | {:.1}% of {} | {:.0} ms | {} | {:.0} MiB | {} |",
            row.label,
            row.attacker.sent,
            row.attacker.summary(),
            rate * 100.0,
            row.probe.sent(),
            row.probe.p99().as_secs_f64() * 1000.0,
            actions.join(" / "),
            rss_mib,
            row.peaks.open_fds,
        );
    }
    failures
}
