//! `GET /healthz` and `GET /metrics`.

use hyperstate_axum::hyperstate;
use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyperstate::breaker::BreakerState;
use hyperstate_axum::RequestContext;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the durable-write latency buckets: a local file
/// write lands in the first few, an S3 PUT in the middle, a stuck one at the end.
const DURABLE_WRITE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls are
/// no-ops). Call it before building stores so their metric handles attach to it.
pub fn install_metrics() {
    if PROMETHEUS.get().is_some() {
        return;
    }
    // Durable write latency as a Prometheus histogram (buckets, which sum across
    // nodes), not the exporter's default summary (quantiles, which do not).
    let installed = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("hyperstate_durable_write_seconds".to_owned()),
            &DURABLE_WRITE_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder);
    match installed {
        Ok(handle) => {
            let _ = PROMETHEUS.set(handle);
        }
        Err(err) => tracing::warn!(error = %err, "metrics recorder not installed"),
    }
}

/// `GET /healthz`: one line per backend, with its circuit breaker when that
/// is not closed; 503 when any cannot serve. The backends come from the
/// request's context (the layer puts it on every request), not from an
/// `Extension` every route would clone.
pub(crate) async fn check(context: RequestContext) -> impl IntoResponse {
    let mut healthy = true;
    let mut body = String::new();
    for backend in context.hyperstate().check_health().await {
        let mut verdict = match &backend.result {
            Ok(()) => "ok".to_owned(),
            Err(err) => {
                healthy = false;
                format!("down: {err}")
            }
        };
        if let Some(breaker) = backend.breaker.filter(|b| *b != BreakerState::Closed) {
            verdict.push_str(&format!(" (circuit breaker {breaker})"));
        }
        body.push_str(&format!(
            "{} ({}): {verdict}\n",
            backend.scope, backend.backend
        ));
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics() -> impl IntoResponse {
    match PROMETHEUS.get() {
        Some(handle) => (StatusCode::OK, handle.render()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process",
        )
            .into_response(),
    }
}
