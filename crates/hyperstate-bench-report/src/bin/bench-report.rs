//! Rewrites the results table of `BENCHMARKS.md` from a run's records.
//!
//! `scripts/bench` runs every benchmark with `HYPERSTATE_BENCH_RESULTS` set,
//! then calls this with the records file. Everything between the
//! `<!-- bench-report:begin -->` and `<!-- bench-report:end -->` markers is
//! replaced: the machine, the command, and one table per comparison, in the
//! order the benchmarks ran.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hyperstate_bench_report::{Record, format_value};

const BEGIN: &str = "<!-- bench-report:begin -->";
const END: &str = "<!-- bench-report:end -->";

#[derive(Debug, Parser)]
#[command(about = "Rewrites BENCHMARKS.md's results table from a run's records")]
struct Args {
    /// The JSON-lines file the benchmarks appended their records to.
    results: PathBuf,
    /// The Markdown file whose marked section is rewritten.
    markdown: PathBuf,
    /// The command that produced the run, shown above the tables.
    #[arg(long)]
    command: String,
    /// How long the whole run took, in seconds.
    #[arg(long)]
    elapsed: Option<u64>,
    /// The load average when the run started (from /proc/loadavg).
    #[arg(long)]
    load_before: Option<String>,
    /// When the run finished, as text (default: now, in UTC).
    #[arg(long)]
    finished: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(count) => {
            println!(
                "bench-report: {count} results written to {}",
                args.markdown.display()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("bench-report: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<usize, String> {
    let text = std::fs::read_to_string(&args.results)
        .map_err(|e| format!("reading {}: {e}", args.results.display()))?;
    let records = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str::<Record>(line)
                .map_err(|e| format!("{} line {}: {e}", args.results.display(), n + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if records.is_empty() {
        return Err(format!(
            "{} holds no results; not rewriting the table",
            args.results.display()
        ));
    }
    let markdown = std::fs::read_to_string(&args.markdown)
        .map_err(|e| format!("reading {}: {e}", args.markdown.display()))?;
    let (Some(begin), Some(end)) = (markdown.find(BEGIN), markdown.find(END)) else {
        return Err(format!(
            "{} has no {BEGIN} … {END} section to rewrite",
            args.markdown.display()
        ));
    };
    if end < begin {
        return Err(format!("{END} comes before {BEGIN}"));
    }
    let section = render(args, &records);
    let rewritten = format!(
        "{}{BEGIN}\n{section}{}",
        &markdown[..begin],
        &markdown[end..]
    );
    std::fs::write(&args.markdown, rewritten)
        .map_err(|e| format!("writing {}: {e}", args.markdown.display()))?;
    Ok(records.len())
}

fn render(args: &Args, records: &[Record]) -> String {
    let mut out = String::new();
    out.push_str(&format!("Command: `{}`", args.command));
    if let Some(elapsed) = args.elapsed {
        out.push_str(&format!(
            " — the whole run took {} min {} s",
            elapsed / 60,
            elapsed % 60
        ));
    }
    out.push_str(".\n\n");
    out.push_str(&format!("Machine: {}.\n\n", machine(args)));

    let mut comparisons: Vec<&str> = Vec::new();
    for record in records {
        if !comparisons.contains(&record.comparison.as_str()) {
            comparisons.push(&record.comparison);
        }
    }
    for comparison in comparisons {
        out.push_str(&format!("**{comparison}**\n\n"));
        out.push_str("| case | hyperstate | reference, same run | ratio | target |\n");
        out.push_str("|---|---|---|---|---|\n");
        for record in records.iter().filter(|r| r.comparison == comparison) {
            let reference = record.reference.as_ref().map_or_else(
                || "—".to_string(),
                |r| format!("{}: {} {}", r.name, format_value(r.value), record.unit),
            );
            out.push_str(&format!(
                "| {} | {} {} | {} | {} | {} |\n",
                record.case,
                format_value(record.ours),
                record.unit,
                reference,
                record.ratio().unwrap_or_else(|| "—".into()),
                record.target.as_deref().unwrap_or("—"),
            ));
        }
        out.push('\n');
    }
    out
}

/// What the run ran on, read from the machine itself.
fn machine(args: &Args) -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")
                .map(str::trim)
                .map(str::to_string)
        })
        .and_then(|kb| kb.trim_end_matches(" kB").parse::<u64>().ok())
        .map_or_else(
            || "unknown memory".into(),
            |kb| format!("{:.0} GiB", kb as f64 / 1_048_576.0),
        );
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let date = args.finished.clone().unwrap_or_else(|| {
        std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    });
    let mut text =
        format!("{cores} cores ({cpu}), {memory}, Linux {kernel}, {rustc}, run finished {date}");
    if let Some(load) = &args.load_before {
        text.push_str(&format!("; load average when it started: {load}"));
    }
    text
}
