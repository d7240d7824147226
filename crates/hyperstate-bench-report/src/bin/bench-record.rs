//! Records one figure from a script: the benchmarks that are not Rust (e.g.
//! `scripts/bench-http`, which runs wrk) call this instead of writing the
//! record format themselves, so [`Record`] stays its only owner.
//!
//! ```text
//! bench-record --comparison "HTTP: …" --case "64 connections" --unit req/s \
//!   --better higher --ours 41234 --reference "bare axum" 45000 --target "≥ 90%"
//! ```
//!
//! Prints the record and appends it to `HYPERSTATE_BENCH_RESULTS` when set,
//! exactly as [`record`] does for a Rust benchmark.

use clap::{Parser, ValueEnum};
use hyperstate_bench_report::{Better, Record, record};

#[derive(Debug, Parser)]
#[command(about = "Records one benchmark figure in the suite's results format")]
struct Args {
    /// The comparison (group of rows) the figure belongs to.
    #[arg(long)]
    comparison: String,
    /// The row, e.g. "64 connections".
    #[arg(long)]
    case: String,
    /// The unit of both figures, e.g. "req/s" or "ms".
    #[arg(long)]
    unit: String,
    /// Which direction is good.
    #[arg(long, value_enum)]
    better: Direction,
    /// hyperstate's figure.
    #[arg(long)]
    ours: f64,
    /// The reference measured in the same run: its name, then its figure.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"])]
    reference: Option<Vec<String>>,
    /// The target set for the figure, as text (e.g. "≥ 90%").
    #[arg(long)]
    target: Option<String>,
}

/// [`Better`], as a command-line value.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Direction {
    Higher,
    Lower,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let better = match args.better {
        Direction::Higher => Better::Higher,
        Direction::Lower => Better::Lower,
    };
    let mut figure = Record::new(args.comparison, args.case, args.unit, better, args.ours);
    if let Some([name, value]) = args.reference.as_deref() {
        let value = value
            .parse::<f64>()
            .map_err(|e| format!("reference value {value:?}: {e}"))?;
        figure = figure.reference(name, value);
    }
    if let Some(target) = args.target {
        figure = figure.target(target);
    }
    record(&figure);
    Ok(())
}
