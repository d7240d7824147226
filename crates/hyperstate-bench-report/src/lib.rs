//! Results of the benchmark suite, in one format.
//!
//! Every benchmark of the workspace calls [`record`] once per figure it
//! measured, with the reference it measured in the same run. When
//! `scripts/bench` runs the suite it points `HYPERSTATE_BENCH_RESULTS` at a
//! file; each record is appended to it as one JSON line, and the
//! `bench-report` binary turns the file into the results table of
//! `BENCHMARKS.md`. Without the variable, records are only printed, so a bench
//! run by hand behaves as before.

mod deliveries;

pub use deliveries::{Deliveries, percentile};

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable naming the file records are appended to.
pub const RESULTS_ENV: &str = "HYPERSTATE_BENCH_RESULTS";

/// Which direction of a figure is the good one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughputs: operations or requests per second.
    Higher,
    /// Latencies, bytes, counts of lost keys.
    Lower,
}

/// A figure measured for the reference in the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// What the reference is, e.g. "bare axum handler" or "redis-benchmark GET".
    pub name: String,
    /// Its figure, in the record's unit.
    pub value: f64,
}

/// One measured figure: a row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The comparison it belongs to (a group of rows), e.g. "HTTP: POST /cart/items".
    pub comparison: String,
    /// The row, e.g. "64 connections" or "get, 1M keys".
    pub case: String,
    /// Unit of both figures, e.g. "req/s", "µs", "ms", "B/key".
    pub unit: String,
    /// Which direction is good; decides how the ratio is written.
    pub better: Better,
    /// hyperstate's figure.
    pub ours: f64,
    /// The reference, when the comparison has one.
    pub reference: Option<Reference>,
    /// The target the issue set for this figure, as text (e.g. "≥ 90%").
    pub target: Option<String>,
}

impl Record {
    /// A record without a reference or target; add them with the builders.
    pub fn new(
        comparison: impl Into<String>,
        case: impl Into<String>,
        unit: impl Into<String>,
        better: Better,
        ours: f64,
    ) -> Self {
        Record {
            comparison: comparison.into(),
            case: case.into(),
            unit: unit.into(),
            better,
            ours,
            reference: None,
            target: None,
        }
    }

    /// Sets the reference measured in the same run.
    pub fn reference(mut self, name: impl Into<String>, value: f64) -> Self {
        self.reference = Some(Reference {
            name: name.into(),
            value,
        });
        self
    }

    /// Sets the target figure, as text.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Ours relative to the reference, written the way the table shows it:
    /// a percentage of the reference's rate for throughputs ("253%"), a
    /// multiple of the reference's cost for everything else ("1.04×"), or a
    /// fraction when it is a hundredth or less ("1/14,848").
    /// `None` without a reference or when the reference is zero.
    pub fn ratio(&self) -> Option<String> {
        let reference = self.reference.as_ref()?.value;
        if reference == 0.0 || !reference.is_finite() || !self.ours.is_finite() {
            return None;
        }
        let ratio = self.ours / reference;
        Some(match self.better {
            // Nothing where the reference has some (keys lost): no fraction of
            // it, just none.
            Better::Lower if ratio == 0.0 => "0×".to_string(),
            Better::Higher => format!("{:.0}%", ratio * 100.0),
            // A hundredth or less is written as a fraction: "0.00×" would hide
            // the difference between a hundred and ten thousand times cheaper.
            Better::Lower if ratio < 0.01 => format!("1/{}", format_value(1.0 / ratio)),
            Better::Lower => format!("{ratio:.2}×"),
        })
    }
}

/// Prints the record and, when `HYPERSTATE_BENCH_RESULTS` is set, appends it
/// to that file as one JSON line.
///
/// # Panics
///
/// When the results file is set but cannot be written: a benchmark run whose
/// results are silently dropped would rewrite `BENCHMARKS.md` with a hole.
pub fn record(record: &Record) {
    let reference = match &record.reference {
        Some(r) => format!(
            " | {}: {} {} | {}",
            r.name,
            format_value(r.value),
            record.unit,
            record.ratio().unwrap_or_else(|| "—".into())
        ),
        None => String::new(),
    };
    println!(
        "result: {} / {}: {} {}{reference}",
        record.comparison,
        record.case,
        format_value(record.ours),
        record.unit
    );
    let Some(path) = std::env::var_os(RESULTS_ENV) else {
        return;
    };
    let line = serde_json::to_string(record).expect("a record serializes");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", Path::new(&path).display()));
    writeln!(file, "{line}")
        .unwrap_or_else(|e| panic!("writing {}: {e}", Path::new(&path).display()));
}

/// A figure with as many digits as it deserves: thousands separated for large
/// values, three significant digits for small ones.
pub fn format_value(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let abs = value.abs();
    if abs >= 1000.0 {
        let rounded = value.round() as i64;
        let digits = rounded.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if rounded < 0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if abs >= 100.0 || value == value.trunc() {
        format!("{value:.0}")
    } else if abs >= 10.0 {
        format!("{value:.1}")
    } else if abs >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The directory criterion writes its estimates to: `CRITERION_HOME`, else
/// `criterion` under `CARGO_TARGET_DIR`, else under the `target` directory
/// next to the workspace's `Cargo.lock` (benches run in their crate's
/// directory, so the workspace root is searched upwards).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    cwd.ancestors()
        .find(|dir| dir.join("Cargo.lock").exists())
        .unwrap_or(&cwd)
        .join("target")
        .join("criterion")
}

/// The median time in nanoseconds criterion estimated for a benchmark
/// (`group/function/parameter`, as criterion names its directories) in its
/// last run, or `None` when there is no estimate (e.g. in `--test` mode).
pub fn criterion_median_ns(id: &str) -> Option<f64> {
    let path = criterion_dir().join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_a_percentage_for_rates_and_a_multiple_for_costs() {
        let rate = Record::new("c", "k", "req/s", Better::Higher, 90.0).reference("bare", 100.0);
        assert_eq!(rate.ratio().as_deref(), Some("90%"));
        let cost = Record::new("c", "k", "ms", Better::Lower, 5.2).reference("raw", 5.0);
        assert_eq!(cost.ratio().as_deref(), Some("1.04×"));
        let much_cheaper =
            Record::new("c", "k", "µs", Better::Lower, 0.62).reference("nex", 9206.0);
        assert_eq!(much_cheaper.ratio().as_deref(), Some("1/14,848"));
        let lost = Record::new("c", "k", "keys", Better::Lower, 0.0).reference("other", 0.0);
        assert_eq!(lost.ratio(), None);
        let none_lost = Record::new("c", "k", "keys", Better::Lower, 0.0).reference("other", 33.5);
        assert_eq!(none_lost.ratio().as_deref(), Some("0×"));
        assert_eq!(
            Record::new("c", "k", "ms", Better::Lower, 1.0).ratio(),
            None
        );
    }

    #[test]
    fn values_are_written_with_sensible_precision() {
        assert_eq!(format_value(115_053.4), "115,053");
        assert_eq!(format_value(1_000_000.0), "1,000,000");
        assert_eq!(format_value(253.0), "253");
        assert_eq!(format_value(24.64), "24.6");
        assert_eq!(format_value(4.844), "4.84");
        assert_eq!(format_value(0.3141), "0.314");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(-2500.0), "-2,500");
    }

    #[test]
    fn records_round_trip_through_json() {
        let record = Record::new("HTTP", "64 connections", "req/s", Better::Higher, 1.5)
            .reference("bare axum", 2.0)
            .target("≥ 90%");
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
    }
}
