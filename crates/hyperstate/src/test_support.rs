//! Helpers shared by the crate's unit tests.

/// The value of one series (`name{labels}`, exactly as Prometheus renders it)
/// in a Prometheus text exposition, if present.
pub(crate) fn prometheus_sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}
